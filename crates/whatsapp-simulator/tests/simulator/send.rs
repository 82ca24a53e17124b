use std::collections::HashSet;

use serde_json::json;
use whatsapp::{MarkReadResponse, OutboundMessage, OutboundRequest, SendResponse};

use crate::helpers::*;

#[tokio::test]
async fn every_message_type_is_accepted_with_a_fresh_wamid_and_recorded_in_order() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    let messages = [
        OutboundMessage::Text {
            body: "Hola 👋".into(),
            preview_url: false,
        },
        OutboundMessage::Image {
            link: "https://example.com/photo.jpg".into(),
            caption: Some("Your order".into()),
        },
        OutboundMessage::Document {
            link: "https://example.com/invoice.pdf".into(),
            caption: Some("Invoice".into()),
            filename: Some("invoice-42.pdf".into()),
        },
        OutboundMessage::Location {
            latitude: 40.4168,
            longitude: -3.7038,
            name: Some("Puerta del Sol".into()),
            address: Some("Madrid".into()),
        },
        OutboundMessage::Template {
            name: "order_update".into(),
            language_code: "es".into(),
            components: json!([{"type": "body", "parameters": [{"type": "text", "text": "Ana"}]}]),
        },
    ];
    let mut wamids = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let mut req = OutboundRequest::new(CUSTOMER, m.clone());
        req.biz_opaque_callback_data = Some(format!("msg:{i}"));
        if i == 0 {
            req.reply_to = Some("wamid.INBOUND".into());
        }
        let body = req.to_request_body();
        let answer = t.send(body.clone()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        // Exactly Meta's success shape.
        let wamid = answer.wamid();
        assert_eq!(
            answer.body,
            json!({
                "messaging_product": "whatsapp",
                "contacts": [{"input": CUSTOMER, "wa_id": CUSTOMER}],
                "messages": [{"id": wamid}]
            })
        );
        let parsed = SendResponse::parse(answer.body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.wamid, wamid);
        assert!(wamid.starts_with("wamid."));
        wamids.push(wamid);
    }
    assert_eq!(wamids.iter().collect::<HashSet<_>>().len(), wamids.len());

    let received = t.sim.received();
    assert_eq!(received.len(), 5);
    let types: Vec<&str> = received.iter().map(|r| r.message_type.as_str()).collect();
    assert_eq!(types, ["text", "image", "document", "location", "template"]);
    for (i, r) in received.iter().enumerate() {
        assert_eq!(r.wamid, wamids[i]);
        assert_eq!(r.to, CUSTOMER);
        assert_eq!(
            r.callback_data.as_deref(),
            Some(format!("msg:{i}").as_str())
        );
    }
    assert_eq!(received[0].reply_to.as_deref(), Some("wamid.INBOUND"));
    assert_eq!(received[0].text_body(), Some("Hola 👋"));
    assert_eq!(received[2].body["document"]["filename"], "invoice-42.pdf");
    assert_eq!(received[4].template_name(), Some("order_update"));
    assert!(received
        .windows(2)
        .all(|w| w[0].received_at <= w[1].received_at));

    // The recorder's JSON form: RFC 3339 with milliseconds, `type` and `body`.
    let json = serde_json::to_value(&received[0]).unwrap();
    let at = json["received_at"].as_str().unwrap();
    assert_eq!(at.len(), "2026-11-25T10:15:30.123Z".len(), "{at}");
    assert!(at.ends_with('Z') && at.as_bytes()[19] == b'.');
    assert_eq!(json["type"], "text");
    assert_eq!(json["body"]["text"]["body"], "Hola 👋");
}

#[tokio::test]
async fn a_number_with_plus_and_spaces_is_answered_with_its_wa_id() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    let answer = t.send(text("+34 600 123 456", "hi")).await;
    assert_eq!(answer.body["contacts"][0]["input"], "+34 600 123 456");
    assert_eq!(answer.body["contacts"][0]["wa_id"], CUSTOMER);
    assert_eq!(t.sim.received()[0].wa_id, CUSTOMER);
}

#[tokio::test]
async fn mark_as_read_answers_success_and_is_not_a_message() {
    let t = spawn().await;
    let req = OutboundRequest::new(
        CUSTOMER,
        OutboundMessage::MarkRead {
            message_id: "wamid.IN1".into(),
        },
    );
    let answer = t.send(req.to_request_body()).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({"success": true}));
    assert!(
        MarkReadResponse::parse(answer.body.to_string().as_bytes())
            .unwrap()
            .success
    );
    assert!(t.sim.received().is_empty());
    let marked = t.sim.marked_read();
    assert_eq!(marked.len(), 1);
    assert_eq!(marked[0].message_id, "wamid.IN1");
    let stats = t.sim.stats();
    assert_eq!(
        (stats.accepted, stats.marked_read, stats.attempts),
        (0, 1, 0)
    );
}

#[tokio::test]
async fn resetting_the_recorder_forgets_messages_and_stats() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.send(text(CUSTOMER, "one")).await.wamid();
    assert_eq!(t.sim.stats().accepted, 1);
    t.sim.reset_received();
    assert!(t.sim.received().is_empty());
    assert_eq!(t.sim.stats().accepted, 0);
}
