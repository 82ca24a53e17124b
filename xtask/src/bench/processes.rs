//! The benches' child processes: release builds of the services and the simulator,
//! started with their environment and stopped gracefully.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use testkit::layout::Layout;
use whatsapp_simulator::SimulatorClient;

/// Builds the binaries of `packages` in release mode; returns the directory they are in.
pub fn build_release(layout: &Layout, packages: &[&str]) -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "--release", "--quiet", "--bins"]);
    for p in packages {
        build.args(["-p", p]);
    }
    let status = build
        .current_dir(layout.root())
        .status()
        .context("failed to run cargo build --release")?;
    if !status.success() {
        bail!("cargo build --release failed ({status})");
    }
    Ok(std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| layout.root().join("target"))
        .join("release"))
}

/// User + system CPU seconds process `pid` has used so far (Linux; 0 if it is gone).
pub fn cpu_seconds_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of /proc/<pid>/stat (11 and 12 here).
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds the whole machine has spent so far (Linux `/proc/stat`, all cores).
#[derive(Clone, Copy, Default)]
pub struct MachineCpu {
    /// User, nice, system, irq and softirq.
    pub busy: f64,
    /// Stolen by the hypervisor for other machines.
    pub steal: f64,
}

/// The machine's CPU seconds so far.
pub fn machine_cpu_seconds() -> MachineCpu {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let at = |i: usize| ticks.get(i).copied().unwrap_or(0.0) / 100.0;
    // user nice system idle iowait irq softirq steal
    MachineCpu {
        busy: at(0) + at(1) + at(2) + at(5) + at(6),
        steal: at(7),
    }
}

/// CPU seconds so far of every process named `comm` (e.g. each `postgres` backend), by pid.
pub fn cpu_seconds_named(comm: &str) -> std::collections::HashMap<u32, f64> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == comm)
        })
        .map(|pid| (pid, cpu_seconds_of(pid)))
        .collect()
}

pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A child process stopped with SIGTERM (graceful) when dropped.
pub struct Process {
    name: &'static str,
    child: Child,
}

impl Process {
    /// Starts `bin` with `env` (and RUST_LOG=warn unless given), its output to `log`.
    pub fn spawn(
        name: &'static str,
        bin: &Path,
        env: &[(&str, String)],
        log: &Path,
    ) -> Result<Self> {
        let log = std::fs::File::create(log)?;
        let child = Command::new(bin)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("failed to start {}", bin.display()))?;
        Ok(Self { name, child })
    }

    /// The process id.
    pub fn proc_id(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in bytes (Linux `VmRSS`).
    pub fn rss_bytes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }

    /// User + system CPU seconds so far (Linux).
    pub fn cpu_seconds(&self) -> f64 {
        cpu_seconds_of(self.child.id())
    }

    /// SIGTERM, then waits for a graceful exit.
    pub fn terminate(&mut self) -> Result<()> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                eprintln!("{} exited ({status})", self.name);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!("{} did not stop within 60 s of SIGTERM", self.name);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.terminate();
        }
    }
}

/// The release simulator as a process: its Graph API and admin API at `client.base_url()`,
/// status webhooks off (only sending is measured). `max_mps` 0 is unlimited.
pub struct SimulatorProcess {
    pub process: Process,
    pub client: SimulatorClient,
}

impl SimulatorProcess {
    pub async fn start(
        bin: &Path,
        (phone_number_id, access_token, app_secret): (&str, &str, &str),
        max_mps: u32,
        log: &Path,
    ) -> Result<Self> {
        let port = free_port()?;
        let process = Process::spawn(
            "whatsapp-simulator",
            bin,
            &[
                ("SIM_ADDR", format!("127.0.0.1:{port}")),
                ("WHATSAPP_PHONE_NUMBER_ID", phone_number_id.into()),
                ("WHATSAPP_ACCESS_TOKEN", access_token.into()),
                ("WHATSAPP_APP_SECRET", app_secret.into()),
                ("SIM_MAX_MPS", max_mps.to_string()),
                ("SIM_STATUS_DELAYS_MS", "off".into()),
                ("SIM_WORKERS", "2".into()),
            ],
            log,
        )?;
        let client = SimulatorClient::new(format!("http://127.0.0.1:{port}"));
        client.wait_until_ready(Duration::from_secs(20)).await?;
        Ok(Self { process, client })
    }
}
