//! `cargo xtask bench ingest`: webhooks per second the gateway stores, and how fast.
//!
//! One run, one fresh database: (1) open-loop load at fixed rates (latency measured from
//! each request's scheduled time, so a slow server cannot hide its queue), (2) the maximum
//! sustained rate with wrk (64 connections, pre-signed unique webhooks), (3) the ceiling:
//! pgbench driving the same svc function directly, one webhook per transaction. The mix
//! is 70% inbound text messages, 30% statuses for known messages.

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use testkit::layout::{api_port, pg_port, Layout, SUPERUSER};
use testkit::{postgres, postgrest, process, template, Keys};

use crate::dev_stack;

use super::report::{percentile_ms, write_section};

const DB: &str = "cc_bench_ingest";
const APP_SECRET: &str = "bench-app-secret";
const PHONE_NUMBER_ID: &str = "106540352242922";
const FIXED_RATES: [u32; 4] = [100, 250, 500, 1000];
const PHASE: Duration = Duration::from_secs(10);
const MAX_RATE_SECONDS: u32 = 15;

struct Killer(Vec<Child>);
impl Drop for Killer {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn run() -> Result<()> {
    let layout = Layout::discover();
    dev_stack::start_for_tests(&layout)?;
    crate::install::debian_packages(&[("wrk", "/usr/bin/wrk")])?;
    eprintln!("building the gateway (release)...");
    process::run(
        Command::new("cargo").args(["build", "--release", "--quiet", "-p", "webhook-gateway"]),
        "cargo build --release",
    )?;

    let tpl = template::ensure(&layout)?;
    template::drop_test_databases(DB)?;
    template::clone_into(&tpl, DB)?;
    let here = layout.root().join("xtask/src/bench");
    postgres::sql_file(DB, SUPERUSER, &here.join("ingest_seed.sql"))?;

    let pgrst_port = free_port()?;
    let mut children = Killer(vec![postgrest::spawn(&layout, DB, pgrst_port, 20, DB)?]);
    postgrest::wait_until_serving(pgrst_port, Duration::from_secs(20))?;
    let (gateway_port, admin_port) = (free_port()?, free_port()?);
    let gateway = Command::new(layout.root().join("target/release/webhook-gateway"))
        .env(
            "SUPABASE_URL",
            format!("http://127.0.0.1:{}/_test/{pgrst_port}", api_port()),
        )
        .env(
            "SUPABASE_SERVICE_ROLE_KEY",
            Keys::default().service_role_key(),
        )
        .env("WHATSAPP_APP_SECRET", APP_SECRET)
        .env("WHATSAPP_VERIFY_TOKEN", "bench")
        .env("WHATSAPP_ACCESS_TOKEN", "bench")
        .env("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID)
        .env("GATEWAY_ADDR", format!("127.0.0.1:{gateway_port}"))
        .env("ADMIN_ADDR", format!("127.0.0.1:{admin_port}"))
        .env("OUTBOUND_SENDER", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("failed to start the gateway")?;
    children.0.push(gateway);
    let base = format!("http://127.0.0.1:{gateway_port}");
    let admin = format!("http://127.0.0.1:{admin_port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while process::http_status(&format!("{admin}/readyz")) != Some(200) {
        if Instant::now() > deadline {
            bail!("the gateway did not become ready");
        }
        std::thread::sleep(Duration::from_millis(100));
    }

    let runtime = tokio::runtime::Runtime::new()?;
    let mut body = String::from("### Fixed rates (open loop, latency from each request's scheduled time)\n\n| offered webhooks/s | achieved/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|\n");
    let mut next_id = 0u64;
    let mut p99_at_500 = f64::NAN;
    for rate in FIXED_RATES {
        let n = (rate as u64) * PHASE.as_secs();
        let requests: Vec<(String, Vec<u8>)> = (next_id..next_id + n).map(webhook).collect();
        next_id += n;
        let r = runtime.block_on(fixed_rate(&base, rate, requests))?;
        eprintln!(
            "{rate}/s offered: {:.0}/s achieved, p50 {:.1} ms, p99 {:.1} ms, {} errors",
            r.achieved, r.p50, r.p99, r.errors
        );
        if rate == 500 {
            p99_at_500 = r.p99;
        }
        body.push_str(&format!(
            "| {rate} | {:.0} | {:.1} | {:.1} | {} |\n",
            r.achieved, r.p50, r.p99, r.errors
        ));
    }

    // Maximum rate: wrk, pre-signed unique webhooks.
    let file = layout.state().join("bench-ingest-requests.tsv");
    {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
        for i in next_id..next_id + 150_000 {
            let (sig, body) = webhook(i);
            out.write_all(sig.as_bytes())?;
            out.write_all(b"\t")?;
            out.write_all(&body)?;
            out.write_all(b"\n")?;
        }
    }
    let wrk = process::output(
        Command::new("wrk")
            .args([
                "-t2",
                "-c64",
                &format!("-d{MAX_RATE_SECONDS}s"),
                "--timeout",
                "10s",
                "-s",
            ])
            .arg(here.join("ingest_wrk.lua"))
            .arg(format!("{base}/webhooks/whatsapp"))
            .arg("--")
            .arg(&file)
            .arg("2"),
        "wrk",
    )?;
    let _ = std::fs::remove_file(&file);
    let stats: serde_json::Value = wrk
        .lines()
        .find_map(|l| l.strip_prefix("JSON "))
        .and_then(|j| serde_json::from_str(j).ok())
        .context("wrk printed no summary")?;
    let max_rate =
        stats["requests"].as_f64().unwrap_or(0.0) / stats["seconds"].as_f64().unwrap_or(1.0);
    eprintln!(
        "max rate (wrk, 64 connections): {max_rate:.0}/s, p50 {} ms, p99 {} ms",
        stats["p50_ms"], stats["p99_ms"]
    );
    let batch_sizes = runtime.block_on(async {
        reqwest::get(format!("{admin}/metrics"))
            .await
            .ok()?
            .text()
            .await
            .ok()
    });
    let mean_batch = batch_sizes
        .as_deref()
        .and_then(mean_of("gateway_ingest_batch_size"));

    // The ceiling: pgbench, the same function, one webhook per transaction.
    let pgbench = process::output(
        Command::new("/usr/lib/postgresql/15/bin/pgbench")
            .args([
                "-n",
                "-M",
                "prepared",
                "-c",
                "16",
                "-j",
                "2",
                "-T",
                &MAX_RATE_SECONDS.to_string(),
            ])
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &pg_port().to_string(),
                "-U",
                "postgres",
            ])
            .arg("-f")
            .arg(format!("{}@7", here.join("ingest_pgbench.sql").display()))
            .arg("-f")
            .arg(format!(
                "{}@3",
                here.join("ingest_pgbench_status.sql").display()
            ))
            .arg(DB),
        "pgbench",
    )?;
    let ceiling: f64 = pgbench
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .context("pgbench printed no tps")?;
    eprintln!("ceiling (pgbench, 16 clients, prepared): {ceiling:.0} webhooks/s");
    drop(children);
    template::drop_test_databases(DB)?;

    body.push_str(&format!(
        "\n### Maximum sustained rate vs. the database's ceiling\n\n| path | webhooks/s | p50 ms | p99 ms | errors |\n|---|---|---|---|---|\n\
         | gateway (release) over PostgREST, wrk 64 connections, {MAX_RATE_SECONDS} s | {max_rate:.0} | {} | {} | {} |\n\
         | pgbench, svc.ingest_webhook directly, 16 clients, prepared, {MAX_RATE_SECONDS} s | {ceiling:.0} | | | |\n\n\
         - ratio gateway / pgbench ceiling: **{:.2}** (target at least 0.8)\n\
         - p99 at 500 webhooks/s: **{p99_at_500:.1} ms** (target under 100 ms)\n\
         - mean webhooks per database call (gateway batching): {}\n\
         - mix: 70% inbound text messages (unique wamids, 5,000 senders), 30% statuses for 20,000 known messages; every webhook is signed and acknowledged only after its transaction committed.\n",
        stats["p50_ms"], stats["p99_ms"], stats["errors"].as_u64().unwrap_or(0) + stats["non2xx"].as_u64().unwrap_or(0),
        max_rate / ceiling,
        mean_batch.map_or("n/a".into(), |m| format!("{m:.1}")),
    ));
    write_section(
        "Ingestion: webhooks stored per second",
        "cargo xtask bench ingest",
        &body,
    )
}

fn mean_of(metric: &'static str) -> impl Fn(&str) -> Option<f64> {
    move |text: &str| {
        let value = |suffix: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{metric}_{suffix} ")))
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        Some(value("sum")? / value("count")?)
    }
}

/// Webhook number `i`: 70% a new inbound text, 30% a status of a known message.
fn webhook(i: u64) -> (String, Vec<u8>) {
    let ts = 1_764_000_000 + (i % 100_000);
    let value = if i % 10 < 7 {
        let from = 34_700_000_000u64 + (i % 5000) + 1;
        serde_json::json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
            "contacts": [{ "profile": { "name": format!("Cliente {from}") }, "wa_id": from.to_string() }],
            "messages": [{ "from": from.to_string(), "id": format!("wamid.gen.{}.{i}", std::process::id()), "timestamp": ts.to_string(),
                           "type": "text", "text": { "body": format!("Hola, pedido {i}") } }]
        })
    } else {
        serde_json::json!({
            "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID },
            "statuses": [{ "id": format!("wamid.bench.out.{}", i % 20_000 + 1), "status": if i.is_multiple_of(2) { "delivered" } else { "read" },
                           "timestamp": ts.to_string(), "recipient_id": "34700000001" }]
        })
    };
    let body = serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": "WABA", "changes": [{ "field": "messages", "value": value }] }]
    }))
    .unwrap_or_default();
    (whatsapp::sign(APP_SECRET.as_bytes(), &body), body)
}

struct PhaseResult {
    achieved: f64,
    p50: f64,
    p99: f64,
    errors: usize,
}

async fn fixed_rate(
    base: &str,
    rate: u32,
    requests: Vec<(String, Vec<u8>)>,
) -> Result<PhaseResult> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    let url = Arc::new(format!("{base}/webhooks/whatsapp"));
    let interval = Duration::from_secs_f64(1.0 / f64::from(rate));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(requests.len());
    for (i, (sig, body)) in requests.into_iter().enumerate() {
        let scheduled = started + interval * i as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let (client, url) = (client.clone(), Arc::clone(&url));
        tasks.push(tokio::spawn(async move {
            let ok = client
                .post(url.as_str())
                .header("content-type", "application/json")
                .header("X-Hub-Signature-256", sig)
                .body(body)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            (scheduled.elapsed(), ok)
        }));
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let mut errors = 0;
    for t in tasks {
        let (latency, ok) = t.await?;
        latencies.push(latency);
        if !ok {
            errors += 1;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Ok(PhaseResult {
        achieved: latencies.len() as f64 / elapsed,
        p50: percentile_ms(&latencies, 50.0),
        p99: percentile_ms(&latencies, 99.0),
        errors,
    })
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}
