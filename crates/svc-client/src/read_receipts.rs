//! WhatsApp read receipts queued by `public.mark_conversation_read` (migration
//! `..._inbox_unread.sql`).

use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{SvcClient, SvcError};

#[derive(Debug, Clone, Deserialize)]
pub struct ReadReceipt {
    pub conversation_id: Uuid,
    pub wa_message_id: String,
    pub attempts: u32,
}

impl SvcClient {
    /// `svc.claim_read_receipts`: read receipts to send, leased to `owner`.
    pub async fn claim_read_receipts(
        &self,
        owner: &str,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<ReadReceipt>, SvcError> {
        self.call(
            "claim_read_receipts",
            &json!({ "p_owner": owner, "p_limit": limit, "p_lease_seconds": lease_seconds }),
        )
        .await
    }

    pub async fn record_read_receipt_sent(
        &self,
        r: &ReadReceipt,
        owner: &str,
    ) -> Result<bool, SvcError> {
        self.call(
            "record_read_receipt_sent",
            &json!({ "p_conversation_id": r.conversation_id, "p_owner": owner, "p_wa_message_id": r.wa_message_id }),
        )
        .await
    }

    pub async fn record_read_receipt_retry(
        &self,
        r: &ReadReceipt,
        owner: &str,
        delay_seconds: f64,
        error: &Value,
    ) -> Result<bool, SvcError> {
        self.call(
            "record_read_receipt_retry",
            &json!({ "p_conversation_id": r.conversation_id, "p_owner": owner, "p_wa_message_id": r.wa_message_id,
                     "p_delay_seconds": delay_seconds, "p_error": error }),
        )
        .await
    }

    pub async fn record_read_receipt_failed(
        &self,
        r: &ReadReceipt,
        owner: &str,
        error: &Value,
    ) -> Result<bool, SvcError> {
        self.call(
            "record_read_receipt_failed",
            &json!({ "p_conversation_id": r.conversation_id, "p_owner": owner, "p_wa_message_id": r.wa_message_id, "p_error": error }),
        )
        .await
    }
}
