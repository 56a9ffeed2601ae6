//! The statements of a bulk load of postings: binary COPY on PostgreSQL, a JSON array unpacked by
//! SQLite itself, and the index and constraint rebuild around a load larger than the table.

use chrono::NaiveDateTime;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{postings, units};

/// The postings table's secondary indexes, exactly as the migrations create them.
const DROP_INDEXES: &str = "DROP INDEX postings_current_idx; DROP INDEX postings_unit_idx;";
const CREATE_INDEXES: &str = "CREATE UNIQUE INDEX postings_current_idx ON postings \
     (unit_code, procedure_code, channel) WHERE removed_on IS NULL; \
     CREATE INDEX postings_unit_idx ON postings (unit_code, procedure_code, removed_on, posted_on);";

/// Inserts the rows of one JSON array of arrays (SQLite), the way diesel would store them: dates
/// as `YYYY-MM-DD` text.
const SQLITE_INSERT_JSON: &str = "INSERT INTO postings (id, unit_code, procedure_code, channel, \
     decision_number, decision_number_norm, posted_on, removed_on, evidence_url, photo_ref, note, \
     recorded_by, recorded_at) \
     SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, NULL, \
     value->>7, NULL, value->>8, ?, ? FROM json_each(?)";

/// Rows in the postings table.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    postings::table.count().get_result(conn)
}

/// SQLite settings for a load (`load`) or back to normal. During a load a large page cache keeps
/// the indexes' pages in memory and index builds may sort on a second thread; with `rebuild`,
/// foreign keys are off (SQLite ignores that switch inside a transaction, so it is set before),
/// and the communes are checked as a set before committing ([`unknown_units`]).
pub fn sqlite_load_settings(conn: &mut DbConnection, load: bool, rebuild: bool) -> QueryResult<()> {
    let sql = match (load, rebuild) {
        (true, false) => "PRAGMA cache_size = -262144; PRAGMA threads = 1",
        (true, true) => {
            "PRAGMA cache_size = -262144; PRAGMA threads = 1; PRAGMA foreign_keys = OFF"
        }
        (false, _) => "PRAGMA cache_size = -8192; PRAGMA threads = 0; PRAGMA foreign_keys = ON",
    };
    conn.batch_execute(sql)
}

/// Drops the secondary indexes (and, on PostgreSQL, the key and the commune reference) before a
/// load larger than the table; inside the load's transaction.
pub fn drop_indexes(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute(DROP_INDEXES)?;
    if let DbConnection::Pg(_) = conn {
        conn.batch_execute(
            "ALTER TABLE postings DROP CONSTRAINT postings_pkey; \
             ALTER TABLE postings DROP CONSTRAINT postings_unit_code_fkey; \
             SET LOCAL maintenance_work_mem = '256MB'",
        )?;
    }
    Ok(())
}

/// Puts back what [`drop_indexes`] took away (the PostgreSQL constraints first).
pub fn restore_indexes(conn: &mut DbConnection) -> QueryResult<()> {
    if let DbConnection::Pg(c) = conn {
        c.batch_execute(
            "ALTER TABLE postings ADD CONSTRAINT postings_pkey PRIMARY KEY (id); \
             ALTER TABLE postings ADD CONSTRAINT postings_unit_code_fkey \
             FOREIGN KEY (unit_code) REFERENCES units (code)",
        )?;
    }
    conn.batch_execute(CREATE_INDEXES)
}

/// How many of `communes` the unit table does not know.
pub fn unknown_units(conn: &mut DbConnection, communes: &[String]) -> QueryResult<usize> {
    let mut known = 0i64;
    for chunk in communes.chunks(super::INSERT_CHUNK) {
        known += units::table
            .filter(units::code.eq_any(chunk))
            .count()
            .get_result::<i64>(conn)?;
    }
    Ok(communes
        .len()
        .saturating_sub(usize::try_from(known).unwrap_or(0)))
}

/// Writes one chunk of binary COPY data (PostgreSQL).
pub fn copy_binary(conn: &mut PgConnection, data: &[u8]) -> QueryResult<usize> {
    diesel::copy_from(postings::table)
        .from_raw_data(postings::table, |out| {
            out.write_all(data)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
        })
        .with_format(diesel::pg::CopyFormat::Binary)
        .execute(conn)
}

/// Writes one chunk given as a JSON array of rows (SQLite).
pub fn insert_json(
    conn: &mut SqliteConnection,
    json: &str,
    recorded_by: &str,
    recorded_at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::sql_query(SQLITE_INSERT_JSON)
        .bind::<diesel::sql_types::Text, _>(recorded_by)
        .bind::<diesel::sql_types::Timestamp, _>(recorded_at)
        .bind::<diesel::sql_types::Text, _>(json)
        .execute(conn)
}

/// Fresh planner statistics after a load (PostgreSQL; SQLite keeps none unless asked).
pub fn analyze(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        DbConnection::Pg(c) => c.batch_execute("ANALYZE postings"),
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// A current posting's commune, procedure, channel, decision number as written, and day posted.
pub type CurrentPosting = (String, String, String, String, chrono::NaiveDate);

/// The current postings (not removed) of `communes`.
pub fn current_of(
    conn: &mut DbConnection,
    communes: &[String],
) -> QueryResult<Vec<CurrentPosting>> {
    let mut out = Vec::new();
    for chunk in communes.chunks(super::INSERT_CHUNK) {
        out.extend(
            postings::table
                .filter(postings::unit_code.eq_any(chunk))
                .filter(postings::removed_on.is_null())
                .select((
                    postings::unit_code,
                    postings::procedure_code,
                    postings::channel,
                    postings::decision_number,
                    postings::posted_on,
                ))
                .load::<CurrentPosting>(conn)?,
        );
    }
    Ok(out)
}
