//! Faults injected on demand: what the next requests of the messages endpoint
//! suffer. Set with [`crate::SimulatorHandle::set_faults`] or `POST /_sim/faults`
//! (the body is a [`Faults`] in JSON; absent fields take their defaults, and the
//! new value replaces the old one); `DELETE /_sim/faults` clears them.
//!
//! Order of application to one request of the messages endpoint (each request
//! uses up at most one counted fault):
//!
//! 1. `timeouts`: the request is held `timeout_ms`; with `timeout_processed`
//!    it is processed first (the message is accepted and recorded, the client
//!    just never hears: an unknown outcome), otherwise it is not processed and,
//!    after the hold, answered 503 code 2.
//! 2. `server_errors`: HTTP 500 code 1 or 503 code 2.
//! 3. `token_revoked`: HTTP 401 code 190 for every request until cleared.
//! 4. (authentication, phone-number id and shape checks)
//! 5. `recipient_errors`: the listed recipients always fail with their code.
//! 6. `rate_limit_burst`: HTTP 400 code 130429 for that many messages.
//! 7. (templates, 24-hour window, throughput limit)

use serde::{Deserialize, Serialize};

/// Which HTTP 5xx a server-error fault answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerErrorKind {
    /// HTTP 500, code 1 "An unknown error occurred".
    #[default]
    Internal,
    /// HTTP 503, code 2 "Service temporarily unavailable".
    Unavailable,
}

/// A recipient that always fails (until the faults are cleared).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientError {
    /// The recipient, as sent or as its digits (`+34 600...` matches `34600...`).
    pub to: String,
    /// Meta's error code, e.g. 131026.
    pub code: i64,
    /// The error title; by default Meta's title for well-known codes.
    #[serde(default)]
    pub title: Option<String>,
    /// `error_data.details`; by default a sentence about the code.
    #[serde(default)]
    pub details: Option<String>,
    /// HTTP status of the synchronous answer (default 400).
    #[serde(default)]
    pub http_status: Option<u16>,
    /// `true`: accept the message (a wamid, recorded) and report the error in a
    /// `failed` status webhook instead, as Meta does for errors found after
    /// acceptance (131026 typically arrives this way).
    #[serde(default)]
    pub via_status_webhook: bool,
}

impl RecipientError {
    /// `to` always fails with `code` (synchronously, HTTP 400).
    pub fn new(to: impl Into<String>, code: i64) -> Self {
        Self {
            to: to.into(),
            code,
            title: None,
            details: None,
            http_status: None,
            via_status_webhook: false,
        }
    }

    /// 131026 "Message Undeliverable".
    pub fn undeliverable(to: impl Into<String>) -> Self {
        Self::new(to, 131_026)
    }

    /// Reported in a `failed` status webhook after acceptance instead.
    pub fn via_status_webhook(mut self) -> Self {
        self.via_status_webhook = true;
        self
    }

    /// The title to answer with.
    pub fn effective_title(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| title_of(self.code).to_string())
    }

    /// The details to answer with.
    pub fn effective_details(&self) -> String {
        self.details
            .clone()
            .unwrap_or_else(|| details_of(self.code).to_string())
    }
}

/// The faults in force. `Faults::default()` is "no faults".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// The next N requests answer HTTP 5xx.
    pub server_errors: u32,
    /// Which 5xx.
    pub server_error_kind: ServerErrorKind,
    /// The next N requests are held longer than the client waits.
    pub timeouts: u32,
    /// How long; default the configuration's `fault_timeout`.
    pub timeout_ms: Option<u64>,
    /// Process timed-out requests anyway (see the module documentation).
    pub timeout_processed: bool,
    /// The next N messages answer 130429 "Rate limit hit".
    pub rate_limit_burst: u32,
    /// Recipients that always fail.
    pub recipient_errors: Vec<RecipientError>,
    /// Every request answers 401 code 190 until this is cleared.
    pub token_revoked: bool,
}

impl Faults {
    /// The next `n` requests answer HTTP 500 code 1.
    pub fn server_errors(n: u32) -> Self {
        Self {
            server_errors: n,
            ..Self::default()
        }
    }

    /// The next `n` requests are held `ms` milliseconds and not processed.
    pub fn timeouts(n: u32, ms: u64) -> Self {
        Self {
            timeouts: n,
            timeout_ms: Some(ms),
            ..Self::default()
        }
    }

    /// The next `n` messages answer 130429.
    pub fn rate_limit_burst(n: u32) -> Self {
        Self {
            rate_limit_burst: n,
            ..Self::default()
        }
    }

    /// Every request answers 401 code 190.
    pub fn token_revoked() -> Self {
        Self {
            token_revoked: true,
            ..Self::default()
        }
    }

    /// These recipients always fail.
    pub fn recipient_errors(errors: Vec<RecipientError>) -> Self {
        Self {
            recipient_errors: errors,
            ..Self::default()
        }
    }

    /// `true` when no fault is in force (every count used up, no failing
    /// recipient, token valid).
    pub fn is_clear(&self) -> bool {
        self.server_errors == 0
            && self.timeouts == 0
            && self.rate_limit_burst == 0
            && self.recipient_errors.is_empty()
            && !self.token_revoked
    }
}

/// Meta's title for a well-known error code.
pub(crate) fn title_of(code: i64) -> &'static str {
    match code {
        1 => "An unknown error occurred",
        2 => "Service temporarily unavailable",
        4 => "Application request limit reached",
        100 => "Invalid parameter",
        190 => "Access token has expired",
        368 => "Temporarily blocked for policies violations",
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131016 => "Service unavailable",
        131021 => "Recipient cannot be sender",
        131026 => "Message Undeliverable",
        131031 => "Business Account locked",
        131042 => "Business eligibility payment issue",
        131047 => "Re-engagement message",
        131048 => "Spam rate limit hit",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        130472 => "User's number is part of an experiment",
        131050 => "Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business.",
        131051 => "Unsupported message type",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        131057 => "Account in maintenance mode",
        132000 => "Number of parameters does not match the expected number of params",
        132001 => "Template name does not exist in the translation",
        132015 => "Template is Paused",
        132016 => "Template is Disabled",
        _ => "Error",
    }
}

fn details_of(code: i64) -> &'static str {
    match code {
        131026 => "Message Undeliverable.",
        131047 => "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        131049 => "In order to maintain a healthy ecosystem engagement, the message failed to be delivered.",
        130472 => "Failed to send message because this user's phone number is part of an experiment.",
        131050 => "The recipient has stopped marketing messages from this business.",
        131056 => "Too many messages sent from the sender phone number to the same recipient phone number in a short period of time.",
        _ => "Simulated error.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_from_partial_json() {
        let f: Faults = serde_json::from_str(
            r#"{"server_errors":2,"server_error_kind":"unavailable",
                "recipient_errors":[{"to":"+34600123456","code":131026}]}"#,
        )
        .unwrap();
        assert_eq!(f.server_errors, 2);
        assert_eq!(f.server_error_kind, ServerErrorKind::Unavailable);
        assert_eq!(
            f.recipient_errors[0].effective_title(),
            "Message Undeliverable"
        );
        assert!(!f.token_revoked);
        assert!(serde_json::from_str::<Faults>("{}").unwrap().is_clear());
    }
}
