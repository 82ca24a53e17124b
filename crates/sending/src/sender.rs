//! One runnable sender: a [`SendQueue`] (what a service claims and how it sends one
//! item) run by the claim loops under the number's pacing, and stopped in one place:
//! at stop it claims nothing more, lets the sends in the air finish (each records its
//! own outcome), then hands back the claims it never sent
//! ([`SendQueue::release_unsent`]).

use std::sync::Arc;

use tokio::sync::watch;
use whatsapp::RetryPolicy;

use crate::claim_loop::{self, SendQueue};
use crate::pacing::Pacing;

/// Requests in the air at once, per process.
pub const MAX_IN_FLIGHT: usize = 256;

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
    claim_loop::run(Arc::clone(&queue), pacing, MAX_IN_FLIGHT, stop).await;
    queue.release_unsent().await;
}
