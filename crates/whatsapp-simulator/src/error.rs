//! Errors: the Graph API's error envelope as the simulator answers it
//! ([`MetaError`]) and what the Rust API can fail with ([`SimulatorError`]).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::{json, Map, Value};

use crate::faults::title_of;

/// What can go wrong when starting or driving a simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The listen address is taken or not available.
    #[error("failed to bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A webhook was asked for but no webhook URL is configured.
    #[error("no webhook URL is configured (set SIM_WEBHOOK_URL, PATCH /_sim/config or call set_webhook_url)")]
    NoWebhookUrl,
    /// The caller's input is not acceptable (a bad URL, an empty `from`, ...).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The HTTP call to the simulator's admin API failed.
    #[error("request to the simulator failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The admin API answered something else than 2xx.
    #[error("the simulator answered HTTP {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// Response body.
        body: String,
    },
    /// A bug or a stopped runtime.
    #[error("internal error: {0}")]
    Internal(String),
    /// Waited too long for something (readiness, a number of messages).
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

/// One error answer of the Graph API, in Meta's envelope:
///
/// ```json
/// { "error": { "message": "(#131047) Re-engagement message", "type": "OAuthException",
///   "code": 131047, "error_subcode": 2494010,
///   "error_data": { "messaging_product": "whatsapp", "details": "..." },
///   "fbtrace_id": "A..." } }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetaError {
    pub http: StatusCode,
    pub code: i64,
    pub subcode: Option<i64>,
    pub message: String,
    pub error_type: &'static str,
    pub title: Option<String>,
    pub details: Option<String>,
}

impl MetaError {
    /// `(#code) title` with `error_data.details`, the usual Cloud API form.
    pub fn coded(http: StatusCode, code: i64, title: &str, details: impl Into<String>) -> Self {
        Self {
            http,
            code,
            subcode: None,
            message: format!("(#{code}) {title}"),
            error_type: "OAuthException",
            title: Some(title.to_string()),
            details: Some(details.into()),
        }
    }

    /// 400, code 100, a message saying what is wrong with the request.
    pub fn invalid(message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            http: StatusCode::BAD_REQUEST,
            code: 100,
            subcode: None,
            message: format!("(#100) {message}"),
            error_type: "OAuthException",
            title: None,
            details: Some(message),
        }
    }

    /// 401, code 190.
    pub fn token(message: &str, subcode: Option<i64>) -> Self {
        Self {
            http: StatusCode::UNAUTHORIZED,
            code: 190,
            subcode,
            message: message.into(),
            error_type: "OAuthException",
            title: None,
            details: None,
        }
    }

    /// 500 code 1 or 503 code 2.
    pub fn server(unavailable: bool) -> Self {
        let (http, code) = if unavailable {
            (StatusCode::SERVICE_UNAVAILABLE, 2)
        } else {
            (StatusCode::INTERNAL_SERVER_ERROR, 1)
        };
        Self {
            http,
            code,
            subcode: None,
            message: title_of(code).into(),
            error_type: "OAuthException",
            title: None,
            details: None,
        }
    }

    /// 400 code 130429.
    pub fn throughput() -> Self {
        Self::coded(
            StatusCode::BAD_REQUEST,
            130_429,
            title_of(130_429),
            "Cloud API message throughput has been reached.",
        )
    }

    /// The JSON envelope.
    pub fn body(&self) -> Value {
        let mut e = Map::new();
        e.insert("message".into(), self.message.clone().into());
        e.insert("type".into(), self.error_type.into());
        e.insert("code".into(), self.code.into());
        if let Some(sub) = self.subcode {
            e.insert("error_subcode".into(), sub.into());
        }
        if let Some(title) = &self.title {
            e.insert("error_user_title".into(), title.clone().into());
        }
        if let Some(details) = &self.details {
            e.insert("error_user_msg".into(), details.clone().into());
            e.insert(
                "error_data".into(),
                json!({ "messaging_product": "whatsapp", "details": details }),
            );
        }
        e.insert("fbtrace_id".into(), fbtrace_id().into());
        json!({ "error": Value::Object(e) })
    }

    pub fn response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.http);
        if self.http == StatusCode::UNAUTHORIZED {
            // As Meta does; the messages of 401s here are fixed ASCII strings.
            let value = format!(
                "OAuth \"Facebook Platform\" \"invalid_token\" \"{}\"",
                self.message
                    .replace(|c: char| !c.is_ascii_graphic() && c != ' ', "")
                    .replace('"', "'")
            );
            builder.insert_header(("www-authenticate", value));
        }
        builder.json(self.body())
    }
}

fn fbtrace_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("A{}", &id[..22])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_parses_as_a_graph_error() {
        let e = MetaError::coded(
            StatusCode::BAD_REQUEST,
            131_047,
            "Re-engagement message",
            "more than 24 hours",
        );
        let parsed =
            whatsapp::GraphError::parse(e.body().to_string().as_bytes()).expect("an envelope");
        assert_eq!(parsed.code, Some(131_047));
        assert_eq!(
            parsed.message.as_deref(),
            Some("(#131047) Re-engagement message")
        );
        assert_eq!(parsed.details.as_deref(), Some("more than 24 hours"));
        assert!(parsed.fbtrace_id.is_some());
    }
}
