//! The developer's stack of `cargo xtask stack` and `cargo xtask up`: the test kit's
//! stack (PostgreSQL and the gateway) plus the main database, built from bootstrap +
//! migrations + seed, and the PostgREST serving it behind the gateway.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use testkit::layout::{api_port, database_url, pg_port, postgrest_port, Layout, MAIN_DB};
use testkit::process::{pid_alive, port_open, read_pid};
use testkit::{fingerprint, gateway, postgres, postgrest, Keys};

use crate::install;

/// Installs what is missing, then starts what the tests need (PostgreSQL and the gateway).
pub fn start_for_tests(layout: &Layout) -> Result<()> {
    install::stack(layout)?;
    testkit::stack::start_for_tests(layout)
}

/// Installs what is missing, starts PostgreSQL and the gateway, brings the main database
/// up to date (created from bootstrap + migrations + seed the first time) and serves it
/// with PostgREST.
pub fn start(layout: &Layout) -> Result<()> {
    start_for_tests(layout)?;
    let migrated = postgres::database_exists(MAIN_DB)?
        && postgres::sql_as_superuser(
            MAIN_DB,
            "select to_regclass('supabase_migrations.schema_migrations') is not null",
        )?
        .trim()
            == "t";
    // The main database is a development database: when the bootstrap or the migrations
    // it was built from changed (a new migration, or an edited one the CLI would never
    // re-apply), it is rebuilt from scratch, like `supabase db reset`.
    let fingerprint = fingerprint::of_bootstrap_and_migrations(layout)?;
    let built_from = fs::read_to_string(main_db_fingerprint(layout)).unwrap_or_default();
    if !migrated {
        reset_main_database(layout)?;
    } else if built_from.trim() != fingerprint {
        eprintln!("the migrations changed since the main database was built: recreating it from bootstrap + migrations + seed");
        reset_main_database(layout)?;
    }
    start_main_postgrest(layout)?;
    postgrest::reload_schema(MAIN_DB)
}

/// Stops the gateway, the main database's PostgREST and PostgreSQL.
pub fn stop(layout: &Layout) -> Result<()> {
    gateway::stop(layout);
    stop_main_postgrest(layout);
    postgres::stop(layout)
}

/// Recreates the main database from bootstrap + migrations + seed.
pub fn reset_main_database(layout: &Layout) -> Result<()> {
    postgres::create_platform_database(layout, MAIN_DB)?;
    postgres::migrate(layout, MAIN_DB)?;
    postgres::sql_file(MAIN_DB, "postgres", &layout.supabase_dir().join("seed.sql"))?;
    fs::write(
        main_db_fingerprint(layout),
        fingerprint::of_bootstrap_and_migrations(layout)?,
    )?;
    postgrest::reload_schema(MAIN_DB)
}

fn main_db_fingerprint(layout: &Layout) -> PathBuf {
    layout.state().join("main-db.fingerprint")
}

fn main_postgrest_pid_file(layout: &Layout) -> PathBuf {
    layout.pg_socket_dir().join("postgrest.pid")
}

fn start_main_postgrest(layout: &Layout) -> Result<()> {
    let pid_path = main_postgrest_pid_file(layout);
    if let Some(pid) = read_pid(&pid_path) {
        if pid_alive(pid) && port_open(postgrest_port()) {
            return Ok(());
        }
        eprintln!("removing a stale PostgREST pid file ({pid} is not running)");
        let _ = fs::remove_file(&pid_path);
    }
    if port_open(postgrest_port()) {
        bail!(
            "port {} (PostgREST) is taken by another process; stop it or free the port",
            postgrest_port()
        );
    }
    let child = postgrest::spawn(layout, MAIN_DB, postgrest_port(), 10, "main")?;
    fs::write(&pid_path, child.id().to_string())?;
    postgrest::wait_until_serving(postgrest_port(), Duration::from_secs(20))
        .with_context(|| format!("see {}", layout.logs().join("postgrest-main.log").display()))
}

fn stop_main_postgrest(layout: &Layout) {
    let pid_path = main_postgrest_pid_file(layout);
    if let Some(pid) = read_pid(&pid_path) {
        if pid_alive(pid) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
    let _ = fs::remove_file(pid_path);
}

/// The stack's environment, as `KEY=VALUE` lines.
pub fn env_lines() -> Vec<(String, String)> {
    let keys = Keys::default();
    vec![
        (
            "SUPABASE_URL".into(),
            format!("http://127.0.0.1:{}", api_port()),
        ),
        ("SUPABASE_ANON_KEY".into(), keys.anon_key()),
        ("SUPABASE_SERVICE_ROLE_KEY".into(), keys.service_role_key()),
        ("SUPABASE_JWT_SECRET".into(), keys.secret().to_owned()),
        ("DATABASE_URL".into(), database_url("postgres", MAIN_DB)),
    ]
}

/// One line per component: running or not.
pub fn status(layout: &Layout) -> Vec<(String, bool)> {
    vec![
        (
            format!("postgresql 127.0.0.1:{}", pg_port()),
            postgres::is_running(layout),
        ),
        (
            format!("postgrest  127.0.0.1:{}", postgrest_port()),
            read_pid(&main_postgrest_pid_file(layout)).is_some_and(pid_alive),
        ),
        (
            format!("gateway    127.0.0.1:{}", api_port()),
            gateway::is_running(),
        ),
    ]
}
