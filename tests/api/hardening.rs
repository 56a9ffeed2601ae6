//! What every response carries, CORS for the configured portal, and the request time limit.

use std::time::{Duration, Instant};

use niemyet::auth::Role;
use serde_json::Value;

use crate::helpers::TestApp;

const PORTAL: &str = "https://dichvucong.gialai.gov.vn";

#[actix_web::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for (path, status) in [
        ("/health", 200),
        ("/api/v1/procedures/1.001193", 200),
        ("/api/v1/nothing-here", 404),
        ("/api/v1/communes/23764/report", 401),
    ] {
        let reply = app.get(path).await;
        assert_eq!(reply.status, status, "{path}");
        assert_eq!(
            reply.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(reply.header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(
            reply.header("referrer-policy").as_deref(),
            Some("no-referrer")
        );
        let csp = reply.header("content-security-policy").unwrap_or_default();
        assert!(csp.starts_with("default-src 'none'"), "{path}: {csp}");
        // Outside production there is no TLS proxy to speak of.
        assert_eq!(reply.header("strict-transport-security"), None);
        // With no portal configured, no browser may call across origins.
        assert_eq!(reply.header("access-control-allow-origin"), None);
    }
    let docs = app.get("/docs/").await;
    assert_eq!(docs.status, 200);
    let csp = docs.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
}

#[actix_web::test]
async fn the_configured_portal_may_call_the_api_from_a_browser_and_no_other_origin() {
    let app = TestApp::spawn_with(&[("NIEMYET_CORS_ORIGINS", PORTAL)]).await;
    let officer = app.token(Role::Officer, Some("23764"));
    let preflight = |origin: &'static str| {
        app.send(
            app.client
                .request(
                    reqwest::Method::OPTIONS,
                    app.url("/api/v1/communes/23764/postings"),
                )
                .header("origin", origin)
                .header("access-control-request-method", "PUT")
                .header("access-control-request-headers", "authorization, if-match"),
        )
    };
    let allowed = preflight(PORTAL).await;
    assert_eq!(allowed.status, 204, "{}", allowed.text());
    assert_eq!(
        allowed.header("access-control-allow-origin").as_deref(),
        Some(PORTAL)
    );
    let methods = allowed
        .header("access-control-allow-methods")
        .unwrap_or_default();
    assert!(methods.contains("PUT"), "{methods}");
    let headers = allowed
        .header("access-control-allow-headers")
        .unwrap_or_default();
    assert!(
        headers.contains("authorization") && headers.contains("if-match"),
        "{headers}"
    );
    assert!(allowed.header("access-control-max-age").is_some());

    let refused = preflight("https://evil.example").await;
    let problem = refused.problem(403);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("origin")),
        "{problem}"
    );
    assert_eq!(refused.header("access-control-allow-origin"), None);

    // An actual request from the portal can read the answer and its ETag.
    let reply = app
        .send(
            app.client
                .get(app.url("/api/v1/communes/23764/postings"))
                .bearer_auth(&officer)
                .header("origin", PORTAL),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.header("access-control-allow-origin").as_deref(),
        Some(PORTAL)
    );
    let exposed = reply
        .header("access-control-expose-headers")
        .unwrap_or_default();
    assert!(exposed.contains("etag"), "{exposed}");
    let vary: Vec<String> = reply
        .headers
        .get_all("vary")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    assert!(vary.iter().any(|v| v.contains("Origin")), "{vary:?}");

    // Another origin gets the same data (the token is what protects it) but no permission for
    // its page to read it.
    let reply = app
        .send(
            app.client
                .get(app.url("/api/v1/procedures/1.001193"))
                .header("origin", "https://evil.example"),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("access-control-allow-origin"), None);
}

/// A client that stops sending half-way through its body gets a 503 problem, with the same
/// security, CORS and request-id headers as any answer, once the request time limit passes;
/// nothing is written and the service goes on answering.
#[actix_web::test]
async fn a_stalled_upload_times_out_with_a_problem_and_writes_nothing() {
    let app = TestApp::spawn_with(&[
        ("NIEMYET_REQUEST_TIMEOUT_SECS", "1"),
        ("NIEMYET_CORS_ORIGINS", "https://dichvucong.gialai.gov.vn"),
    ])
    .await;
    let officer = app.token(Role::Officer, Some("23764"));
    let before = app.table_counts();
    let address = app.address.trim_start_matches("http://").to_owned();
    let head = format!(
        "PUT /api/v1/communes/23764/postings HTTP/1.1\r\nHost: {address}\r\n\
         Authorization: Bearer {officer}\r\nContent-Type: application/json\r\n\
         Origin: https://dichvucong.gialai.gov.vn\r\nX-Request-Id: stalled-upload-1\r\n\
         Content-Length: 100000\r\n\r\n{{\"postings\": ["
    );
    // A plain socket on a blocking thread: send the head and the start of the body, then wait.
    let (answer, waited) = actix_web::rt::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut stream =
            std::net::TcpStream::connect(&address).expect("the server accepts a connection");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("the read timeout is set");
        stream
            .write_all(head.as_bytes())
            .expect("the request is written");
        let started = Instant::now();
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&buf[..n]);
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
        (answer, started.elapsed())
    })
    .await
    .expect("the blocking task completes");
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
    assert!(text.contains("application/problem+json"), "{text}");
    let head = text
        .split_once("\r\n\r\n")
        .map(|(h, _)| h)
        .unwrap_or_default();
    let head = head.to_ascii_lowercase();
    for expected in [
        "x-content-type-options: nosniff",
        "x-frame-options: deny",
        "referrer-policy: no-referrer",
        "content-security-policy: default-src 'none'",
        "access-control-allow-origin: https://dichvucong.gialai.gov.vn",
        "x-request-id: ",
    ] {
        assert!(head.contains(expected), "{expected} missing from:\n{head}");
    }
    let body: Value = text
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or_default();
    assert_eq!(body["type"], "/problems/timeout", "{text}");
    assert_eq!(app.table_counts(), before);
    assert_eq!(app.get("/health").await.status, 200);
}
