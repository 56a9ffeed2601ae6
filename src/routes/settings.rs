//! Exemptions, public holidays and province settings: the data the deadlines and the required
//! set depend on. Written by admins only.

use std::collections::BTreeSet;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, post, put, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::postings::commune_code;
use super::{actor, if_match};
use crate::auth::{Admins, Caller, CommuneReaders};
use crate::cache::ReportCache;
use crate::db::Db;
use crate::domain::codes::{ProcedureCode, UnitCode};
use crate::domain::gaps::{PostingChannel, ProvinceRules};
use crate::domain::text;
use crate::error::{ApiError, FieldError, Problem};
use crate::repo::postings::{self as repo, ExemptionRow, HolidayRow};
use crate::services::ServiceError;
use crate::services::reports::commune_and_province;
use crate::services::settings::{
    self as service, exemption_etag, exemptions_etag, holidays_etag, settings_etag,
};

/// A procedure a commune need not post.
#[derive(Debug, Serialize, ToSchema)]
pub struct Exemption {
    #[schema(example = "0196d4a2-4e2d-7f3a-8c1b-2a3b4c5d6e7f")]
    pub id: String,
    #[schema(example = "26740")]
    pub commune: String,
    #[schema(example = "1.000080")]
    pub procedure_code: String,
    pub reason: String,
    #[schema(example = "2026-07-01")]
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub created_by: String,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl From<ExemptionRow> for Exemption {
    fn from(r: ExemptionRow) -> Self {
        Exemption {
            id: r.id,
            commune: r.unit_code,
            procedure_code: r.procedure_code,
            reason: r.reason,
            valid_from: r.valid_from,
            valid_to: r.valid_to,
            created_by: r.created_by,
            created_at: r.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExemptionList {
    #[schema(example = "26740")]
    pub commune: String,
    pub items: Vec<Exemption>,
}

/// The commune's exemptions (whoever may read its report).
#[utoipa::path(
    tag = "settings",
    params(("code" = String, Path, description = "Commune code", example = "23764")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ExemptionList, headers(("ETag" = String, description = "Of the commune's exemptions"))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communes/{code}/exemptions")]
pub async fn list_exemptions(
    identity: Caller<CommuneReaders>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = commune_code(&path.into_inner())?;
    let unit = code.as_str().to_owned();
    let rows = db
        .run(move |conn| -> Result<_, ServiceError> {
            let (_, province) = commune_and_province(conn, &unit)?;
            identity.require_commune_read(&unit, &province.code)?;
            Ok(repo::exemptions_for_unit(conn, &unit)?)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, exemptions_etag(&rows)))
        .json(ExemptionList {
            commune: code.to_string(),
            items: rows.into_iter().map(Exemption::from).collect(),
        }))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExemption {
    #[schema(example = "1.000080")]
    pub procedure_code: String,
    /// Why the commune need not post it.
    #[validate(length(min = 1, max = 1000))]
    #[schema(
        example = "Xã không thuộc khu vực biên giới",
        min_length = 1,
        max_length = 1000
    )]
    pub reason: String,
    #[schema(example = "2026-07-01")]
    pub valid_from: NaiveDate,
    /// Exclusive end; absent for open-ended.
    pub valid_to: Option<NaiveDate>,
}

/// One exemption (whoever may read the commune's report).
#[utoipa::path(
    tag = "settings",
    params(("code" = String, Path, description = "Commune code", example = "26740"), ("id" = String, Path, description = "Exemption id", example = "0196d4a2-4e2d-7f3a-8c1b-2a3b4c5d6e7f")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Exemption, headers(("ETag" = String))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communes/{code}/exemptions/{id}")]
pub async fn get_exemption(
    identity: Caller<CommuneReaders>,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (code, id) = path.into_inner();
    let code = commune_code(&code)?;
    super::check_id(&id, "exemption")?;
    let unit = code.as_str().to_owned();
    let row = db
        .run(move |conn| -> Result<_, ServiceError> {
            let (_, province) = commune_and_province(conn, &unit)?;
            identity.require_commune_read(&unit, &province.code)?;
            repo::get_exemption(conn, &unit, &id)?.ok_or_else(|| {
                ServiceError::NotFound(format!("commune {unit} has no exemption {id}"))
            })
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, exemption_etag(&row)))
        .json(Exemption::from(row)))
}

/// Exempt a commune from a procedure (admin). With `If-Match`, only if the commune's exemptions
/// are still those read (the list's `ETag`).
#[utoipa::path(
    tag = "settings",
    params(("code" = String, Path, description = "Commune code", example = "23764"),
           ("If-Match" = Option<String>, Header, description = "ETag of the commune's exemptions read before")),
    request_body = NewExemption,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Exemption, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An overlapping exemption exists", body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/communes/{code}/exemptions")]
pub async fn create_exemption(
    identity: Caller<Admins>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    body: web::Json<NewExemption>,
) -> Result<HttpResponse, ApiError> {
    let code = commune_code(&path.into_inner())?;
    let body = body.into_inner();
    let mut errors = Vec::new();
    if let Err(e) = body.validate()
        && let ApiError::Validation(list) = ApiError::from(e)
    {
        errors.extend(list);
    }
    let procedure = ProcedureCode::parse(&body.procedure_code)
        .map_err(|e| errors.push(FieldError::new("procedure_code", e.0)))
        .ok();
    let reason = text::nfc(&body.reason);
    if reason.is_empty() || text::has_control(&reason) {
        errors.push(FieldError::new(
            "reason",
            "must be non-blank text without control characters",
        ));
    }
    for (field, date) in [
        ("valid_from", Some(body.valid_from)),
        ("valid_to", body.valid_to),
    ] {
        if date.is_some_and(|d| !crate::domain::calendar::date_in_range(d)) {
            errors.push(FieldError::new(
                field,
                "must be between 1900-01-01 and 2199-12-31",
            ));
        }
    }
    if body.valid_to.is_some_and(|to| to <= body.valid_from) {
        errors.push(FieldError::new("valid_to", "must be after valid_from"));
    }
    let procedure = match procedure {
        Some(p) if errors.is_empty() => p,
        _ => return Err(ApiError::Validation(errors)),
    };
    let unit = code.as_str().to_owned();
    let actor = actor(identity, &req);
    let if_match = if_match(&req);
    let new = service::NewExemption {
        procedure,
        reason,
        valid_from: body.valid_from,
        valid_to: body.valid_to,
    };
    let committed = db
        .run(move |conn| -> Result<_, ServiceError> {
            commune_and_province(conn, &unit)?;
            service::create_exemption(conn, &unit, new, (&actor, if_match.as_deref()))
        })
        .await?;
    let row = cache.publish(committed);
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/communes/{}/exemptions/{}", row.unit_code, row.id),
        ))
        .insert_header((header::ETAG, exemption_etag(&row)))
        .json(Exemption::from(row)))
}

/// Remove an exemption (admin). With `If-Match`, only if it is still the one read.
#[utoipa::path(
    tag = "settings",
    params(("code" = String, Path, description = "Commune code", example = "26740"), ("id" = String, Path, description = "Exemption id", example = "0196d4a2-4e2d-7f3a-8c1b-2a3b4c5d6e7f"),
           ("If-Match" = Option<String>, Header, description = "ETag of the exemption read before")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/communes/{code}/exemptions/{id}")]
pub async fn delete_exemption(
    identity: Caller<Admins>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (code, id) = path.into_inner();
    super::check_id(&id, "exemption")?;
    let code = commune_code(&code)?;
    let unit = code.as_str().to_owned();
    let actor = actor(identity, &req);
    let if_match = if_match(&req);
    let committed = db
        .run(move |conn| service::delete_exemption(conn, &unit, &id, (&actor, if_match.as_deref())))
        .await?;
    cache.publish(committed);
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holiday {
    #[schema(example = "2026-09-02")]
    pub day: NaiveDate,
    #[schema(example = "Quốc khánh", min_length = 1, max_length = 200)]
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Holidays {
    /// Days off besides Saturdays and Sundays, in date order.
    #[schema(max_items = 2000)]
    pub holidays: Vec<Holiday>,
}

fn holidays_view(rows: Vec<HolidayRow>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, holidays_etag(&rows)))
        .json(Holidays {
            holidays: rows
                .into_iter()
                .map(|h| Holiday {
                    day: h.day,
                    name: h.name,
                })
                .collect(),
        })
}

/// The public holidays deadlines skip (public).
#[utoipa::path(
    tag = "settings",
    responses((status = 200, body = Holidays, headers(("ETag" = String))))
)]
#[get("/calendar/holidays")]
pub async fn get_holidays(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let rows = db
        .run(|conn| repo::holidays(conn).map_err(ApiError::from))
        .await?;
    Ok(holidays_view(rows))
}

/// Replace the holiday table (admin).
#[utoipa::path(
    tag = "settings",
    params(("If-Match" = Option<String>, Header, description = "ETag of the table read before")),
    request_body = Holidays,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Holidays, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/calendar/holidays")]
pub async fn put_holidays(
    identity: Caller<Admins>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    body: web::Json<Holidays>,
) -> Result<HttpResponse, ApiError> {
    let mut errors = Vec::new();
    let mut days = BTreeSet::new();
    let mut rows = Vec::new();
    if body.holidays.len() > 2000 {
        errors.push(FieldError::new("holidays", "at most 2000 days"));
    }
    for (i, h) in body.into_inner().holidays.into_iter().enumerate() {
        if !crate::domain::calendar::date_in_range(h.day) {
            errors.push(FieldError::new(
                format!("holidays[{i}].day"),
                "must be between 1900-01-01 and 2199-12-31",
            ));
        }
        let name = text::nfc(&h.name);
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            errors.push(FieldError::new(
                format!("holidays[{i}].name"),
                "must be 1 to 200 characters of text",
            ));
        }
        if !days.insert(h.day) {
            errors.push(FieldError::new(
                format!("holidays[{i}].day"),
                format!("{} appears twice", h.day),
            ));
        }
        rows.push(HolidayRow { day: h.day, name });
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    rows.sort_by_key(|h| h.day);
    let actor = actor(identity, &req);
    let if_match = if_match(&req);
    let committed = db
        .run(move |conn| service::replace_holidays(conn, rows, (&actor, if_match.as_deref())))
        .await?;
    Ok(holidays_view(cache.publish(committed)))
}

/// A province's posting rules.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProvinceSettings {
    /// Working days a commune has to post a change (default 5).
    #[schema(minimum = 0, maximum = 365, example = 5)]
    pub deadline_working_days: u32,
    /// Channels every commune must post on (default both).
    #[schema(min_items = 1, max_items = 2)]
    pub required_channels: Vec<PostingChannel>,
}

impl From<ProvinceRules> for ProvinceSettings {
    fn from(r: ProvinceRules) -> Self {
        ProvinceSettings {
            deadline_working_days: r.deadline_working_days,
            required_channels: r.required_channels,
        }
    }
}

fn settings_view(rules: ProvinceRules) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, settings_etag(&rules)))
        .json(ProvinceSettings::from(rules))
}

fn province_param(raw: String) -> Result<UnitCode, ApiError> {
    UnitCode::province(&raw).map_err(|e| ApiError::validation_one("code", e.0))
}

/// A province's settings, or the defaults (public).
#[utoipa::path(
    tag = "settings",
    params(("code" = String, Path, description = "Province code", example = "79")),
    responses(
        (status = 200, body = ProvinceSettings, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/provinces/{code}/settings")]
pub async fn get_province_settings(
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let code = province_param(path.into_inner())?;
    let province = code.as_str().to_owned();
    let rules = db
        .run(move |conn| service::province_rules(conn, &province))
        .await?;
    Ok(settings_view(rules))
}

/// Change a province's settings (admin).
#[utoipa::path(
    tag = "settings",
    params(("code" = String, Path, description = "Province code", example = "79"),
           ("If-Match" = Option<String>, Header, description = "ETag of the settings read before")),
    request_body = ProvinceSettings,
    security(("bearer" = [])),
    responses(
        (status = 200, body = ProvinceSettings, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/provinces/{code}/settings")]
pub async fn put_province_settings(
    identity: Caller<Admins>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    body: web::Json<ProvinceSettings>,
) -> Result<HttpResponse, ApiError> {
    let code = province_param(path.into_inner())?;
    let mut body = body.into_inner();
    let mut errors = Vec::new();
    if body.deadline_working_days > 365 {
        errors.push(FieldError::new(
            "deadline_working_days",
            "must be between 0 and 365",
        ));
    }
    body.required_channels = service::normalise_channels(body.required_channels);
    if body.required_channels.is_empty() {
        errors.push(FieldError::new(
            "required_channels",
            "must name at least one channel",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let province = code.as_str().to_owned();
    let actor = actor(identity, &req);
    let if_match = if_match(&req);
    let rules = ProvinceRules {
        deadline_working_days: body.deadline_working_days,
        required_channels: body.required_channels,
        // Not part of these settings: see the province's posting places.
        posting_places: Vec::new(),
    };
    let committed = db
        .run(move |conn| -> Result<_, ServiceError> {
            service::save_province_rules(conn, &province, rules, (&actor, if_match.as_deref()))
        })
        .await?;
    Ok(settings_view(cache.publish(committed)))
}
