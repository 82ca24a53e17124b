use std::time::Duration;

use futures::future::join_all;
use time::OffsetDateTime;
use whatsapp_simulator::TemplateSpec;

use crate::helpers::*;

#[tokio::test]
async fn free_form_outside_the_window_is_131047_and_a_template_goes_through() {
    let t = spawn().await;
    let answer = t.send(text(CUSTOMER, "hi")).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.code(), 131_047);
    assert_eq!(answer.body["error"]["error_subcode"], 2_494_010);
    assert!(answer.body["error"]["error_data"]["details"]
        .as_str()
        .unwrap()
        .contains("24 hours"));

    let answer = t.send(template(CUSTOMER, "hello_world", "en_US")).await;
    answer.wamid();

    t.sim.open_window(CUSTOMER).unwrap();
    t.send(text(CUSTOMER, "now inside")).await.wamid();
    assert_eq!(t.sim.received().len(), 2);
    assert_eq!(t.sim.stats().rejected_by_code.get("131047"), Some(&1));
}

#[tokio::test]
async fn the_window_closes_24_hours_after_the_last_inbound_message() {
    let t = spawn().await;
    let now = OffsetDateTime::now_utc();
    t.sim
        .set_last_inbound(CUSTOMER, now - time::Duration::hours(25))
        .unwrap();
    assert_eq!(t.send(text(CUSTOMER, "late")).await.code(), 131_047);
    t.sim
        .set_last_inbound(CUSTOMER, now - time::Duration::hours(23))
        .unwrap();
    t.send(text(CUSTOMER, "in time")).await.wamid();
    t.sim.close_window(CUSTOMER);
    assert_eq!(t.send(text(CUSTOMER, "closed")).await.code(), 131_047);
}

#[tokio::test]
async fn an_unknown_template_or_language_is_132001() {
    let t = spawn().await;
    for (name, language) in [("no_such_template", "en_US"), ("hello_world", "es")] {
        let answer = t.send(template(CUSTOMER, name, language)).await;
        assert_eq!(answer.code(), 132_001, "{name}/{language}");
        assert!(answer.body["error"]["error_data"]["details"]
            .as_str()
            .unwrap()
            .contains(name));
    }
    t.sim
        .add_template(TemplateSpec::new("no_such_template", "en_US"));
    t.send(template(CUSTOMER, "no_such_template", "en_US"))
        .await
        .wamid();
    for (name, language) in [("order_update", "es"), ("promo_vip", "es")] {
        t.send(template(CUSTOMER, name, language)).await.wamid();
    }
}

#[tokio::test]
async fn a_template_with_the_wrong_number_of_body_parameters_is_132000() {
    let t = spawn().await;
    t.sim
        .add_template(TemplateSpec::new("two_params", "es").with_body_params(2));
    let answer = t.send(template(CUSTOMER, "two_params", "es")).await;
    assert_eq!(answer.code(), 132_000);
}

#[tokio::test]
async fn above_max_mps_is_130429_and_accepted_messages_never_exceed_it() {
    let t = spawn_with(|c| {
        c.max_mps = Some(20);
        c.status_webhooks.enabled = false;
    })
    .await;
    t.sim.open_window(CUSTOMER).unwrap();
    let answers = join_all((0..60).map(|i| t.send(text(CUSTOMER, &format!("burst {i}"))))).await;
    let accepted = answers.iter().filter(|a| a.status == 200).count();
    let limited = answers
        .iter()
        .filter(|a| a.status == 400 && a.code() == 130_429)
        .count();
    assert_eq!(accepted + limited, 60);
    assert!(accepted <= 20, "{accepted} accepted in one burst");
    assert!(limited >= 40);
    assert_eq!(
        answers.iter().find(|a| a.status == 400).unwrap().message(),
        "(#130429) Rate limit hit"
    );

    let stats = t.sim.stats();
    assert!(t.sim.max_in_any_one_second_window() <= 20);
    assert_eq!(
        stats.max_in_any_1s_window,
        t.sim.max_in_any_one_second_window()
    );
    assert_eq!(
        stats.rejected_by_code.get("130429"),
        Some(&(limited as u64))
    );
    assert_eq!(stats.attempts, 60);
    assert!(
        stats.max_attempts_in_any_1s_window > 20,
        "the burst is visible"
    );
    assert_eq!(stats.max_mps, Some(20));
}

#[tokio::test]
async fn a_sender_below_the_limit_is_never_throttled() {
    let t = spawn_with(|c| {
        c.max_mps = Some(20);
        c.status_webhooks.enabled = false;
    })
    .await;
    t.sim.open_window(CUSTOMER).unwrap();
    let mut ticker = tokio::time::interval(Duration::from_millis(60));
    // Never catch up with a burst after a slow moment.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for i in 0..30 {
        ticker.tick().await;
        t.send(text(CUSTOMER, &format!("paced {i}"))).await.wamid();
    }
    let stats = t.sim.stats();
    assert_eq!(stats.accepted, 30);
    assert_eq!(stats.rejected, 0);
    assert!(stats.max_attempts_in_any_1s_window <= 20);
    assert!(stats.per_second.iter().map(|s| s.accepted).sum::<u32>() == 30);
}

#[tokio::test]
async fn the_limit_can_be_changed_and_lifted_at_runtime() {
    let t = spawn_with(|c| c.status_webhooks.enabled = false).await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.set_max_mps(Some(2));
    let answers = join_all((0..5).map(|_| t.send(text(CUSTOMER, "x")))).await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 2);
    t.sim.set_max_mps(None);
    let answers = join_all((0..50).map(|_| t.send(text(CUSTOMER, "x")))).await;
    assert!(answers.iter().all(|a| a.status == 200));
}
