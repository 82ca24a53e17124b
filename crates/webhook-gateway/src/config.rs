use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use service_runtime::{ConfigError, Env, Secret};
use svc_client::{ProjectUrl, SupabaseSettings};

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
    pub invitations: InvitationSettings,
}

/// Invitations: the gateway asks Supabase Auth to send each invitation's email.
#[derive(Debug, Clone)]
pub struct InvitationSettings {
    /// `INVITATION_SENDER` (default on): off leaves invitations pending.
    pub enabled: bool,
    /// `SUPABASE_AUTH_URL` (default `SUPABASE_URL`): the project whose Auth admin API,
    /// `<url>/auth/v1`, sends invite emails (called with the service-role key).
    pub auth_url: ProjectUrl,
    /// `INVITATION_REQUEST_TIMEOUT_MS` (default 10000): past it the attempt is retried.
    pub request_timeout: Duration,
    /// `INVITATION_RETRY_BASE_MS` (default 5000): the first retry's delay; doubles after
    /// each retryable error (5xx, 429, timeout, unreachable), at most an hour.
    pub retry_base_delay: Duration,
    /// `INVITATION_MAX_ATTEMPTS` (default 8): after so many, the invitation fails.
    pub max_attempts: u32,
    /// How often an idle sender looks for new invitations.
    pub poll_interval: Duration,
}

impl InvitationSettings {
    pub fn from_env(env: &Env, supabase: &SupabaseSettings) -> Result<Self, ConfigError> {
        let enabled = match env.optional("INVITATION_SENDER").as_deref() {
            None | Some("on" | "true" | "1") => true,
            Some("off" | "false" | "0") => false,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "INVITATION_SENDER".into(),
                    reason: format!("expected on or off, got {other:?}"),
                })
            }
        };
        let auth_url = match env.optional("SUPABASE_AUTH_URL") {
            None => supabase.url.clone(),
            Some(raw) => ProjectUrl::parse(&raw).map_err(|reason| ConfigError::Invalid {
                name: "SUPABASE_AUTH_URL".into(),
                reason,
            })?,
        };
        let max_attempts = match env.parsed_or("INVITATION_MAX_ATTEMPTS", 8u32)? {
            0 => {
                return Err(ConfigError::Invalid {
                    name: "INVITATION_MAX_ATTEMPTS".into(),
                    reason: "must be at least 1".into(),
                })
            }
            n => n,
        };
        Ok(Self {
            enabled,
            auth_url,
            request_timeout: Duration::from_millis(
                env.parsed_or("INVITATION_REQUEST_TIMEOUT_MS", 10_000)?,
            ),
            retry_base_delay: Duration::from_millis(
                env.parsed_or("INVITATION_RETRY_BASE_MS", 5_000)?,
            ),
            max_attempts,
            poll_interval: Duration::from_secs(1),
        })
    }

    /// For tests: off until a test turns it on, fast retries, Auth at `auth_url`.
    pub fn for_tests(auth_url: ProjectUrl) -> Self {
        Self {
            enabled: false,
            auth_url,
            request_timeout: Duration::from_secs(2),
            retry_base_delay: Duration::from_millis(50),
            max_attempts: 3,
            poll_interval: Duration::from_millis(50),
        }
    }

    /// A claim is held for twice the request timeout (at least 30 s): long enough for the
    /// call and the record, short enough that a dead sender's invitations come back soon.
    pub fn lease_seconds(&self) -> u32 {
        u32::try_from(self.request_timeout.as_secs().saturating_mul(2))
            .unwrap_or(u32::MAX)
            .max(30)
    }
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
        let supabase = SupabaseSettings::from_env(env)?;
        Ok(Self {
            invitations: InvitationSettings::from_env(env, &supabase)?,
            addr: env.parsed_or("GATEWAY_ADDR", DEFAULT_ADDR)?,
            admin_addr: env.parsed_or("ADMIN_ADDR", DEFAULT_ADMIN_ADDR)?,
            supabase,
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
        assert!(s.invitations.enabled);
        assert_eq!(s.invitations.auth_url.as_str(), "http://127.0.0.1:54321");
        assert_eq!(s.invitations.max_attempts, 8);
    }

    #[test]
    fn the_auth_url_can_point_elsewhere_and_is_checked() {
        let mut pairs = complete();
        pairs.push(("SUPABASE_AUTH_URL", "http://127.0.0.1:54341/"));
        let s = Settings::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(s.invitations.auth_url.as_str(), "http://127.0.0.1:54341");
        let mut pairs = complete();
        pairs.push(("SUPABASE_AUTH_URL", "auth.internal"));
        let err = Settings::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { ref name, .. } if name == "SUPABASE_AUTH_URL"),
            "{err:?}"
        );
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
