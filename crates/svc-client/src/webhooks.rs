//! Webhook ingestion (migration `..._webhook_ingestion.sql`): the webhooks the gateway
//! stores (`svc.ingest_webhooks`), what became of each, the journal's backlog and replays.

use std::borrow::Cow;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// One verified webhook to store: its raw payload and the events parsed from it, or why
/// it could not be parsed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncomingWebhook {
    pub payload: RawPayload,
    pub events: Option<Events>,
    pub parse_error: Option<String>,
}

/// A webhook's body as Meta sent it: JSON text, passed on to the journal as it came
/// (neither built into a tree nor written out again: at 3,000 webhooks a second that was
/// a second parse and a serialization of every body).
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct RawPayload(Box<RawValue>);

impl RawPayload {
    /// `body`, if it is one JSON value (surrounding whitespace aside).
    pub fn from_json(body: &[u8]) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_slice(body)?;
        Ok(Self(raw.to_owned()))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The text as serde_json reads and writes it again, if that differs: numbers past
    /// what PostgreSQL's `jsonb` holds (e.g. `1e-16384`) become what serde_json made of
    /// them, as before the text was passed on as it came.
    pub fn rewritten(&self) -> Option<Self> {
        let value: Value = serde_json::from_str(self.get()).ok()?;
        let rewritten = Self::from(&value);
        (rewritten != *self).then_some(rewritten)
    }
}

impl From<&Value> for RawPayload {
    fn from(value: &Value) -> Self {
        Self(serde_json::value::to_raw_value(value).expect("a JSON value is written as JSON"))
    }
}

/// Same text.
impl PartialEq for RawPayload {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

/// The parsed events of one webhook, as `svc.apply_webhook_events` reads them.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Events {
    pub messages: Vec<MessageEvent>,
    pub statuses: Vec<StatusEvent>,
    /// Template webhooks, for `svc.apply_template_events` (left out when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<crate::TemplateEvent>,
    /// Messaging limits announced (`svc.apply_messaging_limit_events`): `{limit}` with
    /// the number of users, -1 for unlimited (left out when there are none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub messaging_limits: Vec<Value>,
}

/// An inbound message.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageEvent {
    pub wamid: String,
    pub from: Option<String>,
    pub user_id: Option<String>,
    pub profile_name: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub message_type: &'static str,
    pub content: String,
    pub metadata: Value,
    pub context_wamid: Option<String>,
}

/// A delivery status of a message we sent.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StatusEvent {
    pub wamid: String,
    pub status: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    pub recipient_id: Option<String>,
    pub errors: Option<Value>,
    pub callback_data: Option<String>,
    /// `{billable, pricing_model, category, type}` (lower case) when the status carries
    /// per-message pricing, for `svc.record_pricing` (left out otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Value>,
}

/// What became of one stored webhook (`svc.journal_and_apply`'s answer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StoredWebhook {
    /// Journaled and its events applied.
    Applied {
        journal_id: i64,
        #[serde(flatten)]
        counts: EventCounts,
    },
    /// Journaled; it carried no events to apply (e.g. another field's change).
    Ignored {
        journal_id: i64,
        #[serde(flatten)]
        counts: EventCounts,
    },
    /// Journaled as failed (it could not be parsed or applied); replayable after a fix.
    Failed { journal_id: i64, error: String },
    /// Journaled (durable) with statuses only, applied after the acknowledgement by
    /// `svc.apply_queued_statuses`.
    Queued { journal_id: i64 },
}

impl StoredWebhook {
    pub fn journal_id(&self) -> i64 {
        match self {
            Self::Applied { journal_id, .. }
            | Self::Ignored { journal_id, .. }
            | Self::Failed { journal_id, .. }
            | Self::Queued { journal_id } => *journal_id,
        }
    }

    /// What became of it: applied, ignored, failed or queued.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Applied { .. } => "applied",
            Self::Ignored { .. } => "ignored",
            Self::Failed { .. } => "failed",
            Self::Queued { .. } => "queued",
        }
    }

    /// What was applied (none for a failed or queued webhook).
    pub fn counts(&self) -> Option<&EventCounts> {
        match self {
            Self::Applied { counts, .. } | Self::Ignored { counts, .. } => Some(counts),
            Self::Failed { .. } | Self::Queued { .. } => None,
        }
    }
}

/// `svc.apply_webhook_events`' counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct EventCounts {
    pub messages_inserted: i64,
    pub duplicates: i64,
    pub statuses_applied: i64,
    pub statuses_stale: i64,
    /// Statuses that arrived before their message was recorded (applied later).
    pub statuses_early: i64,
}

/// `svc.apply_queued_statuses`' counts: pending webhooks applied by one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct QueuedStatusesReport {
    /// Pending webhooks taken (applied, or journaled as failed).
    pub webhooks: i64,
    /// Of those, journaled as failed (their statuses could not be applied).
    pub failed: i64,
    pub statuses_applied: i64,
    pub statuses_stale: i64,
    /// Statuses that arrived before their message was recorded (applied later).
    pub statuses_early: i64,
    /// Early statuses applied by this call because their send was recorded meanwhile
    /// (`svc.apply_recorded_early_statuses`).
    pub early_recorded: i64,
}

/// `svc.webhook_backlog`: what waits for an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct WebhookBacklog {
    /// Webhooks journaled as failed.
    pub failed: i64,
    /// Statuses still waiting for their message.
    pub early_statuses: i64,
}

/// `svc.replay_failed_webhooks`' counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct ReplayReport {
    pub applied: i64,
    pub still_failed: i64,
    /// Failed webhooks that were never parsed: they need a gateway fix, not a replay.
    pub unparsed: i64,
}

#[derive(Serialize)]
pub(crate) struct IngestWebhooks<'a> {
    p_webhooks: Cow<'a, [IncomingWebhook]>,
}

impl Rpc for IngestWebhooks<'_> {
    const FUNCTION: &'static str = "ingest_webhooks";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_webhooks", "jsonb")];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<StoredWebhook>;

    fn example() -> Self {
        let at = OffsetDateTime::from_unix_timestamp(1_764_064_800)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let events = Events {
            messages: vec![MessageEvent {
                wamid: "wamid.contract.in".into(),
                from: Some("34600000099".into()),
                user_id: None,
                profile_name: Some("Contract".into()),
                timestamp: at,
                message_type: "text",
                content: "hola".into(),
                metadata: json!({}),
                context_wamid: None,
            }],
            statuses: vec![StatusEvent {
                wamid: "wamid.contract.unknown".into(),
                status: "delivered",
                timestamp: at,
                recipient_id: Some("34600000099".into()),
                errors: None,
                callback_data: None,
                pricing: None,
            }],
            templates: Vec::new(),
            messaging_limits: Vec::new(),
        };
        let webhooks = vec![
            IncomingWebhook {
                payload: RawPayload::from(&json!({})),
                events: Some(events),
                parse_error: None,
            },
            IncomingWebhook {
                payload: RawPayload::from(&json!({})),
                events: Some(Events::default()),
                parse_error: None,
            },
            IncomingWebhook {
                payload: RawPayload::from(&json!({})),
                events: Some(Events {
                    messages: Vec::new(),
                    statuses: vec![StatusEvent {
                        wamid: "wamid.contract.queued".into(),
                        status: "read",
                        timestamp: at,
                        recipient_id: Some("34600000099".into()),
                        errors: None,
                        callback_data: None,
                        pricing: None,
                    }],
                    templates: Vec::new(),
                    messaging_limits: Vec::new(),
                }),
                parse_error: None,
            },
            IncomingWebhook {
                payload: RawPayload::from(&json!({})),
                events: None,
                parse_error: Some("not a webhook".into()),
            },
        ];
        Self {
            p_webhooks: Cow::Owned(webhooks),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ApplyQueuedStatuses {
    p_limit: u32,
}

impl Rpc for ApplyQueuedStatuses {
    const FUNCTION: &'static str = "apply_queued_statuses";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_limit", "integer")];
    const RETURNS: &'static str = "jsonb";
    type Answer = QueuedStatusesReport;

    fn example() -> Self {
        Self { p_limit: 10 }
    }
}

#[derive(Serialize)]
pub(crate) struct WebhookBacklogRequest {}

impl Rpc for WebhookBacklogRequest {
    const FUNCTION: &'static str = "webhook_backlog";
    const ARGS: &'static [(&'static str, &'static str)] = &[];
    const RETURNS: &'static str = "jsonb";
    type Answer = WebhookBacklog;

    fn example() -> Self {
        Self {}
    }
}

#[derive(Serialize)]
pub(crate) struct ReplayFailedWebhooks {
    p_limit: u32,
}

impl Rpc for ReplayFailedWebhooks {
    const FUNCTION: &'static str = "replay_failed_webhooks";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_limit", "integer")];
    const RETURNS: &'static str = "jsonb";
    type Answer = ReplayReport;

    fn example() -> Self {
        Self { p_limit: 10 }
    }
}

#[derive(Serialize)]
pub(crate) struct PruneWebhookJournal {
    /// PostgreSQL reads an interval from text such as `2592000 seconds`.
    p_max_age: String,
    p_failed_max_age: String,
}

impl PruneWebhookJournal {
    fn new(max_age: Duration, failed_max_age: Duration) -> Self {
        Self {
            p_max_age: format!("{} seconds", max_age.as_secs()),
            p_failed_max_age: format!("{} seconds", failed_max_age.as_secs()),
        }
    }
}

impl Rpc for PruneWebhookJournal {
    const FUNCTION: &'static str = "prune_webhook_journal";
    const ARGS: &'static [(&'static str, &'static str)] =
        &[("p_max_age", "interval"), ("p_failed_max_age", "interval")];
    const RETURNS: &'static str = "integer";
    type Answer = i64;

    fn example() -> Self {
        Self::new(
            Duration::from_secs(30 * 86_400),
            Duration::from_secs(90 * 86_400),
        )
    }
}

/// `svc.erase_from_journal`'s answer: what one call did, and how many erasures wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct JournalErasureReport {
    /// Journaled webhooks gone through.
    pub scanned: i64,
    /// Webhooks deleted (only about an erased customer).
    pub removed: i64,
    /// Webhooks stripped of an erased customer's events and raw payload (shared with others).
    pub stripped: i64,
    /// Erasures this call finished.
    pub completed: i64,
    /// Erasures still pending after this call: call again while above zero.
    pub pending: i64,
}

#[derive(Serialize)]
pub(crate) struct EraseFromJournal {
    p_limit: u32,
}

impl Rpc for EraseFromJournal {
    const FUNCTION: &'static str = "erase_from_journal";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_limit", "integer")];
    const RETURNS: &'static str = "jsonb";
    type Answer = JournalErasureReport;

    fn example() -> Self {
        Self { p_limit: 1000 }
    }
}

/// `svc.export_from_journal`'s answer: what one call did, and how many exports wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct JournalExportReport {
    /// Journaled webhooks gone through.
    pub scanned: i64,
    /// Exports this call finished (the admin can fetch them).
    pub completed: i64,
    /// Exports still pending after this call: call again while above zero.
    pub pending: i64,
}

#[derive(Serialize)]
pub(crate) struct ExportFromJournal {
    p_limit: u32,
}

impl Rpc for ExportFromJournal {
    const FUNCTION: &'static str = "export_from_journal";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_limit", "integer")];
    const RETURNS: &'static str = "jsonb";
    type Answer = JournalExportReport;

    fn example() -> Self {
        Self { p_limit: 1000 }
    }
}

impl SvcClient {
    /// `svc.export_from_journal`: goes on with the exports `export_contact` left pending in
    /// the webhook journal (a customer's own events), through at most `limit` webhooks.
    pub async fn export_from_journal(&self, limit: u32) -> Result<JournalExportReport, SvcError> {
        self.call(&ExportFromJournal { p_limit: limit }).await
    }

    /// `svc.erase_from_journal`: goes on with the erasures `erase_contact` left pending in
    /// the webhook journal, through at most `limit` webhooks (bounded, resumable).
    pub async fn erase_from_journal(&self, limit: u32) -> Result<JournalErasureReport, SvcError> {
        self.call(&EraseFromJournal { p_limit: limit }).await
    }

    /// `svc.prune_webhook_journal`: removes raw webhooks older than `max_age` (failed ones
    /// awaiting replay: older than `failed_max_age`) and statuses whose message stayed
    /// unknown for 7 days; how many rows it removed.
    pub async fn prune_webhook_journal(
        &self,
        max_age: Duration,
        failed_max_age: Duration,
    ) -> Result<i64, SvcError> {
        self.call(&PruneWebhookJournal::new(max_age, failed_max_age))
            .await
    }

    /// `svc.ingest_webhooks`: journals the webhooks in one transaction, applying those
    /// with customers' messages (status-only ones are queued); what became of each, in
    /// the order given.
    pub async fn ingest_webhooks(
        &self,
        webhooks: &[IncomingWebhook],
    ) -> Result<Vec<StoredWebhook>, SvcError> {
        let request = IngestWebhooks {
            p_webhooks: Cow::Borrowed(webhooks),
        };
        let stored = self.call(&request).await?;
        if stored.len() != webhooks.len() {
            return Err(SvcError::Decode {
                function: IngestWebhooks::FUNCTION.into(),
                reason: format!("{} results for {} webhooks", stored.len(), webhooks.len()),
            });
        }
        Ok(stored)
    }

    /// `svc.apply_queued_statuses`: applies up to `limit` webhooks journaled as pending
    /// (status-only webhooks acknowledged before being applied), oldest first.
    pub async fn apply_queued_statuses(
        &self,
        limit: u32,
    ) -> Result<QueuedStatusesReport, SvcError> {
        self.call(&ApplyQueuedStatuses { p_limit: limit }).await
    }

    /// `svc.webhook_backlog`: failed webhooks and statuses waiting for their message.
    pub async fn webhook_backlog(&self) -> Result<WebhookBacklog, SvcError> {
        self.call(&WebhookBacklogRequest {}).await
    }

    /// `svc.replay_failed_webhooks`: re-applies up to `limit` failed webhooks.
    pub async fn replay_failed_webhooks(&self, limit: u32) -> Result<ReplayReport, SvcError> {
        self.call(&ReplayFailedWebhooks { p_limit: limit }).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_webhook_decodes_by_its_outcome() {
        let applied: StoredWebhook = serde_json::from_value(json!({
            "journal_id": 7, "outcome": "applied", "messages_inserted": 1, "duplicates": 0,
            "statuses_applied": 2, "statuses_stale": 0, "statuses_early": 1
        }))
        .unwrap();
        assert_eq!(applied.outcome(), "applied");
        assert_eq!(applied.counts().map(|c| c.statuses_early), Some(1));
        let failed: StoredWebhook = serde_json::from_value(
            json!({ "journal_id": 8, "outcome": "failed", "error": "22023: bad" }),
        )
        .unwrap();
        assert_eq!(
            failed,
            StoredWebhook::Failed {
                journal_id: 8,
                error: "22023: bad".into()
            }
        );
    }

    #[test]
    fn a_stored_webhook_without_its_outcome_or_counts_is_refused() {
        assert!(serde_json::from_value::<StoredWebhook>(json!({ "journal_id": 7 })).is_err());
        assert!(serde_json::from_value::<StoredWebhook>(
            json!({ "journal_id": 7, "outcome": "applied", "messages_inserted": 1 })
        )
        .is_err());
        assert!(serde_json::from_value::<StoredWebhook>(
            json!({ "journal_id": 7, "outcome": "stored" })
        )
        .is_err());
    }
}
