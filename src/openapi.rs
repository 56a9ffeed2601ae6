//! The OpenAPI 3.1 document: its frame here, its operations collected from the route
//! registrations in `routes::configure`.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "niemyet",
        description = "Vietnam's administrative procedure catalogue (thủ tục hành chính) by level and sector, \
                       and the public posting (niêm yết) of procedures by commune offices. \
                       Errors are RFC 9457 problem details (`application/problem+json`). \
                       Reading the catalogue needs no token; writes need a bearer JWT with the role named on each operation.",
        license(name = "MIT")
    ),
    servers((url = "/", description = "This server")),
    modifiers(&BearerAuth),
    tags(
        (name = "catalogue", description = "Procedures, sectors and the decisions that announce them"),
        (name = "units", description = "Provinces and communes"),
        (name = "postings", description = "What each commune has posted, at its counter and on its web page"),
        (name = "reports", description = "Gap reports: a commune, a province, the country, a decision's impact"),
        (name = "settings", description = "Exemptions, public holidays and province settings"),
        (name = "obligation", description = "Who must post what: the posting list, the province's posting places and the sector table"),
        (name = "inspections", description = "Inspections of a commune's posting, frozen on the day, and their follow-up"),
        (name = "audit", description = "Who changed what, and when"),
        (name = "operations", description = "Health and readiness"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The frame of the document, before operations are added.
pub fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The complete document, as the server serves it.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, api) = App::new()
        .into_utoipa_app()
        .openapi(base())
        .configure(crate::routes::configure)
        .split_for_parts();
    api
}

/// The document as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    let mut json = spec().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
