//! Reading the audit log: an admin or a national auditor sees every entry, an auditor of a
//! province the entries about that province and its communes. Nothing can change an entry.

use actix_web::{HttpResponse, get, web};
use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{decode_cursor, encode_cursor, page_limit};
use crate::auth::{Auditors, Caller, Role};
use crate::db::Db;
use crate::domain::codes::{UnitCode, UnitLevel};
use crate::error::{ApiError, Problem};
use crate::repo::audit::{self as repo, AuditFilter, AuditRow, Entity};
use crate::services::ServiceError;
use crate::services::reports::named_commune;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// `decision`, `exemption`, `holidays`, `inspection`, `postings`, `posting_places`,
    /// `province_settings`, `sector`, `sector_place` or `units`.
    pub entity: Option<String>,
    /// The actor's `sub`.
    #[param(example = "can-bo-26740")]
    pub actor: Option<String>,
    /// A commune (its entries) or a province (its entries and its communes').
    #[param(example = "26740")]
    pub unit: Option<String>,
    /// Entries at or after this instant: an RFC 3339 timestamp, or a date (midnight in Vietnam).
    #[param(example = "2026-07-01T08:30:00Z")]
    pub since: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Actor {
    /// The token's `sub`.
    #[schema(example = "can-bo-26740")]
    pub sub: String,
    #[schema(example = "officer")]
    pub role: String,
    /// The token's `unit`, if any.
    #[schema(example = "26740")]
    pub unit: Option<String>,
}

/// One write.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    #[schema(example = "0196d4a2-5a6b-7c8d-9e0f-1a2b3c4d5e6f")]
    pub id: String,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: Actor,
    /// e.g. `create`, `import`, `replace`, `put`, `remove`, `delete`.
    #[schema(example = "postings.replace")]
    pub action: String,
    #[schema(example = "postings")]
    pub entity: String,
    #[schema(example = "26740")]
    pub entity_id: String,
    /// The commune or province the write concerns (`null` for the whole country).
    #[schema(example = "26740")]
    pub unit: Option<String>,
    #[schema(example = "79")]
    pub province: Option<String>,
    /// Content hashes before and after the write, where the entity has one.
    pub hash_before: Option<String>,
    pub hash_after: Option<String>,
    /// The server's id of the request that wrote it (the `X-Request-Id` of its answer, and the
    /// `request_id` of its log lines).
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent with that request, if any (kept as sent, never trusted
    /// as the server's).
    pub client_request_id: Option<String>,
}

impl From<AuditRow> for AuditEntry {
    fn from(r: AuditRow) -> Self {
        AuditEntry {
            id: r.id,
            at: r.at.and_utc(),
            actor: Actor {
                sub: r.actor_sub,
                role: r.actor_role,
                unit: r.actor_unit,
            },
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            unit: r.unit_code,
            province: r.province_code,
            hash_before: r.hash_before,
            hash_after: r.hash_after,
            request_id: r.request_id,
            client_request_id: r.client_request_id,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Oldest first.
    pub items: Vec<AuditEntry>,
    /// Pass back as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `since`: an RFC 3339 instant, or a date meaning its midnight in Vietnam (UTC+7).
fn parse_since(raw: &str) -> Result<NaiveDateTime, ApiError> {
    let bad = || {
        ApiError::validation_one(
            "since",
            "must be a date (2026-01-31) or an RFC 3339 timestamp (2026-01-31T08:00:00+07:00)",
        )
    };
    let instant = if let Ok(date) = raw.parse::<NaiveDate>() {
        super::check_date("since", date)?;
        let vietnam = chrono::FixedOffset::east_opt(7 * 3600).ok_or_else(bad)?;
        vietnam
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).ok_or_else(bad)?)
            .single()
            .ok_or_else(bad)?
            .naive_utc()
    } else {
        let t = chrono::DateTime::parse_from_rfc3339(raw).map_err(|_| bad())?;
        super::check_date("since", t.date_naive())?;
        t.naive_utc()
    };
    Ok(instant)
}

fn parse_cursor(raw: &str) -> Result<(NaiveDateTime, String), ApiError> {
    let bad = || ApiError::BadRequest("invalid cursor".into());
    let (at, id) = raw.split_once('|').ok_or_else(bad)?;
    let at = NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| bad())?;
    if !crate::domain::calendar::date_in_range(at.date()) {
        return Err(bad());
    }
    Ok((at, id.to_owned()))
}

/// The audit log, oldest first (an admin; an auditor within its scope).
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/audit")]
pub async fn list_audit(
    identity: Caller<Auditors>,
    db: web::Data<Db>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    if let Some(entity) = &query.entity
        && Entity::parse(entity).is_none()
    {
        let names: Vec<&str> = Entity::ALL.iter().map(|e| e.as_str()).collect();
        return Err(ApiError::validation_one(
            "entity",
            format!("must be one of {}", names.join(", ")),
        ));
    }
    if let Some(actor) = &query.actor
        && (actor.is_empty() || actor.len() > 200 || actor.chars().any(char::is_control))
    {
        return Err(ApiError::validation_one(
            "actor",
            "must be 1 to 200 bytes long, without control characters",
        ));
    }
    let unit = query
        .unit
        .as_deref()
        .map(UnitCode::parse)
        .transpose()
        .map_err(|e| ApiError::validation_one("unit", e.0))?;
    let since = query.since.as_deref().map(parse_since).transpose()?;
    let after = query
        .cursor
        .as_deref()
        .map(decode_cursor)
        .transpose()?
        .as_deref()
        .map(parse_cursor)
        .transpose()?;
    let mut filter = AuditFilter {
        entity: query.entity,
        actor: query.actor,
        since,
        after,
        limit: limit + 1,
        ..AuditFilter::default()
    };
    // A provincial auditor reads its own province only.
    let scope = match (identity.role, &identity.unit) {
        (Role::Auditor, Some(own)) => Some(own.as_str().to_owned()),
        _ => None,
    };
    let mut rows = db
        .run(move |conn| -> Result<_, ServiceError> {
            match &unit {
                Some(code) if code.level() == UnitLevel::Province => {
                    super::check_province(conn, Some(code.as_str())).map_err(|_| {
                        ServiceError::invalid("unit", format!("there is no province {code}"))
                    })?;
                    identity.require_province_read(code.as_str())?;
                    filter.province = Some(code.as_str().to_owned());
                }
                Some(code) => {
                    let (_, province) = named_commune(conn, code.as_str(), "unit")?;
                    identity.require_province_read(&province.code)?;
                    filter.commune = Some(code.as_str().to_owned());
                }
                None => {
                    if let Some(own) = scope {
                        filter.province = Some(own);
                    }
                }
            }
            Ok(repo::list(conn, &filter)?)
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| {
            // Full precision: an entry's time is compared exactly as stored.
            encode_cursor(&format!("{}|{}", r.at.format("%Y-%m-%dT%H:%M:%S%.f"), r.id))
        })
    } else {
        None
    };
    Ok(HttpResponse::Ok().json(AuditPage {
        items: rows.into_iter().map(AuditEntry::from).collect(),
        next_cursor,
    }))
}
