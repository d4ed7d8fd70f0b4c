//! The tile builders: a fixed pool of threads, one per core, that draw every tile and map
//! (MVT, WMS/WMTS, 3D Tiles), so that a surge queues instead of time-slicing.
//!
//! Threads of their own rather than a semaphore over `spawn_blocking`: under the soak's
//! surge (256 connections on 2 cores) the async workers' run queues were milliseconds
//! long, and a permit was held until its task was polled again after the build, then
//! handed to a waiting task that had to be polled too before it started. Builds took
//! 0.15 ms (p50) while permits were waited for 90–150 ms (p50). A builder thread takes
//! the next job the moment it is done with one.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// Jobs waiting at most; beyond that a request is refused with 503 rather than queued.
pub const MAX_QUEUED: usize = 4096;

pub struct Builders {
    jobs: Sender<Job>,
    queued: Arc<AtomicUsize>,
    /// Jobs queued or being drawn, and the number of threads.
    in_flight: Arc<AtomicUsize>,
    threads: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the server is busy: {0} tiles and maps are waiting to be drawn; retry in a moment")]
    Busy(usize),
    #[error("drawing failed: {0}")]
    Failed(String),
}

impl Builders {
    /// Starts `threads` builder threads (at least one).
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let (jobs, rx) = channel::<Job>();
        let rx: Arc<Mutex<Receiver<Job>>> = Arc::new(Mutex::new(rx));
        let queued = Arc::new(AtomicUsize::new(0));
        for i in 0..threads {
            let (rx, queued) = (rx.clone(), queued.clone());
            std::thread::Builder::new()
                .name(format!("tile-builder-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock().unwrap().recv() {
                        Ok(job) => job,
                        Err(_) => return, // the pool was dropped
                    };
                    queued.fetch_sub(1, Ordering::Relaxed);
                    job();
                })
                .expect("spawn a tile builder thread");
        }
        Builders { jobs, queued, in_flight: Arc::new(AtomicUsize::new(0)), threads }
    }

    /// Whether a builder thread has nothing to do: then its core is free, and a small job
    /// can run where it was asked for without taking a core from the builders.
    pub fn has_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) < self.threads
    }

    /// Runs `f` on a builder thread and waits for its result. A panic in `f` is a
    /// `Failed` error for this request only; the thread lives on.
    pub async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, BuildError> {
        let waiting = self.queued.fetch_add(1, Ordering::Relaxed);
        if waiting >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(BuildError::Busy(waiting));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let in_flight = self.in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        let job: Job = Box::new(move || {
            let out = catch_unwind(AssertUnwindSafe(f));
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let _ = tx.send(out);
        });
        if self.jobs.send(job).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
            return Err(BuildError::Failed("the tile builders have stopped".into()));
        }
        match rx.await {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(panic)) => {
                let reason = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_else(|| "a panic".into());
                Err(BuildError::Failed(reason))
            }
            Err(_) => Err(BuildError::Failed("the tile builder dropped the job".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_jobs_and_survives_a_panic() {
        let pool = Builders::new(2);
        assert_eq!(pool.run(|| 6 * 7).await.unwrap(), 42);
        let err = pool.run(|| -> u8 { panic!("bad tile") }).await.unwrap_err();
        assert!(err.to_string().contains("bad tile"), "{err}");
        let pool = Arc::new(pool);
        let waiting: Vec<_> = (0..64)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move { pool.run(move || i * 2).await.unwrap() })
            })
            .collect();
        let mut sum = 0;
        for w in waiting {
            sum += w.await.unwrap();
        }
        assert_eq!(sum, (0..64).map(|i| i * 2).sum::<i32>());
    }
}
