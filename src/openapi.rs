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
        license(name = "MIT", identifier = "MIT")
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
        (name = "inspections", description = "Inspections of a commune's posting, frozen on the day, and their follow-up; records from the archive of communes retired in 2025"),
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
    finish(api)
}

/// The document as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    let mut json = spec().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// Media type of an XLSX workbook.
const XLSX: &str = crate::routes::export::XLSX;

/// What every operation can answer besides its own statuses, and the generators' needs, applied
/// to the collected document: the 500 and 503 (and the 429 where rate limits apply) that any
/// request may meet, a description on every response, binary workbooks and import bodies,
/// `If-Match` as a plain string, shared enums for repeated parameters, and `required` on every
/// field a response always carries.
pub fn finish(api: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    let Ok(mut doc) = serde_json::to_value(&api) else {
        return api;
    };
    finish_json(&mut doc);
    match serde_json::from_value(doc) {
        Ok(mut finished) => {
            keep_order(&api, &mut finished);
            finished
        }
        Err(e) => {
            tracing::error!(error = %e, "the OpenAPI document could not be finished");
            api
        }
    }
}

/// `serde_json::Value` sorts object keys: puts schema properties back in the order
/// the code declares them, with `required` in the same order.
fn keep_order(original: &utoipa::openapi::OpenApi, finished: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{RefOr, schema::Schema};
    let position = |keys: Vec<&String>, key: &String| {
        keys.iter().position(|k| *k == key).unwrap_or(usize::MAX)
    };
    let (Some(before), Some(after)) = (&original.components, &mut finished.components) else {
        return;
    };
    for (name, schema) in after.schemas.iter_mut() {
        let (Some(RefOr::T(Schema::Object(old))), RefOr::T(Schema::Object(new))) =
            (before.schemas.get(name), schema)
        else {
            continue;
        };
        let order: Vec<&String> = old.properties.keys().collect();
        new.properties
            .sort_by(|a, _, b, _| position(order.clone(), a).cmp(&position(order.clone(), b)));
        let order: Vec<&String> = new.properties.keys().collect();
        new.required.sort_by_key(|r| position(order.clone(), r));
    }
}

/// Paths the rate limits never apply to (see `ratelimit`).
const UNLIMITED: &[&str] = &["/health", "/ready", "/metrics"];

/// Fields a response leaves out when they are empty (`skip_serializing_if`): not required.
const SOMETIMES_ABSENT: &[(&str, &str)] = &[
    ("Problem", "errors"),
    ("Problem", "error_id"),
    ("LineProblem", "code"),
    ("Webhook", "secret"),
    ("Unit", "district"),
    ("Unit", "province"),
    ("UnitDetail", "same_code"),
];

/// Shared enums for query parameters that repeat one closed set, by parameter name.
const PARAMETER_ENUMS: &[(&str, &str, &str)] = &[
    (
        "format",
        "ExportFormat",
        "The form of an export: JSON, CSV (UTF-8 with a BOM), an XLSX workbook or an HTML page to print on A4; overrides the `Accept` header.",
    ),
    ("lang", "Lang", "The language of an export's words."),
    (
        "kind",
        "DecisionKind",
        "What a decision is: an announcement of the ministry or province, a catalogue import, or a provincial posting list.",
    ),
    ("level", "UnitLevel", "The level of an administrative unit."),
    (
        "status",
        "ProcedureStatusFilter",
        "Which procedures to list: in force (the default), abolished, or all.",
    ),
];

type FieldEnum = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// Closed sets the code keeps as text, declared as shared enums: (component, description,
/// values, the schema properties that take them).
const FIELD_ENUMS: &[FieldEnum] = &[
    ("PostingChannel", "", &[], &[("PostingLine", "channel")]),
    (
        "PostingWarningKind",
        "Why a posting recorded as asked is worth a look: its procedure is not in the catalogue, or its decision is not one the service knows.",
        &["unknown_procedure", "unknown_decision"],
        &[("PostingWarning", "kind")],
    ),
    (
        "UnitLevel",
        "The level of an administrative unit.",
        &["province", "commune"],
        &[("Unit", "level"), ("UnitDetail", "level")],
    ),
    (
        "Role",
        "A token's role.",
        &["admin", "editor", "officer", "auditor"],
        &[("Actor", "role")],
    ),
    (
        "DecisionKind",
        "What a decision is: an announcement of the ministry or province, a catalogue import, or a provincial posting list.",
        &["announcement", "import", "list"],
        &[
            ("Decision", "kind"),
            ("DecisionDetail", "kind"),
            ("DecisionRef", "kind"),
        ],
    ),
    (
        "AuditEntity",
        "What a write changed.",
        &[
            "decision",
            "exemption",
            "holidays",
            "inspection",
            "postings",
            "posting_places",
            "province_settings",
            "sector",
            "sector_place",
            "units",
            "webhook",
        ],
        &[("AuditEntry", "entity")],
    ),
];

/// Query parameters that take one of [`FIELD_ENUMS`]: (operation, parameter, component).
const PARAMETER_FIELD_ENUMS: &[(&str, &str, &str)] = &[("list_audit", "entity", "AuditEntity")];

/// Text fields that hold a date (`YYYY-MM-DD`).
const DATE_FIELDS: &[(&str, &str)] = &[("PostingLine", "posted_on"), ("PostingBody", "posted_on")];

fn default_description(status: &str) -> &'static str {
    match status {
        "200" => "Done: the answer is in the body",
        "201" => "Created: the new resource is in the body",
        "202" => "Accepted: the work is queued",
        "204" => "Done: nothing to say",
        "304" => "Not modified: the resource still has the ETag sent in `If-None-Match`",
        "400" => {
            "Malformed request: a body that is not JSON of the expected shape, or a query parameter or path segment that does not parse (`/problems/bad-request`)"
        }
        "401" => {
            "No token, or a token that is expired, malformed or not signed by the service's key (`/problems/unauthorized`, with `WWW-Authenticate: Bearer`)"
        }
        "403" => {
            "The token's role or unit may not do this; nothing was changed (`/problems/forbidden`)"
        }
        "404" => "No resource with that code or id (`/problems/not-found`)",
        "406" => {
            "The `Accept` header names no format this operation answers in (`/problems/not-acceptable`)"
        }
        "409" => {
            "The request contradicts what is stored: a code or number that already exists, or a change the current state does not allow (`/problems/conflict`)"
        }
        "412" => {
            "`If-Match` names an ETag that is no longer current: read the resource again and reapply the change (`/problems/precondition-failed`)"
        }
        "413" => {
            "The body, or a list in it, is larger than the limit given in `detail` (`/problems/payload-too-large`)"
        }
        "415" => {
            "The body's `Content-Type` or `Content-Encoding` is not one this operation takes (`/problems/unsupported-media-type`)"
        }
        "422" => {
            "Invalid input: `errors` lists every invalid field with what is wrong; nothing was changed (`/problems/validation`)"
        }
        "429" => {
            "This client (its token, or its address without one) sent more requests than its rate allows; `Retry-After` gives the seconds to wait (`/problems/too-many-requests`)"
        }
        "500" => "An unexpected failure, logged under the body's `error_id` (`/problems/internal`)",
        "503" => {
            "The database is not answering (`/problems/unavailable`), too much heavy work is queued (`/problems/busy`), or the request was not answered in time (`/problems/timeout`); `Retry-After` gives the seconds to wait"
        }
        _ => "See the body",
    }
}

fn problem_response(status: &str, retry_after: bool) -> serde_json::Value {
    let mut response = serde_json::json!({
        "description": default_description(status),
        "content": { "application/problem+json": {
            "schema": { "$ref": "#/components/schemas/Problem" }
        } }
    });
    if retry_after {
        response["headers"] = retry_after_header();
    }
    response
}

fn retry_after_header() -> serde_json::Value {
    serde_json::json!({ "Retry-After": {
        "description": "Seconds to wait before trying again",
        "required": true,
        "schema": { "type": "integer", "minimum": 0 }
    } })
}

fn binary(media_type: &str) -> serde_json::Value {
    serde_json::json!({ "type": "string", "format": "binary", "contentMediaType": media_type })
}

fn finish_json(doc: &mut serde_json::Value) {
    use serde_json::{Value, json};

    let mut new_components: Vec<(String, Value)> = Vec::new();
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for (component, description, values, fields) in FIELD_ENUMS {
            if !values.is_empty() {
                schemas.insert(
                    (*component).to_owned(),
                    json!({ "type": "string", "description": description, "enum": values }),
                );
            }
            for (schema, property) in *fields {
                let Some(p) = schemas
                    .get_mut(*schema)
                    .and_then(|s| s.get_mut("properties"))
                    .and_then(|p| p.get_mut(*property))
                else {
                    continue;
                };
                let mut typed = json!({ "$ref": format!("#/components/schemas/{component}") });
                if let Some(d) = p.get("description") {
                    typed["description"] = d.clone();
                }
                *p = typed;
            }
        }
        for (schema, property) in DATE_FIELDS {
            if let Some(p) = schemas
                .get_mut(*schema)
                .and_then(|s| s.get_mut("properties"))
                .and_then(|p| p.get_mut(*property))
            {
                p["format"] = json!("date");
            }
        }
    }
    let existing_enums: Vec<(String, Value)> = doc["components"]["schemas"]
        .as_object()
        .map(|schemas| {
            schemas
                .iter()
                .filter(|(_, s)| s["enum"].is_array())
                .map(|(name, s)| (name.clone(), s["enum"].clone()))
                .collect()
        })
        .unwrap_or_default();

    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, item) in paths.iter_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for operation in item.values_mut() {
                let operation_id = operation["operationId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                // Parameters: `If-Match` is a string when given; repeated closed sets are one
                // shared enum.
                if let Some(parameters) = operation
                    .get_mut("parameters")
                    .and_then(|p| p.as_array_mut())
                {
                    for parameter in parameters {
                        if parameter["name"] == "If-Match" {
                            parameter["schema"] = json!({ "type": "string" });
                            continue;
                        }
                        if let Some((_, _, component)) = PARAMETER_FIELD_ENUMS
                            .iter()
                            .find(|(o, p, _)| *o == operation_id && parameter["name"] == *p)
                        {
                            parameter["schema"] =
                                json!({ "$ref": format!("#/components/schemas/{component}") });
                            continue;
                        }
                        let values = parameter["schema"]["enum"].clone();
                        if !values.is_array() {
                            continue;
                        }
                        let name = parameter["name"].as_str().unwrap_or_default().to_owned();
                        let component = existing_enums
                            .iter()
                            .chain(new_components.iter())
                            .find(|(_, v)| v == &values || v["enum"] == values)
                            .map(|(n, _)| n.clone())
                            .or_else(|| {
                                let (_, component, description) =
                                    PARAMETER_ENUMS.iter().find(|(p, _, _)| *p == name)?;
                                new_components.push((
                                    (*component).to_owned(),
                                    json!({ "type": "string", "description": description, "enum": values }),
                                ));
                                Some((*component).to_owned())
                            });
                        if let Some(component) = component {
                            parameter["schema"] =
                                json!({ "$ref": format!("#/components/schemas/{component}") });
                        }
                    }
                }
                // The catalogue import's records are bytes (NDJSON, or gzip).
                if let Some(content) = operation
                    .get_mut("requestBody")
                    .and_then(|b| b.get_mut("content"))
                    .and_then(|c| c.as_object_mut())
                    && content.contains_key("application/x-ndjson")
                {
                    content.insert(
                        "application/x-ndjson".into(),
                        json!({ "schema": binary("application/x-ndjson") }),
                    );
                    content.insert(
                        "application/gzip".into(),
                        json!({ "schema": binary("application/gzip") }),
                    );
                }
                let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for (status, response) in responses.iter_mut() {
                    if response["description"].as_str().is_none_or(str::is_empty) {
                        response["description"] = json!(default_description(status));
                    }
                    if let Some(content) =
                        response.get_mut("content").and_then(|c| c.as_object_mut())
                        && content.contains_key(XLSX)
                    {
                        content.insert(XLSX.into(), json!({ "schema": binary(XLSX) }));
                    }
                    if status == "503" {
                        response["headers"] = retry_after_header();
                    }
                }
                responses
                    .entry("500")
                    .or_insert_with(|| problem_response("500", false));
                responses
                    .entry("503")
                    .or_insert_with(|| problem_response("503", true));
                if !UNLIMITED.contains(&path.as_str()) {
                    responses
                        .entry("429")
                        .or_insert_with(|| problem_response("429", true));
                }
                sort_responses(responses);
            }
        }
    }

    let schemas = &mut doc["components"]["schemas"];
    for (name, schema) in new_components {
        schemas[name] = schema;
    }
    require_what_responses_always_send(doc);
}

/// Responses in status order, as utoipa writes them.
fn sort_responses(responses: &mut serde_json::Map<String, serde_json::Value>) {
    let mut entries: Vec<_> = std::mem::take(responses).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    responses.extend(entries);
}

/// The names of the component schemas `value` refers to, directly or through other components.
fn referenced(
    doc: &serde_json::Value,
    roots: &[&serde_json::Value],
) -> std::collections::BTreeSet<String> {
    fn refs(value: &serde_json::Value, out: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(|r| r.as_str())
                    && let Some(name) = r.strip_prefix("#/components/schemas/")
                {
                    out.push(name.to_owned());
                }
                map.values().for_each(|v| refs(v, out));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut queue = Vec::new();
    roots.iter().for_each(|r| refs(r, &mut queue));
    while let Some(name) = queue.pop() {
        if seen.insert(name.clone()) {
            refs(&doc["components"]["schemas"][&name], &mut queue);
        }
    }
    seen
}

/// Every property of a schema that only responses (and webhook events) use is sent every time,
/// as `null` when it has no value, except the few the server leaves out ([`SOMETIMES_ABSENT`]):
/// they are `required`, so that generated clients need not handle a missing value.
fn require_what_responses_always_send(doc: &mut serde_json::Value) {
    let mut requests = Vec::new();
    let mut responses = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for item in paths.values() {
            for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
                requests.push(&operation["requestBody"]);
                requests.push(&operation["parameters"]);
                responses.push(&operation["responses"]);
            }
        }
    }
    let webhooks = &doc["webhooks"];
    responses.push(webhooks);
    let requests = referenced(doc, &requests);
    let responses = referenced(doc, &responses);
    let Some(schemas) = doc["components"]["schemas"].as_object_mut() else {
        return;
    };
    for name in responses.difference(&requests) {
        let Some(schema) = schemas.get_mut(name) else {
            continue;
        };
        // A schema that extends another (`allOf`) has its own fields in an inline member.
        let parts: Vec<&mut serde_json::Value> = if schema["allOf"].is_array() {
            schema
                .get_mut("allOf")
                .and_then(|a| a.as_array_mut())
                .map(|members| members.iter_mut().collect())
                .unwrap_or_default()
        } else {
            vec![schema]
        };
        for part in parts {
            let Some(properties) = part.get("properties").and_then(|p| p.as_object()) else {
                continue;
            };
            let required: Vec<serde_json::Value> = properties
                .keys()
                .filter(|p| !SOMETIMES_ABSENT.contains(&(name.as_str(), p.as_str())))
                .map(|p| serde_json::Value::String(p.clone()))
                .collect();
            part["required"] = serde_json::Value::Array(required);
        }
    }
}
