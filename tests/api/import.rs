use std::io::Write;

use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The bundled record of one procedure, as a JSON value.
pub(crate) fn record(code: &str) -> Value {
    let data = niemyet::seed::catalogue_bytes().expect("the bundled catalogue unpacks");
    String::from_utf8_lossy(&data)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_default())
        .find(|r| r["code"] == code)
        .expect("{code} not bundled")
}

/// A file of five lines: one changed record, one unchanged, one new, and bad lines.
pub(crate) fn sample_file() -> Vec<u8> {
    let mut changed = record("1.001193");
    changed["channels"][0]["fee_and_notes"] = json!("5,000 Việt Nam Đồng");
    let unchanged = record("1.004222");
    let mut new = record("1.000656");
    new["code"] = json!("1.999003");
    new["name"] = json!("Thủ tục mới nhập từ tệp");
    new["sector"] = json!("Lĩnh vực thử nghiệm");
    let lines = [
        changed.to_string(),
        unchanged.to_string(),
        String::new(),
        new.to_string(),
        "{not json".to_owned(),
        json!({"code": "1.999004", "sector": "Hộ tịch", "levels": ["commune"]}).to_string(),
        unchanged.to_string(),
    ];
    lines.join("\n").into_bytes()
}

async fn import(
    app: &TestApp,
    query: &str,
    body: Vec<u8>,
    content_type: &str,
) -> crate::helpers::Reply {
    let token = app.token(Role::Editor, None);
    app.post_bytes(
        &format!("/api/v1/catalogue/import{query}"),
        body,
        content_type,
        Some(&token),
    )
    .await
}

#[actix_web::test]
async fn a_dry_run_reports_what_would_change_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    let reply = import(
        &app,
        "?dry_run=true&effective_on=2026-02-01",
        sample_file(),
        "application/x-ndjson",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let summary = reply.json();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["lines"], 6);
    assert_eq!(summary["created"], 1);
    assert_eq!(summary["amended"], 1);
    assert_eq!(summary["unchanged"], 1);
    assert_eq!(summary["skipped"], 3);
    assert_eq!(summary["sectors_created"], 1);
    assert!(summary["decision_id"].is_null());
    let lines: Vec<i64> = summary["problems"]
        .as_array()
        .map(|p| p.iter().filter_map(|x| x["line"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(lines, vec![5, 6, 7]);
    assert_eq!(app.table_counts(), before);
}

#[actix_web::test]
async fn an_import_amends_changed_records_and_a_second_run_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    let reply = import(
        &app,
        "?effective_on=2026-02-01&source=dvcqg-2026-01.jsonl",
        sample_file(),
        "application/x-ndjson",
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let summary = reply.json();
    let decision_id = summary["decision_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        reply.header("location"),
        Some(format!("/api/v1/decisions/{decision_id}"))
    );
    let after = app.table_counts();
    assert_eq!(
        after["procedure_versions"],
        before["procedure_versions"] + 2
    );
    assert_eq!(after["procedures"], before["procedures"] + 1);
    assert_eq!(after["sectors"], before["sectors"] + 1);
    assert_eq!(after["audit_log"], before["audit_log"] + 1);

    let old = app
        .get_json("/api/v1/procedures/1.001193?as_of=2026-01-31")
        .await;
    let new = app
        .get_json("/api/v1/procedures/1.001193?as_of=2026-02-01")
        .await;
    let online = new["applicable"]["channels"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["method"] == "online"))
        .cloned();
    assert_eq!(online.unwrap_or_default()["fee_vnd"], 5000);
    assert_ne!(
        old["applicable"]["content_hash"],
        new["applicable"]["content_hash"]
    );
    assert_eq!(new["applicable"]["decision"]["id"], decision_id.as_str());
    assert_eq!(
        new["versions"].as_array().map(Vec::len),
        Some(2),
        "amended, not overwritten"
    );
    let decision = app
        .get_json(&format!("/api/v1/decisions/{decision_id}"))
        .await;
    assert_eq!(decision["kind"], "import");
    assert_eq!(decision["source"], "dvcqg-2026-01.jsonl");
    assert_eq!(decision["item_count"], 2);

    let again = import(
        &app,
        "?effective_on=2026-02-01",
        sample_file(),
        "application/x-ndjson",
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.text());
    let summary = again.json();
    assert_eq!(
        (
            summary["created"].as_i64(),
            summary["amended"].as_i64(),
            summary["unchanged"].as_i64()
        ),
        (Some(0), Some(0), Some(3))
    );
    assert_eq!(
        app.table_counts(),
        after,
        "the second import writes nothing"
    );
}

#[actix_web::test]
async fn a_gzip_body_is_accepted_and_a_gzip_bomb_is_refused() {
    let app = TestApp::spawn().await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(&sample_file())
        .expect("the data is compressed");
    let gz = encoder.finish().expect("the gzip stream ends");
    let reply = import(
        &app,
        "?dry_run=true&effective_on=2026-02-01",
        gz,
        "application/gzip",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["amended"], 1);

    let before = app.table_counts();
    let mut bomb = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1024 * 1024];
    for _ in 0..300 {
        bomb.write_all(&zeros).expect("the data is compressed");
    }
    let bomb = bomb.finish().expect("the gzip stream ends");
    assert!(bomb.len() < 2 * 1024 * 1024);
    import(&app, "", bomb, "application/gzip")
        .await
        .problem(413);
    import(
        &app,
        "",
        b"\x1f\x8b\x08\x00broken".to_vec(),
        "application/gzip",
    )
    .await
    .problem(400);
    assert_eq!(app.table_counts(), before);
    assert_eq!(app.get("/ready").await.status, 200);
}

#[actix_web::test]
async fn a_change_on_the_date_of_the_current_version_is_a_line_problem() {
    let app = TestApp::spawn().await;
    let mut changed = record("1.001193");
    changed["name"] = json!("Thủ tục đăng ký khai sinh (bản khác)");
    let body = format!("{changed}\n{}", record("1.004222"));
    let reply = import(
        &app,
        "?effective_on=2025-07-01&dry_run=true",
        body.into_bytes(),
        "application/x-ndjson",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let summary = reply.json();
    assert_eq!(summary["amended"], 0);
    assert_eq!(summary["unchanged"], 1);
    assert_eq!(summary["problems"][0]["line"], 1);
    assert_eq!(summary["problems"][0]["code"], "1.001193");
}

#[actix_web::test]
async fn unreadable_or_refused_imports_write_nothing() {
    let app = TestApp::spawn().await;
    let before = app.table_counts();
    import(&app, "", Vec::new(), "application/x-ndjson")
        .await
        .problem(422);
    let problem = import(&app, "", b"{bad\n[1,2]\n".to_vec(), "application/x-ndjson")
        .await
        .problem(422);
    assert_eq!(problem["errors"][0]["field"], "line 1");
    assert_eq!(problem["errors"][1]["field"], "line 2");
    import(&app, "", sample_file(), "text/html")
        .await
        .problem(415);
    import(
        &app,
        "?effective_on=2026-13-01",
        sample_file(),
        "application/x-ndjson",
    )
    .await
    .problem(400);
    let officer = app.token(Role::Officer, Some("23764"));
    app.post_bytes(
        "/api/v1/catalogue/import",
        sample_file(),
        "application/x-ndjson",
        Some(&officer),
    )
    .await
    .problem(403);
    app.post_bytes(
        "/api/v1/catalogue/import",
        sample_file(),
        "application/x-ndjson",
        None,
    )
    .await
    .problem(401);
    assert_eq!(app.table_counts(), before);
}

/// Content encodings other than gzip are refused with 415 before the body is read (they were
/// read as plain text and refused line by line).
#[actix_web::test]
async fn an_encoding_other_than_gzip_is_unsupported() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Editor, None);
    for encoding in ["br", "zstd", "deflate", "compress"] {
        let reply = app
            .send(
                app.client
                    .post(app.url("/api/v1/catalogue/import?dry_run=true"))
                    .bearer_auth(&token)
                    .header("content-type", "application/x-ndjson")
                    .header("content-encoding", encoding)
                    .body(sample_file()),
            )
            .await;
        let problem = reply.problem(415);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains(encoding)),
            "{encoding}: {problem}"
        );
    }
    // `identity` is no encoding at all.
    let reply = app
        .send(
            app.client
                .post(app.url("/api/v1/catalogue/import?dry_run=true"))
                .bearer_auth(&token)
                .header("content-type", "application/x-ndjson")
                .header("content-encoding", "identity")
                .body(sample_file()),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Imports beyond `NIEMYET_MAX_IMPORTS` are told to come back (503 with `Retry-After`) instead of
/// each holding its body and its expansion in memory; the service answers everything else
/// meanwhile, and the held import finishes normally.
#[actix_web::test]
async fn imports_beyond_the_cap_are_told_to_come_back() {
    use std::io::Read;
    let app = TestApp::spawn_with(&[("NIEMYET_MAX_IMPORTS", "1")]).await;
    let token = app.token(Role::Editor, None);
    let body = sample_file();
    // An import whose upload stalls halfway holds the one slot.
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut held = std::net::TcpStream::connect(&address).expect("a connection");
    let head = format!(
        "POST /api/v1/catalogue/import?dry_run=true HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/x-ndjson\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    held.write_all(head.as_bytes()).expect("the head is sent");
    held.write_all(&body[..body.len() / 2])
        .expect("half the body is sent");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;

    let reply = import(&app, "?dry_run=true", sample_file(), "application/x-ndjson").await;
    let problem = reply.problem(503);
    assert_eq!(reply.header("retry-after").as_deref(), Some("5"));
    assert_eq!(problem["type"], "/problems/busy", "{problem}");
    assert_eq!(app.get("/health").await.status, 200);
    assert_eq!(app.get("/api/v1/procedures/1.001193").await.status, 200);

    held.write_all(&body[body.len() / 2..])
        .expect("the rest is sent");
    let mut answer = String::new();
    held.read_to_string(&mut answer)
        .expect("the answer is read");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The slot is free again.
    let reply = import(&app, "?dry_run=true", sample_file(), "application/x-ndjson").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
