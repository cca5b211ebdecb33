//! Per-client rate limiting for anonymous API use: a token bucket per IP address, refilled
//! at `requests_per_minute`, with `RateLimit-*` headers on every answer and a 429 when empty.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Code};
use crate::state::AppState;

/// Buckets kept before idle ones are forgotten.
const MAX_CLIENTS: usize = 100_000;

/// Every client's bucket.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// What a request was allowed, for the headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decision {
    pub allowed: bool,
    pub remaining: u32,
    /// Seconds until a request is allowed again (0 when one is now).
    pub reset: u64,
}

impl RateLimiter {
    /// `per_minute = 0` turns limiting off.
    pub fn new(per_minute: u32) -> Self {
        Self { per_minute, buckets: Mutex::new(HashMap::new()) }
    }

    pub fn enabled(&self) -> bool {
        self.per_minute > 0
    }

    /// Takes one token for `client`, if there is one.
    pub fn check(&self, client: IpAddr, now: Instant) -> Decision {
        let capacity = f64::from(self.per_minute);
        let rate = capacity / 60.0;
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS {
            // Full buckets carry no information: forget them.
            buckets.retain(|_, b| b.tokens + rate * now.duration_since(b.at).as_secs_f64() < capacity);
        }
        let bucket = buckets.entry(client).or_insert(Bucket { tokens: capacity, at: now });
        bucket.tokens = (bucket.tokens + rate * now.duration_since(bucket.at).as_secs_f64()).min(capacity);
        bucket.at = now;
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let reset = if bucket.tokens >= 1.0 { 0 } else { ((1.0 - bucket.tokens) / rate).ceil() as u64 };
        Decision { allowed, remaining: bucket.tokens.floor() as u32, reset }
    }
}

/// Middleware: limits by the client's address (see [`crate::client`]) and labels every
/// answer. A request without a peer address (the router called in-process) is not limited.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiter = &state.rate_limiter;
    let peer = crate::client::address(&request, &state.trusted_proxies);
    let Some(peer) = peer.filter(|_| limiter.enabled()) else {
        return next.run(request).await;
    };
    let d = limiter.check(peer, Instant::now());
    let mut response = if d.allowed {
        next.run(request).await
    } else {
        let detail =
            format!("more than {} requests a minute from this address; retry in {}s", limiter.per_minute, d.reset);
        let mut res = ApiError::new(Code::RateLimited, detail).into_response();
        res.headers_mut().insert("retry-after", HeaderValue::from(d.reset.max(1)));
        res
    };
    let h = response.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(limiter.per_minute));
    h.insert("ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("ratelimit-reset", HeaderValue::from(d.reset));
    if let Ok(v) = HeaderValue::from_str(&format!("{};w=60", limiter.per_minute)) {
        h.insert("ratelimit-policy", v);
    }
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn buckets_empty_and_refill() {
        let limiter = RateLimiter::new(3);
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let t0 = Instant::now();
        for left in [2, 1, 0] {
            let d = limiter.check(a, t0);
            assert!(d.allowed);
            assert_eq!(d.remaining, left);
        }
        let refused = limiter.check(a, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.reset, 20); // one token every 20 s at 3 a minute
        assert!(limiter.check(b, t0).allowed, "another client has its own bucket");
        assert!(limiter.check(a, t0 + Duration::from_secs(21)).allowed);
    }
}
