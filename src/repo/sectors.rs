//! Sectors (lĩnh vực).

use std::collections::HashMap;

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{sector_places, sectors};
use crate::domain::obligation::PostingPlace;
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

/// Where the procedures of a sector are posted when their agency text says nothing.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sector_places)]
pub struct SectorPlaceRow {
    pub sector_name: String,
    pub place: String,
    pub reason: String,
    pub updated_by: String,
    pub updated_at: chrono::NaiveDateTime,
}

/// The sector table, by sector name.
pub fn places(conn: &mut DbConnection) -> QueryResult<Vec<SectorPlaceRow>> {
    sector_places::table
        .select(SectorPlaceRow::as_select())
        .order(sector_places::sector_name.asc())
        .load(conn)
}

/// The sector table's place of each sector the catalogue has, by sector code.
pub fn place_by_code(conn: &mut DbConnection) -> QueryResult<HashMap<String, PostingPlace>> {
    let rows: Vec<(String, String)> = sectors::table
        .inner_join(sector_places::table.on(sector_places::sector_name.eq(sectors::name)))
        .select((sectors::code, sector_places::place))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(code, place)| Some((code, PostingPlace::parse(&place)?)))
        .collect())
}

/// One sector's row of the table, if it has one.
pub fn place_of(conn: &mut DbConnection, sector_name: &str) -> QueryResult<Option<SectorPlaceRow>> {
    sector_places::table
        .find(sector_name)
        .select(SectorPlaceRow::as_select())
        .first(conn)
        .optional()
}

/// Sets a sector's row (inserted or replaced).
pub fn save_place(conn: &mut DbConnection, row: &SectorPlaceRow) -> QueryResult<()> {
    let updated = diesel::update(sector_places::table.find(&row.sector_name))
        .set((
            sector_places::place.eq(&row.place),
            sector_places::reason.eq(&row.reason),
            sector_places::updated_by.eq(&row.updated_by),
            sector_places::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(sector_places::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

/// Fills the empty table with `rows` (start-up seeding).
pub fn insert_places(conn: &mut DbConnection, rows: &[SectorPlaceRow]) -> QueryResult<usize> {
    let mut n = 0;
    for chunk in rows.chunks(super::INSERT_CHUNK) {
        n += crate::insert_rows!(conn, sector_places::table, chunk.to_vec())?;
    }
    Ok(n)
}
