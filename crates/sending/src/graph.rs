//! The Graph API client: sends one request to the Cloud API's messages endpoint and
//! says what became of it.
//!
//! The distinction that matters is whether Meta may have received the request:
//! - [`SendOutcome::NotSent`]: the connection was never made; sending again is safe.
//! - [`SendOutcome::Unknown`]: the request left but no answer came (timeout, reset);
//!   the API has no idempotency key, so sending again may deliver a duplicate.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use service_runtime::Secret;
use whatsapp::{ErrorClass, GraphError, OutboundRequest, SendResponse};

/// Where and as whom to send.
#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// e.g. `https://graph.facebook.com` (the simulator's URL locally).
    pub base_url: String,
    /// e.g. `v23.0`.
    pub api_version: String,
    pub phone_number_id: String,
    pub access_token: Secret,
    /// The whole request's deadline; past it the outcome is unknown.
    pub request_timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    /// Meta accepted the message (not yet delivered): its wamid.
    Accepted { wamid: String },
    /// Meta answered with an error.
    Rejected {
        http_status: u16,
        class: ErrorClass,
        error: Option<Box<GraphError>>,
        retry_after: Option<Duration>,
    },
    /// No connection was made: safe to send again.
    NotSent { reason: String },
    /// The request may have reached Meta but no usable answer came back.
    Unknown { reason: String },
}

#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    messages_url: String,
    access_token: Secret,
}

impl GraphClient {
    pub fn new(settings: &GraphSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            http,
            messages_url: format!(
                "{}/{}/{}/messages",
                settings.base_url.trim_end_matches('/'),
                settings.api_version,
                settings.phone_number_id
            ),
            access_token: settings.access_token.clone(),
        })
    }

    /// POST /{version}/{phone-number-id}/messages.
    pub async fn send(&self, request: &OutboundRequest) -> SendOutcome {
        let response = self
            .http
            .post(&self.messages_url)
            .bearer_auth(self.access_token.expose())
            .json(&request.to_request_body())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(e) if e.is_connect() => {
                return SendOutcome::NotSent {
                    reason: e.to_string(),
                }
            }
            Err(e) => {
                return SendOutcome::Unknown {
                    reason: e.to_string(),
                }
            }
        };
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) if (200..300).contains(&status) => {
                return SendOutcome::Unknown {
                    reason: format!("accepted but the answer was lost: {e}"),
                }
            }
            Err(_) => Default::default(),
        };
        if (200..300).contains(&status) {
            return match request.message {
                whatsapp::OutboundMessage::MarkRead { .. } => SendOutcome::Accepted {
                    wamid: String::new(),
                },
                _ => match SendResponse::parse(&body) {
                    Ok(r) => SendOutcome::Accepted { wamid: r.wamid },
                    Err(e) => SendOutcome::Unknown {
                        reason: format!("2xx without a wamid: {e}"),
                    },
                },
            };
        }
        let error = GraphError::parse(&body).map(Box::new);
        let class = error
            .as_ref()
            .map(|e| e.classify(status))
            .unwrap_or_else(|| whatsapp::classify(None, Some(status)));
        SendOutcome::Rejected {
            http_status: status,
            class,
            error,
            retry_after,
        }
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(whatsapp::parse_retry_after)
}
