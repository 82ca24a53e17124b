//! Start-up pieces shared by the services.

pub mod config;
pub mod http;
pub mod metrics;
pub mod secret;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use config::{ConfigError, Env};
pub use secret::Secret;
pub use service::{BackgroundTasks, RunningService, Service};
