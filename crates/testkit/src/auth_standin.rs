//! A recorded stand-in for Supabase Auth's admin invite endpoint, `POST /auth/v1/invite`,
//! for tests and `cargo xtask up` (no Auth server runs locally), as the WhatsApp simulator
//! stands in for Meta.
//!
//! It answers the way Supabase's API gateway and Auth (GoTrue) do:
//!
//! | request | answer |
//! |---|---|
//! | no `apikey` header | 401 `{"message": "No API key found in request", ...}` (the API gateway) |
//! | an `apikey` that is neither the anon nor the service-role key | 401 `{"message": "Invalid API key", ...}` |
//! | no `Authorization: Bearer` | 401 `{"code": 401, "error_code": "no_authorization", "msg": ...}` |
//! | a bearer that is not the service-role key | 403 `not_admin`, "User not allowed" |
//! | a body that is not JSON | 400 `bad_json` |
//! | an address that is not one | 400 `validation_failed`, "Unable to validate email address: invalid format" |
//! | the address of a confirmed user ([`AuthStandInHandle::register_confirmed`]) | 422 `email_exists`, "A user with this email address has already been registered" |
//! | an injected fault ([`AuthStandInHandle::fail_next`]) | that status with Auth's error body (429 `over_email_send_rate_limit`, 5xx `unexpected_failure`) |
//! | otherwise | 200 with the invited user (unconfirmed, `invited_at` set, address lower-cased); inviting an unconfirmed user again answers the same user |
//!
//! Every request is recorded ([`AuthStandInHandle::received`]), rejected ones included.

use std::collections::{BTreeMap, VecDeque};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

/// Keys the stand-in accepts, as a project's API gateway and Auth would.
#[derive(Clone)]
pub struct AuthStandInConfig {
    /// Where to listen (port 0 picks a free one).
    pub addr: SocketAddr,
    /// The service-role key: accepted as `apikey` and as the admin bearer.
    pub service_role_key: String,
    /// The anon key: accepted as `apikey` only (its bearer is no admin).
    pub anon_key: String,
}

impl AuthStandInConfig {
    /// A stand-in on a free loopback port accepting the keys of `keys`.
    pub fn for_tests(keys: &crate::Keys) -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            service_role_key: keys.service_role_key(),
            anon_key: keys.anon_key(),
        }
    }
}

/// One request to `POST /auth/v1/invite`, as received, with the status answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedInvite {
    /// `email` of the body, as sent.
    pub email: Option<String>,
    /// `data` of the body (user metadata for the invited user).
    pub data: Option<Value>,
    pub apikey: Option<String>,
    pub authorization: Option<String>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    received: Vec<ReceivedInvite>,
    /// Answers to give next, in order, instead of inviting.
    faults: VecDeque<u16>,
    /// Lower-cased address -> (user id, confirmed).
    users: BTreeMap<String, (uuid::Uuid, bool)>,
}

struct Shared {
    config: AuthStandInConfig,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Starts stand-ins. See [`AuthStandIn::start`].
pub struct AuthStandIn;

impl AuthStandIn {
    /// Binds `config.addr` and serves `POST /auth/v1/invite` on the current tokio runtime.
    pub async fn start(config: AuthStandInConfig) -> std::io::Result<AuthStandInHandle> {
        let listener = TcpListener::bind(config.addr)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            state: Mutex::new(State::default()),
        });
        let data = web::Data::from(Arc::clone(&shared));
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .route("/auth/v1/invite", web::post().to(invite))
                .default_service(web::to(not_found))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(AuthStandInHandle {
            shared,
            addr,
            server: handle,
        })
    }
}

/// A running stand-in; cheap to clone.
#[derive(Clone)]
pub struct AuthStandInHandle {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: ServerHandle,
}

impl AuthStandInHandle {
    /// The project URL whose `/auth/v1` this serves: what `SUPABASE_AUTH_URL` takes.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every invite request so far, in arrival order.
    pub fn received(&self) -> Vec<ReceivedInvite> {
        self.shared.lock().received.clone()
    }

    /// The next requests (one per status, in order) are answered with these statuses and
    /// Auth's error body for them, after the key checks, instead of inviting.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.shared.lock().faults.extend(statuses.iter().copied());
    }

    /// A user with this address exists and has confirmed it: inviting it answers 422.
    pub fn register_confirmed(&self, email: &str) {
        self.shared
            .lock()
            .users
            .insert(email.to_lowercase(), (uuid::Uuid::new_v4(), true));
    }

    /// Waits until at least `n` requests arrived; returns them all (or what came in time).
    pub async fn wait_for_received(&self, n: usize, timeout: Duration) -> Vec<ReceivedInvite> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n || tokio::time::Instant::now() >= deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub async fn stop(&self) {
        self.server.stop(false).await;
    }
}

/// Auth's error body (GoTrue's HTTPError: `code`, `error_code`, `msg`).
fn auth_error(status: u16, error_code: &str, msg: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status)
        .json(json!({ "code": status.as_u16(), "error_code": error_code, "msg": msg }))
}

/// The API gateway's error body (Kong: `message`, `hint`).
fn gateway_error(message: &str, hint: &str) -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({ "message": message, "hint": hint }))
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    time::OffsetDateTime::from_unix_timestamp(now.as_secs() as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// The invited user, shaped like Auth's answer (models.User with one email identity).
fn invited_user(id: uuid::Uuid, email: &str) -> Value {
    let now = rfc3339_now();
    json!({
        "id": id, "aud": "authenticated", "role": "authenticated", "email": email,
        "invited_at": now, "confirmation_sent_at": now, "phone": "",
        "app_metadata": { "provider": "email", "providers": ["email"] },
        "user_metadata": {},
        "identities": [{
            "identity_id": uuid::Uuid::new_v4(), "id": id, "user_id": id,
            "identity_data": { "email": email, "email_verified": false, "phone_verified": false, "sub": id },
            "provider": "email", "last_sign_in_at": now, "created_at": now, "updated_at": now, "email": email
        }],
        "created_at": now, "updated_at": now, "is_anonymous": false
    })
}

fn looks_like_an_address(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
        }
        None => false,
    }
}

async fn invite(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let apikey = header(&req, "apikey");
    let authorization = header(&req, "authorization");
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    let (email, data) = match &parsed {
        Ok(v) => (
            v.get("email").and_then(Value::as_str).map(str::to_owned),
            v.get("data").cloned(),
        ),
        Err(_) => (None, None),
    };
    let config = &shared.config;
    let mut state = shared.lock();
    let response = match apikey.as_deref() {
        None => gateway_error(
            "No API key found in request",
            "No `apikey` request header or url param was found.",
        ),
        Some(k) if k != config.service_role_key && k != config.anon_key => gateway_error(
            "Invalid API key",
            "Double check your Supabase `anon` or `service_role` API key.",
        ),
        Some(_) => match authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
        {
            None => auth_error(
                401,
                "no_authorization",
                "This endpoint requires a Bearer token",
            ),
            Some(token) if token != config.service_role_key => {
                auth_error(403, "not_admin", "User not allowed")
            }
            Some(_) => match (&parsed, state.faults.pop_front()) {
                (Err(e), _) => auth_error(
                    400,
                    "bad_json",
                    &format!("Could not parse request body as JSON: {e}"),
                ),
                (Ok(_), Some(429)) => auth_error(
                    429,
                    "over_email_send_rate_limit",
                    "email rate limit exceeded",
                ),
                (Ok(_), Some(status)) if status >= 500 => {
                    auth_error(status, "unexpected_failure", "Error inviting user")
                }
                (Ok(_), Some(status)) => auth_error(status, "unknown", "Injected failure"),
                (Ok(_), None) => {
                    let email = email.clone().unwrap_or_default().trim().to_lowercase();
                    if !looks_like_an_address(&email) {
                        auth_error(
                            400,
                            "validation_failed",
                            "Unable to validate email address: invalid format",
                        )
                    } else {
                        match state.users.get(&email).copied() {
                            Some((_, true)) => auth_error(
                                422,
                                "email_exists",
                                "A user with this email address has already been registered",
                            ),
                            Some((id, false)) => HttpResponse::Ok().json(invited_user(id, &email)),
                            None => {
                                let id = uuid::Uuid::new_v4();
                                state.users.insert(email.clone(), (id, false));
                                HttpResponse::Ok().json(invited_user(id, &email))
                            }
                        }
                    }
                }
            },
        },
    };
    state.received.push(ReceivedInvite {
        email,
        data,
        apikey,
        authorization,
        status: response.status().as_u16(),
    });
    response
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    auth_error(
        404,
        "not_found",
        &format!(
            "the Auth stand-in serves only POST /auth/v1/invite, not {} {}",
            req.method(),
            req.path()
        ),
    )
}
