//! The Graph API's media download, in two steps: `GET /{version}/{media-id}` answers a
//! short-lived URL (5 minutes) with the file's MIME type, sha256 and size; a GET of that URL
//! with the same bearer token answers the bytes. Outbound, `POST /{phone-number-id}/media`
//! uploads an agent's file to send by id.

use futures::StreamExt;
use serde::Deserialize;
use service_runtime::Secret;

/// What `GET /{media-id}` answers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MediaInfo {
    pub url: String,
    pub mime_type: String,
    pub sha256: String,
    pub file_size: u64,
}

/// Why a step failed, classified for the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphFailure {
    /// Worth another try later (5xx, 429, token refused, unreachable, an expired URL).
    Temporary(String),
    /// Meta no longer has the media (the id is unknown: 400/404 on the lookup).
    Gone(String),
}

/// Classifies an HTTP answer of the lookup that is not 200.
pub fn classify_lookup(status: u16, body: &str) -> GraphFailure {
    let text: String = body.chars().take(300).collect();
    match status {
        400 | 404 | 410 => GraphFailure::Gone(format!("Graph API answered {status}: {text}")),
        _ => GraphFailure::Temporary(format!("Graph API answered {status}: {text}")),
    }
}

/// The Graph API client for media.
#[derive(Clone)]
pub struct MediaGraph {
    http: reqwest::Client,
    base_url: String,
    api_version: String,
    token: Secret,
}

impl MediaGraph {
    pub fn new(
        base_url: &str,
        api_version: &str,
        token: Secret,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: reqwest::Client::builder().timeout(timeout).build()?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_version: api_version.to_owned(),
            token,
        })
    }

    /// `GET /{version}/{media-id}`.
    pub async fn lookup(&self, media_id: &str) -> Result<MediaInfo, GraphFailure> {
        if media_id.is_empty()
            || !media_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(GraphFailure::Gone(format!("not a media id: {media_id:?}")));
        }
        let url = format!("{}/{}/{media_id}", self.base_url, self.api_version);
        let answer = self
            .http
            .get(url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| GraphFailure::Temporary(format!("Graph API unreachable: {e}")))?;
        let status = answer.status().as_u16();
        let body = answer
            .text()
            .await
            .map_err(|e| GraphFailure::Temporary(format!("Graph API answer cut short: {e}")))?;
        if status != 200 {
            return Err(classify_lookup(status, &body));
        }
        serde_json::from_str(&body)
            .map_err(|e| GraphFailure::Temporary(format!("unreadable media lookup answer: {e}")))
    }

    /// `POST /{version}/{phone-number-id}/media`: uploads a file to send by id, as
    /// multipart form data (`messaging_product=whatsapp`, `type`, `file`), streaming `body`
    /// (`length` bytes). Answers the media id. Network errors, 429 and 5xx are temporary;
    /// other refusals are not (Meta won't take this file as it is).
    pub async fn upload<S>(
        &self,
        phone_number_id: &str,
        mime_type: &str,
        file_name: &str,
        length: u64,
        body: S,
    ) -> Result<String, GraphFailure>
    where
        S: futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        // reqwest wants a Sync body; a channel (two chunks deep) makes any stream one.
        let (mut sender, chunks) =
            futures::channel::mpsc::channel::<std::io::Result<bytes::Bytes>>(2);
        let forward = tokio::spawn(async move {
            use futures::SinkExt;
            let mut body = std::pin::pin!(body);
            while let Some(chunk) = body.next().await {
                if sender.send(chunk).await.is_err() {
                    break;
                }
            }
        });
        let boundary = format!("chatcentralize-{}", uuid::Uuid::new_v4().simple());
        let quoted = file_name.replace(['"', '\\', '\r', '\n'], "_");
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n{mime_type}\r\n\
             --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{quoted}\"\r\nContent-Type: {mime_type}\r\n\r\n"
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let total = head.len() as u64 + length + tail.len() as u64;
        let stream = futures::stream::once(async move { Ok(bytes::Bytes::from(head)) })
            .chain(chunks)
            .chain(futures::stream::once(async move {
                Ok(bytes::Bytes::from(tail))
            }));
        let url = format!(
            "{}/{}/{phone_number_id}/media",
            self.base_url, self.api_version
        );
        let answer = self
            .http
            .post(url)
            .bearer_auth(self.token.expose())
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .header(reqwest::header::CONTENT_LENGTH, total)
            .body(reqwest::Body::wrap_stream(stream))
            .send()
            .await;
        forward.abort();
        let answer =
            answer.map_err(|e| GraphFailure::Temporary(format!("media upload failed: {e}")))?;
        let status = answer.status().as_u16();
        let text = answer
            .text()
            .await
            .map_err(|e| GraphFailure::Temporary(format!("media upload answer cut short: {e}")))?;
        if status == 401 || status == 429 || status >= 500 {
            return Err(GraphFailure::Temporary(format!(
                "media upload answered {status}"
            )));
        }
        if status != 200 {
            return Err(GraphFailure::Gone(format!(
                "WhatsApp refused the file ({status}): {}",
                text.chars().take(300).collect::<String>()
            )));
        }
        #[derive(Deserialize)]
        struct Uploaded {
            id: String,
        }
        serde_json::from_str::<Uploaded>(&text)
            .map(|u| u.id)
            .map_err(|e| GraphFailure::Temporary(format!("unreadable media upload answer: {e}")))
    }

    /// The download: a response whose body is read chunk by chunk.
    pub async fn download(&self, info: &MediaInfo) -> Result<reqwest::Response, GraphFailure> {
        let answer = self
            .http
            .get(&info.url)
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| GraphFailure::Temporary(format!("media download unreachable: {e}")))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(GraphFailure::Temporary(format!(
                "media download answered {} (an expired URL is looked up again)",
                status.as_u16()
            )));
        }
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_media_id_is_gone_and_server_errors_are_temporary() {
        assert!(matches!(
            classify_lookup(400, "{\"error\":{\"code\":100}}"),
            GraphFailure::Gone(_)
        ));
        assert!(matches!(classify_lookup(404, ""), GraphFailure::Gone(_)));
        for status in [500, 502, 503, 429, 401, 403] {
            assert!(
                matches!(classify_lookup(status, ""), GraphFailure::Temporary(_)),
                "{status}"
            );
        }
    }
}
