#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Status webhooks reach broadcast recipients: the simulator's statuses go to a real
//! gateway, which applies them by wamid. (A test binary of its own: the gateway and the
//! worker each install the process's metrics recorder.)

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use sending::graph::GraphSettings;
use sending::SendingSettings;
use service_runtime::Secret;
use svc_client::{ProjectUrl, SupabaseSettings};

use helpers::{
    assert_no_duplicates, sends_per_recipient, spawn_world, ACCESS_TOKEN, APP_SECRET,
    PHONE_NUMBER_ID,
};
use std::time::Duration;
use whatsapp_simulator::Faults;

/// A gateway taking the simulator's status webhooks (its own sender off).
fn gateway_settings(project: &testkit::TestProject) -> webhook_gateway::Settings {
    let supabase = SupabaseSettings {
        url: ProjectUrl::parse(&project.supabase_url()).unwrap(),
        service_role_key: Secret::new(project.service_role_key()),
    };
    let graph = GraphSettings::for_tests("http://127.0.0.1:9", PHONE_NUMBER_ID, ACCESS_TOKEN);
    let mut settings = webhook_gateway::Settings::for_tests(
        supabase,
        SendingSettings::for_tests(graph),
        APP_SECRET,
        "test-verify-token",
    );
    // Stored media go with the project.
    settings.media.store =
        webhook_gateway::media::StoreLocation::Directory(project.scratch_dir().join("media"));
    settings
}

#[tokio::test]
async fn status_webhooks_through_the_gateway_move_recipients_to_delivered() {
    let w = spawn_world(80).await;
    let gateway = webhook_gateway::Application::build(gateway_settings(&w.project))
        .expect("gateway failed to build")
        .spawn();
    w.sim
        .set_webhook_url(format!(
            "http://127.0.0.1:{}/webhooks/whatsapp",
            gateway.port
        ))
        .unwrap();
    w.contacts("3474000", 8, &["vip"], "active", false).await;
    let _worker = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.wait_for_status(&id, "completed", 30).await;
    w.project.wait_for_count(
        &format!("select count(*) from public.broadcast_recipients where broadcast_id = '{id}' and status = 'delivered' and delivered_at is not null and sent_at is not null"),
        8,
        30,
    )
    .await;
    assert_no_duplicates(&w.sim.received());
    assert_eq!(
        w.count("select count(*) from svc.early_statuses").await,
        0,
        "no status is left waiting for its wamid"
    );
}

/// A worker killed while WhatsApp holds three of its requests (never processed), the
/// gateway taking status webhooks all along: later recipients' statuses show those three
/// never arrived; they are re-queued and sent. Everyone gets the template exactly once
/// and no recipient is left as an unknown outcome.
#[tokio::test]
async fn a_worker_killed_mid_send_leaves_no_unknown_outcome_when_status_webhooks_tell() {
    let w = spawn_world(40).await;
    let gateway = webhook_gateway::Application::build(gateway_settings(&w.project))
        .expect("gateway failed to build")
        .spawn();
    w.sim
        .set_webhook_url(format!(
            "http://127.0.0.1:{}/webhooks/whatsapp",
            gateway.port
        ))
        .unwrap();
    w.project
        .db()
        .await
        .execute(
            "update svc.held_outcome_policy set hold_seconds = 300, evidence_grace_seconds = 1",
            &[],
        )
        .await
        .unwrap();
    w.contacts("3475000", 200, &["vip"], "active", false).await;
    w.sim.set_faults(Faults {
        timeouts: 3,
        timeout_ms: Some(4000),
        timeout_processed: false,
        ..Faults::default()
    });
    let short_lease = |s: &mut broadcast_worker::Settings| s.sending.lease_seconds = 3;
    let first = w.start_worker_with(short_lease);
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.sim
        .wait_for_received(40, Duration::from_secs(30))
        .await
        .unwrap();
    first.kill().await;
    let _second = w.start_worker_with(short_lease);
    w.wait_for_status(&id, "completed", 90).await;

    let received = w.sim.received();
    assert_no_duplicates(&received);
    assert_eq!(
        sends_per_recipient(&received).len(),
        200,
        "every recipient got the template"
    );
    assert_eq!(
        w.recipients(&id, "failed").await,
        0,
        "no unknown outcome is left"
    );
    assert_eq!(
        w.recipients(&id, "sent").await + w.recipients(&id, "delivered").await,
        200
    );
    assert!(
        w.count("select total from svc.held_outcome_counts where queue = 'broadcasts' and event = 'requeued'")
            .await
            >= 3,
        "the three lost requests were held and re-queued"
    );
}
