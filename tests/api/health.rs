use crate::helpers::{TestApp, is_postgres};

#[actix_web::test]
async fn health_answers_without_touching_the_database() {
    let app = TestApp::spawn().await;
    let reply = app.get("/health").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["status"], "ok");
    assert!(
        reply
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );
}

#[actix_web::test]
async fn ready_answers_when_the_database_does() {
    let app = TestApp::spawn().await;
    let reply = app.get("/ready").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}

/// Every request gets the server's own id, whatever the client sent: a client's id is kept beside
/// it (logs, audit log) but could be reused or forged, so it never stands for the request.
#[actix_web::test]
async fn the_request_id_is_always_the_servers_own() {
    let app = TestApp::spawn().await;
    let mut seen = std::collections::HashSet::new();
    for sent in ["abc-123", "abc-123", "a b\tc"] {
        let reply = app
            .send(
                app.client
                    .get(app.url("/health"))
                    .header("x-request-id", sent),
            )
            .await;
        let id = reply.header("x-request-id").unwrap_or_default();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        assert!(seen.insert(id), "a request id was reused");
    }
}

#[actix_web::test]
async fn ready_is_503_problem_when_the_database_is_gone() {
    if !is_postgres() {
        // An SQLite file cannot be taken away from open connections; PostgreSQL shows it.
        return;
    }
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    let app = TestApp::spawn().await;
    let url = std::env::var("TEST_DATABASE_URL").unwrap_or_default();
    let name = {
        let mut conn = app.pool.get().expect("a pooled connection");
        diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "current_database()",
        ))
        .get_result::<String>(match &mut *conn {
            niemyet::db::DbConnection::Pg(c) => c,
            niemyet::db::DbConnection::Sqlite(_) => unreachable!(),
        })
        .expect("the query runs")
    };
    let mut admin = PgConnection::establish(&url).expect("a PostgreSQL connection");
    admin
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .expect("the statement runs");
    let body = app.get("/ready").await.problem(503);
    assert!(
        !body["detail"].as_str().unwrap_or_default().contains(&name),
        "no internals: {body}"
    );
    assert_eq!(app.get("/health").await.status, 200);
}

#[actix_web::test]
async fn the_bare_address_leads_to_the_documentation() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    for path in ["/", "/docs"] {
        let reply = client.get(app.url(path)).send().await.expect("an answer");
        assert!(
            reply.status().is_redirection(),
            "{path}: {}",
            reply.status()
        );
        assert_eq!(
            reply
                .headers()
                .get("location")
                .and_then(|l| l.to_str().ok()),
            Some("/docs/"),
            "{path}"
        );
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status, 200);
    assert!(docs.text().contains("swagger"), "{}", docs.text());
}
