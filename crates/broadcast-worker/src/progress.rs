//! Per-broadcast gauges from `svc.broadcast_progress`, refreshed when /metrics is read:
//! recipients by status, the queued backlog, whether it waits, and the achieved rate
//! (recipients newly sent or delivered per second since the previous read, all workers
//! together).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use svc_client::broadcasts::BroadcastProgress;
use svc_client::{SvcClient, SvcError};
use uuid::Uuid;

const STATUSES: [&str; 4] = ["pending", "sent", "delivered", "failed"];

/// The previous reading of each sending broadcast.
#[derive(Default)]
pub struct ProgressGauges {
    previous: Mutex<HashMap<Uuid, (Instant, i64)>>,
}

impl ProgressGauges {
    /// Reads the progress and sets the gauges.
    pub async fn refresh(&self, svc: &SvcClient) -> Result<Vec<BroadcastProgress>, SvcError> {
        let progress = svc.broadcast_progress().await?;
        let now = Instant::now();
        let mut previous = self.previous.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = HashMap::with_capacity(progress.len());
        for b in &progress {
            let id = b.id.to_string();
            for status in STATUSES {
                metrics::gauge!("broadcast_recipients", "broadcast" => id.clone(), "status" => status)
                    .set(b.count(status) as f64);
            }
            metrics::gauge!("broadcast_queued", "broadcast" => id.clone()).set(b.queued as f64);
            metrics::gauge!("broadcast_waiting", "broadcast" => id.clone())
                .set(if b.status_detail.is_some() { 1.0 } else { 0.0 });
            let done = b.count("sent") + b.count("delivered");
            if let Some((at, before)) = previous.get(&b.id) {
                let secs = now.duration_since(*at).as_secs_f64();
                if secs >= 0.5 {
                    metrics::gauge!("broadcast_send_rate", "broadcast" => id.clone())
                        .set((done - before).max(0) as f64 / secs);
                    seen.insert(b.id, (now, done));
                    continue;
                }
                seen.insert(b.id, (*at, *before));
                continue;
            }
            seen.insert(b.id, (now, done));
        }
        // Broadcasts no longer sending: nothing queued, no rate.
        for id in previous.keys().filter(|id| !seen.contains_key(id)) {
            let id = id.to_string();
            metrics::gauge!("broadcast_queued", "broadcast" => id.clone()).set(0.0);
            metrics::gauge!("broadcast_send_rate", "broadcast" => id.clone()).set(0.0);
            metrics::gauge!("broadcast_waiting", "broadcast" => id).set(0.0);
        }
        *previous = seen;
        Ok(progress)
    }
}
