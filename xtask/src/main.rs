//! `cargo xtask <command>`: the project's dev tooling.

mod bench;
mod demo;
mod dev_stack;
mod install;
mod local;
mod stack_cmd;
mod test_cmd;
mod types_cmd;
mod up;
mod webhooks_cmd;

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
    /// A short scenario against `cargo xtask up`: a customer writes, an agent replies, it is read.
    Demo,
    /// Play a customer on WhatsApp (needs `cargo xtask up`).
    Simulate {
        #[command(subcommand)]
        what: SimulateWhat,
    },
    /// Benchmarks; each writes its figures to BENCHMARKS.md.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Regenerate supabase/types/database.ts from the migrations.
    Types,
    /// Journaled webhooks.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksAction,
    },
    /// The local Supabase-compatible stack.
    Stack {
        #[command(subcommand)]
        action: stack_cmd::StackAction,
    },
}

#[derive(Subcommand)]
enum SimulateWhat {
    /// A customer's text message, delivered to the gateway as a signed webhook; with
    /// `--media image|voice|document|video`, an attachment with real bytes (text: caption).
    Inbound {
        #[arg(long)]
        from: String,
        #[arg(long, default_value = "")]
        text: String,
        #[arg(long)]
        media: Option<String>,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// RLS cost on the inbox queries (and search) at 100k contacts / 1M messages.
    Rls,
    /// Webhooks stored per second: fixed rates, maximum rate, and the pgbench ceiling.
    Ingest,
    /// Replies: insert-to-WhatsApp latency and the sustained rate against the limit.
    Outbound,
    /// Broadcasts: 100,000 recipients at 80/s (60-s slice) and 1,000/s against the simulator.
    Broadcast,
    /// The template sync: 500 templates listed page by page by the simulator.
    Templates,
    /// Inbound media: webhook to servable (200 KB image, 5 MB video), serving vs. direct reads, memory under 20 range requests.
    Media,
    /// The closed loop: a broadcast at 1,000/s under its own status webhooks, with
    /// customers writing during the storm, the Graph API at 0 ms and 300 ms.
    Loop,
}

#[derive(Subcommand)]
enum WebhooksAction {
    /// Re-apply journaled webhooks that failed (after the cause was fixed).
    Replay {
        /// At most this many, oldest first.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up => up::run(),
        Command::Test => test_cmd::run(),
        Command::Pgtap { files } => test_cmd::run_pgtap_only(files),
        Command::Stack { action } => stack_cmd::run(action),
        Command::Bench {
            what: BenchWhat::Rls,
        } => bench::rls::run(),
        Command::Bench {
            what: BenchWhat::Ingest,
        } => bench::ingest::run(),
        Command::Bench {
            what: BenchWhat::Outbound,
        } => bench::outbound::run(),
        Command::Bench {
            what: BenchWhat::Broadcast,
        } => bench::broadcast::run(),
        Command::Bench {
            what: BenchWhat::Templates,
        } => bench::templates::run(),
        Command::Bench {
            what: BenchWhat::Media,
        } => bench::media::run(),
        Command::Bench {
            what: BenchWhat::Loop,
        } => bench::closed_loop::run(),
        Command::Demo => demo::run(),
        Command::Types => {
            let layout = testkit::layout::Layout::discover();
            dev_stack::start_for_tests(&layout).and_then(|()| types_cmd::run(&layout))
        }
        Command::Simulate {
            what: SimulateWhat::Inbound { from, text, media },
        } => demo::simulate_inbound(&from, &text, media.as_deref()),
        Command::Webhooks {
            action: WebhooksAction::Replay { limit },
        } => webhooks_cmd::replay(limit),
    };
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
