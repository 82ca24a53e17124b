//! The loop both senders run (agents' replies in the gateway, broadcast recipients in
//! the worker): claim from a leased queue in the database, each item with the send slot
//! the number's shared schedule reserved for it, send each item at its slot in a task of
//! its own, and pace the next claim ([`Pacing`](crate::pacing::Pacing)). From 250/s, two
//! loops run, so one slow claim does not leave the schedule idle. A send whose slot had
//! passed when the claim's answer came (or that has none) leaves at once, but requests of
//! one process that way leave at least `Pacing::send_spacing` (1/99.8% of the limit)
//! apart.
//!
//! At stop, a loop claims nothing more and waits for its sends (each records its own
//! outcome); what a queue does with claims it never sent is its own business
//! ([`SendQueue::release_unsent`], called by [`crate::sender::run`]).

use std::fmt::Display;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::pacing::Pacing;

/// Pause after a failed claim (database unreachable).
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// A claimed item is sent within this time of asking for the claim, or not at all (it goes
/// back to the queue unsent, [`SendQueue::not_sent_in_time`]). The database counts on it:
/// a send claimed more than 2 seconds after another left after it, so a status for the
/// later one without a status for the earlier one is evidence that the earlier one (whose
/// outcome is unknown) never reached WhatsApp (migration `..._held_outcomes.sql`).
pub const SEND_DEADLINE: Duration = Duration::from_secs(1);

/// A send leaves within this time after its slot, or not at all (it goes back to the
/// queue unsent, [`SendQueue::not_sent_in_time`]). Slots are spaced at 98.5% of the limit
/// (15 ms in a second to spare), so sends up to 5 ms late, plus 10 ms of jitter on the
/// way, never put more than the limit in any 1-second window at WhatsApp (migration
/// `..._send_slots.sql`).
pub const SLOT_TOLERANCE: Duration = Duration::from_millis(5);

/// A lease owner unique to this process, e.g. `gateway-web-1-4242-1a2b3c4d`: what it is,
/// the host, the pid and a random part (a restarted process may get the same pid).
pub fn lease_owner(what: &str) -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
    format!(
        "{what}-{}-{}-{}",
        host.trim(),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A leased queue of things to send.
pub trait SendQueue: Send + Sync + 'static {
    /// One claimed thing to send.
    type Item: Send + 'static;
    type Error: Display + Send;
    /// What the log calls the items, e.g. "outbound messages".
    const ITEMS: &'static str;

    /// Claims (leases) at most `max` items the shared schedule has send slots for.
    fn claim(
        &self,
        max: usize,
    ) -> impl Future<Output = Result<Vec<Self::Item>, Self::Error>> + Send;

    /// When `item` is to be sent, in microseconds after the claim's answer (negative:
    /// its slot had passed): the slot the claim reserved for it. `None`: at once.
    fn send_in_us(item: &Self::Item) -> Option<i64>;

    /// Sends one claimed item and records its outcome.
    fn send(self: Arc<Self>, item: Self::Item) -> impl Future<Output = ()> + Send;

    /// A claimed item whose turn came after [`SEND_DEADLINE`]: never sent; back to the
    /// queue (a retry without delay).
    fn not_sent_in_time(self: Arc<Self>, item: Self::Item) -> impl Future<Output = ()> + Send;

    /// At stop, once every send has finished: hands back claims never sent (e.g. a
    /// claim whose answer was lost). By default nothing: their leases expire.
    fn release_unsent(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// Runs `pacing.loops` claim loops until `stop` turns true; returns once every send they
/// started has finished. At most `max_in_flight` sends are in the air at once.
pub async fn run<Q: SendQueue>(
    queue: Arc<Q>,
    pacing: Pacing,
    max_in_flight: usize,
    stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_in_flight));
    let spacer = Arc::new(Spacer::new(pacing.send_spacing));
    let mut loops = JoinSet::new();
    for i in 0..pacing.loops {
        // Staggered by half a claim's worth of slots.
        let offset = pacing.slot_interval * u32::try_from(i * pacing.claim_size / 2).unwrap_or(0);
        loops.spawn(claim_loop(
            Arc::clone(&queue),
            Arc::clone(&slots),
            Arc::clone(&spacer),
            pacing,
            offset,
            stop.clone(),
        ));
    }
    while loops.join_next().await.is_some() {}
}

/// One loop: claims, spawns a send per item, paces itself; at stop, waits for its sends.
async fn claim_loop<Q: SendQueue>(
    queue: Arc<Q>,
    slots: Arc<Semaphore>,
    spacer: Arc<Spacer>,
    pacing: Pacing,
    offset: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut in_flight = JoinSet::new();
    let mut last_grant: Option<Instant> = None;
    let mut planned = Instant::now() + offset;
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(planned) => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
        if *stop.borrow() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits().min(pacing.claim_size);
        if free == 0 {
            planned = Instant::now() + pacing.slot_interval;
            continue;
        }
        let asked = Instant::now();
        let claimed = queue.claim(free).await;
        let now = Instant::now();
        planned = match claimed {
            Ok(items) => {
                let n = items.len();
                let mut last_slot = None;
                for item in items {
                    let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                        break;
                    };
                    let slot = Q::send_in_us(&item).map(|us| slot_instant(us, now));
                    last_slot = last_slot.max(slot);
                    let (queue, spacer) = (Arc::clone(&queue), Arc::clone(&spacer));
                    in_flight.spawn(async move {
                        let missed_slot = match slot {
                            // The slot is this send's alone, whichever process sends.
                            Some(slot) => {
                                tokio::time::sleep_until(slot).await;
                                Instant::now() > slot + SLOT_TOLERANCE
                            }
                            None => {
                                spacer.wait_turn().await;
                                false
                            }
                        };
                        if missed_slot {
                            tracing::debug!("a claimed {} missed its send slot; back to the queue unsent", Q::ITEMS);
                            queue.not_sent_in_time(item).await;
                        } else if asked.elapsed() > SEND_DEADLINE {
                            tracing::warn!("a claimed {} waited past the send deadline; back to the queue unsent", Q::ITEMS);
                            queue.not_sent_in_time(item).await;
                        } else {
                            queue.send(item).await;
                        }
                        drop(permit);
                    });
                }
                if n > 0 {
                    last_grant = Some(now);
                }
                pacing.next_claim(now, n, last_slot, last_grant.map(|t| now - t))
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming {} failed; retrying", Q::ITEMS);
                now + ERROR_PAUSE
            }
        };
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "claim loop for {} stopping; finishing in-flight sends",
        Q::ITEMS
    );
    while in_flight.join_next().await.is_some() {}
}

/// A slot `us` microseconds after the claim's answer came `now`.
fn slot_instant(us: i64, now: Instant) -> Instant {
    let offset = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        now + offset
    } else {
        now.checked_sub(offset).unwrap_or(now)
    }
}

/// Hands out send times at least `spacing` apart, in the order asked.
struct Spacer {
    spacing: Duration,
    next: Mutex<Instant>,
}

impl Spacer {
    fn new(spacing: Duration) -> Self {
        Self {
            spacing,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits for this request's turn.
    async fn wait_turn(&self) {
        let turn = {
            let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
            let turn = (*next).max(Instant::now());
            *next = turn + self.spacing;
            turn
        };
        tokio::time::sleep_until(turn).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use super::*;

    /// A queue of numbers in memory; `send` notes what it got.
    struct Numbers {
        left: Mutex<Vec<u32>>,
        claims: AtomicUsize,
        sent: Mutex<Vec<u32>>,
    }

    impl SendQueue for Numbers {
        type Item = u32;
        type Error = String;
        const ITEMS: &'static str = "numbers";

        async fn claim(&self, max: usize) -> Result<Vec<u32>, String> {
            self.claims.fetch_add(1, Ordering::SeqCst);
            let mut left = self.left.lock().unwrap();
            let n = max.min(left.len());
            Ok(left.drain(..n).collect())
        }

        fn send_in_us(_: &u32) -> Option<i64> {
            None
        }

        async fn send(self: Arc<Self>, item: u32) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            self.sent.lock().unwrap().push(item);
        }

        async fn not_sent_in_time(self: Arc<Self>, item: u32) {
            self.left.lock().unwrap().push(item);
        }
    }

    #[tokio::test]
    async fn every_claimed_item_is_sent_once_and_stop_waits_for_sends_in_the_air() {
        let queue = Arc::new(Numbers {
            left: Mutex::new((0..500).collect()),
            claims: AtomicUsize::new(0),
            sent: Mutex::new(Vec::new()),
        });
        let (stop_tx, stop) = watch::channel(false);
        let pacing = Pacing::new(1000);
        assert_eq!(pacing.loops, 2);
        let running = tokio::spawn(run(Arc::clone(&queue), pacing, 8, stop));
        while !queue.left.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop_tx.send(true).unwrap();
        running.await.unwrap();
        let mut sent = queue.sent.lock().unwrap().clone();
        sent.sort_unstable();
        assert_eq!(sent, (0..500).collect::<Vec<_>>());
        assert!(
            queue.claims.load(Ordering::SeqCst) >= 500 / 8,
            "never more than max_in_flight claimed at once"
        );
    }

    /// Items with their slots (µs after the claim's answer); `send` notes when it went.
    struct Slotted {
        left: Mutex<Vec<(u32, i64)>>,
        sent: Mutex<Vec<(u32, Instant)>>,
        returned: Mutex<Vec<u32>>,
    }

    impl SendQueue for Slotted {
        type Item = (u32, i64);
        type Error = String;
        const ITEMS: &'static str = "slotted numbers";

        async fn claim(&self, max: usize) -> Result<Vec<(u32, i64)>, String> {
            let mut left = self.left.lock().unwrap();
            let n = max.min(left.len());
            Ok(left.drain(..n).collect())
        }

        fn send_in_us(item: &(u32, i64)) -> Option<i64> {
            Some(item.1)
        }

        async fn send(self: Arc<Self>, item: (u32, i64)) {
            self.sent.lock().unwrap().push((item.0, Instant::now()));
        }

        async fn not_sent_in_time(self: Arc<Self>, item: (u32, i64)) {
            self.returned.lock().unwrap().push(item.0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn each_item_leaves_at_its_slot_and_one_whose_slot_passed_goes_back_unsent() {
        let queue = Arc::new(Slotted {
            // 0 and 1: due 30 and 10 ms after the answer; 2: its slot passed 4 ms before
            // (within the tolerance); 3: 20 ms before (missed).
            left: Mutex::new(vec![(0, 30_000), (1, 10_000), (2, -4_000), (3, -20_000)]),
            sent: Mutex::new(Vec::new()),
            returned: Mutex::new(Vec::new()),
        });
        let (stop_tx, stop) = watch::channel(false);
        let started = Instant::now();
        let running = tokio::spawn(run(Arc::clone(&queue), Pacing::new(80), 8, stop));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop_tx.send(true).unwrap();
        running.await.unwrap();
        let sent: Vec<(u32, Duration)> = queue
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|(n, at)| (*n, *at - started))
            .collect();
        let at = |n: u32| sent.iter().find(|(m, _)| *m == n).map(|(_, d)| *d);
        assert_eq!(at(0), Some(Duration::from_millis(30)), "{sent:?}");
        assert_eq!(at(1), Some(Duration::from_millis(10)), "{sent:?}");
        assert_eq!(at(2), Some(Duration::ZERO), "{sent:?}");
        assert_eq!(at(3), None, "{sent:?}");
        assert_eq!(*queue.returned.lock().unwrap(), vec![3]);
    }

    // On tokio's paused clock: the turns are what the spacer planned, not when a loaded
    // machine happened to wake each task.
    #[tokio::test(start_paused = true)]
    async fn requests_leave_at_least_the_spacing_apart_even_when_asked_for_at_once() {
        let spacer = Arc::new(Spacer::new(Duration::from_millis(10)));
        let started = Instant::now();
        let mut turns = JoinSet::new();
        for _ in 0..5 {
            let spacer = Arc::clone(&spacer);
            turns.spawn(async move {
                spacer.wait_turn().await;
                Instant::now()
            });
        }
        let mut times: Vec<Instant> = turns.join_all().await;
        times.sort_unstable();
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= Duration::from_millis(10),
                "{:?}",
                pair[1] - pair[0]
            );
        }
        assert!(started.elapsed() >= Duration::from_millis(40));
    }
}
