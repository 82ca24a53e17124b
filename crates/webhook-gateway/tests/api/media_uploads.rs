//! Outbound attachments end to end: an agent mints an upload link through PostgREST,
//! uploads the file to the gateway, and inserts the message that takes it; the sender
//! uploads the file to WhatsApp (the simulator) and sends it by media id.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use whatsapp_simulator::{InboundMedia, SampleKind};

use crate::media::{agent, assign, link_key, spawn_media, spawn_media_with, MediaSetup};

/// Calls `public.<function>` through PostgREST as `user`: status and body.
async fn rpc_as(
    t: &MediaSetup,
    user: uuid::Uuid,
    function: &str,
    args: Value,
) -> (StatusCode, Value) {
    let answer = reqwest::Client::new()
        .post(format!(
            "{}/rest/v1/rpc/{function}",
            t.project.supabase_url()
        ))
        .header("apikey", t.project.anon_key())
        .bearer_auth(t.project.keys().user_token(user))
        .json(&args)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap_or(Value::Null))
}

/// A conversation of a customer's (from an inbound photo) assigned to `agent`.
async fn conversation_of(t: &MediaSetup, agent: uuid::Uuid, phone: &str) -> String {
    let (message, _) = t.inject(phone, InboundMedia::new(SampleKind::Image)).await;
    assign(t, &message, agent).await;
    t.text(&format!(
        "select conversation_id::text from public.messages where id = '{message}'"
    ))
    .await
}

async fn upload_link(t: &MediaSetup, user: uuid::Uuid, conversation: &str, kind: &str) -> Value {
    let (status, link) = rpc_as(
        t,
        user,
        "media_upload_link",
        json!({"p_conversation_id": conversation, "p_kind": kind}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    link
}

async fn put(url: &str, mime: &str, body: Vec<u8>) -> (StatusCode, String) {
    let answer = reqwest::Client::new()
        .put(url)
        .header("Content-Type", mime)
        .body(body)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.text().await.unwrap())
}

#[tokio::test]
async fn an_agent_uploads_a_png_and_the_message_takes_it() {
    let t = spawn_media().await;
    let a = agent(
        &t,
        "00000000-0000-0000-0000-00000000a201",
        "up.a@test.local",
    )
    .await;
    let b = agent(
        &t,
        "00000000-0000-0000-0000-00000000a202",
        "up.b@test.local",
    )
    .await;
    let conversation = conversation_of(&t, a, "34600555020").await;

    let (status, refused) = rpc_as(
        &t,
        b,
        "media_upload_link",
        json!({"p_conversation_id": conversation, "p_kind": "image"}),
    )
    .await;
    assert_ne!(status, StatusCode::OK, "agent B minted {refused}");
    assert_eq!(refused["code"], "P0002", "{refused}");

    let link = upload_link(&t, a, &conversation, "image").await;
    let upload_id = link["upload_id"].as_str().unwrap().to_owned();
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/media/uploads/{upload_id}?kind=image&exp=",
            t.address
        )),
        "{url}"
    );
    let preflight = reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, url)
        .header("Origin", "https://inbox.example")
        .header("Access-Control-Request-Method", "PUT")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        preflight.headers()["access-control-allow-methods"],
        "PUT, POST"
    );
    let png = SampleKind::Image.generate(None);
    let (status, body) = put(&format!("{url}&name=photo.png"), "image/png", png.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let stored: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(stored["sha256"], hex::encode(Sha256::digest(&png)));
    assert_eq!(stored["size_bytes"], png.len());
    assert_eq!(stored["file_name"], "photo.png");
    assert_eq!(t.stored_file(&upload_id), Some(png.clone()));

    let (status, again) = put(url, "image/png", png.clone()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(
        t.stored_file(&upload_id),
        Some(png.clone()),
        "a second upload through a used link leaves the first file"
    );

    let (status, row) =
        insert_media_message(&t, a, &conversation, "image", "the broken part", &upload_id).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert_eq!(row[0]["id"], upload_id.as_str());
    assert_eq!(row[0]["metadata"]["mime_type"], "image/png");
    assert_eq!(row[0]["metadata"]["file_name"], "photo.png");

    let (status, view) = rpc_as(&t, a, "media_link", json!({"p_message_id": upload_id})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let shown = reqwest::get(view["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(shown.status(), StatusCode::OK);
    assert_eq!(shown.headers()["content-type"], "image/png");
    assert_eq!(shown.bytes().await.unwrap(), png);
}

/// Inserts an agent's media message taking `upload_id`, through PostgREST: status and body.
async fn insert_media_message(
    t: &MediaSetup,
    agent: uuid::Uuid,
    conversation: &str,
    message_type: &str,
    caption: &str,
    upload_id: &str,
) -> (StatusCode, Value) {
    {
        let answer = reqwest::Client::new()
            .post(format!("{}/rest/v1/messages", t.project.supabase_url()))
            .header("apikey", t.project.anon_key())
            .bearer_auth(t.project.keys().user_token(agent))
            .header("Prefer", "return=representation")
            .json(&json!({
                "conversation_id": conversation, "sender_type": "agent", "sender_id": agent,
                "message_type": message_type, "status": "pending", "content": caption,
                "metadata": {"upload_id": upload_id}
            }))
            .send()
            .await
            .unwrap();
        (answer.status(), answer.json::<Value>().await.unwrap())
    }
}

#[tokio::test]
async fn the_sender_uploads_the_file_to_whatsapp_and_sends_it_by_media_id_with_the_caption() {
    let t = spawn_media_with(true).await;
    let a = agent(
        &t,
        "00000000-0000-0000-0000-00000000a401",
        "up.s@test.local",
    )
    .await;
    let conversation = conversation_of(&t, a, "34600555040").await;

    let link = upload_link(&t, a, &conversation, "image").await;
    let upload_id = link["upload_id"].as_str().unwrap().to_owned();
    let png = SampleKind::Image.generate(None);
    let url = format!("{}&name=photo.png", link["url"].as_str().unwrap());
    let (status, body) = put(&url, "image/png", png.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, row) =
        insert_media_message(&t, a, &conversation, "image", "the broken part", &upload_id).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let sent = loop {
        if let Some(m) = t
            .sim
            .received()
            .into_iter()
            .find(|m| m.message_type == "image")
        {
            break m;
        }
        let failed = t
            .text(&format!(
                "select coalesce(error_data::text, '') from public.messages where id = '{upload_id}'"
            ))
            .await;
        assert!(failed.is_empty(), "the message failed: {failed}");
        assert!(tokio::time::Instant::now() < deadline, "no image was sent");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    let uploads = t.sim.media_uploads();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert_eq!(uploads[0].mime_type, "image/png");
    assert_eq!(uploads[0].size, png.len());
    assert_eq!(uploads[0].sha256, hex::encode(Sha256::digest(&png)));
    assert_eq!(uploads[0].file_name.as_deref(), Some("photo.png"));
    assert_eq!(
        sent.body["image"],
        json!({"id": uploads[0].id, "caption": "the broken part"})
    );
    assert_eq!(sent.callback_data.as_deref(), Some(upload_id.as_str()));
}

#[tokio::test]
async fn oversize_wrong_type_forged_and_expired_uploads_are_refused_clearly() {
    let t = spawn_media().await;
    let a = agent(
        &t,
        "00000000-0000-0000-0000-00000000a301",
        "up.c@test.local",
    )
    .await;
    let conversation = conversation_of(&t, a, "34600555030").await;

    let link = upload_link(&t, a, &conversation, "image").await;
    let url = link["url"].as_str().unwrap();
    let (status, why) = put(url, "image/gif", vec![0x47; 100]).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{why}");
    assert!(
        why.contains("image/gif") && why.contains("image/png"),
        "{why}"
    );

    let (status, why) = put(url, "image/png", vec![0; 5 * 1024 * 1024 + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{why}");
    assert!(why.contains("5242880"), "{why}");

    let sticker = upload_link(&t, a, &conversation, "sticker").await;
    let (status, why) = put(
        sticker["url"].as_str().unwrap(),
        "image/webp",
        b"RIFF\0\0\0\0WEBPVP8 "
            .iter()
            .copied()
            .chain(std::iter::repeat_n(0, 100 * 1024))
            .collect(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "a static sticker over 100 KB: {why}"
    );

    let (status, why) = put(url, "image/png", Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{why}");

    let forged = format!("{}0", &url[..url.len() - 1]);
    let forged = if forged == url {
        format!("{}1", &url[..url.len() - 1])
    } else {
        forged
    };
    let (status, _) = put(&forged, "image/png", vec![1; 10]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let as_document = url.replace("kind=image", "kind=document");
    let (status, _) = put(&as_document, "application/pdf", vec![1; 10]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the kind is signed");

    let upload_id: uuid::Uuid = link["upload_id"].as_str().unwrap().parse().unwrap();
    let past = time::OffsetDateTime::now_utc().unix_timestamp() - 1;
    let expired = format!(
        "{}/media/uploads/{upload_id}?kind=image&exp={past}&sig={}",
        t.address,
        link_key().sign_upload(upload_id, "image", past)
    );
    let (status, why) = put(&expired, "image/png", vec![1; 10]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{why}");
    assert!(why.contains("expired"), "{why}");

    // Nothing refused was recorded: the link still takes a good file.
    let (status, body) = put(url, "image/png", SampleKind::Image.generate(None)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn an_upload_no_message_took_is_deleted_after_its_lifetime_and_an_attached_one_stays() {
    let t = spawn_media().await;
    let a = agent(
        &t,
        "00000000-0000-0000-0000-00000000a501",
        "up.d@test.local",
    )
    .await;
    let conversation = conversation_of(&t, a, "34600555050").await;
    let png = SampleKind::Image.generate(None);
    let mut ids = Vec::new();
    for _ in 0..2 {
        let link = upload_link(&t, a, &conversation, "image").await;
        let (status, body) = put(link["url"].as_str().unwrap(), "image/png", png.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        ids.push(link["upload_id"].as_str().unwrap().to_owned());
    }
    let (unused, attached) = (&ids[0], &ids[1]);
    let (status, row) = insert_media_message(&t, a, &conversation, "image", "", attached).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    assert!(t.stored_file(unused).is_some());

    t.project
        .db()
        .await
        .execute(
            "update private.media_uploads set created_at = now() - interval '25 hours'",
            &[],
        )
        .await
        .unwrap();
    let rows =
        |id: &str| format!("select count(*)::text from private.media_uploads where id = '{id}'");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    while t.text(&rows(unused)).await != "0" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stale upload was not deleted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(t.stored_file(unused), None, "its file is deleted with it");
    assert_eq!(
        t.text(&rows(attached)).await,
        "1",
        "the attached upload stays"
    );
    assert_eq!(t.stored_file(attached), Some(png), "and so does its file");
}

#[tokio::test]
async fn an_attachment_whose_file_is_gone_fails_the_message_with_the_reason() {
    let t = spawn_media_with(true).await;
    let a = agent(
        &t,
        "00000000-0000-0000-0000-00000000a601",
        "up.g@test.local",
    )
    .await;
    let conversation = conversation_of(&t, a, "34600555060").await;
    let link = upload_link(&t, a, &conversation, "document").await;
    let upload_id = link["upload_id"].as_str().unwrap().to_owned();
    let url = format!("{}&name=factura.pdf", link["url"].as_str().unwrap());
    let pdf = SampleKind::Document.generate(None);
    let (status, body) = put(&url, "application/pdf", pdf).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    std::fs::remove_file(t.dir.join("messages").join(&upload_id)).unwrap();

    let (status, row) =
        insert_media_message(&t, a, &conversation, "file", "the invoice", &upload_id).await;
    assert_eq!(status, StatusCode::CREATED, "{row}");
    let sql = format!(
        "select status || ' ' || coalesce(error_data ->> 'code', '') from public.messages where id = '{upload_id}'"
    );
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let state = t.text(&sql).await;
        if state != "pending " {
            assert_eq!(state, "failed attachment_not_uploaded");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the message stayed pending"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(t.sim.media_uploads().is_empty());
    assert!(t
        .sim
        .received()
        .iter()
        .all(|m| m.message_type != "document"));
}
