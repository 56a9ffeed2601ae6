//! Who must post what: the posting place of every version, the province's posting places, the
//! provincial lists, and the posting list, on the bundled real catalogue.

use std::collections::BTreeSet;

use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const IA_GRAI: &str = "23764";
const GIA_LAI: &str = "52";
/// A commune of Hồ Chí Minh City: another province.
const SAI_GON: &str = "26740";
/// Đăng ký thường trú: received by the commune police.
const RESIDENCE: &str = "1.004222";
const RESIDENCE_DECISION: &str = "1523/QĐ-BCA-C06";
/// Thủ tục đăng ký khai sinh: received by the commune centre.
const BIRTH: &str = "1.001193";

fn codes_of(list: &Value) -> BTreeSet<String> {
    list["sectors"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["items"].as_array().into_iter().flatten())
        .filter_map(|i| i["procedure_code"].as_str().map(str::to_owned))
        .collect()
}

fn findings_for(report: &Value, code: &str, channel: &str) -> Vec<Value> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["procedure_code"] == code && f["channel"] == channel)
        .cloned()
        .collect()
}

async fn report(app: &TestApp, unit: &str, as_of: &str) -> Value {
    app.get_as(
        &format!("/api/v1/communes/{unit}/report?as_of={as_of}"),
        &app.token(Role::Admin, None),
    )
    .await
}

async fn post_counter(app: &TestApp, unit: &str, code: &str, decision: &str) {
    let reply = app
        .put_json(
            &format!("/api/v1/communes/{unit}/postings/{code}/counter"),
            &json!({"decision": decision, "posted_on": "2025-07-03"}),
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
}

async fn list_decision(app: &TestApp, number: &str, items: Value) -> String {
    let reply = app
        .post_json(
            "/api/v1/decisions",
            &json!({"number": number, "issuer": "UBND tỉnh Gia Lai", "scope": GIA_LAI,
                    "signed_on": "2026-02-20", "items": items}),
            Some(&app.token(Role::Editor, None)),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["kind"], "list");
    body["id"].as_str().unwrap_or_default().to_owned()
}

/// On the bundled catalogue, no commune is asked to post what a customs, tax, treasury or
/// social-insurance office receives, and every province's default list is between 150 and 400
/// procedures, each with its reason.
#[actix_web::test]
async fn the_default_obligation_is_what_the_commune_centre_receives() {
    let app = TestApp::spawn().await;
    let units = app.get_json("/api/v1/units?level=province&limit=100").await;
    let provinces: Vec<String> = units["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u["code"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(provinces.len(), 34);
    let forbidden = [
        "Hải quan",
        "Thuế",
        "Kho bạc Nhà nước",
        "Thực hiện chính sách BHXH",
        "Thực hiện chính sách BHYT",
        "Thu BHXH, BHYT, BHTN, BH tai nạn lao động, BNN",
        "Cấp sổ BHXH, thẻ BHYT",
        "Chi trả các chế độ BHXH",
    ];
    for province in &provinces {
        let list = app
            .get_json(&format!(
                "/api/v1/provinces/{province}/posting-list?as_of=2026-11-30"
            ))
            .await;
        let n = list["procedures"].as_u64().unwrap_or_default();
        assert!((150..=400).contains(&n), "{province}: {n} procedures");
        assert_eq!(list["posting_places"], json!(["commune_centre"]));
        for sector in list["sectors"].as_array().into_iter().flatten() {
            let name = sector["sector_name"].as_str().unwrap_or_default();
            assert!(!forbidden.contains(&name), "{province} lists {name}");
            for item in sector["items"].as_array().into_iter().flatten() {
                assert_eq!(item["posting_place"], "commune_centre", "{item}");
                assert_eq!(item["basis"]["kind"], "posting_place", "{item}");
                assert!(item["basis"]["placement_rule"].is_string(), "{item}");
            }
        }
        assert_eq!(codes_of(&list).len() as u64, n);
    }
    // A commune that has posted nothing misses exactly its list, each finding with its reason.
    let list = app
        .get_json("/api/v1/provinces/52/posting-list?as_of=2026-11-30")
        .await;
    let report = report(&app, IA_GRAI, "2026-11-30").await;
    assert_eq!(report["summary"]["required_procedures"], list["procedures"]);
    assert_eq!(report["rules"]["posting_places"], json!(["commune_centre"]));
    let missing: BTreeSet<String> = report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| f["kind"] == "missing" && f["channel"] == "counter")
        .map(|f| {
            assert_eq!(f["basis"]["kind"], "posting_place", "{f}");
            f["procedure_code"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(missing, codes_of(&list));
    // The customs procedure the report used to start with is placed elsewhere, and says why.
    let customs = app.get_json("/api/v1/procedures/1.000005").await;
    assert_eq!(
        customs["applicable"]["placement"]["posting_place"],
        "elsewhere"
    );
    assert_eq!(customs["applicable"]["placement"]["rule"], "agency_customs");
}

/// A provincial list that adds a procedure of the commune police makes it required from its
/// effective date, in that province only; the day before, a posting of it is not applicable.
#[actix_web::test]
async fn a_provincial_list_adds_a_police_procedure_from_its_date_in_its_province_only() {
    let app = TestApp::spawn().await;
    for unit in [IA_GRAI, SAI_GON] {
        post_counter(&app, unit, RESIDENCE, RESIDENCE_DECISION).await;
    }
    let before_list = report(&app, IA_GRAI, "2026-03-01").await;
    let id = list_decision(
        &app,
        "15/QĐ-UBND",
        json!([{"action": "listed", "procedure_code": RESIDENCE, "effective_on": "2026-03-02"}]),
    )
    .await;

    let day_before = report(&app, IA_GRAI, "2026-03-01").await;
    assert_eq!(
        day_before["summary"]["required_procedures"],
        before_list["summary"]["required_procedures"]
    );
    let counter = findings_for(&day_before, RESIDENCE, "counter");
    assert_eq!(counter.len(), 1);
    assert_eq!(counter[0]["kind"], "not_applicable");
    assert!(findings_for(&day_before, RESIDENCE, "portal").is_empty());

    let on_the_day = report(&app, IA_GRAI, "2026-03-02").await;
    assert_eq!(
        on_the_day["summary"]["required_procedures"].as_u64(),
        before_list["summary"]["required_procedures"]
            .as_u64()
            .map(|n| n + 1)
    );
    assert!(
        findings_for(&on_the_day, RESIDENCE, "counter").is_empty(),
        "the counter posting is now the required one, and it is current"
    );
    let portal = findings_for(&on_the_day, RESIDENCE, "portal");
    assert_eq!(portal.len(), 1);
    assert_eq!(portal[0]["kind"], "missing");
    assert_eq!(portal[0]["basis"]["kind"], "provincial_list");
    assert_eq!(portal[0]["basis"]["posting_place"], "commune_police");
    assert_eq!(
        portal[0]["basis"]["listed_by"]["decision_number"],
        "15/QĐ-UBND"
    );
    assert_eq!(portal[0]["basis"]["required_since"], "2026-03-02");
    // The deadline runs from the listing, not from the version of 2025.
    assert_eq!(portal[0]["due_on"], "2026-03-09");

    // Another province is not concerned.
    let other = report(&app, SAI_GON, "2026-03-02").await;
    assert_eq!(
        findings_for(&other, RESIDENCE, "counter")[0]["kind"],
        "not_applicable"
    );
    // The posting list and the decision say so too.
    let list = app
        .get_json("/api/v1/provinces/52/posting-list?as_of=2026-03-02")
        .await;
    assert!(codes_of(&list).contains(RESIDENCE));
    let elsewhere = app
        .get_json("/api/v1/provinces/79/posting-list?as_of=2026-03-02")
        .await;
    assert!(!codes_of(&elsewhere).contains(RESIDENCE));
    let decision = app.get_json(&format!("/api/v1/decisions/{id}")).await;
    assert_eq!(decision["items"][0]["action"], "listed");
    assert_eq!(decision["items"][0]["procedure_name"], "Đăng ký thường trú");
    let impact = app
        .get_as(
            &format!("/api/v1/decisions/{id}/impact?as_of=2026-03-02"),
            &app.token(Role::Auditor, Some(GIA_LAI)),
        )
        .await;
    assert!(
        impact["rows"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|r| r["province_code"] == GIA_LAI && r["procedure_code"] == RESIDENCE)
    );
    assert!(
        impact["communes_affected"]
            .as_u64()
            .is_some_and(|n| n > 100)
    );
    let feed = app
        .get_json("/api/v1/catalogue/changes?since=2026-03-01&province=52&level=commune")
        .await;
    let item = &feed["decisions"][0]["items"][0];
    assert_eq!(item["action"], "listed");
    assert_eq!(item["posting_action"], "post");
}

/// A list that removes a procedure turns its postings not applicable from its date.
#[actix_web::test]
async fn a_provincial_list_that_removes_a_procedure_makes_its_postings_not_applicable() {
    let app = TestApp::spawn().await;
    post_counter(&app, IA_GRAI, BIRTH, "163/QĐ-BTP").await;
    list_decision(
        &app,
        "16/QĐ-UBND",
        json!([{"action": "delisted", "procedure_code": BIRTH, "effective_on": "2026-04-01"}]),
    )
    .await;
    let before = report(&app, IA_GRAI, "2026-03-31").await;
    assert!(
        findings_for(&before, BIRTH, "counter").is_empty(),
        "posted: ok"
    );
    assert_eq!(findings_for(&before, BIRTH, "portal")[0]["kind"], "missing");
    let after = report(&app, IA_GRAI, "2026-04-01").await;
    assert_eq!(
        findings_for(&after, BIRTH, "counter")[0]["kind"],
        "not_applicable"
    );
    assert!(findings_for(&after, BIRTH, "portal").is_empty());
    assert_eq!(
        after["summary"]["required_procedures"].as_u64(),
        before["summary"]["required_procedures"]
            .as_u64()
            .map(|n| n - 1)
    );
    // A second delisting of the same procedure says it already is, and writes nothing.
    let counts = app.table_counts();
    let again = app
        .post_json(
            "/api/v1/decisions",
            &json!({"number": "17/QĐ-UBND", "issuer": "UBND tỉnh Gia Lai", "scope": GIA_LAI,
                    "signed_on": "2026-04-10",
                    "items": [{"action": "delisted", "procedure_code": BIRTH, "effective_on": "2026-05-01"}]}),
            Some(&app.token(Role::Editor, None)),
        )
        .await
        .problem(422);
    assert!(
        again["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("already delisted by 16/QĐ-UBND"))
    );
    assert_eq!(app.table_counts(), counts);
}

/// A province that has the commune police's procedures posted at its centres requires them from
/// the setting's date.
#[actix_web::test]
async fn a_province_setting_that_adds_the_commune_police_changes_the_required_set_from_its_date() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    let path = format!("/api/v1/provinces/{GIA_LAI}/posting-places");
    let initial = app.get(&path).await;
    assert_eq!(initial.json(), json!({"periods": []}));
    let etag = initial.header("etag").unwrap_or_default();
    let before = report(&app, IA_GRAI, "2026-04-01").await;
    let periods = json!({"periods": [
        {"from": "2025-07-01", "places": ["commune_centre"]},
        {"from": "2026-04-01", "places": ["commune_police", "commune_centre"]}]});
    let stale = app
        .send(
            app.client
                .put(app.url(&path))
                .bearer_auth(&admin)
                .header("if-match", "\"stale\"")
                .json(&periods),
        )
        .await;
    stale.problem(412);
    let saved = app
        .send(
            app.client
                .put(app.url(&path))
                .bearer_auth(&admin)
                .header("if-match", etag)
                .json(&periods),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    assert_eq!(
        saved.json()["periods"][1]["places"],
        json!(["commune_centre", "commune_police"])
    );

    let day_before = report(&app, IA_GRAI, "2026-03-31").await;
    let on_the_day = report(&app, IA_GRAI, "2026-04-01").await;
    let n = |r: &Value| {
        r["summary"]["required_procedures"]
            .as_u64()
            .unwrap_or_default()
    };
    assert_eq!(n(&day_before), n(&before));
    assert!(
        n(&on_the_day) > n(&day_before) + 40,
        "{} -> {}",
        n(&day_before),
        n(&on_the_day)
    );
    assert_eq!(
        on_the_day["rules"]["posting_places"],
        json!(["commune_centre", "commune_police"])
    );
    let residence = findings_for(&on_the_day, RESIDENCE, "counter");
    assert_eq!(residence[0]["kind"], "missing");
    assert_eq!(residence[0]["basis"]["posting_place"], "commune_police");
    assert_eq!(residence[0]["basis"]["required_since"], "2026-04-01");
    // Another province keeps the default.
    let other = report(&app, SAI_GON, "2026-04-01").await;
    assert!(findings_for(&other, RESIDENCE, "counter").is_empty());

    // Bad periods are all listed, and nothing is written.
    let counts = app.table_counts();
    let bad = app
        .put_json(
            &path,
            &json!({"periods": [{"from": "2026-05-01", "places": ["commune_police", "elsewhere"]},
                                {"from": "2026-05-01", "places": ["commune_centre"]}]}),
            Some(&admin),
        )
        .await
        .problem(422);
    assert_eq!(bad["errors"].as_array().map(Vec::len), Some(3), "{bad}");
    let auditor = app
        .put_json(
            &path,
            &periods,
            Some(&app.token(Role::Auditor, Some(GIA_LAI))),
        )
        .await;
    auditor.problem(403);
    assert_eq!(app.table_counts(), counts);
}

/// The commune's posting list is the province's with the commune's exemptions taken out, it is
/// exactly what the commune's report requires, and it is read in scope only.
#[actix_web::test]
async fn the_posting_list_is_the_required_set_and_is_read_in_scope_only() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    let province = app
        .get_json("/api/v1/provinces/52/posting-list?as_of=2026-11-30")
        .await;
    let officer = app.token(Role::Officer, Some(IA_GRAI));
    let own = app
        .get_as(
            &format!("/api/v1/communes/{IA_GRAI}/posting-list?as_of=2026-11-30"),
            &officer,
        )
        .await;
    assert_eq!(own["commune"]["code"], IA_GRAI);
    assert_eq!(codes_of(&own), codes_of(&province));
    // An exemption takes its procedure off the commune's list, and off its report.
    let exempted = app
        .post_json(
            &format!("/api/v1/communes/{IA_GRAI}/exemptions"),
            &json!({"procedure_code": "1.000080", "reason": "Xã không thuộc khu vực biên giới",
                    "valid_from": "2026-01-01"}),
            Some(&admin),
        )
        .await;
    assert_eq!(exempted.status, 201, "{}", exempted.text());
    let own = app
        .get_as(
            &format!("/api/v1/communes/{IA_GRAI}/posting-list?as_of=2026-11-30"),
            &officer,
        )
        .await;
    let mut expected = codes_of(&province);
    assert!(expected.remove("1.000080"));
    assert_eq!(codes_of(&own), expected);
    let report = report(&app, IA_GRAI, "2026-11-30").await;
    assert_eq!(report["summary"]["required_procedures"], own["procedures"]);
    let item = own["sectors"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["items"].as_array().into_iter().flatten())
        .find(|i| i["procedure_code"] == BIRTH)
        .cloned()
        .unwrap_or_default();
    assert_eq!(item["decision"], "163/QĐ-BTP");
    assert!(
        item["channels"].as_array().is_some_and(|c| !c.is_empty()),
        "{item}"
    );
    assert!(
        item["source_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );

    // CSV for a spreadsheet, one row per procedure.
    let csv = app
        .send(
            app.client
                .get(app.url(&format!(
                    "/api/v1/communes/{IA_GRAI}/posting-list?as_of=2026-11-30&format=csv"
                )))
                .bearer_auth(&officer),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(
        csv.text().lines().count() as u64,
        own["procedures"].as_u64().unwrap_or_default() + 1
    );

    // Out of scope: 403, whoever asks; without a token: 401.
    let counts = app.table_counts();
    for token in [
        app.token(Role::Officer, Some("10441")),
        app.token(Role::Auditor, Some("01")),
        app.token(Role::Editor, None),
    ] {
        app.send(
            app.client
                .get(app.url(&format!("/api/v1/communes/{IA_GRAI}/posting-list")))
                .bearer_auth(token),
        )
        .await
        .problem(403);
    }
    app.get(&format!("/api/v1/communes/{IA_GRAI}/posting-list"))
        .await
        .problem(401);
    assert_eq!(app.table_counts(), counts);
}

/// A provincial list is validated as a whole, like any decision: one 422 lists every problem.
#[actix_web::test]
async fn an_invalid_provincial_list_lists_every_problem_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let counts = app.table_counts();
    let editor = app.token(Role::Editor, None);
    let problem = app
        .post_json(
            "/api/v1/decisions",
            &json!({"number": "18/QĐ-UBND", "issuer": "UBND tỉnh Gia Lai", "scope": GIA_LAI,
                    "signed_on": "2026-02-20", "items": [
                {"action": "listed", "procedure_code": RESIDENCE, "effective_on": "2026-02-01"},
                {"action": "listed", "procedure_code": "9.999999", "effective_on": "2026-03-01"},
                {"action": "delisted", "procedure_code": RESIDENCE, "effective_on": "2026-03-01"},
                {"action": "amended", "procedure_code": BIRTH, "effective_on": "2026-03-01",
                 "procedure": {"legal_basis": "x"}}]}),
            Some(&editor),
        )
        .await
        .problem(422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(fields.contains(&"items[0].effective_on"), "{problem}");
    assert!(fields.contains(&"items[1].procedure_code"), "{problem}");
    assert!(fields.contains(&"items[2].procedure_code"), "{problem}");
    assert!(fields.contains(&"items[3].action"), "{problem}");
    // A national list is refused: a list is a province's decision.
    let national = app
        .post_json(
            "/api/v1/decisions",
            &json!({"number": "19/QĐ-BTP", "issuer": "Bộ Tư pháp", "scope": "national",
                    "signed_on": "2026-02-20", "items": [
                {"action": "listed", "procedure_code": RESIDENCE, "effective_on": "2026-03-01"}]}),
            Some(&editor),
        )
        .await
        .problem(422);
    assert_eq!(national["errors"][0]["field"], "scope");
    assert_eq!(app.table_counts(), counts);
}

/// The sector table: an admin moves a sector's procedures of no known agency, and every version
/// of it is placed again.
#[actix_web::test]
async fn an_admin_corrects_the_sector_table_and_the_obligation_follows() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    let read = app.get("/api/v1/sectors/ho-tich/posting-place").await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json()["place"], "commune_centre");
    let etag = read.header("etag").unwrap_or_default();
    let before = report(&app, IA_GRAI, "2026-11-30").await;
    let changed = app
        .send(
            app.client
                .put(app.url("/api/v1/sectors/ho-tich/posting-place"))
                .bearer_auth(&admin)
                .header("if-match", etag.clone())
                .json(&json!({"place": "elsewhere", "reason": "Kiểm thử: chuyển lĩnh vực"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text());
    let body = changed.json();
    assert_eq!(body["place"], "elsewhere");
    // 1.001193 names no agency: the table placed it; those that name the commune committee stay.
    assert!(
        body["versions_placed"].as_u64().is_some_and(|n| n >= 1),
        "{body}"
    );
    let birth = app.get_json("/api/v1/procedures/1.001193").await;
    assert_eq!(
        birth["applicable"]["placement"]["posting_place"],
        "elsewhere"
    );
    assert_eq!(birth["applicable"]["placement"]["rule"], "sector_table");
    let after = report(&app, IA_GRAI, "2026-11-30").await;
    assert!(
        after["summary"]["required_procedures"].as_u64()
            < before["summary"]["required_procedures"].as_u64()
    );
    let marriage = app.get_json("/api/v1/procedures/1.000894").await;
    assert_eq!(
        marriage["applicable"]["placement"]["posting_place"],
        "commune_centre"
    );
    // The ETag read before is stale now.
    app.send(
        app.client
            .put(app.url("/api/v1/sectors/ho-tich/posting-place"))
            .bearer_auth(&admin)
            .header("if-match", etag)
            .json(&json!({"place": "commune_centre", "reason": "x"})),
    )
    .await
    .problem(412);
    let audit = app
        .get_as("/api/v1/audit?entity=sector_place", &admin)
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1));
}
