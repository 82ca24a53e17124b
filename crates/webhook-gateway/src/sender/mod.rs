//! The outbound sender: claims agents' pending replies from the database queue, sends
//! them through the Graph API and records each outcome.
//!
//! - Claims are leased (`svc.claim_outbound_messages`); no transaction is held across the
//!   HTTP call. Claims only what it can send at once (tokens of the shared rate limit,
//!   and at most `sending::sender::max_in_flight` requests in the air: enough for the
//!   limit at answers of 1.5 s), in
//!   `sending::sender` (which also stops it: no new claims, sends in the air finish).
//! - Outcomes follow [`whatsapp::ErrorClass`]: retryable errors back off (jitter,
//!   Retry-After) up to a maximum age, permanent ones fail with error_data, token and
//!   account errors pause all sending, and an unknown outcome is never retried blindly
//!   (the API has no idempotency key): it is held in the database until a status webhook
//!   says it was sent, later sends' statuses show it never arrived (re-queued), or the
//!   hold ends (failed `unknown_outcome`); see the README's sending policy.

pub mod invitations;
pub mod job;
pub mod media_upload;
mod outcome;
pub mod read_receipts;
mod recorder;

use std::sync::Arc;

use sending::claim_loop::{InFlight, SendQueue};
use sending::graph::GraphClient;
use sending::pacing::Pacing;
use sending::SenderSettings;
use svc_client::SvcClient;
use tokio::sync::watch;

use job::ClaimedJob;

/// What every send shares; claims agents' replies (`svc.claim_outbound_messages`).
struct Replies {
    svc: SvcClient,
    graph: GraphClient,
    uploader: media_upload::MediaUploader,
    recorder: recorder::OutcomeRecorder,
    settings: SenderSettings,
}

impl SendQueue for Replies {
    type Item = ClaimedJob;
    type Error = svc_client::SvcError;
    const ITEMS: &'static str = "outbound messages";

    async fn claim(&self, max: usize) -> Result<Vec<ClaimedJob>, Self::Error> {
        let s = &self.settings;
        let jobs = self
            .svc
            .claim_outbound_messages(
                &s.owner,
                &s.phone_number_id,
                f64::from(s.max_mps),
                max,
                s.lease_seconds,
            )
            .await?;
        metrics::counter!("gateway_outbound_claimed_total").increment(jobs.len() as u64);
        Ok(jobs)
    }

    fn is_probe(job: &ClaimedJob) -> bool {
        job.probe
    }

    fn slot(job: &ClaimedJob) -> Option<sending::claim_loop::Slot> {
        Some(sending::claim_loop::Slot {
            send_at: job.send_at?.into(),
            send_in_us: job.send_in_us?,
        })
    }

    async fn send(self: Arc<Self>, job: ClaimedJob, in_flight: InFlight) {
        outcome::send_one(
            &self.svc,
            &self.recorder,
            &self.graph,
            &self.uploader,
            &self.settings,
            job,
            in_flight,
        )
        .await;
    }

    async fn not_sent_in_time(self: Arc<Self>, job: ClaimedJob) {
        outcome::not_sent_in_time(&self.recorder, job).await;
    }
}

/// Runs until `stop` turns true, then lets in-flight sends finish.
pub async fn run(
    svc: SvcClient,
    graph: GraphClient,
    uploader: media_upload::MediaUploader,
    settings: SenderSettings,
    stop: watch::Receiver<bool>,
) {
    let pacing = Pacing::new(settings.max_mps);
    tracing::info!(owner = %settings.owner, max_mps = settings.max_mps,
        claim_size = pacing.claim_size, loops = pacing.loops, "outbound sender started");
    let recorder = recorder::OutcomeRecorder::start(svc.clone(), settings.owner.clone());
    let replies = Arc::new(Replies {
        svc,
        graph,
        uploader,
        recorder,
        settings,
    });
    sending::sender::run(replies, pacing, stop).await;
    tracing::info!("outbound sender stopped");
}
