//! A per-client token bucket for the unauthenticated endpoints that cost a
//! password hash or send mail (password step, reminder, access confirmation).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Most clients remembered before idle buckets are dropped.
const MAX_CLIENTS: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Allows `per_minute` requests per client address, in bursts of as many.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl RateLimiter {
    /// A limiter; `per_minute == 0` disables it.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `client`, or says how many seconds to wait.
    pub fn check(&self, client: Option<IpAddr>) -> Result<(), u64> {
        let (Some(client), true) = (client, self.per_minute > 0) else {
            return Ok(());
        };
        let capacity = f64::from(self.per_minute);
        let per_second = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_CLIENTS {
            buckets
                .retain(|_, b| now.duration_since(b.updated).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(client).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * per_second;
        bucket.tokens = (bucket.tokens + refill).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_second).ceil();
            Err(if wait.is_finite() && wait >= 1.0 {
                wait as u64
            } else {
                1
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_burst_then_refuses_with_a_wait() {
        let limiter = RateLimiter::new(3);
        let client = Some(IpAddr::from([192, 0, 2, 1]));
        assert_eq!(limiter.check(client), Ok(()));
        assert_eq!(limiter.check(client), Ok(()));
        assert_eq!(limiter.check(client), Ok(()));
        assert_eq!(limiter.check(client), Err(20));
        assert_eq!(
            limiter.check(Some(IpAddr::from([192, 0, 2, 2]))),
            Ok(()),
            "other clients are not affected"
        );
    }

    #[test]
    fn zero_disables() {
        let limiter = RateLimiter::new(0);
        assert!((0..1000).all(|_| limiter.check(Some(IpAddr::from([192, 0, 2, 1]))).is_ok()));
    }
}
