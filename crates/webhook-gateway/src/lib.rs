//! The webhook gateway: WhatsApp webhooks in, agents' replies out.

pub mod config;
pub mod ingest;
pub mod media;
pub mod routes;
pub mod sender;
pub mod startup;

pub use config::Settings;
pub use startup::Application;
