//! Applies the status-only webhooks the gateway acknowledged before applying them
//! (journaled as pending by `svc.ingest_webhooks`): `svc.apply_queued_statuses` takes up
//! to [`APPLY_BATCH`] of them, oldest first, and applies their statuses in one pass. Each
//! call first applies the statuses that overtook the record of their send and were kept
//! as early, once that send is recorded. After a call that found at least
//! [`FULL_ENOUGH`] the next follows at once; after one that found fewer, [`IDLE_POLL`]
//! later, so that statuses arriving one per webhook gather into batches: a call costs a
//! sweep and its locks whatever its size (one call per 50 statuses was a quarter of the
//! database's time in the loop benchmark). The price is up to 200 ms more before a status
//! shows.
//! Several gateways apply side by side (each call skips what another holds). A failed
//! call leaves the webhooks pending; the loop tries again after [`ERROR_PAUSE`].

use std::time::Duration;

use svc_client::SvcClient;
use tokio::sync::watch;

/// Pending webhooks per call: one statement's worth of statuses, a few tens of ms.
pub const APPLY_BATCH: u32 = 500;
/// Time between calls while (almost) nothing is pending.
pub const IDLE_POLL: Duration = Duration::from_millis(200);
/// A call that found this many pending webhooks is followed by the next at once.
pub const FULL_ENOUGH: i64 = 400;
/// Time before the next call after a failed one.
pub const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Applies pending webhooks until `stop` turns true.
pub async fn run(svc: SvcClient, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let pause = match svc.apply_queued_statuses(APPLY_BATCH).await {
            Ok(report) => {
                if report.webhooks > 0 {
                    tracing::debug!(?report, "queued status webhooks applied");
                    metrics::counter!("gateway_queued_webhooks_applied_total")
                        .increment(report.webhooks as u64);
                }
                if report.early_recorded > 0 {
                    // Statuses that overtook the record of their send, applied now.
                    metrics::counter!("gateway_early_statuses_applied_total")
                        .increment(report.early_recorded as u64);
                }
                if report.failed > 0 {
                    metrics::counter!("gateway_queued_webhooks_failed_total")
                        .increment(report.failed as u64);
                    tracing::error!(
                        failed = report.failed,
                        "queued status webhooks journaled as failed; replay with `cargo xtask webhooks replay` after a fix"
                    );
                }
                if report.webhooks >= FULL_ENOUGH {
                    Duration::ZERO
                } else {
                    IDLE_POLL
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "applying queued status webhooks failed; retrying");
                ERROR_PAUSE
            }
        };
        if !pause.is_zero() {
            // (A stop signal whose sender is gone never fires: then only the pause ends.)
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                Ok(()) = stop.changed() => {}
            }
        }
    }
}
