#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The broadcast worker end to end: real PostgREST, a fresh database per test, the
//! in-process WhatsApp simulator as Meta.

mod health;
mod helpers;
mod lifecycle;
mod sending;
mod templates;
