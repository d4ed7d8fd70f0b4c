//! Surge protection: a token bucket per client address (requests per second with a
//! burst), answered with 429 + Retry-After when empty; the request-body limit and
//! timeout are tower layers set up in `server.rs`.

use crate::problem::Problem;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

/// Tokens per client: `rate` a second, up to `burst`.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(rate_per_s: f64, burst: f64) -> Self {
        RateLimiter { rate: rate_per_s, burst: burst.max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token for `client`; `Err(seconds)` until one is free.
    pub fn take(&self, client: IpAddr) -> Result<(), f64> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap();
        if buckets.len() > 100_000 {
            // Bounded memory under a flood of addresses: forget idle clients (full buckets).
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (tokens, at)| *tokens + now.duration_since(*at).as_secs_f64() * rate < burst);
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.rate)
        }
    }
}

/// Middleware: 429 with Retry-After and a JSON reason when the client's bucket is empty.
pub async fn rate_limit(State(limiter): State<Option<Arc<RateLimiter>>>, ConnectInfo(addr): ConnectInfo<SocketAddr>, request: Request, next: Next) -> Response {
    let Some(limiter) = limiter.as_ref() else { return next.run(request).await };
    match limiter.take(addr.ip()) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            let mut r =
                Problem::new(StatusCode::TOO_MANY_REQUESTS, format!("more than {} requests per second from {}; retry in {:.1} s", limiter.rate, addr.ip(), wait)).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{}", wait.ceil().max(1.0) as u64)) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let l = RateLimiter::new(10.0, 3.0);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(l.take(ip).is_ok() && l.take(ip).is_ok() && l.take(ip).is_ok());
        let wait = l.take(ip).unwrap_err();
        assert!(wait > 0.0 && wait <= 0.1 + 1e-6, "{wait}");
        assert!(l.take("10.0.0.2".parse().unwrap()).is_ok(), "buckets are per client");
        std::thread::sleep(std::time::Duration::from_millis(120));
        assert!(l.take(ip).is_ok(), "refilled at 10/s");
    }
}
