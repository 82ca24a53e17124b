//! The webhook verification handshake (GET).
//!
//! When the callback URL or verify token is saved in the App Dashboard, Meta calls
//! `GET <callback>?hub.mode=subscribe&hub.challenge=<random>&hub.verify_token=<yours>`.
//! If the token matches, answer 200 with the raw `hub.challenge` as the body;
//! otherwise 403. No webhooks arrive until this succeeds.

use subtle::ConstantTimeEq;

/// Query parameter carrying the mode (`subscribe`).
pub const MODE_PARAM: &str = "hub.mode";
/// Query parameter carrying the verify token configured in the App Dashboard.
pub const VERIFY_TOKEN_PARAM: &str = "hub.verify_token";
/// Query parameter carrying the challenge to echo back.
pub const CHALLENGE_PARAM: &str = "hub.challenge";

/// Longest challenge echoed back. Meta's challenges are short numeric strings.
const MAX_CHALLENGE_LEN: usize = 1024;

/// Why a verification request was refused. Every variant means "answer 403".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// `hub.mode` is absent or not `subscribe`.
    #[error("hub.mode is missing or not \"subscribe\"")]
    WrongMode,
    /// `hub.verify_token` is absent or differs from ours (or ours is empty).
    #[error("hub.verify_token does not match")]
    TokenMismatch,
    /// `hub.challenge` is absent, empty, too long, or contains characters other
    /// than printable ASCII (it is echoed back verbatim, so it is kept boring).
    #[error("hub.challenge is missing or invalid")]
    InvalidChallenge,
}

/// Checks a verification request and returns the challenge to answer with.
///
/// `mode`, `token` and `challenge` are the decoded query parameters
/// `hub.mode`, `hub.verify_token` and `hub.challenge`; `expected_token` is
/// `WHATSAPP_VERIFY_TOKEN`. The token comparison is constant time; an empty
/// `expected_token` never matches.
pub fn verify_subscription(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected_token: &str,
) -> Result<String, HandshakeError> {
    if mode != Some("subscribe") {
        return Err(HandshakeError::WrongMode);
    }
    let token = token.unwrap_or_default();
    if expected_token.is_empty() || !bool::from(token.as_bytes().ct_eq(expected_token.as_bytes())) {
        return Err(HandshakeError::TokenMismatch);
    }
    match challenge {
        Some(c)
            if !c.is_empty()
                && c.len() <= MAX_CHALLENGE_LEN
                && c.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            Ok(c.to_string())
        }
        _ => Err(HandshakeError::InvalidChallenge),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_matching_token_returns_the_challenge() {
        assert_eq!(
            verify_subscription(
                Some("subscribe"),
                Some("s3cret"),
                Some("1158201444"),
                "s3cret"
            ),
            Ok("1158201444".to_string())
        );
    }

    #[test]
    fn a_wrong_or_missing_mode_is_refused() {
        for mode in [None, Some(""), Some("unsubscribe"), Some("Subscribe")] {
            assert_eq!(
                verify_subscription(mode, Some("t"), Some("1"), "t"),
                Err(HandshakeError::WrongMode)
            );
        }
    }

    #[test]
    fn a_wrong_or_missing_token_is_refused() {
        for token in [None, Some(""), Some("T"), Some("t "), Some("tt")] {
            assert_eq!(
                verify_subscription(Some("subscribe"), token, Some("1"), "t"),
                Err(HandshakeError::TokenMismatch)
            );
        }
    }

    #[test]
    fn an_empty_expected_token_never_matches() {
        assert_eq!(
            verify_subscription(Some("subscribe"), Some(""), Some("1"), ""),
            Err(HandshakeError::TokenMismatch)
        );
    }

    #[test]
    fn a_missing_or_odd_challenge_is_refused() {
        let long = "1".repeat(MAX_CHALLENGE_LEN + 1);
        for challenge in [
            None,
            Some(""),
            Some("12 34"),
            Some("<script>\n"),
            Some("défi"),
            Some(long.as_str()),
        ] {
            assert_eq!(
                verify_subscription(Some("subscribe"), Some("t"), challenge, "t"),
                Err(HandshakeError::InvalidChallenge),
                "{challenge:?}"
            );
        }
    }
}
