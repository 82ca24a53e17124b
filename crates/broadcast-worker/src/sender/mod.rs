//! The broadcast sender: claims recipients of sending broadcasts, sends each its
//! template through the Graph API and records the outcome. It mirrors the gateway's
//! reply sender (`webhook_gateway::sender`):
//!
//! - Claims are leased (`svc.claim_broadcast_recipients`); no transaction is held across
//!   the HTTP call. A claim only hands out recipients it has tokens for (the per-number
//!   bucket shared with replies, which go first) and stays under the messaging limit.
//! - At most once per recipient: an unknown outcome is recorded as `unknown_outcome: ...`
//!   and never resent blindly; a worker that dies holding claims leaves them to expire
//!   into the same state. The database holds them until a status webhook resolves them,
//!   later sends' statuses show they never arrived (re-queued), or the hold ends (failed).
//! - A cancelled broadcast is no longer claimed, so it stops as soon as the sends in the
//!   air (at most a second's worth) finish.
//! - Stopping (SIGTERM): no new claims, in-flight sends finish and are recorded, then
//!   claims never sent go back to the queue (`svc.release_broadcast_claims`).
//!
//! Claiming, pacing and stopping are `sending::sender` (shared with the reply sender):
//! from 250/s two staggered claim loops, except under a messaging limit, where concurrent
//! claims could overshoot it.
//! Outcomes are recorded several per call (`svc.record_broadcast_outcomes`), so that
//! PostgREST is not busy with one round trip per recipient when the next claim comes.

pub mod outcome;
pub mod recipient;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sending::claim_loop::{InFlight, SendQueue};
use sending::graph::GraphClient;
use sending::pacing::Pacing;
use sending::SenderSettings;
use svc_client::SvcClient;
use tokio::sync::watch;

use recipient::ClaimedRecipient;

/// What every send task shares.
pub(crate) struct Shared {
    pub svc: SvcClient,
    pub graph: GraphClient,
    pub settings: SenderSettings,
    /// Unique users per rolling 24 hours; `None`: unlimited.
    pub messaging_limit: Option<u32>,
    /// Outcomes the database never took: their claims must not be released (they were
    /// sent, or may have been); the leases expire into unknown outcomes instead.
    pub unrecorded: AtomicUsize,
    /// Records outcomes several per call (`svc.record_broadcast_outcomes`).
    pub outcomes: svc_client::OutcomeBatcher<svc_client::BroadcastOutcome>,
}

/// Runs until `stop` turns true, then finishes in-flight sends and releases unsent claims.
pub async fn run(
    svc: SvcClient,
    graph: GraphClient,
    settings: SenderSettings,
    messaging_limit: Option<u32>,
    stop: watch::Receiver<bool>,
) {
    let pacing = Pacing::new(settings.max_mps);
    let outcomes = svc_client::OutcomeBatcher::start(svc.clone(), settings.owner.clone());
    let shared = Arc::new(Shared {
        svc,
        graph,
        settings,
        messaging_limit,
        unrecorded: AtomicUsize::new(0),
        outcomes,
    });
    // Concurrent claims can each see the same remainder of the messaging limit (the
    // claim counts before it locks anything), so under a limit one loop claims.
    let pacing = Pacing {
        loops: if shared.messaging_limit.is_some() {
            1
        } else {
            pacing.loops
        },
        ..pacing
    };
    tracing::info!(owner = %shared.settings.owner, max_mps = shared.settings.max_mps,
        messaging_limit = ?shared.messaging_limit, claim_size = pacing.claim_size,
        loops = pacing.loops, "broadcast sender started");
    sending::sender::run(shared, pacing, stop).await;
    tracing::info!("broadcast sender stopped");
}

impl SendQueue for Shared {
    type Item = ClaimedRecipient;
    type Error = svc_client::SvcError;
    const ITEMS: &'static str = "broadcast recipients";

    async fn claim(&self, max: usize) -> Result<Vec<ClaimedRecipient>, Self::Error> {
        let s = &self.settings;
        let started = Instant::now();
        let claimed = self
            .svc
            .claim_broadcast_recipients(
                &s.owner,
                &s.phone_number_id,
                f64::from(s.max_mps),
                max,
                s.lease_seconds,
                self.messaging_limit,
            )
            .await;
        metrics::histogram!("broadcast_db_call_seconds", "function" => "claim_broadcast_recipients")
            .record(started.elapsed().as_secs_f64());
        let recipients = claimed?;
        metrics::counter!("broadcast_claimed_total").increment(recipients.len() as u64);
        Ok(recipients)
    }

    fn is_probe(recipient: &ClaimedRecipient) -> bool {
        recipient.probe
    }

    fn slot(recipient: &ClaimedRecipient) -> Option<sending::claim_loop::Slot> {
        Some(sending::claim_loop::Slot {
            send_at: recipient.send_at?.into(),
            send_in_us: recipient.send_in_us?,
        })
    }

    async fn send(self: Arc<Self>, recipient: ClaimedRecipient, in_flight: InFlight) {
        outcome::send_one(&self, recipient, in_flight).await;
    }

    async fn not_sent_in_time(self: Arc<Self>, recipient: ClaimedRecipient) {
        outcome::not_sent_in_time(&self, recipient).await;
    }

    async fn release_unsent(&self) {
        release_claims(self).await;
    }
}

/// Hands back claims that were never sent (e.g. a claim whose answer was lost), unless
/// an outcome could not be recorded: releasing that one would send it twice.
async fn release_claims(shared: &Shared) {
    let unrecorded = shared.unrecorded.load(Ordering::SeqCst);
    if unrecorded > 0 {
        tracing::warn!(
            unrecorded,
            "not releasing claims: some outcomes could not be recorded; their leases will \
             expire and mark them unknown_outcome"
        );
        return;
    }
    for attempt in 1..=5u32 {
        match shared
            .svc
            .release_broadcast_claims(&shared.settings.owner)
            .await
        {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(released = n, "unsent claims returned to the queue");
                }
                return;
            }
            Err(e) => {
                tracing::warn!(attempt, error = %e, "releasing claims failed");
                tokio::time::sleep(Duration::from_millis(200) * attempt).await;
            }
        }
    }
    tracing::error!(
        "could not release claims; their leases will expire and mark them unknown_outcome"
    );
}
