//! Writing figures down: one section per benchmark in BENCHMARKS.md, replaced on each run.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::Result;
use testkit::layout::Layout;

/// The machine, as a line for the report.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    format!("{cores} cores ({model}), {mem_gb:.0} GB RAM, PostgreSQL 15, PostgREST 12.0.2, everything on one machine")
}

pub fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Percentile of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Replaces (or appends) the section `## <title>` of BENCHMARKS.md.
pub fn write_section(title: &str, command: &str, body: &str) -> Result<()> {
    let path = Layout::discover().root().join("BENCHMARKS.md");
    let existing = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        "# Benchmarks\n\nFigures written by the benchmark commands themselves. The machines are shared and \
         noisy: compare the ratios measured within one run, not absolute numbers across runs.\n"
            .into()
    });
    let mut section = String::new();
    let _ = writeln!(section, "## {title}\n");
    let _ = writeln!(section, "- command: `{command}`");
    let _ = writeln!(section, "- machine: {}", machine());
    let _ = writeln!(section, "- date: {}\n", today());
    section.push_str(body.trim_end());
    section.push('\n');

    let header = format!("## {title}\n");
    let updated = match existing.find(&header) {
        Some(start) => {
            let rest = &existing[start + header.len()..];
            let end = rest
                .find("\n## ")
                .map(|i| start + header.len() + i + 1)
                .unwrap_or(existing.len());
            format!(
                "{}{}\n{}",
                &existing[..start],
                section,
                existing[end..].trim_start_matches('\n')
            )
        }
        None => format!("{}\n{}", existing.trim_end(), format_args!("\n{section}")),
    };
    std::fs::write(&path, updated.trim_end().to_owned() + "\n")?;
    eprintln!("figures written to {}", path.display());
    Ok(())
}
