use actix_web::{get, web, HttpResponse};
use serde_json::json;

use crate::startup::AppState;

/// Ready (admin listener only): PostgREST and the database answer, with the svc
/// functions the gateway calls.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let checks = async {
        state.svc.ping().await?;
        state.svc.webhook_backlog().await?;
        state
            .svc
            .outbound_status(&state.settings.phone_number_id)
            .await
    };
    // A paused sender does not make the gateway unready: webhooks must still be taken.
    match checks.await {
        Ok(outbound) => {
            let paused = outbound.paused;
            HttpResponse::Ok().json(json!({
                "status": "ready",
                "sending": if paused.is_some() { "paused" } else { "active" },
                "sending_paused": paused,
                "outbound_queued": outbound.queued,
            }))
        }
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable()
                .json(json!({ "status": "unavailable", "reason": e.to_string() }))
        }
    }
}
