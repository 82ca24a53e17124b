//! Outbound attachments: an agent's file, streamed from the request body into the media
//! store while it is counted, hashed and checked against WhatsApp's limits for its kind
//! (`limits`). Never held whole in memory: chunks go to a multipart write as they come.

use bytes::Bytes;
use futures::{Stream, StreamExt};
use object_store::WriteMultipart;
use sha2::{Digest, Sha256};

use super::limits;

/// Parts in flight to the store at once (as the fetcher).
const WRITE_CONCURRENCY: usize = 2;
/// The first bytes kept to tell an animated WebP sticker (its VP8X header).
const HEAD: usize = 32;

/// Why an upload is refused, with what the agent is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadRefusal {
    /// 413: larger than WhatsApp allows for the kind.
    TooLarge(String),
    /// 415: a MIME type WhatsApp does not take for the kind.
    TypeNotAllowed(String),
    /// 400: no body, or a body cut short.
    BadBody(String),
    /// 503: the media store failed.
    Store(String),
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// True for a WebP with the VP8X animation flag (RIFF....WEBPVP8X, flags byte 20, bit 1).
pub fn is_animated_webp(head: &[u8]) -> bool {
    head.len() > 20
        && &head[0..4] == b"RIFF"
        && &head[8..12] == b"WEBP"
        && &head[12..16] == b"VP8X"
        && head[20] & 0x02 != 0
}

/// Checks the declared type (and length, when given) before any byte is read.
pub fn precheck(kind: &str, mime_type: &str, declared: Option<u64>) -> Result<(), UploadRefusal> {
    // The largest a file of the kind may be (an animated sticker's, until the bytes say).
    let size = declared.unwrap_or(0);
    limits::check(kind, true, mime_type, size).map_err(refusal)
}

fn refusal(e: limits::LimitError) -> UploadRefusal {
    let text = format!("{}: {}", e.title, e.details);
    match e.code {
        "media_too_large" => UploadRefusal::TooLarge(text),
        _ => UploadRefusal::TypeNotAllowed(text),
    }
}

/// Streams `body` into `writer`, checking the limits of `kind` as bytes arrive; finishes
/// the write only when everything holds, aborts it otherwise.
pub async fn stream_into<S, E>(
    mut writer: WriteMultipart,
    kind: &str,
    mime_type: &str,
    mut body: S,
) -> Result<StoredUpload, UploadRefusal>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let ceiling = limits::max_size(kind, true).unwrap_or(0);
    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(HEAD);
    let mut size: u64 = 0;
    let problem = loop {
        match body.next().await {
            Some(Ok(chunk)) => {
                size += chunk.len() as u64;
                if size > ceiling {
                    break Some(refusal(limits::LimitError {
                        code: "media_too_large",
                        title: "The attachment is too large",
                        details: format!(
                            "{kind} of more than {ceiling} bytes; WhatsApp allows {ceiling} bytes"
                        ),
                    }));
                }
                if head.len() < HEAD {
                    let take = (HEAD - head.len()).min(chunk.len());
                    head.extend_from_slice(&chunk[..take]);
                }
                hasher.update(&chunk);
                if let Err(e) = writer.wait_for_capacity(WRITE_CONCURRENCY).await {
                    break Some(UploadRefusal::Store(format!(
                        "media store write failed: {e}"
                    )));
                }
                writer.put(chunk);
            }
            Some(Err(e)) => {
                break Some(UploadRefusal::BadBody(format!(
                    "the upload was cut short: {e}"
                )))
            }
            None => break None,
        }
    };
    let problem = problem
        .or_else(|| (size == 0).then(|| UploadRefusal::BadBody("the upload is empty".into())))
        .or_else(|| {
            limits::check(kind, is_animated_webp(&head), mime_type, size)
                .err()
                .map(refusal)
        });
    if let Some(problem) = problem {
        let _ = writer.abort().await;
        return Err(problem);
    }
    writer
        .finish()
        .await
        .map_err(|e| UploadRefusal::Store(format!("media store write failed: {e}")))?;
    Ok(StoredUpload {
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_animated_webp_is_told_by_its_vp8x_flag() {
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0\x02\0\0\0\0\0\0\0\0\0\0\0".to_vec();
        assert!(is_animated_webp(&webp));
        webp[20] = 0x10;
        assert!(!is_animated_webp(&webp));
        assert!(!is_animated_webp(b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(!is_animated_webp(b"\x89PNG\r\n\x1a\n"));
    }

    #[test]
    fn the_declared_type_and_length_are_checked_first() {
        assert_eq!(precheck("image", "image/png", Some(1000)), Ok(()));
        assert!(matches!(
            precheck("image", "image/gif", None),
            Err(UploadRefusal::TypeNotAllowed(_))
        ));
        assert!(matches!(
            precheck("image", "image/jpeg", Some(5 * 1024 * 1024 + 1)),
            Err(UploadRefusal::TooLarge(_))
        ));
        assert!(matches!(
            precheck("sticker", "image/webp", Some(500 * 1024 + 1)),
            Err(UploadRefusal::TooLarge(_))
        ));
    }
}
