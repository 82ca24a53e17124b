#![allow(clippy::unwrap_used, clippy::expect_used)]
//! supabase/policies/*.sql (one readable file per table) and the migrations must describe
//! the same policies. Two checks, because each catches what the other can't:
//!
//! - in the database: a project built from the migrations has exactly the policies that
//!   a database gets from running the policy files (compared as Postgres itself prints
//!   them in pg_policies, so formatting can't hide or fake a difference);
//! - in the text: replaying the migrations' `create policy` / `drop policy` statements in
//!   order leaves exactly the policy files' statements, word for word up to whitespace
//!   and comments.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use testkit::layout::Layout;
use testkit::TestProject;

// ------------------------------------------------------------------------------------
// SQL text: statements, without comments, whitespace collapsed.

/// Splits SQL into statements on top-level semicolons, dropping comments and collapsing
/// whitespace outside quotes. Knows single quotes, double-quoted identifiers, dollar
/// quotes (`$$`, `$tag$`), line and block comments: enough for migrations.
fn statements(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    let push_space = |s: &mut String| {
        if !s.is_empty() && !s.ends_with(' ') {
            s.push(' ');
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '-' if next == Some('-') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                push_space(&mut current);
            }
            '/' if next == Some('*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
                push_space(&mut current);
                continue;
            }
            '\'' | '"' => {
                current.push(c);
                i += 1;
                while i < chars.len() {
                    current.push(chars[i]);
                    if chars[i] == c {
                        if chars.get(i + 1) == Some(&c) {
                            current.push(c);
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            '$' => {
                // A dollar quote's tag: $$ or $identifier$.
                let mut j = i + 1;
                while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if j < chars.len()
                    && chars[j] == '$'
                    && !chars[i + 1..j].iter().any(char::is_ascii_digit)
                {
                    let tag: String = chars[i..=j].iter().collect();
                    let rest: String = chars[j + 1..].iter().collect();
                    let end = rest.find(&tag).map_or(rest.len(), |e| e + tag.len());
                    current.push_str(&tag);
                    current.push_str(&rest[..end]);
                    i = j + 1 + rest[..end].chars().count();
                    continue;
                }
                current.push(c);
            }
            ';' => {
                let statement = current.trim().to_owned();
                if !statement.is_empty() {
                    out.push(statement);
                }
                current.clear();
            }
            c if c.is_whitespace() => push_space(&mut current),
            c => current.push(c),
        }
        i += 1;
    }
    let statement = current.trim().to_owned();
    if !statement.is_empty() {
        out.push(statement);
    }
    out
}

/// A policy's identity: (table as written after ON, policy name).
type PolicyKey = (String, String);

/// `create policy "name" on table ...` / `drop policy [if exists] "name" on table`:
/// the statement's kind and key, or None for any other statement.
fn policy_statement(statement: &str) -> Option<(&'static str, PolicyKey)> {
    let lower = statement.to_lowercase();
    let (kind, rest) = if let Some(rest) = lower.strip_prefix("create policy ") {
        ("create", &statement[statement.len() - rest.len()..])
    } else if let Some(rest) = lower.strip_prefix("drop policy ") {
        let rest = rest.strip_prefix("if exists ").unwrap_or(rest);
        ("drop", &statement[statement.len() - rest.len()..])
    } else if lower.starts_with("alter policy ") {
        panic!(
            "`{statement}`: change a policy with drop policy + create policy, so that this \
             test can follow it (and write the new text into supabase/policies)"
        );
    } else {
        return None;
    };
    let (name, after) = if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"').expect("unterminated policy name");
        (quoted[..end].to_owned(), &quoted[end + 1..])
    } else {
        let end = rest.find(' ').unwrap_or(rest.len());
        (rest[..end].to_lowercase(), &rest[end..])
    };
    let after = after.trim_start();
    let table = after
        .strip_prefix("on ")
        .or_else(|| after.strip_prefix("ON "))
        .expect("policy statement without ON")
        .split_whitespace()
        .next()
        .unwrap()
        .to_lowercase();
    let table = if table.contains('.') {
        table
    } else {
        format!("public.{table}")
    };
    Some((kind, (table, name)))
}

fn sql_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    files
}

/// The policies the migrations leave, replaying create and drop in order.
fn policies_of_migrations(migrations: &[PathBuf]) -> BTreeMap<PolicyKey, String> {
    let mut policies = BTreeMap::new();
    for file in migrations {
        for statement in statements(&fs::read_to_string(file).unwrap()) {
            match policy_statement(&statement) {
                Some(("create", key)) => {
                    assert!(
                        policies.insert(key.clone(), statement).is_none(),
                        "{}: policy {key:?} created twice",
                        file.display()
                    );
                }
                Some((_, key)) => {
                    policies.remove(&key);
                }
                None => {}
            }
        }
    }
    policies
}

/// The policies of the policy files; each file holds only its own table's policies.
fn policies_of_files(files: &[PathBuf]) -> BTreeMap<PolicyKey, String> {
    let mut policies = BTreeMap::new();
    for file in files {
        let table = format!("public.{}", file.file_stem().unwrap().to_str().unwrap());
        for statement in statements(&fs::read_to_string(file).unwrap()) {
            let Some(("create", key)) = policy_statement(&statement) else {
                panic!(
                    "{}: holds only create policy statements, found `{statement}`",
                    file.display()
                );
            };
            assert_eq!(
                key.0,
                table,
                "{}: policy {:?} belongs in the file of its own table",
                file.display(),
                key.1
            );
            assert!(
                policies.insert(key.clone(), statement).is_none(),
                "policy {key:?} written twice"
            );
        }
    }
    policies
}

/// What differs between two policy maps, one line each ('' when equal).
fn differences<V: PartialEq + std::fmt::Debug>(
    left_name: &str,
    left: &BTreeMap<PolicyKey, V>,
    right_name: &str,
    right: &BTreeMap<PolicyKey, V>,
) -> String {
    let keys: BTreeSet<&PolicyKey> = left.keys().chain(right.keys()).collect();
    let mut report = String::new();
    for key in keys {
        match (left.get(key), right.get(key)) {
            (Some(l), Some(r)) if l == r => {}
            (Some(l), Some(r)) => report.push_str(&format!(
                "{key:?} differs:\n  {left_name}: {l:?}\n  {right_name}: {r:?}\n"
            )),
            (Some(_), None) => {
                report.push_str(&format!("{key:?} only in {left_name}\n"));
            }
            (None, Some(_)) => {
                report.push_str(&format!("{key:?} only in {right_name}\n"));
            }
            (None, None) => unreachable!(),
        }
    }
    report
}

fn layout_files() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let layout = Layout::discover();
    (
        sql_files(&layout.migrations()),
        sql_files(&layout.supabase_dir().join("policies")),
    )
}

// ------------------------------------------------------------------------------------
// The database: pg_policies as Postgres prints them.

/// (schema.table, name) -> (permissive, roles, command, using, with check)
type LivePolicies =
    BTreeMap<PolicyKey, (String, Vec<String>, String, Option<String>, Option<String>)>;

async fn live_policies(db: &tokio_postgres::Client) -> LivePolicies {
    db.query(
        "select schemaname::text || '.' || tablename::text, policyname::text, permissive,
                roles::text[], cmd, qual, with_check
           from pg_policies
          where schemaname not in ('pg_catalog', 'information_schema')",
        &[],
    )
    .await
    .unwrap()
    .iter()
    .map(|row| {
        (
            (row.get(0), row.get(1)),
            (row.get(2), row.get(3), row.get(4), row.get(5), row.get(6)),
        )
    })
    .collect()
}

/// Replaces every policy of the database with those of the given policy-file texts.
async fn replace_policies_with(db: &mut tokio_postgres::Client, texts: &[String]) {
    let tx = db.transaction().await.unwrap();
    tx.batch_execute(
        "do $$
         declare p record;
         begin
           for p in select * from pg_policies where schemaname not in ('pg_catalog', 'information_schema') loop
             execute format('drop policy %I on %I.%I', p.policyname, p.schemaname, p.tablename);
           end loop;
         end $$;",
    )
    .await
    .unwrap();
    for text in texts {
        tx.batch_execute(text).await.unwrap();
    }
    tx.commit().await.unwrap();
}

fn read_all(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .map(|f| fs::read_to_string(f).unwrap())
        .collect()
}

// ------------------------------------------------------------------------------------

#[tokio::test]
async fn the_database_built_from_the_migrations_has_exactly_the_policies_of_supabase_policies() {
    let (_, policy_files) = layout_files();
    let from_migrations = TestProject::new().await;
    let from_files = TestProject::new().await;

    let expected = live_policies(&from_migrations.db().await).await;
    let mut db = from_files.db().await;
    replace_policies_with(&mut db, &read_all(&policy_files)).await;
    let actual = live_policies(&db).await;

    assert!(
        expected.len() >= 28,
        "the migrations define the access policies"
    );
    let report = differences("migrations", &expected, "supabase/policies", &actual);
    assert!(
        report.is_empty(),
        "supabase/policies and the migrations disagree:\n{report}"
    );
}

#[tokio::test]
async fn a_policy_changed_in_one_place_only_is_caught_by_the_database_comparison() {
    let (_, policy_files) = layout_files();
    let project = TestProject::new().await;
    let expected = live_policies(&project.db().await).await;

    // One policy file edited, the migrations not: an agent would read every conversation.
    let mut texts = read_all(&policy_files);
    let conversations = policy_files
        .iter()
        .position(|f| f.ends_with("conversations.sql"))
        .expect("supabase/policies/conversations.sql");
    let edited = texts[conversations].replacen(
        "using (assigned_agent_id = (select private.active_user_id()) or (select private.is_admin()));",
        "using ((select private.is_active_user()));",
        1,
    );
    assert_ne!(edited, texts[conversations], "the edit applies");
    texts[conversations] = edited;

    let mut db = project.db().await;
    replace_policies_with(&mut db, &texts).await;
    let report = differences(
        "migrations",
        &expected,
        "edited files",
        &live_policies(&db).await,
    );
    assert!(
        report.contains("Agents can read their assigned conversations, admins all"),
        "{report}"
    );
    assert_eq!(report.lines().count(), 3, "{report}");
}

#[tokio::test]
async fn the_migrations_carry_the_policy_files_word_for_word() {
    let (migrations, policy_files) = layout_files();
    let from_migrations = policies_of_migrations(&migrations);
    let from_files = policies_of_files(&policy_files);
    assert!(from_files.len() >= 28, "the policy files were read");
    let report = differences(
        "migrations",
        &from_migrations,
        "supabase/policies",
        &from_files,
    );
    assert!(
        report.is_empty(),
        "supabase/policies and the migrations disagree:\n{report}"
    );
}

#[tokio::test]
async fn every_table_with_rls_in_public_has_its_policy_file() {
    let (_, policy_files) = layout_files();
    let project = TestProject::new().await;
    let tables: BTreeSet<String> = project
        .db()
        .await
        .query(
            "select c.relname::text from pg_class c
              where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
                and c.relrowsecurity",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let files: BTreeSet<String> = policy_files
        .iter()
        .map(|f| f.file_stem().unwrap().to_str().unwrap().to_owned())
        .collect();
    assert_eq!(tables, files);
}

#[test]
fn the_statement_reader_follows_create_drop_and_quoting() {
    let sql = "-- a comment; with a semicolon\n\
               create policy \"Users can read; things\"\n  on public.t\n  for select\n  to authenticated\n  using (x = 'a;b');\n\
               do $$ begin perform 1; end $$;\n\
               create function f() returns int language sql as $body$ select 1; $body$;\n\
               create policy \"Second\" on t for delete to authenticated using (true);\n\
               drop policy if exists \"Second\" on public.t;\n\
               /* block; comment */ create policy p3 on public.t for insert to authenticated with check (true);";
    let parsed = statements(sql);
    assert_eq!(parsed.len(), 6, "{parsed:#?}");
    assert_eq!(
        parsed[0],
        "create policy \"Users can read; things\" on public.t for select to authenticated using (x = 'a;b')"
    );
    let file = std::env::temp_dir().join(format!("policies-{}.sql", std::process::id()));
    fs::write(&file, sql).unwrap();
    let replayed = policies_of_migrations(std::slice::from_ref(&file));
    fs::remove_file(&file).unwrap();
    let keys: Vec<&PolicyKey> = replayed.keys().collect();
    assert_eq!(
        keys,
        [
            &("public.t".to_owned(), "Users can read; things".to_owned()),
            &("public.t".to_owned(), "p3".to_owned()),
        ]
    );
}

#[test]
fn a_policy_reworded_in_one_place_only_is_caught_by_the_text_comparison() {
    let (migrations, policy_files) = layout_files();
    let from_migrations = policies_of_migrations(&migrations);
    let mut from_files = policies_of_files(&policy_files);
    let key = (
        "public.notes".to_owned(),
        "Users can edit their own notes".to_owned(),
    );
    let text = from_files.get_mut(&key).expect("the notes update policy");
    *text = text.replacen(
        "created_by = ",
        "created_by is not null or created_by = ",
        1,
    );
    let report = differences("migrations", &from_migrations, "edited files", &from_files);
    assert!(
        report.contains("Users can edit their own notes"),
        "{report}"
    );
}
