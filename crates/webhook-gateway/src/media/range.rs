//! HTTP range requests (RFC 9110 §14) for serving media: one byte range per request, so
//! that voice notes and videos seek. Several ranges, other units or a malformed header are
//! answered with the whole file, as the RFC allows.

use std::ops::Range;

/// What to serve of a file of a known size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// 200, the whole file.
    Full,
    /// 206, these bytes.
    Partial(Range<u64>),
    /// 416: the range starts past the end.
    Unsatisfiable,
}

/// Interprets a `Range` header for a file of `size` bytes.
pub fn parse(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (first.parse::<u64>(), last.parse::<u64>()) {
        // bytes=-N: the last N bytes.
        (Err(_), Ok(n)) if first.is_empty() => {
            if n == 0 || size == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(size.saturating_sub(n)..size)
            }
        }
        // bytes=A-
        (Ok(a), Err(_)) if last.is_empty() => {
            if a >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(a..size)
            }
        }
        // bytes=A-B
        (Ok(a), Ok(b)) if a <= b => {
            if a >= size {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial(a..(b + 1).min(size))
            }
        }
        _ => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_ranges_of_each_form() {
        assert_eq!(
            parse(Some("bytes=0-99"), 1000),
            RangeRequest::Partial(0..100)
        );
        assert_eq!(
            parse(Some("bytes=900-"), 1000),
            RangeRequest::Partial(900..1000)
        );
        assert_eq!(
            parse(Some("bytes=-100"), 1000),
            RangeRequest::Partial(900..1000)
        );
        assert_eq!(
            parse(Some("bytes=-5000"), 1000),
            RangeRequest::Partial(0..1000)
        );
        assert_eq!(
            parse(Some("bytes=990-5000"), 1000),
            RangeRequest::Partial(990..1000)
        );
    }

    #[test]
    fn ranges_past_the_end_are_unsatisfiable() {
        assert_eq!(
            parse(Some("bytes=1000-"), 1000),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse(Some("bytes=1000-1001"), 1000),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse(Some("bytes=-0"), 1000), RangeRequest::Unsatisfiable);
        assert_eq!(parse(Some("bytes=0-"), 0), RangeRequest::Unsatisfiable);
    }

    #[test]
    fn anything_else_is_the_whole_file() {
        for h in [
            None,
            Some("items=0-1"),
            Some("bytes=0-1,5-6"),
            Some("bytes=5-1"),
            Some("bytes=x-y"),
            Some("bytes="),
        ] {
            assert_eq!(parse(h, 1000), RangeRequest::Full, "{h:?}");
        }
    }
}
