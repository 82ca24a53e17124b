//! Inbound media (migration `..._media_fetches.sql`): the gateway claims due fetches with a
//! lease, downloads the bytes from the Graph API into the media store, and records the
//! outcome on the message.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::contract::EXAMPLE_OWNER;
use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// One claimed fetch (`svc.claim_media_fetches`): what the webhook said about the media.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ClaimedMediaFetch {
    pub message_id: Uuid,
    /// Meta's media id, for `GET /{media-id}`.
    pub media_id: String,
    /// image, audio, video, document or sticker.
    pub kind: String,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub file_name: Option<String>,
    pub animated: bool,
    /// This attempt's number, from 1.
    pub attempts: u32,
    /// Past this the media is gone at Meta: retries end there.
    #[serde(with = "time::serde::rfc3339")]
    pub give_up_at: OffsetDateTime,
}

/// What became of a temporary failure (`svc.record_media_retry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaRetryOutcome {
    /// Due again after the delay.
    Retrying,
    /// The delay would fall after Meta's retention: failed (media_expired).
    Failed,
    /// The lease is no longer ours; nothing recorded.
    NotLeased,
}

/// A stored object, as recorded on its message (`svc.record_media_stored`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMedia<'a> {
    pub object_key: &'a str,
    pub mime_type: &'a str,
    pub file_size: u64,
    pub sha256: &'a str,
    pub file_name: Option<&'a str>,
}

/// A permanent failure, shown on the message as `metadata.media.error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFailure {
    pub code: &'static str,
    pub title: &'static str,
    pub details: String,
}

#[derive(Serialize)]
pub(crate) struct ClaimMediaFetches<'a> {
    p_owner: &'a str,
    p_limit: usize,
    p_lease_seconds: u32,
}

impl Rpc for ClaimMediaFetches<'_> {
    const FUNCTION: &'static str = "claim_media_fetches";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_owner", "text"),
        ("p_limit", "integer"),
        ("p_lease_seconds", "integer"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<ClaimedMediaFetch>;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
            p_limit: 10,
            p_lease_seconds: 300,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordMediaStored<'a> {
    p_message_id: Uuid,
    p_owner: &'a str,
    p_object_key: &'a str,
    p_mime_type: &'a str,
    p_file_size: u64,
    p_sha256: &'a str,
    p_file_name: Option<&'a str>,
}

impl Rpc for RecordMediaStored<'_> {
    const FUNCTION: &'static str = "record_media_stored";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_message_id", "uuid"),
        ("p_owner", "text"),
        ("p_object_key", "text"),
        ("p_mime_type", "text"),
        ("p_file_size", "bigint"),
        ("p_sha256", "text"),
        ("p_file_name", "text"),
    ];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_message_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_object_key: "messages/00000000-0000-0000-0000-000000000000",
            p_mime_type: "image/png",
            p_file_size: 1024,
            p_sha256: "0f",
            p_file_name: None,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordMediaRetry<'a> {
    p_message_id: Uuid,
    p_owner: &'a str,
    p_delay_seconds: f64,
    p_error: &'a str,
}

impl Rpc for RecordMediaRetry<'_> {
    const FUNCTION: &'static str = "record_media_retry";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_message_id", "uuid"),
        ("p_owner", "text"),
        ("p_delay_seconds", "double precision"),
        ("p_error", "text"),
    ];
    const RETURNS: &'static str = "text";
    type Answer = MediaRetryOutcome;

    fn example() -> Self {
        Self {
            p_message_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_delay_seconds: 5.0,
            p_error: "Graph API answered 503",
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordMediaFailed<'a> {
    p_message_id: Uuid,
    p_owner: &'a str,
    p_code: &'a str,
    p_title: &'a str,
    p_details: &'a str,
}

impl Rpc for RecordMediaFailed<'_> {
    const FUNCTION: &'static str = "record_media_failed";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_message_id", "uuid"),
        ("p_owner", "text"),
        ("p_code", "text"),
        ("p_title", "text"),
        ("p_details", "text"),
    ];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_message_id: Uuid::nil(),
            p_owner: EXAMPLE_OWNER,
            p_code: "media_too_large",
            p_title: "The attachment is too large",
            p_details: "image of 6 MB; WhatsApp allows 5 MB",
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ConfigureMediaLinks<'a> {
    p_secret: &'a str,
    p_base_url: &'a str,
    p_ttl_seconds: u32,
}

impl Rpc for ConfigureMediaLinks<'_> {
    const FUNCTION: &'static str = "configure_media_links";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_secret", "text"),
        ("p_base_url", "text"),
        ("p_ttl_seconds", "integer"),
    ];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_secret: "contract-test-media-link-secret-32chars",
            p_base_url: "http://127.0.0.1:8080",
            p_ttl_seconds: 300,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ClaimMediaDeletions<'a> {
    p_owner: &'a str,
    p_limit: usize,
    p_lease_seconds: u32,
}

impl Rpc for ClaimMediaDeletions<'_> {
    const FUNCTION: &'static str = "claim_media_deletions";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_owner", "text"),
        ("p_limit", "integer"),
        ("p_lease_seconds", "integer"),
    ];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<Uuid>;

    fn example() -> Self {
        Self {
            p_owner: EXAMPLE_OWNER,
            p_limit: 100,
            p_lease_seconds: 60,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordMediaDeleted<'a> {
    p_message_ids: &'a [Uuid],
    p_owner: &'a str,
}

impl Rpc for RecordMediaDeleted<'_> {
    const FUNCTION: &'static str = "record_media_deleted";
    const ARGS: &'static [(&'static str, &'static str)] =
        &[("p_message_ids", "uuid[]"), ("p_owner", "text")];
    const RETURNS: &'static str = "integer";
    type Answer = u32;

    fn example() -> Self {
        Self {
            p_message_ids: &[],
            p_owner: EXAMPLE_OWNER,
        }
    }
}

impl SvcClient {
    /// `svc.claim_media_deletions`: message ids whose stored media must be deleted.
    pub async fn claim_media_deletions(
        &self,
        owner: &str,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<Uuid>, SvcError> {
        self.call(&ClaimMediaDeletions {
            p_owner: owner,
            p_limit: limit,
            p_lease_seconds: lease_seconds,
        })
        .await
    }

    /// `svc.record_media_deleted`: these messages' objects are gone; how many were recorded.
    pub async fn record_media_deleted(
        &self,
        message_ids: &[Uuid],
        owner: &str,
    ) -> Result<u32, SvcError> {
        self.call(&RecordMediaDeleted {
            p_message_ids: message_ids,
            p_owner: owner,
        })
        .await
    }

    /// `svc.configure_media_links`: the key of signed media links (`MEDIA_LINK_SECRET`),
    /// the gateway's public URL and the links' lifetime; true when they changed.
    pub async fn configure_media_links(
        &self,
        secret: &str,
        base_url: &str,
        ttl_seconds: u32,
    ) -> Result<bool, SvcError> {
        self.call(&ConfigureMediaLinks {
            p_secret: secret,
            p_base_url: base_url,
            p_ttl_seconds: ttl_seconds,
        })
        .await
    }

    /// `svc.claim_media_fetches`: due media fetches, leased to `owner`.
    pub async fn claim_media_fetches(
        &self,
        owner: &str,
        limit: usize,
        lease_seconds: u32,
    ) -> Result<Vec<ClaimedMediaFetch>, SvcError> {
        self.call(&ClaimMediaFetches {
            p_owner: owner,
            p_limit: limit,
            p_lease_seconds: lease_seconds,
        })
        .await
    }

    /// `svc.record_media_stored`: the message names the object; false when the lease is
    /// no longer ours.
    pub async fn record_media_stored(
        &self,
        message_id: Uuid,
        owner: &str,
        stored: &StoredMedia<'_>,
    ) -> Result<bool, SvcError> {
        self.call(&RecordMediaStored {
            p_message_id: message_id,
            p_owner: owner,
            p_object_key: stored.object_key,
            p_mime_type: stored.mime_type,
            p_file_size: stored.file_size,
            p_sha256: stored.sha256,
            p_file_name: stored.file_name,
        })
        .await
    }

    /// `svc.record_media_retry`: due again after `delay_seconds`, or failed past Meta's
    /// retention.
    pub async fn record_media_retry(
        &self,
        message_id: Uuid,
        owner: &str,
        delay_seconds: f64,
        error: &str,
    ) -> Result<MediaRetryOutcome, SvcError> {
        self.call(&RecordMediaRetry {
            p_message_id: message_id,
            p_owner: owner,
            p_delay_seconds: delay_seconds,
            p_error: error,
        })
        .await
    }

    /// `svc.record_media_failed`: failed for good, shown on the message.
    pub async fn record_media_failed(
        &self,
        message_id: Uuid,
        owner: &str,
        failure: &MediaFailure,
    ) -> Result<bool, SvcError> {
        self.call(&RecordMediaFailed {
            p_message_id: message_id,
            p_owner: owner,
            p_code: failure.code,
            p_title: failure.title,
            p_details: &failure.details,
        })
        .await
    }
}
