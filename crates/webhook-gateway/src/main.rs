use service_runtime::Env;
use webhook_gateway::{Application, Settings};

/// mimalloc rather than glibc's malloc: under a status storm glibc's allocator took about a
/// third of each service's CPU (fragmented free lists searched on every allocation;
/// measured with `perf` during `cargo xtask bench loop`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_runtime::telemetry::init("webhook-gateway");
    let settings = match Settings::from_env(&Env::from_process()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "configuration error");
            eprintln!("webhook-gateway: {e}");
            std::process::exit(2);
        }
    };
    let app = Application::build(settings)?;
    tracing::info!(
        port = app.port(),
        admin_port = app.admin_port(),
        "webhook gateway listening"
    );
    app.run_until_stopped().await?;
    Ok(())
}
