use service_runtime::{ConfigError, Env, Secret};

/// A Supabase project URL (`SUPABASE_URL`), without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectUrl(String);

impl ProjectUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim().trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"))
            .ok_or_else(|| format!("expected an http(s) URL, got {trimmed:?}"))?;
        if rest.is_empty() || rest.starts_with('/') {
            return Err(format!("the URL has no host: {trimmed:?}"));
        }
        if trimmed.ends_with("/rest/v1") {
            return Err("give the project URL without /rest/v1 (as Supabase shows it)".into());
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// PostgREST's root: `<project>/rest/v1`.
    pub fn rest(&self) -> String {
        format!("{}/rest/v1", self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the project is and the key the services use.
#[derive(Debug, Clone)]
pub struct SupabaseSettings {
    pub url: ProjectUrl,
    pub service_role_key: Secret,
}

impl SupabaseSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            url: env.required_with("SUPABASE_URL", ProjectUrl::parse)?,
            service_role_key: env.secret("SUPABASE_SERVICE_ROLE_KEY")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trailing_slash_is_dropped_and_rest_is_appended() {
        let url = ProjectUrl::parse("http://127.0.0.1:54321/").unwrap();
        assert_eq!(url.rest(), "http://127.0.0.1:54321/rest/v1");
    }

    #[test]
    fn urls_without_scheme_or_with_rest_path_are_refused() {
        assert!(ProjectUrl::parse("127.0.0.1:54321").is_err());
        assert!(ProjectUrl::parse("http://").is_err());
        assert!(ProjectUrl::parse("https://x.supabase.co/rest/v1").is_err());
    }
}
