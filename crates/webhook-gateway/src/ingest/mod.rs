//! From a verified webhook body to rows: parse into typed events (crate whatsapp), map
//! them onto the `svc.ingest_webhooks` contract, and store them through the batcher.

pub mod batcher;
pub mod events;

pub use batcher::{IngestError, Ingestor};
pub use events::{Events, WebhookEvents};
