//! Configuration from environment variables, parsed into types at start-up.
//! A missing or malformed value is an error naming the variable.

use std::collections::HashMap;
use std::fmt::Display;
use std::str::FromStr;

use crate::Secret;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing required environment variable {0}")]
    Missing(String),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: String, reason: String },
}

impl ConfigError {
    /// The variable `name` has a value that can't be used, and why.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            name: name.into(),
            reason: reason.into(),
        }
    }
}

/// A snapshot of the environment (or of a map, in tests).
#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// This environment without `name` (tests: is a missing variable named?).
    pub fn without(&self, name: &str) -> Self {
        let mut vars = self.vars.clone();
        vars.remove(name);
        Self { vars }
    }

    fn raw(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.raw(name)
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::Missing(name.to_owned()))
    }

    pub fn secret(&self, name: &str) -> Result<Secret, ConfigError> {
        self.required(name).map(Secret::new)
    }

    pub fn optional(&self, name: &str) -> Option<String> {
        self.raw(name).map(str::to_owned)
    }

    /// A value parsed with `FromStr`, or `default` when unset.
    pub fn parsed_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.raw(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|e: T::Err| ConfigError::invalid(name, e.to_string())),
        }
    }

    /// A whole number of at least 1, or `default` when unset (counts, intervals).
    pub fn at_least_one_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr + PartialEq + From<u8>,
        T::Err: Display,
    {
        let value = self.parsed_or(name, default)?;
        if value == T::from(0) {
            return Err(ConfigError::invalid(name, "must be at least 1"));
        }
        Ok(value)
    }

    /// A value parsed by `parse`, required.
    pub fn required_with<T, E: Display>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, ConfigError> {
        let raw = self.required(name)?;
        parse(&raw).map_err(|e| ConfigError::invalid(name, e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_variable_is_named() {
        let env = Env::from_pairs([("A", "1")]);
        assert_eq!(env.required("B"), Err(ConfigError::Missing("B".into())));
        assert_eq!(
            ConfigError::Missing("B".into()).to_string(),
            "missing required environment variable B"
        );
    }

    #[test]
    fn without_removes_one_variable() {
        let env = Env::from_pairs([("A", "1"), ("B", "2")]).without("A");
        assert_eq!(env.optional("A"), None);
        assert_eq!(env.optional("B").as_deref(), Some("2"));
    }

    #[test]
    fn blank_counts_as_missing() {
        let env = Env::from_pairs([("A", "  ")]);
        assert!(matches!(env.required("A"), Err(ConfigError::Missing(_))));
    }

    #[test]
    fn a_malformed_number_names_the_variable() {
        let env = Env::from_pairs([("WHATSAPP_MAX_MPS", "fast")]);
        let err = env.parsed_or("WHATSAPP_MAX_MPS", 80u32).unwrap_err();
        assert!(err.to_string().contains("WHATSAPP_MAX_MPS"));
        assert_eq!(Env::default().parsed_or("WHATSAPP_MAX_MPS", 80u32), Ok(80));
    }
}
