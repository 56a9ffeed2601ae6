//! Building the application: pool, migrations, seeding, and the HTTP server (port 0 allowed).

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use crate::auth::JwtKeys;
use crate::cache::ReportCache;
use crate::cache::counters::{self, Counters};
use crate::config::Settings;
use crate::db::{self, Db};
use crate::routes;
use crate::seed;

pub struct Application {
    port: u16,
    server: Server,
    /// The webhook worker (unless turned off), stopped when dropped.
    notify: Option<crate::notify::Stop>,
}

/// What start-up loads into an empty database.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    /// The bundled units, catalogue and holidays.
    pub data: bool,
    /// Demo postings and decisions (only with `data`).
    pub demo: bool,
}

/// Migrates the database and, if enabled, loads the bundled data into an empty one.
pub fn prepare_database(pool: &db::DbPool, seed: SeedOptions) -> anyhow::Result<()> {
    let mut conn = db::get_conn(pool)?;
    let applied = db::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(applied, "migrations applied");
    }
    if seed.data {
        seed_data(&mut conn, seed.demo)?;
    }
    // Versions written before posting places existed get theirs (a no-op once done).
    let placed = crate::services::placement::place_unplaced(&mut conn)
        .map_err(|e| anyhow::anyhow!("placing procedure versions failed: {e}"))?;
    if placed > 0 {
        tracing::info!(placed, "procedure versions placed (posting place)");
    }
    Ok(())
}

/// Loads the bundled data into an empty database, and the demo if asked.
fn seed_data(conn: &mut db::DbConnection, demo: bool) -> anyhow::Result<()> {
    let failed = |what: &'static str| {
        move |e: crate::services::ServiceError| anyhow::anyhow!("seeding {what} failed: {e}")
    };
    let report = seed::seed_if_empty(conn).map_err(failed("units and catalogue"))?;
    if let Some(u) = report.units {
        tracing::info!(rows = u.rows, inserted = u.inserted, "bundled units loaded");
    }
    if let Some(c) = &report.catalogue {
        tracing::info!(
            created = c.created,
            problems = c.skipped,
            "bundled catalogue loaded"
        );
    }
    if let Some(l) = &report.lineage {
        tracing::info!(
            provinces = l.provinces,
            districts = l.districts,
            communes = l.communes,
            edges = l.edges,
            problems = l.problems.len(),
            "bundled unit lineage loaded (retired units until 2025-06-30)"
        );
    }
    if report.sector_places > 0 {
        tracing::info!(rows = report.sector_places, "bundled sector table loaded");
    }
    let holidays = seed::seed_holidays_if_empty(conn).map_err(failed("holidays"))?;
    if holidays > 0 {
        tracing::info!(holidays, "bundled holidays loaded");
    }
    // The demo goes into a database this start has just filled, or finishes an interrupted demo;
    // never into a catalogue that was already in use.
    let fresh = report.catalogue.is_some();
    if demo
        && (fresh || seed::demo_started(conn).map_err(failed("the demo"))?)
        && seed::seed_demo_if_empty(conn).map_err(failed("the demo"))?
    {
        tracing::info!("demo postings and decisions loaded (NIEMYET_DEMO=false leaves them out)");
    }
    Ok(())
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let keys = JwtKeys::from_settings(&settings.jwt, settings.environment)?;
        let pool = db::build_pool(&settings.database, &settings.pool)?;
        tracing::info!(database = %settings.database.redacted(), "opening database");
        {
            let pool = pool.clone();
            let seed = SeedOptions {
                data: settings.seed,
                demo: settings.demo,
            };
            actix_web::rt::task::spawn_blocking(move || prepare_database(&pool, seed)).await??;
        }
        let listener = TcpListener::bind(&settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let metrics = crate::telemetry::metrics::Metrics::new();
        let db = Db::new(pool, settings.heavy, metrics.clone());
        let counters = Counters::new();
        counters::watch(settings.database.clone(), &counters);
        let (server, notify) = run(listener, (db, metrics), counters, keys, &settings)?;
        tracing::info!(address = %listener_address(&settings.bind, port), "listening");
        Ok(Self {
            port,
            server,
            notify,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT or SIGTERM, then finishes in-flight requests (up to 30 s).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        // The webhook worker stops with the server, or when this future is dropped unfinished.
        let _notify = self.notify;
        self.server.await
    }
}

fn listener_address(bind: &str, port: u16) -> String {
    match bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => format!("{bind}:{port}"),
    }
}

/// Bytes of commune report bodies kept in memory (the most recently computed first).
const REPORT_BODY_BUDGET: usize = 64 * 1024 * 1024;

fn run(
    listener: TcpListener,
    (db, metrics): (Db, crate::telemetry::metrics::Metrics),
    counters: std::sync::Arc<Counters>,
    keys: JwtKeys,
    settings: &Settings,
) -> anyhow::Result<(Server, Option<crate::notify::Stop>)> {
    let policy = web::Data::new(crate::http::HttpPolicy {
        cors_origins: settings.cors_origins.clone(),
        request_timeout: settings.request_timeout,
        hsts: settings.environment == crate::config::Environment::Production,
    });
    let imports = web::Data::new(routes::catalogue::ImportSlots::new(settings.max_imports));
    let rates = web::Data::new(crate::ratelimit::RateLimits::new(settings.rates.clone()));
    let webhook_policy = web::Data::new(routes::webhooks::WebhookPolicy {
        settings: settings.webhooks.clone(),
        production: settings.environment == crate::config::Environment::Production,
    });
    let metrics_access = web::Data::new(routes::health::MetricsAccess {
        token: settings.metrics_token.clone(),
    });
    let cache = web::Data::new(ReportCache::new(
        REPORT_BODY_BUDGET,
        counters,
        metrics.clone(),
    ));
    let metrics = web::Data::new(metrics);
    // The reference data in memory from the start: authorization reads communes' provinces there.
    let mut conn = db.connection()?;
    cache.warm(&mut conn)?;
    drop(conn);
    let notify = settings
        .webhooks
        .deliver
        .then(|| {
            crate::notify::start(
                db.clone(),
                cache.clone().into_inner(),
                settings.webhooks.clone(),
                settings.clock.clone(),
            )
        })
        .transpose()?;
    let db = web::Data::new(db);
    let keys = web::Data::new(keys);
    // The document is finished once, not in every worker: finishing it takes a while.
    let spec = crate::openapi::spec();
    let server = HttpServer::new(move || {
        let (app, _) = App::new()
            .into_utoipa_app()
            .openapi(crate::openapi::base())
            .app_data(db.clone())
            .app_data(keys.clone())
            .app_data(cache.clone())
            .app_data(policy.clone())
            .app_data(imports.clone())
            .app_data(rates.clone())
            .app_data(metrics.clone())
            .app_data(metrics_access.clone())
            .app_data(webhook_policy.clone())
            .app_data(routes::json_config())
            .app_data(routes::query_config())
            .app_data(routes::path_config())
            .configure(routes::configure)
            .split_for_parts();
        app.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", spec.clone()))
            // A person typing the address lands on the documentation.
            .service(web::redirect("/", "/docs/"))
            .service(web::redirect("/docs", "/docs/"))
            .default_service(web::to(routes::not_found))
            .wrap(from_fn(crate::http::compress))
            .wrap(from_fn(crate::ratelimit::limit))
            .wrap(from_fn(crate::http::harden))
            .wrap(from_fn(crate::telemetry::request_span))
    })
    .workers(settings.workers)
    // A client has 5 s to send a request's head and 2 s to close; the body is bounded by the
    // request timeout (`http::harden`).
    .client_request_timeout(std::time::Duration::from_secs(5))
    .client_disconnect_timeout(std::time::Duration::from_secs(2))
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok((server, notify))
}
