//! `GET /{version}/{waba-id}/message_templates`: the templates the simulator knows, as
//! Meta lists them (fields `id`, `name`, `language`, `status`, `category`,
//! `parameter_format`, `quality_score`, `components`), `limit` per page (default 25) and
//! cursor paging (`paging.cursors.after`, `paging.next` while more follow).

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use crate::error::MetaError;
use crate::graph::bearer_token;
use crate::state::Shared;

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 1000;

pub(crate) async fn message_templates(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<Shared>,
) -> HttpResponse {
    let shared: Arc<Shared> = state.into_inner();
    let (version, waba_id) = path.into_inner();
    match list(&shared, &req, &version, &waba_id) {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

fn query_value<'a>(req: &'a HttpRequest, key: &str) -> Option<&'a str> {
    req.query_string().split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == key)
            .map(|(_, v)| v)
    })
}

/// The cursor of the entry at `index` (opaque to clients, as Meta's are).
fn cursor(index: usize) -> String {
    format!("c{index:08}")
}

fn list(
    shared: &Arc<Shared>,
    req: &HttpRequest,
    version: &str,
    waba_id: &str,
) -> Result<HttpResponse, MetaError> {
    match bearer_token(req) {
        Some(t) if t == shared.access_token.expose() && !shared.lock().faults.token_revoked => {}
        _ => {
            return Err(MetaError::token(
                "Invalid OAuth access token - Cannot parse access token",
                None,
            ))
        }
    }
    if waba_id != shared.waba_id {
        return Err(MetaError::invalid(format!(
            "Unsupported get request. Object with ID '{waba_id}' does not exist"
        )));
    }
    let limit = match query_value(req, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| MetaError::invalid(format!("Param limit must be 1..{MAX_LIMIT}")))?,
    };
    let start = match query_value(req, "after") {
        None => 0,
        Some(raw) => raw
            .strip_prefix('c')
            .and_then(|n| n.parse::<usize>().ok())
            .map(|n| n + 1)
            .ok_or_else(|| MetaError::invalid("Param after is not a valid cursor"))?,
    };
    let templates = shared.lock().templates.clone();
    let end = (start + limit).min(templates.len());
    let data: Vec<_> = templates
        .get(start..end)
        .unwrap_or_default()
        .iter()
        .map(|t| t.list_entry())
        .collect();
    let mut paging = json!({});
    if end > start {
        paging["cursors"] = json!({"before": cursor(start), "after": cursor(end - 1)});
    }
    if end < templates.len() {
        paging["next"] = json!(format!(
            "https://graph.facebook.com/{version}/{waba_id}/message_templates?limit={limit}&after={}",
            cursor(end - 1)
        ));
    }
    Ok(HttpResponse::Ok().json(json!({"data": data, "paging": paging})))
}
