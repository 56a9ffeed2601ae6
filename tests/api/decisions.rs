use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn amend(
    number: &str,
    scope: &str,
    signed_on: &str,
    code: &str,
    effective_on: &str,
    fields: Value,
) -> Value {
    json!({
        "number": number,
        "issuer": "Bộ Tư pháp",
        "scope": scope,
        "signed_on": signed_on,
        "items": [{"action": "amended", "procedure_code": code, "effective_on": effective_on, "procedure": fields}]
    })
}

fn new_fee(fee: i64) -> Value {
    json!({"channels": [{"method": "direct", "time_value": 1, "time_unit": "working_days", "fee_vnd": fee, "fee_and_notes": format!("{fee} đồng")}]})
}

async fn post_decision(app: &TestApp, body: &Value) -> Value {
    let token = app.token(Role::Editor, None);
    let reply = app.post_json("/api/v1/decisions", body, Some(&token)).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(
        reply.header("location"),
        Some(format!(
            "/api/v1/decisions/{}",
            body["id"].as_str().unwrap_or_default()
        ))
    );
    body
}

#[actix_web::test]
async fn an_amendment_applies_from_its_effective_date_and_the_old_version_before() {
    let app = TestApp::spawn().await;
    let decision = post_decision(
        &app,
        &amend(
            "1001/QĐ-BTP",
            "national",
            "2026-03-01",
            "1.001193",
            "2026-04-01",
            new_fee(8000),
        ),
    )
    .await;
    assert_eq!(decision["kind"], "announcement");
    assert_eq!(decision["item_count"], 1);
    assert_eq!(decision["items"][0]["action"], "amended");
    assert_eq!(
        decision["items"][0]["procedure_name"],
        "Thủ tục đăng ký khai sinh"
    );

    let before = app
        .get_json("/api/v1/procedures/1.001193?as_of=2026-03-31")
        .await;
    assert_eq!(before["applicable"]["announced_by"], "163/QĐ-BTP");
    let after = app
        .get_json("/api/v1/procedures/1.001193?as_of=2026-04-01")
        .await;
    assert_eq!(after["applicable"]["announced_by"], "1001/QĐ-BTP");
    assert_eq!(after["applicable"]["decision"]["id"], decision["id"]);
    assert_eq!(after["applicable"]["channels"][0]["fee_vnd"], 8000);
    // Fields the decision did not name are carried over.
    assert_eq!(after["applicable"]["name"], before["applicable"]["name"]);
    assert_eq!(
        after["applicable"]["documents"],
        before["applicable"]["documents"]
    );
    assert_ne!(
        after["applicable"]["content_hash"],
        before["applicable"]["content_hash"]
    );
    let versions = after["versions"].as_array().cloned().unwrap_or_default();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["valid_to"], "2026-04-01");
    assert_eq!(versions[1]["valid_from"], "2026-04-01");

    let listed = app
        .get_json("/api/v1/procedures?q=1.001193&as_of=2026-04-01")
        .await;
    assert_eq!(listed["items"][0]["announced_by"], "1001/QĐ-BTP");
    let fetched = app
        .get_json(&format!(
            "/api/v1/decisions/{}",
            decision["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(fetched["number"], "1001/QĐ-BTP");
    assert_eq!(fetched["items"], decision["items"]);
}

#[actix_web::test]
async fn an_abolition_ends_the_procedure_from_its_date() {
    let app = TestApp::spawn().await;
    let body = json!({
        "number": "77/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-04-20",
        "items": [{"action": "abolished", "procedure_code": "1.000656", "effective_on": "2026-05-01"}]
    });
    post_decision(&app, &body).await;
    assert_eq!(
        app.get_json("/api/v1/procedures/1.000656?as_of=2026-04-30")
            .await["status"],
        "in_force"
    );
    let after = app
        .get_json("/api/v1/procedures/1.000656?as_of=2026-05-01")
        .await;
    assert_eq!(after["status"], "abolished");
    assert_eq!(after["applicable"]["abolished"], true);
    let in_force = app
        .get_json("/api/v1/procedures?q=1.000656&as_of=2026-05-01")
        .await;
    assert_eq!(in_force["items"].as_array().map(Vec::len), Some(0));
    let abolished = app
        .get_json("/api/v1/procedures?q=1.000656&as_of=2026-05-01&status=abolished")
        .await;
    assert_eq!(abolished["items"][0]["status"], "abolished");
    // Once abolished, it cannot be amended.
    let token = app.token(Role::Editor, None);
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &amend(
                "78/QĐ-BTP",
                "national",
                "2026-06-01",
                "1.000656",
                "2026-06-01",
                new_fee(1),
            ),
            Some(&token),
        )
        .await;
    let problem = reply.problem(422);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("abolished"),
        "{problem}"
    );
}

#[actix_web::test]
async fn a_provincial_version_applies_in_its_province_only() {
    let app = TestApp::spawn().await;
    post_decision(
        &app,
        &amend(
            "12/QĐ-UBND",
            "79",
            "2026-01-10",
            "1.004222",
            "2026-02-01",
            new_fee(15000),
        ),
    )
    .await;
    let hcm = app
        .get_json("/api/v1/procedures/1.004222?as_of=2026-03-01&province=79")
        .await;
    assert_eq!(hcm["applicable"]["scope"], "79");
    assert_eq!(hcm["applicable"]["channels"][0]["fee_vnd"], 15000);
    let gia_lai = app
        .get_json("/api/v1/procedures/1.004222?as_of=2026-03-01&province=52")
        .await;
    assert_eq!(gia_lai["applicable"]["scope"], "national");
    let national = app
        .get_json("/api/v1/procedures/1.004222?as_of=2026-03-01")
        .await;
    assert_eq!(national["applicable"]["scope"], "national");
    let listed = app
        .get_json("/api/v1/procedures?q=1.004222&province=79&as_of=2026-03-01")
        .await;
    assert_eq!(listed["items"][0]["scope"], "79");

    // The same number in another province is another decision.
    post_decision(
        &app,
        &amend(
            "12/QĐ-UBND",
            "52",
            "2026-01-10",
            "1.004222",
            "2026-02-01",
            new_fee(12000),
        ),
    )
    .await;

    // A national abolition ends the provincial variants too.
    let abolish = json!({
        "number": "99/QĐ-BCA", "issuer": "Bộ Công an", "scope": "national", "signed_on": "2026-05-01",
        "items": [{"action": "abolished", "procedure_code": "1.004222", "effective_on": "2026-06-01"}]
    });
    post_decision(&app, &abolish).await;
    let hcm_after = app
        .get_json("/api/v1/procedures/1.004222?as_of=2026-06-01&province=79")
        .await;
    assert_eq!(hcm_after["status"], "abolished");
}

#[actix_web::test]
async fn a_new_procedure_is_created_with_its_first_version() {
    let app = TestApp::spawn().await;
    let body = json!({
        "number": "5/2026/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-02-01",
        "title": "Công bố thủ tục hành chính mới",
        "items": [{"action": "new", "procedure_code": "1.999001", "effective_on": "2026-03-01",
                   "procedure": {"name": "Thủ tục thử nghiệm cấp xã", "sector": "ho-tich", "levels": ["commune"],
                                 "channels": [{"method": "online", "time_value": 2, "time_unit": "working_days", "fee_vnd": 0}]}}]
    });
    post_decision(&app, &body).await;
    let detail = app
        .get_json("/api/v1/procedures/1.999001?as_of=2026-03-01")
        .await;
    assert_eq!(detail["status"], "in_force");
    assert_eq!(detail["applicable"]["sector"]["name"], "Hộ tịch");
    assert_eq!(
        app.get_json("/api/v1/procedures/1.999001?as_of=2026-02-28")
            .await["status"],
        "not_yet_in_force"
    );
}

#[actix_web::test]
async fn an_invalid_decision_lists_every_problem_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    let closed = app.closed_versions();
    let body = json!({
        "number": "300/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "99", "signed_on": "2026-03-01",
        "items": [
            {"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-04-01", "procedure": {"fee": 1}},
        ]
    });
    // Unknown field inside an item: rejected as malformed data.
    app.post_json(
        "/api/v1/decisions",
        &body,
        Some(&app.token(Role::Editor, None)),
    )
    .await
    .problem(422);

    let body = json!({
        "number": "300/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "99", "signed_on": "2026-03-01",
        "items": [
            {"action": "amended", "procedure_code": "9.999999", "effective_on": "2026-04-01", "procedure": {"name": "X"}},
            {"action": "new", "procedure_code": "1.001193", "effective_on": "2026-04-01",
             "procedure": {"name": "Y", "sector": "ho-tich", "levels": ["commune"]}},
            {"action": "abolished", "procedure_code": "1.000656", "effective_on": "2026-02-01"},
            {"action": "abolished", "procedure_code": "1.000656", "effective_on": "2026-04-01"},
            {"action": "new", "procedure_code": "1.999002", "effective_on": "2026-04-01",
             "procedure": {"name": "Z", "sector": "khong-co-linh-vuc", "levels": ["commune"]}},
            {"action": "amended", "procedure_code": "1.004222", "effective_on": "2026-04-01", "procedure": {}},
        ]
    });
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &body,
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    let problem = reply.problem(422);
    let errors = problem["errors"].as_array().cloned().unwrap_or_default();
    let fields: Vec<&str> = errors.iter().filter_map(|e| e["field"].as_str()).collect();
    for expected in [
        "scope",
        "items[0].procedure_code",
        "items[1].procedure_code",
        "items[2].effective_on",
        "items[3].procedure_code",
        "items[4].procedure.sector",
        "items[5].procedure",
    ] {
        assert!(
            fields.contains(&expected),
            "{expected} missing from {fields:?}"
        );
    }
    assert_eq!(
        app.table_counts(),
        before,
        "a refused decision writes nothing"
    );
    assert_eq!(app.closed_versions(), closed);
}

#[actix_web::test]
async fn changes_must_come_in_effective_order_and_change_something() {
    let app = TestApp::spawn().await;
    post_decision(
        &app,
        &amend(
            "1/QĐ-BTP",
            "national",
            "2026-03-01",
            "1.001193",
            "2026-04-01",
            new_fee(8000),
        ),
    )
    .await;
    let token = app.token(Role::Editor, None);
    let earlier = amend(
        "2/QĐ-BTP",
        "national",
        "2026-02-01",
        "1.001193",
        "2026-03-01",
        new_fee(9000),
    );
    let problem = app
        .post_json("/api/v1/decisions", &earlier, Some(&token))
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "items[0].effective_on");
    let same = amend(
        "3/QĐ-BTP",
        "national",
        "2026-05-01",
        "1.001193",
        "2026-05-01",
        new_fee(8000),
    );
    let problem = app
        .post_json("/api/v1/decisions", &same, Some(&token))
        .await
        .problem(422);
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("changes none"),
        "{problem}"
    );
}

#[actix_web::test]
async fn a_decision_number_is_recorded_once_per_scope() {
    let app = TestApp::spawn().await;
    post_decision(
        &app,
        &amend(
            "1001/QĐ-BTP",
            "national",
            "2026-03-01",
            "1.001193",
            "2026-04-01",
            new_fee(8000),
        ),
    )
    .await;
    let before = app.table_counts();
    let again = amend(
        "1001/qđ-btp",
        "national",
        "2026-03-01",
        "1.004222",
        "2026-04-01",
        new_fee(1),
    );
    app.post_json(
        "/api/v1/decisions",
        &again,
        Some(&app.token(Role::Admin, None)),
    )
    .await
    .problem(409);
    assert_eq!(app.table_counts(), before);
}

#[actix_web::test]
async fn only_editors_and_admins_post_decisions() {
    let app = TestApp::spawn().await;
    let body = amend(
        "1001/QĐ-BTP",
        "national",
        "2026-03-01",
        "1.001193",
        "2026-04-01",
        new_fee(8000),
    );
    let before = app.table_counts();
    let reply = app.post_json("/api/v1/decisions", &body, None).await;
    reply.problem(401);
    assert!(
        reply
            .header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    for token in [
        app.token(Role::Officer, Some("23764")),
        app.token(Role::Auditor, Some("52")),
        app.token(Role::Auditor, None),
    ] {
        app.post_json("/api/v1/decisions", &body, Some(&token))
            .await
            .problem(403);
    }
    assert_eq!(
        app.table_counts(),
        before,
        "refusals write nothing, not even an audit entry"
    );

    let reply = app
        .post_json(
            "/api/v1/decisions",
            &body,
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let after = app.table_counts();
    assert_eq!(after["decisions"], before["decisions"] + 1);
    assert_eq!(after["audit_log"], before["audit_log"] + 1);
    assert_eq!(
        after["procedure_versions"],
        before["procedure_versions"] + 1
    );
}

#[actix_web::test]
async fn decisions_are_listed_newest_first_and_filtered() {
    let app = TestApp::spawn().await;
    post_decision(
        &app,
        &amend(
            "1/QĐ-BTP",
            "national",
            "2026-03-01",
            "1.001193",
            "2026-04-01",
            new_fee(8000),
        ),
    )
    .await;
    post_decision(
        &app,
        &amend(
            "2/QĐ-BTP",
            "national",
            "2026-05-01",
            "1.001193",
            "2026-06-01",
            new_fee(9000),
        ),
    )
    .await;
    post_decision(
        &app,
        &amend(
            "3/QĐ-UBND",
            "79",
            "2026-05-02",
            "1.004222",
            "2026-06-01",
            new_fee(1000),
        ),
    )
    .await;

    let all = app.get_json("/api/v1/decisions?limit=2").await;
    let first = all["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        first
            .iter()
            .map(|d| d["number"].clone())
            .collect::<Vec<_>>(),
        vec![json!("3/QĐ-UBND"), json!("2/QĐ-BTP")]
    );
    let cursor = all["next_cursor"].as_str().unwrap_or_default().to_owned();
    let rest = app
        .get_json(&format!("/api/v1/decisions?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(rest["items"][0]["number"], "1/QĐ-BTP");
    assert_eq!(rest["items"][1]["kind"], "import");
    assert!(rest["next_cursor"].is_null());

    let for_code = app.get_json("/api/v1/decisions?procedure=1.001193").await;
    assert_eq!(
        for_code["items"].as_array().map(Vec::len),
        Some(3),
        "two amendments and the import"
    );
    let provincial = app.get_json("/api/v1/decisions?scope=79").await;
    assert_eq!(provincial["items"].as_array().map(Vec::len), Some(1));
    let imports = app.get_json("/api/v1/decisions?kind=import").await;
    assert_eq!(imports["items"][0]["item_count"], 2642);
    assert_eq!(
        imports["items"][0]["source"],
        "dvcqg-catalogue-2026-06.jsonl.gz (bundled)"
    );
    app.get("/api/v1/decisions/does-not-exist")
        .await
        .problem(404);
    app.get("/api/v1/decisions?scope=somewhere")
        .await
        .problem(422);
}
