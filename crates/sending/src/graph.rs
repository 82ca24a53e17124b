//! The Graph API client: sends one request to the Cloud API's messages endpoint and
//! says what became of it.
//!
//! The distinction that matters is whether Meta may have received the request:
//! - [`SendOutcome::NotSent`]: the connection was never made; sending again is safe.
//! - [`SendOutcome::Unknown`]: the request left but no answer came (timeout, reset);
//!   the API has no idempotency key, so sending again may deliver a duplicate.

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use service_runtime::{ConfigError, Env, Secret};
use whatsapp::{
    ErrorClass, GraphError, OutboundRequest, SendResponse, TemplateListError, TemplatePage,
    TEMPLATE_LIST_FIELDS,
};

/// Meta's Graph API.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v23.0";

/// Where and as whom to send (`WHATSAPP_*`, the same in both services).
#[derive(Debug, Clone)]
pub struct GraphSettings {
    /// `WHATSAPP_GRAPH_URL` (default `https://graph.facebook.com`; the simulator's URL
    /// locally), without a trailing slash.
    pub base_url: String,
    /// `WHATSAPP_API_VERSION` (default `v23.0`).
    pub api_version: String,
    /// `WHATSAPP_PHONE_NUMBER_ID` (required): the number sent as.
    pub phone_number_id: String,
    /// `WHATSAPP_ACCESS_TOKEN` (required).
    pub access_token: Secret,
}

impl GraphSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: env
                .optional("WHATSAPP_GRAPH_URL")
                .unwrap_or_else(|| DEFAULT_GRAPH_URL.into())
                .trim_end_matches('/')
                .to_owned(),
            api_version: env
                .optional("WHATSAPP_API_VERSION")
                .unwrap_or_else(|| DEFAULT_API_VERSION.into()),
            phone_number_id: env.required("WHATSAPP_PHONE_NUMBER_ID")?,
            access_token: env.secret("WHATSAPP_ACCESS_TOKEN")?,
        })
    }

    /// For tests: this number and token at `base_url` (a simulator), the default version.
    pub fn for_tests(
        base_url: impl Into<String>,
        phone_number_id: &str,
        access_token: &str,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            api_version: DEFAULT_API_VERSION.into(),
            phone_number_id: phone_number_id.into(),
            access_token: Secret::new(access_token),
        }
    }

    /// A client whose requests give up after `request_timeout` (past it, the outcome is
    /// unknown).
    pub fn client(&self, request_timeout: Duration) -> Result<GraphClient, reqwest::Error> {
        GraphClient::new(self, request_timeout)
    }
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

/// Why a page of templates could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateListFailure {
    /// No answer (connection, timeout).
    #[error("the Graph API did not answer: {0}")]
    Unreachable(String),
    /// Meta answered with an error (e.g. 400 code 100 for an unknown WABA id, 190 for
    /// the token).
    #[error("the Graph API answered HTTP {http_status}{}", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Rejected { http_status: u16, code: Option<i64> },
    /// A 2xx that is not a template list.
    #[error(transparent)]
    Invalid(#[from] TemplateListError),
}

#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    /// `{base}/{version}`.
    api_url: String,
    messages_url: String,
    access_token: Secret,
}

impl GraphClient {
    fn new(settings: &GraphSettings, request_timeout: Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(crate::sender::MAX_IN_FLIGHT)
            .build()?;
        Ok(Self {
            http,
            api_url: format!(
                "{}/{}",
                settings.base_url.trim_end_matches('/'),
                settings.api_version
            ),
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

impl GraphClient {
    /// GET /{version}/{waba-id}/message_templates: one page of at most `limit`
    /// templates, after the cursor `after` (the first page when `None`).
    pub async fn list_templates(
        &self,
        waba_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<TemplatePage, TemplateListFailure> {
        let limit = limit.to_string();
        let mut query = vec![("fields", TEMPLATE_LIST_FIELDS), ("limit", limit.as_str())];
        if let Some(after) = after {
            query.push(("after", after));
        }
        let response = self
            .http
            .get(format!("{}/{waba_id}/message_templates", self.api_url))
            .bearer_auth(self.access_token.expose())
            .query(&query)
            .send()
            .await
            .map_err(|e| TemplateListFailure::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map_err(|e| TemplateListFailure::Unreachable(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(TemplateListFailure::Rejected {
                http_status: status,
                code: GraphError::parse(&body).and_then(|e| e.code),
            });
        }
        Ok(TemplatePage::parse(&body)?)
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(whatsapp::parse_retry_after)
}
