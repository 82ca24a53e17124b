use actix_web::{get, web, HttpResponse};

use crate::startup::AppState;

/// Prometheus text (admin listener only): webhooks by outcome, events by kind, ingest latency, journal backlog.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(backlog) = state.svc.webhook_backlog().await {
        ::metrics::gauge!("gateway_journal_failed_webhooks").set(backlog.failed as f64);
        ::metrics::gauge!("gateway_early_statuses").set(backlog.early_statuses as f64);
    }
    service_runtime::http::metrics_response(&state.metrics)
}
