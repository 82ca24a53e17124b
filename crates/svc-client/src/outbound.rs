//! The outbound queue's functions (migration `..._outbound.sql`).

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::{SvcClient, SvcError};

impl SvcClient {
    /// `svc.claim_outbound_messages`: due replies, in order per contact, within the
    /// shared rate limit, leased to `owner`.
    pub async fn claim_outbound_messages<T: DeserializeOwned>(
        &self,
        owner: &str,
        phone_number_id: &str,
        max_mps: f64,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<T>, SvcError> {
        self.call(
            "claim_outbound_messages",
            &json!({
                "p_owner": owner,
                "p_phone_number_id": phone_number_id,
                "p_max_mps": max_mps,
                "p_limit": limit,
                "p_lease_seconds": lease_seconds,
            }),
        )
        .await
    }

    /// `svc.pause_sending`.
    pub async fn pause_sending(
        &self,
        phone_number_id: &str,
        reason: &Value,
        probe_seconds: u32,
    ) -> Result<(), SvcError> {
        self.call::<Value>(
            "pause_sending",
            &json!({ "p_phone_number_id": phone_number_id, "p_reason": reason, "p_probe_seconds": probe_seconds }),
        )
        .await
        .map(|_| ())
    }

    /// `svc.resume_sending`: true when sending was paused.
    pub async fn resume_sending(&self, phone_number_id: &str) -> Result<bool, SvcError> {
        self.call(
            "resume_sending",
            &json!({ "p_phone_number_id": phone_number_id }),
        )
        .await
    }

    /// `svc.outbound_status`: queue depth and pause state.
    pub async fn outbound_status(&self, phone_number_id: &str) -> Result<Value, SvcError> {
        self.call(
            "outbound_status",
            &json!({ "p_phone_number_id": phone_number_id }),
        )
        .await
    }
}
