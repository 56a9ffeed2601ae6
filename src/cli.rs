//! Command line: `serve` (the default), `migrate`, `import-units`, `import-lineage`,
//! `import-catalogue`,
//! `generate`, `load-postings`, `token`, `openapi`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use clap::{Parser, Subcommand};

use crate::auth::{JwtKeys, Role, parse_ttl};
use crate::config::Settings;
use crate::db;
use crate::services::catalogue::{ImportOptions, import_catalogue};
use crate::services::units::import_units;
use crate::services::write::Actor;
use crate::services::{ServiceError, bulk, gunzip_limited, is_gzip};

/// Shown after every `--help`: the settings and what the exit status means.
const ENVIRONMENT: &str = "\
Settings come from the environment:
  DATABASE_URL                  postgres://… for PostgreSQL, else an SQLite file [data/niemyet.db]
  NIEMYET_BIND                  address to listen on [127.0.0.1:8080]
  NIEMYET_ENV                   development or production [development]
  NIEMYET_JWT_ALGORITHM         HS256, RS256 or EdDSA [HS256]
  NIEMYET_JWT_SECRET            HS256 secret (32 bytes or more in production)
  NIEMYET_JWT_PUBLIC_KEY_FILE   PEM public key (RS256, EdDSA)
  NIEMYET_JWT_PRIVATE_KEY_FILE  PEM private key, for `token` with RS256 or EdDSA
  NIEMYET_JWT_ISSUER, NIEMYET_JWT_AUDIENCE  required iss and aud [niemyet, niemyet-api]
  NIEMYET_WORKERS, NIEMYET_DB_POOL_SIZE, NIEMYET_DB_TIMEOUT_SECS  threads, connections, wait
  NIEMYET_HEAVY_REPORTS, NIEMYET_HEAVY_WAIT_SECS  national reports at once [2], their wait [20]
  NIEMYET_MAX_IMPORTS           catalogue imports at once [2]
  NIEMYET_RATE_PUBLIC, NIEMYET_RATE_TOKEN  requests/s per address, per token [30, 60; 0: none]
  NIEMYET_RATE_EXEMPT, NIEMYET_TRUSTED_PROXIES  addresses never limited; proxies believed
  NIEMYET_METRICS_TOKEN         bearer token of the Prometheus scraper for /metrics
  NIEMYET_SEED, NIEMYET_DEMO    load the bundled data, the demo, into an empty database
  NIEMYET_CORS_ORIGINS, NIEMYET_REQUEST_TIMEOUT_SECS, NIEMYET_LOG_FORMAT, RUST_LOG
The README has the full table.

Exit status: 0 done; 1 the command failed (the message says why); 2 wrong usage or settings.";

#[derive(Debug, Parser)]
#[command(
    name = "niemyet",
    version,
    about = "Administrative procedure catalogue and posting service",
    after_help = ENVIRONMENT
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (migrates and seeds an empty database first).
    #[command(after_help = ENVIRONMENT)]
    Serve,
    /// Apply pending migrations and exit.
    #[command(after_help = ENVIRONMENT)]
    Migrate,
    /// Load administrative units from a CSV file.
    #[command(after_help = ENVIRONMENT)]
    ImportUnits {
        /// CSV, UTF-8, with the header `code,name,division_type,level,parent_code`
        /// (as `data/units-2025.csv`).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Date the units take effect.
        #[arg(long, default_value = "2025-07-01")]
        valid_from: NaiveDate,
    },
    /// Load the 2025 old→new conversion table of administrative units (retired units and their
    /// lineage), checked against the current units; problems are reported by line.
    #[command(after_help = ENVIRONMENT)]
    ImportLineage {
        /// The statistics office's table as CSV (as `data/unit-lineage-2025-nso.csv.gz`),
        /// gzip-compressed or not.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Check and report only; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Import catalogue records as one import decision.
    #[command(after_help = ENVIRONMENT)]
    ImportCatalogue {
        /// The national portal's records, one JSON object a line (as
        /// `data/procedures.jsonl.gz`), gzip-compressed or not.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Date the imported versions take effect.
        #[arg(long, default_value = "2025-07-01")]
        effective_on: NaiveDate,
        /// Report what would change and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Record benchmark decisions and write every commune's generated postings as CSV
    /// (deterministic for a seed; see `scripts/bench.sh`).
    #[command(after_help = ENVIRONMENT)]
    Generate {
        /// Where to write the postings CSV.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Only these provinces' communes, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        provinces: Vec<String>,
        /// The date the data describes (default today in Vietnam).
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Load postings from a CSV file (unit_code,procedure_code,channel,decision_number,posted_on
    /// [,evidence_url,note]) in one transaction: all lines or none. Afterwards, every commune's
    /// summary for today is computed and stored, so that the first national report after the
    /// load does not have to read every posting.
    #[command(after_help = ENVIRONMENT)]
    LoadPostings {
        /// CSV, UTF-8, comma-separated, with that header; dates as YYYY-MM-DD; the channel
        /// `counter` or `portal`.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Leave the summaries to the first report that needs them.
        #[arg(long)]
        no_summaries: bool,
        /// Check every line, and every clash with the postings already current, but write
        /// nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a signed token for development and bootstrap.
    #[command(after_help = ENVIRONMENT)]
    Token {
        #[arg(long, value_enum)]
        role: Role,
        /// Commune code for an officer (required); province code for an auditor of a province,
        /// none for a national auditor; none for an editor or an admin. Checked against the
        /// database when there is one.
        #[arg(long)]
        unit: Option<String>,
        /// Lifetime: 8h, 30m, 2d or seconds.
        #[arg(long, default_value = "8h")]
        ttl: String,
        /// Subject (who the token stands for).
        #[arg(long, default_value = "dev")]
        sub: String,
    },
    /// Print the OpenAPI document.
    #[command(after_help = ENVIRONMENT)]
    Openapi,
}

/// Runs a command that is not `serve`.
pub fn run_command(command: Command, settings: &Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => actix_web::rt::System::new().block_on(async move {
            let app = crate::startup::Application::build(settings.clone()).await?;
            app.run_until_stopped().await?;
            Ok(())
        }),
        Command::Openapi => write_out(crate::openapi::spec_json().as_bytes()),
        Command::Token {
            role,
            unit,
            ttl,
            sub,
        } => {
            let keys = JwtKeys::from_settings(&settings.jwt, settings.environment)?;
            let ttl = parse_ttl(&ttl).map_err(|e| anyhow::anyhow!(e))?;
            check_token_unit(settings, role, unit.as_deref())?;
            let token = keys.mint(&sub, role, unit.as_deref(), ttl)?;
            write_out(format!("{token}\n").as_bytes())
        }
        Command::Generate {
            out,
            seed,
            provinces,
            as_of,
        } => {
            let started = Instant::now();
            let pool = db::build_pool(&settings.database, &settings.pool)?;
            crate::startup::prepare_database(
                &pool,
                crate::startup::SeedOptions {
                    data: true,
                    demo: false,
                },
            )?;
            let mut conn = db::get_conn(&pool)?;
            let file = std::fs::File::create(&out)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", out.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            let options = crate::services::generate::GenerateOptions {
                seed,
                provinces,
                as_of: as_of.unwrap_or_else(crate::domain::calendar::today_in_vietnam),
            };
            let summary = crate::services::generate::generate(&mut conn, &options, &mut writer)
                .map_err(describe)?;
            std::io::Write::flush(&mut writer)?;
            eprintln!(
                "generated: {} decisions recorded ({} procedures amended, {} abolished); {} postings of {} communes written to {} in {:.2}s",
                summary.decisions_recorded,
                summary.amended,
                summary.abolished,
                summary.rows,
                summary.communes,
                out.display(),
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::LoadPostings {
            file,
            no_summaries,
            dry_run,
        } => {
            let started = Instant::now();
            let data = read_text(&file)?;
            let pool = db::build_pool(&settings.database, &settings.pool)?;
            let mut conn = db::get_conn(&pool)?;
            db::run_migrations(&mut conn)?;
            let communes = crate::repo::units::communes_of(&mut conn, None)?
                .into_iter()
                .map(|u| u.code)
                .collect();
            let today = crate::domain::calendar::today_in_vietnam();
            let cache = crate::cache::ReportCache::new(
                0,
                crate::cache::counters::Counters::new(),
                crate::telemetry::metrics::Metrics::new(),
            );
            if dry_run {
                let checked = bulk::check_postings(&data, &communes, today).map_err(describe)?;
                let clashes = bulk::clashes(&mut conn, &checked).map_err(describe)?;
                let catalogue = cache.current_catalogue(&mut conn)?;
                print_warnings(&bulk::warnings(&checked.referenced, &catalogue.index));
                if !clashes.is_empty() {
                    return Err(describe(ServiceError::Conflict(format!(
                        "{} line{} clash with current postings, and the load would be refused:\n{}",
                        clashes.len(),
                        if clashes.len() == 1 { "" } else { "s" },
                        clashes
                            .iter()
                            .map(|e| format!("{}: {}", e.field, e.message))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ))));
                }
                eprintln!(
                    "checked {} postings in {:.2}s: every line is good and none clashes with \
                     the postings already current; nothing was written",
                    checked.rows,
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            let ready = started.elapsed().as_secs_f64();
            let lines = data.lines().count().saturating_sub(1) as u64;
            let bar = progress_bar(lines, "postings");
            let summary = bulk::load_postings(
                &mut conn,
                &data,
                &communes,
                today,
                &Actor::system(),
                &mut |n| {
                    if let Some(bar) = &bar {
                        bar.set_position(n);
                    }
                },
            );
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let summary = summary.map_err(describe)?.without_cache();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "loaded {} postings of {} communes in {:.2}s ({:.0} rows/s; reading {:.2}s, \
                 writing {:.2}s while checking {:.2}s, references and indexes {:.2}s, \
                 commit {:.2}s, the rest of the transaction {:.2}s)",
                summary.rows,
                summary.communes,
                secs,
                summary.rows as f64 / secs,
                ready,
                summary.write_secs,
                summary.check_secs,
                summary.index_secs,
                summary.commit_secs,
                summary.other_secs,
            );
            let catalogue = cache.current_catalogue(&mut conn)?;
            print_warnings(&bulk::warnings(&summary.referenced, &catalogue.index));
            if !no_summaries {
                let started = Instant::now();
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                let fanout =
                    crate::db::Fanout::new(pool.clone(), threads.min(4), cache.metrics().clone());
                crate::services::reports::national_report(&fanout, &cache, today)
                    .map_err(describe)?;
                eprintln!(
                    "stored the summaries of every commune for {today} in {:.2}s",
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Command::Migrate => {
            let pool = db::build_pool(&settings.database, &settings.pool)?;
            let mut conn = db::get_conn(&pool)?;
            let applied = db::run_migrations(&mut conn)?;
            eprintln!(
                "{applied} migration(s) applied to {}",
                settings.database.redacted()
            );
            Ok(())
        }
        Command::ImportUnits { file, valid_from } => {
            let started = Instant::now();
            let data = read_text(&file)?;
            let pool = db::build_pool(&settings.database, &settings.pool)?;
            let mut conn = db::get_conn(&pool)?;
            db::run_migrations(&mut conn)?;
            let summary = import_units(&mut conn, &data, valid_from, &Actor::system())
                .map_err(describe)?
                .without_cache();
            eprintln!(
                "units: {} rows, {} inserted, {} updated in {:.2}s",
                summary.rows,
                summary.inserted,
                summary.updated,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::ImportLineage { file, dry_run } => {
            let started = Instant::now();
            let raw = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let raw = if is_gzip(&raw) {
                gunzip_limited(&raw, crate::seed::MAX_CATALOGUE_BYTES)?
            } else {
                raw
            };
            let data = String::from_utf8(raw)
                .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text", file.display()))?;
            let pool = db::build_pool(&settings.database, &settings.pool)?;
            let mut conn = db::get_conn(&pool)?;
            db::run_migrations(&mut conn)?;
            let parsed = crate::services::lineage::check(&mut conn, &data).map_err(describe)?;
            // Every problem on standard output (safe to pipe into `head`), the summary below.
            let mut listing = String::new();
            for p in &parsed.problems {
                let how = if p.resolved { "resolved" } else { "ERROR" };
                listing.push_str(&format!(
                    "line {}: {} ({how}): {}\n",
                    p.line, p.kind, p.message
                ));
            }
            write_out(listing.as_bytes())?;
            let blocking = parsed.blocking().count();
            if dry_run || blocking > 0 {
                eprintln!(
                    "lineage: {} provinces, {} districts, {} communes, {} edges; {} problem(s), {blocking} blocking; nothing written",
                    parsed.count("province"),
                    parsed.count("district"),
                    parsed.count("commune"),
                    parsed.edges.len(),
                    parsed.problems.len(),
                );
                return if blocking > 0 {
                    Err(anyhow::anyhow!("{blocking} row(s) cannot be loaded"))
                } else {
                    Ok(())
                };
            }
            let summary =
                crate::services::lineage::import_lineage(&mut conn, &data, &Actor::system())
                    .map_err(describe)?
                    .without_cache();
            eprintln!(
                "lineage {}: {} provinces, {} districts, {} communes, {} edges, {} problem(s) resolved; {} in {:.2}s",
                summary.source_sha256,
                summary.provinces,
                summary.districts,
                summary.communes,
                summary.edges,
                summary.problems.len(),
                if summary.unchanged {
                    "already loaded, nothing written"
                } else {
                    "loaded"
                },
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::ImportCatalogue {
            file,
            effective_on,
            dry_run,
        } => {
            let started = Instant::now();
            let raw = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let data = if is_gzip(&raw) {
                gunzip_limited(&raw, crate::seed::MAX_CATALOGUE_BYTES)?
            } else {
                raw
            };
            let pool = db::build_pool(&settings.database, &settings.pool)?;
            let mut conn = db::get_conn(&pool)?;
            db::run_migrations(&mut conn)?;
            let total = data
                .split(|b| *b == b'\n')
                .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
                .count();
            let bar = progress_bar(total as u64, "records");
            let options = ImportOptions {
                effective_on,
                dry_run,
                source: file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                if_match: None,
            };
            let mut progress = |n: u64| {
                if let Some(bar) = &bar {
                    bar.set_position(n);
                }
            };
            let summary =
                import_catalogue(&mut conn, &data, &options, &Actor::system(), &mut progress)
                    .map_err(describe)?
                    .without_cache();
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            for p in summary.problems.iter().take(20) {
                eprintln!("line {}: {}", p.line, p.message);
            }
            if summary.problems.len() > 20 {
                eprintln!("… and {} more problems", summary.problems.len() - 20);
            }
            eprintln!(
                "catalogue{}: {} lines, {} created, {} amended, {} unchanged, {} skipped, {} sectors created in {:.2}s",
                if dry_run { " (dry run)" } else { "" },
                summary.lines,
                summary.created,
                summary.amended,
                summary.unchanged,
                summary.skipped,
                summary.sectors_created,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// Writes to standard output; a reader that stops early (`niemyet openapi | head`) is no error.
fn write_out(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// A text file, with what to do when it is not UTF-8.
fn read_text(file: &std::path::Path) -> anyhow::Result<String> {
    let bytes =
        std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{} is not UTF-8 text (a byte at offset {} is not): save it as \"CSV UTF-8\"",
            file.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

/// A progress bar on a terminal; nothing when the output goes elsewhere.
fn progress_bar(total: u64, what: &str) -> Option<indicatif::ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {what} {{elapsed}}"
        )) {
            bar.set_style(style);
        }
        bar
    })
}

/// Warnings about a file's lines, twenty at most.
fn print_warnings(warnings: &[String]) {
    for w in warnings.iter().take(20) {
        eprintln!("warning: {w}");
    }
    if warnings.len() > 20 {
        eprintln!("… and {} more warnings", warnings.len() - 20);
    }
}

/// An officer's token names an existing commune, an auditor's a province or nothing; the unit is
/// checked against the database when there is one (an SQLite file that exists, a PostgreSQL
/// server that answers).
fn check_token_unit(settings: &Settings, role: Role, unit: Option<&str>) -> anyhow::Result<()> {
    let expected = match (role, unit) {
        (Role::Officer, None) => anyhow::bail!(
            "an officer's token names the commune it works for: add --unit <commune code>, \
             e.g. --unit 23764 (GET /api/v1/units?level=commune lists them)"
        ),
        (Role::Admin | Role::Editor, Some(_)) => anyhow::bail!(
            "an {}'s token covers the whole country: leave out --unit",
            role.as_str()
        ),
        (_, None) => return Ok(()),
        (Role::Officer, Some(_)) => "commune",
        (_, Some(_)) => "province",
    };
    let code = unit.unwrap_or_default();
    if settings.database.backend == db::Backend::Sqlite
        && !std::path::Path::new(&settings.database.target).exists()
    {
        eprintln!(
            "note: no database at {}, so unit {code} was not checked",
            settings.database.target
        );
        return Ok(());
    }
    let found = db::connect_once(&settings.database)
        .and_then(|mut conn| Ok(crate::repo::units::get(&mut conn, code)?));
    match found {
        Ok(Some(u)) if u.level == expected && u.valid_to.is_none() => Ok(()),
        Ok(Some(u)) => anyhow::bail!(
            "{code} is {} ({}), not a {expected} in force: an {}'s --unit is a {expected} code",
            u.name,
            u.level,
            role.as_str()
        ),
        Ok(None) => anyhow::bail!(
            "there is no unit {code}: an {}'s --unit is a {expected} code \
             (GET /api/v1/units?level={expected} lists them)",
            role.as_str()
        ),
        Err(e) => {
            eprintln!("note: could not read the database ({e:#}), so unit {code} was not checked");
            Ok(())
        }
    }
}

fn describe(e: ServiceError) -> anyhow::Error {
    match e {
        ServiceError::Validation(errors) => {
            let lines: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            anyhow::anyhow!("invalid input:\n{}", lines.join("\n"))
        }
        ServiceError::Internal(cause) => cause,
        other => anyhow::anyhow!("{other}"),
    }
}
