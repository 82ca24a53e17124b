//! One send: request, outcome, record. What comes after an outcome is the sending policy
//! both senders share (`sending::outcome::next_step`). Recording retries until the database answers
//! (`sending::outcome::record`), because an unrecorded outcome would otherwise become
//! an "unknown outcome" later.

use std::time::Duration;

use sending::claim_loop::InFlight;
use sending::graph::{GraphClient, SendOutcome};
use sending::outcome::{error_data, next_step, record, NextStep};
use serde_json::{json, Value};
use svc_client::{SvcClient, SvcError};
use time::OffsetDateTime;
use whatsapp::mask_phone;

use super::job::{ClaimedJob, JobRequest};
use super::media_upload::{MediaUploader, UploadFailure};
use super::recorder::OutcomeRecorder;
use super::SenderSettings;

pub async fn send_one(
    svc: &SvcClient,
    recorder: &OutcomeRecorder,
    graph: &GraphClient,
    uploader: &MediaUploader,
    settings: &SenderSettings,
    job: ClaimedJob,
    in_flight: InFlight,
) {
    let id = job.message_id;
    let to = job.to.as_deref().map(mask_phone).unwrap_or_default();
    let media_id = match uploader.media_id_for(&job).await {
        Ok(media_id) => media_id,
        Err(failure) => {
            in_flight.answered();
            attachment_not_uploaded(recorder, &job, failure).await;
            return;
        }
    };
    let request = match media_id
        .map_or_else(|| job.to_request(), |m| job.to_request_by_media_id(&m))
    {
        Ok(r) => r,
        Err(reason) => {
            in_flight.answered();
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
    in_flight.answered();
    let step = next_step(
        &outcome,
        job.attempts,
        age_of(job.first_attempt_at),
        &settings.retry,
        rand::random::<f64>(),
    );
    metrics::counter!("gateway_outbound_total", "outcome" => outcome_label(&outcome)).increment(1);
    let error_data = describe(&outcome);
    let code = &error_data["code"];
    let retry = |delay: f64| recorder.retry(id, delay, &error_data);
    match step {
        NextStep::Sent { wamid } => {
            tracing::info!(message_id = %id, %to, %wamid, attempts = job.attempts, "message sent");
            record("sent", SvcError::is_transient, || recorder.sent(id, wamid)).await;
            if job.probe {
                if let Ok(true) = svc.resume_sending(&settings.phone_number_id).await {
                    tracing::warn!("sending resumed: a probe message was accepted");
                }
            }
        }
        NextStep::Retry(delay) => {
            if matches!(outcome, SendOutcome::NotSent { .. }) {
                tracing::warn!(message_id = %id, reason = %error_data["details"], attempt = job.attempts,
                    delay_ms = delay.as_millis() as u64, "Graph API unreachable; will retry");
            } else {
                tracing::info!(message_id = %id, %to, %code, attempt = job.attempts,
                    delay_ms = delay.as_millis() as u64, "retryable error; will retry");
            }
            record("retry", SvcError::is_transient, || {
                retry(delay.as_secs_f64())
            })
            .await;
        }
        NextStep::GiveUp => {
            tracing::warn!(message_id = %id, %to, %code, attempts = job.attempts,
                "not sent, and the message is too old to retry; giving up");
            let mut gave_up = error_data.clone();
            gave_up["gave_up_after_attempts"] = json!(job.attempts);
            record("failed", SvcError::is_transient, || {
                recorder.failed(id, &gave_up, false)
            })
            .await;
        }
        NextStep::Pause => {
            tracing::error!(message_id = %id, %code, reason = %error_data["title"],
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
            record("retry", SvcError::is_transient, || retry(0.0)).await;
        }
        NextStep::Fail { opted_out } => {
            tracing::info!(message_id = %id, %to, %code, opted_out, "permanent error; message failed");
            record("failed", SvcError::is_transient, || {
                recorder.failed(id, &error_data, opted_out)
            })
            .await;
        }
        NextStep::Unknown => {
            tracing::error!(message_id = %id, %to, reason = %error_data["reason"],
                "send outcome unknown; held until a status webhook tells (see README: sending policy)");
            metrics::counter!("gateway_outbound_held_by_sender_total").increment(1);
            record("failed", SvcError::is_transient, || {
                recorder.failed(id, &error_data, false)
            })
            .await;
        }
    }
}

/// The attachment could not be uploaded to WhatsApp: retried later (backing off, as long as
/// the message is young enough to send), or failed with the reason.
async fn attachment_not_uploaded(
    recorder: &OutcomeRecorder,
    job: &ClaimedJob,
    failure: UploadFailure,
) {
    let id = job.message_id;
    let (reason, temporary) = match failure {
        UploadFailure::Temporary(reason) => (reason, true),
        UploadFailure::Permanent(reason) => (reason, false),
    };
    let error = json!({
        "code": "attachment_not_uploaded",
        "title": "The attachment could not be uploaded to WhatsApp",
        "details": reason,
        "source": "sender",
    });
    metrics::counter!("gateway_outbound_total", "outcome" => "attachment_not_uploaded")
        .increment(1);
    if temporary && age_of(job.first_attempt_at) < ATTACHMENT_RETRY_WINDOW {
        let delay = (2f64.powi(job.attempts.min(8) as i32)).min(300.0);
        tracing::warn!(message_id = %id, %reason, attempt = job.attempts, "attachment upload failed; will retry");
        record("retry", SvcError::is_transient, || {
            recorder.retry(id, delay, &error)
        })
        .await;
    } else {
        tracing::warn!(message_id = %id, %reason, "attachment upload failed; message failed");
        record("failed", SvcError::is_transient, || {
            recorder.failed(id, &error, false)
        })
        .await;
    }
}

/// How long a message whose attachment can't be uploaded keeps being retried.
const ATTACHMENT_RETRY_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// A claim whose turn came after the send deadline: never sent, back in the queue at once.
pub async fn not_sent_in_time(recorder: &OutcomeRecorder, job: ClaimedJob) {
    let error = json!({
        "code": "send_deadline_passed",
        "title": "Not sent yet",
        "details": "Its turn came too long after it was claimed; it was put back in the queue unsent.",
        "source": "sender",
    });
    metrics::counter!("gateway_outbound_total", "outcome" => "not_sent_in_time").increment(1);
    record("retry", SvcError::is_transient, || {
        recorder.retry(job.message_id, 0.0, &error)
    })
    .await;
}

/// `error_data` for an outcome that is not a success: Meta's error, or why there is none.
fn describe(outcome: &SendOutcome) -> Value {
    match outcome {
        SendOutcome::Accepted { .. } => Value::Null,
        SendOutcome::Rejected {
            http_status,
            class,
            error,
            ..
        } => error_data(*http_status, *class, error.as_deref()),
        SendOutcome::NotSent { reason } => json!({
            "code": "graph_api_unreachable",
            "title": "WhatsApp could not be reached",
            "details": reason,
            "source": "sender",
        }),
        SendOutcome::Unknown { reason } => json!({
            "code": "unknown_outcome",
            "title": "WhatsApp did not confirm this message",
            "details": "The request was sent but no answer came back; WhatsApp may or may not have received it. Check with the customer before sending it again.",
            "reason": reason,
            "source": "sender",
        }),
    }
}

/// The metrics label of an outcome: sent, the error class, not_sent or unknown.
fn outcome_label(outcome: &SendOutcome) -> &'static str {
    match outcome {
        SendOutcome::Accepted { .. } => "sent",
        SendOutcome::Rejected { class, .. } => class.as_str(),
        SendOutcome::NotSent { .. } => "not_sent",
        SendOutcome::Unknown { .. } => "unknown",
    }
}

fn age_of(first_attempt_at: OffsetDateTime) -> Duration {
    let age = OffsetDateTime::now_utc() - first_attempt_at;
    Duration::try_from(age).unwrap_or_default()
}
