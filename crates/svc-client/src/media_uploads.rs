//! Outbound media (migration `..._media_uploads.sql`): files agents upload through a signed
//! link to attach to a message. The gateway records a stored upload, and deletes the
//! uploads no message took.

use serde::Serialize;
use uuid::Uuid;

use crate::rpc::Rpc;
use crate::{SvcClient, SvcError};

/// A file the gateway stored for an upload (`svc.record_media_upload`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedMedia<'a> {
    /// image, audio, video, document or sticker: the kind the link was minted for.
    pub kind: &'a str,
    pub object_key: &'a str,
    pub mime_type: &'a str,
    pub size_bytes: u64,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: &'a str,
    pub file_name: Option<&'a str>,
}

#[derive(Serialize)]
pub(crate) struct RecordMediaUpload<'a> {
    p_upload_id: Uuid,
    p_kind: &'a str,
    p_object_key: &'a str,
    p_mime_type: &'a str,
    p_size_bytes: u64,
    p_sha256: &'a str,
    p_file_name: Option<&'a str>,
}

impl Rpc for RecordMediaUpload<'_> {
    const FUNCTION: &'static str = "record_media_upload";
    const ARGS: &'static [(&'static str, &'static str)] = &[
        ("p_upload_id", "uuid"),
        ("p_kind", "text"),
        ("p_object_key", "text"),
        ("p_mime_type", "text"),
        ("p_size_bytes", "bigint"),
        ("p_sha256", "text"),
        ("p_file_name", "text"),
    ];
    const RETURNS: &'static str = "boolean";
    type Answer = bool;

    fn example() -> Self {
        Self {
            p_upload_id: Uuid::nil(),
            p_kind: "image",
            p_object_key: "messages/00000000-0000-0000-0000-000000000000",
            p_mime_type: "image/png",
            p_size_bytes: 1024,
            p_sha256: "0f",
            p_file_name: Some("photo.png"),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct ClaimStaleMediaUploads {
    p_older_than_seconds: u32,
    p_limit: usize,
}

impl Rpc for ClaimStaleMediaUploads {
    const FUNCTION: &'static str = "claim_stale_media_uploads";
    const ARGS: &'static [(&'static str, &'static str)] =
        &[("p_older_than_seconds", "integer"), ("p_limit", "integer")];
    const RETURNS: &'static str = "jsonb";
    type Answer = Vec<Uuid>;

    fn example() -> Self {
        Self {
            p_older_than_seconds: 86_400,
            p_limit: 100,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct RecordMediaUploadsDeleted<'a> {
    p_upload_ids: &'a [Uuid],
}

impl Rpc for RecordMediaUploadsDeleted<'_> {
    const FUNCTION: &'static str = "record_media_uploads_deleted";
    const ARGS: &'static [(&'static str, &'static str)] = &[("p_upload_ids", "uuid[]")];
    const RETURNS: &'static str = "integer";
    type Answer = u32;

    fn example() -> Self {
        Self { p_upload_ids: &[] }
    }
}

impl SvcClient {
    /// Records an upload's stored file (pending -> stored). False for an unknown upload,
    /// one minted for another kind, or one already stored.
    pub async fn record_media_upload(
        &self,
        upload_id: Uuid,
        uploaded: &UploadedMedia<'_>,
    ) -> Result<bool, SvcError> {
        self.call(&RecordMediaUpload {
            p_upload_id: upload_id,
            p_kind: uploaded.kind,
            p_object_key: uploaded.object_key,
            p_mime_type: uploaded.mime_type,
            p_size_bytes: uploaded.size_bytes,
            p_sha256: uploaded.sha256,
            p_file_name: uploaded.file_name,
        })
        .await
    }

    /// The uploads no message took within `older_than_seconds`, oldest first.
    pub async fn claim_stale_media_uploads(
        &self,
        older_than_seconds: u32,
        limit: usize,
    ) -> Result<Vec<Uuid>, SvcError> {
        self.call(&ClaimStaleMediaUploads {
            p_older_than_seconds: older_than_seconds,
            p_limit: limit,
        })
        .await
    }

    /// Removes the rows of unattached uploads whose objects were deleted; how many.
    pub async fn record_media_uploads_deleted(&self, upload_ids: &[Uuid]) -> Result<u32, SvcError> {
        self.call(&RecordMediaUploadsDeleted {
            p_upload_ids: upload_ids,
        })
        .await
    }
}
