//! Per-client limits for the unauthenticated endpoints that cost a password
//! hash or send mail: a token bucket of requests per minute (password step,
//! reminder, access confirmation), and a cap on the password checks one
//! client may have in flight at once (password step, access confirmation), so
//! that no single client can fill the shared hash queue.
//!
//! A client is an IPv4 address or an IPv6 /64: one host usually holds a whole
//! /64, so keying by the full IPv6 address would give it 2^64 identities.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// Most clients remembered before idle buckets are dropped.
const MAX_CLIENTS: usize = 100_000;

/// Seconds a client refused by the in-flight cap is told to wait.
const IN_FLIGHT_RETRY_AFTER: u64 = 1;

/// Whom a limit counts against: an IPv4 address, or the /64 an IPv6 address
/// belongs to (IPv4-mapped IPv6 addresses count as their IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// One IPv4 address.
    V4(Ipv4Addr),
    /// The upper 64 bits of an IPv6 address.
    V6Net(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::V4(v4),
                None => Self::V6Net((u128::from(v6) >> 64) as u64),
            },
        }
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Allows `per_minute` requests per client, in bursts of as many.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<ClientKey, Bucket>>,
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
        let mut buckets = locked(&self.buckets);
        if buckets.len() >= MAX_CLIENTS {
            buckets
                .retain(|_, b| now.duration_since(b.updated).as_secs_f64() * per_second < capacity);
        }
        let bucket = buckets.entry(ClientKey::from(client)).or_insert(Bucket {
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

type InFlightCounts = Arc<Mutex<HashMap<ClientKey, u32>>>;

/// Caps the password checks one client may have in flight at once.
#[derive(Debug)]
pub struct InFlightLimit {
    per_client: u32,
    counts: InFlightCounts,
}

/// One client's place in [`InFlightLimit`], given back when dropped.
#[derive(Debug)]
#[must_use = "the place is given back as soon as it is dropped"]
pub struct InFlightSlot {
    held: Option<(InFlightCounts, ClientKey)>,
}

impl InFlightLimit {
    /// A cap of `per_client` checks in flight per client; 0 disables it.
    pub fn new(per_client: u32) -> Self {
        Self {
            per_client,
            counts: Arc::default(),
        }
    }

    /// Takes a place for `client` until the slot is dropped, or says how many
    /// seconds to wait when the client already has `per_client` in flight.
    /// Only clients with something in flight are remembered.
    pub fn enter(&self, client: Option<IpAddr>) -> Result<InFlightSlot, u64> {
        let (Some(client), true) = (client, self.per_client > 0) else {
            return Ok(InFlightSlot { held: None });
        };
        let key = ClientKey::from(client);
        let mut counts = locked(&self.counts);
        let count = counts.entry(key).or_insert(0);
        if *count >= self.per_client {
            return Err(IN_FLIGHT_RETRY_AFTER);
        }
        *count += 1;
        Ok(InFlightSlot {
            held: Some((Arc::clone(&self.counts), key)),
        })
    }
}

impl Drop for InFlightSlot {
    fn drop(&mut self) {
        let Some((counts, key)) = self.held.take() else {
            return;
        };
        let mut counts = locked(&counts);
        if let Some(count) = counts.get_mut(&key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

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

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        let key = |text: &str| ip(text).map(ClientKey::from);
        assert_eq!(
            key("2001:db8:1:2:aaaa::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:ffff")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn the_rate_limit_counts_a_whole_ipv6_slash_64_as_one_client() {
        let limiter = RateLimiter::new(2);
        assert_eq!(limiter.check(ip("2001:db8:0:1::1")), Ok(()));
        assert_eq!(limiter.check(ip("2001:db8:0:1::2")), Ok(()));
        assert!(
            limiter.check(ip("2001:db8:0:1:dead:beef:0:3")).is_err(),
            "a third address of the same /64 is the same client"
        );
        assert_eq!(limiter.check(ip("2001:db8:0:2::1")), Ok(()));
    }

    #[test]
    fn the_in_flight_cap_refuses_the_third_concurrent_check_of_one_client() {
        let limit = InFlightLimit::new(2);
        let first = limit.enter(ip("198.51.100.1"));
        let second = limit.enter(ip("198.51.100.1"));
        assert!(first.is_ok() && second.is_ok());
        assert_eq!(
            limit.enter(ip("198.51.100.1")).map(drop),
            Err(1),
            "the third one waits a second"
        );
        assert!(
            limit.enter(ip("198.51.100.2")).is_ok(),
            "other clients are not affected"
        );
        drop(first);
        assert!(
            limit.enter(ip("198.51.100.1")).is_ok(),
            "a finished check gives its place back"
        );
    }

    #[test]
    fn the_in_flight_cap_counts_a_whole_ipv6_slash_64_as_one_client() {
        let limit = InFlightLimit::new(1);
        let _held = limit.enter(ip("2001:db8:5:6::1"));
        assert_eq!(limit.enter(ip("2001:db8:5:6::2")).map(drop), Err(1));
        assert!(limit.enter(ip("2001:db8:5:7::1")).is_ok());
    }

    #[test]
    fn the_in_flight_cap_forgets_clients_with_nothing_in_flight() {
        let limit = InFlightLimit::new(2);
        let slots: Vec<_> = (1..=50)
            .filter_map(|n| limit.enter(Some(IpAddr::from([203, 0, 113, n]))).ok())
            .collect();
        assert_eq!(locked(&limit.counts).len(), 50);
        drop(slots);
        assert!(locked(&limit.counts).is_empty());
    }

    #[test]
    fn a_zero_cap_or_an_unknown_client_is_never_refused() {
        let off = InFlightLimit::new(0);
        let held: Vec<_> = (0..100).map(|_| off.enter(ip("192.0.2.1"))).collect();
        assert!(held.iter().all(Result::is_ok));
        let on = InFlightLimit::new(1);
        let held: Vec<_> = (0..100).map(|_| on.enter(None)).collect();
        assert!(held.iter().all(Result::is_ok));
    }
}
