//! Bulk loading of postings from CSV: every line is checked first, then the whole file is written
//! in one transaction (COPY on PostgreSQL, multi-row INSERTs on SQLite), so a bad line or a crash
//! leaves nothing half-written.
//!
//! The file has a header and the columns `unit_code,procedure_code,channel,decision_number,
//! posted_on`, optionally followed by `evidence_url,note`. Each line is a posting that is up (not
//! removed); a commune may not already have a current posting of the same procedure and channel.

use std::collections::{BTreeSet, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;

use crate::auth::Identity;
use crate::db::schema::postings;
use crate::db::{DbConnection, WriteLock, write_tx};
use crate::domain::codes::{ProcedureCode, normalize_decision_number};
use crate::domain::gaps::PostingChannel;
use crate::error::{ApiError, FieldError};
use crate::repo::audit::{self, AuditEvent};
use crate::repo::postings::PostingRow;

/// At most this many problems are reported.
const MAX_PROBLEMS: usize = 100;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkSummary {
    pub rows: usize,
    pub communes: usize,
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

/// Parses and checks the whole file against the known communes; returns the rows to write, or
/// every problem (up to 100) with its line number.
pub fn parse_postings(
    data: &str,
    communes: &HashSet<String>,
    today: NaiveDate,
    recorded_by: &str,
) -> Result<Vec<PostingRow>, ApiError> {
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
    let recorded_at = crate::repo::now();
    let mut problems: Vec<FieldError> = Vec::new();
    let mut rows = Vec::new();
    let mut seen: HashSet<(String, String, PostingChannel)> = HashSet::new();
    let mut problem = |line: usize, message: String| {
        if problems.len() < MAX_PROBLEMS {
            problems.push(FieldError::new(format!("line {}", line + 1), message));
        }
    };
    for (n, raw) in lines {
        let raw = raw.trim_end_matches('\r');
        if raw.is_empty() {
            continue;
        }
        let fields = match split_csv_line(raw) {
            Ok(f) if f.len() == width => f,
            Ok(f) => {
                problem(n, format!("{} fields; the header has {width}", f.len()));
                continue;
            }
            Err(e) => {
                problem(n, e.to_owned());
                continue;
            }
        };
        let unit = fields[0].trim();
        if !communes.contains(unit) {
            problem(n, format!("`{unit}` is not a commune"));
            continue;
        }
        let code = match ProcedureCode::parse(&fields[1]) {
            Ok(c) => c,
            Err(e) => {
                problem(n, e.0);
                continue;
            }
        };
        let Some(channel) = PostingChannel::parse(fields[2].trim()) else {
            problem(n, "the channel must be `counter` or `portal`".into());
            continue;
        };
        let decision = crate::domain::text::nfc(fields[3].trim());
        if decision.is_empty()
            || decision.chars().count() > 100
            || decision.chars().any(char::is_control)
        {
            problem(n, "the decision number must be 1 to 100 characters".into());
            continue;
        }
        let posted_on = match fields[4].trim().parse::<NaiveDate>() {
            Ok(d) if crate::domain::calendar::date_in_range(d) && d <= today => d,
            _ => {
                problem(
                    n,
                    format!("`{}` is not a date between 1900 and today", fields[4]),
                );
                continue;
            }
        };
        let optional_text = |i: usize, max: usize| -> Result<Option<String>, String> {
            match fields.get(i).map(|s| s.trim()).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) if s.chars().count() <= max && !crate::domain::text::has_control(s) => {
                    Ok(Some(crate::domain::text::nfc(s)))
                }
                Some(_) => Err(format!(
                    "{} is too long or has control characters",
                    header[i]
                )),
            }
        };
        let (evidence_url, note) = match (optional_text(5, 2000), optional_text(6, 2000)) {
            (Ok(e), Ok(n)) => (e, n),
            (Err(m), _) | (_, Err(m)) => {
                problem(n, m);
                continue;
            }
        };
        if !seen.insert((unit.to_owned(), code.as_str().to_owned(), channel)) {
            problem(
                n,
                format!(
                    "{unit} {code} {} appears twice in the file",
                    channel.as_str()
                ),
            );
            continue;
        }
        rows.push(PostingRow {
            id: uuid::Uuid::now_v7().to_string(),
            unit_code: unit.to_owned(),
            procedure_code: code.as_str().to_owned(),
            channel: channel.as_str().to_owned(),
            decision_number_norm: normalize_decision_number(&decision),
            decision_number: decision,
            posted_on,
            removed_on: None,
            evidence_url,
            photo_ref: None,
            note,
            recorded_by: recorded_by.to_owned(),
            recorded_at,
        });
    }
    if problems.is_empty() {
        Ok(rows)
    } else {
        Err(ApiError::Validation(problems))
    }
}

/// Rows per INSERT on SQLite: 13 parameters each, well under SQLite's limit of 32,766.
const SQLITE_CHUNK: usize = 2000;

/// Writes `rows` in one transaction. 409 if a commune already has a current posting of a
/// procedure and channel the file holds (nothing is written then).
pub fn load_postings(
    conn: &mut DbConnection,
    rows: &[PostingRow],
    actor: &Identity,
    progress: &mut dyn FnMut(u64),
) -> Result<BulkSummary, ApiError> {
    let communes: BTreeSet<&str> = rows.iter().map(|r| r.unit_code.as_str()).collect();
    write_tx(conn, WriteLock::Bulk, |conn| {
        let written = match conn {
            DbConnection::Pg(c) => {
                let mut n = 0;
                for chunk in rows.chunks(100_000) {
                    n += diesel::copy_from(postings::table)
                        .from_insertable(chunk)
                        .execute(c)
                        .map_err(conflict)?;
                    progress(n as u64);
                }
                n
            }
            DbConnection::Sqlite(c) => {
                let mut n = 0;
                for chunk in rows.chunks(SQLITE_CHUNK) {
                    n += diesel::insert_into(postings::table)
                        .values(chunk)
                        .execute(c)
                        .map_err(conflict)?;
                    progress(n as u64);
                }
                n
            }
        };
        for unit in &communes {
            crate::repo::revisions::bump(conn, unit)?;
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
        })
    })
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
