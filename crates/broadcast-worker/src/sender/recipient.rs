//! The template request a claimed recipient (one element of
//! `svc.claim_broadcast_recipients`, [`ClaimedRecipient`]) becomes.

use serde_json::{json, Value};
pub use svc_client::ClaimedRecipient;
use whatsapp::{OutboundMessage, OutboundRequest};

/// A claimed recipient as a Graph API request.
pub trait RecipientRequest {
    /// What the send carries as `biz_opaque_callback_data` (echoed in its status
    /// webhooks): `broadcast:<broadcast id>:<contact id>`.
    fn callback_data(&self) -> String;

    /// The Graph API request, or why there is none.
    fn to_request(&self) -> Result<OutboundRequest, String>;
}

impl RecipientRequest for ClaimedRecipient {
    fn callback_data(&self) -> String {
        format!("broadcast:{}:{}", self.broadcast_id, self.contact_id)
    }

    fn to_request(&self) -> Result<OutboundRequest, String> {
        let to = self
            .to
            .clone()
            .filter(|t| !t.trim().is_empty())
            .ok_or("the contact has no WhatsApp address")?;
        let name = self
            .template
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or("the broadcast's template has no WhatsApp template name")?;
        let language_code = self
            .language
            .clone()
            .filter(|l| !l.is_empty())
            .ok_or("the broadcast's template has no language code")?;
        let components = if self.parameters.is_empty() {
            Value::Array(vec![])
        } else {
            let parameters: Vec<Value> = self
                .parameters
                .iter()
                .map(|p| {
                    let text = match p {
                        Value::String(s) => s.clone(),
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    json!({ "type": "text", "text": text })
                })
                .collect();
            json!([{ "type": "body", "parameters": parameters }])
        };
        let mut request = OutboundRequest::new(
            to,
            OutboundMessage::Template {
                name,
                language_code,
                components,
            },
        );
        request.biz_opaque_callback_data = Some(self.callback_data());
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claimed(to: Option<&str>, template: Option<&str>, parameters: Value) -> ClaimedRecipient {
        serde_json::from_value(json!({
            "broadcast_id": "00000000-0000-0000-0000-0000000000b1",
            "contact_id": "00000000-0000-0000-0000-0000000000c1",
            "to": to,
            "template": template,
            "language": "es",
            "parameters": parameters,
            "attempts": 1,
            "first_attempt_at": "2026-11-25T10:00:00.123456+00:00",
            "probe": false,
            "send_at": null,
            "send_in_us": null,
        }))
        .unwrap()
    }

    #[test]
    fn parameters_become_the_body_component_and_the_callback_names_the_recipient() {
        let body = claimed(Some("34600000001"), Some("promo_vip"), json!(["Ana", 3]))
            .to_request()
            .unwrap()
            .to_request_body();
        assert_eq!(body["to"], "34600000001");
        assert_eq!(body["type"], "template");
        assert_eq!(body["template"]["name"], "promo_vip");
        assert_eq!(body["template"]["language"]["code"], "es");
        assert_eq!(
            body["template"]["components"],
            json!([{ "type": "body", "parameters": [
                { "type": "text", "text": "Ana" }, { "type": "text", "text": "3" }
            ]}])
        );
        assert_eq!(
            body["biz_opaque_callback_data"],
            "broadcast:00000000-0000-0000-0000-0000000000b1:00000000-0000-0000-0000-0000000000c1"
        );
    }

    #[test]
    fn a_template_without_parameters_has_no_components() {
        let body = claimed(Some("34600000001"), Some("hello_world"), json!([]))
            .to_request()
            .unwrap()
            .to_request_body();
        assert!(body["template"].get("components").is_none(), "{body}");
    }

    #[test]
    fn a_recipient_that_cannot_be_sent_to_says_why() {
        assert!(claimed(None, Some("promo_vip"), json!([]))
            .to_request()
            .unwrap_err()
            .contains("WhatsApp address"));
        assert!(claimed(Some("34600000001"), None, json!([]))
            .to_request()
            .unwrap_err()
            .contains("template"));
    }

    #[test]
    fn a_business_scoped_user_id_is_sent_as_recipient() {
        let body = claimed(
            Some("US.13491208655302741918"),
            Some("promo_vip"),
            json!([]),
        )
        .to_request()
        .unwrap()
        .to_request_body();
        assert_eq!(body["recipient"], "US.13491208655302741918");
    }
}
