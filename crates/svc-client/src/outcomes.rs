//! Recording send outcomes several per call (`svc.record_outbound_outcomes`,
//! `svc.record_broadcast_outcomes`): each sender task hands its outcome over and waits for
//! its own answer; a worker takes the outcomes that arrive within [`LINGER`] of the first
//! (up to `MAX_BATCH`) and makes one round trip. Without the wait, a broadcast at
//! 1,000/s recorded 1.6 outcomes per call (12,830 calls for 20,000 sends in `bench loop`,
//! each a PostgREST request and a planned statement). A few workers call side by side, so
//! that one slow call (the database busy with a status storm) doesn't hold every outcome
//! behind it; their batches are disjoint claims, so they don't wait for each other. (The
//! wait costs a send nothing: it left the air when WhatsApp answered.)

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use crate::contract::EXAMPLE_OWNER;
use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

const MAX_BATCH: usize = 200;
/// How long a worker waits, after the first outcome of a batch, for more to join it.
const LINGER: Duration = Duration::from_millis(10);
/// Calls in flight at once.
const WORKERS: usize = 2;

/// What became of one claimed reply (an element of `svc.record_outbound_outcomes`'
/// `p_outcomes`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OutboundOutcome {
    /// Meta accepted it with this wamid.
    Sent { message_id: Uuid, wamid: String },
    /// It failed for good, with `error_data`; `opted_out` also marks the contact.
    Failed {
        message_id: Uuid,
        error: Value,
        opted_out: bool,
    },
    /// Back in the queue after `delay_seconds`, with the error that sent it back.
    Retry {
        message_id: Uuid,
        delay_seconds: f64,
        error: Value,
    },
}

/// What became of one claimed broadcast recipient (an element of
/// `svc.record_broadcast_outcomes`' `p_outcomes`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum BroadcastOutcome {
    /// Meta accepted it with this wamid.
    Sent {
        broadcast_id: Uuid,
        contact_id: Uuid,
        wamid: String,
    },
    /// It failed for good; `opted_out` also marks the contact.
    Failed {
        broadcast_id: Uuid,
        contact_id: Uuid,
        error_message: String,
        opted_out: bool,
    },
    /// Back in the queue after `delay_seconds`.
    Retry {
        broadcast_id: Uuid,
        contact_id: Uuid,
        delay_seconds: f64,
        error_message: String,
    },
}

/// An outcome recorded by a batch function answering one boolean per outcome.
pub trait RecordedOutcome: Serialize + Clone + Send + Sync + 'static {
    /// The `svc` function that records a batch of them.
    const FUNCTION: &'static str;

    /// Outcomes of each kind, for the contract test.
    #[doc(hidden)]
    fn examples() -> Vec<Self>;
}

impl RecordedOutcome for OutboundOutcome {
    const FUNCTION: &'static str = "record_outbound_outcomes";

    fn examples() -> Vec<Self> {
        let message_id = Uuid::nil();
        vec![
            Self::Sent {
                message_id,
                wamid: "wamid.contract".into(),
            },
            Self::Failed {
                message_id,
                error: json!({}),
                opted_out: false,
            },
            Self::Retry {
                message_id,
                delay_seconds: 1.5,
                error: json!({}),
            },
        ]
    }
}

impl RecordedOutcome for BroadcastOutcome {
    const FUNCTION: &'static str = "record_broadcast_outcomes";

    fn examples() -> Vec<Self> {
        let (broadcast_id, contact_id) = (Uuid::nil(), Uuid::nil());
        vec![
            Self::Sent {
                broadcast_id,
                contact_id,
                wamid: "wamid.contract".into(),
            },
            Self::Failed {
                broadcast_id,
                contact_id,
                error_message: "131026: Message Undeliverable".into(),
                opted_out: true,
            },
            Self::Retry {
                broadcast_id,
                contact_id,
                delay_seconds: 1.5,
                error_message: "130429: Rate limit hit".into(),
            },
        ]
    }
}

/// `svc.record_outbound_outcomes(p_owner, p_outcomes)` or
/// `svc.record_broadcast_outcomes(p_owner, p_outcomes)`.
#[derive(Serialize)]
pub(crate) struct RecordOutcomes<'a, O: RecordedOutcome> {
    p_owner: &'a str,
    p_outcomes: Cow<'a, [O]>,
}

impl<O: RecordedOutcome> Rpc for RecordOutcomes<'_, O> {
    const FUNCTION: &'static str = O::FUNCTION;
    const ARGS: &'static [(&'static str, &'static str)] =
        &[("p_owner", "text"), ("p_outcomes", "jsonb")];
    const RETURNS: &'static str = "jsonb";
    /// Per outcome, in order: whether the claim was still the caller's.
    type Answer = Vec<bool>;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
            p_outcomes: Cow::Owned(O::examples()),
        }
    }
}

type Reply = oneshot::Sender<Result<bool, SvcError>>;

#[derive(Clone)]
pub struct OutcomeBatcher<O: RecordedOutcome> {
    tx: mpsc::Sender<(O, Reply)>,
}

impl<O: RecordedOutcome> OutcomeBatcher<O> {
    /// Starts [`WORKERS`] workers calling `O::FUNCTION(p_owner, p_outcomes)`, which
    /// answers one boolean per outcome (whether the claim was still `owner`'s).
    pub fn start(svc: SvcClient, owner: String) -> Self {
        let (tx, rx) = mpsc::channel::<(O, Reply)>(MAX_BATCH * 8);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..WORKERS {
            let (svc, owner, rx) = (svc.clone(), owner.clone(), Arc::clone(&rx));
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut rx = rx.lock().await;
                        let Some(batch) =
                            crate::batch::next_batch(&mut rx, MAX_BATCH, LINGER).await
                        else {
                            break;
                        };
                        batch
                    };
                    record_batch(&svc, &owner, batch).await;
                }
            });
        }
        Self { tx }
    }

    /// Records one outcome (joining whatever batch goes next); whether the claim was ours.
    pub async fn record(&self, outcome: O) -> Result<bool, SvcError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((outcome, reply))
            .await
            .map_err(|_| SvcError::Unreachable("the outcome recorder stopped".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(SvcError::Unreachable("the outcome recorder stopped".into())))
    }
}

/// One call recording `batch`; each outcome's sender gets its own answer.
async fn record_batch<O: RecordedOutcome>(svc: &SvcClient, owner: &str, batch: Vec<(O, Reply)>) {
    let (outcomes, replies): (Vec<O>, Vec<Reply>) = batch.into_iter().unzip();
    let answer = svc
        .call(&RecordOutcomes {
            p_owner: owner,
            p_outcomes: Cow::Borrowed(&outcomes),
        })
        .await;
    match answer {
        Ok(results) if results.len() == replies.len() => {
            for (reply, ok) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(ok));
            }
        }
        other => {
            let e = match other {
                Err(e) => e,
                Ok(results) => SvcError::Decode {
                    function: O::FUNCTION.into(),
                    reason: format!("{} answers for {} outcomes", results.len(), replies.len()),
                },
            };
            for reply in replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_carry_their_kind_under_outcome() {
        let id = Uuid::nil();
        assert_eq!(
            serde_json::to_value(OutboundOutcome::Sent {
                message_id: id,
                wamid: "wamid.1".into()
            })
            .unwrap(),
            json!({ "outcome": "sent", "message_id": id, "wamid": "wamid.1" })
        );
        assert_eq!(
            serde_json::to_value(BroadcastOutcome::Retry {
                broadcast_id: id,
                contact_id: id,
                delay_seconds: 2.0,
                error_message: "x".into()
            })
            .unwrap(),
            json!({ "outcome": "retry", "broadcast_id": id, "contact_id": id,
                    "delay_seconds": 2.0, "error_message": "x" })
        );
    }
}
