//! The events `svc.apply_webhook_events` applies (see that function's comment; the types
//! are `svc_client`'s), built from a parsed webhook. Changes for another business number and statuses WhatsApp
//! added after this was written are counted as ignored, never applied blindly.

use serde_json::json;
pub use svc_client::{Events, MessageEvent, StatusEvent, TemplateEvent};
use whatsapp::{
    InboundMessage, MessageKind, MessagesChange, Status, StatusKind, TemplateCategory, WebhookBatch,
};

/// What one webhook became, with what was left out and why (for logs and metrics).
#[derive(Debug, Clone, Default)]
pub struct WebhookEvents {
    pub events: Events,
    /// Changes of other fields (account updates, ...): journaled only.
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
            problems: batch.problems.len(),
            ..Default::default()
        };
        for change in batch.ignored_changes() {
            if let Some(limit) = whatsapp::MessagingLimitTier::from_change(change) {
                out.events
                    .messaging_limits
                    .push(json!({"limit": limit.as_db_value(), "field": change.field}));
                continue;
            }
            match whatsapp::TemplateEvent::from_change(change) {
                Some(Ok(event)) => out.events.templates.push(template_event(&event)),
                Some(Err(_)) => out.problems += 1,
                None => out.ignored_changes += 1,
            }
        }
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
        self.events.messages.is_empty()
            && self.events.statuses.is_empty()
            && self.events.templates.is_empty()
            && self.events.messaging_limits.is_empty()
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
        pricing: status.pricing_info().map(|p| json!(p)),
    })
}

fn template_event(event: &whatsapp::TemplateEvent) -> TemplateEvent {
    let template = event.template();
    let mut out = TemplateEvent {
        kind: "status",
        template_id: template.id.clone(),
        name: template.name.clone(),
        language: template.language.clone(),
        status: None,
        reason: None,
        quality_score: None,
        category: None,
        impending_category: None,
    };
    match event {
        whatsapp::TemplateEvent::Status { status, reason, .. } => {
            out.status = status.as_db_str();
            out.reason = reason.clone();
        }
        whatsapp::TemplateEvent::Quality { new, .. } => {
            out.kind = "quality";
            out.quality_score = Some(new.as_db_str());
        }
        whatsapp::TemplateEvent::Category { new, impending, .. } => {
            out.kind = "category";
            // An impending change names the current category as new_category.
            match impending {
                Some(future) => out.impending_category = future.as_db_str(),
                None => out.category = TemplateCategory::as_db_str(new),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(changes: serde_json::Value) -> WebhookBatch {
        let body = json!({"object": "whatsapp_business_account",
                          "entry": [{"id": "102290129340398", "changes": changes}]});
        WebhookBatch::parse(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn template_webhooks_and_limits_become_events_and_other_fields_stay_ignored() {
        let events = WebhookEvents::from_batch(
            &batch(json!([
                {"field": "message_template_status_update",
                 "value": {"event": "PAUSED", "message_template_id": 9001, "message_template_name": "promo",
                           "message_template_language": "es", "reason": "LOW_QUALITY"}},
                {"field": "template_category_update",
                 "value": {"message_template_id": 9001, "correct_category": "MARKETING", "new_category": "UTILITY"}},
                {"field": "message_template_quality_update",
                 "value": {"message_template_id": 9001, "new_quality_score": "RED"}},
                {"field": "business_capability_update",
                 "value": {"max_daily_conversations_per_business": 10000}},
                {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}
            ])),
            "106540352242922",
        );
        assert_eq!(
            serde_json::to_value(&events.events.templates).unwrap(),
            json!([
                {"kind": "status", "template_id": "9001", "name": "promo", "language": "es",
                 "status": "paused", "reason": "LOW_QUALITY", "quality_score": null,
                 "category": null, "impending_category": null},
                {"kind": "category", "template_id": "9001", "name": null, "language": null,
                 "status": null, "reason": null, "quality_score": null,
                 "category": null, "impending_category": "marketing"},
                {"kind": "quality", "template_id": "9001", "name": null, "language": null,
                 "status": null, "reason": null, "quality_score": "red",
                 "category": null, "impending_category": null}
            ])
        );
        assert_eq!(
            events.events.messaging_limits,
            vec![json!({"limit": 10000, "field": "business_capability_update"})]
        );
        assert_eq!(events.problems, 1, "a status webhook without a template id");
        assert_eq!(
            events.ignored_changes, 1,
            "account_update stays journaled only"
        );
        assert!(!events.is_empty());
        let serialized = serde_json::to_value(&events.events).unwrap();
        assert!(serialized.get("templates").is_some());
        let priced = WebhookEvents::from_batch(
            &batch(json!([{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "statuses": [
                {"id": "wamid.P1", "status": "sent", "timestamp": "1764064800", "recipient_id": "34600000001",
                 "pricing": {"billable": true, "pricing_model": "PMP", "category": "MARKETING", "type": "regular"}},
                {"id": "wamid.P2", "status": "read", "timestamp": "1764064801", "recipient_id": "34600000001"}
            ]}}])),
            "106540352242922",
        );
        let statuses = serde_json::to_value(&priced.events.statuses).unwrap();
        assert_eq!(
            statuses[0]["pricing"],
            json!({"billable": true, "pricing_model": "pmp", "category": "marketing", "type": "regular"})
        );
        assert!(statuses[1].get("pricing").is_none(), "no pricing, no key");
        let plain = WebhookEvents::from_batch(&batch(json!([])), "106540352242922");
        let serialized = serde_json::to_value(&plain.events).unwrap();
        assert_eq!(
            serialized,
            json!({"messages": [], "statuses": []}),
            "without template events the events keep their former shape"
        );
    }
}
