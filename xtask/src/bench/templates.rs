//! `cargo xtask bench templates`: the template sync of 500 templates, listed by the
//! simulator 100 per page, as the release-mode broadcast worker runs it (issue 16's
//! target: under 5 s).
//!
//! A fresh database cloned from the template, its own PostgREST behind the stack's
//! gateway, the simulator as a release process with 500 templates. Three syncs: the
//! first creates the 500 rows, the second finds them unchanged, the third after Meta
//! paused 100 of them. Each sync's time is the database's own (`finished_at - started_at`
//! of its `svc.template_syncs` row): from the lease to the last page written and the
//! removed ones marked.

use std::time::Duration;

use anyhow::{bail, Context, Result};
use testkit::layout::{api_port, database_url, Layout};
use testkit::{postgrest, template, Keys};
use tokio_postgres::NoTls;
use whatsapp_simulator::{TemplateChange, TemplateSpec};

use super::processes::{build_release, free_port, Process, SimulatorProcess};
use super::report::write_section;
use crate::dev_stack;

const DB: &str = "cc_bench_templates";
const TEMPLATES: usize = 500;
const PHONE_NUMBER_ID: &str = "106540352242922";
const WABA_ID: &str = "102290129340398";
const ACCESS_TOKEN: &str = "bench-access-token";
const APP_SECRET: &str = "bench-app-secret";

pub fn run() -> Result<()> {
    let layout = Layout::discover();
    dev_stack::start_for_tests(&layout)?;
    eprintln!("building broadcast-worker and whatsapp-simulator in release mode...");
    let bins = build_release(&layout, &["broadcast-worker", "whatsapp-simulator"])?;
    let tpl = template::ensure(&layout)?;
    template::drop_test_databases(DB)?;
    template::clone_into(&tpl, DB)?;
    let port = free_port()?;
    let mut postgrest = postgrest::spawn(&layout, DB, port, 10, DB)?;
    let result = postgrest::wait_until_serving(port, Duration::from_secs(30))
        .context("the bench's PostgREST did not start")
        .and_then(|()| {
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(measure(&layout, &bins, port))
        });
    let _ = postgrest.kill();
    let _ = postgrest.wait();
    template::drop_test_databases(DB)?;
    result
}

async fn measure(layout: &Layout, bins: &std::path::Path, port: u16) -> Result<()> {
    let (db, connection) = tokio_postgres::connect(&database_url("postgres", DB), NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let SimulatorProcess {
        process: mut simulator,
        client: sim,
    } = SimulatorProcess::start(
        &bins.join("whatsapp-simulator"),
        (PHONE_NUMBER_ID, ACCESS_TOKEN, APP_SECRET),
        0,
        &layout.logs().join("bench-templates-simulator.log"),
    )
    .await?;
    for i in 0..TEMPLATES {
        sim.add_template(&TemplateSpec::new(format!("bench_{i:03}"), "es").with_body_params(i % 4))
            .await?;
    }
    let listed = TEMPLATES + 3; // and the simulator's three defaults

    let env = vec![
        (
            "SUPABASE_URL",
            format!("http://127.0.0.1:{}/_test/{port}", api_port()),
        ),
        (
            "SUPABASE_SERVICE_ROLE_KEY",
            Keys::default().service_role_key(),
        ),
        ("WHATSAPP_ACCESS_TOKEN", ACCESS_TOKEN.into()),
        ("WHATSAPP_PHONE_NUMBER_ID", PHONE_NUMBER_ID.into()),
        ("WHATSAPP_WABA_ID", WABA_ID.into()),
        ("WHATSAPP_GRAPH_URL", sim.base_url().to_owned()),
        ("WORKER_ADDR", format!("127.0.0.1:{}", free_port()?)),
        ("ADMIN_ADDR", format!("127.0.0.1:{}", free_port()?)),
    ];
    let mut worker = Process::spawn(
        "broadcast-worker",
        &bins.join("broadcast-worker"),
        &env,
        &layout.logs().join("bench-templates-worker.log"),
    )?;

    let mut rows = Vec::new();
    for (n, what) in [
        (1, "first sync: every template new"),
        (2, "again: nothing changed"),
        (3, "after Meta paused 100 of them"),
    ] {
        if n == 3 {
            for i in 0..100 {
                sim.change_template(&TemplateChange {
                    name: format!("bench_{i:03}"),
                    language: "es".into(),
                    status: Some("PAUSED".into()),
                    reason: Some("LOW_QUALITY".into()),
                    category: None,
                })
                .await?;
            }
        }
        if n > 1 {
            db.execute(
                "insert into svc.template_syncs (reason) values ('admin')",
                &[],
            )
            .await?;
        }
        let row = wait_for_sync(&db, n).await?;
        eprintln!("{what}: {row}");
        rows.push(format!("| {what} | {row} |"));
    }
    let paused: i64 = db
        .query_one(
            "select count(*) from public.message_templates where status = 'paused'",
            &[],
        )
        .await?
        .get(0);
    if paused != 100 {
        bail!("expected 100 paused templates after the third sync, found {paused}");
    }
    worker.terminate()?;
    simulator.terminate()?;

    let body = format!(
        "| sync | listed / created / changed / removed, and the sync's time (database clock) |\n|---|---|\n{}\n\n\
         {listed} templates listed by the simulator 100 per page ({} pages), each page one \
         `svc.upsert_templates` call through PostgREST; the release-mode broadcast worker \
         and simulator as processes. Target: a sync of 500 templates under 5 s.",
        rows.join("\n"),
        listed.div_ceil(100)
    );
    write_section(
        "Template sync: 500 templates, paginated",
        "cargo xtask bench templates",
        &body,
    )
}

/// Waits for the `n`th sync to finish; its counts and duration as a table cell.
async fn wait_for_sync(db: &tokio_postgres::Client, n: i64) -> Result<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let row = db
            .query_opt(
                "select counts, extract(epoch from finished_at - started_at)::float8, error
                   from svc.template_syncs where finished_at is not null
                  order by id offset $1 limit 1",
                &[&(n - 1)],
            )
            .await?;
        if let Some(row) = row {
            let counts: serde_json::Value = row.get(0);
            let secs: f64 = row.get(1);
            let error: Option<String> = row.get(2);
            if let Some(e) = error {
                bail!("sync {n} failed: {e}");
            }
            return Ok(format!(
                "{} / {} / {} / {} in {:.2} s",
                counts["listed"], counts["created"], counts["changed"], counts["removed"], secs
            ));
        }
        if std::time::Instant::now() > deadline {
            bail!("sync {n} did not finish within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
