//! The Graph API's media endpoints, for inbound media:
//!
//! - `GET /{version}/{media-id}` (bearer token): `{messaging_product, url, mime_type,
//!   sha256, file_size, id}`; an unknown id answers 400 code 100, like Meta.
//! - `GET /_sim/media/{media-id}/download?expires=<unix seconds>` (the `url` above, bearer
//!   token required, 401 without): the bytes; past `expires` (5 minutes, as Meta's URLs)
//!   404.
//!
//! Injected inbound media ([`InboundMedia`]) get real bytes ([`SampleKind`]). Faults
//! ([`MediaFaults`], `POST /_sim/media/faults`): the next lookups answer 5xx, hand out an
//! already expired URL, or report a wrong sha256.

mod samples;
mod upload;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

pub use samples::SampleKind;
pub use upload::UploadedMedia;

use crate::error::MetaError;
use crate::state::Shared;

/// How long a download URL lives (Meta: 5 minutes).
const URL_LIFETIME_SECS: i64 = 300;

/// Media attached to an injected inbound message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMedia {
    /// What to generate.
    pub kind: SampleKind,
    /// About how many bytes (default: a small file).
    #[serde(default)]
    pub size: Option<usize>,
    /// The caption (image, video, document).
    #[serde(default)]
    pub caption: Option<String>,
    /// The file name (document).
    #[serde(default)]
    pub filename: Option<String>,
}

impl InboundMedia {
    /// A small file of `kind`.
    pub fn new(kind: SampleKind) -> Self {
        Self {
            kind,
            size: None,
            caption: None,
            filename: None,
        }
    }
}

/// Faults of the media endpoints; each count is used up one lookup at a time, in this
/// order: `server_errors`, `expired_urls`, `wrong_hashes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MediaFaults {
    /// The next N lookups (`GET /{media-id}`) answer HTTP 500 code 1.
    pub server_errors: u32,
    /// The next N lookups hand out a download URL that has already expired.
    pub expired_urls: u32,
    /// The next N lookups report a sha256 the bytes don't have.
    pub wrong_hashes: u32,
}

/// Counters of the media endpoints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaStats {
    /// `GET /{media-id}` requests answered 200.
    pub lookups: u32,
    /// Downloads answered with the bytes.
    pub downloads: u32,
    /// Lookups and downloads refused (faults, expired URLs, missing token).
    pub refused: u32,
}

struct MediaFile {
    bytes: web::Bytes,
    mime_type: String,
    sha256: String,
}

/// The simulator's media: files by id, faults in force, counters.
#[derive(Default)]
pub(crate) struct MediaLibrary {
    files: HashMap<String, MediaFile>,
    uploads: Vec<UploadedMedia>,
    faults: MediaFaults,
    stats: MediaStats,
}

impl MediaLibrary {
    /// Generates the file of `media` and keeps it under a new media id. Answers the
    /// message's `type` and its media object, as Meta puts them in a webhook.
    pub fn register(&mut self, media: &InboundMedia) -> (&'static str, Value) {
        let bytes = media.kind.generate(media.size);
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let id = format!("{}", 1_000_000_000_000_000u64 + rand_id());
        let mut object = json!({
            "id": id,
            "mime_type": media.kind.mime_type(),
            "sha256": sha256,
        });
        if let Some(caption) = &media.caption {
            object["caption"] = json!(caption);
        }
        if let Some(filename) = &media.filename {
            object["filename"] = json!(filename);
        }
        if media.kind == SampleKind::Voice {
            object["voice"] = json!(true);
        }
        self.files.insert(
            id,
            MediaFile {
                bytes: web::Bytes::from(bytes),
                mime_type: media.kind.mime_type().to_owned(),
                sha256,
            },
        );
        (media.kind.whatsapp_type(), object)
    }

    pub fn set_faults(&mut self, faults: MediaFaults) {
        self.faults = faults;
    }

    pub fn faults(&self) -> MediaFaults {
        self.faults.clone()
    }

    pub fn stats(&self) -> MediaStats {
        self.stats
    }

    /// Keeps an uploaded file under a new media id; answers the id.
    pub fn keep_upload(
        &mut self,
        bytes: web::Bytes,
        mime_type: String,
        file_name: Option<String>,
    ) -> String {
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let id = format!("{}", 2_000_000_000_000_000u64 + rand_id());
        self.uploads.push(UploadedMedia {
            id: id.clone(),
            mime_type: mime_type.clone(),
            size: bytes.len(),
            sha256: sha256.clone(),
            file_name,
        });
        self.files.insert(
            id.clone(),
            MediaFile {
                bytes,
                mime_type,
                sha256,
            },
        );
        id
    }

    /// The files uploaded (`POST /{phone-number-id}/media`), in order.
    pub fn uploads(&self) -> Vec<UploadedMedia> {
        self.uploads.clone()
    }

    /// The bytes of a media id (tests compare what was stored).
    pub fn bytes(&self, id: &str) -> Option<web::Bytes> {
        self.files.get(id).map(|f| f.bytes.clone())
    }
}

fn rand_id() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 % 1_000_000_000_000_000
}

/// The download URLs and `/_sim/media/*` (before the `/_sim` scope, which would answer
/// them as unknown paths).
pub(crate) fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/_sim/media/{media_id}/download", web::get().to(download))
        .route("/_sim/media/faults", web::post().to(set_faults))
        .route("/_sim/media/faults", web::get().to(get_faults))
        .route("/_sim/media/stats", web::get().to(stats));
}

/// `GET /{version}/{media-id}` (after every other route: it matches any two segments).
pub(crate) fn graph_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{version}/{phone_number_id}/media")
            .app_data(web::PayloadConfig::new(upload::MAX_UPLOAD))
            .route(web::post().to(upload::upload)),
    )
    .route("/{version}/{media_id}", web::get().to(lookup));
}

pub(crate) fn token_error(shared: &Shared, req: &HttpRequest) -> Option<MetaError> {
    match crate::graph::bearer_token(req) {
        Some(t) if t == shared.access_token.expose() => None,
        Some(_) => Some(MetaError::token(
            "Invalid OAuth access token - Cannot parse access token",
            None,
        )),
        None => Some(MetaError::token(
            "An access token is required to request this resource.",
            None,
        )),
    }
}

pub(crate) fn refused(shared: &Shared, error: MetaError) -> HttpResponse {
    shared.media().stats.refused += 1;
    error.response()
}

async fn lookup(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let shared: Arc<Shared> = state.into_inner();
    let (version, media_id) = path.into_inner();
    if !crate::graph::valid_version(&version) {
        return crate::server::unknown_path(req).await;
    }
    if let Some(e) = token_error(&shared, &req) {
        return refused(&shared, e);
    }
    let mut library = shared.media();
    let faults = &mut library.faults;
    let mut expired = false;
    let mut wrong_hash = false;
    if faults.server_errors > 0 {
        faults.server_errors -= 1;
        library.stats.refused += 1;
        return MetaError::server(false).response();
    } else if faults.expired_urls > 0 {
        faults.expired_urls -= 1;
        expired = true;
    } else if faults.wrong_hashes > 0 {
        faults.wrong_hashes -= 1;
        wrong_hash = true;
    }
    let Some(file) = library.files.get(&media_id) else {
        library.stats.refused += 1;
        return MetaError {
            http: StatusCode::BAD_REQUEST,
            code: 100,
            subcode: Some(33),
            message: format!("Unsupported get request. Object with ID '{media_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."),
            error_type: "GraphMethodException",
            title: None,
            details: None,
        }
        .response();
    };
    let expires =
        OffsetDateTime::now_utc().unix_timestamp() + if expired { -1 } else { URL_LIFETIME_SECS };
    let sha256 = if wrong_hash {
        hex::encode(Sha256::digest(b"not these bytes"))
    } else {
        file.sha256.clone()
    };
    let answer = json!({
        "messaging_product": "whatsapp",
        "url": format!("http://{}/_sim/media/{media_id}/download?expires={expires}", req.connection_info().host()),
        "mime_type": file.mime_type,
        "sha256": sha256,
        "file_size": file.bytes.len(),
        "id": media_id,
    });
    library.stats.lookups += 1;
    HttpResponse::Ok().json(answer)
}

#[derive(Deserialize)]
struct DownloadQuery {
    expires: i64,
}

async fn download(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DownloadQuery>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let shared: Arc<Shared> = state.into_inner();
    if let Some(e) = token_error(&shared, &req) {
        return refused(&shared, e);
    }
    let mut library = shared.media();
    let file = library
        .files
        .get(path.as_str())
        .map(|f| (f.bytes.clone(), f.mime_type.clone()));
    match file {
        Some((bytes, mime)) if OffsetDateTime::now_utc().unix_timestamp() <= query.expires => {
            library.stats.downloads += 1;
            HttpResponse::Ok().content_type(mime).body(bytes)
        }
        _ => {
            library.stats.refused += 1;
            HttpResponse::NotFound().finish()
        }
    }
}

async fn set_faults(body: web::Json<MediaFaults>, state: web::Data<Shared>) -> HttpResponse {
    let faults = body.into_inner();
    state.media().set_faults(faults.clone());
    HttpResponse::Ok().json(faults)
}

async fn get_faults(state: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(state.media().faults())
}

async fn stats(state: web::Data<Shared>) -> HttpResponse {
    HttpResponse::Ok().json(state.media().stats())
}
