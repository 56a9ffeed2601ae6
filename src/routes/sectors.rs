//! Sectors (lĩnh vực), with how many procedures each has in force.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::{decode_cursor, encode_cursor, page_limit};
use crate::auth::{Caller, Editors};
use crate::cache::ReportCache;
use crate::db::Db;
use crate::domain::catalogue::{Level, levels_from_db};
use crate::domain::text;
use crate::error::{ApiError, Problem};
use crate::repo::catalogue as catalogue_repo;
use crate::repo::sectors;
use crate::services::ServiceError;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SectorQuery {
    /// Count procedures in force on this date (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// Count with this province's own versions applied.
    #[param(example = "01")]
    pub province: Option<String>,
    /// Count only procedures carried out at this level.
    pub level: Option<Level>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Sector {
    #[schema(example = "ho-tich")]
    pub code: String,
    #[schema(example = "Hộ tịch")]
    pub name: String,
    /// Procedures of this sector in force on the date asked (after the level filter).
    pub procedures_in_force: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SectorPage {
    pub items: Vec<Sector>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SectorDetail {
    #[schema(example = "ho-tich")]
    pub code: String,
    #[schema(example = "Hộ tịch")]
    pub name: String,
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    pub procedures_in_force: i64,
    /// In-force procedures per level (a procedure with several levels counts in each).
    pub by_level: BTreeMap<String, i64>,
}

/// List sectors with their number of procedures in force.
#[utoipa::path(
    tag = "catalogue",
    params(SectorQuery),
    responses(
        (status = 200, body = SectorPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/sectors")]
pub async fn list_sectors(
    req: HttpRequest,
    db: web::Data<Db>,
    query: web::Query<SectorQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)? as usize;
    let province = super::province_query(query.province.as_deref())?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let date = super::as_of(query.as_of)?;
    let level = query.level;
    let (all, versions) = db
        .run(move |conn| -> Result<_, ServiceError> {
            super::check_province(conn, province.as_deref())?;
            Ok((
                sectors::list(conn)?,
                catalogue_repo::applicable_summaries(conn, date, province.as_deref())?,
            ))
        })
        .await?;
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for v in versions.iter().filter(|v| !v.abolished) {
        if level.is_none_or(|l| levels_from_db(&v.levels).contains(&l)) {
            *counts.entry(v.sector_code.clone()).or_default() += 1;
        }
    }
    let mut items: Vec<Sector> = all
        .into_iter()
        .filter(|s| after.as_ref().is_none_or(|a| s.code.as_str() > a.as_str()))
        .map(|s| Sector {
            procedures_in_force: counts.get(&s.code).copied().unwrap_or(0),
            code: s.code,
            name: s.name,
        })
        .take(limit + 1)
        .collect();
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|s| encode_cursor(&s.code))
    } else {
        None
    };
    super::fresh::hashed_json(&req, &SectorPage { items, next_cursor }, query.as_of)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SectorDetailQuery {
    /// Count procedures in force on this date (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
    /// Count with this province's own versions applied.
    #[param(example = "01")]
    pub province: Option<String>,
}

/// One sector, with its in-force procedures counted by level.
#[utoipa::path(
    tag = "catalogue",
    params(("code" = String, Path, example = "ho-tich"), SectorDetailQuery),
    responses(
        (status = 200, body = SectorDetail),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/sectors/{code}")]
pub async fn get_sector(
    req: HttpRequest,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<SectorDetailQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = path.into_inner();
    let query = query.into_inner();
    let province = super::province_query(query.province.as_deref())?;
    let date = super::as_of(query.as_of)?;
    let (sector, versions) = db
        .run(move |conn| -> Result<_, ServiceError> {
            super::check_province(conn, province.as_deref())?;
            let sector = sectors::get(conn, &code)?
                .ok_or_else(|| ServiceError::NotFound(format!("no sector `{code}`")))?;
            Ok((
                sector,
                catalogue_repo::applicable_summaries(conn, date, province.as_deref())?,
            ))
        })
        .await?;
    let mut by_level: BTreeMap<String, i64> = Level::ALL
        .iter()
        .map(|l| (l.as_str().to_owned(), 0))
        .collect();
    let mut total = 0;
    for v in versions
        .iter()
        .filter(|v| !v.abolished && v.sector_code == sector.code)
    {
        total += 1;
        for level in levels_from_db(&v.levels) {
            *by_level.entry(level.as_str().to_owned()).or_default() += 1;
        }
    }
    let detail = SectorDetail {
        code: sector.code,
        name: sector.name,
        as_of: date,
        procedures_in_force: total,
        by_level,
    };
    super::fresh::hashed_json(&req, &detail, query.as_of)
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSector {
    /// The sector's name as decisions write it.
    #[validate(length(min = 1, max = 300))]
    #[schema(example = "Hộ tịch", min_length = 1, max_length = 300)]
    pub name: String,
}

/// Create a sector (editor, admin). Its code is derived from the name (`Hộ tịch` → `ho-tich`).
#[utoipa::path(
    tag = "catalogue",
    request_body = NewSector,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Sector, headers(("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A sector with that name exists", body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/sectors")]
pub async fn create_sector(
    identity: Caller<Editors>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    body: web::Json<NewSector>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    body.validate()?;
    let name = text::nfc(&body.name);
    if name.is_empty() || text::has_control(&name) {
        return Err(ApiError::validation_one(
            "name",
            "must be non-blank text without control characters",
        ));
    }
    let actor = super::actor(identity, &req);
    let committed = db
        .run(move |conn| crate::services::sectors::create_sector(conn, name, &actor))
        .await?;
    let row = cache.publish(committed);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/sectors/{}", row.code)))
        .json(Sector {
            code: row.code,
            name: row.name,
            procedures_in_force: 0,
        }))
}
