//! Persisted commune summaries (see the migration): derived data, read back only when the
//! counters they were computed under are still current.

use chrono::NaiveDate;
use diesel::prelude::*;

use diesel::connection::SimpleConnection;

use crate::db::schema::commune_summaries;
use crate::db::{DbConnection, WriteLock, write_tx};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = commune_summaries)]
pub struct SummaryRow {
    pub unit_code: String,
    pub as_of: NaiveDate,
    pub catalogue_rev: i64,
    pub reference_rev: i64,
    pub unit_rev: i64,
    /// The summary as JSON.
    pub summary: String,
}

/// The stored summaries of `units` computed for `as_of`.
pub fn load(
    conn: &mut DbConnection,
    units: &[&str],
    as_of: NaiveDate,
) -> QueryResult<Vec<SummaryRow>> {
    let mut out = Vec::with_capacity(units.len());
    for chunk in units.chunks(super::INSERT_CHUNK) {
        out.extend(
            commune_summaries::table
                .filter(commune_summaries::unit_code.eq_any(chunk))
                .filter(commune_summaries::as_of.eq(as_of))
                .select(SummaryRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Stores `rows` in a transaction of their own, unless the database is busy with another writer:
/// on SQLite a report waits at most a quarter of a second for the one writer (a bulk load can
/// hold it for a minute; another province of the same report holds it for milliseconds), and
/// past that the summaries are simply not stored this time.
pub fn store_if_free(conn: &mut DbConnection, rows: &[SummaryRow]) -> QueryResult<()> {
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    if sqlite {
        conn.batch_execute("PRAGMA busy_timeout = 250")?;
    }
    let stored = write_tx(conn, WriteLock::Summaries, |conn| store(conn, rows));
    if sqlite {
        conn.batch_execute("PRAGMA busy_timeout = 10000")?;
    }
    stored
}

/// Replaces the stored summaries of the rows' communes (call inside a transaction).
fn store(conn: &mut DbConnection, rows: &[SummaryRow]) -> QueryResult<()> {
    for chunk in rows.chunks(super::INSERT_CHUNK) {
        let codes: Vec<&str> = chunk.iter().map(|r| r.unit_code.as_str()).collect();
        diesel::delete(commune_summaries::table.filter(commune_summaries::unit_code.eq_any(codes)))
            .execute(conn)?;
        crate::insert_rows!(conn, commune_summaries::table, chunk)?;
    }
    Ok(())
}
