use std::time::Duration;

use whatsapp_simulator::{Faults, RecipientError, ServerErrorKind};

use crate::helpers::*;

#[tokio::test]
async fn server_errors_answer_5xx_n_times_then_ok() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.set_faults(Faults::server_errors(2));
    for _ in 0..2 {
        let answer = t.send(text(CUSTOMER, "retry me")).await;
        assert_eq!(answer.status, 500);
        assert_eq!(answer.code(), 1);
    }
    t.send(text(CUSTOMER, "retry me")).await.wamid();

    t.sim.set_faults(Faults {
        server_errors: 1,
        server_error_kind: ServerErrorKind::Unavailable,
        ..Faults::default()
    });
    let answer = t.send(text(CUSTOMER, "again")).await;
    assert_eq!((answer.status, answer.code()), (503, 2));
    t.send(text(CUSTOMER, "again")).await.wamid();

    assert_eq!(t.sim.received().len(), 2);
    let stats = t.sim.stats();
    assert_eq!(stats.rejected_by_code.get("1"), Some(&2));
    assert_eq!(stats.rejected_by_code.get("2"), Some(&1));
    assert!(t.sim.faults().is_clear());
}

#[tokio::test]
async fn a_timeout_fault_holds_the_request_past_the_client_timeout_and_drops_it() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.set_faults(Faults::timeouts(1, 1_500));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = impatient
        .post(t.sim.messages_url(VERSION))
        .bearer_auth(TOKEN)
        .json(&text(CUSTOMER, "slow"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    // The next request is fine, and the timed-out one was not sent.
    t.send(text(CUSTOMER, "fast")).await.wamid();
    let received = t.sim.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].text_body(), Some("fast"));
}

#[tokio::test]
async fn a_processed_timeout_is_an_unknown_outcome_the_message_went_out() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.set_faults(Faults {
        timeout_processed: true,
        ..Faults::timeouts(1, 1_000)
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let err = impatient
        .post(t.sim.messages_url(VERSION))
        .bearer_auth(TOKEN)
        .json(&text(CUSTOMER, "did it go?"))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let received = t.sim.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].text_body(), Some("did it go?"));
}

#[tokio::test]
async fn a_permanent_error_for_one_recipient_leaves_the_others_alone() {
    let t = spawn().await;
    let other = "34600999888";
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.open_window(other).unwrap();
    t.sim.set_faults(Faults::recipient_errors(vec![
        RecipientError::undeliverable(format!("+{CUSTOMER}")),
        RecipientError {
            title: Some("Custom".into()),
            details: Some("custom details".into()),
            ..RecipientError::new("34611111111", 131_050)
        },
    ]));
    for _ in 0..2 {
        let answer = t.send(text(CUSTOMER, "never")).await;
        assert_eq!(answer.status, 400);
        assert_eq!(answer.code(), 131_026);
        assert_eq!(answer.message(), "(#131026) Message Undeliverable");
    }
    // Templates fail the same way: the recipient is the problem.
    assert_eq!(
        t.send(template(CUSTOMER, "hello_world", "en_US"))
            .await
            .code(),
        131_026
    );
    let custom = t
        .send(template("34611111111", "hello_world", "en_US"))
        .await;
    assert_eq!(custom.code(), 131_050);
    assert_eq!(
        custom.body["error"]["error_data"]["details"],
        "custom details"
    );
    t.send(text(other, "fine")).await.wamid();
    assert_eq!(t.sim.received().len(), 1);
}

#[tokio::test]
async fn a_recipient_error_can_arrive_as_a_failed_status_webhook() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.set_faults(Faults::recipient_errors(vec![
        RecipientError::undeliverable(CUSTOMER).via_status_webhook(),
    ]));
    let wamid = t.send(text(CUSTOMER, "accepted, then fails")).await.wamid();
    t.gateway.wait_for(1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let statuses = t.gateway.statuses();
    assert_eq!(statuses.len(), 1, "only failed: {statuses:?}");
    assert_eq!(statuses[0].id, wamid);
    assert_eq!(statuses[0].status.as_str(), "failed");
    assert_eq!(statuses[0].errors[0].code, Some(131_026));
    assert_eq!(
        statuses[0].errors[0].title.as_deref(),
        Some("Message Undeliverable")
    );
}

#[tokio::test]
async fn a_rate_limit_burst_answers_130429_n_times() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.set_faults(Faults::rate_limit_burst(3));
    for _ in 0..3 {
        assert_eq!(t.send(text(CUSTOMER, "x")).await.code(), 130_429);
    }
    t.send(text(CUSTOMER, "x")).await.wamid();
}

#[tokio::test]
async fn a_revoked_token_is_401_until_restored() {
    let t = spawn().await;
    t.sim.open_window(CUSTOMER).unwrap();
    t.sim.revoke_token();
    for body in [
        text(CUSTOMER, "x"),
        template(CUSTOMER, "hello_world", "en_US"),
    ] {
        let answer = t.send(body).await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.code(), 190);
    }
    assert_eq!(
        whatsapp::classify(Some(190), Some(401)),
        whatsapp::ErrorClass::PauseSending
    );
    t.sim.restore_token();
    t.send(text(CUSTOMER, "x")).await.wamid();

    t.sim.set_faults(Faults::token_revoked());
    assert_eq!(t.send(text(CUSTOMER, "x")).await.status, 401);
    t.sim.clear_faults();
    t.send(text(CUSTOMER, "x")).await.wamid();
}
