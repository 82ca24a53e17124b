//! The admin server: `/healthz` plus the service's own operational endpoints (`/readyz`,
//! `/metrics`), on the admin listener only.

use std::io;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;

use super::{healthz, BoundListener};

/// Seconds in-flight admin requests get to finish at shutdown.
const SHUTDOWN_TIMEOUT_SECS: u64 = 5;

/// Serves `/healthz` and what `routes` registers (with their app data) on `listener`,
/// with one worker: monitoring traffic is light. Call inside a tokio runtime.
pub fn admin_server<F>(listener: BoundListener, routes: F) -> io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let server = HttpServer::new(move || App::new().service(healthz).configure(routes.clone()))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_TIMEOUT_SECS)
        .listen(listener.into_std())?
        .run();
    Ok(server)
}

/// [`admin_server`] for `routes` that read `state` (their app data).
pub fn admin_server_with_state<T: Send + Sync + 'static>(
    listener: BoundListener,
    state: web::Data<T>,
    routes: fn(&mut web::ServiceConfig),
) -> io::Result<Server> {
    admin_server(listener, move |config: &mut web::ServiceConfig| {
        config.app_data(state.clone());
        routes(config);
    })
}

/// The body of `/metrics`: Prometheus text of everything the process recorded.
pub fn metrics_response(metrics: &PrometheusHandle) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics.render())
}
