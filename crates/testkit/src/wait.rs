//! Waiting in tests for what the services do in the background.

use std::time::{Duration, Instant};

use crate::TestProject;

impl TestProject {
    /// Waits until `sql` (a count) answers `expected`, polling every 50 ms; panics after
    /// `secs` seconds with the last count.
    pub async fn wait_for_count(&self, sql: &str, expected: i64, secs: u64) {
        let db = self.db().await;
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let n: i64 = db
                .query_one(sql, &[])
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .get(0);
            if n == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited {secs}s for {sql}: {n}, expected {expected}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
