//! Rate limits, kept per instance (governor's GCRA over a concurrent map).
//!
//! - Failed token requests, per API client id and per source address: a
//!   burst is allowed, then failures answer 429 until the bucket refills.
//!   Only failures count, and the right secret is checked before any limit
//!   is consulted, so an attacker guessing one practice's secret cannot lock
//!   that practice's integration out.
//! - An optional request rate per practice (off by default).
//!
//! Per instance on purpose: with N instances behind a load balancer an
//! attacker gets at most N bursts, which against 256-bit secrets changes
//! nothing, and no request waits on a shared counter. The README says so.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use uuid::Uuid;

/// Counts failures by key; answers how long to wait once a key is over.
pub struct FailureLimiter<K: Hash + Eq + Clone> {
    limiter: RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>,
}

impl<K: Hash + Eq + Clone> FailureLimiter<K> {
    /// Allows `burst` failures at once, refilling over a minute.
    pub fn per_minute(burst: NonZeroU32) -> Self {
        Self { limiter: RateLimiter::keyed(Quota::per_minute(burst)) }
    }

    /// Counts one failure; `Err(wait)` when the key is over its budget.
    pub fn record_failure(&self, key: &K) -> Result<(), Duration> {
        self.limiter.check_key(key).map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    /// Forgets keys whose buckets are full again (a periodic job calls it).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// The token endpoint's two failure limits.
pub struct TokenGuard {
    by_client: FailureLimiter<Uuid>,
    by_address: FailureLimiter<IpAddr>,
}

impl TokenGuard {
    pub fn new(burst: NonZeroU32) -> Self {
        Self { by_client: FailureLimiter::per_minute(burst), by_address: FailureLimiter::per_minute(burst) }
    }

    /// Records a failed token request; `Err(wait)` when either limit is over.
    pub fn record_failure(&self, client: Option<Uuid>, address: Option<IpAddr>) -> Result<(), Duration> {
        let by_client = client.map_or(Ok(()), |id| self.by_client.record_failure(&id));
        let by_address = address.map_or(Ok(()), |ip| self.by_address.record_failure(&ip));
        match (by_client, by_address) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(wait), _) | (_, Err(wait)) => Err(wait),
        }
    }

    pub fn forget_idle(&self) {
        self.by_client.forget_idle();
        self.by_address.forget_idle();
    }
}

/// What the per-practice limit says of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Requests a minute (the policy's quota over a 60 s window).
    pub quota: u32,
    pub remaining: u32,
    /// Seconds until a request is allowed again (0 when one is now).
    pub reset_seconds: u64,
    pub allowed: bool,
}

impl RateLimitStatus {
    /// `RateLimit-Policy`, as the IETF httpapi draft writes it.
    pub fn policy_header(&self) -> String {
        format!("\"practice\";q={};w=60", self.quota)
    }

    /// `RateLimit`, as the IETF httpapi draft writes it.
    pub fn limit_header(&self) -> String {
        format!("\"practice\";r={};t={}", self.remaining, self.reset_seconds)
    }
}

/// The optional request rate per practice.
pub struct PracticeLimiter {
    quota: u32,
    limiter: RateLimiter<Uuid, DefaultKeyedStateStore<Uuid>, DefaultClock, StateInformationMiddleware>,
}

impl PracticeLimiter {
    pub fn per_minute(quota: NonZeroU32) -> Self {
        Self {
            quota: quota.get(),
            limiter: RateLimiter::keyed(Quota::per_minute(quota)).with_middleware::<StateInformationMiddleware>(),
        }
    }

    pub fn check(&self, practice: Uuid) -> RateLimitStatus {
        match self.limiter.check_key(&practice) {
            Ok(snapshot) => RateLimitStatus {
                quota: self.quota,
                remaining: snapshot.remaining_burst_capacity(),
                reset_seconds: 0,
                allowed: true,
            },
            Err(not_until) => {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                RateLimitStatus { quota: self.quota, remaining: 0, reset_seconds: wait_seconds(wait), allowed: false }
            }
        }
    }

    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Whole seconds to wait, rounded up (a `Retry-After` of 0 would invite a retry at once).
pub fn wait_seconds(wait: Duration) -> u64 {
    let whole = wait.as_secs();
    if wait.subsec_nanos() > 0 || whole == 0 { whole + 1 } else { whole }
}

/// The address a request came from: the peer, or when the service sits
/// behind `trusted_hops` proxies, the address the outermost of them saw
/// (counted from the right of `X-Forwarded-For`, the part proxies append).
pub fn source_address(req: &HttpRequest, trusted_hops: usize) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|addr| addr.ip());
    if trusted_hops == 0 {
        return peer;
    }
    let Some(forwarded) = req.headers().get("x-forwarded-for").and_then(|v| v.to_str().ok()) else {
        return peer;
    };
    let hops: Vec<&str> = forwarded.split(',').map(str::trim).collect();
    // Fewer hops than proxies: the leftmost is the furthest address known.
    let index = hops.len().saturating_sub(trusted_hops);
    hops.get(index).and_then(|hop| hop.parse().ok()).or(peer)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn burst(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[test]
    fn failures_pass_until_the_burst_is_spent() {
        let guard = TokenGuard::new(burst(3));
        let client = Some(Uuid::now_v7());
        let address = Some("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            assert!(guard.record_failure(client, address).is_ok());
        }
        let wait = guard.record_failure(client, address).unwrap_err();
        // One failure refills every 20 s at three a minute.
        assert!(wait > Duration::from_secs(15) && wait <= Duration::from_secs(20), "{wait:?}");
        // Another address guessing another client is not affected.
        assert!(guard.record_failure(Some(Uuid::now_v7()), Some("192.0.2.2".parse().unwrap())).is_ok());
        // The same client from a fresh address is limited by its client budget.
        assert!(guard.record_failure(client, Some("192.0.2.3".parse().unwrap())).is_err());
    }

    #[test]
    fn the_practice_limit_reports_what_is_left() {
        let limiter = PracticeLimiter::per_minute(burst(2));
        let practice = Uuid::now_v7();
        let first = limiter.check(practice);
        assert!(first.allowed);
        assert_eq!(
            (first.remaining, first.limit_header(), first.policy_header()),
            (1, "\"practice\";r=1;t=0".to_owned(), "\"practice\";q=2;w=60".to_owned())
        );
        assert!(limiter.check(practice).allowed);
        let refused = limiter.check(practice);
        assert!(!refused.allowed);
        assert!(refused.reset_seconds > 0 && refused.reset_seconds <= 30);
        assert!(limiter.check(Uuid::now_v7()).allowed);
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(wait_seconds(Duration::from_millis(1)), 1);
        assert_eq!(wait_seconds(Duration::from_secs(2)), 2);
        assert_eq!(wait_seconds(Duration::from_millis(2001)), 3);
        assert_eq!(wait_seconds(Duration::ZERO), 1);
    }

    #[test]
    fn the_source_is_the_peer_unless_proxies_are_trusted() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.9:5000".parse().unwrap())
            .insert_header(("x-forwarded-for", "203.0.113.7, 198.51.100.2"))
            .to_http_request();
        assert_eq!(source_address(&req, 0), Some("10.0.0.9".parse().unwrap()));
        assert_eq!(source_address(&req, 1), Some("198.51.100.2".parse().unwrap()));
        assert_eq!(source_address(&req, 2), Some("203.0.113.7".parse().unwrap()));
        assert_eq!(source_address(&req, 3), Some("203.0.113.7".parse().unwrap()));
        let direct = TestRequest::default().peer_addr("10.0.0.9:5000".parse().unwrap()).to_http_request();
        assert_eq!(source_address(&direct, 1), Some("10.0.0.9".parse().unwrap()));
    }
}
