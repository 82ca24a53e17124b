use actix_web::{get, web, HttpResponse};

use crate::startup::AppState;

/// Prometheus text (admin listener only): webhooks by outcome, events by kind, ingest latency,
/// journal backlog, held replies (outcome unknown) and what became of them.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Ok(backlog) = state.svc.webhook_backlog().await {
        ::metrics::gauge!("gateway_journal_failed_webhooks").set(backlog.failed as f64);
        ::metrics::gauge!("gateway_early_statuses").set(backlog.early_statuses as f64);
    }
    if let Ok(held) = state.svc.held_outcomes().await {
        let r = held.replies;
        ::metrics::gauge!("gateway_outbound_held").set(r.held_now as f64);
        for (event, total) in [
            ("held", r.held),
            ("resolved_sent", r.resolved_sent),
            ("requeued", r.requeued),
            ("failed_unknown", r.failed_unknown),
        ] {
            ::metrics::counter!("gateway_outbound_held_outcomes_total", "event" => event)
                .absolute(u64::try_from(total).unwrap_or_default());
        }
    }
    service_runtime::http::metrics_response(&state.metrics)
}
