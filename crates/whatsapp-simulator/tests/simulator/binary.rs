use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use whatsapp_simulator::SimulatorClient;

const BIN: &str = env!("CARGO_BIN_EXE_whatsapp-simulator");

#[test]
fn the_binary_names_a_missing_variable() {
    let out = Command::new(BIN)
        .env_clear()
        .env("WHATSAPP_PHONE_NUMBER_ID", "1")
        .env("WHATSAPP_ACCESS_TOKEN", "t")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("WHATSAPP_APP_SECRET"), "{stderr}");
}

#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .env_clear()
        .env("SIM_ADDR", "127.0.0.1:0")
        .env("WHATSAPP_PHONE_NUMBER_ID", "106540352242922")
        .env("WHATSAPP_ACCESS_TOKEN", "t")
        .env("WHATSAPP_APP_SECRET", "s")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The JSON log line that announces the Graph URL.
    let stdout = child.stdout.take().unwrap();
    let graph_url = tokio::task::spawn_blocking(move || {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(Ok(line)) = lines.next() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if let Some(url) = v.get("graph_url").and_then(|u| u.as_str()) {
                return Some(url.to_string());
            }
        }
        None
    })
    .await
    .unwrap()
    .expect("a log line with graph_url");

    let client = SimulatorClient::new(&graph_url);
    client
        .wait_until_ready(Duration::from_secs(10))
        .await
        .unwrap();
    let config = client.config().await.unwrap();
    assert_eq!(config.max_mps, Some(80));

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}");
}
