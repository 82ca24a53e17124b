//! Reply outcomes, recorded several per call (see `svc_client::OutcomeBatcher`).

use serde_json::Value;
use svc_client::{OutboundOutcome, OutcomeBatcher, SvcClient, SvcError};
use uuid::Uuid;

#[derive(Clone)]
pub struct OutcomeRecorder {
    batcher: OutcomeBatcher<OutboundOutcome>,
}

impl OutcomeRecorder {
    pub fn start(svc: SvcClient, owner: String) -> Self {
        Self {
            batcher: OutcomeBatcher::start(svc, owner),
        }
    }

    pub async fn sent(&self, message_id: Uuid, wamid: &str) -> Result<bool, SvcError> {
        self.batcher
            .record(OutboundOutcome::Sent {
                message_id,
                wamid: wamid.to_owned(),
            })
            .await
    }

    pub async fn failed(
        &self,
        message_id: Uuid,
        error: &Value,
        opted_out: bool,
    ) -> Result<bool, SvcError> {
        self.batcher
            .record(OutboundOutcome::Failed {
                message_id,
                error: error.clone(),
                opted_out,
            })
            .await
    }

    pub async fn retry(
        &self,
        message_id: Uuid,
        delay_seconds: f64,
        error: &Value,
    ) -> Result<bool, SvcError> {
        self.batcher
            .record(OutboundOutcome::Retry {
                message_id,
                delay_seconds,
                error: error.clone(),
            })
            .await
    }
}
