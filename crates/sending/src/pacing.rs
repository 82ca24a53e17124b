//! How a sender paces its claims against the shared token bucket in the database
//! (`svc.take_send_tokens`: refill 99% of the limit, capacity 0.8% of a second, between 1
//! and 1.5 tokens at low limits), and spaces its requests. The
//! bucket holds only a few ms of tokens (8 ms at 1000/s, 18 ms at 80/s), so a claim that comes later than that wastes
//! some: claims follow a fixed grid of refill intervals after each grant; a claim that
//! comes back empty just after a grant is retried within a millisecond (the next token is
//! due); nothing to send waits `IDLE_POLL`.

use std::time::Duration;

use tokio::time::Instant;

/// Most items asked for per claim.
pub const CLAIM_BATCH: usize = 100;
/// Pause between claims when there is nothing to send.
pub const IDLE_POLL: Duration = Duration::from_millis(40);

/// The share of the limit the shared bucket refills at (`svc.take_send_tokens`: 99%) and
/// the share of a second it holds (0.8%): no one-second window of grants holds more than
/// 99.8% of the limit at high limits (and never more than the limit at low ones).
const BUCKET_REFILL_SHARE: f64 = 0.99;
const BUCKET_CAPACITY_SHARE: f64 = 0.008;
/// Requests of one process leave no faster than this share of the limit.
const SEND_SPACING_SHARE: f64 = 0.998;
/// From this limit on, two claim loops run, staggered, so that the bucket is visited more
/// often than it fills (15 ms) even when a claim's round trip is that long under load.
const TWO_LOOPS_FROM_MPS: u32 = 250;

/// How claim loops pace their claims (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// How long the bucket takes to earn one token.
    pub refill_interval: Duration,
    /// Recipients asked for per claim: twice what the bucket can grant at once, at least
    /// 2, at most `CLAIM_BATCH`. Asking for more would only lock candidates the claim
    /// can't hand out.
    pub claim_size: usize,
    /// Poll interval while a token is due any moment.
    pub retry_soon: Duration,
    /// How long after a grant an empty claim still means "no token yet".
    pub recent: Duration,
    /// Claim loops per process.
    pub loops: usize,
    /// Least time between two requests of one process (1 / 99.8% of the limit): sends of
    /// claims whose answers came back together then don't reach WhatsApp as a burst above
    /// it, with 0.2% left for jitter on the way (the bucket grants 99% on average).
    pub send_spacing: Duration,
}

impl Pacing {
    pub fn new(max_mps: u32) -> Self {
        let mps = f64::from(max_mps.max(1));
        let refill_interval = Duration::from_secs_f64(1.0 / (mps * BUCKET_REFILL_SHARE));
        let claim_size =
            ((mps * BUCKET_CAPACITY_SHARE * 2.0).ceil() as usize).clamp(2, CLAIM_BATCH);
        Self {
            refill_interval,
            claim_size,
            retry_soon: (refill_interval / 4)
                .clamp(Duration::from_micros(250), Duration::from_millis(1)),
            recent: refill_interval * 2 + Duration::from_millis(50),
            loops: if max_mps >= TWO_LOOPS_FROM_MPS { 2 } else { 1 },
            send_spacing: Duration::from_secs_f64(1.0 / (mps * SEND_SPACING_SHARE)),
        }
    }

    /// When the next claim should leave, given when this one was planned to leave, now
    /// (its answer came), and how many recipients it got. After a grant the plan advances
    /// by that many refill intervals on a fixed grid: timer lateness (tokio rounds sleeps
    /// up to the millisecond) then shifts the phase once instead of adding up every cycle.
    /// A plan already past means the claim took longer than its tokens: go at once.
    pub fn next_claim(
        &self,
        planned: Instant,
        now: Instant,
        claimed: usize,
        since_last_grant: Option<Duration>,
    ) -> Instant {
        if claimed > 0 {
            let earned = self.refill_interval * u32::try_from(claimed).unwrap_or(u32::MAX);
            (planned + earned).max(now)
        } else if since_last_grant.is_some_and(|d| d < self.recent) {
            now + self.retry_soon
        } else {
            now + IDLE_POLL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_ask_for_what_the_bucket_can_grant() {
        assert_eq!(Pacing::new(80).claim_size, 2);
        assert_eq!(Pacing::new(1000).claim_size, 16);
        assert_eq!(Pacing::new(1).claim_size, 2);
        assert_eq!(Pacing::new(100_000).claim_size, CLAIM_BATCH);
        assert_eq!(Pacing::new(80).loops, 1);
        assert_eq!(Pacing::new(1000).loops, 2);
    }

    #[test]
    fn the_next_claim_leaves_as_many_refill_intervals_after_the_planned_one_as_it_used() {
        let p = Pacing::new(80);
        let ms = Duration::from_millis;
        // 1 / (80 * 0.99) s = 12.63 ms.
        assert_eq!(p.refill_interval.as_micros(), 12_626);
        assert_eq!(p.send_spacing.as_micros(), 12_525);
        let t0 = Instant::now();
        // Planned at t0, answered 4 ms later (and the timer woke it 1 ms late): the next
        // leaves on the grid, t0 + 12.63 ms, not 12.63 ms after it actually left.
        let next = p.next_claim(t0, t0 + ms(5), 1, None);
        assert_eq!((next - t0).as_micros(), 12_626);
        // A claim slower than its tokens: at once.
        assert_eq!(p.next_claim(t0, t0 + ms(30), 2, None), t0 + ms(30));
        assert_eq!(
            p.next_claim(t0, t0 + ms(3), 0, Some(ms(5))),
            t0 + ms(4),
            "a token is due"
        );
        assert_eq!(
            p.next_claim(t0, t0 + ms(3), 0, Some(ms(500))),
            t0 + ms(3) + IDLE_POLL
        );
        assert_eq!(
            p.next_claim(t0, t0 + ms(3), 0, None),
            t0 + ms(3) + IDLE_POLL
        );
        let fast = Pacing::new(1000);
        assert_eq!(fast.retry_soon.as_micros(), 252);
        assert_eq!(
            (fast.next_claim(t0, t0 + ms(4), 5, None) - t0).as_micros(),
            5_050
        );
    }
}
