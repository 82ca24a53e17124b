use std::time::Duration;

use whatsapp::MessageKind;
use whatsapp_simulator::{InboundSpec, SimulatorError};

use crate::helpers::*;

#[tokio::test]
async fn an_injected_message_is_a_signed_meta_shaped_webhook_with_one_text() {
    let t = spawn().await;
    let injected = t
        .sim
        .inject(InboundSpec {
            name: Some("Ana".into()),
            ..InboundSpec::text(CUSTOMER, "¿Dónde está mi pedido? 📦")
        })
        .await
        .unwrap();
    assert_eq!(injected.status_code_from_gateway, Some(200));
    assert!(injected.wamid.starts_with("wamid."));

    let captured = t.gateway.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(captured.len(), 1);
    captured[0].verify();
    let batch = captured[0].batch();
    assert!(batch.problems.is_empty(), "{:?}", batch.problems);
    let messages: Vec<_> = batch.messages().collect();
    assert_eq!(messages.len(), 1);
    let (change, message) = messages[0];
    assert_eq!(change.metadata.phone_number_id, PHONE_NUMBER_ID);
    assert_eq!(change.contacts[0].wa_id.as_deref(), Some(CUSTOMER));
    assert_eq!(change.contacts[0].profile_name.as_deref(), Some("Ana"));
    assert_eq!(message.id, injected.wamid);
    assert_eq!(message.from.as_deref(), Some(CUSTOMER));
    assert_eq!(
        message.kind,
        MessageKind::Text {
            body: "¿Dónde está mi pedido? 📦".into()
        }
    );
    let age = time::OffsetDateTime::now_utc() - message.timestamp;
    assert!(age < time::Duration::seconds(5));
    let raw = captured[0].json();
    assert!(raw["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"].is_string());
}

#[tokio::test]
async fn injecting_opens_the_customers_window() {
    let t = spawn().await;
    assert_eq!(t.send(text(CUSTOMER, "too early")).await.code(), 131_047);
    t.sim
        .inject_inbound(&format!("+{CUSTOMER}"), "hola")
        .await
        .unwrap();
    t.send(text(CUSTOMER, "now we can talk")).await.wamid();
}

#[tokio::test]
async fn an_old_timestamp_opens_a_window_already_closed() {
    let t = spawn().await;
    let old = time::OffsetDateTime::now_utc() - time::Duration::hours(25);
    t.sim
        .inject(InboundSpec {
            timestamp: Some(old.unix_timestamp()),
            ..InboundSpec::text(CUSTOMER, "yesterday")
        })
        .await
        .unwrap();
    let captured = t.gateway.wait_for(1, Duration::from_secs(5)).await;
    let batch = captured[0].batch();
    let (_, message) = batch.messages().next().unwrap();
    assert_eq!(message.timestamp.unix_timestamp(), old.unix_timestamp());
    assert_eq!(t.send(text(CUSTOMER, "too late")).await.code(), 131_047);
}

#[tokio::test]
async fn a_gateway_error_is_reported_and_the_webhook_retried() {
    let t = spawn().await;
    t.gateway.fail_next(1, 503);
    let injected = t.sim.inject_inbound(CUSTOMER, "hola").await.unwrap();
    assert_eq!(injected.status_code_from_gateway, Some(503));
    let captured = t.gateway.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(captured[0].body, captured[1].body, "the same payload again");
    captured[1].verify();
}

#[tokio::test]
async fn injecting_needs_a_webhook_url_and_a_phone_number() {
    let t = spawn_with(|c| c.webhook_url = None).await;
    assert!(matches!(
        t.sim.inject_inbound(CUSTOMER, "hola").await,
        Err(SimulatorError::NoWebhookUrl)
    ));
    t.sim.set_webhook_url(t.gateway.url.clone()).unwrap();
    assert!(matches!(
        t.sim.inject_inbound("not-a-number", "hola").await,
        Err(SimulatorError::InvalidRequest(_))
    ));
    assert!(matches!(
        t.sim.inject_inbound(CUSTOMER, "").await,
        Err(SimulatorError::InvalidRequest(_))
    ));
}

#[tokio::test]
async fn bodies_can_be_sent_with_escaped_unicode_as_metas_docs_describe() {
    let t = spawn_with(|c| c.escape_non_ascii = true).await;
    t.sim.inject_inbound(CUSTOMER, "café ☕").await.unwrap();
    let captured = t.gateway.wait_for(1, Duration::from_secs(5)).await;
    assert!(captured[0].body.is_ascii());
    assert!(String::from_utf8_lossy(&captured[0].body).contains("caf\\u00e9 \\u2615"));
    captured[0].verify();
    let batch = captured[0].batch();
    let (_, message) = batch.messages().next().unwrap();
    assert_eq!(
        message.kind,
        MessageKind::Text {
            body: "café ☕".into()
        }
    );
}
