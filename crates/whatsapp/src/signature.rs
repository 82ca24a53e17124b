//! `X-Hub-Signature-256` verification for webhook POSTs.
//!
//! Meta signs every webhook with HMAC-SHA256 over the **raw request body**, keyed
//! with the app secret, and sends `sha256=<hex>` in the `X-Hub-Signature-256`
//! header. Always verify the bytes exactly as received: never re-serialized JSON.
//!
//! Meta's Graph documentation also says the signature is computed over the payload
//! with every non-ASCII character escaped as `\uXXXX` (lowercase hex, UTF-16
//! surrogate pairs for characters outside the BMP). Deliveries with raw UTF-8 whose
//! signature only matches the escaped form have been reported, so
//! [`verify_signature`] checks the raw bytes first and, only if that fails and the
//! body contains non-ASCII UTF-8, the escaped form (see [`escape_non_ascii`]).

use std::fmt::Write as _;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Name of the header Meta puts the signature in.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

const PREFIX: &str = "sha256=";

/// Why a webhook signature was rejected. Every variant means "answer 401/403 and
/// do not process the body".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Hub-Signature-256` header (or an empty one).
    #[error("missing X-Hub-Signature-256 header")]
    Missing,
    /// The header is not `sha256=` followed by 64 hex digits.
    #[error("malformed X-Hub-Signature-256 header")]
    Malformed,
    /// Well-formed header, but the HMAC does not match the body (or the app secret
    /// is empty, which would make every signature forgeable).
    #[error("X-Hub-Signature-256 does not match the body")]
    Mismatch,
}

/// Verifies `header` (the value of `X-Hub-Signature-256`) against `raw_body`.
///
/// The comparison is constant time (`hmac`'s `verify_slice`). If the raw bytes do
/// not match and the body contains non-ASCII UTF-8, the body with non-ASCII
/// characters escaped as `\uXXXX` is tried as well (Meta's documented form).
///
/// An empty `app_secret` is always a [`SignatureError::Mismatch`]: a configuration
/// error must not turn into "anyone can sign".
pub fn verify_signature(
    app_secret: &[u8],
    raw_body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureError> {
    let header = header.map(str::trim).unwrap_or_default();
    if header.is_empty() {
        return Err(SignatureError::Missing);
    }
    let expected = parse_header(header)?;
    if app_secret.is_empty() {
        return Err(SignatureError::Mismatch);
    }
    if mac_matches(app_secret, raw_body, &expected) {
        return Ok(());
    }
    if !raw_body.is_ascii() {
        if let Ok(text) = std::str::from_utf8(raw_body) {
            let escaped = escape_non_ascii(text);
            if mac_matches(app_secret, escaped.as_bytes(), &expected) {
                return Ok(());
            }
        }
    }
    Err(SignatureError::Mismatch)
}

/// Computes the `X-Hub-Signature-256` header value (`sha256=<lowercase hex>`) for
/// `body`, as Meta would over these exact bytes. Used by the simulator and tests.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let digest = match HmacSha256::new_from_slice(app_secret) {
        Ok(mut mac) => {
            mac.update(body);
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC accepts keys of any length; this arm is unreachable in practice.
        Err(_) => Vec::new(),
    };
    format!("{PREFIX}{}", hex::encode(digest))
}

/// Returns `text` with every non-ASCII character written as a JSON `\uXXXX`
/// escape with lowercase hex digits; characters outside the Basic Multilingual
/// Plane become a UTF-16 surrogate pair (`😀` -> `\ud83d\ude00`). ASCII bytes,
/// including existing escapes, are left untouched.
///
/// This is the form Meta's Graph documentation says the signature covers. Since
/// JSON strings may contain such escapes, the escaped body is still the same JSON
/// document.
pub fn escape_non_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut units = [0u16; 2];
    for ch in text.chars() {
        if ch.is_ascii() {
            out.push(ch);
        } else {
            for unit in ch.encode_utf16(&mut units).iter() {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

fn parse_header(header: &str) -> Result<Vec<u8>, SignatureError> {
    let hex_part = header
        .strip_prefix(PREFIX)
        .ok_or(SignatureError::Malformed)?;
    if hex_part.len() != 64 {
        return Err(SignatureError::Malformed);
    }
    hex::decode(hex_part).map_err(|_| SignatureError::Malformed)
}

fn mac_matches(app_secret: &[u8], body: &[u8], expected: &[u8]) -> bool {
    match HmacSha256::new_from_slice(app_secret) {
        Ok(mut mac) => {
            mac.update(body);
            mac.verify_slice(expected).is_ok()
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"app-secret";

    #[test]
    fn a_body_signed_with_the_secret_verifies() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign(SECRET, body);
        assert!(header.starts_with("sha256="));
        assert_eq!(header.len(), 7 + 64);
        assert_eq!(verify_signature(SECRET, body, Some(&header)), Ok(()));
    }

    #[test]
    fn the_signature_matches_a_known_hmac_sha256_vector() {
        // RFC 4231 test case 2.
        let header = sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            header,
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn surrounding_whitespace_in_the_header_is_ignored() {
        let body = b"{}";
        let header = format!("  {}\t", sign(SECRET, body));
        assert_eq!(verify_signature(SECRET, body, Some(&header)), Ok(()));
    }

    #[test]
    fn uppercase_hex_digits_are_accepted() {
        let body = b"{}";
        let header = sign(SECRET, body);
        let upper = format!("sha256={}", header[7..].to_uppercase());
        assert_eq!(verify_signature(SECRET, body, Some(&upper)), Ok(()));
    }

    #[test]
    fn a_missing_or_empty_header_is_missing() {
        assert_eq!(
            verify_signature(SECRET, b"{}", None),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(SECRET, b"{}", Some("")),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(SECRET, b"{}", Some("   ")),
            Err(SignatureError::Missing)
        );
    }

    #[test]
    fn malformed_headers_are_malformed() {
        let good = sign(SECRET, b"{}");
        let hex_part = &good[7..];
        for bad in [
            "sha256=".to_string(),
            format!("sha1={hex_part}"),
            format!("SHA256={hex_part}"),
            hex_part.to_string(),
            format!("sha256={}", &hex_part[..62]),
            format!("sha256={hex_part}00"),
            format!("sha256={}zz", &hex_part[..62]),
            "sha256=not hex at all".to_string(),
        ] {
            assert_eq!(
                verify_signature(SECRET, b"{}", Some(&bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_different_body_or_secret_is_a_mismatch() {
        let header = sign(SECRET, b"{\"a\":1}");
        assert_eq!(
            verify_signature(SECRET, b"{\"a\":2}", Some(&header)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(b"other-secret", b"{\"a\":1}", Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_empty_secret_never_verifies() {
        let header = sign(b"", b"{}");
        assert_eq!(
            verify_signature(b"", b"{}", Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn escaping_uses_lowercase_hex_and_surrogate_pairs() {
        assert_eq!(escape_non_ascii("abc \"q\" \\n"), "abc \"q\" \\n");
        assert_eq!(escape_non_ascii("é"), "\\u00e9");
        assert_eq!(escape_non_ascii("€"), "\\u20ac");
        assert_eq!(escape_non_ascii("😀"), "\\ud83d\\ude00");
        assert_eq!(escape_non_ascii("Olá 👋!"), "Ol\\u00e1 \\ud83d\\udc4b!");
    }

    #[test]
    fn the_escaped_body_is_the_same_json_document() {
        let raw = r#"{"body":"Café 😀 ñandú"}"#;
        let escaped = escape_non_ascii(raw);
        let a: serde_json::Value = serde_json::from_str(raw).unwrap();
        let b: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn a_body_signed_over_its_escaped_form_verifies() {
        let raw = r#"{"text":{"body":"Café ñandú 😀 👍🏽 Grüße"}}"#;
        let header = sign(SECRET, escape_non_ascii(raw).as_bytes());
        // The raw bytes alone do not match ...
        assert_ne!(header, sign(SECRET, raw.as_bytes()));
        // ... but the fallback accepts them.
        assert_eq!(
            verify_signature(SECRET, raw.as_bytes(), Some(&header)),
            Ok(())
        );
    }

    #[test]
    fn a_tampered_body_fails_even_with_the_escaped_fallback() {
        let raw = r#"{"text":{"body":"Café 😀"}}"#;
        let header = sign(SECRET, escape_non_ascii(raw).as_bytes());
        let tampered = r#"{"text":{"body":"Cafe 😀"}}"#;
        assert_eq!(
            verify_signature(SECRET, tampered.as_bytes(), Some(&header)),
            Err(SignatureError::Mismatch)
        );
        let tampered_emoji = r#"{"text":{"body":"Café 😁"}}"#;
        assert_eq!(
            verify_signature(SECRET, tampered_emoji.as_bytes(), Some(&header)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn an_invalid_utf8_body_is_only_checked_raw() {
        let body = [b'{', 0xff, 0xfe, b'}'];
        let header = sign(SECRET, &body);
        assert_eq!(verify_signature(SECRET, &body, Some(&header)), Ok(()));
        let other = sign(SECRET, b"{}");
        assert_eq!(
            verify_signature(SECRET, &body, Some(&other)),
            Err(SignatureError::Mismatch)
        );
    }
}
