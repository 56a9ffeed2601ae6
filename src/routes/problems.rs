//! The pages that problem `type` URIs name: `/problems/validation` and the others answer with a
//! short explanation, so that the URI in an error body leads somewhere.

use actix_web::{HttpResponse, get, web};

use crate::error::{ApiError, PROBLEM_TYPES, Problem};

/// What a problem `type` means: when the service sends it and what to do about it, as a short
/// HTML page.
#[utoipa::path(
    tag = "operations",
    params(("slug" = inline(crate::error::ProblemSlug), Path, description = "The last segment of a problem's `type`")),
    responses(
        (status = 200, description = "The explanation, as a short HTML page", content_type = "text/html", body = String),
        (status = 404, description = "No problem type of that name", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/problems/{slug}")]
pub async fn get_problem_type(slug: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let slug = slug.into_inner();
    let kind = PROBLEM_TYPES
        .iter()
        .find(|t| t.slug == slug)
        .ok_or_else(|| ApiError::NotFound(format!("no problem type {slug}")))?;
    let explanation = escape(kind.explanation).replace('`', "");
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>\n<p>HTTP status {status}. Problem type <code>/problems/{slug}</code>.</p>\n\
         <p>{explanation}</p></body></html>\n",
        title = escape(kind.title),
        status = kind.status,
        slug = kind.slug,
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(body))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
