//! [`SimulatorClient`]: the admin HTTP API from another process (xtask, benchmarks).

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use time::OffsetDateTime;

use crate::admin::WindowRequest;
use crate::config::{StatusWebhooks, TemplateSpec};
use crate::error::SimulatorError;
use crate::faults::Faults;
use crate::recorder::{MarkedRead, ReceivedMessage, Stats, WebhookDelivery};
use crate::state::{ConfigPatch, RuntimeConfig};
use crate::webhooks::{InboundSpec, InjectedInbound};

/// Drives a simulator through its admin API (`/_sim/*`).
#[derive(Debug, Clone)]
pub struct SimulatorClient {
    base: String,
    http: reqwest::Client,
}

impl SimulatorClient {
    /// A client for the simulator at `base_url` (e.g. `http://127.0.0.1:54340`).
    pub fn new(base_url: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self::with_http(base_url, http)
    }

    /// The same with a client of your own.
    pub fn with_http(base_url: impl Into<String>, http: reqwest::Client) -> Self {
        Self {
            base: base_url.into().trim_end_matches('/').to_string(),
            http,
        }
    }

    /// The simulator's base URL (also its Graph API base).
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}/_sim{path}", self.base)
    }

    async fn check(resp: reqwest::Response) -> Result<reqwest::Response, SimulatorError> {
        let status = resp.status();
        if status.is_success() {
            Ok(resp)
        } else {
            Err(SimulatorError::Status {
                status: status.as_u16(),
                body: resp.text().await.unwrap_or_default(),
            })
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, SimulatorError> {
        let resp = self.http.get(self.url(path)).send().await?;
        Ok(Self::check(resp).await?.json().await?)
    }

    async fn send_json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &B,
    ) -> Result<T, SimulatorError> {
        let resp = self
            .http
            .request(method, self.url(path))
            .json(body)
            .send()
            .await?;
        Ok(Self::check(resp).await?.json().await?)
    }

    async fn no_content(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<(), SimulatorError> {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            req = req.json(b);
        }
        Self::check(req.send().await?).await.map(|_| ())
    }

    /// `GET /_sim/health`.
    pub async fn health(&self) -> Result<(), SimulatorError> {
        self.get::<serde_json::Value>("/health").await.map(|_| ())
    }

    /// Polls `health` until it answers or `timeout` passes (for a simulator
    /// started as a separate process).
    pub async fn wait_until_ready(&self, timeout: Duration) -> Result<(), SimulatorError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match self.health().await {
                Ok(()) => return Ok(()),
                Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => {
                    return Err(SimulatorError::Timeout(format!(
                        "the simulator at {} to answer ({e})",
                        self.base
                    )))
                }
            }
        }
    }

    /// `GET /_sim/messages`.
    pub async fn received(&self) -> Result<Vec<ReceivedMessage>, SimulatorError> {
        self.get("/messages").await
    }

    /// `DELETE /_sim/messages`.
    pub async fn reset_received(&self) -> Result<(), SimulatorError> {
        self.no_content(reqwest::Method::DELETE, "/messages", None)
            .await
    }

    /// `GET /_sim/marked-read`.
    pub async fn marked_read(&self) -> Result<Vec<MarkedRead>, SimulatorError> {
        self.get("/marked-read").await
    }

    /// `GET /_sim/stats`.
    pub async fn stats(&self) -> Result<Stats, SimulatorError> {
        self.get("/stats").await
    }

    /// `GET /_sim/webhooks`.
    pub async fn webhook_deliveries(&self) -> Result<Vec<WebhookDelivery>, SimulatorError> {
        self.get("/webhooks").await
    }

    /// `POST /_sim/inbound` with a text from `from`.
    pub async fn inject_inbound(
        &self,
        from: &str,
        text: &str,
    ) -> Result<InjectedInbound, SimulatorError> {
        self.inject(&InboundSpec::text(from, text)).await
    }

    /// `POST /_sim/inbound`.
    pub async fn inject(&self, spec: &InboundSpec) -> Result<InjectedInbound, SimulatorError> {
        self.send_json(reqwest::Method::POST, "/inbound", spec)
            .await
    }

    /// `POST /_sim/window` (now).
    pub async fn open_window(&self, to: &str) -> Result<(), SimulatorError> {
        self.window(to, None).await
    }

    /// `POST /_sim/window` with the time `to` last wrote.
    pub async fn set_last_inbound(
        &self,
        to: &str,
        at: OffsetDateTime,
    ) -> Result<(), SimulatorError> {
        self.window(to, Some(at)).await
    }

    async fn window(&self, to: &str, at: Option<OffsetDateTime>) -> Result<(), SimulatorError> {
        let body = serde_json::to_value(WindowRequest {
            to: to.into(),
            last_inbound_at: at,
        })
        .map_err(|e| SimulatorError::Internal(e.to_string()))?;
        self.no_content(reqwest::Method::POST, "/window", Some(&body))
            .await
    }

    /// `DELETE /_sim/window/{to}`.
    pub async fn close_window(&self, to: &str) -> Result<(), SimulatorError> {
        let id = crate::request::normalize_recipient(to).ok_or_else(|| {
            SimulatorError::InvalidRequest(
                "to must be a phone number or a business-scoped user id".into(),
            )
        })?;
        let path = format!("/window/{id}");
        self.no_content(reqwest::Method::DELETE, &path, None).await
    }

    /// `GET /_sim/faults`.
    pub async fn faults(&self) -> Result<Faults, SimulatorError> {
        self.get("/faults").await
    }

    /// `POST /_sim/faults`: replaces the faults in force.
    pub async fn set_faults(&self, faults: &Faults) -> Result<Faults, SimulatorError> {
        self.send_json(reqwest::Method::POST, "/faults", faults)
            .await
    }

    /// `DELETE /_sim/faults`.
    pub async fn clear_faults(&self) -> Result<(), SimulatorError> {
        self.no_content(reqwest::Method::DELETE, "/faults", None)
            .await
    }

    /// `GET /_sim/templates`.
    pub async fn templates(&self) -> Result<Vec<TemplateSpec>, SimulatorError> {
        self.get("/templates").await
    }

    /// `POST /_sim/templates`.
    pub async fn add_template(&self, template: &TemplateSpec) -> Result<(), SimulatorError> {
        self.send_json::<_, TemplateSpec>(reqwest::Method::POST, "/templates", template)
            .await
            .map(|_| ())
    }

    /// `POST /_sim/templates/change`: Meta changes a template (and sends its webhooks).
    pub async fn change_template(
        &self,
        change: &crate::config::TemplateChange,
    ) -> Result<TemplateSpec, SimulatorError> {
        self.send_json(reqwest::Method::POST, "/templates/change", change)
            .await
    }

    /// `GET /_sim/config`.
    pub async fn config(&self) -> Result<RuntimeConfig, SimulatorError> {
        self.get("/config").await
    }

    /// `PATCH /_sim/config`.
    pub async fn patch_config(&self, patch: &ConfigPatch) -> Result<RuntimeConfig, SimulatorError> {
        self.send_json(reqwest::Method::PATCH, "/config", patch)
            .await
    }

    /// Points webhooks at `url` (`""` stops them).
    pub async fn set_webhook_url(&self, url: &str) -> Result<RuntimeConfig, SimulatorError> {
        self.patch_config(&ConfigPatch {
            webhook_url: Some(url.into()),
            ..ConfigPatch::default()
        })
        .await
    }

    /// Changes the throughput limit (`None`: unlimited).
    pub async fn set_max_mps(&self, max_mps: Option<u32>) -> Result<RuntimeConfig, SimulatorError> {
        self.patch_config(&ConfigPatch {
            max_mps: Some(max_mps.unwrap_or(0)),
            ..ConfigPatch::default()
        })
        .await
    }

    /// Changes how status webhooks follow accepted messages.
    pub async fn set_status_webhooks(
        &self,
        status_webhooks: &StatusWebhooks,
    ) -> Result<RuntimeConfig, SimulatorError> {
        self.patch_config(&ConfigPatch {
            status_webhooks: Some(status_webhooks.clone()),
            ..ConfigPatch::default()
        })
        .await
    }

    /// `POST /_sim/reset`: recorder, faults and windows back to the start.
    pub async fn reset(&self) -> Result<(), SimulatorError> {
        self.no_content(reqwest::Method::POST, "/reset", None).await
    }
}
