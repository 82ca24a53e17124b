//! Stores webhooks through `svc.ingest_webhooks`, several per call when they arrive
//! together ([`svc_client::batch::dispatch`]): with no call in flight, a webhook is stored
//! at once with whatever else waits; during a call, the webhooks that come gather for the
//! next one, and a second call alongside starts only when [`Calls::another_at`] of them
//! wait or the first has taken [`Calls::another_after`]. Each call is a PostgREST round
//! trip and a transaction, so a steady stream of quick calls (status webhooks at three
//! times the send rate) makes few large ones, and a burst of customers' messages, which
//! are applied in the call, still gets two calls side by side. (A 2 ms wait
//! for company instead cost `bench ingest` 12% of its top rate; two calls side by side
//! whenever possible halved the webhooks per call in the loop benchmark.) Each caller gets
//! its own result only after that transaction committed.

use std::time::{Duration, Instant};

use svc_client::batch::{dispatch, Calls};
use svc_client::{IncomingWebhook, RawPayload, StoredWebhook, SvcClient, SvcError};
use tokio::sync::{mpsc, oneshot};

use super::Events;

/// Why a webhook was not stored.
#[derive(Debug, Clone, thiserror::Error)]
pub enum IngestError {
    /// The database can't be reached or asked us to retry: answer 503 so Meta retries.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused the webhook itself (a bug on our side): answer 500.
    #[error("database refused the webhook: {0}")]
    Refused(String),
}

struct Job {
    webhook: IncomingWebhook,
    reply: oneshot::Sender<Result<StoredWebhook, IngestError>>,
}

#[derive(Clone)]
pub struct Ingestor {
    tx: mpsc::Sender<Job>,
}

impl Ingestor {
    /// Starts the calls that store webhooks, shared as `calls` says.
    pub fn start(svc: SvcClient, calls: Calls) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(calls.max_calls * calls.max_batch * 4);
        tokio::spawn(dispatch(rx, calls, move |batch| {
            let svc = svc.clone();
            async move { store(&svc, batch).await }
        }));
        Self { tx }
    }

    /// Stores one webhook: its payload, its events (or the reason it could not be parsed).
    pub async fn ingest(
        &self,
        payload: RawPayload,
        events: Option<&Events>,
        parse_error: Option<String>,
    ) -> Result<StoredWebhook, IngestError> {
        let webhook = IncomingWebhook {
            payload,
            events: events.cloned(),
            parse_error,
        };
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Job { webhook, reply })
            .await
            .map_err(|_| IngestError::Unavailable("the gateway is shutting down".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(IngestError::Unavailable("the ingest worker stopped".into())))
    }
}

async fn store(svc: &SvcClient, batch: Vec<Job>) {
    let started = Instant::now();
    let size = batch.len();
    let (webhooks, replies): (Vec<IncomingWebhook>, Vec<_>) =
        batch.into_iter().map(|j| (j.webhook, j.reply)).unzip();
    match svc.ingest_webhooks(&webhooks).await {
        Ok(results) => {
            metrics::histogram!("gateway_ingest_batch_size").record(size as f64);
            metrics::histogram!("gateway_ingest_call_seconds")
                .record(started.elapsed().as_secs_f64());
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(result));
            }
        }
        Err(e) if e.is_transient() => {
            let error = to_ingest_error(&e);
            tracing::warn!(error = %e, batch = size, "storing webhooks failed");
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
        Err(e) => {
            // One bad webhook must not take the others with it: store them one by one.
            if size > 1 {
                tracing::warn!(error = %e, batch = size, "a batch was refused; storing its webhooks one by one");
            }
            for (webhook, reply) in webhooks.into_iter().zip(replies) {
                let first = if size == 1 {
                    Err(e.clone())
                } else {
                    ingest_one(svc, &webhook).await
                };
                let rewritten = match &first {
                    Err(refused) if !refused.is_transient() => webhook.payload.rewritten(),
                    _ => None,
                };
                let result = match rewritten {
                    // The database refused the body as Meta wrote it, and serde_json reads
                    // it otherwise (a number `jsonb` can't hold): stored as it reads it.
                    Some(payload) => {
                        tracing::warn!(
                            "a webhook's body was refused as written; storing it as parsed"
                        );
                        ingest_one(svc, &IncomingWebhook { payload, ..webhook }).await
                    }
                    None => first,
                };
                if let Err(refused) = &result {
                    tracing::warn!(error = %refused, "a webhook was refused");
                }
                let _ = reply.send(result.map_err(|e| to_ingest_error(&e)));
            }
        }
    }
}

/// Stores one webhook.
async fn ingest_one(svc: &SvcClient, webhook: &IncomingWebhook) -> Result<StoredWebhook, SvcError> {
    svc.ingest_webhooks(std::slice::from_ref(webhook))
        .await?
        .pop()
        .ok_or_else(|| SvcError::Decode {
            function: "ingest_webhooks".into(),
            reason: "no answer for the webhook".into(),
        })
}

fn to_ingest_error(e: &SvcError) -> IngestError {
    if e.is_transient() {
        IngestError::Unavailable(e.to_string())
    } else {
        IngestError::Refused(e.to_string())
    }
}

/// How long a webhook may wait for its transaction before the gateway answers 503.
pub const INGEST_TIMEOUT: Duration = Duration::from_secs(15);
