//! What `/readyz` says about sending for one number: active, or paused and why. A paused
//! number keeps a service ready (it probes and resumes by itself), but says so.

use serde_json::{json, Map, Value};
use svc_client::{OutboundStatus, SendingPause, SvcClient, SvcError};

/// The number's sending state (`svc.outbound_status`).
#[derive(Debug, Clone)]
pub struct SendingReadiness {
    status: OutboundStatus,
}

impl SendingReadiness {
    pub async fn check(svc: &SvcClient, phone_number_id: &str) -> Result<Self, SvcError> {
        Ok(Self {
            status: svc.outbound_status(phone_number_id).await?,
        })
    }

    /// Why sending is paused (reason, since when), if it is.
    pub fn paused(&self) -> Option<&SendingPause> {
        self.status.paused.as_ref()
    }

    /// Agents' replies waiting to be sent.
    pub fn queued(&self) -> i64 {
        self.status.queued
    }

    /// The fields `/readyz` shows: `sending` (`active` or `paused`) and `sending_paused`
    /// (why, or null).
    pub fn report(&self) -> Map<String, Value> {
        let paused = self.paused();
        let mut fields = Map::new();
        let sending = if paused.is_some() { "paused" } else { "active" };
        fields.insert("sending".into(), sending.into());
        fields.insert("sending_paused".into(), json!(paused));
        fields
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readiness(queued: i64, paused: Option<SendingPause>) -> SendingReadiness {
        SendingReadiness {
            status: OutboundStatus {
                queued,
                in_flight: 0,
                held: 0,
                paused,
            },
        }
    }

    #[test]
    fn a_paused_number_says_why_and_an_active_one_says_null() {
        let pause = SendingPause {
            reason: json!({"code": 131031, "title": "Account locked"}),
            since: "2026-12-07T10:00:00+00:00".into(),
        };
        let paused = readiness(3, Some(pause.clone()));
        assert_eq!(paused.report()["sending"], "paused");
        assert_eq!(paused.report()["sending_paused"], json!(pause));
        assert_eq!(paused.queued(), 3);
        let active = readiness(0, None);
        assert_eq!(active.report()["sending"], "active");
        assert!(active.report()["sending_paused"].is_null());
    }
}
