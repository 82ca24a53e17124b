#![allow(clippy::unwrap_used, clippy::expect_used)]
//! supabase/types/database.ts, the TypeScript types a supabase-js frontend is typed with,
//! must be what the migrations generate: regenerated here from a fresh database built from
//! the migrations (the generator of `cargo xtask types`, included from xtask) and compared
//! with the committed file. Fails when a migration changed the public schema and nobody
//! ran `cargo xtask types`.

use std::fs;

use testkit::layout::Layout;
use testkit::TestProject;

#[allow(dead_code)]
#[path = "../../../xtask/src/types_cmd.rs"]
mod types_cmd;

/// The first line where two texts differ, 1-based, with both versions of it.
fn first_difference(committed: &str, generated: &str) -> Option<(usize, String, String)> {
    let mut committed_lines = committed.lines();
    let mut generated_lines = generated.lines();
    for n in 1.. {
        match (committed_lines.next(), generated_lines.next()) {
            (None, None) => return None,
            (c, g) if c == g => {}
            (c, g) => {
                return Some((
                    n,
                    c.unwrap_or("<end of file>").to_owned(),
                    g.unwrap_or("<end of file>").to_owned(),
                ))
            }
        }
    }
    None
}

#[tokio::test]
async fn the_committed_typescript_types_are_those_the_migrations_generate() {
    let project = TestProject::new().await;
    let db = project.database_name().to_owned();
    let generated =
        tokio::task::spawn_blocking(move || types_cmd::generate(&Layout::discover(), &db))
            .await
            .unwrap()
            .expect("the type generator runs");

    let path = types_cmd::types_file(&Layout::discover());
    let committed = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run `cargo xtask types`",
            path.display()
        )
    });
    if committed != generated {
        let fresh = std::env::temp_dir().join(format!("database-{}.ts", std::process::id()));
        fs::write(&fresh, &generated).unwrap();
        let (line, was, now) = first_difference(&committed, &generated).unwrap_or((
            0,
            String::new(),
            "(line endings differ)".to_owned(),
        ));
        panic!(
            "{} is stale: run `cargo xtask types` and commit it.\n\
             Freshly generated: {} (diff -u {} {}).\n\
             First difference, line {line}:\n  committed: {was}\n  generated: {now}",
            path.display(),
            fresh.display(),
            path.display(),
            fresh.display()
        );
    }
}

#[tokio::test]
async fn the_types_describe_the_inbox_api() {
    let path = types_cmd::types_file(&Layout::discover());
    let types = fs::read_to_string(&path).unwrap();
    for expected in [
        "export type Database",
        "inbox_settings: {",
        "unread_count: number",
        "mark_conversation_read: {",
        "search_contacts: {",
        "search_messages: {",
        "p_query: string",
    ] {
        assert!(
            types.contains(expected),
            "{} lacks `{expected}`",
            path.display()
        );
    }
    // Nothing of the private schemas leaks into the frontend's types.
    for hidden in ["svc", "private", "read_receipts", "agent_assignments"] {
        assert!(
            !types.contains(&format!("{hidden}:")) && !types.contains(&format!("{hidden}.")),
            "{} mentions `{hidden}`",
            path.display()
        );
    }
}

#[test]
fn first_difference_names_the_line() {
    assert_eq!(first_difference("a\nb\n", "a\nb\n"), None);
    assert_eq!(
        first_difference("a\nb\nc", "a\nx\nc"),
        Some((2, "b".to_owned(), "x".to_owned()))
    );
    assert_eq!(
        first_difference("a", "a\nb"),
        Some((2, "<end of file>".to_owned(), "b".to_owned()))
    );
}
