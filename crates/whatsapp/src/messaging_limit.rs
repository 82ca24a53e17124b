//! The messaging limit Meta announces by webhook: unique users a business portfolio may
//! message outside a customer service window in a moving 24 hours, shared by all its
//! numbers since October 2025. From Meta's webhooks reference:
//! `business_capability_update` (`max_daily_conversations_per_business`: 250, 2000,
//! 10000, 100000, or -1 for unlimited; the older per-phone field
//! `max_daily_conversation_per_phone` as a fallback) and `phone_number_quality_update`
//! (`max_daily_conversations_per_business`, or the older `current_limit` tier such as
//! `TIER_2K`).

use serde_json::Value;

use crate::webhook::IgnoredChange;

/// A messaging limit tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingLimitTier {
    /// This many unique users per 24 hours.
    Users(u32),
    Unlimited,
}

impl MessagingLimitTier {
    /// A number (`2000`, `-1`) or a tier name (`TIER_2K`, `TIER_UNLIMITED`), as Meta
    /// sends them; `None` for anything else.
    pub fn parse(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => Self::from_number(n.as_i64()?),
            Value::String(s) => {
                let s = s.trim().to_ascii_uppercase();
                if let Ok(n) = s.parse::<i64>() {
                    return Self::from_number(n);
                }
                match s.strip_prefix("TIER_")? {
                    "UNLIMITED" => Some(Self::Unlimited),
                    tier => {
                        let (digits, factor) = match tier.strip_suffix('K') {
                            Some(d) => (d, 1_000),
                            None => (tier, 1),
                        };
                        digits
                            .parse::<u32>()
                            .ok()
                            .and_then(|n| n.checked_mul(factor))
                            .filter(|n| *n > 0)
                            .map(Self::Users)
                    }
                }
            }
            _ => None,
        }
    }

    fn from_number(n: i64) -> Option<Self> {
        match n {
            -1 => Some(Self::Unlimited),
            1.. => u32::try_from(n).ok().map(Self::Users),
            _ => None,
        }
    }

    /// As stored: the number of users, -1 for unlimited.
    pub fn as_db_value(self) -> i64 {
        match self {
            Self::Users(n) => i64::from(n),
            Self::Unlimited => -1,
        }
    }

    /// The limit a change announces; `None` when the change is about something else
    /// (another field, or a quality update without a limit).
    pub fn from_change(change: &IgnoredChange) -> Option<Self> {
        let v = &change.value;
        let first = |keys: &[&str]| keys.iter().find_map(|k| v.get(*k).and_then(Self::parse));
        match change.field.as_str() {
            "business_capability_update" => first(&[
                "max_daily_conversations_per_business",
                "max_daily_conversation_per_phone",
            ]),
            "phone_number_quality_update" => {
                first(&["max_daily_conversations_per_business", "current_limit"])
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(field: &str, value: Value) -> IgnoredChange {
        IgnoredChange {
            field: field.into(),
            value,
        }
    }

    #[test]
    fn the_capability_webhook_names_the_portfolios_limit() {
        let c = change(
            "business_capability_update",
            json!({"max_daily_conversation_per_phone": 250, "max_daily_conversations_per_business": 2000,
                   "max_phone_numbers_per_business": 2}),
        );
        assert_eq!(
            MessagingLimitTier::from_change(&c),
            Some(MessagingLimitTier::Users(2000))
        );
        let unlimited = change(
            "business_capability_update",
            json!({"max_daily_conversations_per_business": -1}),
        );
        assert_eq!(
            MessagingLimitTier::from_change(&unlimited).map(MessagingLimitTier::as_db_value),
            Some(-1)
        );
        let older = change(
            "business_capability_update",
            json!({"max_daily_conversation_per_phone": 10000}),
        );
        assert_eq!(
            MessagingLimitTier::from_change(&older),
            Some(MessagingLimitTier::Users(10_000))
        );
    }

    #[test]
    fn quality_updates_carry_tiers_by_name() {
        for (raw, tier) in [
            ("TIER_250", MessagingLimitTier::Users(250)),
            ("TIER_2K", MessagingLimitTier::Users(2_000)),
            ("TIER_100K", MessagingLimitTier::Users(100_000)),
            ("TIER_UNLIMITED", MessagingLimitTier::Unlimited),
            ("10000", MessagingLimitTier::Users(10_000)),
        ] {
            let c = change(
                "phone_number_quality_update",
                json!({"event": "UPGRADE", "current_limit": raw}),
            );
            assert_eq!(MessagingLimitTier::from_change(&c), Some(tier), "{raw}");
        }
        for bad in [
            json!("TIER_"),
            json!("FAST"),
            json!(0),
            json!(-5),
            json!(null),
            json!("TIER_xK"),
        ] {
            assert_eq!(MessagingLimitTier::parse(&bad), None, "{bad}");
        }
        let flagged = change("phone_number_quality_update", json!({"event": "FLAGGED"}));
        assert_eq!(MessagingLimitTier::from_change(&flagged), None);
        assert_eq!(
            MessagingLimitTier::from_change(&change("account_update", json!({}))),
            None
        );
    }
}
