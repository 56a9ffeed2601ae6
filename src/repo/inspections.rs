//! Inspection records: the snapshots of communes of today, and the archive records of communes
//! retired in 2025. Rows are only ever inserted (the database refuses UPDATE and DELETE).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{archive_inspections, inspections};

#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = inspections)]
#[diesel(treat_none_as_default_value = false)]
pub struct InspectionRow {
    pub id: String,
    pub unit_code: String,
    pub province_code: String,
    pub inspected_on: NaiveDate,
    /// JSON array of the team members' names.
    pub team: String,
    pub notes: Option<String>,
    pub finding_count: i32,
    pub completeness: f64,
    /// The commune report as of `inspected_on`, as JSON.
    pub report: String,
    pub content_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

/// An inspection without its frozen report, for lists.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = inspections)]
pub struct InspectionHead {
    pub id: String,
    pub unit_code: String,
    pub province_code: String,
    pub inspected_on: NaiveDate,
    pub team: String,
    pub notes: Option<String>,
    pub finding_count: i32,
    pub completeness: f64,
    pub content_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

pub fn insert(conn: &mut DbConnection, row: &InspectionRow) -> QueryResult<usize> {
    diesel::insert_into(inspections::table)
        .values(row)
        .execute(conn)
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<InspectionRow>> {
    inspections::table
        .find(id)
        .select(InspectionRow::as_select())
        .first(conn)
        .optional()
}

/// An inspection of a retired commune, recorded from a paper archive.
#[derive(Debug, Clone, Insertable, Queryable, Selectable)]
#[diesel(table_name = archive_inspections)]
#[diesel(treat_none_as_default_value = false)]
pub struct ArchiveRow {
    pub id: String,
    pub unit_code: String,
    /// The last day the unit was in force (its code may name another unit since).
    pub unit_valid_to: NaiveDate,
    pub unit_name: String,
    pub district_code: Option<String>,
    pub district_name: Option<String>,
    pub old_province_code: String,
    pub old_province_name: String,
    /// The province of today the unit's successors belong to.
    pub province_code: String,
    pub inspected_on: NaiveDate,
    /// JSON array of the team members' names.
    pub team: String,
    pub notes: Option<String>,
    /// JSON array of the findings, each as written in the archive.
    pub findings: String,
    pub finding_count: i32,
    pub content_hash: String,
    pub created_by: String,
    pub created_at: NaiveDateTime,
}

pub fn insert_archive(conn: &mut DbConnection, row: &ArchiveRow) -> QueryResult<usize> {
    diesel::insert_into(archive_inspections::table)
        .values(row)
        .execute(conn)
}

pub fn get_archive(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ArchiveRow>> {
    archive_inspections::table
        .find(id)
        .select(ArchiveRow::as_select())
        .first(conn)
        .optional()
}

/// Which inspections to list, latest inspection day first.
#[derive(Debug, Default, Clone)]
pub struct InspectionFilter {
    /// Only this commune of today's inspections.
    pub commune: Option<String>,
    /// With `commune`: also the archive records of these retired communes (its predecessors).
    pub predecessors: Vec<String>,
    pub province: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Keyset cursor: (inspected_on, id) of the last row of the previous page.
    pub after: Option<(NaiveDate, String)>,
    pub limit: i64,
}

/// The filters both kinds of record share: province, dates and the keyset cursor, on `$table`
/// (`inspections` or `archive_inspections`, which have the same columns for them).
macro_rules! shared_filters {
    ($query:ident, $table:ident, $f:expr) => {{
        let f: &InspectionFilter = $f;
        if let Some(province) = &f.province {
            $query = $query.filter($table::province_code.eq(province.clone()));
        }
        if let Some(from) = f.from {
            $query = $query.filter($table::inspected_on.ge(from));
        }
        if let Some(to) = f.to {
            $query = $query.filter($table::inspected_on.le(to));
        }
        if let Some((date, id)) = &f.after {
            $query = $query.filter(
                $table::inspected_on.lt(*date).or($table::inspected_on
                    .eq(*date)
                    .and($table::id.lt(id.clone()))),
            );
        }
        $query
            .order(($table::inspected_on.desc(), $table::id.desc()))
            .limit(f.limit)
    }};
}

pub fn list(conn: &mut DbConnection, f: &InspectionFilter) -> QueryResult<Vec<InspectionHead>> {
    let mut query = inspections::table
        .select(InspectionHead::as_select())
        .into_boxed();
    if let Some(commune) = &f.commune {
        query = query.filter(inspections::unit_code.eq(commune.clone()));
    }
    shared_filters!(query, inspections, f).load(conn)
}

/// Archive records under the same filter: with `commune`, those of its `predecessors`; without,
/// those filed with `province` (or all).
pub fn list_archive(conn: &mut DbConnection, f: &InspectionFilter) -> QueryResult<Vec<ArchiveRow>> {
    if f.commune.is_some() && f.predecessors.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = archive_inspections::table
        .select(ArchiveRow::as_select())
        .into_boxed();
    if f.commune.is_some() {
        query = query.filter(archive_inspections::unit_code.eq_any(f.predecessors.clone()));
    }
    shared_filters!(query, archive_inspections, f).load(conn)
}
