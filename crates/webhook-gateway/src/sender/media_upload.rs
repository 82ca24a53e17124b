//! Attachments of agents' messages: a claimed job whose message took an upload
//! (`metadata.upload_id`, set by the database when the message was inserted) is sent by
//! media id. The stored file (under the message's id in the media store) is streamed to
//! `POST /{phone-number-id}/media` first; the answer's id goes into the message.

use serde_json::Value;

use super::job::ClaimedJob;
use crate::media::graph::{GraphFailure, MediaGraph};
use crate::media::MediaStore;

/// Why an attachment could not be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadFailure {
    /// Worth another try (WhatsApp or the store unreachable, 5xx, 429).
    Temporary(String),
    /// WhatsApp won't take the file, or it is gone from the store.
    Permanent(String),
}

/// Uploads attachments to WhatsApp.
#[derive(Clone)]
pub struct MediaUploader {
    pub store: MediaStore,
    pub graph: MediaGraph,
    pub phone_number_id: String,
}

/// The attachment facts the database wrote on the message.
fn attachment(job: &ClaimedJob) -> Option<(String, Option<String>)> {
    let meta = job.metadata.as_ref()?;
    meta.get("upload_id")?;
    let mime_type = meta.get("mime_type").and_then(Value::as_str)?.to_owned();
    let file_name = meta
        .get("file_name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Some((mime_type, file_name))
}

impl MediaUploader {
    /// The WhatsApp media id of the job's attachment; `None` for a message without an upload.
    pub async fn media_id_for(&self, job: &ClaimedJob) -> Result<Option<String>, UploadFailure> {
        if job
            .metadata
            .as_ref()
            .and_then(|m| m.get("upload_id"))
            .is_none()
        {
            return Ok(None);
        }
        let Some((mime_type, file_name)) = attachment(job) else {
            return Err(UploadFailure::Permanent(
                "the message names an upload but not its type".into(),
            ));
        };
        let read = match self.store.read(job.message_id, None).await {
            Ok(read) => read,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(UploadFailure::Permanent(
                    "the attached file is no longer in the media store".into(),
                ))
            }
            Err(e) => {
                return Err(UploadFailure::Temporary(format!(
                    "reading the attached file failed: {e}"
                )))
            }
        };
        let length = read.meta.size;
        let name = file_name.unwrap_or_else(|| "attachment".to_owned());
        match self
            .graph
            .upload(
                &self.phone_number_id,
                &mime_type,
                &name,
                length,
                MediaStore::chunks(read),
            )
            .await
        {
            Ok(id) => Ok(Some(id)),
            Err(GraphFailure::Temporary(e)) => Err(UploadFailure::Temporary(e)),
            Err(GraphFailure::Gone(e)) => Err(UploadFailure::Permanent(e)),
        }
    }
}
