//! Invitations to the team (migration `..._invitations.sql`): the gateway claims pending
//! ones with a lease, asks Supabase Auth to send its invite email, and records the outcome.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::contract::EXAMPLE_OWNER;
use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// An invitee's address. Printed masked (`n***@example.test`): logs name the invitation
/// by id, never a person by their full address.
#[derive(Clone, PartialEq, Eq, Deserialize, Serialize)]
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
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ClaimedInvitation {
    pub invitation_id: Uuid,
    pub email: InviteeEmail,
    /// This attempt's number, from 1.
    pub attempts: u32,
}

#[derive(Serialize)]
pub(crate) struct ClaimInvitations<'a> {
    p_owner: &'a str,
    p_limit: usize,
    p_lease_seconds: u32,
}

impl Rpc for ClaimInvitations<'_> {
    const FUNCTION: &'static str = "claim_invitations";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_owner", "text"),
        ("p_limit", "integer"),
        ("p_lease_seconds", "integer"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<ClaimedInvitation>;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
            p_limit: 10,
            p_lease_seconds: 60,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordInvitationSent<'a> {
    p_invitation_id: Uuid,
    p_owner: &'a str,
}

impl Rpc for RecordInvitationSent<'_> {
    const FUNCTION: &'static str = "record_invitation_sent";
    const ARGS: &'static [(&'static str, &'static str)] =
        &[("p_invitation_id", "uuid"), ("p_owner", "text")];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_invitation_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordInvitationRetry<'a> {
    p_invitation_id: Uuid,
    p_owner: &'a str,
    p_delay_seconds: f64,
    p_error: &'a str,
}

impl Rpc for RecordInvitationRetry<'_> {
    const FUNCTION: &'static str = "record_invitation_retry";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_invitation_id", "uuid"),
        ("p_owner", "text"),
        ("p_delay_seconds", "double precision"),
        ("p_error", "text"),
    ];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_invitation_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_delay_seconds: 30.0,
            p_error: "Auth answered 503",
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordInvitationFailed<'a> {
    p_invitation_id: Uuid,
    p_owner: &'a str,
    p_error: &'a str,
}

impl Rpc for RecordInvitationFailed<'_> {
    const FUNCTION: &'static str = "record_invitation_failed";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_invitation_id", "uuid"),
        ("p_owner", "text"),
        ("p_error", "text"),
    ];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_invitation_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_error: "Auth refused the address",
        }
    }
}

impl SvcClient {
    /// `svc.claim_invitations`: due pending invitations, leased to `owner`.
    pub async fn claim_invitations(
        &self,
        owner: &str,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<ClaimedInvitation>, SvcError> {
        self.call(&ClaimInvitations {
            p_owner: owner,
            p_limit: limit,
            p_lease_seconds: lease_seconds,
        })
        .await
    }

    /// `svc.record_invitation_sent`; false when the lease is no longer ours.
    pub async fn record_invitation_sent(
        &self,
        invitation_id: Uuid,
        owner: &str,
    ) -> Result<bool, SvcError> {
        self.call(&RecordInvitationSent {
            p_invitation_id: invitation_id,
            p_owner: owner,
        })
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
        self.call(&RecordInvitationRetry {
            p_invitation_id: invitation_id,
            p_owner: owner,
            p_delay_seconds: delay_seconds,
            p_error: error,
        })
        .await
    }

    /// `svc.record_invitation_failed`: failed with the error, until an admin resends it.
    pub async fn record_invitation_failed(
        &self,
        invitation_id: Uuid,
        owner: &str,
        error: &str,
    ) -> Result<bool, SvcError> {
        self.call(&RecordInvitationFailed {
            p_invitation_id: invitation_id,
            p_owner: owner,
            p_error: error,
        })
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
