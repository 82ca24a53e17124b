//! The outbound sender: claims agents' pending replies from the database queue, sends
//! them through the Graph API and records each outcome.
//!
//! - Claims are leased (`svc.claim_outbound_messages`); no transaction is held across the
//!   HTTP call. Claims only what it can send at once (tokens of the shared rate limit,
//!   and at most `MAX_IN_FLIGHT` requests in the air).
//! - Outcomes follow [`whatsapp::ErrorClass`]: retryable errors back off (jitter,
//!   Retry-After) up to a maximum age, permanent ones fail with error_data, token and
//!   account errors pause all sending, and an unknown outcome is never retried (the API
//!   has no idempotency key; see the README's sending policy).

pub mod job;
mod outcome;
pub mod read_receipts;
mod recorder;

use std::sync::Arc;
use std::time::Duration;

use graph_api::GraphClient;
use svc_client::SvcClient;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use whatsapp::RetryPolicy;

use job::ClaimedJob;

/// Requests in the air at once, per process.
const MAX_IN_FLIGHT: usize = 256;
/// Jobs asked for per claim.
const CLAIM_BATCH: usize = 50;
/// Pause between polls when the queue is empty.
const IDLE_POLL: Duration = Duration::from_millis(40);

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

/// The pause after a claim that the rate limit cut short: half of what remains of one
/// token's interval after the claim's own round trip, at least 1 ms.
fn token_pause(token_interval: Duration, claim_round_trip: Duration) -> Duration {
    (token_interval.saturating_sub(claim_round_trip) / 2).max(Duration::from_millis(1))
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
    let mut last_busy = std::time::Instant::now() - Duration::from_secs(60);
    let mut in_flight = JoinSet::new();
    let token_interval = Duration::from_secs_f64(1.0 / f64::from(settings.max_mps.max(1)));
    tracing::info!(owner = %settings.owner, max_mps = settings.max_mps, "outbound sender started");

    while !*stop.borrow() {
        while in_flight.try_join_next().is_some() {}
        let free = slots.available_permits().min(CLAIM_BATCH);
        let pause = if free == 0 {
            token_interval
        } else {
            let claim_started = std::time::Instant::now();
            match svc
                .claim_outbound_messages::<ClaimedJob>(
                    &settings.owner,
                    &settings.phone_number_id,
                    f64::from(settings.max_mps),
                    free,
                    settings.lease_seconds,
                )
                .await
            {
                Ok(jobs) => {
                    let claimed = jobs.len();
                    if claimed > 0 {
                        last_busy = std::time::Instant::now();
                    }
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
                    metrics::counter!("gateway_outbound_claimed_total").increment(claimed as u64);
                    if claimed == free {
                        Duration::ZERO
                    } else if claimed > 0 {
                        // Limited by tokens: come back well before the bucket (1.5% of a
                        // second's worth) fills, or tokens would be wasted.
                        token_pause(token_interval, claim_started.elapsed())
                    } else if last_busy.elapsed() < Duration::from_secs(1) {
                        // Empty, but jobs were there a moment ago: most likely the
                        // bucket is empty, not the queue.
                        token_pause(token_interval, claim_started.elapsed())
                    } else {
                        IDLE_POLL
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming outbound messages failed; retrying");
                    Duration::from_secs(1)
                }
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }
    tracing::info!(
        in_flight = in_flight.len(),
        "outbound sender stopping; finishing in-flight sends"
    );
    while in_flight.join_next().await.is_some() {}
    tracing::info!("outbound sender stopped");
}
