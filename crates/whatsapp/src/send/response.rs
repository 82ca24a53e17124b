//! What the messages endpoint answers: the success body and Meta's error envelope.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::classify::{classify, ErrorClass};

/// A response body that is not what it should be.
#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    /// Not JSON at all.
    #[error("response body is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// JSON, but without the expected field (e.g. `messages[0].id`).
    #[error("response body has no {0}")]
    MissingField(&'static str),
}

/// A successful send: `{ messaging_product, contacts: [ { input, wa_id } ],
/// messages: [ { id } ] }`. It means **accepted**, not delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResponse {
    /// `messages[0].id`: the wamid that status webhooks will refer to.
    pub wamid: String,
    /// `contacts[0].input`: the recipient as we sent it.
    pub input: Option<String>,
    /// `contacts[0].wa_id`: the recipient's WhatsApp id, if Meta reports it.
    pub wa_id: Option<String>,
    /// `messages[0].message_status` (e.g. `accepted`, `held_for_quality_assessment`
    /// for some marketing templates), if present.
    pub message_status: Option<String>,
}

impl SendResponse {
    /// Parses a 2xx body of the messages endpoint.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let v: Value = serde_json::from_slice(body).map_err(ResponseError::InvalidJson)?;
        let message = v.get("messages").and_then(|m| m.get(0));
        let wamid = message
            .and_then(|m| m.get("id"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(ResponseError::MissingField("messages[0].id"))?;
        let contact = v.get("contacts").and_then(|c| c.get(0));
        let text = |parent: Option<&Value>, key: &str| {
            parent
                .and_then(|p| p.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Self {
            wamid: wamid.to_string(),
            input: text(contact, "input"),
            wa_id: text(contact, "wa_id"),
            message_status: text(message, "message_status"),
        })
    }
}

/// The answer to a mark-as-read request: `{ "success": true }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkReadResponse {
    /// Whether Meta accepted it.
    pub success: bool,
}

impl MarkReadResponse {
    /// Parses a 2xx body of a mark-as-read request.
    pub fn parse(body: &[u8]) -> Result<Self, ResponseError> {
        let v: Value = serde_json::from_slice(body).map_err(ResponseError::InvalidJson)?;
        let success = v
            .get("success")
            .and_then(Value::as_bool)
            .ok_or(ResponseError::MissingField("success"))?;
        Ok(Self { success })
    }
}

/// Meta's error envelope: `{ "error": { "message", "type", "code",
/// "error_subcode", "error_user_title", "error_user_msg",
/// "error_data": { "messaging_product", "details" }, "fbtrace_id" } }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphError {
    /// `error.message`.
    pub message: Option<String>,
    /// `error.type`, e.g. `OAuthException`.
    pub error_type: Option<String>,
    /// `error.code`, e.g. 131047: what to decide on.
    pub code: Option<i64>,
    /// `error.error_subcode`.
    pub error_subcode: Option<i64>,
    /// `error.error_user_title`.
    pub error_user_title: Option<String>,
    /// `error.error_user_msg`.
    pub error_user_msg: Option<String>,
    /// `error.error_data.details`: the useful explanation.
    pub details: Option<String>,
    /// `error.fbtrace_id`, for Meta support.
    pub fbtrace_id: Option<String>,
    /// The `error` object as received, for `messages.error_data`.
    pub raw: Value,
}

impl GraphError {
    /// Parses an error body. `None` if it is not JSON or has no `error` object
    /// (then classify on the HTTP status alone).
    pub fn parse(body: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(body).ok()?;
        let error = v.get("error")?.as_object()?;
        let text = |key: &str| error.get(key).and_then(Value::as_str).map(str::to_string);
        let int = |key: &str| {
            error.get(key).and_then(|c| match c {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            })
        };
        Some(Self {
            message: text("message"),
            error_type: text("type"),
            code: int("code"),
            error_subcode: int("error_subcode"),
            error_user_title: text("error_user_title"),
            error_user_msg: text("error_user_msg"),
            details: error
                .get("error_data")
                .and_then(|d| d.get("details"))
                .and_then(Value::as_str)
                .map(str::to_string),
            fbtrace_id: text("fbtrace_id"),
            raw: Value::Object(error.clone()),
        })
    }

    /// [`classify`] with this error's code and the response's HTTP status.
    pub fn classify(&self, http_status: u16) -> ErrorClass {
        classify(self.code, Some(http_status))
    }
}

impl std::fmt::Display for GraphError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Graph API error {}",
            self.code.map_or_else(|| "?".to_string(), |c| c.to_string())
        )?;
        if let Some(sub) = self.error_subcode {
            write!(f, " (subcode {sub})")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(d) = &self.details {
            write!(f, " ({d})")?;
        }
        Ok(())
    }
}

impl std::error::Error for GraphError {}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_send_response_yields_the_wamid() {
        let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}"#;
        assert_eq!(
            SendResponse::parse(body).unwrap(),
            SendResponse {
                wamid: "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA".into(),
                input: Some("+16505551234".into()),
                wa_id: Some("16505551234".into()),
                message_status: None,
            }
        );
    }

    #[test]
    fn a_template_send_may_carry_a_message_status() {
        let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"1","wa_id":"1"}],"messages":[{"id":"wamid.X","message_status":"accepted"}]}"#;
        assert_eq!(
            SendResponse::parse(body).unwrap().message_status.as_deref(),
            Some("accepted")
        );
    }

    #[test]
    fn a_send_response_without_id_is_an_error() {
        assert!(matches!(
            SendResponse::parse(br#"{"messages":[]}"#),
            Err(ResponseError::MissingField("messages[0].id"))
        ));
        assert!(matches!(
            SendResponse::parse(b"<html>"),
            Err(ResponseError::InvalidJson(_))
        ));
    }

    #[test]
    fn mark_read_response() {
        assert!(
            MarkReadResponse::parse(br#"{"success":true}"#)
                .unwrap()
                .success
        );
        assert!(MarkReadResponse::parse(br#"{}"#).is_err());
    }

    #[test]
    fn a_graph_error_envelope_is_parsed() {
        let body = json!({
            "error": {
                "message": "(#131047) Re-engagement message",
                "type": "OAuthException",
                "code": 131047,
                "error_subcode": 2494010,
                "error_data": {
                    "messaging_product": "whatsapp",
                    "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."
                },
                "fbtrace_id": "AbCdEf123"
            }
        });
        let e = GraphError::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(e.code, Some(131_047));
        assert_eq!(e.error_subcode, Some(2_494_010));
        assert_eq!(e.error_type.as_deref(), Some("OAuthException"));
        assert_eq!(e.fbtrace_id.as_deref(), Some("AbCdEf123"));
        assert!(e
            .details
            .as_deref()
            .unwrap_or_default()
            .contains("24 hours"));
        assert_eq!(e.raw, body["error"]);
        assert_eq!(e.classify(400), ErrorClass::WindowClosed);
        assert_eq!(
            e.to_string(),
            "Graph API error 131047 (subcode 2494010): (#131047) Re-engagement message (Message failed to send because more than 24 hours have passed since the customer last replied to this number.)"
        );
    }

    #[test]
    fn a_body_without_error_object_is_none() {
        assert_eq!(GraphError::parse(b"Bad Gateway"), None);
        assert_eq!(GraphError::parse(br#"{"error":"x"}"#), None);
        assert_eq!(GraphError::parse(br#"{}"#), None);
    }
}
