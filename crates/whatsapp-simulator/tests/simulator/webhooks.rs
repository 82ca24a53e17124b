use std::time::Duration;

use whatsapp::StatusKind;
use whatsapp_simulator::{StatusWebhooks, WebhookKind};

use crate::helpers::*;

fn kinds(statuses: &[whatsapp::Status]) -> Vec<&str> {
    statuses.iter().map(|s| s.status.as_str()).collect()
}

#[tokio::test]
async fn statuses_arrive_signed_in_order_with_callback_data_echoed() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    let mut body = text(CUSTOMER, "hi");
    body["biz_opaque_callback_data"] = "msg:42".into();
    let wamid = t.send(body).await.wamid();

    let captured = t.gateway.wait_for(3, Duration::from_secs(5)).await;
    for c in &captured {
        c.verify();
        let json = c.json();
        assert_eq!(json["object"], "whatsapp_business_account");
        let change = &json["entry"][0]["changes"][0];
        assert_eq!(change["field"], "messages");
        assert_eq!(change["value"]["messaging_product"], "whatsapp");
        assert_eq!(
            change["value"]["metadata"]["phone_number_id"],
            PHONE_NUMBER_ID
        );
        let status = &change["value"]["statuses"][0];
        assert!(status["timestamp"].as_str().unwrap().parse::<i64>().is_ok());
    }
    assert!(captured.windows(2).all(|w| w[0].at <= w[1].at));

    let statuses = t.gateway.statuses();
    assert_eq!(kinds(&statuses), ["sent", "delivered", "read"]);
    for s in &statuses {
        assert_eq!(s.id, wamid);
        assert_eq!(s.recipient_id.as_deref(), Some(CUSTOMER));
        assert_eq!(s.biz_opaque_callback_data.as_deref(), Some("msg:42"));
    }
    assert!(statuses
        .windows(2)
        .all(|w| w[0].timestamp <= w[1].timestamp));
    assert_eq!(statuses[0].pricing.as_ref().unwrap()["category"], "service");
    assert!(statuses[2].pricing.is_none());

    let deliveries = deliveries(&t.sim, 3).await;
    assert_eq!(deliveries.len(), 3);
    assert!(deliveries
        .iter()
        .all(|d| d.succeeded() && d.kind == WebhookKind::Status));
}

#[tokio::test]
async fn read_can_be_disabled() {
    let t = spawn_with(|c| c.status_webhooks.read_ms = None).await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.send(text(CUSTOMER, "unread")).await.wamid();
    t.gateway.wait_for(2, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(kinds(&t.gateway.statuses()), ["sent", "delivered"]);
}

#[tokio::test]
async fn duplicates_and_reordering_can_be_turned_on() {
    let t = spawn_with(|c| {
        c.status_webhooks = StatusWebhooks {
            sent_ms: 20,
            delivered_ms: 80,
            read_ms: Some(140),
            duplicates: true,
            reorder: true,
            ..StatusWebhooks::default()
        }
    })
    .await;
    t.sim.open_window(CUSTOMER).unwrap();
    let wamid = t.send(template(CUSTOMER, "promo_vip", "es")).await.wamid();
    t.gateway.wait_for(6, Duration::from_secs(5)).await;
    let statuses = t.gateway.statuses();
    assert_eq!(
        kinds(&statuses),
        ["read", "read", "delivered", "delivered", "sent", "sent"]
    );
    assert!(statuses.iter().all(|s| s.id == wamid));
    // Meta's timestamps keep the logical order even when arrival does not.
    let ts = |k: StatusKind| statuses.iter().find(|s| s.status == k).unwrap().timestamp;
    assert!(ts(StatusKind::Sent) <= ts(StatusKind::Delivered));
    assert!(ts(StatusKind::Delivered) <= ts(StatusKind::Read));
    assert_eq!(
        statuses[4].pricing.as_ref().unwrap()["category"],
        "marketing"
    );
}

#[tokio::test]
async fn a_webhook_the_gateway_rejects_is_retried() {
    let t = spawn_with(|c| c.status_webhooks.read_ms = None).await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.gateway.fail_next(2, 503);
    let wamid = t.send(text(CUSTOMER, "hi")).await.wamid();
    // sent: 503, 503 (retried), 200; delivered: 200.
    t.gateway.wait_for(4, Duration::from_secs(5)).await;
    let statuses = t.gateway.statuses();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.status == StatusKind::Sent)
            .count(),
        3
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| s.status == StatusKind::Delivered)
            .count(),
        1
    );
    assert!(statuses.iter().all(|s| s.id == wamid));
    let deliveries = deliveries(&t.sim, 4).await;
    let sent: Vec<_> = deliveries
        .iter()
        .filter(|d| d.statuses == ["sent"])
        .collect();
    assert_eq!(
        sent.iter().map(|d| d.attempt).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(sent[0].http_status, Some(503));
    assert!(sent[2].succeeded());
    assert_eq!(t.sim.stats().webhook_attempts_failed, 2);
}

#[tokio::test]
async fn statuses_can_be_batched_into_one_post() {
    let t = spawn_with(|c| {
        c.status_webhooks = StatusWebhooks {
            sent_ms: 0,
            delivered_ms: 10,
            read_ms: Some(20),
            batch_ms: Some(1_000),
            ..StatusWebhooks::default()
        }
    })
    .await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.send(text(CUSTOMER, "a")).await.wamid();
    t.send(text(CUSTOMER, "b")).await.wamid();
    let captured = t.gateway.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(t.gateway.captured().len(), 1, "one POST");
    captured[0].verify();
    assert_eq!(captured[0].batch().statuses().count(), 6);
}

#[tokio::test]
async fn statuses_follow_the_webhook_url_set_after_start() {
    let t = spawn_with(|c| c.webhook_url = None).await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.set_webhook_url(t.gateway.url.clone()).unwrap();
    t.send(text(CUSTOMER, "late wiring")).await.wamid();
    t.gateway.wait_for(3, Duration::from_secs(5)).await;
    assert!(t.sim.set_webhook_url("not a url").is_err());
}
