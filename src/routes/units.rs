//! Administrative units: provinces and communes of today, and the units retired on 2025-06-30
//! (provinces, districts, communes) with their lineage. `as_of` chooses which unit a code means:
//! 3,316 communes of 2025-07-01 reuse a predecessor's code.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{decode_cursor, encode_cursor, page_limit, search_key};
use crate::db::Db;
use crate::db::DbConnection;
use crate::domain::codes::{UnitCode, UnitLevel};
use crate::error::{ApiError, Problem};
use crate::repo::lineage::{self as lineage_repo, EdgeRow, RetiredFilter, RetiredUnitRow};
use crate::repo::units::{self, UnitFilter, UnitRow};
use crate::services::ServiceError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnitQuery {
    /// `province` or `commune`; `district` for the districts in force until 2025-06-30.
    #[param(inline)]
    pub level: Option<LevelParam>,
    /// Code of the parent province: its communes (before 2025-07-01 also its districts); or, with
    /// a date before 2025-07-01, the 3-digit code of a district: its communes.
    #[param(example = "282")]
    pub parent: Option<String>,
    /// Search in names, ignoring case and diacritics (`ia grai` finds `Xã Ia Grai`).
    #[param(example = "dai hung")]
    pub q: Option<String>,
    /// The units in force on this date (default today): before 2025-07-01, the units retired by
    /// the 2025 reform, with their district and province of the time.
    #[param(example = "2025-06-30")]
    pub as_of: Option<NaiveDate>,
    /// Page size, 1 to 500.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelParam {
    Province,
    District,
    Commune,
}

impl LevelParam {
    fn as_str(self) -> &'static str {
        match self {
            LevelParam::Province => UnitLevel::Province.as_str(),
            LevelParam::District => "district",
            LevelParam::Commune => UnitLevel::Commune.as_str(),
        }
    }
}

/// A unit named by code and name only.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnitRef {
    pub code: String,
    pub name: String,
}

/// An administrative unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unit {
    /// 2 digits for a province, 5 for a commune (3 for a district before 2025-07-01).
    #[schema(example = "23764")]
    pub code: String,
    #[schema(example = "Xã Ia Grai")]
    pub name: String,
    /// `tỉnh`, `thành phố trung ương`, `xã`, `phường` or `đặc khu`; before 2025-07-01 also
    /// `huyện`, `quận`, `thị xã`, `thành phố`, `thị trấn`.
    pub division_type: String,
    /// `province` or `commune`; `district` for a district in force until 2025-06-30.
    pub level: String,
    /// The province of a commune; for a retired commune its district, for a retired district its
    /// province.
    pub parent_code: Option<String>,
    /// When the unit took effect; null for a retired unit (the conversion table gives only its
    /// end).
    pub valid_from: Option<NaiveDate>,
    /// The last day the unit was in force (2025-06-30 for a retired unit); null while in force.
    pub valid_to: Option<NaiveDate>,
    /// A retired commune's district of the time (absent for a unit in force).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub district: Option<UnitRef>,
    /// A retired commune's or district's province of the time (absent for a unit in force).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub province: Option<UnitRef>,
}

impl From<UnitRow> for Unit {
    fn from(r: UnitRow) -> Self {
        Unit {
            code: r.code,
            name: r.name,
            division_type: r.division_type,
            level: r.level,
            parent_code: r.parent_code,
            valid_from: Some(r.valid_from),
            valid_to: r.valid_to,
            district: None,
            province: None,
        }
    }
}

/// Retired units as API units, with the names of their district and province of the time.
fn retired_units(
    conn: &mut DbConnection,
    rows: Vec<RetiredUnitRow>,
) -> Result<Vec<Unit>, ServiceError> {
    let mut parents: Vec<String> = rows
        .iter()
        .flat_map(|r| [r.district_code.clone(), r.province_code.clone()])
        .flatten()
        .collect();
    parents.sort();
    parents.dedup();
    let names: std::collections::HashMap<(String, String), String> =
        lineage_repo::get_many(conn, &parents)?
            .into_iter()
            .map(|r| ((r.level, r.code), r.name))
            .collect();
    let reference = |level: &str, code: &Option<String>| {
        code.as_ref().map(|c| UnitRef {
            code: c.clone(),
            name: names
                .get(&(level.to_owned(), c.clone()))
                .cloned()
                .unwrap_or_default(),
        })
    };
    Ok(rows
        .into_iter()
        .map(|r| Unit {
            district: reference("district", &r.district_code),
            province: reference("province", &r.province_code),
            parent_code: r.district_code.clone().or_else(|| r.province_code.clone()),
            code: r.code,
            name: r.name,
            division_type: r.division_type,
            level: r.level,
            valid_from: None,
            valid_to: Some(r.valid_to),
        })
        .collect())
}

fn retired_unit(conn: &mut DbConnection, row: RetiredUnitRow) -> Result<Unit, ServiceError> {
    retired_units(conn, vec![row])?
        .pop()
        .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("a retired unit vanished")))
}

/// Whether a date falls before the 2025 reform (the retired units answer for it).
fn before_reform(date: NaiveDate) -> bool {
    date < crate::seed::two_tier_start()
}

/// A unit code of any level and time: 2 digits (province), 3 (district, until 2025-06-30) or 5
/// (commune).
fn parse_code(raw: &str) -> Result<String, ApiError> {
    let s = raw.trim();
    if s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(s.to_owned());
    }
    UnitCode::parse(s)
        .map(|c| c.as_str().to_owned())
        .map_err(|_| {
            ApiError::validation_one(
                "code",
                format!(
                    "`{}` is not a unit code (2 digits for a province, 3 for a district before 2025-07-01, 5 for a commune, zero-padded)",
                    s.chars().take(20).collect::<String>()
                ),
            )
        })
}

/// The other unit that carries the same code, on the other side of the 2025 reform.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitLink {
    pub code: String,
    pub name: String,
    pub level: String,
    pub valid_from: Option<NaiveDate>,
    pub valid_to: Option<NaiveDate>,
    /// Where it answers, with a date of its validity.
    #[schema(example = "/api/v1/units/10441?as_of=2025-06-30")]
    pub href: String,
}

fn link_to(unit: &Unit) -> UnitLink {
    let date = unit.valid_to.unwrap_or_else(crate::seed::two_tier_start);
    UnitLink {
        code: unit.code.clone(),
        name: unit.name.clone(),
        level: unit.level.clone(),
        valid_from: unit.valid_from,
        valid_to: unit.valid_to,
        href: format!("/api/v1/units/{}?as_of={date}", unit.code),
    }
}

/// The unit a code means on a date, and the unit that carries the code on the other side of the
/// reform, if any.
fn resolve(
    conn: &mut DbConnection,
    code: &str,
    date: NaiveDate,
) -> Result<(Unit, Option<Unit>), ServiceError> {
    let current = match code.len() {
        3 => None,
        _ => units::get(conn, code)?.map(Unit::from),
    };
    let retired = match lineage_repo::get_by_code(conn, code)? {
        Some(row) => Some(retired_unit(conn, row)?),
        None => None,
    };
    let (this, other) = if before_reform(date) {
        (retired, current)
    } else {
        (current, retired)
    };
    match this {
        Some(unit) => Ok((unit, other)),
        None => Err(ServiceError::NotFound(match other {
            Some(o) => format!(
                "no unit {code} in force on {date}; {} had that code (see {})",
                o.name,
                link_to(&o).href
            ),
            None => format!("no unit {code}"),
        })),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UnitPage {
    pub items: Vec<Unit>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A unit with its parent and, for a province, the number of its communes.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitDetail {
    #[serde(flatten)]
    pub unit: Unit,
    pub parent: Option<Unit>,
    /// For a province: how many communes it has.
    pub commune_count: Option<i64>,
    /// The unit that carries the same code on the other side of the 2025 reform (a reused code
    /// names two units: `as_of` chooses); absent when the code names one unit only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_code: Option<UnitLink>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// The unit in force on this date (default today).
    #[param(example = "2025-06-30")]
    pub as_of: Option<NaiveDate>,
}

/// How a unit went into another in the 2025 reform.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineageLink {
    /// The predecessor (of a unit of today) or the successor (of a retired unit).
    pub unit: Unit,
    /// `whole`, `part` (of its territory or population), `unchanged`, or `renamed_type` (whole,
    /// under a new name or type).
    #[schema(example = "whole")]
    pub relation: String,
    /// The conversion table's note, as published (white space folded).
    #[schema(example = "Nhập toàn bộ")]
    pub note: String,
    /// The legal basis: the Standing Committee's 2025 resolution for the new province.
    #[schema(
        example = "Nghị quyết 1656/NQ-UBTVQH15 ngày 16/6/2025 của Ủy ban Thường vụ Quốc hội về việc sắp xếp các đơn vị hành chính cấp xã của Thành phố Hà Nội năm 2025"
    )]
    pub basis: String,
    /// Line of the conversion table the edge comes from.
    pub source_line: i32,
    /// SHA-256 of the conversion table the edge was loaded from.
    pub source_sha256: String,
}

/// A unit's lineage across the 2025 reform.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitLineage {
    pub unit: Unit,
    /// `predecessors` for a unit of today, `successors` for a retired one.
    #[schema(example = "predecessors")]
    pub direction: String,
    pub items: Vec<LineageLink>,
}

/// List units: provinces, or the communes of a province, with name search.
#[utoipa::path(
    tag = "units",
    params(UnitQuery),
    responses(
        (status = 200, body = UnitPage),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query values", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/units")]
pub async fn list_units(
    db: web::Data<Db>,
    query: web::Query<UnitQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let parent = match query.parent.as_deref().map(str::trim) {
        None => None,
        Some(p) if p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.to_owned()),
        Some(p) => Some(
            UnitCode::province(p)
                .map_err(|e| ApiError::validation_one("parent", e.0))?
                .as_str()
                .to_owned(),
        ),
    };
    let date = super::as_of(query.as_of)?;
    let q = search_key(query.q.as_deref())?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let level = query.level.map(|l| l.as_str().to_owned());
    let mut items = if before_reform(date) {
        let filter = RetiredFilter {
            level,
            parent,
            q,
            after,
            limit: limit + 1,
        };
        db.run(move |conn| -> Result<_, ServiceError> {
            let rows = lineage_repo::list(conn, &filter)?;
            retired_units(conn, rows)
        })
        .await?
    } else if level.as_deref() == Some("district") {
        // Districts were abolished on 2025-07-01.
        Vec::new()
    } else {
        let filter = UnitFilter {
            level,
            parent,
            q,
            after,
            limit: limit + 1,
        };
        db.run(move |conn| units::list(conn, &filter).map_err(ApiError::from))
            .await?
            .into_iter()
            .filter(|r| r.valid_from <= date)
            .map(Unit::from)
            .collect()
    };
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|r| encode_cursor(&r.code))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(UnitPage { items, next_cursor }))
}

/// One unit by code: the unit in force on `as_of` (default today).
#[utoipa::path(
    tag = "units",
    params(
        ("code" = String, Path, description = "Unit code: 2 digits (province), 5 (commune), or 3 (district, before 2025-07-01)", example = "23764"),
        AsOfQuery,
    ),
    responses(
        (status = 200, body = UnitDetail),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No unit of that code in force on that date", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a unit code, or a date out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/units/{code}")]
pub async fn get_unit(
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = parse_code(&path.into_inner())?;
    let date = super::as_of(query.into_inner().as_of)?;
    let detail = db
        .run(move |conn| -> Result<_, ServiceError> {
            let (unit, other) = resolve(conn, &code, date)?;
            let parent = match (&unit.parent_code, before_reform(date)) {
                (Some(p), false) => units::get(conn, p)?.map(Unit::from),
                (Some(p), true) => match lineage_repo::get_by_code(conn, p)? {
                    Some(row) => Some(retired_unit(conn, row)?),
                    None => None,
                },
                (None, _) => None,
            };
            let commune_count = match (unit.level.as_str(), before_reform(date)) {
                ("province", false) => Some(units::count_children(conn, &unit.code)?),
                _ => None,
            };
            Ok(UnitDetail {
                same_code: other.as_ref().map(link_to),
                unit,
                parent,
                commune_count,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// A unit's lineage across the 2025 reform: for a unit of today, the retired units it was made
/// from; for a retired unit (`as_of` before 2025-07-01), the units of today it went to. Each with
/// its relation (`whole`, `part`, `unchanged`, `renamed_type`) and legal basis.
#[utoipa::path(
    tag = "units",
    params(
        ("code" = String, Path, description = "Unit code: 2 digits (province), 5 (commune), or 3 (district, before 2025-07-01)", example = "10441"),
        AsOfQuery,
    ),
    responses(
        (status = 200, body = UnitLineage),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No unit of that code in force on that date", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a unit code, or a date out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/units/{code}/lineage")]
pub async fn get_unit_lineage(
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = parse_code(&path.into_inner())?;
    let date = super::as_of(query.into_inner().as_of)?;
    let lineage = db
        .run(move |conn| -> Result<_, ServiceError> {
            let (unit, _) = resolve(conn, &code, date)?;
            let link = |unit: Unit, e: EdgeRow| LineageLink {
                unit,
                relation: e.relation,
                note: e.note,
                basis: e.basis,
                source_line: e.source_line,
                source_sha256: e.source_sha256,
            };
            let (direction, items) = if before_reform(date) {
                let edges = lineage_repo::successors(conn, &unit.level, &unit.code)?;
                let mut items = Vec::with_capacity(edges.len());
                for e in edges {
                    let Some(next) = units::get(conn, &e.new_code)? else {
                        continue;
                    };
                    items.push(link(next.into(), e));
                }
                ("successors", items)
            } else {
                let edges = lineage_repo::predecessors(conn, &unit.code)?;
                let rows = edges
                    .iter()
                    .map(|e| lineage_repo::get(conn, &e.old_level, &e.old_code))
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .flatten()
                    .collect();
                let olds = retired_units(conn, rows)?;
                let items = olds
                    .into_iter()
                    .zip(edges)
                    .map(|(old, e)| link(old, e))
                    .collect();
                ("predecessors", items)
            };
            Ok(UnitLineage {
                unit,
                direction: direction.to_owned(),
                items,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(lineage))
}
