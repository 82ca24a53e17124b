//! From a verified webhook body to rows: parse into typed events (crate whatsapp), map
//! them onto the `svc.ingest_webhooks` contract, and store them through the batcher
//! (status-only webhooks are journaled and applied after the acknowledgement, by the
//! `applier`); and keep the raw journal only as long as needed (`retention`).

pub mod applier;
pub mod batcher;
pub mod events;
pub mod retention;

pub use batcher::{IngestError, Ingestor};
pub use events::{Events, WebhookEvents};
