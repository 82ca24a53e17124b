//! The stack's PostgreSQL 15 cluster: starting and stopping it, running SQL against its
//! databases, and creating a database the way a Supabase project's starts (platform
//! bootstrap, then the migrations with the Supabase CLI as role `postgres`).
//!
//! The cluster itself is created by `cargo xtask` (installation); this module starts an
//! existing one.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::layout::{database_url, pg_port, Layout, SUPERUSER};
use crate::process::{is_root, output, port_open, run};

/// A command run as the `postgres` OS user when we are root (PostgreSQL refuses root).
pub fn as_cluster_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// Whether the cluster's postmaster is running.
pub fn is_running(layout: &Layout) -> bool {
    as_cluster_owner(&layout.pg_bin("pg_ctl"))
        .arg("status")
        .arg("-D")
        .arg(layout.pg_data())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Starts the (already created) cluster, idempotently, and makes sure the cluster-wide
/// roles exist.
pub fn start(layout: &Layout) -> Result<()> {
    if !is_running(layout) {
        if port_open(pg_port()) {
            bail!(
                "port {} is taken by another process, not this stack's PostgreSQL ({}); \
                 stop it or free the port",
                pg_port(),
                layout.pg_data().display()
            );
        }
        fs::create_dir_all(layout.pg_socket_dir())?;
        let log = layout.logs().join("postgres.log");
        run(
            as_cluster_owner(&layout.pg_bin("pg_ctl"))
                .arg("start")
                .arg("-D")
                .arg(layout.pg_data())
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "30"]),
            "pg_ctl start",
        )
        .with_context(|| format!("PostgreSQL did not start; see {}", log.display()))?;
    }
    // Several test processes start at once: one at a time alters the roles.
    let lock = fs::File::create(layout.pg_socket_dir().join("roles.lock"))?;
    lock.lock().context("failed to lock the roles bootstrap")?;
    run(
        psql("template1", SUPERUSER)
            .arg("-f")
            .arg(layout.platform_sql("roles.sql")),
        "platform roles",
    )
}

/// Stops the cluster if it runs.
pub fn stop(layout: &Layout) -> Result<()> {
    if layout.pg_data().join("PG_VERSION").exists() && is_running(layout) {
        run(
            as_cluster_owner(&layout.pg_bin("pg_ctl"))
                .arg("stop")
                .arg("-D")
                .arg(layout.pg_data())
                .args(["-m", "fast", "-w"]),
            "pg_ctl stop",
        )?;
    }
    Ok(())
}

/// `psql` against a database of the stack, stopping at the first error.
pub fn psql(db: &str, role: &str) -> Command {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-psqlrc"])
        .arg("-d")
        .arg(database_url(role, db))
        .env("PGCONNECT_TIMEOUT", "5");
    cmd
}

/// Runs SQL text as the cluster's superuser and returns what it printed (unaligned, tuples only).
pub fn sql_as_superuser(db: &str, sql: &str) -> Result<String> {
    output(
        psql(db, SUPERUSER).args(["-At", "-c", sql]),
        &format!("psql ({db})"),
    )
}

/// Runs a SQL file against a database.
pub fn sql_file(db: &str, role: &str, file: &Path) -> Result<()> {
    run(
        psql(db, role).arg("-f").arg(file),
        &format!("psql -f {}", file.display()),
    )
}

pub fn database_exists(db: &str) -> Result<bool> {
    let out = sql_as_superuser(
        "template1",
        &format!("select 1 from pg_database where datname = '{db}'"),
    )?;
    Ok(out.trim() == "1")
}

/// Creates `db` empty (owned by postgres) and lays the platform bootstrap on it.
pub fn create_platform_database(layout: &Layout, db: &str) -> Result<()> {
    sql_as_superuser(
        "template1",
        &format!("drop database if exists \"{db}\" with (force)"),
    )?;
    sql_as_superuser(
        "template1",
        &format!("create database \"{db}\" owner postgres"),
    )?;
    sql_file(db, SUPERUSER, &layout.platform_sql("database.sql"))
}

/// Applies pending migrations with the real Supabase CLI, as role postgres.
pub fn migrate(layout: &Layout, db: &str) -> Result<()> {
    run(
        Command::new(layout.supabase_cli())
            .args(["migration", "up", "--db-url"])
            .arg(database_url("postgres", db))
            .current_dir(layout.root()),
        "supabase migration up",
    )
}
