//! Media: inbound attachments fetched from the Graph API into the media store (a leased
//! queue in `svc`), and served to browsers through short-lived signed links.

pub mod erasure;
pub mod fetcher;
pub mod graph;
pub mod limits;
pub mod links;
pub mod range;
pub mod settings;
pub mod store;
pub mod upload;
pub mod upload_cleanup;

pub use settings::MediaSettings;
pub use store::{MediaStore, StoreLocation};

/// Gives the database the link key, the public URL and the links' lifetime
/// (`svc.configure_media_links`), retrying until it answers.
pub async fn configure_links(
    svc: svc_client::SvcClient,
    secret: service_runtime::Secret,
    public_url: String,
    ttl: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let ttl = u32::try_from(ttl.as_secs()).unwrap_or(86_400).min(86_400);
    while !*stop.borrow() {
        match svc
            .configure_media_links(secret.expose(), &public_url, ttl)
            .await
        {
            Ok(_) => {
                tracing::info!(%public_url, ttl_seconds = ttl, "media links configured");
                return;
            }
            Err(e) => tracing::warn!(error = %e, "configuring media links failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}
