//! What the simulator received and did: accepted messages in order with their
//! receive times, mark-as-read calls, rejections by error code, every attempt
//! (for throughput proofs) and every webhook POST.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::timefmt::rfc3339_ms;

/// One accepted message (`GET /_sim/messages`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedMessage {
    /// The wamid the simulator answered with.
    pub wamid: String,
    /// `to` (or `recipient`) exactly as sent.
    pub to: String,
    /// The recipient's WhatsApp id (digits of the number, or the BSUID).
    pub wa_id: String,
    /// `type`: text, image, document, location, template, ...
    #[serde(rename = "type")]
    pub message_type: String,
    /// The request JSON as received.
    pub body: Value,
    /// When the simulator accepted it (RFC 3339, milliseconds, UTC).
    #[serde(with = "rfc3339_ms")]
    pub received_at: OffsetDateTime,
    /// `biz_opaque_callback_data`, if set.
    pub callback_data: Option<String>,
    /// `context.message_id`, if it is a reply.
    pub reply_to: Option<String>,
}

impl ReceivedMessage {
    /// `text.body` of a text message.
    pub fn text_body(&self) -> Option<&str> {
        self.body.get("text")?.get("body")?.as_str()
    }

    /// `template.name` of a template message.
    pub fn template_name(&self) -> Option<&str> {
        self.body.get("template")?.get("name")?.as_str()
    }
}

/// One accepted mark-as-read call (`GET /_sim/marked-read`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkedRead {
    /// The inbound wamid marked as read.
    pub message_id: String,
    /// When.
    #[serde(with = "rfc3339_ms")]
    pub received_at: OffsetDateTime,
}

/// Accepted messages in one calendar second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondCount {
    /// Unix second.
    pub second: i64,
    /// Messages accepted in it.
    pub accepted: u32,
}

/// Counters (`GET /_sim/stats`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Messages accepted (wamids handed out); mark-as-read not included.
    pub accepted: u64,
    /// Mark-as-read calls accepted.
    pub marked_read: u64,
    /// Requests answered with an error (including faults).
    pub rejected: u64,
    /// Rejections by Meta error code (`"130429"`, `"190"`, ...); timeouts that
    /// were not processed count under `"timeout"`.
    pub rejected_by_code: BTreeMap<String, u64>,
    /// Send attempts: every request of the messages endpoint except
    /// mark-as-read, whatever its outcome.
    pub attempts: u64,
    /// Most messages accepted in any sliding 1-second window.
    pub max_in_any_1s_window: u32,
    /// Most send attempts in any sliding 1-second window (what the senders
    /// tried, including rejected ones: above `max_mps` means a sender exceeded
    /// the limit).
    pub max_attempts_in_any_1s_window: u32,
    /// The throughput limit in force (`None`: unlimited).
    pub max_mps: Option<u32>,
    /// Accepted messages per calendar second, ascending.
    pub per_second: Vec<SecondCount>,
    /// First acceptance.
    #[serde(with = "rfc3339_ms::option")]
    pub first_received_at: Option<OffsetDateTime>,
    /// Last acceptance.
    #[serde(with = "rfc3339_ms::option")]
    pub last_received_at: Option<OffsetDateTime>,
    /// Webhook POSTs answered 2xx.
    pub webhooks_delivered: u64,
    /// Webhook POST attempts that failed (non-2xx, connection error, no URL).
    pub webhook_attempts_failed: u64,
}

/// What a webhook POST carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// `statuses[]`.
    Status,
    /// An injected inbound message.
    Inbound,
    /// A template's status or category changed (`message_template_status_update`,
    /// `template_category_update`).
    Template,
}

/// One webhook POST attempt (`GET /_sim/webhooks`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Statuses or an inbound message.
    pub kind: WebhookKind,
    /// The wamids in the payload.
    pub wamids: Vec<String>,
    /// The statuses in the payload, in order (empty for inbound).
    pub statuses: Vec<String>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
    /// The gateway's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When the attempt ended.
    #[serde(with = "rfc3339_ms")]
    pub at: OffsetDateTime,
    /// How long the gateway took to answer (or to fail), in milliseconds.
    #[serde(default)]
    pub elapsed_ms: f64,
}

impl WebhookDelivery {
    /// `true` if the gateway answered 2xx.
    pub fn succeeded(&self) -> bool {
        self.http_status.is_some_and(|s| (200..300).contains(&s))
    }
}

#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub messages: Vec<ReceivedMessage>,
    accepted_at: Vec<Instant>,
    attempts_at: Vec<Instant>,
    pub marked_read: Vec<MarkedRead>,
    rejected_by_code: BTreeMap<String, u64>,
    pub deliveries: Vec<WebhookDelivery>,
}

impl Recorder {
    /// `at`: when the request arrived (read before the lock, so a little out of order).
    pub fn attempt(&mut self, at: Instant) {
        insert_in_order(&mut self.attempts_at, at);
    }

    pub fn accept(&mut self, at: Instant, message: ReceivedMessage) {
        insert_in_order(&mut self.accepted_at, at);
        self.messages.push(message);
    }

    pub fn reject(&mut self, code: &str) {
        *self.rejected_by_code.entry(code.to_string()).or_default() += 1;
    }

    pub fn max_in_any_one_second_window(&self) -> u32 {
        max_in_window(&self.accepted_at, Duration::from_secs(1))
    }

    pub fn stats(&self, max_mps: Option<u32>) -> Stats {
        let mut per_second: BTreeMap<i64, u32> = BTreeMap::new();
        for m in &self.messages {
            *per_second
                .entry(m.received_at.unix_timestamp())
                .or_default() += 1;
        }
        Stats {
            accepted: self.messages.len() as u64,
            marked_read: self.marked_read.len() as u64,
            rejected: self.rejected_by_code.values().sum(),
            rejected_by_code: self.rejected_by_code.clone(),
            attempts: self.attempts_at.len() as u64,
            max_in_any_1s_window: self.max_in_any_one_second_window(),
            max_attempts_in_any_1s_window: max_in_window(&self.attempts_at, Duration::from_secs(1)),
            max_mps,
            per_second: per_second
                .into_iter()
                .map(|(second, accepted)| SecondCount { second, accepted })
                .collect(),
            first_received_at: self.messages.first().map(|m| m.received_at),
            last_received_at: self.messages.last().map(|m| m.received_at),
            webhooks_delivered: self.deliveries.iter().filter(|d| d.succeeded()).count() as u64,
            webhook_attempts_failed: self.deliveries.iter().filter(|d| !d.succeeded()).count()
                as u64,
        }
    }
}

/// Adds `at` to `sorted` (ascending), from the end: instants arrive nearly in order.
pub(crate) fn insert_in_order(sorted: &mut Vec<Instant>, at: Instant) {
    let mut i = sorted.len();
    while i > 0 && sorted[i - 1] > at {
        i -= 1;
    }
    sorted.insert(i, at);
}

/// The most instants (sorted ascending) within any half-open window
/// `[t, t + window)`.
pub(crate) fn max_in_window(sorted: &[Instant], window: Duration) -> u32 {
    let mut best = 0usize;
    let mut start = 0usize;
    for (end, t) in sorted.iter().enumerate() {
        while t.duration_since(sorted[start]) >= window {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    u32::try_from(best).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_read_a_little_out_of_order_are_kept_in_order() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut sorted = Vec::new();
        for ms in [0, 5, 3, 7, 7, 1, 9] {
            insert_in_order(&mut sorted, at(ms));
        }
        let want: Vec<Instant> = [0, 1, 3, 5, 7, 7, 9].into_iter().map(at).collect();
        assert_eq!(sorted, want);
    }

    #[test]
    fn the_sliding_window_counts_the_densest_second() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(max_in_window(&[], Duration::from_secs(1)), 0);
        assert_eq!(max_in_window(&[at(0)], Duration::from_secs(1)), 1);
        // 0, 999 are in one window; 1000 starts a new one with 999.
        let times = [at(0), at(999), at(1000), at(1500), at(1998), at(2999)];
        assert_eq!(max_in_window(&times, Duration::from_secs(1)), 4);
        let burst: Vec<Instant> = (0..50).map(|i| at(i * 10)).collect();
        assert_eq!(max_in_window(&burst, Duration::from_secs(1)), 50);
        let spread: Vec<Instant> = (0..50).map(|i| at(i * 100)).collect();
        assert_eq!(max_in_window(&spread, Duration::from_secs(1)), 10);
    }
}
