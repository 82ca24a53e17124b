//! The media fetcher: claims due fetches with a lease (`svc.claim_media_fetches`), looks
//! each media id up in the Graph API, checks WhatsApp's limits for its kind, streams the
//! bytes into the media store while hashing them, and records the outcome with no
//! transaction open:
//!
//! - stored: size and sha256 match what Meta announced; the object is complete.
//! - retry (temporary): Graph API 5xx/429/401/unreachable, an expired download URL, a short
//!   download, a hash mismatch (up to `MEDIA_HASH_ATTEMPTS`); backoff doubles from
//!   `MEDIA_RETRY_BASE_MS` up to an hour; the database turns a retry past Meta's 7-day
//!   retention into a failure.
//! - failed (permanent): Meta no longer has the media, it breaks the limits of its kind,
//!   or its hash never matched. Shown on the message.
//!
//! Nothing is written to the store unless it is complete and verified: a multipart upload
//! is finished only after the hash check, and aborted otherwise.

use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};
use svc_client::{ClaimedMediaFetch, MediaFailure, MediaRetryOutcome, StoredMedia, SvcClient};
use tokio::sync::watch;

use super::graph::{GraphFailure, MediaGraph, MediaInfo};
use super::limits;
use super::settings::MediaSettings;
use super::store::{MediaStore, StoredFacts};
use crate::sender::invitations::retry_delay;

/// Fetches claimed at once (fetched one after the other).
const BATCH: usize = 4;
/// Chunks of a multipart upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 2;

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    Stored {
        mime_type: String,
        file_size: u64,
        sha256: String,
    },
    Retry {
        error: String,
    },
    Failed(MediaFailure),
}

/// Everything a fetch needs.
#[derive(Clone)]
pub struct Fetcher {
    pub svc: SvcClient,
    pub graph: MediaGraph,
    pub store: MediaStore,
    pub settings: MediaSettings,
    pub owner: String,
}

/// Whether `digest` is the hash Meta gave (hex, as the Graph API answers, or base64).
pub fn hash_matches(digest: &[u8], announced: &str) -> bool {
    let announced = announced.trim();
    hex::encode(digest).eq_ignore_ascii_case(announced)
        || base64::engine::general_purpose::STANDARD.encode(digest) == announced
}

impl Fetcher {
    /// Claims and fetches until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!("media fetcher started");
        while !*stop.borrow() {
            let pause = match self
                .svc
                .claim_media_fetches(&self.owner, BATCH, self.settings.lease_seconds())
                .await
            {
                Ok(claimed) if !claimed.is_empty() => {
                    let full = claimed.len() == BATCH;
                    for job in &claimed {
                        self.fetch_and_record(job).await;
                    }
                    if full {
                        Duration::ZERO
                    } else {
                        self.settings.poll_interval
                    }
                }
                Ok(_) => self.settings.poll_interval,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming media fetches failed; retrying");
                    self.settings.poll_interval.max(Duration::from_secs(1))
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        tracing::info!("media fetcher stopped");
    }

    #[tracing::instrument(name = "fetch_media", skip_all,
        fields(message_id = %job.message_id, kind = %job.kind, attempt = job.attempts))]
    pub async fn fetch_and_record(&self, job: &ClaimedMediaFetch) {
        let outcome =
            match tokio::time::timeout(self.settings.request_timeout, self.fetch(job)).await {
                Ok(outcome) => outcome,
                Err(_) => FetchOutcome::Retry {
                    error: format!(
                        "no complete download within {} s",
                        self.settings.request_timeout.as_secs()
                    ),
                },
            };
        let id = job.message_id;
        let label = match &outcome {
            FetchOutcome::Stored { .. } => "stored",
            FetchOutcome::Retry { .. } => "retry",
            FetchOutcome::Failed(_) => "failed",
        };
        metrics::counter!("gateway_media_fetches_total", "outcome" => label).increment(1);
        let recorded = match &outcome {
            FetchOutcome::Stored {
                mime_type,
                file_size,
                sha256,
            } => {
                tracing::info!(file_size, "media stored");
                let key = MediaStore::object_key(id);
                self.svc
                    .record_media_stored(
                        id,
                        &self.owner,
                        &StoredMedia {
                            object_key: &key,
                            mime_type,
                            file_size: *file_size,
                            sha256,
                            file_name: job.file_name.as_deref(),
                        },
                    )
                    .await
                    .map(|ours| ours.then_some(()))
            }
            FetchOutcome::Retry { error } => {
                let delay = retry_delay(self.settings.retry_base_delay, job.attempts);
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "media not fetched; will retry");
                self.svc
                    .record_media_retry(id, &self.owner, delay.as_secs_f64(), error)
                    .await
                    .map(|o| (o != MediaRetryOutcome::NotLeased).then_some(()))
            }
            FetchOutcome::Failed(failure) => {
                tracing::warn!(code = failure.code, details = %failure.details, "media failed for good");
                self.svc
                    .record_media_failed(id, &self.owner, failure)
                    .await
                    .map(|ours| ours.then_some(()))
            }
        };
        match recorded {
            Ok(Some(())) => {}
            Ok(None) => tracing::info!(
                "the fetch's lease passed to another fetcher; its outcome is not recorded"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "recording the media outcome failed; its lease will expire and it is fetched again")
            }
        }
    }

    async fn fetch(&self, job: &ClaimedMediaFetch) -> FetchOutcome {
        let info = match self.graph.lookup(&job.media_id).await {
            Ok(info) => info,
            Err(GraphFailure::Temporary(error)) => return FetchOutcome::Retry { error },
            Err(GraphFailure::Gone(details)) => {
                return FetchOutcome::Failed(MediaFailure {
                    code: "media_unavailable",
                    title: "WhatsApp no longer has this attachment",
                    details,
                })
            }
        };
        if let Err(e) = limits::check(&job.kind, job.animated, &info.mime_type, info.file_size) {
            return FetchOutcome::Failed(MediaFailure {
                code: e.code,
                title: e.title,
                details: e.details,
            });
        }
        match self.download_into_store(job, &info).await {
            Ok(outcome) => outcome,
            Err(error) => FetchOutcome::Retry { error },
        }
    }

    /// Streams the bytes into a multipart upload, hashing and counting them; finishes the
    /// upload only when size and hash match.
    async fn download_into_store(
        &self,
        job: &ClaimedMediaFetch,
        info: &MediaInfo,
    ) -> Result<FetchOutcome, String> {
        let mut answer = match self.graph.download(info).await {
            Ok(answer) => answer,
            Err(GraphFailure::Temporary(e) | GraphFailure::Gone(e)) => return Err(e),
        };
        let mut writer = self
            .store
            .writer(job.message_id)
            .await
            .map_err(|e| format!("media store refused the upload: {e}"))?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let problem = loop {
            match answer.chunk().await {
                Ok(Some(chunk)) => {
                    size += chunk.len() as u64;
                    if size > info.file_size {
                        break Some(format!(
                            "the download is longer than the {} bytes announced",
                            info.file_size
                        ));
                    }
                    hasher.update(&chunk);
                    if let Err(e) = writer.wait_for_capacity(UPLOAD_CONCURRENCY).await {
                        break Some(format!("media store write failed: {e}"));
                    }
                    writer.put(chunk);
                }
                Ok(None) => break None,
                Err(e) => break Some(format!("media download cut short: {e}")),
            }
        };
        let digest = hasher.finalize();
        let problem = problem.or_else(|| {
            (size != info.file_size).then(|| {
                format!(
                    "downloaded {size} bytes of the {} announced",
                    info.file_size
                )
            })
        });
        if let Some(problem) = problem {
            let _ = writer.abort().await;
            return Err(problem);
        }
        if !hash_matches(&digest, &info.sha256) {
            let _ = writer.abort().await;
            let details = format!(
                "the downloaded bytes' sha256 {} is not the {} WhatsApp announced",
                hex::encode(digest),
                info.sha256
            );
            if job.attempts >= self.settings.hash_attempts {
                return Ok(FetchOutcome::Failed(MediaFailure {
                    code: "media_hash_mismatch",
                    title: "The attachment arrived damaged",
                    details: format!("{details} ({} attempts)", job.attempts),
                }));
            }
            return Err(details);
        }
        writer
            .finish()
            .await
            .map_err(|e| format!("media store could not complete the upload: {e}"))?;
        self.store
            .put_facts(
                job.message_id,
                &StoredFacts {
                    mime_type: info.mime_type.clone(),
                    file_size: size,
                    file_name: job.file_name.clone(),
                    kind: job.kind.clone(),
                },
            )
            .await
            .map_err(|e| format!("{e:#}"))?;
        Ok(FetchOutcome::Stored {
            mime_type: info.mime_type.clone(),
            file_size: size,
            sha256: hex::encode(digest),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_matches_in_hex_or_base64_and_nothing_else() {
        let digest = Sha256::digest(b"hola");
        let hex = hex::encode(digest);
        assert!(hash_matches(&digest, &hex));
        assert!(hash_matches(&digest, &hex.to_uppercase()));
        assert!(hash_matches(
            &digest,
            &base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        assert!(!hash_matches(
            &digest,
            &hex::encode(Sha256::digest(b"adios"))
        ));
        assert!(!hash_matches(&digest, ""));
    }
}
