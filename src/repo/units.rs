//! Administrative units.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::units;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = units)]
#[diesel(treat_none_as_default_value = false)]
pub struct UnitRow {
    pub code: String,
    pub name: String,
    pub name_search: String,
    pub division_type: String,
    pub level: String,
    pub parent_code: Option<String>,
    pub valid_from: chrono::NaiveDate,
    pub valid_to: Option<chrono::NaiveDate>,
}

#[derive(Debug, Default)]
pub struct UnitFilter {
    pub level: Option<String>,
    pub parent: Option<String>,
    /// Folded search text: lower case, no diacritics; only letters, digits and spaces.
    pub q: Option<String>,
    pub after: Option<String>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConnection, f: &UnitFilter) -> QueryResult<Vec<UnitRow>> {
    let mut query = units::table
        .select(UnitRow::as_select())
        .order(units::code.asc())
        .limit(f.limit)
        .into_boxed();
    if let Some(level) = &f.level {
        query = query.filter(units::level.eq(level.clone()));
    }
    if let Some(parent) = &f.parent {
        query = query.filter(units::parent_code.eq(parent.clone()));
    }
    if let Some(q) = &f.q {
        query = query.filter(units::name_search.like(format!("%{q}%")));
    }
    if let Some(after) = &f.after {
        query = query.filter(units::code.gt(after.clone()));
    }
    query.load(conn)
}

pub fn get(conn: &mut DbConnection, code: &str) -> QueryResult<Option<UnitRow>> {
    units::table
        .find(code)
        .select(UnitRow::as_select())
        .first(conn)
        .optional()
}

pub fn count_children(conn: &mut DbConnection, code: &str) -> QueryResult<i64> {
    units::table
        .filter(units::parent_code.eq(code))
        .count()
        .get_result(conn)
}

pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    units::table.count().get_result(conn)
}

pub fn is_province(conn: &mut DbConnection, code: &str) -> QueryResult<bool> {
    let n: i64 = units::table
        .filter(units::code.eq(code))
        .filter(units::level.eq("province"))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Inserts new units and updates changed ones, by code; returns (inserted, updated). Rows must
/// come provinces first, so that parents exist.
pub fn upsert(conn: &mut DbConnection, rows: &[UnitRow]) -> QueryResult<(usize, usize)> {
    let existing: std::collections::HashMap<String, UnitRow> = units::table
        .select(UnitRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|u| (u.code.clone(), u))
        .collect();
    let (mut inserted, mut updated) = (0, 0);
    let mut fresh = Vec::new();
    for row in rows {
        match existing.get(&row.code) {
            None => fresh.push(row),
            Some(old) if same(old, row) => {}
            Some(_) => {
                diesel::update(units::table.find(&row.code))
                    .set((
                        units::name.eq(&row.name),
                        units::name_search.eq(&row.name_search),
                        units::division_type.eq(&row.division_type),
                        units::level.eq(&row.level),
                        units::parent_code.eq(&row.parent_code),
                        units::valid_from.eq(row.valid_from),
                        units::valid_to.eq(row.valid_to),
                    ))
                    .execute(conn)?;
                updated += 1;
            }
        }
    }
    for chunk in fresh.chunks(super::INSERT_CHUNK) {
        let chunk: Vec<&UnitRow> = chunk.to_vec();
        inserted += crate::insert_rows!(conn, units::table, chunk)?;
    }
    Ok((inserted, updated))
}

fn same(a: &UnitRow, b: &UnitRow) -> bool {
    a.name == b.name
        && a.division_type == b.division_type
        && a.level == b.level
        && a.parent_code == b.parent_code
        && a.valid_from == b.valid_from
        && a.valid_to == b.valid_to
}

/// The communes of a province (of the country when `None`), by code.
pub fn communes_of(conn: &mut DbConnection, province: Option<&str>) -> QueryResult<Vec<UnitRow>> {
    let mut query = units::table
        .filter(units::level.eq("commune"))
        .order(units::code.asc())
        .select(UnitRow::as_select())
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(units::parent_code.eq(p.to_owned()));
    }
    query.load(conn)
}
