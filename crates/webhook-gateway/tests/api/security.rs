use crate::helpers::{spawn_gateway, text_webhook, APP_SECRET, VERIFY_TOKEN};

#[tokio::test]
async fn the_handshake_echoes_the_challenge_for_the_right_token() {
    let app = spawn_gateway().await;
    let ok = app
        .get(&format!("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"))
        .await;
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
}

#[tokio::test]
async fn the_handshake_is_refused_for_a_wrong_token_or_mode() {
    let app = spawn_gateway().await;
    for query in [
        "hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1",
        &format!("hub.mode=unsubscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1"),
        "",
    ] {
        assert_eq!(
            app.get(&format!("/webhooks/whatsapp?{query}"))
                .await
                .status(),
            403,
            "{query}"
        );
    }
}

#[tokio::test]
async fn unsigned_or_badly_signed_webhooks_are_refused_and_nothing_is_stored() {
    let app = spawn_gateway().await;
    let body = text_webhook("wamid.sig1", "34600111222", "hola", 1_764_000_000);
    let wrong = whatsapp::sign(b"another-secret", &body);
    assert_eq!(app.post_with_signature(&body, None).await.status(), 401);
    assert_eq!(
        app.post_with_signature(&body, Some(&wrong)).await.status(),
        401
    );
    assert_eq!(
        app.post_with_signature(&body, Some("sha256=zz"))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.post_with_signature(&body, Some("md5=abc"))
            .await
            .status(),
        401
    );
    let mut tampered = body.clone();
    let signature = whatsapp::sign(APP_SECRET.as_bytes(), &body);
    tampered.extend_from_slice(b" ");
    assert_eq!(
        app.post_with_signature(&tampered, Some(&signature))
            .await
            .status(),
        401
    );
    assert_eq!(
        app.count("select count(*) from svc.webhook_journal").await,
        0
    );
    assert_eq!(app.count("select count(*) from public.messages").await, 0);
}

#[tokio::test]
async fn a_signature_over_the_escaped_unicode_form_is_accepted() {
    let app = spawn_gateway().await;
    let body = text_webhook(
        "wamid.esc1",
        "34600111222",
        "¡Hola! ¿Qué tal? 😀",
        1_764_000_000,
    );
    let escaped = whatsapp::escape_non_ascii(std::str::from_utf8(&body).unwrap());
    assert_ne!(escaped.as_bytes(), body.as_slice());
    let signature = whatsapp::sign(APP_SECRET.as_bytes(), escaped.as_bytes());
    assert_eq!(
        app.post_with_signature(&body, Some(&signature))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.text("select content from public.messages where wa_message_id = 'wamid.esc1'")
            .await
            .as_deref(),
        Some("¡Hola! ¿Qué tal? 😀")
    );
}

#[tokio::test]
async fn a_body_over_3_mb_is_refused_with_413() {
    let app = spawn_gateway().await;
    let body = vec![b' '; 3 * 1024 * 1024 + 1];
    let response = app.post_signed(&body).await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_refused_with_400() {
    let app = spawn_gateway().await;
    assert_eq!(
        app.post_signed(b"{\"object\": \"whatsapp_business_account\", ")
            .await
            .status(),
        400
    );
    assert_eq!(app.post_signed(b"hello").await.status(), 400);
}

#[tokio::test]
async fn signed_json_that_is_not_a_webhook_is_journaled_as_failed_and_acknowledged() {
    let app = spawn_gateway().await;
    assert_eq!(
        app.post_signed(br#"{"object":"page","entry":[]}"#)
            .await
            .status(),
        200
    );
    assert_eq!(app.count("select count(*) from svc.webhook_journal where outcome = 'failed' and error is not null").await, 1);
}
