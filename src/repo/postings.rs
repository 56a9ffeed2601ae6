//! Postings, exemptions, province settings and holidays: what the gap reports read.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{
    exemptions, holidays, postings, province_posting_places, province_settings, units,
};
use crate::domain::obligation::{PlacesPeriod, PostingPlace};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = postings)]
#[diesel(treat_none_as_default_value = false)]
pub struct PostingRow {
    pub id: String,
    pub unit_code: String,
    pub procedure_code: String,
    pub channel: String,
    pub decision_number: String,
    pub decision_number_norm: String,
    pub posted_on: NaiveDate,
    pub removed_on: Option<NaiveDate>,
    pub evidence_url: Option<String>,
    pub photo_ref: Option<String>,
    pub note: Option<String>,
    pub recorded_by: String,
    pub recorded_at: chrono::NaiveDateTime,
}

/// Postings of one commune on `date` (posted on or before, not yet removed).
pub fn current_for_unit(
    conn: &mut DbConnection,
    unit: &str,
    date: NaiveDate,
) -> QueryResult<Vec<PostingRow>> {
    postings::table
        .filter(postings::unit_code.eq(unit))
        .filter(postings::posted_on.le(date))
        .filter(
            postings::removed_on
                .is_null()
                .or(postings::removed_on.gt(date)),
        )
        .order((postings::procedure_code.asc(), postings::channel.asc()))
        .select(PostingRow::as_select())
        .load(conn)
}

/// What a report needs of a posting.
#[derive(Debug, Clone, Queryable)]
pub struct PostingFactRow {
    pub unit_code: String,
    pub procedure_code: String,
    pub channel: String,
    /// The decision as posted, and its matching key.
    pub decision_number: String,
    pub decision_number_norm: String,
    pub posted_on: NaiveDate,
}

/// Postings of every commune of a province on `date` (or of every commune when `province` is
/// `None`), ordered by commune: one query for a whole report, of the columns a report reads.
pub fn current_facts_for_province(
    conn: &mut DbConnection,
    province: Option<&str>,
    date: NaiveDate,
) -> QueryResult<Vec<PostingFactRow>> {
    let mut query = postings::table
        .inner_join(units::table.on(units::code.eq(postings::unit_code)))
        .filter(postings::posted_on.le(date))
        .filter(
            postings::removed_on
                .is_null()
                .or(postings::removed_on.gt(date)),
        )
        .order(postings::unit_code.asc())
        .select((
            postings::unit_code,
            postings::procedure_code,
            postings::channel,
            postings::decision_number,
            postings::decision_number_norm,
            postings::posted_on,
        ))
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(units::parent_code.eq(p.to_owned()));
    }
    query.load(conn)
}

/// What a summary needs of a posting, for millions of rows: the date comes as `YYYY-MM-DD` text
/// (parsed by the caller: far cheaper than a date type here).
#[derive(Debug, Clone, Queryable)]
pub struct SummaryFactRow {
    pub unit_code: String,
    pub procedure_code: String,
    pub channel: String,
    pub decision_number_norm: String,
    pub posted_on: String,
}

/// The postings up on `date` of the given communes, ordered by commune: the columns a summary
/// reads, for millions of rows. The communes are named (not joined through their province) so
/// that both backends read them through the commune index.
pub fn summary_facts(
    conn: &mut DbConnection,
    communes: &[&str],
    date: NaiveDate,
) -> QueryResult<Vec<SummaryFactRow>> {
    use diesel::dsl::sql;
    use diesel::sql_types::Text;
    let posted_on = match conn {
        DbConnection::Pg(_) => "postings.posted_on::text",
        DbConnection::Sqlite(_) => "postings.posted_on",
    };
    let mut out = Vec::new();
    for chunk in communes.chunks(super::INSERT_CHUNK) {
        let rows: Vec<SummaryFactRow> = postings::table
            .filter(postings::unit_code.eq_any(chunk))
            .filter(postings::posted_on.le(date))
            .filter(
                postings::removed_on
                    .is_null()
                    .or(postings::removed_on.gt(date)),
            )
            .order(postings::unit_code.asc())
            .select((
                postings::unit_code,
                postings::procedure_code,
                postings::channel,
                postings::decision_number_norm,
                sql::<Text>(posted_on),
            ))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The open postings of a commune (removed_on unset), whatever their posted_on.
pub fn open_for_unit(conn: &mut DbConnection, unit: &str) -> QueryResult<Vec<PostingRow>> {
    postings::table
        .filter(postings::unit_code.eq(unit))
        .filter(postings::removed_on.is_null())
        .order((postings::procedure_code.asc(), postings::channel.asc()))
        .select(PostingRow::as_select())
        .load(conn)
}

/// The taken-down postings of a commune's procedures `codes` that ended after `after`, leaving
/// out voided ones (ended the day they started), which nothing can cut further.
pub fn closed_ending_after(
    conn: &mut DbConnection,
    unit: &str,
    codes: &[&str],
    after: NaiveDate,
) -> QueryResult<Vec<PostingRow>> {
    let mut out = Vec::new();
    for chunk in codes.chunks(super::INSERT_CHUNK) {
        out.extend(
            postings::table
                .filter(postings::unit_code.eq(unit))
                .filter(postings::removed_on.gt(after))
                .filter(postings::removed_on.gt(postings::posted_on.nullable()))
                .filter(postings::procedure_code.eq_any(chunk))
                .select(PostingRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

pub fn insert(conn: &mut DbConnection, rows: &[PostingRow]) -> QueryResult<usize> {
    let mut n = 0;
    // A posting row binds 13 parameters.
    for chunk in rows.chunks(super::INSERT_CHUNK) {
        n += crate::insert_rows!(conn, postings::table, chunk.to_vec())?;
    }
    Ok(n)
}

/// Ends a posting on `on`.
pub fn remove(conn: &mut DbConnection, id: &str, on: NaiveDate) -> QueryResult<usize> {
    diesel::update(postings::table.find(id))
        .set(postings::removed_on.eq(Some(on)))
        .execute(conn)
}

/// Ends several postings on `on`.
pub fn remove_many(conn: &mut DbConnection, ids: &[String], on: NaiveDate) -> QueryResult<usize> {
    diesel::update(postings::table.filter(postings::id.eq_any(ids)))
        .set(postings::removed_on.eq(Some(on)))
        .execute(conn)
}

/// Replaces the evidence of a posting (same version, same date: not a new posting).
pub fn update_evidence(conn: &mut DbConnection, row: &PostingRow) -> QueryResult<usize> {
    diesel::update(postings::table.find(&row.id))
        .set((
            postings::evidence_url.eq(&row.evidence_url),
            postings::photo_ref.eq(&row.photo_ref),
            postings::note.eq(&row.note),
            postings::recorded_by.eq(&row.recorded_by),
            postings::recorded_at.eq(row.recorded_at),
        ))
        .execute(conn)
}

pub fn count_for_unit(conn: &mut DbConnection, unit: &str) -> QueryResult<i64> {
    postings::table
        .filter(postings::unit_code.eq(unit))
        .count()
        .get_result(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = exemptions)]
#[diesel(treat_none_as_default_value = false)]
pub struct ExemptionRow {
    pub id: String,
    pub unit_code: String,
    pub procedure_code: String,
    pub reason: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
}

pub fn exemptions_for_unit(conn: &mut DbConnection, unit: &str) -> QueryResult<Vec<ExemptionRow>> {
    exemptions::table
        .filter(exemptions::unit_code.eq(unit))
        .order((
            exemptions::procedure_code.asc(),
            exemptions::valid_from.asc(),
        ))
        .select(ExemptionRow::as_select())
        .load(conn)
}

/// Exemptions of every commune of a province (or of the country).
pub fn exemptions_for_province(
    conn: &mut DbConnection,
    province: Option<&str>,
) -> QueryResult<Vec<ExemptionRow>> {
    let mut query = exemptions::table
        .inner_join(units::table.on(units::code.eq(exemptions::unit_code)))
        .select(ExemptionRow::as_select())
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(units::parent_code.eq(p.to_owned()));
    }
    query.load(conn)
}

pub fn get_exemption(
    conn: &mut DbConnection,
    unit: &str,
    id: &str,
) -> QueryResult<Option<ExemptionRow>> {
    exemptions::table
        .filter(exemptions::id.eq(id))
        .filter(exemptions::unit_code.eq(unit))
        .select(ExemptionRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_exemption(conn: &mut DbConnection, row: &ExemptionRow) -> QueryResult<usize> {
    diesel::insert_into(exemptions::table)
        .values(row)
        .execute(conn)
}

pub fn delete_exemption(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(exemptions::table.find(id)).execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = province_settings)]
pub struct SettingsRow {
    pub province_code: String,
    pub deadline_working_days: i32,
    pub required_channels: String,
    pub updated_by: String,
    pub updated_at: chrono::NaiveDateTime,
}

pub fn settings(conn: &mut DbConnection, province: &str) -> QueryResult<Option<SettingsRow>> {
    province_settings::table
        .find(province)
        .select(SettingsRow::as_select())
        .first(conn)
        .optional()
}

pub fn all_settings(conn: &mut DbConnection) -> QueryResult<Vec<SettingsRow>> {
    province_settings::table
        .select(SettingsRow::as_select())
        .load(conn)
}

pub fn save_settings(conn: &mut DbConnection, row: &SettingsRow) -> QueryResult<()> {
    let updated = diesel::update(province_settings::table.find(&row.province_code))
        .set((
            province_settings::deadline_working_days.eq(row.deadline_working_days),
            province_settings::required_channels.eq(&row.required_channels),
            province_settings::updated_by.eq(&row.updated_by),
            province_settings::updated_at.eq(row.updated_at),
        ))
        .execute(conn)?;
    if updated == 0 {
        diesel::insert_into(province_settings::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = holidays)]
pub struct HolidayRow {
    pub day: NaiveDate,
    pub name: String,
}

pub fn holidays(conn: &mut DbConnection) -> QueryResult<Vec<HolidayRow>> {
    holidays::table
        .order(holidays::day.asc())
        .select(HolidayRow::as_select())
        .load(conn)
}

/// Replaces the whole holiday table with `rows`.
pub fn replace_holidays(conn: &mut DbConnection, rows: &[HolidayRow]) -> QueryResult<()> {
    diesel::delete(holidays::table).execute(conn)?;
    for chunk in rows.chunks(super::INSERT_CHUNK) {
        crate::insert_rows!(conn, holidays::table, chunk.to_vec())?;
    }
    Ok(())
}

pub fn count_holidays(conn: &mut DbConnection) -> QueryResult<i64> {
    holidays::table.count().get_result(conn)
}

/// One period of a province's posting places (`places` comma-separated).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = province_posting_places)]
pub struct PlacesRow {
    pub province_code: String,
    pub valid_from: NaiveDate,
    pub places: String,
    pub updated_by: String,
    pub updated_at: chrono::NaiveDateTime,
}

impl PlacesRow {
    pub fn period(&self) -> PlacesPeriod {
        PlacesPeriod {
            from: self.valid_from,
            places: self
                .places
                .split(',')
                .filter_map(PostingPlace::parse)
                .collect(),
        }
    }
}

/// The posting-place periods of `province` (of every province when `None`), by date.
pub fn posting_places(
    conn: &mut DbConnection,
    province: Option<&str>,
) -> QueryResult<Vec<PlacesRow>> {
    let mut query = province_posting_places::table
        .select(PlacesRow::as_select())
        .order((
            province_posting_places::province_code.asc(),
            province_posting_places::valid_from.asc(),
        ))
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(province_posting_places::province_code.eq(p.to_owned()));
    }
    query.load(conn)
}

/// Replaces a province's periods with `rows`.
pub fn replace_posting_places(
    conn: &mut DbConnection,
    province: &str,
    rows: &[PlacesRow],
) -> QueryResult<()> {
    diesel::delete(
        province_posting_places::table.filter(province_posting_places::province_code.eq(province)),
    )
    .execute(conn)?;
    if !rows.is_empty() {
        crate::insert_rows!(conn, province_posting_places::table, rows.to_vec())?;
    }
    Ok(())
}
