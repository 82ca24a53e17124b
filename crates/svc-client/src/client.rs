use std::time::Duration;

use postgrest::Postgrest;
use serde::de::DeserializeOwned;

use crate::error::{PostgrestErrorBody, Shortened};
use crate::rpc::Rpc;
use crate::{SupabaseSettings, SvcError};

/// Default time a call may take before it counts as unreachable.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Calls functions of schema `svc` as service_role.
#[derive(Clone)]
pub struct SvcClient {
    api: Postgrest,
    timeout: Duration,
}

impl std::fmt::Debug for SvcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SvcClient")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl SvcClient {
    pub fn new(settings: &SupabaseSettings) -> Self {
        let key = settings.service_role_key.expose();
        let api = Postgrest::new(settings.url.rest())
            .insert_header("apikey", key)
            .insert_header("Authorization", format!("Bearer {key}"))
            .schema("svc");
        Self {
            api,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Calls the request's `svc` function and decodes its answer.
    pub(crate) async fn call<R: Rpc>(&self, request: &R) -> Result<R::Answer, SvcError> {
        let args = serde_json::to_string(request).map_err(|e| SvcError::Decode {
            function: R::FUNCTION.to_owned(),
            reason: format!("the arguments could not be encoded: {e}"),
        })?;
        self.call_raw(R::FUNCTION, args).await
    }

    /// Calls `svc.<function>(args)` and decodes its result. A function returning void
    /// answers with an empty body, decoded as JSON null.
    async fn call_raw<T: DeserializeOwned>(
        &self,
        function: &str,
        args: String,
    ) -> Result<T, SvcError> {
        let response = self
            .api
            .rpc(function, args)
            .build()
            .timeout(self.timeout)
            .send()
            .await
            .map_err(|e| SvcError::Unreachable(format!("svc.{function}: {e}")))?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(|e| {
            SvcError::Unreachable(format!("svc.{function}: reading the answer: {e}"))
        })?;
        if (200..300).contains(&status) {
            let body: &[u8] = if body.is_empty() { b"null" } else { &body };
            return serde_json::from_slice(body).map_err(|e| SvcError::Decode {
                function: function.to_owned(),
                reason: format!("{e}; body: {}", Shortened(&String::from_utf8_lossy(body))),
            });
        }
        if matches!(status, 502..=504) {
            return Err(SvcError::Unreachable(format!(
                "svc.{function}: HTTP {status}"
            )));
        }
        let parsed: Option<PostgrestErrorBody> = serde_json::from_slice(&body).ok();
        let (code, message, details) = match parsed {
            Some(b) => (
                b.code.unwrap_or_default(),
                b.message.unwrap_or_default(),
                b.details,
            ),
            None => (
                String::new(),
                Shortened(&String::from_utf8_lossy(&body)).to_string(),
                None,
            ),
        };
        Err(SvcError::Database {
            function: function.to_owned(),
            status,
            code,
            message,
            details,
        })
    }

    /// `svc.ping()`: the schema version the database has, proving PostgREST, the
    /// database and the service-role grant all work.
    pub async fn ping(&self) -> Result<String, SvcError> {
        self.call(&Ping {}).await
    }
}

/// `svc.ping()`.
#[derive(serde::Serialize)]
pub(crate) struct Ping {}

impl Rpc for Ping {
    const FUNCTION: &'static str = "ping";
    const ARGS: &'static [(&'static str, &'static str)] = &[];
    const RETURNS: &'static str = "text";
    type Answer = String;

    fn example() -> Self {
        Self {}
    }
}
