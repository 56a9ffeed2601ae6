use niemyet::auth::Role;
use serde_json::{Value, json};

use crate::helpers::TestApp;

const IA_GRAI: &str = "23764";
const BA_DINH: &str = "00004";

async fn put_posting(app: &TestApp, unit: &str, note: &str) {
    let reply = app
        .put_json(
            &format!("/api/v1/communes/{unit}/postings/1.001193/counter"),
            &json!({"decision": "163/QĐ-BTP", "posted_on": "2025-07-03", "note": note}),
            Some(&app.token(Role::Admin, None)),
        )
        .await;
    assert!(matches!(reply.status, 200 | 201), "{}", reply.text());
}

fn items(page: &Value) -> Vec<Value> {
    page["items"].as_array().cloned().unwrap_or_default()
}

#[actix_web::test]
async fn the_audit_log_pages_oldest_first_and_filters_by_entity_actor_unit_and_time() {
    let app = TestApp::spawn().await;
    let admin = app.token(Role::Admin, None);
    let since = chrono::Utc::now();
    for n in 0..3 {
        put_posting(&app, IA_GRAI, &format!("n{n}")).await;
    }
    put_posting(&app, BA_DINH, "x").await;
    let reply = app
        .put_json(
            "/api/v1/provinces/52/settings",
            &json!({"deadline_working_days": 7, "required_channels": ["counter", "portal"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());

    let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let recent = items(
        &app.get_as(&format!("/api/v1/audit?since={since}"), &admin)
            .await,
    );
    let shape: Vec<(String, String)> = recent
        .iter()
        .map(|e| {
            (
                e["entity"].as_str().unwrap_or_default().to_owned(),
                e["unit"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("postings", IA_GRAI),
            ("postings", IA_GRAI),
            ("postings", IA_GRAI),
            ("postings", BA_DINH),
            ("province_settings", "52"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .to_vec(),
        "oldest first"
    );
    assert!(recent.iter().all(|e| e["actor"]["sub"] == "test-admin"));
    assert_eq!(recent[1]["hash_before"], recent[0]["hash_after"]);

    // Pages of two follow each other without gaps or repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/api/v1/audit?since={since}&limit=2"),
            Some(c) => format!("/api/v1/audit?since={since}&limit=2&cursor={c}"),
        };
        let page = app.get_as(&path, &admin).await;
        seen.extend(items(&page).into_iter().map(|e| e["id"].clone()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        recent.iter().map(|e| e["id"].clone()).collect::<Vec<_>>()
    );

    // Filters.
    let province = items(&app.get_as("/api/v1/audit?unit=52", &admin).await);
    assert_eq!(province.len(), 4, "Ia Grai's three and the province's own");
    let commune = items(
        &app.get_as(&format!("/api/v1/audit?unit={BA_DINH}"), &admin)
            .await,
    );
    assert_eq!(commune.len(), 1);
    assert_eq!(
        items(
            &app.get_as("/api/v1/audit?entity=province_settings", &admin)
                .await
        )
        .len(),
        1
    );
    assert!(items(&app.get_as("/api/v1/audit?actor=nobody", &admin).await).is_empty());
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2)).date_naive();
    assert!(
        items(
            &app.get_as(&format!("/api/v1/audit?since={tomorrow}"), &admin)
                .await
        )
        .is_empty()
    );
}

#[actix_web::test]
async fn auditors_read_the_audit_log_of_their_scope_and_nobody_else_reads_it() {
    let app = TestApp::spawn().await;
    put_posting(&app, IA_GRAI, "a").await;
    put_posting(&app, BA_DINH, "b").await;

    let gia_lai = app.token(Role::Auditor, Some("52"));
    let own = items(&app.get_as("/api/v1/audit", &gia_lai).await);
    assert!(!own.is_empty());
    assert!(own.iter().all(|e| e["province"] == "52"), "{own:?}");
    let national = items(
        &app.get_as(
            "/api/v1/audit?entity=postings",
            &app.token(Role::Auditor, None),
        )
        .await,
    );
    assert_eq!(national.len(), 2);

    for (token, path, status) in [
        (gia_lai.clone(), "/api/v1/audit?unit=01".to_owned(), 403),
        (
            gia_lai.clone(),
            format!("/api/v1/audit?unit={BA_DINH}"),
            403,
        ),
        (
            app.token(Role::Officer, Some(IA_GRAI)),
            "/api/v1/audit".to_owned(),
            403,
        ),
        (
            app.token(Role::Editor, None),
            "/api/v1/audit".to_owned(),
            403,
        ),
        (
            app.token(Role::Admin, None),
            "/api/v1/audit?entity=nothing".to_owned(),
            422,
        ),
        (
            app.token(Role::Admin, None),
            "/api/v1/audit?since=yesterday".to_owned(),
            422,
        ),
        (
            app.token(Role::Admin, None),
            "/api/v1/audit?unit=99999".to_owned(),
            422,
        ),
        (
            app.token(Role::Admin, None),
            "/api/v1/audit?cursor=%21%21".to_owned(),
            400,
        ),
        (
            app.token(Role::Admin, None),
            "/api/v1/audit?unit=99".to_owned(),
            422,
        ),
        (
            app.token(Role::Admin, None),
            "/api/v1/audit?actor=a%00b".to_owned(),
            400,
        ),
    ] {
        let reply = app
            .send(app.client.get(app.url(&path)).bearer_auth(&token))
            .await;
        reply.problem(status);
    }
    app.get("/api/v1/audit").await.problem(401);
    // Forged cursors: a year PostgreSQL cannot hold, a NUL in the id.
    use base64::Engine;
    for raw in ["-5000-01-01T00:00:00|x", "2026-01-01T00:00:00|a\u{0}b"] {
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let reply = app
            .send(
                app.client
                    .get(app.url(&format!("/api/v1/audit?cursor={cursor}")))
                    .bearer_auth(app.token(Role::Admin, None)),
            )
            .await;
        reply.problem(400);
    }
}

#[actix_web::test]
async fn no_endpoint_changes_an_entry_and_the_database_refuses_to() {
    let app = TestApp::spawn().await;
    put_posting(&app, IA_GRAI, "a").await;
    let admin = app.token(Role::Admin, None);
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::POST,
    ] {
        let reply = app
            .send(
                app.client
                    .request(method.clone(), app.url("/api/v1/audit"))
                    .bearer_auth(&admin)
                    .json(&json!({})),
            )
            .await;
        assert!(
            matches!(reply.status, 404 | 405),
            "{method}: {}",
            reply.status
        );
    }
    let inspection = app
        .post_json(
            "/api/v1/inspections",
            &json!({"unit": IA_GRAI, "inspected_on": "2026-06-01", "team": ["An"]}),
            Some(&admin),
        )
        .await;
    assert_eq!(inspection.status, 201, "{}", inspection.text());
    // Even with direct access, the rows cannot be rewritten.
    use diesel::RunQueryDsl;
    let mut conn = app.pool.get().expect("a pooled connection");
    let truncate: &[&str] = if crate::helpers::is_postgres() {
        &["TRUNCATE audit_log", "TRUNCATE inspections"]
    } else {
        &[]
    };
    for sql in [
        "UPDATE audit_log SET actor_sub = 'someone-else'",
        "DELETE FROM audit_log",
        "UPDATE inspections SET notes = 'changed'",
        "DELETE FROM inspections",
    ]
    .iter()
    .chain(truncate)
    {
        let result = diesel::sql_query(*sql).execute(&mut *conn);
        assert!(result.is_err(), "{sql} must fail");
    }
    let counts = app.table_counts();
    assert!(counts["audit_log"] >= 2);
    assert_eq!(counts["inspections"], 1);
}
