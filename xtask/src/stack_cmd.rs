use anyhow::Result;
use clap::Subcommand;
use testkit::layout::Layout;

use crate::dev_stack;

#[derive(Subcommand)]
pub enum StackAction {
    /// Install what is missing (apt-get, npm ci, the cluster), then start PostgreSQL,
    /// PostgREST and the API gateway (idempotent).
    Start,
    /// Stop everything the stack started.
    Stop,
    /// Recreate the main database from bootstrap + migrations + seed.
    Reset,
    /// Print the stack's environment as KEY=VALUE lines.
    Env,
    /// Show what is running.
    Status,
}

pub fn run(action: StackAction) -> Result<()> {
    let layout = Layout::discover();
    match action {
        StackAction::Start => {
            dev_stack::start(&layout)?;
            print_where(&layout);
        }
        StackAction::Stop => {
            dev_stack::stop(&layout)?;
            eprintln!("stack stopped");
        }
        StackAction::Reset => {
            dev_stack::start(&layout)?;
            let started = std::time::Instant::now();
            dev_stack::reset_main_database(&layout)?;
            eprintln!(
                "database recreated from bootstrap + migrations + seed in {:.1?}",
                started.elapsed()
            );
        }
        StackAction::Env => {
            for (k, v) in dev_stack::env_lines() {
                println!("{k}={v}");
            }
        }
        StackAction::Status => {
            for (what, running) in dev_stack::status(&layout) {
                println!("{what}  {}", if running { "running" } else { "stopped" });
            }
        }
    }
    Ok(())
}

/// Where everything is, for a person.
pub fn print_where(layout: &Layout) {
    eprintln!(
        "local stack is running (state in {})",
        layout.state().display()
    );
    for (k, v) in dev_stack::env_lines() {
        eprintln!("  {k}={v}");
    }
    eprintln!("  REST: $SUPABASE_URL/rest/v1 (send the key as apikey)");
    eprintln!("  logs: {}", layout.logs().display());
}
