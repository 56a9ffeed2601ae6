//! Liveness and readiness.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::Db;
use crate::error::{ApiError, Problem};
use crate::services::ServiceError;

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// The service's version.
    pub version: &'static str,
}

/// The process is up. Touches nothing else.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is up", body = Health)))]
#[get("/health")]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// The database answers.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "The database answers", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/ready")]
pub async fn ready(db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    db.run(|conn| -> Result<_, ServiceError> {
        crate::repo::ping(conn).map_err(|e| ServiceError::Unavailable(e.to_string()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    }))
}

/// Who may read the metrics: the configured scrape token (`NIEMYET_METRICS_TOKEN`), or an
/// admin's token.
pub struct MetricsAccess {
    pub token: Option<crate::config::Secret>,
}

/// Compares without stopping at the first different byte.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Prometheus metrics, in OpenMetrics text: requests per route and status with their latency,
/// the pool, heavy reports, the report cache, computations, rows written, rate-limit refusals.
/// For the scrape token or an admin.
#[utoipa::path(
    tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String),
        (status = 401, description = "No token, or a token that does not verify", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token of another role than admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    db: web::Data<Db>,
    access: web::Data<MetricsAccess>,
    metrics: web::Data<crate::telemetry::metrics::Metrics>,
) -> Result<HttpResponse, ApiError> {
    let token = crate::auth::bearer(req.headers().get(actix_web::http::header::AUTHORIZATION));
    let scraper =
        matches!((&access.token, token), (Some(t), Some(sent)) if same_secret(t.expose(), sent));
    if !scraper {
        crate::auth::identify(&req)?.require(&[crate::auth::Role::Admin])?;
    }
    let (connections, idle, max) = db.pool_state();
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.encode(connections, idle, max)))
}
