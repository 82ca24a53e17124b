//! The worker's routes, split by listener: the public one (`WORKER_ADDR`) says only that
//! the process is alive; the admin one (`ADMIN_ADDR`, monitoring only) serves readiness,
//! with why sending is paused and database errors, and metrics, with queue depths.

use actix_web::{get, web, HttpResponse};
use sending::readiness::SendingReadiness;
use service_runtime::http::readiness_response;

use crate::startup::AppState;

/// The public listener: `/healthz` only.
pub fn public(config: &mut web::ServiceConfig) {
    config.service(service_runtime::http::healthz);
}

/// The admin listener (which also serves `/healthz`): `/readyz` and `/metrics`.
pub fn admin(config: &mut web::ServiceConfig) {
    config.service(readyz).service(metrics);
}

/// Ready: PostgREST and the database answer. A paused number keeps the worker ready
/// (it probes and resumes by itself) but says so.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let checks = async {
        state.svc.ping().await?;
        SendingReadiness::check(&state.svc, &state.phone_number_id).await
    };
    readiness_response(checks.await.map(|sending| sending.report()))
}

/// Prometheus text: sends by outcome, send latency, database call latency, and per
/// sending broadcast its recipients by status, backlog and achieved rate.
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    if let Err(e) = state.progress.refresh(&state.svc).await {
        tracing::warn!(error = %e, "broadcast progress unavailable for /metrics");
    }
    if let Ok(held) = state.svc.held_outcomes().await {
        let b = held.broadcasts;
        ::metrics::gauge!("broadcast_recipients_held").set(b.held_now as f64);
        for (event, total) in [
            ("held", b.held),
            ("resolved_sent", b.resolved_sent),
            ("requeued", b.requeued),
            ("failed_unknown", b.failed_unknown),
        ] {
            ::metrics::counter!("broadcast_held_outcomes_total", "event" => event)
                .absolute(u64::try_from(total).unwrap_or_default());
        }
    }
    service_runtime::http::metrics_response(&state.metrics)
}
