//! The two HTTP listeners of every service: the public one (what the outside world calls)
//! and the admin one (`ADMIN_ADDR`: `/readyz` and `/metrics`, for monitoring only, since
//! they reveal why sending is paused, queue depths and database errors, and each request
//! costs database calls).
//!
//! - [`listener`]: binding at start-up, the error naming the variable.
//! - [`admin`]: the admin server and the `/metrics` response.
//! - [`servers`]: both servers served and stopped together.

pub mod admin;
pub mod listener;
pub mod servers;

pub use admin::{admin_server, admin_server_with_state, metrics_response};
pub use listener::{BindError, BoundListener, ListenSettings};
pub use servers::{RunningServers, Servers};

use actix_web::{get, HttpResponse};

/// Alive: the process answers (on both listeners).
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// The body of `/readyz`: 200 `{"status": "ready", ...fields}` once the service's checks
/// passed, else 503 `{"status": "unavailable", "reason": ...}` (logged).
pub fn readiness_response<E: std::fmt::Display>(
    checked: Result<serde_json::Map<String, serde_json::Value>, E>,
) -> HttpResponse {
    match checked {
        Ok(mut fields) => {
            fields.insert("status".into(), "ready".into());
            HttpResponse::Ok().json(fields)
        }
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable()
                .json(serde_json::json!({ "status": "unavailable", "reason": e.to_string() }))
        }
    }
}
