//! The procedure catalogue: search, and one procedure with its whole version history.

use std::collections::HashMap;

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{decode_cursor, encode_cursor, page_limit, search_key};
use crate::db::Db;
use crate::domain::catalogue::{Channel, Level, applicable, levels_from_db};
use crate::domain::codes::ProcedureCode;
use crate::domain::obligation::{PostingPlace, describe_rule};
use crate::error::{ApiError, Problem};
use crate::repo::catalogue::{self as repo, DecisionRow, VersionRow};
use crate::repo::sectors;
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
    pub sector: Option<String>,
    /// Search in names and codes, ignoring case and diacritics (`khai sinh`, `dang ky`).
    pub q: Option<String>,
    /// The date the catalogue is read for (default today).
    pub as_of: Option<NaiveDate>,
    /// Apply this province's own versions.
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
    pub code: String,
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
    pub scope: String,
    pub version_id: String,
    pub decision_id: String,
    /// The announcing decision's number as published.
    pub announced_by: Option<String>,
    /// The applicable version (or abolition) takes effect on this date...
    pub effective_from: NaiveDate,
    /// ...until this one (exclusive), if a later change is recorded.
    pub effective_to: Option<NaiveDate>,
    pub content_hash: String,
    /// Where the commune-level version is posted (`elsewhere` when it has no commune level).
    pub posting_place: Option<PostingPlace>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedurePage {
    pub items: Vec<ProcedureSummary>,
    pub next_cursor: Option<String>,
}

fn sector_ref(names: &HashMap<String, String>, code: &str) -> SectorRef {
    SectorRef {
        code: code.to_owned(),
        name: names.get(code).cloned().unwrap_or_default(),
    }
}

/// Search the catalogue as it applies on a date, in a province.
#[utoipa::path(
    tag = "catalogue",
    params(ProcedureQuery),
    responses(
        (status = 200, body = ProcedurePage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/procedures")]
pub async fn list_procedures(
    db: web::Data<Db>,
    query: web::Query<ProcedureQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)? as usize;
    let province = super::province_query(query.province.as_deref())?;
    let q = search_key(query.q.as_deref())?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let date = super::as_of(query.as_of)?;
    let status = query.status.unwrap_or_default();
    let (rows, sector_names) = db
        .run(move |conn| -> Result<_, ServiceError> {
            super::check_province(conn, province.as_deref())?;
            let names: HashMap<String, String> = sectors::list(conn)?
                .into_iter()
                .map(|s| (s.code, s.name))
                .collect();
            Ok((
                repo::applicable_summaries(conn, date, province.as_deref())?,
                names,
            ))
        })
        .await?;
    let mut items = Vec::new();
    for v in rows {
        if after
            .as_ref()
            .is_some_and(|a| v.procedure_code.as_str() <= a.as_str())
        {
            continue;
        }
        let keep_status = match status {
            StatusFilter::InForce => !v.abolished,
            StatusFilter::Abolished => v.abolished,
            StatusFilter::All => true,
        };
        let levels: Vec<Level> = levels_from_db(&v.levels).into_iter().collect();
        if !keep_status
            || query.level.is_some_and(|l| !levels.contains(&l))
            || query.sector.as_ref().is_some_and(|s| *s != v.sector_code)
            || q.as_ref().is_some_and(|q| {
                !v.name_search.contains(q.as_str()) && !v.procedure_code.starts_with(q.as_str())
            })
        {
            continue;
        }
        if items.len() == limit + 1 {
            break;
        }
        items.push(ProcedureSummary {
            sector: sector_ref(&sector_names, &v.sector_code),
            status: if v.abolished {
                ProcedureStatus::Abolished
            } else {
                ProcedureStatus::InForce
            },
            code: v.procedure_code,
            name: v.name,
            levels,
            scope: v.scope,
            version_id: v.id,
            decision_id: v.decision_id,
            announced_by: v.announced_by,
            effective_from: v.valid_from,
            effective_to: v.valid_to,
            content_hash: v.content_hash,
            posting_place: v.posting_place.as_deref().and_then(PostingPlace::parse),
        });
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|p| encode_cursor(&p.code))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(ProcedurePage { items, next_cursor }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProcedureDetailQuery {
    /// The date the procedure is read for (default today).
    pub as_of: Option<NaiveDate>,
    /// Apply this province's own versions.
    pub province: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionRef {
    pub id: String,
    #[schema(example = "163/QĐ-BTP")]
    pub number: String,
    pub issuer: String,
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
    pub id: String,
    /// `national` or a province code.
    pub scope: String,
    /// An abolition ends the procedure from `valid_from`; its content is the version it ended.
    pub abolished: bool,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub decision: DecisionRef,
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
    pub id: String,
    pub scope: String,
    pub abolished: bool,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub decision: DecisionRef,
    pub announced_by: Option<String>,
    pub content_hash: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcedureDetail {
    pub code: String,
    pub as_of: NaiveDate,
    pub province: Option<String>,
    pub status: ProcedureStatus,
    /// The version that applies on `as_of` in `province` (an abolition if `status` is
    /// `abolished`); absent when not yet in force.
    pub applicable: Option<ProcedureVersion>,
    /// Every version and abolition in every scope, in effective order.
    pub versions: Vec<VersionHistoryItem>,
}

fn version_view(
    row: &VersionRow,
    decision: &DecisionRow,
    names: &HashMap<String, String>,
) -> Result<ProcedureVersion, ApiError> {
    let content = row.content().map_err(ApiError::internal)?;
    Ok(ProcedureVersion {
        id: row.id.clone(),
        scope: row.scope.clone(),
        abolished: row.abolished,
        valid_from: row.valid_from,
        valid_to: row.valid_to,
        decision: decision.into(),
        announced_by: row.announced_by.clone(),
        content_hash: row.content_hash.clone(),
        sector: sector_ref(names, &content.sector_code),
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
        (status = 200, body = ProcedureDetail),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/procedures/{code}")]
pub async fn get_procedure(
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<ProcedureDetailQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = ProcedureCode::parse(&path.into_inner())
        .map_err(|e| ApiError::validation_one("code", e.0))?;
    let query = query.into_inner();
    let province = super::province_query(query.province.as_deref())?;
    let date = super::as_of(query.as_of)?;
    let lookup = code.clone();
    let checked = province.clone();
    let (rows, names) = db
        .run(move |conn| -> Result<_, ServiceError> {
            super::check_province(conn, checked.as_deref())?;
            let names: HashMap<String, String> = sectors::list(conn)?
                .into_iter()
                .map(|s| (s.code, s.name))
                .collect();
            Ok((repo::versions_of(conn, lookup.as_str())?, names))
        })
        .await?;
    if rows.is_empty() {
        return Err(ApiError::NotFound(format!(
            "no procedure {code} in the catalogue"
        )));
    }
    let versions_only: Vec<VersionRow> = rows.iter().map(|(v, _)| v.clone()).collect();
    let chosen = applicable(&versions_only, province.as_deref(), date);
    let status = match chosen {
        Some(v) if v.abolished => ProcedureStatus::Abolished,
        Some(_) => ProcedureStatus::InForce,
        None => ProcedureStatus::NotYetInForce,
    };
    let applicable_view = match chosen {
        Some(v) => {
            let (row, decision) = rows.iter().find(|(r, _)| r.id == v.id).ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("applicable version vanished"))
            })?;
            Some(version_view(row, decision, &names)?)
        }
        None => None,
    };
    let versions = rows
        .iter()
        .map(|(r, d)| VersionHistoryItem {
            id: r.id.clone(),
            scope: r.scope.clone(),
            abolished: r.abolished,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            decision: d.into(),
            announced_by: r.announced_by.clone(),
            content_hash: r.content_hash.clone(),
            name: r.name.clone(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ProcedureDetail {
        code: code.to_string(),
        as_of: date,
        province,
        status,
        applicable: applicable_view,
        versions,
    }))
}
