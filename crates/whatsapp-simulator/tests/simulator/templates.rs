use std::time::Duration;

use serde_json::Value;
use whatsapp::{TemplateEvent, TemplatePage, TemplateStatus, TEMPLATE_LIST_FIELDS};
use whatsapp_simulator::{TemplateChange, TemplateSpec, WebhookKind, DEFAULT_WABA_ID};

use crate::helpers::*;

async fn list(t: &TestSim, waba: &str, query: &str, token: &str) -> (u16, Vec<u8>) {
    let resp = t
        .http
        .get(format!(
            "{}/{VERSION}/{waba}/message_templates?fields={TEMPLATE_LIST_FIELDS}&{query}",
            t.sim.graph_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn the_template_list_is_paged_by_cursor_until_the_last_page() {
    let t = spawn().await;
    for i in 0..7 {
        t.sim
            .add_template(TemplateSpec::new(format!("t{i}"), "es").with_body_params(2));
    }
    let mut names = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &after {
            Some(a) => format!("limit=4&after={a}"),
            None => "limit=4".into(),
        };
        let (status, body) = list(&t, DEFAULT_WABA_ID, &query, TOKEN).await;
        assert_eq!(status, 200);
        let page = TemplatePage::parse(&body).unwrap();
        assert!(page.problems.is_empty());
        pages += 1;
        names.extend(page.templates.iter().map(|t| t.name.clone()));
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3, "10 templates, 4 per page");
    assert_eq!(names.len(), 10);
    assert_eq!(&names[..3], ["hello_world", "order_update", "promo_vip"]);
    let (_, body) = list(&t, DEFAULT_WABA_ID, "limit=100", TOKEN).await;
    let page = TemplatePage::parse(&body).unwrap();
    let t0 = page.templates.iter().find(|t| t.name == "t0").unwrap();
    assert_eq!(t0.status, TemplateStatus::Approved);
    assert_eq!(t0.components[0]["text"], "t0 {{1}} {{2}}");
    assert_eq!(t0.id, TemplateSpec::new("t0", "es").meta_id());
}

#[tokio::test]
async fn the_list_checks_the_token_and_the_account() {
    let t = spawn().await;
    let (status, body) = list(&t, DEFAULT_WABA_ID, "", "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        190
    );
    let (status, body) = list(&t, "999", "", TOKEN).await;
    assert_eq!(status, 400);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["error"]["code"],
        100
    );
    let (status, _) = list(&t, DEFAULT_WABA_ID, "after=garbage", TOKEN).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn a_paused_template_is_refused_and_its_change_is_announced_by_webhook() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    let spec = t
        .sim
        .change_template(TemplateChange {
            name: "promo_vip".into(),
            language: "es".into(),
            status: Some("paused".into()),
            reason: Some("LOW_QUALITY".into()),
            category: Some("utility".into()),
        })
        .unwrap();
    assert_eq!(spec.status, "PAUSED");
    assert_eq!(
        t.send(template(CUSTOMER, "promo_vip", "es")).await.code(),
        132_015
    );

    let captured = t.gateway.wait_for(2, Duration::from_secs(5)).await;
    let events: Vec<TemplateEvent> = captured
        .iter()
        .flat_map(|c| {
            c.verify();
            c.batch()
                .ignored_changes()
                .filter_map(|ch| TemplateEvent::from_change(ch).map(Result::unwrap))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(matches!(
        &events[0],
        TemplateEvent::Status { status: TemplateStatus::Paused, reason: Some(r), .. } if r == "LOW_QUALITY"
    ));
    assert!(matches!(
        &events[1],
        TemplateEvent::Category {
            new: whatsapp::TemplateCategory::Utility,
            previous: Some(whatsapp::TemplateCategory::Marketing),
            ..
        }
    ));
    assert_eq!(events[0].template().id, spec.meta_id());
    let deliveries = deliveries(&t.sim, 2).await;
    assert!(deliveries
        .iter()
        .all(|d| d.kind == WebhookKind::Template && d.succeeded()));

    t.sim
        .change_template(TemplateChange {
            name: "promo_vip".into(),
            language: "es".into(),
            status: Some("DISABLED".into()),
            reason: None,
            category: None,
        })
        .unwrap();
    assert_eq!(
        t.send(template(CUSTOMER, "promo_vip", "es")).await.code(),
        132_016
    );
    t.sim
        .change_template(TemplateChange {
            name: "promo_vip".into(),
            language: "es".into(),
            status: Some("APPROVED".into()),
            reason: None,
            category: None,
        })
        .unwrap();
    t.send(template(CUSTOMER, "promo_vip", "es")).await.wamid();
    assert!(t
        .sim
        .change_template(TemplateChange {
            name: "nope".into(),
            language: "es".into(),
            status: Some("PAUSED".into()),
            reason: None,
            category: None,
        })
        .is_err());
}
