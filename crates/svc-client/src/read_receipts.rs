//! WhatsApp read receipts queued by `public.mark_conversation_read` (migration
//! `..._inbox_unread.sql`).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::EXAMPLE_OWNER;
use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// One claimed read receipt (`svc.claim_read_receipts`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ReadReceipt {
    pub conversation_id: Uuid,
    pub wa_message_id: String,
    /// This attempt's number, from 1.
    pub attempts: u32,
}

/// Why a read receipt was not sent, kept in the receipt's `last_error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ReceiptError {
    /// WhatsApp asked us to try again later (retryable, or sending paused).
    Deferred { http_status: u16, code: Option<i64> },
    /// WhatsApp refused it for good.
    Refused {
        http_status: u16,
        code: Option<i64>,
        title: Option<String>,
    },
    /// WhatsApp could not be reached, or did not answer.
    Unreachable { reason: String },
}

#[derive(Serialize)]
pub(crate) struct ClaimReadReceipts<'a> {
    p_owner: &'a str,
    p_limit: usize,
    p_lease_seconds: u32,
}

impl Rpc for ClaimReadReceipts<'_> {
    const FUNCTION: &'static str = "claim_read_receipts";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_owner", "text"),
        ("p_limit", "integer"),
        ("p_lease_seconds", "integer"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<ReadReceipt>;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
            p_limit: 50,
            p_lease_seconds: 30,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordReadReceiptSent<'a> {
    p_conversation_id: Uuid,
    p_owner: &'a str,
    p_wa_message_id: &'a str,
}

impl Rpc for RecordReadReceiptSent<'_> {
    const FUNCTION: &'static str = "record_read_receipt_sent";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_conversation_id", "uuid"),
        ("p_owner", "text"),
        ("p_wa_message_id", "text"),
    ];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_conversation_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_wa_message_id: "wamid.contract",
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordReadReceiptRetry<'a> {
    p_conversation_id: Uuid,
    p_owner: &'a str,
    p_wa_message_id: &'a str,
    p_delay_seconds: f64,
    p_error: &'a ReceiptError,
}

impl Rpc for RecordReadReceiptRetry<'_> {
    const FUNCTION: &'static str = "record_read_receipt_retry";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_conversation_id", "uuid"),
        ("p_owner", "text"),
        ("p_wa_message_id", "text"),
        ("p_delay_seconds", "double precision"),
        ("p_error", "jsonb"),
    ];
    const DOCUMENTS: &'static [&'static str] = &["p_error"];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        const ERROR: &ReceiptError = &ReceiptError::Deferred {
            http_status: 429,
            code: Some(130429),
        };
        Self {
            p_conversation_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_wa_message_id: "wamid.contract",
            p_delay_seconds: 2.0,
            p_error: ERROR,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordReadReceiptFailed<'a> {
    p_conversation_id: Uuid,
    p_owner: &'a str,
    p_wa_message_id: &'a str,
    p_error: &'a ReceiptError,
}

impl Rpc for RecordReadReceiptFailed<'_> {
    const FUNCTION: &'static str = "record_read_receipt_failed";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_conversation_id", "uuid"),
        ("p_owner", "text"),
        ("p_wa_message_id", "text"),
        ("p_error", "jsonb"),
    ];
    const DOCUMENTS: &'static [&'static str] = &["p_error"];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        const ERROR: &ReceiptError = &ReceiptError::Refused {
            http_status: 400,
            code: Some(100),
            title: None,
        };
        Self {
            p_conversation_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_wa_message_id: "wamid.contract",
            p_error: ERROR,
        }
    }
}

impl SvcClient {
    /// `svc.claim_read_receipts`: read receipts to send, leased to `owner`.
    pub async fn claim_read_receipts(
        &self,
        owner: &str,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<ReadReceipt>, SvcError> {
        self.call(&ClaimReadReceipts {
            p_owner: owner,
            p_limit: limit,
            p_lease_seconds: lease_seconds,
        })
        .await
    }

    /// `svc.record_read_receipt_sent`; false when the receipt is no longer ours.
    pub async fn record_read_receipt_sent(
        &self,
        r: &ReadReceipt,
        owner: &str,
    ) -> Result<bool, SvcError> {
        self.call(&RecordReadReceiptSent {
            p_conversation_id: r.conversation_id,
            p_owner: owner,
            p_wa_message_id: &r.wa_message_id,
        })
        .await
    }

    /// `svc.record_read_receipt_retry`: due again after `delay_seconds`.
    pub async fn record_read_receipt_retry(
        &self,
        r: &ReadReceipt,
        owner: &str,
        delay_seconds: f64,
        error: &ReceiptError,
    ) -> Result<bool, SvcError> {
        self.call(&RecordReadReceiptRetry {
            p_conversation_id: r.conversation_id,
            p_owner: owner,
            p_wa_message_id: &r.wa_message_id,
            p_delay_seconds: delay_seconds,
            p_error: error,
        })
        .await
    }

    /// `svc.record_read_receipt_failed`: dropped, with the error.
    pub async fn record_read_receipt_failed(
        &self,
        r: &ReadReceipt,
        owner: &str,
        error: &ReceiptError,
    ) -> Result<bool, SvcError> {
        self.call(&RecordReadReceiptFailed {
            p_conversation_id: r.conversation_id,
            p_owner: owner,
            p_wa_message_id: &r.wa_message_id,
            p_error: error,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn receipt_errors_keep_the_shapes_they_were_stored_with() {
        let deferred = ReceiptError::Deferred {
            http_status: 429,
            code: Some(130429),
        };
        assert_eq!(
            serde_json::to_value(deferred).unwrap(),
            json!({ "http_status": 429, "code": 130429 })
        );
        let refused = ReceiptError::Refused {
            http_status: 400,
            code: None,
            title: Some("Invalid parameter".into()),
        };
        assert_eq!(
            serde_json::to_value(refused).unwrap(),
            json!({ "http_status": 400, "code": null, "title": "Invalid parameter" })
        );
        let unreachable = ReceiptError::Unreachable {
            reason: "connection refused".into(),
        };
        assert_eq!(
            serde_json::to_value(unreachable).unwrap(),
            json!({ "reason": "connection refused" })
        );
    }
}
