//! Records reply outcomes several per call (`svc.record_outbound_outcomes`): each send
//! hands its outcome over and waits for its own answer; a worker takes whatever is
//! waiting (up to `MAX_BATCH`) and makes one round trip. Nobody waits for a batch to fill.

use serde_json::{json, Value};
use svc_client::{SvcClient, SvcError};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

const MAX_BATCH: usize = 200;

type Reply = oneshot::Sender<Result<bool, SvcError>>;

#[derive(Clone)]
pub struct OutcomeRecorder {
    tx: mpsc::Sender<(Value, Reply)>,
}

impl OutcomeRecorder {
    pub fn start(svc: SvcClient, owner: String) -> Self {
        let (tx, mut rx) = mpsc::channel::<(Value, Reply)>(MAX_BATCH * 8);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
                let outcomes: Vec<Value> = batch.iter().map(|(o, _)| o.clone()).collect();
                match svc.record_outbound_outcomes(&owner, &outcomes).await {
                    Ok(results) if results.len() == batch.len() => {
                        for ((_, reply), ok) in batch.into_iter().zip(results) {
                            let _ = reply.send(Ok(ok));
                        }
                    }
                    Ok(results) => {
                        let e = SvcError::Decode {
                            function: "record_outbound_outcomes".into(),
                            reason: format!(
                                "{} answers for {} outcomes",
                                results.len(),
                                batch.len()
                            ),
                        };
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                    Err(e) => {
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    async fn record(&self, outcome: Value) -> Result<bool, SvcError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((outcome, reply))
            .await
            .map_err(|_| SvcError::Unreachable("the outcome recorder stopped".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(SvcError::Unreachable("the outcome recorder stopped".into())))
    }

    pub async fn sent(&self, message_id: Uuid, wamid: &str) -> Result<bool, SvcError> {
        self.record(json!({ "message_id": message_id, "outcome": "sent", "wamid": wamid }))
            .await
    }

    pub async fn failed(
        &self,
        message_id: Uuid,
        error: &Value,
        opted_out: bool,
    ) -> Result<bool, SvcError> {
        self.record(json!({ "message_id": message_id, "outcome": "failed", "error": error, "opted_out": opted_out }))
            .await
    }

    pub async fn retry(
        &self,
        message_id: Uuid,
        delay_seconds: f64,
        error: &Value,
    ) -> Result<bool, SvcError> {
        self.record(json!({ "message_id": message_id, "outcome": "retry", "delay_seconds": delay_seconds, "error": error }))
            .await
    }
}
