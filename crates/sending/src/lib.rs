//! The sending engine both services run (the gateway's replies, the broadcast worker's
//! recipients): what to send is claimed from a leased queue in the database, sent through
//! the Graph API, and its outcome recorded.
//!
//! - [`graph`]: the Graph API client and what became of one request ([`SendOutcome`]).
//! - [`claim_loop`] and [`pacing`]: how a sender claims what the shared token bucket
//!   grants, and stops (no new claims, sends in the air finish, unsent claims go back).
//! - [`outcome`]: the sending policy (what comes after an outcome), `error_data`, and
//!   recording an outcome until the database answers.

pub mod claim_loop;
pub mod graph;
pub mod outcome;
pub mod pacing;
