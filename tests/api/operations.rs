//! What an operator gets: Prometheus metrics for the admin or the scraper's token, and rate
//! limits per client that answer 429 with `Retry-After` while the service stays healthy.

use niemyet::auth::Role;

use crate::helpers::TestApp;

const SCRAPE_TOKEN: &str = "scrape-token-for-the-tests-0001";

#[actix_web::test]
async fn metrics_count_requests_per_route_and_only_the_scraper_or_an_admin_reads_them() {
    let app = TestApp::spawn_with(&[("NIEMYET_METRICS_TOKEN", SCRAPE_TOKEN)]).await;
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/procedures/1.001193").await.status, 200);
    }
    assert_eq!(app.get("/api/v1/procedures/9.999999").await.status, 404);
    assert_eq!(app.get("/no/such/page").await.status, 404);
    let officer = app.token(Role::Officer, Some("23764"));
    let report = app
        .send(
            app.client
                .get(app.url("/api/v1/communes/23764/report"))
                .bearer_auth(&officer),
        )
        .await;
    assert_eq!(report.status, 200, "{}", report.text());

    // Never to anonymous callers, nor to a token of another role.
    app.get("/metrics").await.problem(401);
    let reply = app
        .send(
            app.client
                .get(app.url("/metrics"))
                .bearer_auth("not-the-scrape-token-000"),
        )
        .await;
    reply.problem(401);
    app.send(app.client.get(app.url("/metrics")).bearer_auth(&officer))
        .await
        .problem(403);

    for token in [SCRAPE_TOKEN.to_owned(), app.token(Role::Admin, None)] {
        let reply = app
            .send(app.client.get(app.url("/metrics")).bearer_auth(&token))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/openmetrics-text")),
            "{:?}",
            reply.header("content-type")
        );
        let text = reply.text();
        let value = |series: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        };
        assert_eq!(
            value(
                r#"niemyet_http_requests_total{method="GET",route="/api/v1/procedures/{code}",status="200"}"#
            ),
            3.0
        );
        assert_eq!(
            value(
                r#"niemyet_http_requests_total{method="GET",route="/api/v1/procedures/{code}",status="404"}"#
            ),
            1.0
        );
        // Paths that match no route are counted together, whatever they are.
        assert!(
            value(r#"niemyet_http_requests_total{method="GET",route="unmatched",status="404"}"#)
                >= 1.0
        );
        assert!(!text.contains("/no/such/page"), "{text}");
        assert!(
            value(
                r#"niemyet_http_request_duration_seconds_count{method="GET",route="/api/v1/communes/{code}/report"}"#
            ) >= 1.0
        );
        assert!(value(r#"niemyet_report_computations_total{kind="commune_report"}"#) >= 1.0);
        assert!(value("niemyet_db_pool_max_connections") >= 1.0);
        assert!(
            text.contains("niemyet_db_pool_connections{state=\"in_use\"}"),
            "{text}"
        );
        assert!(
            text.contains("niemyet_db_pool_wait_seconds_count"),
            "{text}"
        );
        assert!(
            text.trim_end().ends_with("# EOF"),
            "OpenMetrics ends with # EOF"
        );
    }
}

/// Each client has its own budget: anonymous callers by address, authenticated ones by token. A
/// burst over it gets 429 problems with `Retry-After`; probes are never limited and the service
/// answers them throughout; another token is not affected; a made-up token counts as its address.
#[actix_web::test]
async fn a_burst_over_the_rate_gets_429_and_the_service_stays_healthy() {
    let app = TestApp::spawn_with(&[
        ("NIEMYET_RATE_PUBLIC", "1"),
        ("NIEMYET_RATE_TOKEN", "1"),
        ("NIEMYET_METRICS_TOKEN", SCRAPE_TOKEN),
    ])
    .await;
    // One a second with a burst of three: sixty at once cannot all pass, even on a machine so
    // busy that each request takes a fifth of a second (a budget of five a second refilled too
    // fast there for the counts below to hold).
    let mut limited = 0;
    for _ in 0..60 {
        let reply = app.get("/api/v1/procedures/1.001193").await;
        match reply.status {
            200 => {}
            429 => {
                let problem = reply.problem(429);
                assert_eq!(problem["type"], "/problems/too-many-requests");
                let retry: u64 = reply
                    .header("retry-after")
                    .and_then(|r| r.parse().ok())
                    .expect("a Retry-After in seconds");
                assert!((1..=5).contains(&retry), "{retry}");
                limited += 1;
            }
            other => panic!("{other}: {}", reply.text()),
        }
        assert_eq!(app.get("/health").await.status, 200);
    }
    assert!(limited >= 30, "only {limited} of 60 were limited");
    // A made-up token does not buy a fresh budget.
    let reply = app
        .send(
            app.client
                .get(app.url("/api/v1/procedures/1.001193"))
                .bearer_auth("made.up.token"),
        )
        .await;
    reply.problem(429);
    // A valid token has its own budget, which another token does not share.
    let first = app.token(Role::Admin, None);
    let second = app.token(Role::Editor, None);
    let mut first_limited = 0;
    for _ in 0..40 {
        let reply = app
            .send(
                app.client
                    .get(app.url("/api/v1/sectors"))
                    .bearer_auth(&first),
            )
            .await;
        if reply.status == 429 {
            first_limited += 1;
        } else {
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }
    assert!(first_limited >= 10, "{first_limited}");
    let reply = app
        .send(
            app.client
                .get(app.url("/api/v1/sectors"))
                .bearer_auth(&second),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The scraper reads the refusals.
    let metrics = app
        .send(
            app.client
                .get(app.url("/metrics"))
                .bearer_auth(SCRAPE_TOKEN),
        )
        .await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics
            .text()
            .contains("niemyet_rate_limited_total{class=\"public\"}")
    );
    assert!(
        metrics
            .text()
            .contains("niemyet_rate_limited_total{class=\"token\"}")
    );
}

#[actix_web::test]
async fn an_exempt_address_is_never_limited() {
    let app = TestApp::spawn_with(&[
        ("NIEMYET_RATE_PUBLIC", "1"),
        ("NIEMYET_RATE_EXEMPT", "127.0.0.1"),
    ])
    .await;
    for _ in 0..30 {
        assert_eq!(app.get("/api/v1/procedures/1.001193").await.status, 200);
    }
}
