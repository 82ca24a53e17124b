//! One send: request, outcome, record. What comes after an outcome is the sending policy
//! both senders share (`sending::outcome::next_step`); what differs from the gateway's
//! reply sender is the record (a recipient's `error_message` rather than a message's
//! `error_data`):
//!
//! | outcome | record |
//! |---|---|
//! | accepted | `record_broadcast_sent` with the wamid (a probe resumes sending) |
//! | retryable (130429, 5xx, ...) | `record_broadcast_retry` after the retry policy's delay (jitter, Retry-After), failed once too old |
//! | token, permission or account error | `pause_sending` for the number, and the recipient back in the queue at once |
//! | 131050 | failed, and the contact marked opted out |
//! | other permanent errors | failed with `"<code>: <title>"` |
//! | not sent (no connection) | retried like a retryable error |
//! | unknown (the request left, no answer) | `unknown_outcome: ...`, which the database holds (never resent blindly) |

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use sending::claim_loop::InFlight;
use sending::graph::SendOutcome;
use sending::outcome::{error_data, next_step, record, NextStep, Recorded};
use svc_client::{BroadcastOutcome, SvcError};
use time::OffsetDateTime;
use whatsapp::{mask_phone, GraphError};

use super::recipient::{ClaimedRecipient, RecipientRequest};
use super::Shared;

/// Longest `error_message` written (Meta's details can be long).
const MAX_ERROR_MESSAGE: usize = 500;

pub(super) async fn send_one(shared: &Shared, recipient: ClaimedRecipient, in_flight: InFlight) {
    let settings = &shared.settings;
    let svc = &shared.svc;
    let (b, c) = (recipient.broadcast_id, recipient.contact_id);
    let to = recipient.to.as_deref().map(mask_phone).unwrap_or_default();
    let request = match recipient.to_request() {
        Ok(r) => r,
        Err(reason) => {
            in_flight.answered();
            tracing::warn!(broadcast_id = %b, contact_id = %c, %reason, "recipient can't be sent to");
            count("failed", "invalid");
            let message = format!("not sent: {reason}");
            shared
                .record("failed", || {
                    shared.outcomes.record(BroadcastOutcome::Failed {
                        broadcast_id: b,
                        contact_id: c,
                        error_message: message.clone(),
                        opted_out: false,
                    })
                })
                .await;
            return;
        }
    };

    let started = Instant::now();
    let outcome = shared.graph.send(&request).await;
    in_flight.answered();
    metrics::histogram!("broadcast_send_latency_seconds").record(started.elapsed().as_secs_f64());

    let step = next_step(
        &outcome,
        recipient.attempts,
        age_of(recipient.first_attempt_at),
        &settings.retry,
        rand::random::<f64>(),
    );
    let class = class_label(&outcome);
    let message = describe(&outcome);
    let record_failed = |message: String, opted_out: bool| async move {
        shared
            .record("failed", || {
                shared.outcomes.record(BroadcastOutcome::Failed {
                    broadcast_id: b,
                    contact_id: c,
                    error_message: message.clone(),
                    opted_out,
                })
            })
            .await;
    };
    let record_retry = |delay: Duration| {
        let message = &message;
        async move {
            shared
                .record("retry", || {
                    shared.outcomes.record(BroadcastOutcome::Retry {
                        broadcast_id: b,
                        contact_id: c,
                        delay_seconds: delay.as_secs_f64(),
                        error_message: message.clone(),
                    })
                })
                .await;
        }
    };
    match step {
        NextStep::Sent { wamid } => {
            tracing::debug!(broadcast_id = %b, contact_id = %c, %to, %wamid, attempts = recipient.attempts, "template sent");
            count("sent", class);
            shared
                .record("sent", || {
                    shared.outcomes.record(BroadcastOutcome::Sent {
                        broadcast_id: b,
                        contact_id: c,
                        wamid: wamid.to_owned(),
                    })
                })
                .await;
            if recipient.probe {
                if let Ok(true) = svc.resume_sending(&settings.phone_number_id).await {
                    tracing::warn!("sending resumed: a probe broadcast message was accepted");
                }
            }
        }
        NextStep::Retry(delay) => {
            if matches!(outcome, SendOutcome::NotSent { .. }) {
                tracing::warn!(broadcast_id = %b, %message, "Graph API unreachable; will retry");
            } else {
                tracing::debug!(broadcast_id = %b, contact_id = %c, attempt = recipient.attempts,
                    delay_ms = delay.as_millis() as u64, %message, "retryable error; will retry");
            }
            count("retried", class);
            record_retry(delay).await;
        }
        NextStep::GiveUp => {
            tracing::warn!(broadcast_id = %b, contact_id = %c, attempts = recipient.attempts, %message,
                "not sent, and the recipient waited too long to retry; giving up");
            count("failed", "gave_up");
            let gave_up = truncate(format!(
                "{message} (gave up after {} attempts)",
                recipient.attempts
            ));
            record_failed(gave_up, false).await;
        }
        NextStep::Pause => {
            tracing::error!(broadcast_id = %b, %message,
                "the Graph API refused our token, permission or account: pausing all sending; recipients stay queued");
            count("paused", class);
            if let SendOutcome::Rejected {
                http_status,
                class,
                error,
                ..
            } = &outcome
            {
                let reason = error_data(*http_status, *class, error.as_deref());
                if let Err(e) = svc
                    .pause_sending(&settings.phone_number_id, &reason, settings.probe_seconds)
                    .await
                {
                    tracing::error!(error = %e, "could not record the pause");
                }
            }
            record_retry(Duration::ZERO).await;
        }
        NextStep::Fail { opted_out } => {
            tracing::info!(broadcast_id = %b, contact_id = %c, %to, %message, opted_out, "permanent error; recipient failed");
            count("failed", class);
            record_failed(message.clone(), opted_out).await;
        }
        NextStep::Unknown => {
            tracing::error!(broadcast_id = %b, contact_id = %c, %to, %message,
                "send outcome unknown; held until a status webhook tells");
            count("held", class);
            record_failed(message.clone(), false).await;
        }
    }
}

/// A claim whose turn came after the send deadline: never sent, back in the queue at once.
pub(super) async fn not_sent_in_time(shared: &Shared, recipient: ClaimedRecipient) {
    let (b, c) = (recipient.broadcast_id, recipient.contact_id);
    count("retried", "not_sent_in_time");
    shared
        .record("retry", || {
            shared.outcomes.record(BroadcastOutcome::Retry {
                broadcast_id: b,
                contact_id: c,
                delay_seconds: 0.0,
                error_message: "not sent: its turn came too long after it was claimed".into(),
            })
        })
        .await;
}

/// The recipient's `error_message` for an outcome that is not a success.
fn describe(outcome: &SendOutcome) -> String {
    match outcome {
        SendOutcome::Accepted { .. } => String::new(),
        SendOutcome::Rejected {
            http_status, error, ..
        } => error_message(*http_status, error.as_deref()),
        SendOutcome::NotSent { reason } => truncate(format!(
            "not_sent: WhatsApp could not be reached ({reason})"
        )),
        SendOutcome::Unknown { reason } => truncate(format!(
            "unknown_outcome: WhatsApp did not confirm this message ({reason}); it may or may not \
             have been delivered. Set it back to pending to send again."
        )),
    }
}

/// The `class` label of `broadcast_sends_total`.
fn class_label(outcome: &SendOutcome) -> &'static str {
    match outcome {
        SendOutcome::Accepted { .. } => "accepted",
        SendOutcome::Rejected { class, .. } => class.as_str(),
        SendOutcome::NotSent { .. } => "not_sent",
        SendOutcome::Unknown { .. } => "unknown_outcome",
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
