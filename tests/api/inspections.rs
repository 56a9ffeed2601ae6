use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Xã Ia Grai (Gia Lai, 52) and a commune of another province (Phường Ba Đình, Hà Nội).
const IA_GRAI: &str = "23764";
const GIA_LAI: &str = "52";
const BA_DINH: &str = "00004";

fn line(code: &str, channel: &str, posted_on: &str) -> Value {
    json!({"procedure_code": code, "channel": channel, "decision": "163/QĐ-BTP", "posted_on": posted_on})
}

/// A board with two procedures: 1.001193 on both channels, 1.000656 on the counter only.
async fn post_board(app: &TestApp) {
    let reply = app
        .put_json(
            &format!("/api/v1/communes/{IA_GRAI}/postings"),
            &json!({"postings": [
                line("1.001193", "counter", "2025-07-03"),
                line("1.001193", "portal", "2025-07-03"),
                line("1.000656", "counter", "2025-07-03"),
            ]}),
            Some(&app.token(Role::Officer, Some(IA_GRAI))),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

fn new_inspection(unit: &str, on: &str) -> Value {
    json!({"unit": unit, "inspected_on": on, "team": ["Nguyễn Văn An", "Trần Thị Bình"],
           "notes": "Bảng niêm yết tại bộ phận một cửa thiếu lĩnh vực hộ tịch."})
}

fn ids_with(list: &Value, status: &str) -> Vec<String> {
    list["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter(|x| x["status"] == status)
                .filter_map(|x| x["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn audit_entries(app: &TestApp, query: &str) -> Vec<Value> {
    let page = app
        .get_as(
            &format!("/api/v1/audit?limit=500&{query}"),
            &app.token(Role::Admin, None),
        )
        .await;
    page["items"].as_array().cloned().unwrap_or_default()
}

#[actix_web::test]
async fn a_follow_up_shows_the_fixed_posting_resolved_and_the_new_decisions_findings_new() {
    let app = TestApp::spawn().await;
    post_board(&app).await;
    let auditor = app.token(Role::Auditor, Some(GIA_LAI));

    // The portal names its request; the service keeps that name beside its own id.
    let created = app
        .send(
            app.client
                .post(app.url("/api/v1/inspections"))
                .bearer_auth(&auditor)
                .header("x-request-id", "portal-req-42")
                .json(&new_inspection(IA_GRAI, "2026-06-01")),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let inspection = created.json();
    let id = inspection["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/v1/inspections/{id}"))
    );
    let inspection_request = created.header("x-request-id");
    assert_eq!(inspection["commune"], IA_GRAI);
    assert_eq!(inspection["province"], GIA_LAI);
    assert_eq!(inspection["recorded_by"], "test-auditor");
    assert_eq!(inspection["team"][1], "Trần Thị Bình");
    let snapshot = &inspection["report"];
    assert_eq!(snapshot["as_of"], "2026-06-01");
    let snapshot_findings = snapshot["findings"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        inspection["finding_count"].as_u64(),
        Some(snapshot_findings.len() as u64)
    );
    let gap = snapshot_findings
        .iter()
        .find(|f| f["procedure_code"] == "1.000656" && f["channel"] == "portal")
        .cloned()
        .expect("the portal posting of 1.000656 is missing");
    assert_eq!(gap["kind"], "missing");
    let read_back = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}")))
                .bearer_auth(&auditor),
        )
        .await;
    assert_eq!(read_back.status, 200);
    let etag = read_back.header("etag");
    assert!(etag.is_some());

    // Weeks later: the missing portal posting is put up, and a decision amends 1.001193.
    let fixed = app
        .put_json(
            &format!("/api/v1/communes/{IA_GRAI}/postings/1.000656/portal"),
            &json!({"decision": "163/QĐ-BTP", "posted_on": "2026-07-01"}),
            Some(&app.token(Role::Officer, Some(IA_GRAI))),
        )
        .await;
    assert_eq!(fixed.status, 201, "{}", fixed.text());
    let decided = app
        .post_json(
            "/api/v1/decisions",
            &json!({
                "number": "612/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-07-01",
                "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-07-15",
                           "procedure": {"channels": [{"method": "direct", "time_value": 3, "time_unit": "working_days", "fee_vnd": 8000}]}}]
            }),
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    assert_eq!(decided.status, 201, "{}", decided.text());
    let decision_id = decided.json()["id"].as_str().unwrap_or_default().to_owned();

    let follow_up = app
        .get_as(
            &format!("/api/v1/inspections/{id}/follow-up?as_of=2026-08-01"),
            &auditor,
        )
        .await;
    assert_eq!(
        ids_with(&follow_up, "resolved"),
        vec![gap["id"].as_str().unwrap_or_default().to_owned()],
        "exactly the fixed posting is resolved"
    );
    assert_eq!(follow_up["counts"]["resolved"], 1);
    let still_open = ids_with(&follow_up, "still_open");
    assert_eq!(still_open.len(), snapshot_findings.len() - 1);
    assert_eq!(follow_up["counts"]["still_open"], still_open.len() as u64);
    let new: Vec<Value> = follow_up["findings"]
        .as_array()
        .map(|f| f.iter().filter(|x| x["status"] == "new").cloned().collect())
        .unwrap_or_default();
    assert_eq!(new.len(), 2, "the amendment's counter and portal findings");
    assert_eq!(follow_up["counts"]["new"], 2);
    for f in &new {
        assert_eq!(f["kind"], "outdated");
        assert_eq!(f["procedure_code"], "1.001193");
        assert_eq!(f["expected"]["decision"], "612/QĐ-BTP");
    }
    assert_eq!(
        follow_up["completeness_then"],
        snapshot["summary"]["completeness"]
    );
    // The snapshot did not move.
    let again = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}")))
                .bearer_auth(&auditor),
        )
        .await;
    assert_eq!(again.bytes, read_back.bytes, "the snapshot never changes");
    assert_eq!(again.header("etag"), etag);

    // One audit entry for each write, with who and which request.
    let entries = audit_entries(&app, "entity=inspection").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["entity_id"], id.as_str());
    assert_eq!(entries[0]["actor"]["sub"], "test-auditor");
    assert_eq!(entries[0]["actor"]["role"], "auditor");
    assert_eq!(entries[0]["actor"]["unit"], GIA_LAI);
    assert_eq!(entries[0]["unit"], IA_GRAI);
    assert_eq!(entries[0]["province"], GIA_LAI);
    assert_eq!(
        entries[0]["request_id"].as_str(),
        inspection_request.as_deref()
    );
    assert_ne!(entries[0]["request_id"], "portal-req-42");
    assert_eq!(entries[0]["client_request_id"], "portal-req-42");
    assert_eq!(
        entries[0]["hash_after"], inspection["content_hash"],
        "the entry names the snapshot's hash"
    );
    let decisions = audit_entries(&app, "entity=decision&actor=test-editor").await;
    assert_eq!(decisions.len(), 1);
    assert_eq!(decisions[0]["entity_id"], decision_id.as_str());
    let postings = audit_entries(&app, &format!("entity=postings&unit={IA_GRAI}")).await;
    assert_eq!(
        postings
            .iter()
            .map(|e| e["action"].as_str().unwrap_or_default())
            .collect::<Vec<_>>(),
        vec!["replace", "put"]
    );
    assert_eq!(
        postings[1]["entity_id"],
        format!("{IA_GRAI}/1.000656/portal")
    );
    assert_eq!(postings[1]["hash_before"], postings[0]["hash_after"]);
}

#[actix_web::test]
async fn an_inspection_is_recorded_in_scope_only_and_a_refused_one_writes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    for (token, status) in [
        (app.token(Role::Officer, Some(IA_GRAI)), 403),
        (app.token(Role::Editor, None), 403),
        (app.token(Role::Auditor, Some("01")), 403),
    ] {
        let reply = app
            .post_json(
                "/api/v1/inspections",
                &new_inspection(IA_GRAI, "2026-06-01"),
                Some(&token),
            )
            .await;
        reply.problem(status);
    }
    let auditor = app.token(Role::Auditor, Some(GIA_LAI));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive();
    for (body, field) in [
        (
            new_inspection(IA_GRAI, &tomorrow.to_string()),
            "inspected_on",
        ),
        (new_inspection("52", "2026-06-01"), "unit"),
        (new_inspection("99999", "2026-06-01"), "unit"),
        (new_inspection("abc", "2026-06-01"), "unit"),
        (
            json!({"unit": IA_GRAI, "inspected_on": "2026-06-01", "team": []}),
            "team",
        ),
        (
            json!({"unit": IA_GRAI, "inspected_on": "2026-06-01", "team": ["An\u{0007}"]}),
            "team[0]",
        ),
    ] {
        let reply = app
            .post_json("/api/v1/inspections", &body, Some(&auditor))
            .await;
        let problem = reply.problem(422);
        assert!(
            problem["errors"]
                .as_array()
                .is_some_and(|e| e.iter().any(|x| x["field"] == field)),
            "{field}: {problem}"
        );
    }
    let bad_date = app
        .post_json(
            "/api/v1/inspections",
            &json!({"unit": IA_GRAI, "inspected_on": "2025-02-30", "team": ["An"]}),
            Some(&auditor),
        )
        .await;
    assert_eq!(bad_date.status, 422, "{}", bad_date.text());
    app.post_json(
        "/api/v1/inspections",
        &new_inspection(IA_GRAI, "2026-06-01"),
        None,
    )
    .await
    .problem(401);
    assert_eq!(
        app.table_counts(),
        before,
        "nothing written, no audit entry"
    );

    // A national auditor and an admin may record it.
    for token in [app.token(Role::Auditor, None), app.token(Role::Admin, None)] {
        let reply = app
            .post_json(
                "/api/v1/inspections",
                &new_inspection(IA_GRAI, "2026-06-01"),
                Some(&token),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
    }
    let after = app.table_counts();
    assert_eq!(after["inspections"], before["inspections"] + 2);
    assert_eq!(after["audit_log"], before["audit_log"] + 2);
}

#[actix_web::test]
async fn inspections_are_listed_and_read_within_scope_in_every_format() {
    let app = TestApp::spawn().await;
    post_board(&app).await;
    let admin = app.token(Role::Admin, None);
    let mut ids = Vec::new();
    for (unit, on) in [
        (IA_GRAI, "2026-03-02"),
        (IA_GRAI, "2026-06-01"),
        (BA_DINH, "2026-06-02"),
    ] {
        let reply = app
            .post_json(
                "/api/v1/inspections",
                &new_inspection(unit, on),
                Some(&admin),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        ids.push(reply.json()["id"].as_str().unwrap_or_default().to_owned());
    }
    let listed = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .map(|i| {
                i.iter()
                    .filter_map(|x| x["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let all = app.get_as("/api/v1/inspections", &admin).await;
    assert_eq!(
        listed(&all),
        vec![ids[2].clone(), ids[1].clone(), ids[0].clone()]
    );
    assert!(
        all["items"][0].get("report").is_none(),
        "lists carry no snapshot"
    );

    // Paging, and the date window.
    let first = app.get_as("/api/v1/inspections?limit=2", &admin).await;
    assert_eq!(listed(&first).len(), 2);
    let cursor = first["next_cursor"].as_str().unwrap_or_default();
    let second = app
        .get_as(
            &format!("/api/v1/inspections?limit=2&cursor={cursor}"),
            &admin,
        )
        .await;
    assert_eq!(listed(&second), vec![ids[0].clone()]);
    assert!(second["next_cursor"].is_null());
    let window = app
        .get_as("/api/v1/inspections?from=2026-05-01&to=2026-06-01", &admin)
        .await;
    assert_eq!(listed(&window), vec![ids[1].clone()]);

    // Scope: a provincial auditor sees its province; an officer its commune.
    let gia_lai = app.token(Role::Auditor, Some(GIA_LAI));
    assert_eq!(
        listed(&app.get_as("/api/v1/inspections", &gia_lai).await),
        vec![ids[1].clone(), ids[0].clone()]
    );
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    assert_eq!(
        listed(&app.get_as("/api/v1/inspections", &officer).await).len(),
        2
    );
    let refused = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections?unit={BA_DINH}")))
                .bearer_auth(&officer),
        )
        .await;
    refused.problem(403);
    let refused = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{}", ids[2])))
                .bearer_auth(&gia_lai),
        )
        .await;
    refused.problem(403);
    let editor = app.token(Role::Editor, None);
    app.send(
        app.client
            .get(app.url("/api/v1/inspections"))
            .bearer_auth(&editor),
    )
    .await
    .problem(403);
    app.send(
        app.client
            .get(app.url("/api/v1/inspections?from=2026-06-02&to=2026-06-01"))
            .bearer_auth(&admin),
    )
    .await
    .problem(422);
    app.send(
        app.client
            .get(app.url("/api/v1/inspections/not-an-id"))
            .bearer_auth(&admin),
    )
    .await
    .problem(404);
    app.send(
        app.client
            .get(app.url(&format!(
                "/api/v1/inspections/{}/follow-up?as_of=2026-05-31",
                ids[1]
            )))
            .bearer_auth(&admin),
    )
    .await
    .problem(422);

    // CSV and XLSX of the snapshot and of the follow-up.
    let csv = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{}?format=csv", ids[1])))
                .bearer_auth(&officer),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let text = csv.text();
    assert!(text.starts_with('\u{feff}'));
    let snapshot = app
        .get_as(&format!("/api/v1/inspections/{}", ids[1]), &officer)
        .await;
    assert_eq!(
        text.lines().filter(|l| l.starts_with(IA_GRAI)).count(),
        snapshot["finding_count"].as_u64().unwrap_or_default() as usize,
        "a row per finding"
    );
    let xlsx = app
        .send(
            app.client
                .get(app.url(&format!(
                    "/api/v1/inspections/{}/follow-up?as_of=2026-08-01",
                    ids[1]
                )))
                .header(
                    "accept",
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                )
                .bearer_auth(&officer),
        )
        .await;
    assert_eq!(xlsx.status, 200);
    assert!(xlsx.bytes.starts_with(b"PK"), "an XLSX is a zip");
}

/// An inspection whose snapshot an earlier release stored (before the stored format had a
/// version), put in the database as it was written: it still reads, byte for byte the same
/// record, and its follow-up works.
#[actix_web::test]
async fn an_inspection_stored_by_an_earlier_release_still_reads() {
    use diesel::prelude::*;
    use niemyet::db::schema::inspections;
    use sha2::{Digest, Sha256};

    let app = TestApp::spawn().await;
    let stored = include_str!("../fixtures/inspection-snapshot-format1.json");
    let hash = hex::encode(Sha256::digest(stored.as_bytes()));
    let id = "01a22b4b-ab8a-7168-a552-d231d96aa858";
    {
        let mut conn = app.pool.get().expect("a pooled connection");
        diesel::insert_into(inspections::table)
            .values((
                inspections::id.eq(id),
                inspections::unit_code.eq("30130"),
                inspections::province_code.eq("82"),
                inspections::inspected_on
                    .eq(chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("a date")),
                inspections::team.eq(r#"["Lê Văn Cường"]"#),
                inspections::notes.eq(Some("Kiểm tra định kỳ")),
                inspections::finding_count.eq(6),
                inspections::completeness.eq(99.7),
                inspections::report.eq(stored),
                inspections::content_hash.eq(&hash),
                inspections::created_by.eq("dev"),
                inspections::created_at.eq(chrono::Utc::now().naive_utc()),
            ))
            .execute(&mut *conn)
            .expect("the query runs");
    }
    let admin = app.token(Role::Admin, None);
    let reply = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}")))
                .bearer_auth(&admin),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["content_hash"], hash.as_str());
    assert_eq!(
        reply.header("etag").as_deref(),
        Some(format!("\"{}\"", &hash[..24]).as_str())
    );
    let report = &body["report"];
    assert_eq!(report["commune"]["code"], "30130");
    assert_eq!(report["summary"]["counts"]["outdated"], 4);
    assert_eq!(report["findings"].as_array().map(Vec::len), Some(6));
    assert_eq!(report["findings"][0]["id"], "f8626e6a7fb0e9f3");
    let follow_up = app
        .get_as(
            &format!("/api/v1/inspections/{id}/follow-up?as_of=2026-11-30"),
            &admin,
        )
        .await;
    assert_eq!(follow_up["inspected_on"], "2026-11-25");
    assert!(
        follow_up["counts"]["resolved"].as_u64().is_some(),
        "{follow_up}"
    );
}
