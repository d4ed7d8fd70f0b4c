//! Surge protection: a token bucket per client address (requests per second with a
//! burst), answered with 429 + Retry-After when empty, and the request timeout (408).
//! The router's middleware (`server.rs`) hands them the configuration in force at each
//! request, so a SIGHUP changes them for the next one. The request-body limit is a tower
//! layer set up there too.

use crate::problem::Problem;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Tokens per client, refilled at the rate given to `take`. The rate and burst are not
/// kept here: a reload changes them while each client's bucket carries on.
#[derive(Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// Takes a token for `client` at `rate` a second up to `burst`; `Err(seconds)` until
    /// one is free.
    pub fn take(&self, client: IpAddr, rate: f64, burst: f64) -> Result<(), f64> {
        let burst = burst.max(1.0);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.len() > 100_000 {
            // Bounded memory under a flood of addresses: forget idle clients (full buckets).
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(client).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * rate).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / rate)
        }
    }
}

/// The limits of the configuration in force (server.rs's middleware reads them from the
/// state at each request, so a reload applies at the next one).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub rate_per_s: f64,
    pub burst: f64,
    pub timeout: Duration,
}

impl Limits {
    pub fn of(config: &crate::config::ServerConfig) -> Limits {
        Limits { rate_per_s: config.rate_limit_per_s, burst: config.rate_limit_burst, timeout: Duration::from_secs(config.request_timeout_s.max(1)) }
    }
}

/// The 429 (Retry-After and a JSON reason) when `client`'s bucket is empty; None when
/// the request may go on.
pub fn over_rate(limiter: &RateLimiter, limits: Limits, client: SocketAddr) -> Option<Response> {
    if limits.rate_per_s <= 0.0 {
        return None;
    }
    limiter.take(client.ip(), limits.rate_per_s, limits.burst).err().map(|wait| {
        let mut r =
            Problem::new(StatusCode::TOO_MANY_REQUESTS, format!("more than {} requests per second from {}; retry in {wait:.1} s", limits.rate_per_s, client.ip())).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("{}", wait.ceil().max(1.0) as u64)) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    })
}

/// The answer, or 408 when it takes longer than the timeout.
pub async fn timed(limits: Limits, answer: impl std::future::Future<Output = Response>) -> Response {
    match tokio::time::timeout(limits.timeout, answer).await {
        Ok(response) => response,
        Err(_) => Problem::new(StatusCode::REQUEST_TIMEOUT, format!("no answer within {} s (request_timeout_s)", limits.timeout.as_secs())).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let l = RateLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(l.take(ip, 10.0, 3.0).is_ok() && l.take(ip, 10.0, 3.0).is_ok() && l.take(ip, 10.0, 3.0).is_ok());
        let wait = l.take(ip, 10.0, 3.0).unwrap_err();
        assert!(wait > 0.0 && wait <= 0.1 + 1e-6, "{wait}");
        assert!(l.take("10.0.0.2".parse().unwrap(), 10.0, 3.0).is_ok(), "buckets are per client");
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert!(l.take(ip, 10.0, 3.0).is_ok(), "refilled at 10/s");
        assert!(l.take(ip, 10.0, 3.0).is_err());
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(l.take(ip, 1000.0, 3.0).is_ok(), "a higher rate (reloaded) refills the same bucket faster");
    }
}
