//! The template sync against the simulator as Meta: new, changed, removed and referenced
//! templates; an admin's request; a paginated listing of hundreds.

use serde_json::json;
use whatsapp_simulator::{TemplateChange, TemplateSpec, DEFAULT_WABA_ID};

use crate::helpers::{spawn_world, TestWorld, ADMIN_ID};

/// Waits until `n` syncs have finished.
async fn wait_for_syncs(world: &TestWorld, n: i64) {
    world
        .project
        .wait_for_count(
            "select count(*) from svc.template_syncs where finished_at is not null",
            n,
            30,
        )
        .await;
}

fn with_waba(world: &TestWorld) -> broadcast_worker::RunningWorker {
    world.start_worker_with(|s| s.template_sync.waba_id = Some(DEFAULT_WABA_ID.into()))
}

#[tokio::test]
async fn the_worker_syncs_new_changed_removed_and_referenced_templates_at_start_and_on_request() {
    let world = spawn_world(80).await;
    // In Meta: hello_world, order_update, promo_vip (the simulator's defaults) and shipping.
    world.sim.add_template(
        TemplateSpec::new("shipping", "en_US").with_components(vec![
            json!({"type": "HEADER", "format": "TEXT", "text": "Order {{1}}"}),
            json!({"type": "BODY", "text": "Hi {{1}}, your order {{2}} ships today"}),
            json!({"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Track", "url": "https://x.test/{{1}}"}]}),
        ]),
    );
    // Here: promo_vip and hello_world made by hand (helpers), and old_one, made by hand,
    // unknown to Meta, which a broadcast refers to.
    let db = world.project.db().await;
    db.batch_execute(&format!(
        "insert into public.message_templates (name, content, wa_template_name, language_code)
           values ('Old', 'Old one', 'old_one', 'es');
         insert into public.broadcast_messages (name, content, status, created_by, template_id)
           select 'Old broadcast', 'x', 'draft', '{ADMIN_ID}', id from public.message_templates where wa_template_name = 'old_one';"
    ))
    .await
    .unwrap();

    let worker = with_waba(&world);
    wait_for_syncs(&world, 1).await;

    assert_eq!(
        world
            .text("select reason from svc.template_syncs order by id limit 1")
            .await
            .as_deref(),
        Some("start"),
        "the first sync runs at start"
    );
    // Adopted: the hand-made promo_vip now has Meta's id and category.
    assert_eq!(
        world
            .text("select wa_template_id || '/' || wa_category || '/' || status from public.message_templates where wa_template_name = 'promo_vip'")
            .await,
        Some(format!(
            "{}/marketing/approved",
            TemplateSpec::new("promo_vip", "es").meta_id()
        ))
    );
    // New: order_update and shipping appear, with the layout from their components.
    assert_eq!(
        world
            .count("select count(*) from public.message_templates where synced_at is not null")
            .await,
        4
    );
    assert_eq!(
        world
            .text("select parameter_layout::text from public.message_templates where wa_template_name = 'shipping'")
            .await
            .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap()),
        Some(json!([
            {"component": "header", "type": "text", "name": "1"},
            {"component": "body", "type": "text", "name": "1"},
            {"component": "body", "type": "text", "name": "2"},
            {"component": "button", "sub_type": "url", "index": 0, "type": "text", "name": "1"}
        ]))
    );
    // Removed and referenced: marked, kept, still referred to.
    assert_eq!(
        world
            .text("select status || '/' || (removed_at is not null)::text from public.message_templates where wa_template_name = 'old_one'")
            .await
            .as_deref(),
        Some("deleted/true")
    );
    assert_eq!(
        world
            .count("select count(*) from public.broadcast_messages b join public.message_templates t on t.id = b.template_id where t.wa_template_name = 'old_one'")
            .await,
        1
    );

    // Meta pauses promo_vip and recategorizes order_update; an admin asks for a sync.
    world
        .sim
        .change_template(TemplateChange {
            name: "promo_vip".into(),
            language: "es".into(),
            status: Some("PAUSED".into()),
            reason: Some("LOW_QUALITY".into()),
            category: None,
        })
        .unwrap();
    world
        .sim
        .change_template(TemplateChange {
            name: "order_update".into(),
            language: "es".into(),
            status: None,
            reason: None,
            category: Some("marketing".into()),
        })
        .unwrap();
    db.batch_execute(&format!(
        "select set_config('request.jwt.claims', '{{\"sub\":\"{ADMIN_ID}\",\"role\":\"authenticated\"}}', false);
         set role authenticated;
         select public.request_template_sync();
         reset role;"
    ))
    .await
    .unwrap();
    wait_for_syncs(&world, 2).await;
    assert_eq!(
        world
            .text("select reason from svc.template_syncs order by id desc limit 1")
            .await
            .as_deref(),
        Some("admin")
    );
    assert_eq!(
        world
            .text(
                "select status from public.message_templates where wa_template_name = 'promo_vip'"
            )
            .await
            .as_deref(),
        Some("paused"),
        "changed: paused in Meta"
    );
    assert_eq!(
        world
            .text("select wa_category from public.message_templates where wa_template_name = 'order_update'")
            .await
            .as_deref(),
        Some("marketing"),
        "changed: recategorized in Meta"
    );
    worker.stop().await;
}

#[tokio::test]
async fn five_hundred_templates_sync_page_by_page() {
    let world = spawn_world(80).await;
    for i in 0..500 {
        world
            .sim
            .add_template(TemplateSpec::new(format!("bulk_{i:03}"), "es").with_body_params(i % 3));
    }
    let worker = with_waba(&world);
    wait_for_syncs(&world, 1).await;
    assert_eq!(
        world
            .text("select counts::text from svc.template_syncs where finished_at is not null")
            .await
            .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap()),
        Some(json!({"listed": 503, "created": 501, "changed": 2, "removed": 0})),
        "every page was listed: 500 new, order_update new, the two hand-made ones adopted"
    );
    assert_eq!(
        world
            .count("select count(*) from public.message_templates where wa_template_name like 'bulk_%' and jsonb_array_length(parameter_layout) = 2")
            .await,
        166,
        "each template's layout comes from its own components (i % 3 == 2: 166 of 500)"
    );
    worker.stop().await;
}

#[tokio::test]
async fn without_a_waba_id_nothing_is_synced() {
    let world = spawn_world(80).await;
    let worker = world.start_worker();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        world.count("select count(*) from svc.template_syncs").await,
        0
    );
    worker.stop().await;
}

#[tokio::test]
async fn without_a_configured_limit_the_worker_sends_under_the_limit_meta_announced() {
    let w = spawn_world(300).await;
    w.contacts("3465100", 260, &["vip"], "active", false).await;
    // Meta announced 250 for the portfolio (business_capability_update, as the gateway
    // hands it over).
    w.project
        .db()
        .await
        .batch_execute(
            "select svc.apply_messaging_limit_events('[{\"limit\":250,\"field\":\"business_capability_update\"}]')",
        )
        .await
        .unwrap();
    let _worker = w.start_worker_with(|s| s.learn_messaging_limit = true);
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.project
        .wait_for_count(
            &format!("select count(*) from public.broadcast_messages where id = '{id}' and status_detail like 'waiting: messaging limit of 250 unique users%'"),
            1,
            60,
        )
        .await;
    // Sends claimed before the limit was reached may still be in flight (each waits for
    // its send slot): wait for them, then make sure no one beyond the limit follows.
    w.project
        .wait_for_count(
            &format!("select count(*) from public.broadcast_recipients where broadcast_id = '{id}' and status = 'sent'"),
            250,
            60,
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        w.recipients(&id, "sent").await,
        250,
        "no one beyond the learned limit"
    );
}
