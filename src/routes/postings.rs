//! What a commune office has posted, at its counter and on its web page.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, put, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::{actor, if_match};
use crate::auth::{Caller, CommuneReaders, CommuneWriters, Identity};
use crate::cache::ReportCache;
use crate::db::Db;
use crate::domain::codes::{ProcedureCode, UnitCode, UnitLevel};
use crate::domain::gaps::PostingChannel;
use crate::domain::text;
use crate::error::{ApiError, FieldError, Problem};
use crate::repo::postings::{self as repo, PostingRow};
use crate::services::ServiceError;
use crate::services::postings::{
    PostingChanges, PostingInput, inventory_etag, put_posting as put_one, remove_posting,
    replace_inventory,
};
use crate::services::reports::commune_and_province;

/// A posting as recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct Posting {
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    pub channel: PostingChannel,
    /// The announcing decision as written on the posting.
    #[schema(example = "1234/QĐ-BTP")]
    pub decision: String,
    #[schema(example = "2026-07-03")]
    pub posted_on: NaiveDate,
    /// When it was taken down (`null` while it is up).
    pub removed_on: Option<NaiveDate>,
    #[schema(example = "https://phuongsaigon.hochiminhcity.gov.vn/thu-tuc-hanh-chinh")]
    pub evidence_url: Option<String>,
    pub photo_ref: Option<String>,
    pub note: Option<String>,
    pub recorded_by: String,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

impl From<PostingRow> for Posting {
    fn from(r: PostingRow) -> Self {
        Posting {
            channel: PostingChannel::parse(&r.channel).unwrap_or(PostingChannel::Counter),
            procedure_code: r.procedure_code,
            decision: r.decision_number,
            posted_on: r.posted_on,
            removed_on: r.removed_on,
            evidence_url: r.evidence_url,
            photo_ref: r.photo_ref,
            note: r.note,
            recorded_by: r.recorded_by,
            recorded_at: r.recorded_at.and_utc(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommunePostings {
    #[schema(example = "26740")]
    pub commune: String,
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    pub items: Vec<Posting>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    /// The date (default today).
    #[param(example = "2026-07-01")]
    pub as_of: Option<NaiveDate>,
}

pub fn commune_code(raw: &str) -> Result<UnitCode, ApiError> {
    match UnitCode::parse(raw) {
        Ok(code) if code.level() == UnitLevel::Commune => Ok(code),
        Ok(code) => Err(ApiError::validation_one(
            "code",
            format!("{code} is a province, not a commune"),
        )),
        Err(e) => Err(ApiError::validation_one("code", e.0)),
    }
}

pub fn today() -> NaiveDate {
    crate::domain::calendar::today_in_vietnam()
}

/// Authorizes access to a commune: its officer is checked at once; anyone else needs the
/// commune's province, read from the database (404 for an unknown commune).
async fn authorize(
    db: &Db,
    identity: &Identity,
    code: &UnitCode,
    write: bool,
) -> Result<(), ApiError> {
    if write {
        identity.require_commune_write(code.as_str())?;
    }
    if identity.role == crate::auth::Role::Officer {
        return Ok(identity.require_commune_read(code.as_str(), "")?);
    }
    let lookup = code.as_str().to_owned();
    let (_, province) = db
        .run(move |conn| commune_and_province(conn, &lookup))
        .await?;
    Ok(identity.require_commune_read(code.as_str(), &province.code)?)
}

/// The commune's postings on a date.
#[utoipa::path(
    tag = "postings",
    params(("code" = String, Path, description = "Commune code", example = "23764"), AsOfQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = CommunePostings, headers(("ETag" = String, description = "Of the current inventory"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/communes/{code}/postings")]
pub async fn list_postings(
    identity: Caller<CommuneReaders>,
    db: web::Data<Db>,
    path: web::Path<String>,
    query: web::Query<AsOfQuery>,
) -> Result<HttpResponse, ApiError> {
    let code = commune_code(&path.into_inner())?;
    authorize(&db, &identity, &code, false).await?;
    let as_of = super::as_of(query.as_of)?;
    let unit = code.as_str().to_owned();
    let (rows, open) = db
        .run(move |conn| -> Result<_, ServiceError> {
            commune_and_province(conn, &unit)?;
            Ok((
                repo::current_for_unit(conn, &unit, as_of)?,
                repo::open_for_unit(conn, &unit)?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, inventory_etag(&open)))
        .json(CommunePostings {
            commune: code.to_string(),
            as_of,
            items: rows.into_iter().map(Posting::from).collect(),
        }))
}

/// One posting in an inventory.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingLine {
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    /// `counter` or `portal`.
    #[schema(example = "counter")]
    pub channel: String,
    /// The announcing decision written on the posting, e.g. `163/QĐ-BTP`.
    #[validate(length(max = 100))]
    #[schema(example = "163/QĐ-BTP", min_length = 1, max_length = 100)]
    pub decision: String,
    /// `YYYY-MM-DD`, not in the future.
    #[schema(example = "2025-07-03")]
    pub posted_on: String,
    #[validate(url, length(max = 2000))]
    #[schema(
        example = "https://phuongsaigon.hochiminhcity.gov.vn/thu-tuc-hanh-chinh",
        max_length = 2000
    )]
    pub evidence_url: Option<String>,
    #[validate(length(max = 500))]
    #[schema(max_length = 500)]
    pub photo_ref: Option<String>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Everything the commune has posted now; what is absent is taken down.
    #[validate(length(max = 10000))]
    #[schema(max_items = 10000)]
    pub postings: Vec<PostingLine>,
}

fn optional_text(
    field: String,
    value: Option<String>,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let value = value.map(|v| text::nfc(&v)).filter(|v| !v.is_empty())?;
    if text::has_control(&value) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Some(value)
}

/// Checks one line; every problem goes to `errors` under `prefix`.
fn parse_line(
    prefix: &str,
    line: PostingLine,
    today: NaiveDate,
    errors: &mut Vec<FieldError>,
) -> Option<PostingInput> {
    let before = errors.len();
    if let Err(e) = line.validate()
        && let ApiError::Validation(list) = ApiError::from(e)
    {
        errors.extend(
            list.into_iter()
                .map(|f| FieldError::new(format!("{prefix}{}", f.field), f.message)),
        );
    }
    let code = ProcedureCode::parse(&line.procedure_code)
        .map_err(|e| errors.push(FieldError::new(format!("{prefix}procedure_code"), e.0)))
        .ok();
    let channel = PostingChannel::parse(line.channel.trim())
        .ok_or_else(|| {
            errors.push(FieldError::new(
                format!("{prefix}channel"),
                "must be `counter` or `portal`",
            ));
        })
        .ok();
    let posted_on = match line.posted_on.trim().parse::<NaiveDate>() {
        Ok(d) if d > today => {
            errors.push(FieldError::new(
                format!("{prefix}posted_on"),
                format!("{d} is in the future"),
            ));
            None
        }
        Ok(d) if d < NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default() => {
            errors.push(FieldError::new(
                format!("{prefix}posted_on"),
                "must be 2000-01-01 or later",
            ));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            errors.push(FieldError::new(
                format!("{prefix}posted_on"),
                "must be a date YYYY-MM-DD",
            ));
            None
        }
    };
    // One error per field: a length the validator refused already says what is wrong.
    let decision = text::nfc(&line.decision);
    let decision_field = format!("{prefix}decision");
    if !errors[before..].iter().any(|e| e.field == decision_field) {
        if decision.trim().is_empty() {
            errors.push(FieldError::new(
                decision_field,
                "must be the number of the announcing decision, e.g. `163/QĐ-BTP`",
            ));
        } else if decision.chars().any(char::is_control) {
            errors.push(FieldError::new(
                decision_field,
                "must not contain control characters",
            ));
        }
    }
    let evidence_url = optional_text(format!("{prefix}evidence_url"), line.evidence_url, errors);
    if evidence_url
        .as_deref()
        .is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://")))
    {
        errors.push(FieldError::new(
            format!("{prefix}evidence_url"),
            "must be an http or https URL",
        ));
    }
    let photo_ref = optional_text(format!("{prefix}photo_ref"), line.photo_ref, errors);
    let note = optional_text(format!("{prefix}note"), line.note, errors);
    if errors.len() > before {
        return None;
    }
    Some(PostingInput {
        code: code?,
        channel: channel?,
        decision,
        posted_on: posted_on?,
        evidence_url,
        photo_ref,
        note,
    })
}

/// Replace the commune's whole inventory (its officer, admin). Idempotent: the same body twice
/// changes nothing the second time (`changed: false`). A posting of an unknown code, or naming a
/// decision that announced no version of the procedure, is recorded and listed in `warnings`; it
/// shows in the report. Invalid lines are all listed in a 422 and nothing is written.
#[utoipa::path(
    tag = "postings",
    params(("code" = String, Path, description = "Commune code", example = "23764"),
           ("If-Match" = Option<String>, Header, description = "ETag of the inventory read before")),
    request_body = Inventory,
    security(("bearer" = [])),
    responses(
        (status = 200, body = PostingChanges, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/communes/{code}/postings")]
pub async fn put_postings(
    identity: Caller<CommuneWriters>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<String>,
    body: web::Json<Inventory>,
) -> Result<HttpResponse, ApiError> {
    let code = commune_code(&path.into_inner())?;
    authorize(&db, &identity, &code, true).await?;
    let body = body.into_inner();
    let today = today();
    let mut errors = Vec::new();
    if body.postings.len() > 10_000 {
        errors.push(FieldError::new("postings", "at most 10000 postings"));
    }
    let mut inputs = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for (i, line) in body.postings.into_iter().enumerate() {
        if let Some(input) = parse_line(&format!("postings[{i}]."), line, today, &mut errors) {
            let key = (input.code.clone(), input.channel);
            if let Some(first) = seen.insert(key, i) {
                errors.push(FieldError::new(
                    format!("postings[{i}]"),
                    format!("the same procedure and channel as postings[{first}]"),
                ));
            }
            inputs.push(input);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let unit = code.as_str().to_owned();
    let writer = (actor(identity, &req), if_match(&req));
    let catalogue = cache.clone();
    let committed = db
        .run(move |conn| -> Result<_, ServiceError> {
            commune_and_province(conn, &unit)?;
            let compiled = catalogue.current_catalogue(conn)?;
            let (actor, if_match) = &writer;
            replace_inventory(
                conn,
                &unit,
                &inputs,
                today,
                &compiled.index,
                (actor, if_match.as_deref()),
            )
        })
        .await?;
    let changes = cache.publish(committed);
    let written = changes.created + changes.replaced + changes.updated + changes.removed;
    cache
        .metrics()
        .rows_written(crate::telemetry::metrics::Rows::Postings, written as u64);
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, changes.etag.clone()))
        .json(changes))
}

/// One posting, without its procedure and channel (they are in the path).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostingBody {
    #[schema(example = "163/QĐ-BTP", min_length = 1, max_length = 100)]
    pub decision: String,
    #[schema(example = "2025-07-03")]
    pub posted_on: String,
    #[schema(
        example = "https://phuongsaigon.hochiminhcity.gov.vn/thu-tuc-hanh-chinh",
        max_length = 2000
    )]
    pub evidence_url: Option<String>,
    #[schema(max_length = 500)]
    pub photo_ref: Option<String>,
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostingWritten {
    pub posting: Posting,
    pub changes: PostingChanges,
}

/// Record one posting (its officer, admin): creates it, replaces it (another decision or date),
/// or edits its evidence.
#[utoipa::path(
    tag = "postings",
    params(("code" = String, Path, example = "23764"), ("procedure_code" = String, Path, example = "1.001193"),
           ("channel" = PostingChannel, Path, description = "`counter` or `portal`"),
           ("If-Match" = Option<String>, Header, description = "ETag of the inventory read before")),
    request_body = PostingBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Replaced, edited or unchanged", body = PostingWritten, headers(("ETag" = String))),
        (status = 201, description = "Created", body = PostingWritten, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/communes/{code}/postings/{procedure_code}/{channel}")]
pub async fn put_posting(
    identity: Caller<CommuneWriters>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<(String, String, String)>,
    body: web::Json<PostingBody>,
) -> Result<HttpResponse, ApiError> {
    let (code, procedure_code, channel) = path.into_inner();
    let code = commune_code(&code)?;
    authorize(&db, &identity, &code, true).await?;
    let body = body.into_inner();
    let line = PostingLine {
        procedure_code,
        channel,
        decision: body.decision,
        posted_on: body.posted_on,
        evidence_url: body.evidence_url,
        photo_ref: body.photo_ref,
        note: body.note,
    };
    let mut errors = Vec::new();
    let input = parse_line("", line, today(), &mut errors).ok_or(ApiError::Validation(errors))?;
    let unit = code.as_str().to_owned();
    let writer = (actor(identity, &req), if_match(&req));
    let catalogue = cache.clone();
    let committed = db
        .run(move |conn| -> Result<_, ServiceError> {
            commune_and_province(conn, &unit)?;
            let compiled = catalogue.current_catalogue(conn)?;
            let (actor, if_match) = &writer;
            put_one(
                conn,
                &unit,
                &input,
                &compiled.index,
                (actor, if_match.as_deref()),
            )
        })
        .await?;
    let (changes, row) = cache.publish(committed);
    let mut response = if changes.created > 0 {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header((header::ETAG, changes.etag.clone()))
        .json(PostingWritten {
            posting: row.into(),
            changes,
        }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RemoveQuery {
    /// The day it was taken down (default today; not before it was posted, not in the future).
    #[param(example = "2026-07-01")]
    pub removed_on: Option<NaiveDate>,
}

/// Take one posting down (its officer, admin). It stays in the history, so reports for earlier
/// dates still see it.
#[utoipa::path(
    tag = "postings",
    params(("code" = String, Path, example = "23764"), ("procedure_code" = String, Path, example = "1.001193"),
           ("channel" = PostingChannel, Path, description = "`counter` or `portal`"), RemoveQuery,
           ("If-Match" = Option<String>, Header, description = "ETag of the inventory read before")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Taken down", headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/communes/{code}/postings/{procedure_code}/{channel}")]
pub async fn delete_posting(
    identity: Caller<CommuneWriters>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    path: web::Path<(String, String, String)>,
    query: web::Query<RemoveQuery>,
) -> Result<HttpResponse, ApiError> {
    let (code, procedure_code, channel) = path.into_inner();
    let code = commune_code(&code)?;
    authorize(&db, &identity, &code, true).await?;
    let procedure = ProcedureCode::parse(&procedure_code)
        .map_err(|e| ApiError::validation_one("procedure_code", e.0))?;
    let channel = PostingChannel::parse(&channel)
        .ok_or_else(|| ApiError::validation_one("channel", "must be `counter` or `portal`"))?;
    let today = today();
    let on = super::check_date("removed_on", query.removed_on.unwrap_or(today))?;
    if on > today {
        return Err(ApiError::validation_one(
            "removed_on",
            "must not be in the future",
        ));
    }
    let unit = code.as_str().to_owned();
    let (actor, if_match) = (actor(identity, &req), if_match(&req));
    let committed = db
        .run(move |conn| -> Result<_, ServiceError> {
            commune_and_province(conn, &unit)?;
            remove_posting(
                conn,
                &unit,
                (&procedure, channel),
                on,
                (&actor, if_match.as_deref()),
            )
        })
        .await?;
    let etag = cache.publish(committed);
    Ok(HttpResponse::NoContent()
        .insert_header((header::ETAG, etag))
        .finish())
}
