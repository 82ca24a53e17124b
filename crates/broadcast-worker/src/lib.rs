//! The broadcast worker: starts scheduled broadcasts and sends their templates to every
//! recipient at WhatsApp's throughput limit, at most once per recipient.
//!
//! - [`config`]: settings from the environment (names as in the README's configuration tables).
//! - [`scheduler`]: every second, due broadcasts start (audience materialized, exactly
//!   once) and finished ones complete.
//! - [`sender`]: leased claims under the shared rate limit and the messaging limit,
//!   template sends, outcomes recorded like the gateway's reply sender.
//! - [`messaging_limit`]: the limit sent under (configured, or learned from Meta).
//! - [`template_sync`]: the WhatsApp Business Account's templates kept in
//!   `message_templates` (at start, on a schedule, on an admin's request).
//! - [`routes`], [`progress`]: /healthz on the public listener; /readyz and /metrics
//!   (with per-broadcast gauges) on the admin one.
//! - [`startup`]: [`Application`] (build, ports, run until SIGTERM).

pub mod config;
pub mod messaging_limit;
pub mod progress;
pub mod routes;
pub mod scheduler;
pub mod sender;
pub mod startup;
pub mod template_sync;

pub use config::{MessagingLimit, Settings};
pub use startup::{Application, RunningWorker};
