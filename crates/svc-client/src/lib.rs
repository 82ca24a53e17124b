//! The services' only way to the database: functions in schema `svc`, called through
//! PostgREST with the service-role key (one call = one transaction).
//!
//! postgrest-rs (and its reqwest 0.11) stays inside this crate; callers see typed
//! functions and [`SvcError`].

pub mod broadcasts;
mod client;
mod error;
mod invitations;
mod outbound;
mod outcomes;
mod read_receipts;
mod settings;

pub use client::SvcClient;
pub use error::SvcError;
pub use invitations::{ClaimedInvitation, InviteeEmail};
pub use outcomes::OutcomeBatcher;
pub use read_receipts::ReadReceipt;
pub use settings::{ProjectUrl, SupabaseSettings};
