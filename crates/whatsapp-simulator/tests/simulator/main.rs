#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Black-box tests of the simulator: one binary, each test with its own
//! simulator and webhook receiver.

mod admin_http;
mod binary;
mod faults;
mod helpers;
mod inbound;
mod latency;
mod rules;
mod send;
mod templates;
mod validation;
mod webhooks;
