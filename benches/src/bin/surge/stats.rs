//! What happened to each request, by class: answered (2xx/304), shed on purpose (429 or
//! 503 with Retry-After), or an error (any other status, a refused connection, a timeout);
//! and the latency of every answered request from its scheduled start.

use crate::clients::Class;
use std::collections::BTreeMap;
use std::sync::Mutex;

pub enum Outcome {
    Ok,
    Shed,
    Error(String),
}

#[derive(Default, Clone)]
pub struct ClassStats {
    pub ok: u64,
    pub shed: u64,
    pub errors: u64,
    pub bytes: u64,
    /// Milliseconds from the scheduled start to the last byte, answered requests only.
    pub latencies_ms: Vec<f32>,
    /// The first few errors, to say what went wrong.
    pub error_samples: Vec<String>,
}

impl ClassStats {
    pub fn count(&self) -> u64 {
        self.ok + self.shed + self.errors
    }

    pub fn merge(&mut self, other: &ClassStats) {
        self.ok += other.ok;
        self.shed += other.shed;
        self.errors += other.errors;
        self.bytes += other.bytes;
        self.latencies_ms.extend_from_slice(&other.latencies_ms);
        self.error_samples.extend(other.error_samples.iter().take(5usize.saturating_sub(self.error_samples.len())).cloned());
    }

    pub fn summary(&self) -> Latency {
        Latency::of(&self.latencies_ms)
    }
}

#[derive(Default)]
pub struct Recorder {
    classes: Mutex<BTreeMap<Class, ClassStats>>,
}

impl Recorder {
    pub fn record(&self, class: Class, latency_ms: f64, bytes: u64, outcome: Outcome) {
        let mut all = self.classes.lock().unwrap();
        let s = all.entry(class).or_default();
        match outcome {
            Outcome::Ok => {
                s.ok += 1;
                s.bytes += bytes;
                s.latencies_ms.push(latency_ms as f32);
            }
            Outcome::Shed => s.shed += 1,
            Outcome::Error(why) => {
                s.errors += 1;
                if s.error_samples.len() < 5 {
                    s.error_samples.push(why);
                }
            }
        }
    }

    pub fn take(&self) -> BTreeMap<Class, ClassStats> {
        std::mem::take(&mut *self.classes.lock().unwrap())
    }
}

/// Percentiles in milliseconds (nearest rank).
#[derive(Debug, Default, Clone, Copy)]
pub struct Latency {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Latency {
    pub fn of(samples: &[f32]) -> Latency {
        if samples.is_empty() {
            return Latency::default();
        }
        let mut v = samples.to_vec();
        v.sort_by(f32::total_cmp);
        let at = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1] as f64;
        Latency { p50: at(0.50), p90: at(0.90), p99: at(0.99), max: *v.last().unwrap() as f64 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f32> = (1..=100).map(|i| i as f32).collect();
        let l = Latency::of(&v);
        assert_eq!((l.p50, l.p90, l.p99, l.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Latency::of(&[7.0]).p99, 7.0);
    }

    #[test]
    fn shed_and_errors_are_counted_apart() {
        let r = Recorder::default();
        r.record(Class::Vector, 3.0, 10, Outcome::Ok);
        r.record(Class::Vector, 1.0, 0, Outcome::Shed);
        r.record(Class::Vector, 9.0, 0, Outcome::Error("HTTP 500".into()));
        let s = &r.take()[&Class::Vector];
        assert_eq!((s.ok, s.shed, s.errors, s.count(), s.latencies_ms.len()), (1, 1, 1, 3, 1));
    }
}
