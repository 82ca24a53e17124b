//! /healthz, /readyz, /metrics, and start-up configuration errors.

use std::time::Duration;

use crate::helpers::spawn_world;

#[tokio::test]
async fn healthz_answers_and_readyz_follows_the_database() {
    let mut w = spawn_world(80).await;
    let worker = w.start_worker();
    assert_eq!(w.get(worker.port, "/healthz").await.status(), 200);
    let ready = w.get(worker.port, "/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["sending"], "active");
    w.project.stop_postgrest();
    assert_eq!(w.get(worker.port, "/readyz").await.status(), 503);
    assert_eq!(w.get(worker.port, "/healthz").await.status(), 200);
    w.project.start_postgrest().await;
    assert_eq!(w.get(worker.port, "/readyz").await.status(), 200);
}

#[tokio::test]
async fn metrics_show_sends_by_outcome_latency_and_each_broadcasts_progress() {
    let w = spawn_world(4).await;
    w.contacts("3473000", 12, &["vip"], "active", false).await;
    let worker = w.start_worker();
    let id = w.schedule_tags("promo_vip", &["vip"]).await;
    w.sim
        .wait_for_received(2, Duration::from_secs(30))
        .await
        .unwrap();
    // Two readings a second apart give the achieved rate.
    w.get(worker.port, "/metrics").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let body = w.get(worker.port, "/metrics").await.text().await.unwrap();
    for expected in [
        format!("broadcast_recipients{{broadcast=\"{id}\",status=\"sent\"}}"),
        format!("broadcast_recipients{{broadcast=\"{id}\",status=\"pending\"}}"),
        format!("broadcast_queued{{broadcast=\"{id}\"}}"),
        format!("broadcast_send_rate{{broadcast=\"{id}\"}}"),
        "broadcast_sends_total{outcome=\"sent\",class=\"accepted\"}".to_owned(),
        "broadcast_send_latency_seconds_bucket".to_owned(),
        "broadcast_db_call_seconds_bucket{function=\"claim_broadcast_recipients\"".to_owned(),
        "broadcast_claimed_total".to_owned(),
    ] {
        assert!(body.contains(&expected), "{expected} missing from\n{body}");
    }
    let rate: f64 = body
        .lines()
        .find(|l| l.starts_with(&format!("broadcast_send_rate{{broadcast=\"{id}\"}}")))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(rate.is_finite() && rate >= 0.0, "rate {rate}");
}

#[test]
fn a_missing_or_invalid_variable_stops_the_worker_with_a_message_naming_it() {
    let run = |vars: &[(&str, &str)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_broadcast-worker"))
            .env_clear()
            .envs(vars.iter().copied())
            .output()
            .expect("the worker binary runs");
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let complete = [
        ("SUPABASE_URL", "http://127.0.0.1:9"),
        ("SUPABASE_SERVICE_ROLE_KEY", "key"),
        ("WHATSAPP_ACCESS_TOKEN", "token"),
        ("WHATSAPP_PHONE_NUMBER_ID", "123"),
    ];
    for missing in [
        "SUPABASE_SERVICE_ROLE_KEY",
        "WHATSAPP_ACCESS_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
    ] {
        let vars: Vec<_> = complete
            .iter()
            .copied()
            .filter(|(k, _)| *k != missing)
            .collect();
        let (code, stderr) = run(&vars);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("missing required environment variable {missing}")),
            "{stderr}"
        );
    }
    let mut vars = complete.to_vec();
    vars.push(("WHATSAPP_MESSAGING_LIMIT", "500"));
    let (code, stderr) = run(&vars);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("WHATSAPP_MESSAGING_LIMIT"), "{stderr}");
}
