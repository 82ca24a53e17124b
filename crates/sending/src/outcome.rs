//! What the senders (the gateway's reply sender and the broadcast worker) do with an
//! outcome once they have it: decide what comes next ([`next_step`]: the sending policy,
//! the same for replies and broadcasts), describe a Graph error for people and the
//! database ([`error_data`]), and record it, retrying while the database is unreachable
//! ([`record`]), because an unrecorded outcome would otherwise become an "unknown
//! outcome" when its lease expires.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use whatsapp::{ErrorClass, GraphError, RetryPolicy};

use crate::graph::SendOutcome;

/// How many times [`record`] calls before giving up (about a minute and a half).
const RECORD_ATTEMPTS: u32 = 30;

/// What a sender does with a claimed item once it tried to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep<'a> {
    /// Meta accepted it: record the wamid (a probe send also resumes sending).
    Sent { wamid: &'a str },
    /// A retryable error (130429, 5xx, ...) or WhatsApp unreachable: back in the queue
    /// after this delay (exponential, jittered, at least any Retry-After).
    Retry(Duration),
    /// Retryable, but the item has waited longer than the policy allows: it fails.
    GiveUp,
    /// Our token, permission or account was refused: pause all sending for the number
    /// (a probe resumes it) and put the item back at once, unfailed.
    Pause,
    /// A permanent error: it fails; `opted_out` (131050) also marks the contact.
    Fail { opted_out: bool },
    /// The request left but no answer came: it fails as an unknown outcome and is never
    /// sent again on its own (the API has no idempotency key).
    Unknown,
}

/// The sending policy: what comes after `outcome` for an item on its `attempts`-th try,
/// first tried `first_attempt_age` ago. `jitter` in [0, 1) spreads retries.
pub fn next_step<'a>(
    outcome: &'a SendOutcome,
    attempts: u32,
    first_attempt_age: Duration,
    policy: &RetryPolicy,
    jitter: f64,
) -> NextStep<'a> {
    let retry = |retry_after| {
        policy
            .next_retry(
                attempts.saturating_sub(1),
                retry_after,
                jitter,
                first_attempt_age,
            )
            .map_or(NextStep::GiveUp, NextStep::Retry)
    };
    match outcome {
        SendOutcome::Accepted { wamid } => NextStep::Sent { wamid },
        SendOutcome::Rejected {
            class, retry_after, ..
        } => match class {
            ErrorClass::Retryable => retry(*retry_after),
            ErrorClass::PauseSending => NextStep::Pause,
            ErrorClass::OptedOut => NextStep::Fail { opted_out: true },
            ErrorClass::WindowClosed | ErrorClass::Permanent => NextStep::Fail { opted_out: false },
        },
        // Nothing left this process: safe to try again.
        SendOutcome::NotSent { .. } => retry(None),
        SendOutcome::Unknown { .. } => NextStep::Unknown,
    }
}

/// A rejected send as JSON for `error_data` (messages) and logs: Meta's code, title,
/// details, subcode and trace id, the HTTP status, our class, and when.
pub fn error_data(http_status: u16, class: ErrorClass, error: Option<&GraphError>) -> Value {
    json!({
        "code": error.and_then(|e| e.code),
        "title": error.and_then(|e| e.error_user_title.clone().or_else(|| e.message.clone())),
        "details": error.and_then(|e| e.details.clone().or_else(|| e.error_user_msg.clone())),
        "error_subcode": error.and_then(|e| e.error_subcode),
        "fbtrace_id": error.and_then(|e| e.fbtrace_id.clone()),
        "http_status": http_status,
        "class": class.as_str(),
        "source": "graph_api",
        "at": unix_now(),
    })
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// What became of [`record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// The database took it.
    Yes,
    /// The claim was no longer ours (its lease expired meanwhile).
    NotOurs,
    /// The database refused it for good, or never answered: the lease will expire and
    /// the item becomes an unknown outcome.
    GaveUp,
}

/// Records an outcome with `call` (a `svc.record_*` function answering whether the
/// claim was still ours), retrying errors that `is_transient` calls transient with
/// backoff (100 ms doubling to 5 s, bounded).
pub async fn record<F, Fut, E>(what: &str, is_transient: fn(&E) -> bool, call: F) -> Recorded
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<bool, E>>,
    E: std::fmt::Display,
{
    let mut delay = Duration::from_millis(100);
    for attempt in 1..=RECORD_ATTEMPTS {
        match call().await {
            Ok(true) => return Recorded::Yes,
            Ok(false) => {
                tracing::warn!(
                    what,
                    "the claim was no longer ours when recording (lease expired)"
                );
                return Recorded::NotOurs;
            }
            Err(e) if is_transient(&e) => {
                tracing::warn!(what, attempt, error = %e, "recording an outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(what, error = %e, "recording an outcome failed");
                return Recorded::GaveUp;
            }
        }
    }
    tracing::error!(
        what,
        "gave up recording an outcome; the lease will expire and mark it unknown"
    );
    Recorded::GaveUp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Flaky(bool);
    impl std::fmt::Display for Flaky {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "flaky (transient: {})", self.0)
        }
    }

    #[test]
    fn error_data_carries_the_code_title_details_and_class() {
        let error = GraphError::parse(
            br#"{"error":{"message":"(#131026) Message Undeliverable","type":"OAuthException","code":131026,
                "error_data":{"messaging_product":"whatsapp","details":"Message Undeliverable."},"fbtrace_id":"Ax"}}"#,
        );
        let data = error_data(400, ErrorClass::Permanent, error.as_ref());
        assert_eq!(data["code"], 131026);
        assert_eq!(data["title"], "(#131026) Message Undeliverable");
        assert_eq!(data["details"], "Message Undeliverable.");
        assert_eq!(data["class"], "permanent");
        assert_eq!(data["http_status"], 400);
        assert!(data["at"].as_i64().unwrap_or_default() > 1_700_000_000);
        let bare = error_data(503, ErrorClass::Retryable, None);
        assert!(bare["code"].is_null());
    }

    #[test]
    fn the_sending_policy_by_outcome() {
        fn next(outcome: &SendOutcome, age: Duration) -> NextStep<'_> {
            next_step(outcome, 1, age, &RetryPolicy::default(), 0.5)
        }
        fn rejected(class: ErrorClass, retry_after: Option<Duration>) -> SendOutcome {
            SendOutcome::Rejected {
                http_status: 400,
                class,
                error: None,
                retry_after,
            }
        }
        let young = Duration::from_secs(1);
        let too_old = RetryPolicy::default().max_age;
        let accepted = SendOutcome::Accepted {
            wamid: "wamid.1".into(),
        };
        let not_sent = SendOutcome::NotSent {
            reason: "connection refused".into(),
        };
        assert_eq!(next(&accepted, young), NextStep::Sent { wamid: "wamid.1" });
        assert!(matches!(
            next(&rejected(ErrorClass::Retryable, None), young),
            NextStep::Retry(_)
        ));
        assert_eq!(
            next(
                &rejected(ErrorClass::Retryable, Some(Duration::from_secs(7))),
                young
            ),
            NextStep::Retry(Duration::from_secs(7)),
            "Retry-After is a floor (the first computed delay is at most 2 s)"
        );
        assert!(matches!(next(&not_sent, young), NextStep::Retry(_)));
        assert_eq!(
            next(&rejected(ErrorClass::Retryable, None), too_old),
            NextStep::GiveUp
        );
        assert_eq!(next(&not_sent, too_old), NextStep::GiveUp);
        assert_eq!(
            next(&rejected(ErrorClass::PauseSending, None), young),
            NextStep::Pause
        );
        assert_eq!(
            next(&rejected(ErrorClass::OptedOut, None), young),
            NextStep::Fail { opted_out: true }
        );
        assert_eq!(
            next(&rejected(ErrorClass::Permanent, None), young),
            NextStep::Fail { opted_out: false }
        );
        assert_eq!(
            next(&rejected(ErrorClass::WindowClosed, None), young),
            NextStep::Fail { opted_out: false }
        );
        let unknown = SendOutcome::Unknown {
            reason: "timed out".into(),
        };
        assert_eq!(next(&unknown, young), NextStep::Unknown);
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_the_database_answers() {
        let calls = AtomicU32::new(0);
        let outcome = record(
            "sent",
            |e: &Flaky| e.0,
            || {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    if n < 3 {
                        Err(Flaky(true))
                    } else {
                        Ok(true)
                    }
                }
            },
        )
        .await;
        assert_eq!(outcome, Recorded::Yes);
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_lost_claim_and_a_permanent_error_are_not_retried() {
        let not_ours = record("sent", |e: &Flaky| e.0, || async { Ok(false) }).await;
        assert_eq!(not_ours, Recorded::NotOurs);
        let calls = AtomicU32::new(0);
        let refused = record(
            "sent",
            |e: &Flaky| e.0,
            || {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err::<bool, _>(Flaky(false)) }
            },
        )
        .await;
        assert_eq!(refused, Recorded::GaveUp);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
