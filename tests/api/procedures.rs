use serde_json::Value;

use crate::helpers::TestApp;

fn codes(body: &Value) -> Vec<String> {
    body["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["code"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn searching_commune_procedures_for_khai_sinh_finds_the_birth_registration() {
    let app = TestApp::spawn().await;
    let body = app
        .get_json("/api/v1/procedures?level=commune&q=khai%20sinh&limit=500")
        .await;
    let item = body["items"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["code"] == "1.001193"))
        .cloned();
    let item = item.expect("1.001193 missing: {body}");
    assert_eq!(item["name"], "Thủ tục đăng ký khai sinh");
    assert_eq!(item["sector"]["name"], "Hộ tịch");
    assert_eq!(item["status"], "in_force");
    assert_eq!(item["announced_by"], "163/QĐ-BTP");
    assert_eq!(item["effective_from"], "2025-07-01");
    for i in body["items"].as_array().cloned().unwrap_or_default() {
        assert!(
            i["levels"]
                .as_array()
                .is_some_and(|l| l.contains(&Value::from("commune"))),
            "{i}"
        );
    }
}

#[actix_web::test]
async fn search_ignores_case_and_diacritics() {
    let app = TestApp::spawn().await;
    let plain = codes(
        &app.get_json("/api/v1/procedures?q=khai%20sinh&limit=500")
            .await,
    );
    assert!(plain.contains(&"1.001193".to_owned()));
    for q in ["KHAI%20SINH", "khai%20s%C3%ADnh", "Kh%E1%BA%A3i%20Sinh"] {
        assert_eq!(
            codes(
                &app.get_json(&format!("/api/v1/procedures?q={q}&limit=500"))
                    .await
            ),
            plain,
            "q={q}"
        );
    }
    let dang_ky = app
        .get_json("/api/v1/procedures?q=dang%20ky&limit=500")
        .await;
    let items = dang_ky["items"].as_array().cloned().unwrap_or_default();
    assert!(
        items
            .iter()
            .any(|i| i["name"].as_str().is_some_and(|n| n.starts_with("Đăng ký"))),
        "{dang_ky}"
    );
    // A code prefix finds the procedure too.
    assert_eq!(
        codes(&app.get_json("/api/v1/procedures?q=1.001193").await),
        vec!["1.001193"]
    );
}

#[actix_web::test]
async fn filters_by_level_and_sector_and_pages_through_the_commune_catalogue() {
    let app = TestApp::spawn().await;
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let body = app
            .get_json(&format!(
                "/api/v1/procedures?level=commune&limit=200{cursor}"
            ))
            .await;
        all.extend(codes(&body));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        all.len(),
        588,
        "588 records of the bundled catalogue include the commune level"
    );
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, all, "ordered by code, without repeats");

    let ho_tich = app
        .get_json("/api/v1/procedures?sector=ho-tich&limit=500")
        .await;
    let items = ho_tich["items"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["sector"]["code"] == "ho-tich"));
}

#[actix_web::test]
async fn before_the_catalogue_takes_effect_nothing_is_in_force() {
    let app = TestApp::spawn().await;
    let body = app.get_json("/api/v1/procedures?as_of=2025-06-30").await;
    assert_eq!(codes(&body).len(), 0);
    let detail = app
        .get_json("/api/v1/procedures/1.001193?as_of=2025-06-30")
        .await;
    assert_eq!(detail["status"], "not_yet_in_force");
    assert!(detail["applicable"].is_null());
    assert_eq!(detail["versions"].as_array().map(Vec::len), Some(1));
}

#[actix_web::test]
async fn a_procedure_shows_its_applicable_version_and_history() {
    let app = TestApp::spawn().await;
    let body = app
        .get_json("/api/v1/procedures/1.004222?as_of=2026-01-15")
        .await;
    assert_eq!(body["status"], "in_force");
    let v = &body["applicable"];
    assert_eq!(v["name"], "Đăng ký thường trú");
    assert_eq!(v["scope"], "national");
    assert_eq!(v["decision"]["kind"], "import");
    assert_eq!(v["announced_by"], "1523/QĐ-BCA-C06");
    let channels = v["channels"].as_array().cloned().unwrap_or_default();
    let direct = channels
        .iter()
        .find(|c| c["method"] == "direct")
        .cloned()
        .unwrap_or_default();
    assert_eq!(direct["fee_vnd"], 20000);
    assert_eq!(direct["time_value"], 7.0);
    assert_eq!(direct["time_unit"], "working_days");
    assert_eq!(v["content_hash"].as_str().map(str::len), Some(64));
    assert_eq!(body["versions"][0]["id"], v["id"]);
}

#[actix_web::test]
async fn unknown_and_malformed_procedure_codes_are_told_apart() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/procedures/9.999999").await.problem(404);
    let body = app
        .get("/api/v1/procedures/drop%20table")
        .await
        .problem(422);
    assert_eq!(body["errors"][0]["field"], "code");
    app.get("/api/v1/procedures?as_of=2025-02-30")
        .await
        .problem(400);
    app.get("/api/v1/procedures?status=gone").await.problem(400);
    app.get("/api/v1/procedures?province=7").await.problem(422);
    let body = app.get("/api/v1/procedures?province=99").await.problem(422);
    assert_eq!(body["errors"][0]["field"], "province");
    app.get("/api/v1/procedures/1.001193?province=99")
        .await
        .problem(422);
    app.get("/api/v1/sectors?province=99").await.problem(422);
    // A query of LIKE metacharacters only is no filter at all, not an error.
    let wildcards = app
        .get_json("/api/v1/procedures?level=commune&q=%25%25%25%25")
        .await;
    assert_eq!(wildcards["items"].as_array().map(Vec::len), Some(50));
}

#[actix_web::test]
async fn sectors_count_their_procedures_in_force() {
    let app = TestApp::spawn().await;
    let body = app
        .get_json("/api/v1/sectors?limit=500&level=commune")
        .await;
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 140, "the bundled catalogue names 140 sectors");
    let total: i64 = items
        .iter()
        .map(|s| s["procedures_in_force"].as_i64().unwrap_or(0))
        .sum();
    assert_eq!(total, 588);
    let ho_tich = app.get_json("/api/v1/sectors/ho-tich").await;
    assert_eq!(ho_tich["name"], "Hộ tịch");
    assert!(
        ho_tich["by_level"]["commune"].as_i64().unwrap_or(0) > 10,
        "{ho_tich}"
    );
    app.get("/api/v1/sectors/khong-co").await.problem(404);
}
