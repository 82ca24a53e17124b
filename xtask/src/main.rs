//! `cargo xtask <command>`: the project's dev tooling.

mod stack_cmd;
mod test_cmd;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "ChatCentralize dev tooling")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: the local stack and the services, with the WhatsApp simulator.
    Up,
    /// Everything: formatting, clippy, pgTAP, Supabase lint and advisors, Rust tests.
    Test,
    /// Only the pgTAP files (all, or the ones named) on a fresh database: quick iteration.
    Pgtap {
        /// Files under supabase/tests (default: all).
        files: Vec<std::path::PathBuf>,
    },
    /// The local Supabase-compatible stack.
    Stack {
        #[command(subcommand)]
        action: stack_cmd::StackAction,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up => up::run(),
        Command::Test => test_cmd::run(),
        Command::Pgtap { files } => test_cmd::run_pgtap_only(files),
        Command::Stack { action } => stack_cmd::run(action),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
