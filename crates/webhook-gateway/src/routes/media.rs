//! `GET /media/{message_id}?exp=…&sig=…` on the public listener: a signed link minted by
//! the database (`public.media_link`) for someone allowed to see the message. The
//! signature and expiry are checked here with `MEDIA_LINK_SECRET`, with no database call;
//! then the stored file is streamed from the media store (never held whole in memory),
//! with its `Content-Type`, `Content-Length`, `Content-Disposition` (attachment for
//! documents) and single-range requests (206, 416).
//!
//! - forged, malformed or expired link: 403 (the same answer: nothing tells which);
//! - a valid link to a message with no stored file: 404.

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::media::links::LinkKey;
use crate::media::range::{self, RangeRequest};
use crate::media::store::StoredFacts;
use crate::startup::AppState;

#[derive(Deserialize)]
struct LinkQuery {
    exp: Option<String>,
    sig: Option<String>,
}

fn forbidden() -> HttpResponse {
    HttpResponse::Forbidden()
        .content_type("text/plain; charset=utf-8")
        .body("this media link is invalid or has expired; ask for a new one")
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("no media for this message")
}

/// `Content-Disposition`: documents download under their file name; the rest show inline.
fn disposition(facts: &StoredFacts) -> String {
    let kind = if facts.kind == "document" {
        "attachment"
    } else {
        "inline"
    };
    match &facts.file_name {
        Some(name) => {
            let ascii: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let encoded: String = name
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
        }
        None => kind.to_owned(),
    }
}

#[tracing::instrument(name = "serve media", skip_all)]
#[get("/media/{message_id}")]
pub async fn serve(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LinkQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(secret) = state.settings.media.link_secret.clone() else {
        return forbidden();
    };
    let (Ok(message_id), Some(Ok(exp)), Some(sig)) = (
        path.parse::<Uuid>(),
        query.exp.as_deref().map(str::parse::<i64>),
        query.sig.as_deref(),
    ) else {
        return forbidden();
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if LinkKey::new(secret)
        .verify(message_id, exp, sig, now)
        .is_err()
    {
        return forbidden();
    }
    let store = &state.media_store;
    let facts = match store.facts(message_id).await {
        Ok(Some(facts)) => facts,
        Ok(None) => return not_found(),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "reading a media object's facts failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    let size = facts.file_size;
    let range_header = req
        .headers()
        .get(header::RANGE)
        .and_then(|h| h.to_str().ok());
    let (mut response, range) = match range::parse(range_header, size) {
        RangeRequest::Unsatisfiable => {
            return HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish();
        }
        RangeRequest::Full => (HttpResponse::Ok(), None),
        RangeRequest::Partial(r) => {
            let mut partial = HttpResponse::PartialContent();
            partial.insert_header((
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{size}", r.start, r.end - 1),
            ));
            (partial, Some(r))
        }
    };
    let length = range.as_ref().map_or(size, |r| r.end - r.start);
    let read = match store
        .read(message_id, range.filter(|r| r.start != r.end))
        .await
    {
        Ok(read) => read,
        Err(object_store::Error::NotFound { .. }) => return not_found(),
        Err(e) => {
            tracing::warn!(error = %e, "reading a media object failed");
            return HttpResponse::ServiceUnavailable().finish();
        }
    };
    let stream = crate::media::MediaStore::chunks(read);
    response
        .insert_header((header::CONTENT_TYPE, facts.mime_type.clone()))
        .insert_header((header::CONTENT_DISPOSITION, disposition(&facts)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((header::CACHE_CONTROL, "private, max-age=300"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(SizedStream::new(length, stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(kind: &str, name: Option<&str>) -> StoredFacts {
        StoredFacts {
            mime_type: "application/pdf".into(),
            file_size: 1,
            file_name: name.map(str::to_owned),
            kind: kind.into(),
        }
    }

    #[test]
    fn documents_download_under_their_name_and_the_rest_show_inline() {
        assert_eq!(
            disposition(&facts("document", Some("factura 1.pdf"))),
            "attachment; filename=\"factura 1.pdf\"; filename*=UTF-8''factura%201.pdf"
        );
        assert_eq!(disposition(&facts("image", None)), "inline");
        assert_eq!(
            disposition(&facts("document", Some("a\"b\r\nñ.pdf"))),
            "attachment; filename=\"a_b___.pdf\"; filename*=UTF-8''a%22b%0D%0A%C3%B1.pdf"
        );
    }
}
