//! Revision counters: what a cached report was computed under (see the migration).

use std::collections::HashMap;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::revisions;

/// The catalogue's counter: decisions, imports, sectors, posting places.
pub const CATALOGUE: &str = "catalogue";
/// Reference data: units, holidays, province settings.
pub const REFERENCE: &str = "reference";

/// Counters a write bumped, with the values it committed.
pub type Bumped = Vec<(String, i64)>;

#[derive(Queryable)]
struct Revision {
    key: String,
    revision: i64,
}

/// Adds one to each counter of `keys` (creating it at 1) and returns their new values, as this
/// transaction will commit them.
pub fn bump_all(conn: &mut DbConnection, keys: &[&str]) -> QueryResult<Bumped> {
    for key in keys {
        bump(conn, key)?;
    }
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(super::INSERT_CHUNK) {
        out.extend(get(conn, chunk)?);
    }
    Ok(out)
}

/// Adds one to `key`'s counter (creating it at 1).
fn bump(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
    let row = (revisions::key.eq(key), revisions::revision.eq(1i64));
    match conn {
        DbConnection::Pg(c) => diesel::insert_into(revisions::table)
            .values(row)
            .on_conflict(revisions::key)
            .do_update()
            .set(revisions::revision.eq(revisions::revision + 1))
            .execute(c),
        DbConnection::Sqlite(c) => diesel::insert_into(revisions::table)
            .values(row)
            .on_conflict(revisions::key)
            .do_update()
            .set(revisions::revision.eq(revisions::revision + 1))
            .execute(c),
    }?;
    Ok(())
}

fn into_map(rows: Vec<Revision>) -> HashMap<String, i64> {
    rows.into_iter().map(|r| (r.key, r.revision)).collect()
}

/// The counters of `keys` (a key never bumped is absent: revision 0).
pub fn get(conn: &mut DbConnection, keys: &[&str]) -> QueryResult<HashMap<String, i64>> {
    let rows = revisions::table
        .filter(revisions::key.eq_any(keys))
        .select((revisions::key, revisions::revision))
        .load(conn)?;
    Ok(into_map(rows))
}

/// Every counter.
pub fn all(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    let rows = revisions::table
        .select((revisions::key, revisions::revision))
        .load(conn)?;
    Ok(into_map(rows))
}

/// A connection of its own for the SQLite watcher, waiting up to 10 s for a busy database.
pub fn open_sqlite_watcher(path: &str) -> ConnectionResult<DbConnection> {
    let mut conn = SqliteConnection::establish(path)?;
    conn.batch_execute("PRAGMA busy_timeout = 10000")
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    Ok(DbConnection::Sqlite(conn))
}

#[derive(QueryableByName)]
struct DataVersion {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    data_version: i64,
}

/// SQLite's `data_version`: changes whenever another connection commits.
pub fn sqlite_data_version(conn: &mut DbConnection) -> QueryResult<i64> {
    match conn {
        DbConnection::Sqlite(c) => Ok(diesel::sql_query("PRAGMA data_version")
            .get_result::<DataVersion>(c)?
            .data_version),
        DbConnection::Pg(_) => Err(diesel::result::Error::QueryBuilderError(
            "data_version is SQLite's".into(),
        )),
    }
}

/// A PostgreSQL connection that listens on `channel` (where a trigger announces every counter
/// change at commit, as `key revision`).
pub fn open_pg_listener(url: &str, channel: &str) -> ConnectionResult<DbConnection> {
    let mut conn = PgConnection::establish(url)?;
    conn.batch_execute(&format!("LISTEN {channel}"))
        .map_err(|e| ConnectionError::BadConnection(e.to_string()))?;
    Ok(DbConnection::Pg(conn))
}

/// The counter changes announced since the last call (PostgreSQL).
pub fn notified(conn: &mut DbConnection) -> QueryResult<Bumped> {
    let DbConnection::Pg(pg) = conn else {
        return Err(diesel::result::Error::QueryBuilderError(
            "notifications are PostgreSQL's".into(),
        ));
    };
    let mut rows = Vec::new();
    for notification in pg.notifications_iter() {
        let notification = notification?;
        if let Some((key, revision)) = notification.payload.rsplit_once(' ')
            && let Ok(revision) = revision.parse::<i64>()
        {
            rows.push((key.to_owned(), revision));
        }
    }
    Ok(rows)
}
