//! Building the worker from its settings: the HTTP endpoints, the scheduler and the
//! sender, with a graceful stop (SIGTERM) and, for tests, an abrupt one.

use std::net::TcpListener;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use graph_api::{GraphClient, GraphSettings};
use metrics_exporter_prometheus::PrometheusHandle;
use svc_client::SvcClient;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use whatsapp::RetryPolicy;

use crate::progress::ProgressGauges;
use crate::sender::{self, SenderSettings};
use crate::{routes, scheduler, Settings};

/// Shared by the HTTP handlers.
pub struct AppState {
    pub svc: SvcClient,
    pub phone_number_id: String,
    pub metrics: PrometheusHandle,
    pub progress: ProgressGauges,
}

/// The worker, bound to its address (port 0 picks a free one, for tests).
pub struct Application {
    port: u16,
    owner: String,
    server: Server,
    stop_sender: watch::Sender<bool>,
    sender: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

impl Application {
    /// Binds the HTTP listener and starts the scheduler and the sender (inside a tokio
    /// runtime).
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_owner(settings, graph_api::claim_loop::lease_owner("broadcast"))
    }

    /// [`Application::build`] with a chosen lease owner name.
    pub fn build_with_owner(settings: Settings, owner: String) -> anyhow::Result<Self> {
        settings.check()?;
        let listener = TcpListener::bind(settings.addr)
            .map_err(|e| anyhow::anyhow!("failed to bind {}: {e}", settings.addr))?;
        let port = listener.local_addr()?.port();
        let svc = SvcClient::new(&settings.supabase);
        let graph = GraphClient::new(&GraphSettings {
            base_url: settings.graph_url.clone(),
            api_version: settings.api_version.clone(),
            phone_number_id: settings.phone_number_id.clone(),
            access_token: settings.access_token.clone(),
            request_timeout: settings.request_timeout,
        })?;
        let sender_settings = SenderSettings {
            owner: owner.clone(),
            phone_number_id: settings.phone_number_id.clone(),
            max_mps: settings.max_mps,
            lease_seconds: settings.lease_seconds,
            messaging_limit: settings.messaging_limit.unique_users(),
            retry: RetryPolicy {
                max_age: settings.max_retry_age,
                base_delay: settings.retry_base_delay,
                ..RetryPolicy::default()
            },
            probe_seconds: settings.probe_seconds,
        };
        let (stop_sender, stop) = watch::channel(false);
        let scheduler = tokio::spawn(scheduler::run(svc.clone(), stop.clone()));
        let sender = tokio::spawn(sender::run(svc.clone(), graph, sender_settings, stop));

        let state = web::Data::new(AppState {
            svc,
            phone_number_id: settings.phone_number_id.clone(),
            metrics: service_runtime::metrics::prometheus_handle(),
            progress: ProgressGauges::default(),
        });
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .service(routes::healthz)
                .service(routes::readyz)
                .service(routes::metrics)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        tracing::info!(port, %owner, max_mps = settings.max_mps,
            messaging_limit = %settings.messaging_limit, "broadcast worker started");
        Ok(Self {
            port,
            owner,
            server,
            stop_sender,
            sender,
            scheduler,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The name its leases carry.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Serves until SIGTERM/Ctrl-C, then stops gracefully: no new claims, in-flight sends
    /// finish and are recorded, unsent claims are released.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let running = self.spawn();
        service_runtime::shutdown::signal().await;
        running.stop().await;
        Ok(())
    }

    /// Serves in the background (tests, benchmarks).
    pub fn spawn(self) -> RunningWorker {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        RunningWorker {
            port: self.port,
            owner: self.owner,
            handle,
            server,
            stop_sender: self.stop_sender,
            sender: self.sender,
            scheduler: self.scheduler,
        }
    }
}

/// A worker running in the background.
pub struct RunningWorker {
    pub port: u16,
    pub owner: String,
    handle: ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
    stop_sender: watch::Sender<bool>,
    sender: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

impl RunningWorker {
    /// Stops like SIGTERM does: no new claims, in-flight sends finish, claims are
    /// released, the HTTP server stops.
    pub async fn stop(self) {
        let _ = self.stop_sender.send(true);
        let _ = self.sender.await;
        let _ = self.scheduler.await;
        self.handle.stop(true).await;
        let _ = self.server.await;
        tracing::info!(owner = %self.owner, "broadcast worker stopped");
    }

    /// Stops abruptly, like kill -9: sends in the air are dropped unrecorded and claims
    /// stay leased until they expire.
    pub async fn kill(self) {
        self.sender.abort();
        self.scheduler.abort();
        let _ = self.sender.await;
        let _ = self.scheduler.await;
        self.handle.stop(false).await;
        self.server.abort();
    }
}
