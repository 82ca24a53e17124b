//! When to try a retryable send again: a pure function of the attempt number, an
//! optional `Retry-After`, and a jitter value the caller draws (so tests and
//! property tests need no randomness).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the random part is applied to the exponential ceiling
/// `min(max_delay, base_delay * 2^attempt)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// Anywhere in `[0, ceiling]`: spreads a thundering herd best.
    Full,
    /// In `[ceiling / 2, ceiling]`: keeps a floor under every wait.
    Equal,
}

/// Exponential backoff with jitter, a cap, and a maximum age after which a message
/// is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Ceiling of the first retry.
    pub base_delay: Duration,
    /// No computed delay exceeds this (a larger `Retry-After` still wins).
    pub max_delay: Duration,
    /// Give up once the first attempt is this old.
    pub max_age: Duration,
    /// Jitter style.
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    /// 2 s, doubling, capped at 10 minutes, equal jitter, given up after 24 hours
    /// (the customer service window a reply is meant for).
    fn default() -> Self {
        Self {
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(10 * 60),
            max_age: Duration::from_secs(24 * 60 * 60),
            jitter: Jitter::Equal,
        }
    }
}

impl RetryPolicy {
    /// The exponential ceiling for retry number `attempt` (0 for the first retry):
    /// `min(max_delay, base_delay * 2^attempt)`, without overflow.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let base = self.base_delay.as_nanos();
        let max = self.max_delay.as_nanos();
        let grown = if base == 0 {
            0
        } else if attempt >= 128 || base.leading_zeros() < attempt {
            u128::MAX
        } else {
            base << attempt
        };
        duration_from_nanos(grown.min(max))
    }

    /// How long to wait before retry number `attempt` (0 for the first retry).
    ///
    /// `jitter` is a uniform random value in `[0, 1)` drawn by the caller (values
    /// outside are clamped, NaN counts as 0). With [`Jitter::Equal`] the result is
    /// in `[ceiling / 2, ceiling]`, with [`Jitter::Full`] in `[0, ceiling]`. For a
    /// fixed `jitter` it never decreases as `attempt` grows and never exceeds
    /// `max_delay`, unless `retry_after` (Meta's or a proxy's `Retry-After`) is
    /// larger: then that is honoured, capped at `max_age`.
    pub fn next_delay(&self, attempt: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        let jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        let ceiling = self.ceiling(attempt).as_nanos();
        let jittered = match self.jitter {
            Jitter::Full => scale(ceiling, jitter),
            Jitter::Equal => {
                let half = ceiling / 2;
                let rest = ceiling - half;
                half + scale(rest, jitter)
            }
        }
        .min(ceiling);
        let delay = duration_from_nanos(jittered);
        match retry_after {
            Some(ra) => delay.max(ra.min(self.max_age)),
            None => delay,
        }
    }

    /// `true` once the first attempt is at least `max_age` old: fail the message
    /// instead of retrying.
    pub fn should_give_up(&self, first_attempt_age: Duration) -> bool {
        first_attempt_age >= self.max_age
    }

    /// [`next_delay`](Self::next_delay), or `None` when the message should be given
    /// up: it is already too old, or would be by the time of the retry.
    pub fn next_retry(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
        first_attempt_age: Duration,
    ) -> Option<Duration> {
        let delay = self.next_delay(attempt, retry_after, jitter);
        let age_at_retry = first_attempt_age.saturating_add(delay);
        (!self.should_give_up(first_attempt_age) && !self.should_give_up(age_at_retry))
            .then_some(delay)
    }
}

/// Parses a `Retry-After` header in its delta-seconds form (`"120"`). The
/// HTTP-date form is not used by the Graph API and gives `None`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// `nanos * factor` for `factor` in `[0, 1]`, rounded down, never above `nanos`.
fn scale(nanos: u128, factor: f64) -> u128 {
    // f64 -> u128 casts saturate and map NaN to 0; the min keeps float rounding
    // from exceeding the input.
    ((nanos as f64 * factor) as u128).min(nanos)
}

fn duration_from_nanos(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below 1e9 and fits a u32.
    let sub = u32::try_from(nanos % NANOS_PER_SEC).unwrap_or(0);
    Duration::new(secs, sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(jitter: Jitter) -> RetryPolicy {
        RetryPolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_age: Duration::from_secs(3600),
            jitter,
        }
    }

    #[test]
    fn the_ceiling_doubles_up_to_the_cap() {
        let p = policy(Jitter::Equal);
        let secs: Vec<u64> = (0..9).map(|a| p.ceiling(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn equal_jitter_stays_in_the_upper_half() {
        let p = policy(Jitter::Equal);
        assert_eq!(p.next_delay(3, None, 0.0), Duration::from_secs(4));
        assert_eq!(p.next_delay(3, None, 0.5), Duration::from_secs(6));
        assert!(p.next_delay(3, None, 0.999_999) <= Duration::from_secs(8));
        assert_eq!(p.next_delay(3, None, 1.0), Duration::from_secs(8));
    }

    #[test]
    fn full_jitter_spans_zero_to_the_ceiling() {
        let p = policy(Jitter::Full);
        assert_eq!(p.next_delay(2, None, 0.0), Duration::ZERO);
        assert_eq!(p.next_delay(2, None, 0.25), Duration::from_secs(1));
    }

    #[test]
    fn odd_jitter_values_are_clamped() {
        let p = policy(Jitter::Full);
        assert_eq!(p.next_delay(2, None, f64::NAN), Duration::ZERO);
        assert_eq!(p.next_delay(2, None, -3.0), Duration::ZERO);
        assert_eq!(p.next_delay(2, None, 7.0), Duration::from_secs(4));
        assert_eq!(p.next_delay(2, None, f64::INFINITY), Duration::from_secs(4));
    }

    #[test]
    fn a_larger_retry_after_wins_up_to_max_age() {
        let p = policy(Jitter::Equal);
        assert_eq!(
            p.next_delay(0, Some(Duration::from_secs(120)), 0.0),
            Duration::from_secs(120)
        );
        assert_eq!(
            p.next_delay(5, Some(Duration::from_millis(10)), 0.0),
            Duration::from_secs(16)
        );
        assert_eq!(
            p.next_delay(0, Some(Duration::from_secs(1_000_000)), 0.0),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn giving_up_after_max_age() {
        let p = policy(Jitter::Equal);
        assert!(!p.should_give_up(Duration::from_secs(3599)));
        assert!(p.should_give_up(Duration::from_secs(3600)));
        assert_eq!(
            p.next_retry(0, None, 0.0, Duration::from_secs(10)),
            Some(Duration::from_millis(500))
        );
        assert_eq!(p.next_retry(6, None, 0.0, Duration::from_secs(3580)), None);
        assert_eq!(p.next_retry(0, None, 0.0, Duration::from_secs(4000)), None);
    }

    #[test]
    fn retry_after_headers_in_seconds() {
        assert_eq!(parse_retry_after(" 120 "), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("0"), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(parse_retry_after(""), None);
        assert_eq!(parse_retry_after("99999999999999999999999"), None);
    }

    #[test]
    fn huge_settings_do_not_overflow() {
        let p = RetryPolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            max_age: Duration::MAX,
            jitter: Jitter::Equal,
        };
        assert_eq!(p.ceiling(5), Duration::MAX);
        assert!(p.next_delay(5, Some(Duration::MAX), 0.9) <= Duration::MAX);
        assert_eq!(p.next_retry(5, None, 0.5, Duration::MAX), None);
    }
}
