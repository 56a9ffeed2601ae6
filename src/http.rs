//! What every request goes through inside the request span: a time limit (body upload
//! included), a panic caught and turned into a 500 problem, CORS for the configured portal origins
//! (preflights answered here), and the security headers (nosniff, no referrer, no framing, a
//! content security policy, HSTS in production). Every response carries them, error responses
//! included: actix builds the response of an error only after the middleware have returned, so an
//! error leaves here wrapped with the headers its response must carry ([`WithHeaders`]).
//!
//! CORS is written here rather than with the `actix-cors` crate, because that crate does not
//! express this policy: it answers a refused origin with a plain-text 400, on preflights and on
//! every ordinary request that carries an `Origin`, where this service answers a refused preflight
//! with a 403 problem and serves a request from an unlisted origin as any other (without CORS
//! headers, so a browser keeps the page from reading it). `tests/api/hardening.rs` pins the policy.

use std::fmt;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};
use futures_util::FutureExt;

use crate::error::ApiError;

/// The settings the middleware applies (from `config::Settings`).
#[derive(Debug, Clone)]
pub struct HttpPolicy {
    /// Origins whose pages may call the API from a browser, lower case, as sent in `Origin`.
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
    /// Ask browsers to use HTTPS only (production, where a TLS proxy sits in front).
    pub hsts: bool,
}

/// The API serves data, never pages: nothing may load, frame or submit from its responses.
const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Swagger UI (vendored, served from `/docs/`) loads its own scripts, styles and the spec.
const DOCS_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
     script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/// Methods and request headers a browser may use across origins.
const CORS_METHODS: &str = "GET, POST, PUT, DELETE";
const CORS_HEADERS: &str =
    "authorization, content-type, accept, accept-language, if-match, if-none-match, x-request-id";
/// Response headers a page may read (besides the CORS-safelisted ones).
const CORS_EXPOSE: &str = "etag, location, content-disposition, retry-after, x-request-id";
/// How long a browser may cache a preflight answer, in seconds.
const CORS_MAX_AGE: &str = "600";

fn allowed_origin(policy: &HttpPolicy, headers: &HeaderMap) -> Option<HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let text = origin.to_str().ok()?.to_ascii_lowercase();
    policy.cors_origins.contains(&text).then(|| origin.clone())
}

/// An error on its way out, with the headers its response must carry.
#[derive(Debug)]
pub struct WithHeaders {
    error: Error,
    headers: HeaderMap,
}

impl fmt::Display for WithHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for WithHeaders {
    fn status_code(&self) -> StatusCode {
        self.error.as_response_error().status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = self.error.error_response();
        add_headers(response.headers_mut(), &self.headers);
        response
    }
}

/// `error`, whose response will also carry `headers` (as [`add_headers`] adds them).
pub fn with_headers(error: Error, headers: HeaderMap) -> Error {
    WithHeaders { error, headers }.into()
}

/// Adds `extra` to a response's headers: `Vary` is appended to; the others are set where the
/// response has not set them itself.
pub fn add_headers(headers: &mut HeaderMap, extra: &HeaderMap) {
    for (name, value) in extra.iter() {
        if name == header::VARY {
            headers.append(name.clone(), value.clone());
        } else if !headers.contains_key(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
}

/// The headers a response to this request carries, whatever it is.
fn response_headers(
    policy: &HttpPolicy,
    docs: bool,
    origin: Option<&HeaderValue>,
    preflight: bool,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        header::CONTENT_SECURITY_POLICY,
        if docs { DOCS_CSP } else { API_CSP },
    );
    if policy.hsts {
        set(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if !policy.cors_origins.is_empty() {
        // The answer depends on the Origin header whenever CORS is configured.
        set(header::VARY, "Origin");
    }
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        if !preflight {
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(CORS_EXPOSE),
            );
        }
    }
    headers
}

pub async fn harden(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let policy = req
        .app_data::<web::Data<HttpPolicy>>()
        .map(|p| p.get_ref().clone())
        .unwrap_or(HttpPolicy {
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(30),
            hsts: false,
        });
    let docs = req.path().starts_with("/docs");
    let origin = allowed_origin(&policy, req.headers());
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(header::ORIGIN)
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let headers = response_headers(&policy, docs, origin.as_ref(), preflight);

    let outcome = if let Some(part) = unreadable_target(&req) {
        Err(ApiError::BadRequest(format!(
            "the request's {part} holds a NUL byte or bytes that are not UTF-8 once \
             percent-decoded; send text"
        ))
        .into())
    } else if preflight {
        let response = match &origin {
            Some(origin) => HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone()))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, CORS_METHODS))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, CORS_HEADERS))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, CORS_MAX_AGE))
                .finish(),
            None => ApiError::Forbidden(
                "this origin may not call the API from a browser (see NIEMYET_CORS_ORIGINS)".into(),
            )
            .error_response(),
        };
        Ok(req.into_response(response))
    } else {
        let call = std::panic::AssertUnwindSafe(next.call(req)).catch_unwind();
        match actix_web::rt::time::timeout(policy.request_timeout, call).await {
            Err(_) => Err(ApiError::Timeout(policy.request_timeout.as_secs()).into()),
            Ok(Err(panic)) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                Err(ApiError::internal(anyhow::anyhow!("handler panicked: {message}")).into())
            }
            Ok(Ok(result)) => result.map(ServiceResponse::map_into_boxed_body),
        }
    };
    match outcome {
        Ok(mut res) => {
            add_headers(res.headers_mut(), &headers);
            Ok(res)
        }
        Err(error) => Err(with_headers(error, headers)),
    }
}

/// Whether the client takes gzip (`Accept-Encoding`, a `q` of 0 refusing it).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|e| {
                let mut parts = e.split(';').map(str::trim);
                matches!(parts.next(), Some("gzip" | "*"))
                    && parts.all(|p| {
                        p.strip_prefix("q=")
                            .is_none_or(|q| q.parse::<f32>().is_ok_and(|q| q > 0.0))
                    })
            })
        })
}

/// Bodies smaller than this are sent as they are: compressing them saves less than it costs.
const COMPRESS_FROM: usize = 1024;

/// Whether a response of this type is text worth compressing.
fn compressible(content_type: Option<&HeaderValue>) -> bool {
    content_type.and_then(|v| v.to_str().ok()).is_some_and(|t| {
        let t = t.split(';').next().unwrap_or_default().trim();
        t == "application/json"
            || t == "application/problem+json"
            || t.starts_with("text/")
            || t == "application/openmetrics-text"
    })
}

/// Compresses JSON, CSV, HTML and other text answers of 1 KiB or more with gzip for a client
/// that takes it (a report already compressed, or a workbook, is left alone: it carries its own
/// encoding, or is not text). `Vary: Accept-Encoding` tells caches that the answer depends on it.
pub async fn compress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let gzip = accepts_gzip(req.headers());
    let res = next.call(req).await?.map_into_boxed_body();
    let size = match res.response().body().size() {
        actix_web::body::BodySize::Sized(n) => usize::try_from(n).unwrap_or(usize::MAX),
        _ => 0,
    };
    let headers = res.headers();
    if !compressible(headers.get(header::CONTENT_TYPE))
        || headers.contains_key(header::CONTENT_ENCODING)
        || size < COMPRESS_FROM
    {
        return Ok(res);
    }
    if !gzip {
        let mut res = res;
        res.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        return Ok(res);
    }
    let (req, res) = res.into_parts();
    let (mut head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body)
        .await
        .map_err(|_| ApiError::internal(anyhow::anyhow!("the response body could not be read")))?;
    let compressed = {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(bytes.len() / 4),
            flate2::Compression::fast(),
        );
        encoder.write_all(&bytes).and_then(|()| encoder.finish())
    };
    let res = match compressed {
        Ok(gz) => {
            let headers = head.headers_mut();
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            headers.remove(header::CONTENT_LENGTH);
            head.set_body(BoxBody::new(gz))
        }
        Err(_) => head.set_body(BoxBody::new(bytes)),
    };
    Ok(ServiceResponse::new(req, res))
}

/// Which part of the request target (`path` or `query`) is not text once percent-decoded: it
/// holds a NUL (which PostgreSQL refuses in any text column) or bytes that are not UTF-8. Such a
/// request is the client's fault whatever the route, so it is refused here, before any handler.
fn unreadable_target(req: &ServiceRequest) -> Option<&'static str> {
    let bad = |raw: &str| {
        let decoded = percent_decode(raw);
        decoded.contains(&0) || std::str::from_utf8(&decoded).is_err()
    };
    if bad(req.path()) {
        Some("path")
    } else if bad(req.query_string()) {
        Some("query")
    } else {
        None
    }
}

/// `%XX` sequences as the bytes they stand for; anything else as it is.
fn percent_decode(raw: &str) -> Vec<u8> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::HttpPolicy;

    async fn boom() -> HttpResponse {
        panic!("handler bug")
    }

    #[actix_web::test]
    async fn a_panic_answers_an_opaque_500_problem_with_every_header() {
        let policy = HttpPolicy {
            cors_origins: vec!["https://dichvucong.gialai.gov.vn".into()],
            request_timeout: std::time::Duration::from_secs(30),
            hsts: true,
        };
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(policy))
                .wrap(from_fn(super::harden))
                .wrap(from_fn(crate::telemetry::request_span))
                .route("/boom", web::get().to(boom))
                .route(
                    "/ok",
                    web::get().to(|| async { HttpResponse::Ok().finish() }),
                ),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/boom")
            .insert_header(("origin", "https://dichvucong.gialai.gov.vn"))
            .to_request();
        let err = test::try_call_service(&app, request)
            .await
            .err()
            .map(|e| e.error_response());
        let response = err.expect("a panic must become an error");
        assert_eq!(response.status(), 500);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            header("content-type").as_deref(),
            Some("application/problem+json")
        );
        for name in [
            "x-content-type-options",
            "x-frame-options",
            "referrer-policy",
            "content-security-policy",
            "strict-transport-security",
            "x-request-id",
        ] {
            assert!(header(name).is_some(), "{name} is missing");
        }
        assert_eq!(
            header("access-control-allow-origin").as_deref(),
            Some("https://dichvucong.gialai.gov.vn")
        );
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("error_id") && !text.contains("handler bug"),
            "{text}"
        );
        // The worker goes on serving.
        let ok = test::call_service(&app, test::TestRequest::get().uri("/ok").to_request()).await;
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().contains_key("x-request-id"));
        assert!(ok.headers().contains_key("content-security-policy"));
    }
}
