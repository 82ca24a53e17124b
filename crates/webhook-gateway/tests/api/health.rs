//! /healthz on both listeners; /readyz and /metrics on the admin listener only.

use crate::helpers::spawn_gateway;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_gateway().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn readyz_is_ready_with_the_database_and_503_without_it() {
    let mut app = spawn_gateway().await;
    assert_eq!(app.get_admin("/readyz").await.status(), 200);
    app.project.stop_postgrest();
    assert_eq!(app.get_admin("/readyz").await.status(), 503);
    app.project.start_postgrest().await;
    assert_eq!(app.get_admin("/readyz").await.status(), 200);
}

#[tokio::test]
async fn metrics_show_webhooks_by_outcome_and_the_journal_backlog() {
    let app = spawn_gateway().await;
    app.post_signed(&crate::helpers::text_webhook(
        "wamid.metrics1",
        "34600111000",
        "hola",
        1_764_000_000,
    ))
    .await;
    let body = app.get_admin("/metrics").await.text().await.unwrap();
    assert!(
        body.contains("gateway_webhooks_received_total{outcome=\"stored\"}"),
        "{body}"
    );
    assert!(
        body.contains("gateway_webhook_events_total{kind=\"text\"}"),
        "{body}"
    );
    assert!(
        body.contains("gateway_ingest_latency_seconds_bucket"),
        "{body}"
    );
    assert!(body.contains("gateway_journal_failed_webhooks 0"), "{body}");
}

#[tokio::test]
async fn readyz_and_metrics_are_not_found_on_the_public_port_and_do_not_need_the_database() {
    let mut app = spawn_gateway().await;
    // With the database API down, anything that reached for it would answer 503 (readyz)
    // or stale numbers (metrics); a 404 means no handler ran.
    app.project.stop_postgrest();
    for path in ["/readyz", "/metrics"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "public {path}");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("gateway_") && !body.contains("sending"),
            "public {path} reveals nothing: {body}"
        );
    }
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(
        app.get_admin("/readyz").await.status(),
        503,
        "the admin port does check the database"
    );
}

#[tokio::test]
async fn the_admin_port_answers_readyz_metrics_and_healthz_but_takes_no_webhooks() {
    let app = spawn_gateway().await;
    let ready: serde_json::Value = app.get_admin("/readyz").await.json().await.unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["sending"], "active", "{ready}");
    let metrics = app.get_admin("/metrics").await;
    assert_eq!(metrics.status(), 200);
    assert!(metrics
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain")));
    assert_eq!(app.get_admin("/healthz").await.status(), 200);
    let webhook = app
        .http
        .post(format!("{}/webhooks/whatsapp", app.admin_address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), 404, "webhooks go to the public port only");
    let handshake = app
        .http
        .get(format!(
            "{}/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={}&hub.challenge=1",
            app.admin_address,
            crate::helpers::VERIFY_TOKEN
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 404);
}

/// One request on an open connection; the answer's status line ("" if the gateway closed
/// the connection).
async fn get_on(stream: &mut tokio::net::TcpStream, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET {path} HTTP/1.1\r\nHost: gateway\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    let mut answer = vec![0u8; 4096];
    let n = stream.read(&mut answer).await.unwrap_or(0);
    String::from_utf8_lossy(&answer[..n])
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn an_idle_webhook_connection_stays_open_past_five_seconds() {
    let app = spawn_gateway().await;
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    assert_eq!(get_on(&mut stream, "/healthz").await, "HTTP/1.1 200 OK");
    // A sender's pool keeps its connections longer than actix's default 5 s: a
    // connection closed while idle meets the next webhook sent on it.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert_eq!(get_on(&mut stream, "/healthz").await, "HTTP/1.1 200 OK");
}
