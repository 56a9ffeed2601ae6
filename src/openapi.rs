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
    modifiers(&BearerAuth, &Webhooks),
    tags(
        (name = "catalogue", description = "Procedures, sectors and the decisions that announce them"),
        (name = "units", description = "Provinces and communes"),
        (name = "postings", description = "What each commune has posted, at its counter and on its web page"),
        (name = "reports", description = "Gap reports: a commune, a province, the country, a decision's impact"),
        (name = "settings", description = "Exemptions, public holidays and province settings"),
        (name = "obligation", description = "Who must post what: the posting list, the province's posting places and the sector table"),
        (name = "inspections", description = "Inspections of a commune's posting, frozen on the day, and their follow-up"),
        (name = "audit", description = "Who changed what, and when"),
        (name = "webhooks", description = "Subscriptions to events, their deliveries and replays; the events themselves are under `webhooks`"),
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
                    .description(Some(
                        "A JWT from the identity provider. On a development server, mint one with \
                         `niemyet token --role admin` (or `editor`, `auditor --unit 52`, \
                         `officer --unit 23764`) and paste it here, without `Bearer`.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The events a subscription receives, as OpenAPI 3.1's top-level `webhooks`: one `POST` per
/// event type, with the Standard Webhooks headers and the body's schema.
struct Webhooks;

impl Modify for Webhooks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use crate::notify::payload::{
            DecisionRecordedEvent, FindingsOverdueEvent, InspectionRecordedEvent,
            ItemsEffectiveEvent,
        };
        use utoipa::ToSchema;
        use utoipa::openapi::{RefOr, schema::Schema};

        let mut schemas: Vec<(String, RefOr<Schema>)> = Vec::new();
        fn add<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> String {
            T::schemas(schemas);
            schemas.push((T::name().into_owned(), T::schema()));
            T::name().into_owned()
        }
        let events = [
            (
                "decision.recorded",
                add::<DecisionRecordedEvent>(&mut schemas),
                "A decision was recorded",
                "Sent within seconds of the decision's commit, with the communes it asks to post, \
                 re-post or take down something and their due dates.",
            ),
            (
                "items.effective",
                add::<ItemsEffectiveEvent>(&mut schemas),
                "Decision items take effect today",
                "Sent each morning (Vietnam's time) that items take effect.",
            ),
            (
                "findings.overdue",
                add::<FindingsOverdueEvent>(&mut schemas),
                "Communes fell overdue today",
                "Sent each morning: the communes whose first finding became overdue that day.",
            ),
            (
                "inspection.recorded",
                add::<InspectionRecordedEvent>(&mut schemas),
                "An inspection was recorded",
                "Sent within seconds of the inspection's commit.",
            ),
        ];
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, schema) in schemas {
            components.schemas.entry(name).or_insert(schema);
        }
        let header = |name: &str, kind: &str, description: &str| {
            serde_json::json!({
                "name": name, "in": "header", "required": true,
                "schema": { "type": kind }, "description": description,
            })
        };
        let parameters = [
            header(
                "webhook-id",
                "string",
                "The event's id: the same on every attempt and replay (drop duplicates by it)",
            ),
            header(
                "webhook-timestamp",
                "integer",
                "When this attempt was sent, in seconds since 1970; refuse one too far from your clock",
            ),
            header(
                "webhook-signature",
                "string",
                "`v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` under \
                 the secret's bytes (after `whsec_`, base64-decoded); two, space-separated, while a \
                 rotated secret still signs",
            ),
        ];
        let items: serde_json::Map<String, serde_json::Value> = events
            .into_iter()
            .map(|(event, schema, summary, description)| {
                let operation = serde_json::json!({
                    "post": {
                        "tags": ["webhooks"],
                        "operationId": format!("on_{}", event.replace('.', "_")),
                        "summary": summary,
                        "description": description,
                        "parameters": parameters,
                        "requestBody": {
                            "required": true,
                            "content": { "application/json": {
                                "schema": { "$ref": format!("#/components/schemas/{schema}") }
                            } }
                        },
                        "responses": {
                            "2XX": { "description": "Received: the delivery is done" },
                            "410": { "description": "Gone: the subscription is turned off; nothing more is sent" },
                            "default": { "description": "Anything else, or no answer within 15 s: \
                                sent again later, for about three days" }
                        }
                    }
                });
                (event.to_owned(), operation)
            })
            .collect();
        openapi
            .extensions
            .get_or_insert_with(Default::default)
            .merge(utoipa::openapi::extensions::Extensions::from_iter([(
                "webhooks",
                serde_json::Value::Object(items),
            )]));
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
