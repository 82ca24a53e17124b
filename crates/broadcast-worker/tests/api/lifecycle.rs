//! Starting on time, audiences, skips, cancelling, the messaging limit.

use std::collections::HashMap;
use std::time::Duration;

use time::OffsetDateTime;

use crate::helpers::{assert_no_duplicates, spawn_world, ADMIN_ID};

#[tokio::test]
async fn a_scheduled_broadcast_starts_on_time_and_completes_with_every_recipient_sent() {
    let w = spawn_world(80).await;
    let phones = w.contacts("3461000", 20, &["vip"], "active", false).await;
    let _worker = w.start_worker();
    let id = w
        .schedule(
            "promo_vip",
            serde_json::json!({"type": "tags", "tags": ["vip"]}),
            2.0,
        )
        .await;
    assert_eq!(
        w.text(&format!(
            "select status from public.broadcast_messages where id = '{id}'"
        ))
        .await
        .as_deref(),
        Some("scheduled"),
        "not started before its time"
    );
    w.wait_for_status(&id, "completed", 30).await;

    let scheduled_for: f64 = w
        .project
        .db()
        .await
        .query_one(
            &format!("select extract(epoch from scheduled_for)::float8 from public.broadcast_messages where id = '{id}'"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let received = w.sim.received();
    assert_eq!(received.len(), 20);
    assert_no_duplicates(&received);
    let first = received.iter().map(|m| m.received_at).min().unwrap();
    assert!(
        (first - OffsetDateTime::UNIX_EPOCH).as_seconds_f64() >= scheduled_for,
        "nothing was sent before scheduled_for"
    );
    assert_eq!(w.recipients(&id, "sent").await, 20);
    assert_eq!(
        w.count(&format!("select count(*) from public.broadcast_messages where id = '{id}' and sent_at is not null and status_detail is null"))
            .await,
        1,
        "completed with sent_at"
    );
    assert_eq!(
        w.count(&format!("select count(*) from public.broadcast_recipients where broadcast_id = '{id}' and wa_message_id is null"))
            .await,
        0,
        "every wamid is recorded"
    );

    // The template with the contact's name, and the recipient in the callback data.
    let contacts: HashMap<String, (String, String)> = w
        .project
        .db()
        .await
        .query(
            "select phone, id::text, full_name from public.contacts",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    for m in &received {
        assert!(phones.contains(&m.wa_id));
        let (contact_id, name) = &contacts[&m.wa_id];
        assert_eq!(m.template_name(), Some("promo_vip"));
        assert_eq!(m.body["template"]["language"]["code"], "es");
        assert_eq!(
            m.body["template"]["components"][0]["parameters"][0]["text"],
            name.as_str()
        );
        assert_eq!(
            m.callback_data.as_deref(),
            Some(format!("broadcast:{id}:{contact_id}").as_str())
        );
    }
}

#[tokio::test]
async fn a_tag_audience_reaches_exactly_the_tagged_contacts_and_explicit_recipients_theirs() {
    let w = spawn_world(80).await;
    let vip = w.contacts("3462000", 5, &["vip"], "active", false).await;
    let nuevo = w.contacts("3462100", 3, &["nuevo"], "active", false).await;
    let both = w
        .contacts("3462200", 2, &["vip", "nuevo"], "active", false)
        .await;
    let others = w
        .contacts("3462300", 4, &["mayorista"], "active", false)
        .await;
    let untagged = w.contacts("3462400", 2, &[], "active", false).await;
    let _worker = w.start_worker();
    let by_tags = w.schedule_tags("hello_world", &["vip", "nuevo"]).await;
    let explicit = w.schedule_explicit("promo_vip", &others[..2]).await;
    w.wait_for_status(&by_tags, "completed", 30).await;
    w.wait_for_status(&explicit, "completed", 30).await;

    let received = w.sim.received();
    let mut tagged: Vec<String> = received
        .iter()
        .filter(|m| m.template_name() == Some("hello_world"))
        .map(|m| m.wa_id.clone())
        .collect();
    tagged.sort();
    let mut expected: Vec<String> = vip.iter().chain(&nuevo).chain(&both).cloned().collect();
    expected.sort();
    assert_eq!(tagged, expected, "each tagged contact once, nobody else");
    assert!(
        received
            .iter()
            .filter(|m| m.template_name() == Some("hello_world"))
            .all(|m| m.body["template"].get("components").is_none()),
        "a template without parameters is sent without components"
    );
    let mut explicit_phones: Vec<String> = received
        .iter()
        .filter(|m| m.template_name() == Some("promo_vip"))
        .map(|m| m.wa_id.clone())
        .collect();
    explicit_phones.sort();
    assert_eq!(explicit_phones, others[..2].to_vec());
    assert!(received.iter().all(|m| !untagged.contains(&m.wa_id)));
    assert_eq!(w.recipients(&by_tags, "sent").await, 10);
    assert_eq!(w.recipients(&explicit, "sent").await, 2);
}

#[tokio::test]
async fn blocked_and_opted_out_contacts_are_recorded_as_skipped_and_never_sent() {
    let w = spawn_world(80).await;
    let active = w.contacts("3463000", 5, &["vip"], "active", false).await;
    let blocked = w.contacts("3463100", 2, &["vip"], "blocked", false).await;
    let opted_out = w.contacts("3463200", 2, &["vip"], "active", true).await;
    let _worker = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.wait_for_status(&id, "completed", 30).await;

    let received = w.sim.received();
    let mut phones: Vec<String> = received.iter().map(|m| m.wa_id.clone()).collect();
    phones.sort();
    assert_eq!(phones, active);
    assert!(received
        .iter()
        .all(|m| !blocked.contains(&m.wa_id) && !opted_out.contains(&m.wa_id)));
    assert_eq!(w.recipients(&id, "sent").await, 5);
    assert_eq!(
        w.count(&format!("select count(*) from public.broadcast_recipients where broadcast_id = '{id}' and status = 'failed' and error_message = 'skipped: contact is blocked'")).await,
        2
    );
    assert_eq!(
        w.count(&format!("select count(*) from public.broadcast_recipients where broadcast_id = '{id}' and status = 'failed' and error_message = 'skipped: contact opted out'")).await,
        2
    );
}

#[tokio::test]
async fn cancelling_a_running_broadcast_stops_its_sends_within_a_second() {
    let w = spawn_world(20).await;
    w.contacts("3464000", 200, &["vip"], "active", false).await;
    let _worker = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.sim
        .wait_for_received(30, Duration::from_secs(30))
        .await
        .unwrap();

    // The admin cancels it (as the frontend does, under RLS).
    let db = w.project.db().await;
    db.batch_execute(&format!(
        "begin; set local role authenticated;
         select set_config('request.jwt.claims', '{{\"sub\":\"{ADMIN_ID}\",\"role\":\"authenticated\"}}', true);
         update public.broadcast_messages set status = 'cancelled' where id = '{id}';
         commit;"
    ))
    .await
    .unwrap();
    let cancelled_at = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let after_cancel = w.sim.received().len();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let received = w.sim.received();
    assert_eq!(received.len(), after_cancel, "nothing more is sent");
    let last = received.iter().map(|m| m.received_at).max().unwrap();
    assert!(
        last <= cancelled_at + time::Duration::seconds(1),
        "the last send came {} after the cancel",
        last - cancelled_at
    );
    assert_no_duplicates(&received);
    assert_eq!(
        w.text(&format!(
            "select status from public.broadcast_messages where id = '{id}'"
        ))
        .await
        .as_deref(),
        Some("cancelled")
    );
    let sent = w.recipients(&id, "sent").await;
    assert_eq!(sent as usize, received.len(), "every send is recorded");
    assert_eq!(
        w.recipients(&id, "pending").await,
        200 - sent,
        "the rest never left"
    );
}

#[tokio::test]
async fn the_messaging_limit_holds_the_rest_back_and_the_broadcast_says_so() {
    let w = spawn_world(300).await;
    w.contacts("3465000", 260, &["vip"], "active", false).await;
    let _worker =
        w.start_worker_with(|s| s.messaging_limit = broadcast_worker::MessagingLimit::Users250);
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.project.wait_for_count(
        &format!("select count(*) from public.broadcast_recipients where broadcast_id = '{id}' and status = 'sent'"),
        250,
        60,
    )
    .await;
    w.project.wait_for_count(
        &format!("select count(*) from public.broadcast_messages where id = '{id}' and status_detail like 'waiting: messaging limit of 250 unique users%'"),
        1,
        10,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(w.sim.received().len(), 250, "no one beyond the limit");
    assert_no_duplicates(&w.sim.received());
    let stats = w.sim.stats();
    assert!(stats.max_attempts_in_any_1s_window <= 300, "{stats:?}");
    assert_eq!(stats.rejected, 0);
    assert_eq!(w.recipients(&id, "pending").await, 10);
    assert_eq!(
        w.text(&format!(
            "select status from public.broadcast_messages where id = '{id}'"
        ))
        .await
        .as_deref(),
        Some("sending"),
        "it waits, not completes"
    );
}
