use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use svc_client::SvcClient;

use crate::routes;
use crate::Settings;

/// Shared by every request handler.
pub struct AppState {
    pub settings: Settings,
    pub svc: SvcClient,
}

/// The gateway, bound to its address (port 0 picks a free one, for tests).
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.addr)
            .map_err(|e| anyhow::anyhow!("failed to bind {}: {e}", settings.addr))?;
        let port = listener.local_addr()?.port();
        let svc = SvcClient::new(&settings.supabase);
        let state = web::Data::new(AppState { settings, svc });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .service(routes::health::healthz)
                .service(routes::health::readyz)
        })
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/Ctrl-C, then stops gracefully (in-flight requests finish).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        service_runtime::shutdown::signal().await;
        handle.stop(true).await;
        server.await??;
        Ok(())
    }

    /// For tests: serve in the background until the runtime ends.
    pub fn spawn(self) -> u16 {
        let port = self.port;
        tokio::spawn(self.server);
        port
    }
}
