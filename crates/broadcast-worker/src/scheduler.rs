//! The scheduler: every second (and at start) starts due broadcasts and completes
//! finished ones. Both are single `svc` calls that are safe with several workers: a
//! broadcast moves to 'sending' exactly once (`for update skip locked`).

use std::time::Duration;

use svc_client::broadcasts::CompletedBroadcasts;
use svc_client::SvcClient;
use tokio::sync::watch;

/// How often due broadcasts are looked for.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until `stop` turns true.
pub async fn run(svc: SvcClient, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = stop.changed() => if changed.is_err() { break },
        }
        if *stop.borrow() {
            break;
        }
        tick_once(&svc).await;
    }
    tracing::info!("broadcast scheduler stopped");
}

/// One round: start what is due, complete what is finished.
pub async fn tick_once(svc: &SvcClient) {
    match svc.start_due_broadcasts().await {
        Ok(started) => {
            for b in started {
                metrics::counter!("broadcasts_started_total").increment(1);
                tracing::info!(broadcast_id = %b.id, queued = b.queued, skipped = b.skipped, "broadcast started");
            }
        }
        Err(e) => tracing::warn!(error = %e, "starting due broadcasts failed; will try again"),
    }
    match svc.complete_finished_broadcasts().await {
        Ok(CompletedBroadcasts::Ids(ids)) => {
            for id in ids {
                metrics::counter!("broadcasts_completed_total").increment(1);
                tracing::info!(broadcast_id = %id, "broadcast completed");
            }
        }
        Ok(CompletedBroadcasts::Count(n)) if n > 0 => {
            metrics::counter!("broadcasts_completed_total").increment(n.unsigned_abs());
            tracing::info!(completed = n, "broadcasts completed");
        }
        Ok(CompletedBroadcasts::Count(_)) => {}
        Err(e) => {
            tracing::warn!(error = %e, "completing finished broadcasts failed; will try again")
        }
    }
}
