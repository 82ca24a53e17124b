//! Building the gateway from its settings: the public and admin HTTP listeners, the
//! ingestor, and the background senders (agents' replies and read receipts, when
//! `OUTBOUND_SENDER` is on; invitations, when `INVITATION_SENDER` is on) and the journal's
//! retention (`WEBHOOK_RETENTION`). Serving and stopping are `service_runtime::Service`'s.

use actix_web::{web, App, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use sending::claim_loop::lease_owner;
use service_runtime::http::{admin_server_with_state, Servers};
use service_runtime::{BackgroundTasks, RunningService, Service};
use svc_client::batch::Calls;
use svc_client::SvcClient;

use crate::ingest::Ingestor;
use crate::routes;
use crate::sender;
use crate::Settings;

/// How webhooks are shared among calls to the database (see `ingest::batcher`): up to 64
/// per call, two calls at once, the second only when 32 wait or the first has taken 10 ms.
const INGEST_CALLS: Calls = Calls {
    max_batch: 64,
    max_calls: 2,
    another_at: 32,
    another_after: std::time::Duration::from_millis(10),
};
/// How long an idle webhook connection is kept open (75 s, as nginx keeps them).
const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(75);

/// Shared by every request handler.
pub struct AppState {
    pub settings: Settings,
    pub svc: SvcClient,
    pub ingestor: Ingestor,
    pub media_store: crate::media::MediaStore,
    pub metrics: PrometheusHandle,
}

/// A gateway serving in the background (tests).
pub type RunningApp = RunningService;

/// The gateway, bound to its two addresses (port 0 picks a free one, for tests): the
/// public one (webhooks, `/healthz`) and the admin one (`/readyz`, `/metrics`, `/healthz`).
pub struct Application;

impl Application {
    pub fn build(settings: Settings) -> anyhow::Result<Service> {
        settings.sending.check_max_mps()?;
        let (public, admin) = settings.listen.bind()?;
        let ports = (public.port(), admin.port());
        let svc = SvcClient::new(&settings.supabase);
        let ingestor = Ingestor::start(svc.clone(), INGEST_CALLS);
        let mut tasks = BackgroundTasks::default();
        let media_store = crate::media::MediaStore::open(&settings.media.store)?;
        let media_graph = crate::media::graph::MediaGraph::new(
            &settings.sending.graph.base_url,
            &settings.sending.graph.api_version,
            settings.sending.graph.access_token.clone(),
            settings.media.request_timeout,
        )?;
        if settings.outbound_sender {
            let graph = settings.sending.graph_client()?;
            let sender_settings = settings.sending.sender(lease_owner("gateway"));
            tasks.spawn(sender::read_receipts::run(
                svc.clone(),
                graph.clone(),
                sender_settings.owner.clone(),
                sender_settings.lease_seconds,
                tasks.stop_signal(),
            ));
            let uploader = sender::media_upload::MediaUploader {
                store: media_store.clone(),
                graph: media_graph.clone(),
                phone_number_id: sender_settings.phone_number_id.clone(),
            };
            tasks.spawn(sender::run(
                svc.clone(),
                graph,
                uploader,
                sender_settings,
                tasks.stop_signal(),
            ));
        } else {
            tracing::info!("outbound sender is off (OUTBOUND_SENDER=off)");
        }
        if settings.invitations.enabled {
            tasks.spawn(sender::invitations::run(
                svc.clone(),
                settings.supabase.service_role_key.clone(),
                settings.invitations.clone(),
                lease_owner("gateway"),
                tasks.stop_signal(),
            ));
        } else {
            tracing::info!("invitation sender is off (INVITATION_SENDER=off)");
        }
        if let Some(secret) = settings.media.link_secret.clone() {
            let public_url = settings
                .media
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{}", ports.0));
            tasks.spawn(crate::media::configure_links(
                svc.clone(),
                secret,
                public_url,
                settings.media.link_ttl,
                tasks.stop_signal(),
            ));
        } else {
            tracing::warn!("MEDIA_LINK_SECRET is unset: media links are neither minted nor served");
        }
        tasks.spawn(crate::media::erasure::run(
            svc.clone(),
            media_store.clone(),
            lease_owner("gateway"),
            settings.media.erasure_poll,
            tasks.stop_signal(),
        ));
        tasks.spawn(crate::media::upload_cleanup::run(
            svc.clone(),
            media_store.clone(),
            settings.media.upload_lifetime,
            settings.media.erasure_poll,
            tasks.stop_signal(),
        ));
        if settings.media.fetcher {
            let fetcher = crate::media::fetcher::Fetcher {
                svc: svc.clone(),
                graph: media_graph,
                store: media_store.clone(),
                settings: settings.media.clone(),
                owner: lease_owner("gateway"),
            };
            tasks.spawn(fetcher.run(tasks.stop_signal()));
        } else {
            tracing::info!("media fetcher is off (MEDIA_FETCHER=off)");
        }
        // Always: erasures pending in the journal are carried out here (pg_cron only prunes).
        if !settings.journal_retention.enabled {
            tracing::info!("webhook journal retention is off here (WEBHOOK_RETENTION=off); journal erasures still run");
        }
        // Always: status-only webhooks are acknowledged once journaled, applied here.
        tasks.spawn(crate::ingest::applier::run(
            svc.clone(),
            tasks.stop_signal(),
        ));
        tasks.spawn(crate::ingest::retention::run(
            svc.clone(),
            settings.journal_retention.clone(),
            tasks.stop_signal(),
        ));
        let state = web::Data::new(AppState {
            settings,
            svc,
            ingestor,
            media_store,
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
        // Longer than the idle time of the clients' and load balancers' pools (a
        // connection closed while idle can meet a webhook sent on it: "connection closed
        // before message completed" at the sender, 16 in one bench loop run with actix's
        // 5 s), as Meta's webhook sender reuses connections.
        .keep_alive(KEEP_ALIVE)
        .listen(public.into_std())?
        .run();
        let servers = Servers::new(
            public,
            admin_server_with_state(admin, state, routes::admin)?,
        );
        Ok(Service::new("webhook gateway", ports, servers, tasks))
    }
}
