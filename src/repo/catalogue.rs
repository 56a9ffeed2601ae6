//! Procedures, their versions, and the decisions that announce them.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::{decision_items, decisions, list_items, procedure_versions, procedures};
use crate::domain::catalogue::{
    ExistingVersion, Level, NATIONAL, PlannedItem, PlannedListItem, ProcedureContent, Timelines,
    levels_from_db, levels_to_db,
};
use crate::domain::codes::normalize_decision_number;
use crate::domain::gaps::{CatalogueIndex, CatalogueVersion};
use crate::domain::obligation::{ListAction, ListEntry, Placement, PostingPlace};
use crate::domain::text;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = procedure_versions)]
#[diesel(treat_none_as_default_value = false)]
pub struct VersionRow {
    pub id: String,
    pub procedure_code: String,
    pub scope: String,
    pub decision_id: String,
    pub item_seq: i32,
    pub abolished: bool,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub name: String,
    pub name_search: String,
    pub sector_code: String,
    pub levels: String,
    pub procedure_type: Option<String>,
    pub subjects: Option<String>,
    pub authority: Option<String>,
    pub executing_agency: Option<String>,
    pub steps: Option<String>,
    pub documents: Option<String>,
    pub requirements: Option<String>,
    pub legal_basis: Option<String>,
    pub results: Option<String>,
    pub channels: String,
    pub source_url: Option<String>,
    pub announced_by: Option<String>,
    pub announced_by_norm: Option<String>,
    pub content_hash: String,
    pub created_at: chrono::NaiveDateTime,
    pub posting_place: Option<String>,
    pub posting_rule: Option<String>,
}

/// A stored placement (absent on rows written before posting places existed).
pub fn placement_from_db(place: Option<&str>, rule: Option<&str>) -> Option<Placement> {
    Some(Placement::new(PostingPlace::parse(place?)?, rule?))
}

impl VersionRow {
    /// The version's posting place, as stored.
    pub fn placement(&self) -> Option<Placement> {
        placement_from_db(self.posting_place.as_deref(), self.posting_rule.as_deref())
    }

    /// The stored content. Channels are JSON written by this service; a row that does not parse
    /// is reported rather than shown half-empty.
    pub fn content(&self) -> Result<ProcedureContent, serde_json::Error> {
        Ok(ProcedureContent {
            name: self.name.clone(),
            sector_code: self.sector_code.clone(),
            levels: levels_from_db(&self.levels),
            channels: serde_json::from_str(&self.channels)?,
            documents: self.documents.clone(),
            steps: self.steps.clone(),
            requirements: self.requirements.clone(),
            legal_basis: self.legal_basis.clone(),
            results: self.results.clone(),
            executing_agency: self.executing_agency.clone(),
            procedure_type: self.procedure_type.clone(),
            subjects: self.subjects.clone(),
            authority: self.authority.clone(),
            source_url: self.source_url.clone(),
        })
    }

    fn into_existing(self) -> Result<ExistingVersion, serde_json::Error> {
        Ok(ExistingVersion {
            content: self.content()?,
            placement: self.placement(),
            id: self.id,
            scope: self.scope,
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            abolished: self.abolished,
            announced_by_norm: self.announced_by_norm,
            content_hash: self.content_hash,
        })
    }
}

crate::impl_windowed!(VersionRow, VersionSummary);

/// The columns a procedure list needs.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = procedure_versions)]
#[diesel(treat_none_as_default_value = false)]
pub struct VersionSummary {
    pub id: String,
    pub procedure_code: String,
    pub scope: String,
    pub decision_id: String,
    pub abolished: bool,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub name: String,
    pub name_search: String,
    pub sector_code: String,
    pub levels: String,
    pub announced_by: Option<String>,
    pub content_hash: String,
    pub posting_place: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = decisions)]
#[diesel(treat_none_as_default_value = false)]
pub struct DecisionRow {
    pub id: String,
    pub number: String,
    pub number_norm: String,
    pub issuer: String,
    pub scope: String,
    pub kind: String,
    pub title: Option<String>,
    pub signed_on: NaiveDate,
    pub source: Option<String>,
    pub source_sha256: Option<String>,
    pub created_by: String,
    pub created_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = decision_items)]
#[diesel(treat_none_as_default_value = false)]
pub struct DecisionItemRow {
    pub decision_id: String,
    pub seq: i32,
    pub action: String,
    pub procedure_code: String,
    pub effective_on: NaiveDate,
    pub version_id: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = procedures)]
#[diesel(treat_none_as_default_value = false)]
struct ProcedureRow {
    code: String,
    created_at: chrono::NaiveDateTime,
}

/// The columns the gap engine reads of every version.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = procedure_versions)]
struct CatalogueColumns {
    id: String,
    procedure_code: String,
    scope: String,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    abolished: bool,
    levels: String,
    name: String,
    sector_code: String,
    announced_by: Option<String>,
    announced_by_norm: Option<String>,
    content_hash: String,
    posting_place: Option<String>,
    posting_rule: Option<String>,
}

/// Every catalogue row of national scope and of `province` (of every scope when `None`),
/// compiled for the gap engine, with the provincial lists (of that province, or all).
pub fn load_catalogue(
    conn: &mut DbConnection,
    province: Option<&str>,
) -> QueryResult<CatalogueIndex> {
    let mut query = procedure_versions::table
        .select(CatalogueColumns::as_select())
        .into_boxed();
    if let Some(p) = province {
        query =
            query.filter(procedure_versions::scope.eq_any(vec![NATIONAL.to_owned(), p.to_owned()]));
    }
    let rows: Vec<CatalogueColumns> = query.load(conn)?;
    let known: Vec<String> = match province {
        Some(_) => procedures::table.select(procedures::code).load(conn)?,
        None => Vec::new(),
    };
    let index = CatalogueIndex::new(rows.into_iter().map(|r| {
        CatalogueVersion {
            commune_level: levels_from_db(&r.levels).contains(&Level::Commune),
            // Every row is placed before the service answers (`services::placement`); a row that
            // is not yet is posted nowhere rather than guessed.
            placement: placement_from_db(r.posting_place.as_deref(), r.posting_rule.as_deref())
                .unwrap_or_else(|| Placement::new(PostingPlace::Elsewhere, "unplaced")),
            id: r.id,
            code: r.procedure_code,
            scope: r.scope,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            abolished: r.abolished,
            name: r.name,
            sector_code: r.sector_code,
            announced_by: r.announced_by,
            announced_by_norm: r.announced_by_norm,
            content_hash: r.content_hash,
        }
    }));
    Ok(index
        .with_known_codes(known)
        .with_lists(list_entries(conn, province)?))
}

#[derive(Debug, Clone, Queryable)]
struct ListEntryRow {
    province_code: String,
    procedure_code: String,
    action: String,
    valid_from: NaiveDate,
    valid_to: Option<NaiveDate>,
    decision_id: String,
    decision_number: String,
}

/// The provincial list items of `province` (of every province when `None`).
pub fn list_entries(
    conn: &mut DbConnection,
    province: Option<&str>,
) -> QueryResult<Vec<ListEntry>> {
    let mut query = list_items::table
        .inner_join(decisions::table)
        .select((
            list_items::province_code,
            list_items::procedure_code,
            list_items::action,
            list_items::valid_from,
            list_items::valid_to,
            list_items::decision_id,
            decisions::number,
        ))
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(list_items::province_code.eq(p.to_owned()));
    }
    let rows: Vec<ListEntryRow> = query.load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            Some(ListEntry {
                action: ListAction::parse(&r.action)?,
                province: r.province_code,
                code: r.procedure_code,
                valid_from: r.valid_from,
                valid_to: r.valid_to,
                decision_id: r.decision_id,
                decision_number: r.decision_number,
            })
        })
        .collect())
}

/// Version rows in force on `date` in national scope and, if given, in one province's scope,
/// ordered by code. The caller picks the applicable one per code.
pub fn in_force_summaries(
    conn: &mut DbConnection,
    date: NaiveDate,
    province: Option<&str>,
) -> QueryResult<Vec<VersionSummary>> {
    let mut scopes = vec![NATIONAL.to_owned()];
    if let Some(p) = province {
        scopes.push(p.to_owned());
    }
    procedure_versions::table
        .filter(procedure_versions::valid_from.le(date))
        .filter(
            procedure_versions::valid_to
                .is_null()
                .or(procedure_versions::valid_to.gt(date)),
        )
        .filter(procedure_versions::scope.eq_any(scopes))
        .order((
            procedure_versions::procedure_code.asc(),
            procedure_versions::scope.asc(),
        ))
        .select(VersionSummary::as_select())
        .load(conn)
}

/// The versions with these ids.
pub fn versions_by_ids(conn: &mut DbConnection, ids: &[String]) -> QueryResult<Vec<VersionRow>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(super::INSERT_CHUNK) {
        out.extend(
            procedure_versions::table
                .filter(procedure_versions::id.eq_any(chunk))
                .select(VersionRow::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

pub fn procedure_exists(conn: &mut DbConnection, code: &str) -> QueryResult<bool> {
    let n: i64 = procedures::table
        .filter(procedures::code.eq(code))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

pub fn count_procedures(conn: &mut DbConnection) -> QueryResult<i64> {
    procedures::table.count().get_result(conn)
}

/// Every version of one procedure with the decision that made it, oldest first.
pub fn versions_of(
    conn: &mut DbConnection,
    code: &str,
) -> QueryResult<Vec<(VersionRow, DecisionRow)>> {
    procedure_versions::table
        .inner_join(decisions::table)
        .filter(procedure_versions::procedure_code.eq(code))
        .order((
            procedure_versions::valid_from.asc(),
            procedure_versions::scope.asc(),
        ))
        .select((VersionRow::as_select(), DecisionRow::as_select()))
        .load(conn)
}

/// Every version of every procedure in every scope, and every decision.
pub fn every_version(conn: &mut DbConnection) -> QueryResult<(Vec<VersionRow>, Vec<DecisionRow>)> {
    let versions = procedure_versions::table
        .select(VersionRow::as_select())
        .load(conn)?;
    let decisions = decisions::table
        .select(DecisionRow::as_select())
        .load(conn)?;
    Ok((versions, decisions))
}

fn into_timelines(rows: Vec<VersionRow>) -> QueryResult<Timelines> {
    let mut out: Timelines = HashMap::new();
    for row in rows {
        let code = row.procedure_code.clone();
        let existing = row
            .into_existing()
            .map_err(|e| diesel::result::Error::DeserializationError(Box::new(e)))?;
        out.entry(code).or_default().push(existing);
    }
    Ok(out)
}

/// The full timelines of the given procedures.
pub fn timelines(conn: &mut DbConnection, codes: &[String]) -> QueryResult<Timelines> {
    let mut rows = Vec::new();
    for chunk in codes.chunks(super::INSERT_CHUNK) {
        rows.extend(
            procedure_versions::table
                .filter(procedure_versions::procedure_code.eq_any(chunk))
                .order(procedure_versions::valid_from.asc())
                .select(VersionRow::as_select())
                .load(conn)?,
        );
    }
    into_timelines(rows)
}

pub fn decision_number_taken(
    conn: &mut DbConnection,
    number_norm: &str,
    scope: &str,
) -> QueryResult<bool> {
    let n: i64 = decisions::table
        .filter(decisions::number_norm.eq(number_norm))
        .filter(decisions::scope.eq(scope))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

/// Writes a decision and the planned changes of its items. Call inside a write transaction,
/// after planning against the same transaction's view of the catalogue.
pub fn apply(
    conn: &mut DbConnection,
    decision: &DecisionRow,
    items: &[PlannedItem],
) -> QueryResult<()> {
    let now = super::now();
    crate::insert_rows!(conn, decisions::table, decision)?;

    let new_codes: Vec<ProcedureRow> = items
        .iter()
        .filter(|i| i.creates_procedure)
        .map(|i| ProcedureRow {
            code: i.code.as_str().to_owned(),
            created_at: now,
        })
        .collect();
    for chunk in new_codes.chunks(super::INSERT_CHUNK) {
        crate::insert_rows!(conn, procedures::table, chunk.to_vec())?;
    }

    let mut closes: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
    for item in items {
        closes
            .entry(item.effective_on)
            .or_default()
            .extend(item.closes.iter().cloned());
    }
    for (date, ids) in closes {
        for chunk in ids.chunks(super::INSERT_CHUNK) {
            diesel::update(procedure_versions::table.filter(procedure_versions::id.eq_any(chunk)))
                .set(procedure_versions::valid_to.eq(Some(date)))
                .execute(conn)?;
        }
    }

    let mut versions = Vec::with_capacity(items.len());
    let mut item_rows = Vec::with_capacity(items.len());
    for item in items {
        let v = &item.version;
        let c = &v.content;
        let id = uuid::Uuid::now_v7().to_string();
        let channels = serde_json::to_string(&c.channels)
            .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?;
        versions.push(VersionRow {
            id: id.clone(),
            procedure_code: item.code.as_str().to_owned(),
            scope: v.scope.clone(),
            decision_id: decision.id.clone(),
            item_seq: item.seq,
            abolished: v.abolished,
            valid_from: v.valid_from,
            valid_to: None,
            name: c.name.clone(),
            name_search: text::search_key(&c.name),
            sector_code: c.sector_code.clone(),
            levels: levels_to_db(&c.levels),
            procedure_type: c.procedure_type.clone(),
            subjects: c.subjects.clone(),
            authority: c.authority.clone(),
            executing_agency: c.executing_agency.clone(),
            steps: c.steps.clone(),
            documents: c.documents.clone(),
            requirements: c.requirements.clone(),
            legal_basis: c.legal_basis.clone(),
            results: c.results.clone(),
            channels,
            source_url: c.source_url.clone(),
            announced_by: v.announced_by.clone(),
            announced_by_norm: v.announced_by.as_deref().map(normalize_decision_number),
            content_hash: v.content_hash.clone(),
            created_at: now,
            posting_place: Some(v.placement.place.as_str().to_owned()),
            posting_rule: Some(v.placement.rule.clone()),
        });
        item_rows.push(DecisionItemRow {
            decision_id: decision.id.clone(),
            seq: item.seq,
            action: item.action.as_str().to_owned(),
            procedure_code: item.code.as_str().to_owned(),
            effective_on: item.effective_on,
            version_id: id,
        });
    }
    // Smaller chunks: a version row binds 29 parameters.
    for chunk in versions.chunks(200) {
        crate::insert_rows!(conn, procedure_versions::table, chunk.to_vec())?;
    }
    for chunk in item_rows.chunks(super::INSERT_CHUNK) {
        crate::insert_rows!(conn, decision_items::table, chunk.to_vec())?;
    }
    Ok(())
}

#[derive(Debug, Default)]
pub struct DecisionFilter {
    /// The matching key of a number (`codes::normalize_decision_number`).
    pub number_norm: Option<String>,
    pub scope: Option<String>,
    pub kind: Option<String>,
    pub procedure: Option<String>,
    /// Keyset cursor: (signed_on, id) of the last row of the previous page.
    pub after: Option<(NaiveDate, String)>,
    pub limit: i64,
}

/// Decisions, newest signature first.
pub fn list_decisions(
    conn: &mut DbConnection,
    f: &DecisionFilter,
) -> QueryResult<Vec<DecisionRow>> {
    let mut query = decisions::table
        .select(DecisionRow::as_select())
        .order((decisions::signed_on.desc(), decisions::id.desc()))
        .limit(f.limit)
        .into_boxed();
    if let Some(scope) = &f.scope {
        query = query.filter(decisions::scope.eq(scope.clone()));
    }
    if let Some(norm) = &f.number_norm {
        query = query.filter(decisions::number_norm.eq(norm.clone()));
    }
    if let Some(kind) = &f.kind {
        query = query.filter(decisions::kind.eq(kind.clone()));
    }
    if let Some(code) = &f.procedure {
        let mut ids: Vec<String> = decision_items::table
            .filter(decision_items::procedure_code.eq(code))
            .select(decision_items::decision_id)
            .load(conn)?;
        ids.extend(
            list_items::table
                .filter(list_items::procedure_code.eq(code))
                .select(list_items::decision_id)
                .load::<String>(conn)?,
        );
        query = query.filter(decisions::id.eq_any(ids));
    }
    if let Some((date, id)) = &f.after {
        query = query.filter(
            decisions::signed_on.lt(*date).or(decisions::signed_on
                .eq(*date)
                .and(decisions::id.lt(id.clone()))),
        );
    }
    query.load(conn)
}

pub fn get_decision(conn: &mut DbConnection, id: &str) -> QueryResult<Option<DecisionRow>> {
    decisions::table
        .find(id)
        .select(DecisionRow::as_select())
        .first(conn)
        .optional()
}

/// A decision item with the name and sector of the version it produced.
#[derive(Debug, Clone)]
pub struct ItemWithVersion {
    pub item: DecisionItemRow,
    pub name: String,
    pub sector_code: String,
}

/// A decision's items with the name and sector of the version each produced.
pub fn items_of(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ItemWithVersion>> {
    let rows: Vec<(DecisionItemRow, String, String)> = decision_items::table
        .inner_join(
            procedure_versions::table.on(procedure_versions::id.eq(decision_items::version_id)),
        )
        .filter(decision_items::decision_id.eq(id))
        .order(decision_items::seq.asc())
        .select((
            DecisionItemRow::as_select(),
            procedure_versions::name,
            procedure_versions::sector_code,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(item, name, sector_code)| ItemWithVersion {
            item,
            name,
            sector_code,
        })
        .collect())
}

/// Number of items per decision (a provincial list's included), for lists.
pub fn item_counts(conn: &mut DbConnection, ids: &[String]) -> QueryResult<HashMap<String, i64>> {
    let mut rows: Vec<(String, i64)> = decision_items::table
        .filter(decision_items::decision_id.eq_any(ids))
        .group_by(decision_items::decision_id)
        .select((decision_items::decision_id, diesel::dsl::count_star()))
        .load(conn)?;
    rows.extend(
        list_items::table
            .filter(list_items::decision_id.eq_any(ids))
            .group_by(list_items::decision_id)
            .select((list_items::decision_id, diesel::dsl::count_star()))
            .load::<(String, i64)>(conn)?,
    );
    Ok(rows.into_iter().collect())
}

/// The applicable version of every procedure on `date` (province-scoped rows win over national
/// ones), abolitions included, ordered by code.
pub fn applicable_summaries(
    conn: &mut DbConnection,
    date: NaiveDate,
    province: Option<&str>,
) -> QueryResult<Vec<VersionSummary>> {
    let rows = in_force_summaries(conn, date, province)?;
    let mut out: Vec<VersionSummary> = Vec::with_capacity(rows.len());
    for row in rows {
        match out.last_mut() {
            Some(last) if last.procedure_code == row.procedure_code => {
                if row.scope != NATIONAL {
                    *last = row;
                }
            }
            _ => out.push(row),
        }
    }
    Ok(out)
}

/// One decision item with its decision and the version it produced, for the change feed.
#[derive(Debug, Clone)]
pub struct ChangeRow {
    pub item: DecisionItemRow,
    pub decision: DecisionRow,
    /// The version's name, sector code and levels (as stored).
    pub name: String,
    pub sector_code: String,
    pub levels: String,
}

/// Items taking effect on or after `since` in national scope and, if given, one province's
/// scope (every scope when `None`), in effective order.
pub fn changes_since(
    conn: &mut DbConnection,
    since: NaiveDate,
    province: Option<&str>,
) -> QueryResult<Vec<ChangeRow>> {
    let mut query = decision_items::table
        .inner_join(decisions::table)
        .inner_join(
            procedure_versions::table.on(procedure_versions::id.eq(decision_items::version_id)),
        )
        .filter(decision_items::effective_on.ge(since))
        .select((
            DecisionItemRow::as_select(),
            DecisionRow::as_select(),
            procedure_versions::name,
            procedure_versions::sector_code,
            procedure_versions::levels,
        ))
        .order((
            decision_items::effective_on.asc(),
            decisions::signed_on.asc(),
            decisions::id.asc(),
            decision_items::seq.asc(),
        ))
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(decisions::scope.eq_any(vec![NATIONAL.to_owned(), p.to_owned()]));
    }
    let rows: Vec<(DecisionItemRow, DecisionRow, String, String, String)> = query.load(conn)?;
    let mut out: Vec<ChangeRow> = rows
        .into_iter()
        .map(|(item, decision, name, sector_code, levels)| ChangeRow {
            item,
            decision,
            name,
            sector_code,
            levels,
        })
        .collect();
    // The provincial lists' items, read as items of their decisions.
    let mut lists = list_items::table
        .inner_join(decisions::table)
        .inner_join(procedure_versions::table.on(procedure_versions::id.eq(list_items::version_id)))
        .filter(list_items::valid_from.ge(since))
        .select((
            ListItemRow::as_select(),
            DecisionRow::as_select(),
            procedure_versions::name,
            procedure_versions::sector_code,
            procedure_versions::levels,
        ))
        .into_boxed();
    if let Some(p) = province {
        lists = lists.filter(list_items::province_code.eq(p.to_owned()));
    }
    let listed: Vec<(ListItemRow, DecisionRow, String, String, String)> = lists.load(conn)?;
    out.extend(
        listed
            .into_iter()
            .map(|(l, decision, name, sector_code, levels)| ChangeRow {
                item: DecisionItemRow {
                    decision_id: l.decision_id,
                    seq: l.seq,
                    action: l.action,
                    procedure_code: l.procedure_code,
                    effective_on: l.valid_from,
                    version_id: l.version_id,
                },
                decision,
                name,
                sector_code,
                levels,
            }),
    );
    out.sort_by(|a, b| {
        (
            a.item.effective_on,
            a.decision.signed_on,
            &a.decision.id,
            a.item.seq,
        )
            .cmp(&(
                b.item.effective_on,
                b.decision.signed_on,
                &b.decision.id,
                b.item.seq,
            ))
    });
    Ok(out)
}

/// A version's window, with its scope and levels (as stored).
#[derive(Debug, Clone, Queryable)]
pub struct LevelWindow {
    pub procedure_code: String,
    pub scope: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub levels: String,
}

pub fn level_windows(conn: &mut DbConnection, codes: &[String]) -> QueryResult<Vec<LevelWindow>> {
    let mut out = Vec::new();
    for chunk in codes.chunks(super::INSERT_CHUNK) {
        let rows: Vec<LevelWindow> = procedure_versions::table
            .filter(procedure_versions::procedure_code.eq_any(chunk))
            .select((
                procedure_versions::procedure_code,
                procedure_versions::scope,
                procedure_versions::valid_from,
                procedure_versions::valid_to,
                procedure_versions::levels,
            ))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// A version's window: its first day and the first day after.
#[derive(Debug, Clone, Queryable)]
pub struct Window {
    pub procedure_code: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

/// A province's own version windows: a national change to a procedure the province has its own
/// version of does not reach its communes.
pub fn provincial_windows(conn: &mut DbConnection, province: &str) -> QueryResult<Vec<Window>> {
    procedure_versions::table
        .filter(procedure_versions::scope.eq(province))
        .select((
            procedure_versions::procedure_code,
            procedure_versions::valid_from,
            procedure_versions::valid_to,
        ))
        .load(conn)
}

/// The number of decisions and the greatest id: together they change with every decision.
pub fn revision(conn: &mut DbConnection) -> QueryResult<(i64, Option<String>)> {
    decisions::table
        .select((diesel::dsl::count_star(), diesel::dsl::max(decisions::id)))
        .first(conn)
}

/// One item of a provincial list, as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = list_items)]
#[diesel(treat_none_as_default_value = false)]
pub struct ListItemRow {
    pub decision_id: String,
    pub seq: i32,
    pub province_code: String,
    pub procedure_code: String,
    pub action: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub version_id: String,
}

/// Writes a provincial list: the decision and its items, each ending the province's earlier
/// item of the same procedure where it takes effect. Call inside a write transaction, after
/// planning against the same transaction's view.
pub fn apply_list(
    conn: &mut DbConnection,
    decision: &DecisionRow,
    items: &[PlannedListItem],
) -> QueryResult<()> {
    crate::insert_rows!(conn, decisions::table, decision)?;
    for item in items {
        diesel::update(
            list_items::table
                .filter(list_items::province_code.eq(&decision.scope))
                .filter(list_items::procedure_code.eq(item.code.as_str()))
                .filter(list_items::valid_to.is_null()),
        )
        .set(list_items::valid_to.eq(Some(item.effective_on)))
        .execute(conn)?;
    }
    let rows: Vec<ListItemRow> = items
        .iter()
        .map(|i| ListItemRow {
            decision_id: decision.id.clone(),
            seq: i.seq,
            province_code: decision.scope.clone(),
            procedure_code: i.code.as_str().to_owned(),
            action: i.action.as_str().to_owned(),
            valid_from: i.effective_on,
            valid_to: None,
            version_id: i.version_id.clone(),
        })
        .collect();
    for chunk in rows.chunks(super::INSERT_CHUNK) {
        crate::insert_rows!(conn, list_items::table, chunk.to_vec())?;
    }
    Ok(())
}

/// A provincial list's items with the name and sector of the version each concerns.
pub fn list_items_of(conn: &mut DbConnection, id: &str) -> QueryResult<Vec<ItemWithVersion>> {
    let rows: Vec<(ListItemRow, String, String)> = list_items::table
        .inner_join(procedure_versions::table.on(procedure_versions::id.eq(list_items::version_id)))
        .filter(list_items::decision_id.eq(id))
        .order(list_items::seq.asc())
        .select((
            ListItemRow::as_select(),
            procedure_versions::name,
            procedure_versions::sector_code,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(l, name, sector_code)| ItemWithVersion {
            item: DecisionItemRow {
                decision_id: l.decision_id,
                seq: l.seq,
                action: l.action,
                procedure_code: l.procedure_code,
                effective_on: l.valid_from,
                version_id: l.version_id,
            },
            name,
            sector_code,
        })
        .collect())
}

/// A decision's items of either kind: an announcement's or import's, or a provincial list's.
pub fn decision_items(
    conn: &mut DbConnection,
    decision: &DecisionRow,
) -> QueryResult<Vec<ItemWithVersion>> {
    if decision.kind == LIST {
        list_items_of(conn, &decision.id)
    } else {
        items_of(conn, &decision.id)
    }
}

/// The versions a decision concerns (those it produced, or for a list those it listed), with
/// their procedure codes.
pub fn concerned_versions(
    conn: &mut DbConnection,
    decision: &DecisionRow,
) -> QueryResult<Vec<(String, String)>> {
    Ok(decision_items(conn, decision)?
        .into_iter()
        .map(|i| (i.item.version_id, i.item.procedure_code))
        .collect())
}

/// The kind of a provincial list's decision.
pub const LIST: &str = "list";

/// What placing a version reads of it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = procedure_versions)]
pub struct PlacementRow {
    pub id: String,
    pub scope: String,
    pub levels: String,
    pub sector_code: String,
    pub announced_by: Option<String>,
    pub executing_agency: Option<String>,
    pub authority: Option<String>,
    pub posting_place: Option<String>,
    pub posting_rule: Option<String>,
}

/// Versions to place: those not placed yet (`sector` `None`), or every version of a sector.
pub fn versions_to_place(
    conn: &mut DbConnection,
    sector: Option<&str>,
) -> QueryResult<Vec<PlacementRow>> {
    let query = procedure_versions::table
        .select(PlacementRow::as_select())
        .into_boxed();
    match sector {
        Some(code) => query.filter(procedure_versions::sector_code.eq(code.to_owned())),
        None => query.filter(procedure_versions::posting_place.is_null()),
    }
    .load(conn)
}

/// Stores versions' placements.
pub fn set_placements(conn: &mut DbConnection, placed: &[(String, Placement)]) -> QueryResult<()> {
    for (id, placement) in placed {
        diesel::update(procedure_versions::table.find(id))
            .set((
                procedure_versions::posting_place.eq(Some(placement.place.as_str())),
                procedure_versions::posting_rule.eq(Some(placement.rule.as_str())),
            ))
            .execute(conn)?;
    }
    Ok(())
}
