//! Raw webhooks are kept only as long as they are needed: every interval the gateway asks
//! the database to remove journaled webhooks past their retention (`svc.prune_webhook_journal`:
//! applied and ignored ones after `WEBHOOK_RETENTION_DAYS`, failed ones awaiting a replay
//! after `WEBHOOK_FAILED_RETENTION_DAYS`). Several gateways may do it at once: a webhook is
//! removed once. Where the project schedules the function with pg_cron, turn this off
//! (`WEBHOOK_RETENTION=off`).

use svc_client::SvcClient;
use tokio::sync::watch;

use crate::config::JournalRetention;

/// Prunes now and then every `settings.interval`, until `stop` turns true.
pub async fn run(svc: SvcClient, settings: JournalRetention, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
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
        tokio::select! {
            _ = tokio::time::sleep(settings.interval) => {}
            _ = stop.changed() => {}
        }
    }
}
