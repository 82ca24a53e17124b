//! `whatsapp-simulator`: the Graph API stand-in as a process of its own.
//! Configuration from the environment (see `SimulatorConfig::from_env`).

use service_runtime::Env;
use whatsapp_simulator::{Simulator, SimulatorConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    service_runtime::telemetry::init("whatsapp-simulator");
    let config = match SimulatorConfig::from_env(&Env::from_process()) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "configuration error");
            eprintln!("whatsapp-simulator: {e}");
            std::process::exit(2);
        }
    };
    let max_mps = config.max_mps;
    let webhook_url = config.webhook_url.clone();
    let sim = Simulator::start(config).await?;
    tracing::info!(
        graph_url = %sim.graph_url(),
        webhook_url = webhook_url.as_deref().unwrap_or("(none yet)"),
        max_mps = ?max_mps,
        "whatsapp simulator ready: set WHATSAPP_GRAPH_URL to graph_url"
    );
    service_runtime::shutdown::signal().await;
    sim.stop().await;
    Ok(())
}
