//! What to do about a failed send, by Meta's error `code`.
//!
//! The table follows Meta's Cloud API error codes reference (WhatsApp Cloud API
//! documentation, "Error codes"): the meaning is Meta's, the policy is this project's.
//! Decide on `code` (and `error_data.details` when showing it to a person), never on
//! titles. HTTP 5xx, timeouts and connection errors are retryable: a caller that got no
//! response at all uses [`ErrorClass::Retryable`] directly.

use serde::{Deserialize, Serialize};

/// What the sender does with a failed message. Stored as a stable snake_case code
/// ([`ErrorClass::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Transient: try again later with [`super::RetryPolicy`].
    ///
    /// - 130429 throughput limit reached (throttle the number),
    /// - 131056 pair rate limit (about 1 message per 6 s to the same user; that
    ///   recipient only),
    /// - 4 app request limit, 80007 account rate limit,
    /// - 1, 2, 131000, 131016 unknown / service unavailable / something went wrong,
    ///   131057 account in maintenance mode, 133004 server temporarily unavailable,
    /// - 132015 template paused: Meta pauses a template for low quality for 3 hours
    ///   (6 the second time) and then approves it again or disables it; a send that met
    ///   the pause waits for it instead of failing (broadcasts stop claiming a paused
    ///   template's recipients meanwhile),
    /// - with no known code: HTTP 5xx, 429 and 408.
    Retryable,
    /// 131047: more than 24 hours since the user's last message. Permanent for
    /// free-form content: only a template can reach the user now.
    WindowClosed,
    /// 131050: the user stopped marketing messages. Permanent; record the opt-out
    /// (`contacts.opted_out_at`).
    OptedOut,
    /// The channel itself is unusable: stop sending on this number, alert an admin,
    /// keep messages queued (they are not failed).
    ///
    /// - token or permission problems: 0 (AuthException), 3 (capability), 10
    ///   (permission denied), 190 (access token expired or invalid), 200-299 (API
    ///   permission), and HTTP 401 with no known code,
    /// - account restricted or locked: 368 (temporarily blocked for policy
    ///   violations), 131031 (account locked),
    /// - 131048 spam rate limit (quality): pause sending and alert,
    /// - account-level preconditions: 131042 (business eligibility / payment
    ///   issue), 131037 (display name needs approval), 133010 (business number not
    ///   registered on the Cloud API). Every message would fail the same way until
    ///   an admin fixes the account, so they stay queued.
    PauseSending,
    /// This message will never go through as is: fail it and keep `error_data`.
    ///
    /// - 131026 undeliverable (not on WhatsApp, blocked us, old app),
    /// - 131051 unsupported message type,
    /// - 132000, 132001, 132005, 132007, 132012, 132016 template problems
    ///   (parameter count, missing template, too long, policy, format, disabled),
    /// - 100 invalid parameter, 131008 required parameter missing, 131009 parameter
    ///   value invalid, 131021 recipient is the sender, 131052 / 131053 media
    ///   download / upload error,
    /// - 131049 per-user marketing cap: the reference says "don't retry soon (24 h+)
    ///   or skip"; we skip (a broadcast recipient is failed, not retried),
    /// - 130472 the user's number is part of a marketing message experiment: marketing
    ///   templates are not delivered to that recipient; failed, not retried,
    /// - 130497 business restricted from messaging users in the recipient's
    ///   country: it concerns that recipient's country, so it fails the message
    ///   instead of pausing the whole channel,
    /// - any other code, and HTTP 4xx with no known code.
    Permanent,
}

impl ErrorClass {
    /// The stable code stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retryable => "retryable",
            Self::WindowClosed => "window_closed",
            Self::OptedOut => "opted_out",
            Self::PauseSending => "pause_sending",
            Self::Permanent => "permanent",
        }
    }

    /// `true` only for [`ErrorClass::Retryable`].
    pub fn is_retryable(self) -> bool {
        self == Self::Retryable
    }
}

/// Classifies a failed send by Meta's error `code` (from the error envelope or a
/// `failed` status webhook) and the HTTP status (`None` for a status webhook).
///
/// A code in the table decides on its own; with no code, or a code not in the
/// table, HTTP 5xx, 429 and 408 are [`ErrorClass::Retryable`], HTTP 401 is
/// [`ErrorClass::PauseSending`], anything else [`ErrorClass::Permanent`]. Total:
/// never panics, every input has a class.
pub fn classify(code: Option<i64>, http_status: Option<u16>) -> ErrorClass {
    if let Some(class) = code.and_then(class_of_code) {
        return class;
    }
    match http_status {
        Some(500..=599 | 429 | 408) => ErrorClass::Retryable,
        Some(401) => ErrorClass::PauseSending,
        _ => ErrorClass::Permanent,
    }
}

fn class_of_code(code: i64) -> Option<ErrorClass> {
    use ErrorClass::*;
    Some(match code {
        130429 | 131056 | 4 | 80007 | 1 | 2 | 131000 | 131016 | 131057 | 133004 | 132015 => {
            Retryable
        }
        131047 => WindowClosed,
        131050 => OptedOut,
        0 | 3 | 10 | 190 | 200..=299 | 368 | 131031 | 131048 | 131042 | 131037 | 133010 => {
            PauseSending
        }
        131026 | 131051 | 132000 | 132001 | 132005 | 132007 | 132012 | 132016 | 100 | 131008
        | 131009 | 131021 | 131052 | 131053 | 131049 | 130472 | 130497 => Permanent,
        _ => return None,
    })
}

/// Which limit a rate-limit error is about, so the sender can throttle the right
/// thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitScope {
    /// 130429: the business number's throughput (messages per second).
    PhoneNumber,
    /// 131056: this business number and this recipient (pair rate limit).
    Recipient,
    /// 4, 80007: the app's or the account's request rate.
    App,
}

/// The limit a rate-limit error code refers to; `None` for other codes.
pub fn rate_limit_scope(code: i64) -> Option<RateLimitScope> {
    match code {
        130429 => Some(RateLimitScope::PhoneNumber),
        131056 => Some(RateLimitScope::Recipient),
        4 | 80007 => Some(RateLimitScope::App),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_table_is_followed() {
        let table: &[(&[i64], ErrorClass)] = &[
            (
                &[
                    130429, 131056, 4, 80007, 1, 2, 131000, 131016, 131057, 133004, 132015,
                ],
                ErrorClass::Retryable,
            ),
            (&[131047], ErrorClass::WindowClosed),
            (&[131050], ErrorClass::OptedOut),
            (
                &[
                    131026, 131051, 132000, 132001, 132005, 132007, 132012, 132016, 100, 131008,
                    131009, 131049, 130472, 130497,
                ],
                ErrorClass::Permanent,
            ),
            (
                &[
                    190, 0, 3, 10, 200, 250, 299, 368, 131031, 131048, 131042, 133010,
                ],
                ErrorClass::PauseSending,
            ),
        ];
        for (codes, class) in table {
            for code in *codes {
                for http in [None, Some(400), Some(500)] {
                    assert_eq!(
                        classify(Some(*code), http),
                        *class,
                        "code {code} http {http:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn without_a_known_code_the_http_status_decides() {
        assert_eq!(classify(None, Some(500)), ErrorClass::Retryable);
        assert_eq!(classify(None, Some(503)), ErrorClass::Retryable);
        assert_eq!(classify(None, Some(429)), ErrorClass::Retryable);
        assert_eq!(classify(None, Some(408)), ErrorClass::Retryable);
        assert_eq!(classify(Some(999_999), Some(502)), ErrorClass::Retryable);
        assert_eq!(classify(None, Some(401)), ErrorClass::PauseSending);
        assert_eq!(classify(None, Some(400)), ErrorClass::Permanent);
        assert_eq!(classify(None, Some(404)), ErrorClass::Permanent);
        assert_eq!(classify(None, None), ErrorClass::Permanent);
        assert_eq!(classify(Some(300), None), ErrorClass::Permanent);
        assert_eq!(classify(Some(199), None), ErrorClass::Permanent);
    }

    #[test]
    fn rate_limit_scopes() {
        assert_eq!(rate_limit_scope(130429), Some(RateLimitScope::PhoneNumber));
        assert_eq!(rate_limit_scope(131056), Some(RateLimitScope::Recipient));
        assert_eq!(rate_limit_scope(80007), Some(RateLimitScope::App));
        assert_eq!(rate_limit_scope(131047), None);
    }

    #[test]
    fn classes_have_stable_codes() {
        assert_eq!(ErrorClass::PauseSending.as_str(), "pause_sending");
        assert_eq!(
            serde_json::to_value(ErrorClass::WindowClosed).unwrap(),
            "window_closed"
        );
        assert!(ErrorClass::Retryable.is_retryable());
        assert!(!ErrorClass::Permanent.is_retryable());
    }
}
