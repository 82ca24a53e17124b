//! The outbound queue's functions (migration `..._outbound.sql`, claims as redefined in
//! `..._business_messages.sql`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// One claimed reply (`svc.claim_outbound_messages`). Optional columns must still be
/// present (as null): a renamed column is an error, not a silent `None`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClaimedJob {
    pub message_id: Uuid,
    pub conversation_id: Uuid,
    /// wa_id, else phone.
    #[serde(deserialize_with = "Option::deserialize")]
    pub to: Option<String>,
    /// The business-scoped user id, for contacts without a phone number.
    #[serde(deserialize_with = "Option::deserialize")]
    pub recipient_user_id: Option<String>,
    pub message_type: String,
    #[serde(deserialize_with = "Option::deserialize")]
    pub content: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub media_url: Option<String>,
    #[serde(deserialize_with = "Option::deserialize")]
    pub metadata: Option<Value>,
    /// The wamid of the message this one replies to.
    #[serde(deserialize_with = "Option::deserialize")]
    pub reply_to_wamid: Option<String>,
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

/// `svc.outbound_status`: queue depth and pause state.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct OutboundStatus {
    /// Replies waiting to be claimed.
    pub queued: i64,
    /// Replies whose send outcome is unknown, held until the evidence tells (see
    /// `svc.held_outcomes`).
    pub held: i64,
    /// Replies claimed and not yet recorded.
    pub in_flight: i64,
    /// Why and since when sending is paused, if it is.
    #[serde(deserialize_with = "Option::deserialize")]
    pub paused: Option<SendingPause>,
}

/// Held sends of one queue (`svc.held_outcomes`): how many now, and totals since the
/// project began of what became of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct HeldCounts {
    /// Held now (pending, checking whether WhatsApp received them).
    pub held_now: i64,
    /// Sends ever held (their outcome was unknown).
    pub held: i64,
    /// Held sends a status webhook (or the late answer) showed were sent.
    pub resolved_sent: i64,
    /// Held sends shown never to have arrived (a later send's status came), sent again.
    pub requeued: i64,
    /// Held sends that got no evidence within the hold: failed `unknown_outcome`.
    pub failed_unknown: i64,
}

/// `svc.held_outcomes`: replies and broadcast recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct HeldOutcomes {
    pub replies: HeldCounts,
    pub broadcasts: HeldCounts,
}

#[derive(Serialize)]
pub(crate) struct HeldOutcomesRequest {}

impl Rpc for HeldOutcomesRequest {
    const FUNCTION: &'static str = "held_outcomes";
    const ARGS: &'static [(&'static str, &'static str)] = &[];
    const RETURNS: &'static str = "jsonb";
    type Answer = HeldOutcomes;

    fn example() -> Self {
        Self {}
    }
}

/// A paused number (`svc.pause_sending`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct SendingPause {
    /// The Graph API error that paused it (`error_data`).
    pub reason: Value,
    /// When, as the database wrote it.
    pub since: String,
}

#[derive(Serialize)]
pub(crate) struct ClaimOutboundMessages<'a> {
    p_owner: &'a str,
    p_phone_number_id: &'a str,
    p_max_mps: f64,
    p_limit: usize,
    p_lease_seconds: u32,
}

impl Rpc for ClaimOutboundMessages<'_> {
    const FUNCTION: &'static str = "claim_scheduled_outbound_messages";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_owner", "text"),
        ("p_phone_number_id", "text"),
        ("p_max_mps", "double precision"),
        ("p_limit", "integer"),
        ("p_lease_seconds", "integer"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<ClaimedJob>;

    fn example() -> Self {
        Self {
            p_owner: crate::contract::EXAMPLE_OWNER,
            p_phone_number_id: crate::contract::EXAMPLE_PHONE_NUMBER_ID,
            p_max_mps: 80.0,
            p_limit: 10,
            p_lease_seconds: 30,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct PauseSending<'a> {
    p_phone_number_id: &'a str,
    p_reason: Cow<'a, Value>,
    p_probe_seconds: u32,
}

impl Rpc for PauseSending<'_> {
    const FUNCTION: &'static str = "pause_sending";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_phone_number_id", "text"),
        ("p_reason", "jsonb"),
        ("p_probe_seconds", "integer"),
    ];
    const DOCUMENTS: &'static [&'static str] = &["p_reason"];
    const RETURNS: &'static str = "void";
    type Answer = ();

    fn example() -> Self {
        Self {
            p_phone_number_id: crate::contract::EXAMPLE_PHONE_NUMBER_ID,
            p_reason: Cow::Owned(json!({ "code": 190, "source": "graph_api" })),
            p_probe_seconds: 30,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ResumeSending<'a> {
    p_phone_number_id: &'a str,
}

impl Rpc for ResumeSending<'_> {
    const FUNCTION: &'static str = "resume_sending";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_phone_number_id", "text")];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_phone_number_id: crate::contract::EXAMPLE_PHONE_NUMBER_ID,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct OutboundStatusRequest<'a> {
    p_phone_number_id: &'a str,
}

impl Rpc for OutboundStatusRequest<'_> {
    const FUNCTION: &'static str = "outbound_status";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_phone_number_id", "text")];
    const RETURNS: &'static str = "jsonb";
    type Answer = OutboundStatus;

    fn example() -> Self {
        Self {
            p_phone_number_id: crate::contract::EXAMPLE_PHONE_NUMBER_ID,
        }
    }
}

impl SvcClient {
    /// `svc.claim_scheduled_outbound_messages` (`svc.claim_outbound_messages`, each item with its send slot): due replies, in order per contact, within the
    /// shared rate limit, leased to `owner`.
    pub async fn claim_outbound_messages(
        &self,
        owner: &str,
        phone_number_id: &str,
        max_mps: f64,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<ClaimedJob>, SvcError> {
        self.call(&ClaimOutboundMessages {
            p_owner: owner,
            p_phone_number_id: phone_number_id,
            p_max_mps: max_mps,
            p_limit: limit,
            p_lease_seconds: lease_seconds,
        })
        .await
    }

    /// `svc.pause_sending`.
    pub async fn pause_sending(
        &self,
        phone_number_id: &str,
        reason: &Value,
        probe_seconds: u32,
    ) -> Result<(), SvcError> {
        self.call(&PauseSending {
            p_phone_number_id: phone_number_id,
            p_reason: Cow::Borrowed(reason),
            p_probe_seconds: probe_seconds,
        })
        .await
    }

    /// `svc.resume_sending`: true when sending was paused.
    pub async fn resume_sending(&self, phone_number_id: &str) -> Result<bool, SvcError> {
        self.call(&ResumeSending {
            p_phone_number_id: phone_number_id,
        })
        .await
    }

    /// `svc.held_outcomes`: held sends now and what became of them (metrics).
    pub async fn held_outcomes(&self) -> Result<HeldOutcomes, SvcError> {
        self.call(&HeldOutcomesRequest {}).await
    }

    /// `svc.outbound_status`: queue depth and pause state.
    pub async fn outbound_status(&self, phone_number_id: &str) -> Result<OutboundStatus, SvcError> {
        self.call(&OutboundStatusRequest {
            p_phone_number_id: phone_number_id,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed_job() -> Value {
        json!({
            "message_id": "00000000-0000-0000-0000-000000000001",
            "conversation_id": "00000000-0000-0000-0000-000000000003",
            "to": "34600111222",
            "recipient_user_id": null,
            "message_type": "text",
            "content": "hola",
            "media_url": null,
            "metadata": null,
            "reply_to_wamid": null,
            "attempts": 1,
            "first_attempt_at": "2026-11-25T10:00:00.123456+00:00",
            "probe": false,
            "send_at": "2026-11-25T10:00:00.143456+00:00",
            "send_in_us": 20000,
        })
    }

    #[test]
    fn a_claimed_job_decodes_as_the_function_answers() {
        let job: ClaimedJob = serde_json::from_value(claimed_job()).unwrap();
        assert_eq!(job.to.as_deref(), Some("34600111222"));
        assert!(!job.probe);
        assert_eq!(
            job.send_at.map(|t| t - job.first_attempt_at),
            Some(time::Duration::milliseconds(20))
        );
    }

    #[test]
    fn a_claimed_job_missing_a_column_is_refused_even_an_optional_one() {
        for column in [
            "recipient_user_id",
            "reply_to_wamid",
            "probe",
            "attempts",
            "send_at",
            "send_in_us",
        ] {
            let mut job = claimed_job();
            job.as_object_mut().unwrap().remove(column);
            assert!(
                serde_json::from_value::<ClaimedJob>(job).is_err(),
                "{column} missing was accepted"
            );
        }
    }

    #[test]
    fn an_outbound_status_says_whether_sending_is_paused() {
        let active: OutboundStatus = serde_json::from_value(
            json!({ "queued": 2, "in_flight": 1, "held": 0, "paused": null }),
        )
        .unwrap();
        assert_eq!(active.paused, None);
        let paused: OutboundStatus =
            serde_json::from_value(json!({ "queued": 0, "in_flight": 0, "held": 0,
            "paused": { "reason": { "code": 190 }, "since": "2026-11-25T10:00:00+00:00" } }))
            .unwrap();
        assert_eq!(paused.paused.unwrap().reason["code"], 190);
        assert!(serde_json::from_value::<OutboundStatus>(json!({ "queued": 2 })).is_err());
    }
}
