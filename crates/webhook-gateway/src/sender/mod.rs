//! The outbound sender: claims agents' pending replies from the database queue, sends
//! them through the Graph API and records each outcome.
//!
//! - Claims are leased (`svc.claim_outbound_messages`); no transaction is held across the
//!   HTTP call. Claims only what it can send at once (tokens of the shared rate limit,
//!   and at most `MAX_IN_FLIGHT` requests in the air), paced by `graph_api::pacing`.
//! - Outcomes follow [`whatsapp::ErrorClass`]: retryable errors back off (jitter,
//!   Retry-After) up to a maximum age, permanent ones fail with error_data, token and
//!   account errors pause all sending, and an unknown outcome is never retried (the API
//!   has no idempotency key; see the README's sending policy).

pub mod job;
mod outcome;
pub mod read_receipts;
mod recorder;

use std::sync::Arc;
use std::time::{Duration, Instant};

use graph_api::pacing::Pacing;
use graph_api::GraphClient;
use svc_client::SvcClient;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use whatsapp::RetryPolicy;

use job::ClaimedJob;

/// Requests in the air at once, per process.
const MAX_IN_FLIGHT: usize = 256;
/// Pause after a failed claim (database unreachable).
const ERROR_PAUSE: Duration = Duration::from_secs(1);

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

pub fn default_owner() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_else(|_| "host".into());
    format!(
        "{}-{}-{}",
        host.trim(),
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Runs until `stop` turns true, then lets in-flight sends finish.
pub async fn run(
    svc: SvcClient,
    graph: GraphClient,
    settings: SenderSettings,
    mut stop: watch::Receiver<bool>,
) {
    let settings = Arc::new(settings);
    let graph = Arc::new(graph);
    let slots = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let recorder = recorder::OutcomeRecorder::start(svc.clone(), settings.owner.clone());
    let pacing = Pacing::new(settings.max_mps);
    let mut in_flight = JoinSet::new();
    let mut last_grant: Option<Instant> = None;
    let mut planned = Instant::now();
    tracing::info!(owner = %settings.owner, max_mps = settings.max_mps, "outbound sender started");

    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(planned.into()) => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
        if *stop.borrow() {
            break;
        }
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits().min(pacing.claim_size);
        if free == 0 {
            planned = Instant::now() + pacing.refill_interval;
            continue;
        }
        let claimed = svc
            .claim_outbound_messages::<ClaimedJob>(
                &settings.owner,
                &settings.phone_number_id,
                f64::from(settings.max_mps),
                free,
                settings.lease_seconds,
            )
            .await;
        let now = Instant::now();
        planned = match claimed {
            Ok(jobs) => {
                let n = jobs.len();
                for job in jobs {
                    let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
                        break;
                    };
                    let (svc, recorder, graph, settings) = (
                        svc.clone(),
                        recorder.clone(),
                        Arc::clone(&graph),
                        Arc::clone(&settings),
                    );
                    in_flight.spawn(async move {
                        outcome::send_one(&svc, &recorder, &graph, &settings, job).await;
                        drop(permit);
                    });
                }
                if n > 0 {
                    metrics::counter!("gateway_outbound_claimed_total").increment(n as u64);
                    last_grant = Some(now);
                }
                pacing.next_claim(planned, now, n, last_grant.map(|t| now - t))
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming outbound messages failed; retrying");
                now + ERROR_PAUSE
            }
        };
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "outbound sender stopping; finishing in-flight sends"
    );
    while in_flight.join_next().await.is_some() {}
    tracing::info!("outbound sender stopped");
}
