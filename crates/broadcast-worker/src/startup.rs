//! Building the worker from its settings: the public and admin HTTP listeners, the
//! scheduler and the sender, with a graceful stop (SIGTERM) and, for tests, an abrupt one.

use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use sending::graph::{GraphClient, GraphSettings};
use service_runtime::http::{admin_server, BoundListener, RunningServers, Servers};
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

/// The worker, bound to its two addresses (port 0 picks a free one, for tests): the
/// public one (`/healthz`) and the admin one (`/readyz`, `/metrics`, `/healthz`).
pub struct Application {
    port: u16,
    admin_port: u16,
    owner: String,
    servers: Servers,
    stop_sender: watch::Sender<bool>,
    sender: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

impl Application {
    /// Binds the HTTP listeners and starts the scheduler and the sender (inside a tokio
    /// runtime).
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_owner(settings, sending::claim_loop::lease_owner("broadcast"))
    }

    /// [`Application::build`] with a chosen lease owner name.
    pub fn build_with_owner(settings: Settings, owner: String) -> anyhow::Result<Self> {
        settings.check()?;
        let public = BoundListener::bind("WORKER_ADDR", settings.addr)?;
        let admin = BoundListener::bind("ADMIN_ADDR", settings.admin_addr)?;
        let (port, admin_port) = (public.port(), admin.port());
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
        let public = HttpServer::new(|| App::new().configure(routes::public))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(5)
            .listen(public.into_std())?
            .run();
        let admin = admin_server(admin, move |config: &mut web::ServiceConfig| {
            config.app_data(state.clone());
            routes::admin(config);
        })?;
        tracing::info!(port, admin_port, %owner, max_mps = settings.max_mps,
            messaging_limit = %settings.messaging_limit, "broadcast worker started");
        Ok(Self {
            port,
            admin_port,
            owner,
            servers: Servers::new(public, admin),
            stop_sender,
            sender,
            scheduler,
        })
    }

    /// The public port: `/healthz`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin port: `/readyz`, `/metrics` and `/healthz`.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
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
        RunningWorker {
            port: self.port,
            admin_port: self.admin_port,
            owner: self.owner,
            servers: self.servers.spawn(),
            stop_sender: self.stop_sender,
            sender: self.sender,
            scheduler: self.scheduler,
        }
    }
}

/// A worker running in the background.
pub struct RunningWorker {
    pub port: u16,
    pub admin_port: u16,
    pub owner: String,
    servers: RunningServers,
    stop_sender: watch::Sender<bool>,
    sender: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

impl RunningWorker {
    /// Stops like SIGTERM does: no new claims, in-flight sends finish, claims are
    /// released, the HTTP servers stop.
    pub async fn stop(self) {
        let _ = self.stop_sender.send(true);
        let _ = self.sender.await;
        let _ = self.scheduler.await;
        if let Err(e) = self.servers.stop().await {
            tracing::error!(error = %e, "the worker's HTTP servers failed while stopping");
        }
        tracing::info!(owner = %self.owner, "broadcast worker stopped");
    }

    /// Stops abruptly, like kill -9: sends in the air are dropped unrecorded and claims
    /// stay leased until they expire.
    pub async fn kill(self) {
        self.sender.abort();
        self.scheduler.abort();
        let _ = self.sender.await;
        let _ = self.scheduler.await;
        self.servers.kill().await;
    }
}
