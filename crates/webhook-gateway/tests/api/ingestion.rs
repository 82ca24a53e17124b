use futures::future::join_all;
use serde_json::json;

use crate::helpers::{fixture, fixture_names, spawn_gateway, status_webhook, text_webhook};

#[tokio::test]
async fn every_fixture_is_acknowledged_and_every_message_in_it_is_stored_once() {
    let app = spawn_gateway().await;
    let mut expected_messages = 0i64;
    for name in fixture_names() {
        let body = fixture(&name);
        let parsed = whatsapp::WebhookBatch::parse(&body);
        let response = app.post_signed(&body).await;
        if parsed.is_err() {
            // Fixtures that are not webhooks at all: acknowledged only if valid JSON.
            continue;
        }
        assert_eq!(response.status(), 200, "{name}");
        let batch = parsed.unwrap();
        expected_messages += batch
            .messages()
            .filter(|(c, _)| c.metadata.phone_number_id == crate::helpers::PHONE_NUMBER_ID)
            .map(|(_, m)| m.id.clone())
            .collect::<std::collections::HashSet<_>>()
            .len() as i64;
    }
    assert!(
        expected_messages >= 20,
        "fixtures cover every message type ({expected_messages})"
    );
    assert_eq!(
        app.count("select count(*) from public.messages").await,
        expected_messages
    );
    // Delivering all of them again changes nothing.
    for name in fixture_names() {
        app.post_signed(&fixture(&name)).await;
    }
    assert_eq!(
        app.count("select count(*) from public.messages").await,
        expected_messages
    );
}

#[tokio::test]
async fn each_message_type_is_stored_with_its_type_content_and_media_metadata() {
    let app = spawn_gateway().await;
    for name in [
        "image.json",
        "audio_voice.json",
        "document.json",
        "location.json",
        "unknown_type.json",
        "reaction_removed.json",
        "interactive_list_reply.json",
    ] {
        assert_eq!(
            app.post_signed(&fixture(name)).await.status(),
            200,
            "{name}"
        );
    }
    let rows = app
        .project
        .db()
        .await
        .query(
            "select message_type, content, metadata from public.messages order by message_type",
            &[],
        )
        .await
        .unwrap();
    let types: Vec<String> = rows.iter().map(|r| r.get::<_, String>(0)).collect();
    for expected in [
        "image",
        "audio",
        "file",
        "location",
        "unsupported",
        "reaction",
        "interactive",
    ] {
        assert!(
            types.contains(&expected.to_string()),
            "missing {expected} in {types:?}"
        );
    }
    for row in &rows {
        let message_type: String = row.get(0);
        let content: Option<String> = row.get(1);
        let metadata: serde_json::Value = row.get(2);
        assert!(
            content.as_deref().is_some_and(|c| !c.is_empty()),
            "{message_type} has a readable content"
        );
        match message_type.as_str() {
            "image" | "audio" | "file" => {
                let media = &metadata["content"]["media"];
                assert!(
                    media["id"].is_string(),
                    "{message_type} keeps its media id: {metadata}"
                );
                assert!(
                    media["mime_type"].is_string(),
                    "{message_type} keeps its mime type"
                );
            }
            "unsupported" => assert!(
                metadata["raw"].is_object(),
                "an unknown type keeps its raw JSON"
            ),
            _ => {}
        }
    }
    let voice = app
        .text("select (metadata -> 'content' ->> 'voice') from public.messages where message_type = 'audio'")
        .await;
    assert_eq!(voice.as_deref(), Some("true"), "voice notes are flagged");
}

#[tokio::test]
async fn a_batch_with_several_entries_changes_and_items_is_stored_completely() {
    let app = spawn_gateway().await;
    let body = fixture("batch_multi.json");
    let batch = whatsapp::WebhookBatch::parse(&body).unwrap();
    let ours = batch
        .messages()
        .filter(|(c, _)| c.metadata.phone_number_id == crate::helpers::PHONE_NUMBER_ID)
        .count() as i64;
    assert!(ours >= 2);
    assert_eq!(app.post_signed(&body).await.status(), 200);
    assert_eq!(
        app.count("select count(*) from public.messages").await,
        ours
    );
    assert_eq!(
        app.count("select count(*) from svc.webhook_journal").await,
        1,
        "one webhook, one journal row"
    );
}

#[tokio::test]
async fn concurrent_duplicates_leave_one_message_and_one_conversation() {
    let app = spawn_gateway().await;
    let body = text_webhook("wamid.dup1", "34600777888", "hola", 1_764_000_000);
    let posts = (0..12).map(|_| app.post_signed(&body));
    for response in join_all(posts).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(
        app.count("select count(*) from public.messages where wa_message_id = 'wamid.dup1'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from public.conversations").await,
        1
    );
    assert_eq!(app.count("select count(*) from public.contacts").await, 1);
    assert_eq!(
        app.count("select count(*) from svc.webhook_journal").await,
        12
    );
}

#[tokio::test]
async fn different_messages_from_one_new_customer_at_once_open_one_conversation() {
    let app = spawn_gateway().await;
    let bodies: Vec<Vec<u8>> = (0..10)
        .map(|i| {
            text_webhook(
                &format!("wamid.burst{i}"),
                "34600123123",
                &format!("mensaje {i}"),
                1_764_000_000 + i,
            )
        })
        .collect();
    for response in join_all(bodies.iter().map(|b| app.post_signed(b))).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(app.count("select count(*) from public.messages").await, 10);
    assert_eq!(
        app.count("select count(*) from public.conversations").await,
        1
    );
}

#[tokio::test]
async fn statuses_out_of_order_and_before_their_message_end_in_the_right_state() {
    let app = spawn_gateway().await;
    app.post_signed(&text_webhook(
        "wamid.in1",
        "34600111222",
        "hola",
        1_764_000_000,
    ))
    .await;
    // A status for a message the sender has not recorded yet.
    assert_eq!(
        app.post_signed(&status_webhook(
            "wamid.out1",
            "delivered",
            1_764_000_020,
            None
        ))
        .await
        .status(),
        200
    );
    // Acknowledged before it is applied; applied (kept as early) within moments.
    app.queued_statuses_applied().await;
    assert_eq!(
        app.count("select count(*) from svc.early_statuses where wa_message_id = 'wamid.out1'")
            .await,
        1
    );
    let db = app.project.db().await;
    db.execute(
        "insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
         select id, 'agent', gen_random_uuid(), 'respuesta', 'text', 'sent', 'wamid.out1' from public.conversations",
        &[],
    )
    .await
    .unwrap();
    db.execute("select svc.apply_early_statuses('wamid.out1')", &[])
        .await
        .unwrap();
    assert_eq!(
        app.text("select status from public.messages where wa_message_id = 'wamid.out1'")
            .await
            .as_deref(),
        Some("delivered")
    );
    // read before delivered, then a late sent: ends read.
    app.post_signed(&status_webhook("wamid.out1", "read", 1_764_000_040, None))
        .await;
    app.post_signed(&status_webhook("wamid.out1", "sent", 1_764_000_010, None))
        .await;
    app.post_signed(&status_webhook(
        "wamid.out1",
        "failed",
        1_764_000_050,
        Some(json!([{ "code": 131026, "title": "x" }])),
    ))
    .await;
    app.queued_statuses_applied().await;
    assert_eq!(
        app.text("select status from public.messages where wa_message_id = 'wamid.out1'")
            .await
            .as_deref(),
        Some("read")
    );
}

#[tokio::test]
async fn a_contact_without_a_phone_number_is_stored_by_user_id() {
    let app = spawn_gateway().await;
    assert_eq!(
        app.post_signed(&fixture("user_id_only.json"))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.count(
            "select count(*) from public.contacts where phone is null and wa_user_id is not null"
        )
        .await,
        1
    );
    assert_eq!(app.count("select count(*) from public.messages").await, 1);
}

#[tokio::test]
async fn changes_for_another_number_or_field_are_journaled_but_not_applied() {
    let app = spawn_gateway().await;
    let mut body: serde_json::Value = serde_json::from_slice(&text_webhook(
        "wamid.other",
        "34600111222",
        "hola",
        1_764_000_000,
    ))
    .unwrap();
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!("999");
    assert_eq!(
        app.post_signed(&serde_json::to_vec(&body).unwrap())
            .await
            .status(),
        200
    );
    // A field the gateway doesn't apply (template changes are applied since issue 16;
    // account alerts are not).
    let mut other_field: serde_json::Value =
        serde_json::from_slice(&fixture("ignored_field.json")).unwrap();
    other_field["entry"][0]["changes"][0]["field"] = json!("account_alerts");
    assert_eq!(
        app.post_signed(&serde_json::to_vec(&other_field).unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(app.count("select count(*) from public.messages").await, 0);
    assert_eq!(
        app.count("select count(*) from svc.webhook_journal where outcome = 'ignored'")
            .await,
        2
    );
}

#[tokio::test]
async fn with_the_database_unreachable_the_answer_is_503_and_a_retry_is_stored_once() {
    let mut app = spawn_gateway().await;
    let body = text_webhook(
        "wamid.retry1",
        "34600111222",
        "¿hay alguien?",
        1_764_000_000,
    );
    app.project.stop_postgrest();
    assert_eq!(app.post_signed(&body).await.status(), 503);
    app.project.start_postgrest().await;
    assert_eq!(app.post_signed(&body).await.status(), 200);
    assert_eq!(app.post_signed(&body).await.status(), 200);
    assert_eq!(
        app.count("select count(*) from public.messages where wa_message_id = 'wamid.retry1'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_number_the_journal_cannot_hold_as_written_is_stored_as_parsed() {
    let app = spawn_gateway().await;
    // `jsonb` refuses more than 16,383 decimal places; serde_json reads this as 0.
    let body = String::from_utf8(text_webhook(
        "wamid.tiny",
        "34600111223",
        "hola",
        1_764_000_000,
    ))
    .unwrap()
    .replacen("\"object\"", "\"tiny\": 1e-16384, \"object\"", 1);
    assert!(body.contains("1e-16384"));
    let answer = app.post_signed(body.as_bytes()).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(
        app.count("select count(*) from public.messages where wa_message_id = 'wamid.tiny'")
            .await,
        1
    );
    assert_eq!(
        app.text("select (payload -> 'tiny')::text from svc.webhook_journal")
            .await
            .as_deref(),
        Some("0.0")
    );
}

#[tokio::test]
async fn unicode_and_emoji_text_is_stored_exactly() {
    let app = spawn_gateway().await;
    let text = "Ñandú 🦤 — «привет» 你好 👍🏽";
    app.post_signed(&text_webhook(
        "wamid.uni",
        "34600111222",
        text,
        1_764_000_000,
    ))
    .await;
    assert_eq!(
        app.text("select content from public.messages where wa_message_id = 'wamid.uni'")
            .await
            .as_deref(),
        Some(text)
    );
}

#[tokio::test]
async fn raw_webhooks_leave_the_journal_after_their_retention_and_failed_ones_wait_longer() {
    service_runtime::telemetry::init_for_tests();
    let project = testkit::TestProject::new().await;
    // Journaled webhooks of several ages: applied 40 and 10 days ago, failed 40 and 100.
    project
        .db()
        .await
        .batch_execute(
            "insert into svc.webhook_journal (received_at, payload, outcome) values
               (now() - interval '40 days', '{\"age\": \"applied 40\"}', 'applied'),
               (now() - interval '10 days', '{\"age\": \"applied 10\"}', 'applied'),
               (now() - interval '40 days', '{\"age\": \"failed 40\"}', 'failed'),
               (now() - interval '100 days', '{\"age\": \"failed 100\"}', 'failed')",
        )
        .await
        .unwrap();
    let mut settings = crate::helpers::settings_for(&project);
    settings.journal_retention.enabled = true;
    let running = webhook_gateway::Application::build(settings)
        .expect("gateway failed to build")
        .spawn();
    project
        .wait_for_count("select count(*) from svc.webhook_journal", 2, 15)
        .await;
    let kept: String = project
        .value("select string_agg(payload ->> 'age', ', ' order by id) from svc.webhook_journal")
        .await;
    assert_eq!(kept, "applied 10, failed 40");
    running.stop().await;
}

#[tokio::test]
async fn erasures_and_exports_pending_in_the_journal_are_carried_out_in_batches_even_with_retention_off(
) {
    service_runtime::telemetry::init_for_tests();
    let project = testkit::TestProject::new().await;
    // 2 500 webhooks (more than one batch): every tenth from the erased customer, the others
    // from someone else; one more after the erasure was recorded (outside its range).
    project
        .db()
        .await
        .batch_execute(
            "insert into svc.webhook_journal (payload, events, outcome)
             select jsonb_build_object('n', n), jsonb_build_object(
                      'messages', jsonb_build_array(jsonb_build_object(
                        'wamid', 'wamid.e' || n, 'from', case when n % 10 = 0 then '34600000001' else '34600000002' end)),
                      'statuses', '[]'::jsonb), 'applied'
               from generate_series(1, 2500) n;
             insert into svc.journal_erasures (identifiers, wamids, through_journal_id)
             values (array['34600000001'], array[]::text[], (select max(id) from svc.webhook_journal));
             insert into svc.webhook_journal (payload, events, outcome)
             values ('{\"after\": true}', '{\"messages\": [{\"wamid\": \"wamid.after\", \"from\": \"34600000001\"}], \"statuses\": []}', 'applied');",
        )
        .await
        .unwrap();
    let mut settings = crate::helpers::settings_for(&project);
    settings.journal_retention.enabled = false;
    settings.journal_retention.erasure_poll = std::time::Duration::from_secs(1);
    let running = webhook_gateway::Application::build(settings)
        .expect("gateway failed to build")
        .spawn();
    project
        .wait_for_count(
            "select count(*) from svc.journal_erasures where done_at is null",
            0,
            15,
        )
        .await;
    let left: String = project
        .value(
            "select count(*) filter (where events -> 'messages' -> 0 ->> 'from' = '34600000001')::text
                    || ' of ' || count(*)::text from svc.webhook_journal",
        )
        .await;
    assert_eq!(
        left, "1 of 2251",
        "only the webhook after the erasure is left of theirs"
    );
    let done: String = project
        .value("select scanned::text || '/' || removed::text || '/' || (identifiers is null)::text from svc.journal_erasures")
        .await;
    assert_eq!(done, "2500/250/true");
    // An export pending meanwhile is gathered the same way.
    project
        .db()
        .await
        .batch_execute(
            "insert into svc.journal_exports (identifiers, wamids, through_journal_id)
             values (array['34600000001'], array[]::text[], (select max(id) from svc.webhook_journal))",
        )
        .await
        .unwrap();
    project
        .wait_for_count(
            "select count(*) from svc.journal_exports where done_at is null",
            0,
            15,
        )
        .await;
    let exported: String = project
        .value("select (results -> 0 -> 'events' -> 'messages' -> 0 ->> 'wamid') || '/' || jsonb_array_length(results)::text from svc.journal_exports")
        .await;
    assert_eq!(exported, "wamid.after/1");
    running.stop().await;
}
