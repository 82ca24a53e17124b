use std::net::SocketAddr;

use service_runtime::{ConfigError, Env, Secret};
use svc_client::SupabaseSettings;

/// Meta's Graph API.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v23.0";

/// Everything the gateway needs, parsed at start-up (names as in DESIGN.md).
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub supabase: SupabaseSettings,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub access_token: Secret,
    pub phone_number_id: String,
    pub graph_url: String,
    pub api_version: String,
    pub max_mps: u32,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            addr: env.parsed_or("GATEWAY_ADDR", SocketAddr::from(([0, 0, 0, 0], 8080)))?,
            supabase: SupabaseSettings::from_env(env)?,
            app_secret: env.secret("WHATSAPP_APP_SECRET")?,
            verify_token: env.secret("WHATSAPP_VERIFY_TOKEN")?,
            access_token: env.secret("WHATSAPP_ACCESS_TOKEN")?,
            phone_number_id: env.required("WHATSAPP_PHONE_NUMBER_ID")?,
            graph_url: env
                .optional("WHATSAPP_GRAPH_URL")
                .unwrap_or_else(|| DEFAULT_GRAPH_URL.into())
                .trim_end_matches('/')
                .to_owned(),
            api_version: env
                .optional("WHATSAPP_API_VERSION")
                .unwrap_or_else(|| DEFAULT_API_VERSION.into()),
            max_mps: env.parsed_or("WHATSAPP_MAX_MPS", 80)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete() -> Vec<(&'static str, &'static str)> {
        vec![
            ("SUPABASE_URL", "http://127.0.0.1:54321"),
            ("SUPABASE_SERVICE_ROLE_KEY", "key"),
            ("WHATSAPP_APP_SECRET", "s"),
            ("WHATSAPP_VERIFY_TOKEN", "v"),
            ("WHATSAPP_ACCESS_TOKEN", "t"),
            ("WHATSAPP_PHONE_NUMBER_ID", "123"),
        ]
    }

    #[test]
    fn defaults_apply_when_optional_values_are_unset() {
        let s = Settings::from_env(&Env::from_pairs(complete())).unwrap();
        assert_eq!(s.addr.port(), 8080);
        assert_eq!(s.graph_url, DEFAULT_GRAPH_URL);
        assert_eq!(s.max_mps, 80);
    }

    #[test]
    fn each_required_variable_is_named_when_missing() {
        for (name, _) in complete() {
            let env = Env::from_pairs(complete().into_iter().filter(|(k, _)| *k != name));
            let err = Settings::from_env(&env).unwrap_err();
            assert_eq!(err, ConfigError::Missing(name.to_owned()), "{name}");
        }
    }
}
