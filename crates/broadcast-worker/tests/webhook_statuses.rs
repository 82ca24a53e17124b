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

use helpers::{assert_no_duplicates, spawn_world, ACCESS_TOKEN, APP_SECRET, PHONE_NUMBER_ID};

/// A gateway taking the simulator's status webhooks (its own sender off).
fn gateway_settings(project: &testkit::TestProject) -> webhook_gateway::Settings {
    let supabase = SupabaseSettings {
        url: ProjectUrl::parse(&project.supabase_url()).unwrap(),
        service_role_key: Secret::new(project.service_role_key()),
    };
    let graph = GraphSettings::for_tests("http://127.0.0.1:9", PHONE_NUMBER_ID, ACCESS_TOKEN);
    webhook_gateway::Settings::for_tests(
        supabase,
        SendingSettings::for_tests(graph),
        APP_SECRET,
        "test-verify-token",
    )
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
