//! Diesel queries. Functions take a connection and return `QueryResult`; rows map to domain
//! types here, and nothing above this layer writes SQL.

pub mod audit;
pub mod bulk;
pub mod catalogue;
pub mod inspections;
pub mod lineage;
pub mod postings;
pub mod revisions;
pub mod sectors;
pub mod summaries;
pub mod units;
pub mod webhooks;

/// The database answers a trivial query.
pub fn ping(conn: &mut crate::db::DbConnection) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SELECT 1")
}

/// Rows per multi-row INSERT: below SQLite's bound-parameter limit for the widest table.
pub const INSERT_CHUNK: usize = 500;

/// Current time, UTC, to the microsecond (what PostgreSQL keeps), so that a row answered from
/// memory reads the same as when it is read back.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::SubsecRound;
    chrono::Utc::now().naive_utc().trunc_subsecs(6)
}
