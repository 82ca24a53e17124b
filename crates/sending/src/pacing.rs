//! How a sender paces its claims. The rate limit lives in the database as a schedule of
//! send slots per number (`svc.take_send_tokens`: virtual scheduling, slots 1/(98.5% of
//! the limit) apart, reserved at most 250 ms ahead, shared by every process); each claimed
//! item comes with its slot (`send_at`) and is sent then. So a claim's round trip costs
//! no throughput as long as it is shorter than the slots reserved ahead: a loop claims
//! again when its last reserved slot is less than [`CLAIM_LEAD`] away, asks for a tenth of
//! a second's worth, and two loops run from 250/s, so one slow claim does not leave the
//! schedule idle. Nothing to send: each loop asks again after [`IDLE_POLL`] times the
//! number of loops, so an idle process asks every [`IDLE_POLL`] on average however many
//! loops it runs (two loops asking every 40 ms each were a sixth of all PostgREST calls
//! in the loop benchmark, from a gateway with no reply to send). A full schedule
//! (another process reserved ahead) is asked again after a quarter of a claim's worth of
//! slots.

use std::time::Duration;

use tokio::time::Instant;

/// Most items asked for per claim.
pub const CLAIM_BATCH: usize = 100;
/// Pause between a process's claims when there is nothing to send.
pub const IDLE_POLL: Duration = Duration::from_millis(40);
/// A loop claims again once its last reserved slot is this close: below the 250 ms the
/// database reserves ahead, so a claim finds slots, and far above a claim's round trip.
pub const CLAIM_LEAD: Duration = Duration::from_millis(150);

/// The share of a second's worth of sends asked for per claim.
const CLAIM_SHARE: f64 = 0.1;
/// The share of the limit the database spaces slots at (`svc.send_schedule_policy`).
const SLOT_RATE_SHARE: f64 = 0.985;
/// Requests of one process leave no faster than this share of the limit, also when
/// late ones catch up.
const SEND_SPACING_SHARE: f64 = 0.998;
/// From this limit on, two claim loops run.
const TWO_LOOPS_FROM_MPS: u32 = 250;
/// One process lets go at most this share of the limit in any sliding second by its own
/// clock, whatever its slots say: a guard, above the slots' 98.5% plus a send up to 5 ms
/// late, against whatever else bunches them.
const SECOND_CAP_SHARE: f64 = 0.99;

/// How claim loops pace their claims (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pacing {
    /// The number's limit, messages per second.
    pub max_mps: u32,
    /// Time between two slots of the schedule.
    pub slot_interval: Duration,
    /// Items asked for per claim: a tenth of a second's worth, at least 2, at most
    /// [`CLAIM_BATCH`].
    pub claim_size: usize,
    /// Claim loops per process.
    pub loops: usize,
    /// Least time between two requests of one process (1 / 99.8% of the limit): sends
    /// that fell behind their slots (a late claim answer) catch up no faster than that.
    pub send_spacing: Duration,
    /// The most sends one process lets go in any sliding second (99% of the limit).
    pub second_cap: usize,
}

impl Pacing {
    pub fn new(max_mps: u32) -> Self {
        let mps = f64::from(max_mps.max(1));
        Self {
            max_mps,
            slot_interval: Duration::from_secs_f64(1.0 / (mps * SLOT_RATE_SHARE)),
            claim_size: ((mps * CLAIM_SHARE).ceil() as usize).clamp(2, CLAIM_BATCH),
            loops: if max_mps >= TWO_LOOPS_FROM_MPS { 2 } else { 1 },
            send_spacing: Duration::from_secs_f64(1.0 / (mps * SEND_SPACING_SHARE)),
            second_cap: ((mps * SECOND_CAP_SHARE).floor() as usize).max(1),
        }
    }

    /// When the next claim should leave, now that one came back with `claimed` items
    /// whose last slot is `last_slot`; `since_last_grant`: how long ago this loop last
    /// got any.
    pub fn next_claim(
        &self,
        now: Instant,
        claimed: usize,
        last_slot: Option<Instant>,
        since_last_grant: Option<Duration>,
    ) -> Instant {
        if claimed > 0 {
            last_slot
                .map_or(now, |t| t.checked_sub(CLAIM_LEAD).unwrap_or(now))
                .max(now)
        } else if since_last_grant.is_some_and(|d| d < Duration::from_secs(1)) {
            // Sending, but the schedule is full for now.
            now + self.slot_interval * u32::try_from(self.claim_size / 4).unwrap_or(1).max(1)
        } else {
            now + IDLE_POLL * u32::try_from(self.loops).unwrap_or(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_ask_for_a_tenth_of_a_second() {
        assert_eq!(Pacing::new(80).claim_size, 8);
        assert_eq!(Pacing::new(1000).claim_size, 100);
        assert_eq!(Pacing::new(1).claim_size, 2);
        assert_eq!(Pacing::new(100_000).claim_size, CLAIM_BATCH);
        assert_eq!(Pacing::new(80).loops, 1);
        assert_eq!(Pacing::new(1000).loops, 2);
        // 1 / (1000 * 0.985) s.
        assert_eq!(Pacing::new(1000).slot_interval.as_micros(), 1015);
        assert_eq!(Pacing::new(1000).second_cap, 990);
        assert_eq!(Pacing::new(80).second_cap, 79);
        assert_eq!(Pacing::new(1).second_cap, 1);
    }

    #[test]
    fn a_loop_claims_again_when_its_last_slot_is_near() {
        let p = Pacing::new(1000);
        let ms = Duration::from_millis;
        let t0 = Instant::now();
        // 100 slots reserved up to 240 ms ahead: claim again 150 ms before the last.
        assert_eq!(p.next_claim(t0, 100, Some(t0 + ms(240)), None), t0 + ms(90));
        // Slots already near (a slow claim): at once.
        assert_eq!(p.next_claim(t0, 100, Some(t0 + ms(100)), None), t0);
        assert_eq!(p.next_claim(t0, 3, None, None), t0);
        // Nothing granted while sending: the schedule is full; a quarter claim later.
        assert_eq!(
            p.next_claim(t0, 0, None, Some(ms(20))),
            t0 + p.slot_interval * 25
        );
        // Nothing to send: each of the two loops asks every other idle poll.
        assert_eq!(
            p.next_claim(t0, 0, None, Some(ms(5000))),
            t0 + IDLE_POLL * 2
        );
        assert_eq!(p.next_claim(t0, 0, None, None), t0 + IDLE_POLL * 2);
        // One loop (below 250/s): every idle poll.
        assert_eq!(
            Pacing::new(80).next_claim(t0, 0, None, None),
            t0 + IDLE_POLL
        );
    }
}
