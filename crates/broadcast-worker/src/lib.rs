//! The broadcast worker: finds due broadcasts and sends their templates.

pub mod config;
