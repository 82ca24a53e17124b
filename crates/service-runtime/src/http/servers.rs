//! A service's public and admin servers, run and stopped as one.

use actix_web::dev::{Server, ServerHandle};
use tokio::task::JoinHandle;

/// Both servers, built (listening) but not yet served.
pub struct Servers {
    public: Server,
    admin: Server,
}

/// Both servers serving in the background.
pub struct RunningServers {
    public: ServerHandle,
    admin: ServerHandle,
    tasks: [JoinHandle<std::io::Result<()>>; 2],
}

impl Servers {
    pub fn new(public: Server, admin: Server) -> Self {
        Self { public, admin }
    }

    /// Serves both in the background (inside a tokio runtime).
    pub fn spawn(self) -> RunningServers {
        RunningServers {
            public: self.public.handle(),
            admin: self.admin.handle(),
            tasks: [tokio::spawn(self.public), tokio::spawn(self.admin)],
        }
    }
}

impl RunningServers {
    /// Stops accepting, lets in-flight requests finish, and returns the first server error.
    pub async fn stop(self) -> std::io::Result<()> {
        tokio::join!(self.public.stop(true), self.admin.stop(true));
        let mut result = Ok(());
        for task in self.tasks {
            let outcome = task.await.unwrap_or_else(|e| Err(std::io::Error::other(e)));
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    }

    /// Stops abruptly, like kill -9: in-flight requests are dropped.
    pub async fn kill(self) {
        tokio::join!(self.public.stop(false), self.admin.stop(false));
        for task in self.tasks {
            task.abort();
        }
    }
}
