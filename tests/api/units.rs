use std::collections::HashSet;

use crate::helpers::TestApp;

#[actix_web::test]
async fn the_34_provinces_are_listed() {
    let app = TestApp::spawn().await;
    let body = app.get_json("/api/v1/units?level=province&limit=100").await;
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 34);
    assert!(body["next_cursor"].is_null());
    assert!(
        items
            .iter()
            .any(|u| u["code"] == "79" && u["name"] == "Thành phố Hồ Chí Minh")
    );
    assert!(items.iter().all(|u| u["parent_code"].is_null()));
}

#[actix_web::test]
async fn a_commune_is_found_by_name_without_diacritics_within_its_province() {
    let app = TestApp::spawn().await;
    let body = app.get_json("/api/v1/units?parent=52&q=ia%20grai").await;
    let items = body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{body}");
    assert_eq!(items[0]["code"], "23764");
    assert_eq!(items[0]["name"], "Xã Ia Grai");
    assert_eq!(items[0]["level"], "commune");
    // The same search in another province finds nothing.
    let other = app.get_json("/api/v1/units?parent=79&q=ia%20grai").await;
    assert_eq!(other["items"].as_array().map(Vec::len), Some(0));
}

#[actix_web::test]
async fn pages_cover_every_unit_exactly_once() {
    let app = TestApp::spawn().await;
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/units?limit=500&cursor={c}"),
            None => "/api/v1/units?limit=500".to_owned(),
        };
        let body = app.get_json(&path).await;
        for unit in body["items"].as_array().cloned().unwrap_or_default() {
            assert!(
                seen.insert(unit["code"].as_str().unwrap_or_default().to_owned()),
                "duplicate {unit}"
            );
        }
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 34 + 3321);
    assert_eq!(pages, 7);
}

#[actix_web::test]
async fn a_province_reports_its_communes_and_a_commune_its_province() {
    let app = TestApp::spawn().await;
    let hcm = app.get_json("/api/v1/units/79").await;
    assert_eq!(hcm["commune_count"], 168);
    assert_eq!(hcm["division_type"], "thành phố trung ương");
    let commune = app.get_json("/api/v1/units/23764").await;
    assert_eq!(commune["parent"]["code"], "52");
    assert_eq!(commune["parent"]["name"], "Gia Lai");
    assert!(commune["commune_count"].is_null());
}

#[actix_web::test]
async fn unknown_and_malformed_unit_codes_are_told_apart() {
    let app = TestApp::spawn().await;
    app.get("/api/v1/units/99999").await.problem(404);
    let body = app.get("/api/v1/units/7a").await.problem(422);
    assert_eq!(body["errors"][0]["field"], "code");
    app.get("/api/v1/units?parent=23764").await.problem(422);
    app.get("/api/v1/units?level=county").await.problem(400);
    // Districts were abolished on 2025-07-01: none today.
    let districts = app.get_json("/api/v1/units?level=district").await;
    assert_eq!(districts["items"].as_array().map(Vec::len), Some(0));
    app.get("/api/v1/units?limit=0").await.problem(422);
    app.get("/api/v1/units?limit=501").await.problem(422);
    app.get("/api/v1/units?limit=ten").await.problem(400);
    app.get("/api/v1/units?cursor=%%%").await.problem(400);
    app.get("/api/v1/units?colour=blue").await.problem(400);
}
