//! `TestApp::spawn()`: the real server on port 0, over a database of its own.
//!
//! Every test gets a fresh copy of a template database that holds the bundled units and
//! catalogue: on SQLite a copied file, on PostgreSQL (when `TEST_DATABASE_URL` is set) a database
//! created from a template and dropped when the test ends. The template is built once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use niemyet::auth::{JwtKeys, Role};
use niemyet::config::{Environment, Settings};
use niemyet::db::{self, DatabaseUrl, DbPool, PoolSettings};
use niemyet::startup::{Application, SeedOptions, prepare_database};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub keys: JwtKeys,
    pub pool: DbPool,
    database_url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteDir(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for TestApp {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Postgres { admin_url, name } => {
                if let Ok(mut conn) = PgConnection::establish(admin_url) {
                    let _ = conn
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
                }
            }
        }
    }
}

/// A response read whole.
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Asserts an RFC 9457 problem with this status; returns the body.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text()
        );
        assert_eq!(
            self.header("content-type").as_deref(),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let body = self.json();
        assert_eq!(body["status"], status);
        assert!(
            body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("/problems/")),
            "{body}"
        );
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{body}"
        );
        body
    }
}

fn backend_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// Replaces the database name of a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Identifies the template: changes whenever the migrations, the bundled data or the code change.
fn template_key() -> String {
    let mut hasher = Sha256::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["migrations/postgres", "migrations/sqlite"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        entries.sort();
        for entry in entries {
            hasher.update(entry.to_string_lossy().as_bytes());
            hasher.update(std::fs::read(entry.join("up.sql")).unwrap_or_default());
        }
    }
    hasher.update(niemyet::seed::UNITS_CSV.as_bytes());
    hasher.update(niemyet::seed::CATALOGUE_GZ);
    hasher.update(niemyet::seed::LINEAGE_GZ);
    // The seeding code is part of the template too: a rebuilt test binary builds a new one.
    if let Some(meta) = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
    {
        hasher.update(format!("{:?}{}", meta.modified().ok(), meta.len()).as_bytes());
    }
    hex::encode(&hasher.finalize()[..6])
}

fn pool_for(url: &DatabaseUrl) -> DbPool {
    let settings = PoolSettings {
        max_size: 2,
        connect_timeout: std::time::Duration::from_secs(10),
    };
    db::build_pool(url, &settings).expect("a connection pool")
}

fn sqlite_template(demo: bool) -> PathBuf {
    static TEMPLATES: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    static LOCK: Mutex<()> = Mutex::new(());
    TEMPLATES[usize::from(demo)]
        .get_or_init(|| {
            let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("niemyet-templates");
            std::fs::create_dir_all(&dir).expect("the directory is created");
            let key = template_key();
            let path = dir.join(format!(
                "template-{key}-{}.db",
                if demo { "demo" } else { "plain" }
            ));
            if !path.exists() {
                // Older templates are stale now.
                for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                    let name = entry.file_name().to_string_lossy().into_owned();
                    if name.starts_with("template-") && !name.contains(&key) {
                        let _ = std::fs::remove_file(entry.path());
                    }
                }
                let building = dir.join(format!("building-{}.db", uuid::Uuid::new_v4()));
                let packed = dir.join(format!("packed-{}.db", uuid::Uuid::new_v4()));
                {
                    let pool = pool_for(&DatabaseUrl::parse(&building.to_string_lossy()));
                    prepare_database(&pool, SeedOptions { data: true, demo })
                        .expect("template: the database is prepared");
                    let mut conn = pool.get().expect("a pooled connection");
                    // A consistent single-file copy, whatever the WAL holds.
                    conn.batch_execute(&format!("VACUUM INTO '{}'", packed.display()))
                        .expect("the statement runs");
                }
                std::fs::rename(&packed, &path).expect("the template is moved into place");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
                }
            }
            path
        })
        .clone()
}

fn postgres_template(admin_url: &str, demo: bool) -> String {
    static TEMPLATES: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    TEMPLATES[usize::from(demo)]
        .get_or_init(|| {
            let key = template_key();
            // Templates are named after the checkout too: two checkouts testing on one server
            // (a working tree and CI's clean clone) each keep, and clean up, only their own.
            let checkout = hex::encode(&Sha256::digest(env!("CARGO_MANIFEST_DIR").as_bytes())[..4]);
            let name = format!(
                "niemyet_tpl_{checkout}_{key}_{}",
                if demo { "demo" } else { "plain" }
            );
            let mut admin = PgConnection::establish(admin_url).expect("a PostgreSQL connection");
            // One builder at a time, across test processes too.
            admin
                .batch_execute("SELECT pg_advisory_lock(7731001)")
                .expect("the statement runs");
            let exists = diesel::dsl::select(diesel::dsl::exists(
                pg_database::table.filter(pg_database::datname.eq(&name)),
            ))
            .get_result::<bool>(&mut admin)
            .expect("the query runs");
            if !exists {
                let stale: Vec<String> = pg_database::table
                    .filter(pg_database::datname.like(format!("niemyet_tpl_{checkout}_%")))
                    .filter(pg_database::datname.not_like(format!("niemyet_tpl_{checkout}_{key}%")))
                    .select(pg_database::datname)
                    .load(&mut admin)
                    .unwrap_or_default();
                for old in stale {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS \"{old}\" WITH (FORCE)"));
                }
                let building = format!("{name}_building");
                // One statement per call: PostgreSQL runs a multi-statement string as one
                // transaction, and CREATE/DROP DATABASE refuse to run inside one.
                for sql in [
                    format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
                    format!("CREATE DATABASE \"{building}\""),
                ] {
                    admin.batch_execute(&sql).expect("the statement runs");
                }
                {
                    let pool = pool_for(&DatabaseUrl::parse(&with_database(admin_url, &building)));
                    prepare_database(&pool, SeedOptions { data: true, demo })
                        .expect("template: the database is prepared");
                }
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                    ))
                    .expect("the statement runs");
            }
            admin
                .batch_execute("SELECT pg_advisory_unlock(7731001)")
                .expect("the statement runs");
            name
        })
        .clone()
}

diesel::table! {
    pg_database (datname) {
        datname -> Text,
    }
}

/// Settings for a test server over `database_url`, with extra variables.
pub fn test_settings(database_url: &str, extra: &[(&str, &str)]) -> Settings {
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url.into()),
        ("NIEMYET_BIND".into(), "127.0.0.1:0".into()),
        ("NIEMYET_WORKERS".into(), "2".into()),
        ("NIEMYET_DB_POOL_SIZE".into(), "4".into()),
        ("NIEMYET_JWT_SECRET".into(), TEST_SECRET.into()),
        ("NIEMYET_DEMO".into(), "false".into()),
        // Tests send hundreds of requests a second from one address and one token; the limits
        // have their own test.
        ("NIEMYET_RATE_PUBLIC".into(), "0".into()),
        ("NIEMYET_RATE_TOKEN".into(), "0".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(key, _)| key != k);
        vars.push((k.to_string(), v.to_string()));
    }
    Settings::from_lookup(move |key| vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
        .expect("valid settings")
}

/// A fresh database (copied from the template) and the URL to reach it.
fn fresh_database(demo: bool) -> (String, Cleanup) {
    match backend_url() {
        Some(admin_url) => {
            let template = postgres_template(&admin_url, demo);
            let name = format!("niemyet_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = PgConnection::establish(&admin_url).expect("a PostgreSQL connection");
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                ))
                .expect("the statement runs");
            (
                with_database(&admin_url, &name),
                Cleanup::Postgres { admin_url, name },
            )
        }
        None => {
            let template = sqlite_template(demo);
            let dir = std::env::temp_dir().join(format!("niemyet-test-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&dir).expect("the directory is created");
            let path = dir.join("niemyet.db");
            std::fs::copy(&template, &path).expect("the template is copied");
            (path.to_string_lossy().into_owned(), Cleanup::SqliteDir(dir))
        }
    }
}

pub fn is_postgres() -> bool {
    backend_url().is_some()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(&[]).await
    }

    /// Spawns over a database that also holds the demo postings and decisions.
    pub async fn spawn_demo() -> TestApp {
        Self::spawn_from(true, &[]).await
    }

    /// Spawns over the demo database with extra environment variables.
    pub async fn spawn_demo_with(extra: &[(&str, &str)]) -> TestApp {
        Self::spawn_from(true, extra).await
    }

    /// Spawns with extra environment variables (e.g. other JWT settings).
    pub async fn spawn_with(extra: &[(&str, &str)]) -> TestApp {
        Self::spawn_from(false, extra).await
    }

    async fn spawn_from(demo: bool, extra: &[(&str, &str)]) -> TestApp {
        Self::spawn_adjusted(demo, extra, |_| {}).await
    }

    /// Spawns with settings changed in code (a test's clock).
    pub async fn spawn_adjusted(
        demo: bool,
        extra: &[(&str, &str)],
        adjust: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let (url, cleanup) = fresh_database(demo);
        let mut settings = test_settings(&url, extra);
        adjust(&mut settings);
        let database_url = url.clone();
        let keys = JwtKeys::from_settings(&settings.jwt, Environment::Development)
            .expect("the JWT keys load");
        let pool = pool_for(&settings.database);
        let app = Application::build(settings)
            .await
            .expect("the application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::new(),
            keys,
            pool,
            database_url,
            cleanup,
        }
    }

    /// A second server over the same database (another instance behind a load balancer);
    /// returns its base address.
    pub async fn spawn_sibling(&self) -> String {
        self.spawn_sibling_with(&[], |_| {}).await
    }

    /// A second server over the same database, with its own settings.
    pub async fn spawn_sibling_with(
        &self,
        extra: &[(&str, &str)],
        adjust: impl FnOnce(&mut Settings),
    ) -> String {
        let mut settings = test_settings(&self.database_url, extra);
        adjust(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("the application builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        address
    }

    /// The database the server runs on, for the command-line tools.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    pub fn token(&self, role: Role, unit: Option<&str>) -> String {
        self.keys
            .mint(&format!("test-{}", role.as_str()), role, unit, 3600)
            .expect("a token is minted")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the request is answered");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the body is read").to_vec();
        Reply {
            status,
            headers,
            bytes,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let reply = self.get(path).await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
        reply.json()
    }

    pub async fn post_json(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn put_json(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        let mut request = self.client.put(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// GET with a token, expecting 200 JSON.
    pub async fn get_as(&self, path: &str, token: &str) -> Value {
        let reply = self
            .send(self.client.get(self.url(path)).bearer_auth(token))
            .await;
        assert_eq!(reply.status, 200, "GET {path}: {}", reply.text());
        reply.json()
    }

    pub async fn post_bytes(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        token: Option<&str>,
    ) -> Reply {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(request).await
    }

    /// Row counts of every table: compared before and after a refused request.
    pub fn table_counts(&self) -> BTreeMap<&'static str, i64> {
        use niemyet::db::schema::*;
        let mut conn = self.pool.get().expect("a pooled connection");
        let conn = &mut *conn;
        let mut counts = BTreeMap::new();
        let count = |r: QueryResult<i64>| r.expect("the query runs");
        counts.insert("units", count(units::table.count().get_result(conn)));
        counts.insert(
            "retired_units",
            count(retired_units::table.count().get_result(conn)),
        );
        counts.insert(
            "unit_lineage",
            count(unit_lineage::table.count().get_result(conn)),
        );
        counts.insert("sectors", count(sectors::table.count().get_result(conn)));
        counts.insert(
            "decisions",
            count(decisions::table.count().get_result(conn)),
        );
        counts.insert(
            "decision_items",
            count(decision_items::table.count().get_result(conn)),
        );
        counts.insert(
            "procedures",
            count(procedures::table.count().get_result(conn)),
        );
        counts.insert(
            "procedure_versions",
            count(procedure_versions::table.count().get_result(conn)),
        );
        counts.insert(
            "audit_log",
            count(audit_log::table.count().get_result(conn)),
        );
        counts.insert("postings", count(postings::table.count().get_result(conn)));
        counts.insert(
            "open_postings",
            count(
                postings::table
                    .filter(postings::removed_on.is_null())
                    .count()
                    .get_result(conn),
            ),
        );
        counts.insert(
            "exemptions",
            count(exemptions::table.count().get_result(conn)),
        );
        counts.insert("holidays", count(holidays::table.count().get_result(conn)));
        counts.insert(
            "province_settings",
            count(province_settings::table.count().get_result(conn)),
        );
        counts.insert(
            "inspections",
            count(inspections::table.count().get_result(conn)),
        );
        counts.insert(
            "archive_inspections",
            count(archive_inspections::table.count().get_result(conn)),
        );
        counts
    }

    /// Closed version windows, to check that a refused write changed no `valid_to`.
    pub fn closed_versions(&self) -> i64 {
        use niemyet::db::schema::procedure_versions;
        let mut conn = self.pool.get().expect("a pooled connection");
        procedure_versions::table
            .filter(procedure_versions::valid_to.is_not_null())
            .count()
            .get_result(&mut *conn)
            .expect("the query runs")
    }
}
