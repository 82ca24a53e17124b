//! `POST /{version}/{phone-number-id}/media` (bearer token): a business uploads a file to
//! send by id. Multipart form data as Meta takes it: `messaging_product=whatsapp`, `type`
//! (the file's MIME type) and `file` (the bytes, with its own Content-Type and file name).
//! Answers `{"id": "<media id>"}`; the id then serves sends (`{"image": {"id": …}}`) and
//! lookups (`GET /{media-id}`) like an inbound file's.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{refused, token_error};
use crate::error::MetaError;
use crate::state::Shared;

/// The largest upload body: a 100 MB document and its form fields.
pub(crate) const MAX_UPLOAD: usize = 101 * 1024 * 1024;

/// A file a business uploaded, as the simulator recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedMedia {
    /// The media id answered.
    pub id: String,
    pub mime_type: String,
    pub size: usize,
    /// Lowercase hex SHA-256 of the bytes.
    pub sha256: String,
    pub file_name: Option<String>,
}

/// One part of a multipart form.
struct Part<'a> {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    body: &'a [u8],
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A header parameter such as `name="file"` of a Content-Disposition.
fn parameter(header: &str, key: &str) -> Option<String> {
    header.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        (k.trim().eq_ignore_ascii_case(key)).then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The parts of a `multipart/form-data` body; `None` when it is not one.
fn parts<'a>(content_type: &str, body: &'a [u8]) -> Option<Vec<Part<'a>>> {
    let boundary = parameter(content_type, "boundary")?;
    let delimiter = format!("--{boundary}");
    let mut rest = &body[find(body, delimiter.as_bytes())? + delimiter.len()..];
    let mut parts = Vec::new();
    while !rest.starts_with(b"--") {
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = std::str::from_utf8(&rest[..head_end]).ok()?;
        let after_head = &rest[head_end + 4..];
        let end = find(after_head, format!("\r\n{delimiter}").as_bytes())?;
        let mut part = Part {
            name: String::new(),
            file_name: None,
            content_type: None,
            body: &after_head[..end],
        };
        for line in head.split("\r\n") {
            let (key, value) = line.split_once(':')?;
            if key.trim().eq_ignore_ascii_case("content-disposition") {
                part.name = parameter(value, "name")?;
                part.file_name = parameter(value, "filename");
            } else if key.trim().eq_ignore_ascii_case("content-type") {
                part.content_type = Some(value.trim().to_owned());
            }
        }
        parts.push(part);
        rest = &after_head[end + 2 + delimiter.len()..];
    }
    Some(parts)
}

pub(crate) async fn upload(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<Shared>,
) -> HttpResponse {
    let shared: Arc<Shared> = state.into_inner();
    let (version, phone_number_id) = path.into_inner();
    if !crate::graph::valid_version(&version) {
        return crate::server::unknown_path(req).await;
    }
    if let Some(e) = token_error(&shared, &req) {
        return refused(&shared, e);
    }
    if phone_number_id != shared.phone_number_id {
        return refused(
            &shared,
            MetaError {
                http: StatusCode::BAD_REQUEST,
                code: 100,
                subcode: Some(33),
                message: format!("Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
                error_type: "GraphMethodException",
                title: None,
                details: None,
            },
        );
    }
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let Some(parts) = parts(content_type, &body) else {
        return refused(
            &shared,
            MetaError::invalid("The request is not multipart/form-data."),
        );
    };
    let field = |name: &str| parts.iter().find(|p| p.name == name);
    if field("messaging_product").map(|p| p.body) != Some(b"whatsapp".as_slice()) {
        return refused(
            &shared,
            MetaError::invalid("The parameter messaging_product is required and must be whatsapp."),
        );
    }
    let Some(file) = field("file").filter(|f| !f.body.is_empty()) else {
        return refused(
            &shared,
            MetaError::invalid("The parameter file is required."),
        );
    };
    let Some(mime_type) = field("type")
        .and_then(|p| std::str::from_utf8(p.body).ok().map(str::to_owned))
        .or_else(|| file.content_type.clone())
    else {
        return refused(
            &shared,
            MetaError::invalid("The parameter type is required."),
        );
    };
    let id = shared.media().keep_upload(
        web::Bytes::copy_from_slice(file.body),
        mime_type,
        file.file_name.clone(),
    );
    HttpResponse::Ok().json(json!({ "id": id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multipart_form_splits_into_its_fields_and_file() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n--\r\n--XyZ--\r\n";
        let found = parts("multipart/form-data; boundary=XyZ", body).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].name, "messaging_product");
        assert_eq!(found[0].body, b"whatsapp");
        assert_eq!(found[1].file_name.as_deref(), Some("a.png"));
        assert_eq!(found[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(found[1].body, b"\x89PNG\r\n--");
        assert!(parts("application/json", body).is_none());
    }
}
