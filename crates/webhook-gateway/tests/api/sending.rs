use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;
use whatsapp_simulator::{Faults, RecipientError};

use crate::helpers::{
    approved_template, queue_reply, set_hold_policy, spawn_with_simulator, start_sender,
    start_sender_with, start_webhook_receiver, SendingSetup,
};

const SENT: &str = "select count(*) from public.messages where sender_type = 'agent' and status in ('sent', 'delivered', 'read')";

#[tokio::test]
async fn each_message_type_is_sent_once_with_the_right_body() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100001", 5).await;
    let p = &s.gateway.project;
    queue_reply(p, &conv, "text", "Hola, ¿en qué te ayudo?", json!({})).await;
    queue_reply(
        p,
        &conv,
        "image",
        "la foto",
        json!({ "media_url": "https://example.com/a.jpg" }),
    )
    .await;
    queue_reply(p, &conv, "file", "factura", json!({ "media_url": "https://example.com/f.pdf", "metadata": { "filename": "factura.pdf" } })).await;
    queue_reply(
        p,
        &conv,
        "location",
        "",
        json!({ "metadata": { "latitude": 40.4168, "longitude": -3.7038, "name": "Tienda Sol" } }),
    )
    .await;
    let template = approved_template(
        p,
        "order_update",
        "es",
        "Your order is on its way",
        json!([]),
    )
    .await;
    queue_reply(p, &conv, "template", "", json!({ "template_id": template })).await;
    p.wait_for_count(SENT, 5, 15).await;
    let received = s.sim.received();
    assert_eq!(received.len(), 5, "each message reached WhatsApp once");
    let types: Vec<&str> = received.iter().map(|m| m.message_type.as_str()).collect();
    assert_eq!(
        types,
        ["text", "image", "document", "location", "template"],
        "in the order written"
    );
    assert_eq!(received[0].body["text"]["body"], "Hola, ¿en qué te ayudo?");
    assert_eq!(
        received[1].body["image"]["link"],
        "https://example.com/a.jpg"
    );
    assert_eq!(received[2].body["document"]["filename"], "factura.pdf");
    assert_eq!(received[3].body["location"]["name"], "Tienda Sol");
    assert_eq!(received[4].body["template"]["name"], "order_update");
    assert!(received.iter().all(|m| m.to == "34600100001"));
    let wamids = p
        .db()
        .await
        .query(
            "select wa_message_id from public.messages where sender_type = 'agent'",
            &[],
        )
        .await
        .unwrap();
    assert!(
        wamids
            .iter()
            .all(|r| r.get::<_, Option<String>>(0).is_some()),
        "every wamid is recorded"
    );
}

#[tokio::test]
async fn a_reply_to_a_message_carries_its_context() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100002", 5).await;
    let db = s.gateway.project.db().await;
    db.execute(
        "insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, reply_to_message_id)
         select $1::text::uuid, 'agent', '00000000-0000-0000-0000-00000000a001', 'sí', 'text', 'pending', id
           from public.messages where wa_message_id = 'wamid.in.34600100002'",
        &[&conv],
    )
    .await
    .unwrap();
    s.sim
        .wait_for_received(1, Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(
        s.sim.received()[0].body["context"]["message_id"],
        "wamid.in.34600100002"
    );
}

#[tokio::test]
async fn statuses_flow_back_until_the_message_is_read() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100003", 5).await;
    let id = queue_reply(&s.gateway.project, &conv, "text", "hola", json!({})).await;
    s.gateway.project.wait_for_count(&format!("select count(*) from public.messages where id = '{id}' and status = 'read' and delivered_at is not null and read_at is not null"),
        1,
        15,
    )
    .await;
}

#[tokio::test]
async fn messages_to_one_contact_leave_in_the_order_agents_wrote_them() {
    let s = spawn_with_simulator(200).await;
    let a = s.conversation("34600100004", 5).await;
    let b = s.conversation("34600100005", 5).await;
    for i in 0..15 {
        queue_reply(&s.gateway.project, &a, "text", &format!("a{i}"), json!({})).await;
        queue_reply(&s.gateway.project, &b, "text", &format!("b{i}"), json!({})).await;
    }
    s.gateway.project.wait_for_count(SENT, 30, 20).await;
    for (to, prefix) in [("34600100004", "a"), ("34600100005", "b")] {
        let bodies: Vec<String> = s
            .sim
            .received()
            .iter()
            .filter(|m| m.to == to)
            .map(|m| m.body["text"]["body"].as_str().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = (0..15).map(|i| format!("{prefix}{i}")).collect();
        assert_eq!(bodies, expected);
    }
}

#[tokio::test]
async fn outside_the_window_a_free_form_message_fails_without_an_api_call_and_a_template_is_sent() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100006", 25 * 60).await;
    let text = queue_reply(&s.gateway.project, &conv, "text", "¿sigues ahí?", json!({})).await;
    let template = approved_template(
        &s.gateway.project,
        "hello_world",
        "en_US",
        "Hello World",
        json!([]),
    )
    .await;
    queue_reply(
        &s.gateway.project,
        &conv,
        "template",
        "",
        json!({ "template_id": template }),
    )
    .await;
    s.gateway.project.wait_for_count(SENT, 1, 15).await;
    let received = s.sim.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].message_type, "template");
    let error = s.gateway.text(&format!("select error_data->>'code' from public.messages where id = '{text}' and status = 'failed'")).await;
    assert_eq!(error.as_deref(), Some("131047"));
}

#[tokio::test]
async fn server_errors_and_rate_limit_bursts_are_retried_until_sent_once() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100007", 5).await;
    s.sim.set_faults(Faults::server_errors(3));
    queue_reply(&s.gateway.project, &conv, "text", "uno", json!({})).await;
    s.gateway.project.wait_for_count(SENT, 1, 20).await;
    s.sim.set_faults(Faults::rate_limit_burst(4));
    for i in 0..5 {
        queue_reply(
            &s.gateway.project,
            &conv,
            "text",
            &format!("r{i}"),
            json!({}),
        )
        .await;
    }
    s.gateway.project.wait_for_count(SENT, 6, 30).await;
    assert_eq!(
        s.sim.received().len(),
        6,
        "each message accepted exactly once"
    );
    assert!(s.sim.max_in_any_one_second_window() <= 80);
}

#[tokio::test]
async fn a_permanent_error_fails_the_message_with_error_data_and_is_not_retried() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100008", 5).await;
    s.sim.set_faults(Faults::recipient_errors(vec![
        RecipientError::undeliverable("34600100008"),
    ]));
    let id = queue_reply(&s.gateway.project, &conv, "text", "hola", json!({})).await;
    s.gateway
        .project
        .wait_for_count(
            &format!(
                "select count(*) from public.messages where id = '{id}' and status = 'failed'"
            ),
            1,
            15,
        )
        .await;
    let code = s
        .gateway
        .text(&format!(
            "select error_data->>'code' from public.messages where id = '{id}'"
        ))
        .await;
    assert_eq!(code.as_deref(), Some("131026"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.sim.stats().rejected, 1, "no retry of a permanent error");
}

#[tokio::test]
async fn a_revoked_token_pauses_sending_without_failing_anything_and_sending_resumes_when_fixed() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100009", 5).await;
    s.sim.revoke_token();
    for i in 0..3 {
        queue_reply(
            &s.gateway.project,
            &conv,
            "text",
            &format!("p{i}"),
            json!({}),
        )
        .await;
    }
    s.gateway
        .project
        .wait_for_count("select count(*) from svc.sending_pauses", 1, 15)
        .await;
    let ready: serde_json::Value = s.gateway.get_admin("/readyz").await.json().await.unwrap();
    assert_eq!(ready["sending"], "paused", "{ready}");
    assert_eq!(
        s.gateway
            .count("select count(*) from public.messages where status = 'failed'")
            .await,
        0
    );
    s.sim.restore_token();
    s.gateway.project.wait_for_count(SENT, 3, 20).await;
    assert_eq!(
        s.gateway
            .count("select count(*) from svc.sending_pauses")
            .await,
        0
    );
}

#[tokio::test]
async fn a_sender_killed_mid_flight_loses_nothing_and_sends_nothing_twice() {
    let mut s = spawn_with_simulator(40).await;
    let mut conversations = Vec::new();
    for i in 0..10 {
        conversations.push(s.conversation(&format!("3460020{i:04}"), 5).await);
    }
    for round in 0..4 {
        for conv in &conversations {
            queue_reply(
                &s.gateway.project,
                conv,
                "text",
                &format!("m{round}"),
                json!({}),
            )
            .await;
        }
    }
    // Held sends with no later send to compare with fail after the hold (32-held-outcomes).
    set_hold_policy(&s.gateway.project, 5, 1).await;
    s.sim
        .wait_for_received(10, Duration::from_secs(15))
        .await
        .unwrap();
    s.running.take().unwrap().kill().await;
    let replacement = start_sender(&s.gateway.project, &s.sim, 40);
    s.sim
        .set_webhook_url(format!(
            "http://127.0.0.1:{}/webhooks/whatsapp",
            replacement.port
        ))
        .unwrap();
    // Every message ends final: sent (maybe reconciled from its status webhook) or
    // labelled unknown_outcome; none is still pending once leases expire.
    s.gateway.project.wait_for_count("select count(*) from public.messages where sender_type = 'agent' and status = 'pending'",
        0,
        60,
    )
    .await;
    let mut per_message: HashMap<String, usize> = HashMap::new();
    for m in s.sim.received() {
        *per_message
            .entry(m.callback_data.clone().unwrap_or_default())
            .or_default() += 1;
    }
    assert!(
        per_message.values().all(|n| *n == 1),
        "no message reached WhatsApp twice: {per_message:?}"
    );
    let not_sent_but_received = s
        .gateway
        .count("select count(*) from public.messages where sender_type = 'agent' and status = 'failed' and error_data->>'code' <> 'unknown_outcome'")
        .await;
    assert_eq!(not_sent_but_received, 0);
    let sent = s.gateway.count(SENT).await as usize;
    assert_eq!(
        sent,
        per_message.len(),
        "every message WhatsApp received is recorded as sent"
    );
}

#[tokio::test]
async fn two_sender_processes_share_the_rate_limit() {
    let mut s = spawn_with_simulator(20).await;
    let _second = start_sender(&s.gateway.project, &s.sim, 20);
    let mut conversations = Vec::new();
    for i in 0..30 {
        conversations.push(s.conversation(&format!("3460030{i:04}"), 5).await);
    }
    for conv in &conversations {
        queue_reply(&s.gateway.project, conv, "text", "oferta", json!({})).await;
        queue_reply(&s.gateway.project, conv, "text", "gracias", json!({})).await;
    }
    s.gateway.project.wait_for_count(SENT, 60, 30).await;
    assert_eq!(s.sim.received().len(), 60);
    assert!(
        s.sim.max_in_any_one_second_window() <= 20,
        "max {} in a second",
        s.sim.max_in_any_one_second_window()
    );
    assert_eq!(
        s.sim.stats().rejected,
        0,
        "the simulator never had to refuse for throughput"
    );
    s.running.take();
}

#[tokio::test]
async fn a_timeout_after_the_request_left_is_never_resent() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100010", 5).await;
    // The simulator answers after 3 s; the sender gives up at 2 s: outcome unknown, held
    // (nothing else is sent to compare with) until the hold ends.
    set_hold_policy(&s.gateway.project, 3, 1).await;
    s.sim.set_faults(Faults::timeouts(1, 3_000));
    let id = queue_reply(&s.gateway.project, &conv, "text", "¿llegó?", json!({})).await;
    s.gateway
        .project
        .wait_for_count(
            &format!(
                "select count(*) from public.messages where id = '{id}' and status <> 'pending'"
            ),
            1,
            20,
        )
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let attempts = s
        .sim
        .received()
        .iter()
        .filter(|m| m.callback_data.as_deref() == Some(id.as_str()))
        .count();
    assert!(attempts <= 1, "sent {attempts} times");
    let state = s.gateway.text(&format!("select status || ' ' || coalesce(error_data->>'code', '') from public.messages where id = '{id}'")).await.unwrap();
    if attempts == 1 {
        // WhatsApp got it after all: its status webhook (callback data) reconciles it.
        assert!(
            state.starts_with("sent")
                || state.starts_with("delivered")
                || state.starts_with("read"),
            "{state}"
        );
    } else {
        assert_eq!(state, "failed unknown_outcome");
    }
}

#[tokio::test]
async fn an_agent_opening_a_conversation_sends_whatsapps_read_receipt_once() {
    let s = spawn_with_simulator(80).await;
    let conv = s.conversation("34600100011", 5).await;
    let project = &s.gateway.project;
    let agent: uuid::Uuid = "00000000-0000-0000-0000-00000000a001".parse().unwrap();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/rest/v1/rpc/mark_conversation_read",
            project.supabase_url()
        ))
        .header("apikey", project.anon_key())
        .bearer_auth(project.keys().user_token(agent))
        .json(&json!({ "p_conversation_id": conv }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.sim.marked_read().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "no read receipt reached WhatsApp"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let marked = s.sim.marked_read();
    assert_eq!(marked.len(), 1, "exactly one receipt");
    assert_eq!(
        marked[0].message_id, "wamid.in.34600100011",
        "for the customer's last message"
    );
}

/// Replies to `contacts` new conversations (phones `prefix` + n), `rounds` each, in order.
async fn queue_rounds(s: &SendingSetup, prefix: &str, contacts: usize, rounds: usize) -> usize {
    let mut conversations = Vec::new();
    for i in 0..contacts {
        conversations.push(s.conversation(&format!("{prefix}{i:04}"), 5).await);
    }
    for round in 0..rounds {
        for conv in &conversations {
            queue_reply(
                &s.gateway.project,
                conv,
                "text",
                &format!("r{round}"),
                json!({}),
            )
            .await;
        }
    }
    contacts * rounds
}

/// Messages WhatsApp received, per message id (callback data).
fn received_per_message(s: &SendingSetup) -> HashMap<String, usize> {
    let mut per_message: HashMap<String, usize> = HashMap::new();
    for m in s.sim.received() {
        *per_message
            .entry(m.callback_data.clone().unwrap_or_default())
            .or_default() += 1;
    }
    per_message
}

/// A sender killed while WhatsApp holds three of its requests (never processed): with a
/// status webhook receiver alive, later sends' statuses show those three never arrived,
/// and they are re-queued in their place. Every reply reaches WhatsApp exactly once.
#[tokio::test]
async fn a_sender_killed_mid_send_resolves_its_unknown_outcomes_from_later_statuses() {
    let mut s = spawn_with_simulator(40).await;
    s.running.take().unwrap().kill().await;
    let _receiver = start_webhook_receiver(&s.gateway.project, &s.sim);
    set_hold_policy(&s.gateway.project, 300, 1).await;
    s.sim.set_faults(Faults {
        timeouts: 3,
        timeout_ms: Some(4000),
        timeout_processed: false,
        ..Faults::default()
    });
    let short_lease = |settings: &mut webhook_gateway::Settings| settings.sending.lease_seconds = 3;
    let first = start_sender_with(&s.gateway.project, &s.sim, 40, short_lease);
    let mut total = queue_rounds(&s, "3460040", 8, 2).await;
    s.sim
        .wait_for_received(8, Duration::from_secs(15))
        .await
        .unwrap();
    first.kill().await;
    let second = start_sender_with(&s.gateway.project, &s.sim, 40, short_lease);
    // Later replies (other customers), claimed seconds after the lost ones: witnesses.
    tokio::time::sleep(Duration::from_secs(3)).await;
    total += queue_rounds(&s, "3460041", 4, 1).await;
    s.gateway
        .project
        .wait_for_count(
            "select count(*) from public.messages where sender_type = 'agent' and status = 'pending'",
            0,
            60,
        )
        .await;
    let per_message = received_per_message(&s);
    assert!(
        per_message.values().all(|n| *n == 1),
        "no reply reached WhatsApp twice: {per_message:?}"
    );
    assert_eq!(per_message.len(), total, "every reply reached WhatsApp");
    assert_eq!(
        s.gateway.count(SENT).await as usize,
        total,
        "and every one is recorded as sent"
    );
    assert_eq!(
        s.gateway
            .count("select count(*) from public.messages where error_data ->> 'code' = 'unknown_outcome'")
            .await,
        0,
        "none is left as an unknown outcome"
    );
    assert!(
        s.gateway
            .count("select total from svc.held_outcome_counts where queue = 'replies' and event = 'requeued'")
            .await
            >= 3,
        "the three lost requests were held and re-queued"
    );
    let metrics = reqwest::get(format!("http://127.0.0.1:{}/metrics", second.admin_port))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gateway_outbound_held_outcomes_total{event=\"requeued\"}"),
        "{metrics}"
    );
}

/// The same, with no status webhooks at all: nothing tells, so nothing is sent again;
/// the lost requests fail as unknown outcomes once the hold ends, saying what was missing.
#[tokio::test]
async fn without_status_webhooks_a_killed_senders_unknown_outcomes_fail_after_the_hold() {
    let mut s = spawn_with_simulator(40).await;
    s.running.take().unwrap().kill().await;
    s.sim
        .set_status_webhooks(whatsapp_simulator::StatusWebhooks::disabled());
    set_hold_policy(&s.gateway.project, 4, 1).await;
    s.sim.set_faults(Faults {
        timeouts: 3,
        timeout_ms: Some(4000),
        timeout_processed: false,
        ..Faults::default()
    });
    let short_lease = |settings: &mut webhook_gateway::Settings| settings.sending.lease_seconds = 3;
    let first = start_sender_with(&s.gateway.project, &s.sim, 40, short_lease);
    let mut total = queue_rounds(&s, "3460050", 8, 2).await;
    s.sim
        .wait_for_received(8, Duration::from_secs(15))
        .await
        .unwrap();
    first.kill().await;
    let _second = start_sender_with(&s.gateway.project, &s.sim, 40, short_lease);
    tokio::time::sleep(Duration::from_secs(3)).await;
    total += queue_rounds(&s, "3460051", 4, 1).await;
    s.gateway
        .project
        .wait_for_count(
            "select count(*) from public.messages where sender_type = 'agent' and status = 'pending'",
            0,
            60,
        )
        .await;
    let per_message = received_per_message(&s);
    assert!(per_message.values().all(|n| *n == 1), "{per_message:?}");
    let unknown = s
        .gateway
        .count("select count(*) from public.messages where status = 'failed' and error_data ->> 'code' = 'unknown_outcome' and error_data ->> 'missing_evidence' = 'later_status'")
        .await;
    assert!(
        unknown >= 3,
        "{unknown}: the three lost requests (and any accepted send whose answer the kill lost) fail after the hold, saying later sends were accepted but no status came"
    );
    let sent = s.gateway.count(SENT).await;
    assert_eq!(sent + unknown, total as i64, "every reply is final");
    let received = per_message.len() as i64;
    assert!(
        received >= sent && received <= sent + unknown - 3,
        "none of the unknown outcomes was sent again ({received} received, {sent} sent)"
    );
}
