//! `niemyet load-postings`: the bulk loader, run as the real binary against the test server's
//! database, with the results read back over HTTP.

use std::path::PathBuf;

use diesel::prelude::*;
use niemyet::auth::Role;
use serde_json::Value;

use crate::helpers::{TestApp, is_postgres};

const HEADER: &str = "unit_code,procedure_code,channel,decision_number,posted_on,evidence_url,note";

/// The outcome of one run of the binary.
struct Run {
    ok: bool,
    stderr: String,
}

/// Runs `niemyet <args>` on the app's database, off the test's event loop.
async fn niemyet(app: &TestApp, args: &[&str]) -> Run {
    let url = app.database_url().to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    actix_web::rt::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_niemyet"))
            .args(&args)
            .env("DATABASE_URL", url)
            .env("NIEMYET_DEMO", "false")
            .env("RUST_LOG", "warn")
            .output()
            .expect("the command runs");
        Run {
            ok: out.status.success(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("the blocking task completes")
}

/// A scratch directory removed when the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("niemyet-bulk-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("the directory is created");
        Self(dir)
    }

    fn write(&self, name: &str, lines: &[&str]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").expect("the file is written");
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn load(app: &TestApp, file: &str) -> Run {
    niemyet(app, &["load-postings", "--no-summaries", file]).await
}

/// The commune's current postings, as the API lists them.
async fn listed(app: &TestApp, commune: &str) -> Vec<Value> {
    app.get_as(
        &format!("/api/v1/communes/{commune}/postings"),
        &app.token(Role::Admin, None),
    )
    .await["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn missing(app: &TestApp, commune: &str) -> i64 {
    app.get_as(
        &format!("/api/v1/communes/{commune}/report"),
        &app.token(Role::Admin, None),
    )
    .await["summary"]["counts"]["missing"]
        .as_i64()
        .unwrap_or(-1)
}

/// The postings table's indexes (and on PostgreSQL its validated key constraints), which a load
/// drops and rebuilds.
fn posting_indexes(app: &TestApp) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let sql = if is_postgres() {
        "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'postings' \
         UNION ALL SELECT conname::text FROM pg_constraint \
         WHERE conrelid = 'postings'::regclass AND contype IN ('p', 'f') AND convalidated \
         ORDER BY 1"
    } else {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'postings' ORDER BY 1"
    };
    let mut conn = app.pool.get().expect("a pooled connection");
    let names: Vec<Name> = diesel::sql_query(sql)
        .load(&mut *conn)
        .expect("the query runs");
    names.into_iter().map(|n| n.name).collect()
}

fn expected_indexes() -> Vec<String> {
    let names: &[&str] = if is_postgres() {
        &[
            "postings_current_idx",
            "postings_pkey",
            "postings_pkey",
            "postings_unit_code_fkey",
            "postings_unit_idx",
        ]
    } else {
        &[
            "postings_current_idx",
            "postings_unit_idx",
            "sqlite_autoindex_postings_1",
        ]
    };
    names.iter().map(|n| n.to_string()).collect()
}

#[actix_web::test]
async fn a_generated_province_loads_in_several_chunks_and_its_reports_follow() {
    let app = TestApp::spawn().await;
    let scratch = Scratch::new();
    let file = scratch.0.join("province-38.csv");
    let file = file.to_string_lossy().into_owned();
    let generated = niemyet(&app, &["generate", "--provinces", "38", "--out", &file]).await;
    assert!(generated.ok, "{}", generated.stderr);
    let text = std::fs::read_to_string(&file).expect("the file is read");
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert!(
        rows.len() > 50_000,
        "more than one chunk of rows: {}",
        rows.len()
    );
    let commune = rows[0].split(',').next().unwrap_or_default().to_owned();
    let of_commune = rows
        .iter()
        .filter(|r| r.starts_with(&format!("{commune},")))
        .count();
    let missing_before = missing(&app, &commune).await;
    let audit_before = app.table_counts()["audit_log"];

    let run = load(&app, &file).await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("loaded {} postings of 166 communes", rows.len())),
        "{}",
        run.stderr
    );
    let counts = app.table_counts();
    assert_eq!(counts["postings"], rows.len() as i64);
    assert_eq!(counts["open_postings"], rows.len() as i64);
    assert_eq!(counts["audit_log"], audit_before + 1, "one audit entry");
    assert_eq!(
        posting_indexes(&app),
        expected_indexes(),
        "the indexes dropped for the load are back"
    );

    // What the API lists is what the file said, line for line.
    let items = listed(&app, &commune).await;
    assert_eq!(items.len(), of_commune);
    let first: Vec<&str> = rows[0].split(',').collect();
    let item = items
        .iter()
        .find(|i| i["procedure_code"] == first[1] && i["channel"] == first[2])
        .unwrap_or_else(|| panic!("{} is not listed", rows[0]));
    assert_eq!(item["decision"], first[3]);
    assert_eq!(item["posted_on"], first[4]);
    assert_eq!(item["recorded_by"], "system");
    // The report, cached before the load, sees it at once.
    let missing_after = missing(&app, &commune).await;
    assert!(
        missing_after < missing_before,
        "missing {missing_before} -> {missing_after}"
    );

    // The same file again: every line clashes with a current posting; nothing is written.
    let again = load(&app, &file).await;
    assert!(!again.ok);
    assert!(
        again.stderr.contains("already has a current posting"),
        "{}",
        again.stderr
    );
    assert_eq!(app.table_counts(), counts);

    // The same again without its last line, plus a bad one: no larger than the table, so the
    // rows go in with the indexes in place and the first chunk fails on the clash; the answer
    // still lists the file's own problem.
    let mut clashing: Vec<&str> = vec![text.lines().next().unwrap_or_default()];
    clashing.extend(&rows[..rows.len() - 1]);
    clashing.push("23764,1.001193,counter,163/QĐ-BTP,2025-02-30");
    let clashing = scratch.write("clashing.csv", &clashing);
    let both = load(&app, &clashing).await;
    assert!(!both.ok);
    assert!(
        both.stderr.contains(&format!(
            "line {}: `2025-02-30` is not a date",
            rows.len() + 1
        )),
        "{}",
        both.stderr
    );
    assert_eq!(app.table_counts(), counts);

    // A bad last line, after every other chunk was written: the whole load is rolled back.
    let bad = scratch.write("bad-last.csv", &[text.trim_end(), "not-a-line"]);
    let rolled_back = load(&app, &bad).await;
    assert!(!rolled_back.ok);
    assert!(
        rolled_back.stderr.contains(&format!(
            "line {}: 1 fields; the header has 5",
            rows.len() + 2
        )),
        "{}",
        rolled_back.stderr
    );
    assert_eq!(app.table_counts(), counts);
}

#[actix_web::test]
async fn every_bad_line_is_reported_by_number_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let scratch = Scratch::new();
    let before = app.table_counts();
    let file = scratch.write(
        "bad.csv",
        &[
            HEADER,
            "23764,1.001193,counter,163/QĐ-BTP,2025-07-03,,",
            "99999,1.001193,counter,163/QĐ-BTP,2025-07-03,,",
            "23764,1.001193,board,163/QĐ-BTP,2025-07-03,,",
            "23764,1.004222,portal,163/QĐ-BTP,2025-02-30,,",
            "23764,1.004222,portal,163/QĐ-BTP,2999-01-01,,",
            "23764,../etc/passwd,portal,163/QĐ-BTP,2025-07-03,,",
            "23764,1.001193,counter,163/QĐ-BTP,2025-07-04,,",
            "23764,1.001193,portal,163/QĐ-BTP,2025-07-03",
            "23764,1.001193,portal,\"163/QĐ\"x,2025-07-03,,",
            "23764,1.001193,portal,,2025-07-03,,",
            "23764,1.001193,portal,163/QĐ-BTP,2025-07-03,,\"a\u{7}b\"",
            "23764,1.001612.000.00.00.h48,counter,163/QĐ-BTP,2025-07-03,,",
            "23764,1.001612.000.00.00.H48,counter,163/QĐ-BTP,2025-07-03,,",
            "23764,1.004222,counter,163/QĐ-BTP,1999-12-31,,",
            "23764,1.000080,portal,163/QĐ-BTP,2025-07-03,ftp://example.vn/a,",
        ],
    );
    let run = load(&app, &file).await;
    assert!(!run.ok);
    let dry = niemyet(&app, &["load-postings", "--dry-run", &file]).await;
    assert!(!dry.ok);
    assert_eq!(
        dry.stderr
            .lines()
            .filter(|l| l.starts_with("line "))
            .count(),
        13,
        "a dry run lists the same problems:\n{}",
        dry.stderr
    );
    for expected in [
        "line 3: `99999` is not a commune",
        "line 4: the channel must be `counter` or `portal`",
        "line 5: `2025-02-30` is not a date between 2000-01-01 and today",
        "line 6: `2999-01-01` is not a date between 2000-01-01 and today",
        "line 7: `../etc/passwd` is not a procedure code",
        "line 8: 23764 1.001193 counter appears twice in the file",
        "line 9: 5 fields; the header has 7",
        "line 10: text after a closing quote",
        "line 11: the decision number must be 1 to 100 characters",
        "line 12: note is too long or has control characters",
        // Two spellings of one code are one pair.
        "line 14: 23764 1.001612.000.00.00.H48 counter appears twice in the file",
        "line 15: `1999-12-31` is not a date between 2000-01-01 and today",
        "line 16: evidence_url must be an http or https URL",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} not in:\n{}",
            run.stderr
        );
    }
    assert!(!run.stderr.contains("line 2:"), "{}", run.stderr);
    assert_eq!(app.table_counts(), before);

    let header = scratch.write(
        "header.csv",
        &["unit,code", "23764,1.001193,counter,163/QĐ-BTP,2025-07-03"],
    );
    let run = load(&app, &header).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("line 1: the header must be"),
        "{}",
        run.stderr
    );
    let missing_file = niemyet(&app, &["load-postings", "/nonexistent/postings.csv"]).await;
    assert!(!missing_file.ok);
    assert!(
        missing_file.stderr.contains("cannot read"),
        "{}",
        missing_file.stderr
    );
    assert_eq!(app.table_counts(), before);
}

#[actix_web::test]
async fn a_load_larger_than_the_table_that_clashes_leaves_the_table_and_its_indexes_as_they_were() {
    let app = TestApp::spawn().await;
    let scratch = Scratch::new();
    let one = scratch.write(
        "one.csv",
        &[
            HEADER,
            "23764,1.001193,counter,163/QĐ-BTP,2025-07-03,https://example.vn/a,",
        ],
    );
    assert!(load(&app, &one).await.ok);
    let counts = app.table_counts();
    assert_eq!(counts["postings"], 1);

    // Three lines over a table of one: the loader drops the indexes, writes, and rebuilds them;
    // the rebuilt unique index finds the clash, and the whole transaction is rolled back.
    let clash = scratch.write(
        "clash.csv",
        &[
            HEADER,
            "23764,1.001193,portal,163/QĐ-BTP,2025-07-03,,",
            "23764,1.004222,counter,163/QĐ-BTP,2025-07-03,,",
            "23764,1.001193,counter,163/QĐ-BTP,2025-07-05,,",
        ],
    );
    let run = load(&app, &clash).await;
    assert!(!run.ok);
    assert!(
        run.stderr.contains("already has a current posting"),
        "{}",
        run.stderr
    );
    assert_eq!(app.table_counts(), counts);
    assert_eq!(posting_indexes(&app), expected_indexes());

    let fine = scratch.write(
        "fine.csv",
        &[
            HEADER,
            "23764,1.001193,portal,163/QĐ-BTP,2025-07-03,,Bảng tin tầng 1",
            "23764,1.004222,counter,\"1523/QĐ-BCA-C06\",2025-07-04,,",
        ],
    );
    let dry = niemyet(&app, &["load-postings", "--dry-run", &fine]).await;
    assert!(dry.ok, "{}", dry.stderr);
    assert!(dry.stderr.contains("checked 2 postings"), "{}", dry.stderr);
    assert_eq!(app.table_counts(), counts, "a dry run writes nothing");
    let run = load(&app, &fine).await;
    assert!(run.ok, "{}", run.stderr);
    let items = listed(&app, "23764").await;
    assert_eq!(items.len(), 3);
    let evidence: Vec<(&str, &str, &Value, &Value)> = items
        .iter()
        .map(|i| {
            (
                i["procedure_code"].as_str().unwrap_or_default(),
                i["channel"].as_str().unwrap_or_default(),
                &i["evidence_url"],
                &i["note"],
            )
        })
        .collect();
    assert!(evidence.contains(&(
        "1.001193",
        "counter",
        &Value::from("https://example.vn/a"),
        &Value::Null
    )));
    assert!(evidence.contains(&(
        "1.001193",
        "portal",
        &Value::Null,
        &Value::from("Bảng tin tầng 1")
    )));
    // The loaded postings are ordinary ones: the officer's next save replaces them.
    let officer = app.token(Role::Officer, Some("23764"));
    let saved = app
        .put_json(
            "/api/v1/communes/23764/postings",
            &serde_json::json!({"postings": [{"procedure_code": "1.001193", "channel": "counter",
                "decision": "163/QĐ-BTP", "posted_on": "2025-07-03",
                "evidence_url": "https://example.vn/a"}]}),
            Some(&officer),
        )
        .await;
    assert_eq!(saved.status, 200, "{}", saved.text());
    assert_eq!(saved.json()["unchanged"], 1);
    assert_eq!(saved.json()["removed"], 2);
}
