//! Logging, and the middleware that gives every request an id and a span and logs its outcome
//! (errors included: a timed-out or panicking request is logged and answered with its id too).

use std::io::IsTerminal;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub mod metrics;

/// Installs the global subscriber (once; later calls are ignored, as in tests).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal: redirected to a file or a collector, plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// The ids of the request being served: the server's own (sent back as `x-request-id`, recorded
/// in the audit log), and the one the client sent, if any, kept beside it in logs and the audit
/// log but never used in its place (a client could reuse or forge it).
#[derive(Debug, Clone)]
pub struct RequestId {
    pub id: String,
    pub client: Option<String>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn incoming_id(req: &ServiceRequest) -> Option<String> {
    let v = req.headers().get(&REQUEST_ID)?.to_str().ok()?;
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| v.to_owned())
}

pub async fn request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = uuid::Uuid::now_v7().to_string();
    let client = incoming_id(&req);
    req.extensions_mut().insert(RequestId {
        id: id.clone(),
        client: client.clone(),
    });
    let span = match &client {
        Some(client) => tracing::info_span!("request", request_id = %id,
            client_request_id = %client, method = %req.method(), path = %req.path()),
        None => tracing::info_span!("request", request_id = %id, method = %req.method(),
            path = %req.path()),
    };
    let started = Instant::now();
    let method = req.method().clone();
    let metrics = req
        .app_data::<actix_web::web::Data<metrics::Metrics>>()
        .map(|m| m.get_ref().clone());
    let outcome = next.call(req).instrument(span.clone()).await;
    let _entered = span.enter();
    let (status, route) = match &outcome {
        Ok(res) => (res.status(), res.request().match_pattern()),
        // Only the middleware fail this way (a time-out, a panic): the route is not known here.
        Err(e) => (
            e.as_response_error().status_code(),
            Some("unknown".to_owned()),
        ),
    };
    let status = status.as_u16();
    let took = started.elapsed();
    if let Some(metrics) = &metrics {
        metrics.request(method.as_str(), route.as_deref(), status, took);
    }
    let elapsed_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    if status >= 500 {
        tracing::warn!(status, elapsed_us, "request failed");
    } else {
        tracing::info!(status, elapsed_us, "request");
    }
    let Ok(value) = HeaderValue::from_str(&id) else {
        return outcome;
    };
    match outcome {
        Ok(mut res) => {
            res.headers_mut().insert(REQUEST_ID, value);
            Ok(res)
        }
        Err(error) => {
            let mut headers = HeaderMap::new();
            headers.insert(REQUEST_ID, value);
            Err(crate::http::with_headers(error, headers))
        }
    }
}
