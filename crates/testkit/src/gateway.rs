//! The API gateway: Debian's nginx in front of PostgREST, giving it the `/rest/v1` layout
//! (and the `apikey` handling) of a hosted Supabase project, configured from
//! `stack/nginx.conf.template`. Tests reach their own PostgREST through it at
//! `/_test/<port>`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::layout::{api_port, bench_postgrest_port, postgrest_port, Layout};
use crate::process::{is_root, pid_alive, port_open, read_pid, run, wait_until};

fn state_dir(layout: &Layout) -> PathBuf {
    layout.state().join("nginx")
}

/// Writes the gateway's configuration; returns its path and whether it changed.
fn write_config(layout: &Layout) -> Result<(PathBuf, bool)> {
    let dir = state_dir(layout);
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
        .replace("@POSTGREST_PORT@", &postgrest_port().to_string())
        .replace(
            "@BENCH_POSTGREST_PORT@",
            &bench_postgrest_port().to_string(),
        );
    let path = dir.join("nginx.conf");
    let changed = fs::read_to_string(&path).ok().as_deref() != Some(conf.as_str());
    if changed {
        fs::write(&path, conf)?;
    }
    Ok((path, changed))
}

/// Starts the gateway (idempotent; reloads it when its configuration changed).
pub fn start(layout: &Layout) -> Result<()> {
    let (conf, changed) = write_config(layout)?;
    let pid_path = state_dir(layout).join("nginx.pid");
    if let Some(pid) = read_pid(&pid_path) {
        if pid_alive(pid) {
            if !changed {
                return Ok(());
            }
            return run(
                Command::new("nginx")
                    .arg("-p")
                    .arg(state_dir(layout))
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
            .arg(state_dir(layout))
            .arg("-c")
            .arg(&conf),
        "nginx",
    )?;
    wait_until("nginx", Duration::from_secs(10), || port_open(api_port()))
}

/// Stops the gateway if it runs.
pub fn stop(layout: &Layout) {
    let pid_path = state_dir(layout).join("nginx.pid");
    if let Some(pid) = read_pid(&pid_path) {
        if pid_alive(pid) {
            let _ = Command::new("kill")
                .args(["-QUIT", &pid.to_string()])
                .status();
            let _ = wait_until("nginx to stop", Duration::from_secs(5), || !pid_alive(pid));
        }
    }
}

/// Whether the gateway answers on its port.
pub fn is_running() -> bool {
    port_open(api_port())
}
