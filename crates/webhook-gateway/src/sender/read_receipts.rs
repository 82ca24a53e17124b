//! WhatsApp read receipts (blue ticks) queued when an agent opens a conversation
//! (`public.mark_conversation_read`). Marking read twice is harmless, so unlike replies a
//! receipt whose outcome is unknown is simply tried again.

use std::time::Duration;

use sending::graph::{GraphClient, SendOutcome};
use svc_client::{ReadReceipt, ReceiptError, SvcClient};
use tokio::sync::watch;
use whatsapp::{ErrorClass, OutboundMessage, OutboundRequest};

const POLL: Duration = Duration::from_millis(250);
const BATCH: usize = 50;

pub async fn run(
    svc: SvcClient,
    graph: GraphClient,
    owner: String,
    lease_seconds: u32,
    mut stop: watch::Receiver<bool>,
) {
    while !*stop.borrow() {
        let pause = match svc.claim_read_receipts(&owner, BATCH, lease_seconds).await {
            Ok(receipts) if !receipts.is_empty() => {
                let full = receipts.len() == BATCH;
                futures::future::join_all(
                    receipts.iter().map(|r| send_one(&svc, &graph, &owner, r)),
                )
                .await;
                if full {
                    Duration::ZERO
                } else {
                    POLL
                }
            }
            Ok(_) => POLL,
            Err(e) => {
                tracing::warn!(error = %e, "claiming read receipts failed; retrying");
                Duration::from_secs(1)
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

async fn send_one(svc: &SvcClient, graph: &GraphClient, owner: &str, receipt: &ReadReceipt) {
    let request = OutboundRequest::new(
        "",
        OutboundMessage::MarkRead {
            message_id: receipt.wa_message_id.clone(),
        },
    );
    let retry_in = |attempts: u32| Duration::from_secs(2u64.saturating_pow(attempts.min(8)));
    let result = match graph.send(&request).await {
        SendOutcome::Accepted { .. } => svc.record_read_receipt_sent(receipt, owner).await,
        SendOutcome::Rejected {
            class: ErrorClass::Retryable | ErrorClass::PauseSending,
            http_status,
            error,
            retry_after,
            ..
        } => {
            let delay = retry_after.unwrap_or(retry_in(receipt.attempts));
            let error = ReceiptError::Deferred {
                http_status,
                code: error.as_ref().and_then(|e| e.code),
            };
            svc.record_read_receipt_retry(receipt, owner, delay.as_secs_f64(), &error)
                .await
        }
        SendOutcome::Rejected {
            http_status, error, ..
        } => {
            tracing::info!(conversation_id = %receipt.conversation_id, http_status, "read receipt refused; dropped");
            let error = ReceiptError::Refused {
                http_status,
                code: error.as_ref().and_then(|e| e.code),
                title: error.as_ref().and_then(|e| e.message.clone()),
            };
            svc.record_read_receipt_failed(receipt, owner, &error).await
        }
        SendOutcome::NotSent { reason } | SendOutcome::Unknown { reason } => {
            let error = ReceiptError::Unreachable {
                reason: reason.clone(),
            };
            svc.record_read_receipt_retry(
                receipt,
                owner,
                retry_in(receipt.attempts).as_secs_f64(),
                &error,
            )
            .await
        }
    };
    if let Err(e) = result {
        tracing::warn!(error = %e, conversation_id = %receipt.conversation_id, "recording a read receipt failed; its lease will expire and it is sent again");
    }
}
