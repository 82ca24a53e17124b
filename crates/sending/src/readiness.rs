//! What `/readyz` says about sending for one number: active, or paused and why. A paused
//! number keeps a service ready (it probes and resumes by itself), but says so.

use serde_json::{Map, Value};
use svc_client::{SvcClient, SvcError};

/// The number's sending state (`svc.outbound_status`).
#[derive(Debug, Clone)]
pub struct SendingReadiness {
    status: Value,
}

impl SendingReadiness {
    pub async fn check(svc: &SvcClient, phone_number_id: &str) -> Result<Self, SvcError> {
        Ok(Self {
            status: svc.outbound_status(phone_number_id).await?,
        })
    }

    /// Why sending is paused (reason, since when, next probe), if it is.
    pub fn paused(&self) -> Option<&Value> {
        self.status.get("paused").filter(|p| !p.is_null())
    }

    /// Agents' replies waiting to be sent.
    pub fn queued(&self) -> Option<&Value> {
        self.status.get("queued")
    }

    /// The fields `/readyz` shows: `sending` (`active` or `paused`) and `sending_paused`
    /// (why, or null).
    pub fn report(&self) -> Map<String, Value> {
        let paused = self.paused().cloned();
        let mut fields = Map::new();
        let sending = if paused.is_some() { "paused" } else { "active" };
        fields.insert("sending".into(), sending.into());
        fields.insert("sending_paused".into(), paused.unwrap_or(Value::Null));
        fields
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_paused_number_says_why_and_an_active_one_says_null() {
        let reason = json!({"reason": "131031: Account locked", "next_probe_at": "later"});
        let paused = SendingReadiness {
            status: json!({"queued": 3, "paused": reason}),
        };
        assert_eq!(paused.report()["sending"], "paused");
        assert_eq!(paused.report()["sending_paused"], reason);
        assert_eq!(paused.queued(), Some(&json!(3)));
        let active = SendingReadiness {
            status: json!({"queued": 0, "paused": null}),
        };
        assert_eq!(active.report()["sending"], "active");
        assert!(active.report()["sending_paused"].is_null());
    }
}
