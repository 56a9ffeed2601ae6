//! Revision counters: what a cached report was computed under (see the migration).

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::revisions;

/// The catalogue's counter: decisions, imports, sectors.
pub const CATALOGUE: &str = "catalogue";
/// Reference data: units, holidays, province settings.
pub const REFERENCE: &str = "reference";

/// Adds one to `key`'s counter (creating it at 1).
pub fn bump(conn: &mut DbConnection, key: &str) -> QueryResult<()> {
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
    crate::db::counters::note_bumped(key);
    Ok(())
}

/// The counters of `keys` (a key never bumped is absent: revision 0).
pub fn get(conn: &mut DbConnection, keys: &[&str]) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = revisions::table
        .filter(revisions::key.eq_any(keys))
        .select((revisions::key, revisions::revision))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

/// Every counter.
pub fn all(conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = revisions::table
        .select((revisions::key, revisions::revision))
        .load(conn)?;
    Ok(rows.into_iter().collect())
}
