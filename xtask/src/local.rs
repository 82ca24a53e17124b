//! The local wiring of `cargo xtask up`: addresses and the development credentials the
//! gateway, the worker and the simulator share (never real Meta credentials).

use crate::dev_stack;

pub const GATEWAY_ADDR: &str = "127.0.0.1:8080";
pub const WORKER_ADDR: &str = "127.0.0.1:8081";
/// The services' admin listeners (`ADMIN_ADDR`: /readyz, /metrics), their defaults.
pub const GATEWAY_ADMIN_ADDR: &str = "127.0.0.1:8090";
pub const WORKER_ADMIN_ADDR: &str = "127.0.0.1:8091";
pub const SIMULATOR_ADDR: &str = "127.0.0.1:54340";
/// The stand-in for Supabase Auth's admin invite endpoint (no Auth server runs locally).
pub const AUTH_STANDIN_ADDR: &str = "127.0.0.1:54341";
/// The business number of Meta's documented examples.
pub const PHONE_NUMBER_ID: &str = "106540352242922";
/// The WhatsApp Business Account of Meta's documented examples (the simulator's default).
/// The worker gets no `WHATSAPP_WABA_ID` locally: the seed's hand-made templates are not
/// the simulator's, and a sync would mark them removed. Export
/// `WHATSAPP_WABA_ID=102290129340398` before `cargo xtask up` to try the sync.
pub const WABA_ID: &str = "102290129340398";
pub const ACCESS_TOKEN: &str = "local-dev-access-token";
pub const APP_SECRET: &str = "local-dev-app-secret";
pub const VERIFY_TOKEN: &str = "local-dev-verify-token";
/// The key of signed media links (the gateway gives it to the database at start).
pub const MEDIA_LINK_SECRET: &str = "local-dev-media-link-secret-0123456789";

pub fn gateway_url() -> String {
    format!("http://{GATEWAY_ADDR}")
}

pub fn auth_standin_url() -> String {
    format!("http://{AUTH_STANDIN_ADDR}")
}

pub fn simulator_url() -> String {
    format!("http://{SIMULATOR_ADDR}")
}

/// The environment of every service of the local setup.
pub fn service_env() -> Vec<(String, String)> {
    let mut env = dev_stack::env_lines();
    for (k, v) in [
        ("GATEWAY_ADDR", GATEWAY_ADDR),
        ("WORKER_ADDR", WORKER_ADDR),
        ("SIM_ADDR", SIMULATOR_ADDR),
        ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID),
        ("SIM_WABA_ID", WABA_ID),
        ("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN),
        ("WHATSAPP_APP_SECRET", APP_SECRET),
        ("WHATSAPP_VERIFY_TOKEN", VERIFY_TOKEN),
        ("MEDIA_LINK_SECRET", MEDIA_LINK_SECRET),
        ("WHATSAPP_API_VERSION", "v23.0"),
        ("WHATSAPP_MAX_MPS", "80"),
        ("SIM_MAX_MPS", "80"),
        ("LOG_FORMAT", "pretty"),
    ] {
        env.push((k.into(), v.into()));
    }
    env.push(("WHATSAPP_GRAPH_URL".into(), simulator_url()));
    let media_dir = testkit::layout::Layout::discover().state().join("media");
    env.push(("MEDIA_STORE".into(), media_dir.display().to_string()));
    env.push(("SUPABASE_AUTH_URL".into(), auth_standin_url()));
    env.push((
        "SIM_WEBHOOK_URL".into(),
        format!("{}/webhooks/whatsapp", gateway_url()),
    ));
    env
}
