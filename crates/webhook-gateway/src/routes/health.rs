use actix_web::{get, web, HttpResponse};
use sending::readiness::SendingReadiness;
use serde_json::json;
use service_runtime::http::readiness_response;

use crate::startup::AppState;

/// Ready (admin listener only): PostgREST and the database answer, with the svc
/// functions the gateway calls.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let checks = async {
        state.svc.ping().await?;
        state.svc.webhook_backlog().await?;
        SendingReadiness::check(&state.svc, state.settings.phone_number_id()).await
    };
    // A paused sender does not make the gateway unready: webhooks must still be taken.
    readiness_response(checks.await.map(|sending| {
        let mut report = sending.report();
        report.insert("outbound_queued".into(), json!(sending.queued()));
        report
    }))
}
