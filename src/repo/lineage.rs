//! Retired units and the lineage edges from them to the units of today.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{retired_units, unit_lineage};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = retired_units)]
#[diesel(treat_none_as_default_value = false)]
pub struct RetiredUnitRow {
    pub level: String,
    pub code: String,
    pub name: String,
    pub name_search: String,
    pub division_type: String,
    pub district_code: Option<String>,
    pub province_code: Option<String>,
    pub valid_to: chrono::NaiveDate,
    pub source_sha256: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = unit_lineage)]
pub struct EdgeRow {
    pub old_level: String,
    pub old_code: String,
    pub new_code: String,
    pub relation: String,
    pub note: String,
    pub basis: String,
    pub source_line: i32,
    pub source_sha256: String,
}

#[derive(Debug, Default)]
pub struct RetiredFilter {
    pub level: Option<String>,
    /// A province's code (its districts and communes) or a district's (its communes).
    pub parent: Option<String>,
    pub q: Option<String>,
    /// Code to list after (the cursor).
    pub after: Option<String>,
    pub limit: i64,
}

/// Retired units by code (provinces, then districts, then communes: their codes have 2, 3 and 5
/// digits, so code order keeps the levels apart).
pub fn list(conn: &mut DbConnection, f: &RetiredFilter) -> QueryResult<Vec<RetiredUnitRow>> {
    let mut query = retired_units::table
        .select(RetiredUnitRow::as_select())
        .order((retired_units::code.asc(), retired_units::level.asc()))
        .limit(f.limit)
        .into_boxed();
    if let Some(level) = &f.level {
        query = query.filter(retired_units::level.eq(level.clone()));
    }
    if let Some(parent) = &f.parent {
        query = match parent.len() {
            3 => query.filter(retired_units::district_code.eq(parent.clone())),
            _ => query.filter(retired_units::province_code.eq(parent.clone())),
        };
    }
    if let Some(q) = &f.q {
        query = query.filter(retired_units::name_search.like(format!("%{q}%")));
    }
    if let Some(after) = &f.after {
        query = query.filter(retired_units::code.gt(after.clone()));
    }
    query.load(conn)
}

pub fn get(
    conn: &mut DbConnection,
    level: &str,
    code: &str,
) -> QueryResult<Option<RetiredUnitRow>> {
    retired_units::table
        .find((level, code))
        .select(RetiredUnitRow::as_select())
        .first(conn)
        .optional()
}

/// A retired unit by code alone (the code's length gives its level).
pub fn get_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<RetiredUnitRow>> {
    let level = match code.len() {
        2 => "province",
        3 => "district",
        _ => "commune",
    };
    get(conn, level, code)
}

pub fn count(conn: &mut DbConnection, level: &str) -> QueryResult<i64> {
    retired_units::table
        .filter(retired_units::level.eq(level))
        .count()
        .get_result(conn)
}

pub fn count_edges(conn: &mut DbConnection) -> QueryResult<i64> {
    unit_lineage::table.count().get_result(conn)
}

/// The source hashes the stored lineage came from.
pub fn sources(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    unit_lineage::table
        .select(unit_lineage::source_sha256)
        .distinct()
        .load(conn)
}

/// The distinct legal bases the stored edges cite.
pub fn bases(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    unit_lineage::table
        .select(unit_lineage::basis)
        .distinct()
        .load(conn)
}

/// Replaces every retired unit and edge (one transaction is the caller's).
pub fn replace(
    conn: &mut DbConnection,
    units: &[RetiredUnitRow],
    edges: &[EdgeRow],
) -> QueryResult<(usize, usize)> {
    diesel::delete(unit_lineage::table).execute(conn)?;
    diesel::delete(retired_units::table).execute(conn)?;
    let (mut u, mut e) = (0, 0);
    for chunk in units.chunks(super::INSERT_CHUNK) {
        u += crate::insert_rows!(conn, retired_units::table, chunk)?;
    }
    for chunk in edges.chunks(super::INSERT_CHUNK) {
        e += crate::insert_rows!(conn, unit_lineage::table, chunk)?;
    }
    Ok((u, e))
}

/// Edges into a unit of today, by old unit.
pub fn predecessors(conn: &mut DbConnection, new_code: &str) -> QueryResult<Vec<EdgeRow>> {
    unit_lineage::table
        .filter(unit_lineage::new_code.eq(new_code))
        .order((unit_lineage::old_level.asc(), unit_lineage::old_code.asc()))
        .select(EdgeRow::as_select())
        .load(conn)
}

/// Edges out of a retired unit, by new unit.
pub fn successors(
    conn: &mut DbConnection,
    old_level: &str,
    old_code: &str,
) -> QueryResult<Vec<EdgeRow>> {
    unit_lineage::table
        .filter(unit_lineage::old_level.eq(old_level))
        .filter(unit_lineage::old_code.eq(old_code))
        .order(unit_lineage::new_code.asc())
        .select(EdgeRow::as_select())
        .load(conn)
}

/// Retired units by (level, code), for many at once.
pub fn get_many(conn: &mut DbConnection, codes: &[String]) -> QueryResult<Vec<RetiredUnitRow>> {
    retired_units::table
        .filter(retired_units::code.eq_any(codes))
        .select(RetiredUnitRow::as_select())
        .load(conn)
}
