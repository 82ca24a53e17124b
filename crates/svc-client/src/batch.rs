//! Batches of work items taken from a channel: the callers that store webhooks and record
//! outcomes make one database call per batch.

use std::time::Duration;

use tokio::sync::mpsc;

/// The next batch: the first item to come, and those that come within `linger` of it, up
/// to `max`. `None` once the channel is closed and empty.
pub async fn next_batch<T>(
    rx: &mut mpsc::Receiver<T>,
    max: usize,
    linger: Duration,
) -> Option<Vec<T>> {
    let first = rx.recv().await?;
    let deadline = tokio::time::Instant::now() + linger;
    let mut batch = vec![first];
    while batch.len() < max {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(item)) => batch.push(item),
            Ok(None) | Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    // On tokio's paused clock.
    #[tokio::test(start_paused = true)]
    async fn a_batch_is_what_comes_within_the_linger_of_its_first_up_to_the_most() {
        let (tx, mut rx) = mpsc::channel(100);
        let sender = tokio::spawn(async move {
            tx.send(1).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            for n in 2..=4 {
                tx.send(n).await.unwrap();
            }
            tokio::time::sleep(Duration::from_millis(12)).await;
            for n in 5..=9 {
                tx.send(n).await.unwrap();
            }
        });
        let linger = Duration::from_millis(10);
        assert_eq!(next_batch(&mut rx, 3, linger).await, Some(vec![1, 2, 3]));
        assert_eq!(next_batch(&mut rx, 100, linger).await, Some(vec![4]));
        assert_eq!(
            next_batch(&mut rx, 100, linger).await,
            Some(vec![5, 6, 7, 8, 9])
        );
        sender.await.unwrap();
        assert_eq!(next_batch(&mut rx, 100, linger).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_linger_a_batch_is_what_was_already_waiting() {
        let (tx, mut rx) = mpsc::channel(100);
        for n in 1..=3 {
            tx.send(n).await.unwrap();
        }
        let later = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            tx.send(4).await.unwrap();
        });
        assert_eq!(
            next_batch(&mut rx, 100, Duration::ZERO).await,
            Some(vec![1, 2, 3])
        );
        later.await.unwrap();
        assert_eq!(
            next_batch(&mut rx, 100, Duration::ZERO).await,
            Some(vec![4])
        );
    }
}
