//! `POST /{version}/{phone-number-id}/messages`: the Graph API subset.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use time::OffsetDateTime;

use crate::error::MetaError;
use crate::faults::{title_of, ServerErrorKind};
use crate::recorder::{MarkedRead, ReceivedMessage};
use crate::request::{self, GraphRequest, SendRequest};
use crate::state::Shared;
use crate::webhooks::{self, StatusEvent};

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/{version}/{phone_number_id}/messages").route(web::post().to(messages)),
    );
    cfg.service(
        web::resource("/{version}/{waba_id}/message_templates")
            .route(web::get().to(crate::template_list::message_templates)),
    );
}

/// What a request turned into.
enum Outcome {
    Accepted(HttpResponse),
    Rejected(MetaError),
}

#[tracing::instrument(
    name = "graph messages",
    skip_all,
    fields(version = %path.0, http_status = tracing::field::Empty, code = tracing::field::Empty)
)]
async fn messages(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<Shared>,
) -> HttpResponse {
    // The request's arrival, as WhatsApp would count it: read before any lock (a thread
    // holding the simulator's lock while preempted would otherwise time a burst of
    // requests that came spread out as arriving together).
    let arrived = Instant::now();
    let shared: Arc<Shared> = state.into_inner();
    let (version, phone_number_id) = path.into_inner();
    let is_mark_read = request::looks_like_mark_read(&body);

    // Take at most one counted fault, count the attempt and pick the answer time,
    // under one lock.
    let (fault, answer_in) = {
        let mut inner = shared.lock();
        let answer_in = inner.answer_latency.sample();
        if !is_mark_read {
            inner.recorder.attempt(arrived);
        }
        let f = &mut inner.faults;
        let fault = if f.timeouts > 0 {
            f.timeouts -= 1;
            let hold = f
                .timeout_ms
                .map_or(shared.fault_timeout, Duration::from_millis);
            Some(Fault::Timeout {
                hold,
                processed: f.timeout_processed,
            })
        } else if f.server_errors > 0 {
            f.server_errors -= 1;
            Some(Fault::Server(f.server_error_kind))
        } else {
            None
        };
        (fault, answer_in)
    };

    let response = match fault {
        Some(Fault::Timeout { hold, processed }) => {
            tracing::info!(
                hold_ms = hold.as_millis() as u64,
                processed,
                "timeout fault"
            );
            if processed {
                let timing = Timing {
                    arrived,
                    answer_in: hold,
                };
                let outcome = handle(&shared, &req, (&version, &phone_number_id), &body, timing);
                tokio::time::sleep(hold).await;
                finish(&shared, outcome)
            } else {
                tokio::time::sleep(hold).await;
                shared.lock().recorder.reject("timeout");
                MetaError::server(true).response()
            }
        }
        Some(Fault::Server(kind)) => {
            tokio::time::sleep(answer_in).await;
            finish(
                &shared,
                Outcome::Rejected(MetaError::server(kind == ServerErrorKind::Unavailable)),
            )
        }
        None => {
            // Accepted (limit, recorder) on arrival; answered after the latency.
            let timing = Timing { arrived, answer_in };
            let outcome = handle(&shared, &req, (&version, &phone_number_id), &body, timing);
            if !answer_in.is_zero() {
                tokio::time::sleep(answer_in).await;
            }
            finish(&shared, outcome)
        }
    };
    tracing::Span::current().record("http_status", response.status().as_u16());
    response
}

enum Fault {
    Timeout { hold: Duration, processed: bool },
    Server(ServerErrorKind),
}

fn finish(shared: &Shared, outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::Accepted(r) => r,
        Outcome::Rejected(e) => {
            shared.lock().recorder.reject(&e.code.to_string());
            tracing::Span::current().record("code", e.code);
            tracing::debug!(
                code = e.code,
                http_status = e.http.as_u16(),
                "request rejected"
            );
            e.response()
        }
    }
}

/// `answer_in`: when the answer leaves; status webhooks are timed from then.
/// When a request arrived, and how long after that its answer leaves.
#[derive(Clone, Copy)]
struct Timing {
    arrived: Instant,
    answer_in: Duration,
}

fn handle(
    shared: &Arc<Shared>,
    req: &HttpRequest,
    (version, phone_number_id): (&str, &str),
    body: &[u8],
    timing: Timing,
) -> Outcome {
    match check_and_accept(shared, req, (version, phone_number_id), body, timing) {
        Ok(r) => Outcome::Accepted(r),
        Err(e) => Outcome::Rejected(e),
    }
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    if let Some(h) = req.headers().get("authorization") {
        let h = h.to_str().ok()?.trim();
        let (scheme, token) = h.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_string());
    }
    // The Graph API also takes the token as a query parameter.
    req.query_string()
        .split('&')
        .find_map(|kv| kv.strip_prefix("access_token="))
        .map(str::to_string)
}

pub(crate) fn valid_version(version: &str) -> bool {
    version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            !major.is_empty()
                && !minor.is_empty()
                && major.chars().all(|c| c.is_ascii_digit())
                && minor.chars().all(|c| c.is_ascii_digit())
        })
}

fn check_and_accept(
    shared: &Arc<Shared>,
    req: &HttpRequest,
    (version, phone_number_id): (&str, &str),
    body: &[u8],
    timing: Timing,
) -> Result<HttpResponse, MetaError> {
    if shared.lock().faults.token_revoked {
        return Err(MetaError::token(
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
            Some(460),
        ));
    }
    match bearer_token(req) {
        None => {
            return Err(MetaError::token(
                "An access token is required to request this resource.",
                None,
            ))
        }
        Some(t) if t != shared.access_token.expose() => {
            return Err(MetaError::token(
                "Invalid OAuth access token - Cannot parse access token",
                None,
            ))
        }
        Some(_) => {}
    }
    if !valid_version(version) {
        return Err(MetaError {
            http: StatusCode::BAD_REQUEST,
            code: 2500,
            subcode: None,
            message: format!(
                "Unknown path components: /{version}: expected a Graph API version such as v23.0"
            ),
            error_type: "OAuthException",
            title: None,
            details: None,
        });
    }
    if phone_number_id != shared.phone_number_id {
        return Err(MetaError {
            subcode: Some(33),
            ..MetaError::invalid(format!(
                "Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
            ))
        });
    }
    match request::parse(body)? {
        GraphRequest::MarkRead { message_id } => {
            shared.lock().recorder.marked_read.push(MarkedRead {
                message_id,
                received_at: crate::timefmt::now_ms(),
            });
            Ok(HttpResponse::Ok().json(json!({ "success": true })))
        }
        GraphRequest::Send(send) => accept(shared, send, timing),
    }
}

fn accept(
    shared: &Arc<Shared>,
    send: SendRequest,
    Timing { arrived, answer_in }: Timing,
) -> Result<HttpResponse, MetaError> {
    let mut inner = shared.lock();

    let recipient_error = inner
        .faults
        .recipient_errors
        .iter()
        .find(|e| request::normalize_recipient(&e.to).as_deref() == Some(send.wa_id.as_str()))
        .cloned();
    if let Some(e) = recipient_error.as_ref().filter(|e| !e.via_status_webhook) {
        let http = e
            .http_status
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        return Err(MetaError::coded(
            http,
            e.code,
            &e.effective_title(),
            e.effective_details(),
        ));
    }
    if inner.faults.rate_limit_burst > 0 {
        inner.faults.rate_limit_burst -= 1;
        return Err(MetaError::throughput());
    }

    let mut category = None;
    if let Some(t) = &send.template {
        let known = inner
            .templates
            .iter()
            .find(|k| k.name == t.name && k.language == t.language);
        let not_found = || {
            MetaError::coded(
                StatusCode::NOT_FOUND,
                132_001,
                title_of(132_001),
                format!(
                    "template name ({}) does not exist in {}",
                    t.name, t.language
                ),
            )
        };
        let Some(known) = known else {
            return Err(not_found());
        };
        match known.status.to_ascii_uppercase().as_str() {
            "APPROVED" => {}
            "PAUSED" => {
                return Err(MetaError::coded(
                    StatusCode::BAD_REQUEST,
                    132_015,
                    title_of(132_015),
                    format!("template {} is paused because of low quality", t.name),
                ))
            }
            "DISABLED" => {
                return Err(MetaError::coded(
                    StatusCode::BAD_REQUEST,
                    132_016,
                    title_of(132_016),
                    format!("template {} is disabled because of low quality", t.name),
                ))
            }
            _ => return Err(not_found()),
        }
        if let Some(expected) = known.body_params.filter(|n| *n != t.body_params) {
            return Err(MetaError::coded(
                StatusCode::BAD_REQUEST,
                132_000,
                title_of(132_000),
                format!(
                    "body: number of localizable_params ({}) does not match the expected number of params ({expected})",
                    t.body_params
                ),
            ));
        }
        category = Some(known.category.clone());
    }

    let now = OffsetDateTime::now_utc();
    if send.template.is_none() && inner.enforce_window && !inner.window_open(&send.wa_id, now) {
        return Err(MetaError {
            subcode: Some(2_494_010),
            ..MetaError::coded(
                StatusCode::BAD_REQUEST,
                131_047,
                title_of(131_047),
                "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
            )
        });
    }

    let at = arrived;
    if !inner.take_throughput(at) {
        return Err(MetaError::throughput());
    }

    let wamid = new_wamid();
    let received_at = crate::timefmt::now_ms();
    inner.recorder.accept(
        at,
        ReceivedMessage {
            wamid: wamid.clone(),
            to: send.to.clone(),
            wa_id: send.wa_id.clone(),
            message_type: send.message_type.clone(),
            body: send.body,
            received_at,
            callback_data: send.callback_data.clone(),
            reply_to: send.reply_to,
        },
    );
    let statuses = inner.status_webhooks.clone();
    drop(inner);

    tracing::debug!(
        to = %whatsapp::mask_phone(&send.wa_id),
        message_type = %send.message_type,
        wamid = %wamid,
        "message accepted"
    );

    let base = StatusEvent {
        wamid: wamid.clone(),
        status: "sent",
        timestamp: 0,
        recipient: send.wa_id.clone(),
        callback_data: send.callback_data,
        pricing: None,
        errors: None,
    };
    let at_delay = |ms: u64| {
        (received_at + time::Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2)))
            .unix_timestamp()
    };
    let mut events: Vec<(u64, StatusEvent)> = Vec::new();
    if statuses.enabled {
        if let Some(e) = recipient_error {
            events.push((
                statuses.sent_ms,
                StatusEvent {
                    status: "failed",
                    timestamp: at_delay(statuses.sent_ms),
                    errors: Some(webhooks::status_errors(
                        e.code,
                        &e.effective_title(),
                        &e.effective_details(),
                    )),
                    ..base
                },
            ));
        } else {
            let price = webhooks::pricing(category.as_deref());
            events.push((
                statuses.sent_ms,
                StatusEvent {
                    status: "sent",
                    timestamp: at_delay(statuses.sent_ms),
                    pricing: Some(price.clone()),
                    ..base.clone()
                },
            ));
            events.push((
                statuses.delivered_ms,
                StatusEvent {
                    status: "delivered",
                    timestamp: at_delay(statuses.delivered_ms),
                    pricing: Some(price),
                    ..base.clone()
                },
            ));
            if let Some(read) = statuses.read_ms {
                events.push((
                    read,
                    StatusEvent {
                        status: "read",
                        timestamp: at_delay(read),
                        ..base
                    },
                ));
            }
        }
    }
    if statuses.reorder {
        // Keep the delays ascending, hand them out in reverse status order.
        let mut delays: Vec<u64> = events.iter().map(|(d, _)| *d).collect();
        delays.sort_unstable();
        events.reverse();
        for ((d, _), delay) in events.iter_mut().zip(delays) {
            *d = delay;
        }
    }
    let mut scheduled: Vec<(Duration, StatusEvent)> = Vec::new();
    // Meta's statuses follow its answer.
    for (ms, event) in events {
        let after = answer_in + Duration::from_millis(ms);
        if statuses.duplicates {
            scheduled.push((after, event.clone()));
            scheduled.push((after + Duration::from_millis(5), event));
        } else {
            scheduled.push((after, event));
        }
    }
    webhooks::schedule(shared, scheduled);

    Ok(HttpResponse::Ok().json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": send.to, "wa_id": send.wa_id }],
        "messages": [{ "id": wamid }]
    })))
}

/// A fresh, unique wamid in Meta's style (`wamid.` and base64-ish characters).
pub(crate) fn new_wamid() -> String {
    format!(
        "wamid.HBgLSIM{}",
        uuid::Uuid::new_v4().simple().to_string().to_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_look_like_graph_versions() {
        assert!(valid_version("v23.0"));
        assert!(valid_version("v19.10"));
        assert!(!valid_version("23.0"));
        assert!(!valid_version("v23"));
        assert!(!valid_version("vx.0"));
    }

    #[test]
    fn wamids_are_unique() {
        assert_ne!(new_wamid(), new_wamid());
        assert!(new_wamid().starts_with("wamid."));
    }
}
