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
