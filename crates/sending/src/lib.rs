//! The sending engine both services run (the gateway's replies, the broadcast worker's
//! recipients): what to send is claimed from a leased queue in the database, sent through
//! the Graph API, and its outcome recorded.
//!
//! - [`settings`]: `WHATSAPP_*` and the sender's own `<PREFIX>_*` variables, read once.
//! - [`graph`]: the Graph API client and what became of one request
//!   ([`graph::SendOutcome`]).
//! - [`sender`]: one runnable sender, and its stop (no new claims, sends in the air
//!   finish, unsent claims go back); [`claim_loop`] and [`pacing`]: how it claims items
//!   with the send slots the number's shared schedule reserved, and sends each at its slot.
//! - [`readiness`]: what `/readyz` says about sending (active, or paused and why).
//! - [`outcome`]: the sending policy (what comes after an outcome), `error_data`, and
//!   recording an outcome until the database answers.

pub mod claim_loop;
pub mod graph;
pub mod outcome;
pub mod pacing;
pub mod readiness;
pub mod sender;
pub mod settings;

pub use sender::SenderSettings;
pub use settings::SendingSettings;
