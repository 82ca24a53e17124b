//! The worker's configuration, from the environment (names as in the README's configuration tables), parsed
//! into types at start-up. A missing required value is an error naming it.

use std::fmt;
use std::str::FromStr;

use sending::SendingSettings;
use service_runtime::http::ListenSettings;
use service_runtime::{ConfigError, Env};
use svc_client::SupabaseSettings;

use crate::template_sync::TemplateSyncSettings;

/// The prefix of the broadcast sender's own variables (`BROADCAST_LEASE_SECS`, ...).
pub const SENDER_PREFIX: &str = "BROADCAST";
/// The public (`WORKER_ADDR`, on 0.0.0.0) and admin (`ADMIN_ADDR`, on 127.0.0.1) ports when
/// unset (the gateway's default is 8090, so both run on one machine).
pub const DEFAULT_PORTS: (u16, u16) = (8081, 8091);

/// Everything the worker needs, parsed at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `WORKER_ADDR` (default 0.0.0.0:8081): `/healthz`; `ADMIN_ADDR` (default
    /// 127.0.0.1:8091): `/readyz`, `/metrics` and `/healthz`.
    pub listen: ListenSettings,
    pub supabase: SupabaseSettings,
    /// The number (`WHATSAPP_*`) and the broadcast sender's knobs (`BROADCAST_*`).
    pub sending: SendingSettings,
    /// `WHATSAPP_MESSAGING_LIMIT`: when set, the limit (an override); unset, the limit
    /// Meta announced for the portfolio is used (`learn_messaging_limit`), and this
    /// (unlimited) only until Meta said.
    pub messaging_limit: MessagingLimit,
    /// `true` when `WHATSAPP_MESSAGING_LIMIT` is unset: the worker reads the limit Meta
    /// announced (`svc.messaging_limit`) at start.
    pub learn_messaging_limit: bool,
    /// `WHATSAPP_WABA_ID` (no template sync without it) and `TEMPLATE_SYNC_SECS`
    /// (default 3600).
    pub template_sync: TemplateSyncSettings,
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
    /// The tier of a limit Meta announced (users per 24 hours, -1 unlimited); `None` for
    /// a number that is no tier.
    pub fn from_announced(users: i64) -> Option<Self> {
        match users {
            -1 => Some(Self::Unlimited),
            250 => Some(Self::Users250),
            2_000 => Some(Self::Users2K),
            10_000 => Some(Self::Users10K),
            100_000 => Some(Self::Users100K),
            _ => None,
        }
    }

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

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let settings = Self {
            listen: ListenSettings::from_env(env, "WORKER_ADDR", DEFAULT_PORTS)?,
            supabase: SupabaseSettings::from_env(env)?,
            sending: SendingSettings::from_env(env, SENDER_PREFIX)?,
            messaging_limit: env
                .parsed_or("WHATSAPP_MESSAGING_LIMIT", MessagingLimit::Unlimited)?,
            learn_messaging_limit: env.optional("WHATSAPP_MESSAGING_LIMIT").is_none(),
            template_sync: TemplateSyncSettings {
                waba_id: env
                    .optional("WHATSAPP_WABA_ID")
                    .map(|id| id.trim().to_owned())
                    .filter(|id| !id.is_empty()),
                every: std::time::Duration::from_secs(
                    env.at_least_one_or("TEMPLATE_SYNC_SECS", 3600u64)?,
                ),
            },
        };
        settings.check()?;
        Ok(settings)
    }

    /// For tests: the defaults on loopback port 0 (both listeners), for this project and
    /// number, without a messaging limit.
    pub fn for_tests(supabase: SupabaseSettings, sending: SendingSettings) -> Self {
        Self {
            listen: ListenSettings::for_tests("WORKER_ADDR"),
            supabase,
            sending,
            messaging_limit: MessagingLimit::Unlimited,
            learn_messaging_limit: false,
            template_sync: TemplateSyncSettings::default(),
        }
    }

    /// The rules between values (also for settings built in code, e.g. in tests): the
    /// sender's (`sending::SendingSettings::check_sender`).
    pub fn check(&self) -> Result<(), ConfigError> {
        self.sending.check_sender(SENDER_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::time::Duration;

    use super::*;

    /// The variables the worker requires (the sending ones have their own tests in
    /// `sending::settings`).
    const REQUIRED: [(&str, &str); 4] = [
        ("SUPABASE_URL", "http://127.0.0.1:54321"),
        ("SUPABASE_SERVICE_ROLE_KEY", "key"),
        ("WHATSAPP_ACCESS_TOKEN", "t"),
        ("WHATSAPP_PHONE_NUMBER_ID", "123"),
    ];

    fn complete() -> Vec<(&'static str, &'static str)> {
        REQUIRED.to_vec()
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = complete();
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_apply_when_optional_values_are_unset() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(s.listen.addr, SocketAddr::from(([0, 0, 0, 0], 8081)));
        assert_eq!(
            s.listen.admin_addr,
            SocketAddr::from(([127, 0, 0, 1], 8091))
        );
        assert_eq!(s.messaging_limit, MessagingLimit::Unlimited);
        assert_eq!(s.sending.lease_seconds, 30);
        assert_eq!(s.sending.request_timeout, Duration::from_secs(10));
        assert_eq!(s.sending.probe_seconds, 30);
        assert_eq!(s.template_sync.waba_id, None);
        assert!(s.learn_messaging_limit, "unset: learned from Meta");
        assert_eq!(s.template_sync.every, Duration::from_secs(3600));
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        let env = Env::from_pairs(complete());
        for (name, _) in REQUIRED {
            let err = Settings::from_env(&env.without(name)).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name.to_owned()), "{name}");
        }
    }

    #[test]
    fn the_workers_own_variables_and_the_broadcast_prefix_are_read() {
        let s = Settings::from_env(&with(&[
            ("WORKER_ADDR", "127.0.0.1:9100"),
            ("ADMIN_ADDR", "10.0.0.5:9101"),
            ("WHATSAPP_MESSAGING_LIMIT", "10K"),
            ("BROADCAST_LEASE_SECS", "5"),
            ("BROADCAST_REQUEST_TIMEOUT_MS", "1500"),
            ("BROADCAST_RETRY_BASE_MS", "100"),
            ("BROADCAST_MAX_RETRY_AGE_SECS", "60"),
            ("BROADCAST_PROBE_SECS", "2"),
            ("WHATSAPP_WABA_ID", " 102290129340398 "),
            ("TEMPLATE_SYNC_SECS", "600"),
        ]))
        .unwrap();
        assert_eq!(s.template_sync.waba_id.as_deref(), Some("102290129340398"));
        assert_eq!(s.template_sync.every, Duration::from_secs(600));
        assert_eq!(s.listen.addr.port(), 9100);
        assert_eq!(s.listen.admin_addr, SocketAddr::from(([10, 0, 0, 5], 9101)));
        assert_eq!(s.messaging_limit.unique_users(), Some(10_000));
        assert!(!s.learn_messaging_limit, "set: an override");
        assert_eq!(s.sending.lease_seconds, 5);
        assert_eq!(s.sending.request_timeout, Duration::from_millis(1500));
        assert_eq!(s.sending.retry_base_delay, Duration::from_millis(100));
        assert_eq!(s.sending.max_retry_age, Duration::from_secs(60));
        assert_eq!(s.sending.probe_seconds, 2);
    }

    #[test]
    fn the_admin_listener_defaults_to_loopback_and_a_malformed_one_is_named() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(
            s.listen.admin_addr,
            SocketAddr::from(([127, 0, 0, 1], 8091))
        );
        assert_ne!(
            s.listen.admin_addr.port(),
            crate::config::DEFAULT_PORTS.0,
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
        assert_eq!(
            MessagingLimit::from_announced(-1),
            Some(MessagingLimit::Unlimited)
        );
        assert_eq!(
            MessagingLimit::from_announced(10_000),
            Some(MessagingLimit::Users10K)
        );
        assert_eq!(MessagingLimit::from_announced(1_000), None);
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
            ("TEMPLATE_SYNC_SECS", "0"),
            ("TEMPLATE_SYNC_SECS", "hourly"),
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
