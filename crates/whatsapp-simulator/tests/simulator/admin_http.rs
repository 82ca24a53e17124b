use std::time::Duration;

use serde_json::json;
use whatsapp_simulator::{Faults, RecipientError, SimulatorError, StatusWebhooks, TemplateSpec};

use crate::helpers::*;

#[tokio::test]
async fn the_admin_api_drives_a_simulator_like_the_handle() {
    let t = spawn_with(|c| c.webhook_url = None).await;
    let client = t.sim.client();
    client
        .wait_until_ready(Duration::from_secs(5))
        .await
        .unwrap();

    // Wire the gateway late, as `cargo xtask up` does.
    let config = client.set_webhook_url(&t.gateway.url).await.unwrap();
    assert_eq!(config.webhook_url.as_deref(), Some(t.gateway.url.as_str()));
    assert_eq!(config.phone_number_id, PHONE_NUMBER_ID);

    let injected = client.inject_inbound(CUSTOMER, "hola").await.unwrap();
    assert_eq!(injected.status_code_from_gateway, Some(200));
    t.gateway.wait_for(1, Duration::from_secs(5)).await;

    let wamid = t.send(text(CUSTOMER, "reply")).await.wamid();
    let received = client.received().await.unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].wamid, wamid);
    assert_eq!(received, t.sim.received());

    client
        .set_faults(&Faults {
            server_errors: 1,
            recipient_errors: vec![RecipientError::undeliverable("34611111111")],
            ..Faults::default()
        })
        .await
        .unwrap();
    assert_eq!(client.faults().await.unwrap().server_errors, 1);
    assert_eq!(t.send(text(CUSTOMER, "x")).await.status, 500);
    assert_eq!(
        t.send(template("34611111111", "hello_world", "en_US"))
            .await
            .code(),
        131_026
    );
    client.clear_faults().await.unwrap();
    t.send(template("34611111111", "hello_world", "en_US"))
        .await
        .wamid();

    client
        .add_template(&TemplateSpec::new("welcome", "pt_BR"))
        .await
        .unwrap();
    assert!(client
        .templates()
        .await
        .unwrap()
        .iter()
        .any(|t| t.name == "welcome"));
    t.send(template(CUSTOMER, "welcome", "pt_BR")).await.wamid();

    let other = "34622222222";
    assert_eq!(t.send(text(other, "x")).await.code(), 131_047);
    client.open_window(&format!("+{other}")).await.unwrap();
    t.send(text(other, "x")).await.wamid();
    client.close_window(&format!("+{other}")).await.unwrap();
    assert_eq!(t.send(text(other, "x")).await.code(), 131_047);

    client.set_max_mps(Some(5)).await.unwrap();
    client
        .set_status_webhooks(&StatusWebhooks::disabled())
        .await
        .unwrap();
    let stats = client.stats().await.unwrap();
    assert_eq!(stats.max_mps, Some(5));
    assert_eq!(stats.accepted, 4);
    assert_eq!(stats.rejected_by_code.get("131047"), Some(&2));
    assert!(!client.webhook_deliveries().await.unwrap().is_empty());

    client.reset_received().await.unwrap();
    assert!(client.received().await.unwrap().is_empty());
    client.reset().await.unwrap();
    assert_eq!(t.send(text(CUSTOMER, "window gone")).await.code(), 131_047);
}

#[tokio::test]
async fn admin_endpoints_answer_json_errors_for_bad_input() {
    let t = spawn_with(|c| c.webhook_url = None).await;
    let client = t.sim.client();
    match client.inject_inbound(CUSTOMER, "hola").await {
        Err(SimulatorError::Status { status: 409, body }) => assert!(body.contains("webhook")),
        other => panic!("{other:?}"),
    }
    let resp = t
        .http
        .post(format!("{}/_sim/faults", t.sim.graph_url()))
        .json(&json!({"server_errors": "many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["error"].is_string());
    match client.set_webhook_url("ftp://nope").await {
        Err(SimulatorError::Status { status: 400, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn inbound_and_window_work_over_raw_http() {
    let t = spawn().await;
    let resp = t
        .http
        .post(format!("{}/_sim/inbound", t.sim.graph_url()))
        .json(&json!({"from": CUSTOMER, "text": "hola", "name": "Ana"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["wamid"].as_str().unwrap().starts_with("wamid."));
    assert_eq!(body["status_code_from_gateway"], 200);

    let resp = t
        .http
        .post(format!("{}/_sim/window", t.sim.graph_url()))
        .json(&json!({"to": "34633333333"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    t.send(text("34633333333", "x")).await.wamid();

    let resp = t
        .http
        .get(format!("{}/_sim/messages", t.sim.graph_url()))
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = resp.json().await.unwrap();
    let first = &list[0];
    for key in [
        "wamid",
        "to",
        "type",
        "body",
        "received_at",
        "callback_data",
    ] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
}
