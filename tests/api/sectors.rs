use niemyet::auth::Role;
use serde_json::json;

use crate::helpers::TestApp;

#[actix_web::test]
async fn an_editor_creates_a_sector_that_a_decision_can_then_use() {
    let app = TestApp::spawn().await;
    let editor = app.token(Role::Editor, None);
    let reply = app
        .post_json(
            "/api/v1/sectors",
            &json!({"name": "Chuyển đổi số"}),
            Some(&editor),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(
        reply.header("location").as_deref(),
        Some("/api/v1/sectors/chuyen-doi-so")
    );
    assert_eq!(reply.json()["code"], "chuyen-doi-so");
    let fetched = app.get_json("/api/v1/sectors/chuyen-doi-so").await;
    assert_eq!(fetched["name"], "Chuyển đổi số");
    assert_eq!(fetched["procedures_in_force"], 0);

    let decision = json!({
        "number": "8/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-02-01",
        "items": [{"action": "new", "procedure_code": "1.999010", "effective_on": "2026-03-01",
                   "procedure": {"name": "Thủ tục số hóa", "sector": "chuyen-doi-so", "levels": ["commune", "province"]}}]
    });
    let reply = app
        .post_json("/api/v1/decisions", &decision, Some(&editor))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let counted = app
        .get_json("/api/v1/sectors/chuyen-doi-so?as_of=2026-03-01")
        .await;
    assert_eq!(counted["procedures_in_force"], 1);
    assert_eq!(counted["by_level"]["commune"], 1);
    assert_eq!(counted["by_level"]["province"], 1);
}

#[actix_web::test]
async fn a_sector_name_is_taken_once_and_only_editors_and_admins_create_sectors() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    app.post_json(
        "/api/v1/sectors",
        &json!({"name": "Hộ tịch"}),
        Some(&app.token(Role::Admin, None)),
    )
    .await
    .problem(409);
    app.post_json(
        "/api/v1/sectors",
        &json!({"name": "X"}),
        Some(&app.token(Role::Officer, Some("23764"))),
    )
    .await
    .problem(403);
    app.post_json("/api/v1/sectors", &json!({"name": "X"}), None)
        .await
        .problem(401);
    app.post_json(
        "/api/v1/sectors",
        &json!({"name": ""}),
        Some(&app.token(Role::Editor, None)),
    )
    .await
    .problem(422);
    app.post_json(
        "/api/v1/sectors",
        &json!({"name": "   "}),
        Some(&app.token(Role::Editor, None)),
    )
    .await
    .problem(422);
    app.post_json(
        "/api/v1/sectors",
        &json!({"name": "A", "code": "a"}),
        Some(&app.token(Role::Editor, None)),
    )
    .await
    .problem(422);
    assert_eq!(app.table_counts(), before);
    let reply = app
        .post_json(
            "/api/v1/sectors",
            &json!({"name": "Hộ tịch (mới)"}),
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    assert_eq!(reply.json()["code"], "ho-tich-moi");
    assert_eq!(app.table_counts()["audit_log"], before["audit_log"] + 1);
}
