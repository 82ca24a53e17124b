//! Message templates as Meta describes them: the page answered by
//! `GET /{waba-id}/message_templates` (fields `id`, `name`, `language`, `status`,
//! `category`, `components`, `quality_score`, `parameter_format`; cursor paging), and
//! the three template webhooks (`message_template_status_update`,
//! `message_template_quality_update`, `template_category_update`).
//!
//! Facts from Meta's WhatsApp Business Management API reference (message templates) and
//! the webhooks reference of those three fields. Values Meta may add later (a new status,
//! category or quality) parse into `Unknown(raw)`, never into an error.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::webhook::IgnoredChange;

/// The fields asked for when listing templates.
pub const TEMPLATE_LIST_FIELDS: &str =
    "id,name,language,status,category,components,quality_score,parameter_format";

/// A template's status (Meta's upper-case values; stored lower-case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateStatus {
    Approved,
    Pending,
    Rejected,
    Paused,
    Disabled,
    InAppeal,
    PendingDeletion,
    Deleted,
    Archived,
    LimitExceeded,
    Locked,
    /// A status added after this was written.
    Unknown(String),
}

impl TemplateStatus {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "APPROVED" => Self::Approved,
            "PENDING" => Self::Pending,
            "REJECTED" => Self::Rejected,
            "PAUSED" => Self::Paused,
            "DISABLED" => Self::Disabled,
            "IN_APPEAL" => Self::InAppeal,
            "PENDING_DELETION" => Self::PendingDeletion,
            "DELETED" => Self::Deleted,
            "ARCHIVED" => Self::Archived,
            "LIMIT_EXCEEDED" => Self::LimitExceeded,
            "LOCKED" => Self::Locked,
            _ => Self::Unknown(raw.to_owned()),
        }
    }

    /// The value stored in `message_templates.status`; `None` for an unknown status.
    pub fn as_db_str(&self) -> Option<&'static str> {
        Some(match self {
            Self::Approved => "approved",
            Self::Pending => "pending",
            Self::Rejected => "rejected",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
            Self::InAppeal => "in_appeal",
            Self::PendingDeletion => "pending_deletion",
            Self::Deleted => "deleted",
            Self::Archived => "archived",
            Self::LimitExceeded => "limit_exceeded",
            Self::Locked => "locked",
            Self::Unknown(_) => return None,
        })
    }
}

/// A template's category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateCategory {
    Marketing,
    Utility,
    Authentication,
    /// A category added after this was written (or a legacy one).
    Unknown(String),
}

impl TemplateCategory {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "MARKETING" => Self::Marketing,
            "UTILITY" => Self::Utility,
            "AUTHENTICATION" => Self::Authentication,
            _ => Self::Unknown(raw.to_owned()),
        }
    }

    /// The value stored in `message_templates.wa_category`; `None` when unknown.
    pub fn as_db_str(&self) -> Option<&'static str> {
        match self {
            Self::Marketing => Some("marketing"),
            Self::Utility => Some("utility"),
            Self::Authentication => Some("authentication"),
            Self::Unknown(_) => None,
        }
    }
}

/// A template's quality rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QualityScore {
    Green,
    Yellow,
    Red,
    /// Meta's `UNKNOWN` (quality pending), and any value added later.
    Unknown,
}

impl QualityScore {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_uppercase().as_str() {
            "GREEN" => Self::Green,
            "YELLOW" => Self::Yellow,
            "RED" => Self::Red,
            _ => Self::Unknown,
        }
    }

    pub fn as_db_str(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Yellow => "yellow",
            Self::Red => "red",
            Self::Unknown => "unknown",
        }
    }
}

/// One template of the list.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageTemplate {
    /// Meta's template id.
    pub id: String,
    pub name: String,
    /// Language and locale code, e.g. `en_US`.
    pub language: String,
    pub status: TemplateStatus,
    pub category: TemplateCategory,
    /// `quality_score.score`, when Meta rated it.
    pub quality_score: Option<QualityScore>,
    /// `true` for `parameter_format: NAMED` (`{{first_name}}`), else positional.
    pub named_parameters: bool,
    /// HEADER, BODY, FOOTER, BUTTONS as listed (the parameter layout is derived from them).
    pub components: Vec<Value>,
}

/// One page of `GET /{waba-id}/message_templates`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplatePage {
    pub templates: Vec<MessageTemplate>,
    /// Entries that could not be read (no id, name, language or status), with why.
    pub problems: Vec<String>,
    /// `paging.cursors.after` when `paging.next` says there is another page.
    pub next_after: Option<String>,
}

/// A template list answer that is not one.
#[derive(Debug, thiserror::Error)]
pub enum TemplateListError {
    #[error("the template list is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    #[error("the template list has no data array")]
    NoData,
}

#[derive(Deserialize)]
struct RawPage {
    data: Option<Vec<Value>>,
    paging: Option<RawPaging>,
}

#[derive(Deserialize)]
struct RawPaging {
    cursors: Option<RawCursors>,
    next: Option<String>,
}

#[derive(Deserialize)]
struct RawCursors {
    after: Option<String>,
}

impl TemplatePage {
    pub fn parse(body: &[u8]) -> Result<Self, TemplateListError> {
        let raw: RawPage = serde_json::from_slice(body).map_err(TemplateListError::InvalidJson)?;
        let data = raw.data.ok_or(TemplateListError::NoData)?;
        let mut page = TemplatePage {
            templates: Vec::with_capacity(data.len()),
            problems: Vec::new(),
            next_after: None,
        };
        for (i, item) in data.iter().enumerate() {
            match MessageTemplate::from_value(item) {
                Ok(t) => page.templates.push(t),
                Err(why) => page.problems.push(format!("data[{i}]: {why}")),
            }
        }
        if let Some(paging) = raw.paging {
            if paging.next.is_some() {
                page.next_after = paging
                    .cursors
                    .and_then(|c| c.after)
                    .filter(|a| !a.is_empty());
            }
        }
        Ok(page)
    }
}

/// A string or a number (Meta sends template ids as either), as text.
fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn text<'a>(item: &'a Value, key: &str) -> Option<&'a str> {
    item.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

impl MessageTemplate {
    fn from_value(item: &Value) -> Result<Self, String> {
        let id = id_text(item.get("id")).ok_or("no id")?;
        let name = text(item, "name").ok_or("no name")?.to_owned();
        let language = text(item, "language").ok_or("no language")?.to_owned();
        let status = TemplateStatus::parse(text(item, "status").ok_or("no status")?);
        let category = TemplateCategory::parse(text(item, "category").unwrap_or(""));
        let quality_score = item
            .get("quality_score")
            .and_then(|q| q.get("score"))
            .and_then(Value::as_str)
            .map(QualityScore::parse);
        let named_parameters =
            text(item, "parameter_format").is_some_and(|f| f.eq_ignore_ascii_case("NAMED"));
        let components = match item.get("components") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(c)) => c.clone(),
            Some(_) => return Err("components is not an array".into()),
        };
        Ok(Self {
            id,
            name,
            language,
            status,
            category,
            quality_score,
            named_parameters,
            components,
        })
    }
}

/// A template webhook (a change whose `field` is one of the three template fields).
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateEvent {
    /// `message_template_status_update`: `event` is the new status.
    Status {
        template: TemplateRef,
        status: TemplateStatus,
        /// `reason` (Meta sends `"NONE"` on approval: dropped).
        reason: Option<String>,
    },
    /// `message_template_quality_update`.
    Quality {
        template: TemplateRef,
        previous: Option<QualityScore>,
        new: QualityScore,
    },
    /// `template_category_update`: a completed change (`previous_category` and
    /// `new_category`), or an impending one (`correct_category`: what it will become,
    /// `new_category` is then the current one).
    Category {
        template: TemplateRef,
        new: TemplateCategory,
        previous: Option<TemplateCategory>,
        /// Set for an impending change: the category it will have.
        impending: Option<TemplateCategory>,
    },
}

/// Which template a webhook is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateRef {
    /// `message_template_id` (a number in the payload), as text.
    pub id: String,
    pub name: Option<String>,
    pub language: Option<String>,
}

/// The webhook fields of templates.
pub const TEMPLATE_FIELDS: [&str; 3] = [
    "message_template_status_update",
    "message_template_quality_update",
    "template_category_update",
];

impl TemplateEvent {
    /// `None` when the change is not about templates; an error when it is but can't be
    /// read.
    pub fn from_change(change: &IgnoredChange) -> Option<Result<Self, String>> {
        if !TEMPLATE_FIELDS.contains(&change.field.as_str()) {
            return None;
        }
        Some(Self::parse(&change.field, &change.value))
    }

    fn parse(field: &str, value: &Value) -> Result<Self, String> {
        let template = TemplateRef {
            id: id_text(value.get("message_template_id"))
                .ok_or_else(|| format!("{field}: no message_template_id"))?,
            name: text(value, "message_template_name").map(str::to_owned),
            language: text(value, "message_template_language").map(str::to_owned),
        };
        match field {
            "message_template_status_update" => Ok(Self::Status {
                template,
                status: TemplateStatus::parse(
                    text(value, "event").ok_or_else(|| format!("{field}: no event"))?,
                ),
                reason: text(value, "reason")
                    .filter(|r| !r.eq_ignore_ascii_case("NONE"))
                    .map(str::to_owned),
            }),
            "message_template_quality_update" => Ok(Self::Quality {
                template,
                previous: text(value, "previous_quality_score").map(QualityScore::parse),
                new: QualityScore::parse(
                    text(value, "new_quality_score")
                        .ok_or_else(|| format!("{field}: no new_quality_score"))?,
                ),
            }),
            _ => Ok(Self::Category {
                template,
                new: TemplateCategory::parse(
                    text(value, "new_category")
                        .ok_or_else(|| format!("{field}: no new_category"))?,
                ),
                previous: text(value, "previous_category").map(TemplateCategory::parse),
                impending: text(value, "correct_category").map(TemplateCategory::parse),
            }),
        }
    }

    pub fn template(&self) -> &TemplateRef {
        match self {
            Self::Status { template, .. }
            | Self::Quality { template, .. }
            | Self::Category { template, .. } => template,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_with_a_next_cursor_names_it_and_keeps_what_it_can_read() {
        let body = json!({
            "data": [
                {"id": "9001", "name": "shipping", "language": "en_US", "status": "APPROVED",
                 "category": "UTILITY", "quality_score": {"score": "GREEN", "date": 1},
                 "parameter_format": "POSITIONAL",
                 "components": [{"type": "BODY", "text": "Hi {{1}}"}]},
                {"id": 9002, "name": "promo", "language": "es", "status": "PAUSED",
                 "category": "MARKETING", "parameter_format": "NAMED"},
                {"name": "no_id", "language": "es", "status": "APPROVED"},
                {"id": "9004", "name": "new_status", "language": "es", "status": "FROZEN", "category": "OTP"}
            ],
            "paging": {"cursors": {"before": "B", "after": "A2"}, "next": "https://graph/next"}
        });
        let page = TemplatePage::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(page.next_after.as_deref(), Some("A2"));
        assert_eq!(page.templates.len(), 3);
        assert_eq!(page.problems, vec!["data[2]: no id".to_owned()]);
        let first = &page.templates[0];
        assert_eq!(
            (
                first.id.as_str(),
                first.status.as_db_str(),
                first.category.as_db_str()
            ),
            ("9001", Some("approved"), Some("utility"))
        );
        assert_eq!(first.quality_score, Some(QualityScore::Green));
        assert_eq!(first.components.len(), 1);
        assert!(!first.named_parameters);
        let second = &page.templates[1];
        assert_eq!(second.id, "9002");
        assert_eq!(second.status, TemplateStatus::Paused);
        assert!(second.named_parameters);
        assert!(second.components.is_empty());
        assert_eq!(
            page.templates[2].status,
            TemplateStatus::Unknown("FROZEN".into())
        );
        assert_eq!(page.templates[2].status.as_db_str(), None);
    }

    #[test]
    fn the_last_page_has_no_next() {
        let body = br#"{"data":[],"paging":{"cursors":{"before":"B","after":"A"}}}"#;
        assert_eq!(TemplatePage::parse(body).unwrap().next_after, None);
        assert!(matches!(
            TemplatePage::parse(br#"{"error":{}}"#),
            Err(TemplateListError::NoData)
        ));
        assert!(matches!(
            TemplatePage::parse(b"<html>"),
            Err(TemplateListError::InvalidJson(_))
        ));
    }

    fn change(field: &str, value: Value) -> IgnoredChange {
        IgnoredChange {
            field: field.into(),
            value,
        }
    }

    #[test]
    fn the_three_template_webhooks_parse() {
        let status = change(
            "message_template_status_update",
            json!({"event": "PAUSED", "message_template_id": 806312974732579u64,
                   "message_template_name": "promo", "message_template_language": "es",
                   "reason": "LOW_QUALITY", "message_template_category": "MARKETING"}),
        );
        assert_eq!(
            TemplateEvent::from_change(&status).unwrap().unwrap(),
            TemplateEvent::Status {
                template: TemplateRef {
                    id: "806312974732579".into(),
                    name: Some("promo".into()),
                    language: Some("es".into())
                },
                status: TemplateStatus::Paused,
                reason: Some("LOW_QUALITY".into()),
            }
        );
        let approved = change(
            "message_template_status_update",
            json!({"event": "APPROVED", "message_template_id": 1, "reason": "NONE"}),
        );
        assert!(matches!(
            TemplateEvent::from_change(&approved).unwrap().unwrap(),
            TemplateEvent::Status {
                reason: None,
                status: TemplateStatus::Approved,
                ..
            }
        ));
        let quality = change(
            "message_template_quality_update",
            json!({"previous_quality_score": "GREEN", "new_quality_score": "RED",
                   "message_template_id": 7, "message_template_name": "promo",
                   "message_template_language": "es"}),
        );
        assert!(matches!(
            TemplateEvent::from_change(&quality).unwrap().unwrap(),
            TemplateEvent::Quality {
                previous: Some(QualityScore::Green),
                new: QualityScore::Red,
                ..
            }
        ));
        let category = change(
            "template_category_update",
            json!({"message_template_id": 7, "previous_category": "UTILITY", "new_category": "MARKETING"}),
        );
        assert!(matches!(
            TemplateEvent::from_change(&category).unwrap().unwrap(),
            TemplateEvent::Category {
                new: TemplateCategory::Marketing,
                previous: Some(TemplateCategory::Utility),
                impending: None,
                ..
            }
        ));
        let impending = change(
            "template_category_update",
            json!({"message_template_id": 7, "correct_category": "MARKETING", "new_category": "UTILITY",
                   "category_update_timestamp": 1760711433}),
        );
        assert!(matches!(
            TemplateEvent::from_change(&impending).unwrap().unwrap(),
            TemplateEvent::Category {
                impending: Some(TemplateCategory::Marketing),
                ..
            }
        ));
    }

    #[test]
    fn other_fields_are_not_template_events_and_bad_ones_say_why() {
        assert!(TemplateEvent::from_change(&change("account_update", json!({}))).is_none());
        let no_id = change(
            "message_template_status_update",
            json!({"event": "APPROVED"}),
        );
        assert_eq!(
            TemplateEvent::from_change(&no_id).unwrap().unwrap_err(),
            "message_template_status_update: no message_template_id"
        );
        let no_event = change(
            "message_template_status_update",
            json!({"message_template_id": "1"}),
        );
        assert!(TemplateEvent::from_change(&no_event).unwrap().is_err());
        let not_an_object = change("template_category_update", json!("text"));
        assert!(TemplateEvent::from_change(&not_an_object).unwrap().is_err());
    }
}
