//! One send: request, outcome, record. Recording retries until the database answers
//! (`graph_api::outcome::record`), because an unrecorded outcome would otherwise become
//! an "unknown outcome" later.

use std::time::Duration;

use graph_api::outcome::{error_data, record};
use graph_api::{GraphClient, SendOutcome};
use serde_json::json;
use svc_client::{SvcClient, SvcError};
use time::OffsetDateTime;
use whatsapp::{mask_phone, ErrorClass};

use super::job::ClaimedJob;
use super::recorder::OutcomeRecorder;
use super::SenderSettings;

pub async fn send_one(
    svc: &SvcClient,
    recorder: &OutcomeRecorder,
    graph: &GraphClient,
    settings: &SenderSettings,
    job: ClaimedJob,
) {
    let id = job.message_id;
    let to = job.to.as_deref().map(mask_phone).unwrap_or_default();
    let request = match job.to_request() {
        Ok(r) => r,
        Err(reason) => {
            tracing::warn!(message_id = %id, %reason, "message can't be sent as written");
            let error = json!({ "code": "invalid_message", "title": "The message can't be sent", "details": reason, "source": "sender" });
            record("failed", SvcError::is_transient, || {
                recorder.failed(id, &error, false)
            })
            .await;
            return;
        }
    };
    let outcome = graph.send(&request).await;
    match outcome {
        SendOutcome::Accepted { wamid } => {
            tracing::info!(message_id = %id, %to, %wamid, attempts = job.attempts, "message sent");
            metrics::counter!("gateway_outbound_total", "outcome" => "sent").increment(1);
            record("sent", SvcError::is_transient, || recorder.sent(id, &wamid)).await;
            if job.probe {
                if let Ok(true) = svc.resume_sending(&settings.phone_number_id).await {
                    tracing::warn!("sending resumed: a probe message was accepted");
                }
            }
        }
        SendOutcome::Rejected {
            http_status,
            class,
            error,
            retry_after,
        } => {
            let error_data = error_data(http_status, class, error.as_deref());
            metrics::counter!("gateway_outbound_total", "outcome" => class.as_str()).increment(1);
            match class {
                ErrorClass::Retryable => {
                    let age = age_of(job.first_attempt_at);
                    match settings.retry.next_retry(
                        job.attempts.saturating_sub(1),
                        retry_after,
                        rand::random::<f64>(),
                        age,
                    ) {
                        Some(delay) => {
                            tracing::info!(message_id = %id, %to, code = ?error.as_ref().and_then(|e| e.code), attempt = job.attempts, delay_ms = delay.as_millis() as u64, "retryable error; will retry");
                            record("retry", SvcError::is_transient, || {
                                recorder.retry(id, delay.as_secs_f64(), &error_data)
                            })
                            .await;
                        }
                        None => {
                            tracing::warn!(message_id = %id, %to, attempts = job.attempts, "retryable error but the message is too old; giving up");
                            let mut gave_up = error_data.clone();
                            gave_up["gave_up_after_attempts"] = json!(job.attempts);
                            record("failed", SvcError::is_transient, || {
                                recorder.failed(id, &gave_up, false)
                            })
                            .await;
                        }
                    }
                }
                ErrorClass::PauseSending => {
                    tracing::error!(message_id = %id, code = ?error.as_ref().and_then(|e| e.code), reason = ?error.as_ref().and_then(|e| e.message.clone()),
                        "the Graph API refused our token, permission or account: pausing all sending; messages stay pending");
                    if let Err(e) = svc
                        .pause_sending(
                            &settings.phone_number_id,
                            &error_data,
                            settings.probe_seconds,
                        )
                        .await
                    {
                        tracing::error!(error = %e, "could not record the pause");
                    }
                    record("retry", SvcError::is_transient, || {
                        recorder.retry(id, 0.0, &error_data)
                    })
                    .await;
                }
                ErrorClass::OptedOut => {
                    tracing::info!(message_id = %id, %to, "recipient opted out (131050)");
                    record("failed", SvcError::is_transient, || {
                        recorder.failed(id, &error_data, true)
                    })
                    .await;
                }
                ErrorClass::WindowClosed | ErrorClass::Permanent => {
                    tracing::info!(message_id = %id, %to, code = ?error.as_ref().and_then(|e| e.code), "permanent error; message failed");
                    record("failed", SvcError::is_transient, || {
                        recorder.failed(id, &error_data, false)
                    })
                    .await;
                }
            }
        }
        SendOutcome::NotSent { reason } => {
            // Nothing left this process: safe to try again.
            let age = age_of(job.first_attempt_at);
            let error_data = json!({ "code": "graph_api_unreachable", "title": "WhatsApp could not be reached", "details": reason, "source": "sender" });
            metrics::counter!("gateway_outbound_total", "outcome" => "not_sent").increment(1);
            match settings.retry.next_retry(
                job.attempts.saturating_sub(1),
                None,
                rand::random::<f64>(),
                age,
            ) {
                Some(delay) => {
                    tracing::warn!(message_id = %id, %reason, "Graph API unreachable; will retry");
                    record("retry", SvcError::is_transient, || {
                        recorder.retry(id, delay.as_secs_f64(), &error_data)
                    })
                    .await;
                }
                None => {
                    record("failed", SvcError::is_transient, || {
                        recorder.failed(id, &error_data, false)
                    })
                    .await;
                }
            }
        }
        SendOutcome::Unknown { reason } => {
            tracing::error!(message_id = %id, %to, %reason, "send outcome unknown; not retried to avoid a duplicate (see README: sending policy)");
            metrics::counter!("gateway_outbound_total", "outcome" => "unknown").increment(1);
            let error_data = json!({
                "code": "unknown_outcome",
                "title": "WhatsApp did not confirm this message",
                "details": "The request was sent but no answer came back; WhatsApp may or may not have received it. Check with the customer before sending it again.",
                "reason": reason,
                "source": "sender",
            });
            record("failed", SvcError::is_transient, || {
                recorder.failed(id, &error_data, false)
            })
            .await;
        }
    }
}

fn age_of(first_attempt_at: OffsetDateTime) -> Duration {
    let age = OffsetDateTime::now_utc() - first_attempt_at;
    Duration::try_from(age).unwrap_or_default()
}
