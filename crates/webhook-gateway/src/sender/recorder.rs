//! Reply outcomes, recorded several per call (see `svc_client::OutcomeBatcher`).

use serde_json::{json, Value};
use svc_client::{OutcomeBatcher, SvcClient, SvcError};
use uuid::Uuid;

#[derive(Clone)]
pub struct OutcomeRecorder {
    batcher: OutcomeBatcher,
}

impl OutcomeRecorder {
    pub fn start(svc: SvcClient, owner: String) -> Self {
        Self {
            batcher: OutcomeBatcher::start(svc, owner, "record_outbound_outcomes"),
        }
    }

    pub async fn sent(&self, message_id: Uuid, wamid: &str) -> Result<bool, SvcError> {
        self.batcher
            .record(json!({ "message_id": message_id, "outcome": "sent", "wamid": wamid }))
            .await
    }

    pub async fn failed(
        &self,
        message_id: Uuid,
        error: &Value,
        opted_out: bool,
    ) -> Result<bool, SvcError> {
        self.batcher
            .record(json!({ "message_id": message_id, "outcome": "failed", "error": error, "opted_out": opted_out }))
            .await
    }

    pub async fn retry(
        &self,
        message_id: Uuid,
        delay_seconds: f64,
        error: &Value,
    ) -> Result<bool, SvcError> {
        self.batcher
            .record(json!({ "message_id": message_id, "outcome": "retry", "delay_seconds": delay_seconds, "error": error }))
            .await
    }
}
