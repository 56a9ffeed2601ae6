//! Bulk loading of postings from CSV: every line is checked first, then the whole file is written
//! in one transaction (COPY on PostgreSQL, multi-row INSERTs on SQLite), so a bad line or a crash
//! leaves nothing half-written.
//!
//! The file has a header and the columns `unit_code,procedure_code,channel,decision_number,
//! posted_on`, optionally followed by `evidence_url,note`. Each line is a posting that is up (not
//! removed); a commune may not already have a current posting of the same procedure and channel.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Identity;
use crate::db::schema::postings;
use crate::db::{DbConnection, WriteLock, write_tx};
use crate::domain::codes::{ProcedureCode, normalize_decision_number};
use crate::domain::gaps::PostingChannel;
use crate::error::{ApiError, FieldError};
use crate::repo::audit::{self, AuditEvent};

/// At most this many problems are reported.
const MAX_PROBLEMS: usize = 100;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkSummary {
    pub rows: usize,
    pub communes: usize,
    /// Seconds spent writing the rows, then checking references and building the indexes.
    pub write_secs: f64,
    pub index_secs: f64,
}

/// Splits one CSV line into fields (RFC 4180 quotes; no line breaks inside a field).
pub fn split_csv_line(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if at_start => {
                quoted = true;
                at_start = false;
            }
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => {
                quoted = false;
                if !matches!(chars.peek(), None | Some(',')) {
                    return Err("text after a closing quote");
                }
            }
            ('"', false) => return Err("a quote inside an unquoted field"),
            (',', false) => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            (c, _) => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("an unterminated quote");
    }
    fields.push(field);
    Ok(fields)
}

const COLUMNS: [&str; 5] = [
    "unit_code",
    "procedure_code",
    "channel",
    "decision_number",
    "posted_on",
];

/// One checked line; codes and numbers are indexes into [`Parsed`]'s tables.
#[derive(Debug, Clone)]
pub struct ParsedPosting {
    pub unit: u32,
    pub code: u32,
    pub channel: PostingChannel,
    pub decision: u32,
    pub posted_on: NaiveDate,
    /// Evidence URL and note, when the line has either.
    pub extra: Option<Box<(Option<String>, Option<String>)>>,
}

/// A checked file: its lines, and the distinct communes, procedure codes and decision numbers
/// (as written and normalised) they refer to.
#[derive(Debug, Default)]
pub struct Parsed {
    pub postings: Vec<ParsedPosting>,
    pub units: Vec<String>,
    pub codes: Vec<ProcedureCode>,
    pub decisions: Vec<(String, String)>,
}

/// Up to 8 fields of a line. A line without quotes is split without allocating.
enum Fields<'a> {
    Plain(Vec<&'a str>),
    Quoted(Vec<String>),
}

impl Fields<'_> {
    fn len(&self) -> usize {
        match self {
            Fields::Plain(v) => v.len(),
            Fields::Quoted(v) => v.len(),
        }
    }

    fn get(&self, i: usize) -> Option<&str> {
        match self {
            Fields::Plain(v) => v.get(i).copied(),
            Fields::Quoted(v) => v.get(i).map(String::as_str),
        }
    }
}

/// Interns `key` in `table` (and `list`), checking a new one with `check`.
fn intern<T>(
    index: &mut HashMap<String, u32>,
    list: &mut Vec<T>,
    key: &str,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<u32, String> {
    if let Some(i) = index.get(key) {
        return Ok(*i);
    }
    let value = check(key)?;
    let i = list.len() as u32;
    list.push(value);
    index.insert(key.to_owned(), i);
    Ok(i)
}

/// Parses and checks the whole file against the known communes; returns the lines to write, or
/// every problem (up to 100) with its line number.
pub fn parse_postings(
    data: &str,
    communes: &HashSet<String>,
    today: NaiveDate,
) -> Result<Parsed, ApiError> {
    let mut lines = data.lines().enumerate();
    let header = lines
        .next()
        .map(|(_, h)| h.trim_start_matches('\u{feff}').trim_end_matches('\r'))
        .unwrap_or_default();
    let header = split_csv_line(header).unwrap_or_default();
    let optional = &["evidence_url", "note"][..];
    if header.len() < COLUMNS.len()
        || header[..COLUMNS.len()] != COLUMNS
        || header[COLUMNS.len()..]
            .iter()
            .zip(optional)
            .any(|(a, b)| a != b)
        || header.len() > COLUMNS.len() + optional.len()
    {
        return Err(ApiError::validation_one(
            "line 1",
            format!(
                "the header must be `{}` (then optionally `evidence_url,note`)",
                COLUMNS.join(",")
            ),
        ));
    }
    let width = header.len();
    let mut problems: Vec<FieldError> = Vec::new();
    let mut parsed = Parsed::default();
    let (mut unit_index, mut code_index, mut decision_index) =
        (HashMap::new(), HashMap::new(), HashMap::new());
    let mut dates: HashMap<String, u32> = HashMap::new();
    let mut date_list: Vec<NaiveDate> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    for (n, raw) in lines {
        let raw = raw.trim_end_matches('\r');
        if raw.is_empty() {
            continue;
        }
        let mut problem = |message: String| {
            if problems.len() < MAX_PROBLEMS {
                problems.push(FieldError::new(format!("line {}", n + 1), message));
            }
        };
        let fields = if raw.contains('"') {
            match split_csv_line(raw) {
                Ok(f) => Fields::Quoted(f),
                Err(e) => {
                    problem(e.to_owned());
                    continue;
                }
            }
        } else {
            Fields::Plain(raw.split(',').collect())
        };
        if fields.len() != width {
            problem(format!("{} fields; the header has {width}", fields.len()));
            continue;
        }
        let field = |i: usize| fields.get(i).unwrap_or_default().trim();
        let checked = (|| -> Result<ParsedPosting, String> {
            let unit = intern(&mut unit_index, &mut parsed.units, field(0), |u| {
                if communes.contains(u) {
                    Ok(u.to_owned())
                } else {
                    Err(format!("`{u}` is not a commune"))
                }
            })?;
            let code = intern(&mut code_index, &mut parsed.codes, field(1), |c| {
                ProcedureCode::parse(c).map_err(|e| e.0)
            })?;
            let channel = PostingChannel::parse(field(2))
                .ok_or_else(|| "the channel must be `counter` or `portal`".to_owned())?;
            let decision = intern(&mut decision_index, &mut parsed.decisions, field(3), |d| {
                let written = crate::domain::text::nfc(d);
                if written.is_empty()
                    || written.chars().count() > 100
                    || written.chars().any(char::is_control)
                {
                    return Err("the decision number must be 1 to 100 characters".into());
                }
                let norm = normalize_decision_number(&written);
                Ok((written, norm))
            })?;
            let date = intern(&mut dates, &mut date_list, field(4), |d| {
                d.parse::<NaiveDate>()
                    .ok()
                    .filter(|d| crate::domain::calendar::date_in_range(*d) && *d <= today)
                    .ok_or_else(|| format!("`{d}` is not a date between 1900 and today"))
            })?;
            let optional_text = |i: usize| -> Result<Option<String>, String> {
                match Some(field(i)).filter(|s| !s.is_empty()) {
                    None => Ok(None),
                    Some(s)
                        if s.chars().count() <= 2000 && !crate::domain::text::has_control(s) =>
                    {
                        Ok(Some(crate::domain::text::nfc(s)))
                    }
                    Some(_) => Err(format!(
                        "{} is too long or has control characters",
                        header[i]
                    )),
                }
            };
            let (evidence_url, note) = (optional_text(5)?, optional_text(6)?);
            let key = (u64::from(unit) << 33) | (u64::from(code) << 1) | channel as u64;
            if !seen.insert(key) {
                return Err(format!(
                    "{} {} {} appears twice in the file",
                    field(0),
                    field(1),
                    channel.as_str()
                ));
            }
            Ok(ParsedPosting {
                unit,
                code,
                channel,
                decision,
                posted_on: date_list[date as usize],
                extra: (evidence_url.is_some() || note.is_some())
                    .then(|| Box::new((evidence_url, note))),
            })
        })();
        match checked {
            Ok(p) => parsed.postings.push(p),
            Err(message) => problem(message),
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(ApiError::Validation(problems))
    }
}

/// A posting row borrowing its text, so that millions of rows are bound without copying.
#[derive(Insertable)]
#[diesel(table_name = postings)]
#[diesel(treat_none_as_default_value = false)]
struct NewPosting<'a> {
    id: &'a str,
    unit_code: &'a str,
    procedure_code: &'a str,
    channel: &'a str,
    decision_number: &'a str,
    decision_number_norm: &'a str,
    posted_on: NaiveDate,
    removed_on: Option<NaiveDate>,
    evidence_url: Option<&'a str>,
    photo_ref: Option<&'a str>,
    note: Option<&'a str>,
    recorded_by: &'a str,
    recorded_at: chrono::NaiveDateTime,
}

/// The postings table's secondary indexes, exactly as the migrations create them.
const DROP_INDEXES: &str = "DROP INDEX postings_current_idx; DROP INDEX postings_unit_idx;";
const CREATE_INDEXES: &str = "CREATE UNIQUE INDEX postings_current_idx ON postings \
     (unit_code, procedure_code, channel) WHERE removed_on IS NULL; \
     CREATE INDEX postings_unit_idx ON postings (unit_code, procedure_code, removed_on, posted_on);";

/// Inserts the rows of one JSON array of arrays (SQLite), the way diesel would store them: dates
/// as `YYYY-MM-DD` text.
const SQLITE_INSERT_JSON: &str = "INSERT INTO postings (id, unit_code, procedure_code, channel, \
     decision_number, decision_number_norm, posted_on, removed_on, evidence_url, photo_ref, note, \
     recorded_by, recorded_at) \
     SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, NULL, \
     value->>7, NULL, value->>8, ?, ? FROM json_each(?)";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Appends one CSV field and its comma: quoted text, or nothing for NULL.
fn csv_field(line: &mut String, text: Option<&str>) {
    if let Some(t) = text {
        line.push('"');
        for c in t.chars() {
            if c == '"' {
                line.push('"');
            }
            line.push(c);
        }
        line.push('"');
    }
    line.push(',');
}

/// Rows per COPY on PostgreSQL and per progress report.
const CHUNK: usize = 50_000;

/// Writes the parsed postings in one transaction. 409 if a commune already has a current
/// posting of a procedure and channel the file holds (nothing is written then).
pub fn load_postings(
    conn: &mut DbConnection,
    parsed: &Parsed,
    actor: &Identity,
    progress: &mut dyn FnMut(u64),
) -> Result<BulkSummary, ApiError> {
    let communes: BTreeSet<u32> = parsed.postings.iter().map(|p| p.unit).collect();
    let recorded_at = crate::repo::now();
    // A large page cache keeps the indexes' pages in memory during the load (SQLite's default is
    // 2 MiB); it is set back afterwards.
    // A load larger than the table is faster with the indexes built afterwards (by sorting)
    // and the commune references checked once, as a set, than both kept up row by row. All of
    // it happens inside the load's transaction, so a failure or a crash leaves the table, its
    // indexes and its constraints as they were.
    let rebuild = postings::table.count().get_result::<i64>(conn)? < parsed.postings.len() as i64;
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    if sqlite {
        // SQLite ignores `foreign_keys` inside a transaction: switch it off before, check the
        // whole table before committing, and switch it back on after.
        conn.batch_execute("PRAGMA cache_size = -262144")?;
        if rebuild {
            conn.batch_execute("PRAGMA foreign_keys = OFF")?;
        }
    }
    let result = write_tx(conn, WriteLock::Bulk, |conn| {
        if rebuild {
            conn.batch_execute(DROP_INDEXES)?;
            if let DbConnection::Pg(_) = conn {
                conn.batch_execute(
                    "ALTER TABLE postings DROP CONSTRAINT postings_pkey; \
                     ALTER TABLE postings DROP CONSTRAINT postings_unit_code_fkey; \
                     SET LOCAL maintenance_work_mem = '256MB'",
                )?;
            }
        }
        // Ids: one random version-7 UUID for the load, counting up in its low bits. They sort in
        // load order and cost no system call each.
        let started = std::time::Instant::now();
        let base = uuid::Uuid::now_v7().as_u128() & !((1u128 << 40) - 1);
        let mut next_id = 0u128;
        let mut written = 0;
        let mut ids: Vec<[u8; 36]> = Vec::with_capacity(CHUNK);
        for chunk in parsed.postings.chunks(CHUNK) {
            ids.clear();
            for _ in chunk {
                let mut buf = [0u8; 36];
                uuid::Uuid::from_u128(base + next_id)
                    .hyphenated()
                    .encode_lower(&mut buf);
                next_id += 1;
                ids.push(buf);
            }
            let rows: Vec<NewPosting<'_>> = chunk
                .iter()
                .zip(&ids)
                .map(|(p, id)| {
                    let (written, norm) = &parsed.decisions[p.decision as usize];
                    let extra = p.extra.as_deref();
                    NewPosting {
                        id: std::str::from_utf8(id).unwrap_or_default(),
                        unit_code: &parsed.units[p.unit as usize],
                        procedure_code: parsed.codes[p.code as usize].as_str(),
                        channel: p.channel.as_str(),
                        decision_number: written,
                        decision_number_norm: norm,
                        posted_on: p.posted_on,
                        removed_on: None,
                        evidence_url: extra.and_then(|e| e.0.as_deref()),
                        photo_ref: None,
                        note: extra.and_then(|e| e.1.as_deref()),
                        recorded_by: &actor.sub,
                        recorded_at,
                    }
                })
                .collect();
            match conn {
                DbConnection::Pg(c) => {
                    // CSV text COPY: quoted text, empty unquoted fields for NULL.
                    let stamp = recorded_at.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
                    written += diesel::copy_from(postings::table)
                        .from_raw_data(postings::table, |out| {
                            let mut line = String::with_capacity(256);
                            for r in &rows {
                                line.clear();
                                for text in [
                                    Some(r.id),
                                    Some(r.unit_code),
                                    Some(r.procedure_code),
                                    Some(r.channel),
                                    Some(r.decision_number),
                                    Some(r.decision_number_norm),
                                ] {
                                    csv_field(&mut line, text);
                                }
                                line.push_str(&r.posted_on.format("%Y-%m-%d,,").to_string());
                                csv_field(&mut line, r.evidence_url);
                                line.push(',');
                                csv_field(&mut line, r.note);
                                csv_field(&mut line, Some(r.recorded_by));
                                line.push_str(&stamp);
                                line.push('\n');
                                out.write_all(line.as_bytes()).map_err(|e| {
                                    diesel::result::Error::SerializationError(Box::new(e))
                                })?;
                            }
                            diesel::QueryResult::Ok(())
                        })
                        .with_format(diesel::pg::CopyFormat::Csv)
                        .execute(c)
                        .map_err(conflict)?;
                }
                DbConnection::Sqlite(c) => {
                    // The chunk goes in as one JSON array that SQLite unpacks itself: binding
                    // millions of parameters one by one costs several times more.
                    let json = serde_json::to_string(
                        &rows
                            .iter()
                            .map(|r| {
                                (
                                    r.id,
                                    r.unit_code,
                                    r.procedure_code,
                                    r.channel,
                                    r.decision_number,
                                    r.decision_number_norm,
                                    r.posted_on.format("%Y-%m-%d").to_string(),
                                    r.evidence_url,
                                    r.note,
                                )
                            })
                            .collect::<Vec<_>>(),
                    )
                    .map_err(ApiError::internal)?;
                    written += diesel::sql_query(SQLITE_INSERT_JSON)
                        .bind::<diesel::sql_types::Text, _>(&actor.sub)
                        .bind::<diesel::sql_types::Timestamp, _>(recorded_at)
                        .bind::<diesel::sql_types::Text, _>(&json)
                        .execute(c)
                        .map_err(conflict)?;
                }
            }
            progress(written as u64);
        }
        let write_secs = started.elapsed().as_secs_f64();
        if rebuild {
            match conn {
                DbConnection::Pg(c) => c
                    .batch_execute(
                        "ALTER TABLE postings ADD CONSTRAINT postings_pkey PRIMARY KEY (id); \
                         ALTER TABLE postings ADD CONSTRAINT postings_unit_code_fkey \
                         FOREIGN KEY (unit_code) REFERENCES units (code)",
                    )
                    .map_err(conflict)?,
                DbConnection::Sqlite(c) => {
                    let broken: Count = diesel::sql_query(
                        "SELECT count(*) AS n FROM pragma_foreign_key_check('postings')",
                    )
                    .get_result(c)?;
                    if broken.n > 0 {
                        return Err(ApiError::Conflict(
                            "a posting names a commune that does not exist; nothing was loaded"
                                .into(),
                        ));
                    }
                }
            }
            conn.batch_execute(CREATE_INDEXES).map_err(conflict)?;
        }
        // Fresh statistics, or PostgreSQL's planner sees the table as it was before the load and
        // may read a commune's postings the slow way until autovacuum gets to it (SQLite keeps
        // no statistics unless asked).
        if let DbConnection::Pg(_) = conn {
            conn.batch_execute("ANALYZE postings")?;
        }
        let index_secs = started.elapsed().as_secs_f64() - write_secs;
        for unit in &communes {
            crate::repo::revisions::bump(conn, &parsed.units[*unit as usize])?;
        }
        audit::record(
            conn,
            AuditEvent {
                actor,
                action: "bulk_load",
                entity: "postings",
                entity_id: "*",
                unit: None,
                hash_before: None,
                hash_after: Some(format!("{written} rows, {} communes", communes.len())),
                request_id: None,
            },
        )?;
        Ok(BulkSummary {
            rows: written,
            communes: communes.len(),
            write_secs,
            index_secs,
        })
    });
    if sqlite {
        conn.batch_execute("PRAGMA cache_size = -8192; PRAGMA foreign_keys = ON")?;
    }
    result
}

fn conflict(e: diesel::result::Error) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => ApiError::Conflict(
            "a commune in the file already has a current posting of one of its procedures and \
             channels; nothing was loaded"
                .into(),
        ),
        other => other.into(),
    }
}
