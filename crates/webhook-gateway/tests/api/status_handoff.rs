//! A status that overtakes the record of its send, with the sender and the gateway's
//! status applier in two sessions at the same moment: a send in flight is left to its
//! sender (neither waits for the other); a late sender and a status resolving the same
//! sends (the order that deadlocked at 1,000 sends a second) don't deadlock; and a status
//! kept as early is applied once the sender commits.

use std::time::Duration;

use testkit::TestProject;
use tokio_postgres::Client;

const BROADCAST: &str = "00000000-0000-0000-0000-0000000000b1";
const ANA: &str = "00000000-0000-0000-0000-0000000000c1";
const BEA: &str = "00000000-0000-0000-0000-0000000000c2";

/// A sending broadcast to Ana and Bea, both claimed by sender `w1`.
async fn two_claimed_recipients(db: &Client) {
    db.batch_execute(&format!(
        "insert into auth.users (id, email, raw_app_meta_data)
           values ('00000000-0000-0000-0000-00000000ad01', 'admin@test.local', '{{\"role\":\"admin\"}}');
         insert into public.contacts (id, phone, wa_id, full_name) values
           ('{ANA}', '34600000001', '34600000001', 'Ana'),
           ('{BEA}', '34600000002', '34600000002', 'Bea');
         insert into public.message_templates (id, name, content, wa_template_name, language_code)
           values ('00000000-0000-0000-0000-0000000000e1', 'Promo', 'Hola', 'promo_vip', 'es');
         insert into public.broadcast_messages (id, name, content, status, scheduled_for, created_by, template_id, audience)
           values ('{BROADCAST}', 'Promo', 'Hola', 'scheduled', now() - interval '1 minute',
                   '00000000-0000-0000-0000-00000000ad01', '00000000-0000-0000-0000-0000000000e1', '{{\"type\":\"explicit\"}}');
         insert into public.broadcast_recipients (broadcast_id, contact_id) values ('{BROADCAST}', '{ANA}'), ('{BROADCAST}', '{BEA}');
         select svc.start_due_broadcasts();
         select svc.claim_broadcast_recipients('w1', 'PN1', 1000, 2, 30, null, clock_timestamp());"
    ))
    .await
    .expect("setting up the broadcast");
}

fn callback(contact: &str) -> String {
    format!("broadcast:{BROADCAST}:{contact}")
}

/// The leases of both ran out while their sender was still at work (a late sender).
async fn expire_leases(db: &Client) {
    db.execute(
        "update svc.broadcast_queue set lease_expires_at = now() - interval '1 second'",
        &[],
    )
    .await
    .unwrap();
}

/// Waits until `session`'s backend is waiting for a lock.
async fn until_waiting_for_a_lock(observer: &Client, pid: i32) {
    for _ in 0..200 {
        let waiting: bool = observer
            .query_one(
                "select coalesce((select wait_event_type = 'Lock' from pg_stat_activity where pid = $1), false)",
                &[&pid],
            )
            .await
            .unwrap()
            .get(0);
        if waiting {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the sender's record never waited for the applier");
}

async fn recipient(db: &Client, contact: &str) -> String {
    db.query_one(
        "select status || ' ' || coalesce(wa_message_id, '-') from public.broadcast_recipients
          where broadcast_id = $1::text::uuid and contact_id = $2::text::uuid",
        &[&BROADCAST, &contact],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_late_sender_and_statuses_resolving_its_sends_neither_deadlock_nor_lose_a_status() {
    let project = TestProject::new().await;
    let setup = project.db().await;
    two_claimed_recipients(&setup).await;
    expire_leases(&setup).await;
    let sender = project.connect("postgres").await;
    let applier = project.connect("postgres").await;
    applier
        .batch_execute("set lock_timeout = '10s'")
        .await
        .unwrap();
    let sender_pid: i32 = sender
        .query_one("select pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    // The sender's batch starts: Ana's send is recorded (her queue row, then her row).
    sender.batch_execute("begin").await.unwrap();
    sender
        .execute(
            "select svc.record_broadcast_sent($1::text::uuid, $2::text::uuid, 'w1', 'wamid.ana')",
            &[&BROADCAST, &ANA],
        )
        .await
        .unwrap();

    // The applier's batch: Bea's 'sent' overtook her record and resolves her by callback.
    applier.batch_execute("begin").await.unwrap();
    applier
        .execute(
            "select svc.apply_delivery_status('wamid.bea', 'sent', now(), null, $1)",
            &[&callback(BEA)],
        )
        .await
        .unwrap();
    assert_eq!(
        recipient(&applier, BEA).await,
        "sent wamid.bea",
        "Bea's send is resolved by her status"
    );

    // The sender's batch goes on to Bea: it waits for the applier.
    let bea_record = tokio::spawn(async move {
        let recorded = sender
            .query_one(
                "select svc.record_broadcast_sent($1::text::uuid, $2::text::uuid, 'w1', 'wamid.bea')",
                &[&BROADCAST, &BEA],
            )
            .await
            .map(|row| row.get::<_, bool>(0));
        let committed = sender.batch_execute("commit").await;
        (recorded, committed)
    });
    until_waiting_for_a_lock(&setup, sender_pid).await;

    // Ana's 'delivered' reaches the applier while her record is uncommitted. Before, this
    // waited for Ana's row while the sender waited for Bea's queue row: a deadlock.
    let ana: String = applier
        .query_one(
            "select svc.apply_delivery_status('wamid.ana', 'delivered', now(), null, $1)",
            &[&callback(ANA)],
        )
        .await
        .expect("the applier must not wait for the sender's rows (no deadlock)")
        .get(0);
    assert_eq!(ana, "unknown", "kept as early: her sender is recording her");
    applier.batch_execute("commit").await.unwrap();

    let (recorded, committed) = bea_record.await.unwrap();
    assert!(
        !recorded.expect("the sender's record must not fail (no deadlock)"),
        "Bea was resolved by her status: no longer the sender's claim"
    );
    committed.unwrap();

    // Ana's record applied the early statuses it could see, not this one (it committed
    // later). The applier's next call applies it.
    assert_eq!(recipient(&setup, ANA).await, "sent wamid.ana");
    let report: serde_json::Value = applier
        .query_one("select svc.apply_queued_statuses(500)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(report["early_recorded"], 1, "{report}");
    assert_eq!(recipient(&setup, ANA).await, "delivered wamid.ana");
    assert_eq!(recipient(&setup, BEA).await, "sent wamid.bea");
    let left: i64 = setup
        .query_one(
            "select (select count(*) from svc.early_statuses) + (select count(*) from svc.broadcast_queue)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "no status waits, nobody is left in the queue");
}

#[tokio::test]
async fn a_status_of_a_send_a_claim_holds_resolves_it_once_the_claim_lets_go() {
    let project = TestProject::new().await;
    let setup = project.db().await;
    two_claimed_recipients(&setup).await;
    expire_leases(&setup).await;
    let claim = project.connect("postgres").await;
    let applier = project.connect("postgres").await;
    // Were the applier to wait for the claim, the test would fail here rather than hang.
    applier
        .batch_execute("set lock_timeout = '10s'")
        .await
        .unwrap();

    // A claim holds Ana's queue row (e.g. turning her expired lease into a hold).
    claim.batch_execute("begin").await.unwrap();
    claim
        .execute(
            "select 1 from svc.broadcast_queue where contact_id = $1::text::uuid for update",
            &[&ANA],
        )
        .await
        .unwrap();
    let ana: String = applier
        .query_one(
            "select svc.apply_delivery_status('wamid.ana', 'sent', now(), null, $1)",
            &[&callback(ANA)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ana, "unknown", "busy: kept as early, without waiting");
    claim.batch_execute("commit").await.unwrap();

    let report: serde_json::Value = applier
        .query_one("select svc.apply_queued_statuses(500)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(report["early_recorded"], 1, "{report}");
    assert_eq!(
        recipient(&setup, ANA).await,
        "sent wamid.ana",
        "her status resolved her send (she is never sent twice)"
    );
    let queued: i64 = setup
        .query_one(
            "select count(*) from svc.broadcast_queue where contact_id = $1::text::uuid",
            &[&ANA],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(queued, 0, "she left the queue");
}

#[tokio::test]
async fn a_status_of_a_send_in_flight_is_left_to_its_sender_and_neither_waits() {
    let project = TestProject::new().await;
    let setup = project.db().await;
    two_claimed_recipients(&setup).await;
    let sender = project.connect("postgres").await;
    let applier = project.connect("postgres").await;
    for session in [&sender, &applier] {
        session
            .batch_execute("set lock_timeout = '10s'")
            .await
            .unwrap();
    }

    // Ana's 'sent' comes before her sender recorded her: kept as early, nothing locked.
    applier.batch_execute("begin").await.unwrap();
    let ana: String = applier
        .query_one(
            "select svc.apply_delivery_status('wamid.ana', 'sent', now(), null, $1)",
            &[&callback(ANA)],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ana, "unknown", "her sender holds a live lease");

    // Her sender records her meanwhile, without waiting for the applier's transaction.
    let recorded: bool = sender
        .query_one(
            "select svc.record_broadcast_sent($1::text::uuid, $2::text::uuid, 'w1', 'wamid.ana')",
            &[&BROADCAST, &ANA],
        )
        .await
        .expect("the sender's record must not wait for the applier")
        .get(0);
    assert!(recorded, "the claim is still the sender's");
    applier.batch_execute("commit").await.unwrap();

    // The early status committed after the record: the applier's next call applies it.
    let report: serde_json::Value = applier
        .query_one("select svc.apply_queued_statuses(500)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(report["early_recorded"], 1, "{report}");
    assert_eq!(recipient(&setup, ANA).await, "sent wamid.ana");
    let early: i64 = setup
        .query_one("select count(*) from svc.early_statuses", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(early, 0, "nothing is left waiting");
}
