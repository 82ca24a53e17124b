//! How long the Graph API takes to answer: a fixed part plus uniform jitter, so
//! that senders meet the answer times Meta's API has (hundreds of milliseconds)
//! instead of a local server's microseconds.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The answer latency of the messages endpoint: each answer waits
/// `fixed_ms ± jitter_ms` (uniform), never less than zero. The message is
/// accepted (counted against the throughput limit, recorded) when the request
/// arrives; its status webhooks follow the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerLatency {
    /// The middle of the answer time, in milliseconds.
    pub fixed_ms: u64,
    /// Up to this many milliseconds more or less, uniformly.
    pub jitter_ms: u64,
}

impl AnswerLatency {
    /// `fixed_ms ± jitter_ms`.
    pub fn new(fixed_ms: u64, jitter_ms: u64) -> Self {
        Self {
            fixed_ms,
            jitter_ms,
        }
    }

    /// Parses `SIM_ANSWER_LATENCY_MS`: `300` (fixed) or `300,100` (fixed, jitter).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let ms = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not a number of milliseconds"))
        };
        match spec.split(',').collect::<Vec<_>>().as_slice() {
            [fixed] => Ok(Self::new(ms(fixed)?, 0)),
            [fixed, jitter] => Ok(Self::new(ms(fixed)?, ms(jitter)?)),
            _ => Err("expected fixed[,jitter] in milliseconds, e.g. 300,100".into()),
        }
    }

    /// One answer time; `unit` in [0, 1) picks where in the jitter range it falls.
    pub fn at(&self, unit: f64) -> Duration {
        let low = self.fixed_ms.saturating_sub(self.jitter_ms) as f64;
        let high = (self.fixed_ms + self.jitter_ms) as f64;
        let ms = low + (high - low) * unit.clamp(0.0, 1.0);
        Duration::from_micros((ms * 1000.0) as u64)
    }

    /// One answer time at random within the range.
    pub fn sample(&self) -> Duration {
        if self.jitter_ms == 0 {
            return Duration::from_millis(self.fixed_ms);
        }
        // The last 7 bytes of a v4 UUID are random (the version and variant
        // bits sit before them).
        let random = (uuid::Uuid::new_v4().as_u128() as u64) & ((1 << 56) - 1);
        self.at(random as f64 / (1u64 << 56) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fixed_and_jitter() {
        assert_eq!(AnswerLatency::parse("0").unwrap(), AnswerLatency::default());
        assert_eq!(
            AnswerLatency::parse("300, 100").unwrap(),
            AnswerLatency::new(300, 100)
        );
        for bad in ["", "fast", "1,2,3", "300,-1"] {
            assert!(AnswerLatency::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn answers_stay_within_the_range_and_cover_it() {
        let l = AnswerLatency::new(300, 100);
        assert_eq!(l.at(0.0), Duration::from_millis(200));
        assert_eq!(l.at(1.0), Duration::from_millis(400));
        let samples: Vec<Duration> = (0..2000).map(|_| l.sample()).collect();
        assert!(samples
            .iter()
            .all(|d| *d >= Duration::from_millis(200) && *d <= Duration::from_millis(400)));
        assert!(samples.iter().any(|d| *d < Duration::from_millis(250)));
        assert!(samples.iter().any(|d| *d > Duration::from_millis(350)));
        // Jitter larger than the fixed part never goes below zero.
        assert_eq!(AnswerLatency::new(10, 50).at(0.0), Duration::ZERO);
    }
}
