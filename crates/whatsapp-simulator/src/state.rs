//! The simulator's shared state: fixed identity and secrets, and everything that
//! changes at runtime behind one mutex (held only for short, non-async sections).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use service_runtime::Secret;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::config::{SimulatorConfig, StatusWebhooks, TemplateSpec};
use crate::faults::Faults;
use crate::latency::AnswerLatency;
use crate::media::MediaLibrary;
use crate::recorder::Recorder;
use crate::webhooks::StatusEvent;

/// The 24-hour customer service window.
pub(crate) const SERVICE_WINDOW: time::Duration = time::Duration::hours(24);

/// The settings that can change while the simulator runs (`GET /_sim/config`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// The accepted phone-number id.
    pub phone_number_id: String,
    /// `metadata.display_phone_number` in webhooks.
    pub display_phone_number: String,
    /// `entry[].id` in webhooks.
    pub waba_id: String,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
    /// Messages per second per phone number (`None`: unlimited).
    pub max_mps: Option<u32>,
    /// Status webhook behaviour.
    pub status_webhooks: StatusWebhooks,
    /// Approved templates.
    pub templates: Vec<TemplateSpec>,
    /// Whether 131047 is enforced.
    pub enforce_window: bool,
    /// How long the messages endpoint takes to answer.
    #[serde(default)]
    pub answer_latency: AnswerLatency,
}

/// A change to the runtime settings (`PATCH /_sim/config`); absent fields stay.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ConfigPatch {
    /// New webhook URL; `""` removes it.
    pub webhook_url: Option<String>,
    /// New throughput limit; `0` means unlimited.
    pub max_mps: Option<u32>,
    /// New status webhook behaviour (replaces the whole object).
    pub status_webhooks: Option<StatusWebhooks>,
    /// Turn 131047 enforcement on or off.
    pub enforce_window: Option<bool>,
    /// New answer latency of the messages endpoint.
    pub answer_latency: Option<AnswerLatency>,
}

pub(crate) struct Shared {
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub waba_id: String,
    pub access_token: Secret,
    pub app_secret: Secret,
    pub webhook_retry_delays: Vec<Duration>,
    pub fault_timeout: Duration,
    pub escape_non_ascii: bool,
    pub http: reqwest::Client,
    /// The runtime webhook deliveries run on (the one `Simulator::start` ran on).
    pub runtime: tokio::runtime::Handle,
    /// Statuses waiting to be batched.
    pub batch_tx: mpsc::UnboundedSender<StatusEvent>,
    pub stopped: AtomicBool,
    inner: Mutex<Inner>,
    media: Mutex<MediaLibrary>,
}

pub(crate) struct Inner {
    pub webhook_url: Option<String>,
    pub max_mps: Option<u32>,
    pub status_webhooks: StatusWebhooks,
    pub templates: Vec<TemplateSpec>,
    pub enforce_window: bool,
    pub answer_latency: AnswerLatency,
    pub faults: Faults,
    /// wa_id -> time of the user's last message.
    pub windows: HashMap<String, OffsetDateTime>,
    /// Acceptance times within the last second (throughput limit).
    pub limiter: VecDeque<Instant>,
    pub recorder: Recorder,
}

impl Shared {
    pub fn new(
        config: SimulatorConfig,
        http: reqwest::Client,
        runtime: tokio::runtime::Handle,
        batch_tx: mpsc::UnboundedSender<StatusEvent>,
    ) -> Self {
        Self {
            phone_number_id: config.phone_number_id,
            display_phone_number: config.display_phone_number,
            waba_id: config.waba_id,
            access_token: config.access_token,
            app_secret: config.app_secret,
            webhook_retry_delays: config.webhook_retry_delays,
            fault_timeout: config.fault_timeout,
            escape_non_ascii: config.escape_non_ascii,
            http,
            runtime,
            batch_tx,
            stopped: AtomicBool::new(false),
            media: Mutex::new(MediaLibrary::default()),
            inner: Mutex::new(Inner {
                webhook_url: config.webhook_url,
                max_mps: config.max_mps,
                status_webhooks: config.status_webhooks,
                templates: config.templates,
                enforce_window: config.enforce_window,
                answer_latency: config.answer_latency,
                faults: Faults::default(),
                windows: HashMap::new(),
                limiter: VecDeque::new(),
                recorder: Recorder::default(),
            }),
        }
    }

    /// The state; a panic elsewhere while it was held does not make it unusable.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The media library (files, faults, counters); separate from the rest of the state.
    pub fn media(&self) -> MutexGuard<'_, MediaLibrary> {
        self.media.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    pub fn runtime_config(&self) -> RuntimeConfig {
        let inner = self.lock();
        RuntimeConfig {
            phone_number_id: self.phone_number_id.clone(),
            display_phone_number: self.display_phone_number.clone(),
            waba_id: self.waba_id.clone(),
            webhook_url: inner.webhook_url.clone(),
            max_mps: inner.max_mps,
            status_webhooks: inner.status_webhooks.clone(),
            templates: inner.templates.clone(),
            enforce_window: inner.enforce_window,
            answer_latency: inner.answer_latency,
        }
    }

    pub fn apply(&self, patch: ConfigPatch) -> Result<RuntimeConfig, String> {
        if let Some(url) = patch.webhook_url.as_deref().filter(|u| !u.is_empty()) {
            crate::config::check_url(url)?;
        }
        {
            let mut inner = self.lock();
            if let Some(url) = patch.webhook_url {
                inner.webhook_url = Some(url).filter(|u| !u.is_empty());
            }
            if let Some(mps) = patch.max_mps {
                inner.max_mps = Some(mps).filter(|m| *m > 0);
            }
            if let Some(s) = patch.status_webhooks {
                inner.status_webhooks = s;
            }
            if let Some(w) = patch.enforce_window {
                inner.enforce_window = w;
            }
            if let Some(l) = patch.answer_latency {
                inner.answer_latency = l;
            }
        }
        Ok(self.runtime_config())
    }
}

impl Inner {
    /// `true` if `wa_id` wrote within the last 24 hours.
    pub fn window_open(&self, wa_id: &str, now: OffsetDateTime) -> bool {
        self.windows
            .get(wa_id)
            .is_some_and(|last| now - *last < SERVICE_WINDOW)
    }

    /// Records a user message at `at` (keeps the latest).
    pub fn open_window(&mut self, wa_id: String, at: OffsetDateTime) {
        let entry = self.windows.entry(wa_id).or_insert(at);
        if *entry < at {
            *entry = at;
        }
    }

    /// `true` if one more message now stays within `max_mps` in the last second;
    /// then it is counted.
    pub fn take_throughput(&mut self, now: Instant) -> bool {
        let Some(max) = self.max_mps else {
            return true;
        };
        while self
            .limiter
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.limiter.pop_front();
        }
        if self.limiter.len() >= max as usize {
            return false;
        }
        // (Arrivals are read before the lock: keep them in order.)
        let mut i = self.limiter.len();
        while i > 0 && self.limiter[i - 1] > now {
            i -= 1;
        }
        self.limiter.insert(i, now);
        true
    }
}
