use jsonwebtoken::{EncodingKey, Header};
use niemyet::auth::Role;
use niemyet::config::Environment;
use niemyet::startup::Application;
use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, TestApp, test_settings};

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn sign(claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::default(), claims, &EncodingKey::from_secret(key))
        .expect("the token is signed")
}

fn claims() -> Value {
    json!({"sub": "a", "role": "editor", "iss": "niemyet", "aud": "niemyet-api", "exp": now() + 600, "iat": now()})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn without(mut claims: Value, key: &str) -> Value {
    if let Some(map) = claims.as_object_mut() {
        map.remove(key);
    }
    claims
}

fn unsigned(claims: &Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        b64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims.to_string())
    )
}

fn decision() -> Value {
    json!({
        "number": "1001/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-03-01",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-04-01",
                   "procedure": {"legal_basis": "Luật Hộ tịch 2014"}}]
    })
}

#[actix_web::test]
async fn bad_tokens_are_refused_with_401_and_change_nothing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    let secret = TEST_SECRET.as_bytes();
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(&with(claims(), "exp", json!(now() - 3600)), secret),
        ),
        (
            "wrong issuer",
            sign(&with(claims(), "iss", json!("someone-else")), secret),
        ),
        (
            "wrong audience",
            sign(&with(claims(), "aud", json!("other-api")), secret),
        ),
        (
            "other key",
            sign(&claims(), b"another-secret-that-is-long-enough-000000"),
        ),
        ("alg none", unsigned(&claims())),
        ("no sub", sign(&without(claims(), "sub"), secret)),
        ("no exp", sign(&without(claims(), "exp"), secret)),
        ("no iss", sign(&without(claims(), "iss"), secret)),
        ("no aud", sign(&without(claims(), "aud"), secret)),
        (
            "unknown role",
            sign(&with(claims(), "role", json!("mayor")), secret),
        ),
        (
            "officer without commune",
            sign(&with(claims(), "role", json!("officer")), secret),
        ),
        (
            "editor with a unit",
            sign(&with(claims(), "unit", json!("79")), secret),
        ),
        ("garbage", "not.a.token".to_owned()),
    ];
    for (case, token) in cases {
        let reply = app
            .post_json("/api/v1/decisions", &decision(), Some(&token))
            .await;
        assert_eq!(reply.status, 401, "{case}: {}", reply.text());
        reply.problem(401);
        assert!(
            reply
                .header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "{case}"
        );
    }
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token abc"] {
        let reply = app
            .send(
                app.client
                    .post(app.url("/api/v1/decisions"))
                    .header("authorization", header)
                    .json(&decision()),
            )
            .await;
        reply.problem(401);
    }
    assert_eq!(app.table_counts(), before);
    // An audience list (RFC 7519) naming this service, and no `iat`, are fine.
    let listed = with(
        without(claims(), "iat"),
        "aud",
        json!(["other-api", "niemyet-api"]),
    );
    let reply = app
        .post_json(
            "/api/v1/sectors",
            &json!({"name": "Lĩnh vực thử"}),
            Some(&sign(&listed, secret)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    // The good token of the same shape works.
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &decision(),
            Some(&sign(&claims(), secret)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

#[actix_web::test]
async fn reading_the_catalogue_needs_no_token_and_ignores_a_bad_one() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/v1/procedures?limit=1",
        "/api/v1/units/79",
        "/api/v1/sectors",
        "/api/v1/decisions",
        "/health",
    ] {
        assert_eq!(app.get(path).await.status, 200, "{path}");
        let reply = app
            .send(app.client.get(app.url(path)).bearer_auth("junk"))
            .await;
        assert_eq!(reply.status, 200, "{path}");
    }
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[actix_web::test]
async fn with_eddsa_configured_only_eddsa_tokens_are_accepted() {
    let public = fixture("ed25519-public.pem");
    let private = fixture("ed25519-private.pem");
    let app = TestApp::spawn_with(&[
        ("NIEMYET_JWT_ALGORITHM", "EdDSA"),
        ("NIEMYET_JWT_PUBLIC_KEY_FILE", &public),
        ("NIEMYET_JWT_PRIVATE_KEY_FILE", &private),
    ])
    .await;
    let hs256 = sign(&claims(), TEST_SECRET.as_bytes());
    app.post_json("/api/v1/decisions", &decision(), Some(&hs256))
        .await
        .problem(401);
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &decision(),
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

#[actix_web::test]
async fn with_rs256_configured_an_hs256_token_signed_with_the_public_key_is_refused() {
    let public = fixture("rsa-public.pem");
    let app = TestApp::spawn_with(&[
        ("NIEMYET_JWT_ALGORITHM", "RS256"),
        ("NIEMYET_JWT_PUBLIC_KEY_FILE", &public),
        ("NIEMYET_JWT_PRIVATE_KEY_FILE", &fixture("rsa-private.pem")),
    ])
    .await;
    // The classic key-confusion attack: HMAC keyed with the public key's bytes.
    let pem = std::fs::read(&public).unwrap_or_default();
    app.post_json(
        "/api/v1/decisions",
        &decision(),
        Some(&sign(&claims(), &pem)),
    )
    .await
    .problem(401);
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &decision(),
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

#[actix_web::test]
async fn production_refuses_to_start_with_the_development_secret_or_without_a_key() {
    let start = |extra: Vec<(&'static str, String)>| async move {
        let pairs: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut settings = test_settings("/nonexistent/never-opened.db", &pairs);
        settings.environment = Environment::Production;
        Application::build(settings)
            .await
            .err()
            .map(|e| e.to_string())
    };
    let dev = start(vec![(
        "NIEMYET_JWT_SECRET",
        niemyet::config::DEV_JWT_SECRET.into(),
    )])
    .await;
    assert!(dev.is_some_and(|e| e.contains("development secret")));
    let short = start(vec![("NIEMYET_JWT_SECRET", "short".into())]).await;
    assert!(short.is_some_and(|e| e.contains("32 bytes")));
    let no_key = start(vec![("NIEMYET_JWT_ALGORITHM", "RS256".into())]).await;
    assert!(no_key.is_some_and(|e| e.contains("PUBLIC_KEY_FILE")));
}

/// `nbf` holds with the same leeway as `exp` (RFC 7519 §4.1.5), and a token marking a header
/// extension critical is refused, since none is understood (RFC 7515 §4.1.11): with HS256 and
/// with RS256.
#[actix_web::test]
async fn not_before_and_critical_headers_are_enforced_with_hs256_and_rs256() {
    let rsa = std::fs::read(fixture("rsa-private.pem")).expect("the RSA fixture");
    let rs256 = (
        Header::new(jsonwebtoken::Algorithm::RS256),
        EncodingKey::from_rsa_pem(&rsa).expect("an RSA key"),
    );
    let hs256 = (
        Header::default(),
        EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    );
    let hs_app = TestApp::spawn().await;
    let rs_app = TestApp::spawn_with(&[
        ("NIEMYET_JWT_ALGORITHM", "RS256"),
        ("NIEMYET_JWT_PUBLIC_KEY_FILE", &fixture("rsa-public.pem")),
    ])
    .await;
    for (name, app, (header, key)) in [("HS256", &hs_app, hs256), ("RS256", &rs_app, rs256)] {
        let token = |header: &Header, claims: &Value| {
            jsonwebtoken::encode(header, claims, &key).expect("the token is signed")
        };
        let sector = |n: u32| json!({"name": format!("Lĩnh vực {name} {n}")});
        let tomorrow = token(&header, &with(claims(), "nbf", json!(now() + 86_400)));
        let reply = app
            .post_json("/api/v1/sectors", &sector(1), Some(&tomorrow))
            .await;
        let problem = reply.problem(401);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("not yet valid")),
            "{name}: {problem}"
        );
        // Within the leeway, and in the past, `nbf` is fine.
        for (n, nbf) in [(2, now() + 10), (3, now() - 60)] {
            let reply = app
                .post_json(
                    "/api/v1/sectors",
                    &sector(n),
                    Some(&token(&header, &with(claims(), "nbf", json!(nbf)))),
                )
                .await;
            assert_eq!(reply.status, 201, "{name} nbf {nbf}: {}", reply.text());
        }
        let mut critical = header.clone();
        critical.crit = Some(vec!["exp-ext".to_owned()]);
        let reply = app
            .post_json(
                "/api/v1/sectors",
                &sector(4),
                Some(&token(&critical, &claims())),
            )
            .await;
        let problem = reply.problem(401);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("critical")),
            "{name}: {problem}"
        );
    }
}
