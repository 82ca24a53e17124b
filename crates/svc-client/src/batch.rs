//! Batches of work items taken from a channel: the callers that store webhooks and record
//! outcomes make one database call per batch.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

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

/// How [`dispatch`] shares a channel's items among calls.
#[derive(Debug, Clone, Copy)]
pub struct Calls {
    /// The most items in one call.
    pub max_batch: usize,
    /// The most calls at once.
    pub max_calls: usize,
    /// While a call is in flight, another starts when this many items wait...
    pub another_at: usize,
    /// ... or when the call has taken this long and any item waits.
    pub another_after: Duration,
}

/// Calls `call` with batches of the items `rx` brings until it is closed and every call
/// has ended. An idle dispatcher calls at once with what is waiting; while a call is in
/// flight, the items that come gather for the next one, and a call alongside starts only
/// when [`Calls::another_at`] of them wait or the call in flight has taken
/// [`Calls::another_after`]. So a steady stream of quick calls makes few, large ones (each
/// call has a cost of its own: a round trip, a transaction), and a burst or slow calls
/// still get calls side by side.
pub async fn dispatch<T, F, Fut>(mut rx: mpsc::Receiver<T>, calls: Calls, call: F)
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let max_batch = calls.max_batch.max(1);
    let max_calls = calls.max_calls.max(1);
    let room = max_batch * max_calls;
    let mut in_flight = JoinSet::new();
    // When each call in flight started.
    let mut started: Vec<(tokio::task::Id, Instant)> = Vec::new();
    let mut waiting: Vec<T> = Vec::new();
    let mut open = true;
    loop {
        let now = Instant::now();
        let slow = oldest(&started).is_some_and(|at| now >= at + calls.another_after);
        while !waiting.is_empty()
            && in_flight.len() < max_calls
            && (in_flight.is_empty() || slow || waiting.len() >= calls.another_at)
        {
            let batch: Vec<T> = waiting.drain(..waiting.len().min(max_batch)).collect();
            let handle = in_flight.spawn(call(batch));
            started.push((handle.id(), now));
        }
        if in_flight.is_empty() && !open {
            // (Nothing waits either: an idle dispatcher calls with whatever waits.)
            return;
        }
        // The moment the oldest call in flight becomes slow, if that would start another.
        let another_due = (!waiting.is_empty() && in_flight.len() < max_calls)
            .then(|| oldest(&started).map(|at| at + calls.another_after))
            .flatten();
        tokio::select! {
            () = tokio::time::sleep_until(another_due.unwrap_or(now)), if another_due.is_some() => {}
            item = rx.recv(), if open && waiting.len() < room => match item {
                Some(item) => {
                    waiting.push(item);
                    while waiting.len() < room {
                        match rx.try_recv() {
                            Ok(item) => waiting.push(item),
                            Err(_) => break,
                        }
                    }
                }
                None => open = false,
            },
            Some(ended) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                // (A call that panicked dropped its callers' answers: they see it ended.)
                let id = match ended {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                started.retain(|&(call, _)| call != id);
            }
        }
    }
}

/// When the oldest of the calls in flight started.
fn oldest(started: &[(tokio::task::Id, Instant)]) -> Option<Instant> {
    started.iter().map(|&(_, at)| at).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Mutex};

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

    /// Each call's batch, and how many calls were in flight when it started.
    type CallLog = Arc<Mutex<Vec<(Vec<u32>, usize)>>>;

    /// A dispatcher of `calls` over a channel of `capacity`, each call recorded.
    fn start_dispatcher(
        calls: Calls,
        capacity: usize,
    ) -> (mpsc::Sender<u32>, tokio::task::JoinHandle<()>, CallLog) {
        let log = CallLog::default();
        let (tx, rx) = mpsc::channel(capacity);
        let dispatcher = tokio::spawn(dispatch(
            rx,
            calls,
            recorder(Arc::clone(&log), Arc::default()),
        ));
        (tx, dispatcher, log)
    }

    /// A call that takes 10 ms and notes its batch and how many calls were in flight.
    fn recorder(
        log: CallLog,
        live: Arc<AtomicUsize>,
    ) -> impl Fn(Vec<u32>) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
        use std::sync::atomic::Ordering;
        move |batch| {
            let (log, live) = (log.clone(), live.clone());
            Box::pin(async move {
                let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                log.lock().unwrap().push((batch, now));
                tokio::time::sleep(Duration::from_millis(10)).await;
                live.fetch_sub(1, Ordering::SeqCst);
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn while_a_call_is_in_flight_what_comes_waits_for_the_next_unless_enough_wait() {
        let calls = Calls {
            max_batch: 8,
            max_calls: 2,
            another_at: 4,
            another_after: Duration::from_secs(60),
        };
        let (tx, dispatcher, log) = start_dispatcher(calls, 100);
        // 1 alone: called at once. 2 and 3 come during its call: they wait for it.
        tx.send(1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        tx.send(2).await.unwrap();
        tx.send(3).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        // Now 4 come together, then 10 more during that call: 4 start alone (idle), and of
        // the 10 the first 8 go alongside (enough wait), the last 2 after.
        for n in 4..=7 {
            tx.send(n).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        for n in 8..=17 {
            tx.send(n).await.unwrap();
        }
        drop(tx);
        dispatcher.await.unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            vec![
                (vec![1], 1),
                (vec![2, 3], 1),
                (vec![4, 5, 6, 7], 1),
                (vec![8, 9, 10, 11, 12, 13, 14, 15], 2),
                (vec![16, 17], 1),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_alongside_starts_once_the_call_in_flight_has_taken_too_long() {
        let calls = Calls {
            max_batch: 8,
            max_calls: 2,
            another_at: 100,
            another_after: Duration::from_millis(4),
        };
        let started = Instant::now();
        let (tx, dispatcher, log) = start_dispatcher(calls, 100);
        // 1 is called at once and takes 10 ms; 2 comes 1 ms later and goes alongside when
        // 1 has taken 4 ms; 3 comes while both are in flight and goes when 1 ends (10 ms),
        // alongside 2, which has taken 6 ms by then.
        tx.send(1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
        tx.send(2).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        tx.send(3).await.unwrap();
        drop(tx);
        dispatcher.await.unwrap();
        let log = log.lock().unwrap().clone();
        assert_eq!(log, vec![(vec![1], 1), (vec![2], 2), (vec![3], 2)]);
        // 1 ended at 10 ms, 3 went then and took 10 ms: the dispatcher ended at 20 ms.
        assert_eq!(started.elapsed(), Duration::from_millis(20));
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_calls_at_once_than_allowed_and_every_item_is_called_once() {
        let calls = Calls {
            max_batch: 5,
            max_calls: 2,
            another_at: 1,
            another_after: Duration::from_secs(60),
        };
        let (tx, dispatcher, log) = start_dispatcher(calls, 1000);
        for n in 0..200 {
            tx.send(n).await.unwrap();
            if n % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
        drop(tx);
        dispatcher.await.unwrap();
        let log = log.lock().unwrap().clone();
        assert!(
            log.iter()
                .all(|(batch, live)| *live <= 2 && batch.len() <= 5),
            "{log:?}"
        );
        assert!(
            log.iter().any(|(_, live)| *live == 2),
            "two calls ran side by side: {log:?}"
        );
        let mut called: Vec<u32> = log.into_iter().flat_map(|(batch, _)| batch).collect();
        called.sort_unstable();
        assert_eq!(called, (0..200).collect::<Vec<_>>());
    }
}
