//! Rate limits per client: an authenticated request counts against its token, any other against
//! the client's address. Over the limit, the answer is 429 with `Retry-After`. Liveness,
//! readiness and metrics are never limited, and the addresses an operator lists (the portal's
//! servers) are exempt.
//!
//! A token counts only once it verifies: a request carrying a made-up token is limited by its
//! address, like any anonymous one, so inventing tokens gains nothing. The verified identity is
//! kept on the request, and the handler's extractor does not verify it again.

use std::hash::{BuildHasher, Hash, RandomState};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::auth::{JwtKeys, Verified};
use crate::error::ApiError;

/// The limits (from `config::Settings`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateSettings {
    /// Requests per second per client address without a valid token (0: no limit).
    pub public_per_second: u32,
    /// Requests per second per valid token (0: no limit).
    pub token_per_second: u32,
    /// Addresses never limited (the portal's servers).
    pub exempt: Vec<IpAddr>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
}

/// A burst of this many seconds' worth of requests is allowed at once.
const BURST_SECONDS: u32 = 3;
/// Every so many checks, keys not seen lately are dropped, so the tables stay small.
const SWEEP_EVERY: u64 = 8192;

pub struct RateLimits {
    settings: RateSettings,
    public: Option<DefaultKeyedRateLimiter<IpAddr>>,
    token: Option<DefaultKeyedRateLimiter<u64>>,
    hasher: RandomState,
    checks: AtomicU64,
    clock: DefaultClock,
}

fn limiter<K: Clone + Hash + Eq>(per_second: u32) -> Option<DefaultKeyedRateLimiter<K>> {
    let rate = NonZeroU32::new(per_second)?;
    let burst = NonZeroU32::new(per_second.saturating_mul(BURST_SECONDS)).unwrap_or(rate);
    Some(DefaultKeyedRateLimiter::keyed(
        Quota::per_second(rate).allow_burst(burst),
    ))
}

impl RateLimits {
    pub fn new(settings: RateSettings) -> Self {
        RateLimits {
            public: limiter(settings.public_per_second),
            token: limiter(settings.token_per_second),
            settings,
            hasher: RandomState::new(),
            checks: AtomicU64::new(0),
            clock: DefaultClock::default(),
        }
    }

    /// The address a request comes from: the peer, or, behind a trusted proxy, the last address
    /// of `X-Forwarded-For` that is not one of the trusted proxies.
    fn client(&self, req: &ServiceRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.settings.trusted_proxies.contains(&peer) {
            return Some(peer);
        }
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        forwarded
            .rsplit(',')
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .find(|a| !self.settings.trusted_proxies.contains(a))
            .or(Some(peer))
    }

    /// Seconds to wait before the next request is allowed, or `None` when it is allowed now.
    fn check(&self, req: &ServiceRequest) -> Option<(u64, bool)> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            if let Some(l) = &self.public {
                l.retain_recent();
                l.shrink_to_fit();
            }
            if let Some(l) = &self.token {
                l.retain_recent();
                l.shrink_to_fit();
            }
        }
        let client = self.client(req);
        if client.is_some_and(|c| self.settings.exempt.contains(&c)) {
            return None;
        }
        let token = req.extensions().get::<Verified>().map(|v| v.token_hash);
        let refused = match (token, &self.token, &self.public) {
            (Some(key), Some(limiter), _) => limiter.check_key(&key).err(),
            (Some(_), None, _) => None,
            (None, _, Some(limiter)) => limiter
                .check_key(&client.unwrap_or(IpAddr::from([0, 0, 0, 0])))
                .err(),
            (None, _, None) => None,
        }?;
        let wait = refused.wait_time_from(self.clock.now());
        Some((wait.as_secs_f64().ceil().max(1.0) as u64, token.is_some()))
    }

    /// A token's key in the token table.
    fn key_of(&self, token: &str) -> u64 {
        self.hasher.hash_one(token)
    }
}

/// Paths never limited: an orchestrator's probes and the metrics scrape.
fn unlimited(path: &str) -> bool {
    matches!(path, "/health" | "/ready" | "/metrics")
}

pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let limits = req.app_data::<web::Data<RateLimits>>().cloned();
    let Some(limits) = limits.filter(|_| !unlimited(req.path())) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    // A bearer token that verifies is counted as itself (and its identity kept for the handler).
    if let (Some(keys), Some(token)) = (
        req.app_data::<web::Data<JwtKeys>>(),
        crate::auth::bearer(req.headers().get(header::AUTHORIZATION)),
    ) && let Ok(identity) = keys.verify(token)
    {
        let token_hash = limits.key_of(token);
        req.extensions_mut().insert(Verified {
            identity,
            token_hash,
        });
    }
    if let Some((wait, token)) = limits.check(&req) {
        if let Some(metrics) = req.app_data::<web::Data<crate::telemetry::metrics::Metrics>>() {
            metrics.rate_limited(token);
        }
        return Err(ApiError::TooManyRequests(wait).into());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}
