use crate::helpers::spawn_gateway;

#[tokio::test]
async fn healthz_answers_ok() {
    let app = spawn_gateway().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[tokio::test]
async fn readyz_is_ready_with_the_database_and_503_without_it() {
    let mut app = spawn_gateway().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
    app.project.stop_postgrest();
    assert_eq!(app.get("/readyz").await.status(), 503);
    app.project.start_postgrest().await;
    assert_eq!(app.get("/readyz").await.status(), 200);
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
    let body = app.get("/metrics").await.text().await.unwrap();
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
