//! Raw webhooks are kept only as long as they are needed, and an erased customer's leave
//! the journal within about a minute.
//!
//! * Retention: every `interval` the gateway asks the database to remove journaled
//!   webhooks past their retention (`svc.prune_webhook_journal`: applied and ignored ones
//!   after `WEBHOOK_RETENTION_DAYS`, failed ones awaiting a replay after
//!   `WEBHOOK_FAILED_RETENTION_DAYS`, statuses whose message stayed unknown after 7 days).
//!   Where the project schedules that function with pg_cron, turn this off
//!   (`WEBHOOK_RETENTION=off`).
//! * Erasure: `erase_contact` removes a customer from the tables at once and leaves the
//!   journal, too large for one API call, to `svc.erase_from_journal`, which goes through
//!   it in bounded batches. Every `erasure_poll` (`WEBHOOK_ERASURE_POLL_SECS`, default 60)
//!   the gateway calls it, batch after batch, until nothing is pending. This runs also with
//!   `WEBHOOK_RETENTION=off`: pg_cron does not do it.
//! * Export: likewise `export_contact` leaves the customer's events in the journal to
//!   `svc.export_from_journal`, called the same way (the admin then fetches them with
//!   `public.journal_export`).
//!
//! Several gateways may do both at once: a webhook is removed once, and an erasure is
//! carried on by one gateway at a time (the others skip it).

use std::time::Duration;

use svc_client::SvcClient;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::JournalRetention;

/// Webhooks per `svc.erase_from_journal` call: a few tens of milliseconds of work.
pub const ERASURE_BATCH: u32 = 2_000;

/// Prunes (when enabled) now and then every `settings.interval`, and carries out pending
/// erasures and exports now and then every `settings.erasure_poll`, until `stop` turns true.
pub async fn run(svc: SvcClient, settings: JournalRetention, mut stop: watch::Receiver<bool>) {
    let mut next_prune = Instant::now();
    while !*stop.borrow() {
        if settings.enabled && Instant::now() >= next_prune {
            prune(&svc, &settings).await;
            next_prune = Instant::now() + settings.interval;
        }
        erase_pending(&svc, &stop).await;
        export_pending(&svc, &stop).await;
        let mut wait = settings.erasure_poll;
        if settings.enabled {
            wait = wait.min(next_prune.saturating_duration_since(Instant::now()));
        }
        tokio::select! {
            _ = tokio::time::sleep(wait.max(Duration::from_millis(10))) => {}
            _ = stop.changed() => {}
        }
    }
}

async fn prune(svc: &SvcClient, settings: &JournalRetention) {
    match svc
        .prune_webhook_journal(settings.max_age, settings.failed_max_age)
        .await
    {
        Ok(removed) => {
            metrics::counter!("gateway_journal_pruned_total")
                .increment(u64::try_from(removed).unwrap_or(0));
            if removed > 0 {
                tracing::info!(removed, "removed raw webhooks past their retention");
            }
        }
        Err(e) => tracing::warn!(
            error = %e,
            "pruning the webhook journal failed; trying again at the next interval"
        ),
    }
}

/// Calls `svc.erase_from_journal` until no erasure is pending (or another gateway holds
/// the ones left, or `stop` turns true).
async fn erase_pending(svc: &SvcClient, stop: &watch::Receiver<bool>) {
    while !*stop.borrow() {
        match svc.erase_from_journal(ERASURE_BATCH).await {
            Ok(report) => {
                metrics::counter!("gateway_journal_erased_total")
                    .increment(u64::try_from(report.removed + report.stripped).unwrap_or(0));
                if report.completed > 0 {
                    tracing::info!(
                        completed = report.completed,
                        pending = report.pending,
                        "erased customers' raw webhooks from the journal"
                    );
                }
                if report.pending == 0 || (report.scanned == 0 && report.completed == 0) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "erasing from the webhook journal failed; trying again at the next poll"
                );
                return;
            }
        }
    }
}

/// Calls `svc.export_from_journal` until no export is pending (or another gateway holds
/// the ones left, or `stop` turns true).
async fn export_pending(svc: &SvcClient, stop: &watch::Receiver<bool>) {
    while !*stop.borrow() {
        match svc.export_from_journal(ERASURE_BATCH).await {
            Ok(report) => {
                if report.completed > 0 {
                    tracing::info!(
                        completed = report.completed,
                        pending = report.pending,
                        "gathered exports' events from the journal"
                    );
                }
                if report.pending == 0 || (report.scanned == 0 && report.completed == 0) {
                    return;
                }
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "exporting from the webhook journal failed; trying again at the next poll"
                );
                return;
            }
        }
    }
}
