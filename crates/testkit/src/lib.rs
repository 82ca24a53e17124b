//! Dev-only support for the local stack and the tests that run against it. It starts an
//! installed stack and never installs one: installing is `cargo xtask`'s job.
//!
//! - [`layout`]: where the repository, the stack's state and the pinned tools live.
//! - [`installation`]: what an installed stack consists of, and the check tests make.
//! - [`process`]: running commands, pid files, ports, a tiny blocking HTTP probe.
//! - [`postgres`]: the PostgreSQL 15 cluster and SQL against its databases.
//! - [`postgrest`]: PostgREST processes, configured like a Supabase project's.
//! - [`gateway`]: the nginx API gateway with the `/rest/v1` layout of a hosted project.
//! - [`fingerprint`]: the digest of the bootstrap and migrations a database is built from.
//! - [`template`]: the template database built once from bootstrap + migrations.
//! - [`stack`]: what the tests need running (PostgreSQL and the gateway).
//! - [`project`]: a fresh database per test, reachable through its own PostgREST.
//! - [`wait`]: waiting for the services' background work (`TestProject::wait_for_count`).
//! - [`keys`]: the stack's JWT secret and the keys minted with it, exactly as Auth would.
//! - [`auth_standin`]: a recorded stand-in for Supabase Auth's admin invite endpoint.

pub mod auth_standin;
pub mod fingerprint;
pub mod gateway;
pub mod installation;
pub mod keys;
pub mod layout;
pub mod postgres;
pub mod postgrest;
pub mod process;
pub mod project;
pub mod stack;
pub mod template;
pub mod wait;

pub use auth_standin::{AuthStandIn, AuthStandInConfig, AuthStandInHandle, ReceivedInvite};
pub use keys::{Keys, Role};
pub use project::TestProject;
