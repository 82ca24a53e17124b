//! The messaging limit the worker sends under: `WHATSAPP_MESSAGING_LIMIT` when set (an
//! override), otherwise the limit Meta announced for the number's business portfolio
//! (learned from its webhooks, `svc.messaging_limit`), read at start.

use svc_client::SvcClient;

use crate::MessagingLimit;

/// The portfolio's announced limit; `fallback` while Meta has said nothing (or the
/// database can't tell).
pub async fn learned_or(
    svc: &SvcClient,
    phone_number_id: &str,
    fallback: MessagingLimit,
) -> MessagingLimit {
    match svc.messaging_limit(phone_number_id).await {
        Ok(learned) => match learned.messaging_limit {
            Some(users) => MessagingLimit::from_announced(users).unwrap_or_else(|| {
                tracing::warn!(
                    users,
                    "Meta announced a limit that is no tier; using the fallback"
                );
                fallback
            }),
            None => fallback,
        },
        Err(e) => {
            tracing::warn!(error = %e, "the learned messaging limit could not be read; using the fallback");
            fallback
        }
    }
}
