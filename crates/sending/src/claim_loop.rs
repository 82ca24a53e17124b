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
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
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
/// (15 ms in a second to spare): sends up to 5 ms late, each process's slots timed no
/// closer than the schedule spaced them ([`DbClock`]), and 10 ms of jitter on the way
/// never put more than the limit in any 1-second window at WhatsApp (migration
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

    /// The send slot the claim reserved for `item`; `None`: at once.
    fn slot(item: &Self::Item) -> Option<Slot>;

    /// Whether `item` is the probe of a paused number (the one send that tells whether
    /// sending may resume). A probe goes even if it wakes after its slot: nothing else is
    /// being sent, and a probe sent back unsent keeps the number paused until the next
    /// probe, 30 s later.
    fn is_probe(_item: &Self::Item) -> bool {
        false
    }

    /// Sends one claimed item and records its outcome; lets `in_flight` go once WhatsApp
    /// answered (recording is not in the air).
    fn send(
        self: Arc<Self>,
        item: Self::Item,
        in_flight: InFlight,
    ) -> impl Future<Output = ()> + Send;

    /// A claimed item whose turn came after [`SEND_DEADLINE`]: never sent; back to the
    /// queue (a retry without delay).
    fn not_sent_in_time(self: Arc<Self>, item: Self::Item) -> impl Future<Output = ()> + Send;

    /// At stop, once every send has finished: hands back claims never sent (e.g. a
    /// claim whose answer was lost). By default nothing: their leases expire.
    fn release_unsent(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// A send's place among the sends in the air (at most `max_in_flight` of [`run`]): the
/// sender lets it go once WhatsApp answered, so the time its outcome takes to record
/// (long when the database is busy) doesn't hold sends back. Dropped at the latest when
/// the send is over.
pub struct InFlight {
    /// Holding it is the point: dropped, the place is free.
    _permit: OwnedSemaphorePermit,
}

impl InFlight {
    /// WhatsApp answered (or the send never left): the next send may take this place.
    pub fn answered(self) {}
}

/// A send slot as a claim answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// On the database's clock.
    pub send_at: SystemTime,
    /// Microseconds from the database's answer until `send_at` (negative: passed).
    pub send_in_us: i64,
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
    let timing = Arc::new(SendTiming {
        spacer: Spacer::new(pacing.send_spacing),
        busiest: BusiestSecond::capped_at(pacing.second_cap),
        clock: DbClock::new(pacing.slot_interval),
    });
    let mut loops = JoinSet::new();
    for i in 0..pacing.loops {
        // Staggered by half a claim's worth of slots.
        let offset = pacing.slot_interval * u32::try_from(i * pacing.claim_size / 2).unwrap_or(0);
        loops.spawn(claim_loop(
            Arc::clone(&queue),
            Arc::clone(&slots),
            Arc::clone(&timing),
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
    timing: Arc<SendTiming>,
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
        let arrival = Arrival::now();
        let now = arrival.at;
        planned = match claimed {
            Ok(items) => {
                let n = items.len();
                let mut last_slot = None;
                for item in items {
                    let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                        break;
                    };
                    let slot = Q::slot(&item).map(|s| timing.clock.instant_of(s, arrival));
                    last_slot = last_slot.max(slot);
                    let passed_on_arrival = slot.is_some_and(|slot| now > slot + SLOT_TOLERANCE);
                    let probe = Q::is_probe(&item);
                    let (queue, timing) = (Arc::clone(&queue), Arc::clone(&timing));
                    in_flight.spawn(async move {
                        let missed_slot = match slot {
                            // The slot is this send's alone, whichever process sends.
                            Some(slot) => {
                                tokio::time::sleep_until(slot).await;
                                Instant::now() > slot + SLOT_TOLERANCE && !probe
                            }
                            None => {
                                timing.spacer.wait_turn().await;
                                false
                            }
                        };
                        if missed_slot {
                            drop(permit);
                            // Passed already when the claim's answer arrived (the claim
                            // was slow), or this process woke too late for it (busy CPU).
                            let why = if passed_on_arrival { "passed_on_arrival" } else { "woke_late" };
                            metrics::counter!("send_slots_missed_total", "items" => Q::ITEMS, "why" => why).increment(1);
                            tracing::debug!(why, "a claimed {} missed its send slot; back to the queue unsent", Q::ITEMS);
                            queue.not_sent_in_time(item).await;
                        } else if !timing.busiest.let_go(Q::ITEMS, asked + SEND_DEADLINE).await {
                            drop(permit);
                            tracing::warn!("a claimed {} waited past the send deadline; back to the queue unsent", Q::ITEMS);
                            queue.not_sent_in_time(item).await;
                        } else {
                            queue.send(item, InFlight { _permit: permit }).await;
                        }
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

/// What a process's claim loops share to time their sends.
struct SendTiming {
    spacer: Spacer,
    busiest: BusiestSecond,
    clock: DbClock,
}

/// The database's clock as this process sees it: the least difference between the local
/// clock when a claim's answer arrived and the database's clock when it answered, over
/// the last minute or so: the clocks' offset plus the fastest answer's transit. A slot
/// is timed as its `send_at` plus that offset, so an answer that was slow to arrive (the
/// process was busy) does not shift its slots onto the next claim's, and clocks that
/// differ between the database's host and this one don't either.
///
/// A faster answer lowers the offset at once (processes sharing a schedule must agree on
/// it: one that stayed late would put its slots onto another's), but a slot is never
/// timed closer to this process's previous one than the schedule's spacing: with the
/// offset lowered by 40 ms (slow first answers, then fast ones), the next 40 ms of slots
/// were timed onto those already timed, 40 sends too many in a second at 1,000/s (seen as
/// 130429 answers in `bench loop`). The correction is taken where this process's slots
/// have a gap (another process's slots between them, or a pause).
struct DbClock {
    /// The least time between two slots of the schedule.
    spacing: Duration,
    state: Mutex<Option<ClockState>>,
}

struct ClockState {
    /// Least offset seen in this window and in the window before (µs), and when this
    /// window began.
    least: i64,
    least_before: i64,
    window_start: Instant,
    /// The latest slot timed: on the database's clock (µs) and on tokio's.
    last_slot: Option<(i64, Instant)>,
}

/// How long an offset seen counts (two windows of it).
const CLOCK_WINDOW: Duration = Duration::from_secs(30);

/// Both clocks, read once when a claim's answer arrived: every slot of the claim is timed
/// from this one reading, however long handing out the sends takes.
#[derive(Clone, Copy)]
struct Arrival {
    at: Instant,
    wall: SystemTime,
}

impl Arrival {
    fn now() -> Self {
        Self {
            at: Instant::now(),
            wall: SystemTime::now(),
        }
    }
}

/// Microseconds since the Unix epoch (negative before it).
fn unix_micros(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_micros()).unwrap_or(i64::MAX),
    }
}

impl DbClock {
    fn new(spacing: Duration) -> Self {
        Self {
            spacing,
            state: Mutex::new(None),
        }
    }

    /// When `slot` falls on tokio's clock, given the claim's answer's `arrival`.
    fn instant_of(&self, slot: Slot, arrival: Arrival) -> Instant {
        let slot_db = unix_micros(slot.send_at);
        let answered_db = slot_db - slot.send_in_us;
        let seen = unix_micros(arrival.wall) - answered_db;
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let c = state.get_or_insert(ClockState {
            least: seen,
            least_before: seen,
            window_start: arrival.at,
            last_slot: None,
        });
        if arrival.at.saturating_duration_since(c.window_start) > CLOCK_WINDOW {
            c.least_before = c.least;
            c.least = seen;
            c.window_start = arrival.at;
        }
        c.least = c.least.min(seen);
        let offset = c.least.min(c.least_before);
        // The slot on the local wall clock, then on tokio's.
        let from_arrival = slot_db.saturating_add(offset) - unix_micros(arrival.wall);
        let mut at = shift(arrival.at, from_arrival);
        match c.last_slot {
            // Never closer to the previous slot than the schedule's spacing.
            Some((last_db, last_at)) if slot_db >= last_db => {
                let gap = Duration::from_micros((slot_db - last_db).unsigned_abs());
                at = at.max(last_at + gap.min(self.spacing));
                c.last_slot = Some((slot_db, at));
            }
            // (An earlier slot handed out late, by the other loop: as computed.)
            Some(_) => {}
            None => c.last_slot = Some((slot_db, at)),
        }
        at
    }
}

/// `at` moved by `us` microseconds (earlier if negative), within what `Instant` holds.
fn shift(at: Instant, us: i64) -> Instant {
    let delta = Duration::from_micros(us.unsigned_abs());
    if us >= 0 {
        at.checked_add(delta).unwrap_or(at)
    } else {
        at.checked_sub(delta).unwrap_or(at)
    }
}

/// The sends this process let go in the last second, by its own clock: at most `cap` in
/// any sliding second ([`Pacing::second_cap`](crate::pacing::Pacing), 99% of the limit),
/// and the most it let go in one since it started, the gauge `send_busiest_second{items}`.
/// Sends leave at their slots (up to [`SLOT_TOLERANCE`] late), so the cap only holds back
/// a send that something else bunched (one such second had 1,002 at a limit of 1,000); a
/// busier second at WhatsApp (130429 answers) was bunched on the way.
struct BusiestSecond {
    cap: usize,
    /// Sends of the last second, and the most seen in one.
    recent: Mutex<(std::collections::VecDeque<Instant>, usize)>,
}

impl BusiestSecond {
    fn capped_at(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            recent: Mutex::default(),
        }
    }

    /// Waits until one more send keeps the last second within the cap, and notes it; false
    /// (not noted) if that would be after `deadline`.
    async fn let_go(&self, items: &'static str, deadline: Instant) -> bool {
        loop {
            let now = Instant::now();
            let Some(turn) = self.note_if_room(now, items) else {
                return true;
            };
            if turn > deadline {
                return false;
            }
            tokio::time::sleep_until(turn).await;
        }
    }

    /// Notes a send at `now` if the second before it holds fewer than the cap; else, when
    /// the oldest of them leaves that second.
    fn note_if_room(&self, now: Instant, items: &'static str) -> Option<Instant> {
        let mut guard = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        let (recent, most) = &mut *guard;
        while recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= Duration::from_secs(1))
        {
            recent.pop_front();
        }
        if recent.len() >= self.cap {
            return recent.front().map(|t| *t + Duration::from_secs(1));
        }
        recent.push_back(now);
        if recent.len() > *most {
            *most = recent.len();
            metrics::gauge!("send_busiest_second", "items" => items).set(*most as f64);
        }
        None
    }

    #[cfg(test)]
    fn most(&self) -> usize {
        self.recent.lock().unwrap().1
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

        fn slot(_: &u32) -> Option<Slot> {
            None
        }

        async fn send(self: Arc<Self>, item: u32, in_flight: InFlight) {
            tokio::time::sleep(Duration::from_millis(5)).await;
            in_flight.answered();
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

    /// Sends answered at once, outcomes that take a second to record.
    struct SlowRecords {
        left: Mutex<Vec<u32>>,
        answered: Mutex<Vec<u32>>,
    }

    impl SendQueue for SlowRecords {
        type Item = u32;
        type Error = String;
        const ITEMS: &'static str = "slowly recorded numbers";

        async fn claim(&self, max: usize) -> Result<Vec<u32>, String> {
            let mut left = self.left.lock().unwrap();
            let n = max.min(left.len());
            Ok(left.drain(..n).collect())
        }

        fn slot(_: &u32) -> Option<Slot> {
            None
        }

        async fn send(self: Arc<Self>, item: u32, in_flight: InFlight) {
            in_flight.answered();
            self.answered.lock().unwrap().push(item);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }

        async fn not_sent_in_time(self: Arc<Self>, item: u32) {
            self.left.lock().unwrap().push(item);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_send_leaves_the_air_when_answered_not_when_its_outcome_is_recorded() {
        let queue = Arc::new(SlowRecords {
            left: Mutex::new((0..40).collect()),
            answered: Mutex::new(Vec::new()),
        });
        let (stop_tx, stop) = watch::channel(false);
        // Two sends in the air at most; each outcome takes a second to record.
        let running = tokio::spawn(run(Arc::clone(&queue), Pacing::new(1000), 2, stop));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            queue.answered.lock().unwrap().len(),
            40,
            "all sent within half a second: recording doesn't hold a place in the air"
        );
        stop_tx.send(true).unwrap();
        running.await.unwrap();
    }

    /// Items with their slots (µs after the claim's answer); `send` notes when it went.
    struct Slotted {
        left: Mutex<Vec<(u32, i64)>>,
        sent: Mutex<Vec<(u32, Instant)>>,
        returned: Mutex<Vec<u32>>,
    }

    /// A slotted number as claimed: with the time the database answered the claim.
    type SlottedItem = (u32, i64, SystemTime);

    impl SendQueue for Slotted {
        type Item = SlottedItem;
        type Error = String;
        const ITEMS: &'static str = "slotted numbers";

        async fn claim(&self, max: usize) -> Result<Vec<SlottedItem>, String> {
            let mut left = self.left.lock().unwrap();
            let n = max.min(left.len());
            // As if the database answered just now.
            let answered = SystemTime::now();
            Ok(left.drain(..n).map(|(k, us)| (k, us, answered)).collect())
        }

        fn slot(item: &SlottedItem) -> Option<Slot> {
            let answered = item.2;
            let at = if item.1 >= 0 {
                answered + Duration::from_micros(item.1.unsigned_abs())
            } else {
                answered - Duration::from_micros(item.1.unsigned_abs())
            };
            Some(Slot {
                send_at: at,
                send_in_us: item.1,
            })
        }

        /// (Items numbered from 100 are probes.)
        fn is_probe(item: &SlottedItem) -> bool {
            item.0 >= 100
        }

        async fn send(self: Arc<Self>, item: SlottedItem, _in_flight: InFlight) {
            self.sent.lock().unwrap().push((item.0, Instant::now()));
        }

        async fn not_sent_in_time(self: Arc<Self>, item: SlottedItem) {
            self.returned.lock().unwrap().push(item.0);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_whose_slot_passed_is_sent_all_the_same() {
        let queue = Arc::new(Slotted {
            // A probe whose slot passed 20 ms before the claim's answer, and an ordinary
            // item just as late.
            left: Mutex::new(vec![(100, -20_000), (3, -20_000)]),
            sent: Mutex::new(Vec::new()),
            returned: Mutex::new(Vec::new()),
        });
        let (stop_tx, stop) = watch::channel(false);
        let running = tokio::spawn(run(Arc::clone(&queue), Pacing::new(80), 8, stop));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop_tx.send(true).unwrap();
        running.await.unwrap();
        let sent: Vec<u32> = queue.sent.lock().unwrap().iter().map(|(n, _)| *n).collect();
        assert_eq!(sent, vec![100], "the probe went");
        assert_eq!(
            *queue.returned.lock().unwrap(),
            vec![3],
            "the ordinary item went back"
        );
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
        // (Within a millisecond: the real clock moves a little while the test runs.)
        let at = |n: u32| {
            sent.iter()
                .find(|(m, _)| *m == n)
                .map(|(_, d)| d.as_millis())
        };
        assert_eq!(at(0), Some(30), "{sent:?}");
        assert_eq!(at(1), Some(10), "{sent:?}");
        assert_eq!(at(2), Some(0), "{sent:?}");
        assert_eq!(at(3), None, "{sent:?}");
        assert_eq!(*queue.returned.lock().unwrap(), vec![3]);
    }

    /// Claims answered on made-up clocks: the database's clock is the local wall clock,
    /// both start at `base`; everything in ms from it.
    struct Clocks {
        at: Instant,
        wall: SystemTime,
    }

    impl Clocks {
        fn new() -> Self {
            Self {
                at: Instant::now(),
                wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            }
        }

        /// The answer the database gave at `db_us` arrives `transit_us` later.
        fn arrival(&self, db_us: u64, transit_us: u64) -> Arrival {
            let d = Duration::from_micros(db_us + transit_us);
            Arrival {
                at: self.at + d,
                wall: self.wall + d,
            }
        }

        /// A slot at `slot_us` on the database's clock, answered at `db_us`.
        fn slot(&self, slot_us: u64, db_us: u64) -> Slot {
            Slot {
                send_at: self.wall + Duration::from_micros(slot_us),
                send_in_us: i64::try_from(slot_us).unwrap() - i64::try_from(db_us).unwrap(),
            }
        }

        /// A local instant as µs from the start.
        fn us(&self, at: Instant) -> u64 {
            u64::try_from((at - self.at).as_micros()).unwrap()
        }
    }

    #[test]
    fn a_slow_answer_does_not_shift_its_slots_onto_the_next_claims() {
        let (clock, c) = (DbClock::new(Duration::from_millis(1)), Clocks::new());
        // A fast answer at 1 s: its slot, 50 ms later, is 50 ms after the answer arrived.
        let at = clock.instant_of(c.slot(1_050_000, 1_000_000), c.arrival(1_000_000, 0));
        assert_eq!(c.us(at), 1_050_000);
        // An answer that took 30 ms to arrive (the process was busy): its slot is timed
        // on the database's clock, 20 ms after the answer arrived, not 50.
        let at = clock.instant_of(c.slot(1_100_000, 1_050_000), c.arrival(1_050_000, 30_000));
        assert_eq!(c.us(at), 1_100_000);
    }

    /// The most instants (µs) in any sliding second.
    fn most_in_a_second(timed: &mut [u64]) -> usize {
        timed.sort_unstable();
        (0..timed.len())
            .map(|i| timed[i..].partition_point(|u| *u < timed[i] + 1_000_000))
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn a_faster_answer_never_times_slots_onto_those_already_timed() {
        let (clock, c) = (DbClock::new(Duration::from_millis(1)), Clocks::new());
        // A claim every 50 ms for 10 s, each of the next 50 slots of a schedule at exactly
        // 1,000/s; the first answer takes 40 ms to arrive, every later one none.
        let mut timed = Vec::new();
        for k in 0..200u64 {
            let answered = 1_000_000 + k * 50_000;
            let arrival = c.arrival(answered, if k == 0 { 40_000 } else { 0 });
            for i in 0..50 {
                let slot = answered + 60_000 + i * 1_000;
                timed.push(c.us(clock.instant_of(c.slot(slot, answered), arrival)));
            }
        }
        // (Timed on the faster offset at once, the second claim's slots would overlap the
        // first's by 40 ms: 1,040 in a second.)
        assert!(most_in_a_second(&mut timed) <= 1_000);
        // After a pause the slots are timed on the fast answers' offset.
        let answered = 12_000_000;
        let at = clock.instant_of(c.slot(answered + 60_000, answered), c.arrival(answered, 0));
        assert_eq!(c.us(at), answered + 60_000);
    }

    #[test]
    fn two_processes_sharing_a_schedule_agree_on_its_clock_after_one_claim() {
        let ms = Duration::from_millis;
        let (a, b, c) = (DbClock::new(ms(1)), DbClock::new(ms(1)), Clocks::new());
        // Blocks of 50 slots of one schedule at exactly 1,000/s, claimed in turn by two
        // processes for 2 s, then by B alone (A is done); the first answer process A gets
        // takes 40 ms to arrive.
        let mut timed = Vec::new();
        for k in 0..80u64 {
            let answered = 1_000_000 + k * 50_000;
            let (clock, transit) = if k % 2 == 0 && k < 40 {
                (&a, if k == 0 { 40_000 } else { 0 })
            } else {
                (&b, 0)
            };
            let arrival = c.arrival(answered, transit);
            for i in 0..50 {
                let slot = answered + 60_000 + i * 1_000;
                timed.push(c.us(clock.instant_of(c.slot(slot, answered), arrival)));
            }
        }
        // A's first block goes 40 ms late, onto B's first; from A's second claim on, both
        // time slots alike. (Had A stayed 40 ms late, its last block would go onto B's
        // first alone: 40 too many in a second.)
        let mut after_the_first = timed
            .into_iter()
            .filter(|us| *us >= 1_200_000)
            .collect::<Vec<_>>();
        assert!(most_in_a_second(&mut after_the_first) <= 1_000);
    }

    #[test]
    fn the_busiest_second_is_the_most_sends_in_any_sliding_second() {
        let busiest = BusiestSecond::capped_at(1000);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        // 10 sends 100 ms apart, then 5 within 40 ms at 1.95 s: 10 in [1.0, 2.0) s.
        for ms in (0..10)
            .map(|i| i * 100)
            .chain([1950, 1960, 1970, 1980, 1990])
        {
            assert_eq!(busiest.note_if_room(at(ms), "test items"), None);
        }
        assert_eq!(busiest.most(), 10);
        // A burst later: 12 in one second.
        for ms in (0..12).map(|i| 5000 + i * 10) {
            assert_eq!(busiest.note_if_room(at(ms), "test items"), None);
        }
        assert_eq!(busiest.most(), 12);
    }

    // On tokio's paused clock.
    #[tokio::test(start_paused = true)]
    async fn a_process_never_lets_go_more_than_its_cap_in_any_sliding_second() {
        let busiest = Arc::new(BusiestSecond::capped_at(10));
        let t0 = Instant::now();
        let mut sends = JoinSet::new();
        // 25 sends all due at once (bunched by whatever), with a deadline 1.5 s away.
        for _ in 0..25 {
            let busiest = Arc::clone(&busiest);
            sends.spawn(async move {
                let went = busiest
                    .let_go("test items", t0 + Duration::from_millis(1500))
                    .await;
                (went, t0.elapsed())
            });
        }
        let mut went = Vec::new();
        let mut held_back = 0;
        while let Some(send) = sends.join_next().await {
            match send.unwrap() {
                (true, at) => went.push(at.as_micros() as u64),
                (false, _) => held_back += 1,
            }
        }
        // 10 at once, 10 a second later, the last 5 (2 s) past the deadline: not sent.
        assert_eq!((went.len(), held_back), (20, 5));
        assert!(most_in_a_second(&mut went) <= 10);
        assert_eq!(busiest.most(), 10);
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
