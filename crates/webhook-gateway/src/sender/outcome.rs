//! One send: request, outcome, record. Recording retries until the database answers,
//! because an unrecorded outcome would otherwise become an "unknown outcome" later.

use std::time::Duration;

use graph_api::{GraphClient, SendOutcome};
use serde_json::{json, Value};
use svc_client::{SvcClient, SvcError};
use time::OffsetDateTime;
use whatsapp::{mask_phone, ErrorClass, GraphError};

use super::job::ClaimedJob;
use super::SenderSettings;

pub async fn send_one(
    svc: &SvcClient,
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
            record("failed", || {
                svc.record_outbound_failed(id, &settings.owner, &error, false)
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
            record("sent", || {
                svc.record_outbound_sent(id, &settings.owner, &wamid)
            })
            .await;
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
                            record("retry", || {
                                svc.record_outbound_retry(
                                    id,
                                    &settings.owner,
                                    delay.as_secs_f64(),
                                    &error_data,
                                )
                            })
                            .await;
                        }
                        None => {
                            tracing::warn!(message_id = %id, %to, attempts = job.attempts, "retryable error but the message is too old; giving up");
                            let mut gave_up = error_data.clone();
                            gave_up["gave_up_after_attempts"] = json!(job.attempts);
                            record("failed", || {
                                svc.record_outbound_failed(id, &settings.owner, &gave_up, false)
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
                    record("retry", || {
                        svc.record_outbound_retry(id, &settings.owner, 0.0, &error_data)
                    })
                    .await;
                }
                ErrorClass::OptedOut => {
                    tracing::info!(message_id = %id, %to, "recipient opted out (131050)");
                    record("failed", || {
                        svc.record_outbound_failed(id, &settings.owner, &error_data, true)
                    })
                    .await;
                }
                ErrorClass::WindowClosed | ErrorClass::Permanent => {
                    tracing::info!(message_id = %id, %to, code = ?error.as_ref().and_then(|e| e.code), "permanent error; message failed");
                    record("failed", || {
                        svc.record_outbound_failed(id, &settings.owner, &error_data, false)
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
                    record("retry", || {
                        svc.record_outbound_retry(
                            id,
                            &settings.owner,
                            delay.as_secs_f64(),
                            &error_data,
                        )
                    })
                    .await;
                }
                None => {
                    record("failed", || {
                        svc.record_outbound_failed(id, &settings.owner, &error_data, false)
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
            record("failed", || {
                svc.record_outbound_failed(id, &settings.owner, &error_data, false)
            })
            .await;
        }
    }
}

fn age_of(first_attempt_at: OffsetDateTime) -> Duration {
    let age = OffsetDateTime::now_utc() - first_attempt_at;
    Duration::try_from(age).unwrap_or_default()
}

fn error_data(http_status: u16, class: ErrorClass, error: Option<&GraphError>) -> Value {
    json!({
        "code": error.and_then(|e| e.code),
        "title": error.and_then(|e| e.error_user_title.clone().or_else(|| e.message.clone())),
        "details": error.and_then(|e| e.details.clone().or_else(|| e.error_user_msg.clone())),
        "error_subcode": error.and_then(|e| e.error_subcode),
        "fbtrace_id": error.and_then(|e| e.fbtrace_id.clone()),
        "http_status": http_status,
        "class": class.as_str(),
        "source": "graph_api",
        "at": OffsetDateTime::now_utc().unix_timestamp(),
    })
}

/// Records an outcome, retrying while the database is unreachable (bounded).
async fn record<F, Fut>(what: &str, call: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, SvcError>>,
{
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=30 {
        match call().await {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(
                    what,
                    "the claim was no longer ours when recording (lease expired)"
                );
                return;
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(what, attempt, error = %e, "recording an outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(what, error = %e, "recording an outcome failed");
                return;
            }
        }
    }
    tracing::error!(
        what,
        "gave up recording an outcome; the lease will expire and mark it unknown"
    );
}
