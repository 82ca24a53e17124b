//! The WhatsApp Cloud API protocol, without IO and without an HTTP framework.
//!
//! - [`signature`]: `X-Hub-Signature-256` verification (and signing, for the
//!   simulator and tests), with Meta's escaped-unicode fallback.
//! - [`handshake`]: the GET verification handshake.
//! - [`webhook`]: raw webhook bodies as typed [`WebhookBatch`]es: every entry,
//!   change and item; bad items become [`ItemProblem`]s, unknown kinds stay
//!   explicit.
//! - [`send`]: outbound request bodies, the send response and Graph error
//!   envelope, [`ErrorClass`] by error code, and the [`RetryPolicy`].
//! - [`templates`]: the template list (`GET /{waba-id}/message_templates`) and the
//!   template webhooks, typed.
//! - [`pricing`]: the `pricing` object of status webhooks, typed.
//! - [`messaging_limit`]: the messaging limit announced by webhook.
//! - [`mask_phone`]: phone numbers fit for logs.
//!
//! Facts come from Meta's WhatsApp Cloud API documentation: the webhooks reference
//! (payload components and examples), the messages reference (request bodies) and the
//! Cloud API error codes reference.
//!
//! ```
//! use whatsapp::{sign, verify_signature, WebhookBatch, OutboundMessage, OutboundRequest};
//!
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
//!   {"field":"messages","value":{"messaging_product":"whatsapp",
//!    "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
//!    "contacts":[{"profile":{"name":"Sheena"},"wa_id":"16505551234"}],
//!    "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383",
//!                 "type":"image","image":{"id":"1003","mime_type":"image/jpeg","caption":"This one"}}]}}]}]}"#;
//! let header = sign(b"app-secret", body); // what Meta sends in X-Hub-Signature-256
//! verify_signature(b"app-secret", body, Some(&header)).expect("genuine");
//!
//! let batch = WebhookBatch::parse(body).expect("a webhook envelope");
//! let (change, message) = batch.messages().next().expect("one message");
//! assert_eq!(change.metadata.phone_number_id, "106540352242922");
//! assert_eq!(message.kind_name(), "image");
//! assert_eq!(message.preview_text(), "[image] This one");
//! assert!(batch.problems.is_empty());
//!
//! let mut reply = OutboundRequest::new(
//!     "16505551234",
//!     OutboundMessage::Text { body: "Got it!".into(), preview_url: false },
//! );
//! reply.reply_to = Some(message.id.clone());
//! assert_eq!(reply.to_request_body()["context"]["message_id"], "wamid.A");
//! ```

pub mod handshake;
pub mod messaging_limit;
pub mod pricing;
pub mod send;
pub mod signature;
pub mod templates;
pub mod webhook;

pub use handshake::{verify_subscription, HandshakeError};
pub use messaging_limit::MessagingLimitTier;
pub use pricing::Pricing;
pub use send::{
    classify, is_business_scoped_user_id, parse_retry_after, rate_limit_scope, ErrorClass,
    GraphError, Jitter, MarkReadResponse, MediaKind, OutboundMessage, OutboundRequest,
    RateLimitScope, ResponseError, RetryPolicy, SendResponse,
};
pub use signature::{escape_non_ascii, sign, verify_signature, SignatureError, SIGNATURE_HEADER};
pub use templates::{
    MessageTemplate, QualityScore, TemplateCategory, TemplateEvent, TemplateListError,
    TemplatePage, TemplateRef, TemplateStatus, TEMPLATE_LIST_FIELDS,
};
pub use webhook::{
    Change, Contact, Entry, ErrorDetail, IgnoredChange, InboundMessage, InteractiveReply,
    ItemProblem, Media, MessageContext, MessageKind, MessagesChange, Metadata, Order, ParseError,
    ProductItem, Referral, ReferredProduct, SharedContact, SharedPhone, Status, StatusKind,
    SystemEvent, WebhookBatch,
};

/// Masks a phone number (or any user identifier) for logs: keeps a prefix of up
/// to 5 characters (country code and a little more) and the last 2, and replaces
/// at least 4 in between with `*`: `34600123456` -> `34600****56`,
/// `+491701234567` -> `+49170*****67`. A leading `+` is kept and not counted.
/// Identifiers of 6 characters or fewer keep only their last 2
/// (`123456` -> `****56`); 2 or fewer are fully masked. Never logs the whole number.
pub fn mask_phone(phone: &str) -> String {
    let (plus, rest) = match phone.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", phone),
    };
    let chars: Vec<char> = rest.chars().collect();
    let n = chars.len();
    if n <= 2 {
        return format!("{plus}{}", "*".repeat(n.max(1)));
    }
    const KEEP_END: usize = 2;
    const MIN_MASKED: usize = 4;
    let keep_start = n.saturating_sub(KEEP_END + MIN_MASKED).min(5);
    let masked = n - keep_start - KEEP_END;
    let start: String = chars[..keep_start].iter().collect();
    let end: String = chars[n - KEEP_END..].iter().collect();
    format!("{plus}{start}{}{end}", "*".repeat(masked))
}

#[cfg(test)]
mod tests {
    use super::mask_phone;

    #[test]
    fn phone_numbers_keep_a_prefix_and_the_last_two_digits() {
        assert_eq!(mask_phone("34600123456"), "34600****56");
        assert_eq!(mask_phone("+34600123456"), "+34600****56");
        assert_eq!(mask_phone("491701234567"), "49170*****67");
        assert_eq!(mask_phone("16505551234"), "16505****34");
        assert_eq!(mask_phone("12345678"), "12****78");
        assert_eq!(mask_phone("1234567"), "1****67");
    }

    #[test]
    fn short_identifiers_keep_at_most_the_last_two() {
        assert_eq!(mask_phone("123456"), "****56");
        assert_eq!(mask_phone("123"), "*23");
        assert_eq!(mask_phone("12"), "**");
        assert_eq!(mask_phone("1"), "*");
        assert_eq!(mask_phone(""), "*");
        assert_eq!(mask_phone("+"), "+*");
    }

    #[test]
    fn user_ids_and_non_ascii_are_masked_too() {
        assert_eq!(
            mask_phone("US.13491208655302741918"),
            "US.13****************18"
        );
        assert_eq!(mask_phone("ñññññññ"), "ñ****ññ");
    }

    #[test]
    fn at_least_four_characters_are_always_hidden() {
        for len in 3..40 {
            let id: String = "9".repeat(len);
            let masked = mask_phone(&id);
            let hidden = masked.chars().filter(|c| *c == '*').count();
            assert!(hidden >= (len - 2).min(4), "{len}: {masked}");
            assert_eq!(masked.chars().count(), len);
        }
    }
}
