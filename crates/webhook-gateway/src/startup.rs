use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use svc_client::SvcClient;

use graph_api::{GraphClient, GraphSettings};
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

/// The gateway, bound to its address (port 0 picks a free one, for tests).
pub struct Application {
    port: u16,
    server: Server,
    stop_sender: watch::Sender<bool>,
    sender: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.addr)
            .map_err(|e| anyhow::anyhow!("failed to bind {}: {e}", settings.addr))?;
        let port = listener.local_addr()?.port();
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
                owner: graph_api::claim_loop::lease_owner("gateway"),
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
                graph_api::claim_loop::lease_owner("gateway"),
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
        let server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .app_data(routes::webhook::payload_config())
                .service(routes::health::healthz)
                .service(routes::health::readyz)
                .service(routes::metrics::metrics)
                .service(routes::webhook::verify)
                .service(routes::webhook::receive)
        })
        .disable_signals()
        .shutdown_timeout(20)
        .listen(listener)?
        .run();
        Ok(Self {
            port,
            server,
            stop_sender,
            sender,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM/Ctrl-C, then stops gracefully (in-flight requests finish).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.server.handle();
        let server = tokio::spawn(self.server);
        service_runtime::shutdown::signal().await;
        let _ = self.stop_sender.send(true);
        handle.stop(true).await;
        for task in self.sender {
            let _ = task.await;
        }
        server.await??;
        Ok(())
    }

    /// For tests: serve in the background until the runtime ends.
    pub fn spawn(self) -> RunningApp {
        let handle = self.server.handle();
        tokio::spawn(self.server);
        RunningApp {
            port: self.port,
            handle,
            stop_sender: self.stop_sender,
            sender: self.sender,
        }
    }
}

/// A gateway serving in the background (tests).
pub struct RunningApp {
    pub port: u16,
    handle: actix_web::dev::ServerHandle,
    stop_sender: watch::Sender<bool>,
    sender: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningApp {
    /// Stops like SIGTERM does: no new claims, in-flight sends finish, server stops.
    pub async fn stop(self) {
        let _ = self.stop_sender.send(true);
        for task in self.sender {
            let _ = task.await;
        }
        self.handle.stop(true).await;
    }

    /// Stops abruptly, like kill -9: in-flight work is dropped unrecorded.
    pub async fn kill(self) {
        for task in self.sender {
            task.abort();
        }
        self.handle.stop(false).await;
    }
}
