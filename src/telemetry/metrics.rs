//! The Prometheus metrics an operator watches. Each running service has its registry; the layers
//! that count hold a handle to it; `/metrics` encodes it (OpenMetrics text).
//!
//! | metric | what |
//! |---|---|
//! | `niemyet_http_requests_total{method,route,status}` | requests answered, by route pattern (`unmatched` for none) |
//! | `niemyet_http_request_duration_seconds{method,route}` | time to answer |
//! | `niemyet_db_pool_connections{state}` | pooled connections `idle` and `in_use`, read at scrape time |
//! | `niemyet_db_pool_max_connections` | the pool's size |
//! | `niemyet_db_pool_wait_seconds` | time a request waited for a pooled connection |
//! | `niemyet_db_pool_timeouts_total` | waits that gave up (answered 503) |
//! | `niemyet_heavy_wait_seconds` | time a heavy report waited for its turn |
//! | `niemyet_heavy_busy_total` | heavy reports told to come back (503) |
//! | `niemyet_report_cache_lookups_total{cache,outcome}` | report bodies, commune summaries, the catalogue and public catalogue answers found in memory (`hit`) or not (`miss`) |
//! | `niemyet_report_computations_total{kind}` | commune reports and summaries computed, national reports assembled |
//! | `niemyet_rows_written_total{kind}` | posting lines and catalogue records written by requests |
//! | `niemyet_rate_limited_total{class}` | requests refused with 429, per `public` or `token` limit |

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabels {
    class: &'static str,
}

/// Which in-memory cache a lookup went to.
#[derive(Debug, Clone, Copy)]
pub enum Cache {
    Body,
    Summary,
    /// The catalogue as the public reads it.
    Catalogue,
    /// Public catalogue answers, whole.
    Response,
}

/// What was computed.
#[derive(Debug, Clone, Copy)]
pub enum Computation {
    CommuneReport,
    CommuneSummary,
    NationalReport,
}

/// What a request wrote, row by row.
#[derive(Debug, Clone, Copy)]
pub enum Rows {
    Postings,
    CatalogueRecords,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    pool: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    pool_wait: Histogram,
    pool_timeouts: Counter,
    heavy_wait: Histogram,
    heavy_busy: Counter,
    cache: Family<CacheLabels, Counter>,
    computations: Family<KindLabels, Counter>,
    rows: Family<KindLabels, Counter>,
    limited: Family<ClassLabels, Counter>,
}

/// Seconds from 50 µs to about 26 s, doubling: a cached report and a cold national report fit.
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// The metrics of one running service (each server has its own registry, so that two in one
/// process, as in the tests, never mix their figures). Cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("niemyet");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "Requests answered", requests.clone());
        let latency =
            Family::<RouteLabels, Histogram>::new_with_constructor(seconds_buckets as fn() -> _);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer a request",
            latency.clone(),
        );
        let pool = Family::<StateLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Pooled connections, idle and in use",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The pool's size",
            pool_max.clone(),
        );
        let pool_wait = seconds_buckets();
        registry.register(
            "db_pool_wait_seconds",
            "Time waited for a pooled connection",
            pool_wait.clone(),
        );
        let pool_timeouts = Counter::default();
        registry.register(
            "db_pool_timeouts",
            "Waits for a pooled connection that gave up",
            pool_timeouts.clone(),
        );
        let heavy_wait = seconds_buckets();
        registry.register(
            "heavy_wait_seconds",
            "Time a heavy report waited for its turn",
            heavy_wait.clone(),
        );
        let heavy_busy = Counter::default();
        registry.register(
            "heavy_busy",
            "Heavy reports told to come back",
            heavy_busy.clone(),
        );
        let cache = Family::<CacheLabels, Counter>::default();
        registry.register(
            "report_cache_lookups",
            "Report bodies and commune summaries looked up in memory",
            cache.clone(),
        );
        let computations = Family::<KindLabels, Counter>::default();
        registry.register(
            "report_computations",
            "Reports and summaries computed",
            computations.clone(),
        );
        let rows = Family::<KindLabels, Counter>::default();
        registry.register("rows_written", "Rows written by requests", rows.clone());
        let limited = Family::<ClassLabels, Counter>::default();
        registry.register(
            "rate_limited",
            "Requests refused for their rate",
            limited.clone(),
        );
        Metrics(Arc::new(Inner {
            registry,
            requests,
            latency,
            pool,
            pool_max,
            pool_wait,
            pool_timeouts,
            heavy_wait,
            heavy_busy,
            cache,
            computations,
            rows,
            limited,
        }))
    }

    /// A request answered: its method, route pattern (`None`: no route matched), status and time.
    pub fn request(&self, method: &str, route: Option<&str>, status: u16, took: Duration) {
        let route = route.unwrap_or("unmatched").to_owned();
        self.0
            .requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.clone(),
                status,
            })
            .inc();
        self.0
            .latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route,
            })
            .observe(took.as_secs_f64());
    }

    /// A wait for a pooled connection, and whether it got one.
    pub fn pool_waited(&self, took: Duration, got: bool) {
        self.0.pool_wait.observe(took.as_secs_f64());
        if !got {
            self.0.pool_timeouts.inc();
        }
    }

    pub fn heavy_waited(&self, took: Duration) {
        self.0.heavy_wait.observe(took.as_secs_f64());
    }

    pub fn heavy_busy(&self) {
        self.0.heavy_busy.inc();
    }

    pub fn cache_lookup(&self, cache: Cache, hit: bool) {
        let cache = match cache {
            Cache::Body => "body",
            Cache::Summary => "summary",
            Cache::Catalogue => "catalogue",
            Cache::Response => "response",
        };
        let outcome = if hit { "hit" } else { "miss" };
        self.0
            .cache
            .get_or_create(&CacheLabels { cache, outcome })
            .inc();
    }

    pub fn computed(&self, kind: Computation, n: u64) {
        let kind = match kind {
            Computation::CommuneReport => "commune_report",
            Computation::CommuneSummary => "commune_summary",
            Computation::NationalReport => "national_report",
        };
        self.0
            .computations
            .get_or_create(&KindLabels { kind })
            .inc_by(n);
    }

    pub fn rows_written(&self, kind: Rows, n: u64) {
        let kind = match kind {
            Rows::Postings => "postings",
            Rows::CatalogueRecords => "catalogue_records",
        };
        self.0.rows.get_or_create(&KindLabels { kind }).inc_by(n);
    }

    pub fn rate_limited(&self, token: bool) {
        let class = if token { "token" } else { "public" };
        self.0.limited.get_or_create(&ClassLabels { class }).inc();
    }

    /// The registry as OpenMetrics text, with the pool's state as of now.
    pub fn encode(&self, pool_connections: u32, pool_idle: u32, pool_max: u32) -> String {
        let m = &self.0;
        m.pool
            .get_or_create(&StateLabels { state: "idle" })
            .set(i64::from(pool_idle));
        m.pool
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(pool_connections.saturating_sub(pool_idle)));
        m.pool_max.set(i64::from(pool_max));
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &m.registry);
        out
    }
}
