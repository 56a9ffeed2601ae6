//! The one error type at the HTTP edge. Every failure, from a malformed body to a lost database,
//! becomes an RFC 9457 `application/problem+json` answer here, in one `match`. Lower layers keep
//! their own narrow errors (`diesel::result::Error`, the domain's enums) and convert with `From`.
//! A 500 never shows its cause: it is logged with an id that the body repeats.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::services::ServiceError;

pub use crate::domain::FieldError;

/// One kind of problem: its `type` is `/problems/{slug}`, a page of the service that explains it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProblemType {
    pub slug: &'static str,
    pub title: &'static str,
    pub status: u16,
    /// When it happens and what to do about it.
    pub explanation: &'static str,
}

/// Every problem `type` the service sends, in status order.
pub const PROBLEM_TYPES: &[ProblemType] = &[
    ProblemType {
        slug: "bad-request",
        title: "Malformed request",
        status: 400,
        explanation: "The body is not JSON of the expected shape, or a query parameter or path segment does not parse. Fix the request; sending it again unchanged gives the same answer.",
    },
    ProblemType {
        slug: "unauthorized",
        title: "Authentication required",
        status: 401,
        explanation: "The operation needs a bearer token, and none was sent, or the token is expired, malformed or not signed by the service's key. Get a new token.",
    },
    ProblemType {
        slug: "forbidden",
        title: "Not allowed",
        status: 403,
        explanation: "The token is valid, but its role or unit may not do this (an officer writes only its own commune's postings; an auditor reads only within its province). Nothing was changed.",
    },
    ProblemType {
        slug: "not-found",
        title: "Not found",
        status: 404,
        explanation: "The path names a code or id that does not exist (or a URL the service does not have).",
    },
    ProblemType {
        slug: "method-not-allowed",
        title: "Method not allowed",
        status: 405,
        explanation: "The resource exists but does not take this HTTP method.",
    },
    ProblemType {
        slug: "not-acceptable",
        title: "Not acceptable",
        status: 406,
        explanation: "The `Accept` header names no format this operation can answer in.",
    },
    ProblemType {
        slug: "conflict",
        title: "Conflict",
        status: 409,
        explanation: "The request contradicts what is stored: a code or number that already exists, or a change the current state does not allow. Read the resource and decide again.",
    },
    ProblemType {
        slug: "precondition-failed",
        title: "Precondition failed",
        status: 412,
        explanation: "`If-Match` names an ETag that is no longer current: someone changed the resource since it was read. Read it again (with its new ETag) and reapply the change.",
    },
    ProblemType {
        slug: "payload-too-large",
        title: "Request body too large",
        status: 413,
        explanation: "The body (or a gzip body once expanded, or a list inside it) is larger than the operation's limit; `detail` gives the limit. Split it.",
    },
    ProblemType {
        slug: "unsupported-media-type",
        title: "Unsupported media type",
        status: 415,
        explanation: "The body's `Content-Type` or `Content-Encoding` is not one the operation takes (JSON for most; NDJSON, optionally gzip, for the catalogue import).",
    },
    ProblemType {
        slug: "validation",
        title: "Invalid input",
        status: 422,
        explanation: "The request parses but some values are invalid; `errors` lists each invalid field (as a JSON path) with what is wrong. Nothing was changed.",
    },
    ProblemType {
        slug: "too-many-requests",
        title: "Too many requests",
        status: 429,
        explanation: "The client (its token, or its address without one) sent more requests than its rate allows. Wait the seconds `Retry-After` gives.",
    },
    ProblemType {
        slug: "internal",
        title: "Internal server error",
        status: 500,
        explanation: "An unexpected failure. Its cause is logged under the body's `error_id`: quote it when reporting the problem.",
    },
    ProblemType {
        slug: "unavailable",
        title: "Service unavailable",
        status: 503,
        explanation: "The database is not answering. Try again after the seconds `Retry-After` gives.",
    },
    ProblemType {
        slug: "busy",
        title: "Too busy",
        status: 503,
        explanation: "Too much heavy work (reports, imports) at once: the request waited its turn and gave up. Try again after the seconds `Retry-After` gives.",
    },
    ProblemType {
        slug: "timeout",
        title: "Request timed out",
        status: 503,
        explanation: "The request was not answered within the configured time. A write may still have been applied: read the resource (and its ETag) before trying again, after the seconds `Retry-After` gives.",
    },
];

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI reference naming the kind of problem (`/problems/validation`, …); the service
    /// answers it with a short explanation.
    #[serde(rename = "type")]
    #[schema(value_type = ProblemTypeUri)]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// For 422: every invalid field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// For 500: the id under which the cause was logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}

/// The problem `type` values, for the spec (the list is [`PROBLEM_TYPES`]).
pub struct ProblemTypeUri;

impl utoipa::PartialSchema for ProblemTypeUri {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        let values: Vec<String> = PROBLEM_TYPES
            .iter()
            .map(|t| format!("/problems/{}", t.slug))
            .collect();
        let list: Vec<String> = PROBLEM_TYPES
            .iter()
            .map(|t| format!("`/problems/{}` ({}): {}", t.slug, t.status, t.title))
            .collect();
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(values))
            .description(Some(format!(
                "The kind of problem, a URI reference under the service; `GET` on it explains \
                 it. One of: {}.",
                list.join("; ")
            )))
            .into()
    }
}

impl ToSchema for ProblemTypeUri {}

/// The last segment of a problem `type`, for the spec.
pub struct ProblemSlug;

impl utoipa::PartialSchema for ProblemSlug {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
        ObjectBuilder::new()
            .schema_type(SchemaType::Type(Type::String))
            .enum_values(Some(PROBLEM_TYPES.iter().map(|t| t.slug)))
            .into()
    }
}

impl ToSchema for ProblemSlug {}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("payload too large: {0}")]
    PayloadTooLarge(String),
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    #[error("not acceptable: {0}")]
    NotAcceptable(String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Too much heavy work at once: the request waited its turn and gave up.
    #[error("busy: {0}")]
    Busy(String),
    /// The caller sent more requests than its rate allows; it may try again after this many
    /// seconds.
    #[error("too many requests")]
    TooManyRequests(u64),
    /// The request was not answered within the configured time (seconds).
    #[error("request timed out after {0} s")]
    Timeout(u64),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn validation_one(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    fn parts(&self) -> (&'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => ("bad-request", "Malformed request"),
            ApiError::Unauthorized(_) => ("unauthorized", "Authentication required"),
            ApiError::Forbidden(_) => ("forbidden", "Not allowed"),
            ApiError::NotFound(_) => ("not-found", "Not found"),
            ApiError::MethodNotAllowed => ("method-not-allowed", "Method not allowed"),
            ApiError::Conflict(_) => ("conflict", "Conflict"),
            ApiError::PreconditionFailed(_) => ("precondition-failed", "Precondition failed"),
            ApiError::PayloadTooLarge(_) => ("payload-too-large", "Request body too large"),
            ApiError::UnsupportedMediaType(_) => {
                ("unsupported-media-type", "Unsupported media type")
            }
            ApiError::NotAcceptable(_) => ("not-acceptable", "Not acceptable"),
            ApiError::Validation(_) => ("validation", "Invalid input"),
            ApiError::Unavailable(_) => ("unavailable", "Service unavailable"),
            ApiError::Busy(_) => ("busy", "Too busy"),
            ApiError::TooManyRequests(_) => ("too-many-requests", "Too many requests"),
            ApiError::Timeout(_) => ("timeout", "Request timed out"),
            ApiError::Internal(_) => ("internal", "Internal server error"),
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::BadRequest(d)
            | ApiError::Unauthorized(d)
            | ApiError::Forbidden(d)
            | ApiError::NotFound(d)
            | ApiError::Conflict(d)
            | ApiError::PreconditionFailed(d)
            | ApiError::PayloadTooLarge(d)
            | ApiError::UnsupportedMediaType(d)
            | ApiError::NotAcceptable(d)
            | ApiError::Busy(d) => d.clone(),
            ApiError::TooManyRequests(secs) => format!(
                "this client sent more requests than its rate allows; try again in {secs} s"
            ),
            ApiError::MethodNotAllowed => "this resource does not support that method".into(),
            ApiError::Validation(errors) => match errors.len() {
                1 => "1 field is invalid".into(),
                n => format!("{n} fields are invalid"),
            },
            ApiError::Unavailable(_) => "the database is not answering; try again shortly".into(),
            ApiError::Timeout(secs) => format!(
                "the request was not answered within {secs} s; a write may still have been \
                 applied, so read the resource (and its ETag) before trying again"
            ),
            ApiError::Internal(_) => "an unexpected error occurred; it has been logged".into(),
        }
    }
}

struct Chain<'a>(&'a anyhow::Error);

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::Timeout(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (slug, title) = self.parts();
        let mut error_id = None;
        match self {
            ApiError::Internal(cause) => {
                let id = uuid::Uuid::new_v4().to_string();
                tracing::error!(error_id = %id, cause = %Chain(cause), "request failed");
                error_id = Some(id);
            }
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            ApiError::Busy(cause) => tracing::warn!(%cause, "busy"),
            ApiError::Timeout(secs) => tracing::warn!(secs, "request timed out"),
            _ => {}
        }
        let problem = Problem {
            kind: format!("/problems/{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail: self.detail(),
            errors: match self {
                ApiError::Validation(errors) => errors.clone(),
                _ => Vec::new(),
            },
            error_id,
        };
        let mut builder = HttpResponse::build(status);
        builder.content_type("application/problem+json");
        if matches!(self, ApiError::Unauthorized(_)) {
            builder.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"niemyet\""),
            ));
        }
        match self {
            ApiError::Unavailable(_) | ApiError::Busy(_) | ApiError::Timeout(_) => {
                builder.insert_header((header::RETRY_AFTER, HeaderValue::from_static("5")));
            }
            ApiError::TooManyRequests(secs) => {
                builder.insert_header((header::RETRY_AFTER, secs.to_string()));
            }
            _ => {}
        }
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        builder.body(body)
    }
}

/// The one place a service's error becomes a status.
impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::Forbidden(m) => ApiError::Forbidden(m),
            ServiceError::Conflict(m) => ApiError::Conflict(m),
            ServiceError::PreconditionFailed(m) => ApiError::PreconditionFailed(m),
            ServiceError::Validation(errors) => ApiError::Validation(errors),
            ServiceError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            ServiceError::Unavailable(m) => ApiError::Unavailable(m),
            ServiceError::Busy(m) => ApiError::Busy(m),
            ServiceError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ServiceError::from(e).into()
    }
}

impl From<validator::ValidationErrors> for ApiError {
    fn from(e: validator::ValidationErrors) -> Self {
        ApiError::Validation(flatten_validation("", &e))
    }
}

/// Turns validator's nested report into `field: message` pairs with JSON-path field names.
fn flatten_validation(prefix: &str, errors: &validator::ValidationErrors) -> Vec<FieldError> {
    use validator::ValidationErrorsKind;
    let mut out = Vec::new();
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for err in list {
                    let message = err
                        .message
                        .as_ref()
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| describe(err));
                    out.push(FieldError::new(path.clone(), message));
                }
            }
            ValidationErrorsKind::Struct(inner) => out.extend(flatten_validation(&path, inner)),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    out.extend(flatten_validation(&format!("{path}[{index}]"), inner));
                }
            }
        }
    }
    out
}

fn describe(err: &validator::ValidationError) -> String {
    let param = |name: &str| err.params.get(name).map(|v| v.to_string());
    match err.code.as_ref() {
        "length" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max} characters long"),
            (Some(min), None) => format!("must be at least {min} characters long"),
            (None, Some(max)) => format!("must be at most {max} characters long"),
            _ => "has the wrong length".into(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".into(),
        },
        "url" => "must be a valid URL".into(),
        code => format!("is invalid ({code})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_the_service_sends_is_in_the_documented_list() {
        let errors = [
            ApiError::BadRequest(String::new()),
            ApiError::Unauthorized(String::new()),
            ApiError::Forbidden(String::new()),
            ApiError::NotFound(String::new()),
            ApiError::MethodNotAllowed,
            ApiError::Conflict(String::new()),
            ApiError::PreconditionFailed(String::new()),
            ApiError::PayloadTooLarge(String::new()),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::NotAcceptable(String::new()),
            ApiError::Validation(Vec::new()),
            ApiError::Unavailable(String::new()),
            ApiError::Busy(String::new()),
            ApiError::TooManyRequests(1),
            ApiError::Timeout(1),
            ApiError::internal(anyhow::anyhow!("x")),
        ];
        assert_eq!(errors.len(), PROBLEM_TYPES.len());
        for error in &errors {
            let (slug, title) = error.parts();
            let listed = PROBLEM_TYPES.iter().find(|t| t.slug == slug);
            assert_eq!(
                listed.map(|t| (t.title, t.status)),
                Some((title, error.status_code().as_u16())),
                "{slug}"
            );
        }
    }
}
