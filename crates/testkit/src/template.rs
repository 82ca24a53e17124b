//! The template database: bootstrap + migrations, built once and cloned per test.
//! Its name carries the fingerprint of everything it is built from, so that changing a
//! migration builds a new one on the next run.

use std::fs;

use anyhow::{Context, Result};

use crate::fingerprint;
use crate::layout::Layout;
use crate::postgres;

const PREFIX: &str = "cc_tpl_";
const KEEP: usize = 3;

/// Returns the name of an up-to-date template database, building it when needed.
/// Several test processes may ask at once: a file lock lets one build while others wait.
pub fn ensure(layout: &Layout) -> Result<String> {
    let name = format!(
        "{PREFIX}{}",
        fingerprint::of_bootstrap_and_migrations(layout)?
    );
    if postgres::database_exists(&name)? {
        return Ok(name);
    }
    fs::create_dir_all(layout.pg_socket_dir())?;
    let lock = fs::File::create(layout.pg_socket_dir().join("template.lock"))?;
    lock.lock().context("failed to lock the template build")?;
    if postgres::database_exists(&name)? {
        return Ok(name);
    }
    let building = format!("{name}_building");
    postgres::create_platform_database(layout, &building)?;
    postgres::migrate(layout, &building).context("migrations failed on a fresh database")?;
    postgres::sql_as_superuser(
        "template1",
        &format!("alter database \"{building}\" rename to \"{name}\""),
    )?;
    postgres::sql_as_superuser(
        "template1",
        &format!("alter database \"{name}\" is_template true"),
    )?;
    drop_old_templates()?;
    Ok(name)
}

fn drop_old_templates() -> Result<()> {
    let names = postgres::sql_as_superuser(
        "template1",
        &format!("select datname from pg_database where starts_with(datname, '{PREFIX}') and not datname ~ '_building$' order by oid desc"),
    )?;
    for old in names.lines().skip(KEEP) {
        postgres::sql_as_superuser(
            "template1",
            &format!("alter database \"{old}\" is_template false"),
        )?;
        postgres::sql_as_superuser(
            "template1",
            &format!("drop database if exists \"{old}\" with (force)"),
        )?;
    }
    Ok(())
}

/// Creates a new database cloned from the template.
pub fn clone_into(template: &str, db: &str) -> Result<()> {
    postgres::sql_as_superuser(
        "template1",
        &format!("create database \"{db}\" template \"{template}\" owner postgres"),
    )
    .map(|_| ())
}

/// Drops databases that tests left behind (e.g. after a crash).
pub fn drop_test_databases(prefix: &str) -> Result<()> {
    let names = postgres::sql_as_superuser(
        "template1",
        // starts_with, not LIKE: '_' in a prefix would be a wildcard.
        &format!("select datname from pg_database where starts_with(datname, '{prefix}') and not datistemplate"),
    )?;
    for db in names.lines() {
        postgres::sql_as_superuser(
            "template1",
            &format!("drop database if exists \"{db}\" with (force)"),
        )?;
    }
    Ok(())
}
