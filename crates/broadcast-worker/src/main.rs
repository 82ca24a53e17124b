use anyhow::Context;
use broadcast_worker::config::Settings;
use service_runtime::Env;
use svc_client::SvcClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_runtime::telemetry::init("broadcast-worker");
    let settings = match Settings::from_env(&Env::from_process()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "configuration error");
            eprintln!("broadcast-worker: {e}");
            std::process::exit(2);
        }
    };
    let svc = SvcClient::new(&settings.supabase);
    let pong = svc
        .ping()
        .await
        .context("failed to reach the database API at start-up")?;
    tracing::info!(%pong, phone_number_id = %settings.whatsapp_phone_number_id, max_mps = settings.max_mps, "broadcast worker started");
    service_runtime::shutdown::signal().await;
    Ok(())
}
