//! `cargo xtask test`: every check the project has, in one command.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use testkit::layout::{database_url, pg_port, Layout};
use testkit::process;
use testkit::project::TEST_DB_PREFIX;
use testkit::template;

use crate::dev_stack;

const PGTAP_DB: &str = "cc_pgtap";

pub fn run() -> Result<()> {
    let layout = Layout::discover();
    step("formatting");
    process::run(
        Command::new("cargo").args(["fmt", "--all", "--check"]),
        "cargo fmt --check",
    )?;
    step("clippy (warnings denied)");
    process::run(
        Command::new("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ]),
        "cargo clippy",
    )?;

    step("local stack");
    dev_stack::start_for_tests(&layout)?;
    template::drop_test_databases(TEST_DB_PREFIX)?;
    fresh_pgtap_database(&layout)?;

    step("pgTAP (supabase/tests)");
    let pgtap = pg_prove(&layout, &[])?;

    step("supabase db lint and db advisors");
    supabase_checks(&layout)?;

    step("Rust tests");
    let rust = cargo_test()?;

    eprintln!("\nall green: {pgtap} pgTAP assertions, {rust} Rust tests");
    Ok(())
}

/// `cargo xtask pgtap [files]`: the stack, a fresh database, pg_prove.
pub fn run_pgtap_only(files: Vec<PathBuf>) -> Result<()> {
    let layout = Layout::discover();
    dev_stack::start_for_tests(&layout)?;
    fresh_pgtap_database(&layout)?;
    let n = pg_prove(&layout, &files)?;
    eprintln!("{n} pgTAP assertions passed");
    Ok(())
}

fn fresh_pgtap_database(layout: &Layout) -> Result<()> {
    let tpl = template::ensure(layout)?;
    template::drop_test_databases(PGTAP_DB)?;
    template::clone_into(&tpl, PGTAP_DB)
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}

/// Runs pg_prove as role postgres (as `supabase test db` does) and returns the number of
/// assertions it ran.
fn pg_prove(layout: &Layout, only: &[PathBuf]) -> Result<usize> {
    let mut files: Vec<PathBuf> = if only.is_empty() {
        std::fs::read_dir(layout.supabase_dir().join("tests"))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "sql"))
            .collect()
    } else {
        only.to_vec()
    };
    files.sort();
    let out = Command::new("pg_prove")
        .args(["--ext", ".sql", "--failures", "--timer"])
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &pg_port().to_string(),
            "-U",
            "postgres",
            "-d",
            PGTAP_DB,
        ])
        .args(&files)
        .stderr(Stdio::inherit())
        .output()
        .context("failed to run pg_prove")?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    if !out.status.success() {
        bail!("pgTAP tests failed");
    }
    // "Files=12, Tests=1100, ..." is pg_prove's summary line.
    let tests = text
        .lines()
        .find_map(|l| l.strip_prefix("Files="))
        .and_then(|l| l.split("Tests=").nth(1))
        .and_then(|l| l.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    if tests == 0 {
        bail!("pg_prove ran no tests");
    }
    Ok(tests)
}

fn supabase_checks(layout: &Layout) -> Result<()> {
    let url = database_url("postgres", PGTAP_DB);
    process::run(
        Command::new(layout.supabase_cli())
            .args([
                "db",
                "lint",
                "--db-url",
                &url,
                "--schema",
                "public,private,svc",
                "--level",
                "warning",
                "--fail-on",
                "warning",
            ])
            .current_dir(layout.root()),
        "supabase db lint",
    )?;
    let advisors = process::output(
        Command::new(layout.supabase_cli())
            .args([
                "db",
                "advisors",
                "--db-url",
                &url,
                "--type",
                "all",
                "--level",
                "warn",
                "--fail-on",
                "warn",
            ])
            .current_dir(layout.root()),
        "supabase db advisors",
    )?;
    eprint!("{advisors}");
    eprintln!("lint and advisors: clean");
    Ok(())
}

/// Runs the workspace's tests, echoing their output, and returns how many passed.
fn cargo_test() -> Result<usize> {
    let mut child = Command::new("cargo")
        .args(["test", "--workspace", "--no-fail-fast", "--quiet"])
        .stdout(Stdio::piped())
        .spawn()
        .context("failed to run cargo test")?;
    let mut passed = 0usize;
    let mut failed = 0usize;
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            if let Some(rest) = line.strip_prefix("test result: ") {
                for part in rest.split(';') {
                    let words: Vec<&str> = part.split_whitespace().collect();
                    if let Some(n) = words
                        .iter()
                        .position(|w| *w == "passed")
                        .and_then(|i| i.checked_sub(1))
                    {
                        passed += words[n]
                            .trim_start_matches("ok.")
                            .trim_start_matches("FAILED.")
                            .trim()
                            .parse::<usize>()
                            .unwrap_or(0);
                    }
                    if let Some(n) = words
                        .iter()
                        .position(|w| *w == "failed")
                        .and_then(|i| i.checked_sub(1))
                    {
                        failed += words[n].parse::<usize>().unwrap_or(0);
                    }
                }
            }
        }
    }
    let status = child.wait()?;
    if !status.success() || failed > 0 {
        bail!("Rust tests failed ({failed} failed, {passed} passed)");
    }
    Ok(passed)
}
