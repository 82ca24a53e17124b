//! Deleting agents' uploads that no message took (`MEDIA_UPLOAD_LIFETIME_SECS`, a day by
//! default): lists them (`svc.claim_stale_media_uploads`), deletes their files from the
//! media store, and removes their records (`svc.record_media_uploads_deleted`). An upload
//! whose file could not be deleted stays listed and is tried again next round.

use std::time::Duration;

use svc_client::SvcClient;
use tokio::sync::watch;

use super::store::MediaStore;

const BATCH: usize = 100;

/// Deletes stale uploads every `poll` until `stop` turns true.
pub async fn run(
    svc: SvcClient,
    store: MediaStore,
    lifetime: Duration,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let lifetime = u32::try_from(lifetime.as_secs()).unwrap_or(u32::MAX);
    while !*stop.borrow() {
        let full = match clean_once(&svc, &store, lifetime).await {
            Ok(n) => n == BATCH,
            Err(e) => {
                tracing::warn!(error = %e, "deleting stale uploads failed; retrying");
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

/// One batch: answers how many stale uploads were listed.
async fn clean_once(svc: &SvcClient, store: &MediaStore, lifetime: u32) -> Result<usize, String> {
    let stale = svc
        .claim_stale_media_uploads(lifetime, BATCH)
        .await
        .map_err(|e| e.to_string())?;
    let mut deleted = Vec::with_capacity(stale.len());
    for id in &stale {
        match store.delete(*id).await {
            Ok(()) => deleted.push(*id),
            Err(e) => {
                tracing::warn!(upload_id = %id, error = %format!("{e:#}"), "a stale upload could not be deleted; it is tried again")
            }
        }
    }
    if !deleted.is_empty() {
        svc.record_media_uploads_deleted(&deleted)
            .await
            .map_err(|e| e.to_string())?;
        metrics::counter!("gateway_media_uploads_deleted_total").increment(deleted.len() as u64);
    }
    Ok(stale.len())
}
