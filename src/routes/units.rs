//! Administrative units: provinces and communes.

use actix_web::{HttpResponse, get, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{decode_cursor, encode_cursor, page_limit, search_key};
use crate::db::Db;
use crate::domain::codes::{UnitCode, UnitLevel};
use crate::error::{ApiError, Problem};
use crate::repo::units::{self, UnitFilter, UnitRow};
use crate::services::ServiceError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnitQuery {
    /// `province` or `commune`.
    #[param(inline)]
    pub level: Option<LevelParam>,
    /// Code of the parent province: its communes.
    pub parent: Option<String>,
    /// Search in names, ignoring case and diacritics (`ia grai` finds `Xã Ia Grai`).
    pub q: Option<String>,
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
    Commune,
}

/// An administrative unit.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unit {
    /// 2 digits for a province, 5 for a commune.
    #[schema(example = "23764")]
    pub code: String,
    #[schema(example = "Xã Ia Grai")]
    pub name: String,
    /// `tỉnh`, `thành phố trung ương`, `xã`, `phường` or `đặc khu`.
    pub division_type: String,
    /// `province` or `commune`.
    pub level: String,
    /// The province of a commune.
    pub parent_code: Option<String>,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl From<UnitRow> for Unit {
    fn from(r: UnitRow) -> Self {
        Unit {
            code: r.code,
            name: r.name,
            division_type: r.division_type,
            level: r.level,
            parent_code: r.parent_code,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
        }
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
    let parent = query
        .parent
        .as_deref()
        .map(UnitCode::province)
        .transpose()
        .map_err(|e| ApiError::validation_one("parent", e.0))?;
    let filter = UnitFilter {
        level: query.level.map(|l| match l {
            LevelParam::Province => UnitLevel::Province.as_str().to_owned(),
            LevelParam::Commune => UnitLevel::Commune.as_str().to_owned(),
        }),
        parent: parent.map(|p| p.as_str().to_owned()),
        q: search_key(query.q.as_deref())?,
        after: query.cursor.as_deref().map(decode_cursor).transpose()?,
        limit: limit + 1,
    };
    let mut rows = db
        .run(move |conn| units::list(conn, &filter).map_err(ApiError::from))
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(&r.code))
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(UnitPage {
        items: rows.into_iter().map(Unit::from).collect(),
        next_cursor,
    }))
}

/// One unit by code.
#[utoipa::path(
    tag = "units",
    params(("code" = String, Path, description = "Unit code: 2 digits (province) or 5 (commune)", example = "23764")),
    responses(
        (status = 200, body = UnitDetail),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a unit code", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/units/{code}")]
pub async fn get_unit(
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code =
        UnitCode::parse(&path.into_inner()).map_err(|e| ApiError::validation_one("code", e.0))?;
    let detail = db
        .run(move |conn| -> Result<_, ServiceError> {
            let unit = units::get(conn, code.as_str())?
                .ok_or_else(|| ServiceError::NotFound(format!("no unit {code}")))?;
            let parent = match &unit.parent_code {
                Some(p) => units::get(conn, p)?,
                None => None,
            };
            let commune_count = match unit.level.as_str() {
                "province" => Some(units::count_children(conn, &unit.code)?),
                _ => None,
            };
            Ok(UnitDetail {
                unit: unit.into(),
                parent: parent.map(Unit::from),
                commune_count,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}
