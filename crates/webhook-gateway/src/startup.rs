use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use service_runtime::http::{admin_server, BoundListener, RunningServers, Servers};
use svc_client::SvcClient;

use sending::graph::{GraphClient, GraphSettings};
use tokio::sync::watch;
use whatsapp::RetryPolicy;

use crate::ingest::Ingestor;
use crate::routes;
use crate::sender::{self, SenderSettings};
use crate::Settings;

/// Concurrent ingest calls and webhooks per call (see `ingest::batcher`).
const INGEST_WORKERS: usize = 2;
const INGEST_MAX_BATCH: usize = 64;

/// Shared by every request handler.
pub struct AppState {
    pub settings: Settings,
    pub svc: SvcClient,
    pub ingestor: Ingestor,
    pub metrics: PrometheusHandle,
}

/// The gateway, bound to its two addresses (port 0 picks a free one, for tests): the
/// public one (webhooks, `/healthz`) and the admin one (`/readyz`, `/metrics`, `/healthz`).
pub struct Application {
    port: u16,
    admin_port: u16,
    servers: Servers,
    stop_sender: watch::Sender<bool>,
    sender: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let public = BoundListener::bind("GATEWAY_ADDR", settings.addr)?;
        let admin = BoundListener::bind("ADMIN_ADDR", settings.admin_addr)?;
        let (port, admin_port) = (public.port(), admin.port());
        let svc = SvcClient::new(&settings.supabase);
        let ingestor = Ingestor::start(svc.clone(), INGEST_WORKERS, INGEST_MAX_BATCH);
        let (stop_sender, stop) = watch::channel(false);
        let mut sender = if settings.outbound.enabled {
            let graph = GraphClient::new(&GraphSettings {
                base_url: settings.graph_url.clone(),
                api_version: settings.api_version.clone(),
                phone_number_id: settings.phone_number_id.clone(),
                access_token: settings.access_token.clone(),
                request_timeout: settings.outbound.request_timeout,
            })?;
            let sender_settings = SenderSettings {
                owner: sending::claim_loop::lease_owner("gateway"),
                phone_number_id: settings.phone_number_id.clone(),
                max_mps: settings.max_mps,
                lease_seconds: settings.outbound.lease_seconds,
                retry: RetryPolicy {
                    max_age: settings.outbound.max_retry_age,
                    base_delay: settings.outbound.retry_base_delay,
                    ..RetryPolicy::default()
                },
                probe_seconds: settings.outbound.probe_seconds,
            };
            let receipts = tokio::spawn(sender::read_receipts::run(
                svc.clone(),
                graph.clone(),
                sender_settings.owner.clone(),
                sender_settings.lease_seconds,
                stop.clone(),
            ));
            let replies = tokio::spawn(sender::run(
                svc.clone(),
                graph,
                sender_settings,
                stop.clone(),
            ));
            vec![replies, receipts]
        } else {
            tracing::info!("outbound sender is off (OUTBOUND_SENDER=off)");
            Vec::new()
        };
        if settings.invitations.enabled {
            sender.push(tokio::spawn(sender::invitations::run(
                svc.clone(),
                settings.supabase.service_role_key.clone(),
                settings.invitations.clone(),
                sending::claim_loop::lease_owner("gateway"),
                stop.clone(),
            )));
        } else {
            tracing::info!("invitation sender is off (INVITATION_SENDER=off)");
        }
        let state = web::Data::new(AppState {
            settings,
            svc,
            ingestor,
            metrics: service_runtime::metrics::prometheus_handle(),
        });
        let public_state = state.clone();
        let public = HttpServer::new(move || {
            App::new()
                .app_data(public_state.clone())
                .configure(routes::public)
        })
        .disable_signals()
        .shutdown_timeout(20)
        .listen(public.into_std())?
        .run();
        let admin = admin_server(admin, move |config: &mut web::ServiceConfig| {
            config.app_data(state.clone());
            routes::admin(config);
        })?;
        Ok(Self {
            port,
            admin_port,
            servers: Servers::new(public, admin),
            stop_sender,
            sender,
        })
    }

    /// The public port: webhooks and `/healthz`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin port: `/readyz`, `/metrics` and `/healthz`.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Serves until SIGTERM/Ctrl-C, then stops gracefully: no new claims, in-flight sends
    /// and requests finish.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let running = self.spawn();
        service_runtime::shutdown::signal().await;
        running.shutdown().await?;
        Ok(())
    }

    /// Serves in the background (tests).
    pub fn spawn(self) -> RunningApp {
        RunningApp {
            port: self.port,
            admin_port: self.admin_port,
            servers: self.servers.spawn(),
            stop_sender: self.stop_sender,
            sender: self.sender,
        }
    }
}

/// A gateway serving in the background (tests).
pub struct RunningApp {
    pub port: u16,
    pub admin_port: u16,
    servers: RunningServers,
    stop_sender: watch::Sender<bool>,
    sender: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningApp {
    /// Stops like SIGTERM does: no new claims, in-flight sends finish, servers stop.
    pub async fn stop(self) {
        if let Err(e) = self.shutdown().await {
            tracing::error!(error = %e, "the gateway's HTTP servers failed while stopping");
        }
    }

    async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.stop_sender.send(true);
        for task in self.sender {
            let _ = task.await;
        }
        self.servers.stop().await
    }

    /// Stops abruptly, like kill -9: in-flight work is dropped unrecorded.
    pub async fn kill(self) {
        for task in self.sender {
            task.abort();
        }
        self.servers.kill().await;
    }
}
