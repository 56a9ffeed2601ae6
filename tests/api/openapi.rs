//! The committed `openapi/openapi.json` is what the code generates; `UPDATE_OPENAPI=1` rewrites it.

use std::path::Path;

use serde_json::Value;

use crate::helpers::TestApp;

#[test]
fn the_committed_spec_matches_the_code() {
    let generated = niemyet::openapi::spec_json();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .expect("the directory is created");
        std::fs::write(&path, &generated).expect("the file is written");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json differs from the generated spec; run `UPDATE_OPENAPI=1 cargo test --test api openapi` and commit it"
    );
}

#[test]
fn every_operation_is_named_after_its_handler_and_documents_its_errors() {
    let spec: Value = serde_json::from_str(&niemyet::openapi::spec_json()).unwrap_or_default();
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 11, "{:?}", paths.keys());
    for (path, item) in &paths {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                !id.is_empty() && id.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{method} {path}: {id}"
            );
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{id} has no success response"
            );
            for (status, response) in &responses {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| !d.trim().is_empty()),
                    "{id} {status} says when it happens"
                );
            }
            // Any request may meet a failure or an unavailable database; a rate limit applies
            // everywhere but liveness, readiness and metrics.
            for status in ["500", "503"] {
                assert!(responses.contains_key(status), "{id} documents {status}");
            }
            assert!(
                responses["503"]["headers"]["Retry-After"].is_object(),
                "{id}: 503 carries Retry-After"
            );
            if !["/health", "/ready", "/metrics"].contains(&path.as_str()) {
                assert!(responses.contains_key("429"), "{id} documents 429");
            }
            for param in op["parameters"].as_array().cloned().unwrap_or_default() {
                if param["name"] == "If-Match" {
                    assert_eq!(
                        param["schema"],
                        serde_json::json!({"type": "string"}),
                        "{id}"
                    );
                }
            }
            if method != "get" {
                assert!(op["security"].is_array(), "{id} declares its security");
                for status in ["401", "403"] {
                    assert!(responses.contains_key(status), "{id} documents {status}");
                }
                // What a client can get wrong in a body or a query is a 422; an operation that
                // takes neither (a replay) has nothing to refuse that way.
                let takes_input = op["requestBody"].is_object()
                    || op["parameters"]
                        .as_array()
                        .is_some_and(|p| p.iter().any(|p| p["in"] == "query"));
                if takes_input {
                    assert!(responses.contains_key("422"), "{id} documents 422");
                }
            }
            if path.contains('{') {
                assert!(
                    op["parameters"].is_array(),
                    "{id} documents its path parameters"
                );
            }
        }
    }
}

#[actix_web::test]
async fn the_served_spec_is_the_generated_one() {
    let app = TestApp::spawn().await;
    let served = app.get_json("/openapi.json").await;
    let generated: Value = serde_json::from_str(&niemyet::openapi::spec_json()).unwrap_or_default();
    assert_eq!(served, generated);
}

#[test]
fn the_spec_says_what_generators_need() {
    let spec: Value = serde_json::from_str(&niemyet::openapi::spec_json()).unwrap_or_default();
    assert_eq!(spec["info"]["license"]["identifier"], "MIT");
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let mut exports = 0;
    for item in spec["paths"]
        .as_object()
        .cloned()
        .unwrap_or_default()
        .values()
    {
        for op in item.as_object().cloned().unwrap_or_default().values() {
            let content = &op["responses"]["200"]["content"];
            if content[xlsx].is_object() {
                exports += 1;
                assert_eq!(
                    content[xlsx]["schema"]["format"], "binary",
                    "{}",
                    op["operationId"]
                );
                assert_eq!(content["text/csv"]["schema"]["type"], "string");
                assert!(content["application/json"].is_object());
            }
        }
    }
    assert!(exports >= 9, "{exports} exports");
    let import = &spec["paths"]["/api/v1/catalogue/import"]["post"]["requestBody"]["content"];
    for media in ["application/x-ndjson", "application/gzip"] {
        assert_eq!(import[media]["schema"]["format"], "binary", "{media}");
    }
    let schemas = &spec["components"]["schemas"];
    let types: Vec<&str> = schemas["ProblemTypeUri"]["enum"]
        .as_array()
        .map(|v| v.iter().filter_map(|t| t.as_str()).collect())
        .unwrap_or_default();
    assert!(
        types.contains(&"/problems/validation") && types.len() >= 16,
        "{types:?}"
    );
    // What a response always carries is required; what it leaves out when empty is not.
    let required = |schema: &str| schemas[schema]["required"].clone();
    assert!(
        required("Unit")
            .as_array()
            .is_some_and(|r| r.contains(&"parent_code".into()))
    );
    assert!(
        !required("Webhook")
            .as_array()
            .is_some_and(|r| r.contains(&"secret".into()))
    );
    assert!(
        !required("Problem")
            .as_array()
            .is_some_and(|r| r.contains(&"error_id".into()))
    );
    for (schema, property, component) in [
        ("PostingLine", "channel", "PostingChannel"),
        ("PostingWarning", "kind", "PostingWarningKind"),
        ("Unit", "level", "UnitLevel"),
        ("Actor", "role", "Role"),
        ("Decision", "kind", "DecisionKind"),
        ("AuditEntry", "entity", "AuditEntity"),
    ] {
        assert_eq!(
            schemas[schema]["properties"][property]["$ref"],
            format!("#/components/schemas/{component}"),
            "{schema}.{property}"
        );
    }
    assert_eq!(
        schemas["PostingLine"]["properties"]["posted_on"]["format"],
        "date"
    );
}

#[actix_web::test]
async fn every_problem_type_is_a_page_of_the_service() {
    let app = TestApp::spawn().await;
    let problem = app.get("/api/v1/units/nope").await.json();
    let kind = problem["type"].as_str().unwrap_or_default().to_owned();
    assert!(kind.starts_with("/problems/"), "{problem}");
    let page = app.get(&kind).await;
    assert_eq!(page.status, 200);
    let text = String::from_utf8_lossy(&page.bytes).into_owned();
    assert!(text.contains("<h1>"), "{text}");
    for t in niemyet::error::PROBLEM_TYPES {
        let page = app.get(&format!("/problems/{}", t.slug)).await;
        assert_eq!(page.status, 200, "{}", t.slug);
    }
    assert_eq!(app.get("/problems/nope").await.status, 404);
}
