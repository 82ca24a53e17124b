//! What an installed stack consists of, and the check the tests make before using it.
//!
//! Installing is `cargo xtask`'s job (apt-get, `npm ci`, `initdb`); the test kit only
//! looks, so that `cargo test` never installs anything. A test run on a machine (or a
//! `CHATCENTRALIZE_STACK` folder) where the stack is not installed fails with a message
//! naming the command that installs it.

use std::path::Path;

use anyhow::{bail, Result};

use crate::layout::Layout;

/// The command that installs the stack (and starts it).
pub const INSTALL_COMMAND: &str = "cargo xtask stack start";

/// Debian packages the stack needs, each with a file that proves it is installed.
pub const SYSTEM_PACKAGES: &[(&str, &str)] = &[
    ("postgresql-15", "/usr/lib/postgresql/15/bin/postgres"),
    (
        "postgresql-15-pgtap",
        "/usr/share/postgresql/15/extension/pgtap.control",
    ),
    (
        "postgresql-15-wal2json",
        "/usr/lib/postgresql/15/lib/wal2json.so",
    ),
    (
        "postgresql-15-plpgsql-check",
        "/usr/share/postgresql/15/extension/plpgsql_check.control",
    ),
    (
        "libtap-parser-sourcehandler-pgtap-perl",
        "/usr/bin/pg_prove",
    ),
    ("nginx-light", "/usr/sbin/nginx"),
    ("python3-venv", "/usr/lib/python3.11/ensurepip/__init__.py"),
    ("nodejs", "/usr/bin/node"),
    ("npm", "/usr/bin/npm"),
];

/// The packages of `packages` whose proof file is missing.
pub fn missing_packages<'a>(packages: &[(&'a str, &str)]) -> Vec<&'a str> {
    packages
        .iter()
        .filter(|(_, proof)| !Path::new(proof).exists())
        .map(|(package, _)| *package)
        .collect()
}

/// Whether the pinned npm tools (Supabase CLI, PostgREST, postgres-meta) are in `tools/`.
pub fn tools_installed(layout: &Layout) -> bool {
    npm_tools_installed(layout) && layout.moto_server().exists()
}

/// Whether the pinned npm tools are in `tools/node_modules`.
pub fn npm_tools_installed(layout: &Layout) -> bool {
    layout.supabase_cli().exists()
        && layout.postgrest_bin().exists()
        && layout
            .tools()
            .join("node_modules/@supabase/postgres-meta/dist/server/server.js")
            .exists()
}

/// Whether the PostgreSQL cluster has been created in the stack's state folder.
pub fn cluster_created(layout: &Layout) -> bool {
    layout.pg_data().join("PG_VERSION").exists()
}

/// Fails, naming what is missing and the command to run, unless the stack is installed:
/// the Debian packages, the pinned tools and the cluster.
pub fn check(layout: &Layout) -> Result<()> {
    let mut missing = Vec::new();
    let packages = missing_packages(SYSTEM_PACKAGES);
    if !packages.is_empty() {
        missing.push(format!("Debian packages {}", packages.join(" ")));
    }
    if !tools_installed(layout) {
        missing.push(format!(
            "the pinned tools in {} and {}",
            layout.tools().join("node_modules").display(),
            layout.tools().join("moto/venv").display()
        ));
    }
    if !cluster_created(layout) {
        missing.push(format!(
            "the PostgreSQL cluster in {}",
            layout.pg_data().display()
        ));
    }
    if !missing.is_empty() {
        bail!(
            "the local stack is not installed: run `{INSTALL_COMMAND}` (or `cargo xtask test`) \
             first; tests never install anything (missing: {})",
            missing.join("; ")
        );
    }
    Ok(())
}
