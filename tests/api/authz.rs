//! The authorization matrix, driven by the published spec: every operation with every kind of bad
//! token, and every commune- or province-scoped operation with valid tokens of the wrong scope.
//! Nothing may be written by any refused request.

use jsonwebtoken::{EncodingKey, Header};
use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, TestApp};

const IA_GRAI: &str = "23764";
const GIA_LAI: &str = "52";

/// A concrete URL for a spec path (the values exist in the seeded database where it matters).
fn fill(path: &str) -> String {
    let code = if path.starts_with("/api/v1/communes/") {
        IA_GRAI
    } else if path.starts_with("/api/v1/provinces/") || path.starts_with("/api/v1/units/") {
        GIA_LAI
    } else if path.starts_with("/api/v1/procedures/") {
        "1.001193"
    } else {
        "01"
    };
    path.replace("{code}", code)
        .replace("{procedure_code}", "1.001193")
        .replace("{channel}", "counter")
        .replace("{id}", "0190f5a2-0000-7000-8000-000000000000")
}

/// A body that would be accepted if the caller were allowed, so that a refusal can only come
/// from who is asking.
fn body(path: &str) -> Value {
    match path {
        "/api/v1/communes/{code}/exemptions" => {
            json!({"procedure_code": "1.000656", "reason": "Không áp dụng", "valid_from": "2026-01-01"})
        }
        "/api/v1/communes/{code}/postings" => json!({"postings": []}),
        "/api/v1/communes/{code}/postings/{procedure_code}/{channel}" => {
            json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03"})
        }
        "/api/v1/provinces/{code}/settings" => {
            json!({"deadline_working_days": 5, "required_channels": ["counter"]})
        }
        _ => json!({}),
    }
}

fn bad_tokens() -> Vec<(&'static str, Option<String>)> {
    use base64::Engine;
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |patch: Value| {
        let mut c = json!({"sub": "m", "role": "admin", "iss": "niemyet", "aud": "niemyet-api",
                           "exp": now + 600});
        if let (Some(c), Some(p)) = (c.as_object_mut(), patch.as_object()) {
            c.extend(p.clone());
        }
        c
    };
    let sign = |c: Value, key: &[u8]| {
        jsonwebtoken::encode(&Header::default(), &c, &EncodingKey::from_secret(key))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let secret = TEST_SECRET.as_bytes();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    vec![
        ("no token", None),
        (
            "expired",
            Some(sign(claims(json!({"exp": now - 3600})), secret)),
        ),
        (
            "wrong issuer",
            Some(sign(claims(json!({"iss": "elsewhere"})), secret)),
        ),
        (
            "wrong audience",
            Some(sign(claims(json!({"aud": "other-api"})), secret)),
        ),
        (
            "another key",
            Some(sign(
                claims(json!({})),
                b"another-secret-long-enough-0000000000",
            )),
        ),
        (
            "alg none",
            Some(format!(
                "{}.{}.",
                b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
                b64.encode(claims(json!({})).to_string())
            )),
        ),
    ]
}

/// Every operation of the spec the running service publishes: (method, path, secured).
async fn operations(app: &TestApp) -> Vec<(String, String, bool)> {
    let spec = app.get_json("/openapi.json").await;
    let mut out = Vec::new();
    for (path, ops) in spec["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            out.push((method.to_uppercase(), path.clone(), secured));
        }
    }
    assert!(out.len() >= 35, "{} operations", out.len());
    out
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> crate::helpers::Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut request = app.client.request(method.clone(), app.url(&fill(path)));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if method == reqwest::Method::POST || method == reqwest::Method::PUT {
        request = request.json(&body(path));
    }
    app.send(request).await
}

#[actix_web::test]
async fn every_secured_operation_refuses_every_bad_token_and_writes_nothing() {
    let app = TestApp::spawn_demo().await;
    let before = app.table_counts();
    let mut tried = 0;
    for (method, path, secured) in operations(&app).await {
        for (kind, token) in bad_tokens() {
            let reply = call(&app, &method, &path, token.as_deref()).await;
            tried += 1;
            if secured {
                assert_eq!(
                    reply.status,
                    401,
                    "{method} {path} with {kind}: {}",
                    reply.text()
                );
                reply.problem(401);
                assert!(
                    reply
                        .header("www-authenticate")
                        .is_some_and(|h| h.starts_with("Bearer")),
                    "{method} {path} with {kind}"
                );
            } else {
                // Public reads ignore a bad token; they never fail because of it.
                assert!(
                    reply.status != 401 && reply.status < 500,
                    "{method} {path} with {kind}: {} {}",
                    reply.status,
                    reply.text()
                );
            }
        }
    }
    assert!(tried >= 35 * 6, "{tried}");
    assert_eq!(app.table_counts(), before);
}

#[actix_web::test]
async fn scoped_operations_refuse_officers_and_auditors_of_other_units() {
    let app = TestApp::spawn_demo().await;
    let before = app.table_counts();
    // Ia Grai is in Gia Lai (52); these belong to a Hà Nội commune and to Hà Nội (01).
    let outsiders = [
        (
            "officer of another commune",
            app.token(Role::Officer, Some("10441")),
        ),
        (
            "auditor of another province",
            app.token(Role::Auditor, Some("01")),
        ),
    ];
    let mut tried = 0;
    for (method, path, secured) in operations(&app).await {
        let scoped = path.starts_with("/api/v1/communes/{code}")
            || path.starts_with("/api/v1/provinces/{code}");
        if !secured || !scoped {
            continue;
        }
        for (who, token) in &outsiders {
            let reply = call(&app, &method, &path, Some(token)).await;
            tried += 1;
            // An unknown id may be reported as such once the scope allows looking for it; a
            // known commune or province out of scope is always 403.
            let refused = if path.contains("{id}") {
                reply.status == 403 || reply.status == 404
            } else {
                reply.status == 403
            };
            assert!(
                refused,
                "{method} {path} as {who}: {} {}",
                reply.status,
                reply.text()
            );
            assert!(
                reply
                    .header("content-type")
                    .is_some_and(|c| c.starts_with("application/problem+json")),
                "{method} {path} as {who}"
            );
        }
    }
    assert!(tried >= 2 * 10, "{tried}");
    // The national report is for national auditors and admins only.
    for (who, token) in &outsiders {
        let reply = call(&app, "GET", "/api/v1/reports/national", Some(token)).await;
        assert_eq!(
            reply.status,
            403,
            "national report as {who}: {}",
            reply.text()
        );
    }
    assert_eq!(app.table_counts(), before);
}
