//! What the tests need running: the stack's PostgreSQL and its API gateway (each test
//! runs its own PostgREST). Starting an installed stack is fine from a test; installing
//! it is not (see [`crate::installation`]).

use anyhow::Result;

use crate::layout::Layout;
use crate::{gateway, installation, postgres};

/// Checks that the stack is installed, then starts PostgreSQL and the gateway
/// (idempotent: either may already run).
pub fn start_for_tests(layout: &Layout) -> Result<()> {
    installation::check(layout)?;
    postgres::start(layout)?;
    gateway::start(layout)
}
