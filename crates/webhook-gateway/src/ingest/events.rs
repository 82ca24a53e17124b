//! The events `svc.apply_webhook_events` applies (see that function's comment; the types
//! are `svc_client`'s), built from a parsed webhook. Changes for another business number and statuses WhatsApp
//! added after this was written are counted as ignored, never applied blindly.

use serde_json::json;
pub use svc_client::{Events, MessageEvent, StatusEvent};
use whatsapp::{InboundMessage, MessageKind, MessagesChange, Status, StatusKind, WebhookBatch};

/// What one webhook became, with what was left out and why (for logs and metrics).
#[derive(Debug, Clone, Default)]
pub struct WebhookEvents {
    pub events: Events,
    /// Changes of other fields (template status, account updates): journaled only.
    pub ignored_changes: usize,
    /// Items for another phone number id than ours.
    pub foreign_items: usize,
    /// Statuses we don't apply (e.g. a status kind added after this was written).
    pub unknown_statuses: usize,
    /// Items the parser could not read (kept in the journal's payload).
    pub problems: usize,
}

impl WebhookEvents {
    pub fn from_batch(batch: &WebhookBatch, phone_number_id: &str) -> Self {
        let mut out = WebhookEvents {
            ignored_changes: batch.ignored_changes().count(),
            problems: batch.problems.len(),
            ..Default::default()
        };
        for change in batch.messages_changes() {
            if change.metadata.phone_number_id != phone_number_id {
                out.foreign_items += change.messages.len() + change.statuses.len();
                continue;
            }
            for message in &change.messages {
                out.events.messages.push(message_event(change, message));
            }
            for status in &change.statuses {
                match status_event(status) {
                    Some(event) => out.events.statuses.push(event),
                    None => out.unknown_statuses += 1,
                }
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.events.messages.is_empty() && self.events.statuses.is_empty()
    }
}

fn message_event(change: &MessagesChange, message: &InboundMessage) -> MessageEvent {
    let contact = change.contact_for(message);
    let content = match &message.kind {
        MessageKind::Text { body } => body.clone(),
        _ => message.preview_text(),
    };
    let mut metadata = json!({
        "whatsapp_type": message.kind.whatsapp_type(),
        "content": &message.kind,
    });
    if let Some(context) = &message.context {
        metadata["context"] = json!(context);
    }
    if let Some(referral) = &message.referral {
        metadata["referral"] = json!(referral);
    }
    if !message.errors.is_empty() {
        metadata["errors"] = json!(message.errors);
    }
    if let Some(username) = contact.and_then(|c| c.username.as_ref()) {
        metadata["username"] = json!(username);
    }
    if matches!(message.kind, MessageKind::Unknown { .. }) || message.kind_name() == "unsupported" {
        metadata["raw"] = message.raw.clone();
    }
    MessageEvent {
        wamid: message.id.clone(),
        from: message
            .from
            .clone()
            .or_else(|| contact.and_then(|c| c.wa_id.clone())),
        user_id: message
            .from_user_id
            .clone()
            .or_else(|| contact.and_then(|c| c.user_id.clone())),
        profile_name: contact.and_then(|c| c.profile_name.clone()),
        timestamp: message.timestamp,
        message_type: message.kind_name(),
        content,
        metadata,
        context_wamid: message.reply_to().map(str::to_owned),
    }
}

fn status_event(status: &Status) -> Option<StatusEvent> {
    let kind = match status.status {
        StatusKind::Sent => "sent",
        StatusKind::Delivered => "delivered",
        // A played voice note has been read.
        StatusKind::Read | StatusKind::Played => "read",
        StatusKind::Failed => "failed",
        StatusKind::Unknown(_) => return None,
    };
    Some(StatusEvent {
        wamid: status.id.clone(),
        status: kind,
        timestamp: status.timestamp,
        recipient_id: status.recipient_id.clone(),
        errors: (!status.errors.is_empty()).then(|| json!(status.errors)),
        callback_data: status.biz_opaque_callback_data.clone(),
    })
}
