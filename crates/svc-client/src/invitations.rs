//! Invitations to the team (migration `..._invitations.sql`): the gateway claims pending
//! ones with a lease, asks Supabase Auth to send its invite email, and records the outcome.

use std::fmt;

use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{SvcClient, SvcError};

/// An invitee's address. Printed masked (`n***@example.test`): logs name the invitation
/// by id, never a person by their full address.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct InviteeEmail(String);

impl InviteeEmail {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for InviteeEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first = local.chars().next().unwrap_or('?');
                write!(f, "{first}***@{domain}")
            }
            None => f.write_str("***"),
        }
    }
}

/// One claimed invitation (`svc.claim_invitations`).
#[derive(Debug, Clone, Deserialize)]
pub struct ClaimedInvitation {
    pub invitation_id: Uuid,
    pub email: InviteeEmail,
    /// This attempt's number, from 1.
    pub attempts: u32,
}

impl SvcClient {
    /// `svc.claim_invitations`: due pending invitations, leased to `owner`.
    pub async fn claim_invitations(
        &self,
        owner: &str,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<ClaimedInvitation>, SvcError> {
        self.call(
            "claim_invitations",
            &json!({ "p_owner": owner, "p_limit": limit, "p_lease_seconds": lease_seconds }),
        )
        .await
    }

    /// `svc.record_invitation_sent`; false when the lease is no longer ours.
    pub async fn record_invitation_sent(
        &self,
        invitation_id: Uuid,
        owner: &str,
    ) -> Result<bool, SvcError> {
        self.call(
            "record_invitation_sent",
            &json!({ "p_invitation_id": invitation_id, "p_owner": owner }),
        )
        .await
    }

    /// `svc.record_invitation_retry`: pending again after `delay_seconds`, with the error.
    pub async fn record_invitation_retry(
        &self,
        invitation_id: Uuid,
        owner: &str,
        delay_seconds: f64,
        error: &str,
    ) -> Result<bool, SvcError> {
        self.call(
            "record_invitation_retry",
            &json!({ "p_invitation_id": invitation_id, "p_owner": owner,
                     "p_delay_seconds": delay_seconds, "p_error": error }),
        )
        .await
    }

    /// `svc.record_invitation_failed`: failed with the error, until an admin resends it.
    pub async fn record_invitation_failed(
        &self,
        invitation_id: Uuid,
        owner: &str,
        error: &str,
    ) -> Result<bool, SvcError> {
        self.call(
            "record_invitation_failed",
            &json!({ "p_invitation_id": invitation_id, "p_owner": owner, "p_error": error }),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitee_email_prints_masked() {
        let email: InviteeEmail = serde_json::from_str("\"nueva.agente@example.test\"").unwrap();
        assert_eq!(format!("{email:?}"), "n***@example.test");
        assert_eq!(email.expose(), "nueva.agente@example.test");
    }
}
