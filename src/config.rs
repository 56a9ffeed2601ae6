//! Typed settings, read once from the environment and passed by value.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `DATABASE_URL` | `postgres://…`/`postgresql://…` for PostgreSQL, else a SQLite file path (`sqlite://` prefix accepted) | `data/niemyet.db` |
//! | `NIEMYET_BIND` | address to listen on (port 0 picks a free port) | `127.0.0.1:8080` |
//! | `NIEMYET_ENV` | `development` or `production` | `development` |
//! | `NIEMYET_JWT_ALGORITHM` | `HS256`, `RS256` or `EdDSA` | `HS256` |
//! | `NIEMYET_JWT_SECRET` | HS256 secret (at least 32 bytes in production) | built-in development secret |
//! | `NIEMYET_JWT_PUBLIC_KEY_FILE` | PEM public key for RS256/EdDSA | — |
//! | `NIEMYET_JWT_PRIVATE_KEY_FILE` | PEM private key, only for `niemyet token` with RS256/EdDSA | — |
//! | `NIEMYET_JWT_ISSUER` | required `iss` | `niemyet` |
//! | `NIEMYET_JWT_AUDIENCE` | required `aud` | `niemyet-api` |
//! | `NIEMYET_WORKERS` | HTTP worker threads | number of cores |
//! | `NIEMYET_DB_POOL_SIZE` | connections in the pool | 8 |
//! | `NIEMYET_DB_TIMEOUT_SECS` | wait for a pooled connection before answering 503 | 5 |
//! | `NIEMYET_HEAVY_REPORTS` | national reports (and country-wide impacts) computed at once; each takes at most half the pool between them | 2 |
//! | `NIEMYET_HEAVY_WAIT_SECS` | how long a heavy report waits its turn before answering 503 with `Retry-After` | 20 |
//! | `NIEMYET_MAX_IMPORTS` | catalogue imports running at once (each may hold 64 MiB of body and 256 MiB expanded); more answer 503 | 2 |
//! | `NIEMYET_RATE_PUBLIC` | requests per second per client address without a valid token, bursts of 3 s allowed (0: no limit) | 30 |
//! | `NIEMYET_RATE_TOKEN` | requests per second per valid token, bursts of 3 s allowed (0: no limit) | 60 |
//! | `NIEMYET_RATE_EXEMPT` | comma-separated addresses never limited (the portal's servers) | none |
//! | `NIEMYET_TRUSTED_PROXIES` | comma-separated addresses of reverse proxies whose `X-Forwarded-For` names the client | none |
//! | `NIEMYET_METRICS_TOKEN` | bearer token a Prometheus scraper sends for `/metrics` (at least 16 characters; admins' tokens work too) | none |
//! | `NIEMYET_WEBHOOKS_KEY` | base64 of 32 bytes: webhook secrets are stored encrypted with it (AES-256-GCM) | none: stored as they are |
//! | `NIEMYET_WEBHOOKS_ALLOW_PRIVATE` | allow webhook targets on loopback, private or link-local addresses (tests, intranets) | `false` |
//! | `NIEMYET_WEBHOOKS_RETRY_SCALE` | multiplies the retry schedule (about 3 days); tests shrink it | `1` |
//! | `NIEMYET_WEBHOOKS_TIMEOUT_SECS` | how long a receiver has to answer one delivery | 15 |
//! | `NIEMYET_WEBHOOKS_DELIVER` | run the webhook worker in this instance (events are written either way) | `true` |
//! | `NIEMYET_SEED` | load the bundled units, catalogue and holidays into an empty database | `true` |
//! | `NIEMYET_DEMO` | demo postings and decisions, loaded only into a database this start seeds | `true` in development, `false` in production |
//! | `NIEMYET_CORS_ORIGINS` | comma-separated origins (`https://host[:port]`) whose pages may call the API from a browser | none |
//! | `NIEMYET_REQUEST_TIMEOUT_SECS` | longest a request may take, body upload included, before a 503 | 30 |
//! | `NIEMYET_LOG_FORMAT` | `text` or `json` | `text` |
//! | `RUST_LOG` | log filter | `info` |

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::db::{DatabaseUrl, HeavyLimits, PoolSettings};
use crate::ratelimit::RateSettings;

/// The HS256 secret used when none is configured. The service refuses it in production.
pub const DEV_JWT_SECRET: &str = "niemyet-development-secret-not-for-production";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Rs256,
    EdDsa,
}

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub algorithm: JwtAlgorithm,
    pub secret: Secret,
    pub public_key_file: Option<PathBuf>,
    pub private_key_file: Option<PathBuf>,
    pub issuer: String,
    pub audience: String,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseUrl,
    pub bind: String,
    pub environment: Environment,
    pub jwt: JwtSettings,
    pub workers: usize,
    pub pool: PoolSettings,
    pub heavy: HeavyLimits,
    pub max_imports: usize,
    pub rates: RateSettings,
    /// The bearer token that may read `/metrics` besides an admin's.
    pub metrics_token: Option<Secret>,
    pub webhooks: WebhookSettings,
    /// The clock the daily work reads (the system's, unless a test sets another).
    pub clock: crate::clock::Clock,
    pub seed: bool,
    pub demo: bool,
    pub log_format: LogFormat,
    /// Origins allowed to call the API from a browser (CORS), as browsers send them.
    pub cors_origins: Vec<String>,
    pub request_timeout: Duration,
}

/// A comma-separated list of IP addresses.
fn addresses(name: &str, raw: Option<String>) -> Result<Vec<std::net::IpAddr>, ConfigError> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse().map_err(|_| {
                ConfigError(format!(
                    "{name}: `{a}` is not an IP address (expected e.g. 10.0.0.5,2001:db8::1)"
                ))
            })
        })
        .collect()
}

/// How webhooks are delivered.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The key secrets are sealed with at rest, if any.
    pub key: Option<[u8; 32]>,
    pub allow_private: bool,
    pub retry_scale: f64,
    /// Whether this instance runs the worker (writes the day's events, sends deliveries).
    pub deliver: bool,
    pub timeout: Duration,
}

/// Checks one CORS origin: a scheme, a host and an optional port, nothing else (browsers send
/// exactly that in `Origin`, so anything more could never match).
fn cors_origin(raw: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| {
        ConfigError(format!(
            "NIEMYET_CORS_ORIGINS: `{raw}` {why} (expected e.g. https://dichvucong.gialai.gov.vn)"
        ))
    };
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or_else(|| bad("must start with https:// or http://"))?;
    let valid = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(bad(
            "must be a scheme and a host, without a path or a trailing slash",
        ));
    }
    Ok(raw.to_ascii_lowercase())
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads settings through `lookup`, so tests can pass their own environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |key: &str| {
            lookup(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let environment = match get("NIEMYET_ENV").as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                return Err(ConfigError(format!(
                    "NIEMYET_ENV must be development or production, not `{other}`"
                )));
            }
        };
        let algorithm = match get("NIEMYET_JWT_ALGORITHM").as_deref() {
            None | Some("HS256") => JwtAlgorithm::Hs256,
            Some("RS256") => JwtAlgorithm::Rs256,
            Some("EdDSA") => JwtAlgorithm::EdDsa,
            Some(other) => {
                return Err(ConfigError(format!(
                    "NIEMYET_JWT_ALGORITHM must be HS256, RS256 or EdDSA, not `{other}`"
                )));
            }
        };
        let number = |key: &str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .ok_or_else(|| {
                        ConfigError(format!(
                            "{key} must be a whole number from {min} to {max}, not `{v}`"
                        ))
                    }),
            }
        };
        let cores = std::thread::available_parallelism()
            .map(|n| n.get() as u64)
            .unwrap_or(2);
        let flag = |key: &str, default: bool| match get(key).as_deref() {
            None => Ok(default),
            Some("true") | Some("1") | Some("yes") => Ok(true),
            Some("false") | Some("0") | Some("no") => Ok(false),
            Some(other) => Err(ConfigError(format!(
                "{key} must be true or false, not `{other}`"
            ))),
        };
        let seed = flag("NIEMYET_SEED", true)?;
        let demo = flag("NIEMYET_DEMO", environment == Environment::Development)?;
        let log_format = match get("NIEMYET_LOG_FORMAT").as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError(format!(
                    "NIEMYET_LOG_FORMAT must be text or json, not `{other}`"
                )));
            }
        };
        let cors_origins = get("NIEMYET_CORS_ORIGINS")
            .map(|list| {
                list.split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty())
                    .map(cors_origin)
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Settings {
            database: DatabaseUrl::parse(
                &get("DATABASE_URL").unwrap_or_else(|| "data/niemyet.db".into()),
            ),
            bind: get("NIEMYET_BIND").unwrap_or_else(|| "127.0.0.1:8080".into()),
            environment,
            jwt: JwtSettings {
                algorithm,
                secret: Secret::new(
                    get("NIEMYET_JWT_SECRET").unwrap_or_else(|| DEV_JWT_SECRET.into()),
                ),
                public_key_file: get("NIEMYET_JWT_PUBLIC_KEY_FILE").map(PathBuf::from),
                private_key_file: get("NIEMYET_JWT_PRIVATE_KEY_FILE").map(PathBuf::from),
                issuer: get("NIEMYET_JWT_ISSUER").unwrap_or_else(|| "niemyet".into()),
                audience: get("NIEMYET_JWT_AUDIENCE").unwrap_or_else(|| "niemyet-api".into()),
            },
            workers: number("NIEMYET_WORKERS", cores, 1, 256)? as usize,
            pool: PoolSettings {
                max_size: number("NIEMYET_DB_POOL_SIZE", 8, 1, 512)? as u32,
                connect_timeout: Duration::from_secs(number("NIEMYET_DB_TIMEOUT_SECS", 5, 1, 300)?),
            },
            heavy: HeavyLimits {
                slots: number("NIEMYET_HEAVY_REPORTS", 2, 1, 64)? as usize,
                wait: Duration::from_secs(number("NIEMYET_HEAVY_WAIT_SECS", 20, 1, 3600)?),
            },
            max_imports: number("NIEMYET_MAX_IMPORTS", 2, 1, 16)? as usize,
            rates: RateSettings {
                public_per_second: number("NIEMYET_RATE_PUBLIC", 30, 0, 1_000_000)? as u32,
                token_per_second: number("NIEMYET_RATE_TOKEN", 60, 0, 1_000_000)? as u32,
                exempt: addresses("NIEMYET_RATE_EXEMPT", get("NIEMYET_RATE_EXEMPT"))?,
                trusted_proxies: addresses(
                    "NIEMYET_TRUSTED_PROXIES",
                    get("NIEMYET_TRUSTED_PROXIES"),
                )?,
            },
            webhooks: WebhookSettings {
                key: match get("NIEMYET_WEBHOOKS_KEY") {
                    None => None,
                    Some(k) => {
                        use base64::Engine;
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(k.as_bytes())
                            .ok()
                            .and_then(|b| <[u8; 32]>::try_from(b).ok());
                        Some(bytes.ok_or_else(|| {
                            ConfigError(
                                "NIEMYET_WEBHOOKS_KEY must be the base64 of 32 bytes \
                                 (e.g. `openssl rand -base64 32`)"
                                    .into(),
                            )
                        })?)
                    }
                },
                allow_private: match get("NIEMYET_WEBHOOKS_ALLOW_PRIVATE").as_deref() {
                    None | Some("false") | Some("0") => false,
                    Some("true") | Some("1") => true,
                    Some(other) => {
                        return Err(ConfigError(format!(
                            "NIEMYET_WEBHOOKS_ALLOW_PRIVATE must be true or false, not `{other}`"
                        )));
                    }
                },
                retry_scale: match get("NIEMYET_WEBHOOKS_RETRY_SCALE") {
                    None => 1.0,
                    Some(v) => v
                        .parse::<f64>()
                        .ok()
                        .filter(|s| (0.0..=100.0).contains(s))
                        .ok_or_else(|| {
                            ConfigError(format!(
                                "NIEMYET_WEBHOOKS_RETRY_SCALE must be a number from 0 to 100, not `{v}`"
                            ))
                        })?,
                },
                timeout: Duration::from_secs(number("NIEMYET_WEBHOOKS_TIMEOUT_SECS", 15, 1, 300)?),
                deliver: match get("NIEMYET_WEBHOOKS_DELIVER").as_deref() {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(other) => {
                        return Err(ConfigError(format!(
                            "NIEMYET_WEBHOOKS_DELIVER must be true or false, not `{other}`"
                        )));
                    }
                },
            },
            clock: crate::clock::Clock::System,
            metrics_token: match get("NIEMYET_METRICS_TOKEN") {
                Some(t) if t.trim().chars().count() < 16 => {
                    return Err(ConfigError(
                        "NIEMYET_METRICS_TOKEN must be at least 16 characters".into(),
                    ));
                }
                Some(t) => Some(Secret::new(t.trim())),
                None => None,
            },
            seed,
            demo,
            log_format,
            cors_origins,
            request_timeout: Duration::from_secs(number(
                "NIEMYET_REQUEST_TIMEOUT_SECS",
                30,
                1,
                3600,
            )?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(move |key| {
            vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn defaults_are_a_local_sqlite_file_in_development() {
        let s = settings(&[]).expect("valid settings");
        assert_eq!(s.database.target, "data/niemyet.db");
        assert_eq!(s.bind, "127.0.0.1:8080");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.jwt.secret.expose(), DEV_JWT_SECRET);
        assert!(s.seed);
    }

    #[test]
    fn bad_values_are_named() {
        let err = settings(&[("NIEMYET_WORKERS", "lots")])
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("NIEMYET_WORKERS"), "{err}");
        assert!(settings(&[("NIEMYET_ENV", "staging")]).is_err());
        assert!(settings(&[("NIEMYET_JWT_ALGORITHM", "none")]).is_err());
    }

    #[test]
    fn cors_origins_are_exact_origins() {
        let s = settings(&[(
            "NIEMYET_CORS_ORIGINS",
            "https://dichvucong.gialai.gov.vn, http://localhost:3000",
        )])
        .expect("valid settings");
        assert_eq!(
            s.cors_origins,
            ["https://dichvucong.gialai.gov.vn", "http://localhost:3000"]
        );
        for bad in [
            "*",
            "dichvucong.gov.vn",
            "https://portal.gov.vn/",
            "https://a.vn/x",
        ] {
            let err = settings(&[("NIEMYET_CORS_ORIGINS", bad)])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("NIEMYET_CORS_ORIGINS"), "{bad}: {err}");
        }
        assert!(settings(&[]).is_ok_and(|s| s.cors_origins.is_empty()));
    }

    #[test]
    fn secrets_do_not_print() {
        let s = settings(&[("NIEMYET_JWT_SECRET", "very-secret-value")]).expect("valid settings");
        assert!(!format!("{s:?}").contains("very-secret-value"));
    }
}
