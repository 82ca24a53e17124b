//! A digest of everything a database of the stack is built from: the platform bootstrap
//! and every migration, in order. A database records the digest it was built from, so
//! that changing (or adding) a migration rebuilds it.

use std::fs;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::layout::Layout;

/// The digest of the platform bootstrap and the migrations (12 hex digits).
pub fn of_bootstrap_and_migrations(layout: &Layout) -> Result<String> {
    let mut hasher = Sha256::new();
    for name in ["roles.sql", "database.sql"] {
        hasher.update(fs::read(layout.platform_sql(name))?);
    }
    let mut migrations: Vec<_> = fs::read_dir(layout.migrations())
        .context("failed to list supabase/migrations")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    migrations.sort();
    for path in migrations {
        hasher.update(
            path.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        hasher.update(fs::read(&path)?);
    }
    Ok(hex::encode(&hasher.finalize()[..6]))
}
