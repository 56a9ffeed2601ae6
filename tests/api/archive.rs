//! Inspections of communes retired in 2025, recorded from a paper archive: kept under the old
//! commune, shown in the history of the communes of today it went to.

use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// Xã Đại Hưng (huyện Mỹ Đức, Hà Nội), merged whole into Xã Mỹ Đức on 2025-07-01.
const DAI_HUNG: &str = "10480";
const MY_DUC: &str = "10441";
const HA_NOI: &str = "01";

fn archive(unit: &str, on: &str, findings: &[&str]) -> Value {
    json!({"unit": unit, "inspected_on": on, "team": ["Lê Văn Cường", "Phạm Thị Dung"],
           "notes": "Ghi lại từ biên bản giấy lưu tại Văn phòng UBND huyện.",
           "findings": findings})
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn record(app: &TestApp, body: &Value, token: &str) -> Value {
    let reply = app
        .post_json("/api/v1/inspections", body, Some(token))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        reply.header("location").as_deref(),
        Some(format!("/api/v1/inspections/{id}").as_str())
    );
    reply.json()
}

#[actix_web::test]
async fn an_archive_inspection_of_dai_hung_is_kept_under_it_and_shown_under_xa_my_duc() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    let auditor = app.token(Role::Auditor, Some(HA_NOI));
    let findings = [
        "Chưa niêm yết thủ tục Đăng ký khai sinh tại bộ phận một cửa",
        "Bảng niêm yết lĩnh vực đất đai còn quyết định công bố năm 2019",
    ];
    let created = record(&app, &archive(DAI_HUNG, "2022-05-10", &findings), &auditor).await;
    assert_eq!(created["kind"], "archive");
    assert_eq!(created["commune"], DAI_HUNG);
    assert_eq!(
        created["province"], HA_NOI,
        "filed with its successor's province"
    );
    assert_eq!(created["inspected_on"], "2022-05-10");
    assert!(created["completeness"].is_null(), "{created}");
    assert!(created["report"].is_null(), "no catalogue then, no report");
    assert_eq!(created["finding_count"], 2);
    let unit = &created["archive"]["unit"];
    assert_eq!(unit["name"], "Xã Đại Hưng");
    assert_eq!(unit["district"]["code"], "282");
    assert_eq!(unit["district"]["name"], "Huyện Mỹ Đức");
    assert_eq!(unit["province"]["code"], HA_NOI);
    assert_eq!(unit["valid_to"], "2025-06-30");
    assert_eq!(created["archive"]["findings"], json!(findings));
    assert_eq!(
        created["archive"]["lineage"],
        "/api/v1/units/10480/lineage?as_of=2025-06-30"
    );
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let after = app.table_counts();
    assert_eq!(
        after["archive_inspections"],
        before["archive_inspections"] + 1
    );
    assert_eq!(after["inspections"], before["inspections"]);
    assert_eq!(after["audit_log"], before["audit_log"] + 1);

    // Read back as recorded, by the auditor and by the officer of the successor.
    let read = app
        .get_as(&format!("/api/v1/inspections/{id}"), &auditor)
        .await;
    assert_eq!(read, created);
    let officer = app.token(Role::Officer, Some(MY_DUC));
    let by_officer = app
        .get_as(&format!("/api/v1/inspections/{id}"), &officer)
        .await;
    assert_eq!(by_officer["archive"]["unit"]["name"], "Xã Đại Hưng");
    for token in [
        app.token(Role::Officer, Some("00004")),
        app.token(Role::Auditor, Some("52")),
        app.token(Role::Editor, None),
    ] {
        app.send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}")))
                .bearer_auth(token),
        )
        .await
        .problem(403);
    }

    // Xã Mỹ Đức's own inspections do not include it; with its predecessors they do.
    let own = app
        .get_as(&format!("/api/v1/inspections?unit={MY_DUC}"), &auditor)
        .await;
    assert!(!ids(&own).contains(&id), "{own}");
    let history = app
        .get_as(
            &format!("/api/v1/inspections?unit={MY_DUC}&include_predecessors=true"),
            &auditor,
        )
        .await;
    assert_eq!(ids(&history), [id.as_str()]);
    assert_eq!(
        history["items"][0]["archive"]["unit"]["name"],
        "Xã Đại Hưng"
    );
    // The officer of Xã Mỹ Đức sees its history too; the province's list holds the record.
    let mine = app
        .get_as("/api/v1/inspections?include_predecessors=true", &officer)
        .await;
    assert_eq!(ids(&mine), [id.as_str()]);
    let province = app.get_as("/api/v1/inspections", &auditor).await;
    assert!(ids(&province).contains(&id));
    let gia_lai = app
        .get_as("/api/v1/inspections", &app.token(Role::Auditor, Some("52")))
        .await;
    assert!(!ids(&gia_lai).contains(&id));

    // There is no report to follow up.
    app.send(
        app.client
            .get(app.url(&format!("/api/v1/inspections/{id}/follow-up")))
            .bearer_auth(&auditor),
    )
    .await
    .problem(409);

    // The record prints as a biên bản naming the unit as it was, and exports its findings.
    let page = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}?format=html")))
                .bearer_auth(&auditor),
        )
        .await;
    assert_eq!(page.status, 200);
    let html = page.text();
    for text in [
        "Xã Đại Hưng, Huyện Mỹ Đức",
        "THÀNH PHỐ HÀ NỘI",
        "Lê Văn Cường",
        "10/05/2022",
        findings[0],
        findings[1],
        "ĐẠI DIỆN ĐƠN VỊ ĐƯỢC KIỂM TRA",
    ] {
        assert!(html.contains(text), "{text} in the page");
    }
    let csv = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}?format=csv")))
                .bearer_auth(&auditor),
        )
        .await;
    assert_eq!(csv.status, 200);
    let text = csv.text();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "a header and one row per finding: {text}");
    assert!(
        rows[1].contains(DAI_HUNG) && rows[1].contains(findings[0]),
        "{text}"
    );
    let xlsx = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}?format=xlsx")))
                .bearer_auth(&auditor),
        )
        .await;
    assert_eq!(xlsx.status, 200);
}

#[actix_web::test]
async fn a_reused_code_records_the_old_unit_and_a_split_commune_shows_under_each_successor() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    // 00004 was Phường Trúc Bạch until 2025-06-30; it is Phường Ba Đình since.
    let truc_bach = record(&app, &archive("00004", "2023-03-15", &[]), &admin).await;
    assert_eq!(truc_bach["archive"]["unit"]["name"], "Phường Trúc Bạch");
    assert_eq!(truc_bach["archive"]["findings"], json!([]));
    assert_eq!(truc_bach["finding_count"], 0);
    // Phường Ngọc Hà (00016) went in part to several wards, Phường Ba Đình among them.
    // A national auditor records too.
    let ngoc_ha = record(
        &app,
        &archive(
            "00016",
            "2021-11-02",
            &["Thiếu địa chỉ tiếp nhận phản ánh, kiến nghị"],
        ),
        &app.token(Role::Auditor, None),
    )
    .await;
    let (truc_bach, ngoc_ha) = (
        truc_bach["id"].as_str().unwrap_or_default().to_owned(),
        ngoc_ha["id"].as_str().unwrap_or_default().to_owned(),
    );
    // Phường Ba Đình of today: neither is its own inspection; both are in its history, the
    // latest visit first.
    let own = app.get_as("/api/v1/inspections?unit=00004", &admin).await;
    assert!(ids(&own).is_empty(), "{own}");
    let history = app
        .get_as(
            "/api/v1/inspections?unit=00004&include_predecessors=true",
            &admin,
        )
        .await;
    assert_eq!(ids(&history), [truc_bach.clone(), ngoc_ha.clone()]);
    // Paged one at a time, the same two.
    let first = app
        .get_as(
            "/api/v1/inspections?unit=00004&include_predecessors=true&limit=1",
            &admin,
        )
        .await;
    assert_eq!(ids(&first), [truc_bach.as_str()]);
    let cursor = first["next_cursor"].as_str().unwrap_or_default();
    let second = app
        .get_as(
            &format!(
                "/api/v1/inspections?unit=00004&include_predecessors=true&limit=1&cursor={cursor}"
            ),
            &admin,
        )
        .await;
    assert_eq!(ids(&second), [ngoc_ha.as_str()]);
    assert!(second["next_cursor"].is_null());
    // Xã Lý Quốc (01537, Cao Bằng) did not go to the commune that has its code today: that
    // commune's officer does not read its record; the officer of its successor does.
    let ly_quoc = record(&app, &archive("01537", "2024-04-02", &[]), &admin).await;
    let ly_quoc = ly_quoc["id"].as_str().unwrap_or_default().to_owned();
    let went_to: Vec<String> = app
        .get_json("/api/v1/units/01537/lineage?as_of=2025-06-30")
        .await["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["unit"]["code"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !went_to.is_empty() && !went_to.iter().any(|c| c == "01537"),
        "{went_to:?}"
    );
    let read_by = |code: &str| {
        app.client
            .get(app.url(&format!("/api/v1/inspections/{ly_quoc}")))
            .bearer_auth(app.token(Role::Officer, Some(code)))
    };
    app.send(read_by("01537")).await.problem(403);
    assert_eq!(app.send(read_by(&went_to[0])).await.status, 200);

    // Every other successor of Ngọc Hà shows it as well.
    let successors = app
        .get_json("/api/v1/units/00016/lineage?as_of=2025-06-30")
        .await;
    let others: Vec<String> = successors["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["unit"]["code"].as_str().map(str::to_owned))
                .filter(|c| c != "00004")
                .collect()
        })
        .unwrap_or_default();
    assert!(!others.is_empty());
    for code in others {
        let history = app
            .get_as(
                &format!("/api/v1/inspections?unit={code}&include_predecessors=true"),
                &admin,
            )
            .await;
        assert!(ids(&history).contains(&ngoc_ha), "{code}: {history}");
    }
}

#[actix_web::test]
async fn an_archive_record_out_of_scope_or_out_of_time_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    let good = archive(DAI_HUNG, "2022-05-10", &["Thiếu quy trình nội bộ"]);
    for (token, status) in [
        (app.token(Role::Auditor, Some("52")), 403),
        (app.token(Role::Officer, Some(MY_DUC)), 403),
        (app.token(Role::Editor, None), 403),
    ] {
        app.post_json("/api/v1/inspections", &good, Some(&token))
            .await
            .problem(status);
    }
    let auditor = app.token(Role::Auditor, Some(HA_NOI));
    for (body, field, says) in [
        // After the reform the commune is gone; findings as text are for the archive only.
        (
            archive(DAI_HUNG, "2025-07-01", &["x"]),
            "findings",
            "2025-06-30",
        ),
        (archive("99999", "2022-05-10", &["x"]), "unit", "in force"),
        (
            archive(DAI_HUNG, "2022-05-10", &["  "]),
            "findings[0]",
            "1 to",
        ),
        // Without findings, a visit before the reform is pointed to the archive record; one
        // after it, to where the retired commune went.
        (
            json!({"unit": DAI_HUNG, "inspected_on": "2022-05-10", "team": ["An"]}),
            "inspected_on",
            "findings",
        ),
        (
            json!({"unit": "00004", "inspected_on": "2023-03-15", "team": ["An"]}),
            "inspected_on",
            "2025-07-01",
        ),
        (
            json!({"unit": DAI_HUNG, "inspected_on": "2026-05-10", "team": ["An"]}),
            "unit",
            "/api/v1/units/10480/lineage?as_of=2025-06-30",
        ),
    ] {
        let problem = app
            .post_json("/api/v1/inspections", &body, Some(&auditor))
            .await
            .problem(422);
        let error = problem["errors"]
            .as_array()
            .and_then(|e| e.iter().find(|x| x["field"] == field).cloned())
            .unwrap_or_else(|| panic!("{field}: {problem}"));
        assert!(
            error["message"].as_str().unwrap_or_default().contains(says),
            "{field}: {error}"
        );
    }
    // The predecessors of what? A commune is needed.
    app.send(
        app.client
            .get(app.url("/api/v1/inspections?include_predecessors=true"))
            .bearer_auth(app.token(Role::Admin, None)),
    )
    .await
    .problem(422);
    assert_eq!(
        app.table_counts(),
        before,
        "nothing written, no audit entry"
    );
}
