//! HTTP handlers, one module per resource. Handlers read like a script: extract, authorize, call
//! `db.run` with a service (every write) or a repository read, publish what a write committed to
//! the report cache, map the result to a response type. No transaction is opened here.

pub mod audit;
pub mod catalogue;
pub mod changes;
pub mod decisions;
pub mod export;
pub mod fresh;
pub mod health;
pub mod inspections;
pub mod obligation;
pub mod postings;
pub mod problems;
pub mod procedures;
pub mod reports;
pub mod sectors;
pub mod settings;
pub mod units;
pub mod webhooks;

use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::NaiveDate;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::auth::Identity;
use crate::error::{ApiError, FieldError};
use crate::services::ServiceError;
use crate::services::write::Actor;
use crate::telemetry::RequestId;

/// Largest JSON body accepted (a decision with many items fits easily).
pub const JSON_LIMIT: usize = 1024 * 1024;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// Registers every API route (the OpenAPI document is collected from the same registration).
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::health)
        .service(health::ready)
        .service(health::metrics)
        .service(problems::get_problem_type)
        .service(
            utoipa_actix_web::scope("/api/v1")
                .service(units::list_units)
                .service(units::get_unit)
                .service(units::get_unit_lineage)
                .service(sectors::list_sectors)
                .service(sectors::get_sector)
                .service(sectors::create_sector)
                .service(obligation::get_sector_place)
                .service(obligation::put_sector_place)
                .service(procedures::list_procedures)
                .service(procedures::get_procedure)
                .service(decisions::list_decisions)
                .service(decisions::get_decision)
                .service(decisions::create_decision)
                .service(catalogue::import_catalogue)
                .service(changes::get_changes)
                .service(postings::list_postings)
                .service(postings::put_postings)
                .service(postings::put_posting)
                .service(postings::delete_posting)
                .service(reports::get_commune_report)
                .service(reports::get_province_report)
                .service(reports::get_national_report)
                .service(reports::get_decision_impact)
                .service(settings::list_exemptions)
                .service(settings::get_exemption)
                .service(settings::create_exemption)
                .service(settings::delete_exemption)
                .service(settings::get_holidays)
                .service(settings::put_holidays)
                .service(settings::get_province_settings)
                .service(settings::put_province_settings)
                .service(obligation::get_posting_places)
                .service(obligation::put_posting_places)
                .service(obligation::get_province_posting_list)
                .service(obligation::get_commune_posting_list)
                .service(obligation::get_commune_posting_sheet)
                .service(inspections::create_inspection)
                .service(inspections::list_inspections)
                .service(inspections::get_inspection)
                .service(inspections::get_follow_up)
                .service(audit::list_audit)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::update_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::rotate_webhook_secret)
                .service(webhooks::list_webhook_deliveries)
                .service(webhooks::replay_webhook_delivery),
        );
}

/// Extractor configuration: every malformed body, path or query answers problem+json.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(JSON_LIMIT)
        .error_handler(|err, _req| json_error(err).into())
}

fn json_error(err: JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { length, limit } => {
            ApiError::PayloadTooLarge(format!("the body is {length} bytes; the limit is {limit}"))
        }
        JsonPayloadError::Overflow { limit } => {
            ApiError::PayloadTooLarge(format!("the body exceeds {limit} bytes"))
        }
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
            "the body must be JSON (Content-Type: application/json)".into(),
        ),
        JsonPayloadError::Deserialize(e) if e.is_data() => {
            ApiError::Validation(vec![FieldError::new("body", e.to_string())])
        }
        JsonPayloadError::Deserialize(e) => ApiError::BadRequest(format!("malformed JSON: {e}")),
        other => ApiError::BadRequest(format!("could not read the body: {other}")),
    }
}

/// A JSON body read after the handler has checked who is asking (where the scope is the
/// stored resource's, not the path's): the same answers as the `Json` extractor.
pub fn json_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    bytes: &[u8],
) -> Result<T, ApiError> {
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<actix_web::mime::Mime>().ok())
        .is_some_and(|m| {
            m.subtype() == actix_web::mime::JSON || m.suffix() == Some(actix_web::mime::JSON)
        });
    if !json {
        return Err(json_error(JsonPayloadError::ContentType));
    }
    if bytes.len() > JSON_LIMIT {
        return Err(json_error(JsonPayloadError::Overflow { limit: JSON_LIMIT }));
    }
    serde_json::from_slice(bytes).map_err(|e| json_error(JsonPayloadError::Deserialize(e)))
}

/// A query read after the handler has checked who is asking: the same answers as the `Query`
/// extractor.
pub fn query_after<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| {
            let detail = match e {
                QueryPayloadError::Deserialize(e) => e.to_string(),
                other => other.to_string(),
            };
            ApiError::BadRequest(format!("invalid query parameters: {detail}"))
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let detail = match err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::BadRequest(format!("invalid query parameters: {detail}")).into()
    })
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err, _req| {
        let detail = match err {
            PathError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::BadRequest(format!("invalid path: {detail}")).into()
    })
}

/// Anything no route matched.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no resource at {}", req.path())))
}

/// The `If-Match` header, if any.
pub fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(actix_web::http::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions().get::<RequestId>().map(|r| r.id.clone())
}

/// The `X-Request-Id` the client sent, if it was a usable one.
pub fn client_request_id(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<RequestId>()
        .and_then(|r| r.client.clone())
}

/// Who writes: the caller, for this request.
pub fn actor(identity: impl Into<Identity>, req: &HttpRequest) -> Actor {
    Actor::new(identity.into(), request_id(req)).with_client_id(client_request_id(req))
}

/// Opaque list cursors: base64url of the last key of the previous page.
pub fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(key.as_bytes())
}

pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor.as_bytes())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty() && s.len() <= 200 && !s.chars().any(char::is_control))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "invalid cursor; pass back the `next_cursor` of the previous page".into(),
            )
        })
}

/// `limit` within 1..=500, default 50.
pub fn page_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::validation_one(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// A search's text, NFC, at most 200 characters (`None` when it holds no letter or digit: only
/// punctuation is no search at all).
pub fn search_text(q: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(q) = q else { return Ok(None) };
    if q.chars().count() > 200 {
        return Err(ApiError::validation_one(
            "q",
            "must be at most 200 characters long",
        ));
    }
    Ok(Some(crate::domain::text::nfc(q)).filter(|s| s.chars().any(char::is_alphanumeric)))
}

/// Search key for `q` (see `text::search_key`); at most 200 characters.
pub fn search_key(q: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(q) = q else { return Ok(None) };
    if q.chars().count() > 200 {
        return Err(ApiError::validation_one(
            "q",
            "must be at most 200 characters long",
        ));
    }
    Ok(Some(crate::domain::text::search_key(q)).filter(|s| !s.is_empty()))
}

/// 422 unless the date lies between 1900-01-01 and 2199-12-31 (PostgreSQL and the text dates of
/// SQLite would otherwise disagree on, or refuse, far-away years).
pub fn check_date(field: &str, date: NaiveDate) -> Result<NaiveDate, ApiError> {
    if crate::domain::calendar::date_in_range(date) {
        Ok(date)
    } else {
        Err(ApiError::validation_one(
            field,
            "must be between 1900-01-01 and 2199-12-31",
        ))
    }
}

/// `as_of`, defaulting to today in Vietnam, within the accepted range.
pub fn as_of(date: Option<NaiveDate>) -> Result<NaiveDate, ApiError> {
    check_date(
        "as_of",
        date.unwrap_or_else(crate::domain::calendar::today_in_vietnam),
    )
}

/// Ids the service issues are UUIDs; anything else names nothing (and never reaches the database).
pub fn check_id(id: &str, what: &str) -> Result<(), ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ApiError::NotFound(format!("no {what} {id}")))
}

/// A `province` query parameter: a 2-digit province code, or 422.
pub fn province_query(raw: Option<&str>) -> Result<Option<String>, ApiError> {
    raw.map(crate::domain::codes::UnitCode::province)
        .transpose()
        .map(|p| p.map(|p| p.as_str().to_owned()))
        .map_err(|e| ApiError::validation_one("province", e.0))
}

/// 422 unless `province` (when given) is a province of the unit list.
pub fn check_province(
    conn: &mut crate::db::DbConnection,
    province: Option<&str>,
) -> Result<(), ServiceError> {
    match province {
        Some(code) if !crate::repo::units::is_province(conn, code)? => Err(ServiceError::invalid(
            "province",
            format!("there is no province {code}"),
        )),
        _ => Ok(()),
    }
}
