use std::io::Cursor;

use calamine::{Reader, Xlsx, open_workbook_from_rs};
use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const IA_GRAI: &str = "23764";

async fn post_board(app: &TestApp, unit: &str, lines: &[(&str, &str, &str)]) {
    let postings: Vec<Value> = lines
        .iter()
        .flat_map(|(code, decision, posted_on)| {
            ["counter", "portal"].map(|ch| json!({"procedure_code": code, "channel": ch, "decision": decision, "posted_on": posted_on}))
        })
        .collect();
    let reply = app
        .put_json(
            &format!("/api/v1/communes/{unit}/postings"),
            &json!({ "postings": postings }),
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

async fn decide(app: &TestApp, body: Value) -> Value {
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &body,
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()
}

/// CSV records (quoted cells may hold line breaks), read with the `csv` crate as a client would.
fn csv_records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}

fn findings_for(report: &Value, code: &str) -> Vec<Value> {
    report["findings"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter(|x| x["procedure_code"] == code)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

async fn report(app: &TestApp, unit: &str, as_of: &str) -> Value {
    app.get_as(
        &format!("/api/v1/communes/{unit}/report?as_of={as_of}"),
        &app.token(Role::Officer, Some(unit)),
    )
    .await
}

#[actix_web::test]
async fn an_amendment_turns_ok_into_outdated_with_a_deadline_counted_over_holidays() {
    let app = TestApp::spawn().await;
    post_board(&app, IA_GRAI, &[("1.001193", "163/QĐ-BTP", "2025-07-03")]).await;
    let before = report(&app, IA_GRAI, "2026-04-29").await;
    assert!(
        findings_for(&before, "1.001193").is_empty(),
        "posted as announced: ok"
    );

    // Takes effect on Wednesday 29 April 2026; 30 April and 1 May are holidays.
    decide(&app, json!({
        "number": "501/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-04-20",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-04-29",
                   "procedure": {"channels": [{"method": "direct", "time_value": 2, "time_unit": "working_days", "fee_vnd": 8000}]}}]
    })).await;
    let day_before = report(&app, IA_GRAI, "2026-04-28").await;
    assert!(findings_for(&day_before, "1.001193").is_empty());

    let on_due = report(&app, IA_GRAI, "2026-05-08").await;
    let findings = findings_for(&on_due, "1.001193");
    assert_eq!(findings.len(), 2, "counter and portal");
    let f = &findings[0];
    assert_eq!(f["kind"], "outdated");
    assert_eq!(f["severity"], "medium");
    assert_eq!(f["expected"]["decision"], "501/QĐ-BTP");
    assert_eq!(f["expected"]["effective_on"], "2026-04-29");
    assert_eq!(f["observed"]["decision"], "163/QĐ-BTP");
    let changed: Vec<&str> = f["changed_fields"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        changed.contains(&"fees") && changed.contains(&"processing_time"),
        "{changed:?}"
    );
    assert!(!changed.contains(&"name"));
    assert_eq!(
        f["due_on"], "2026-05-08",
        "5 working days: 4, 5, 6, 7 and 8 May"
    );
    assert_eq!(f["overdue"], false);
    assert_eq!(f["sector_name"], "Hộ tịch");

    let day_after = report(&app, IA_GRAI, "2026-05-09").await;
    let f = &findings_for(&day_after, "1.001193")[0];
    assert_eq!(
        (f["overdue"].as_bool(), f["days_overdue"].as_i64()),
        (Some(true), Some(1))
    );
    assert_eq!(
        f["id"],
        findings_for(&on_due, "1.001193")[0]["id"],
        "finding ids are stable"
    );
}

#[actix_web::test]
async fn an_abolition_turns_a_posting_into_must_remove() {
    let app = TestApp::spawn().await;
    post_board(&app, IA_GRAI, &[("1.000656", "163/QĐ-BTP", "2025-07-03")]).await;
    decide(&app, json!({
        "number": "77/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-04-20",
        "items": [{"action": "abolished", "procedure_code": "1.000656", "effective_on": "2026-05-04"}]
    })).await;
    assert!(findings_for(&report(&app, IA_GRAI, "2026-05-03").await, "1.000656").is_empty());
    let after = report(&app, IA_GRAI, "2026-05-04").await;
    let f = findings_for(&after, "1.000656");
    assert_eq!(f.len(), 2);
    assert_eq!(f[0]["kind"], "must_remove");
    assert_eq!(f[0]["severity"], "high");
    assert_eq!(f[0]["due_on"], "2026-05-11");
    assert_eq!(after["summary"]["counts"]["must_remove"], 2);
}

#[actix_web::test]
async fn an_exemption_removes_a_missing_and_only_an_admin_grants_it() {
    let app = TestApp::spawn().await;
    let before = report(&app, IA_GRAI, "2026-01-15").await;
    assert_eq!(findings_for(&before, "1.000080")[0]["kind"], "missing");
    let required = before["summary"]["required_procedures"]
        .as_i64()
        .unwrap_or(0);
    let body = json!({"procedure_code": "1.000080", "reason": "Xã không thuộc khu vực biên giới", "valid_from": "2026-01-01"});
    let path = format!("/api/v1/communes/{IA_GRAI}/exemptions");
    app.post_json(&path, &body, Some(&app.token(Role::Editor, None)))
        .await
        .problem(403);
    app.post_json(&path, &body, Some(&app.token(Role::Officer, Some(IA_GRAI))))
        .await
        .problem(403);
    let created = app
        .post_json(&path, &body, Some(&app.token(Role::Admin, None)))
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap_or_default().to_owned();
    app.post_json(&path, &body, Some(&app.token(Role::Admin, None)))
        .await
        .problem(409);

    let after = report(&app, IA_GRAI, "2026-01-15").await;
    assert!(findings_for(&after, "1.000080").is_empty());
    assert_eq!(
        after["summary"]["required_procedures"].as_i64(),
        Some(required - 1)
    );
    assert!(
        findings_for(&report(&app, IA_GRAI, "2025-12-31").await, "1.000080").len() == 2,
        "not before it starts"
    );
    let listed = app
        .get_as(&path, &app.token(Role::Officer, Some(IA_GRAI)))
        .await;
    assert_eq!(
        listed["items"][0]["reason"],
        "Xã không thuộc khu vực biên giới"
    );

    let bad = json!({"procedure_code": "9.999999", "reason": "x", "valid_from": "2026-01-01", "valid_to": "2025-01-01"});
    let problem = app
        .post_json(&path, &bad, Some(&app.token(Role::Admin, None)))
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "valid_to");
    let removed = app
        .delete(&format!("{path}/{id}"), Some(&app.token(Role::Admin, None)))
        .await;
    assert_eq!(removed.status, 204);
    assert_eq!(
        findings_for(&report(&app, IA_GRAI, "2026-01-15").await, "1.000080")[0]["kind"],
        "missing"
    );
}

#[actix_web::test]
async fn a_provincial_version_is_required_in_its_province_only() {
    let app = TestApp::spawn().await;
    // Xã Ia Grai (Gia Lai) and a commune of Hồ Chí Minh City post the national version.
    let hcm_commune = "26740";
    for unit in [IA_GRAI, hcm_commune] {
        post_board(&app, unit, &[("1.004873", "163/QĐ-BTP", "2025-07-03")]).await;
    }
    decide(&app, json!({
        "number": "12/QĐ-UBND", "issuer": "UBND Thành phố Hồ Chí Minh", "scope": "79", "signed_on": "2026-01-10",
        "items": [{"action": "amended", "procedure_code": "1.004873", "effective_on": "2026-02-02",
                   "procedure": {"channels": [{"method": "direct", "fee_vnd": 15000}]}}]
    })).await;
    let hcm = report(&app, hcm_commune, "2026-03-02").await;
    let f = findings_for(&hcm, "1.004873");
    assert_eq!(f.len(), 2);
    assert_eq!(f[0]["kind"], "outdated");
    assert_eq!(f[0]["expected"]["decision"], "12/QĐ-UBND");
    assert!(findings_for(&report(&app, IA_GRAI, "2026-03-02").await, "1.004873").is_empty());
}

#[actix_web::test]
async fn csv_has_a_bom_and_vietnamese_text_and_xlsx_reads_back() {
    let app = TestApp::spawn().await;
    post_board(&app, IA_GRAI, &[("1.001193", "163/QĐ-BTP", "2025-07-03")]).await;
    let token = app.token(Role::Officer, Some(IA_GRAI));
    let path = format!("/api/v1/communes/{IA_GRAI}/report?as_of=2026-01-15");
    let csv = app
        .send(
            app.client
                .get(app.url(&path))
                .bearer_auth(&token)
                .header("accept", "text/csv"),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .is_some_and(|c| c.starts_with("text/csv"))
    );
    assert!(
        csv.header("content-disposition")
            .is_some_and(|c| c.contains(".csv"))
    );
    assert!(csv.bytes.starts_with(&[0xEF, 0xBB, 0xBF]), "UTF-8 BOM");
    let text = String::from_utf8(csv.bytes[3..].to_vec()).unwrap_or_default();
    let json_report = app.get_as(&path, &token).await;
    let findings = json_report["findings"]
        .as_array()
        .map(Vec::len)
        .unwrap_or(0);
    let records = csv_records(&text);
    assert_eq!(
        records.len(),
        findings + 1,
        "a header and one row per finding"
    );
    assert_eq!(
        records[0][..5],
        [
            "Mã xã",
            "Xã, phường, đặc khu",
            "Ngày báo cáo",
            "Mã phát hiện",
            "Loại phát hiện"
        ]
    );
    assert!(
        records.iter().all(|r| r.len() == records[0].len()),
        "every row has every column"
    );
    assert_eq!(records[1][1], "Xã Ia Grai");
    assert!(
        text.contains("Xã Ia Grai") && text.contains("Thủ tục đăng ký khai tử"),
        "Vietnamese intact"
    );

    let xlsx = app
        .send(
            app.client
                .get(app.url(&format!("{path}&format=xlsx")))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(xlsx.status, 200);
    assert_eq!(
        xlsx.header("content-type").as_deref(),
        Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    );
    let mut workbook: Xlsx<_> =
        open_workbook_from_rs(Cursor::new(xlsx.bytes.clone())).expect("a workbook");
    let sheet = workbook
        .worksheet_range("Phát hiện")
        .expect("the sheet is in the workbook");
    assert_eq!(sheet.height(), findings + 1);
    assert_eq!(
        sheet.get_value((0, 2)).map(|v| v.to_string()),
        Some("Mã thủ tục".into())
    );
    let summary = workbook
        .worksheet_range("Tổng hợp")
        .expect("the summary comes first");
    assert_eq!(
        summary.get_value((2, 2)).map(|v| v.to_string()),
        Some("Xã Ia Grai".into())
    );
}

#[actix_web::test]
async fn the_province_report_ranks_communes_worst_first_within_the_auditors_scope() {
    let app = TestApp::spawn().await;
    let mut all: Vec<(String, String)> = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app
            .get_json(&format!(
                "/api/v1/procedures?level=commune&limit=500&as_of=2026-01-15{cursor}"
            ))
            .await;
        for p in page["items"].as_array().cloned().unwrap_or_default() {
            all.push((
                p["code"].as_str().unwrap_or_default().to_owned(),
                p["announced_by"].as_str().unwrap_or_default().to_owned(),
            ));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(all.len(), 588);
    let everything: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|(c, d)| (c.as_str(), d.as_str(), "2025-07-03"))
        .collect();
    // One Gia Lai commune posts everything, another half of it.
    post_board(&app, IA_GRAI, &everything).await;
    let half: Vec<(&str, &str, &str)> = everything.iter().step_by(2).copied().collect();
    let communes = app.get_json("/api/v1/units?parent=52&limit=500").await;
    let second = communes["items"]
        .as_array()
        .and_then(|c| c.iter().find(|u| u["code"] != IA_GRAI))
        .map(|u| u["code"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    post_board(&app, &second, &half).await;

    let auditor = app.token(Role::Auditor, Some("52"));
    let body = app
        .get_as("/api/v1/provinces/52/report?as_of=2026-01-15", &auditor)
        .await;
    let rows = body["communes"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        rows.len() as i64,
        app.get_json("/api/v1/units/52").await["commune_count"]
            .as_i64()
            .unwrap_or(0)
    );
    let completeness: Vec<f64> = rows
        .iter()
        .filter_map(|r| r["completeness"].as_f64())
        .collect();
    assert!(completeness.windows(2).all(|w| w[0] <= w[1]), "worst first");
    assert_eq!(rows.last().map(|r| r["code"].clone()), Some(json!(IA_GRAI)));
    assert_eq!(
        rows.last().map(|r| r["completeness"].clone()),
        Some(json!(100.0))
    );
    let second_row = rows
        .iter()
        .find(|r| r["code"] == second.as_str())
        .cloned()
        .unwrap_or_default();
    assert!(
        second_row["completeness"]
            .as_f64()
            .is_some_and(|c| c > 40.0 && c < 60.0),
        "{second_row}"
    );
    let sectors = body["sectors"].as_array().cloned().unwrap_or_default();
    assert!(sectors.iter().any(|s| s["sector_name"] == "Hộ tịch"));
    assert_eq!(body["totals"]["communes"].as_i64(), Some(rows.len() as i64));

    app.send(
        app.client
            .get(app.url("/api/v1/provinces/79/report"))
            .bearer_auth(&auditor),
    )
    .await
    .problem(403);
    app.send(
        app.client
            .get(app.url("/api/v1/provinces/52/report"))
            .bearer_auth(app.token(Role::Officer, Some(IA_GRAI))),
    )
    .await
    .problem(403);
    app.send(
        app.client
            .get(app.url("/api/v1/provinces/99/report"))
            .bearer_auth(app.token(Role::Admin, None)),
    )
    .await
    .problem(404);

    let csv = app
        .send(
            app.client
                .get(app.url("/api/v1/provinces/52/report?format=csv&as_of=2026-01-15"))
                .bearer_auth(&auditor),
        )
        .await;
    let text = String::from_utf8_lossy(&csv.bytes).into_owned();
    assert_eq!(
        csv_records(&text).len(),
        rows.len() + 1,
        "one row per commune"
    );

    let national = app
        .get_as(
            "/api/v1/reports/national?as_of=2026-01-15",
            &app.token(Role::Auditor, None),
        )
        .await;
    let provinces = national["provinces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(provinces.len(), 34);
    let gia_lai = provinces
        .iter()
        .find(|p| p["code"] == "52")
        .cloned()
        .unwrap_or_default();
    assert_eq!(gia_lai["ok"], body["totals"]["ok"]);
    assert_eq!(national["totals"]["communes"], 3321);
    app.send(
        app.client
            .get(app.url("/api/v1/reports/national"))
            .bearer_auth(&auditor),
    )
    .await
    .problem(403);
}

#[actix_web::test]
async fn a_decisions_impact_lists_the_communes_that_have_not_followed_it() {
    let app = TestApp::spawn().await;
    post_board(
        &app,
        IA_GRAI,
        &[
            ("1.001193", "163/QĐ-BTP", "2025-07-03"),
            ("1.000656", "163/QĐ-BTP", "2025-07-03"),
        ],
    )
    .await;
    let decision = decide(&app, json!({
        "number": "600/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-04-01",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-04-06", "procedure": {"legal_basis": "Luật Hộ tịch (sửa đổi)"}},
                  {"action": "abolished", "procedure_code": "1.000656", "effective_on": "2026-04-06"}]
    })).await;
    let id = decision["id"].as_str().unwrap_or_default();
    let auditor = app.token(Role::Auditor, Some("52"));
    let impact = app
        .get_as(
            &format!("/api/v1/decisions/{id}/impact?as_of=2026-04-20"),
            &auditor,
        )
        .await;
    assert_eq!(
        impact["province"], "52",
        "a provincial auditor sees its province"
    );
    let mine: Vec<Value> = impact["rows"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter(|x| x["commune_code"] == IA_GRAI)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let mut kinds: Vec<(String, String)> = mine
        .iter()
        .map(|r| {
            (
                r["procedure_code"].as_str().unwrap_or_default().to_owned(),
                r["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        vec![
            ("1.000656".into(), "must_remove".into()),
            ("1.001193".into(), "outdated".into())
        ]
    );
    // The import that first announced those procedures is not blamed for the abolition.
    let imports = app.get_json("/api/v1/decisions?kind=import").await;
    let import_id = imports["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let admin = app.token(Role::Admin, None);
    let import_impact = app
        .get_as(
            &format!("/api/v1/decisions/{import_id}/impact?as_of=2026-04-20&province=52"),
            &admin,
        )
        .await;
    assert!(
        import_impact["rows"]
            .as_array()
            .is_some_and(|r| r.iter().all(|x| x["kind"] != "must_remove")),
        "must_remove belongs to the abolishing decision only"
    );
    // The other communes of Gia Lai never posted 1.001193: it is missing there.
    assert!(impact["communes_affected"].as_i64().unwrap_or(0) > 1);
    // Once Ia Grai follows the decision (re-posts one, takes the other down today), it drops out.
    post_board(&app, IA_GRAI, &[("1.001193", "600/QĐ-BTP", "2026-04-08")]).await;
    let after = app
        .get_as(
            &format!("/api/v1/decisions/{id}/impact?format=json"),
            &auditor,
        )
        .await;
    assert!(
        after["rows"]
            .as_array()
            .is_some_and(|r| r.iter().all(|x| x["commune_code"] != IA_GRAI))
    );
    app.send(
        app.client
            .get(app.url(&format!("/api/v1/decisions/{id}/impact?province=79")))
            .bearer_auth(&auditor),
    )
    .await
    .problem(403);
    app.send(
        app.client
            .get(app.url("/api/v1/decisions/nope/impact"))
            .bearer_auth(app.token(Role::Admin, None)),
    )
    .await
    .problem(404);
}

#[actix_web::test]
async fn province_settings_change_the_deadline_and_the_required_channels() {
    let app = TestApp::spawn().await;
    let defaults = app.get("/api/v1/provinces/52/settings").await;
    assert_eq!(
        defaults.json(),
        json!({"deadline_working_days": 5, "required_channels": ["counter", "portal"]})
    );
    let etag = defaults.header("etag").unwrap_or_default();
    let body = json!({"deadline_working_days": 10, "required_channels": ["counter"]});
    app.put_json(
        "/api/v1/provinces/52/settings",
        &body,
        Some(&app.token(Role::Editor, None)),
    )
    .await
    .problem(403);
    let stale = app
        .send(
            app.client
                .put(app.url("/api/v1/provinces/52/settings"))
                .bearer_auth(app.token(Role::Admin, None))
                .header("if-match", "\"x\"")
                .json(&body),
        )
        .await;
    stale.problem(412);
    let saved = app
        .send(
            app.client
                .put(app.url("/api/v1/provinces/52/settings"))
                .bearer_auth(app.token(Role::Admin, None))
                .header("if-match", etag)
                .json(&body),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    let r = report(&app, IA_GRAI, "2026-01-15").await;
    assert_eq!(r["rules"]["required_channels"], json!(["counter"]));
    assert_eq!(
        r["summary"]["required_pairs"],
        r["summary"]["required_procedures"]
    );
    assert!(
        r["findings"]
            .as_array()
            .is_some_and(|f| f.iter().all(|x| x["channel"] == "counter"))
    );
    let bad = json!({"deadline_working_days": 1000, "required_channels": []});
    app.put_json(
        "/api/v1/provinces/52/settings",
        &bad,
        Some(&app.token(Role::Admin, None)),
    )
    .await
    .problem(422);
    app.put_json(
        "/api/v1/provinces/26740/settings",
        &body,
        Some(&app.token(Role::Admin, None)),
    )
    .await
    .problem(422);
}

#[actix_web::test]
async fn holidays_are_seeded_and_only_an_admin_replaces_them() {
    let app = TestApp::spawn().await;
    let reply = app.get("/api/v1/calendar/holidays").await;
    let days: Vec<String> = reply.json()["holidays"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|d| d["day"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for day in ["2025-09-02", "2026-02-17", "2026-04-30", "2027-01-01"] {
        assert!(days.iter().any(|d| d == day), "{day}");
    }
    let etag = reply.header("etag").unwrap_or_default();
    let body = json!({"holidays": [{"day": "2026-04-30", "name": "Ngày Chiến thắng"}, {"day": "2026-05-01", "name": "Quốc tế Lao động"}]});
    let before = app.table_counts();
    app.put_json(
        "/api/v1/calendar/holidays",
        &body,
        Some(&app.token(Role::Editor, None)),
    )
    .await
    .problem(403);
    let dup = json!({"holidays": [{"day": "2026-04-30", "name": "A"}, {"day": "2026-04-30", "name": "B"}]});
    app.put_json(
        "/api/v1/calendar/holidays",
        &dup,
        Some(&app.token(Role::Admin, None)),
    )
    .await
    .problem(422);
    assert_eq!(app.table_counts(), before);
    let saved = app
        .send(
            app.client
                .put(app.url("/api/v1/calendar/holidays"))
                .bearer_auth(app.token(Role::Admin, None))
                .header("if-match", etag)
                .json(&body),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    assert_eq!(app.table_counts()["holidays"], 2);
    assert_eq!(app.table_counts()["audit_log"], before["audit_log"] + 1);
}

#[actix_web::test]
async fn the_demo_is_never_loaded_into_a_catalogue_already_in_use() {
    // The plain template was seeded without the demo; starting on it with the demo switched on
    // must leave it as it is.
    let app = TestApp::spawn_with(&[("NIEMYET_DEMO", "true")]).await;
    assert_eq!(app.table_counts()["postings"], 0);
    let demo = app.get_json("/api/v1/decisions?kind=announcement").await;
    assert_eq!(demo["items"].as_array().map(Vec::len), Some(0));
}

#[actix_web::test]
async fn the_demo_shows_every_kind_of_gap_on_four_real_communes() {
    let app = TestApp::spawn_demo().await;
    let admin = app.token(Role::Admin, None);
    let thanh_binh = app
        .get_as("/api/v1/communes/30130/report?as_of=2026-11-23", &admin)
        .await;
    let counts = &thanh_binh["summary"]["counts"];
    assert_eq!(counts["missing"], 0, "Thanh Bình posted everything");
    assert_eq!(
        counts["outdated"], 4,
        "two procedures amended by 2468/QĐ-BTP, on two channels"
    );
    assert_eq!(
        counts["must_remove"], 2,
        "one procedure abolished by 1357/QĐ-BTP"
    );
    let my_duc = app
        .get_as("/api/v1/communes/10441/report?as_of=2026-11-23", &admin)
        .await;
    assert!(
        my_duc["summary"]["completeness"]
            .as_f64()
            .is_some_and(|c| c < 25.0),
        "{}",
        my_duc["summary"]
    );
    let phu_xuyen = app
        .get_as("/api/v1/communes/10273/report?as_of=2026-11-23", &admin)
        .await;
    assert_eq!(phu_xuyen["summary"]["counts"]["unknown_procedure"], 1);
    let hanoi = app
        .get_as(
            "/api/v1/procedures/1.004873?province=01&as_of=2026-11-23",
            &admin,
        )
        .await;
    assert_eq!(hanoi["applicable"]["scope"], "01");
    let ia_grai = app
        .get_as("/api/v1/communes/23764/report?as_of=2025-07-31", &admin)
        .await;
    assert!(
        ia_grai["summary"]["timely_rate"]
            .as_f64()
            .is_some_and(|r| r < 50.0),
        "its counter was posted late"
    );
}

/// Posts 1.001193 on Ia Grai's counter through the instance at `base`.
async fn post_one_counter_posting(app: &TestApp, base: &str, token: &str) {
    let reply = app
        .send(
            app.client
                .put(format!(
                    "{base}/api/v1/communes/{IA_GRAI}/postings/1.001193/counter"
                ))
                .bearer_auth(token)
                .json(&json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

/// Reads `path` on `base` until `settled` holds (another instance hears of a write within
/// milliseconds), giving up after a few seconds; returns the last report read.
async fn read_until(
    app: &TestApp,
    base: &str,
    path: &str,
    token: &str,
    settled: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let reply = app
            .send(app.client.get(format!("{base}{path}")).bearer_auth(token))
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        let report = reply.json();
        if settled(&report) || std::time::Instant::now() > deadline {
            return report;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Reports are cached between requests; every kind of write that changes a report must show in
/// the next one on the instance that made it, and promptly on another over the same database.
#[actix_web::test]
async fn cached_reports_follow_every_write_on_every_instance() {
    let app = TestApp::spawn().await;
    let sibling = app.spawn_sibling().await;
    let admin = app.token(Role::Admin, None);
    let as_of = "2026-06-01";
    let commune = format!("/api/v1/communes/{IA_GRAI}/report?as_of={as_of}");
    let province = format!("/api/v1/provinces/52/report?as_of={as_of}");
    let national = format!("/api/v1/reports/national?as_of={as_of}");
    let read = |base: String, path: String| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let reply = app
                .send(app.client.get(format!("{base}{path}")).bearer_auth(&admin))
                .await;
            assert_eq!(reply.status, 200, "{path}: {}", reply.text());
            reply.json()
        }
    };
    let ok_of = |report: &Value| report["summary"]["ok"].as_u64().unwrap_or(u64::MAX);
    // A client that accepts gzip gets the same report, compressed.
    let plain = app
        .send(app.client.get(app.url(&commune)).bearer_auth(&admin))
        .await;
    for accept in ["gzip", "br;q=1, gzip;q=0.5", "gzip;q=0"] {
        let reply = app
            .send(
                app.client
                    .get(app.url(&commune))
                    .bearer_auth(&admin)
                    .header("accept-encoding", accept),
            )
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("vary").as_deref(), Some("Accept-Encoding"));
        let bytes = if accept == "gzip;q=0" {
            assert_eq!(reply.header("content-encoding"), None);
            reply.bytes.clone()
        } else {
            assert_eq!(reply.header("content-encoding").as_deref(), Some("gzip"));
            let mut out = Vec::new();
            std::io::Read::read_to_end(
                &mut flate2::read::GzDecoder::new(reply.bytes.as_slice()),
                &mut out,
            )
            .expect("the body inflates");
            out
        };
        assert_eq!(bytes, plain.bytes, "{accept}");
    }
    let province_ok = |report: &Value| report["totals"]["ok"].as_u64().unwrap_or(u64::MAX);
    // Warm every cache on both instances.
    for base in [app.address.clone(), sibling.clone()] {
        assert_eq!(ok_of(&read(base.clone(), commune.clone()).await), 0);
        assert_eq!(province_ok(&read(base.clone(), province.clone()).await), 0);
        read(base, national.clone()).await;
    }

    // A posting written through the sibling shows here.
    post_one_counter_posting(&app, &sibling, &admin).await;
    assert_eq!(ok_of(&read(sibling.clone(), commune.clone()).await), 1);
    let base = app.address.clone();
    let report = read_until(&app, &base, &commune, &admin, |r| ok_of(r) == 1).await;
    assert_eq!(ok_of(&report), 1);
    let report = read_until(&app, &base, &province, &admin, |r| province_ok(r) == 1).await;
    assert_eq!(province_ok(&report), 1);
    let report = read_until(&app, &base, &national, &admin, |r| r["totals"]["ok"] == 1).await;
    assert_eq!(report["totals"]["ok"], 1);

    // A decision amending it turns it outdated.
    decide(&app, json!({
        "number": "33/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-05-01",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-05-15",
                   "procedure": {"documents": "Tờ khai mới"}}]
    })).await;
    let report = read(app.address.clone(), commune.clone()).await;
    assert_eq!(ok_of(&report), 0);
    assert_eq!(report["summary"]["counts"]["outdated"], 1);
    let report = read_until(&app, &sibling, &commune, &admin, |r| {
        r["summary"]["counts"]["outdated"] == 1
    })
    .await;
    assert_eq!(ok_of(&report), 0);
    assert_eq!(report["summary"]["counts"]["outdated"], 1);

    // Province settings: only the counter is required now.
    let before = read(sibling.clone(), commune.clone()).await["summary"]["required_pairs"]
        .as_u64()
        .unwrap_or_default();
    let reply = app
        .put_json(
            "/api/v1/provinces/52/settings",
            &json!({"deadline_working_days": 5, "required_channels": ["counter"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let required = |r: &Value| r["summary"]["required_pairs"].as_u64().unwrap_or_default();
    let here = required(&read(app.address.clone(), commune.clone()).await);
    assert_eq!(here * 2, before);
    let after =
        required(&read_until(&app, &sibling, &commune, &admin, |r| required(r) == here).await);
    assert_eq!(after * 2, before);

    // An exemption removes a required procedure.
    let reply = app
        .post_json(
            &format!("/api/v1/communes/{IA_GRAI}/exemptions"),
            &json!({"procedure_code": "1.000656", "reason": "Không áp dụng", "valid_from": "2026-01-01"}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let expected = |r: &Value| {
        let communes = r["totals"]["communes"].as_u64().unwrap_or_default();
        Some(after * communes - 1)
    };
    let report = read_until(&app, &sibling, &province, &admin, |r| {
        r["totals"]["required_pairs"].as_u64() == expected(r)
    })
    .await;
    assert_eq!(
        report["totals"]["required_pairs"].as_u64(),
        expected(&report)
    );
}

/// The national report stores each commune's summary for today. An instance starting cold reads
/// them back instead of the postings (shown here by altering one stored row), and recomputes a
/// commune as soon as it changes.
#[actix_web::test]
async fn a_cold_instance_reads_stored_summaries_until_their_commune_changes() {
    use diesel::prelude::*;
    use niemyet::db::schema::commune_summaries;

    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    let first = app.get_as("/api/v1/reports/national", &admin).await;
    let communes = first["totals"]["communes"].as_i64().unwrap_or_default();
    assert!(communes > 3000, "{}", first["totals"]);
    let stored = {
        let mut conn = app.pool.get().expect("a pooled connection");
        commune_summaries::table
            .count()
            .get_result::<i64>(&mut *conn)
            .expect("the query runs")
    };
    assert_eq!(stored, communes, "one stored summary per commune");

    // Alter Ia Grai's stored summary; a new instance has nothing in memory and must trust it.
    // Alter another commune's too, but as if an older build had stored it: that one must be
    // computed again.
    let current = niemyet::services::reports::SUMMARY_VERSION;
    for (commune, extra, version) in [(IA_GRAI, 777, current), ("10441", 555, current - 1)] {
        let mut conn = app.pool.get().expect("a pooled connection");
        let row: String = commune_summaries::table
            .filter(commune_summaries::unit_code.eq(commune))
            .select(commune_summaries::summary)
            .get_result(&mut *conn)
            .expect("the query runs");
        let mut stored: Value = serde_json::from_str(&row).expect("valid JSON");
        assert_eq!(stored["version"], current, "{stored}");
        let ok = stored["summary"]["ok"].as_u64().unwrap_or_default();
        stored["summary"]["ok"] = json!(ok + extra);
        stored["version"] = json!(version);
        diesel::update(commune_summaries::table.filter(commune_summaries::unit_code.eq(commune)))
            .set(commune_summaries::summary.eq(stored.to_string()))
            .execute(&mut *conn)
            .expect("the query runs");
    }
    let sibling = app.spawn_sibling().await;
    let national = |base: String| {
        let (app, admin) = (&app, admin.clone());
        async move {
            let reply = app
                .send(
                    app.client
                        .get(format!("{base}/api/v1/reports/national"))
                        .bearer_auth(&admin),
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
            reply.json()
        }
    };
    let ok = |r: &Value| r["totals"]["ok"].as_u64().unwrap_or_default();
    let cold = national(sibling.clone()).await;
    assert_eq!(
        ok(&cold),
        ok(&first) + 777,
        "the current stored summary was used, the older one recomputed"
    );

    // A posting written at Ia Grai makes its stored summary stale: both instances now agree
    // with a summary computed from the postings.
    post_one_counter_posting(&app, &sibling, &admin).await;
    let after = national(sibling.clone()).await;
    assert!(ok(&after) < ok(&first) + 777, "{}", after["totals"]);
    let here = read_until(
        &app,
        &app.address,
        "/api/v1/reports/national",
        &admin,
        |r| r["totals"] == after["totals"],
    )
    .await;
    assert_eq!(here["totals"], after["totals"]);
}
