//! The broadcasts' functions (migration `..._broadcasts.sql`).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{SvcClient, SvcError};

/// A broadcast `svc.start_due_broadcasts` moved to 'sending'.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct StartedBroadcast {
    pub id: Uuid,
    /// Recipients queued for sending.
    pub queued: i64,
    /// Recipients recorded as skipped (blocked, opted out, no WhatsApp address).
    pub skipped: i64,
}

/// What `svc.complete_finished_broadcasts` answers: a count today; the ids if the
/// function is changed to return them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum CompletedBroadcasts {
    Count(i64),
    Ids(Vec<Uuid>),
}

impl CompletedBroadcasts {
    pub fn count(&self) -> usize {
        match self {
            Self::Count(n) => usize::try_from(*n).unwrap_or(0),
            Self::Ids(ids) => ids.len(),
        }
    }
}

/// One sending broadcast in `svc.broadcast_progress`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BroadcastProgress {
    pub id: Uuid,
    pub name: Option<String>,
    /// Why it waits (messaging limit, paused sending), if it does.
    pub status_detail: Option<String>,
    /// Recipients by status (pending, sent, delivered, failed); absent ones are 0.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub counts: BTreeMap<String, i64>,
    /// Recipients still in the send queue.
    pub queued: i64,
}

impl BroadcastProgress {
    pub fn count(&self, status: &str) -> i64 {
        self.counts.get(status).copied().unwrap_or(0)
    }
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, i64>, D::Error> {
    Ok(Option::<BTreeMap<String, i64>>::deserialize(d)?.unwrap_or_default())
}

impl SvcClient {
    /// `svc.start_due_broadcasts`: due scheduled broadcasts moved to 'sending' (each
    /// exactly once), their audiences materialized and queued.
    pub async fn start_due_broadcasts(&self) -> Result<Vec<StartedBroadcast>, SvcError> {
        self.call("start_due_broadcasts", &json!({})).await
    }

    /// `svc.complete_finished_broadcasts`: sending broadcasts with nothing left to send
    /// become 'completed'.
    pub async fn complete_finished_broadcasts(&self) -> Result<CompletedBroadcasts, SvcError> {
        self.call("complete_finished_broadcasts", &json!({})).await
    }

    /// `svc.claim_broadcast_recipients`: recipients of sending broadcasts, leased to
    /// `owner`, within the shared rate limit and the messaging limit (`None`: unlimited),
    /// after waiting replies.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_broadcast_recipients<T: DeserializeOwned>(
        &self,
        owner: &str,
        phone_number_id: &str,
        max_mps: f64,
        limit: usize,
        lease_seconds: u32,
        messaging_limit: Option<u32>,
    ) -> Result<Vec<T>, SvcError> {
        self.call(
            "claim_broadcast_recipients",
            &json!({
                "p_owner": owner,
                "p_phone_number_id": phone_number_id,
                "p_max_mps": max_mps,
                "p_limit": limit,
                "p_lease_seconds": lease_seconds,
                "p_messaging_limit": messaging_limit,
            }),
        )
        .await
    }

    /// `svc.release_broadcast_claims`: `owner`'s unsent claims back to the queue
    /// (graceful shutdown); how many.
    pub async fn release_broadcast_claims(&self, owner: &str) -> Result<i64, SvcError> {
        self.call("release_broadcast_claims", &json!({ "p_owner": owner }))
            .await
    }

    /// `svc.broadcast_progress`: recipients by status and queue depth of each sending
    /// broadcast.
    pub async fn broadcast_progress(&self) -> Result<Vec<BroadcastProgress>, SvcError> {
        let progress: Value = self.call("broadcast_progress", &json!({})).await?;
        serde_json::from_value(progress).map_err(|e| SvcError::Decode {
            function: "broadcast_progress".into(),
            reason: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_and_completion_decode_as_the_functions_answer() {
        let p: Vec<BroadcastProgress> = serde_json::from_value(json!([
            {"id": "00000000-0000-0000-0000-0000000000b1", "name": "VIP", "status_detail": null,
             "counts": {"sent": 3, "failed": 1}, "queued": 2},
            {"id": "00000000-0000-0000-0000-0000000000b2", "name": "Empty", "status_detail": "waiting: x",
             "counts": null, "queued": 0}
        ]))
        .unwrap();
        assert_eq!(p[0].count("sent"), 3);
        assert_eq!(p[0].count("delivered"), 0);
        assert!(p[1].counts.is_empty());
        let n: CompletedBroadcasts = serde_json::from_value(json!(2)).unwrap();
        assert_eq!(n.count(), 2);
        let ids: CompletedBroadcasts =
            serde_json::from_value(json!(["00000000-0000-0000-0000-0000000000b1"])).unwrap();
        assert_eq!(ids.count(), 1);
    }
}
