//! Importing a catalogue file (the national portal's JSONL layout) over HTTP.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, post, web};
use chrono::NaiveDate;
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::{Caller, Editors};
use crate::cache::ReportCache;
use crate::db::Db;
use crate::error::{ApiError, FieldError, Problem};
use crate::services::catalogue::{ImportOptions, ImportSummary, import_catalogue as import};
use crate::services::{GunzipError, gunzip_limited, is_gzip};

/// Largest request body for an import (compressed or not).
pub const IMPORT_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Largest size a gzip body may expand to.
pub const IMPORT_EXPANDED_LIMIT: u64 = 256 * 1024 * 1024;

/// Imports running at once (`NIEMYET_MAX_IMPORTS`). Each holds its body and what it expands to,
/// so the memory in flight for imports stays under this many times the two limits above.
pub struct ImportSlots {
    slots: tokio::sync::Semaphore,
    total: usize,
}

impl ImportSlots {
    pub fn new(total: usize) -> Self {
        ImportSlots {
            slots: tokio::sync::Semaphore::new(total.max(1)),
            total: total.max(1),
        }
    }
}

/// Content encodings an import may use: none, or gzip.
fn encoding_is_gzip(req: &HttpRequest) -> Result<bool, ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_ENCODING) else {
        return Ok(false);
    };
    let value = value
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match value.as_str() {
        "" | "identity" => Ok(false),
        "gzip" | "x-gzip" => Ok(true),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "Content-Encoding `{}` is not supported; send the records as they are or gzip them",
            crate::domain::codes::clip(other)
        ))),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Say what would change, and write nothing.
    #[param(default = false)]
    pub dry_run: Option<bool>,
    /// The date the imported versions take effect (default today).
    #[param(example = "2026-07-01")]
    pub effective_on: Option<NaiveDate>,
    /// Where the file comes from (a file name), recorded on the import's decision.
    #[param(example = "dvcqg-catalogue-2026-06.jsonl.gz")]
    pub source: Option<String>,
}

const ACCEPTED: [&str; 6] = [
    "application/x-ndjson",
    "application/jsonl",
    "application/json",
    "text/plain",
    "application/gzip",
    "application/octet-stream",
];

/// Import catalogue records (editor, admin): one JSON object a line, optionally gzip-compressed
/// (`Content-Encoding: gzip` or `Content-Type: application/gzip`). New codes are created, records
/// that differ from the version in force become amended versions, equal ones are unchanged; bad
/// lines are listed with their line numbers and skipped. Importing the same file twice changes
/// nothing the second time.
#[utoipa::path(
    tag = "catalogue",
    params(ImportQuery, ("If-Match" = Option<String>, Header, description = "The catalogue's ETag (from the decision list) read before")),
    request_body(content = String, description = "JSONL records", content_type = "application/x-ndjson"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dry run, or nothing changed", body = ImportSummary),
        (status = 201, description = "Imported; `Location` names the import's decision", body = ImportSummary, headers(("Location" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No line of the file could be imported", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/catalogue/import")]
pub async fn import_catalogue(
    identity: Caller<Editors>,
    req: HttpRequest,
    db: web::Data<Db>,
    cache: web::Data<ReportCache>,
    query: web::Query<ImportQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !ACCEPTED.contains(&content_type.as_str()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send the records as application/x-ndjson (or gzip), not `{content_type}`"
        )));
    }
    let encoding_gzip = encoding_is_gzip(&req)?;
    let slots = req
        .app_data::<web::Data<ImportSlots>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("import slots are not configured")))?;
    let _slot = slots.slots.try_acquire().map_err(|_| {
        ApiError::Busy(format!(
            "{} imports are running, the most this service takes at once; try again shortly",
            slots.total
        ))
    })?;
    if let Some(length) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && length > IMPORT_BODY_LIMIT
    {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("could not read the body: {e}")))?;
        if body.len() + chunk.len() > IMPORT_BODY_LIMIT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    // Expanding takes seconds for a large file: it runs on the blocking pool, not on the thread
    // that serves other requests.
    let data = if encoding_gzip || content_type == "application/gzip" || is_gzip(&body) {
        let expanded = web::block(move || gunzip_limited(&body, IMPORT_EXPANDED_LIMIT))
            .await
            .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking task failed: {e}")))?;
        expanded.map_err(|e| match e {
            GunzipError::TooLarge(_) => ApiError::PayloadTooLarge(format!(
                "the body expands to more than {IMPORT_EXPANDED_LIMIT} bytes"
            )),
            GunzipError::Corrupt(m) => {
                ApiError::BadRequest(format!("the gzip body is corrupt: {m}"))
            }
        })?
    } else {
        body.to_vec()
    };
    let query = query.into_inner();
    let source = query
        .source
        .map(|s| crate::domain::text::nfc(&s))
        .unwrap_or_else(|| "upload".into());
    if source.is_empty() || source.chars().count() > 300 || source.chars().any(char::is_control) {
        return Err(ApiError::validation_one(
            "source",
            "must be 1 to 300 characters without control characters",
        ));
    }
    let options = ImportOptions {
        effective_on: query.effective_on.map_or_else(
            || Ok(crate::domain::calendar::today_in_vietnam()),
            |d| super::check_date("effective_on", d),
        )?,
        dry_run: query.dry_run.unwrap_or(false),
        source,
        if_match: super::if_match(&req),
    };
    let actor = super::actor(identity, &req);
    let committed = db
        .run(move |conn| import(conn, &data, &options, &actor, &mut |_| {}))
        .await?;
    let summary = cache.publish(committed);
    if !summary.dry_run {
        let written = summary.created + summary.amended;
        cache.metrics().rows_written(
            crate::telemetry::metrics::Rows::CatalogueRecords,
            written as u64,
        );
    }
    let readable = summary.created + summary.amended + summary.unchanged;
    if readable == 0 && summary.lines == summary.skipped {
        let mut errors: Vec<FieldError> = summary
            .problems
            .iter()
            .take(100)
            .map(|p| FieldError::new(format!("line {}", p.line), p.message.clone()))
            .collect();
        if errors.is_empty() {
            errors.push(FieldError::new("body", "the file has no records"));
        }
        return Err(ApiError::Validation(errors));
    }
    Ok(match &summary.decision_id {
        Some(id) => HttpResponse::Created()
            .insert_header((header::LOCATION, format!("/api/v1/decisions/{id}")))
            .json(&summary),
        None => HttpResponse::Ok().json(&summary),
    })
}

fn too_large() -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "an import body may be at most {IMPORT_BODY_LIMIT} bytes"
    ))
}
