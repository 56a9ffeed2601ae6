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
    code: Option<i32>,
    stdout: String,
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
            .env("NIEMYET_JWT_SECRET", crate::helpers::TEST_SECRET)
            .env("RUST_LOG", "warn")
            // A user's mistake is a message, never a backtrace, whatever this says.
            .env("RUST_BACKTRACE", "1")
            .output()
            .expect("the command runs");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !stderr.contains("stack backtrace") && !stderr.contains("panicked"),
            "{stderr}"
        );
        Run {
            ok: out.status.success(),
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
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
            "23764,1.004222,counter,163/QĐ-BTP,1899-12-31,,",
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
        "line 5: `2025-02-30` is not a date in the form YYYY-MM-DD between 1900-01-01 and today",
        "line 6: `2999-01-01` is in the future",
        "line 7: `../etc/passwd` is not a procedure code",
        "line 8: 23764 1.001193 counter appears twice in the file",
        "line 9: 5 fields; the header has 7",
        "line 10: text after a closing quote",
        "line 11: the decision number must be 1 to 100 characters",
        "line 12: note is too long or has control characters",
        // Two spellings of one code are one pair.
        "line 14: 23764 1.001612.000.00.00.H48 counter appears twice in the file",
        "line 15: `1899-12-31` is before 1900-01-01",
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

/// What a person preparing a file in a spreadsheet gets wrong, told line by line with the fix:
/// every problem of a line, dates written day first, a file separated by semicolons.
#[actix_web::test]
async fn the_loader_says_what_is_wrong_and_how_to_fix_it() {
    let app = TestApp::spawn().await;
    let scratch = Scratch::new();
    let file = scratch.write(
        "spreadsheet.csv",
        &[
            HEADER,
            "23764,1.001193,counter,163/QĐ-BTP,03/07/2025,,",
            "99999,1.001193,board,,2025-07-03,,",
            "23764,1.004222,counter,163/QĐ-BTP,1950-01-01,,",
        ],
    );
    let run = niemyet(&app, &["load-postings", "--dry-run", &file]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    for expected in [
        "line 2: `03/07/2025` is not in the form YYYY-MM-DD; if it means 3/7/2025 (day first), \
         write 2025-07-03",
        // Every problem of line 3, not only the first.
        "line 3: `99999` is not a commune",
        "line 3: the channel must be `counter` or `portal`",
        "line 3: the decision number must be 1 to 100 characters",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} not in:\n{}",
            run.stderr
        );
    }
    // 1950 is a date the API takes, so the loader takes it too.
    assert!(!run.stderr.contains("line 4"), "{}", run.stderr);

    let semicolons = scratch.write(
        "semicolons.csv",
        &[
            "unit_code;procedure_code;channel;decision_number;posted_on",
            "23764;1.001193;counter;163/QĐ-BTP;2025-07-03",
        ],
    );
    let run = niemyet(&app, &["load-postings", "--dry-run", &semicolons]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("separated by semicolons"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("CSV UTF-8"), "{}", run.stderr);

    let latin1 = scratch.0.join("latin1.csv");
    std::fs::write(&latin1, b"unit_code,procedure_code,channel,decision_number,posted_on\n23764,1.001193,counter,163/Q\xd0-BTP,2025-07-03\n")
        .expect("the file is written");
    let run = niemyet(
        &app,
        &["load-postings", "--dry-run", &latin1.to_string_lossy()],
    )
    .await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("is not UTF-8 text"), "{}", run.stderr);
}

/// A load adds postings and replaces none: the dry run finds the lines that clash with what is
/// already current, and a load that meets one names them, by line, commune, procedure and
/// channel. Lines that refer to what the catalogue does not know are loaded with a warning.
#[actix_web::test]
async fn clashes_are_named_by_the_dry_run_and_by_the_load_and_warnings_are_printed() {
    let app = TestApp::spawn().await;
    let scratch = Scratch::new();
    let first = scratch.write(
        "first.csv",
        &[HEADER, "23764,1.001193,counter,163/QĐ-BTP,2025-07-03,,"],
    );
    assert!(load(&app, &first).await.ok);
    let counts = app.table_counts();
    let second = scratch.write(
        "second.csv",
        &[
            HEADER,
            "23764,1.001193,portal,163/QĐ-BTP,2025-07-03,,",
            "23764,1.001193,counter,163/QĐ-BTP,2025-07-05,,",
            "23764,1.999999,counter,163/QĐ-BTP,2025-07-05,,",
            "23764,1.004222,counter,9/QĐ-XYZ,2025-07-05,,",
        ],
    );
    let clash = "line 3: commune 23764 already has a current posting of 1.001193 on the counter \
                 (decision 163/QĐ-BTP, posted 2025-07-03)";
    let dry = niemyet(&app, &["load-postings", "--dry-run", &second]).await;
    assert_eq!(dry.code, Some(1), "{}", dry.stderr);
    assert!(dry.stderr.contains(clash), "{}", dry.stderr);
    assert!(dry.stderr.contains("1 line clash"), "{}", dry.stderr);
    let run = load(&app, &second).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains(clash), "{}", run.stderr);
    assert_eq!(app.table_counts(), counts, "nothing was loaded");

    let third = scratch.write(
        "third.csv",
        &[
            HEADER,
            "23764,1.001193,portal,163/QĐ-BTP,2025-07-03,,",
            "23764,1.999999,counter,163/QĐ-BTP,2025-07-05,,",
            "23764,1.999999,portal,163/QĐ-BTP,2025-07-05,,",
            "23764,1.004222,counter,9/QĐ-XYZ,2025-07-05,,",
        ],
    );
    let run = load(&app, &third).await;
    assert!(run.ok, "{}", run.stderr);
    for expected in [
        "warning: 1.999999 is not in the catalogue (2 lines from line 3)",
        "warning: decision 9/QĐ-XYZ announced no version of 1.004222 (line 5)",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?} not in:\n{}",
            run.stderr
        );
    }
}

/// The command line as a newcomer meets it: the token command says how to name a unit and checks
/// it against the database; `openapi` can be cut short by a pipe; `--help` describes the files and
/// the settings.
#[actix_web::test]
async fn the_command_line_explains_itself() {
    let app = TestApp::spawn().await;
    let run = niemyet(&app, &["token", "--role", "officer"]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("add --unit <commune code>"),
        "{}",
        run.stderr
    );
    let run = niemyet(&app, &["token", "--role", "officer", "--unit", "99999"]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("there is no unit 99999"),
        "{}",
        run.stderr
    );
    let run = niemyet(&app, &["token", "--role", "officer", "--unit", "52"]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("not a commune"), "{}", run.stderr);
    let run = niemyet(&app, &["token", "--role", "auditor", "--unit", "52"]).await;
    assert!(run.ok, "{}", run.stderr);
    let token = run.stdout.trim().to_owned();
    let reply = app
        .send(
            app.client
                .get(app.url("/api/v1/provinces/52/report"))
                .bearer_auth(&token),
        )
        .await;
    assert!(reply.status != 401, "{}", reply.text());

    let help = niemyet(&app, &["load-postings", "--help"]).await;
    assert!(help.ok);
    for expected in [
        "<FILE>",
        "YYYY-MM-DD",
        "DATABASE_URL",
        "NIEMYET_RATE_PUBLIC",
        "Exit status",
    ] {
        assert!(
            help.stdout.contains(expected),
            "{expected:?} not in:\n{}",
            help.stdout
        );
    }

    // `niemyet openapi | head -c 100`: the reader goes away; the command ends quietly.
    let out = actix_web::rt::task::spawn_blocking(|| {
        use std::io::Read;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_niemyet"))
            .arg("openapi")
            .env("RUST_BACKTRACE", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the command starts");
        let mut first = [0u8; 100];
        child
            .stdout
            .take()
            .expect("a pipe")
            .read_exact(&mut first)
            .expect("the start of the spec");
        child.wait_with_output().expect("the command ends")
    })
    .await
    .expect("the blocking task completes");
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
