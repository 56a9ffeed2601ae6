//! Sectors (lĩnh vực).

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::sectors;
use crate::domain::text;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sectors)]
#[diesel(treat_none_as_default_value = false)]
pub struct SectorRow {
    pub code: String,
    pub name: String,
    pub name_search: String,
    pub created_at: chrono::NaiveDateTime,
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<SectorRow>> {
    sectors::table
        .select(SectorRow::as_select())
        .order(sectors::code.asc())
        .load(conn)
}

pub fn get(conn: &mut DbConnection, code: &str) -> QueryResult<Option<SectorRow>> {
    sectors::table
        .find(code)
        .select(SectorRow::as_select())
        .first(conn)
        .optional()
}

pub fn by_name(conn: &mut DbConnection, name: &str) -> QueryResult<Option<SectorRow>> {
    sectors::table
        .filter(sectors::name.eq(name))
        .select(SectorRow::as_select())
        .first(conn)
        .optional()
}

/// A code for a new sector: the slug of its name, made unique against `taken`.
pub fn new_code(name: &str, taken: &dyn Fn(&str) -> bool) -> String {
    let base = match text::slug(name) {
        s if s.is_empty() => "linh-vuc".to_owned(),
        s => s.chars().take(60).collect(),
    };
    let mut code = base.clone();
    let mut n = 2;
    while taken(&code) {
        code = format!("{base}-{n}");
        n += 1;
    }
    code
}

pub fn insert(conn: &mut DbConnection, rows: &[SectorRow]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in rows.chunks(super::INSERT_CHUNK) {
        n += crate::insert_rows!(conn, sectors::table, chunk.to_vec())?;
    }
    Ok(n)
}
