//! The database's `message_type` for each kind, and the readable preview text.

use super::{InteractiveReply, MessageKind};

impl MessageKind {
    /// The `messages.message_type` value stored in the database, one of: `text`,
    /// `image`, `file`, `location`, `template`, `audio`, `video`, `sticker`,
    /// `contacts`, `interactive`, `reaction`, `unsupported`.
    ///
    /// | WhatsApp type | stored as | why |
    /// |---|---|---|
    /// | text, image, location, audio, video, sticker, contacts, interactive, reaction | the same name | |
    /// | document | `file` | the design document's name for documents |
    /// | button (template quick reply) | `interactive` | like an interactive reply: the user tapped a button we offered; the preview is the button text |
    /// | order | `interactive` | a structured answer to a catalog/product message (interactive messages on our side); the preview lists the item count and text |
    /// | system (number or user id changed) | `unsupported` | not something the customer wrote; nothing to render beyond the preview |
    /// | unsupported, any unknown type, malformed content | `unsupported` | nothing to render beyond the preview |
    ///
    /// `template` is never produced here: it is an outbound kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Video { .. } => "video",
            Self::Audio { .. } => "audio",
            Self::Document { .. } => "file",
            Self::Sticker { .. } => "sticker",
            Self::Location { .. } => "location",
            Self::Contacts { .. } => "contacts",
            Self::Interactive { .. } | Self::Button { .. } | Self::Order { .. } => "interactive",
            Self::Reaction { .. } => "reaction",
            Self::System { .. }
            | Self::Unsupported { .. }
            | Self::Unknown { .. }
            | Self::Malformed { .. } => "unsupported",
        }
    }

    /// WhatsApp's own `type` for this kind (`document`, `button`, `order`, the
    /// unknown type's name, ...).
    pub fn whatsapp_type(&self) -> &str {
        match self {
            Self::Text { .. } => "text",
            Self::Image { .. } => "image",
            Self::Video { .. } => "video",
            Self::Audio { .. } => "audio",
            Self::Document { .. } => "document",
            Self::Sticker { .. } => "sticker",
            Self::Location { .. } => "location",
            Self::Contacts { .. } => "contacts",
            Self::Interactive { .. } => "interactive",
            Self::Button { .. } => "button",
            Self::Reaction { .. } => "reaction",
            Self::Order { .. } => "order",
            Self::System { .. } => "system",
            Self::Unsupported { .. } => "unsupported",
            Self::Unknown { type_name, .. } | Self::Malformed { type_name, .. } => type_name,
        }
    }

    /// A readable stand-in for the content, for the inbox list and for kinds the
    /// frontend cannot render: the text itself for text, the chosen title for
    /// button and list replies, otherwise a `[kind]` tag followed by whatever text
    /// the message has, e.g. `[image] Look at this`, `[location] Café Central,
    /// Plaza Mayor 1`, `[unsupported message type: poll]`.
    pub fn preview_text(&self) -> String {
        match self {
            Self::Text { body } => body.clone(),
            Self::Image { media } => tagged("[image]", [media.caption.as_deref()]),
            Self::Video { media } => tagged("[video]", [media.caption.as_deref()]),
            Self::Audio { voice: true, .. } => "[voice message]".to_string(),
            Self::Audio { voice: false, .. } => "[audio]".to_string(),
            Self::Document { media } => tagged(
                "[file]",
                [media.filename.as_deref(), media.caption.as_deref()],
            ),
            Self::Sticker { .. } => "[sticker]".to_string(),
            Self::Location {
                latitude,
                longitude,
                name,
                address,
                ..
            } => {
                if name.is_none() && address.is_none() {
                    format!("[location] {latitude}, {longitude}")
                } else {
                    let parts: Vec<&str> = [name.as_deref(), address.as_deref()]
                        .into_iter()
                        .flatten()
                        .filter(|s| !s.is_empty())
                        .collect();
                    format!("[location] {}", parts.join(", "))
                        .trim_end()
                        .to_string()
                }
            }
            Self::Contacts { contacts } => {
                let names: Vec<&str> = contacts
                    .iter()
                    .filter_map(|c| c.formatted_name.as_deref())
                    .filter(|s| !s.is_empty())
                    .collect();
                let tag = if contacts.len() == 1 {
                    "[contact]"
                } else {
                    "[contacts]"
                };
                if names.is_empty() {
                    tag.to_string()
                } else {
                    format!("{tag} {}", names.join(", "))
                }
            }
            Self::Interactive { reply } => match reply {
                InteractiveReply::ButtonReply { title, .. }
                | InteractiveReply::ListReply { title, .. } => title.clone(),
                InteractiveReply::NfmReply { body, .. } => {
                    tagged("[form reply]", [body.as_deref()])
                }
                InteractiveReply::Other { type_name, .. } => {
                    format!("[interactive reply: {type_name}]")
                }
            },
            Self::Button { payload, text } => match text.as_deref().or(payload.as_deref()) {
                Some(t) if !t.is_empty() => t.to_string(),
                _ => "[button]".to_string(),
            },
            Self::Reaction {
                emoji: Some(emoji), ..
            } => format!("[reaction] {emoji}"),
            Self::Reaction { emoji: None, .. } => "[reaction removed]".to_string(),
            Self::Order { order } => {
                let n = order.product_items.len();
                let count = if n == 1 {
                    "1 item".to_string()
                } else {
                    format!("{n} items")
                };
                tagged("[order]", [Some(count.as_str()), order.text.as_deref()])
            }
            Self::System { system } => tagged("[system]", [system.body.as_deref()]),
            Self::Unsupported {
                original_type: Some(t),
            } if !t.is_empty() => format!("[unsupported message type: {t}]"),
            Self::Unsupported { .. } => "[unsupported message]".to_string(),
            Self::Unknown { type_name, .. } => {
                format!("[unsupported message type: {type_name}]")
            }
            Self::Malformed { type_name, .. } => {
                format!("[unreadable {type_name} message]")
            }
        }
    }
}

/// `tag` followed by the non-empty parts joined with ` - `.
fn tagged<'a>(tag: &str, parts: impl IntoIterator<Item = Option<&'a str>>) -> String {
    let parts: Vec<&str> = parts
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        tag.to_string()
    } else {
        format!("{tag} {}", parts.join(" - "))
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Media, Order, ProductItem, SharedContact, SystemEvent};
    use super::*;

    fn media(caption: Option<&str>, filename: Option<&str>) -> Media {
        Media {
            id: "1".into(),
            mime_type: None,
            sha256: None,
            caption: caption.map(Into::into),
            filename: filename.map(Into::into),
            url: None,
        }
    }

    #[test]
    fn every_kind_maps_to_one_of_the_database_values() {
        let allowed = [
            "text",
            "image",
            "file",
            "location",
            "template",
            "audio",
            "video",
            "sticker",
            "contacts",
            "interactive",
            "reaction",
            "unsupported",
        ];
        let kinds = [
            MessageKind::Text { body: "x".into() },
            MessageKind::Image {
                media: media(None, None),
            },
            MessageKind::Document {
                media: media(None, None),
            },
            MessageKind::Button {
                payload: None,
                text: None,
            },
            MessageKind::Unknown {
                type_name: "poll".into(),
                raw: serde_json::Value::Null,
            },
        ];
        for k in &kinds {
            assert!(allowed.contains(&k.kind_name()), "{k:?}");
        }
        assert_eq!(kinds[2].kind_name(), "file");
        assert_eq!(kinds[2].whatsapp_type(), "document");
        assert_eq!(kinds[3].kind_name(), "interactive");
        assert_eq!(kinds[4].kind_name(), "unsupported");
        assert_eq!(kinds[4].whatsapp_type(), "poll");
    }

    #[test]
    fn previews_read_naturally() {
        assert_eq!(
            MessageKind::Image {
                media: media(Some("Look"), None)
            }
            .preview_text(),
            "[image] Look"
        );
        assert_eq!(
            MessageKind::Image {
                media: media(Some("  "), None)
            }
            .preview_text(),
            "[image]"
        );
        assert_eq!(
            MessageKind::Document {
                media: media(Some("the invoice"), Some("inv.pdf"))
            }
            .preview_text(),
            "[file] inv.pdf - the invoice"
        );
        assert_eq!(
            MessageKind::Location {
                latitude: 40.5,
                longitude: -3.25,
                name: None,
                address: None,
                url: None
            }
            .preview_text(),
            "[location] 40.5, -3.25"
        );
        assert_eq!(
            MessageKind::Location {
                latitude: 0.0,
                longitude: 0.0,
                name: Some("Café".into()),
                address: Some("Plaza 1".into()),
                url: None
            }
            .preview_text(),
            "[location] Café, Plaza 1"
        );
        assert_eq!(
            MessageKind::Contacts {
                contacts: vec![
                    SharedContact {
                        formatted_name: Some("Ana".into()),
                        phones: vec![]
                    },
                    SharedContact {
                        formatted_name: Some("Bo".into()),
                        phones: vec![]
                    }
                ]
            }
            .preview_text(),
            "[contacts] Ana, Bo"
        );
        assert_eq!(
            MessageKind::Reaction {
                message_id: "w".into(),
                emoji: None
            }
            .preview_text(),
            "[reaction removed]"
        );
        assert_eq!(
            MessageKind::Order {
                order: Order {
                    catalog_id: None,
                    text: Some("asap".into()),
                    product_items: vec![ProductItem {
                        product_retailer_id: None,
                        quantity: Some(2),
                        item_price: None,
                        currency: None
                    }]
                }
            }
            .preview_text(),
            "[order] 1 item - asap"
        );
        assert_eq!(
            MessageKind::System {
                system: SystemEvent {
                    event_type: None,
                    body: None,
                    new_wa_id: None,
                    user_id: None,
                    previous_user_id: None
                }
            }
            .preview_text(),
            "[system]"
        );
        assert_eq!(
            MessageKind::Unsupported {
                original_type: None
            }
            .preview_text(),
            "[unsupported message]"
        );
        assert_eq!(
            MessageKind::Malformed {
                type_name: "image".into(),
                reason: "x".into()
            }
            .preview_text(),
            "[unreadable image message]"
        );
    }
}
