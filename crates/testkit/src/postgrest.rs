//! PostgREST processes: one per database served, configured like a Supabase project's.

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::keys::Keys;
use crate::layout::{database_url, Layout};
use crate::process::{http_status, wait_until};

/// The exposed schemas, as `supabase/config.toml` lists them in `[api] schemas`.
pub fn api_schemas(layout: &Layout) -> Result<String> {
    let config = fs::read_to_string(layout.supabase_dir().join("config.toml"))
        .context("failed to read supabase/config.toml")?;
    let mut in_api = false;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_api = line == "[api]";
            continue;
        }
        if in_api {
            if let Some(value) = line.strip_prefix("schemas") {
                let list: Vec<String> = value
                    .trim_start_matches([' ', '='])
                    .trim_matches(['[', ']', ' '])
                    .split(',')
                    .map(|s| s.trim().trim_matches('"').to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                return Ok(list.join(","));
            }
        }
    }
    bail!("supabase/config.toml has no [api] schemas")
}

/// A PostgREST configuration for one database, like Supabase's.
pub fn config(layout: &Layout, db: &str, port: u16, pool: u32) -> Result<String> {
    Ok(format!(
        "db-uri = \"{}\"\n\
         db-schemas = \"{}\"\n\
         db-extra-search-path = \"public,extensions\"\n\
         db-anon-role = \"anon\"\n\
         db-pool = {pool}\n\
         db-pool-acquisition-timeout = 10\n\
         db-channel-enabled = true\n\
         db-max-rows = 1000\n\
         jwt-secret = \"{}\"\n\
         jwt-secret-is-base64 = false\n\
         server-host = \"127.0.0.1\"\n\
         server-port = {port}\n\
         log-level = \"error\"\n",
        database_url("authenticator", db),
        api_schemas(layout)?,
        Keys::default().secret(),
    ))
}

/// A PostgREST process serving `db` on `port`, detached in its own process group; its
/// configuration and log are named `name`.
pub fn spawn(layout: &Layout, db: &str, port: u16, pool: u32, name: &str) -> Result<Child> {
    use std::os::unix::process::CommandExt;
    let dir = layout.state().join("postgrest");
    fs::create_dir_all(&dir)?;
    fs::create_dir_all(layout.logs())?;
    let conf = dir.join(format!("{name}.conf"));
    fs::write(&conf, config(layout, db, port, pool)?)?;
    let log = fs::File::create(layout.logs().join(format!("postgrest-{name}.log")))?;
    let child = Command::new(layout.postgrest_bin())
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("failed to start PostgREST")?;
    Ok(child)
}

/// Waits until PostgREST on `port` answers with its schema cache loaded.
pub fn wait_until_serving(port: u16, timeout: Duration) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/");
    wait_until(&format!("PostgREST on port {port}"), timeout, || {
        http_status(&url).is_some_and(|s| s < 500)
    })
}

/// Tells the PostgREST instances serving `db` to reload their schema cache.
pub fn reload_schema(db: &str) -> Result<()> {
    crate::postgres::sql_as_superuser(db, "notify pgrst, 'reload schema'").map(|_| ())
}
