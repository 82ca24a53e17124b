use service_runtime::{ConfigError, Env, Secret};
use svc_client::SupabaseSettings;

/// Everything the worker needs, parsed at start-up.
#[derive(Debug, Clone)]
pub struct Settings {
    pub supabase: SupabaseSettings,
    pub whatsapp_access_token: Secret,
    pub whatsapp_phone_number_id: String,
    pub whatsapp_graph_url: String,
    pub whatsapp_api_version: String,
    pub max_mps: u32,
}

impl Settings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            supabase: SupabaseSettings::from_env(env)?,
            whatsapp_access_token: env.secret("WHATSAPP_ACCESS_TOKEN")?,
            whatsapp_phone_number_id: env.required("WHATSAPP_PHONE_NUMBER_ID")?,
            whatsapp_graph_url: env
                .optional("WHATSAPP_GRAPH_URL")
                .unwrap_or_else(|| "https://graph.facebook.com".into()),
            whatsapp_api_version: env
                .optional("WHATSAPP_API_VERSION")
                .unwrap_or_else(|| "v23.0".into()),
            max_mps: env.parsed_or("WHATSAPP_MAX_MPS", 80)?,
        })
    }
}
