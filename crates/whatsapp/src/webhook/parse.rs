//! The walk from `serde_json::Value` to the typed batch.
//!
//! Hand-written rather than derived: each item is read on its own, so one bad item
//! becomes an [`ItemProblem`] instead of failing the whole batch, and every
//! message and status keeps its raw JSON.

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{
    Change, Contact, Entry, ErrorDetail, IgnoredChange, InboundMessage, InteractiveReply,
    ItemProblem, Media, MessageContext, MessageKind, MessagesChange, Metadata, Order, ParseError,
    ProductItem, Referral, ReferredProduct, SharedContact, SharedPhone, Status, StatusKind,
    SystemEvent, WebhookBatch, MESSAGES_FIELD, WEBHOOK_OBJECT,
};

type Object = Map<String, Value>;

pub(super) fn parse_batch(raw_body: &[u8]) -> Result<WebhookBatch, ParseError> {
    let root: Value = serde_json::from_slice(raw_body).map_err(ParseError::InvalidJson)?;
    let root = root.as_object().ok_or(ParseError::NotAnObject)?;
    match root.get("object") {
        Some(Value::String(s)) if s == WEBHOOK_OBJECT => {}
        Some(Value::String(s)) => {
            return Err(ParseError::WrongObject(Some(s.chars().take(64).collect())))
        }
        _ => return Err(ParseError::WrongObject(None)),
    }
    let entries = root
        .get("entry")
        .and_then(Value::as_array)
        .ok_or(ParseError::MissingEntries)?;

    let mut walker = Walker::default();
    let entries = entries
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| walker.entry(entry, &format!("entry[{i}]")))
        .collect();
    Ok(WebhookBatch {
        entries,
        problems: walker.problems,
    })
}

#[derive(Default)]
struct Walker {
    problems: Vec<ItemProblem>,
}

impl Walker {
    fn problem(&mut self, path: &str, description: impl Into<String>, raw: &Value) {
        self.problems.push(ItemProblem {
            path: path.to_string(),
            description: description.into(),
            raw: raw.clone(),
        });
    }

    fn entry(&mut self, entry: &Value, path: &str) -> Option<Entry> {
        let Some(obj) = entry.as_object() else {
            self.problem(path, "entry is not an object", entry);
            return None;
        };
        let id = non_empty(string_like(obj.get("id")));
        let changes = match obj.get("changes") {
            Some(Value::Array(changes)) => changes
                .iter()
                .enumerate()
                .filter_map(|(i, c)| self.change(c, &format!("{path}.changes[{i}]")))
                .collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                self.problem(
                    &format!("{path}.changes"),
                    "entry changes is not an array",
                    other,
                );
                Vec::new()
            }
        };
        Some(Entry { id, changes })
    }

    fn change(&mut self, change: &Value, path: &str) -> Option<Change> {
        let Some(obj) = change.as_object() else {
            self.problem(path, "change is not an object", change);
            return None;
        };
        let Some(field) = obj.get("field").and_then(Value::as_str) else {
            self.problem(path, "change has no string \"field\"", change);
            return None;
        };
        let value = obj.get("value").cloned().unwrap_or(Value::Null);
        if field != MESSAGES_FIELD {
            return Some(Change::Ignored(IgnoredChange {
                field: field.to_string(),
                value,
            }));
        }
        let path = format!("{path}.value");
        let Some(value) = value.as_object() else {
            self.problem(&path, "messages change has no object \"value\"", change);
            return None;
        };
        let Some(metadata) = metadata(value.get("metadata")) else {
            self.problem(
                &format!("{path}.metadata"),
                "messages change has no metadata.phone_number_id; its items cannot be attributed and were skipped",
                change,
            );
            return None;
        };
        let contacts = self.items(value, "contacts", &path, Self::contact);
        let messages = self.items(value, "messages", &path, Self::message);
        let statuses = self.items(value, "statuses", &path, Self::status);
        let errors = error_list(value.get("errors"));
        Some(Change::Messages(MessagesChange {
            metadata,
            contacts,
            messages,
            statuses,
            errors,
        }))
    }

    /// Parses the array `value[key]` item by item.
    fn items<T>(
        &mut self,
        value: &Object,
        key: &str,
        path: &str,
        mut parse: impl FnMut(&mut Self, &Value, &str) -> Option<T>,
    ) -> Vec<T> {
        match value.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| parse(self, item, &format!("{path}.{key}[{i}]")))
                .collect(),
            Some(other) => {
                self.problem(
                    &format!("{path}.{key}"),
                    format!("{key} is not an array"),
                    other,
                );
                Vec::new()
            }
        }
    }

    fn contact(&mut self, item: &Value, path: &str) -> Option<Contact> {
        let Some(obj) = item.as_object() else {
            self.problem(path, "contact is not an object", item);
            return None;
        };
        let wa_id = non_empty(string_like(obj.get("wa_id")));
        let user_id = non_empty(string_like(obj.get("user_id")));
        if wa_id.is_none() && user_id.is_none() {
            self.problem(path, "contact has neither wa_id nor user_id", item);
            return None;
        }
        let profile = obj.get("profile").and_then(Value::as_object);
        Some(Contact {
            wa_id,
            user_id,
            parent_user_id: non_empty(string_like(obj.get("parent_user_id"))),
            profile_name: profile.and_then(|p| string_like(p.get("name"))),
            username: profile.and_then(|p| non_empty(string_like(p.get("username")))),
        })
    }

    fn message(&mut self, item: &Value, path: &str) -> Option<InboundMessage> {
        let Some(obj) = item.as_object() else {
            self.problem(path, "message is not an object", item);
            return None;
        };
        let Some(id) = non_empty(string_like(obj.get("id"))) else {
            self.problem(path, "message has no id", item);
            return None;
        };
        let from = non_empty(string_like(obj.get("from")));
        let from_user_id = non_empty(string_like(obj.get("from_user_id")));
        if from.is_none() && from_user_id.is_none() {
            self.problem(path, "message has neither from nor from_user_id", item);
            return None;
        }
        let timestamp = match timestamp(obj.get("timestamp")) {
            Ok(t) => t,
            Err(reason) => {
                self.problem(path, format!("message {reason}"), item);
                return None;
            }
        };
        let type_name = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        let kind = match message_kind(type_name, obj) {
            Ok(kind) => kind,
            Err(reason) => {
                let type_shown = if type_name.is_empty() {
                    "(none)"
                } else {
                    type_name
                };
                self.problem(
                    path,
                    format!("message of type {type_shown} kept as malformed: {reason}"),
                    item,
                );
                MessageKind::Malformed {
                    type_name: type_name.to_string(),
                    reason,
                }
            }
        };
        Some(InboundMessage {
            id,
            from,
            from_user_id,
            group_id: non_empty(string_like(obj.get("group_id"))),
            timestamp,
            context: obj.get("context").and_then(Value::as_object).map(context),
            referral: obj.get("referral").and_then(Value::as_object).map(referral),
            errors: error_list(obj.get("errors")),
            kind,
            raw: item.clone(),
        })
    }

    fn status(&mut self, item: &Value, path: &str) -> Option<Status> {
        let Some(obj) = item.as_object() else {
            self.problem(path, "status is not an object", item);
            return None;
        };
        let Some(id) = non_empty(string_like(obj.get("id"))) else {
            self.problem(path, "status has no id", item);
            return None;
        };
        let Some(status) = obj.get("status").and_then(Value::as_str) else {
            self.problem(path, "status has no string \"status\"", item);
            return None;
        };
        let timestamp = match timestamp(obj.get("timestamp")) {
            Ok(t) => t,
            Err(reason) => {
                self.problem(path, format!("status {reason}"), item);
                return None;
            }
        };
        Some(Status {
            id,
            status: StatusKind::from_wire(status),
            timestamp,
            recipient_id: non_empty(string_like(obj.get("recipient_id"))),
            recipient_user_id: non_empty(string_like(obj.get("recipient_user_id"))),
            errors: error_list(obj.get("errors")),
            conversation: present(obj.get("conversation")),
            pricing: present(obj.get("pricing")),
            biz_opaque_callback_data: string_like(obj.get("biz_opaque_callback_data")),
            raw: item.clone(),
        })
    }
}

fn metadata(value: Option<&Value>) -> Option<Metadata> {
    let obj = value?.as_object()?;
    Some(Metadata {
        display_phone_number: non_empty(string_like(obj.get("display_phone_number"))),
        phone_number_id: non_empty(string_like(obj.get("phone_number_id")))?,
    })
}

/// The typed content of a message of type `type_name`, or why it can't be read.
fn message_kind(type_name: &str, msg: &Object) -> Result<MessageKind, String> {
    let content = msg.get(type_name);
    let object = || {
        content
            .and_then(Value::as_object)
            .ok_or_else(|| format!("no \"{type_name}\" object"))
    };
    Ok(match type_name {
        "" => return Err("no type".to_string()),
        "text" => MessageKind::Text {
            body: string_like(object()?.get("body")).ok_or("text has no body")?,
        },
        "image" => MessageKind::Image {
            media: media(object()?)?,
        },
        "video" => MessageKind::Video {
            media: media(object()?)?,
        },
        "audio" => {
            let obj = object()?;
            MessageKind::Audio {
                media: media(obj)?,
                voice: flag(obj.get("voice")),
            }
        }
        "document" => MessageKind::Document {
            media: media(object()?)?,
        },
        "sticker" => {
            let obj = object()?;
            MessageKind::Sticker {
                media: media(obj)?,
                animated: flag(obj.get("animated")),
            }
        }
        "location" => {
            let obj = object()?;
            MessageKind::Location {
                latitude: number(obj.get("latitude")).ok_or("location has no latitude")?,
                longitude: number(obj.get("longitude")).ok_or("location has no longitude")?,
                name: string_like(obj.get("name")),
                address: string_like(obj.get("address")),
                url: string_like(obj.get("url")),
            }
        }
        "contacts" => {
            let cards = content
                .and_then(Value::as_array)
                .ok_or("no \"contacts\" array")?;
            MessageKind::Contacts {
                contacts: cards
                    .iter()
                    .filter_map(Value::as_object)
                    .map(shared_contact)
                    .collect(),
            }
        }
        "interactive" => MessageKind::Interactive {
            reply: interactive(object()?)?,
        },
        "button" => {
            let obj = object()?;
            MessageKind::Button {
                payload: string_like(obj.get("payload")),
                text: string_like(obj.get("text")),
            }
        }
        "reaction" => {
            let obj = object()?;
            MessageKind::Reaction {
                message_id: non_empty(string_like(obj.get("message_id")))
                    .ok_or("reaction has no message_id")?,
                emoji: non_empty(string_like(obj.get("emoji"))),
            }
        }
        "order" => {
            let obj = object()?;
            MessageKind::Order {
                order: Order {
                    catalog_id: string_like(obj.get("catalog_id")),
                    text: string_like(obj.get("text")),
                    product_items: obj
                        .get("product_items")
                        .and_then(Value::as_array)
                        .map(|items| {
                            items
                                .iter()
                                .filter_map(Value::as_object)
                                .map(product_item)
                                .collect()
                        })
                        .unwrap_or_default(),
                },
            }
        }
        "system" => {
            let obj = object()?;
            MessageKind::System {
                system: SystemEvent {
                    event_type: string_like(obj.get("type")),
                    body: string_like(obj.get("body")),
                    new_wa_id: non_empty(
                        string_like(obj.get("wa_id")).or_else(|| string_like(obj.get("new_wa_id"))),
                    ),
                    user_id: non_empty(string_like(obj.get("user_id"))),
                    previous_user_id: non_empty(string_like(obj.get("previous_user_id"))),
                },
            }
        }
        "unsupported" => MessageKind::Unsupported {
            original_type: content
                .and_then(Value::as_object)
                .and_then(|o| non_empty(string_like(o.get("type")))),
        },
        other => MessageKind::Unknown {
            type_name: other.to_string(),
            raw: content.cloned().unwrap_or(Value::Null),
        },
    })
}

fn media(obj: &Object) -> Result<Media, String> {
    Ok(Media {
        id: non_empty(string_like(obj.get("id"))).ok_or("media has no id")?,
        mime_type: string_like(obj.get("mime_type")),
        sha256: string_like(obj.get("sha256")),
        caption: string_like(obj.get("caption")),
        filename: string_like(obj.get("filename")),
        url: string_like(obj.get("url")),
    })
}

fn interactive(obj: &Object) -> Result<InteractiveReply, String> {
    let type_name = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or("interactive has no type")?;
    let part = |key: &str| {
        obj.get(key)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("interactive has no \"{key}\" object"))
    };
    Ok(match type_name {
        "button_reply" => {
            let reply = part("button_reply")?;
            InteractiveReply::ButtonReply {
                id: string_like(reply.get("id")).ok_or("button_reply has no id")?,
                title: string_like(reply.get("title")).unwrap_or_default(),
            }
        }
        "list_reply" => {
            let reply = part("list_reply")?;
            InteractiveReply::ListReply {
                id: string_like(reply.get("id")).ok_or("list_reply has no id")?,
                title: string_like(reply.get("title")).unwrap_or_default(),
                description: string_like(reply.get("description")),
            }
        }
        "nfm_reply" => {
            let reply = part("nfm_reply")?;
            InteractiveReply::NfmReply {
                name: string_like(reply.get("name")),
                body: string_like(reply.get("body")),
                response_json: string_like(reply.get("response_json")),
            }
        }
        other => InteractiveReply::Other {
            type_name: other.to_string(),
            raw: Value::Object(obj.clone()),
        },
    })
}

fn shared_contact(card: &Object) -> SharedContact {
    SharedContact {
        formatted_name: card
            .get("name")
            .and_then(Value::as_object)
            .and_then(|n| string_like(n.get("formatted_name"))),
        phones: card
            .get("phones")
            .and_then(Value::as_array)
            .map(|phones| {
                phones
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|p| SharedPhone {
                        phone: string_like(p.get("phone")),
                        wa_id: string_like(p.get("wa_id")),
                        phone_type: string_like(p.get("type")),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn product_item(item: &Object) -> ProductItem {
    ProductItem {
        product_retailer_id: string_like(item.get("product_retailer_id")),
        quantity: item.get("quantity").and_then(|q| match q {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }),
        item_price: number(item.get("item_price")),
        currency: string_like(item.get("currency")),
    }
}

fn context(obj: &Object) -> MessageContext {
    MessageContext {
        id: non_empty(string_like(obj.get("id"))),
        from: non_empty(string_like(obj.get("from"))),
        forwarded: flag(obj.get("forwarded")),
        frequently_forwarded: flag(obj.get("frequently_forwarded")),
        referred_product: obj
            .get("referred_product")
            .and_then(Value::as_object)
            .map(|p| ReferredProduct {
                catalog_id: string_like(p.get("catalog_id")),
                product_retailer_id: string_like(p.get("product_retailer_id")),
            }),
    }
}

fn referral(obj: &Object) -> Referral {
    let s = |key: &str| string_like(obj.get(key));
    Referral {
        source_url: s("source_url"),
        source_id: s("source_id"),
        source_type: s("source_type"),
        body: s("body"),
        headline: s("headline"),
        media_type: s("media_type"),
        image_url: s("image_url"),
        video_url: s("video_url"),
        thumbnail_url: s("thumbnail_url"),
        ctwa_clid: s("ctwa_clid"),
    }
}

/// An `errors` array; non-object elements are dropped.
fn error_list(value: Option<&Value>) -> Vec<ErrorDetail> {
    value
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(Value::as_object)
                .map(error_detail)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn error_detail(obj: &Object) -> ErrorDetail {
    ErrorDetail {
        code: obj.get("code").and_then(|c| match c {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }),
        title: string_like(obj.get("title")),
        message: string_like(obj.get("message")),
        details: obj
            .get("error_data")
            .and_then(Value::as_object)
            .and_then(|d| string_like(d.get("details"))),
        href: string_like(obj.get("href")),
    }
}

/// Meta's `timestamp`: Unix seconds, as a string (or, leniently, a JSON integer).
fn timestamp(value: Option<&Value>) -> Result<OffsetDateTime, String> {
    let seconds = match value {
        None | Some(Value::Null) => return Err("has no timestamp".to_string()),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("has a bad timestamp {:?}", cut(s)));
            }
            s.parse::<i64>()
                .map_err(|_| format!("has a bad timestamp {:?}", cut(s)))?
        }
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("has a bad timestamp {n}"))?,
        Some(_) => return Err("has a timestamp that is neither string nor number".to_string()),
    };
    OffsetDateTime::from_unix_timestamp(seconds)
        .map_err(|_| format!("has an out-of-range timestamp {seconds}"))
}

/// A string, or a number written as a string (ids are sometimes numbers).
fn string_like(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty())
}

/// A finite number, or a string holding one.
fn number(value: Option<&Value>) -> Option<f64> {
    let n = match value? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    n.is_finite().then_some(n)
}

/// `true` only for JSON `true` (or the string `"true"`).
fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

fn present(value: Option<&Value>) -> Option<Value> {
    value.filter(|v| !v.is_null()).cloned()
}

fn cut(s: &str) -> String {
    s.chars().take(32).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn batch(value: Value) -> WebhookBatch {
        parse_batch(value.to_string().as_bytes()).unwrap()
    }

    fn envelope(value: Value) -> Value {
        json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}]
        })
    }

    fn meta() -> Value {
        json!({"display_phone_number": "15550001111", "phone_number_id": "123"})
    }

    #[test]
    fn non_json_is_an_error() {
        assert!(matches!(
            parse_batch(b"not json"),
            Err(ParseError::InvalidJson(_))
        ));
        assert!(matches!(parse_batch(b""), Err(ParseError::InvalidJson(_))));
    }

    #[test]
    fn json_that_is_not_an_envelope_is_an_error() {
        assert!(matches!(parse_batch(b"[]"), Err(ParseError::NotAnObject)));
        assert!(matches!(parse_batch(b"42"), Err(ParseError::NotAnObject)));
        assert!(matches!(
            parse_batch(b"{}"),
            Err(ParseError::WrongObject(None))
        ));
        assert!(matches!(
            parse_batch(br#"{"object":"page","entry":[]}"#),
            Err(ParseError::WrongObject(Some(o))) if o == "page"
        ));
        assert!(matches!(
            parse_batch(br#"{"object":"whatsapp_business_account"}"#),
            Err(ParseError::MissingEntries)
        ));
        assert!(matches!(
            parse_batch(br#"{"object":"whatsapp_business_account","entry":{}}"#),
            Err(ParseError::MissingEntries)
        ));
    }

    #[test]
    fn an_empty_entry_list_is_an_empty_batch() {
        let b = batch(json!({"object": "whatsapp_business_account", "entry": []}));
        assert!(b.entries.is_empty());
        assert!(b.problems.is_empty());
    }

    #[test]
    fn timestamps_are_unix_seconds_strings() {
        assert_eq!(
            timestamp(Some(&json!("1749416383"))).unwrap(),
            OffsetDateTime::from_unix_timestamp(1_749_416_383).unwrap()
        );
        assert_eq!(
            timestamp(Some(&json!(1_749_416_383))).unwrap(),
            OffsetDateTime::from_unix_timestamp(1_749_416_383).unwrap()
        );
        for bad in [
            json!(""),
            json!("17494x"),
            json!("-5"),
            json!(1.5),
            json!(true),
            json!("99999999999999999999"),
            json!(i64::MAX),
        ] {
            assert!(timestamp(Some(&bad)).is_err(), "{bad}");
        }
        assert!(timestamp(None).is_err());
    }

    #[test]
    fn a_message_without_id_is_a_problem_and_the_rest_survives() {
        let b = batch(envelope(json!({
            "metadata": meta(),
            "messages": [
                {"from": "1", "timestamp": "1", "type": "text", "text": {"body": "no id"}},
                {"from": "1", "id": "wamid.2", "timestamp": "1", "type": "text", "text": {"body": "ok"}}
            ]
        })));
        let msgs: Vec<_> = b.messages().map(|(_, m)| m.id.as_str()).collect();
        assert_eq!(msgs, ["wamid.2"]);
        assert_eq!(b.problems.len(), 1);
        assert_eq!(b.problems[0].path, "entry[0].changes[0].value.messages[0]");
        assert_eq!(b.problems[0].description, "message has no id");
    }

    #[test]
    fn a_known_type_with_unreadable_content_is_kept_as_malformed() {
        let b = batch(envelope(json!({
            "metadata": meta(),
            "messages": [{"from": "1", "id": "wamid.1", "timestamp": "1", "type": "image", "image": {"caption": "x"}}]
        })));
        let (_, m) = b.messages().next().unwrap();
        assert_eq!(
            m.kind,
            MessageKind::Malformed {
                type_name: "image".into(),
                reason: "media has no id".into()
            }
        );
        assert_eq!(m.kind_name(), "unsupported");
        assert_eq!(b.problems.len(), 1);
    }

    #[test]
    fn a_change_without_metadata_is_a_problem() {
        let b = batch(envelope(json!({"messages": []})));
        assert_eq!(b.entries[0].changes.len(), 0);
        assert_eq!(b.problems[0].path, "entry[0].changes[0].value.metadata");
    }

    #[test]
    fn non_array_item_lists_are_problems() {
        let b = batch(envelope(
            json!({"metadata": meta(), "messages": {}, "statuses": 3}),
        ));
        assert_eq!(b.problems.len(), 2);
        let Change::Messages(c) = &b.entries[0].changes[0] else {
            panic!("not a messages change")
        };
        assert!(c.messages.is_empty() && c.statuses.is_empty());
    }

    #[test]
    fn numbers_are_accepted_where_strings_are_expected() {
        let b = batch(envelope(json!({
            "metadata": {"display_phone_number": 15550001111_u64, "phone_number_id": 123},
            "contacts": [{"wa_id": 34600123456_u64}],
            "messages": [{"from": 34600123456_u64, "id": "wamid.1", "timestamp": 1700000000, "type": "text", "text": {"body": "hi"}}]
        })));
        assert!(b.problems.is_empty(), "{:?}", b.problems);
        let (c, m) = b.messages().next().unwrap();
        assert_eq!(c.metadata.phone_number_id, "123");
        assert_eq!(m.from.as_deref(), Some("34600123456"));
        assert_eq!(
            c.contact_for(m).unwrap().wa_id.as_deref(),
            Some("34600123456")
        );
    }

    #[test]
    fn context_flags_default_to_false() {
        let ctx = context(json!({"id": "wamid.x"}).as_object().unwrap());
        assert_eq!(ctx.id.as_deref(), Some("wamid.x"));
        assert!(!ctx.forwarded && !ctx.frequently_forwarded);
        assert_eq!(ctx.from, None);
    }

    #[test]
    fn error_codes_may_be_strings() {
        let e = error_detail(json!({"code": "131047"}).as_object().unwrap());
        assert_eq!(e.code, Some(131_047));
    }
}
