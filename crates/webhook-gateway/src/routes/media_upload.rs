//! `PUT` or `POST /media/uploads/{upload_id}?kind=…&exp=…&sig=…[&name=…]` on the public
//! listener: an agent's attachment, through an upload link the database minted
//! (`public.media_upload_link`, only for a conversation the caller may write in). The body
//! is the file itself, its type in `Content-Type`; `name` is the file name shown for
//! documents. Signature and expiry are checked with `MEDIA_LINK_SECRET`; the body streams
//! into the media store under checks of WhatsApp's limits for the kind; the database then
//! records the upload (`svc.record_media_upload`) and the file moves to its place.
//!
//! - forged, malformed or expired link: 403;
//! - larger than WhatsApp allows for the kind: 413; a type it does not take: 415;
//! - an empty or cut body: 400; a link already used: 409;
//! - 201 with `{upload_id, mime_type, size_bytes, sha256, file_name}` when stored.
//!
//! Browsers upload from the frontend's origin: the signed link is the only credential (no
//! cookies), so any origin may use it (`Access-Control-Allow-Origin: *`, and a preflight
//! answer for `OPTIONS`).

use actix_web::http::header;
use actix_web::{route, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use uuid::Uuid;

use crate::media::links::LinkKey;
use crate::media::store::{MediaStore, StoredFacts};
use crate::media::upload::{self, UploadRefusal};
use crate::startup::AppState;

#[derive(Deserialize)]
struct UploadQuery {
    kind: Option<String>,
    exp: Option<String>,
    sig: Option<String>,
    name: Option<String>,
}

fn text(mut response: actix_web::HttpResponseBuilder, body: String) -> HttpResponse {
    response
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .content_type("text/plain; charset=utf-8")
        .body(body)
}

/// The CORS preflight of an upload from the frontend's origin.
#[route("/media/uploads/{upload_id}", method = "OPTIONS")]
pub async fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "PUT, POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish()
}

fn forbidden() -> HttpResponse {
    text(
        HttpResponse::Forbidden(),
        "this upload link is invalid or has expired; ask for a new one".into(),
    )
}

fn refused(refusal: UploadRefusal) -> HttpResponse {
    match refusal {
        UploadRefusal::TooLarge(why) => text(HttpResponse::PayloadTooLarge(), why),
        UploadRefusal::TypeNotAllowed(why) => text(HttpResponse::UnsupportedMediaType(), why),
        UploadRefusal::BadBody(why) => text(HttpResponse::BadRequest(), why),
        UploadRefusal::Store(why) => {
            tracing::warn!(error = %why, "storing an upload failed");
            text(
                HttpResponse::ServiceUnavailable(),
                "the media store is unavailable; try again".into(),
            )
        }
    }
}

/// A file name as shown: its last path part, without control characters, at most 255 bytes.
fn clean_file_name(raw: Option<&str>) -> Option<String> {
    let last = raw?.rsplit(['/', '\\']).next()?;
    let mut name: String = last.chars().filter(|c| !c.is_control()).collect();
    while name.len() > 255 {
        name.pop();
    }
    let name = name.trim().to_owned();
    (!name.is_empty()).then_some(name)
}

#[tracing::instrument(name = "upload media", skip_all)]
#[route("/media/uploads/{upload_id}", method = "PUT", method = "POST")]
pub async fn receive(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<UploadQuery>,
    body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(secret) = state.settings.media.link_secret.clone() else {
        return forbidden();
    };
    let (Ok(upload_id), Some(kind), Some(Ok(exp)), Some(sig)) = (
        path.parse::<Uuid>(),
        query.kind.as_deref(),
        query.exp.as_deref().map(str::parse::<i64>),
        query.sig.as_deref(),
    ) else {
        return forbidden();
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if LinkKey::new(secret)
        .verify_upload(upload_id, kind, exp, sig, now)
        .is_err()
    {
        return forbidden();
    }
    let Some(mime_type) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|h| h.to_str().ok())
        .map(crate::media::limits::essence)
    else {
        return refused(UploadRefusal::TypeNotAllowed(
            "the upload needs a Content-Type: the file's MIME type".into(),
        ));
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|h| h.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Err(refusal) = upload::precheck(kind, &mime_type, declared) {
        return refused(refusal);
    }

    let store = &state.media_store;
    let staging = MediaStore::staging_key(upload_id, Uuid::new_v4());
    let writer = match store.staging_writer(&staging).await {
        Ok(writer) => writer,
        Err(e) => return refused(UploadRefusal::Store(e.to_string())),
    };
    let stored = match upload::stream_into(writer, kind, &mime_type, body).await {
        Ok(stored) => stored,
        Err(refusal) => return refused(refusal),
    };
    let file_name = clean_file_name(query.name.as_deref());
    let recorded = state
        .svc
        .record_media_upload(
            upload_id,
            &svc_client::UploadedMedia {
                kind,
                object_key: &MediaStore::object_key(upload_id),
                mime_type: &mime_type,
                size_bytes: stored.size,
                sha256: &stored.sha256,
                file_name: file_name.as_deref(),
            },
        )
        .await;
    match recorded {
        Ok(true) => {}
        Ok(false) => {
            let _ = store.delete_staging(&staging).await;
            return text(
                HttpResponse::Conflict(),
                "this upload link was already used; ask for a new one".into(),
            );
        }
        Err(e) => {
            let _ = store.delete_staging(&staging).await;
            tracing::warn!(error = %e, "recording an upload failed");
            return text(
                HttpResponse::ServiceUnavailable(),
                "the upload could not be recorded; try again with a new link".into(),
            );
        }
    }
    let facts = StoredFacts {
        mime_type: mime_type.clone(),
        file_size: stored.size,
        file_name: file_name.clone(),
        kind: kind.to_owned(),
    };
    let placed = match store.put_facts(upload_id, &facts).await {
        Ok(()) => store.promote_staging(&staging, upload_id).await,
        Err(e) => Err(e),
    };
    if let Err(e) = placed {
        tracing::warn!(error = %format!("{e:#}"), "placing a recorded upload failed");
        return text(
            HttpResponse::ServiceUnavailable(),
            "the media store is unavailable; upload the file again with a new link".into(),
        );
    }
    metrics::counter!("gateway_media_uploads_total").increment(1);
    HttpResponse::Created()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .json(serde_json::json!({
            "upload_id": upload_id,
            "mime_type": mime_type,
            "size_bytes": stored.size,
            "sha256": stored.sha256,
            "file_name": file_name,
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_keeps_its_last_part_without_control_characters() {
        assert_eq!(
            clean_file_name(Some("C:\\docs\\factura 1.pdf")).as_deref(),
            Some("factura 1.pdf")
        );
        assert_eq!(
            clean_file_name(Some("../a\r\nb.pdf")).as_deref(),
            Some("ab.pdf")
        );
        assert_eq!(clean_file_name(Some("  ")), None);
        assert_eq!(clean_file_name(None), None);
        assert_eq!(clean_file_name(Some(&"é".repeat(200))).unwrap().len(), 254);
    }
}
