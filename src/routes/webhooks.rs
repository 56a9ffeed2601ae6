//! Webhook subscriptions (admin; an auditor of a province manages its own province's), their
//! deliveries and attempts, and replays.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{actor, check_id, decode_cursor, encode_cursor, if_match, page_limit};
use crate::auth::{Caller, Denied, Identity, Role, WebhookManagers};
use crate::config::WebhookSettings;
use crate::db::Db;
use crate::domain::text;
use crate::domain::webhooks::{EventType, check_url};
use crate::error::{ApiError, Problem};
use crate::repo::webhooks::{self as repo, AttemptRow, DeliveryRow, WebhookRow};
use crate::services::ServiceError;
use crate::services::webhooks::{self as service, Change, NewSubscription};

/// How the routes check targets.
#[derive(Debug, Clone)]
pub struct WebhookPolicy {
    pub settings: WebhookSettings,
    /// `https://` only.
    pub production: bool,
}

/// A subscription as the API shows it (never its secret, but in the answers that issue one).
#[derive(Debug, Serialize, ToSchema)]
pub struct Webhook {
    #[schema(example = "0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a")]
    pub id: String,
    #[schema(example = "https://cong.example.gov.vn/hooks/niemyet")]
    pub url: String,
    pub events: Vec<EventType>,
    /// The province whose events it receives; `null`: the whole country.
    #[schema(example = "52")]
    pub province: Option<String>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why it was turned off by the service (a receiver's `410 Gone`); `null` otherwise.
    pub disabled_reason: Option<String>,
    /// Until when the previous secret signs too, after a rotation; `null` outside one.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_by: String,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub created_at: DateTime<Utc>,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub updated_at: DateTime<Utc>,
    /// The signing secret (`whsec_…`): only in the answers to creating a subscription and to
    /// rotating its secret, and never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: Option<String>,
}

impl Webhook {
    fn from_row(row: WebhookRow, secret: Option<String>) -> Self {
        let now = Utc::now().naive_utc();
        Webhook {
            events: row.events.split(',').filter_map(EventType::parse).collect(),
            previous_secret_until: row
                .previous_until
                .filter(|until| *until > now && row.previous_secret.is_some())
                .map(|t| t.and_utc()),
            id: row.id,
            url: row.url,
            province: row.province_code,
            description: row.description,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            created_by: row.created_by,
            created_at: row.created_at.and_utc(),
            updated_at: row.updated_at.and_utc(),
            secret,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookPage {
    pub items: Vec<Webhook>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhook {
    /// Where deliveries are POSTed: `https://` (plain `http://` is accepted outside
    /// production). Its host may not resolve to a loopback, private, link-local or metadata
    /// address unless the operator allows it.
    #[schema(
        example = "https://cong.example.gov.vn/hooks/niemyet",
        max_length = 2000
    )]
    pub url: String,
    /// The event types to receive (at least one).
    #[schema(min_items = 1)]
    pub events: Vec<EventType>,
    /// Receive only what concerns this province; absent: the whole country (admins only). An
    /// auditor of a province gets its own by default.
    #[schema(example = "52")]
    pub province: Option<String>,
    #[schema(example = "Cổng dịch vụ công tỉnh", max_length = 500)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChange {
    #[schema(
        example = "https://cong.example.gov.vn/hooks/niemyet",
        max_length = 2000
    )]
    pub url: Option<String>,
    #[schema(min_items = 1)]
    pub events: Option<Vec<EventType>>,
    /// `false` pauses deliveries (they wait, and go once it is `true` again).
    pub enabled: Option<bool>,
    /// An empty string removes it.
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WebhookQuery {
    /// Only the subscriptions of this province.
    #[param(example = "52")]
    pub province: Option<String>,
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// One attempt to deliver.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attempt {
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status code; `null` when none came (no connection, time-out, refused
    /// address).
    #[schema(example = 200)]
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    /// What went wrong; `null` for a 2xx.
    pub error: Option<String>,
}

impl From<AttemptRow> for Attempt {
    fn from(a: AttemptRow) -> Self {
        Attempt {
            attempted_at: a.attempted_at.and_utc(),
            status_code: a.status_code.and_then(|c| u16::try_from(c).ok()),
            latency_ms: a.latency_ms,
            error: a.error,
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx came back.
    Delivered,
    /// Every attempt failed (about three days of them), or the receiver answered `410 Gone`.
    Failed,
    /// Not sent: nothing in the event concerns the subscription's province.
    Skipped,
}

impl DeliveryStatus {
    fn from_db(s: &str) -> Self {
        match s {
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            "skipped" => DeliveryStatus::Skipped,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// One event sent to one subscription, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct Delivery {
    #[schema(example = "0196d4a2-6b7c-7d8e-9f01-2a3b4c5d6e7f")]
    pub id: String,
    /// The `webhook-id` header it is sent with (the same on every attempt and replay).
    #[schema(example = "evt_0196d4a25c1e7d3a9f423b6f1e2d4c5a")]
    pub event_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    #[schema(example = "2026-07-01T08:30:00Z")]
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due; `null` unless pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// The delivery this one replays; `null` for an original.
    pub replay_of: Option<String>,
    pub attempts: Vec<Attempt>,
}

fn delivery_view(row: DeliveryRow, kind: &str, attempts: Vec<Attempt>) -> Delivery {
    let status = DeliveryStatus::from_db(&row.status);
    Delivery {
        id: row.id,
        event_id: row.event_id,
        event_type: EventType::parse(kind).unwrap_or(EventType::DecisionRecorded),
        next_attempt_at: matches!(status, DeliveryStatus::Pending)
            .then(|| row.next_attempt_at.and_utc()),
        status,
        created_at: row.created_at.and_utc(),
        delivered_at: row.delivered_at.map(|t: NaiveDateTime| t.and_utc()),
        replay_of: row.replay_of,
        attempts,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

/// Who may manage the subscriptions of a province (`None`: of the whole country): an admin
/// any; an auditor of a province its own; nobody else.
fn manager(identity: &Identity) -> impl Fn(Option<&str>) -> Result<(), Denied> + use<> {
    let role = identity.role;
    let unit = identity.unit.as_ref().map(|u| u.as_str().to_owned());
    move |province| match (role, unit.as_deref(), province) {
        (Role::Admin, _, _) => Ok(()),
        (Role::Auditor, Some(own), Some(p)) if own == p => Ok(()),
        (Role::Auditor, Some(own), _) => Err(Denied(format!(
            "an auditor of province {own} manages that province's webhooks only"
        ))),
        _ => Err(Denied(
            "webhooks are managed by admins, and by a province's auditors for it".into(),
        )),
    }
}

fn description(raw: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(raw) = raw else { return Ok(None) };
    let d = text::nfc(raw.trim());
    if d.chars().count() > 500 || text::has_control(&d) {
        return Err(ApiError::validation_one(
            "description",
            "must be at most 500 characters, without control characters",
        ));
    }
    Ok((!d.is_empty()).then_some(d))
}

fn events(raw: Vec<EventType>, field: &str) -> Result<Vec<EventType>, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::validation_one(
            field,
            "must name at least one event type",
        ));
    }
    Ok(raw)
}

/// Checks a target URL: its form, then (blocking) its addresses.
fn target(raw: &str, policy: &WebhookPolicy) -> Result<url::Url, ServiceError> {
    let url = check_url(raw, policy.production).map_err(|e| ServiceError::invalid("url", e))?;
    service::resolve(&url, policy.settings.allow_private)
        .map_err(|e| ServiceError::invalid("url", e))?;
    Ok(url)
}

/// [`target`] on the blocking pool, before any database connection is taken: resolving a name
/// may take seconds, and must hold neither an HTTP worker nor a pooled connection.
async fn resolved_target(
    raw: String,
    policy: std::sync::Arc<WebhookPolicy>,
) -> Result<url::Url, ApiError> {
    web::block(move || target(&raw, &policy))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}

fn with_etag(row: WebhookRow, secret: Option<String>, created: bool) -> HttpResponse {
    let etag = service::etag(&row);
    let mut response = if created {
        let mut r = HttpResponse::Created();
        r.insert_header((header::LOCATION, format!("/api/v1/webhooks/{}", row.id)));
        r
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(Webhook::from_row(row, secret))
}

/// Subscribe to events (admin; an auditor of a province, for it). The answer holds the signing
/// secret, shown this once.
#[utoipa::path(
    tag = "webhooks",
    request_body = NewWebhook,
    security(("bearer" = [])),
    responses(
        (status = 201, body = Webhook, headers(("Location" = String), ("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A malformed or refused URL, no event type, an unknown province", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks")]
pub async fn create_webhook(
    identity: Caller<WebhookManagers>,
    req: HttpRequest,
    db: web::Data<Db>,
    policy: web::Data<WebhookPolicy>,
    body: web::Json<NewWebhook>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let events = events(body.events, "events")?;
    let description = description(body.description)?;
    let province = match super::province_query(body.province.as_deref())? {
        // An auditor of a province subscribes for it unless they say otherwise.
        None if identity.role == Role::Auditor => {
            identity.unit.as_ref().map(|u| u.as_str().to_owned())
        }
        p => p,
    };
    manager(&identity)(province.as_deref()).map_err(ServiceError::from)?;
    let actor = actor(identity, &req);
    let policy = policy.into_inner();
    // What the database can refuse first; then the name, which may take a while to resolve.
    {
        let province = province.clone();
        db.run(move |conn| super::check_province(conn, province.as_deref()))
            .await?;
    }
    let url = resolved_target(body.url, policy.clone()).await?;
    let (row, secret) = db
        .run(move |conn| -> Result<_, ServiceError> {
            let input = NewSubscription {
                url,
                events,
                province,
                description,
            };
            Ok(service::create(conn, input, &policy.settings, &actor)?.without_cache())
        })
        .await?;
    Ok(with_etag(row, Some(secret), true))
}

/// List subscriptions (admin: all, or one province's; an auditor of a province: its own).
#[utoipa::path(
    tag = "webhooks",
    params(WebhookQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = WebhookPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    identity: Caller<WebhookManagers>,
    db: web::Data<Db>,
    query: web::Query<WebhookQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let limit = page_limit(query.limit)?;
    let after = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let asked = super::province_query(query.province.as_deref())?;
    let province = match (identity.role, identity.unit.as_ref()) {
        (Role::Admin, _) => asked,
        (_, Some(own)) if asked.as_deref().is_none_or(|a| a == own.as_str()) => {
            Some(own.as_str().to_owned())
        }
        _ => {
            return Err(ServiceError::from(
                manager(&identity)(asked.as_deref())
                    .err()
                    .unwrap_or_else(|| {
                        Denied(
                            "webhooks are managed by admins, and by a province's auditors".into(),
                        )
                    }),
            )
            .into());
        }
    };
    let mut rows = db
        .run(move |conn| -> Result<_, ServiceError> {
            super::check_province(conn, province.as_deref())?;
            Ok(repo::list(
                conn,
                province.as_deref(),
                after.as_deref(),
                limit + 1,
            )?)
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| encode_cursor(&r.id))
    } else {
        None
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebhookPage {
            items: rows
                .into_iter()
                .map(|r| Webhook::from_row(r, None))
                .collect(),
            next_cursor,
        }))
}

/// One subscription, with its ETag.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id", example = "0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Webhook, headers(("ETag" = String))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}")]
pub async fn get_webhook(
    identity: Caller<WebhookManagers>,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    check_id(&id, "webhook")?;
    let authorize = manager(&identity);
    let row = db
        .run(move |conn| service::get(conn, &id, &authorize))
        .await?;
    Ok(with_etag(row, None, false))
}

/// Change a subscription: its URL, event types, description, or whether it is enabled (enabling
/// one a `410 Gone` turned off clears the reason). With `If-Match`, only if unchanged since read.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id", example = "0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a"),
           ("If-Match" = Option<String>, Header, description = "ETag of the subscription read before")),
    request_body = WebhookChange,
    security(("bearer" = [])),
    responses(
        (status = 200, body = Webhook, headers(("ETag" = String))),
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
#[patch("/webhooks/{id}")]
pub async fn update_webhook(
    identity: Caller<WebhookManagers>,
    req: HttpRequest,
    db: web::Data<Db>,
    policy: web::Data<WebhookPolicy>,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    check_id(&id, "webhook")?;
    // The subscription's province decides who may change it: read before the body is.
    {
        let (id, authorize) = (id.clone(), manager(&identity));
        db.run(move |conn| service::get(conn, &id, &authorize).map(drop))
            .await?;
    }
    let body: WebhookChange = super::json_body(&req, &body)?;
    let events = body.events.map(|e| events(e, "events")).transpose()?;
    let description = body.description.map(|d| description(Some(d))).transpose()?;
    let authorize = manager(&identity);
    let actor = actor(identity, &req);
    let if_match = if_match(&req);
    let url = match body.url {
        Some(raw) => Some(resolved_target(raw, policy.into_inner()).await?),
        None => None,
    };
    let row = db
        .run(move |conn| -> Result<_, ServiceError> {
            let change = Change {
                url,
                events,
                enabled: body.enabled,
                description,
            };
            Ok(
                service::change(conn, (&id, change), if_match.as_deref(), &authorize, &actor)?
                    .without_cache(),
            )
        })
        .await?;
    Ok(with_etag(row, None, false))
}

/// Remove a subscription and its deliveries. With `If-Match`, only if unchanged since read.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id", example = "0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a"),
           ("If-Match" = Option<String>, Header, description = "ETag of the subscription read before")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/webhooks/{id}")]
pub async fn delete_webhook(
    identity: Caller<WebhookManagers>,
    req: HttpRequest,
    db: web::Data<Db>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    check_id(&id, "webhook")?;
    let authorize = manager(&identity);
    let actor = actor(identity, &req);
    let if_match = if_match(&req);
    db.run(move |conn| {
        service::delete(conn, &id, if_match.as_deref(), &authorize, &actor)
            .map(|c| c.without_cache())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Issue a new signing secret, shown this once. The previous one keeps signing beside it for
/// 24 hours (`webhook-signature` carries both), so the receiver can switch without losing a
/// delivery.
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id", example = "0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a"),
           ("If-Match" = Option<String>, Header, description = "ETag of the subscription read before")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Webhook, headers(("ETag" = String))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_webhook_secret(
    identity: Caller<WebhookManagers>,
    req: HttpRequest,
    db: web::Data<Db>,
    policy: web::Data<WebhookPolicy>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    check_id(&id, "webhook")?;
    let authorize = manager(&identity);
    let actor = actor(identity, &req);
    let if_match = if_match(&req);
    let policy = policy.into_inner();
    let (row, secret) = db
        .run(move |conn| {
            service::rotate(
                conn,
                &id,
                if_match.as_deref(),
                (&authorize, &policy.settings),
                &actor,
            )
            .map(|c| c.without_cache())
        })
        .await?;
    Ok(with_etag(row, Some(secret), false))
}

/// A subscription's deliveries, newest first, each with every attempt (time, status code,
/// latency, error).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id", example = "0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a"), PageQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DeliveryPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}/deliveries")]
pub async fn list_webhook_deliveries(
    identity: Caller<WebhookManagers>,
    db: web::Data<Db>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    check_id(&id, "webhook")?;
    // The subscription's province decides who may read it: checked before the query is read.
    {
        let (id, authorize) = (id.clone(), manager(&identity));
        db.run(move |conn| service::get(conn, &id, &authorize).map(drop))
            .await?;
    }
    let query: PageQuery = super::query_after(&req)?;
    let limit = page_limit(query.limit)?;
    let before = query.cursor.as_deref().map(decode_cursor).transpose()?;
    let (mut rows, mut attempts) = db
        .run(move |conn| -> Result<_, ServiceError> {
            let rows = repo::deliveries(conn, &id, before.as_deref(), limit + 1)?;
            let ids: Vec<String> = rows.iter().map(|(d, _)| d.id.clone()).collect();
            Ok((rows, repo::attempts(conn, &ids)?))
        })
        .await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|(d, _)| encode_cursor(&d.id))
    } else {
        None
    };
    let mut by_delivery: std::collections::HashMap<String, Vec<Attempt>> =
        std::collections::HashMap::new();
    for a in attempts.drain(..) {
        by_delivery
            .entry(a.delivery_id.clone())
            .or_default()
            .push(a.into());
    }
    let items = rows
        .into_iter()
        .map(|(d, kind)| {
            let attempts = by_delivery.remove(&d.id).unwrap_or_default();
            delivery_view(d, &kind, attempts)
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(DeliveryPage { items, next_cursor }))
}

/// Send a delivery's event again, as a new delivery with the same `webhook-id` and body (a
/// receiver that drops duplicates by id drops it too, unless it forgot the first).
#[utoipa::path(
    tag = "webhooks",
    params(("id" = String, Path, description = "Subscription id", example = "0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a"),
           ("delivery_id" = String, Path, description = "The delivery to send again", example = "0196d4a2-6b7c-7d8e-9f01-2a3b4c5d6e7f")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued; it is sent within seconds", body = Delivery),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery_id}/replay")]
pub async fn replay_webhook_delivery(
    identity: Caller<WebhookManagers>,
    req: HttpRequest,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery_id) = path.into_inner();
    check_id(&id, "webhook")?;
    check_id(&delivery_id, "delivery")?;
    let authorize = manager(&identity);
    let actor = actor(identity, &req);
    let (row, kind) = db
        .run(move |conn| -> Result<_, ServiceError> {
            let row =
                service::replay(conn, (&id, &delivery_id), &authorize, &actor)?.without_cache();
            let kind = repo::event(conn, &row.event_id)?
                .map(|e| e.kind)
                .unwrap_or_default();
            Ok((row, kind))
        })
        .await?;
    Ok(HttpResponse::Accepted().json(delivery_view(row, &kind, Vec::new())))
}
