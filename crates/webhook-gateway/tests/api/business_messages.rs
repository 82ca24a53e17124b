//! One rule for business-initiated messages, end to end: an agent writes through the real
//! PostgREST with their own token, the gateway's sender claims, the simulator stands in
//! for WhatsApp. Templates are chosen by id (metadata can't name one); nothing reaches a
//! blocked or opted-out contact, whether they were so when the message was written or
//! became so before it was sent; a quote stays within its conversation.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use testkit::TestProject;
use whatsapp_simulator::{Faults, TemplateSpec};

use crate::helpers::{approved_template, queue_reply, spawn_with_simulator};

const AGENT: &str = "00000000-0000-0000-0000-00000000a001";

/// Inserts a message as the agent through PostgREST, as the frontend does; answers the
/// status and the body (the row, or PostgREST's error).
async fn insert_as_agent(project: &TestProject, row: Value) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/rest/v1/messages", project.supabase_url()))
        .header("apikey", project.anon_key())
        .bearer_auth(project.keys().user_token(AGENT.parse().unwrap()))
        .header("Prefer", "return=representation")
        .json(&row)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn an_agent_sends_an_approved_template_chosen_by_id_and_metadata_cannot_name_another() {
    let s = spawn_with_simulator(80).await;
    s.sim
        .add_template(TemplateSpec::new("order_ready", "es").with_body_params(2));
    let conv = s.conversation("34600200001", 26 * 60).await;
    let p = &s.gateway.project;
    let template = approved_template(
        p,
        "order_ready",
        "es",
        "Hi {{1}}, order {{2}} is ready",
        json!(["contact.full_name", "order number"]),
    )
    .await;

    let (status, body) = insert_as_agent(
        p,
        json!({ "conversation_id": conv, "sender_type": "agent", "sender_id": AGENT, "status": "pending",
                "message_type": "template",
                "metadata": { "template": { "name": "promo_vip", "language": "es" } } }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "a template message names its template by template_id"
    );

    let (status, body) = insert_as_agent(
        p,
        json!({ "conversation_id": conv, "sender_type": "agent", "sender_id": AGENT, "status": "pending",
                "message_type": "template", "template_id": template,
                "metadata": { "parameters": ["Ana", "#1042"],
                              "template": { "name": "promo_vip", "language": "es" } } }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body[0]["content"], "Hi Ana, order #1042 is ready");

    s.sim
        .wait_for_received(1, Duration::from_secs(15))
        .await
        .unwrap();
    let sent = &s.sim.received()[0];
    assert_eq!(sent.body["template"]["name"], "order_ready");
    assert_eq!(
        sent.body["template"]["components"][0]["parameters"],
        json!([{ "type": "text", "text": "Ana" }, { "type": "text", "text": "#1042" }])
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.sim.received().len(), 1, "the forged template never left");
}

#[tokio::test]
async fn nothing_reaches_an_opted_out_or_blocked_contact_and_the_agent_sees_why() {
    let s = spawn_with_simulator(80).await;
    let p = &s.gateway.project;
    let opted_out = s.conversation("34600200002", 5).await;
    let db = p.db().await;
    db.execute(
        "update public.contacts set opted_out_at = now() where phone = '34600200002'",
        &[],
    )
    .await
    .unwrap();
    let (status, body) = insert_as_agent(
        p,
        json!({ "conversation_id": opted_out, "sender_type": "agent", "sender_id": AGENT, "status": "pending",
                "message_type": "text", "content": "one more offer" }),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body[0]["id"].as_str().unwrap().to_owned();
    let error: Value = p
        .value(&format!(
            "select jsonb_build_object('status', status, 'code', error_data->>'code') from public.messages where id = '{id}'"
        ))
        .await;
    assert_eq!(
        error,
        json!({ "status": "failed", "code": "contact_opted_out" }),
        "refused when written"
    );

    // Blocked while a reply waits for its retry (WhatsApp answers 500 until further
    // notice): the next claim fails it instead of sending it.
    let blocked = s.conversation("34600200003", 5).await;
    s.sim.set_faults(Faults::server_errors(1_000));
    let reply = queue_reply(p, &blocked, "text", "are you there?", json!({})).await;
    p.wait_for_count(&format!("select count(*) from svc.outbound_jobs where message_id = '{reply}' and last_error is not null"),
        1,
        15,
    )
    .await;
    db.execute(
        "update public.contacts set status = 'blocked' where phone = '34600200003'",
        &[],
    )
    .await
    .unwrap();
    p.wait_for_count(&format!("select count(*) from public.messages where id = '{reply}' and status = 'failed' and error_data->>'code' = 'contact_blocked'"),
        1,
        15,
    )
    .await;
    assert!(
        s.sim.received().is_empty(),
        "nothing reached either contact: {:?}",
        s.sim.received()
    );
}

#[tokio::test]
async fn an_agent_cannot_quote_a_message_of_a_conversation_they_do_not_see() {
    let s = spawn_with_simulator(80).await;
    let p = &s.gateway.project;
    let own = s.conversation("34600200004", 5).await;
    let db = p.db().await;
    let foreign: String = p
        .value(
            "with k as (insert into public.contacts (phone, wa_id) values ('34600200005', '34600200005') returning id),
                  c as (insert into public.conversations (contact_id) select id from k returning id, contact_id)
             insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, wa_message_id)
             select c.id, 'contact', c.contact_id, 'secret', 'text', 'delivered', 'wamid.foreign' from c returning id::text",
        )
        .await;
    db.execute(
        "update public.conversations set assigned_agent_id = null where contact_id = (select id from public.contacts where phone = '34600200005')",
        &[],
    )
    .await
    .unwrap();
    let (status, body) = insert_as_agent(
        p,
        json!({ "conversation_id": own, "sender_type": "agent", "sender_id": AGENT, "status": "pending",
                "message_type": "text", "content": "as they said", "reply_to_message_id": foreign }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(
        body["message"],
        "a reply can quote only a message of its own conversation"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s.sim.received().is_empty());
}
