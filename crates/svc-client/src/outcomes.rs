//! Recording send outcomes several per call (`svc.record_outbound_outcomes`,
//! `svc.record_broadcast_outcomes`): each sender task hands its outcome over and waits for
//! its own answer; a worker takes whatever is waiting (up to `MAX_BATCH`) and makes one
//! round trip. Nobody waits for a batch to fill.

use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use crate::{SvcClient, SvcError};

const MAX_BATCH: usize = 200;

type Reply = oneshot::Sender<Result<bool, SvcError>>;

#[derive(Clone)]
pub struct OutcomeBatcher {
    tx: mpsc::Sender<(Value, Reply)>,
}

impl OutcomeBatcher {
    /// Starts the worker calling `svc.<function>(p_owner, p_outcomes)`, which answers one
    /// boolean per outcome (whether the claim was still `owner`'s).
    pub fn start(svc: SvcClient, owner: String, function: &'static str) -> Self {
        let (tx, mut rx) = mpsc::channel::<(Value, Reply)>(MAX_BATCH * 8);
        tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
                let outcomes: Vec<&Value> = batch.iter().map(|(o, _)| o).collect();
                let answer: Result<Vec<bool>, SvcError> = svc
                    .call(
                        function,
                        &json!({ "p_owner": owner, "p_outcomes": outcomes }),
                    )
                    .await;
                match answer {
                    Ok(results) if results.len() == batch.len() => {
                        for ((_, reply), ok) in batch.into_iter().zip(results) {
                            let _ = reply.send(Ok(ok));
                        }
                    }
                    other => {
                        let e = match other {
                            Err(e) => e,
                            Ok(results) => SvcError::Decode {
                                function: function.into(),
                                reason: format!(
                                    "{} answers for {} outcomes",
                                    results.len(),
                                    batch.len()
                                ),
                            },
                        };
                        for (_, reply) in batch {
                            let _ = reply.send(Err(e.clone()));
                        }
                    }
                }
            }
        });
        Self { tx }
    }

    /// Records one outcome (joining whatever batch goes next); whether the claim was ours.
    pub async fn record(&self, outcome: Value) -> Result<bool, SvcError> {
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
