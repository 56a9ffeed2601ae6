use niemyet::auth::Role;
use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use crate::helpers::TestApp;

#[actix_web::test]
async fn malformed_bodies_get_clear_problems_and_write_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Editor, None);
    let before = app.table_counts();
    let post = |body: Vec<u8>, content_type: &'static str| {
        app.post_bytes("/api/v1/decisions", body, content_type, Some(&token))
    };

    let problem = post(b"{\"number\": ".to_vec(), "application/json")
        .await
        .problem(400);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("malformed JSON")
    );
    post(b"{\"number\": 5}".to_vec(), "application/json")
        .await
        .problem(422);
    post(b"[]".to_vec(), "application/json").await.problem(422);
    post(b"number=1".to_vec(), "application/x-www-form-urlencoded")
        .await
        .problem(415);
    post(b"{}".to_vec(), "text/plain").await.problem(415);
    let huge = format!("{{\"number\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
    post(huge.into_bytes(), "application/json")
        .await
        .problem(413);

    let base = json!({"number": "1/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-03-01",
                      "items": [{"action": "abolished", "procedure_code": "1.000656", "effective_on": "2026-04-01"}]});
    let mut bad_date = base.clone();
    bad_date["signed_on"] = json!("2025-02-30");
    app.post_json("/api/v1/decisions", &bad_date, Some(&token))
        .await
        .problem(422);
    let mut bad_number = base.clone();
    bad_number["number"] = json!("QĐ/0001-BTP");
    assert_eq!(
        app.post_json("/api/v1/decisions", &bad_number, Some(&token))
            .await
            .problem(422)["errors"][0]["field"],
        "number"
    );
    let mut control = base.clone();
    control["issuer"] = json!("Bộ\u{0007}Tư pháp");
    app.post_json("/api/v1/decisions", &control, Some(&token))
        .await
        .problem(422);
    let mut sql = base.clone();
    sql["items"][0]["procedure_code"] = json!("1.000656'; DROP TABLE units;--");
    let problem = app
        .post_json("/api/v1/decisions", &sql, Some(&token))
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "items[0].procedure_code");
    let mut empty = base.clone();
    empty["items"] = json!([]);
    assert_eq!(
        app.post_json("/api/v1/decisions", &empty, Some(&token))
            .await
            .problem(422)["errors"][0]["field"],
        "items"
    );
    let mut big_fee = base.clone();
    big_fee["items"][0] = json!({"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-04-01",
                                 "procedure": {"channels": [{"method": "direct", "fee_vnd": 99999999999999999i64}]}});
    app.post_json("/api/v1/decisions", &big_fee, Some(&token))
        .await
        .problem(422);

    assert_eq!(app.table_counts(), before);
    assert_eq!(app.get("/health").await.status, 200, "still healthy");
}

#[actix_web::test]
async fn text_input_is_stored_in_nfc() {
    let app = TestApp::spawn().await;
    let decomposed: String = "Thủ tục đăng ký khai sinh (sửa đổi)".nfd().collect();
    let body = json!({"number": "9/QĐ-BTP", "issuer": "Bộ Tư pháp".nfd().collect::<String>(), "scope": "national",
                      "signed_on": "2026-03-01",
                      "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-04-01",
                                 "procedure": {"name": decomposed}}]});
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &body,
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["issuer"], "Bộ Tư pháp");
    let detail = app
        .get_json("/api/v1/procedures/1.001193?as_of=2026-04-01")
        .await;
    assert_eq!(
        detail["applicable"]["name"],
        "Thủ tục đăng ký khai sinh (sửa đổi)"
    );
    // And a search with decomposed input finds it.
    let q: String = "khai sinh (sửa đổi)".nfd().collect();
    let found = app
        .send(
            app.client
                .get(app.url("/api/v1/procedures"))
                .query(&[("q", q.as_str()), ("as_of", "2026-04-01")]),
        )
        .await;
    assert_eq!(found.json()["items"][0]["code"], "1.001193");
}

#[actix_web::test]
async fn far_away_dates_and_odd_ids_are_refused_before_the_database() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    for path in [
        "/api/v1/procedures?as_of=2300-01-01",
        "/api/v1/procedures/1.001193?as_of=1850-01-01",
        "/api/v1/sectors?as_of=+10000-01-01",
    ] {
        let reply = app.get(path).await;
        assert!(
            matches!(reply.status, 400 | 422),
            "{path}: {}",
            reply.text()
        );
        reply.problem(reply.status);
    }
    let reply = app
        .send(
            app.client
                .get(app.url("/api/v1/communes/23764/report?as_of=2300-01-01"))
                .bearer_auth(&admin),
        )
        .await;
    reply.problem(422);
    // A NUL in a path is refused before any route (PostgreSQL refuses it in text).
    app.get("/api/v1/decisions/%00").await.problem(400);
    app.send(
        app.client
            .get(app.url("/api/v1/decisions/%00/impact"))
            .bearer_auth(&admin),
    )
    .await
    .problem(400);
    app.delete("/api/v1/communes/23764/exemptions/%00", Some(&admin))
        .await
        .problem(400);
    let body = json!({"number": "1/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2300-03-01",
                      "items": [{"action": "abolished", "procedure_code": "1.000656", "effective_on": "2300-04-01"}]});
    let problem = app
        .post_json(
            "/api/v1/decisions",
            &body,
            Some(&app.token(Role::Editor, None)),
        )
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "signed_on");
}

#[actix_web::test]
async fn unknown_routes_and_methods_answer_problems() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/nothing-here").await.problem(404);
    app.get("/api/v2/procedures").await.problem(404);
    let reply = app
        .send(app.client.delete(app.url("/api/v1/units/79")))
        .await;
    assert!(matches!(reply.status, 404 | 405), "{}", reply.status);
    reply.problem(reply.status);
}

#[actix_web::test]
async fn swagger_ui_and_the_spec_are_served_offline() {
    let app = TestApp::spawn().await;
    let ui = app.get("/docs/").await;
    assert_eq!(ui.status, 200);
    assert!(ui.text().contains("swagger"), "the vendored UI page");
    let spec = app.get_json("/openapi.json").await;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
}
