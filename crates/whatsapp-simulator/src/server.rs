//! Starting a simulator and driving it in-process.

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{error, web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::config::{SimulatorConfig, StatusWebhooks, TemplateSpec};
use crate::error::{MetaError, SimulatorError};
use crate::faults::Faults;
use crate::recorder::{MarkedRead, ReceivedMessage, Recorder, Stats, WebhookDelivery};
use crate::request::normalize_recipient;
use crate::state::{ConfigPatch, RuntimeConfig, Shared};
use crate::webhooks::{self, InboundSpec, InjectedInbound};
use crate::{admin, graph, media};

/// Largest request body accepted (Meta's limit for a message is far below).
const MAX_BODY: usize = 1024 * 1024;

/// Starts simulators. See [`Simulator::start`].
pub struct Simulator;

impl Simulator {
    /// Binds `config.addr`, serves the Graph API subset and the admin API, and
    /// returns a handle. Must run inside a tokio runtime; webhook deliveries run
    /// on that runtime.
    pub async fn start(config: SimulatorConfig) -> Result<SimulatorHandle, SimulatorError> {
        let listener = TcpListener::bind(config.addr).map_err(|source| SimulatorError::Bind {
            addr: config.addr,
            source,
        })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SimulatorError::Bind {
                addr: config.addr,
                source,
            })?;
        // Idle connections dropped before a server's keep-alive could close them under a
        // webhook (the gateway keeps them 75 s).
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .pool_idle_timeout(std::time::Duration::from_secs(60))
            .build()?;
        let workers = config.workers.max(1);
        let (batch_tx, batch_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared::new(
            config,
            http,
            tokio::runtime::Handle::current(),
            batch_tx,
        ));
        let batcher = tokio::spawn(webhooks::run_batcher(Arc::downgrade(&shared), batch_rx));

        let data = web::Data::from(Arc::clone(&shared));
        let server =
            HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .app_data(web::PayloadConfig::new(MAX_BODY))
                    .app_data(web::JsonConfig::default().limit(MAX_BODY).error_handler(
                        |err, _req| {
                            let message = err.to_string();
                            error::InternalError::from_response(
                                err,
                                HttpResponse::BadRequest().json(json!({ "error": message })),
                            )
                            .into()
                        },
                    ))
                    .configure(media::admin_routes)
                    .configure(admin::routes)
                    .configure(graph::routes)
                    .configure(media::graph_routes)
                    .default_service(web::to(unknown_path))
            })
            .workers(workers)
            .disable_signals()
            .shutdown_timeout(2)
            .listen(listener)
            .map_err(|source| SimulatorError::Bind { addr, source })?
            .run();
        let server_handle = server.handle();
        let task = tokio::spawn(server);
        tracing::info!(%addr, "whatsapp simulator listening");
        Ok(SimulatorHandle {
            shared,
            addr,
            server: server_handle,
            tasks: Arc::new(Mutex::new(Some((task, batcher)))),
        })
    }
}

pub(crate) async fn unknown_path(req: HttpRequest) -> HttpResponse {
    MetaError {
        http: actix_web::http::StatusCode::BAD_REQUEST,
        code: 2500,
        subcode: None,
        message: format!(
            "Unknown path components: {} {} (the simulator serves POST /{{version}}/{{phone-number-id}}/messages and /_sim/*)",
            req.method(),
            req.path()
        ),
        error_type: "OAuthException",
        title: None,
        details: None,
    }
    .response()
}

type Tasks = (JoinHandle<std::io::Result<()>>, JoinHandle<()>);

/// A running simulator. Cheap to clone; every clone drives the same simulator.
#[derive(Clone)]
pub struct SimulatorHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: ServerHandle,
    tasks: Arc<Mutex<Option<Tasks>>>,
}

impl std::fmt::Debug for SimulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorHandle")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port>`: the base of the Graph API (what
    /// `WHATSAPP_GRAPH_URL` takes, without the version) and of the admin API.
    pub fn graph_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The full messages URL for an API version, e.g. `v23.0`.
    pub fn messages_url(&self, version: &str) -> String {
        format!(
            "{}/{version}/{}/messages",
            self.graph_url(),
            self.shared.phone_number_id
        )
    }

    /// A [`crate::SimulatorClient`] for this simulator's admin API.
    pub fn client(&self) -> crate::SimulatorClient {
        crate::SimulatorClient::new(self.graph_url())
    }

    /// Accepted messages, in acceptance order.
    pub fn received(&self) -> Vec<ReceivedMessage> {
        self.shared.lock().recorder.messages.clone()
    }

    /// Accepted mark-as-read calls.
    pub fn marked_read(&self) -> Vec<MarkedRead> {
        self.shared.lock().recorder.marked_read.clone()
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        let inner = self.shared.lock();
        inner.recorder.stats(inner.max_mps)
    }

    /// Most messages accepted in any sliding 1-second window.
    pub fn max_in_any_one_second_window(&self) -> u32 {
        self.shared.lock().recorder.max_in_any_one_second_window()
    }

    /// Every webhook POST attempt so far.
    pub fn webhook_deliveries(&self) -> Vec<WebhookDelivery> {
        self.shared.lock().recorder.deliveries.clone()
    }

    /// Forgets what was received (messages, marks, stats, webhook log).
    pub fn reset_received(&self) {
        self.shared.lock().recorder = Recorder::default();
    }

    /// Waits until at least `n` messages were accepted; returns them all.
    pub async fn wait_for_received(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMessage>, SimulatorError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return Ok(received);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SimulatorError::Timeout(format!(
                    "{n} messages (got {})",
                    received.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Injects a customer's text message: a signed, Meta-shaped webhook to the
    /// gateway. Opens `from`'s 24-hour window.
    pub async fn inject_inbound(
        &self,
        from: &str,
        text: &str,
    ) -> Result<InjectedInbound, SimulatorError> {
        self.inject(InboundSpec::text(from, text)).await
    }

    /// [`SimulatorHandle::inject_inbound`] with every option.
    pub async fn inject(&self, spec: InboundSpec) -> Result<InjectedInbound, SimulatorError> {
        inject(Arc::clone(&self.shared), spec).await
    }

    /// The faults in force (with the remaining counts).
    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    /// Replaces the faults of the media endpoints.
    pub fn set_media_faults(&self, faults: crate::MediaFaults) {
        self.shared.media().set_faults(faults);
    }

    /// Counters of the media endpoints.
    pub fn media_stats(&self) -> crate::MediaStats {
        self.shared.media().stats()
    }

    /// The files uploaded through `POST /{phone-number-id}/media`, in order.
    pub fn media_uploads(&self) -> Vec<crate::UploadedMedia> {
        self.shared.media().uploads()
    }

    /// The bytes behind a media id.
    pub fn media_bytes(&self, media_id: &str) -> Option<web::Bytes> {
        self.shared.media().bytes(media_id)
    }

    /// Replaces the faults in force.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().faults = faults;
    }

    /// No more faults.
    pub fn clear_faults(&self) {
        self.shared.lock().faults = Faults::default();
    }

    /// Every request answers 401 code 190 until [`SimulatorHandle::restore_token`].
    pub fn revoke_token(&self) {
        self.shared.lock().faults.token_revoked = true;
    }

    /// Undoes [`SimulatorHandle::revoke_token`].
    pub fn restore_token(&self) {
        self.shared.lock().faults.token_revoked = false;
    }

    /// Sends webhooks to `url` from now on (also pending statuses and retries).
    pub fn set_webhook_url(&self, url: impl Into<String>) -> Result<(), SimulatorError> {
        self.shared
            .apply(ConfigPatch {
                webhook_url: Some(url.into()),
                ..ConfigPatch::default()
            })
            .map(|_| ())
            .map_err(SimulatorError::InvalidRequest)
    }

    /// Changes the throughput limit (`None`: unlimited).
    pub fn set_max_mps(&self, max_mps: Option<u32>) {
        self.shared.lock().max_mps = max_mps;
    }

    /// Changes how status webhooks follow accepted messages.
    pub fn set_status_webhooks(&self, status_webhooks: StatusWebhooks) {
        self.shared.lock().status_webhooks = status_webhooks;
    }

    /// Turns 131047 enforcement on or off.
    pub fn set_enforce_window(&self, enforce: bool) {
        self.shared.lock().enforce_window = enforce;
    }

    /// The runtime settings.
    pub fn config(&self) -> RuntimeConfig {
        self.shared.runtime_config()
    }

    /// Opens `to`'s 24-hour window now (as if they had just written).
    pub fn open_window(&self, to: &str) -> Result<(), SimulatorError> {
        set_window(&self.shared, to, None)
    }

    /// Sets when `to` last wrote (older than 24 h: closed).
    pub fn set_last_inbound(&self, to: &str, at: OffsetDateTime) -> Result<(), SimulatorError> {
        set_window(&self.shared, to, Some(at))
    }

    /// Closes `to`'s window.
    pub fn close_window(&self, to: &str) {
        if let Some(wa_id) = normalize_recipient(to) {
            self.shared.lock().windows.remove(&wa_id);
        }
    }

    /// Approves another template (replacing one with the same name and language).
    pub fn add_template(&self, template: TemplateSpec) {
        add_template(&self.shared, template);
    }

    /// Changes a template's status and/or category as Meta would, and sends the matching
    /// webhooks (in the background, retried like Meta); the template as it is now.
    pub fn change_template(
        &self,
        change: crate::config::TemplateChange,
    ) -> Result<TemplateSpec, SimulatorError> {
        change_template(&self.shared, change)
    }

    /// Stops serving (in-flight requests get 2 s) and stops sending webhooks.
    pub async fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
        self.server.stop(true).await;
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((server, batcher)) = tasks {
            batcher.abort();
            let _ = server.await;
        }
        tracing::info!(addr = %self.addr, "whatsapp simulator stopped");
    }
}

pub(crate) fn set_window(
    shared: &Shared,
    to: &str,
    at: Option<OffsetDateTime>,
) -> Result<(), SimulatorError> {
    let wa_id = normalize_recipient(to).ok_or_else(|| {
        SimulatorError::InvalidRequest(
            "to must be a phone number or a business-scoped user id".into(),
        )
    })?;
    shared
        .lock()
        .windows
        .insert(wa_id, at.unwrap_or_else(OffsetDateTime::now_utc));
    Ok(())
}

pub(crate) fn add_template(shared: &Shared, template: TemplateSpec) {
    let mut inner = shared.lock();
    inner
        .templates
        .retain(|t| !(t.name == template.name && t.language == template.language));
    inner.templates.push(template);
}

pub(crate) fn change_template(
    shared: &Arc<Shared>,
    change: crate::config::TemplateChange,
) -> Result<TemplateSpec, SimulatorError> {
    let (before, after) = {
        let mut inner = shared.lock();
        let t = inner
            .templates
            .iter_mut()
            .find(|t| t.name == change.name && t.language == change.language)
            .ok_or_else(|| {
                SimulatorError::InvalidRequest(format!(
                    "no template {} in {}",
                    change.name, change.language
                ))
            })?;
        let before = t.clone();
        if let Some(status) = &change.status {
            t.status = status.to_ascii_uppercase();
        }
        if let Some(category) = &change.category {
            t.category = category.to_ascii_lowercase();
        }
        (before, t.clone())
    };
    let id: i64 = after.meta_id().parse().unwrap_or_default();
    let mut payloads = Vec::new();
    if change.status.is_some() {
        payloads.push(crate::webhooks::account_change_payload(
            shared,
            "message_template_status_update",
            serde_json::json!({
                "event": after.status,
                "message_template_id": id,
                "message_template_name": after.name,
                "message_template_language": after.language,
                "message_template_category": after.category.to_ascii_uppercase(),
                "reason": change.reason.clone().unwrap_or_else(|| "NONE".into()),
            }),
        ));
    }
    if change.category.is_some() {
        payloads.push(crate::webhooks::account_change_payload(
            shared,
            "template_category_update",
            serde_json::json!({
                "message_template_id": id,
                "message_template_name": after.name,
                "message_template_language": after.language,
                "previous_category": before.category.to_ascii_uppercase(),
                "new_category": after.category.to_ascii_uppercase(),
            }),
        ));
    }
    crate::webhooks::deliver_template_changes(shared, payloads);
    Ok(after)
}

pub(crate) async fn inject(
    shared: Arc<Shared>,
    spec: InboundSpec,
) -> Result<InjectedInbound, SimulatorError> {
    let wa_id = normalize_recipient(&spec.from)
        .filter(|id| !whatsapp::is_business_scoped_user_id(id))
        .ok_or_else(|| {
            SimulatorError::InvalidRequest(
                "from must be a phone number (digits, an optional +)".into(),
            )
        })?;
    if spec.text.is_empty() && spec.media.is_none() {
        return Err(SimulatorError::InvalidRequest(
            "text must not be empty".into(),
        ));
    }
    let timestamp = match spec.timestamp {
        Some(ts) => OffsetDateTime::from_unix_timestamp(ts).map_err(|e| {
            SimulatorError::InvalidRequest(format!("timestamp {ts} is out of range: {e}"))
        })?,
        None => OffsetDateTime::now_utc(),
    };
    let wamid = graph::new_wamid();
    let attachment = spec.media.as_ref().map(|m| shared.media().register(m));
    let payload = webhooks::inbound_payload(
        &shared,
        &spec,
        &wa_id,
        &wamid,
        timestamp.unix_timestamp(),
        attachment
            .as_ref()
            .map(|(kind, object)| (*kind, object.clone())),
    );
    {
        let mut inner = shared.lock();
        if inner.webhook_url.is_none() {
            return Err(SimulatorError::NoWebhookUrl);
        }
        // The user wrote, whatever the gateway answers.
        inner.open_window(wa_id.clone(), timestamp);
    }
    let (body, signature) = webhooks::signed_body(&shared, &payload);
    tracing::info!(from = %whatsapp::mask_phone(&wa_id), wamid = %wamid, "injecting inbound message");
    // Deliver on the simulator's runtime, where its HTTP client lives.
    let runtime = shared.runtime.clone();
    runtime
        .spawn(webhooks::deliver_inbound(shared, wamid, body, signature))
        .await
        .map_err(|e| SimulatorError::Internal(format!("inbound delivery task failed: {e}")))
}
