//! `cargo xtask bench media`: inbound media with the gateway and the simulator as release
//! processes on loopback, a fresh database, files in a fresh directory:
//! (1) time from the webhook's acknowledgement to the media being servable (stored and
//!     recorded on the message), p50/p95, for a 200 KB image and a 5 MB video;
//! (2) bytes per second served through a signed link vs. reading the same file directly;
//! (3) the gateway's resident memory growth while serving 20 concurrent 16 MB range
//!     requests (it streams; it must never hold whole files).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use testkit::layout::{api_port, database_url, Layout};
use testkit::{postgrest, process, template, Keys};
use whatsapp_simulator::{InboundMedia, InboundSpec, SampleKind, SimulatorClient};

use super::processes::{build_release, free_port, Process};
use super::report::{percentile_ms, write_section};
use crate::dev_stack;

const DB: &str = "cc_bench_media";
const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "bench-token";
const APP_SECRET: &str = "bench-app-secret";
const LINK_SECRET: &str = "bench-media-link-secret-0123456789abcdef";
const MB: usize = 1024 * 1024;

pub fn run() -> Result<()> {
    let layout = Layout::discover();
    dev_stack::start_for_tests(&layout)?;
    eprintln!("building webhook-gateway and whatsapp-simulator in release mode...");
    let bins = build_release(&layout, &["webhook-gateway", "whatsapp-simulator"])?;
    let tpl = template::ensure(&layout)?;
    template::drop_test_databases(DB)?;
    template::clone_into(&tpl, DB)?;
    let pgrst_port = free_port()?;
    let mut postgrest = postgrest::spawn(&layout, DB, pgrst_port, 10, DB)?;
    postgrest::wait_until_serving(pgrst_port, Duration::from_secs(20))?;
    let dir = layout.state().join("bench-media");
    let _ = std::fs::remove_dir_all(&dir);
    let result =
        tokio::runtime::Runtime::new()?.block_on(measure(&layout, &bins, pgrst_port, &dir));
    let _ = postgrest.kill();
    let _ = postgrest.wait();
    let _ = std::fs::remove_dir_all(&dir);
    template::drop_test_databases(DB)?;
    result
}

struct Setup {
    sim: SimulatorClient,
    gateway: Process,
    gateway_url: String,
    db: tokio_postgres::Client,
    dir: PathBuf,
}

async fn start(
    layout: &Layout,
    bins: &Path,
    pgrst_port: u16,
    dir: &Path,
) -> Result<(Process, Setup)> {
    let (sim_port, port, admin_port) = (free_port()?, free_port()?, free_port()?);
    let gateway_url = format!("http://127.0.0.1:{port}");
    let simulator = Process::spawn(
        "whatsapp-simulator",
        &bins.join("whatsapp-simulator"),
        &[
            ("SIM_ADDR", format!("127.0.0.1:{sim_port}")),
            ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID.into()),
            ("WHATSAPP_ACCESS_TOKEN", TOKEN.into()),
            ("WHATSAPP_APP_SECRET", APP_SECRET.into()),
            (
                "SIM_WEBHOOK_URL",
                format!("{gateway_url}/webhooks/whatsapp"),
            ),
            ("SIM_STATUS_DELAYS_MS", "off".into()),
            ("SIM_WORKERS", "2".into()),
        ],
        &layout.logs().join("bench-media-simulator.log"),
    )?;
    let sim = SimulatorClient::new(format!("http://127.0.0.1:{sim_port}"));
    sim.wait_until_ready(Duration::from_secs(20)).await?;
    let gateway = Process::spawn(
        "webhook-gateway",
        &bins.join("webhook-gateway"),
        &[
            (
                "SUPABASE_URL",
                format!("http://127.0.0.1:{}/_test/{pgrst_port}", api_port()),
            ),
            (
                "SUPABASE_SERVICE_ROLE_KEY",
                Keys::default().service_role_key(),
            ),
            ("WHATSAPP_APP_SECRET", APP_SECRET.into()),
            ("WHATSAPP_VERIFY_TOKEN", "bench".into()),
            ("WHATSAPP_ACCESS_TOKEN", TOKEN.into()),
            ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID.into()),
            ("WHATSAPP_GRAPH_URL", sim.base_url().to_owned()),
            ("GATEWAY_ADDR", format!("127.0.0.1:{port}")),
            ("ADMIN_ADDR", format!("127.0.0.1:{admin_port}")),
            ("OUTBOUND_SENDER", "off".into()),
            ("INVITATION_SENDER", "off".into()),
            ("MEDIA_STORE", dir.display().to_string()),
            ("MEDIA_LINK_SECRET", LINK_SECRET.into()),
        ],
        &layout.logs().join("bench-media-gateway.log"),
    )?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while process::http_status(&format!("http://127.0.0.1:{admin_port}/readyz")) != Some(200) {
        if Instant::now() > deadline {
            bail!("the gateway did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (db, connection) =
        tokio_postgres::connect(&database_url("postgres", DB), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok((
        simulator,
        Setup {
            sim,
            gateway,
            gateway_url,
            db,
            dir: dir.to_owned(),
        },
    ))
}

impl Setup {
    /// Injects one attachment; answers (time from the acknowledgement to servable, id).
    async fn servable_after_ack(
        &self,
        kind: SampleKind,
        size: usize,
        n: u32,
    ) -> Result<(Duration, String)> {
        let mut media = InboundMedia::new(kind);
        media.size = Some(size);
        let from = format!("3469{:07}", n);
        let injected = self.sim.inject(&InboundSpec::media(from, media)).await?;
        let acked = Instant::now();
        if injected.status_code_from_gateway != Some(200) {
            bail!(
                "the gateway answered {:?}",
                injected.status_code_from_gateway
            );
        }
        let deadline = acked + Duration::from_secs(30);
        loop {
            let row = self
                .db
                .query_opt(
                    "select id::text, metadata -> 'media' ->> 'status' from public.messages where wa_message_id = $1",
                    &[&injected.wamid],
                )
                .await?;
            if let Some(row) = row {
                let status: Option<String> = row.get(1);
                match status.as_deref() {
                    Some("stored") => return Ok((acked.elapsed(), row.get(0))),
                    Some(other) => bail!("the media ended {other}"),
                    None => {}
                }
            }
            if Instant::now() > deadline {
                bail!("the media was not stored within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    fn link(&self, message_id: &str) -> Result<String> {
        let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
        let mut mac = Hmac::<Sha256>::new_from_slice(LINK_SECRET.as_bytes())?;
        mac.update(format!("{message_id}.{exp}").as_bytes());
        let sig = hex::encode(mac.finalize().into_bytes());
        Ok(format!(
            "{}/media/{message_id}?exp={exp}&sig={sig}",
            self.gateway_url
        ))
    }
}

async fn measure(layout: &Layout, bins: &Path, pgrst_port: u16, dir: &Path) -> Result<()> {
    let (_simulator, s) = start(layout, bins, pgrst_port, dir).await?;
    let mut body = String::new();

    // (1) Webhook acknowledgement to servable.
    body.push_str("| media | runs | p50 | p95 | max |\n|---|---|---|---|---|\n");
    let mut n = 0;
    let mut image_p95 = 0.0;
    for (label, kind, size, runs) in [
        ("200 KB image", SampleKind::Image, 200 * 1024, 40),
        ("5 MB video", SampleKind::Video, 5 * MB, 15),
    ] {
        let mut times = Vec::new();
        for _ in 0..runs {
            n += 1;
            times.push(s.servable_after_ack(kind, size, n).await?.0);
        }
        times.sort();
        let (p50, p95, max) = (
            percentile_ms(&times, 50.0),
            percentile_ms(&times, 95.0),
            percentile_ms(&times, 100.0),
        );
        if kind == SampleKind::Image {
            image_p95 = p95;
        }
        eprintln!("{label}: p50 {p50:.1} ms, p95 {p95:.1} ms");
        body.push_str(&format!(
            "| {label} | {runs} | {p50:.1} ms | {p95:.1} ms | {max:.1} ms |\n"
        ));
    }
    body.push_str(&format!(
        "\nTime from the gateway's acknowledgement of the webhook (the simulator's injection returns) to the message \
         recording the stored file (polled every 2 ms), one attachment at a time; the fetcher looks for work every \
         `MEDIA_POLL_MS` (200) when idle. Target: image p95 under 1 s ({}).\n",
        if image_p95 < 1000.0 { "met" } else { "NOT met" }
    ));

    // (2) Serving throughput vs. direct reads of the same file.
    let (_, video) = s
        .servable_after_ack(SampleKind::Video, 16 * MB, 9_999_998)
        .await?;
    let path = s.dir.join("messages").join(&video);
    let size = std::fs::metadata(&path).context("the stored video")?.len();
    let http = reqwest::Client::new();
    let url = s.link(&video)?;
    let rounds = 10;
    let mut served_best = f64::MAX;
    let mut direct_best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..rounds {
            let mut answer = http.get(&url).send().await?.error_for_status()?;
            let mut got = 0u64;
            while let Some(chunk) = answer.chunk().await? {
                got += chunk.len() as u64;
            }
            if got != size {
                bail!("served {got} bytes of {size}");
            }
        }
        served_best = served_best.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for _ in 0..rounds {
            use tokio::io::AsyncReadExt;
            let mut file = tokio::fs::File::open(&path).await?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0u64;
            loop {
                let k = file.read(&mut buf).await?;
                if k == 0 {
                    break;
                }
                got += k as u64;
            }
            if got != size {
                bail!("read {got} bytes of {size}");
            }
        }
        direct_best = direct_best.min(t.elapsed().as_secs_f64());
    }
    let mbps = |secs: f64| (size as f64 * rounds as f64) / secs / MB as f64;
    let ratio = direct_best / served_best;
    eprintln!(
        "served {:.0} MB/s, direct {:.0} MB/s, ratio {ratio:.2}",
        mbps(served_best),
        mbps(direct_best)
    );
    body.push_str(&format!(
        "\n| serving a 16 MB video ({rounds} reads, best of 3) | MB/s |\n|---|---|\n\
         | through a signed link (HTTP on loopback, one client) | {:.0} |\n\
         | reading the stored file directly (tokio, 64 KB reads) | {:.0} |\n\
         | ratio | {ratio:.2} (target ≥ 0.8: {}) |\n",
        mbps(served_best),
        mbps(direct_best),
        if ratio >= 0.8 { "met" } else { "NOT met" }
    ));

    // (3) Memory while serving 20 concurrent 16 MB range requests.
    let baseline = s.gateway.rss_bytes();
    let peak = Arc::new(AtomicU64::new(baseline));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (Arc::clone(&peak), Arc::clone(&done));
        let status = format!("/proc/{}/status", gateway_pid(&s.gateway));
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                let rss = std::fs::read_to_string(&status)
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
                    .map_or(0, |kb| kb * 1024);
                peak.fetch_max(rss, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let started = Instant::now();
    let mut requests = Vec::new();
    for _ in 0..20 {
        let (http, url) = (http.clone(), url.clone());
        requests.push(tokio::spawn(async move {
            let mut answer = http
                .get(&url)
                .header("Range", format!("bytes=0-{}", size - 1))
                .send()
                .await?
                .error_for_status()?;
            let mut got = 0u64;
            while let Some(chunk) = answer.chunk().await? {
                got += chunk.len() as u64;
                // A slow client: the gateway must not buffer ahead of it.
                if got % (4 * MB as u64) < chunk.len() as u64 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            anyhow::Ok((answer.status().as_u16(), got))
        }));
    }
    for r in requests {
        let (status, got) = r.await??;
        if status != 206 || got != size {
            bail!("a range request answered {status} with {got} bytes");
        }
    }
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    let growth = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    eprintln!(
        "RSS growth serving 20 x 16 MB ranges: {:.1} MB",
        growth as f64 / MB as f64
    );
    body.push_str(&format!(
        "\n20 concurrent range requests (`bytes=0-{}`) for the 16 MB video, read by clients that pause 20 ms every 4 MB: \
         all 206 with every byte in {:.1} s; gateway resident memory {:.1} MB before, peak growth {:.1} MB \
         (sampled every 5 ms; target under 64 MB: {}).\n",
        size - 1,
        elapsed.as_secs_f64(),
        baseline as f64 / MB as f64,
        growth as f64 / MB as f64,
        if growth < 64 * MB as u64 { "met" } else { "NOT met" }
    ));
    write_section(
        "Media (`cargo xtask bench media`)",
        "cargo xtask bench media",
        &body,
    )
}

fn gateway_pid(p: &Process) -> String {
    // The /proc path of the process whose RSS `rss_bytes` reads.
    p.proc_id().to_string()
}
