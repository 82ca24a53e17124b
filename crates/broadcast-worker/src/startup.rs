//! Building the worker from its settings: the public and admin HTTP listeners, the
//! scheduler and the sender. Serving and stopping (SIGTERM, or abruptly in tests) are
//! `service_runtime::Service`'s.

use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use sending::claim_loop::lease_owner;
use service_runtime::http::{admin_server_with_state, Servers};
use service_runtime::{BackgroundTasks, RunningService, Service};
use svc_client::SvcClient;

use crate::progress::ProgressGauges;
use crate::{messaging_limit, routes, scheduler, sender, template_sync, Settings};

/// Shared by the HTTP handlers.
pub struct AppState {
    pub svc: SvcClient,
    pub phone_number_id: String,
    pub metrics: PrometheusHandle,
    pub progress: ProgressGauges,
}

/// A worker running in the background.
pub type RunningWorker = RunningService;

/// The worker, bound to its two addresses (port 0 picks a free one, for tests): the
/// public one (`/healthz`) and the admin one (`/readyz`, `/metrics`, `/healthz`).
pub struct Application;

impl Application {
    /// Binds the HTTP listeners and starts the scheduler and the sender (inside a tokio
    /// runtime).
    pub fn build(settings: Settings) -> anyhow::Result<Service> {
        settings.check()?;
        let (public, admin) = settings.listen.bind()?;
        let (port, admin_port) = (public.port(), admin.port());
        let svc = SvcClient::new(&settings.supabase);
        let graph = settings.sending.graph_client()?;
        let owner = lease_owner("broadcast");
        let sender_settings = settings.sending.sender(owner.clone());
        let mut tasks = BackgroundTasks::default();
        tasks.spawn(scheduler::run(svc.clone(), tasks.stop_signal()));
        tasks.spawn(template_sync::run(
            svc.clone(),
            graph.clone(),
            settings.template_sync.clone(),
            owner.clone(),
            tasks.stop_signal(),
        ));
        let (limit_svc, phone_number_id) =
            (svc.clone(), settings.sending.graph.phone_number_id.clone());
        let (configured, learn) = (settings.messaging_limit, settings.learn_messaging_limit);
        let sender_stop = tasks.stop_signal();
        tasks.spawn(async move {
            let limit = if learn {
                messaging_limit::learned_or(&limit_svc, &phone_number_id, configured).await
            } else {
                configured
            };
            tracing::info!(messaging_limit = %limit, learned = learn, "messaging limit");
            sender::run(
                limit_svc,
                graph,
                sender_settings,
                limit.unique_users(),
                sender_stop,
            )
            .await
        });

        let state = web::Data::new(AppState {
            svc,
            phone_number_id: settings.sending.graph.phone_number_id.clone(),
            metrics: service_runtime::metrics::prometheus_handle(),
            progress: ProgressGauges::default(),
        });
        let public = HttpServer::new(|| App::new().configure(routes::public))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(5)
            .listen(public.into_std())?
            .run();
        let admin = admin_server_with_state(admin, state, routes::admin)?;
        tracing::info!(port, admin_port, %owner, max_mps = settings.sending.max_mps,
            "broadcast worker started");
        let servers = Servers::new(public, admin);
        Ok(Service::new(
            "broadcast worker",
            (port, admin_port),
            servers,
            tasks,
        ))
    }
}
