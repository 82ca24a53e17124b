//! The typed functions' side of the contract with schema `svc`, as data for the contract
//! test (`tests/contract.rs`): for every typed function the SQL function it calls, the
//! arguments it sends with their SQL types, an example call, and a decoder of the answer.
//! The test compares them with `pg_proc` and with what the functions answer on a fixture.

use serde_json::Value;

use crate::broadcasts::{
    BroadcastProgressRequest, ClaimBroadcastRecipients, CompleteFinishedBroadcasts,
    ReleaseBroadcastClaims, StartDueBroadcasts,
};
use crate::client::Ping;
use crate::invitations::{
    ClaimInvitations, RecordInvitationFailed, RecordInvitationRetry, RecordInvitationSent,
};
use crate::media::{
    ClaimMediaDeletions, ClaimMediaFetches, ConfigureMediaLinks, RecordMediaDeleted,
    RecordMediaFailed, RecordMediaRetry, RecordMediaStored,
};
use crate::media_uploads::{ClaimStaleMediaUploads, RecordMediaUpload, RecordMediaUploadsDeleted};
use crate::outbound::{
    ClaimOutboundMessages, HeldOutcomesRequest, OutboundStatusRequest, PauseSending, ResumeSending,
};
use crate::outcomes::RecordOutcomes;
use crate::read_receipts::{
    ClaimReadReceipts, RecordReadReceiptFailed, RecordReadReceiptRetry, RecordReadReceiptSent,
};
use crate::rpc::Rpc;
use crate::templates::{
    ClaimTemplateSync, FinishTemplateSync, MessagingLimitRequest, UpsertTemplates,
};
use crate::webhooks::{
    ApplyQueuedStatuses, EraseFromJournal, ExportFromJournal, IngestWebhooks, PruneWebhookJournal,
    ReplayFailedWebhooks, WebhookBacklogRequest,
};
use crate::{BroadcastOutcome, OutboundOutcome};

/// The lease owner of the example calls.
pub const EXAMPLE_OWNER: &str = "contract-test";
/// The business number of the example calls.
pub const EXAMPLE_PHONE_NUMBER_ID: &str = "contract-phone";

/// `svc` functions no service calls, and who does.
pub const NOT_CALLED_BY_THE_SERVICES: &[(&str, &str)] = &[
    ("analyze_broadcast_queue", "start_due_broadcasts"),
    ("apply_delivery_status", "apply_webhook_events"),
    ("apply_messaging_limit_events", "apply_business_events"),
    ("apply_template_events", "apply_business_events"),
    ("apply_queued_webhook_events", "apply_queued_statuses"),
    (
        "apply_business_events",
        "journal_and_apply, apply_queued_webhook_events",
    ),
    ("apply_early_statuses", "the record_*_sent functions"),
    ("apply_recorded_early_statuses", "apply_queued_statuses"),
    ("apply_recipient_statuses", "apply_queued_webhook_events"),
    (
        "pricing_by_wamid",
        "record_pricing, apply_recipient_statuses",
    ),
    ("lock_status_targets", "apply_queued_statuses"),
    (
        "parse_callback_data",
        "apply_delivery_status, apply_recorded_early_statuses",
    ),
    ("resolve_reply_by_callback", "apply_delivery_status"),
    ("resolve_recipient_by_callback", "apply_delivery_status"),
    (
        "apply_webhook_events",
        "journal_and_apply, replay_failed_webhooks",
    ),
    ("broadcast_users_estimate", "claim_broadcast_recipients"),
    ("broadcast_users_in_last_24h", "broadcast_users_estimate"),
    ("check_contact_reachable", "the claim functions"),
    (
        "claim_broadcast_recipients",
        "claim_scheduled_broadcast_recipients",
    ),
    (
        "claim_outbound_messages",
        "claim_scheduled_outbound_messages",
    ),
    (
        "checking_delivery_error",
        "the claim functions, record_outbound_failed",
    ),
    (
        "checking_delivery_message",
        "the claim functions, record_broadcast_failed",
    ),
    (
        "count_held_outcomes",
        "the claim functions, the record_* functions, the resolve_*_by_callback functions",
    ),
    (
        "hold_template_sync",
        "upsert_templates, finish_template_sync",
    ),
    (
        "ingest_webhook",
        "the one-webhook form: pgTAP tests and the ingest benchmark (SQL)",
    ),
    (
        "fail_media_fetch",
        "record_media_retry, record_media_failed",
    ),
    ("is_status_only", "ingest_webhooks"),
    ("is_transient_error", "journal_and_apply"),
    ("listed_templates", "upsert_templates"),
    ("journal_and_apply", "ingest_webhook, ingest_webhooks"),
    ("missing_evidence", "the claim functions"),
    (
        "note_later_send",
        "the record_*_sent functions, the resolve_*_by_callback functions",
    ),
    ("note_witness_status", "apply_delivery_status"),
    ("open_conversation_for", "apply_webhook_events"),
    ("record_broadcast_failed", "record_broadcast_outcomes"),
    ("record_broadcast_retry", "record_broadcast_outcomes"),
    ("record_broadcast_sent", "record_broadcast_outcomes"),
    ("record_outbound_failed", "record_outbound_outcomes"),
    (
        "record_pricing",
        "apply_business_events, apply_queued_webhook_events",
    ),
    ("record_outbound_retry", "record_outbound_outcomes"),
    ("record_outbound_sent", "record_outbound_outcomes"),
    (
        "release_outbound_jobs",
        "nobody yet (the reply sender lets its leases expire)",
    ),
    ("status_rank", "apply_delivery_status"),
    ("send_slot_spacing_us", "take_send_tokens"),
    ("reserved_send_slots", "with_send_times"),
    ("take_send_tokens", "the claim functions"),
    (
        "template_sendable",
        "the claim of broadcast recipients (to be wired in), pgTAP",
    ),
    (
        "upsert_contact_for_sender",
        "ingest_webhooks, apply_webhook_events",
    ),
    ("with_send_times", "the claim_scheduled_* functions"),
];

/// What one typed function sends to and expects from its `svc` function.
pub struct Signature {
    /// The SQL function, in schema `svc`.
    pub function: &'static str,
    /// The arguments sent, with their SQL types (`format_type`'s spelling).
    pub args: &'static [(&'static str, &'static str)],
    /// jsonb arguments stored as documents: their keys are not part of the contract.
    pub documents: &'static [&'static str],
    /// The SQL result type (`format_type`'s spelling).
    pub returns: &'static str,
    /// The arguments of an example call, exactly as the typed function sends them.
    pub example: Value,
    decode: fn(Value) -> Result<Value, String>,
}

impl Signature {
    fn of<R: Rpc>() -> Self {
        Self {
            function: R::FUNCTION,
            args: R::ARGS,
            documents: R::DOCUMENTS,
            returns: R::RETURNS,
            example: serde_json::to_value(R::example()).unwrap_or(Value::Null),
            decode: |answer| {
                let typed: R::Answer = serde_json::from_value(answer).map_err(|e| e.to_string())?;
                serde_json::to_value(typed).map_err(|e| e.to_string())
            },
        }
    }

    /// Decodes an answer of the function as the typed function does and encodes it back:
    /// an error when the answer lacks what the Rust type needs; otherwise the keys the
    /// Rust type knows, to compare with the answer's.
    pub fn decode_and_encode(&self, answer: Value) -> Result<Value, String> {
        (self.decode)(answer)
    }
}

/// Every typed function's signature.
pub fn signatures() -> Vec<Signature> {
    vec![
        Signature::of::<Ping>(),
        Signature::of::<IngestWebhooks>(),
        Signature::of::<ApplyQueuedStatuses>(),
        Signature::of::<WebhookBacklogRequest>(),
        Signature::of::<ReplayFailedWebhooks>(),
        Signature::of::<PruneWebhookJournal>(),
        Signature::of::<EraseFromJournal>(),
        Signature::of::<ExportFromJournal>(),
        Signature::of::<ClaimOutboundMessages>(),
        Signature::of::<PauseSending>(),
        Signature::of::<ResumeSending>(),
        Signature::of::<OutboundStatusRequest>(),
        Signature::of::<HeldOutcomesRequest>(),
        Signature::of::<RecordOutcomes<OutboundOutcome>>(),
        Signature::of::<StartDueBroadcasts>(),
        Signature::of::<CompleteFinishedBroadcasts>(),
        Signature::of::<ClaimBroadcastRecipients>(),
        Signature::of::<ReleaseBroadcastClaims>(),
        Signature::of::<BroadcastProgressRequest>(),
        Signature::of::<RecordOutcomes<BroadcastOutcome>>(),
        Signature::of::<ClaimInvitations>(),
        Signature::of::<RecordInvitationSent>(),
        Signature::of::<RecordInvitationRetry>(),
        Signature::of::<RecordInvitationFailed>(),
        Signature::of::<ClaimReadReceipts>(),
        Signature::of::<RecordReadReceiptSent>(),
        Signature::of::<RecordReadReceiptRetry>(),
        Signature::of::<RecordReadReceiptFailed>(),
        Signature::of::<ClaimTemplateSync>(),
        Signature::of::<UpsertTemplates>(),
        Signature::of::<FinishTemplateSync>(),
        Signature::of::<MessagingLimitRequest>(),
        Signature::of::<ClaimMediaFetches>(),
        Signature::of::<RecordMediaStored>(),
        Signature::of::<RecordMediaRetry>(),
        Signature::of::<RecordMediaFailed>(),
        Signature::of::<ConfigureMediaLinks>(),
        Signature::of::<ClaimMediaDeletions>(),
        Signature::of::<RecordMediaDeleted>(),
        Signature::of::<RecordMediaUpload>(),
        Signature::of::<ClaimStaleMediaUploads>(),
        Signature::of::<RecordMediaUploadsDeleted>(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_sends_exactly_the_arguments_its_signature_declares() {
        for s in signatures() {
            let mut sent: Vec<&str> = s
                .example
                .as_object()
                .map(|o| o.keys().map(String::as_str).collect())
                .unwrap_or_default();
            let mut declared: Vec<&str> = s.args.iter().map(|(name, _)| *name).collect();
            sent.sort_unstable();
            declared.sort_unstable();
            assert_eq!(sent, declared, "svc.{}", s.function);
        }
    }
}
