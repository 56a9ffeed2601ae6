//! Storage: one connection type over PostgreSQL and SQLite, the pool, migrations, and the helpers
//! every database call goes through (`Db::run` off the executor, `write_tx` for locked writes).
//! This layer knows nothing above it: no queries of the application's tables (`repo`), no cache,
//! no HTTP.

pub mod schema;

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2::{CustomizeConnection, Pool, PooledConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::telemetry::metrics::Metrics;

const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// A connection to whichever backend `DATABASE_URL` names.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// Multi-row INSERT. The multi-connection type cannot express SQLite's batch insert, so this runs
/// the same statement on whichever inner connection is in use.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        use diesel::RunQueryDsl as _;
        match $conn {
            $crate::db::DbConnection::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
            $crate::db::DbConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
        }
    }};
}

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Parsed form of `DATABASE_URL`: PostgreSQL for `postgres://`/`postgresql://`, otherwise a SQLite
/// file path (an optional `sqlite://` prefix is removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver is given: the PostgreSQL URL or the SQLite file path.
    pub target: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Self {
                backend: Backend::Postgres,
                target: raw.to_owned(),
            };
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        Self {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        }
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite:{}", self.target),
            Backend::Postgres => match (self.target.find("://"), self.target.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    let userinfo = &self.target[scheme_end + 3..at];
                    let user = userinfo.split(':').next().unwrap_or_default();
                    format!(
                        "{}{}:***{}",
                        &self.target[..scheme_end + 3],
                        user,
                        &self.target[at..]
                    )
                }
                _ => self.target.clone(),
            },
        }
    }
}

/// Connection manager that builds the right enum variant from the URL instead of trying each
/// backend in turn (SQLite accepts any string as a path).
pub struct Manager {
    url: DatabaseUrl,
}

impl diesel::r2d2::ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let conn = match self.url.backend {
            Backend::Postgres => PgConnection::establish(&self.url.target).map(DbConnection::Pg),
            Backend::Sqlite => {
                SqliteConnection::establish(&self.url.target).map(DbConnection::Sqlite)
            }
        };
        conn.map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

/// Per-connection settings applied when the pool opens a connection.
#[derive(Debug)]
struct ConnectionSettings;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for ConnectionSettings {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        let sql = match conn {
            // WAL lets readers run beside the one writer; busy_timeout makes a second writer wait
            // for the lock instead of failing with "database is locked". Each connection keeps
            // 8 MiB of pages (the default is 2 MiB), enough for a commune's postings and their
            // index pages, so that a save or a report does not read them from the file again.
            DbConnection::Sqlite(_) => {
                "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA foreign_keys = ON; PRAGMA cache_size = -8192;"
            }
            DbConnection::Pg(_) => "SET TIME ZONE 'UTC'",
        };
        conn.batch_execute(sql)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Pool settings (see `config`).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_size: u32,
    pub connect_timeout: Duration,
}

/// Builds the pool without opening a connection yet, so that the service can start (and answer
/// `/health`) while the database is still coming up.
pub fn build_pool(url: &DatabaseUrl, settings: &PoolSettings) -> anyhow::Result<DbPool> {
    if url.backend == Backend::Sqlite
        && let Some(dir) = std::path::Path::new(&url.target).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let pool = Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(1))
        .connection_timeout(settings.connect_timeout)
        .connection_customizer(Box::new(ConnectionSettings))
        .build_unchecked(Manager { url: url.clone() });
    Ok(pool)
}

/// One connection, without a pool: for a command that asks one question and exits. A pool
/// opens its idle connections on threads of its own, and a process that exits while one of them
/// is still connecting (libpq and OpenSSL mid-handshake) can crash in its exit handlers.
pub fn connect_once(url: &DatabaseUrl) -> anyhow::Result<DbConnection> {
    let manager = Manager { url: url.clone() };
    let mut conn = diesel::r2d2::ManageConnection::connect(&manager)?;
    ConnectionSettings.on_acquire(&mut conn)?;
    Ok(conn)
}

/// Applies the embedded migrations of the connection's backend.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let applied = match conn {
        DbConnection::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    };
    applied.map_err(|e| anyhow::anyhow!("migration failed: {e}"))
}

/// What a write transaction serialises on. SQLite has one writer at a time (`BEGIN IMMEDIATE`);
/// on PostgreSQL the transaction takes a transaction-scoped advisory lock on this key, so that
/// writes that read before they write never interleave.
#[derive(Debug, Clone, Copy)]
pub enum WriteLock {
    /// Decisions, imports and sectors: the catalogue changes one decision at a time.
    Catalogue,
    /// Reference data: units, holidays, province settings.
    Reference,
    /// One commune's postings and exemptions (the number is its code).
    Commune(u32),
    /// A bulk load of postings across communes.
    Bulk,
    /// The stored commune summaries (derived data).
    Summaries,
    /// Webhook subscriptions, and the marking of a day's events.
    Webhooks,
    /// Writes that lock only the rows they change (`SELECT … FOR UPDATE SKIP LOCKED`): the
    /// webhook deliveries' leases and attempts. No advisory lock on PostgreSQL.
    Rows,
}

impl WriteLock {
    fn key(self) -> Option<i64> {
        Some(match self {
            WriteLock::Catalogue => 0x6e69_656d_0001,
            WriteLock::Reference => 0x6e69_656d_0002,
            WriteLock::Commune(code) => 0x6e69_0000_0000 + i64::from(code),
            WriteLock::Bulk => 0x6e69_656d_0003,
            WriteLock::Summaries => 0x6e69_656d_0004,
            WriteLock::Webhooks => 0x6e69_656d_0005,
            WriteLock::Rows => return None,
        })
    }

    /// The lock of one commune's records.
    pub fn commune(code: &str) -> Self {
        WriteLock::Commune(code.parse().unwrap_or(0))
    }
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is taken before
/// the first read, so a read-then-write never fails half-way with SQLITE_BUSY), and an advisory
/// lock on PostgreSQL. Rolls back on any error.
pub fn write_tx<T, E>(
    conn: &mut DbConnection,
    lock: WriteLock,
    f: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    if let DbConnection::Sqlite(c) = conn {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
    } else {
        <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?;
        if let (DbConnection::Pg(c), Some(key)) = (&mut *conn, lock.key())
            && let Err(e) = c.batch_execute(&format!("SELECT pg_advisory_xact_lock({key})"))
        {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            return Err(e.into());
        }
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConnection as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Why a call could not reach the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection within the pool's time-out, or the database refused one.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Every slot for heavy work stayed taken for the whole wait.
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Internal(anyhow::Error),
}

/// How heavy work (the national report, a decision's impact across the country) shares the
/// pool with everything else.
#[derive(Debug, Clone, Copy)]
pub struct HeavyLimits {
    /// Heavy tasks running at once; more wait their turn.
    pub slots: usize,
    /// How long a heavy task waits for a slot before the answer is 503 with `Retry-After`.
    pub wait: Duration,
}

/// A heavy task's access to the database. It takes connections itself, one per thread, and
/// never holds one while it waits for another: however many heavy tasks run, none can wait on a
/// connection that another waiting task holds.
#[derive(Clone)]
pub struct Fanout {
    pool: DbPool,
    threads: usize,
    metrics: Metrics,
}

impl Fanout {
    pub fn new(pool: DbPool, threads: usize, metrics: Metrics) -> Self {
        Fanout {
            pool,
            threads: threads.max(1),
            metrics,
        }
    }

    /// Threads (each with one connection) the task may spread over.
    pub fn threads(&self) -> usize {
        self.threads
    }

    pub fn get(&self) -> Result<PooledConn, DbError> {
        checkout(&self.pool, &self.metrics)
    }
}

/// A pooled connection, the wait for it counted.
fn checkout(pool: &DbPool, metrics: &Metrics) -> Result<PooledConn, DbError> {
    let started = std::time::Instant::now();
    let conn = pool.get();
    metrics.pool_waited(started.elapsed(), conn.is_ok());
    conn.map_err(|e| DbError::Unavailable(e.to_string()))
}

/// The pool, shared by handlers. `run` and `run_heavy` are the only ways handlers reach the
/// database: each runs the closure on actix's blocking thread pool, inside the caller's span.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    heavy: Arc<tokio::sync::Semaphore>,
    heavy_wait: Duration,
    fanout: Fanout,
    metrics: Metrics,
}

impl Db {
    /// Heavy work gets at most half the pool: `slots` tasks at once (at most half the pool's
    /// connections), each over as many threads as the cores and the rest of that half allow.
    pub fn new(pool: DbPool, heavy: HeavyLimits, metrics: Metrics) -> Self {
        let connections = pool.max_size() as usize;
        let half = (connections / 2).max(1);
        let slots = heavy.slots.clamp(1, half);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = cores.clamp(1, 4).min((half / slots).max(1));
        Self {
            fanout: Fanout::new(pool.clone(), threads, metrics.clone()),
            metrics,
            pool,
            heavy: Arc::new(tokio::sync::Semaphore::new(slots)),
            heavy_wait: heavy.wait,
        }
    }

    /// Connections open, idle ones among them, and the pool's size.
    pub fn pool_state(&self) -> (u32, u32, u32) {
        let state = self.pool.state();
        (
            state.connections,
            state.idle_connections,
            self.pool.max_size(),
        )
    }

    /// A connection outside the request path (start-up).
    pub fn connection(&self) -> Result<PooledConn, DbError> {
        self.fanout.get()
    }

    /// Runs `f` with a pooled connection on the blocking thread pool. The closure's own error
    /// type comes back as it is; failing to get a connection or to run the task becomes that
    /// error through `From<DbError>`.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let (pool, metrics) = (self.pool.clone(), self.metrics.clone());
        let span = tracing::Span::current();
        web::block(move || {
            let _entered = span.enter();
            let mut conn = checkout(&pool, &metrics)?;
            f(&mut conn)
        })
        .await
        .map_err(|e| DbError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }

    /// Runs a heavy task once one of the heavy slots is free: it waits (without a connection) up
    /// to the configured time, then gives up with [`DbError::Busy`]. The task takes its own
    /// connections through the [`Fanout`].
    pub async fn run_heavy<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&Fanout) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let waited = std::time::Instant::now();
        let permit =
            actix_web::rt::time::timeout(self.heavy_wait, self.heavy.clone().acquire_owned())
                .await
                .ok()
                .and_then(Result::ok)
                .ok_or_else(|| {
                    self.metrics.heavy_busy();
                    DbError::Busy(format!(
                        "every slot for heavy reports stayed taken for {} s; try again shortly",
                        self.heavy_wait.as_secs()
                    ))
                })?;
        self.metrics.heavy_waited(waited.elapsed());
        let fanout = self.fanout.clone();
        let span = tracing::Span::current();
        web::block(move || {
            let _entered = span.enter();
            let _permit = permit;
            f(&fanout)
        })
        .await
        .map_err(|e| DbError::Internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }
}

/// Takes a connection outside a request (CLI commands, start-up).
pub fn get_conn(pool: &DbPool) -> anyhow::Result<PooledConn> {
    Ok(pool.get()?)
}
