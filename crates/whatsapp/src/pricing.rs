//! The `pricing` object of status webhooks (per-message pricing, since July 2025):
//! `billable`, `pricing_model` (`PMP` per message; `CBP` for the older per-conversation
//! model), `category` (marketing, utility, authentication, service, ...) and `type`
//! (`regular`, `free_customer_service`, `free_entry_point`). From Meta's webhooks
//! reference (status messages) and its pricing documentation.

use serde::Serialize;
use serde_json::Value;

use crate::webhook::Status;

/// What Meta says one message costs, normalized to lower case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pricing {
    /// Whether the message is charged.
    pub billable: bool,
    /// `pmp` (per message) or `cbp` (per conversation, before July 2025), as sent.
    pub pricing_model: Option<String>,
    /// marketing, utility, authentication, authentication_international, service,
    /// marketing_lite, ... as sent (lower case).
    pub category: String,
    /// `regular`, `free_customer_service`, `free_entry_point`, ... when sent.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

impl Pricing {
    /// The pricing of a raw `pricing` object; `None` when it has no `category` or no
    /// boolean `billable` (nothing can be counted from it).
    pub fn from_value(value: &Value) -> Option<Self> {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_ascii_lowercase)
        };
        Some(Self {
            billable: value.get("billable").and_then(Value::as_bool)?,
            pricing_model: text("pricing_model"),
            category: text("category")?,
            kind: text("type"),
        })
    }
}

impl Status {
    /// The status's `pricing`, typed, when it carries a readable one.
    pub fn pricing_info(&self) -> Option<Pricing> {
        self.pricing.as_ref().and_then(Pricing::from_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn per_message_pricing_is_read_in_lower_case() {
        let p = Pricing::from_value(&json!({"billable": true, "pricing_model": "PMP",
            "category": "MARKETING", "type": "regular"}))
        .unwrap();
        assert_eq!(
            p,
            Pricing {
                billable: true,
                pricing_model: Some("pmp".into()),
                category: "marketing".into(),
                kind: Some("regular".into())
            }
        );
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"billable": true, "pricing_model": "pmp", "category": "marketing", "type": "regular"})
        );
        let free = Pricing::from_value(&json!({"billable": false, "pricing_model": "PMP",
            "category": "service", "type": "free_customer_service"}))
        .unwrap();
        assert!(!free.billable);
    }

    #[test]
    fn pricing_without_billable_or_category_counts_nothing() {
        assert_eq!(Pricing::from_value(&json!({"category": "marketing"})), None);
        assert_eq!(
            Pricing::from_value(&json!({"billable": "yes", "category": "marketing"})),
            None
        );
        assert_eq!(Pricing::from_value(&json!({"billable": true})), None);
        assert_eq!(Pricing::from_value(&json!("PMP")), None);
    }
}
