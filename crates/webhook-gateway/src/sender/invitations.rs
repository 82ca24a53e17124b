//! Invitation emails: admins insert `public.invitations`; this loop claims pending ones
//! with a lease (`svc.claim_invitations`), asks Supabase Auth's admin API to send its
//! invite email (`POST /auth/v1/invite` with the service-role key, through the
//! `supabase-auth` crate) with no transaction open, and records the outcome.
//!
//! - Sent: Auth answered 2xx.
//! - Retried later (still pending, error visible): 5xx, 429, 408, no answer within the
//!   timeout, Auth unreachable. Exponential backoff from the base delay, with jitter.
//! - Failed (an admin sees `last_error` and may send again): any other 4xx, e.g. 422 (a
//!   confirmed user already has that address), 400 (not an address), 401/403 (the key is
//!   wrong: fix `SUPABASE_SERVICE_ROLE_KEY` and resend); or retries ran out.
//!
//! An invite email sent twice is harmless (Auth sends the same user a new link), so a
//! timed-out attempt is simply retried; what matters is not spamming: no retry after a
//! permanent error, and at most `max_attempts` in all.

use std::time::Duration;

use rand::Rng;
use service_runtime::Secret;
use supabase_auth::error::Error as AuthError;
use supabase_auth::models::AuthClient;
use svc_client::{ClaimedInvitation, SvcClient};
use tokio::sync::watch;

use crate::config::InvitationSettings;

/// Invitations claimed at once (they are sent one after the other).
const BATCH: usize = 10;
/// The longest wait between two attempts.
const MAX_DELAY: Duration = Duration::from_secs(3600);
/// Longest error text kept in `last_error`.
const MAX_ERROR_CHARS: usize = 500;

/// What to do with an invitation after one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum InviteOutcome {
    Sent,
    Retry { error: String },
    Failed { error: String },
}

/// How an answer from Auth (or its absence) is classified. `None`: no answer in time.
pub fn classify(result: Option<Result<(), &AuthError>>, timeout: Duration) -> InviteOutcome {
    match result {
        None => InviteOutcome::Retry {
            error: format!("no answer from Auth within {} ms", timeout.as_millis()),
        },
        Some(Ok(())) => InviteOutcome::Sent,
        // 2xx whose body the crate could not read as a user: Auth did send the invite.
        Some(Err(AuthError::AuthError { status, .. })) if status.is_success() => {
            InviteOutcome::Sent
        }
        Some(Err(AuthError::AuthError { status, message })) => {
            let code = status.as_u16();
            let error = shortened(&format!("HTTP {code}: {message}"));
            if code == 408 || code == 429 || status.is_server_error() {
                InviteOutcome::Retry { error }
            } else {
                InviteOutcome::Failed { error }
            }
        }
        Some(Err(AuthError::NetworkError(e))) => InviteOutcome::Retry {
            error: shortened(&format!("Auth unreachable: {e}")),
        },
        Some(Err(other)) => InviteOutcome::Failed {
            error: shortened(&format!("the invite request failed: {other}")),
        },
    }
}

/// The delay before attempt `attempts + 1`: base * 2^(attempts-1), at most an hour, minus
/// up to 20% jitter so that a burst of failures does not come back as one.
pub fn retry_delay(base: Duration, attempts: u32) -> Duration {
    let exponential = base.saturating_mul(2u32.saturating_pow(attempts.saturating_sub(1).min(20)));
    let capped = exponential.min(MAX_DELAY);
    let jitter = rand::thread_rng().gen_range(0.8..=1.0);
    capped.mul_f64(jitter)
}

fn shortened(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

/// Claims and sends invitations until `stop` turns true.
pub async fn run(
    svc: SvcClient,
    service_role_key: Secret,
    settings: InvitationSettings,
    owner: String,
    mut stop: watch::Receiver<bool>,
) {
    let auth = AuthClient::new(settings.auth_url.as_str(), service_role_key.expose(), "");
    tracing::info!(
        auth_url = settings.auth_url.as_str(),
        "invitation sender started"
    );
    while !*stop.borrow() {
        let pause = match svc
            .claim_invitations(&owner, BATCH, settings.lease_seconds())
            .await
        {
            Ok(claimed) if !claimed.is_empty() => {
                let full = claimed.len() == BATCH;
                for invitation in &claimed {
                    send_one(
                        &svc,
                        &auth,
                        &service_role_key,
                        &settings,
                        &owner,
                        invitation,
                    )
                    .await;
                }
                if full {
                    Duration::ZERO
                } else {
                    settings.poll_interval
                }
            }
            Ok(_) => settings.poll_interval,
            Err(e) => {
                tracing::warn!(error = %e, "claiming invitations failed; retrying");
                settings.poll_interval.max(Duration::from_secs(1))
            }
        };
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => {}
            }
        }
    }
    tracing::info!("invitation sender stopped");
}

#[tracing::instrument(name = "send_invitation", skip_all,
    fields(invitation_id = %invitation.invitation_id, attempt = invitation.attempts))]
async fn send_one(
    svc: &SvcClient,
    auth: &AuthClient,
    service_role_key: &Secret,
    settings: &InvitationSettings,
    owner: &str,
    invitation: &ClaimedInvitation,
) {
    let call =
        auth.invite_user_by_email(invitation.email.expose(), None, service_role_key.expose());
    let answer = tokio::time::timeout(settings.request_timeout, call).await;
    let classified = match &answer {
        Err(_elapsed) => classify(None, settings.request_timeout),
        Ok(Ok(_user)) => classify(Some(Ok(())), settings.request_timeout),
        Ok(Err(e)) => classify(Some(Err(e)), settings.request_timeout),
    };
    let outcome = match classified {
        InviteOutcome::Retry { error } if invitation.attempts >= settings.max_attempts => {
            InviteOutcome::Failed {
                error: format!(
                    "gave up after {} attempts; last error: {error}",
                    invitation.attempts
                ),
            }
        }
        outcome => outcome,
    };
    let id = invitation.invitation_id;
    let recorded = match &outcome {
        InviteOutcome::Sent => {
            tracing::info!("invitation email sent by Auth");
            svc.record_invitation_sent(id, owner).await
        }
        InviteOutcome::Retry { error } => {
            let delay = retry_delay(settings.retry_base_delay, invitation.attempts);
            tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "invitation not sent; will retry");
            svc.record_invitation_retry(id, owner, delay.as_secs_f64(), error)
                .await
        }
        InviteOutcome::Failed { error } => {
            tracing::warn!(%error, "invitation failed");
            svc.record_invitation_failed(id, owner, error).await
        }
    };
    let label = match outcome {
        InviteOutcome::Sent => "sent",
        InviteOutcome::Retry { .. } => "retry",
        InviteOutcome::Failed { .. } => "failed",
    };
    metrics::counter!("gateway_invitations_total", "outcome" => label).increment(1);
    match recorded {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            "the invitation was accepted, revoked or re-claimed meanwhile; its outcome is not recorded"
        ),
        Err(e) => tracing::warn!(error = %e, "recording the invitation's outcome failed; its lease will expire and it is tried again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, message: &str) -> AuthError {
        AuthError::AuthError {
            status: code.try_into().unwrap(),
            message: message.into(),
        }
    }

    fn answer(e: &AuthError) -> Option<Result<(), &AuthError>> {
        Some(Err(e))
    }

    #[test]
    fn success_and_any_2xx_are_sent() {
        let t = Duration::from_secs(1);
        assert_eq!(classify(Some(Ok(())), t), InviteOutcome::Sent);
        assert_eq!(
            classify(answer(&status(200, "{\"id\": 1}")), t),
            InviteOutcome::Sent
        );
    }

    #[test]
    fn server_errors_rate_limits_and_timeouts_are_retried() {
        let t = Duration::from_millis(1500);
        for code in [500, 502, 503, 504, 429, 408] {
            assert!(
                matches!(
                    classify(answer(&status(code, "x")), t),
                    InviteOutcome::Retry { .. }
                ),
                "{code}"
            );
        }
        assert_eq!(
            classify(None, t),
            InviteOutcome::Retry {
                error: "no answer from Auth within 1500 ms".into()
            }
        );
    }

    #[test]
    fn other_client_errors_fail_with_their_message() {
        let t = Duration::from_secs(1);
        let registered = status(
            422,
            "A user with this email address has already been registered",
        );
        assert_eq!(
            classify(answer(&registered), t),
            InviteOutcome::Failed {
                error: "HTTP 422: A user with this email address has already been registered"
                    .into()
            }
        );
        for code in [400, 401, 403, 404] {
            assert!(
                matches!(
                    classify(answer(&status(code, "x")), t),
                    InviteOutcome::Failed { .. }
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn retry_delays_double_up_to_an_hour_with_at_most_20_percent_jitter() {
        let base = Duration::from_secs(5);
        for (attempts, full) in [(1, 5.0), (2, 10.0), (3, 20.0), (30, 3600.0)] {
            let d = retry_delay(base, attempts).as_secs_f64();
            assert!(d <= full && d >= full * 0.8, "attempt {attempts}: {d}");
        }
    }

    #[test]
    fn long_errors_are_shortened() {
        let long = "x".repeat(2000);
        assert_eq!(shortened(&long).chars().count(), MAX_ERROR_CHARS + 3);
    }
}
