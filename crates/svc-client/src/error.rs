use std::fmt;

/// Why a call to a `svc` function did not give a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SvcError {
    /// PostgREST or the database could not be reached (connection refused, timeout,
    /// 502-504 from a gateway, 503 from PostgREST when its pool has no database).
    #[error("the database API is unreachable: {0}")]
    Unreachable(String),
    /// The function raised an error (PostgreSQL errcode and message).
    #[error("svc.{function} failed with {code}: {message}")]
    Database {
        function: String,
        status: u16,
        code: String,
        message: String,
        details: Option<String>,
    },
    /// The answer was not what the function returns.
    #[error("svc.{function} answered something unexpected: {reason}")]
    Decode { function: String, reason: String },
}

impl SvcError {
    /// Worth retrying later: the database may be back, or a serialization failure /
    /// deadlock may not repeat.
    pub fn is_transient(&self) -> bool {
        match self {
            SvcError::Unreachable(_) => true,
            SvcError::Database { code, .. } => {
                matches!(
                    code.as_str(),
                    "40001"
                        | "40P01"
                        | "57014"
                        | "53300"
                        | "55P03"
                        | "PGRST000"
                        | "PGRST001"
                        | "PGRST003"
                )
            }
            SvcError::Decode { .. } => false,
        }
    }
}

/// PostgREST's error body.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct PostgrestErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub details: Option<String>,
}

pub(crate) struct Shortened<'a>(pub &'a str);

impl fmt::Display for Shortened<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        match s.char_indices().nth(200) {
            Some((i, _)) => write!(f, "{}...", &s[..i]),
            None => f.write_str(s),
        }
    }
}
