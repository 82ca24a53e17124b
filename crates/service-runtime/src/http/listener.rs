//! Listeners bound at start-up, so a taken port fails the start (not the first request)
//! and port 0 can pick a free port (tests).

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use crate::{ConfigError, Env};

/// Where a service listens: its public address (`public_var`, e.g. `GATEWAY_ADDR`) and
/// its admin one (`ADMIN_ADDR`: `/readyz`, `/metrics`, `/healthz`).
#[derive(Debug, Clone, Copy)]
pub struct ListenSettings {
    /// The variable naming the public address.
    pub public_var: &'static str,
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
}

impl ListenSettings {
    /// By default the public listener takes every interface and the admin one loopback
    /// only (the operator opens it to a monitoring network), on these ports.
    pub fn from_env(
        env: &Env,
        public_var: &'static str,
        (default_port, default_admin_port): (u16, u16),
    ) -> Result<Self, ConfigError> {
        let public = SocketAddr::from((Ipv4Addr::UNSPECIFIED, default_port));
        let admin = SocketAddr::from((Ipv4Addr::LOCALHOST, default_admin_port));
        Ok(Self {
            public_var,
            addr: env.parsed_or(public_var, public)?,
            admin_addr: env.parsed_or("ADMIN_ADDR", admin)?,
        })
    }

    /// For tests: both on loopback, port 0 (a free port each).
    pub fn for_tests(public_var: &'static str) -> Self {
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Self {
            public_var,
            addr: loopback,
            admin_addr: loopback,
        }
    }

    /// Binds both: (public, admin).
    pub fn bind(&self) -> Result<(BoundListener, BoundListener), BindError> {
        Ok((
            BoundListener::bind(self.public_var, self.addr)?,
            BoundListener::bind("ADMIN_ADDR", self.admin_addr)?,
        ))
    }
}

/// A TCP listener bound to the address of one setting.
#[derive(Debug)]
pub struct BoundListener {
    listener: TcpListener,
    port: u16,
}

/// Binding failed: names the setting, so the operator knows which one to change.
#[derive(Debug, thiserror::Error)]
#[error("failed to bind {setting} ({addr}): {source}")]
pub struct BindError {
    setting: String,
    addr: SocketAddr,
    #[source]
    source: io::Error,
}

impl BoundListener {
    /// Binds `addr`, the value of the environment variable `setting`.
    pub fn bind(setting: &str, addr: SocketAddr) -> Result<Self, BindError> {
        let error = |source| BindError {
            setting: setting.to_owned(),
            addr,
            source,
        };
        let listener = TcpListener::bind(addr).map_err(error)?;
        let port = listener.local_addr().map_err(error)?.port();
        Ok(Self { listener, port })
    }

    /// The bound port (the one picked, for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn into_std(self) -> TcpListener {
        self.listener
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_zero_picks_a_free_port() {
        let bound = BoundListener::bind("ADMIN_ADDR", SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("loopback binds");
        assert_ne!(bound.port(), 0);
    }

    #[test]
    fn a_taken_address_is_an_error_naming_the_setting() {
        let taken = BoundListener::bind("GATEWAY_ADDR", SocketAddr::from(([127, 0, 0, 1], 0)))
            .expect("loopback binds");
        let addr = SocketAddr::from(([127, 0, 0, 1], taken.port()));
        let err = BoundListener::bind("ADMIN_ADDR", addr).expect_err("the port is taken");
        assert!(
            err.to_string()
                .starts_with(&format!("failed to bind ADMIN_ADDR ({addr})")),
            "{err}"
        );
    }
}
