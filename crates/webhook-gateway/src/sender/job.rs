//! The Graph API request a claimed job (one row of `svc.claim_outbound_messages`,
//! [`ClaimedJob`]) becomes. A message that can't become a request (an image without a
//! link, a template without a name) is refused here with a reason the agent can read.

use serde_json::Value;
pub use svc_client::ClaimedJob;
use whatsapp::{MediaKind, OutboundMessage, OutboundRequest};

/// A claimed reply as a Graph API request.
pub trait JobRequest {
    /// The Graph API request for this message, or why there is none.
    fn to_request(&self) -> Result<OutboundRequest, String>;
    /// The request for an attachment uploaded to WhatsApp as `media_id` (the message's
    /// type says its kind; `file` is a document).
    fn to_request_by_media_id(&self, media_id: &str) -> Result<OutboundRequest, String>;
}

fn envelope(job: &ClaimedJob, message: OutboundMessage) -> Result<OutboundRequest, String> {
    let to = job
        .to
        .clone()
        .or_else(|| job.recipient_user_id.clone())
        .ok_or("the contact has neither a phone number nor a WhatsApp user id")?;
    let mut request = OutboundRequest::new(to, message);
    request.reply_to = job.reply_to_wamid.clone();
    request.biz_opaque_callback_data = Some(job.message_id.to_string());
    Ok(request)
}

impl JobRequest for ClaimedJob {
    fn to_request_by_media_id(&self, media_id: &str) -> Result<OutboundRequest, String> {
        let kind_name = match self.message_type.as_str() {
            "file" => "document",
            other => other,
        };
        let kind = MediaKind::parse(kind_name)
            .ok_or_else(|| format!("a {} message carries no attachment", self.message_type))?;
        let file_name = self
            .metadata
            .as_ref()
            .and_then(|m| m.get("file_name"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        envelope(
            self,
            OutboundMessage::MediaById {
                kind,
                id: media_id.to_owned(),
                caption: self.content.clone().filter(|c| !c.trim().is_empty()),
                filename: file_name,
            },
        )
    }

    fn to_request(&self) -> Result<OutboundRequest, String> {
        self.to
            .as_ref()
            .or(self.recipient_user_id.as_ref())
            .ok_or("the contact has neither a phone number nor a WhatsApp user id")?;
        let meta = self.metadata.clone().unwrap_or(Value::Null);
        let text = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_owned);
        let caption = self.content.clone().filter(|c| !c.is_empty());
        let link = || {
            self.media_url
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or_else(|| {
                    format!(
                        "a {} message needs media_url (a public https link)",
                        self.message_type
                    )
                })
        };
        let message = match self.message_type.as_str() {
            "text" => OutboundMessage::Text {
                body: self
                    .content
                    .clone()
                    .filter(|c| !c.trim().is_empty())
                    .ok_or("a text message needs content")?,
                preview_url: meta
                    .get("preview_url")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            },
            "image" => OutboundMessage::Image {
                link: link()?,
                caption,
            },
            "file" => OutboundMessage::Document {
                link: link()?,
                caption,
                filename: text("filename"),
            },
            "location" => {
                let coordinate = |key: &str| {
                    meta.get(key)
                        .and_then(Value::as_f64)
                        .ok_or_else(|| format!("a location needs metadata.{key} (a number)"))
                };
                OutboundMessage::Location {
                    latitude: coordinate("latitude")?,
                    longitude: coordinate("longitude")?,
                    name: text("name"),
                    address: text("address"),
                }
            }
            "template" => {
                // Written by the database when the agent's message was inserted, from the
                // message_templates row the agent chose by id (trigger
                // on_agent_message_prepared): never what the agent put in metadata.
                let template = meta
                    .get("template")
                    .ok_or("a template message needs metadata.template")?;
                let field =
                    |key: &str| template.get(key).and_then(Value::as_str).map(str::to_owned);
                OutboundMessage::Template {
                    name: field("name").ok_or("metadata.template.name is missing")?,
                    language_code: field("language")
                        .ok_or("metadata.template.language is missing")?,
                    components: template
                        .get("components")
                        .cloned()
                        .unwrap_or(Value::Array(vec![])),
                }
            }
            other => {
                return Err(format!(
                    "agents can't send {other} messages through WhatsApp"
                ))
            }
        };
        envelope(self, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(
        message_type: &str,
        content: Option<&str>,
        media_url: Option<&str>,
        metadata: Value,
    ) -> ClaimedJob {
        serde_json::from_value(json!({
            "message_id": "00000000-0000-0000-0000-000000000001",
            "conversation_id": "00000000-0000-0000-0000-000000000003",
            "to": "34600111222",
            "recipient_user_id": null,
            "message_type": message_type,
            "content": content,
            "media_url": media_url,
            "metadata": metadata,
            "reply_to_wamid": "wamid.in",
            "attempts": 1,
            "first_attempt_at": "2026-11-25T10:00:00Z",
            "probe": false,
            "send_at": null,
            "send_in_us": null,
        }))
        .unwrap()
    }

    #[test]
    fn an_uploaded_attachment_is_sent_by_media_id_with_its_caption_and_file_name() {
        let meta = json!({"upload_id": "u", "mime_type": "application/pdf", "file_name": "f.pdf"});
        let body = job(
            "file",
            Some("the invoice"),
            Some("messages/x"),
            meta.clone(),
        )
        .to_request_by_media_id("MID")
        .unwrap()
        .to_request_body();
        assert_eq!(body["type"], "document");
        assert_eq!(
            body["document"],
            json!({"id": "MID", "caption": "the invoice", "filename": "f.pdf"})
        );
        assert_eq!(body["context"]["message_id"], "wamid.in");
        let image = job("image", Some("look"), None, meta.clone())
            .to_request_by_media_id("MID")
            .unwrap()
            .to_request_body();
        assert_eq!(image["image"], json!({"id": "MID", "caption": "look"}));
        assert!(job("text", Some("x"), None, meta)
            .to_request_by_media_id("MID")
            .is_err());
    }

    #[test]
    fn a_text_reply_carries_its_context_and_the_message_id_as_callback_data() {
        let body = job("text", Some("hola"), None, Value::Null)
            .to_request()
            .unwrap()
            .to_request_body();
        assert_eq!(body["text"]["body"], "hola");
        assert_eq!(body["context"]["message_id"], "wamid.in");
        assert_eq!(
            body["biz_opaque_callback_data"],
            "00000000-0000-0000-0000-000000000001"
        );
    }

    #[test]
    fn media_documents_locations_and_templates_map_to_their_requests() {
        let image = job("image", Some("foto"), Some("https://x/a.jpg"), Value::Null)
            .to_request()
            .unwrap();
        assert_eq!(image.to_request_body()["image"]["caption"], "foto");
        let doc = job(
            "file",
            None,
            Some("https://x/a.pdf"),
            json!({"filename": "a.pdf"}),
        )
        .to_request()
        .unwrap();
        assert_eq!(doc.to_request_body()["document"]["filename"], "a.pdf");
        let loc = job(
            "location",
            None,
            None,
            json!({"latitude": 40.4, "longitude": -3.7, "name": "Sol"}),
        )
        .to_request()
        .unwrap();
        assert_eq!(loc.to_request_body()["location"]["name"], "Sol");
        let tpl = job(
            "template",
            None,
            None,
            json!({"template": {"name": "order_update", "language": "es"}}),
        )
        .to_request()
        .unwrap();
        assert_eq!(tpl.to_request_body()["template"]["name"], "order_update");
    }

    #[test]
    fn messages_that_cannot_be_sent_say_why() {
        assert!(job("image", None, None, Value::Null)
            .to_request()
            .unwrap_err()
            .contains("media_url"));
        assert!(job("text", Some("  "), None, Value::Null)
            .to_request()
            .unwrap_err()
            .contains("content"));
        assert!(job("location", None, None, json!({"latitude": "x"}))
            .to_request()
            .unwrap_err()
            .contains("latitude"));
        assert!(job("template", None, None, json!({}))
            .to_request()
            .unwrap_err()
            .contains("template"));
        assert!(job("sticker", None, None, Value::Null)
            .to_request()
            .unwrap_err()
            .contains("sticker"));
    }
}
