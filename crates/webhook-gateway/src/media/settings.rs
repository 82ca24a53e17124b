//! The media variables (`MEDIA_*`).

use std::time::Duration;

use service_runtime::{ConfigError, Env, Secret};

use super::store::StoreLocation;

/// Where media go, how they are fetched, and how links to them are signed.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// `MEDIA_FETCHER` (default on): fetch inbound media from the Graph API.
    pub fetcher: bool,
    /// `MEDIA_STORE` (default `media`, a directory): a directory or `s3://bucket[/prefix]`.
    pub store: StoreLocation,
    /// `MEDIA_REQUEST_TIMEOUT_SECS` (default 300): the longest lookup plus download.
    pub request_timeout: Duration,
    /// `MEDIA_RETRY_BASE_MS` (default 5000): the first retry's delay; doubles after each
    /// temporary failure, at most an hour, until Meta's 7-day retention runs out.
    pub retry_base_delay: Duration,
    /// `MEDIA_HASH_ATTEMPTS` (default 3): downloads whose sha256 differs from Meta's before
    /// the attachment fails (media_hash_mismatch).
    pub hash_attempts: u32,
    /// `MEDIA_LINK_SECRET` (at least 32 characters): the key of signed links, shared with
    /// the database (the gateway gives it to the database at start). Unset: no links are
    /// minted or served (the fetcher still stores media).
    pub link_secret: Option<Secret>,
    /// `MEDIA_PUBLIC_URL` (default `http://127.0.0.1:<GATEWAY_ADDR port>`): the gateway as
    /// browsers reach it; links start with it.
    pub public_url: Option<String>,
    /// `MEDIA_LINK_TTL_SECS` (default 300): how long a viewing link lives.
    pub link_ttl: Duration,
    /// `MEDIA_ERASURE_POLL_SECS` (default 10): how often stored media of deleted messages
    /// (erased contacts) are looked for and deleted.
    pub erasure_poll: Duration,
    /// `MEDIA_UPLOAD_LIFETIME_SECS` (default 86400, a day): how long an agent's upload that
    /// no message took is kept before its file and record are deleted (looked for every
    /// `MEDIA_ERASURE_POLL_SECS`).
    pub upload_lifetime: Duration,
    /// `MEDIA_POLL_MS` (default 200): how often an idle fetcher looks for new media (a
    /// claim on an empty queue is one index probe).
    pub poll_interval: Duration,
}

impl MediaSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let store = StoreLocation::parse(
            &env.optional("MEDIA_STORE")
                .unwrap_or_else(|| "media".into()),
        )
        .map_err(|reason| ConfigError::invalid("MEDIA_STORE", reason))?;
        let link_secret = env.optional("MEDIA_LINK_SECRET").map(Secret::new);
        if let Some(secret) = &link_secret {
            if secret.expose().len() < 32 {
                return Err(ConfigError::invalid(
                    "MEDIA_LINK_SECRET",
                    "must be at least 32 characters (e.g. openssl rand -hex 32)",
                ));
            }
        }
        let public_url = match env.optional("MEDIA_PUBLIC_URL") {
            None => None,
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(_) => {
                return Err(ConfigError::invalid(
                    "MEDIA_PUBLIC_URL",
                    "must be an http:// or https:// URL",
                ))
            }
        };
        Ok(Self {
            fetcher: crate::config::switch(env, "MEDIA_FETCHER")?,
            store,
            request_timeout: Duration::from_secs(
                env.at_least_one_or("MEDIA_REQUEST_TIMEOUT_SECS", 300)?,
            ),
            retry_base_delay: Duration::from_millis(env.parsed_or("MEDIA_RETRY_BASE_MS", 5_000)?),
            hash_attempts: env.at_least_one_or("MEDIA_HASH_ATTEMPTS", 3)?,
            link_secret,
            public_url,
            link_ttl: Duration::from_secs(env.at_least_one_or("MEDIA_LINK_TTL_SECS", 300)?),
            erasure_poll: Duration::from_secs(env.at_least_one_or("MEDIA_ERASURE_POLL_SECS", 10)?),
            upload_lifetime: Duration::from_secs(
                env.at_least_one_or("MEDIA_UPLOAD_LIFETIME_SECS", 86_400)?,
            ),
            poll_interval: Duration::from_millis(env.at_least_one_or("MEDIA_POLL_MS", 200)?),
        })
    }

    /// For tests: fetcher off until a test turns it on, files in `dir`, fast retries.
    pub fn for_tests(dir: std::path::PathBuf) -> Self {
        Self {
            fetcher: false,
            store: StoreLocation::Directory(dir),
            request_timeout: Duration::from_secs(10),
            retry_base_delay: Duration::from_millis(50),
            hash_attempts: 2,
            link_secret: Some(Secret::new("test-media-link-secret-of-32-chars!!")),
            public_url: None,
            link_ttl: Duration::from_secs(300),
            erasure_poll: Duration::from_millis(50),
            upload_lifetime: Duration::from_secs(86_400),
            poll_interval: Duration::from_millis(50),
        }
    }

    /// A claim is held for twice the request timeout: long enough for a download and the
    /// record, short enough that a dead fetcher's work comes back.
    pub fn lease_seconds(&self) -> u32 {
        u32::try_from(self.request_timeout.as_secs().saturating_mul(2)).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_when_unset() {
        let s = MediaSettings::from_env(&Env::from_pairs(Vec::<(&str, &str)>::new())).unwrap();
        assert!(s.fetcher);
        assert_eq!(s.store, StoreLocation::Directory("media".into()));
        assert!(s.link_secret.is_none());
        assert_eq!(s.link_ttl, Duration::from_secs(300));
        assert_eq!(s.poll_interval, Duration::from_millis(200));
        assert_eq!(s.hash_attempts, 3);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("MEDIA_STORE", "gs://bucket"),
            ("MEDIA_LINK_SECRET", "too-short"),
            ("MEDIA_PUBLIC_URL", "media.example.com"),
            ("MEDIA_FETCHER", "maybe"),
            ("MEDIA_LINK_TTL_SECS", "0"),
        ] {
            let err = MediaSettings::from_env(&Env::from_pairs([(name, value)])).unwrap_err();
            assert!(
                matches!(&err, ConfigError::Invalid { name: n, .. } if n == name),
                "{name}={value}: {err:?}"
            );
        }
        let s = MediaSettings::from_env(&Env::from_pairs([
            ("MEDIA_STORE", "s3://media/inbox"),
            ("MEDIA_PUBLIC_URL", "https://media.example.com/"),
        ]))
        .unwrap();
        assert_eq!(s.public_url.as_deref(), Some("https://media.example.com"));
    }
}
