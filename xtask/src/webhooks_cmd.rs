//! `cargo xtask webhooks replay`: re-applies journaled webhooks that failed.

use anyhow::{Context, Result};
use service_runtime::Secret;
use svc_client::{ProjectUrl, SupabaseSettings, SvcClient};

use crate::dev_stack;

/// The services' client for the local stack (or for SUPABASE_URL/SUPABASE_SERVICE_ROLE_KEY
/// when set, e.g. a hosted project).
pub fn svc_client() -> Result<SvcClient> {
    let env: std::collections::HashMap<String, String> =
        dev_stack::env_lines().into_iter().collect();
    let url = std::env::var("SUPABASE_URL").unwrap_or_else(|_| env["SUPABASE_URL"].clone());
    let key = std::env::var("SUPABASE_SERVICE_ROLE_KEY")
        .unwrap_or_else(|_| env["SUPABASE_SERVICE_ROLE_KEY"].clone());
    Ok(SvcClient::new(&SupabaseSettings {
        url: ProjectUrl::parse(&url).map_err(anyhow::Error::msg)?,
        service_role_key: Secret::new(key),
    }))
}

pub fn replay(limit: u32) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let svc = svc_client()?;
        let result = svc
            .replay_failed_webhooks(limit)
            .await
            .context("svc.replay_failed_webhooks failed")?;
        println!(
            "replayed: {} applied, {} still failing, {} could not be parsed (need a gateway fix)",
            result.applied, result.still_failed, result.unparsed
        );
        Ok(())
    })
}
