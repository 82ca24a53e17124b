use std::time::{Duration, Instant};

use whatsapp_simulator::{AnswerLatency, ConfigPatch, StatusWebhooks};

use crate::helpers::*;

#[tokio::test]
async fn answers_wait_the_latency_set_through_the_admin_api_and_statuses_follow_the_answer() {
    let t = spawn_with(|c| {
        c.status_webhooks = StatusWebhooks {
            read_ms: None,
            ..StatusWebhooks::default()
        }
    })
    .await;
    t.sim.open_window(CUSTOMER).unwrap();
    let config = t
        .sim
        .client()
        .patch_config(&ConfigPatch {
            answer_latency: Some(AnswerLatency::new(300, 0)),
            ..ConfigPatch::default()
        })
        .await
        .unwrap();
    assert_eq!(config.answer_latency, AnswerLatency::new(300, 0));

    let sent_at = Instant::now();
    let answer = t.send(text(CUSTOMER, "hola")).await;
    let answered_at = Instant::now();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answered_at - sent_at >= Duration::from_millis(300),
        "answered after {:?}",
        answered_at - sent_at
    );
    // Accepted on arrival (the throughput limit and the recorder count it then).
    assert_eq!(t.sim.received().len(), 1);
    // `sent` 50 ms after the answer, not 50 ms after the request.
    let captured = t.gateway.wait_for(2, Duration::from_secs(5)).await;
    assert!(captured[0].at >= sent_at + Duration::from_millis(350));
}

#[tokio::test]
async fn answers_in_the_air_wait_together_not_one_after_another() {
    let t = spawn_with(|c| {
        c.answer_latency = AnswerLatency::new(400, 0);
        c.max_mps = None;
        c.status_webhooks = StatusWebhooks::disabled();
    })
    .await;
    t.sim.open_window(CUSTOMER).unwrap();
    let started = Instant::now();
    let answers = futures::future::join_all((0..10).map(|_| t.send(text(CUSTOMER, "hola")))).await;
    assert!(answers.iter().all(|a| a.status == 200));
    assert_eq!(t.sim.received().len(), 10);
    // One after another they would take 4 s.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}
