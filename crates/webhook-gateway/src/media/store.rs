//! The media store, through the `object_store` crate: a local directory (the default) or
//! an S3-compatible bucket (Supabase Storage's S3 endpoint, AWS S3, MinIO...), chosen by
//! `MEDIA_STORE`. A message's file is the object `messages/{message_id}`; beside it,
//! `messages/{message_id}.json` keeps what serving needs (MIME type, size, file name, kind)
//! so that serving a signed link needs no database call.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use uuid::Uuid;

/// Bytes read from a local file per chunk served (about one chunk per reader in flight).
const SERVE_CHUNK: u64 = 1024 * 1024;

/// Where media objects go (`MEDIA_STORE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A local directory (created if missing).
    Directory(PathBuf),
    /// `s3://bucket[/prefix]`; endpoint, region and keys from the `AWS_*` variables
    /// (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_ALLOW_HTTP`), as the object_store crate reads them.
    S3 { bucket: String, prefix: String },
}

impl StoreLocation {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must be a directory or s3://bucket[/prefix]".into());
        }
        if let Some(rest) = raw.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("s3:// needs a bucket name".into());
            }
            return Ok(Self::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if raw.contains("://") {
            return Err(format!(
                "{raw:?}: only a directory or s3://bucket[/prefix] is supported"
            ));
        }
        Ok(Self::Directory(PathBuf::from(raw)))
    }
}

/// What serving needs to know about a stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFacts {
    pub mime_type: String,
    pub file_size: u64,
    pub file_name: Option<String>,
    /// WhatsApp's kind (documents are served as attachments).
    pub kind: String,
}

/// The media store. Cheap to clone.
#[derive(Clone)]
pub struct MediaStore {
    objects: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MediaStore({})", self.objects)
    }
}

impl MediaStore {
    pub fn open(location: &StoreLocation) -> anyhow::Result<Self> {
        let objects: Arc<dyn ObjectStore> = match location {
            StoreLocation::Directory(dir) => {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("Failed to create the media directory {}", dir.display())
                })?;
                Arc::new(LocalFileSystem::new_with_prefix(dir).with_context(|| {
                    format!("Failed to open the media directory {}", dir.display())
                })?)
            }
            StoreLocation::S3 { bucket, prefix } => {
                let s3 = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .context("Failed to configure the S3 media store (MEDIA_STORE, AWS_*)")?;
                if prefix.is_empty() {
                    Arc::new(s3)
                } else {
                    Arc::new(PrefixStore::new(s3, prefix.as_str()))
                }
            }
        };
        Ok(Self { objects })
    }

    /// The object of a message's file (what `messages.media_url` holds).
    pub fn object_key(message_id: Uuid) -> String {
        format!("messages/{message_id}")
    }

    fn facts_key(message_id: Uuid) -> Path {
        Path::from(format!("messages/{message_id}.json"))
    }

    /// A writer of a message's file: nothing is visible until `finish`, and `abort`
    /// leaves nothing behind.
    pub async fn writer(&self, message_id: Uuid) -> object_store::Result<WriteMultipart> {
        let upload = self
            .objects
            .put_multipart(&Path::from(Self::object_key(message_id)))
            .await?;
        Ok(WriteMultipart::new(upload))
    }

    pub async fn put_facts(&self, message_id: Uuid, facts: &StoredFacts) -> anyhow::Result<()> {
        let json = serde_json::to_vec(facts).context("Failed to encode the media facts")?;
        self.objects
            .put(&Self::facts_key(message_id), PutPayload::from(json))
            .await
            .context("Failed to store the media facts")?;
        Ok(())
    }

    /// The facts of a stored file; `None` when nothing is stored for the message.
    pub async fn facts(&self, message_id: Uuid) -> anyhow::Result<Option<StoredFacts>> {
        match self.objects.get(&Self::facts_key(message_id)).await {
            Ok(found) => {
                let bytes = found
                    .bytes()
                    .await
                    .context("Failed to read the media facts")?;
                Ok(Some(
                    serde_json::from_slice(&bytes).context("Unreadable media facts")?,
                ))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).context("Failed to read the media facts"),
        }
    }

    /// Bytes `range` (or all) of a message's file, as a stream of chunks.
    pub async fn read(
        &self,
        message_id: Uuid,
        range: Option<std::ops::Range<u64>>,
    ) -> object_store::Result<object_store::GetResult> {
        let options = object_store::GetOptions {
            range: range.map(object_store::GetRange::Bounded),
            ..Default::default()
        };
        self.objects
            .get_opts(&Path::from(Self::object_key(message_id)), options)
            .await
    }

    /// The bytes of a read as a stream of chunks. A local file is read 1 MB at a time
    /// (object_store's own stream reads 8 KB per blocking call, a sixth of the disk's
    /// speed through HTTP); a remote store's stream is passed on as it comes.
    pub fn chunks(
        read: object_store::GetResult,
    ) -> BoxStream<'static, std::io::Result<bytes::Bytes>> {
        let range = read.range.clone();
        match read.payload {
            object_store::GetResultPayload::File(file, _) => {
                let file = tokio::fs::File::from_std(file);
                futures::stream::try_unfold(
                    (file, range.start, range.end, false),
                    |(mut file, at, end, positioned)| async move {
                        if !positioned {
                            file.seek(std::io::SeekFrom::Start(at)).await?;
                        }
                        if at >= end {
                            return Ok(None);
                        }
                        let n = usize::try_from((end - at).min(SERVE_CHUNK)).unwrap_or(0);
                        let mut buf = vec![0u8; n];
                        file.read_exact(&mut buf).await?;
                        Ok(Some((
                            bytes::Bytes::from(buf),
                            (file, at + n as u64, end, true),
                        )))
                    },
                )
                .boxed()
            }
            object_store::GetResultPayload::Stream(stream) => stream
                .map_err(|e| std::io::Error::other(e.to_string()))
                .boxed(),
        }
    }

    /// Where an agent's upload is written before the database records it
    /// (`uploads/<upload_id>.<attempt>`): two uploads through the same link never
    /// overwrite each other or a recorded file.
    pub fn staging_key(upload_id: Uuid, attempt: Uuid) -> String {
        format!("uploads/{upload_id}.{attempt}")
    }

    /// A writer of an upload's staging object (see `staging_key`).
    pub async fn staging_writer(&self, staging_key: &str) -> object_store::Result<WriteMultipart> {
        let upload = self.objects.put_multipart(&Path::from(staging_key)).await?;
        Ok(WriteMultipart::new(upload))
    }

    /// Moves a recorded upload to its message's place (the upload's id is the message's).
    pub async fn promote_staging(&self, staging_key: &str, message_id: Uuid) -> anyhow::Result<()> {
        self.objects
            .rename(
                &Path::from(staging_key),
                &Path::from(Self::object_key(message_id)),
            )
            .await
            .context("Failed to move an upload into place")
    }

    /// Removes a staging object (an absent one is fine).
    pub async fn delete_staging(&self, staging_key: &str) -> anyhow::Result<()> {
        match self.objects.delete(&Path::from(staging_key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).context("Failed to delete an upload's staging object"),
        }
    }

    /// Removes a message's file and its facts (absent ones are fine).
    pub async fn delete(&self, message_id: Uuid) -> anyhow::Result<()> {
        for key in [
            Path::from(Self::object_key(message_id)),
            Self::facts_key(message_id),
        ] {
            match self.objects.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e).context("Failed to delete a media object"),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_a_directory_or_an_s3_bucket() {
        assert_eq!(
            StoreLocation::parse("/var/lib/media").unwrap(),
            StoreLocation::Directory("/var/lib/media".into())
        );
        assert_eq!(
            StoreLocation::parse("s3://media/inbox/").unwrap(),
            StoreLocation::S3 {
                bucket: "media".into(),
                prefix: "inbox".into()
            }
        );
        assert_eq!(
            StoreLocation::parse("s3://media").unwrap(),
            StoreLocation::S3 {
                bucket: "media".into(),
                prefix: String::new()
            }
        );
        for bad in ["", "s3://", "gs://bucket", "https://x"] {
            assert!(StoreLocation::parse(bad).is_err(), "{bad}");
        }
    }
}
