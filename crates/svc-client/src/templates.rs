//! The template sync (migration `..._template_sync.sql`): a sync is claimed under a lease,
//! the WhatsApp Business Account's templates are written page by page, and the sync is
//! finished (templates not listed are then marked removed). And the template events of
//! webhooks, as `svc.apply_template_events` reads them; and the messaging limit Meta
//! announced (migration `..._messaging_limits.sql`).

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::contract::EXAMPLE_OWNER;
use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// A sync leased to this worker (`svc.claim_template_sync`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ClaimedTemplateSync {
    pub id: i64,
    /// Why it runs: `start`, `schedule` or `admin`.
    pub reason: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
}

/// One template of a page, with Meta's values as stored (lower case).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ListedTemplate {
    pub id: String,
    pub name: String,
    pub language: String,
    pub status: &'static str,
    pub category: Option<&'static str>,
    pub quality_score: Option<&'static str>,
    /// `positional` or `named`.
    pub parameter_format: &'static str,
    pub components: Vec<Value>,
}

/// What one page changed (`svc.upsert_templates`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub struct UpsertedTemplates {
    pub created: i64,
    pub changed: i64,
    pub unchanged: i64,
}

/// A finished sync's counts (`svc.finish_template_sync`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub struct TemplateSyncCounts {
    pub listed: i64,
    pub created: i64,
    pub changed: i64,
    pub removed: i64,
}

/// A template webhook, as `svc.apply_template_events` reads it (`kind` status, quality
/// or category; values lower case as stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateEvent {
    pub kind: &'static str,
    pub template_id: String,
    pub name: Option<String>,
    pub language: Option<String>,
    /// The new status (kind status).
    pub status: Option<&'static str>,
    pub reason: Option<String>,
    /// The new quality (kind quality).
    pub quality_score: Option<&'static str>,
    /// The new category (kind category; not sent for an impending change).
    pub category: Option<&'static str>,
    /// The category Meta will change it to in 24 hours (an impending change).
    pub impending_category: Option<&'static str>,
}

#[derive(Serialize)]
pub(crate) struct ClaimTemplateSync<'a> {
    p_owner: &'a str,
    p_start: bool,
    p_every_seconds: u32,
    p_lease_seconds: u32,
}

impl Rpc for ClaimTemplateSync<'_> {
    const FUNCTION: &'static str = "claim_template_sync";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_owner", "text"),
        ("p_start", "boolean"),
        ("p_every_seconds", "integer"),
        ("p_lease_seconds", "integer"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = Option<ClaimedTemplateSync>;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
            p_start: true,
            p_every_seconds: 3600,
            p_lease_seconds: 300,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct UpsertTemplates<'a> {
    p_sync_id: i64,
    p_owner: &'a str,
    p_templates: &'a [ListedTemplate],
}

impl Rpc for UpsertTemplates<'_> {
    const FUNCTION: &'static str = "upsert_templates";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_sync_id", "bigint"),
        ("p_owner", "text"),
        ("p_templates", "jsonb"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = UpsertedTemplates;

    /// The contract test's fresh database: the first sync, claimed just before.
    fn example() -> Self {
        Self {
            p_sync_id: 1,
            p_owner: EXAMPLE_OWNER,
            p_templates: &[],
        }
    }
}

#[derive(Serialize)]
pub(crate) struct FinishTemplateSync<'a> {
    p_sync_id: i64,
    p_owner: &'a str,
    p_error: Option<&'a str>,
}

impl Rpc for FinishTemplateSync<'_> {
    const FUNCTION: &'static str = "finish_template_sync";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_sync_id", "bigint"),
        ("p_owner", "text"),
        ("p_error", "text"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = TemplateSyncCounts;

    /// The contract test's fresh database: the first sync, claimed just before.
    fn example() -> Self {
        Self {
            p_sync_id: 1,
            p_owner: EXAMPLE_OWNER,
            p_error: None,
        }
    }
}

/// The messaging limit Meta announced for a number's portfolio (`svc.messaging_limit`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct LearnedMessagingLimit {
    /// Unique users per 24 hours; -1 unlimited; `None` until Meta said.
    #[serde(deserialize_with = "Option::deserialize")]
    pub messaging_limit: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub learned_at: Option<OffsetDateTime>,
    pub portfolio_id: String,
}

#[derive(Serialize)]
pub(crate) struct MessagingLimitRequest<'a> {
    p_phone_number_id: &'a str,
}

impl Rpc for MessagingLimitRequest<'_> {
    const FUNCTION: &'static str = "messaging_limit";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_phone_number_id", "text")];
    const RETURNS: &'static str = "jsonb";
    type Answer = LearnedMessagingLimit;

    fn example() -> Self {
        Self {
            p_phone_number_id: crate::contract::EXAMPLE_PHONE_NUMBER_ID,
        }
    }
}

impl SvcClient {
    /// `svc.messaging_limit`: what Meta announced for `phone_number_id`'s portfolio.
    pub async fn messaging_limit(
        &self,
        phone_number_id: &str,
    ) -> Result<LearnedMessagingLimit, SvcError> {
        self.call(&MessagingLimitRequest {
            p_phone_number_id: phone_number_id,
        })
        .await
    }

    /// `svc.claim_template_sync`: queues a sync at start (`start`) or when none was
    /// asked for in `every_seconds`, and leases the next one unless another runs.
    pub async fn claim_template_sync(
        &self,
        owner: &str,
        start: bool,
        every_seconds: u32,
        lease_seconds: u32,
    ) -> Result<Option<ClaimedTemplateSync>, SvcError> {
        self.call(&ClaimTemplateSync {
            p_owner: owner,
            p_start: start,
            p_every_seconds: every_seconds,
            p_lease_seconds: lease_seconds,
        })
        .await
    }

    /// `svc.upsert_templates`: one page of the listing, written.
    pub async fn upsert_templates(
        &self,
        sync_id: i64,
        owner: &str,
        templates: &[ListedTemplate],
    ) -> Result<UpsertedTemplates, SvcError> {
        self.call(&UpsertTemplates {
            p_sync_id: sync_id,
            p_owner: owner,
            p_templates: templates,
        })
        .await
    }

    /// `svc.finish_template_sync`: the end of a sync; after a complete listing (`error`
    /// `None`) the templates not listed are marked removed.
    pub async fn finish_template_sync(
        &self,
        sync_id: i64,
        owner: &str,
        error: Option<&str>,
    ) -> Result<TemplateSyncCounts, SvcError> {
        self.call(&FinishTemplateSync {
            p_sync_id: sync_id,
            p_owner: owner,
            p_error: error,
        })
        .await
    }
}

/// An example template event, for the contract test's fixture webhook.
pub fn example_template_event() -> Value {
    json!({"kind": "status", "template_id": "contract-template", "name": null, "language": null,
           "status": "paused", "reason": null, "quality_score": null, "category": null,
           "impending_category": null})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_decodes_as_the_function_answers_and_null_is_none() {
        let c: Option<ClaimedTemplateSync> = serde_json::from_value(
            json!({"id": 3, "reason": "admin", "started_at": "2026-12-07T19:00:00+00:00"}),
        )
        .unwrap();
        assert_eq!(c.unwrap().reason, "admin");
        let none: Option<ClaimedTemplateSync> = serde_json::from_value(Value::Null).unwrap();
        assert_eq!(none, None);
        let counts: TemplateSyncCounts =
            serde_json::from_value(json!({"removed": 2, "listed": 5, "created": 0, "changed": 1}))
                .unwrap();
        assert_eq!((counts.listed, counts.removed, counts.changed), (5, 2, 1));
        assert!(serde_json::from_value::<TemplateSyncCounts>(json!({"removed": 2})).is_err());
    }
}
