//! Outbound: request bodies for `POST /{version}/{phone-number-id}/messages`, the
//! response and error envelopes, error classes and the retry policy.

mod classify;
mod response;
mod retry;

pub use classify::{classify, rate_limit_scope, ErrorClass, RateLimitScope};
pub use response::{GraphError, MarkReadResponse, ResponseError, SendResponse};
pub use retry::{parse_retry_after, Jitter, RetryPolicy};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// `messaging_product` of every Cloud API request.
pub const MESSAGING_PRODUCT: &str = "whatsapp";

/// What to send. See [`OutboundRequest`] for the recipient and options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutboundMessage {
    /// Free-form text (only inside the 24-hour customer service window).
    Text {
        /// Up to 4,096 characters.
        body: String,
        /// Render a preview of the first URL in `body`.
        preview_url: bool,
    },
    /// An image by public URL.
    Image {
        /// HTTPS URL Meta downloads the image from.
        link: String,
        /// Up to 1,024 characters.
        caption: Option<String>,
    },
    /// A document by public URL.
    Document {
        /// HTTPS URL Meta downloads the document from.
        link: String,
        /// Up to 1,024 characters.
        caption: Option<String>,
        /// The file name shown to the user.
        filename: Option<String>,
    },
    /// Media uploaded to Meta beforehand (`POST /{phone-number-id}/media`), sent by its id.
    /// The caption goes only where WhatsApp shows one (image, video, document), the file
    /// name only on a document.
    MediaById {
        /// Which kind of media message.
        kind: MediaKind,
        /// The media id the upload answered.
        id: String,
        /// Up to 1,024 characters (image, video, document).
        caption: Option<String>,
        /// The file name shown to the user (document).
        filename: Option<String>,
    },
    /// A location pin.
    Location {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Place address.
        address: Option<String>,
    },
    /// An approved template (allowed outside the 24-hour window).
    Template {
        /// Template name.
        name: String,
        /// Language code, e.g. `en_US`.
        language_code: String,
        /// The `components` array (header, body, button parameters) exactly as
        /// Meta expects it; `null` or `[]` sends none.
        components: Value,
    },
    /// Mark an inbound message (and the ones before it) as read. Ignores the
    /// request's `to`, `reply_to` and `biz_opaque_callback_data`.
    MarkRead {
        /// The inbound wamid.
        message_id: String,
    },
}

/// The kinds of media message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Audio,
    Video,
    Document,
    Sticker,
}

impl MediaKind {
    /// The message `type` (and the key of its media object).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Document => "document",
            Self::Sticker => "sticker",
        }
    }

    /// From a message `type`; `None` for a kind that carries no media.
    pub fn parse(kind: &str) -> Option<Self> {
        Some(match kind {
            "image" => Self::Image,
            "audio" => Self::Audio,
            "video" => Self::Video,
            "document" => Self::Document,
            "sticker" => Self::Sticker,
            _ => return None,
        })
    }

    /// Whether WhatsApp shows a caption on this kind (image, video, document).
    pub fn takes_caption(self) -> bool {
        matches!(self, Self::Image | Self::Video | Self::Document)
    }
}

/// One call to the messages endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboundRequest {
    /// The recipient: a phone number / wa_id (sent as `to`), or a business-scoped
    /// user id such as `US.13491208655302741918` (sent as `recipient`, which is
    /// where Meta takes BSUIDs; see [`is_business_scoped_user_id`]).
    pub to: String,
    /// Reply to this wamid (`context.message_id`).
    pub reply_to: Option<String>,
    /// Up to 512 characters that Meta echoes back in this message's status
    /// webhooks.
    pub biz_opaque_callback_data: Option<String>,
    /// The content.
    pub message: OutboundMessage,
}

impl OutboundRequest {
    /// A request to `to` with no reply context and no callback data.
    pub fn new(to: impl Into<String>, message: OutboundMessage) -> Self {
        Self {
            to: to.into(),
            reply_to: None,
            biz_opaque_callback_data: None,
            message,
        }
    }

    /// The JSON body, in exactly Meta's shape:
    ///
    /// ```json
    /// { "messaging_product": "whatsapp", "recipient_type": "individual",
    ///   "to": "34600123456", "context": { "message_id": "wamid..." },
    ///   "biz_opaque_callback_data": "...", "type": "text",
    ///   "text": { "body": "...", "preview_url": false } }
    /// ```
    ///
    /// Mark-as-read is `{ "messaging_product": "whatsapp", "status": "read",
    /// "message_id": "wamid..." }`. Absent optional fields are omitted, never `null`.
    pub fn to_request_body(&self) -> Value {
        let (type_name, content) = match &self.message {
            OutboundMessage::MarkRead { message_id } => {
                return json!({
                    "messaging_product": MESSAGING_PRODUCT,
                    "status": "read",
                    "message_id": message_id,
                });
            }
            OutboundMessage::Text { body, preview_url } => {
                ("text", json!({ "body": body, "preview_url": preview_url }))
            }
            OutboundMessage::Image { link, caption } => {
                let mut m = Map::new();
                m.insert("link".into(), link.clone().into());
                insert_opt(&mut m, "caption", caption);
                ("image", Value::Object(m))
            }
            OutboundMessage::Document {
                link,
                caption,
                filename,
            } => {
                let mut m = Map::new();
                m.insert("link".into(), link.clone().into());
                insert_opt(&mut m, "caption", caption);
                insert_opt(&mut m, "filename", filename);
                ("document", Value::Object(m))
            }
            OutboundMessage::MediaById {
                kind,
                id,
                caption,
                filename,
            } => {
                let mut m = Map::new();
                m.insert("id".into(), id.clone().into());
                if kind.takes_caption() {
                    insert_opt(&mut m, "caption", caption);
                }
                if *kind == MediaKind::Document {
                    insert_opt(&mut m, "filename", filename);
                }
                (kind.as_str(), Value::Object(m))
            }
            OutboundMessage::Location {
                latitude,
                longitude,
                name,
                address,
            } => {
                let mut m = Map::new();
                m.insert("latitude".into(), json!(latitude));
                m.insert("longitude".into(), json!(longitude));
                insert_opt(&mut m, "name", name);
                insert_opt(&mut m, "address", address);
                ("location", Value::Object(m))
            }
            OutboundMessage::Template {
                name,
                language_code,
                components,
            } => {
                let mut m = Map::new();
                m.insert("name".into(), name.clone().into());
                m.insert("language".into(), json!({ "code": language_code }));
                let empty = match components {
                    Value::Null => true,
                    Value::Array(a) => a.is_empty(),
                    _ => false,
                };
                if !empty {
                    m.insert("components".into(), components.clone());
                }
                ("template", Value::Object(m))
            }
        };
        let mut body = Map::new();
        body.insert("messaging_product".into(), MESSAGING_PRODUCT.into());
        body.insert("recipient_type".into(), "individual".into());
        let recipient_key = if is_business_scoped_user_id(&self.to) {
            "recipient"
        } else {
            "to"
        };
        body.insert(recipient_key.into(), self.to.clone().into());
        if let Some(wamid) = &self.reply_to {
            body.insert("context".into(), json!({ "message_id": wamid }));
        }
        if let Some(data) = &self.biz_opaque_callback_data {
            body.insert("biz_opaque_callback_data".into(), data.clone().into());
        }
        body.insert("type".into(), type_name.into());
        body.insert(type_name.into(), content);
        Value::Object(body)
    }
}

fn insert_opt(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        map.insert(key.into(), v.clone().into());
    }
}

/// `true` for a business-scoped user id (BSUID): two ASCII capital letters (the
/// ISO country code), a dot, then alphanumerics and dots (`US.13491208655302741918`,
/// parent ids `US.ENT.11815799212886844830`). Phone numbers never contain a
/// letter, so the two cannot be confused.
pub fn is_business_scoped_user_id(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() > 3
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_uppercase()
        && b[2] == b'.'
        && b[3..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'.')
        && b[3..].iter().any(u8::is_ascii_alphanumeric)
}

#[cfg(test)]
mod tests {

    #[test]
    fn media_by_id_carries_a_caption_only_where_whatsapp_shows_one() {
        let body = |kind: MediaKind| {
            OutboundRequest::new(
                "34600111222",
                OutboundMessage::MediaById {
                    kind,
                    id: "MID".into(),
                    caption: Some("look".into()),
                    filename: Some("a.pdf".into()),
                },
            )
            .to_request_body()
        };
        assert_eq!(body(MediaKind::Image)["type"], "image");
        assert_eq!(
            body(MediaKind::Image)["image"],
            json!({"id": "MID", "caption": "look"})
        );
        assert_eq!(
            body(MediaKind::Video)["video"],
            json!({"id": "MID", "caption": "look"})
        );
        assert_eq!(
            body(MediaKind::Document)["document"],
            json!({"id": "MID", "caption": "look", "filename": "a.pdf"})
        );
        assert_eq!(body(MediaKind::Audio)["audio"], json!({"id": "MID"}));
        assert_eq!(body(MediaKind::Sticker)["sticker"], json!({"id": "MID"}));
        for kind in ["image", "audio", "video", "document", "sticker"] {
            assert_eq!(MediaKind::parse(kind).map(MediaKind::as_str), Some(kind));
        }
        assert_eq!(MediaKind::parse("file"), None);
    }

    use super::*;

    #[test]
    fn text_body_has_meta_shape() {
        let req = OutboundRequest::new(
            "34600123456",
            OutboundMessage::Text {
                body: "Hola 👋".into(),
                preview_url: false,
            },
        );
        assert_eq!(
            req.to_request_body(),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "34600123456",
                "type": "text",
                "text": {"body": "Hola 👋", "preview_url": false}
            })
        );
    }

    #[test]
    fn reply_and_callback_data_are_added() {
        let mut req = OutboundRequest::new(
            "+16505551234",
            OutboundMessage::Text {
                body: "ok".into(),
                preview_url: true,
            },
        );
        req.reply_to = Some("wamid.IN".into());
        req.biz_opaque_callback_data = Some("msg:42".into());
        assert_eq!(
            req.to_request_body(),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "+16505551234",
                "context": {"message_id": "wamid.IN"},
                "biz_opaque_callback_data": "msg:42",
                "type": "text",
                "text": {"body": "ok", "preview_url": true}
            })
        );
    }

    #[test]
    fn a_bsuid_goes_in_recipient() {
        let req = OutboundRequest::new(
            "US.13491208655302741918",
            OutboundMessage::Text {
                body: "hi".into(),
                preview_url: false,
            },
        );
        let body = req.to_request_body();
        assert_eq!(body["recipient"], "US.13491208655302741918");
        assert!(body.get("to").is_none());
    }

    #[test]
    fn bsuids_are_told_from_phone_numbers() {
        assert!(is_business_scoped_user_id("US.13491208655302741918"));
        assert!(is_business_scoped_user_id("US.ENT.11815799212886844830"));
        assert!(is_business_scoped_user_id("BR.1502576394655843"));
        assert!(!is_business_scoped_user_id("34600123456"));
        assert!(!is_business_scoped_user_id("+34600123456"));
        assert!(!is_business_scoped_user_id("US."));
        assert!(!is_business_scoped_user_id("US..."));
        assert!(!is_business_scoped_user_id("us.123"));
        assert!(!is_business_scoped_user_id(""));
    }

    #[test]
    fn media_bodies_omit_absent_fields() {
        let img = OutboundRequest::new(
            "1",
            OutboundMessage::Image {
                link: "https://x/y.jpg".into(),
                caption: None,
            },
        );
        assert_eq!(
            img.to_request_body()["image"],
            json!({"link": "https://x/y.jpg"})
        );
        let doc = OutboundRequest::new(
            "1",
            OutboundMessage::Document {
                link: "https://x/a.pdf".into(),
                caption: Some("Invoice".into()),
                filename: Some("a.pdf".into()),
            },
        );
        let body = doc.to_request_body();
        assert_eq!(body["type"], "document");
        assert_eq!(
            body["document"],
            json!({"link": "https://x/a.pdf", "caption": "Invoice", "filename": "a.pdf"})
        );
    }

    #[test]
    fn location_body() {
        let req = OutboundRequest::new(
            "1",
            OutboundMessage::Location {
                latitude: 40.4168,
                longitude: -3.7038,
                name: Some("Sol".into()),
                address: None,
            },
        );
        assert_eq!(
            req.to_request_body()["location"],
            json!({"latitude": 40.4168, "longitude": -3.7038, "name": "Sol"})
        );
    }

    #[test]
    fn template_body() {
        let components = json!([
            {"type": "body", "parameters": [{"type": "text", "text": "Ana"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0",
             "parameters": [{"type": "payload", "payload": "STOP"}]}
        ]);
        let req = OutboundRequest::new(
            "1",
            OutboundMessage::Template {
                name: "spring_sale".into(),
                language_code: "es_ES".into(),
                components: components.clone(),
            },
        );
        assert_eq!(
            req.to_request_body(),
            json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "1",
                "type": "template",
                "template": {"name": "spring_sale", "language": {"code": "es_ES"}, "components": components}
            })
        );
        let bare = OutboundRequest::new(
            "1",
            OutboundMessage::Template {
                name: "hello_world".into(),
                language_code: "en_US".into(),
                components: Value::Null,
            },
        );
        assert_eq!(
            bare.to_request_body()["template"],
            json!({"name": "hello_world", "language": {"code": "en_US"}})
        );
    }

    #[test]
    fn mark_read_body() {
        let mut req = OutboundRequest::new(
            "1",
            OutboundMessage::MarkRead {
                message_id: "wamid.IN".into(),
            },
        );
        req.reply_to = Some("ignored".into());
        assert_eq!(
            req.to_request_body(),
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.IN"})
        );
    }
}
