//! `cargo xtask up`: the stack, the webhook gateway, the broadcast worker, the WhatsApp
//! simulator and the stand-in for Supabase Auth's invite endpoint wired together, in the
//! foreground until Ctrl-C.

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use testkit::layout::Layout;
use testkit::process;

use crate::dev_stack;

use crate::local;

struct Service {
    name: &'static str,
    child: Child,
    log: std::path::PathBuf,
}

pub fn run() -> Result<()> {
    let layout = Layout::discover();
    dev_stack::start(&layout)?;
    for addr in [
        local::GATEWAY_ADDR,
        local::GATEWAY_ADMIN_ADDR,
        local::WORKER_ADDR,
        local::WORKER_ADMIN_ADDR,
        local::SIMULATOR_ADDR,
        local::AUTH_STANDIN_ADDR,
    ] {
        if std::net::TcpStream::connect(addr).is_ok() {
            bail!("{addr} is already in use: is another `cargo xtask up` running? Stop it first");
        }
    }
    eprintln!("building the services...");
    process::run(
        Command::new("cargo").args([
            "build",
            "--quiet",
            "-p",
            "webhook-gateway",
            "-p",
            "broadcast-worker",
            "-p",
            "whatsapp-simulator",
        ]),
        "cargo build",
    )?;
    // Auth's invite endpoint, in this process: the gateway's SUPABASE_AUTH_URL points here,
    // so an invitation an admin inserts is "sent" and shows in auth.log.
    let runtime = tokio::runtime::Runtime::new()?;
    let keys = testkit::Keys::default();
    let auth = runtime.block_on(testkit::AuthStandIn::start(testkit::AuthStandInConfig {
        addr: local::AUTH_STANDIN_ADDR.parse()?,
        service_role_key: keys.service_role_key(),
        anon_key: keys.anon_key(),
    }))?;
    let auth_log = layout.logs().join("auth.log");
    let _ = std::fs::remove_file(&auth_log);
    let bin = layout.root().join("target/debug");
    let env = local::service_env();
    let mut services = Vec::new();
    for (name, binary, admin_addr) in [
        ("simulator", "whatsapp-simulator", None),
        (
            "gateway",
            "webhook-gateway",
            Some(local::GATEWAY_ADMIN_ADDR),
        ),
        ("worker", "broadcast-worker", Some(local::WORKER_ADMIN_ADDR)),
    ] {
        let log = layout.logs().join(format!("{name}.log"));
        let out = File::create(&log)?;
        let child = Command::new(bin.join(binary))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(admin_addr.map(|addr| ("ADMIN_ADDR", addr)))
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("failed to start {binary}"))?;
        services.push(Service { name, child, log });
    }
    let ready = wait_ready(&mut services);
    if let Err(e) = ready {
        stop_all(&mut services);
        return Err(e);
    }
    print_where(&layout);

    let exited = runtime.block_on(async {
        let mut logged = 0;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return None,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {
                    logged = log_invites(&auth, &auth_log, logged);
                    for s in services.iter_mut() {
                        if let Ok(Some(status)) = s.child.try_wait() {
                            return Some((s.name, status, s.log.clone()));
                        }
                    }
                }
            }
        }
    });
    eprintln!(
        "\nstopping the services (the stack keeps running; `cargo xtask stack stop` stops it)..."
    );
    stop_all(&mut services);
    if let Some((name, status, log)) = exited {
        bail!(
            "{name} exited ({status}); its log: {}\n{}",
            log.display(),
            tail(&log)
        );
    }
    Ok(())
}

fn wait_ready(services: &mut [Service]) -> Result<()> {
    let checks = [
        (
            "simulator",
            format!("{}/_sim/health", local::simulator_url()),
        ),
        (
            "gateway",
            format!("http://{}/readyz", local::GATEWAY_ADMIN_ADDR),
        ),
        (
            "worker",
            format!("http://{}/readyz", local::WORKER_ADMIN_ADDR),
        ),
    ];
    let deadline = Instant::now() + Duration::from_secs(60);
    for (name, url) in checks {
        loop {
            if process::http_status(&url) == Some(200) {
                break;
            }
            if let Some(s) = services.iter_mut().find(|s| s.name == name) {
                if let Ok(Some(status)) = s.child.try_wait() {
                    bail!("{name} exited at start ({status}):\n{}", tail(&s.log));
                }
            }
            if Instant::now() > deadline {
                bail!("{name} did not become ready at {url}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(())
}

fn stop_all(services: &mut [Service]) {
    for s in services.iter() {
        let _ = Command::new("kill")
            .args(["-TERM", &s.child.id().to_string()])
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    for s in services.iter_mut() {
        while Instant::now() < deadline {
            if let Ok(Some(_)) = s.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = s.child.kill();
        let _ = s.child.wait();
    }
}

/// Appends the invite requests the Auth stand-in received since `from` to `log` (one
/// line each: address and status; never the keys), and returns how many are logged.
fn log_invites(auth: &testkit::AuthStandInHandle, log: &std::path::Path, from: usize) -> usize {
    use std::io::Write;
    let received = auth.received();
    if received.len() > from {
        if let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            for r in &received[from..] {
                let _ = writeln!(
                    file,
                    "POST /auth/v1/invite email={} -> {}",
                    r.email.as_deref().unwrap_or("-"),
                    r.status
                );
            }
        }
    }
    received.len()
}

fn tail(log: &std::path::Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn print_where(layout: &Layout) {
    crate::stack_cmd::print_where(layout);
    eprintln!(
        "\nChatCentralize is running:\n  \
         webhook gateway   {gw}   (POST /webhooks/whatsapp, /healthz)\n    \
         its admin       http://{gw_admin}   (/readyz, /metrics, /healthz; loopback only)\n  \
         broadcast worker  http://{wk}   (/healthz)\n    \
         its admin       http://{wk_admin}   (/readyz, /metrics, /healthz; loopback only)\n  \
         WhatsApp simulator {sim}   (Graph API stand-in; admin API under /_sim)\n  \
         Auth stand-in     {auth}   (POST /auth/v1/invite: invitation emails, logged to auth.log)\n  \
         service logs      {logs}/{{gateway,worker,simulator,auth}}.log\n\n\
         Try: cargo xtask demo\n     cargo xtask simulate inbound --from 34600111222 --text 'Hola'\n\
         Ctrl-C stops the services.",
        gw = local::gateway_url(),
        gw_admin = local::GATEWAY_ADMIN_ADDR,
        wk = local::WORKER_ADDR,
        wk_admin = local::WORKER_ADMIN_ADDR,
        sim = local::simulator_url(),
        auth = local::auth_standin_url(),
        logs = layout.logs().display(),
    );
}
