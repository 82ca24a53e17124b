#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The gateway end to end: real HTTP, real PostgREST, a fresh database per test.

mod business_messages;
mod health;
mod helpers;
mod ingestion;
mod invitations;
mod media;
mod media_s3;
mod media_uploads;
mod security;
mod sending;
mod status_handoff;
