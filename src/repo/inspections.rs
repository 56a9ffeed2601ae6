//! Inspection records. Rows are only ever inserted (the database refuses UPDATE and DELETE).

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::inspections;

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

/// Which inspections to list, latest inspection day first.
#[derive(Debug, Default, Clone)]
pub struct InspectionFilter {
    pub commune: Option<String>,
    pub province: Option<String>,
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    /// Keyset cursor: (inspected_on, id) of the last row of the previous page.
    pub after: Option<(NaiveDate, String)>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConnection, f: &InspectionFilter) -> QueryResult<Vec<InspectionHead>> {
    let mut query = inspections::table
        .select(InspectionHead::as_select())
        .order((inspections::inspected_on.desc(), inspections::id.desc()))
        .limit(f.limit)
        .into_boxed();
    if let Some(commune) = &f.commune {
        query = query.filter(inspections::unit_code.eq(commune.clone()));
    }
    if let Some(province) = &f.province {
        query = query.filter(inspections::province_code.eq(province.clone()));
    }
    if let Some(from) = f.from {
        query = query.filter(inspections::inspected_on.ge(from));
    }
    if let Some(to) = f.to {
        query = query.filter(inspections::inspected_on.le(to));
    }
    if let Some((date, id)) = &f.after {
        query = query.filter(
            inspections::inspected_on
                .lt(*date)
                .or(inspections::inspected_on
                    .eq(*date)
                    .and(inspections::id.lt(id.clone()))),
        );
    }
    query.load(conn)
}
