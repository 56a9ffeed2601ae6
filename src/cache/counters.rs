//! The revision counters (`repo::revisions`) held in memory, so that a cached report can be served
//! without asking the database whether it is still current.
//!
//! Three things keep the copy current:
//!
//! - every write returns the counters it bumped, with the values it committed, as a
//!   [`Committed`]; its value is handed over only once those counters are published here
//!   ([`Counters::publish`]), before the response leaves: this instance sees its own writes at
//!   once, whichever thread wrote;
//! - a watcher thread per instance follows writes made elsewhere (another instance, the
//!   `load-postings` command): on PostgreSQL it `LISTEN`s to the notifications a trigger on the
//!   `revisions` table sends at commit (and re-reads everything every few seconds in case one was
//!   missed); on SQLite it polls `PRAGMA data_version`, which changes whenever another connection
//!   commits, and re-reads the table when it does;
//! - the copy is trusted only while the watcher has confirmed it within [`STALE_AFTER`]; when the
//!   watcher cannot reach the database, requests read the counters from the database as before.
//!
//! Counters only grow, so merging takes the larger of two values, and a late notification can
//! never move a counter back.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::db::{Backend, DatabaseUrl, DbConnection};
use crate::repo::revisions::{self, Bumped};

/// How long the copy is trusted after the watcher last confirmed it.
pub const STALE_AFTER: Duration = Duration::from_secs(1);
/// How often the watcher looks for changes made elsewhere.
const POLL: Duration = Duration::from_millis(5);
/// How often the PostgreSQL watcher re-reads every counter regardless of notifications (which
/// also finds a connection that died without the socket saying so).
const RESYNC: Duration = Duration::from_secs(1);
/// How long the watcher waits before reconnecting after an error.
const RETRY: Duration = Duration::from_millis(500);
/// The notification channel the migration's trigger sends to (payload: `key revision`).
pub const CHANNEL: &str = "niemyet_revisions";

/// What a write transaction returns: its value, and the revision counters it bumped with the
/// values it committed. The value is reached only through [`Counters::publish`], so that no
/// write can answer before this instance's copy of the counters (and so every cached report)
/// knows of it.
#[must_use = "a write's value is reached through Counters::publish, which makes it visible"]
#[derive(Debug)]
pub struct Committed<T> {
    value: T,
    bumped: Bumped,
}

impl<T> Committed<T> {
    pub fn new(value: T, bumped: Bumped) -> Self {
        Self { value, bumped }
    }

    /// The counters the write bumped.
    pub fn bumped(&self) -> &Bumped {
        &self.bumped
    }

    /// The value, for a process that keeps no cached reports (the command line, start-up seeding
    /// before the server listens): running instances see the write through their watcher.
    pub fn without_cache(self) -> T {
        self.value
    }

    /// The same write with its value changed (the counters stay those it bumped).
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Committed<U> {
        Committed {
            value: f(self.value),
            bumped: self.bumped,
        }
    }
}

#[derive(Default)]
struct Inner {
    map: HashMap<String, i64>,
    confirmed: Option<Instant>,
}

/// The in-memory copy of the counters.
#[derive(Default)]
pub struct Counters {
    inner: RwLock<Inner>,
}

impl Counters {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn fresh(inner: &Inner) -> bool {
        inner.confirmed.is_some_and(|at| at.elapsed() < STALE_AFTER)
    }

    /// The counters of `keys`, read together (absent keys are 0), or `None` when the copy cannot
    /// be trusted.
    pub fn get_many(&self, keys: &[&str]) -> Option<Vec<i64>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        Self::fresh(&inner).then(|| {
            keys.iter()
                .map(|k| inner.map.get(*k).copied().unwrap_or(0))
                .collect()
        })
    }

    /// Every counter, or `None` when the copy cannot be trusted.
    pub fn all(&self) -> Option<HashMap<String, i64>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        Self::fresh(&inner).then(|| inner.map.clone())
    }

    /// Raises each counter to the value given, if larger.
    pub fn merge(&self, rows: impl IntoIterator<Item = (String, i64)>) {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        for (key, revision) in rows {
            let slot = inner.map.entry(key).or_insert(revision);
            *slot = (*slot).max(revision);
        }
    }

    fn confirm(&self) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .confirmed = Some(Instant::now());
    }

    fn distrust(&self) {
        self.inner
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .confirmed = None;
    }

    /// Makes a committed write visible to this instance and hands back its value.
    pub fn publish<T>(&self, committed: Committed<T>) -> T {
        self.merge(committed.bumped);
        committed.value
    }
}

/// Starts the watcher thread of `counters` over `url`; it ends once `counters` is dropped.
pub fn watch(url: DatabaseUrl, counters: &Arc<Counters>) {
    let weak = Arc::downgrade(counters);
    let spawned = std::thread::Builder::new()
        .name("niemyet-revisions".into())
        .spawn(move || {
            while weak.strong_count() > 0 {
                let outcome = match url.backend {
                    Backend::Postgres => watch_pg(&url.target, &weak),
                    Backend::Sqlite => watch_sqlite(&url.target, &weak),
                };
                let Some(counters) = weak.upgrade() else {
                    return;
                };
                counters.distrust();
                drop(counters);
                if let Err(e) = outcome {
                    tracing::debug!(error = %e, "revision watcher: reconnecting");
                }
                std::thread::sleep(RETRY);
            }
        });
    if let Err(e) = spawned {
        // Without the watcher the copy is never trusted and requests read the database.
        tracing::warn!(error = %e, "cannot start the revision watcher");
    }
}

fn load_all(conn: &mut DbConnection, weak: &Weak<Counters>) -> anyhow::Result<bool> {
    let rows = revisions::all(conn)?;
    let Some(counters) = weak.upgrade() else {
        return Ok(false);
    };
    counters.merge(rows);
    counters.confirm();
    Ok(true)
}

/// Returns when `weak` is gone (Ok) or on the first error.
fn watch_sqlite(path: &str, weak: &Weak<Counters>) -> anyhow::Result<()> {
    let mut conn = revisions::open_sqlite_watcher(path)?;
    let mut seen: Option<i64> = None;
    loop {
        let version = revisions::sqlite_data_version(&mut conn)?;
        if seen != Some(version) {
            if !load_all(&mut conn, weak)? {
                return Ok(());
            }
            seen = Some(version);
        } else {
            let Some(counters) = weak.upgrade() else {
                return Ok(());
            };
            counters.confirm();
        }
        std::thread::sleep(POLL);
    }
}

/// The watcher's connection string: it mostly waits for notifications, so a connection that
/// died without a word (a restarted server, a dropped network path) must fail within seconds
/// rather than after TCP's own timeouts of many minutes, for the watcher to reconnect. Settings
/// already in `url` come first and are overridden.
fn watcher_url(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!(
        "{url}{separator}connect_timeout=5&keepalives=1&keepalives_idle=5&keepalives_interval=2\
         &keepalives_count=3&tcp_user_timeout=10000&application_name=niemyet-revisions"
    )
}

/// Returns when `weak` is gone (Ok) or on the first error.
fn watch_pg(url: &str, weak: &Weak<Counters>) -> anyhow::Result<()> {
    let mut conn = revisions::open_pg_listener(&watcher_url(url), CHANNEL)?;
    let mut synced = Instant::now();
    if !load_all(&mut conn, weak)? {
        return Ok(());
    }
    loop {
        let rows = revisions::notified(&mut conn)?;
        let Some(counters) = weak.upgrade() else {
            return Ok(());
        };
        counters.merge(rows);
        counters.confirm();
        drop(counters);
        if synced.elapsed() >= RESYNC {
            if !load_all(&mut conn, weak)? {
                return Ok(());
            }
            synced = Instant::now();
        }
        std::thread::sleep(POLL);
    }
}
