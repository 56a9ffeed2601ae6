use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const IA_GRAI: &str = "23764";

fn line(code: &str, channel: &str, decision: &str, posted_on: &str) -> Value {
    json!({"procedure_code": code, "channel": channel, "decision": decision, "posted_on": posted_on})
}

fn inventory(lines: Vec<Value>) -> Value {
    json!({ "postings": lines })
}

fn board() -> Value {
    inventory(vec![
        line("1.001193", "counter", "163/QĐ-BTP", "2025-07-03"),
        line("1.001193", "portal", "163/QĐ-BTP", "2025-07-03"),
        line("1.004222", "counter", "1523/QĐ-BCA-C06", "2025-07-04"),
    ])
}

#[actix_web::test]
async fn an_officer_replaces_the_inventory_and_the_same_body_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/postings");
    let first = app.put_json(&path, &board(), Some(&officer)).await;
    assert_eq!(first.status, 200, "{}", first.text());
    let body = first.json();
    assert_eq!(body["changed"], true);
    assert_eq!(body["created"], 3);
    assert!(
        body["warnings"].as_array().is_some_and(Vec::is_empty),
        "{body}"
    );
    let etag = first.header("etag").unwrap_or_default();
    let audit_after_first = app.table_counts()["audit_log"];

    let again = app.put_json(&path, &board(), Some(&officer)).await;
    assert_eq!(again.status, 200);
    let body = again.json();
    assert_eq!(
        (body["changed"].as_bool(), body["unchanged"].as_i64()),
        (Some(false), Some(3))
    );
    assert_eq!(again.header("etag"), Some(etag.clone()));
    assert_eq!(
        app.table_counts()["audit_log"],
        audit_after_first,
        "a no-op writes no audit entry"
    );

    let listed = app
        .send(app.client.get(app.url(&path)).bearer_auth(&officer))
        .await;
    assert_eq!(listed.header("etag"), Some(etag));
    let items = listed.json()["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["decision"], "163/QĐ-BTP");
    assert_eq!(items[0]["recorded_by"], "test-officer");
}

#[actix_web::test]
async fn a_posting_missing_from_the_new_inventory_is_taken_down_but_kept_in_history() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/postings");
    app.put_json(&path, &board(), Some(&officer)).await;
    let fewer = inventory(vec![line(
        "1.001193",
        "counter",
        "163/QĐ-BTP",
        "2025-07-03",
    )]);
    let reply = app.put_json(&path, &fewer, Some(&officer)).await;
    assert_eq!(reply.json()["removed"], 2);
    let now = app.get_as(&path, &officer).await;
    assert_eq!(now["items"].as_array().map(Vec::len), Some(1));
    let before = app
        .get_as(&format!("{path}?as_of=2025-08-01"), &officer)
        .await;
    assert_eq!(
        before["items"].as_array().map(Vec::len),
        Some(3),
        "the past is still reported"
    );
}

#[actix_web::test]
async fn unknown_codes_and_decisions_are_recorded_with_warnings() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let body = inventory(vec![
        line("1.999999", "counter", "12/QĐ-UBND", "2025-07-03"),
        line("1.001193", "counter", "9999/QĐ-BTP", "2025-07-03"),
    ]);
    let reply = app
        .put_json(
            &format!("/api/v1/communes/{IA_GRAI}/postings"),
            &body,
            Some(&officer),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let warnings = reply.json()["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = warnings.iter().filter_map(|w| w["kind"].as_str()).collect();
    assert_eq!(kinds, vec!["unknown_procedure", "unknown_decision"]);
    let report = app
        .get_as(&format!("/api/v1/communes/{IA_GRAI}/report"), &officer)
        .await;
    let finding = |code: &str| {
        report["findings"].as_array().and_then(|f| {
            f.iter()
                .find(|x| x["procedure_code"] == code && x["channel"] == "counter")
                .cloned()
        })
    };
    assert_eq!(
        finding("1.999999").unwrap_or_default()["kind"],
        "unknown_procedure"
    );
    let outdated = finding("1.001193").unwrap_or_default();
    assert_eq!(outdated["kind"], "outdated");
    assert!(outdated["observed"]["version_id"].is_null());
}

#[actix_web::test]
async fn invalid_lines_are_all_listed_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/postings");
    app.put_json(&path, &board(), Some(&officer)).await;
    let before = app.table_counts();
    let bad = inventory(vec![
        line("1.001193", "board", "163/QĐ-BTP", "2025-07-03"),
        line("1.001193", "counter", "163/QĐ-BTP", "2025-02-30"),
        line("1.001193", "portal", "163/QĐ-BTP", "2099-01-01"),
        line("1.004222", "counter", "1523/QĐ-BCA-C06", "2025-07-04"),
        line("1.004222", "counter", "1523/QĐ-BCA-C06", "2025-07-05"),
        line("x; drop table postings", "counter", "", "2025-07-04"),
        json!({"procedure_code": "1.000656", "channel": "portal", "decision": "163/QĐ-BTP", "posted_on": "2025-07-04", "evidence_url": "javascript:alert(1)"}),
    ]);
    let problem = app.put_json(&path, &bad, Some(&officer)).await.problem(422);
    let fields: Vec<String> = problem["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|x| x["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for expected in [
        "postings[0].channel",
        "postings[1].posted_on",
        "postings[2].posted_on",
        "postings[4]",
        "postings[5].procedure_code",
        "postings[5].decision",
        "postings[6].evidence_url",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
    assert_eq!(app.table_counts(), before);
}

#[actix_web::test]
async fn one_posting_is_created_replaced_and_taken_down() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/postings/1.001193/counter");
    let created = app
        .put_json(
            &path,
            &json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03"}),
            Some(&officer),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let edited = app
        .put_json(&path, &json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03", "photo_ref": "IMG_0042.jpg"}), Some(&officer))
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.json()["changes"]["updated"], 1);
    // The ETag a write answers with is the one the inventory now has.
    let listed = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/communes/{IA_GRAI}/postings")))
                .bearer_auth(&officer),
        )
        .await;
    assert_eq!(listed.header("etag"), edited.header("etag"));
    assert_ne!(edited.header("etag"), created.header("etag"));
    let replaced = app
        .put_json(
            &path,
            &json!({"decision": "163/QĐ-BTP", "posted_on": "2025-09-01"}),
            Some(&officer),
        )
        .await;
    assert_eq!(replaced.json()["changes"]["replaced"], 1);

    let etag = replaced.header("etag").unwrap_or_default();
    let stale = app
        .send(
            app.client
                .delete(app.url(&path))
                .bearer_auth(&officer)
                .header("if-match", "\"stale\""),
        )
        .await;
    stale.problem(412);
    let removed = app
        .send(
            app.client
                .delete(app.url(&path))
                .bearer_auth(&officer)
                .header("if-match", etag),
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.text());
    app.delete(&path, Some(&officer)).await.problem(404);

    let list = format!("/api/v1/communes/{IA_GRAI}/postings");
    assert_eq!(
        app.get_as(&list, &officer).await["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let august = app
        .get_as(&format!("{list}?as_of=2025-08-01"), &officer)
        .await;
    assert_eq!(august["items"][0]["photo_ref"], "IMG_0042.jpg");
    let october = app
        .get_as(&format!("{list}?as_of=2025-10-01"), &officer)
        .await;
    assert_eq!(october["items"][0]["posted_on"], "2025-09-01");
}

#[actix_web::test]
async fn a_backdated_correction_never_leaves_two_postings_current_on_one_day() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/postings/1.001193/counter");
    for (decision, posted_on) in [
        ("163/QĐ-BTP", "2025-07-03"),
        ("2468/QĐ-BTP", "2025-10-06"),
        ("2468/QĐ-BTP", "2025-10-02"),
    ] {
        let reply = app
            .put_json(
                &path,
                &json!({"decision": decision, "posted_on": posted_on}),
                Some(&officer),
            )
            .await;
        assert!(
            reply.status == 200 || reply.status == 201,
            "{}",
            reply.text()
        );
    }
    let list = format!("/api/v1/communes/{IA_GRAI}/postings");
    for (day, decision) in [
        ("2025-10-01", "163/QĐ-BTP"),
        ("2025-10-03", "2468/QĐ-BTP"),
        ("2025-10-07", "2468/QĐ-BTP"),
    ] {
        let board = app.get_as(&format!("{list}?as_of={day}"), &officer).await;
        let items = board["items"].as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), 1, "{day}: {items:?}");
        assert_eq!(items[0]["decision"], decision, "{day}");
    }
}

#[actix_web::test]
async fn a_stale_if_match_gets_412_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/postings");
    let first = app.put_json(&path, &board(), Some(&officer)).await;
    let etag = first.header("etag").unwrap_or_default();
    let fewer = inventory(vec![line(
        "1.001193",
        "counter",
        "163/QĐ-BTP",
        "2025-07-03",
    )]);
    let ok = app
        .send(
            app.client
                .put(app.url(&path))
                .bearer_auth(&officer)
                .header("if-match", &etag)
                .json(&fewer),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    let before = app.table_counts();
    let stale = app
        .send(
            app.client
                .put(app.url(&path))
                .bearer_auth(&officer)
                .header("if-match", &etag)
                .json(&board()),
        )
        .await;
    stale.problem(412);
    assert_eq!(app.table_counts(), before);
}

#[actix_web::test]
async fn an_officer_of_commune_a_gets_403_for_commune_b_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let other = app.token(Role::Officer, Some("30130"));
    let before = app.table_counts();
    let base = format!("/api/v1/communes/{IA_GRAI}");
    app.put_json(&format!("{base}/postings"), &board(), Some(&other))
        .await
        .problem(403);
    app.put_json(
        &format!("{base}/postings/1.001193/counter"),
        &json!({"decision": "1/QĐ-BTP", "posted_on": "2025-07-03"}),
        Some(&other),
    )
    .await
    .problem(403);
    app.delete(&format!("{base}/postings/1.001193/counter"), Some(&other))
        .await
        .problem(403);
    for read in ["postings", "report", "exemptions"] {
        let reply = app
            .send(
                app.client
                    .get(app.url(&format!("{base}/{read}")))
                    .bearer_auth(&other),
            )
            .await;
        reply.problem(403);
    }
    // Auditors read within their province only; editors do not touch postings.
    let auditor_79 = app.token(Role::Auditor, Some("79"));
    app.send(
        app.client
            .get(app.url(&format!("{base}/postings")))
            .bearer_auth(&auditor_79),
    )
    .await
    .problem(403);
    app.put_json(
        &format!("{base}/postings"),
        &board(),
        Some(&app.token(Role::Auditor, Some("52"))),
    )
    .await
    .problem(403);
    app.put_json(
        &format!("{base}/postings"),
        &board(),
        Some(&app.token(Role::Editor, None)),
    )
    .await
    .problem(403);
    app.put_json(&format!("{base}/postings"), &board(), None)
        .await
        .problem(401);
    assert_eq!(app.table_counts(), before);
    // The right people get in.
    app.get_as(
        &format!("{base}/postings"),
        &app.token(Role::Auditor, Some("52")),
    )
    .await;
    app.get_as(&format!("{base}/postings"), &app.token(Role::Auditor, None))
        .await;
    let admin = app
        .put_json(
            &format!("{base}/postings"),
            &board(),
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert_eq!(admin.status, 200);
}

#[actix_web::test]
async fn unknown_and_malformed_communes_are_told_apart() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    let get = |path: &'static str| app.send(app.client.get(app.url(path)).bearer_auth(&admin));
    get("/api/v1/communes/99999/postings").await.problem(404);
    get("/api/v1/communes/79/postings").await.problem(422);
    get("/api/v1/communes/abc/report").await.problem(422);
    get("/api/v1/communes/99999/report").await.problem(404);
}

#[actix_web::test]
async fn an_empty_decision_gets_one_error_that_says_what_is_expected() {
    let app = TestApp::spawn().await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/postings");
    for decision in ["", "   "] {
        let bad = inventory(vec![line("1.001193", "counter", decision, "2025-07-03")]);
        let problem = app.put_json(&path, &bad, Some(&officer)).await.problem(422);
        let errors: Vec<&Value> = problem["errors"]
            .as_array()
            .map(|e| {
                e.iter()
                    .filter(|x| x["field"] == "postings[0].decision")
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(errors.len(), 1, "{problem}");
        let message = errors[0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("announcing decision"), "{message}");
        assert!(!message.contains("control"), "{message}");
    }
    let one = format!("/api/v1/communes/{IA_GRAI}/postings/1.001193/counter");
    let body = json!({"decision": "", "posted_on": "2025-07-03"});
    let problem = app.put_json(&one, &body, Some(&officer)).await.problem(422);
    assert_eq!(
        problem["errors"].as_array().map(Vec::len),
        Some(1),
        "{problem}"
    );
}
