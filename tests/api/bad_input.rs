//! The bad-input corpus, field by field and path by path: every answer a clear 4xx problem that
//! does not echo the input back whole, nothing written, the service healthy afterwards.

use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::{Reply, TestApp};

const IA_GRAI: &str = "23764";

/// Sets the field at `pointer` (`/a/0/b`) of `body` to `value`.
fn with(mut body: Value, pointer: &str, value: Value) -> Value {
    if let Some(slot) = body.pointer_mut(pointer) {
        *slot = value;
    } else {
        panic!("no {pointer} in {body}");
    }
    body
}

/// A problem, of a status from 400 to 499, that names none of the server's internals.
fn clean_problem(reply: &Reply, what: &str) -> Value {
    assert!(
        (400..500).contains(&reply.status),
        "{what}: {} {}",
        reply.status,
        reply.text()
    );
    let text = reply.text();
    for internal in [
        "panicked", "src/", ".rs:", "/root", "/work", "diesel", "SQLITE", "syntax",
    ] {
        assert!(
            !text.contains(internal),
            "{what} shows {internal:?}: {text}"
        );
    }
    reply.problem(reply.status)
}

#[actix_web::test]
async fn every_text_field_refuses_a_very_long_string_by_name() {
    let app = TestApp::spawn_demo().await;
    let long = "x".repeat(100_000);
    let editor = app.token(Role::Editor, None);
    let admin = app.token(Role::Admin, None);
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let decision = json!({"number": "1/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national",
        "signed_on": "2026-03-01", "title": "Về việc công bố thủ tục",
        "items": [{"action": "abolished", "procedure_code": "1.000656", "effective_on": "2027-01-01"}]});
    let inspection = json!({"unit": IA_GRAI, "inspected_on": "2026-01-15", "team": ["Nguyễn Văn An"],
        "notes": "Kiểm tra định kỳ"});
    let exemption = json!({"procedure_code": "1.000080", "reason": "Không áp dụng", "valid_from": "2026-01-01"});
    let posting = json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03",
        "evidence_url": "https://example.vn/a", "note": "Bảng tin"});
    let inventory = json!({"postings": [{"procedure_code": "1.001193", "channel": "counter",
        "decision": "163/QĐ-BTP", "posted_on": "2025-07-03"}]});
    let posting_path = format!("/api/v1/communes/{IA_GRAI}/postings/1.001193/counter");
    let inventory_path = format!("/api/v1/communes/{IA_GRAI}/postings");
    let exemption_path = format!("/api/v1/communes/{IA_GRAI}/exemptions");
    let cases: Vec<(&str, &str, &str, Value, &str, &str)> = vec![
        (
            "POST",
            "/api/v1/decisions",
            &editor,
            decision.clone(),
            "/number",
            "number",
        ),
        (
            "POST",
            "/api/v1/decisions",
            &editor,
            decision.clone(),
            "/issuer",
            "issuer",
        ),
        (
            "POST",
            "/api/v1/decisions",
            &editor,
            decision.clone(),
            "/title",
            "title",
        ),
        (
            "POST",
            "/api/v1/decisions",
            &editor,
            decision.clone(),
            "/scope",
            "scope",
        ),
        (
            "POST",
            "/api/v1/decisions",
            &editor,
            decision,
            "/items/0/procedure_code",
            "items[0].procedure_code",
        ),
        (
            "POST",
            "/api/v1/sectors",
            &editor,
            json!({"name": "Lĩnh vực"}),
            "/name",
            "name",
        ),
        (
            "POST",
            "/api/v1/inspections",
            &admin,
            inspection.clone(),
            "/team/0",
            "team",
        ),
        (
            "POST",
            "/api/v1/inspections",
            &admin,
            inspection.clone(),
            "/notes",
            "notes",
        ),
        (
            "POST",
            "/api/v1/inspections",
            &admin,
            inspection,
            "/unit",
            "unit",
        ),
        (
            "POST",
            &exemption_path,
            &admin,
            exemption.clone(),
            "/reason",
            "reason",
        ),
        (
            "POST",
            &exemption_path,
            &admin,
            exemption,
            "/procedure_code",
            "procedure_code",
        ),
        (
            "PUT",
            &posting_path,
            &officer,
            posting.clone(),
            "/decision",
            "decision",
        ),
        (
            "PUT",
            &posting_path,
            &officer,
            posting.clone(),
            "/evidence_url",
            "evidence_url",
        ),
        ("PUT", &posting_path, &officer, posting, "/note", "note"),
        (
            "PUT",
            &inventory_path,
            &officer,
            inventory.clone(),
            "/postings/0/decision",
            "decision",
        ),
        (
            "PUT",
            &inventory_path,
            &officer,
            inventory,
            "/postings/0/procedure_code",
            "procedure_code",
        ),
    ];
    let before = app.table_counts();
    for (method, path, token, body, pointer, field) in cases {
        let what = format!("{method} {path} with a long {pointer}");
        let body = with(body, pointer, Value::from(long.as_str()));
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let reply = app
            .send(
                app.client
                    .request(method, app.url(path))
                    .bearer_auth(token)
                    .header("if-match", "*")
                    .json(&body),
            )
            .await;
        let problem = clean_problem(&reply, &what);
        assert_eq!(reply.status, 422, "{what}: {problem}");
        let named = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["field"].as_str().is_some_and(|f| f.contains(field)));
        assert!(named, "{what}: no error names {field}: {problem}");
        assert!(
            reply.bytes.len() < 2_000,
            "{what}: the problem echoes the input ({} bytes)",
            reply.bytes.len()
        );
        assert_eq!(app.table_counts(), before, "{what} wrote something");
    }
    assert_eq!(app.get("/health").await.status, 200, "still healthy");
}

#[actix_web::test]
async fn path_metacharacters_and_look_alike_codes_are_refused_cleanly() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token(Role::Admin, None);
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let before = app.table_counts();
    let traversal = "..%2F..%2F..%2Fetc%2Fpasswd";
    // Cyrillic О for the zeros, Cyrillic З for the 3.
    let gets = [
        format!("/api/v1/units/{traversal}"),
        format!("/api/v1/procedures/{traversal}"),
        format!("/api/v1/sectors/{traversal}"),
        format!("/api/v1/decisions/{traversal}"),
        format!("/api/v1/communes/{traversal}/report"),
        format!("/api/v1/communes/{traversal}/postings"),
        format!("/api/v1/provinces/{traversal}/report"),
        format!("/api/v1/inspections/{traversal}"),
        "/api/v1/provinces/%2e%2e/report".to_owned(),
        "/api/v1/procedures/1.001193%00".to_owned(),
        "/api/v1/procedures/1.%D0%9E%D0%9E1193".to_owned(),
        "/api/v1/units/2%D0%97764".to_owned(),
        "/api/v1/units?parent=..%2F..%2F&limit=5".to_owned(),
    ];
    for path in &gets {
        let reply = app
            .send(app.client.get(app.url(path)).bearer_auth(&admin))
            .await;
        clean_problem(&reply, path);
    }
    for path in [
        format!("/api/v1/communes/{IA_GRAI}/postings/{traversal}/counter"),
        format!("/api/v1/communes/{IA_GRAI}/postings/1.%D0%9E%D0%9E1193/counter"),
        format!("/api/v1/communes/{IA_GRAI}/postings/1.001193/..%2Fportal"),
    ] {
        let reply = app
            .send(
                app.client
                    .put(app.url(&path))
                    .bearer_auth(&officer)
                    .header("if-match", "*")
                    .json(&json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03"})),
            )
            .await;
        clean_problem(&reply, &path);
    }
    // Quotes and SQL in a filter are only text: they match nothing.
    let filtered = app
        .get_json("/api/v1/procedures?sector=%27%20OR%201%3D1--")
        .await;
    assert_eq!(filtered["items"], json!([]), "{filtered}");
    // A decision number typed with Cyrillic look-alikes (ВТР) would never match the catalogue's.
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &json!({"number": "5/QĐ-ВТР", "issuer": "Bộ Tư pháp", "scope": "national",
                    "signed_on": "2026-03-01",
                    "items": [{"action": "abolished", "procedure_code": "1.000656",
                               "effective_on": "2027-01-01"}]}),
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    assert_eq!(
        clean_problem(&reply, "a Cyrillic decision number")["errors"][0]["field"],
        "number"
    );
    // Searching in mixed scripts finds nothing, and fails on nothing.
    let found = app
        .send(
            app.client
                .get(app.url("/api/v1/procedures"))
                .query(&[("q", "Κhai ѕinh 出生 ../")]),
        )
        .await;
    assert_eq!(found.status, 200, "{}", found.text());
    assert_eq!(app.table_counts(), before);
    assert_eq!(app.get("/health").await.status, 200, "still healthy");
}

/// A valid body for each operation that takes JSON, as an admin sends it.
fn valid_body(method: &str, path: &str) -> Option<Value> {
    Some(match (method, path) {
        ("POST", "/api/v1/decisions") => json!({"number": "77/QĐ-BTP", "issuer": "Bộ Tư pháp",
            "scope": "national", "signed_on": "2026-04-20", "title": "Về việc công bố",
            "items": [{"action": "abolished", "procedure_code": "1.000656",
                       "effective_on": "2027-01-01"}]}),
        ("POST", "/api/v1/inspections") => json!({"unit": IA_GRAI, "inspected_on": "2026-01-15",
            "team": ["Trần Thị Bình"], "notes": "Kiểm tra"}),
        ("POST", "/api/v1/sectors") => json!({"name": "Lĩnh vực kiểm thử"}),
        ("PUT", "/api/v1/calendar/holidays") => {
            json!({"holidays": [{"day": "2026-04-30", "name": "Ngày Chiến thắng"}]})
        }
        ("POST", "/api/v1/communes/{code}/exemptions") => json!({"procedure_code": "1.000656",
            "reason": "Không áp dụng", "valid_from": "2026-01-01"}),
        ("PUT", "/api/v1/communes/{code}/postings") => json!({"postings": [{
            "procedure_code": "1.001193", "channel": "counter", "decision": "163/QĐ-BTP",
            "posted_on": "2025-07-03", "evidence_url": "https://example.vn/a", "note": "Bảng"}]}),
        ("PUT", "/api/v1/communes/{code}/postings/{procedure_code}/{channel}") => {
            json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03",
                   "evidence_url": "https://example.vn/a", "note": "Bảng tin"})
        }
        ("PUT", "/api/v1/provinces/{code}/settings") => {
            json!({"deadline_working_days": 5, "required_channels": ["counter"]})
        }
        ("PUT", "/api/v1/provinces/{code}/posting-places") => json!({"periods": [
            {"from": "2026-01-01", "places": ["commune_centre", "commune_police"]}]}),
        ("PUT", "/api/v1/sectors/{code}/posting-place") => {
            json!({"place": "commune_centre", "reason": "Kiểm thử"})
        }
        _ => return None,
    })
}

/// Every string leaf of `value`, as JSON pointers.
fn string_leaves(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::String(_) => out.push(at),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                string_leaves(v, format!("{at}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                string_leaves(v, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

/// A concrete value for a path parameter.
fn path_value(path: &str, name: &str) -> &'static str {
    match name {
        "code" if path.starts_with("/api/v1/communes/") => IA_GRAI,
        "code" if path.starts_with("/api/v1/provinces/") => "52",
        "code" if path.starts_with("/api/v1/procedures/") => "1.001193",
        "code" => "52",
        "procedure_code" => "1.001193",
        "channel" => "counter",
        _ => "0190f5a2-0000-7000-8000-000000000000",
    }
}

/// Bytes PostgreSQL refuses in text (NUL) and bytes that are not UTF-8, in every path and query
/// parameter and every string field of every JSON body of the spec: each a 4xx problem, nothing
/// written, on both backends (PostgreSQL answered 500 to a NUL in a path).
#[actix_web::test]
async fn bytes_the_database_refuses_are_a_4xx_everywhere() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token(Role::Admin, None);
    let spec = app.get_json("/openapi.json").await;
    let before = app.table_counts();
    let mut tried = 0;
    let send = |method: &str, url: String, body: Option<Value>| {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a valid method");
        let mut request = app
            .client
            .request(method, app.url(&url))
            .bearer_auth(&admin)
            .header("if-match", "*");
        if let Some(body) = body {
            request = request.json(&body);
        }
        app.send(request)
    };
    for (path, ops) in spec["paths"].as_object().into_iter().flatten() {
        for (method, op) in ops.as_object().into_iter().flatten() {
            let method = method.to_uppercase();
            let params: Vec<(String, String)> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| {
                    Some((p["name"].as_str()?.to_owned(), p["in"].as_str()?.to_owned()))
                })
                .collect();
            let fill = |except: &str, bad: &str| {
                let mut url = path.clone();
                for (name, place) in &params {
                    if place == "path" {
                        let value = if name == except {
                            bad
                        } else {
                            path_value(path, name)
                        };
                        url = url.replace(&format!("{{{name}}}"), value);
                    }
                }
                url
            };
            let body = valid_body(&method, path);
            for bad in ["a%00b", "%FF%FE", "%C0%80"] {
                for (name, place) in &params {
                    let url = match place.as_str() {
                        "path" => fill(name, bad),
                        "query" => format!("{}?{name}={bad}", fill("", "")),
                        _ => continue,
                    };
                    let what = format!("{method} {url}");
                    let reply = send(&method, url, body.clone()).await;
                    let problem = clean_problem(&reply, &what);
                    assert_eq!(problem["status"], 400, "{what}: {problem}");
                    tried += 1;
                }
            }
            let Some(body) = body else { continue };
            let mut leaves = Vec::new();
            string_leaves(&body, String::new(), &mut leaves);
            for leaf in leaves {
                let what = format!("{method} {path} with a NUL at {leaf}");
                let bad = with(body.clone(), &leaf, json!("a\u{0}b"));
                let reply = send(&method, fill("", ""), Some(bad)).await;
                clean_problem(&reply, &what);
                tried += 1;
            }
        }
    }
    // The catalogue's import reads the national portal's messy records: a NUL in a text field is
    // dropped, never stored (PostgreSQL would refuse it) and never a 5xx.
    let mut record = crate::import::record("1.001193");
    record["name"] = json!("Thủ tục\u{0} đăng ký\u{0}");
    record["code"] = json!("1.001193\u{0}");
    let reply = app
        .send(
            app.client
                .post(app.url("/api/v1/catalogue/import?dry_run=true"))
                .bearer_auth(&admin)
                .header("content-type", "application/x-ndjson")
                .body(record.to_string()),
        )
        .await;
    assert!(reply.status < 500, "{} {}", reply.status, reply.text());
    assert_eq!(
        app.table_counts(),
        before,
        "a refused request wrote something"
    );
    assert!(tried > 300, "{tried} requests tried");
    assert_eq!(app.get("/health").await.status, 200, "still healthy");
}
