//! A fresh Supabase-like project per test: its own database cloned from the template and
//! its own PostgREST, reachable through the stack's gateway at
//! `http://127.0.0.1:54321/_test/<port>` + `/rest/v1`, the layout of a hosted project.

use std::process::Child;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::keys::Keys;
use crate::layout::{api_port, database_url, Layout};
use crate::{postgres, postgrest, stack, template};

/// Prefix of the databases created for tests.
pub const TEST_DB_PREFIX: &str = "cc_t_";

static TEMPLATE: OnceLock<std::result::Result<String, String>> = OnceLock::new();

fn template_name(layout: &Layout) -> Result<String> {
    TEMPLATE
        .get_or_init(|| {
            stack::start_for_tests(layout)
                .and_then(|()| template::ensure(layout))
                .map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(|e| anyhow::anyhow!("the test stack is not usable: {e}"))
}

pub struct TestProject {
    layout: Layout,
    db: String,
    port: u16,
    postgrest: Option<Child>,
    keys: Keys,
}

impl TestProject {
    /// A new project: fresh database from the template, PostgREST ready to serve it.
    pub async fn new() -> Self {
        let layout = Layout::discover();
        tokio::task::spawn_blocking(move || Self::create(layout))
            .await
            .expect("project creation panicked")
            .expect("failed to create a test project")
    }

    fn create(layout: Layout) -> Result<Self> {
        let template = template_name(&layout)?;
        let db = format!("{TEST_DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
        template::clone_into(&template, &db)?;
        let port = free_port()?;
        let mut project = Self {
            layout,
            db,
            port,
            postgrest: None,
            keys: Keys::default(),
        };
        project.start_postgrest_blocking()?;
        Ok(project)
    }

    fn start_postgrest_blocking(&mut self) -> Result<()> {
        let child = postgrest::spawn(&self.layout, &self.db, self.port, 4, &self.db)?;
        self.postgrest = Some(child);
        postgrest::wait_until_serving(self.port, Duration::from_secs(20))
            .context("the test's PostgREST did not start")
    }

    /// `SUPABASE_URL` of this project.
    pub fn supabase_url(&self) -> String {
        format!("http://127.0.0.1:{}/_test/{}", api_port(), self.port)
    }
    pub fn keys(&self) -> &Keys {
        &self.keys
    }
    pub fn service_role_key(&self) -> String {
        self.keys.service_role_key()
    }
    pub fn anon_key(&self) -> String {
        self.keys.anon_key()
    }
    pub fn database_name(&self) -> &str {
        &self.db
    }
    /// Direct connection URL as `role` (tests only; the services never connect directly).
    pub fn database_url(&self, role: &str) -> String {
        database_url(role, &self.db)
    }

    /// A directory of this project's own, for files its services write (stored media),
    /// removed with the project.
    pub fn scratch_dir(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("chatcentralize-{}", self.db))
    }

    /// A direct connection as role postgres (owner, bypasses RLS), for arranging and
    /// asserting database state.
    pub async fn db(&self) -> tokio_postgres::Client {
        self.connect("postgres").await
    }

    /// The one value `sql` answers (a count, a status), read as role postgres; panics on
    /// error, as test assertions do.
    pub async fn value<T>(&self, sql: &str) -> T
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        self.db()
            .await
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get::<_, T>(0)
    }

    pub async fn connect(&self, role: &str) -> tokio_postgres::Client {
        let (client, connection) =
            tokio_postgres::connect(&self.database_url(role), tokio_postgres::NoTls)
                .await
                .expect("failed to connect to the test database");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client
    }

    /// Stops this project's PostgREST (the database becomes unreachable for services).
    pub fn stop_postgrest(&mut self) {
        if let Some(mut child) = self.postgrest.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and waits until it serves.
    pub async fn start_postgrest(&mut self) {
        self.stop_postgrest();
        let child = postgrest::spawn(&self.layout, &self.db, self.port, 4, &self.db)
            .expect("failed to restart PostgREST");
        self.postgrest = Some(child);
        let port = self.port;
        tokio::task::spawn_blocking(move || {
            postgrest::wait_until_serving(port, Duration::from_secs(20))
        })
        .await
        .expect("wait panicked")
        .expect("PostgREST did not restart");
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        self.stop_postgrest();
        let _ = postgres::sql_as_superuser(
            "template1",
            &format!("drop database if exists \"{}\" with (force)", self.db),
        );
        let _ = std::fs::remove_dir_all(self.scratch_dir());
        let _ = std::fs::remove_file(
            self.layout
                .state()
                .join("postgrest")
                .join(format!("{}.conf", self.db)),
        );
        // A failed test's PostgREST log stays for reading; a passed one's goes (thousands
        // of them filled the logs directory).
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(
                self.layout
                    .logs()
                    .join(format!("postgrest-{}.log", self.db)),
            );
        }
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
