//! Deleting the stored media of deleted messages (an erased contact's, above all): claims
//! due deletions (`svc.claim_media_deletions`), deletes the objects from the media store,
//! and records them (`svc.record_media_deleted`). A deletion that fails stays leased and
//! comes back when its lease expires.

use std::time::Duration;

use svc_client::SvcClient;
use tokio::sync::watch;

use super::store::MediaStore;

const BATCH: usize = 100;
const LEASE_SECONDS: u32 = 120;

/// Deletes due media every `poll` until `stop` turns true.
pub async fn run(
    svc: SvcClient,
    store: MediaStore,
    owner: String,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let full = match drain_once(&svc, &store, &owner).await {
            Ok(n) => n == BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "deleting erased media failed; retrying");
                false
            }
        };
        if !full {
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// One batch: answers how many deletions were claimed.
async fn drain_once(svc: &SvcClient, store: &MediaStore, owner: &str) -> Result<usize, String> {
    let claimed = svc
        .claim_media_deletions(owner, BATCH, LEASE_SECONDS)
        .await
        .map_err(|e| e.to_string())?;
    let mut deleted = Vec::with_capacity(claimed.len());
    for id in &claimed {
        match store.delete(*id).await {
            Ok(()) => deleted.push(*id),
            Err(e) => {
                tracing::warn!(message_id = %id, error = %format!("{e:#}"), "a media object could not be deleted; it is tried again")
            }
        }
    }
    if !deleted.is_empty() {
        svc.record_media_deleted(&deleted, owner)
            .await
            .map_err(|e| e.to_string())?;
        metrics::counter!("gateway_media_deleted_total").increment(deleted.len() as u64);
    }
    Ok(claimed.len())
}
