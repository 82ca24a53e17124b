//! Webhooks to the gateway, shaped, signed and retried like Meta's: status
//! updates after an accepted message, and injected inbound messages.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use tokio::sync::mpsc;

use crate::recorder::{WebhookDelivery, WebhookKind};
use crate::state::Shared;

/// Most statuses Meta puts in one POST.
const MAX_BATCH: usize = 1000;

/// A customer's message to inject (`POST /_sim/inbound`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundSpec {
    /// The customer's phone number (digits, an optional `+`).
    pub from: String,
    /// The text they write.
    pub text: String,
    /// Their WhatsApp profile name.
    #[serde(default)]
    pub name: Option<String>,
    /// The wamid they reply to (`context.id`).
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Meta's `timestamp` (Unix seconds); default now. An old timestamp opens
    /// the window in the past (e.g. 25 h ago: already closed).
    #[serde(default)]
    pub timestamp: Option<i64>,
}

impl InboundSpec {
    /// A text from `from`.
    pub fn text(from: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            from: from.into(),
            text: text.into(),
            name: None,
            reply_to: None,
            timestamp: None,
        }
    }
}

/// The result of an injection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedInbound {
    /// The wamid of the injected message.
    pub wamid: String,
    /// The gateway's HTTP status on the first attempt; `None` if it could not
    /// be reached. A non-2xx answer is retried in the background, like Meta.
    pub status_code_from_gateway: Option<u16>,
    /// Why the first attempt failed, if it did.
    pub error: Option<String>,
}

/// One status update to send.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StatusEvent {
    pub wamid: String,
    pub status: &'static str,
    /// Meta's timestamp, Unix seconds.
    pub timestamp: i64,
    pub recipient: String,
    pub callback_data: Option<String>,
    pub pricing: Option<Value>,
    pub errors: Option<Value>,
}

impl StatusEvent {
    fn to_json(&self) -> Value {
        let mut s = Map::new();
        s.insert("id".into(), self.wamid.clone().into());
        s.insert("status".into(), self.status.into());
        s.insert("timestamp".into(), self.timestamp.to_string().into());
        let recipient_key = if whatsapp::is_business_scoped_user_id(&self.recipient) {
            "recipient_user_id"
        } else {
            "recipient_id"
        };
        s.insert(recipient_key.into(), self.recipient.clone().into());
        if let Some(data) = &self.callback_data {
            s.insert("biz_opaque_callback_data".into(), data.clone().into());
        }
        if let Some(p) = &self.pricing {
            s.insert("pricing".into(), p.clone());
        }
        if let Some(e) = &self.errors {
            s.insert("errors".into(), e.clone());
        }
        Value::Object(s)
    }
}

/// `pricing` of a sent/delivered status: per-message pricing (PMP).
pub(crate) fn pricing(category: Option<&str>) -> Value {
    match category {
        None => json!({
            "billable": false, "pricing_model": "PMP",
            "category": "service", "type": "free_customer_service"
        }),
        Some(c) => json!({
            "billable": true, "pricing_model": "PMP", "category": c, "type": "regular"
        }),
    }
}

/// `statuses[].errors` of a failed status.
pub(crate) fn status_errors(code: i64, title: &str, details: &str) -> Value {
    json!([{
        "code": code,
        "title": title,
        "message": title,
        "error_data": { "details": details },
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
    }])
}

fn envelope(shared: &Shared, value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": shared.waba_id,
            "changes": [{ "value": value, "field": "messages" }]
        }]
    })
}

fn metadata(shared: &Shared) -> Value {
    json!({
        "display_phone_number": shared.display_phone_number,
        "phone_number_id": shared.phone_number_id
    })
}

pub(crate) fn statuses_payload(shared: &Shared, events: &[StatusEvent]) -> Value {
    envelope(
        shared,
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(shared),
            "statuses": events.iter().map(StatusEvent::to_json).collect::<Vec<_>>()
        }),
    )
}

pub(crate) fn inbound_payload(
    shared: &Shared,
    spec: &InboundSpec,
    wa_id: &str,
    wamid: &str,
    timestamp: i64,
) -> Value {
    let mut message = Map::new();
    message.insert("from".into(), wa_id.into());
    message.insert("id".into(), wamid.into());
    message.insert("timestamp".into(), timestamp.to_string().into());
    if let Some(id) = &spec.reply_to {
        message.insert(
            "context".into(),
            json!({ "from": shared.display_phone_number, "id": id }),
        );
    }
    message.insert("type".into(), "text".into());
    message.insert("text".into(), json!({ "body": spec.text }));
    envelope(
        shared,
        json!({
            "messaging_product": "whatsapp",
            "metadata": metadata(shared),
            "contacts": [{
                "profile": { "name": spec.name.clone().unwrap_or_else(|| "Simulated Customer".into()) },
                "wa_id": wa_id
            }],
            "messages": [Value::Object(message)]
        }),
    )
}

/// The body to send and its `X-Hub-Signature-256`, over exactly those bytes.
pub(crate) fn signed_body(shared: &Shared, payload: &Value) -> (Vec<u8>, String) {
    let text = payload.to_string();
    let bytes = if shared.escape_non_ascii {
        whatsapp::escape_non_ascii(&text).into_bytes()
    } else {
        text.into_bytes()
    };
    let signature = whatsapp::sign(shared.app_secret.expose().as_bytes(), &bytes);
    (bytes, signature)
}

/// Schedules each event at its delay after now (on the simulator's runtime).
pub(crate) fn schedule(shared: &Arc<Shared>, events: Vec<(Duration, StatusEvent)>) {
    for (delay, event) in events {
        let shared = Arc::clone(shared);
        shared.runtime.clone().spawn(async move {
            tokio::time::sleep(delay).await;
            if shared.is_stopped() {
                return;
            }
            let batching = shared.lock().status_webhooks.batch_ms.is_some();
            if batching {
                let _ = shared.batch_tx.send(event);
            } else {
                deliver_statuses(shared, vec![event]).await;
            }
        });
    }
}

/// Collects statuses for `batch_ms` and sends them together.
pub(crate) async fn run_batcher(
    shared: std::sync::Weak<Shared>,
    mut rx: mpsc::UnboundedReceiver<StatusEvent>,
) {
    while let Some(first) = rx.recv().await {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let window = Duration::from_millis(strong.lock().status_webhooks.batch_ms.unwrap_or(0));
        let deadline = tokio::time::Instant::now() + window;
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(e)) => batch.push(e),
                Ok(None) | Err(_) => break,
            }
        }
        strong
            .runtime
            .clone()
            .spawn(deliver_statuses(strong, batch));
    }
}

async fn deliver_statuses(shared: Arc<Shared>, events: Vec<StatusEvent>) {
    let payload = statuses_payload(&shared, &events);
    let (body, signature) = signed_body(&shared, &payload);
    let target = Target {
        kind: WebhookKind::Status,
        wamids: events.iter().map(|e| e.wamid.clone()).collect(),
        statuses: events.iter().map(|e| e.status.to_string()).collect(),
    };
    let first = post_once(&shared, &target, &body, &signature, 1).await;
    if !first.succeeded() {
        retry(shared, target, body, signature).await;
    }
}

/// Sends an inbound webhook: the first attempt now (its result is returned),
/// retries in the background.
pub(crate) async fn deliver_inbound(
    shared: Arc<Shared>,
    wamid: String,
    body: Vec<u8>,
    signature: String,
) -> InjectedInbound {
    let target = Target {
        kind: WebhookKind::Inbound,
        wamids: vec![wamid.clone()],
        statuses: Vec::new(),
    };
    let first = post_once(&shared, &target, &body, &signature, 1).await;
    if !first.succeeded() {
        let s = Arc::clone(&shared);
        shared.runtime.spawn(retry(s, target, body, signature));
    }
    InjectedInbound {
        wamid,
        status_code_from_gateway: first.http_status,
        error: first.error,
    }
}

struct Target {
    kind: WebhookKind,
    wamids: Vec<String>,
    statuses: Vec<String>,
}

async fn retry(shared: Arc<Shared>, target: Target, body: Vec<u8>, signature: String) {
    for (i, delay) in shared.webhook_retry_delays.clone().into_iter().enumerate() {
        tokio::time::sleep(delay).await;
        if shared.is_stopped() {
            return;
        }
        let attempt = u32::try_from(i + 2).unwrap_or(u32::MAX);
        if post_once(&shared, &target, &body, &signature, attempt)
            .await
            .succeeded()
        {
            return;
        }
    }
    tracing::warn!(
        kind = ?target.kind,
        wamids = ?target.wamids,
        "webhook not accepted after every retry; dropped"
    );
}

async fn post_once(
    shared: &Shared,
    target: &Target,
    body: &[u8],
    signature: &str,
    attempt: u32,
) -> WebhookDelivery {
    let url = shared.lock().webhook_url.clone();
    let started = std::time::Instant::now();
    let (http_status, error) = match url {
        None => (None, Some("no webhook URL configured".to_string())),
        Some(url) => {
            let sent = shared
                .http
                .post(&url)
                .header("content-type", "application/json")
                .header(whatsapp::SIGNATURE_HEADER, signature)
                .header("user-agent", "facebookexternalua")
                .body(body.to_vec())
                .send()
                .await;
            match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // Read the body so the connection can be reused.
                    let _ = resp.bytes().await;
                    let error = (!(200..300).contains(&status))
                        .then(|| format!("gateway answered HTTP {status}"));
                    (Some(status), error)
                }
                Err(e) => (None, Some(format!("webhook POST failed: {e}"))),
            }
        }
    };
    let delivery = WebhookDelivery {
        kind: target.kind,
        wamids: target.wamids.clone(),
        statuses: target.statuses.clone(),
        attempt,
        http_status,
        error,
        at: crate::timefmt::now_ms(),
        elapsed_ms: started.elapsed().as_secs_f64() * 1000.0,
    };
    if let Some(e) = &delivery.error {
        tracing::debug!(kind = ?target.kind, attempt, error = %e, "webhook attempt failed");
    }
    shared.lock().recorder.deliveries.push(delivery.clone());
    delivery
}
