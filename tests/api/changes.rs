use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn decide(app: &TestApp, body: Value) -> String {
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &body,
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    reply.json()["id"].as_str().unwrap_or_default().to_owned()
}

fn numbers(feed: &Value) -> Vec<String> {
    feed["decisions"]
        .as_array()
        .map(|d| {
            d.iter()
                .filter_map(|x| x["number"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn the_change_feed_lists_what_to_post_re_post_and_take_down_in_effective_order() {
    let app = TestApp::spawn().await;
    let far = (chrono::Utc::now() + chrono::Duration::days(400)).date_naive();
    // Signed in this order; taking effect in another.
    decide(&app, json!({
        "number": "90/QĐ-BCA", "issuer": "Bộ Công an", "scope": "national", "signed_on": "2026-05-02",
        "items": [{"action": "abolished", "procedure_code": "1.000656", "effective_on": "2026-06-01"}]
    })).await;
    decide(&app, json!({
        "number": "80/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-05-01",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-05-15",
                   "procedure": {"channels": [{"method": "direct", "time_value": 3, "time_unit": "working_days", "fee_vnd": 8000}]}}]
    })).await;
    decide(&app, json!({
        "number": "12/QĐ-UBND", "issuer": "UBND thành phố Hà Nội", "scope": "01", "signed_on": "2026-05-03",
        "items": [{"action": "amended", "procedure_code": "1.004222", "effective_on": "2026-05-20",
                   "procedure": {"documents": "Tờ khai theo mẫu của Hà Nội"}}]
    })).await;
    decide(&app, json!({
        "number": "95/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-05-04",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": far.to_string(),
                   "procedure": {"channels": [{"method": "direct", "time_value": 2, "time_unit": "working_days", "fee_vnd": 8000}]}}]
    })).await;

    let hanoi = app
        .get_json("/api/v1/catalogue/changes?since=2026-05-10&province=01&level=commune")
        .await;
    assert_eq!(
        numbers(&hanoi),
        ["80/QĐ-BTP", "12/QĐ-UBND", "90/QĐ-BCA", "95/QĐ-BTP"],
        "in effective order"
    );
    let first = &hanoi["decisions"][0];
    assert_eq!(first["upcoming"], false);
    let item = &first["items"][0];
    assert_eq!(item["procedure_code"], "1.001193");
    assert_eq!(item["action"], "amended");
    assert_eq!(item["posting_action"], "re_post");
    assert_eq!(item["status"], "in_effect");
    assert_eq!(item["sector_name"], "Hộ tịch");
    assert!(
        item["procedure_name"]
            .as_str()
            .is_some_and(|n| !n.is_empty())
    );
    assert_eq!(
        hanoi["decisions"][2]["items"][0]["posting_action"],
        "take_down"
    );
    let last = &hanoi["decisions"][3];
    assert_eq!(last["upcoming"], true);
    assert_eq!(last["items"][0]["status"], "upcoming");
    assert_eq!(hanoi["counts"]["decisions"], 4);
    assert_eq!(hanoi["counts"]["upcoming_items"], 1);
    assert_eq!(hanoi["counts"]["take_down"], 1);

    // Another province does not see Hà Nội's decision; `since` is inclusive.
    let gia_lai = app
        .get_json("/api/v1/catalogue/changes?since=2026-05-15&province=52")
        .await;
    assert_eq!(numbers(&gia_lai), ["80/QĐ-BTP", "90/QĐ-BCA", "95/QĐ-BTP"]);
    let later = app
        .get_json("/api/v1/catalogue/changes?since=2026-05-16&province=52")
        .await;
    assert_eq!(numbers(&later), ["90/QĐ-BCA", "95/QĐ-BTP"]);

    // CSV: a row per item.
    let csv = app
        .get("/api/v1/catalogue/changes?since=2026-05-10&province=01&format=csv")
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.text().starts_with('\u{feff}'));
    assert_eq!(csv.text().lines().count(), 1 + 4);

    for path in [
        "/api/v1/catalogue/changes",
        "/api/v1/catalogue/changes?since=2026-02-30",
        "/api/v1/catalogue/changes?since=2026-05-01&province=99",
        "/api/v1/catalogue/changes?since=2026-05-01&province=abc",
        "/api/v1/catalogue/changes?since=2026-05-01&level=hamlet",
        "/api/v1/catalogue/changes?since=0001-01-01",
    ] {
        let reply = app.get(path).await;
        assert!(
            matches!(reply.status, 400 | 422),
            "{path}: {}",
            reply.status
        );
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some("application/problem+json")
        );
    }
}

#[actix_web::test]
async fn a_national_amendment_does_not_reach_a_province_with_its_own_version() {
    let app = TestApp::spawn().await;
    decide(&app, json!({
        "number": "12/QĐ-UBND", "issuer": "UBND thành phố Hà Nội", "scope": "01", "signed_on": "2026-05-03",
        "items": [{"action": "amended", "procedure_code": "1.004222", "effective_on": "2026-05-20",
                   "procedure": {"documents": "Tờ khai theo mẫu của Hà Nội"}}]
    })).await;
    decide(&app, json!({
        "number": "40/QĐ-BCA", "issuer": "Bộ Công an", "scope": "national", "signed_on": "2026-06-01",
        "items": [{"action": "amended", "procedure_code": "1.004222", "effective_on": "2026-06-10",
                   "procedure": {"documents": "Tờ khai mới"}}]
    })).await;
    let hanoi = app
        .get_json("/api/v1/catalogue/changes?since=2026-06-01&province=01")
        .await;
    assert!(numbers(&hanoi).is_empty(), "{hanoi}");
    let gia_lai = app
        .get_json("/api/v1/catalogue/changes?since=2026-06-01&province=52")
        .await;
    assert_eq!(numbers(&gia_lai), ["40/QĐ-BCA"]);
}

#[actix_web::test]
async fn an_amendment_that_takes_a_procedure_off_the_commune_level_is_a_take_down() {
    let app = TestApp::spawn().await;
    decide(&app, json!({
        "number": "51/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-05-01",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-05-15",
                   "procedure": {"levels": ["province"]}}]
    })).await;
    decide(&app, json!({
        "number": "52/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national", "signed_on": "2026-06-01",
        "items": [{"action": "amended", "procedure_code": "1.001193", "effective_on": "2026-06-15",
                   "procedure": {"levels": ["province", "commune"]}}]
    })).await;
    let feed = app
        .get_json("/api/v1/catalogue/changes?since=2026-05-01&level=commune")
        .await;
    assert_eq!(numbers(&feed), ["51/QĐ-BTP", "52/QĐ-BTP"], "{feed}");
    assert_eq!(
        feed["decisions"][0]["items"][0]["posting_action"],
        "take_down"
    );
    assert_eq!(feed["decisions"][1]["items"][0]["posting_action"], "post");
    let province_level = app
        .get_json("/api/v1/catalogue/changes?since=2026-05-01&level=province")
        .await;
    assert_eq!(province_level["counts"]["items"], 2);
}
