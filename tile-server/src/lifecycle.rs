//! The server's life after start: serving, then draining (SIGTERM / Ctrl-C), then closed.
//!
//! - **Draining** starts the moment the signal arrives: `/ready` answers 503 so balancers
//!   stop sending new work, every response says `Connection: close` so keep-alive clients
//!   reconnect (through the balancer, to another node), and everything else is served as
//!   usual for `[server] shutdown_delay_s` (time for a balancer to notice).
//! - **Closing**: the listener stops accepting, the change streams end with a retry hint,
//!   idle connections are closed and requests in flight finish, until
//!   `[server] shutdown_grace_s` after the signal; whatever is still running then is logged
//!   and cut.
//!
//! Requests in flight are counted here (a sharded registry: the warm tile path takes one
//! uncontended lock of 16 at start and end), so the deadline can say what it cut.

use axum::http::{HeaderValue, Method, Uri};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Where the server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Serving,
    /// Signalled: not ready, still serving.
    Draining,
    /// Not accepting; streams told to go elsewhere.
    Closing,
}

const SHARDS: usize = 16;

/// A request being answered: what it asked and since when.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub method: Method,
    pub uri: Uri,
    pub request_id: HeaderValue,
    pub since: Instant,
}

pub struct Lifecycle {
    phase: watch::Sender<Phase>,
    next: AtomicU64,
    in_flight: [Mutex<HashMap<u64, InFlight>>; SHARDS],
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle { phase: watch::Sender::new(Phase::Serving), next: AtomicU64::new(0), in_flight: Default::default() }
    }
}

impl Lifecycle {
    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// Whether a shutdown signal has arrived.
    pub fn draining(&self) -> bool {
        self.phase() >= Phase::Draining
    }

    /// Moves on to `phase` (never back).
    pub fn enter(&self, phase: Phase) {
        self.phase.send_if_modified(|p| {
            let later = phase > *p;
            if later {
                *p = phase;
            }
            later
        });
    }

    /// Resolves once the server is closing (at once if it is already).
    pub async fn closing(&self) {
        let mut rx = self.phase.subscribe();
        let _ = rx.wait_for(|p| *p >= Phase::Closing).await;
    }

    /// Registers a request until the returned guard drops.
    pub fn track(&self, method: Method, uri: Uri, request_id: HeaderValue) -> Tracked<'_> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.shard(id).lock().unwrap().insert(id, InFlight { method, uri, request_id, since: Instant::now() });
        Tracked { lifecycle: self, id }
    }

    /// The requests being answered now, oldest first.
    pub fn in_flight(&self) -> Vec<InFlight> {
        let mut all: Vec<InFlight> = self.in_flight.iter().flat_map(|s| s.lock().unwrap().values().cloned().collect::<Vec<_>>()).collect();
        all.sort_by_key(|r| r.since);
        all
    }

    fn shard(&self, id: u64) -> &Mutex<HashMap<u64, InFlight>> {
        &self.in_flight[id as usize % SHARDS]
    }
}

/// A request counted as in flight.
pub struct Tracked<'a> {
    lifecycle: &'a Lifecycle,
    id: u64,
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        self.lifecycle.shard(self.id).lock().unwrap().remove(&self.id);
    }
}

/// Which signal asked for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM or Ctrl-C (SIGINT): drain and exit.
    Stop,
    /// SIGHUP: read the configuration file again.
    Reload,
}

/// The process's signals, installed once at start (so a SIGHUP before the first wait is
/// not lost, nor does it kill the process as its default action would).
pub struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn install() -> Result<Signals, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let on = |kind: SignalKind, name: &str| signal(kind).map_err(|e| format!("cannot handle {name}: {e}"));
            Ok(Signals { term: on(SignalKind::terminate(), "SIGTERM")?, int: on(SignalKind::interrupt(), "SIGINT")?, hup: on(SignalKind::hangup(), "SIGHUP")? })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal.
    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => Signal::Stop,
                _ = self.int.recv() => Signal::Stop,
                _ = self.hup.recv() => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            Signal::Stop
        }
    }
}

/// How long after the drain begins the listener keeps accepting even with no delay
/// configured: a client that connected just before the signal has its request read and
/// answered instead of finding its connection closed unread (hyper closes connections that
/// have not started a request when the graceful shutdown begins).
pub const SETTLE: Duration = Duration::from_millis(500);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_only_move_forward_and_requests_are_counted_until_done() {
        let l = Lifecycle::default();
        assert!(!l.draining());
        l.enter(Phase::Closing);
        l.enter(Phase::Draining);
        assert_eq!(l.phase(), Phase::Closing);
        let a = l.track(Method::GET, "/tiles/a".parse().unwrap(), HeaderValue::from_static("a"));
        let b = l.track(Method::POST, "/b".parse().unwrap(), HeaderValue::from_static("b"));
        assert_eq!(l.in_flight().iter().map(|r| r.request_id.to_str().unwrap()).collect::<Vec<_>>(), ["a", "b"]);
        drop(a);
        assert_eq!(l.in_flight().len(), 1);
        drop(b);
        assert!(l.in_flight().is_empty());
    }
}
