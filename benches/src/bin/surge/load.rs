//! The open-loop load: each kind of client arrives as a Poisson process of sessions;
//! each session's steps go out at their scheduled times whatever the server is doing,
//! and every latency is measured from the scheduled start (a slow server shows as
//! latency, not as fewer requests: no coordinated omission).

use crate::clients::{session, Class, Kind, Request, World};
use crate::rng::Rng;
use crate::stats::{ClassStats, Outcome, Recorder};
use reqwest::header::{ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, StatusCode};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

/// What every request task shares.
pub struct Load {
    pub client: Client,
    pub base: String,
    pub token: String,
    pub timeout: Duration,
    pub recorder: Recorder,
    /// Ids of incidents the server acknowledged (201), in order.
    pub acknowledged: Mutex<Vec<i64>>,
}

impl Load {
    /// Sends one request and records its outcome, timed from `scheduled`.
    async fn send(&self, req: Request, scheduled: Instant) {
        let url = format!("{}{}", self.base, req.path);
        let builder = match req.post {
            Some(body) => self.client.post(&url).header(AUTHORIZATION, format!("Bearer {}", self.token)).header(CONTENT_TYPE, "application/json").body(body),
            None => self.client.get(&url),
        };
        let mut builder = builder.header(ACCEPT_ENCODING, "gzip").timeout(self.timeout);
        if let Some(accept) = req.accept {
            builder = builder.header(ACCEPT, accept);
        }
        let (outcome, bytes) = match builder.send().await {
            Err(e) => (Outcome::Error(format!("{}: {e}", if e.is_timeout() { "timeout" } else { "transport" })), 0),
            Ok(resp) => {
                let status = resp.status();
                let retry_after = resp.headers().contains_key(RETRY_AFTER);
                match resp.bytes().await {
                    Err(e) => (Outcome::Error(format!("body: {e}")), 0),
                    Ok(body) => (self.judge(req.class, status, retry_after, &body), body.len() as u64),
                }
            }
        };
        self.recorder.record(req.class, scheduled.elapsed().as_secs_f64() * 1e3, bytes, outcome);
    }

    fn judge(&self, class: Class, status: StatusCode, retry_after: bool, body: &[u8]) -> Outcome {
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            if class == Class::Write && status == StatusCode::CREATED {
                match serde_json::from_slice::<serde_json::Value>(body).ok().and_then(|v| v["id"].as_i64()) {
                    Some(id) => self.acknowledged.lock().unwrap().push(id),
                    None => return Outcome::Error("201 without a feature id".into()),
                }
            }
            Outcome::Ok
        } else if (status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE) && retry_after {
            Outcome::Shed
        } else {
            let text = String::from_utf8_lossy(&body[..body.len().min(160)]).replace('\n', " ");
            Outcome::Error(format!("HTTP {}: {text}", status.as_u16()))
        }
    }
}

/// Runs every kind at `multiplier` × its base rate for `duration`, then waits for the
/// requests in flight; returns what was recorded. Steps scheduled after the end are not
/// sent, so the phase is bounded in time.
pub async fn phase(load: Arc<Load>, world: Arc<World>, base_rates: &HashMap<Kind, f64>, multiplier: f64, duration: Duration, seed: u64) -> BTreeMap<Class, ClassStats> {
    let start = Instant::now();
    let end = start + duration;
    let mut kinds = JoinSet::new();
    for (i, kind) in Kind::ALL.into_iter().enumerate() {
        let rate = base_rates.get(&kind).copied().unwrap_or(0.0) * multiplier;
        if rate <= 0.0 {
            continue;
        }
        let (load, world) = (load.clone(), world.clone());
        let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(i as u64));
        kinds.spawn(async move {
            let mut sessions = JoinSet::new();
            let mut t = start;
            loop {
                t += Duration::from_secs_f64(rng.exp_gap(rate));
                if t >= end {
                    break;
                }
                sleep_until(t).await;
                let steps = session(kind, &mut rng.fork(), &world);
                sessions.spawn(run_session(load.clone(), steps, t, end));
            }
            sessions.join_all().await;
        });
    }
    kinds.join_all().await;
    load.recorder.take()
}

/// One session: each step's requests all at once at the step's time (a browser or QGIS
/// fetches a screen's tiles in parallel), later steps on schedule even if earlier ones
/// are still waiting.
async fn run_session(load: Arc<Load>, steps: Vec<crate::clients::Step>, started: Instant, end: Instant) {
    let mut requests = JoinSet::new();
    for step in steps {
        let at = started + Duration::from_secs_f64(step.at);
        if at >= end {
            break;
        }
        sleep_until(at).await;
        for r in step.requests {
            let load = load.clone();
            requests.spawn(async move { load.send(r, at).await });
        }
    }
    requests.join_all().await;
}
