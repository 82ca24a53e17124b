//! `cargo xtask bench outbound`: agents' replies from the database to WhatsApp.
//!
//! One run, one fresh database, the gateway's sender against the simulator, both as
//! release-mode processes (the simulator never refuses for throughput here: the limit
//! measured is ours):
//! (1) latency from the agent's insert to the simulator's receipt at 20 replies/s;
//! (2) the sustained rate against WHATSAPP_MAX_MPS 80 and 1,000 with a full queue, and
//! the densest one-second window the simulator saw.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use testkit::layout::{api_port, database_url, Layout, SUPERUSER};
use testkit::{postgres, postgrest, process, template, Keys};

use crate::dev_stack;
use time::OffsetDateTime;
use whatsapp_simulator::{ConfigPatch, ReceivedMessage, SimulatorClient};

use super::processes::{build_release, free_port, Process, SimulatorProcess};
use super::report::{percentile_ms, write_section};

const DB: &str = "cc_bench_outbound";
const PHONE_NUMBER_ID: &str = "106540352242922";
const TOKEN: &str = "bench-token";
const CONTACTS: u32 = 25_000;

pub fn run() -> Result<()> {
    let layout = Layout::discover();
    dev_stack::start_for_tests(&layout)?;
    eprintln!("building webhook-gateway and whatsapp-simulator in release mode...");
    let bins = build_release(&layout, &["webhook-gateway", "whatsapp-simulator"])?;
    let tpl = template::ensure(&layout)?;
    template::drop_test_databases(DB)?;
    template::clone_into(&tpl, DB)?;
    // Function timings for the database time per reply (sessions opened from now on).
    postgres::sql_as_superuser(
        "template1",
        &format!("alter database {DB} set track_functions = 'pl'"),
    )?;
    // Customers who all wrote a minute ago, one open conversation each.
    process::run(
        postgres::psql(DB, SUPERUSER).args(["-c", &format!(
            "set session_replication_role = replica;
             insert into auth.users (id, email) values ('00000000-0000-0000-0000-00000000a001', 'agent@bench.test');
             insert into public.users (id, email, full_name, role) values ('00000000-0000-0000-0000-00000000a001', 'agent@bench.test', 'Agent', 'agent');
             insert into public.contacts (id, phone, wa_id)
             select ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid, (34800000000 + g)::text, (34800000000 + g)::text from generate_series(1, {CONTACTS}) g;
             insert into public.conversations (id, contact_id, assigned_agent_id)
             select ('00000000-0000-4000-a000-' || lpad(g::text, 12, '0'))::uuid, ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid,
                    '00000000-0000-0000-0000-00000000a001' from generate_series(1, {CONTACTS}) g;
             insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status, created_at)
             select ('00000000-0000-4000-a000-' || lpad(g::text, 12, '0'))::uuid, 'contact', ('00000000-0000-4000-9000-' || lpad(g::text, 12, '0'))::uuid,
                    'hola', 'text', 'delivered', now() - interval '1 minute' from generate_series(1, {CONTACTS}) g;
             set session_replication_role = origin; analyze;"
        )]),
        "bench data",
    )?;
    if std::env::var_os("BENCH_AUTO_EXPLAIN").is_some() {
        postgres::sql_as_superuser(
            "template1",
            &format!("alter database {DB} set session_preload_libraries = 'auto_explain'; alter database {DB} set auto_explain.log_min_duration = 100; alter database {DB} set auto_explain.log_nested_statements = on"),
        )?;
    }
    let pgrst_port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut postgrest = postgrest::spawn(&layout, DB, pgrst_port, 20, DB)?;
    postgrest::wait_until_serving(pgrst_port, Duration::from_secs(20))?;

    let runtime = tokio::runtime::Runtime::new()?;
    let result = runtime.block_on(measure(&layout, &bins, pgrst_port));
    let _ = postgrest.kill();
    let _ = postgrest.wait();
    template::drop_test_databases(DB)?;
    result
}

async fn start_gateway(
    layout: &Layout,
    bins: &Path,
    pgrst_port: u16,
    graph_url: &str,
    max_mps: u32,
) -> Result<Process> {
    let (port, admin_port) = (free_port()?, free_port()?);
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
            ("WHATSAPP_APP_SECRET", "bench".into()),
            ("WHATSAPP_VERIFY_TOKEN", "bench".into()),
            ("WHATSAPP_ACCESS_TOKEN", TOKEN.into()),
            ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID.into()),
            ("WHATSAPP_GRAPH_URL", graph_url.into()),
            ("WHATSAPP_MAX_MPS", max_mps.to_string()),
            ("GATEWAY_ADDR", format!("127.0.0.1:{port}")),
            ("ADMIN_ADDR", format!("127.0.0.1:{admin_port}")),
            (
                "RUST_LOG",
                std::env::var("BENCH_RUST_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ],
        &layout
            .logs()
            .join(format!("bench-outbound-gateway-{max_mps}.log")),
    )?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while process::http_status(&format!("http://127.0.0.1:{admin_port}/readyz")) != Some(200) {
        if Instant::now() > deadline {
            bail!("the gateway did not become ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(gateway)
}

/// Waits until the simulator accepted `n` messages; returns them all.
async fn wait_for_received(
    sim: &SimulatorClient,
    n: usize,
    timeout: Duration,
) -> Result<Vec<ReceivedMessage>> {
    let deadline = Instant::now() + timeout;
    while sim.stats().await?.accepted < n as u64 {
        if Instant::now() > deadline {
            bail!("the simulator did not receive {n} messages within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(sim.received().await?)
}

async fn measure(layout: &Layout, bins: &Path, pgrst_port: u16) -> Result<()> {
    let (db, connection) =
        tokio_postgres::connect(&database_url("postgres", DB), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let SimulatorProcess {
        process: mut simulator,
        client: sim,
    } = SimulatorProcess::start(
        &bins.join("whatsapp-simulator"),
        (PHONE_NUMBER_ID, TOKEN, "bench"),
        0,
        &layout.logs().join("bench-outbound-simulator.log"),
    )
    .await?;
    let graph_url = sim.base_url().to_owned();
    // The bench's customers wrote in the database only.
    sim.patch_config(&ConfigPatch {
        enforce_window: Some(false),
        ..ConfigPatch::default()
    })
    .await?;
    let mut next_contact = 1u32;
    let insert = "insert into public.messages (conversation_id, sender_type, sender_id, content, message_type, status)
                  select ('00000000-0000-4000-a000-' || lpad(g::text, 12, '0'))::uuid, 'agent', '00000000-0000-0000-0000-00000000a001',
                         'Gracias por escribirnos', 'text', 'pending'
                    from generate_series($1::int, $2::int) g";

    // (1) Latency at 20 replies/s, with the limit at 80.
    let gateway = start_gateway(layout, bins, pgrst_port, &graph_url, 80).await?;
    let mut inserted_at = Vec::new();
    let started = Instant::now();
    for i in 0..400u32 {
        tokio::time::sleep_until((started + Duration::from_millis(50) * i).into()).await;
        db.execute(insert, &[&(next_contact as i32), &(next_contact as i32)])
            .await?;
        inserted_at.push(OffsetDateTime::now_utc());
        next_contact += 1;
    }
    let received = wait_for_received(&sim, 400, Duration::from_secs(30)).await?;
    let mut latencies: Vec<Duration> = received
        .iter()
        .zip(inserted_at.iter())
        .map(|(r, at)| Duration::try_from(r.received_at - *at).unwrap_or_default())
        .collect();
    latencies.sort();
    let (l50, l99) = (
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 99.0),
    );
    eprintln!("latency at 20 replies/s: p50 {l50:.1} ms, p99 {l99:.1} ms");
    drop(gateway);
    sim.reset_received().await?;

    // (2) Sustained rate with a full queue.
    let mut rows = Vec::new();
    for (limit, seconds) in [(80u32, 30u32), (1000, 20)] {
        let n = (limit * seconds) as i32;
        db.execute(
            insert,
            &[&(next_contact as i32), &(next_contact as i32 + n - 1)],
        )
        .await?;
        next_contact += n as u32;
        // The full queue comes from one bulk insert; what autovacuum then does about it
        // (the trigram index's pending list above all) would otherwise run during the
        // first seconds of sending. Agents' replies never arrive 20,000 at once.
        postgres::sql_as_superuser(DB, "vacuum analyze public.messages, svc.outbound_jobs")?;
        postgres::sql_as_superuser(DB, "select pg_stat_reset()")?;
        let gateway = start_gateway(layout, bins, pgrst_port, &graph_url, limit).await?;
        let received = wait_for_received(
            &sim,
            n as usize,
            Duration::from_secs(u64::from(seconds) * 3 + 30),
        )
        .await?;
        drop(gateway);
        let first = received
            .first()
            .map(|r| r.received_at)
            .context("nothing received")?;
        let last = received
            .last()
            .map(|r| r.received_at)
            .context("nothing received")?;
        // Steady state: drop the first and last second.
        let inner: Vec<_> = received
            .iter()
            .filter(|r| {
                r.received_at - first >= time::Duration::SECOND
                    && last - r.received_at >= time::Duration::SECOND
            })
            .collect();
        let span = (last - first - time::Duration::seconds(2)).as_seconds_f64();
        let rate = inner.len() as f64 / span;
        let stats = sim.stats().await?;
        let max_window = stats.max_in_any_1s_window;
        let per_second: Vec<u32> = stats.per_second.iter().map(|s| s.accepted).collect();
        eprintln!("accepted per second at {limit}/s: {per_second:?}");
        let duplicates = received.len()
            - received
                .iter()
                .map(|r| r.callback_data.clone())
                .collect::<std::collections::HashSet<_>>()
                .len();
        let db_ms = database_ms_per_reply(&db, received.len()).await?;
        eprintln!("limit {limit}/s: sustained {rate:.1}/s ({:.1}%), max {max_window} in any second, {duplicates} duplicates, {db_ms:.2} ms of database time per reply", 100.0 * rate / f64::from(limit));
        rows.push(format!(
            "| {limit} | {n} | {rate:.1} | {:.1}% | {max_window} | {duplicates} | {db_ms:.2} ms |",
            100.0 * rate / f64::from(limit)
        ));
        sim.reset_received().await?;
    }
    simulator.terminate()?;

    let body = format!(
        "### Latency from the agent's insert to WhatsApp (the simulator), 20 replies/s, limit 80/s\n\n\
         | replies | p50 ms | p99 ms |\n|---|---|---|\n| 400 | {l50:.1} | {l99:.1} |\n\n\
         Target: p50 under 300 ms.\n\n\
         ### Sustained rate with a full queue (one reply per customer)\n\n\
         | WHATSAPP_MAX_MPS | replies | sustained/s (steady state) | of the limit | max in any 1 s window | duplicates | database time per reply (claim + record, server side) |\n|---|---|---|---|---|---|---|\n{}\n\n\
         Target: within 2% of the limit and never above it in any one-second window. The rate is \
         the number's send schedule in the database (`svc.send_schedules`: slots 1/(98.5% of the limit) apart, reserved up to 250 ms ahead, each sent at its slot within 5 ms or not at all); \
         the simulator does not throttle in this benchmark, and its status webhooks are off so that \
         only sending is measured. The queue is one bulk insert, vacuumed and analyzed before the \
         gateway starts (autovacuum's work on 20,000 new messages would otherwise share the machine \
         with the first seconds of sending).\n",
        rows.join("\n")
    );
    write_section(
        "Outbound: agents' replies to WhatsApp",
        "cargo xtask bench outbound",
        &body,
    )
}

/// Server-side time of the sender's calls (`pg_stat_user_functions`) per reply sent.
async fn database_ms_per_reply(db: &tokio_postgres::Client, replies: usize) -> Result<f64> {
    // Statistics reach the shared counters within a second of the sessions going idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let total: f64 = db
        .query_one(
            "select coalesce(sum(total_time), 0)::float8 from pg_stat_user_functions
              where schemaname = 'svc' and funcname in ('claim_outbound_messages', 'record_outbound_outcomes')",
            &[],
        )
        .await?
        .get(0);
    Ok(total / replies.max(1) as f64)
}
