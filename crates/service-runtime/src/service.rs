//! A service's lifetime: its public and admin HTTP servers and its background loops
//! (senders, scheduler), which watch one stop signal. Stopped gracefully (SIGTERM: the
//! loops drain, then the servers finish their requests) or abruptly (kill -9, in tests).

use std::future::Future;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http::{RunningServers, Servers};

/// Background loops that stop together: each watches [`BackgroundTasks::stop_signal`]
/// and returns once it has drained.
pub struct BackgroundTasks {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Default for BackgroundTasks {
    fn default() -> Self {
        Self {
            stop: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }
}

impl BackgroundTasks {
    /// Turns true at stop.
    pub fn stop_signal(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Runs `task` in the background (inside a tokio runtime).
    pub fn spawn(&mut self, task: impl Future<Output = ()> + Send + 'static) {
        self.tasks.push(tokio::spawn(task));
    }

    /// Signals stop and waits for every loop to drain.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Drops the loops where they are: work in the air is lost unrecorded.
    pub async fn kill(self) {
        for task in &self.tasks {
            task.abort();
        }
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// A service built (bound to its two ports, loops started) but not yet serving.
pub struct Service {
    name: &'static str,
    port: u16,
    admin_port: u16,
    servers: Servers,
    tasks: BackgroundTasks,
}

impl Service {
    /// `name` is what the logs call it, e.g. "webhook gateway".
    pub fn new(
        name: &'static str,
        (port, admin_port): (u16, u16),
        servers: Servers,
        tasks: BackgroundTasks,
    ) -> Self {
        Self {
            name,
            port,
            admin_port,
            servers,
            tasks,
        }
    }

    /// The public port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin port: `/readyz`, `/metrics` and `/healthz`.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Serves until SIGTERM/Ctrl-C, then stops gracefully (see [`RunningService::stop`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let running = self.spawn();
        crate::shutdown::signal().await;
        running.shutdown().await
    }

    /// Serves in the background (tests, benchmarks).
    pub fn spawn(self) -> RunningService {
        RunningService {
            name: self.name,
            port: self.port,
            admin_port: self.admin_port,
            servers: self.servers.spawn(),
            tasks: self.tasks,
        }
    }
}

/// A service serving in the background.
pub struct RunningService {
    name: &'static str,
    pub port: u16,
    pub admin_port: u16,
    servers: RunningServers,
    tasks: BackgroundTasks,
}

impl RunningService {
    /// Stops like SIGTERM does: no new claims, sends in the air finish and are recorded,
    /// unsent claims are released, then the HTTP servers stop.
    pub async fn stop(self) {
        let name = self.name;
        if let Err(e) = self.shutdown().await {
            tracing::error!(error = %e, "the {name}'s HTTP servers failed while stopping");
        }
    }

    async fn shutdown(self) -> std::io::Result<()> {
        self.tasks.stop().await;
        let stopped = self.servers.stop().await;
        tracing::info!("{} stopped", self.name);
        stopped
    }

    /// Stops abruptly, like kill -9: sends in the air are dropped unrecorded and claims
    /// stay leased until they expire.
    pub async fn kill(self) {
        self.tasks.kill().await;
        self.servers.kill().await;
    }
}
