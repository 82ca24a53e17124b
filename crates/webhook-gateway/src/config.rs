use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use service_runtime::{ConfigError, Env, Secret};
use svc_client::SupabaseSettings;

/// Meta's Graph API.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v23.0";
/// `GATEWAY_ADDR`: the public listener (webhooks and `/healthz`).
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 8080);
/// `ADMIN_ADDR`: `/readyz` and `/metrics`, loopback unless the operator opens it to a
/// monitoring network (the worker's default is 8091, so both run on one machine).
pub const DEFAULT_ADMIN_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8090);

/// Everything the gateway needs, parsed at start-up (names as in DESIGN.md).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `GATEWAY_ADDR` (default 0.0.0.0:8080): the webhook routes and `/healthz`.
    pub addr: SocketAddr,
    /// `ADMIN_ADDR` (default 127.0.0.1:8090): `/readyz`, `/metrics` and `/healthz`.
    pub admin_addr: SocketAddr,
    pub supabase: SupabaseSettings,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub access_token: Secret,
    pub phone_number_id: String,
    pub graph_url: String,
    pub api_version: String,
    pub max_mps: u32,
    pub outbound: OutboundSettings,
}

/// The outbound sender's knobs (all optional).
#[derive(Debug, Clone)]
pub struct OutboundSettings {
    /// `OUTBOUND_SENDER` (default on): off runs a receive-only gateway.
    pub enabled: bool,
    /// `OUTBOUND_LEASE_SECS` (default 30): a claim older than this counts as abandoned.
    pub lease_seconds: u32,
    /// `OUTBOUND_REQUEST_TIMEOUT_MS` (default 10000): past it a send's outcome is unknown.
    pub request_timeout: Duration,
    /// `OUTBOUND_MAX_RETRY_AGE_SECS` (default 86400): retryable errors give up after this.
    pub max_retry_age: Duration,
    /// `OUTBOUND_PROBE_SECS` (default 30): while paused, one probe send per interval.
    pub probe_seconds: u32,
    /// `OUTBOUND_RETRY_BASE_MS` (default 2000): the first retry's ceiling; doubles after.
    pub retry_base_delay: Duration,
}

impl OutboundSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let enabled = match env.optional("OUTBOUND_SENDER").as_deref() {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "OUTBOUND_SENDER".into(),
                    reason: format!("expected on or off, got {other:?}"),
                })
            }
        };
        Ok(Self {
            enabled,
            lease_seconds: env.parsed_or("OUTBOUND_LEASE_SECS", 30)?,
            request_timeout: Duration::from_millis(
                env.parsed_or("OUTBOUND_REQUEST_TIMEOUT_MS", 10_000)?,
            ),
            max_retry_age: Duration::from_secs(
                env.parsed_or("OUTBOUND_MAX_RETRY_AGE_SECS", 86_400)?,
            ),
            probe_seconds: env.parsed_or("OUTBOUND_PROBE_SECS", 30)?,
            retry_base_delay: Duration::from_millis(
                env.parsed_or("OUTBOUND_RETRY_BASE_MS", 2_000)?,
            ),
        })
    }
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            addr: env.parsed_or("GATEWAY_ADDR", DEFAULT_ADDR)?,
            admin_addr: env.parsed_or("ADMIN_ADDR", DEFAULT_ADMIN_ADDR)?,
            supabase: SupabaseSettings::from_env(env)?,
            app_secret: env.secret("WHATSAPP_APP_SECRET")?,
            verify_token: env.secret("WHATSAPP_VERIFY_TOKEN")?,
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
            max_mps: match env.parsed_or("WHATSAPP_MAX_MPS", 80u32)? {
                0 => {
                    return Err(ConfigError::Invalid {
                        name: "WHATSAPP_MAX_MPS".into(),
                        reason: "must be at least 1".into(),
                    })
                }
                n => n,
            },
            outbound: OutboundSettings::from_env(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SUPABASE_URL", "http://127.0.0.1:54321"),
            ("SUPABASE_SERVICE_ROLE_KEY", "key"),
            ("WHATSAPP_APP_SECRET", "s"),
            ("WHATSAPP_VERIFY_TOKEN", "v"),
            ("WHATSAPP_ACCESS_TOKEN", "t"),
            ("WHATSAPP_PHONE_NUMBER_ID", "123"),
        ]
    }

    #[test]
    fn defaults_apply_when_optional_values_are_unset() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(s.addr.port(), 8080);
        assert_eq!(s.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(s.max_mps, 80);
    }

    #[test]
    fn the_admin_listener_defaults_to_loopback_and_is_separate_from_the_public_one() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(s.addr, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(s.admin_addr, SocketAddr::from(([127, 0, 0, 1], 8090)));
        let mut pairs = complete();
        pairs.push(("ADMIN_ADDR", "10.0.0.5:9100"));
        let s = Settings::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(s.admin_addr, SocketAddr::from(([10, 0, 0, 5], 9100)));
    }

    #[test]
    fn a_malformed_admin_address_names_its_variable() {
        for bad in ["localhost", "127.0.0.1", "127.0.0.1:99999", ":8090"] {
            let mut pairs = complete();
            pairs.push(("ADMIN_ADDR", bad));
            let err = Settings::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name, .. } if name == "ADMIN_ADDR"),
                "{bad}: {err}"
            );
            assert!(
                err.to_string()
                    .starts_with("environment variable ADMIN_ADDR is invalid"),
                "{err}"
            );
        }
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for (name, _) in complete() {
            let env = Env::from_pairs(complete().into_iter().filter(|(k, _)| *k != name));
            let err = Settings::from_env(&env).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name.to_owned()), "{name}");
        }
    }
}
