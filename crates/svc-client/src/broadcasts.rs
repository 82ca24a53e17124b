//! The broadcasts' functions (migration `..._broadcasts.sql`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contract::{EXAMPLE_OWNER, EXAMPLE_PHONE_NUMBER_ID};
use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// One claimed recipient (`svc.claim_broadcast_recipients`). Optional columns must still
/// be present (as null): a renamed column is an error, not a silent `None`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClaimedRecipient {
    pub broadcast_id: Uuid,
    pub contact_id: Uuid,
    /// wa_id, else phone, else the business-scoped user id.
    #[serde(deserialize_with = "Option::deserialize")]
    pub to: Option<String>,
    /// The approved template's WhatsApp name and language.
    #[serde(deserialize_with = "Option::deserialize")]
    pub template: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub language: Option<String>,
    /// Body parameters, filled from the contact, in order.
    pub parameters: Vec<Value>,
    /// This attempt's number, from 1.
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub first_attempt_at: OffsetDateTime,
    /// Sending is paused: this send is the probe that tells whether it may resume.
    pub probe: bool,
    /// The send slot the claim reserved for it in the number's shared schedule: send
    /// then, not before.
    #[serde(with = "time::serde::rfc3339::option")]
    pub send_at: Option<OffsetDateTime>,
    /// Microseconds from the claim's answer (the database's clock) until `send_at`;
    /// negative when the slot had passed. Senders time the send with it, not with
    /// their own clock.
    #[serde(deserialize_with = "Option::deserialize")]
    pub send_in_us: Option<i64>,
}

/// A broadcast `svc.start_due_broadcasts` moved to 'sending'.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct StartedBroadcast {
    pub id: Uuid,
    /// Recipients queued for sending.
    pub queued: i64,
    /// Recipients recorded as skipped (blocked, opted out, no WhatsApp address).
    pub skipped: i64,
}

/// What `svc.complete_finished_broadcasts` answers: a count today; the ids if the
/// function is changed to return them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct BroadcastProgress {
    pub id: Uuid,
    #[serde(deserialize_with = "Option::deserialize")]
    pub name: Option<String>,
    /// Why it waits (messaging limit, paused sending), if it does.
    #[serde(deserialize_with = "Option::deserialize")]
    pub status_detail: Option<String>,
    /// Recipients by status (pending, sent, delivered, failed); absent ones are 0 (null
    /// when it has none yet).
    #[serde(deserialize_with = "null_as_empty")]
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

#[derive(Serialize)]
pub(crate) struct StartDueBroadcasts {}

impl Rpc for StartDueBroadcasts {
    const FUNCTION: &'static str = "start_due_broadcasts";
    const ARGS: &'static [(&'static str, &'static str)] = &[];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<StartedBroadcast>;

    fn example() -> Self {
        Self {}
    }
}

#[derive(Serialize)]
pub(crate) struct CompleteFinishedBroadcasts {}

impl Rpc for CompleteFinishedBroadcasts {
    const FUNCTION: &'static str = "complete_finished_broadcasts";
    const ARGS: &'static [(&'static str, &'static str)] = &[];
    const RETURNS: &'static str = "integer";
    type Answer = CompletedBroadcasts;

    fn example() -> Self {
        Self {}
    }
}

#[derive(Serialize)]
pub(crate) struct ClaimBroadcastRecipients<'a> {
    p_owner: &'a str,
    p_phone_number_id: &'a str,
    p_max_mps: f64,
    p_limit: usize,
    p_lease_seconds: u32,
    p_messaging_limit: Option<u32>,
}

impl Rpc for ClaimBroadcastRecipients<'_> {
    const FUNCTION: &'static str = "claim_scheduled_broadcast_recipients";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_owner", "text"),
        ("p_phone_number_id", "text"),
        ("p_max_mps", "double precision"),
        ("p_limit", "integer"),
        ("p_lease_seconds", "integer"),
        ("p_messaging_limit", "integer"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<ClaimedRecipient>;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
            p_phone_number_id: EXAMPLE_PHONE_NUMBER_ID,
            p_max_mps: 80.0,
            p_limit: 10,
            p_lease_seconds: 30,
            p_messaging_limit: Some(1000),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ReleaseBroadcastClaims<'a> {
    p_owner: &'a str,
}

impl Rpc for ReleaseBroadcastClaims<'_> {
    const FUNCTION: &'static str = "release_broadcast_claims";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_owner", "text")];
    const RETURNS: &'static str = "integer";
    type Answer = i64;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct BroadcastProgressRequest {}

impl Rpc for BroadcastProgressRequest {
    const FUNCTION: &'static str = "broadcast_progress";
    const ARGS: &'static [(&'static str, &'static str)] = &[];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<BroadcastProgress>;

    fn example() -> Self {
        Self {}
    }
}

impl SvcClient {
    /// `svc.start_due_broadcasts`: due scheduled broadcasts moved to 'sending' (each
    /// exactly once), their audiences materialized and queued.
    pub async fn start_due_broadcasts(&self) -> Result<Vec<StartedBroadcast>, SvcError> {
        self.call(&StartDueBroadcasts {}).await
    }

    /// `svc.complete_finished_broadcasts`: sending broadcasts with nothing left to send
    /// become 'completed'.
    pub async fn complete_finished_broadcasts(&self) -> Result<CompletedBroadcasts, SvcError> {
        self.call(&CompleteFinishedBroadcasts {}).await
    }

    /// `svc.claim_scheduled_broadcast_recipients` (`svc.claim_broadcast_recipients`, each item with its send slot): recipients of sending broadcasts, leased to
    /// `owner`, within the shared rate limit and the messaging limit (`None`: unlimited),
    /// after waiting replies.
    #[allow(clippy::too_many_arguments)]
    pub async fn claim_broadcast_recipients(
        &self,
        owner: &str,
        phone_number_id: &str,
        max_mps: f64,
        limit: usize,
        lease_seconds: u32,
        messaging_limit: Option<u32>,
    ) -> Result<Vec<ClaimedRecipient>, SvcError> {
        self.call(&ClaimBroadcastRecipients {
            p_owner: owner,
            p_phone_number_id: phone_number_id,
            p_max_mps: max_mps,
            p_limit: limit,
            p_lease_seconds: lease_seconds,
            p_messaging_limit: messaging_limit,
        })
        .await
    }

    /// `svc.release_broadcast_claims`: `owner`'s unsent claims back to the queue
    /// (graceful shutdown); how many.
    pub async fn release_broadcast_claims(&self, owner: &str) -> Result<i64, SvcError> {
        self.call(&ReleaseBroadcastClaims { p_owner: owner }).await
    }

    /// `svc.broadcast_progress`: recipients by status and queue depth of each sending
    /// broadcast.
    pub async fn broadcast_progress(&self) -> Result<Vec<BroadcastProgress>, SvcError> {
        self.call(&BroadcastProgressRequest {}).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
