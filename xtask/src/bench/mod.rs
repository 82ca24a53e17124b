//! `cargo xtask bench <what>`: benchmark commands that write their figures to
//! BENCHMARKS.md with the command, the machine and the date.

pub mod broadcast;
pub mod closed_loop;
pub mod ingest;
pub mod media;
pub mod outbound;
pub mod processes;
pub mod report;
pub mod rls;
pub mod templates;
