//! Dev-only support for the local stack and the tests that run against it.
//!
//! - [`layout`]: where the repository, the stack's state and the pinned tools live.
//! - [`auth_standin`]: a recorded stand-in for Supabase Auth's admin invite endpoint.
//! - [`keys`]: the stack's JWT secret and the keys minted with it, exactly as Auth would.
//! - [`stack`]: PostgreSQL, PostgREST and the nginx gateway of `cargo xtask stack`.
//! - [`template`]: the template database built once from bootstrap + migrations.
//! - [`project`]: a fresh database per test, reachable through its own PostgREST.
//! - [`wait`]: waiting for the services' background work (`TestProject::wait_for_count`).

pub mod auth_standin;
pub mod keys;
pub mod layout;
pub mod project;
pub mod stack;
pub mod template;
pub mod wait;

pub use auth_standin::{AuthStandIn, AuthStandInConfig, AuthStandInHandle, ReceivedInvite};
pub use keys::{Keys, Role};
pub use project::TestProject;
