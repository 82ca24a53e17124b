//! The body of `POST /{version}/{phone-number-id}/messages`, checked the way the
//! Cloud API checks it. Raw JSON becomes a [`GraphRequest`] or a
//! [`MetaError`] (400, code 100, with a message naming the offending parameter).

use serde_json::{Map, Value};
use whatsapp::is_business_scoped_user_id;

use crate::error::MetaError;

/// Longest text body Meta accepts.
pub(crate) const MAX_TEXT: usize = 4096;
/// Longest media caption.
pub(crate) const MAX_CAPTION: usize = 1024;
/// Longest `biz_opaque_callback_data`.
pub(crate) const MAX_CALLBACK_DATA: usize = 512;

/// Message types the simulator accepts.
pub(crate) const TYPES: &[&str] = &[
    "audio",
    "contacts",
    "document",
    "image",
    "interactive",
    "location",
    "reaction",
    "sticker",
    "template",
    "text",
    "video",
];

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum GraphRequest {
    /// `{ messaging_product, status: "read", message_id }`.
    MarkRead { message_id: String },
    /// A message to send.
    Send(SendRequest),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SendRequest {
    /// `to` (or `recipient`) as sent.
    pub to: String,
    /// The recipient's WhatsApp id: the digits of a phone number, or the BSUID.
    pub wa_id: String,
    /// `type` (`text` when absent, as on Meta).
    pub message_type: String,
    pub template: Option<TemplateRef>,
    pub callback_data: Option<String>,
    pub reply_to: Option<String>,
    /// The request JSON as received.
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TemplateRef {
    pub name: String,
    pub language: String,
    pub body_params: usize,
}

/// `true` if the body looks like a mark-as-read request (for attempt counting,
/// before the body is checked).
pub(crate) fn looks_like_mark_read(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("status").is_some() && v.get("type").is_none())
}

/// The recipient's WhatsApp id: the BSUID itself, or the digits of a phone
/// number (`+34 600-123 456` -> `34600123456`). `None` when it is neither.
pub(crate) fn normalize_recipient(to: &str) -> Option<String> {
    let to = to.trim();
    if is_business_scoped_user_id(to) {
        return Some(to.to_string());
    }
    let rest = to.strip_prefix('+').unwrap_or(to);
    if rest.is_empty()
        || !rest
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    (1..=20).contains(&digits.len()).then_some(digits)
}

pub(crate) fn parse(raw: &[u8]) -> Result<GraphRequest, MetaError> {
    let value: Value = serde_json::from_slice(raw)
        .map_err(|e| MetaError::invalid(format!("The request body is not valid JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| MetaError::invalid("The request body must be a JSON object"))?;

    match obj.get("messaging_product") {
        None | Some(Value::Null) => {
            return Err(MetaError::invalid(
                "The parameter messaging_product is required.",
            ))
        }
        Some(Value::String(p)) if p == "whatsapp" => {}
        Some(other) => {
            return Err(MetaError::invalid(format!(
                "Param messaging_product must be one of {{WHATSAPP}} - got {}.",
                other
            )))
        }
    }

    if let Some(status) = obj.get("status") {
        return parse_mark_read(obj, status);
    }

    if let Some(rt) = obj.get("recipient_type") {
        if rt.as_str() != Some("individual") {
            return Err(MetaError::invalid(format!(
                "Param recipient_type must be one of {{INDIVIDUAL}} - got {rt}."
            )));
        }
    }

    let to_value = obj
        .get("to")
        .filter(|v| !v.is_null())
        .or_else(|| obj.get("recipient").filter(|v| !v.is_null()))
        .ok_or_else(|| MetaError::invalid("The parameter to is required."))?;
    let to = to_value
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| MetaError::invalid("Param to must be a non-empty string."))?;
    let wa_id = normalize_recipient(to).ok_or_else(|| {
        MetaError::invalid(
            "Param to must be a phone number in international format (digits, an optional +) \
             or a business-scoped user id.",
        )
    })?;

    let message_type = match obj.get("type") {
        None | Some(Value::Null) => "text".to_string(),
        Some(Value::String(t)) if TYPES.contains(&t.as_str()) => t.clone(),
        Some(other) => {
            return Err(MetaError::invalid(format!(
                "Param type must be one of {{{}}} - got {other}.",
                TYPES.join(", ").to_uppercase()
            )))
        }
    };

    let reply_to = match obj.get("context") {
        None | Some(Value::Null) => None,
        Some(ctx) => Some(
            ctx.get("message_id")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    MetaError::invalid("The parameter context['message_id'] is required.")
                })?
                .to_string(),
        ),
    };

    let callback_data = match obj.get("biz_opaque_callback_data") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.chars().count() <= MAX_CALLBACK_DATA => Some(s.clone()),
        Some(Value::String(_)) => {
            return Err(MetaError::invalid(format!(
            "Param biz_opaque_callback_data must be at most {MAX_CALLBACK_DATA} characters long."
        )))
        }
        Some(_) => {
            return Err(MetaError::invalid(
                "Param biz_opaque_callback_data must be a string.",
            ))
        }
    };

    let content = obj
        .get(&message_type)
        .filter(|v| !v.is_null())
        .ok_or_else(|| {
            MetaError::invalid(format!(
                "The parameter {message_type} is required (the content of a type {message_type:?} message)."
            ))
        })?;
    let template = check_content(&message_type, content)?;

    Ok(GraphRequest::Send(SendRequest {
        to: to.to_string(),
        wa_id,
        message_type,
        template,
        callback_data,
        reply_to,
        body: value.clone(),
    }))
}

fn parse_mark_read(obj: &Map<String, Value>, status: &Value) -> Result<GraphRequest, MetaError> {
    if status.as_str() != Some("read") {
        return Err(MetaError::invalid(format!(
            "Param status must be one of {{READ}} - got {status}."
        )));
    }
    let message_id = obj
        .get("message_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| MetaError::invalid("The parameter message_id is required."))?;
    Ok(GraphRequest::MarkRead {
        message_id: message_id.to_string(),
    })
}

fn object<'a>(name: &str, v: &'a Value) -> Result<&'a Map<String, Value>, MetaError> {
    v.as_object()
        .ok_or_else(|| MetaError::invalid(format!("Param {name} must be a JSON object.")))
}

fn optional_string(
    obj: &Map<String, Value>,
    parent: &str,
    key: &str,
    max: Option<usize>,
) -> Result<(), MetaError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) => match max {
            Some(max) if s.chars().count() > max => Err(MetaError::invalid(format!(
                "Param {parent}['{key}'] must be at most {max} characters long."
            ))),
            _ => Ok(()),
        },
        Some(_) => Err(MetaError::invalid(format!(
            "Param {parent}['{key}'] must be a string."
        ))),
    }
}

fn required_string<'a>(
    obj: &'a Map<String, Value>,
    parent: &str,
    key: &str,
) -> Result<&'a str, MetaError> {
    obj.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| MetaError::invalid(format!("The parameter {parent}['{key}'] is required.")))
}

fn number(obj: &Map<String, Value>, parent: &str, key: &str) -> Result<f64, MetaError> {
    let v = obj.get(key).ok_or_else(|| {
        MetaError::invalid(format!("The parameter {parent}['{key}'] is required."))
    })?;
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
    .ok_or_else(|| MetaError::invalid(format!("Param {parent}['{key}'] must be a number.")))
}

/// Checks the object under the type's key; for templates, returns which one.
fn check_content(message_type: &str, content: &Value) -> Result<Option<TemplateRef>, MetaError> {
    match message_type {
        "text" => {
            let text = object("text", content)?;
            let body = required_string(text, "text", "body")?;
            if body.chars().count() > MAX_TEXT {
                return Err(MetaError::invalid(format!(
                    "Param text['body'] must be at most {MAX_TEXT} characters long."
                )));
            }
            if let Some(p) = text.get("preview_url") {
                if !p.is_boolean() {
                    return Err(MetaError::invalid(
                        "Param text['preview_url'] must be a boolean.",
                    ));
                }
            }
            Ok(None)
        }
        "image" | "audio" | "video" | "document" | "sticker" => {
            let media = object(message_type, content)?;
            let id = media.get("id").filter(|v| !v.is_null());
            let link = media.get("link").filter(|v| !v.is_null());
            match (id, link) {
                (None, None) => {
                    return Err(MetaError::invalid(format!(
                        "The parameter {message_type}['link'] or {message_type}['id'] is required."
                    )))
                }
                (Some(_), Some(_)) => {
                    return Err(MetaError::invalid(format!(
                        "Param {message_type} must have either link or id, not both."
                    )))
                }
                (Some(id), None) => {
                    if id.as_str().is_none_or(|s| s.trim().is_empty()) {
                        return Err(MetaError::invalid(format!(
                            "Param {message_type}['id'] must be a non-empty string."
                        )));
                    }
                }
                (None, Some(link)) => {
                    let ok = link.as_str().is_some_and(|s| {
                        reqwest::Url::parse(s)
                            .is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http")
                    });
                    if !ok {
                        return Err(MetaError::invalid(format!(
                            "Param {message_type}['link'] must be a valid http(s) URL."
                        )));
                    }
                }
            }
            if matches!(message_type, "audio" | "sticker") {
                if media.contains_key("caption") {
                    return Err(MetaError::invalid(format!(
                        "Param {message_type}['caption'] is not supported for {message_type} messages."
                    )));
                }
            } else {
                optional_string(media, message_type, "caption", Some(MAX_CAPTION))?;
            }
            if message_type == "document" {
                optional_string(media, message_type, "filename", Some(240))?;
            } else if media.contains_key("filename") {
                return Err(MetaError::invalid(format!(
                    "Param {message_type}['filename'] is only supported for documents."
                )));
            }
            Ok(None)
        }
        "location" => {
            let loc = object("location", content)?;
            let lat = number(loc, "location", "latitude")?;
            let lon = number(loc, "location", "longitude")?;
            if !(-90.0..=90.0).contains(&lat) {
                return Err(MetaError::invalid(
                    "Param location['latitude'] must be between -90 and 90.",
                ));
            }
            if !(-180.0..=180.0).contains(&lon) {
                return Err(MetaError::invalid(
                    "Param location['longitude'] must be between -180 and 180.",
                ));
            }
            optional_string(loc, "location", "name", Some(1000))?;
            optional_string(loc, "location", "address", Some(1000))?;
            Ok(None)
        }
        "template" => check_template(content).map(Some),
        "reaction" => {
            let r = object("reaction", content)?;
            required_string(r, "reaction", "message_id")?;
            optional_string(r, "reaction", "emoji", None)?;
            Ok(None)
        }
        "interactive" => {
            let i = object("interactive", content)?;
            required_string(i, "interactive", "type")?;
            Ok(None)
        }
        "contacts" => match content.as_array() {
            Some(cards) if !cards.is_empty() => Ok(None),
            _ => Err(MetaError::invalid(
                "Param contacts must be a non-empty array of contact cards.",
            )),
        },
        _ => Ok(None),
    }
}

const COMPONENT_TYPES: &[&str] = &[
    "header",
    "body",
    "footer",
    "button",
    "carousel",
    "limited_time_offer",
];

fn check_template(content: &Value) -> Result<TemplateRef, MetaError> {
    let t = object("template", content)?;
    let name = required_string(t, "template", "name")?;
    let language = t
        .get("language")
        .and_then(|l| l.get("code"))
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            MetaError::invalid("The parameter template['language']['code'] is required.")
        })?;
    let mut body_params = 0;
    match t.get("components") {
        None | Some(Value::Null) => {}
        Some(Value::Array(components)) => {
            for (i, c) in components.iter().enumerate() {
                let c = object(&format!("template['components'][{i}]"), c)?;
                let kind = c.get("type").and_then(Value::as_str).unwrap_or_default();
                if !COMPONENT_TYPES.contains(&kind) {
                    return Err(MetaError::invalid(format!(
                        "Param template['components'][{i}]['type'] must be one of {{{}}} - got {:?}.",
                        COMPONENT_TYPES.join(", ").to_uppercase(),
                        kind
                    )));
                }
                if kind == "button" {
                    required_string(c, &format!("template['components'][{i}]"), "sub_type")?;
                    if c.get("index").is_none_or(Value::is_null) {
                        return Err(MetaError::invalid(format!(
                            "The parameter template['components'][{i}]['index'] is required."
                        )));
                    }
                }
                let params = match c.get("parameters") {
                    None | Some(Value::Null) => 0,
                    Some(Value::Array(p)) => p.len(),
                    Some(_) => {
                        return Err(MetaError::invalid(format!(
                            "Param template['components'][{i}]['parameters'] must be an array."
                        )))
                    }
                };
                if kind == "body" {
                    body_params += params;
                }
            }
        }
        Some(_) => {
            return Err(MetaError::invalid(
                "Param template['components'] must be an array.",
            ))
        }
    }
    Ok(TemplateRef {
        name: name.to_string(),
        language: language.to_string(),
        body_params,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use whatsapp::{OutboundMessage, OutboundRequest};

    use super::*;

    fn send(v: Value) -> Result<SendRequest, String> {
        match parse(v.to_string().as_bytes()) {
            Ok(GraphRequest::Send(s)) => Ok(s),
            Ok(other) => panic!("not a send: {other:?}"),
            Err(e) => Err(e.message),
        }
    }

    #[test]
    fn every_body_the_protocol_crate_builds_is_accepted() {
        let messages = [
            OutboundMessage::Text {
                body: "Hola".into(),
                preview_url: false,
            },
            OutboundMessage::Image {
                link: "https://example.com/a.jpg".into(),
                caption: Some("c".into()),
            },
            OutboundMessage::Document {
                link: "https://example.com/a.pdf".into(),
                caption: Some("Invoice".into()),
                filename: Some("a.pdf".into()),
            },
            OutboundMessage::MediaById {
                kind: whatsapp::MediaKind::Audio,
                id: "1234".into(),
                caption: Some("not sent: audio has no caption".into()),
                filename: None,
            },
            OutboundMessage::MediaById {
                kind: whatsapp::MediaKind::Document,
                id: "1234".into(),
                caption: Some("Invoice".into()),
                filename: Some("a.pdf".into()),
            },
            OutboundMessage::Location {
                latitude: 40.4,
                longitude: -3.7,
                name: Some("Sol".into()),
                address: None,
            },
            OutboundMessage::Template {
                name: "order_update".into(),
                language_code: "es".into(),
                components: json!([{"type":"body","parameters":[{"type":"text","text":"Ana"}]},
                    {"type":"button","sub_type":"quick_reply","index":"0",
                     "parameters":[{"type":"payload","payload":"STOP"}]}]),
            },
        ];
        for m in messages {
            let mut req = OutboundRequest::new("+34 600 123 456", m);
            req.reply_to = Some("wamid.IN".into());
            req.biz_opaque_callback_data = Some("msg:1".into());
            let s = send(req.to_request_body()).unwrap();
            assert_eq!(s.wa_id, "34600123456");
            assert_eq!(s.to, "+34 600 123 456");
            assert_eq!(s.reply_to.as_deref(), Some("wamid.IN"));
            assert_eq!(s.callback_data.as_deref(), Some("msg:1"));
        }
        let read = OutboundRequest::new(
            "x",
            OutboundMessage::MarkRead {
                message_id: "wamid.IN".into(),
            },
        );
        assert_eq!(
            parse(read.to_request_body().to_string().as_bytes()).unwrap(),
            GraphRequest::MarkRead {
                message_id: "wamid.IN".into()
            }
        );
    }

    #[test]
    fn template_parameters_are_counted() {
        let s = send(json!({"messaging_product":"whatsapp","to":"1","type":"template",
            "template":{"name":"t","language":{"code":"es"},"components":[
              {"type":"header","parameters":[{"type":"text","text":"x"}]},
              {"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}}))
        .unwrap();
        assert_eq!(
            s.template,
            Some(TemplateRef {
                name: "t".into(),
                language: "es".into(),
                body_params: 2
            })
        );
    }

    #[test]
    fn a_missing_type_means_text() {
        let s =
            send(json!({"messaging_product":"whatsapp","to":"1","text":{"body":"hi"}})).unwrap();
        assert_eq!(s.message_type, "text");
    }

    #[test]
    fn bad_shapes_name_the_problem() {
        let cases = [
            (
                json!({"to":"1","type":"text","text":{"body":"x"}}),
                "messaging_product is required",
            ),
            (
                json!({"messaging_product":"sms","to":"1","type":"text","text":{"body":"x"}}),
                "messaging_product must be one of",
            ),
            (
                json!({"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}),
                "to is required",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"abc","type":"text","text":{"body":"x"}}),
                "Param to must be",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"fax"}),
                "type must be one of",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"text"}),
                "The parameter text is required",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"text","text":{}}),
                "text['body'] is required",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"x".repeat(4097)}}),
                "at most 4096",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"image","image":{}}),
                "image['link'] or image['id']",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"image","image":{"link":"not a url"}}),
                "valid http(s) URL",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"image","image":{"id":"1","link":"https://x/y"}}),
                "not both",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"document","document":{"link":"https://x/y","caption":"c".repeat(1025)}}),
                "at most 1024",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"location","location":{"latitude":91,"longitude":0}}),
                "between -90 and 90",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"location","location":{"latitude":1}}),
                "location['longitude'] is required",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"x"}}),
                "language']['code'] is required",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","type":"template","template":{"name":"x","language":{"code":"es"},"components":[{"type":"nope"}]}}),
                "must be one of",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","context":{},"type":"text","text":{"body":"x"}}),
                "context['message_id']",
            ),
            (
                json!({"messaging_product":"whatsapp","to":"1","biz_opaque_callback_data":"x".repeat(513),"type":"text","text":{"body":"x"}}),
                "at most 512",
            ),
            (
                json!({"messaging_product":"whatsapp","status":"delivered","message_id":"w"}),
                "status must be one of",
            ),
            (
                json!({"messaging_product":"whatsapp","status":"read"}),
                "message_id is required",
            ),
            (json!(["not", "an", "object"]), "JSON object"),
        ];
        for (body, expected) in cases {
            let err = match parse(body.to_string().as_bytes()) {
                Ok(ok) => panic!("{body} was accepted: {ok:?}"),
                Err(e) => e,
            };
            assert_eq!(err.code, 100);
            assert!(
                err.message.contains(expected),
                "{body}: {:?} lacks {expected:?}",
                err.message
            );
        }
        assert!(parse(b"{not json")
            .unwrap_err()
            .message
            .contains("not valid JSON"));
    }

    #[test]
    fn recipients_normalize_to_wa_ids() {
        assert_eq!(
            normalize_recipient("+34 600-123 456").as_deref(),
            Some("34600123456")
        );
        assert_eq!(
            normalize_recipient("US.13491208655302741918").as_deref(),
            Some("US.13491208655302741918")
        );
        assert_eq!(normalize_recipient("+"), None);
        assert_eq!(normalize_recipient("34abc"), None);
    }
}
