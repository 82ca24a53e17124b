//! `GET /webhooks/whatsapp`: Meta's verification handshake.
//! `POST /webhooks/whatsapp`: a webhook, verified on its raw bytes, stored once, then 200.

use actix_web::http::StatusCode;
use actix_web::{get, post, web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use svc_client::{RawPayload, StoredWebhook};
use whatsapp::{ParseError, WebhookBatch, SIGNATURE_HEADER};

use crate::ingest::batcher::INGEST_TIMEOUT;
use crate::ingest::{IngestError, WebhookEvents};
use crate::startup::AppState;

/// Meta's payloads reach 3 MB.
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

#[derive(Deserialize)]
pub struct Handshake {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

#[get("/webhooks/whatsapp")]
pub async fn verify(query: web::Query<Handshake>, state: web::Data<AppState>) -> HttpResponse {
    match whatsapp::verify_subscription(
        query.mode.as_deref(),
        query.verify_token.as_deref(),
        query.challenge.as_deref(),
        state.settings.verify_token.expose(),
    ) {
        Ok(challenge) => {
            tracing::info!("webhook subscription verified");
            HttpResponse::Ok()
                .content_type("text/plain")
                .body(challenge)
        }
        Err(e) => {
            tracing::warn!(reason = %e, "webhook verification refused");
            HttpResponse::Forbidden().finish()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("signature check failed: {0}")]
    Signature(#[from] whatsapp::SignatureError),
    #[error("body is not JSON: {0}")]
    NotJson(String),
    #[error(transparent)]
    Store(#[from] IngestError),
    #[error("storing the webhook took longer than {0:?}")]
    Timeout(std::time::Duration),
}

impl WebhookError {
    fn outcome(&self) -> &'static str {
        match self {
            WebhookError::Signature(_) => "bad_signature",
            WebhookError::NotJson(_) => "not_json",
            WebhookError::Store(IngestError::Unavailable(_)) | WebhookError::Timeout(_) => {
                "unavailable"
            }
            WebhookError::Store(IngestError::Refused(_)) => "refused",
        }
    }
}

impl ResponseError for WebhookError {
    fn status_code(&self) -> StatusCode {
        match self {
            WebhookError::Signature(_) => StatusCode::UNAUTHORIZED,
            WebhookError::NotJson(_) => StatusCode::BAD_REQUEST,
            WebhookError::Store(IngestError::Unavailable(_)) | WebhookError::Timeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            WebhookError::Store(IngestError::Refused(_)) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .json(serde_json::json!({ "error": self.to_string() }))
    }
}

#[post("/webhooks/whatsapp")]
#[tracing::instrument(name = "webhook", skip_all, fields(bytes = body.len()))]
pub async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, WebhookError> {
    let started = std::time::Instant::now();
    let result = handle(&request, &body, &state).await;
    let outcome = match &result {
        Ok(outcome) => *outcome,
        Err(e) => {
            tracing::warn!(error = %e, "webhook not accepted");
            e.outcome()
        }
    };
    metrics::counter!("gateway_webhooks_received_total", "outcome" => outcome).increment(1);
    metrics::histogram!("gateway_ingest_latency_seconds").record(started.elapsed().as_secs_f64());
    result.map(|_| HttpResponse::Ok().finish())
}

async fn handle(
    request: &HttpRequest,
    body: &[u8],
    state: &AppState,
) -> Result<&'static str, WebhookError> {
    let signature = request
        .headers()
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    whatsapp::verify_signature(
        state.settings.app_secret.expose().as_bytes(),
        body,
        signature,
    )?;

    let (payload, events, parse_error) = match WebhookBatch::parse(body) {
        Ok(batch) => {
            let payload =
                RawPayload::from_json(body).map_err(|e| WebhookError::NotJson(e.to_string()))?;
            let events = WebhookEvents::from_batch(&batch, state.settings.phone_number_id());
            record_event_metrics(&events);
            (payload, Some(events), None)
        }
        Err(ParseError::InvalidJson(e)) => return Err(WebhookError::NotJson(e.to_string())),
        Err(e) => {
            // Signed by Meta but not a webhook we understand: journal it, acknowledge it.
            let payload =
                RawPayload::from_json(body).map_err(|e| WebhookError::NotJson(e.to_string()))?;
            tracing::warn!(error = %e, "signed payload is not a WhatsApp webhook; journaled as failed");
            (payload, None, Some(e.to_string()))
        }
    };

    let stored = tokio::time::timeout(
        INGEST_TIMEOUT,
        state
            .ingestor
            .ingest(payload, events.as_ref().map(|e| &e.events), parse_error),
    )
    .await
    .map_err(|_| WebhookError::Timeout(INGEST_TIMEOUT))??;

    let counts = stored.counts();
    tracing::info!(
        journal_id = stored.journal_id(),
        outcome = stored.outcome(),
        messages = counts.map(|c| c.messages_inserted),
        duplicates = counts.map(|c| c.duplicates),
        statuses = counts.map(|c| c.statuses_applied),
        early_statuses = counts.map(|c| c.statuses_early),
        "webhook stored"
    );
    Ok(match &stored {
        StoredWebhook::Failed { error, .. } => {
            tracing::error!(
                error = error.as_str(),
                "webhook journaled as failed; replay with `cargo xtask webhooks replay` after a fix"
            );
            "journaled_failed"
        }
        StoredWebhook::Ignored { .. } => "ignored",
        StoredWebhook::Applied { .. } => "stored",
        StoredWebhook::Queued { .. } => "queued",
    })
}

fn record_event_metrics(events: &WebhookEvents) {
    for m in &events.events.messages {
        metrics::counter!("gateway_webhook_events_total", "kind" => m.message_type).increment(1);
    }
    for s in &events.events.statuses {
        metrics::counter!("gateway_webhook_events_total", "kind" => format!("status_{}", s.status))
            .increment(1);
    }
    let skipped = [
        ("ignored_change", events.ignored_changes),
        ("foreign_number", events.foreign_items),
        ("unknown_status", events.unknown_statuses),
        ("unreadable_item", events.problems),
    ];
    for (kind, n) in skipped {
        if n > 0 {
            metrics::counter!("gateway_webhook_events_total", "kind" => kind).increment(n as u64);
            tracing::info!(kind, count = n, "webhook items journaled but not applied");
        }
    }
}

/// Body limit with a 413 for anything larger.
pub fn payload_config() -> web::PayloadConfig {
    web::PayloadConfig::new(MAX_BODY_BYTES)
}
