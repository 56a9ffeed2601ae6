//! Conditional answers for public reads: an `ETag` on every answer, `304 Not Modified` when the
//! client's `If-None-Match` names it, and a `Cache-Control` fit for what the answer depends on.
//!
//! Where an answer is a function of a revision counter and the request (the catalogue as the
//! public reads it), the tag is made from those before anything is computed, so a revalidation
//! costs nothing. Elsewhere it is a hash of the body.

use std::hash::{DefaultHasher, Hash, Hasher};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Serialize;

use crate::cache::{Body, ReportCache};
use crate::error::ApiError;

/// How long a shared cache (the portal's) may keep an answer that depends on today's date, or
/// on a catalogue a decision may change at any moment.
const SHORT: u32 = 60;
/// How long for an answer about a past date.
const LONGER: u32 = 300;

/// An answer's tag and how long it may be kept.
#[derive(Debug, Clone)]
pub struct Freshness {
    etag: String,
    max_age: u32,
}

/// The seconds a cache may keep an answer for `as_of` (asked, or today when `None`).
fn max_age(asked: Option<NaiveDate>) -> u32 {
    match asked {
        Some(d) if d < crate::domain::calendar::today_in_vietnam() => LONGER,
        _ => SHORT,
    }
}

fn hex_hash(parts: impl Hash) -> String {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    format!("{:016x}", h.finish())
}

impl Freshness {
    /// The tag of an answer that is a function of `revision` and the request (path and query,
    /// with the date the answer is for, so that an answer for "today" changes at midnight).
    /// `asked` is the `as_of` the request gave, if any.
    pub fn of_revision(
        req: &HttpRequest,
        revision: i64,
        as_of: NaiveDate,
        asked: Option<NaiveDate>,
    ) -> Self {
        Freshness {
            etag: format!(
                "W/\"r{revision}-{}\"",
                hex_hash((req.path(), req.query_string(), as_of))
            ),
            max_age: max_age(asked),
        }
    }

    /// Whether the client already holds this answer (`If-None-Match`, compared weakly).
    fn held(&self, req: &HttpRequest) -> bool {
        let opaque = |t: &str| t.trim().trim_start_matches("W/").to_owned();
        let mine = opaque(&self.etag);
        req.headers()
            .get_all(header::IF_NONE_MATCH)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|t| t.trim() == "*" || opaque(t) == mine)
    }

    /// 304 when the client holds the answer.
    pub fn not_modified(&self, req: &HttpRequest) -> Option<HttpResponse> {
        self.held(req).then(|| {
            let mut res = HttpResponse::NotModified();
            self.headers(&mut res);
            res.finish()
        })
    }

    fn headers(&self, res: &mut actix_web::HttpResponseBuilder) {
        res.insert_header((header::ETAG, self.etag.clone()))
            .insert_header((
                header::CACHE_CONTROL,
                format!("public, max-age={}", self.max_age),
            ));
    }

    /// The answer as JSON, with its tag: kept in `cache` under it, so that the same question
    /// on the same catalogue is answered from memory (gzip included) until the catalogue moves.
    pub fn json<T: Serialize>(
        &self,
        req: &HttpRequest,
        cache: &ReportCache,
        body: impl FnOnce() -> Result<T, ApiError>,
    ) -> Result<HttpResponse, ApiError> {
        let body = match cache.response(&self.etag) {
            Some(kept) => kept,
            None => {
                let made = Body::new(serde_json::to_vec(&body()?).map_err(ApiError::internal)?);
                cache.store_response(&self.etag, made.clone());
                made
            }
        };
        let mut res = HttpResponse::Ok();
        self.headers(&mut res);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")));
        Ok(if crate::http::accepts_gzip(req.headers()) {
            res.insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
                .body(body.gzip)
        } else {
            res.body(body.json)
        })
    }
}

/// A public read's answer as JSON, tagged by a hash of its body: 304 when the client holds it.
/// `asked` is the `as_of` the request gave, if any.
pub fn hashed_json<T: Serialize>(
    req: &HttpRequest,
    body: &T,
    asked: Option<NaiveDate>,
) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    let etag = format!("W/\"h{}\"", hex_hash(&bytes));
    respond_bytes(req, etag, asked, bytes)
}

/// A public read's answer as JSON under a tag of its own (one that also guards writes, such as a
/// decision's): 304 when the client holds it.
pub fn tagged_json<T: Serialize>(
    req: &HttpRequest,
    etag: String,
    body: &T,
) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    respond_bytes(req, etag, None, bytes)
}

fn respond_bytes(
    req: &HttpRequest,
    etag: String,
    asked: Option<NaiveDate>,
    bytes: Vec<u8>,
) -> Result<HttpResponse, ApiError> {
    let fresh = Freshness {
        etag,
        max_age: max_age(asked),
    };
    if let Some(res) = fresh.not_modified(req) {
        return Ok(res);
    }
    let mut res = HttpResponse::Ok();
    fresh.headers(&mut res);
    Ok(res
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ))
        .body(bytes))
}
