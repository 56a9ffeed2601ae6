//! What every request goes through inside the request span: a time limit (body upload
//! included), CORS for the configured portal origins (preflights answered here), and the content
//! security policy and HSTS headers. The headers every response gets whatever happens (nosniff,
//! no referrer, no framing) are set by the outermost `DefaultHeaders` in `startup`. Errors raised
//! here are problem+json like any other.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};

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
    let mut res = if preflight {
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
        req.into_response(response)
    } else {
        // An error raised here (a timeout) or below (a panic) becomes its problem response
        // further out, where the request is no longer at hand (it cannot be kept: routing needs
        // it unshared), so that response carries none of these headers nor the outermost ones.
        actix_web::rt::time::timeout(policy.request_timeout, next.call(req))
            .await
            .map_err(|_| ApiError::Timeout(policy.request_timeout.as_secs()))??
            .map_into_boxed_body()
    };

    let headers = res.headers_mut();
    let set = |headers: &mut HeaderMap, name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        if docs { DOCS_CSP } else { API_CSP },
    );
    if policy.hsts {
        set(
            headers,
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        );
    }
    if !policy.cors_origins.is_empty() {
        // The answer depends on the Origin header whenever CORS is configured.
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    if let Some(origin) = origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if !preflight {
            set(headers, header::ACCESS_CONTROL_EXPOSE_HEADERS, CORS_EXPOSE);
        }
    }
    Ok(res)
}
