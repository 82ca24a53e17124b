use actix_web::{get, web, HttpResponse};
use serde_json::Value;

use crate::startup::AppState;

/// Prometheus text (admin listener only): webhooks by outcome, events by kind, ingest latency, journal backlog.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(backlog) = state
        .svc
        .call::<Value>("webhook_backlog", &serde_json::json!({}))
        .await
    {
        let failed = backlog.get("failed").and_then(Value::as_f64).unwrap_or(0.0);
        let early = backlog
            .get("early_statuses")
            .and_then(Value::as_f64)
            .unwrap_or(0.0);
        ::metrics::gauge!("gateway_journal_failed_webhooks").set(failed);
        ::metrics::gauge!("gateway_early_statuses").set(early);
    }
    service_runtime::http::metrics_response(&state.metrics)
}
