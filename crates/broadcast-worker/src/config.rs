//! The worker's configuration, from the environment (names as in DESIGN.md), parsed
//! into types at start-up. A missing required value is an error naming it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use service_runtime::{ConfigError, Env, Secret};
use svc_client::SupabaseSettings;

/// Meta's Graph API.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v23.0";
/// `WORKER_ADDR`: the public listener (`/healthz` only).
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8081);
/// `ADMIN_ADDR`: `/readyz` and `/metrics`, loopback unless the operator opens it to a
/// monitoring network (the gateway's default is 8090, so both run on one machine).
pub const DEFAULT_ADMIN_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8091);

/// Everything the worker needs, parsed at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `WORKER_ADDR` (default 0.0.0.0:8081): `/healthz`.
    pub addr: SocketAddr,
    /// `ADMIN_ADDR` (default 127.0.0.1:8091): `/readyz`, `/metrics` and `/healthz`.
    pub admin_addr: SocketAddr,
    pub supabase: SupabaseSettings,
    pub access_token: Secret,
    pub phone_number_id: String,
    /// `WHATSAPP_GRAPH_URL`, without a trailing slash.
    pub graph_url: String,
    pub api_version: String,
    /// `WHATSAPP_MAX_MPS` (default 80): the number's throughput, shared with replies.
    pub max_mps: u32,
    /// `WHATSAPP_MESSAGING_LIMIT` (default unlimited).
    pub messaging_limit: MessagingLimit,
    /// `BROADCAST_LEASE_SECS` (default 30): a claim older than this counts as abandoned
    /// (its recipient becomes an unknown outcome, never resent).
    pub lease_seconds: u32,
    /// `BROADCAST_REQUEST_TIMEOUT_MS` (default 10000): past it a send's outcome is unknown.
    pub request_timeout: Duration,
    /// `BROADCAST_RETRY_BASE_MS` (default 2000): the first retry's ceiling; doubles after.
    pub retry_base_delay: Duration,
    /// `BROADCAST_MAX_RETRY_AGE_SECS` (default 86400): retryable errors give up after this.
    pub max_retry_age: Duration,
    /// `BROADCAST_PROBE_SECS` (default 30): while sending is paused, one probe per interval.
    pub probe_seconds: u32,
}

/// WhatsApp's messaging limit: unique users a business may message outside a customer
/// service window in a rolling 24 hours. Broadcasts never exceed it; what would, waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessagingLimit {
    Users250,
    Users2K,
    Users10K,
    Users100K,
    Unlimited,
}

impl MessagingLimit {
    /// The tier's number of unique users per 24 hours; `None` when unlimited.
    pub fn unique_users(self) -> Option<u32> {
        match self {
            Self::Users250 => Some(250),
            Self::Users2K => Some(2_000),
            Self::Users10K => Some(10_000),
            Self::Users100K => Some(100_000),
            Self::Unlimited => None,
        }
    }
}

impl FromStr for MessagingLimit {
    type Err = String;

    /// `250`, `2000`, `10000`, `100000` (or `2K`, `10K`, `100K`) or `unlimited`.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        match raw.trim().to_ascii_lowercase().replace([',', '_'], "").as_str() {
            "250" => Ok(Self::Users250),
            "2000" | "2k" => Ok(Self::Users2K),
            "10000" | "10k" => Ok(Self::Users10K),
            "100000" | "100k" => Ok(Self::Users100K),
            "unlimited" => Ok(Self::Unlimited),
            _ => Err(format!(
                "expected one of WhatsApp's tiers 250, 2000, 10000, 100000 or unlimited, got {raw:?}"
            )),
        }
    }
}

impl fmt::Display for MessagingLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.unique_users() {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("unlimited"),
        }
    }
}

fn invalid(name: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name: name.into(),
        reason: reason.into(),
    }
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = Self {
            addr: env.parsed_or("WORKER_ADDR", DEFAULT_ADDR)?,
            admin_addr: env.parsed_or("ADMIN_ADDR", DEFAULT_ADMIN_ADDR)?,
            supabase: SupabaseSettings::from_env(env)?,
            access_token: env.secret("WHATSAPP_ACCESS_TOKEN")?,
            phone_number_id: env.required("WHATSAPP_PHONE_NUMBER_ID")?,
            graph_url: env
                .optional("WHATSAPP_GRAPH_URL")
                .unwrap_or_else(|| DEFAULT_GRAPH_URL.into())
                .trim_end_matches('/')
                .to_owned(),
            api_version: env
                .optional("WHATSAPP_API_VERSION")
                .unwrap_or_else(|| DEFAULT_API_VERSION.into()),
            max_mps: env.parsed_or("WHATSAPP_MAX_MPS", 80u32)?,
            messaging_limit: env
                .parsed_or("WHATSAPP_MESSAGING_LIMIT", MessagingLimit::Unlimited)?,
            lease_seconds: env.parsed_or("BROADCAST_LEASE_SECS", 30u32)?,
            request_timeout: Duration::from_millis(
                env.parsed_or("BROADCAST_REQUEST_TIMEOUT_MS", 10_000u64)?,
            ),
            retry_base_delay: Duration::from_millis(
                env.parsed_or("BROADCAST_RETRY_BASE_MS", 2_000u64)?,
            ),
            max_retry_age: Duration::from_secs(
                env.parsed_or("BROADCAST_MAX_RETRY_AGE_SECS", 86_400u64)?,
            ),
            probe_seconds: env.parsed_or("BROADCAST_PROBE_SECS", 30u32)?,
        };
        settings.check()?;
        Ok(settings)
    }

    /// The rules between values (also for settings built in code, e.g. in tests).
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.max_mps == 0 {
            return Err(invalid("WHATSAPP_MAX_MPS", "must be at least 1"));
        }
        if self.probe_seconds == 0 {
            return Err(invalid("BROADCAST_PROBE_SECS", "must be at least 1"));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid(
                "BROADCAST_REQUEST_TIMEOUT_MS",
                "must be at least 1",
            ));
        }
        if Duration::from_secs(u64::from(self.lease_seconds)) <= self.request_timeout {
            return Err(invalid(
                "BROADCAST_LEASE_SECS",
                format!(
                    "must be longer than the request timeout ({} ms), or sends still in the air \
                     would be taken for abandoned",
                    self.request_timeout.as_millis()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SUPABASE_URL", "http://127.0.0.1:54321"),
            ("SUPABASE_SERVICE_ROLE_KEY", "key"),
            ("WHATSAPP_ACCESS_TOKEN", "t"),
            ("WHATSAPP_PHONE_NUMBER_ID", "123"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = complete();
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_apply_when_optional_values_are_unset() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(s.addr, SocketAddr::from(([0, 0, 0, 0], 8081)));
        assert_eq!(s.admin_addr, SocketAddr::from(([127, 0, 0, 1], 8091)));
        assert_eq!(s.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(s.api_version, DEFAULT_API_VERSION);
        assert_eq!(s.max_mps, 80);
        assert_eq!(s.messaging_limit, MessagingLimit::Unlimited);
        assert_eq!(s.lease_seconds, 30);
        assert_eq!(s.request_timeout, Duration::from_secs(10));
        assert_eq!(s.retry_base_delay, Duration::from_secs(2));
        assert_eq!(s.max_retry_age, Duration::from_secs(86_400));
        assert_eq!(s.probe_seconds, 30);
        assert!(
            !format!("{s:?}").contains("\"t\""),
            "the token never prints"
        );
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for (name, _) in complete() {
            let env = Env::from_pairs(complete().into_iter().filter(|(k, _)| *k != name));
            let err = Settings::from_env(&env).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name.to_owned()), "{name}");
        }
    }

    #[test]
    fn every_optional_variable_is_read() {
        let s = Settings::from_env(&with(&[
            ("WORKER_ADDR", "127.0.0.1:9100"),
            ("ADMIN_ADDR", "10.0.0.5:9101"),
            ("WHATSAPP_GRAPH_URL", "http://127.0.0.1:54340/"),
            ("WHATSAPP_API_VERSION", "v24.0"),
            ("WHATSAPP_MAX_MPS", "1000"),
            ("WHATSAPP_MESSAGING_LIMIT", "10K"),
            ("BROADCAST_LEASE_SECS", "5"),
            ("BROADCAST_REQUEST_TIMEOUT_MS", "1500"),
            ("BROADCAST_RETRY_BASE_MS", "100"),
            ("BROADCAST_MAX_RETRY_AGE_SECS", "60"),
            ("BROADCAST_PROBE_SECS", "2"),
        ]))
        .unwrap();
        assert_eq!(s.addr.port(), 9100);
        assert_eq!(s.admin_addr, SocketAddr::from(([10, 0, 0, 5], 9101)));
        assert_eq!(s.graph_url, "http://127.0.0.1:54340");
        assert_eq!(s.api_version, "v24.0");
        assert_eq!(s.max_mps, 1000);
        assert_eq!(s.messaging_limit.unique_users(), Some(10_000));
        assert_eq!(s.lease_seconds, 5);
        assert_eq!(s.request_timeout, Duration::from_millis(1500));
        assert_eq!(s.retry_base_delay, Duration::from_millis(100));
        assert_eq!(s.max_retry_age, Duration::from_secs(60));
        assert_eq!(s.probe_seconds, 2);
    }

    #[test]
    fn the_admin_listener_defaults_to_loopback_and_a_malformed_one_is_named() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(s.admin_addr, SocketAddr::from(([127, 0, 0, 1], 8091)));
        assert_ne!(
            s.admin_addr.port(),
            crate::config::DEFAULT_ADDR.port(),
            "the public and admin listeners differ"
        );
        let err = Settings::from_env(&with(&[("ADMIN_ADDR", "0.0.0.0")])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name, .. } if name == "ADMIN_ADDR"),
            "{err}"
        );
        assert!(
            err.to_string()
                .starts_with("environment variable ADMIN_ADDR is invalid"),
            "{err}"
        );
    }

    #[test]
    fn messaging_limits_are_whatsapps_tiers() {
        for (raw, users) in [
            ("250", Some(250)),
            ("2000", Some(2_000)),
            ("2K", Some(2_000)),
            ("10000", Some(10_000)),
            ("100,000", Some(100_000)),
            ("100k", Some(100_000)),
            ("Unlimited", None),
        ] {
            let limit: MessagingLimit = raw.parse().unwrap();
            assert_eq!(limit.unique_users(), users, "{raw}");
        }
        assert_eq!(MessagingLimit::Users2K.to_string(), "2000");
        assert_eq!(MessagingLimit::Unlimited.to_string(), "unlimited");
        for bad in ["1000", "0", "lots", "-250"] {
            assert!(bad.parse::<MessagingLimit>().is_err(), "{bad}");
        }
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (name, value) in [
            ("WHATSAPP_MESSAGING_LIMIT", "500"),
            ("WHATSAPP_MAX_MPS", "0"),
            ("WHATSAPP_MAX_MPS", "fast"),
            ("WORKER_ADDR", "localhost"),
            ("ADMIN_ADDR", "localhost"),
            ("ADMIN_ADDR", "127.0.0.1"),
            ("ADMIN_ADDR", "127.0.0.1:99999"),
            ("BROADCAST_LEASE_SECS", "10"),
            ("BROADCAST_PROBE_SECS", "0"),
            ("BROADCAST_REQUEST_TIMEOUT_MS", "soon"),
        ] {
            let err = Settings::from_env(&with(&[(name, value)])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value}: {err}"
            );
        }
        let err = Settings::from_env(&with(&[("WHATSAPP_MESSAGING_LIMIT", "500")])).unwrap_err();
        assert!(
            err.to_string()
                .contains("250, 2000, 10000, 100000 or unlimited"),
            "{err}"
        );
    }
}
