//! One send: request, outcome, record. Mirrors the gateway's reply sender; what differs
//! is the record (a recipient's `error_message` rather than a message's `error_data`).
//!
//! | outcome | record |
//! |---|---|
//! | accepted | `record_broadcast_sent` with the wamid (a probe resumes sending) |
//! | retryable (130429, 5xx, ...) | `record_broadcast_retry` after the retry policy's delay (jitter, Retry-After), failed once too old |
//! | token, permission or account error | `pause_sending` for the number, and the recipient back in the queue at once |
//! | 131050 | failed, and the contact marked opted out |
//! | other permanent errors | failed with `"<code>: <title>"` |
//! | not sent (no connection) | retried like a retryable error |
//! | unknown (the request left, no answer) | failed `unknown_outcome: ...`, never resent |

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use graph_api::outcome::{error_data, record, Recorded};
use graph_api::SendOutcome;
use serde_json::json;
use svc_client::SvcError;
use time::OffsetDateTime;
use whatsapp::{mask_phone, ErrorClass, GraphError};

use super::recipient::ClaimedRecipient;
use super::Shared;

/// Longest `error_message` written (Meta's details can be long).
const MAX_ERROR_MESSAGE: usize = 500;

pub(super) async fn send_one(shared: &Shared, recipient: ClaimedRecipient) {
    let settings = &shared.settings;
    let svc = &shared.svc;
    let (b, c) = (recipient.broadcast_id, recipient.contact_id);
    let to = recipient.to.as_deref().map(mask_phone).unwrap_or_default();
    let request = match recipient.to_request() {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(broadcast_id = %b, contact_id = %c, %reason, "recipient can't be sent to");
            count("failed", "invalid");
            let message = format!("not sent: {reason}");
            shared
                .record("failed", || {
                    shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "failed", "error_message": message, "opted_out": false }))
                })
                .await;
            return;
        }
    };

    let started = Instant::now();
    let outcome = shared.graph.send(&request).await;
    metrics::histogram!("broadcast_send_latency_seconds").record(started.elapsed().as_secs_f64());

    match outcome {
        SendOutcome::Accepted { wamid } => {
            tracing::debug!(broadcast_id = %b, contact_id = %c, %to, %wamid, attempts = recipient.attempts, "template sent");
            count("sent", "accepted");
            shared
                .record("sent", || {
                    shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "sent", "wamid": wamid }))
                })
                .await;
            if recipient.probe {
                if let Ok(true) = svc.resume_sending(&settings.phone_number_id).await {
                    tracing::warn!("sending resumed: a probe broadcast message was accepted");
                }
            }
        }
        SendOutcome::Rejected {
            http_status,
            class,
            error,
            retry_after,
        } => {
            let error = error.as_deref();
            let code = error.and_then(|e| e.code);
            let message = error_message(http_status, error);
            match class {
                ErrorClass::Retryable => {
                    retry_or_give_up(shared, &recipient, retry_after, &message, class.as_str())
                        .await;
                }
                ErrorClass::PauseSending => {
                    tracing::error!(broadcast_id = %b, ?code, reason = ?error.and_then(|e| e.message.clone()),
                        "the Graph API refused our token, permission or account: pausing all sending; recipients stay queued");
                    count("paused", class.as_str());
                    let reason = error_data(http_status, class, error);
                    if let Err(e) = svc
                        .pause_sending(&settings.phone_number_id, &reason, settings.probe_seconds)
                        .await
                    {
                        tracing::error!(error = %e, "could not record the pause");
                    }
                    shared
                        .record("retry", || {
                            shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "retry", "delay_seconds": 0.0, "error_message": message }))
                        })
                        .await;
                }
                ErrorClass::OptedOut => {
                    tracing::info!(broadcast_id = %b, contact_id = %c, %to, "recipient opted out of marketing (131050)");
                    count("failed", class.as_str());
                    shared
                        .record("failed", || {
                            shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "failed", "error_message": message, "opted_out": true }))
                        })
                        .await;
                }
                ErrorClass::WindowClosed | ErrorClass::Permanent => {
                    tracing::info!(broadcast_id = %b, contact_id = %c, %to, ?code, "permanent error; recipient failed");
                    count("failed", class.as_str());
                    shared
                        .record("failed", || {
                            shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "failed", "error_message": message, "opted_out": false }))
                        })
                        .await;
                }
            }
        }
        SendOutcome::NotSent { reason } => {
            // Nothing left this process: safe to try again.
            tracing::warn!(broadcast_id = %b, %reason, "Graph API unreachable; will retry");
            let message = truncate(format!(
                "not_sent: WhatsApp could not be reached ({reason})"
            ));
            retry_or_give_up(shared, &recipient, None, &message, "not_sent").await;
        }
        SendOutcome::Unknown { reason } => {
            tracing::error!(broadcast_id = %b, contact_id = %c, %to, %reason,
                "send outcome unknown; not retried to avoid a duplicate");
            count("failed", "unknown_outcome");
            let message = truncate(format!(
                "unknown_outcome: WhatsApp did not confirm this message ({reason}); it may or may not \
                 have been delivered. Set it back to pending to send again."
            ));
            shared
                .record("failed", || {
                    shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "failed", "error_message": message, "opted_out": false }))
                })
                .await;
        }
    }
}

/// A retryable failure: back in the queue after the policy's delay, or failed when the
/// recipient's first attempt is too old.
async fn retry_or_give_up(
    shared: &Shared,
    recipient: &ClaimedRecipient,
    retry_after: Option<Duration>,
    message: &str,
    class: &str,
) {
    let settings = &shared.settings;
    let (b, c) = (recipient.broadcast_id, recipient.contact_id);
    let age = age_of(recipient.first_attempt_at);
    match settings.retry.next_retry(
        recipient.attempts.saturating_sub(1),
        retry_after,
        rand::random::<f64>(),
        age,
    ) {
        Some(delay) => {
            tracing::debug!(broadcast_id = %b, contact_id = %c, attempt = recipient.attempts,
                delay_ms = delay.as_millis() as u64, %message, "retryable error; will retry");
            count("retried", class);
            shared
                .record("retry", || {
                    shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "retry", "delay_seconds": delay.as_secs_f64(), "error_message": message }))
                })
                .await;
        }
        None => {
            tracing::warn!(broadcast_id = %b, contact_id = %c, attempts = recipient.attempts,
                "retryable error but the recipient waited too long; giving up");
            count("failed", "gave_up");
            let gave_up = truncate(format!(
                "{message} (gave up after {} attempts)",
                recipient.attempts
            ));
            shared
                .record("failed", || {
                    shared.outcomes.record(json!({ "broadcast_id": b, "contact_id": c, "outcome": "failed", "error_message": gave_up, "opted_out": false }))
                })
                .await;
        }
    }
}

fn count(outcome: &'static str, class: &str) {
    metrics::counter!("broadcast_sends_total", "outcome" => outcome, "class" => class.to_owned())
        .increment(1);
}

impl Shared {
    /// Records an outcome (batched, `svc.record_broadcast_outcomes`) until the database answers
    /// (timed), and notes one it never took (see the shutdown in `super::run`).
    async fn record<F, Fut>(&self, what: &'static str, call: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<bool, SvcError>>,
    {
        let started = Instant::now();
        let recorded = record(what, SvcError::is_transient, call).await;
        metrics::histogram!("broadcast_db_call_seconds", "function" => "record_broadcast_outcomes", "outcome" => what)
            .record(started.elapsed().as_secs_f64());
        if recorded == Recorded::GaveUp {
            self.unrecorded.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn age_of(first_attempt_at: OffsetDateTime) -> Duration {
    Duration::try_from(OffsetDateTime::now_utc() - first_attempt_at).unwrap_or_default()
}

/// `"<code>: <title> (<details>)"`, e.g. `131026: Message Undeliverable (Message
/// Undeliverable.)`; `http <status>: ...` when Meta gave no code.
pub fn error_message(http_status: u16, error: Option<&GraphError>) -> String {
    let code = error
        .and_then(|e| e.code)
        .map_or_else(|| format!("http {http_status}"), |c| c.to_string());
    let title = error.and_then(|e| e.error_user_title.clone().or_else(|| e.message.clone()));
    let details = error.and_then(|e| e.details.clone().or_else(|| e.error_user_msg.clone()));
    truncate(match (title, details) {
        (Some(t), Some(d)) if d.trim_end_matches('.') != t.trim_end_matches('.') => {
            format!("{code}: {t} ({d})")
        }
        (Some(t), _) => format!("{code}: {t}"),
        (None, Some(d)) => format!("{code}: {d}"),
        (None, None) => format!("{code}: WhatsApp refused the message"),
    })
}

fn truncate(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_ERROR_MESSAGE) {
        s.truncate(i);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_lead_with_the_code() {
        let e = GraphError::parse(
            br#"{"error":{"message":"Message Undeliverable","code":131026,"error_data":{"details":"Message Undeliverable."}}}"#,
        );
        assert_eq!(
            error_message(400, e.as_ref()),
            "131026: Message Undeliverable"
        );
        let e = GraphError::parse(
            br#"{"error":{"message":"(#132001) Template name does not exist in the translation","code":132001,
                 "error_data":{"details":"template name (promo) does not exist in es"}}}"#,
        );
        assert_eq!(
            error_message(404, e.as_ref()),
            "132001: (#132001) Template name does not exist in the translation (template name (promo) does not exist in es)"
        );
        assert_eq!(
            error_message(502, None),
            "http 502: WhatsApp refused the message"
        );
        let long = GraphError::parse(
            format!(
                r#"{{"error":{{"message":"{}","code":1}}}}"#,
                "x".repeat(2000)
            )
            .as_bytes(),
        );
        assert!(error_message(500, long.as_ref()).chars().count() <= MAX_ERROR_MESSAGE + 1);
    }
}
