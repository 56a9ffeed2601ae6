//! Command line: `serve` (the default), `migrate`, `import-units`, `import-catalogue`,
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
use crate::services::{ServiceError, gunzip_limited, is_gzip};

#[derive(Debug, Parser)]
#[command(
    name = "niemyet",
    version,
    about = "Administrative procedure catalogue and posting service"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP service (migrates and seeds an empty database first).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Load administrative units from a CSV file (code,name,division_type,level,parent_code).
    ImportUnits {
        file: PathBuf,
        /// Date the units take effect.
        #[arg(long, default_value = "2025-07-01")]
        valid_from: NaiveDate,
    },
    /// Import catalogue records (JSONL, `.gz` accepted) as one import decision.
    ImportCatalogue {
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
    LoadPostings {
        file: PathBuf,
        /// Leave the summaries to the first report that needs them.
        #[arg(long)]
        no_summaries: bool,
        /// Check every line and report, but write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a signed token for development and bootstrap.
    Token {
        #[arg(long, value_enum)]
        role: Role,
        /// Commune code for an officer; province code (or none) for an auditor.
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
        Command::Openapi => {
            print!("{}", crate::openapi::spec_json());
            Ok(())
        }
        Command::Token {
            role,
            unit,
            ttl,
            sub,
        } => {
            let keys = JwtKeys::from_settings(&settings.jwt, settings.environment)?;
            let ttl = parse_ttl(&ttl).map_err(|e| anyhow::anyhow!(e))?;
            println!("{}", keys.mint(&sub, role, unit.as_deref(), ttl)?);
            Ok(())
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
            let data = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let pool = db::build_pool(&settings.database, &settings.pool)?;
            let mut conn = db::get_conn(&pool)?;
            db::run_migrations(&mut conn)?;
            let communes = crate::repo::units::communes_of(&mut conn, None)?
                .into_iter()
                .map(|u| u.code)
                .collect();
            let today = crate::domain::calendar::today_in_vietnam();
            if dry_run {
                let rows = crate::services::bulk::check_postings(&data, &communes, today)
                    .map_err(describe)?;
                eprintln!(
                    "checked {rows} postings in {:.2}s: every line is good; nothing was written",
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            let ready = started.elapsed().as_secs_f64();
            let summary = crate::services::bulk::load_postings(
                &mut conn,
                &data,
                &communes,
                today,
                &Actor::system(),
                &mut |_| {},
            )
            .map_err(describe)?
            .without_cache();
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
            if !no_summaries {
                let started = Instant::now();
                let cache = crate::cache::ReportCache::new(
                    0,
                    crate::cache::counters::Counters::new(),
                    crate::telemetry::metrics::Metrics::new(),
                );
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
            let data = std::fs::read_to_string(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
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
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new(total as u64);
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} records {elapsed}",
                ) {
                    bar.set_style(style);
                }
                bar
            });
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
