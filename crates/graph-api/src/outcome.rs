//! What the senders (the gateway's reply sender and the broadcast worker) do with an
//! outcome once they have it: describe a Graph error for people and the database
//! ([`error_data`]), and record it, retrying while the database is unreachable
//! ([`record`]), because an unrecorded outcome would otherwise become an "unknown
//! outcome" when its lease expires.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use whatsapp::{ErrorClass, GraphError};

/// How many times [`record`] calls before giving up (about a minute and a half).
const RECORD_ATTEMPTS: u32 = 30;

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
