//! Webhook POST bodies as typed values.
//!
//! [`WebhookBatch::parse`] turns the raw body into every entry, every change and
//! every item in it (Meta batches up to 1,000 updates into one POST; reading only
//! the first of each loses data). Only a body that is not JSON, or JSON that is not
//! a `whatsapp_business_account` envelope, is an error. A malformed item (a message
//! without `id`, a bad timestamp, ...) is recorded in [`WebhookBatch::problems`]
//! and the rest of the batch is still returned. Unknown message types become
//! [`MessageKind::Unknown`], unknown statuses [`StatusKind::Unknown`], other
//! webhook fields [`IgnoredChange`]: none of them is an error.
//!
//! Every type here is `Deserialize`. The content of a message ([`MessageKind`],
//! [`MessageContext`], [`Referral`], [`ErrorDetail`] and what they hold) is also
//! `Serialize`: the gateway stores it as the message's metadata. The envelope types
//! (the batch, entries, changes, messages, statuses, problems) are `Serialize` only with
//! the test-only `test-serialization` feature, for the tests that round-trip a parsed
//! batch through JSON: serialized messages then also carry `message_type` and
//! `preview_text` (see [`InboundMessage::kind_name`] and [`InboundMessage::preview_text`]),
//! and timestamps serialize as RFC 3339.

mod parse;
mod preview;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

/// The only `object` value a WhatsApp Business Account webhook carries.
pub const WEBHOOK_OBJECT: &str = "whatsapp_business_account";

/// The change `field` that carries inbound messages and statuses.
pub const MESSAGES_FIELD: &str = "messages";

/// The body is not a WhatsApp webhook at all. Anything smaller (a bad item) is an
/// [`ItemProblem`] instead.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is not valid JSON (or nests deeper than serde_json's limit).
    #[error("webhook body is not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    /// The body is JSON but not an object.
    #[error("webhook body is not a JSON object")]
    NotAnObject,
    /// `object` is absent or not `whatsapp_business_account` (the value, cut to 64
    /// characters, is kept for the log).
    #[error("webhook \"object\" is {0:?}, expected \"whatsapp_business_account\"")]
    WrongObject(Option<String>),
    /// `entry` is absent or not an array.
    #[error("webhook body has no \"entry\" array")]
    MissingEntries,
}

/// One webhook POST, fully walked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct WebhookBatch {
    /// Every entry, in payload order.
    pub entries: Vec<Entry>,
    /// Every item that was skipped or degraded, with where it was and why.
    pub problems: Vec<ItemProblem>,
}

/// One `entry[]` element: the changes of one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct Entry {
    /// The WhatsApp Business Account id (`entry[].id`); `None` if absent.
    pub id: Option<String>,
    /// Every change of this entry, in payload order.
    pub changes: Vec<Change>,
}

/// One `changes[]` element.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// `field == "messages"`: inbound messages, statuses and errors.
    Messages(MessagesChange),
    /// Any other field (template status, account updates, ...): kept raw so it can
    /// be journaled.
    Ignored(IgnoredChange),
}

/// A change whose `field` is not `messages`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct IgnoredChange {
    /// The change's `field`, e.g. `message_template_status_update`.
    pub field: String,
    /// The change's `value`, untouched (`null` if absent).
    pub value: Value,
}

/// The `value` of a `messages` change.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct MessagesChange {
    /// The business phone number the change is about.
    pub metadata: Metadata,
    /// `value.contacts[]`: the WhatsApp users the messages come from.
    pub contacts: Vec<Contact>,
    /// `value.messages[]`: inbound messages.
    pub messages: Vec<InboundMessage>,
    /// `value.statuses[]`: status updates of messages we sent.
    pub statuses: Vec<Status>,
    /// `value.errors[]`: errors not tied to one message.
    pub errors: Vec<ErrorDetail>,
}

/// `value.metadata`: which business number received the change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct Metadata {
    /// The business number as displayed, e.g. `15550783881`.
    pub display_phone_number: Option<String>,
    /// The Graph id of the business number (the `{phone-number-id}` we send with).
    pub phone_number_id: String,
}

/// `value.contacts[]`: the sender's identity and profile.
///
/// Since 2026 a user who adopted a username may come without a phone number: then
/// only `user_id` (the business-scoped user id, BSUID, e.g. `US.13491208655302741918`)
/// is present. At least one of `wa_id` and `user_id` is always set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct Contact {
    /// The user's WhatsApp id (their phone number, digits only), if shared.
    pub wa_id: Option<String>,
    /// Business-scoped user id (BSUID), `contacts[].user_id`.
    pub user_id: Option<String>,
    /// Parent BSUID shared across linked portfolios, `contacts[].parent_user_id`.
    pub parent_user_id: Option<String>,
    /// `contacts[].profile.name`.
    pub profile_name: Option<String>,
    /// `contacts[].profile.username`, for users who adopted a username.
    pub username: Option<String>,
}

/// One inbound message (`value.messages[]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InboundMessage {
    /// WhatsApp's message id (`wamid....`): the idempotency key.
    pub id: String,
    /// Sender's phone number; absent for username users who share none.
    pub from: Option<String>,
    /// Sender's business-scoped user id (`from_user_id`), when Meta sends it.
    pub from_user_id: Option<String>,
    /// Set when the message was sent in a WhatsApp group the business is in
    /// (`group_id`, Groups API): it is not a 1:1 conversation with `from`.
    pub group_id: Option<String>,
    /// When the user sent it (Meta's `timestamp`, Unix seconds).
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Reply / forward information.
    pub context: Option<MessageContext>,
    /// Click-to-WhatsApp ad referral, on the first message after an ad tap.
    pub referral: Option<Referral>,
    /// `messages[].errors` (present on `unsupported` messages).
    pub errors: Vec<ErrorDetail>,
    /// The typed content.
    pub kind: MessageKind,
    /// The message object exactly as received, for the database.
    pub raw: Value,
}

impl InboundMessage {
    /// The `messages.message_type` value stored in the database. See
    /// [`MessageKind::kind_name`] for the mapping.
    pub fn kind_name(&self) -> &'static str {
        self.kind.kind_name()
    }

    /// A readable stand-in for the content, e.g. `[image] caption`. See
    /// [`MessageKind::preview_text`].
    pub fn preview_text(&self) -> String {
        self.kind.preview_text()
    }

    /// The wamid this message replies to, if it is a reply.
    pub fn reply_to(&self) -> Option<&str> {
        self.context.as_ref().and_then(|c| c.id.as_deref())
    }
}

#[cfg(feature = "test-serialization")]
impl Serialize for InboundMessage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The wire form: the fields plus the two derived values the database
        /// stores (ignored again when deserializing).
        #[derive(Serialize)]
        struct Wire<'a> {
            id: &'a str,
            from: &'a Option<String>,
            from_user_id: &'a Option<String>,
            group_id: &'a Option<String>,
            #[serde(with = "time::serde::rfc3339")]
            timestamp: OffsetDateTime,
            context: &'a Option<MessageContext>,
            referral: &'a Option<Referral>,
            errors: &'a [ErrorDetail],
            kind: &'a MessageKind,
            message_type: &'static str,
            preview_text: String,
            raw: &'a Value,
        }
        Wire {
            id: &self.id,
            from: &self.from,
            from_user_id: &self.from_user_id,
            group_id: &self.group_id,
            timestamp: self.timestamp,
            context: &self.context,
            referral: &self.referral,
            errors: &self.errors,
            kind: &self.kind,
            message_type: self.kind_name(),
            preview_text: self.preview_text(),
            raw: &self.raw,
        }
        .serialize(serializer)
    }
}

/// `messages[].context`: what the message replies to or where it was forwarded from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MessageContext {
    /// The wamid replied to (`context.id`).
    pub id: Option<String>,
    /// Who sent the message replied to (`context.from`).
    pub from: Option<String>,
    /// `context.forwarded`.
    pub forwarded: bool,
    /// `context.frequently_forwarded` (forwarded more than 5 times).
    pub frequently_forwarded: bool,
    /// The product the user asked about (`context.referred_product`).
    pub referred_product: Option<ReferredProduct>,
}

/// `context.referred_product`: a catalog item the user enquired about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferredProduct {
    /// Catalog id.
    pub catalog_id: Option<String>,
    /// The product's retailer id.
    pub product_retailer_id: Option<String>,
}

/// `messages[].referral`: the click-to-WhatsApp ad or post the user came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Referral {
    /// URL of the ad or post.
    pub source_url: Option<String>,
    /// Meta id of the ad or post.
    pub source_id: Option<String>,
    /// `ad` or `post`.
    pub source_type: Option<String>,
    /// Ad body.
    pub body: Option<String>,
    /// Ad headline.
    pub headline: Option<String>,
    /// `image` or `video`.
    pub media_type: Option<String>,
    /// Image URL when `media_type` is `image`.
    pub image_url: Option<String>,
    /// Video URL when `media_type` is `video`.
    pub video_url: Option<String>,
    /// Video thumbnail URL.
    pub thumbnail_url: Option<String>,
    /// Click id for conversion tracking.
    pub ctwa_clid: Option<String>,
}

/// Media attached to an image, video, audio, document or sticker message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Media {
    /// Media id for `GET /{media-id}` (downloadable for 7 days).
    pub id: String,
    /// MIME type, e.g. `image/jpeg`.
    pub mime_type: Option<String>,
    /// SHA-256 of the file (as Meta sends it).
    pub sha256: Option<String>,
    /// Caption (images, videos, documents).
    pub caption: Option<String>,
    /// File name (documents).
    pub filename: Option<String>,
    /// Direct download URL, when Meta includes it (needs the access token).
    pub url: Option<String>,
}

/// The content of an inbound message, by WhatsApp `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageKind {
    /// `text { body }`.
    Text {
        /// The text.
        body: String,
    },
    /// `image { id, mime_type, sha256, caption? }`.
    Image {
        /// The image.
        media: Media,
    },
    /// `video { id, mime_type, sha256, caption? }`.
    Video {
        /// The video.
        media: Media,
    },
    /// `audio { id, mime_type, sha256, voice? }`.
    Audio {
        /// The audio file.
        media: Media,
        /// `true` for a voice note recorded in WhatsApp.
        voice: bool,
    },
    /// `document { id, mime_type, sha256, caption?, filename? }`.
    Document {
        /// The document.
        media: Media,
    },
    /// `sticker { id, mime_type, sha256, animated? }`.
    Sticker {
        /// The sticker image.
        media: Media,
        /// `true` for an animated sticker.
        animated: bool,
    },
    /// `location { latitude, longitude, name?, address?, url? }`.
    Location {
        /// Latitude in degrees.
        latitude: f64,
        /// Longitude in degrees.
        longitude: f64,
        /// Place name.
        name: Option<String>,
        /// Place address.
        address: Option<String>,
        /// Place URL.
        url: Option<String>,
    },
    /// `contacts [ ... ]`: contact cards the user shared.
    Contacts {
        /// The shared cards.
        contacts: Vec<SharedContact>,
    },
    /// `interactive { type, ... }`: a reply to an interactive message.
    Interactive {
        /// What was chosen.
        reply: InteractiveReply,
    },
    /// `button { payload, text }`: a quick-reply button of a template.
    Button {
        /// The button's payload, as set in the template.
        payload: Option<String>,
        /// The button's label.
        text: Option<String>,
    },
    /// `reaction { message_id, emoji }`. `emoji` is `None` when the user removed
    /// their reaction (Meta sends `""` or no emoji).
    Reaction {
        /// The wamid reacted to.
        message_id: String,
        /// The emoji, or `None` for a removed reaction.
        emoji: Option<String>,
    },
    /// `order { catalog_id, text, product_items }`.
    Order {
        /// The order.
        order: Order,
    },
    /// `system { ... }`: the user changed number or business-scoped user id.
    System {
        /// The event.
        system: SystemEvent,
    },
    /// `type: unsupported`: WhatsApp could not deliver the content through the API
    /// (see the message's `errors`, e.g. 131051).
    Unsupported {
        /// `unsupported.type`, e.g. `edit` or `poll_creation`, when given.
        original_type: Option<String>,
    },
    /// A `type` this crate does not know. Never an error.
    Unknown {
        /// The message's `type`.
        type_name: String,
        /// The object under the message's `type` key (`null` if absent); the whole
        /// message is in [`InboundMessage::raw`].
        raw: Value,
    },
    /// A known `type` whose content could not be read (e.g. an image without id).
    /// The message is kept so the customer's message is not lost; the problem is
    /// also listed in [`WebhookBatch::problems`].
    Malformed {
        /// The message's `type`.
        type_name: String,
        /// What was wrong.
        reason: String,
    },
}

/// One shared contact card (`messages[].contacts[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedContact {
    /// `name.formatted_name`.
    pub formatted_name: Option<String>,
    /// `phones[]`.
    pub phones: Vec<SharedPhone>,
}

/// A phone number on a shared contact card.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedPhone {
    /// The number as written on the card.
    pub phone: Option<String>,
    /// Its WhatsApp id, if it is on WhatsApp.
    pub wa_id: Option<String>,
    /// `HOME`, `WORK`, `CELL`, ...
    #[serde(rename = "type")]
    pub phone_type: Option<String>,
}

/// What the user chose in an interactive message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InteractiveReply {
    /// `button_reply { id, title }`: a reply button.
    ButtonReply {
        /// The button id we set.
        id: String,
        /// The button label.
        title: String,
    },
    /// `list_reply { id, title, description? }`: a list row.
    ListReply {
        /// The row id we set.
        id: String,
        /// The row title.
        title: String,
        /// The row description.
        description: Option<String>,
    },
    /// `nfm_reply { name, body, response_json }`: a completed WhatsApp Flow.
    NfmReply {
        /// Usually `flow`.
        name: Option<String>,
        /// Usually `Sent`.
        body: Option<String>,
        /// The flow's answers, a JSON document in a string.
        response_json: Option<String>,
    },
    /// Any other `interactive.type`.
    Other {
        /// `interactive.type`.
        type_name: String,
        /// The whole `interactive` object.
        raw: Value,
    },
}

/// `messages[].order`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The catalog ordered from.
    pub catalog_id: Option<String>,
    /// The text the user added.
    pub text: Option<String>,
    /// The items.
    pub product_items: Vec<ProductItem>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductItem {
    /// The product's retailer id.
    pub product_retailer_id: Option<String>,
    /// How many.
    pub quantity: Option<u64>,
    /// Unit price.
    pub item_price: Option<f64>,
    /// ISO 4217 currency.
    pub currency: Option<String>,
}

/// `messages[].system`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemEvent {
    /// `system.type`: `user_changed_number`, `user_changed_user_id`, or older
    /// `customer_changed_number` / `customer_identity_changed`.
    pub event_type: Option<String>,
    /// Human-readable description.
    pub body: Option<String>,
    /// The new phone number / WhatsApp id (`system.wa_id`, or the older `new_wa_id`).
    pub new_wa_id: Option<String>,
    /// The new business-scoped user id (`system.user_id`).
    pub user_id: Option<String>,
    /// The previous business-scoped user id (`system.previous_user_id`).
    pub previous_user_id: Option<String>,
}

/// One status update of a message we sent (`value.statuses[]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct Status {
    /// The wamid of our outbound message.
    pub id: String,
    /// The new status.
    pub status: StatusKind,
    /// When it happened (Meta's `timestamp`): order statuses by this, not arrival.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// The recipient's phone number / WhatsApp id, if shared.
    pub recipient_id: Option<String>,
    /// The recipient's business-scoped user id, when Meta sends it.
    pub recipient_user_id: Option<String>,
    /// Why it failed (`failed` statuses).
    pub errors: Vec<ErrorDetail>,
    /// `conversation`, kept raw.
    pub conversation: Option<Value>,
    /// `pricing`, kept raw.
    pub pricing: Option<Value>,
    /// The `biz_opaque_callback_data` we set when sending, echoed back.
    pub biz_opaque_callback_data: Option<String>,
    /// The status object exactly as received.
    pub raw: Value,
}

/// `statuses[].status`. Unknown strings become [`StatusKind::Unknown`], never an
/// error. Deserializes from (and, in tests, serializes as) the wire string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StatusKind {
    /// Accepted by WhatsApp and sent.
    Sent,
    /// Delivered to the user's device.
    Delivered,
    /// Read by the user (implies delivered).
    Read,
    /// A voice message was played.
    Played,
    /// Could not be sent or delivered; see [`Status::errors`].
    Failed,
    /// Any other string.
    Unknown(String),
}

impl StatusKind {
    /// Parses the wire string (exact, lowercase).
    pub fn from_wire(s: &str) -> Self {
        match s {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "played" => Self::Played,
            "failed" => Self::Failed,
            other => Self::Unknown(other.to_string()),
        }
    }

    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Played => "played",
            Self::Failed => "failed",
            Self::Unknown(s) => s,
        }
    }
}

#[cfg(feature = "test-serialization")]
impl Serialize for StatusKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StatusKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(Self::from_wire(&s))
    }
}

/// An error object as it appears in `value.errors`, `messages[].errors` and
/// `statuses[].errors`. Decide on `code` (see [`crate::send::classify`]), never on
/// the title.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Meta's error code, e.g. 131047.
    pub code: Option<i64>,
    /// Short title.
    pub title: Option<String>,
    /// Message (often equal to the title).
    pub message: Option<String>,
    /// `error_data.details`: the useful explanation.
    pub details: Option<String>,
    /// Link to Meta's error documentation.
    pub href: Option<String>,
}

/// An item that was skipped (or kept degraded) while parsing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "test-serialization", derive(Serialize))]
pub struct ItemProblem {
    /// Where it was, e.g. `entry[0].changes[1].value.messages[2]`.
    pub path: String,
    /// What was wrong.
    pub description: String,
    /// The item as received.
    pub raw: Value,
}

impl WebhookBatch {
    /// Parses a raw webhook body. See the module documentation for what is an
    /// error and what is an [`ItemProblem`].
    pub fn parse(raw_body: &[u8]) -> Result<Self, ParseError> {
        parse::parse_batch(raw_body)
    }

    /// Every `messages` change, in payload order.
    pub fn messages_changes(&self) -> impl Iterator<Item = &MessagesChange> {
        self.entries
            .iter()
            .flat_map(|e| e.changes.iter())
            .filter_map(|c| match c {
                Change::Messages(m) => Some(m),
                Change::Ignored(_) => None,
            })
    }

    /// Every inbound message, with the change it came in (for its metadata and
    /// contacts).
    pub fn messages(&self) -> impl Iterator<Item = (&MessagesChange, &InboundMessage)> {
        self.messages_changes()
            .flat_map(|c| c.messages.iter().map(move |m| (c, m)))
    }

    /// Every status update, with the change it came in.
    pub fn statuses(&self) -> impl Iterator<Item = (&MessagesChange, &Status)> {
        self.messages_changes()
            .flat_map(|c| c.statuses.iter().map(move |s| (c, s)))
    }

    /// Every change whose field is not `messages`.
    pub fn ignored_changes(&self) -> impl Iterator<Item = &IgnoredChange> {
        self.entries
            .iter()
            .flat_map(|e| e.changes.iter())
            .filter_map(|c| match c {
                Change::Ignored(i) => Some(i),
                Change::Messages(_) => None,
            })
    }
}

impl MessagesChange {
    /// The contact entry describing the sender of `message`: matched on `wa_id`
    /// == `from` or `user_id` == `from_user_id`; if neither matches and the
    /// change has exactly one contact, that one.
    pub fn contact_for(&self, message: &InboundMessage) -> Option<&Contact> {
        let by_phone = message.from.as_deref().and_then(|from| {
            self.contacts
                .iter()
                .find(|c| c.wa_id.as_deref() == Some(from))
        });
        let by_user_id = || {
            message.from_user_id.as_deref().and_then(|uid| {
                self.contacts
                    .iter()
                    .find(|c| c.user_id.as_deref() == Some(uid))
            })
        };
        by_phone
            .or_else(by_user_id)
            .or(match self.contacts.as_slice() {
                [only] => Some(only),
                _ => None,
            })
    }
}
