//! The gateway's routes, split by listener: the public one faces Meta, the admin one
//! (`ADMIN_ADDR`) faces monitoring only.

pub mod health;
pub mod media;
pub mod media_upload;
pub mod metrics;
pub mod webhook;

use actix_web::web;

/// The public listener (`GATEWAY_ADDR`): WhatsApp's webhooks, signed media and upload links and `/healthz`.
pub fn public(config: &mut web::ServiceConfig) {
    config
        .app_data(webhook::payload_config())
        .service(service_runtime::http::healthz)
        .service(webhook::verify)
        .service(webhook::receive)
        .service(media::serve)
        .service(media_upload::receive)
        .service(media_upload::preflight);
}

/// The admin listener (`ADMIN_ADDR`, which also serves `/healthz`): readiness, with why
/// sending is paused and database errors, and metrics, with queue depths.
pub fn admin(config: &mut web::ServiceConfig) {
    config.service(health::readyz).service(metrics::metrics);
}
