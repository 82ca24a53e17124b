//! What a simulator is configured with: identity, secrets, limits, templates and
//! the behaviour of its status webhooks. Built in code for tests
//! ([`SimulatorConfig::for_tests`]) or from the environment for the binary
//! ([`SimulatorConfig::from_env`]).

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use service_runtime::{ConfigError, Env, Secret};

use crate::latency::AnswerLatency;

/// Where the binary listens unless `SIM_ADDR` says otherwise.
pub const DEFAULT_ADDR: &str = "127.0.0.1:54340";
/// Meta's default throughput per business phone number.
pub const DEFAULT_MAX_MPS: u32 = 80;
/// The WhatsApp Business Account id put in webhook `entry[].id` by default.
pub const DEFAULT_WABA_ID: &str = "102290129340398";
/// The display number put in webhook `metadata.display_phone_number` by default.
pub const DEFAULT_DISPLAY_PHONE_NUMBER: &str = "15550783881";

/// An approved message template the simulator knows. Sending any other
/// (name, language) pair answers 132001.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSpec {
    /// Template name, e.g. `hello_world`.
    pub name: String,
    /// Language code, e.g. `en_US`.
    pub language: String,
    /// `marketing`, `utility` or `authentication`: reported in the `pricing`
    /// of status webhooks.
    #[serde(default = "default_category")]
    pub category: String,
    /// When set, the number of body parameters a send must carry (otherwise
    /// 132000). `None` accepts any number.
    #[serde(default)]
    pub body_params: Option<usize>,
    /// Meta's status (`APPROVED`, `PAUSED`, `DISABLED`, `REJECTED`, `PENDING`, ...): only
    /// approved templates are sent (a paused one answers 132015, a disabled one 132016,
    /// any other 132001).
    #[serde(default = "default_status")]
    pub status: String,
    /// Meta's template id in the list and webhooks; derived from name and language when
    /// unset.
    #[serde(default)]
    pub id: Option<String>,
    /// The components listed by `GET /{waba-id}/message_templates`; when unset, one BODY
    /// with `body_params` positional placeholders.
    #[serde(default)]
    pub components: Option<Vec<serde_json::Value>>,
}

fn default_category() -> String {
    "utility".into()
}

fn default_status() -> String {
    "APPROVED".into()
}

impl TemplateSpec {
    /// A `utility` template that accepts any parameters.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            language: language.into(),
            category: default_category(),
            body_params: None,
            status: default_status(),
            id: None,
            components: None,
        }
    }

    /// The same template with another Meta status (`PAUSED`, ...).
    pub fn with_status(mut self, status: impl Into<String>) -> Self {
        self.status = status.into();
        self
    }

    /// The same template with these components.
    pub fn with_components(mut self, components: Vec<serde_json::Value>) -> Self {
        self.components = Some(components);
        self
    }

    /// Meta's id of this template: `id`, else a number derived from name and language
    /// (stable across runs).
    pub fn meta_id(&self) -> String {
        if let Some(id) = &self.id {
            return id.clone();
        }
        // FNV-1a, 15 digits like Meta's ids.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.name.bytes().chain([0]).chain(self.language.bytes()) {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        (100_000_000_000_000 + hash % 900_000_000_000_000).to_string()
    }

    /// The template as `GET /{waba-id}/message_templates` lists it.
    pub fn list_entry(&self) -> serde_json::Value {
        let components = self.components.clone().unwrap_or_else(|| {
            let placeholders: Vec<String> = (1..=self.body_params.unwrap_or(0))
                .map(|i| format!("{{{{{i}}}}}"))
                .collect();
            vec![serde_json::json!({
                "type": "BODY",
                "text": format!("{} {}", self.name, placeholders.join(" ")).trim_end().to_owned()
            })]
        });
        serde_json::json!({
            "id": self.meta_id(),
            "name": self.name,
            "language": self.language,
            "status": self.status,
            "category": self.category.to_ascii_uppercase(),
            "parameter_format": "POSITIONAL",
            "quality_score": {"score": "GREEN", "date": 1_764_064_800},
            "components": components,
        })
    }

    /// The same template in another category (`marketing`, `utility`, `authentication`).
    pub fn with_category(mut self, category: impl Into<String>) -> Self {
        self.category = category.into();
        self
    }

    /// The same template, requiring exactly `n` body parameters.
    pub fn with_body_params(mut self, n: usize) -> Self {
        self.body_params = Some(n);
        self
    }

    /// Parses `name:language[:category]`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.trim().split(':').map(str::trim).collect();
        match parts.as_slice() {
            [name, language] if !name.is_empty() && !language.is_empty() => {
                Ok(Self::new(*name, *language))
            }
            [name, language, category]
                if !name.is_empty() && !language.is_empty() && !category.is_empty() =>
            {
                Ok(Self::new(*name, *language).with_category(*category))
            }
            _ => Err(format!(
                "{spec:?} is not name:language or name:language:category"
            )),
        }
    }
}

/// A change of a known template, as Meta makes them on its own (`POST
/// /_sim/templates/change`): its status and/or its category. Each change sends its
/// webhook (`message_template_status_update`, `template_category_update`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateChange {
    pub name: String,
    pub language: String,
    /// The new status (`APPROVED`, `PAUSED`, `DISABLED`, `REJECTED`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Meta's reason for the status change (e.g. `LOW_QUALITY`); `NONE` when unset.
    #[serde(default)]
    pub reason: Option<String>,
    /// The new category (`marketing`, `utility`, `authentication`).
    #[serde(default)]
    pub category: Option<String>,
}

/// The templates a simulator knows unless told otherwise: `hello_world`/`en_US`,
/// `order_update`/`es`, `promo_vip`/`es` (marketing).
pub fn default_templates() -> Vec<TemplateSpec> {
    vec![
        TemplateSpec::new("hello_world", "en_US"),
        TemplateSpec::new("order_update", "es"),
        TemplateSpec::new("promo_vip", "es").with_category("marketing"),
    ]
}

/// How status webhooks follow an accepted message.
///
/// Each status fires its delay after the message was accepted; its `timestamp`
/// is the acceptance time plus that delay (Unix seconds), so timestamps keep the
/// logical order even when [`StatusWebhooks::reorder`] changes the arrival order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatusWebhooks {
    /// `false`: no status webhooks at all.
    pub enabled: bool,
    /// Delay of `sent` after acceptance, in milliseconds.
    pub sent_ms: u64,
    /// Delay of `delivered`, in milliseconds.
    pub delivered_ms: u64,
    /// Delay of `read`, in milliseconds; `None`: the user never reads.
    pub read_ms: Option<u64>,
    /// Send every status twice (Meta does: retries, several subscribed apps).
    pub duplicates: bool,
    /// Send the statuses in reverse order (read first), keeping the delays in
    /// ascending order: the `read` webhook arrives at `sent_ms`, `sent` last.
    pub reorder: bool,
    /// Collect statuses for this many milliseconds and send them in one POST
    /// (up to 1,000 per POST); `None`: one status per POST.
    pub batch_ms: Option<u64>,
}

impl Default for StatusWebhooks {
    fn default() -> Self {
        Self {
            enabled: true,
            sent_ms: 50,
            delivered_ms: 150,
            read_ms: Some(400),
            duplicates: false,
            reorder: false,
            batch_ms: None,
        }
    }
}

impl StatusWebhooks {
    /// No status webhooks.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::default()
        }
    }

    /// Applies `SIM_STATUS_DELAYS_MS`: `sent,delivered,read` in milliseconds
    /// (`50,150,400`); `read` may be `off` or left out (never read); `off` alone
    /// disables status webhooks.
    pub fn with_delays_spec(mut self, spec: &str) -> Result<Self, String> {
        let spec = spec.trim();
        if spec.eq_ignore_ascii_case("off") {
            self.enabled = false;
            return Ok(self);
        }
        let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
        let ms = |s: &str| {
            s.parse::<u64>()
                .map_err(|_| format!("{s:?} is not a number of milliseconds"))
        };
        let (sent, delivered, read) = match parts.as_slice() {
            [sent, delivered] => (ms(sent)?, ms(delivered)?, None),
            [sent, delivered, read] if read.eq_ignore_ascii_case("off") => {
                (ms(sent)?, ms(delivered)?, None)
            }
            [sent, delivered, read] => (ms(sent)?, ms(delivered)?, Some(ms(read)?)),
            _ => {
                return Err(
                    "expected sent,delivered,read in milliseconds (e.g. 50,150,400), \
                     read may be \"off\"; or \"off\""
                        .into(),
                )
            }
        };
        self.enabled = true;
        self.sent_ms = sent;
        self.delivered_ms = delivered;
        self.read_ms = read;
        Ok(self)
    }
}

/// Everything a simulator starts with. Fields marked "runtime" can be changed
/// later through the handle or `PATCH /_sim/config`.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub addr: SocketAddr,
    /// The only phone-number id the messages endpoint accepts.
    pub phone_number_id: String,
    /// `metadata.display_phone_number` in webhooks.
    pub display_phone_number: String,
    /// `entry[].id` in webhooks.
    pub waba_id: String,
    /// The bearer token the Graph API expects.
    pub access_token: Secret,
    /// Key of the `X-Hub-Signature-256` HMAC on webhooks.
    pub app_secret: Secret,
    /// Runtime: the gateway's `POST /webhooks/whatsapp` URL; `None` sends no webhooks.
    pub webhook_url: Option<String>,
    /// Runtime: messages per second per phone number (sliding 1-second window);
    /// `None` is unlimited.
    pub max_mps: Option<u32>,
    /// Runtime: status webhook delays and quirks.
    pub status_webhooks: StatusWebhooks,
    /// Runtime: the approved templates.
    pub templates: Vec<TemplateSpec>,
    /// Runtime: answer 131047 to non-template messages outside the 24-hour window.
    pub enforce_window: bool,
    /// Runtime: how long the messages endpoint takes to answer.
    pub answer_latency: AnswerLatency,
    /// Waits before webhook retries after a non-2xx answer or a connection
    /// error; one retry per entry (Meta: immediately, then less and less often).
    pub webhook_retry_delays: Vec<Duration>,
    /// Timeout of one webhook POST.
    pub webhook_timeout: Duration,
    /// How long a timeout fault holds the request when the fault gives no
    /// `timeout_ms` (longer than any sane client timeout).
    pub fault_timeout: Duration,
    /// Sign and send webhook bodies with non-ASCII characters escaped as
    /// `\uXXXX` (the form Meta's Graph docs describe) instead of raw UTF-8.
    pub escape_non_ascii: bool,
    /// HTTP worker threads.
    pub workers: usize,
}

impl SimulatorConfig {
    /// A simulator for in-process tests: a free port on 127.0.0.1, no webhook URL
    /// yet, 80 messages/s, default status delays (50/150/400 ms) and templates,
    /// fast webhook retries (0, 50, 200 ms), a 5 s timeout fault, one worker.
    pub fn for_tests(
        phone_number_id: impl Into<String>,
        access_token: impl Into<String>,
        app_secret: impl Into<String>,
    ) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            phone_number_id: phone_number_id.into(),
            display_phone_number: DEFAULT_DISPLAY_PHONE_NUMBER.into(),
            waba_id: DEFAULT_WABA_ID.into(),
            access_token: Secret::new(access_token),
            app_secret: Secret::new(app_secret),
            webhook_url: None,
            max_mps: Some(DEFAULT_MAX_MPS),
            status_webhooks: StatusWebhooks::default(),
            templates: default_templates(),
            enforce_window: true,
            answer_latency: AnswerLatency::default(),
            webhook_retry_delays: vec![
                Duration::ZERO,
                Duration::from_millis(50),
                Duration::from_millis(200),
            ],
            webhook_timeout: Duration::from_secs(5),
            fault_timeout: Duration::from_secs(5),
            escape_non_ascii: false,
            workers: 1,
        }
    }

    /// The binary's configuration:
    ///
    /// | variable | meaning | default |
    /// |---|---|---|
    /// | `SIM_ADDR` | listen address | `127.0.0.1:54340` |
    /// | `WHATSAPP_PHONE_NUMBER_ID` | the accepted phone-number id | required |
    /// | `WHATSAPP_ACCESS_TOKEN` | the accepted bearer token | required |
    /// | `WHATSAPP_APP_SECRET` | webhook signing key | required |
    /// | `SIM_WEBHOOK_URL` | where webhooks go | none (no webhooks) |
    /// | `SIM_MAX_MPS` | messages/s per number, `0` unlimited | 80 |
    /// | `SIM_STATUS_DELAYS_MS` | `sent,delivered,read` ms, `read` may be `off`; `off` | `50,150,400` |
    /// | `SIM_STATUS_DUPLICATES` | send each status twice | false |
    /// | `SIM_STATUS_REORDER` | send statuses read-first | false |
    /// | `SIM_WEBHOOK_BATCH_MS` | batch statuses for this long | none |
    /// | `SIM_ANSWER_LATENCY_MS` | answer time of the messages endpoint: `fixed` or `fixed,jitter` ms | `0` |
    /// | `SIM_TEMPLATES` | `name:lang[:category],...` | the three defaults |
    /// | `SIM_WABA_ID`, `SIM_DISPLAY_PHONE_NUMBER` | webhook identity | Meta's example values |
    /// | `SIM_FAULT_TIMEOUT_MS` | default hold of a timeout fault | 30000 |
    /// | `SIM_ESCAPE_NON_ASCII` | `\uXXXX`-escape webhook bodies | false |
    /// | `SIM_WORKERS` | HTTP worker threads | 2 |
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let invalid = |name: &str, reason: String| ConfigError::Invalid {
            name: name.into(),
            reason,
        };
        let addr = env.parsed_or("SIM_ADDR", default_addr())?;
        let phone_number_id = env.required("WHATSAPP_PHONE_NUMBER_ID")?;
        let access_token = env.secret("WHATSAPP_ACCESS_TOKEN")?;
        let app_secret = env.secret("WHATSAPP_APP_SECRET")?;
        let webhook_url = env.optional("SIM_WEBHOOK_URL");
        if let Some(url) = &webhook_url {
            check_url(url).map_err(|r| invalid("SIM_WEBHOOK_URL", r))?;
        }
        let max_mps = match env.parsed_or("SIM_MAX_MPS", DEFAULT_MAX_MPS)? {
            0 => None,
            n => Some(n),
        };
        let mut status_webhooks = match env.optional("SIM_STATUS_DELAYS_MS") {
            None => StatusWebhooks::default(),
            Some(spec) => StatusWebhooks::default()
                .with_delays_spec(&spec)
                .map_err(|r| invalid("SIM_STATUS_DELAYS_MS", r))?,
        };
        status_webhooks.duplicates = env.parsed_or("SIM_STATUS_DUPLICATES", false)?;
        status_webhooks.reorder = env.parsed_or("SIM_STATUS_REORDER", false)?;
        status_webhooks.batch_ms = match env.optional("SIM_WEBHOOK_BATCH_MS") {
            None => None,
            Some(_) => Some(env.parsed_or("SIM_WEBHOOK_BATCH_MS", 0u64)?),
        };
        let answer_latency = match env.optional("SIM_ANSWER_LATENCY_MS") {
            None => AnswerLatency::default(),
            Some(spec) => {
                AnswerLatency::parse(&spec).map_err(|r| invalid("SIM_ANSWER_LATENCY_MS", r))?
            }
        };
        let templates = match env.optional("SIM_TEMPLATES") {
            None => default_templates(),
            Some(list) => list
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(TemplateSpec::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|r| invalid("SIM_TEMPLATES", r))?,
        };
        Ok(Self {
            addr,
            phone_number_id,
            display_phone_number: env
                .optional("SIM_DISPLAY_PHONE_NUMBER")
                .unwrap_or_else(|| DEFAULT_DISPLAY_PHONE_NUMBER.into()),
            waba_id: env
                .optional("SIM_WABA_ID")
                .unwrap_or_else(|| DEFAULT_WABA_ID.into()),
            access_token,
            app_secret,
            webhook_url,
            max_mps,
            status_webhooks,
            templates,
            enforce_window: true,
            answer_latency,
            webhook_retry_delays: vec![
                Duration::ZERO,
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            webhook_timeout: Duration::from_secs(10),
            fault_timeout: Duration::from_millis(env.parsed_or("SIM_FAULT_TIMEOUT_MS", 30_000u64)?),
            escape_non_ascii: env.parsed_or("SIM_ESCAPE_NON_ASCII", false)?,
            workers: env.parsed_or("SIM_WORKERS", 2usize)?.max(1),
        })
    }
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 54340))
}

/// A webhook URL must be absolute http(s).
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    match reqwest::Url::parse(url) {
        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Ok(()),
        Ok(u) => Err(format!("scheme {:?} is not http or https", u.scheme())),
        Err(e) => Err(format!("{url:?} is not a URL: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base_env(extra: &[(&str, &str)]) -> Env {
        let mut pairs = vec![
            ("WHATSAPP_PHONE_NUMBER_ID", "106540352242922"),
            ("WHATSAPP_ACCESS_TOKEN", "token"),
            ("WHATSAPP_APP_SECRET", "secret"),
        ];
        pairs.extend_from_slice(extra);
        Env::from_pairs(pairs)
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c = SimulatorConfig::from_env(&base_env(&[])).unwrap();
        assert_eq!(c.addr.to_string(), DEFAULT_ADDR);
        assert_eq!(c.max_mps, Some(80));
        assert_eq!(c.status_webhooks, StatusWebhooks::default());
        assert_eq!(c.templates, default_templates());
        assert_eq!(c.webhook_url, None);
        assert_eq!(c.access_token.expose(), "token");
        let debug = format!("{c:?}");
        assert!(!debug.contains("\"token\"") && !debug.contains("\"secret\""));
    }

    #[test]
    fn a_missing_required_variable_is_named() {
        for name in [
            "WHATSAPP_PHONE_NUMBER_ID",
            "WHATSAPP_ACCESS_TOKEN",
            "WHATSAPP_APP_SECRET",
        ] {
            let pairs: Vec<(&str, &str)> = [
                ("WHATSAPP_PHONE_NUMBER_ID", "1"),
                ("WHATSAPP_ACCESS_TOKEN", "t"),
                ("WHATSAPP_APP_SECRET", "s"),
            ]
            .into_iter()
            .filter(|(k, _)| *k != name)
            .collect();
            let err = SimulatorConfig::from_env(&Env::from_pairs(pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn every_optional_variable_is_read() {
        let c = SimulatorConfig::from_env(&base_env(&[
            ("SIM_ADDR", "0.0.0.0:9000"),
            ("SIM_WEBHOOK_URL", "http://127.0.0.1:8080/webhooks/whatsapp"),
            ("SIM_MAX_MPS", "0"),
            ("SIM_STATUS_DELAYS_MS", "10,20,off"),
            ("SIM_STATUS_DUPLICATES", "true"),
            ("SIM_STATUS_REORDER", "true"),
            ("SIM_WEBHOOK_BATCH_MS", "25"),
            ("SIM_TEMPLATES", "a:en, b:es:marketing"),
            ("SIM_FAULT_TIMEOUT_MS", "1000"),
            ("SIM_ANSWER_LATENCY_MS", "300,100"),
        ]))
        .unwrap();
        assert_eq!(c.addr.to_string(), "0.0.0.0:9000");
        assert_eq!(c.max_mps, None);
        assert_eq!(
            c.status_webhooks,
            StatusWebhooks {
                enabled: true,
                sent_ms: 10,
                delivered_ms: 20,
                read_ms: None,
                duplicates: true,
                reorder: true,
                batch_ms: Some(25),
            }
        );
        assert_eq!(
            c.templates,
            vec![
                TemplateSpec::new("a", "en"),
                TemplateSpec::new("b", "es").with_category("marketing")
            ]
        );
        assert_eq!(c.fault_timeout, Duration::from_secs(1));
        assert_eq!(c.answer_latency, AnswerLatency::new(300, 100));
    }

    #[test]
    fn malformed_values_name_their_variable() {
        for (name, value) in [
            ("SIM_MAX_MPS", "fast"),
            ("SIM_STATUS_DELAYS_MS", "1,2,3,4"),
            ("SIM_STATUS_DELAYS_MS", "a,b"),
            ("SIM_TEMPLATES", "nolanguage"),
            ("SIM_WEBHOOK_URL", "ftp://x"),
            ("SIM_ADDR", "localhost"),
            ("SIM_ANSWER_LATENCY_MS", "slow"),
        ] {
            let err = SimulatorConfig::from_env(&base_env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn status_delays_spec() {
        let s = StatusWebhooks::default();
        assert!(!s.clone().with_delays_spec("off").unwrap().enabled);
        let d = s.clone().with_delays_spec("1,2").unwrap();
        assert_eq!((d.sent_ms, d.delivered_ms, d.read_ms), (1, 2, None));
        let d = s.with_delays_spec(" 5, 6, 7 ").unwrap();
        assert_eq!((d.sent_ms, d.delivered_ms, d.read_ms), (5, 6, Some(7)));
    }
}
