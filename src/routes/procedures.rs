//! The procedure catalogue: search, and one procedure with its whole version history.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::fresh::Freshness;
use super::{decode_cursor, encode_cursor, page_limit};
use crate::cache::ReportCache;
use crate::cache::view::{CatalogueView, ListFilter, Listed, StatusFilter as ListStatus};
use crate::db::Db;
use crate::domain::catalogue::{Channel, Level};
use crate::domain::codes::ProcedureCode;
use crate::domain::obligation::{PostingPlace, describe_rule};
use crate::domain::search::Quality;
use crate::error::{ApiError, Problem};
use crate::repo::catalogue::{DecisionRow, VersionRow};
use crate::services::ServiceError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    #[default]
    InForce,
    Abolished,
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProcedureQuery {
    /// Only procedures carried out at this level.
    pub level: Option<Level>,
    /// Sector code (see `/sectors`).
    #[param(example = "ho-tich")]
    pub sector: Option<String>,
    /// Search, as a citizen types: names (with or without diacritics, words in any order, the
    /// last one cut short, a typo, everyday names such as `sổ đỏ`) and codes (`1.001193`, or a
    /// prefix such as `1.0011`). Results come best first.
    #[param(example = "dang ky khai sinh")]
    pub q: Option<String>,
    /// The date the catalogue is read for (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// Apply this province's own versions.
    #[param(example = "01")]
    pub province: Option<String>,
    /// `in_force` (default), `abolished` (abolished on or before `as_of`), or `all`.
    #[param(inline)]
    pub status: Option<StatusFilter>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SectorRef {
    #[schema(example = "ho-tich")]
    pub code: String,
    #[schema(example = "Hộ tịch")]
    pub name: String,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProcedureStatus {
    InForce,
    Abolished,
    /// Announced, but its first version takes effect after the date asked.
    NotYetInForce,
}

/// How a procedure matched a search.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// The code, or a prefix of it.
    Code,
    /// The whole name.
    Exact,
    /// The words of the query, in a row.
    Phrase,
    /// Every word of the query.
    AllWords,
    /// Most of the query: a weak match, to show as such.
    SomeWords,
}

impl From<Quality> for MatchKind {
    fn from(q: Quality) -> Self {
        match q {
            Quality::Code => MatchKind::Code,
            Quality::Exact => MatchKind::Exact,
            Quality::Phrase => MatchKind::Phrase,
            Quality::AllWords => MatchKind::AllWords,
            Quality::SomeWords => MatchKind::SomeWords,
        }
    }
}

/// A procedure as it applies on the date asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureSummary {
    #[schema(example = "1.001193")]
    pub code: String,
    #[schema(example = "Thủ tục đăng ký khai sinh")]
    pub name: String,
    pub sector: SectorRef,
    pub levels: Vec<Level>,
    pub status: ProcedureStatus,
    /// `national`, or the province whose own version applies.
    #[schema(example = "national")]
    pub scope: String,
    #[schema(example = "0196d4a2-3f1c-7a10-8b2c-3d4e5f6a7b8c")]
    pub version_id: String,
    #[schema(example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01")]
    pub decision_id: String,
    /// The announcing decision's number as published.
    #[schema(example = "1234/QĐ-BTP")]
    pub announced_by: Option<String>,
    /// The applicable version (or abolition) takes effect on this date...
    #[schema(example = "2026-07-01")]
    pub effective_from: NaiveDate,
    /// ...until this one (exclusive), if a later change is recorded.
    pub effective_to: Option<NaiveDate>,
    pub content_hash: String,
    /// Where the commune-level version is posted (`elsewhere` when it has no commune level).
    pub posting_place: Option<PostingPlace>,
    /// With `q`: how the procedure matched (the list is in rank order, best first); `null`
    /// without a search.
    #[serde(rename = "match")]
    pub matched: Option<MatchKind>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedurePage {
    pub items: Vec<ProcedureSummary>,
    pub next_cursor: Option<String>,
}

fn summary(view: &CatalogueView, listed: &Listed<'_>) -> ProcedureSummary {
    let v = &listed.version.row;
    ProcedureSummary {
        code: v.procedure_code.clone(),
        name: v.name.clone(),
        sector: SectorRef {
            code: v.sector_code.clone(),
            name: view.sector_name(&v.sector_code),
        },
        levels: listed.version.levels.clone(),
        status: if v.abolished {
            ProcedureStatus::Abolished
        } else {
            ProcedureStatus::InForce
        },
        scope: v.scope.clone(),
        version_id: v.id.clone(),
        decision_id: v.decision_id.clone(),
        announced_by: v.announced_by.clone(),
        effective_from: v.valid_from,
        effective_to: v.valid_to,
        content_hash: v.content_hash.clone(),
        posting_place: v.posting_place.as_deref().and_then(PostingPlace::parse),
        matched: listed.quality.map(MatchKind::from),
    }
}

/// The catalogue view: from memory when it is known current, else through the database.
async fn view(db: &Db, cache: &web::Data<ReportCache>) -> Result<Arc<CatalogueView>, ApiError> {
    if let Some(view) = cache.current_view() {
        return Ok(view);
    }
    let cache = cache.clone().into_inner();
    Ok(db
        .run(move |conn| -> Result<_, ServiceError> { Ok(cache.view(conn)?) })
        .await?)
}

/// 422 unless `province` (when given) is a province, from memory when the units are loaded.
async fn known_province(
    db: &Db,
    cache: &ReportCache,
    province: Option<&str>,
) -> Result<(), ApiError> {
    let Some(code) = province else {
        return Ok(());
    };
    match cache.is_province(code) {
        Some(true) => Ok(()),
        Some(false) => Err(ApiError::validation_one(
            "province",
            format!("there is no province {code}"),
        )),
        None => {
            let code = code.to_owned();
            Ok(db
                .run(move |conn| super::check_province(conn, Some(&code)))
                .await?)
        }
    }
}

/// A search's cursor: how many results the earlier pages held.
fn rank_cursor(offset: usize) -> String {
    encode_cursor(&format!("rank:{offset}"))
}

/// Search the catalogue as it applies on a date, in a province. Without `q`, procedures come in
/// code order; with `q`, in rank order, best first, each with how it matched (see the README's
/// "Searching the catalogue"). Answers carry an `ETag` (`If-None-Match` gives 304).
#[utoipa::path(
    tag = "catalogue",
    params(ProcedureQuery),
    responses(
        (status = 200, body = ProcedurePage, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "The client's copy (`If-None-Match`) is current"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/procedures")]
pub async fn list_procedures(
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    query: web::Query<ProcedureQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)? as usize;
    let province = super::province_query(query.province.as_deref())?;
    let q = super::search_text(query.q.as_deref())?;
    let cursor = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let date = super::as_of(query.as_of)?;
    known_province(&db, &cache, province.as_deref()).await?;
    let view = view(&db, &cache).await?;
    let fresh = Freshness::of_revision(&req, view.revision, date, query.as_of);
    if let Some(not_modified) = fresh.not_modified(&req) {
        return Ok(not_modified);
    }
    let filter = ListFilter {
        as_of: date,
        province: province.as_deref(),
        level: query.level,
        sector: query.sector.as_deref(),
        status: match query.status.unwrap_or_default() {
            StatusFilter::InForce => ListStatus::InForce,
            StatusFilter::Abolished => ListStatus::Abolished,
            StatusFilter::All => ListStatus::All,
        },
    };
    fresh.json(&req, &cache, || {
        let (listed, next_cursor) = match &q {
            Some(q) => {
                let offset = match cursor.as_deref().map(|c| c.strip_prefix("rank:")) {
                    None => 0,
                    Some(Some(n)) => n
                        .parse::<usize>()
                        .map_err(|_| ApiError::BadRequest("invalid cursor".into()))?,
                    Some(None) => {
                        return Err(ApiError::BadRequest(
                            "this cursor is from a list without `q`".into(),
                        ));
                    }
                };
                let mut listed = view.search(q, &filter, offset, limit);
                let next = (listed.len() > limit).then(|| rank_cursor(offset + limit));
                listed.truncate(limit);
                (listed, next)
            }
            None => {
                if cursor.as_deref().is_some_and(|c| c.starts_with("rank:")) {
                    return Err(ApiError::BadRequest(
                        "this cursor is from a search; send it with the same `q`".into(),
                    ));
                }
                let mut listed = view.list(&filter, cursor.as_deref(), limit);
                let next = (listed.len() > limit)
                    .then(|| {
                        listed
                            .get(limit - 1)
                            .map(|l| encode_cursor(&l.version.row.procedure_code))
                    })
                    .flatten();
                listed.truncate(limit);
                (listed, next)
            }
        };
        let items = listed.iter().map(|l| summary(&view, l)).collect();
        Ok(ProcedurePage { items, next_cursor })
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProcedureDetailQuery {
    /// The date the procedure is read for (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// Apply this province's own versions.
    #[param(example = "01")]
    pub province: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionRef {
    #[schema(example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01")]
    pub id: String,
    #[schema(example = "163/QĐ-BTP")]
    pub number: String,
    #[schema(example = "Bộ Tư pháp")]
    pub issuer: String,
    #[schema(example = "2026-06-15")]
    pub signed_on: NaiveDate,
    /// `announcement` or `import`.
    pub kind: String,
}

impl From<&DecisionRow> for DecisionRef {
    fn from(d: &DecisionRow) -> Self {
        DecisionRef {
            id: d.id.clone(),
            number: d.number.clone(),
            issuer: d.issuer.clone(),
            signed_on: d.signed_on,
            kind: d.kind.clone(),
        }
    }
}

/// One version with everything a posting must show.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureVersion {
    #[schema(example = "0196d4a2-3f1c-7a10-8b2c-3d4e5f6a7b8c")]
    pub id: String,
    /// `national` or a province code.
    #[schema(example = "national")]
    pub scope: String,
    /// An abolition ends the procedure from `valid_from`; its content is the version it ended.
    pub abolished: bool,
    #[schema(example = "2026-07-01")]
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub decision: DecisionRef,
    #[schema(example = "1234/QĐ-BTP")]
    pub announced_by: Option<String>,
    pub content_hash: String,
    pub name: String,
    pub sector: SectorRef,
    pub levels: Vec<Level>,
    pub channels: Vec<Channel>,
    pub documents: Option<String>,
    pub steps: Option<String>,
    pub requirements: Option<String>,
    pub legal_basis: Option<String>,
    pub results: Option<String>,
    pub executing_agency: Option<String>,
    pub procedure_type: Option<String>,
    pub subjects: Option<String>,
    pub authority: Option<String>,
    #[schema(
        example = "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/019d2bf7-4fc1-768b-9ba3-94be4bca58ee"
    )]
    pub source_url: Option<String>,
    /// Where the commune-level version is posted, and why.
    pub placement: Option<PlacementView>,
}

/// A version's posting place and the rule that decided it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlacementView {
    pub posting_place: PostingPlace,
    /// `agency_commune_committee`, `agency_customs`, `sector_table`, `decision`, …
    pub rule: String,
    /// The rule in plain Vietnamese.
    pub rule_description: String,
}

/// One entry of a procedure's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionHistoryItem {
    #[schema(example = "0196d4a2-3f1c-7a10-8b2c-3d4e5f6a7b8c")]
    pub id: String,
    #[schema(example = "national")]
    pub scope: String,
    pub abolished: bool,
    #[schema(example = "2026-07-01")]
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub decision: DecisionRef,
    #[schema(example = "1234/QĐ-BTP")]
    pub announced_by: Option<String>,
    pub content_hash: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureDetail {
    #[schema(example = "1.001193")]
    pub code: String,
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    #[schema(example = "01")]
    pub province: Option<String>,
    pub status: ProcedureStatus,
    /// The version that applies on `as_of` in `province` (an abolition if `status` is
    /// `abolished`); absent when not yet in force.
    pub applicable: Option<ProcedureVersion>,
    /// Every version and abolition in every scope, in effective order.
    pub versions: Vec<VersionHistoryItem>,
}

fn decision_ref(view: &CatalogueView, id: &str) -> Result<DecisionRef, ApiError> {
    view.decision(id).map(DecisionRef::from).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("decision {id} of a version is not loaded"))
    })
}

fn version_view(view: &CatalogueView, row: &VersionRow) -> Result<ProcedureVersion, ApiError> {
    let content = row.content().map_err(ApiError::internal)?;
    Ok(ProcedureVersion {
        id: row.id.clone(),
        scope: row.scope.clone(),
        abolished: row.abolished,
        valid_from: row.valid_from,
        valid_to: row.valid_to,
        decision: decision_ref(view, &row.decision_id)?,
        announced_by: row.announced_by.clone(),
        content_hash: row.content_hash.clone(),
        sector: SectorRef {
            name: view.sector_name(&content.sector_code),
            code: content.sector_code,
        },
        name: content.name,
        levels: content.levels.into_iter().collect(),
        channels: content.channels,
        documents: content.documents,
        steps: content.steps,
        requirements: content.requirements,
        legal_basis: content.legal_basis,
        results: content.results,
        executing_agency: content.executing_agency,
        procedure_type: content.procedure_type,
        subjects: content.subjects,
        authority: content.authority,
        source_url: content.source_url,
        placement: row.placement().map(|p| PlacementView {
            rule_description: describe_rule(&p.rule).to_owned(),
            posting_place: p.place,
            rule: p.rule,
        }),
    })
}

/// One procedure: the version that applies on a date in a province, and its whole history.
#[utoipa::path(
    tag = "catalogue",
    params(("code" = String, Path, description = "Procedure code", example = "1.001193"), ProcedureDetailQuery),
    responses(
        (status = 200, body = ProcedureDetail, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "The client's copy (`If-None-Match`) is current"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/procedures/{code}")]
pub async fn get_procedure(
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    query: web::Query<ProcedureDetailQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = ProcedureCode::parse(&path.into_inner())
        .map_err(|e| ApiError::validation_one("code", e.0))?;
    let query = query.into_inner();
    let province = super::province_query(query.province.as_deref())?;
    let date = super::as_of(query.as_of)?;
    known_province(&db, &cache, province.as_deref()).await?;
    let view = view(&db, &cache).await?;
    let versions = view.versions_of(code.as_str());
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no procedure {code} in the catalogue"
        )));
    }
    let fresh = Freshness::of_revision(&req, view.revision, date, query.as_of);
    if let Some(not_modified) = fresh.not_modified(&req) {
        return Ok(not_modified);
    }
    fresh.json(&req, &cache, || {
        let chosen = view.applicable(code.as_str(), province.as_deref(), date);
        let status = match chosen {
            Some(v) if v.row.abolished => ProcedureStatus::Abolished,
            Some(_) => ProcedureStatus::InForce,
            None => ProcedureStatus::NotYetInForce,
        };
        let applicable_view = chosen.map(|v| version_view(&view, &v.row)).transpose()?;
        let versions = versions
            .iter()
            .map(|v| {
                let r = &v.row;
                Ok(VersionHistoryItem {
                    id: r.id.clone(),
                    scope: r.scope.clone(),
                    abolished: r.abolished,
                    valid_from: r.valid_from,
                    valid_to: r.valid_to,
                    decision: decision_ref(&view, &r.decision_id)?,
                    announced_by: r.announced_by.clone(),
                    content_hash: r.content_hash.clone(),
                    name: r.name.clone(),
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(ProcedureDetail {
            code: code.to_string(),
            as_of: date,
            province,
            status,
            applicable: applicable_view,
            versions,
        })
    })
}
