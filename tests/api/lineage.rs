//! Retired units and their lineage across the 2025 reform, over HTTP, on the bundled
//! conversion table.

use serde_json::Value;

use crate::helpers::TestApp;

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().cloned().unwrap_or_default()
}

/// The lineage items as (code, relation) pairs.
fn links(body: &Value) -> Vec<(String, String)> {
    items(body)
        .iter()
        .map(|i| {
            (
                i["unit"]["code"].as_str().unwrap_or_default().to_owned(),
                i["relation"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn the_bundled_table_loads_every_retired_unit_and_edge() {
    let app = TestApp::spawn().await;
    let counts = app.table_counts();
    assert_eq!(counts.get("retired_units"), Some(&(63 + 696 + 10_033)));
    assert_eq!(counts.get("unit_lineage"), Some(&10_571));
    let provinces = app
        .get_json("/api/v1/units?as_of=2025-06-30&level=province&limit=100")
        .await;
    assert_eq!(items(&provinces).len(), 63);
    // Hà Tây was merged into Hà Nội long before: the 63 are those of 2008–2025.
    assert!(
        items(&provinces)
            .iter()
            .any(|u| u["code"] == "44" && u["name"] == "Tỉnh Quảng Bình")
    );
    let districts = app
        .get_json("/api/v1/units?as_of=2025-06-30&level=district&parent=01&limit=500")
        .await;
    assert_eq!(items(&districts).len(), 30, "Hà Nội had 30 districts");
}

#[actix_web::test]
async fn dai_hung_of_my_duc_is_found_without_diacritics_and_went_whole_to_xa_my_duc() {
    let app = TestApp::spawn().await;
    let found = app
        .get_json("/api/v1/units?as_of=2025-06-30&q=dai%20hung&parent=282")
        .await;
    let found = items(&found);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["code"], "10480");
    assert_eq!(found[0]["name"], "Xã Đại Hưng");
    assert_eq!(found[0]["level"], "commune");
    assert_eq!(found[0]["valid_to"], "2025-06-30");
    assert_eq!(found[0]["district"]["code"], "282");
    assert_eq!(found[0]["district"]["name"], "Huyện Mỹ Đức");
    assert_eq!(found[0]["province"]["code"], "01");
    // Without a district, the name is found across the country with its district and province.
    let everywhere = app
        .get_json("/api/v1/units?as_of=2025-06-30&q=dai%20hung&limit=500")
        .await;
    assert!(items(&everywhere).len() > 1);
    assert!(
        items(&everywhere)
            .iter()
            .all(|u| u["district"]["name"].is_string())
    );
    // Today no commune has that name.
    let today = app.get_json("/api/v1/units?q=dai%20hung").await;
    assert!(items(&today).iter().all(|u| u["code"] != "10480"));

    let successors = app
        .get_json("/api/v1/units/10480/lineage?as_of=2025-06-30")
        .await;
    assert_eq!(successors["direction"], "successors");
    assert_eq!(successors["unit"]["name"], "Xã Đại Hưng");
    assert_eq!(
        links(&successors),
        [("10441".to_owned(), "whole".to_owned())]
    );
    let edge = &items(&successors)[0];
    assert_eq!(edge["unit"]["name"], "Xã Mỹ Đức");
    assert_eq!(edge["note"], "Nhập toàn bộ");
    assert!(
        edge["basis"]
            .as_str()
            .unwrap_or_default()
            .contains("1656/NQ-UBTVQH15"),
        "{edge}"
    );
    assert_eq!(edge["source_sha256"].as_str().map(str::len), Some(64));

    let predecessors = app.get_json("/api/v1/units/10441/lineage").await;
    assert_eq!(predecessors["direction"], "predecessors");
    let from = links(&predecessors);
    assert!(
        from.contains(&("10480".to_owned(), "whole".to_owned())),
        "{from:?}"
    );
    let dai_hung = items(&predecessors)
        .into_iter()
        .find(|i| i["unit"]["code"] == "10480")
        .unwrap_or_default();
    assert_eq!(dai_hung["unit"]["district"]["name"], "Huyện Mỹ Đức");
}

#[actix_web::test]
async fn ia_to_went_to_ia_krai_and_hop_tien_to_hong_son_both_ways() {
    let app = TestApp::spawn().await;
    for (old, new, name) in [
        ("23779", "23776", "Xã Ia Krái"),
        ("10498", "10465", "Xã Hồng Sơn"),
    ] {
        let successors = app
            .get_json(&format!("/api/v1/units/{old}/lineage?as_of=2025-06-30"))
            .await;
        let to = links(&successors);
        assert!(to.iter().any(|(c, _)| c == new), "{old}: {to:?}");
        assert!(
            items(&successors).iter().any(|i| i["unit"]["name"] == name),
            "{successors}"
        );
        let predecessors = app
            .get_json(&format!("/api/v1/units/{new}/lineage?as_of=2025-07-01"))
            .await;
        let from = links(&predecessors);
        assert!(from.iter().any(|(c, _)| c == old), "{new}: {from:?}");
    }
    let ia_to = app.get_json("/api/v1/units/23779?as_of=2025-06-30").await;
    assert_eq!(ia_to["name"], "Xã Ia Tô");
    assert_eq!(ia_to["parent"]["level"], "district");
    let hop_tien = app.get_json("/api/v1/units/10498?as_of=2025-06-30").await;
    assert_eq!(hop_tien["district"]["name"], "Huyện Mỹ Đức");
}

#[actix_web::test]
async fn a_reused_code_names_one_unit_on_2025_06_30_and_another_on_2025_07_01() {
    let app = TestApp::spawn().await;
    // 00004: Phường Trúc Bạch until 2025-06-30, Phường Ba Đình since.
    let old = app.get_json("/api/v1/units/00004?as_of=2025-06-30").await;
    let new = app.get_json("/api/v1/units/00004?as_of=2025-07-01").await;
    assert_eq!(old["name"], "Phường Trúc Bạch");
    assert_eq!(old["valid_to"], "2025-06-30");
    assert_eq!(new["name"], "Phường Ba Đình");
    assert!(new["valid_to"].is_null());
    assert_eq!(old["same_code"]["name"], "Phường Ba Đình");
    assert_eq!(
        old["same_code"]["href"],
        "/api/v1/units/00004?as_of=2025-07-01"
    );
    assert_eq!(new["same_code"]["name"], "Phường Trúc Bạch");
    assert_eq!(
        new["same_code"]["href"],
        "/api/v1/units/00004?as_of=2025-06-30"
    );
    // Without a date: today's unit, as before.
    let today = app.get_json("/api/v1/units/00004").await;
    assert_eq!(today["name"], "Phường Ba Đình");
    // A retired code that nobody reuses answers only for its time.
    let gone = app.get("/api/v1/units/10480").await.problem(404);
    assert!(
        gone["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("as_of=2025-06-30"),
        "{gone}"
    );
    // A district exists only before the reform.
    let district = app.get_json("/api/v1/units/282?as_of=2025-06-30").await;
    assert_eq!(district["name"], "Huyện Mỹ Đức");
    app.get("/api/v1/units/282").await.problem(404);
    app.get("/api/v1/units/10480?as_of=yesterday")
        .await
        .problem(400);
}

#[actix_web::test]
async fn an_old_commune_split_between_new_ones_lists_each_as_part() {
    let app = TestApp::spawn().await;
    // Phường Ngọc Hà (00016, quận Ba Đình) went in part to several wards.
    let successors = app
        .get_json("/api/v1/units/00016/lineage?as_of=2025-06-30")
        .await;
    let to = links(&successors);
    assert!(to.len() >= 2, "{to:?}");
    assert!(to.iter().all(|(_, r)| r == "part"), "{to:?}");
    assert!(to.iter().any(|(c, _)| c == "00004"), "{to:?}");
}

#[actix_web::test]
async fn a_special_zone_made_from_a_whole_district_is_linked_from_it() {
    let app = TestApp::spawn().await;
    let successors = app
        .get_json("/api/v1/units/755/lineage?as_of=2025-06-30")
        .await;
    assert_eq!(successors["unit"]["name"], "Huyện Côn Đảo");
    assert_eq!(
        links(&successors),
        [("26732".to_owned(), "whole".to_owned())]
    );
    let predecessors = app.get_json("/api/v1/units/26732/lineage").await;
    assert!(links(&predecessors).contains(&("755".to_owned(), "whole".to_owned())));
}

/// Runs `niemyet import-lineage <file>` on the app's database, off the test's event loop.
async fn import_lineage(app: &TestApp, file: std::path::PathBuf) -> (bool, String, String) {
    let url = app.database_url().to_owned();
    actix_web::rt::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_niemyet"))
            .arg("import-lineage")
            .arg(&file)
            .env("DATABASE_URL", url)
            .env("NIEMYET_DEMO", "false")
            .env("NIEMYET_JWT_SECRET", crate::helpers::TEST_SECRET)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the command runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("the blocking task completes")
}

#[actix_web::test]
async fn import_lineage_is_idempotent_and_refuses_a_bad_table_by_line_without_writing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    let bundled =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/unit-lineage-2025-nso.csv.gz");
    let (ok, stdout, stderr) = import_lineage(&app, bundled).await;
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("already loaded, nothing written"),
        "{stderr}"
    );
    assert!(stderr.contains("10033 communes, 10571 edges"), "{stderr}");
    // Each problem worked around is listed with its line.
    assert!(
        stdout.contains("line 6212: old_province_code (resolved)"),
        "{stdout}"
    );
    assert_eq!(app.table_counts(), before);

    // Line 3: a note that says nothing known; line 4: a new code no current commune has, under a
    // name no commune of the province has.
    let bad = "banner,,,,,,,,\nh1,h2,h3,h4,h5,h6,h7,h8,\n\
Thành phố Hà Nội (01),Xã Mỹ Đức,10441,Xã Đại Hưng,10480,Chưa rõ,Huyện Mỹ Đức (282),Thành phố Hà Nội (01),\n\
Thành phố Hà Nội (01),Xã Không Có,99998,Xã Hợp Tiến,10498,Nhập toàn bộ,Huyện Mỹ Đức (282),Thành phố Hà Nội (01),\n\
Thành phố Hà Nội (01),Xã Hồng Sơn,10465,Xã Hợp Thanh,10495,Nhập toàn bộ,Huyện Mỹ Đức (282),Thành phố Hà Nội (01),\n";
    let dir = std::env::temp_dir().join(format!("niemyet-lineage-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("the directory is created");
    let file = dir.join("bad.csv");
    std::fs::write(&file, bad).expect("the file is written");
    let (ok, stdout, stderr) = import_lineage(&app, file).await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "{stdout}");
    assert!(stdout.contains("line 3: note (ERROR)"), "{stdout}");
    assert!(
        stdout.contains(
            "line 4: new_commune_unresolved (ERROR): new code 99998 is not a current commune"
        ),
        "{stdout}"
    );
    assert!(stderr.contains("2 row(s) cannot be loaded"), "{stderr}");
    assert_eq!(app.table_counts(), before, "nothing written");
    // The lineage still answers as loaded at start.
    let predecessors = app.get_json("/api/v1/units/10441/lineage").await;
    assert!(links(&predecessors).len() > 1);
}

#[actix_web::test]
async fn every_province_cites_its_resolution_and_a_stale_basis_is_rewritten_at_the_next_start() {
    use diesel::prelude::*;
    use niemyet::db::schema::unit_lineage;
    let app = TestApp::spawn().await;
    let mut conn = app.pool.get().expect("a pooled connection");
    let conn = &mut *conn;
    let bases: Vec<String> = unit_lineage::table
        .select(unit_lineage::basis)
        .distinct()
        .load(conn)
        .expect("the bases");
    assert_eq!(bases.len(), 34, "one resolution per province of today");
    assert!(
        bases
            .iter()
            .all(|b| b.contains("/NQ-UBTVQH15 ngày 16/6/2025")),
        "{bases:?}"
    );
    let basis_of_ia_to = |conn: &mut _| -> String {
        unit_lineage::table
            .filter(unit_lineage::old_code.eq("23779"))
            .select(unit_lineage::basis)
            .first(conn)
            .expect("Ia Tô's edge")
    };
    let ia_to = basis_of_ia_to(conn);
    assert!(
        ia_to.contains("1664/NQ-UBTVQH15") && ia_to.contains("Gia Lai"),
        "{ia_to}"
    );
    // A database that loaded the bundled table before a number was known: the next start
    // rewrites its bases, and the start after that finds nothing to do.
    diesel::update(unit_lineage::table.filter(unit_lineage::new_code.eq("23776")))
        .set(unit_lineage::basis.eq("Nghị quyết của Ủy ban Thường vụ Quốc hội (chưa rõ số)"))
        .execute(conn)
        .expect("a stale basis");
    let report = niemyet::seed::seed_if_empty(conn).expect("a start");
    assert!(report.lineage.is_some(), "the bases were rewritten");
    assert_eq!(basis_of_ia_to(conn), ia_to);
    let again = niemyet::seed::seed_if_empty(conn).expect("another start");
    assert!(again.lineage.is_none(), "nothing to do");
}
