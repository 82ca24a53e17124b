//! The admin HTTP API under `/_sim`, for tests and tools in other processes
//! (see [`crate::SimulatorClient`]). No authentication: bind it to loopback.
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /_sim/health` | | `{"status":"ok"}` |
//! | `GET /_sim/messages` | | `[ReceivedMessage]` in acceptance order |
//! | `DELETE /_sim/messages` | | 204; clears the recorder (messages, marks, stats, webhook log) |
//! | `GET /_sim/marked-read` | | `[MarkedRead]` |
//! | `GET /_sim/stats` | | `Stats` |
//! | `GET /_sim/webhooks` | | `[WebhookDelivery]`, every webhook POST attempt |
//! | `POST /_sim/inbound` | `InboundSpec` `{from, text, name?, reply_to?, timestamp?}` | `InjectedInbound` `{wamid, status_code_from_gateway, error}`; 409 without webhook URL |
//! | `POST /_sim/window` | `{to, last_inbound_at?}` (RFC 3339; default now) | 204; sets when `to` last wrote |
//! | `DELETE /_sim/window/{to}` | | 204; closes `to`'s window |
//! | `GET /_sim/faults` | | `Faults` in force (remaining counts) |
//! | `POST /_sim/faults` | `Faults` (absent fields: defaults) | the new `Faults`; replaces the old ones |
//! | `DELETE /_sim/faults` | | 204; no faults |
//! | `GET /_sim/templates` | | `[TemplateSpec]` |
//! | `POST /_sim/templates` | `TemplateSpec` `{name, language, category?, body_params?}` | 201 |
//! | `POST /_sim/templates/change` | `TemplateChange` `{name, language, status?, reason?, category?}` | the `TemplateSpec` now; sends the template webhooks |
//! | `GET /_sim/config` | | `RuntimeConfig` |
//! | `PATCH /_sim/config` | `ConfigPatch` `{webhook_url?, max_mps?, status_webhooks?, enforce_window?, answer_latency?}` | `RuntimeConfig` |
//! | `POST /_sim/reset` | | 204; recorder, faults and windows back to the start |

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;

use crate::config::TemplateSpec;
use crate::error::SimulatorError;
use crate::faults::Faults;
use crate::recorder::Recorder;
use crate::state::{ConfigPatch, Shared};
use crate::webhooks::InboundSpec;

/// Body of `POST /_sim/window`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowRequest {
    /// The customer (phone number or BSUID).
    pub to: String,
    /// When they last wrote; default now. Older than 24 h: the window is closed.
    #[serde(default, with = "crate::timefmt::rfc3339_ms::option")]
    pub last_inbound_at: Option<OffsetDateTime>,
}

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/_sim")
            .route("/health", web::get().to(health))
            .route("/messages", web::get().to(messages))
            .route("/messages", web::delete().to(reset_messages))
            .route("/marked-read", web::get().to(marked_read))
            .route("/stats", web::get().to(stats))
            .route("/webhooks", web::get().to(webhooks))
            .route("/inbound", web::post().to(inbound))
            .route("/window", web::post().to(open_window))
            .route("/window/{to}", web::delete().to(close_window))
            .route("/faults", web::get().to(get_faults))
            .route("/faults", web::post().to(set_faults))
            .route("/faults", web::delete().to(clear_faults))
            .route("/templates", web::get().to(templates))
            .route("/templates", web::post().to(add_template))
            .route("/templates/change", web::post().to(change_template))
            .route("/config", web::get().to(config))
            .route("/config", web::patch().to(patch_config))
            .route("/reset", web::post().to(reset)),
    );
}

fn bad_request(message: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({ "error": message.to_string() }))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

async fn messages(state: web::Data<Shared>) -> HttpResponse {
    let list = state.lock().recorder.messages.clone();
    HttpResponse::Ok().json(list)
}

async fn reset_messages(state: web::Data<Shared>) -> HttpResponse {
    state.lock().recorder = Recorder::default();
    HttpResponse::NoContent().finish()
}

async fn marked_read(state: web::Data<Shared>) -> HttpResponse {
    let list = state.lock().recorder.marked_read.clone();
    HttpResponse::Ok().json(list)
}

async fn stats(state: web::Data<Shared>) -> HttpResponse {
    let inner = state.lock();
    HttpResponse::Ok().json(inner.recorder.stats(inner.max_mps))
}

async fn webhooks(state: web::Data<Shared>) -> HttpResponse {
    let list = state.lock().recorder.deliveries.clone();
    HttpResponse::Ok().json(list)
}

async fn inbound(state: web::Data<Shared>, spec: web::Json<InboundSpec>) -> HttpResponse {
    match crate::server::inject(Arc::clone(&state.into_inner()), spec.into_inner()).await {
        Ok(result) => HttpResponse::Ok().json(result),
        Err(e @ SimulatorError::NoWebhookUrl) => {
            HttpResponse::Conflict().json(json!({ "error": e.to_string() }))
        }
        Err(e) => bad_request(e),
    }
}

async fn open_window(state: web::Data<Shared>, body: web::Json<WindowRequest>) -> HttpResponse {
    let body = body.into_inner();
    match crate::server::set_window(&state, &body.to, body.last_inbound_at) {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => bad_request(e),
    }
}

async fn close_window(state: web::Data<Shared>, to: web::Path<String>) -> HttpResponse {
    match crate::request::normalize_recipient(&to) {
        Some(wa_id) => {
            state.lock().windows.remove(&wa_id);
            HttpResponse::NoContent().finish()
        }
        None => bad_request("to must be a phone number or a business-scoped user id"),
    }
}

async fn get_faults(state: web::Data<Shared>) -> HttpResponse {
    let faults = state.lock().faults.clone();
    HttpResponse::Ok().json(faults)
}

async fn set_faults(state: web::Data<Shared>, faults: web::Json<Faults>) -> HttpResponse {
    let faults = faults.into_inner();
    // Counts only: recipient errors hold phone numbers.
    tracing::info!(
        server_errors = faults.server_errors,
        timeouts = faults.timeouts,
        rate_limit_burst = faults.rate_limit_burst,
        recipient_errors = faults.recipient_errors.len(),
        token_revoked = faults.token_revoked,
        "faults set"
    );
    state.lock().faults = faults.clone();
    HttpResponse::Ok().json(faults)
}

async fn clear_faults(state: web::Data<Shared>) -> HttpResponse {
    state.lock().faults = Faults::default();
    tracing::info!("faults cleared");
    HttpResponse::NoContent().finish()
}

async fn templates(state: web::Data<Shared>) -> HttpResponse {
    let list = state.lock().templates.clone();
    HttpResponse::Ok().json(list)
}

async fn add_template(state: web::Data<Shared>, spec: web::Json<TemplateSpec>) -> HttpResponse {
    let spec = spec.into_inner();
    if spec.name.trim().is_empty() || spec.language.trim().is_empty() {
        return bad_request("name and language are required");
    }
    crate::server::add_template(&state, spec.clone());
    HttpResponse::Created().json(spec)
}

async fn change_template(
    state: web::Data<Shared>,
    change: web::Json<crate::config::TemplateChange>,
) -> HttpResponse {
    let shared: Arc<Shared> = state.into_inner();
    match crate::server::change_template(&shared, change.into_inner()) {
        Ok(spec) => HttpResponse::Ok().json(spec),
        Err(e) => bad_request(e),
    }
}

async fn config(state: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(state.runtime_config())
}

async fn patch_config(state: web::Data<Shared>, patch: web::Json<ConfigPatch>) -> HttpResponse {
    match state.apply(patch.into_inner()) {
        Ok(c) => HttpResponse::Ok().json(c),
        Err(e) => bad_request(e),
    }
}

async fn reset(state: web::Data<Shared>) -> HttpResponse {
    let mut inner = state.lock();
    inner.recorder = Recorder::default();
    inner.faults = Faults::default();
    inner.windows.clear();
    inner.limiter.clear();
    HttpResponse::NoContent().finish()
}
