//! SSE subscribers on /changes/stream for the whole run, as the disaster apps keep
//! one open: each counts the change events it receives (and any "lagged" notice).

use reqwest::Client;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::task::JoinHandle;

#[derive(Default)]
pub struct Counts {
    pub connected: AtomicBool,
    pub changes: AtomicU64,
    pub lagged: AtomicU64,
    pub dropped: AtomicU64,
}

pub struct Subscriber {
    pub counts: Arc<Counts>,
    task: JoinHandle<()>,
}

impl Subscriber {
    /// Opens the stream; the task reads it until `stop`. A stream the server ends is
    /// counted (dropped) and not reopened: the run should see none.
    pub fn start(client: Client, url: String) -> Subscriber {
        let counts = Arc::new(Counts::default());
        let c = counts.clone();
        let task = tokio::spawn(async move {
            let Ok(mut resp) = client.get(&url).header("accept", "text/event-stream").send().await else {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            };
            if !resp.status().is_success() {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            c.connected.store(true, Ordering::Relaxed);
            let mut pending = Vec::new();
            while let Ok(Some(chunk)) = resp.chunk().await {
                pending.extend_from_slice(&chunk);
                // Only whole lines: an event may arrive split across chunks.
                let Some(last_nl) = pending.iter().rposition(|b| *b == b'\n') else { continue };
                for line in pending[..last_nl].split(|b| *b == b'\n') {
                    match line {
                        b"event: change" | b"event:change" => c.changes.fetch_add(1, Ordering::Relaxed),
                        b"event: lagged" | b"event:lagged" => c.lagged.fetch_add(1, Ordering::Relaxed),
                        _ => 0,
                    };
                }
                pending.drain(..=last_nl);
            }
            c.dropped.fetch_add(1, Ordering::Relaxed);
        });
        Subscriber { counts, task }
    }

    pub fn stop(self) -> Arc<Counts> {
        self.task.abort();
        self.counts
    }
}
