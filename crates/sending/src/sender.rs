//! One runnable sender: a [`SendQueue`] (what a service claims and how it sends one
//! item) run by the claim loops under the number's pacing, and stopped in one place:
//! at stop it claims nothing more, lets the sends in the air finish (each records its
//! own outcome), then hands back the claims it never sent
//! ([`SendQueue::release_unsent`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use whatsapp::RetryPolicy;

use crate::claim_loop::{self, SendQueue};
use crate::pacing::Pacing;

/// The slowest answer of the Graph API a sender keeps its limit at: Meta's answers
/// take hundreds of milliseconds, and in-flight sends cap the rate at
/// `in flight / answer time`.
pub const LONGEST_ANSWER_AT_FULL_RATE: Duration = Duration::from_millis(1500);
/// Requests in the air at once, per process, at least (low limits).
pub const MIN_IN_FLIGHT: usize = 256;
/// Requests in the air at once, per process, at most: each is a small task and a
/// connection, so memory stays bounded whatever the limit.
pub const MAX_IN_FLIGHT: usize = 10_000;

/// Requests in the air at once for a limit of `max_mps`: enough to keep the limit while
/// answers take up to [`LONGEST_ANSWER_AT_FULL_RATE`] (1,500 at 1,000/s), between
/// [`MIN_IN_FLIGHT`] and [`MAX_IN_FLIGHT`].
pub fn max_in_flight(max_mps: u32) -> usize {
    let needed = (f64::from(max_mps) * LONGEST_ANSWER_AT_FULL_RATE.as_secs_f64()).ceil() as usize;
    needed.clamp(MIN_IN_FLIGHT, MAX_IN_FLIGHT)
}

/// What a running sender reads for every claim and send.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Names this process's leases (host, pid and a random part).
    pub owner: String,
    pub phone_number_id: String,
    pub max_mps: u32,
    pub lease_seconds: u32,
    pub retry: RetryPolicy,
    /// How long a paused number waits between probe sends.
    pub probe_seconds: u32,
}

/// Runs `queue` with `pacing` until `stop` turns true; returns once the sends in the
/// air have finished and the unsent claims have been handed back.
pub async fn run<Q: SendQueue>(queue: Arc<Q>, pacing: Pacing, stop: watch::Receiver<bool>) {
    let in_flight = max_in_flight(pacing.max_mps);
    claim_loop::run(Arc::clone(&queue), pacing, in_flight, stop).await;
    queue.release_unsent().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_sends_keep_the_limit_at_answers_of_one_and_a_half_seconds() {
        assert_eq!(max_in_flight(80), MIN_IN_FLIGHT);
        assert_eq!(max_in_flight(1000), 1500);
        // 1,000/s at 1 s answers needs 1,000 in the air.
        assert!(max_in_flight(1000) as f64 / 1.0 >= 1000.0);
        assert_eq!(max_in_flight(100_000), MAX_IN_FLIGHT);
    }
}
