use std::time::Duration;

use sending::SendingSettings;
use service_runtime::http::ListenSettings;
use service_runtime::{ConfigError, Env, Secret};
use svc_client::{ProjectUrl, SupabaseSettings};

/// The prefix of the reply sender's own variables (`OUTBOUND_LEASE_SECS`, ...).
pub const SENDER_PREFIX: &str = "OUTBOUND";
/// The public (`GATEWAY_ADDR`, on 0.0.0.0) and admin (`ADMIN_ADDR`, on 127.0.0.1) ports when
/// unset (the worker's default is 8091, so both run on one machine).
pub const DEFAULT_PORTS: (u16, u16) = (8080, 8090);

/// Everything the gateway needs, parsed at start-up (names as in the README's configuration tables).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `GATEWAY_ADDR` (default 0.0.0.0:8080): the webhook routes and `/healthz`;
    /// `ADMIN_ADDR` (default 127.0.0.1:8090): `/readyz`, `/metrics` and `/healthz`.
    pub listen: ListenSettings,
    pub supabase: SupabaseSettings,
    /// `WHATSAPP_APP_SECRET`: verifies webhook signatures.
    pub app_secret: Secret,
    /// `WHATSAPP_VERIFY_TOKEN`: the handshake token given to Meta.
    pub verify_token: Secret,
    /// The number (`WHATSAPP_*`, also whose webhooks are taken) and the reply sender's
    /// knobs (`OUTBOUND_*`).
    pub sending: SendingSettings,
    /// `OUTBOUND_SENDER` (default on): off runs a receive-only gateway.
    pub outbound_sender: bool,
    pub invitations: InvitationSettings,
    pub journal_retention: JournalRetention,
    /// Inbound media, the media store and signed links (`MEDIA_*`).
    pub media: crate::media::MediaSettings,
}

/// How long raw webhooks are kept (`svc.prune_webhook_journal`, run by the gateway unless
/// the project schedules it with pg_cron), and how soon an erased customer's leave the
/// journal (`svc.erase_from_journal`, always run by the gateway).
#[derive(Debug, Clone, PartialEq)]
pub struct JournalRetention {
    /// `WEBHOOK_RETENTION` (default on): off when pg_cron prunes the journal instead.
    pub enabled: bool,
    /// `WEBHOOK_RETENTION_DAYS` (default 30): applied and ignored webhooks older than this
    /// are removed.
    pub max_age: Duration,
    /// `WEBHOOK_FAILED_RETENTION_DAYS` (default 90, at least `WEBHOOK_RETENTION_DAYS`):
    /// failed ones wait this long for a replay.
    pub failed_max_age: Duration,
    /// `WEBHOOK_RETENTION_INTERVAL_SECS` (default 3600): how often.
    pub interval: Duration,
    /// `WEBHOOK_ERASURE_POLL_SECS` (default 60): how often the gateway looks for erasures
    /// and exports pending in the journal (`svc.erase_from_journal`,
    /// `svc.export_from_journal`); runs also with retention off.
    pub erasure_poll: Duration,
}

const DAY: u64 = 86_400;

impl JournalRetention {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let days = env.at_least_one_or("WEBHOOK_RETENTION_DAYS", 30u64)?;
        let failed_days = env.parsed_or("WEBHOOK_FAILED_RETENTION_DAYS", 90u64)?;
        if failed_days < days {
            return Err(ConfigError::invalid(
                "WEBHOOK_FAILED_RETENTION_DAYS",
                format!("must be at least WEBHOOK_RETENTION_DAYS ({days})"),
            ));
        }
        let interval = env.at_least_one_or("WEBHOOK_RETENTION_INTERVAL_SECS", 3_600u64)?;
        let erasure_poll = env.at_least_one_or("WEBHOOK_ERASURE_POLL_SECS", 60u64)?;
        Ok(Self {
            enabled: switch(env, "WEBHOOK_RETENTION")?,
            max_age: Duration::from_secs(days * DAY),
            failed_max_age: Duration::from_secs(failed_days * DAY),
            interval: Duration::from_secs(interval),
            erasure_poll: Duration::from_secs(erasure_poll),
        })
    }

    /// For tests: the defaults, off until a test turns it on.
    pub fn for_tests() -> Self {
        Self {
            enabled: false,
            max_age: Duration::from_secs(30 * DAY),
            failed_max_age: Duration::from_secs(90 * DAY),
            interval: Duration::from_secs(3_600),
            erasure_poll: Duration::from_secs(60),
        }
    }
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
        let enabled = switch(env, "INVITATION_SENDER")?;
        let auth_url = match env.optional("SUPABASE_AUTH_URL") {
            None => supabase.url.clone(),
            Some(raw) => ProjectUrl::parse(&raw)
                .map_err(|reason| ConfigError::invalid("SUPABASE_AUTH_URL", reason))?,
        };
        let max_attempts = env.at_least_one_or("INVITATION_MAX_ATTEMPTS", 8u32)?;
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

/// An on/off variable, on when unset.
pub(crate) fn switch(env: &Env, name: &str) -> Result<bool, ConfigError> {
    match env.optional(name).as_deref() {
        None | Some("on" | "true" | "1") => Ok(true),
        Some("off" | "false" | "0") => Ok(false),
        Some(other) => Err(ConfigError::invalid(
            name,
            format!("expected on or off, got {other:?}"),
        )),
    }
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let supabase = SupabaseSettings::from_env(env)?;
        Ok(Self {
            invitations: InvitationSettings::from_env(env, &supabase)?,
            listen: ListenSettings::from_env(env, "GATEWAY_ADDR", DEFAULT_PORTS)?,
            supabase,
            app_secret: env.secret("WHATSAPP_APP_SECRET")?,
            verify_token: env.secret("WHATSAPP_VERIFY_TOKEN")?,
            sending: SendingSettings::from_env(env, SENDER_PREFIX)?,
            outbound_sender: switch(env, "OUTBOUND_SENDER")?,
            journal_retention: JournalRetention::from_env(env)?,
            media: crate::media::MediaSettings::from_env(env)?,
        })
    }

    /// For tests: the defaults on loopback port 0 (both listeners), for this project,
    /// number and secrets, with the reply and invitation senders off until a test turns
    /// them on (invitations go to the project's own Auth).
    pub fn for_tests(
        supabase: SupabaseSettings,
        sending: SendingSettings,
        app_secret: &str,
        verify_token: &str,
    ) -> Self {
        Self {
            listen: ListenSettings::for_tests("GATEWAY_ADDR"),
            invitations: InvitationSettings::for_tests(supabase.url.clone()),
            supabase,
            app_secret: Secret::new(app_secret),
            verify_token: Secret::new(verify_token),
            sending,
            outbound_sender: false,
            journal_retention: JournalRetention::for_tests(),
            media: crate::media::MediaSettings::for_tests(
                std::env::temp_dir().join(format!("chatcentralize-media-{}", uuid::Uuid::new_v4())),
            ),
        }
    }

    /// The business number: replies are sent as it, and only its webhooks are taken.
    pub fn phone_number_id(&self) -> &str {
        &self.sending.graph.phone_number_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// The variables the gateway requires (the sending ones have their own tests in
    /// `sending::settings`).
    const REQUIRED: [(&str, &str); 6] = [
        ("SUPABASE_URL", "http://127.0.0.1:54321"),
        ("SUPABASE_SERVICE_ROLE_KEY", "key"),
        ("WHATSAPP_APP_SECRET", "s"),
        ("WHATSAPP_VERIFY_TOKEN", "v"),
        ("WHATSAPP_ACCESS_TOKEN", "t"),
        ("WHATSAPP_PHONE_NUMBER_ID", "123"),
    ];

    fn complete() -> Vec<(&'static str, &'static str)> {
        REQUIRED.to_vec()
    }

    #[test]
    fn defaults_apply_when_optional_values_are_unset() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(s.listen.addr.port(), 8080);
        assert_eq!(s.sending.graph.base_url, sending::graph::DEFAULT_GRAPH_URL);
        assert_eq!(s.sending.max_mps, 80);
        assert!(s.outbound_sender);
        assert!(s.invitations.enabled);
        assert_eq!(s.invitations.auth_url.as_str(), "http://127.0.0.1:54321");
        assert_eq!(s.invitations.max_attempts, 8);
        assert!(s.journal_retention.enabled);
        assert_eq!(s.journal_retention.max_age, Duration::from_secs(30 * DAY));
        assert_eq!(
            s.journal_retention.failed_max_age,
            Duration::from_secs(90 * DAY)
        );
        assert_eq!(s.journal_retention.interval, Duration::from_secs(3_600));
        assert_eq!(s.journal_retention.erasure_poll, Duration::from_secs(60));
    }

    #[test]
    fn journal_retention_is_checked_and_names_its_variable() {
        for (name, value) in [
            ("WEBHOOK_RETENTION_DAYS", "0"),
            ("WEBHOOK_FAILED_RETENTION_DAYS", "7"),
            ("WEBHOOK_RETENTION_INTERVAL_SECS", "0"),
            ("WEBHOOK_ERASURE_POLL_SECS", "0"),
            ("WEBHOOK_RETENTION", "sometimes"),
            ("WEBHOOK_RETENTION_DAYS", "a month"),
        ] {
            let mut pairs = complete();
            pairs.push((name, value));
            let err = Settings::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value}: {err:?}"
            );
        }
        let mut pairs = complete();
        pairs.extend([
            ("WEBHOOK_RETENTION", "off"),
            ("WEBHOOK_RETENTION_DAYS", "7"),
        ]);
        let s = Settings::from_env(&Env::from_pairs(pairs)).unwrap();
        assert!(!s.journal_retention.enabled);
        assert_eq!(s.journal_retention.max_age, Duration::from_secs(7 * DAY));
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
        assert_eq!(s.listen.addr, SocketAddr::from(([0, 0, 0, 0], 8080)));
        assert_eq!(
            s.listen.admin_addr,
            SocketAddr::from(([127, 0, 0, 1], 8090))
        );
        let mut pairs = complete();
        pairs.push(("ADMIN_ADDR", "10.0.0.5:9100"));
        let s = Settings::from_env(&Env::from_pairs(pairs)).unwrap();
        assert_eq!(s.listen.admin_addr, SocketAddr::from(([10, 0, 0, 5], 9100)));
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
        let env = Env::from_pairs(complete());
        for (name, _) in REQUIRED {
            let err = Settings::from_env(&env.without(name)).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name.to_owned()), "{name}");
        }
    }

    #[test]
    fn the_reply_sender_reads_the_outbound_variables_and_can_be_switched_off() {
        let mut pairs = complete();
        pairs.extend([("OUTBOUND_SENDER", "off"), ("OUTBOUND_LEASE_SECS", "45")]);
        let s = Settings::from_env(&Env::from_pairs(pairs)).unwrap();
        assert!(!s.outbound_sender);
        assert_eq!(s.sending.lease_seconds, 45);
        let mut pairs = complete();
        pairs.push(("OUTBOUND_SENDER", "maybe"));
        let err = Settings::from_env(&Env::from_pairs(pairs)).unwrap_err();
        assert!(
            matches!(&err, ConfigError::Invalid { name, .. } if name == "OUTBOUND_SENDER"),
            "{err}"
        );
    }
}
