use anyhow::Context;
use broadcast_worker::{Application, Settings};
use service_runtime::Env;
use svc_client::SvcClient;

/// mimalloc rather than glibc's malloc: under a status storm glibc's allocator took about a
/// third of each service's CPU (fragmented free lists searched on every allocation;
/// measured with `perf` during `cargo xtask bench loop`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    let pong = SvcClient::new(&settings.supabase)
        .ping()
        .await
        .context("failed to reach the database API at start-up")?;
    tracing::info!(%pong, phone_number_id = %settings.sending.graph.phone_number_id, "database API reachable");
    let app = Application::build(settings)?;
    tracing::info!(
        port = app.port(),
        admin_port = app.admin_port(),
        "broadcast worker listening"
    );
    app.run_until_stopped().await?;
    Ok(())
}
