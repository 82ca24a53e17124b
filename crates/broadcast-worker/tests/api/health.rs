//! /healthz on both listeners, /readyz and /metrics on the admin listener only, and
//! start-up configuration errors.

use std::net::SocketAddr;
use std::time::Duration;

use broadcast_worker::Application;

use crate::helpers::{settings_for, spawn_world};

#[tokio::test]
async fn healthz_answers_and_readyz_follows_the_database() {
    let mut w = spawn_world(80).await;
    let worker = w.start_worker();
    assert_eq!(w.get(worker.port, "/healthz").await.status(), 200);
    let ready = w.get(worker.admin_port, "/readyz").await;
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["sending"], "active");
    w.project.stop_postgrest();
    assert_eq!(w.get(worker.admin_port, "/readyz").await.status(), 503);
    assert_eq!(w.get(worker.port, "/healthz").await.status(), 200);
    w.project.start_postgrest().await;
    assert_eq!(w.get(worker.admin_port, "/readyz").await.status(), 200);
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
    w.get(worker.admin_port, "/metrics").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let body = w
        .get(worker.admin_port, "/metrics")
        .await
        .text()
        .await
        .unwrap();
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

#[tokio::test]
async fn readyz_and_metrics_are_not_found_on_the_public_port_and_do_not_need_the_database() {
    let mut w = spawn_world(80).await;
    let worker = w.start_worker();
    // With the database API down, anything that reached for it would answer 503 (readyz)
    // or stale numbers (metrics); a 404 means no handler ran.
    w.project.stop_postgrest();
    for path in ["/readyz", "/metrics"] {
        let response = w.get(worker.port, path).await;
        assert_eq!(response.status(), 404, "public {path}");
        let body = response.text().await.unwrap();
        assert!(
            !body.contains("broadcast_") && !body.contains("sending"),
            "public {path} reveals nothing: {body}"
        );
    }
    assert_eq!(w.get(worker.port, "/healthz").await.status(), 200);
    assert_eq!(
        w.get(worker.admin_port, "/readyz").await.status(),
        503,
        "the admin port does check the database"
    );
}

#[tokio::test]
async fn the_admin_port_answers_healthz_readyz_and_metrics() {
    let w = spawn_world(80).await;
    let worker = w.start_worker();
    assert_ne!(worker.admin_port, worker.port);
    assert_eq!(w.get(worker.admin_port, "/healthz").await.status(), 200);
    let ready: serde_json::Value = w
        .get(worker.admin_port, "/readyz")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    let metrics = w.get(worker.admin_port, "/metrics").await;
    assert_eq!(metrics.status(), 200);
    assert!(metrics
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain")));
}

#[tokio::test]
async fn a_taken_admin_addr_fails_the_start_with_a_message_naming_it() {
    let w = spawn_world(80).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = taken.local_addr().unwrap();
    let mut settings = settings_for(&w.project, &w.sim, 80);
    settings.listen.admin_addr = addr;
    let err = Application::build(settings)
        .err()
        .expect("a taken admin address fails the start");
    assert!(
        err.to_string()
            .starts_with(&format!("failed to bind ADMIN_ADDR ({addr})")),
        "{err}"
    );
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

#[test]
fn an_invalid_admin_addr_stops_the_worker_with_a_message_naming_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_broadcast-worker"))
        .env_clear()
        .envs([
            ("SUPABASE_URL", "http://127.0.0.1:9"),
            ("SUPABASE_SERVICE_ROLE_KEY", "key"),
            ("WHATSAPP_ACCESS_TOKEN", "token"),
            ("WHATSAPP_PHONE_NUMBER_ID", "123"),
            ("ADMIN_ADDR", "localhost:8091"),
        ])
        .output()
        .expect("the worker binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("environment variable ADMIN_ADDR is invalid"),
        "{stderr}"
    );
}
