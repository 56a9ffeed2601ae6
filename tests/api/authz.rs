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
        "/api/v1/provinces/{code}/posting-places" => {
            json!({"periods": [{"from": "2026-01-01", "places": ["commune_centre", "commune_police"]}]})
        }
        "/api/v1/sectors/{code}/posting-place" => {
            json!({"place": "commune_centre", "reason": "Kiểm thử phân quyền"})
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
            .expect("the token is signed")
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
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
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

/// The seven callers of the matrix, in the order of [`MATRIX`]'s columns.
fn callers(app: &TestApp) -> [(&'static str, String); 7] {
    [
        ("admin", app.token(Role::Admin, None)),
        ("editor", app.token(Role::Editor, None)),
        (
            "officer of the commune",
            app.token(Role::Officer, Some(IA_GRAI)),
        ),
        (
            "officer of another commune",
            app.token(Role::Officer, Some("10441")),
        ),
        (
            "auditor of the province",
            app.token(Role::Auditor, Some(GIA_LAI)),
        ),
        (
            "auditor of another province",
            app.token(Role::Auditor, Some("01")),
        ),
        ("national auditor", app.token(Role::Auditor, None)),
    ]
}

/// Who may call each secured operation on Ia Grai (23764) or Gia Lai (52), per DESIGN.md's
/// roles: one letter per caller of [`callers`], `y` allowed (2xx), `n` refused (403). Public
/// operations are allowed to everyone and are not listed.
const MATRIX: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/audit", "ynnnyny"),
    // Or the scraper's own token (tests/api/operations.rs).
    ("GET", "/metrics", "ynnnnnn"),
    ("PUT", "/api/v1/calendar/holidays", "ynnnnnn"),
    ("POST", "/api/v1/catalogue/import", "yynnnnn"),
    ("GET", "/api/v1/communes/{code}/exemptions", "ynynyny"),
    ("POST", "/api/v1/communes/{code}/exemptions", "ynnnnnn"),
    ("GET", "/api/v1/communes/{code}/exemptions/{id}", "ynynyny"),
    (
        "DELETE",
        "/api/v1/communes/{code}/exemptions/{id}",
        "ynnnnnn",
    ),
    ("GET", "/api/v1/communes/{code}/posting-list", "ynynyny"),
    ("GET", "/api/v1/communes/{code}/posting-sheet", "ynynyny"),
    ("GET", "/api/v1/communes/{code}/postings", "ynynyny"),
    ("PUT", "/api/v1/communes/{code}/postings", "ynynnnn"),
    (
        "PUT",
        "/api/v1/communes/{code}/postings/{procedure_code}/{channel}",
        "ynynnnn",
    ),
    (
        "DELETE",
        "/api/v1/communes/{code}/postings/{procedure_code}/{channel}",
        "ynynnnn",
    ),
    ("GET", "/api/v1/communes/{code}/report", "ynynyny"),
    ("POST", "/api/v1/decisions", "yynnnnn"),
    ("GET", "/api/v1/decisions/{id}/impact", "ynnnyny"),
    // Everyone but an editor lists the inspections of its own scope.
    ("GET", "/api/v1/inspections", "ynyyyyy"),
    ("POST", "/api/v1/inspections", "ynnnyny"),
    ("GET", "/api/v1/inspections/{id}", "ynynyny"),
    ("GET", "/api/v1/inspections/{id}/follow-up", "ynynyny"),
    ("GET", "/api/v1/provinces/{code}/report", "ynnnyny"),
    ("PUT", "/api/v1/provinces/{code}/posting-places", "ynnnnnn"),
    ("PUT", "/api/v1/provinces/{code}/settings", "ynnnnnn"),
    ("GET", "/api/v1/reports/national", "ynnnnny"),
    ("POST", "/api/v1/sectors", "yynnnnn"),
    ("PUT", "/api/v1/sectors/{code}/posting-place", "ynnnnnn"),
    // Admins, and a province's auditors for their own province's subscriptions (the one the
    // matrix uses is Gia Lai's); the list shows an auditor of another province their own.
    ("POST", "/api/v1/webhooks", "ynnnynn"),
    ("GET", "/api/v1/webhooks", "ynnnyyn"),
    ("GET", "/api/v1/webhooks/{id}", "ynnnynn"),
    ("PATCH", "/api/v1/webhooks/{id}", "ynnnynn"),
    ("DELETE", "/api/v1/webhooks/{id}", "ynnnynn"),
    ("POST", "/api/v1/webhooks/{id}/rotate-secret", "ynnnynn"),
    ("GET", "/api/v1/webhooks/{id}/deliveries", "ynnnynn"),
    (
        "POST",
        "/api/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
        "ynnnynn",
    ),
];

/// Webhook targets on 127.0.0.1 are allowed in the matrix's servers.
const PRIVATE_TARGETS: &[(&str, &str)] = &[("NIEMYET_WEBHOOKS_ALLOW_PRIVATE", "true")];

/// A subscription the matrix may create: Gia Lai's, to an address nobody listens on.
fn webhook_body() -> Value {
    json!({"url": "http://127.0.0.1:9/hooks", "events": ["inspection.recorded"], "province": GIA_LAI})
}

/// A webhook path with the matrix's subscription and delivery.
fn webhook_path(path: &str, ids: &Ids) -> String {
    path.replace("{id}", &ids.webhook)
        .replace("{delivery_id}", &ids.delivery)
}

/// The ids a matrix run needs, created afresh in its own database.
struct Ids {
    webhook: String,
    delivery: String,
    exemption: String,
    inspection: String,
    decision: String,
    sector: String,
}

async fn create_ids(app: &TestApp) -> Ids {
    let admin = app.token(Role::Admin, None);
    // Before the inspection, so that its event gives the subscription a delivery.
    let webhook = app
        .post_json("/api/v1/webhooks", &webhook_body(), Some(&admin))
        .await;
    assert_eq!(webhook.status, 201, "{}", webhook.text());
    let webhook = webhook.json()["id"].as_str().unwrap_or_default().to_owned();
    let exemption = app
        .post_json(
            &format!("/api/v1/communes/{IA_GRAI}/exemptions"),
            &json!({"procedure_code": "1.000080", "reason": "Không áp dụng", "valid_from": "2026-01-01"}),
            Some(&admin),
        )
        .await;
    assert_eq!(exemption.status, 201, "{}", exemption.text());
    let inspection = app
        .post_json(
            "/api/v1/inspections",
            &json!({"unit": IA_GRAI, "inspected_on": "2026-01-15", "team": ["Nguyễn Văn An"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(inspection.status, 201, "{}", inspection.text());
    let first = |v: Value, key: &str| v["items"][0][key].as_str().unwrap_or_default().to_owned();
    let delivery = first(
        app.get_as(&format!("/api/v1/webhooks/{webhook}/deliveries"), &admin)
            .await,
        "id",
    );
    assert!(!delivery.is_empty(), "the inspection's delivery");
    Ids {
        webhook,
        delivery,
        exemption: exemption.json()["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        inspection: inspection.json()["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        decision: first(app.get_json("/api/v1/decisions").await, "id"),
        sector: first(app.get_json("/api/v1/sectors").await, "code"),
    }
}

/// A request the matrix sends: real ids, scoped query parameters, an accepted body and
/// `If-Match: *`, so that only the caller decides the answer.
async fn matrix_call(
    app: &TestApp,
    ids: &Ids,
    method: &str,
    path: &str,
    token: &str,
) -> crate::helpers::Reply {
    let url = match path {
        "/api/v1/communes/{code}/exemptions/{id}" => {
            fill(path).replace("0190f5a2-0000-7000-8000-000000000000", &ids.exemption)
        }
        p if p.starts_with("/api/v1/inspections/{id}") => {
            fill(path).replace("0190f5a2-0000-7000-8000-000000000000", &ids.inspection)
        }
        p if p.starts_with("/api/v1/webhooks/") => webhook_path(p, ids),
        "/api/v1/decisions/{id}" => format!("/api/v1/decisions/{}", ids.decision),
        "/api/v1/decisions/{id}/impact" => format!(
            "/api/v1/decisions/{}/impact?province={GIA_LAI}",
            ids.decision
        ),
        "/api/v1/audit" => format!("/api/v1/audit?unit={IA_GRAI}"),
        "/api/v1/catalogue/changes" => "/api/v1/catalogue/changes?since=2026-01-01".to_owned(),
        "/api/v1/catalogue/import" => "/api/v1/catalogue/import?dry_run=true".to_owned(),
        "/api/v1/sectors/{code}" => format!("/api/v1/sectors/{}", ids.sector),
        "/api/v1/sectors/{code}/posting-place" => {
            format!("/api/v1/sectors/{}/posting-place", ids.sector)
        }
        "/problems/{slug}" => "/problems/forbidden".to_owned(),
        other => fill(other),
    };
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
    let mut request = app
        .client
        .request(method.clone(), app.url(&url))
        .bearer_auth(token);
    if method != reqwest::Method::GET {
        request = request.header("if-match", "*");
    }
    request = match path {
        "/api/v1/catalogue/import" => request
            .header("content-type", "application/x-ndjson")
            .body(crate::import::sample_file()),
        "/api/v1/calendar/holidays" => {
            request.json(&json!({"holidays": [{"day": "2026-04-30", "name": "Ngày Chiến thắng"}]}))
        }
        "/api/v1/decisions" => request.json(&json!({
            "number": "77/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national",
            "signed_on": "2026-04-20",
            "items": [{"action": "abolished", "procedure_code": "1.000656",
                       "effective_on": "2027-01-01"}]})),
        "/api/v1/inspections" if method == reqwest::Method::POST => request.json(
            &json!({"unit": IA_GRAI, "inspected_on": "2026-01-15", "team": ["Trần Thị Bình"]}),
        ),
        "/api/v1/sectors" => request.json(&json!({"name": "Lĩnh vực kiểm thử quyền"})),
        "/api/v1/webhooks" if method == reqwest::Method::POST => request.json(&webhook_body()),
        "/api/v1/webhooks/{id}" if method == reqwest::Method::PATCH => {
            request.json(&json!({"description": "Kiểm thử phân quyền"}))
        }
        _ if method == reqwest::Method::POST || method == reqwest::Method::PUT => {
            request.json(&body(path))
        }
        _ => request,
    };
    app.send(request).await
}

#[actix_web::test]
async fn every_role_gets_exactly_what_its_scope_allows_on_every_operation() {
    let mut spec_ops = {
        let app = TestApp::spawn().await;
        operations(&app).await
    };
    // Removals last, so that what they remove has been read first.
    spec_ops.sort_by_key(|(method, _, _)| method == "DELETE");
    // Every secured operation of the spec is in the matrix, and nothing else is.
    let mut secured: Vec<(String, String)> = spec_ops
        .iter()
        .filter(|(_, _, s)| *s)
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    secured.sort();
    let mut listed: Vec<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    listed.sort();
    assert_eq!(
        secured, listed,
        "the matrix lists the spec's secured operations"
    );

    let mut tried = 0;
    for column in 0..7 {
        // A fresh database per caller, so that each one's writes start from the same state.
        let app = TestApp::spawn_demo_with(PRIVATE_TARGETS).await;
        let ids = create_ids(&app).await;
        let (who, token) = callers(&app)[column].clone();
        for (method, path, secured) in &spec_ops {
            let allowed = MATRIX
                .iter()
                .find(|(m, p, _)| m == method && p == path)
                .map(|(_, _, row)| row.as_bytes()[column] == b'y')
                .unwrap_or(!secured);
            let before = app.table_counts();
            let reply = matrix_call(&app, &ids, method, path, &token).await;
            tried += 1;
            if allowed {
                assert!(
                    (200..300).contains(&reply.status),
                    "{method} {path} as {who}: {} {}",
                    reply.status,
                    reply.text()
                );
            } else {
                reply.problem(403);
                assert_eq!(
                    app.table_counts(),
                    before,
                    "{method} {path} as {who} wrote something"
                );
            }
        }
    }
    assert!(tried >= 7 * 35, "{tried}");
}

/// A caller without the role or the scope is refused before the request's query and body are
/// read: the answer is 403 whatever it sends, and never a validation error that would describe
/// the operation's fields to someone who may not call it.
#[actix_web::test]
async fn a_refused_caller_gets_403_whatever_it_sends() {
    let app = TestApp::spawn_demo_with(PRIVATE_TARGETS).await;
    let ids = create_ids(&app).await;
    let callers = callers(&app);
    let mut tried = 0;
    for (method, path, row) in MATRIX {
        for (column, (who, token)) in callers.iter().enumerate() {
            if row.as_bytes()[column] != b'n' {
                continue;
            }
            let url = match *path {
                "/api/v1/communes/{code}/exemptions/{id}" => {
                    fill(path).replace("0190f5a2-0000-7000-8000-000000000000", &ids.exemption)
                }
                p if p.starts_with("/api/v1/inspections/{id}") => {
                    fill(path).replace("0190f5a2-0000-7000-8000-000000000000", &ids.inspection)
                }
                p if p.starts_with("/api/v1/webhooks/") => format!(
                    "{}?as_of=someday&limit=-1&province=x%20y&unit=x&format=pdf",
                    webhook_path(p, &ids)
                ),
                // Where the scope is named in the query, it stays the one asked about.
                "/api/v1/decisions/{id}/impact" => format!(
                    "/api/v1/decisions/{}/impact?province={GIA_LAI}",
                    ids.decision
                ),
                "/api/v1/audit" => format!("/api/v1/audit?unit={IA_GRAI}"),
                other => format!(
                    "{}?as_of=someday&limit=-1&province=x%20y&unit=x&format=pdf",
                    fill(other)
                ),
            };
            let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
            let mut request = app
                .client
                .request(method.clone(), app.url(&url))
                .bearer_auth(token);
            if *path == "/api/v1/webhooks" && method == reqwest::Method::POST {
                // The province is named in the body: it stays the one asked about.
                request = request.json(&webhook_body());
            } else if *path == "/api/v1/inspections" {
                // The scope is named in the body: it stays the one asked about.
                request = request.json(&json!({"unit": IA_GRAI, "inspected_on": "2026-01-15", "team": ["Lê Văn Cường"]}));
            } else if method != reqwest::Method::GET {
                request = request
                    .header("content-type", "application/json")
                    .header("if-match", "\"not-the-etag\"")
                    .body("{\"number\": ");
            }
            let before = app.table_counts();
            let reply = app.send(request).await;
            assert_eq!(
                reply.status,
                403,
                "{method} {path} as {who}: {}",
                reply.text()
            );
            let problem = reply.problem(403);
            assert!(
                problem["detail"]
                    .as_str()
                    .is_some_and(|d| !d.contains("field")),
                "{method} {path} as {who}: {problem}"
            );
            assert_eq!(app.table_counts(), before, "{method} {path} as {who}");
            tried += 1;
        }
    }
    assert!(tried >= 110, "{tried} refusals tried");

    // The same body from a caller who may call the operation is read, and refused for what it is.
    let editor = app.token(Role::Editor, None);
    let reply = app
        .post_json("/api/v1/decisions", &json!({}), Some(&editor))
        .await;
    reply.problem(422);
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let reply = app
        .post_json("/api/v1/decisions", &json!({}), Some(&officer))
        .await;
    reply.problem(403);
}
