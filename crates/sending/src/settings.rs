//! A sending service's settings from the environment, read once for both services: the
//! number it sends as (`WHATSAPP_*`, the same in both) and its sender's own knobs
//! (`<PREFIX>_*`: `OUTBOUND_` in the gateway, `BROADCAST_` in the worker).

use std::time::Duration;

use service_runtime::{ConfigError, Env};
use whatsapp::RetryPolicy;

use crate::graph::{GraphClient, GraphSettings};
use crate::sender::SenderSettings;

/// `WHATSAPP_MAX_MPS` when unset.
pub const DEFAULT_MAX_MPS: u32 = 80;

/// Everything about sending, parsed at start-up.
#[derive(Debug, Clone)]
pub struct SendingSettings {
    /// `WHATSAPP_GRAPH_URL`, `WHATSAPP_API_VERSION`, `WHATSAPP_PHONE_NUMBER_ID`,
    /// `WHATSAPP_ACCESS_TOKEN`.
    pub graph: GraphSettings,
    /// `WHATSAPP_MAX_MPS` (default 80, at least 1): the number's throughput, shared by
    /// replies and broadcasts.
    pub max_mps: u32,
    /// `<PREFIX>_LEASE_SECS` (default 30): a claim older than this counts as abandoned
    /// (an unknown outcome, never resent).
    pub lease_seconds: u32,
    /// `<PREFIX>_REQUEST_TIMEOUT_MS` (default 10000): past it a send's outcome is unknown.
    pub request_timeout: Duration,
    /// `<PREFIX>_RETRY_BASE_MS` (default 2000): the first retry's ceiling; doubles after.
    pub retry_base_delay: Duration,
    /// `<PREFIX>_MAX_RETRY_AGE_SECS` (default 86400): retryable errors give up after this.
    pub max_retry_age: Duration,
    /// `<PREFIX>_PROBE_SECS` (default 30): while sending is paused, one probe per interval.
    pub probe_seconds: u32,
}

impl SendingSettings {
    /// `prefix` names the sender's own variables: `OUTBOUND` or `BROADCAST`.
    pub fn from_env(env: &Env, prefix: &str) -> Result<Self, ConfigError> {
        let var = |name: &str| format!("{prefix}_{name}");
        let settings = Self {
            graph: GraphSettings::from_env(env)?,
            max_mps: env.parsed_or("WHATSAPP_MAX_MPS", DEFAULT_MAX_MPS)?,
            lease_seconds: env.parsed_or(&var("LEASE_SECS"), 30u32)?,
            request_timeout: Duration::from_millis(
                env.parsed_or(&var("REQUEST_TIMEOUT_MS"), 10_000u64)?,
            ),
            retry_base_delay: Duration::from_millis(
                env.parsed_or(&var("RETRY_BASE_MS"), 2_000u64)?,
            ),
            max_retry_age: Duration::from_secs(
                env.parsed_or(&var("MAX_RETRY_AGE_SECS"), 86_400u64)?,
            ),
            probe_seconds: env.parsed_or(&var("PROBE_SECS"), 30u32)?,
        };
        settings.check_max_mps()?;
        Ok(settings)
    }

    /// For tests: the defaults with quick sends, retries and probes (2 s request timeout,
    /// 100 ms first retry, an hour's retries, a probe a second), sending as `graph`.
    pub fn for_tests(graph: GraphSettings) -> Self {
        Self {
            graph,
            max_mps: DEFAULT_MAX_MPS,
            lease_seconds: 30,
            request_timeout: Duration::from_secs(2),
            retry_base_delay: Duration::from_millis(100),
            max_retry_age: Duration::from_secs(3600),
            probe_seconds: 1,
        }
    }

    /// The one rule every sending service keeps: a limit of at least one message a second.
    pub fn check_max_mps(&self) -> Result<(), ConfigError> {
        if self.max_mps == 0 {
            return Err(ConfigError::invalid(
                "WHATSAPP_MAX_MPS",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The rules between the sender's values (`prefix` as in [`Self::from_env`]): a
    /// probe interval and a request timeout of at least 1, and a lease that outlasts the
    /// request, or sends still in the air would be taken for abandoned.
    pub fn check_sender(&self, prefix: &str) -> Result<(), ConfigError> {
        self.check_max_mps()?;
        if self.probe_seconds == 0 {
            return Err(ConfigError::invalid(
                format!("{prefix}_PROBE_SECS"),
                "must be at least 1",
            ));
        }
        if self.request_timeout.is_zero() {
            return Err(ConfigError::invalid(
                format!("{prefix}_REQUEST_TIMEOUT_MS"),
                "must be at least 1",
            ));
        }
        if Duration::from_secs(u64::from(self.lease_seconds)) <= self.request_timeout {
            return Err(ConfigError::invalid(
                format!("{prefix}_LEASE_SECS"),
                format!(
                    "must be longer than the request timeout ({} ms), or sends still in the air \
                     would be taken for abandoned",
                    self.request_timeout.as_millis()
                ),
            ));
        }
        Ok(())
    }

    /// The Graph API client, giving up on a request after the request timeout.
    pub fn graph_client(&self) -> Result<GraphClient, reqwest::Error> {
        self.graph.client(self.request_timeout)
    }

    /// The retry policy of retryable errors: these base delay and maximum age.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_age: self.max_retry_age,
            base_delay: self.retry_base_delay,
            ..RetryPolicy::default()
        }
    }

    /// What a running sender whose leases carry `owner` reads.
    pub fn sender(&self, owner: String) -> SenderSettings {
        SenderSettings {
            owner,
            phone_number_id: self.graph.phone_number_id.clone(),
            max_mps: self.max_mps,
            lease_seconds: self.lease_seconds,
            retry: self.retry_policy(),
            probe_seconds: self.probe_seconds,
        }
    }
}

/// The cases both services share; each service's own tests cover its other variables.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{DEFAULT_API_VERSION, DEFAULT_GRAPH_URL};

    fn required() -> Vec<(&'static str, &'static str)> {
        vec![
            ("WHATSAPP_ACCESS_TOKEN", "t"),
            ("WHATSAPP_PHONE_NUMBER_ID", "123"),
        ]
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Env {
        let mut pairs = required();
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_apply_when_optional_values_are_unset() {
        for prefix in ["OUTBOUND", "BROADCAST"] {
            let s = SendingSettings::from_env(&with(&[]), prefix).unwrap();
            assert_eq!(s.graph.base_url, DEFAULT_GRAPH_URL);
            assert_eq!(s.graph.api_version, DEFAULT_API_VERSION);
            assert_eq!(s.graph.phone_number_id, "123");
            assert_eq!(s.max_mps, 80);
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
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for (name, _) in required() {
            let env = Env::from_pairs(required().into_iter().filter(|(k, _)| *k != name));
            let err = SendingSettings::from_env(&env, "OUTBOUND").unwrap_err();
            assert_eq!(err, ConfigError::Missing(name.to_owned()), "{name}");
        }
    }

    #[test]
    fn every_optional_variable_is_read_under_the_senders_prefix() {
        let s = SendingSettings::from_env(
            &with(&[
                ("WHATSAPP_GRAPH_URL", "http://127.0.0.1:54340/"),
                ("WHATSAPP_API_VERSION", "v24.0"),
                ("WHATSAPP_MAX_MPS", "1000"),
                ("BROADCAST_LEASE_SECS", "5"),
                ("BROADCAST_REQUEST_TIMEOUT_MS", "1500"),
                ("BROADCAST_RETRY_BASE_MS", "100"),
                ("BROADCAST_MAX_RETRY_AGE_SECS", "60"),
                ("BROADCAST_PROBE_SECS", "2"),
                ("OUTBOUND_LEASE_SECS", "7"),
            ]),
            "BROADCAST",
        )
        .unwrap();
        assert_eq!(s.graph.base_url, "http://127.0.0.1:54340");
        assert_eq!(s.graph.api_version, "v24.0");
        assert_eq!(s.max_mps, 1000);
        assert_eq!(s.lease_seconds, 5, "only the sender's own prefix counts");
        assert_eq!(s.request_timeout, Duration::from_millis(1500));
        assert_eq!(s.retry_base_delay, Duration::from_millis(100));
        assert_eq!(s.max_retry_age, Duration::from_secs(60));
        assert_eq!(s.probe_seconds, 2);
        let retry = s.retry_policy();
        assert_eq!(retry.base_delay, Duration::from_millis(100));
        assert_eq!(retry.max_age, Duration::from_secs(60));
    }

    #[test]
    fn the_limit_is_a_whole_number_of_at_least_one() {
        for bad in ["0", "fast", "1.5", "-1"] {
            let err = SendingSettings::from_env(&with(&[("WHATSAPP_MAX_MPS", bad)]), "OUTBOUND")
                .unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name, .. } if name == "WHATSAPP_MAX_MPS"),
                "{bad}: {err}"
            );
        }
        let err =
            SendingSettings::from_env(&with(&[("WHATSAPP_MAX_MPS", "0")]), "OUTBOUND").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable WHATSAPP_MAX_MPS is invalid: must be at least 1"
        );
    }

    #[test]
    fn a_malformed_sender_value_names_its_prefixed_variable() {
        for prefix in ["OUTBOUND", "BROADCAST"] {
            let name = format!("{prefix}_REQUEST_TIMEOUT_MS");
            let env = Env::from_pairs(
                required()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .chain([(name.clone(), "soon".to_owned())]),
            );
            let err = SendingSettings::from_env(&env, prefix).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if *n == name),
                "{err}"
            );
        }
    }

    #[test]
    fn the_sender_rules_name_the_variable_to_change() {
        let base = SendingSettings::for_tests(GraphSettings::for_tests("http://x", "1", "t"));
        assert_eq!(base.check_sender("BROADCAST"), Ok(()));
        let broken = |change: fn(&mut SendingSettings)| {
            let mut s = base.clone();
            change(&mut s);
            match s.check_sender("BROADCAST") {
                Err(ConfigError::Invalid { name, .. }) => name,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(broken(|s| s.max_mps = 0), "WHATSAPP_MAX_MPS");
        assert_eq!(broken(|s| s.probe_seconds = 0), "BROADCAST_PROBE_SECS");
        assert_eq!(
            broken(|s| s.request_timeout = Duration::ZERO),
            "BROADCAST_REQUEST_TIMEOUT_MS"
        );
        assert_eq!(
            broken(|s| s.lease_seconds = 2),
            "BROADCAST_LEASE_SECS",
            "a lease no longer than the request timeout"
        );
    }
}
