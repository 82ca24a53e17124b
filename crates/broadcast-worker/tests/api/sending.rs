//! Outcomes: permanent errors, rate-limit bursts, pauses, unknown outcomes; several
//! workers, a worker killed and one stopped.

use std::collections::HashSet;
use std::time::Duration;

use whatsapp_simulator::{Faults, RecipientError};

use crate::helpers::{assert_no_duplicates, sends_per_recipient, spawn_world};

#[tokio::test]
async fn permanent_failures_end_failed_with_their_error_and_131050_opts_the_contact_out() {
    let w = spawn_world(80).await;
    let phones = w.contacts("3466000", 10, &["vip"], "active", false).await;
    w.sim.set_faults(Faults::recipient_errors(vec![
        RecipientError::undeliverable(phones[0].clone()),
        RecipientError::undeliverable(phones[1].clone()),
        RecipientError::new(phones[2].clone(), 131_050),
        RecipientError::new(phones[3].clone(), 132_001),
    ]));
    let _worker = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.wait_for_status(&id, "completed", 30).await;

    assert_eq!(w.recipients(&id, "sent").await, 6);
    assert_eq!(w.recipients(&id, "failed").await, 4);
    let error_of = |phone: &str| {
        format!(
            "select r.error_message from public.broadcast_recipients r join public.contacts c on c.id = r.contact_id
              where r.broadcast_id = '{id}' and c.phone = '{phone}'"
        )
    };
    for phone in &phones[..2] {
        let error = w.text(&error_of(phone)).await.unwrap();
        assert!(error.starts_with("131026: "), "{error}");
    }
    let opted = w.text(&error_of(&phones[2])).await.unwrap();
    assert!(opted.starts_with("131050: "), "{opted}");
    let template = w.text(&error_of(&phones[3])).await.unwrap();
    assert!(template.starts_with("132001: "), "{template}");
    assert_eq!(
        w.count(&format!(
            "select count(*) from public.contacts where opted_out_at is not null and phone = '{}'",
            phones[2]
        ))
        .await,
        1,
        "131050 records the opt-out"
    );
    assert_eq!(
        w.count("select count(*) from public.contacts where opted_out_at is not null")
            .await,
        1
    );
    assert_eq!(w.sim.stats().rejected, 4, "no permanent error is retried");
}

#[tokio::test]
async fn rate_limit_bursts_and_server_errors_are_retried_until_every_recipient_is_sent_once() {
    // At 300/s the worker runs two claim loops.
    let w = spawn_world(300).await;
    w.contacts("3467000", 300, &["vip"], "active", false).await;
    w.sim.set_faults(Faults {
        rate_limit_burst: 15,
        server_errors: 3,
        ..Faults::default()
    });
    let _worker = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.wait_for_status(&id, "completed", 60).await;

    let received = w.sim.received();
    assert_eq!(received.len(), 300);
    assert_no_duplicates(&received);
    assert_eq!(w.recipients(&id, "sent").await, 300);
    let stats = w.sim.stats();
    assert_eq!(stats.rejected_by_code.get("130429"), Some(&15));
    assert!(stats.max_in_any_1s_window <= 300, "{stats:?}");
    assert!(
        stats.max_attempts_in_any_1s_window <= 300,
        "retries count against the limit too: {stats:?}"
    );
}

#[tokio::test]
async fn two_workers_share_one_broadcast_without_sending_anyone_twice_or_exceeding_the_limit() {
    let w = spawn_world(40).await;
    w.contacts("3468000", 160, &["vip"], "active", false).await;
    let _a = w.start_worker();
    let _b = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.wait_for_status(&id, "completed", 60).await;

    let received = w.sim.received();
    assert_eq!(received.len(), 160);
    assert_no_duplicates(&received);
    assert_eq!(w.recipients(&id, "sent").await, 160);
    let stats = w.sim.stats();
    assert!(
        stats.max_in_any_1s_window <= 40,
        "max {} in a second",
        stats.max_in_any_1s_window
    );
    assert!(stats.max_attempts_in_any_1s_window <= 40, "{stats:?}");
    assert_eq!(
        stats.rejected, 0,
        "the simulator never had to refuse for throughput"
    );
    assert_eq!(
        w.count(&format!("select count(*) from public.broadcast_messages where id = '{id}' and sent_at is not null")).await,
        1
    );
}

#[tokio::test]
async fn a_worker_killed_mid_run_and_restarted_sends_nobody_twice_and_leaves_everyone_final() {
    let w = spawn_world(40).await;
    w.contacts("3469000", 120, &["vip"], "active", false).await;
    // A slow Meta (every answer 300 ms late, the message accepted at once), so that
    // sends are in the air when the worker dies.
    w.sim.set_faults(Faults {
        timeouts: 10_000,
        timeout_ms: Some(300),
        timeout_processed: true,
        ..Faults::default()
    });
    let short_lease = |s: &mut broadcast_worker::Settings| {
        s.sending.lease_seconds = 3;
        s.sending.request_timeout = Duration::from_secs(1);
    };
    // No status webhooks here: held recipients fail after the hold (32-held-outcomes).
    w.project
        .db()
        .await
        .execute("update svc.held_outcome_policy set hold_seconds = 5", &[])
        .await
        .unwrap();
    let first = w.start_worker_with(short_lease);
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.sim
        .wait_for_received(30, Duration::from_secs(30))
        .await
        .unwrap();
    first.kill().await;
    let _second = w.start_worker_with(short_lease);
    w.wait_for_status(&id, "completed", 90).await;

    let received = w.sim.received();
    assert_no_duplicates(&received);
    let sent = w.recipients(&id, "sent").await;
    let failed = w.recipients(&id, "failed").await;
    assert_eq!(sent + failed, 120, "every recipient is final");
    assert_eq!(w.recipients(&id, "pending").await, 0);
    let unknown = w
        .count(&format!("select count(*) from public.broadcast_recipients where broadcast_id = '{id}' and status = 'failed' and error_message like 'unknown_outcome:%'"))
        .await;
    assert_eq!(
        unknown, failed,
        "the only failures are the kill's unknown outcomes"
    );
    assert!(
        (1..=40).contains(&unknown),
        "{unknown} unknown outcomes: the sends in the air at the kill (about 12 at 40/s and 300 ms)"
    );

    // What WhatsApp got is what the database says: sent, or labelled unknown.
    let db = w.project.db().await;
    let rows = db
        .query(
            &format!("select 'broadcast:' || broadcast_id || ':' || contact_id, status from public.broadcast_recipients where broadcast_id = '{id}'"),
            &[],
        )
        .await
        .unwrap();
    let per = sends_per_recipient(&received);
    let mut sent_keys = HashSet::new();
    for r in &rows {
        let (key, status): (String, String) = (r.get(0), r.get(1));
        if status == "sent" {
            assert_eq!(
                per.get(&key),
                Some(&1),
                "{key} is sent and WhatsApp got it once"
            );
            sent_keys.insert(key);
        }
    }
    let received_not_sent = per.keys().filter(|k| !sent_keys.contains(*k)).count() as i64;
    assert!(
        received_not_sent <= unknown,
        "only unknown outcomes may have reached WhatsApp unrecorded"
    );
    assert_eq!(received.len() as i64, sent + received_not_sent);
}

#[tokio::test]
async fn a_graceful_stop_finishes_and_records_its_sends_and_releases_its_claims() {
    let w = spawn_world(40).await;
    w.contacts("3470000", 120, &["vip"], "active", false).await;
    let first = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.sim
        .wait_for_received(20, Duration::from_secs(30))
        .await
        .unwrap();
    first.stop().await;

    assert_eq!(
        w.count("select count(*) from svc.broadcast_queue where lease_owner is not null")
            .await,
        0,
        "no claim is left leased"
    );
    assert_eq!(w.recipients(&id, "failed").await, 0);
    let received = w.sim.received().len() as i64;
    assert_eq!(
        w.recipients(&id, "sent").await,
        received,
        "every send is recorded"
    );

    let _second = w.start_worker();
    w.wait_for_status(&id, "completed", 60).await;
    let received = w.sim.received();
    assert_eq!(received.len(), 120);
    assert_no_duplicates(&received);
    assert_eq!(w.recipients(&id, "sent").await, 120);
}

#[tokio::test]
async fn a_revoked_token_pauses_the_broadcast_without_failing_anyone_and_it_resumes_when_fixed() {
    let w = spawn_world(80).await;
    w.contacts("3471000", 10, &["vip"], "active", false).await;
    w.sim.revoke_token();
    let worker = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.project
        .wait_for_count("select count(*) from svc.sending_pauses", 1, 30)
        .await;
    w.project.wait_for_count(
        &format!("select count(*) from public.broadcast_messages where id = '{id}' and status_detail like 'waiting: sending is paused%'"),
        1,
        15,
    )
    .await;
    let ready: serde_json::Value = w
        .get(worker.admin_port, "/readyz")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ready["sending"], "paused", "{ready}");
    assert_eq!(
        w.recipients(&id, "failed").await,
        0,
        "nobody fails for our token"
    );
    assert_eq!(w.sim.received().len(), 0);

    w.sim.restore_token();
    w.wait_for_status(&id, "completed", 30).await;
    assert_eq!(w.recipients(&id, "sent").await, 10);
    assert_eq!(w.count("select count(*) from svc.sending_pauses").await, 0);
    assert_no_duplicates(&w.sim.received());
}

#[tokio::test]
async fn a_timeout_after_the_request_left_is_labelled_unknown_outcome_and_never_resent() {
    let w = spawn_world(80).await;
    let phones = w.contacts("3472000", 3, &["vip"], "active", false).await;
    // The simulator holds the first request 3 s; the worker gives up at 1 s. No status
    // webhooks here: the unknown one is held until the hold ends (32-held-outcomes).
    w.project
        .db()
        .await
        .execute("update svc.held_outcome_policy set hold_seconds = 3", &[])
        .await
        .unwrap();
    w.sim.set_faults(Faults::timeouts(1, 3_000));
    let _worker = w.start_worker_with(|s| s.sending.request_timeout = Duration::from_secs(1));
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.wait_for_status(&id, "completed", 30).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    assert_eq!(w.recipients(&id, "sent").await, 2);
    let unknown = w
        .text(&format!("select error_message from public.broadcast_recipients where broadcast_id = '{id}' and status = 'failed'"))
        .await
        .unwrap();
    assert!(unknown.starts_with("unknown_outcome: "), "{unknown}");
    let stats = w.sim.stats();
    assert_eq!(
        stats.attempts, 3,
        "the unknown one was not sent again: {stats:?}"
    );
    assert!(w.sim.received().iter().all(|m| phones.contains(&m.wa_id)));
}
