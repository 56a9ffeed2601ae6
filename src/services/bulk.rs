//! Bulk loading of postings from CSV, in one transaction (COPY on PostgreSQL, multi-row INSERTs on
//! SQLite), so that a bad line or a crash leaves nothing half-written.
//!
//! The file has a header and the columns `unit_code,procedure_code,channel,decision_number,
//! posted_on`, optionally followed by `evidence_url,note`. Each line is a posting that is up (not
//! removed); a commune may not already have a current posting of the same procedure and channel.
//!
//! Checking and writing overlap: one thread checks the lines and encodes them in chunks, in the
//! form the database takes them in, while the caller's thread writes each chunk as it comes. A
//! problem on any line stops the writing, and the transaction is rolled back once every line has
//! been checked, so the answer still lists every problem (up to 100) with its line number.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use chrono::{NaiveDate, NaiveDateTime};
use csv::StringRecord;
use serde::Serialize;

use super::ServiceError;
use super::write::{Actor, Audit, Counter, Guard, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::FieldError;
use crate::domain::codes::{ProcedureCode, clip, normalize_decision_number};
use crate::domain::gaps::{CatalogueIndex, PostingChannel};
use crate::repo::audit::Entity;
use crate::repo::bulk as repo;

/// The earliest posting date, as the API takes it.
fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or_default()
}

/// Why `raw` is not a posting date, with the fix when it is a date written another way (a
/// spreadsheet in Vietnamese settings writes day first: `03/07/2025` is 3 July 2025).
fn date_problem(raw: &str, today: NaiveDate) -> String {
    let parts: Vec<&str> = raw.split(['/', '.', '-']).collect();
    let numbers: Option<Vec<u32>> = parts.iter().map(|p| p.parse().ok()).collect();
    if let (3, Some(n)) = (parts.len(), numbers)
        && parts[2].len() == 4
        && let Some(day_first) = NaiveDate::from_ymd_opt(n[2] as i32, n[1], n[0])
    {
        return format!(
            "`{}` is not in the form YYYY-MM-DD; if it means {} (day first), write {day_first}",
            clip(raw),
            day_first.format("%-d/%-m/%Y")
        );
    }
    match raw.parse::<NaiveDate>() {
        Ok(d) if d > today => format!("`{}` is in the future", clip(raw)),
        Ok(_) => format!("`{}` is before 1900-01-01", clip(raw)),
        Err(_) => format!(
            "`{}` is not a date in the form YYYY-MM-DD between 1900-01-01 and today",
            clip(raw)
        ),
    }
}

/// Keeps `result`'s value, or notes its problem.
fn noted<T>(problems: &mut Vec<String>, result: Result<T, String>) -> Option<T> {
    result.map_err(|p| problems.push(p)).ok()
}

/// At most this many problems are reported.
const MAX_PROBLEMS: usize = 100;

/// Rows per chunk: per COPY on PostgreSQL, per INSERT on SQLite, and per progress report.
const CHUNK: usize = 50_000;

/// Encoded chunks waiting to be written; the checker stays at most this far ahead.
const QUEUE: usize = 2;

#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkSummary {
    pub rows: usize,
    pub communes: usize,
    /// What the lines referred to (for [`warnings`]).
    #[serde(skip)]
    pub referenced: Vec<Reference>,
    /// Seconds the checking thread was busy, not counting its waits for the writer (it runs
    /// while the rows are written).
    pub check_secs: f64,
    /// Seconds of the transaction outside the other phases: the write lock and dropping the
    /// indexes and constraints before the first row.
    pub other_secs: f64,
    /// Seconds spent writing the rows, then checking references and building the indexes.
    pub write_secs: f64,
    pub index_secs: f64,
    /// Seconds from the last index to the end of the commit: the revision counters, the audit
    /// entry, and the commit itself (on SQLite, mostly copying the write-ahead log into the
    /// database file).
    pub commit_secs: f64,
}

/// What a file's good lines refer to: a procedure with a decision number, on how many lines, the
/// first of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub code: String,
    pub decision: String,
    pub decision_norm: String,
    pub lines: usize,
    pub first_line: u64,
}

/// A file checked line by line, without writing it.
#[derive(Debug, Clone, Default)]
pub struct Checked {
    pub rows: usize,
    pub referenced: Vec<Reference>,
    units: Vec<String>,
    codes: Vec<String>,
    /// Each good line's (line, commune, procedure, channel), as indexes into the tables above.
    keys: Vec<(u64, u32, u32, PostingChannel)>,
}

const COLUMNS: [&str; 5] = [
    "unit_code",
    "procedure_code",
    "channel",
    "decision_number",
    "posted_on",
];
const OPTIONAL: [&str; 2] = ["evidence_url", "note"];

/// One checked line; codes and numbers are indexes into the [`Checker`]'s tables.
#[derive(Debug, Clone)]
struct ParsedPosting {
    unit: u32,
    code: u32,
    channel: PostingChannel,
    decision: u32,
    posted_on: NaiveDate,
    evidence_url: Option<String>,
    note: Option<String>,
}

/// Checks a file line by line against the known communes, interning the distinct communes,
/// procedure codes, decision numbers (as written and normalised) and dates it meets.
struct Checker<'a> {
    communes: &'a HashSet<String>,
    today: NaiveDate,
    header: Vec<String>,
    problems: Vec<FieldError>,
    units: Vec<String>,
    codes: Vec<ProcedureCode>,
    decisions: Vec<(String, String)>,
    dates: Vec<NaiveDate>,
    unit_index: HashMap<String, u32>,
    code_index: HashMap<String, u32>,
    decision_index: HashMap<String, u32>,
    date_index: HashMap<String, u32>,
    /// (commune, procedure, channel) keys met so far, to refuse a pair given twice.
    seen: HashSet<u64>,
    /// Lines per (procedure, decision) of the good lines, and the first of them.
    used: HashMap<(u32, u32), (usize, u64)>,
    /// With `keep_keys`, each good line's (line, commune, procedure, channel).
    keep_keys: bool,
    keys: Vec<(u64, u32, u32, PostingChannel)>,
}

impl<'a> Checker<'a> {
    /// Checks the header line; 422 if it is not the expected one.
    fn new(
        header: Option<&StringRecord>,
        communes: &'a HashSet<String>,
        today: NaiveDate,
    ) -> Result<Self, ServiceError> {
        let header: Vec<String> = header
            .map(|h| h.iter().map(str::to_owned).collect())
            .unwrap_or_default();
        if header.len() < COLUMNS.len()
            || header.len() > COLUMNS.len() + OPTIONAL.len()
            || header[..COLUMNS.len()] != COLUMNS
            || header[COLUMNS.len()..]
                .iter()
                .zip(OPTIONAL)
                .any(|(a, b)| a != b)
        {
            let semicolons = header.len() == 1 && header[0].contains(';');
            return Err(ServiceError::invalid(
                "line 1",
                format!(
                    "the header must be `{}` (then optionally `evidence_url,note`){}",
                    COLUMNS.join(","),
                    if semicolons {
                        "; this file is separated by semicolons, as a spreadsheet with \
                         Vietnamese regional settings saves it: save it as \
                         \"CSV UTF-8 (comma delimited)\" or replace the semicolons with commas"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(Self {
            communes,
            today,
            header,
            problems: Vec::new(),
            units: Vec::new(),
            codes: Vec::new(),
            decisions: Vec::new(),
            dates: Vec::new(),
            unit_index: HashMap::new(),
            code_index: HashMap::new(),
            decision_index: HashMap::new(),
            date_index: HashMap::new(),
            seen: HashSet::new(),
            used: HashMap::new(),
            keep_keys: false,
            keys: Vec::new(),
        })
    }

    /// What the good lines referred to, in the order first met.
    fn referenced(&self) -> Vec<Reference> {
        let mut out: Vec<Reference> = self
            .used
            .iter()
            .map(|(&(code, decision), &(lines, first_line))| {
                let (written, norm) = &self.decisions[decision as usize];
                Reference {
                    code: self.codes[code as usize].as_str().to_owned(),
                    decision: written.clone(),
                    decision_norm: norm.clone(),
                    lines,
                    first_line,
                }
            })
            .collect();
        out.sort_by_key(|r| r.first_line);
        out
    }

    /// Whether no more problems would be reported.
    fn full(&self) -> bool {
        self.problems.len() >= MAX_PROBLEMS
    }

    /// Checks every line after the header, handing each good one to `row` until it returns
    /// `false` or no more problems would be reported.
    fn check_all(
        &mut self,
        data: &str,
        mut row: impl FnMut(&Self, ParsedPosting) -> Result<bool, ServiceError>,
    ) -> Result<(), ServiceError> {
        super::csv::read_lines(data, |line, record| {
            if line == 1 {
                return Ok(true);
            }
            match self.check(line, record) {
                Some(p) => row(self, p),
                None => Ok(!self.full()),
            }
        })
    }

    /// The index of a procedure code. Spellings that parse to the same code (`…h48`, `…H48`)
    /// share one index, so that a pair given twice is found whatever the case.
    fn code(&mut self, raw: &str) -> Result<u32, String> {
        if let Some(i) = self.code_index.get(raw) {
            return Ok(*i);
        }
        let code = ProcedureCode::parse(raw).map_err(|e| e.0)?;
        // The canonical spelling is a key of the index too.
        let i = match self.code_index.get(code.as_str()) {
            Some(i) => *i,
            None => {
                let i = self.codes.len() as u32;
                self.code_index.insert(code.as_str().to_owned(), i);
                self.codes.push(code);
                i
            }
        };
        self.code_index.insert(raw.to_owned(), i);
        Ok(i)
    }

    /// Checks line `number` (counted from 1); its problems, each of them, are recorded and give
    /// `None`.
    fn check(&mut self, number: u64, record: super::csv::Line<'_>) -> Option<ParsedPosting> {
        match record
            .map_err(|p| vec![p.to_owned()])
            .and_then(|r| self.check_line(number, r))
        {
            Ok(p) => Some(p),
            Err(messages) => {
                for message in messages {
                    if !self.full() {
                        self.problems
                            .push(FieldError::new(format!("line {number}"), message));
                    }
                }
                None
            }
        }
    }

    fn check_line(
        &mut self,
        number: u64,
        fields: &StringRecord,
    ) -> Result<ParsedPosting, Vec<String>> {
        let width = self.header.len();
        if fields.len() != width {
            let semicolons = fields.len() == 1 && fields.get(0).is_some_and(|f| f.contains(';'));
            return Err(vec![format!(
                "{} fields; the header has {width}{}",
                fields.len(),
                if semicolons {
                    " (this line is separated by semicolons; the file must use commas)"
                } else {
                    ""
                }
            )]);
        }
        let field = |i: usize| fields.get(i).unwrap_or_default().trim();
        let mut problems = Vec::new();
        let communes = self.communes;
        let unit = intern(&mut self.unit_index, &mut self.units, field(0), |u| {
            if communes.contains(u) {
                Ok(u.to_owned())
            } else {
                Err(format!("`{}` is not a commune", clip(u)))
            }
        });
        let unit = noted(&mut problems, unit);
        let code = self.code(field(1));
        let code = noted(&mut problems, code);
        let channel = PostingChannel::parse(field(2))
            .ok_or_else(|| "the channel must be `counter` or `portal`".to_owned());
        let channel = noted(&mut problems, channel);
        let decision = intern(
            &mut self.decision_index,
            &mut self.decisions,
            field(3),
            |d| {
                let written = crate::domain::text::nfc(d);
                if written.is_empty()
                    || written.chars().count() > 100
                    || written.chars().any(char::is_control)
                {
                    return Err("the decision number must be 1 to 100 characters".into());
                }
                let norm = normalize_decision_number(&written);
                Ok((written, norm))
            },
        );
        let decision = noted(&mut problems, decision);
        let today = self.today;
        let date = intern(&mut self.date_index, &mut self.dates, field(4), |d| {
            d.parse::<NaiveDate>()
                .ok()
                .filter(|d| *d >= first_day() && *d <= today)
                .ok_or_else(|| date_problem(d, today))
        });
        let date = noted(&mut problems, date);
        let header = &self.header;
        let optional_text = |i: usize| -> Result<Option<String>, String> {
            match Some(field(i)).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(s) if s.chars().count() <= 2000 && !crate::domain::text::has_control(s) => {
                    Ok(Some(crate::domain::text::nfc(s)))
                }
                Some(_) => Err(format!(
                    "{} is too long or has control characters",
                    header[i]
                )),
            }
        };
        let evidence_url = noted(&mut problems, optional_text(5)).flatten();
        let note = noted(&mut problems, optional_text(6)).flatten();
        if evidence_url
            .as_deref()
            .is_some_and(|u| !(u.starts_with("https://") || u.starts_with("http://")))
        {
            problems.push("evidence_url must be an http or https URL".into());
        }
        let (Some(unit), Some(code), Some(channel), Some(decision), Some(date)) =
            (unit, code, channel, decision, date)
        else {
            return Err(problems);
        };
        let key = (u64::from(unit) << 33) | (u64::from(code) << 1) | channel as u64;
        if !self.seen.insert(key) {
            problems.push(format!(
                "{} {} {} appears twice in the file",
                field(0),
                field(1),
                channel.as_str()
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let used = self.used.entry((code, decision)).or_insert((0, number));
        used.0 += 1;
        if self.keep_keys {
            self.keys.push((number, unit, code, channel));
        }
        Ok(ParsedPosting {
            unit,
            code,
            channel,
            decision,
            posted_on: self.dates[date as usize],
            evidence_url,
            note,
        })
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

/// A chunk of rows, encoded for the backend.
enum Payload {
    /// SQLite: one JSON array of rows, unpacked by [`SQLITE_INSERT_JSON`].
    Json(String),
    /// PostgreSQL: the data of one binary `COPY`, header and trailer included.
    Copy(Vec<u8>),
}

/// What the checking thread sends to the writer.
enum Message {
    Rows {
        rows: usize,
        payload: Payload,
    },
    /// Every line was checked and none had a problem: the communes the file names, what its
    /// lines refer to, and the seconds the checker was busy (not waiting for the writer).
    Done {
        communes: Vec<String>,
        referenced: Vec<Reference>,
        secs: f64,
    },
}

/// Days and microseconds are counted from here in PostgreSQL's binary format.
fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .unwrap_or_default()
        .and_time(chrono::NaiveTime::MIN)
}

/// Encodes checked rows into chunks. Ids are one random version-7 UUID for the load, counting up
/// in its low bits: they sort in load order and cost no system call each.
struct Encoder {
    postgres: bool,
    base_id: u128,
    next_id: u128,
    recorded_by: String,
    recorded_at: NaiveDateTime,
    rows: usize,
    buf: Vec<u8>,
}

impl Encoder {
    fn new(postgres: bool, recorded_by: &str, recorded_at: NaiveDateTime) -> Self {
        let mut encoder = Self {
            postgres,
            base_id: uuid::Uuid::now_v7().as_u128() & !((1u128 << 40) - 1),
            next_id: 0,
            recorded_by: recorded_by.to_owned(),
            recorded_at,
            rows: 0,
            buf: Vec::new(),
        };
        encoder.start();
        encoder
    }

    fn start(&mut self) {
        self.rows = 0;
        self.buf.clear();
        if self.postgres {
            // Signature, flags, header extension length.
            self.buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
            self.buf.extend_from_slice(&0i32.to_be_bytes());
            self.buf.extend_from_slice(&0i32.to_be_bytes());
        } else {
            self.buf.push(b'[');
        }
    }

    fn push(&mut self, checker: &Checker<'_>, p: &ParsedPosting) {
        let mut id = [0u8; 36];
        uuid::Uuid::from_u128(self.base_id + self.next_id)
            .hyphenated()
            .encode_lower(&mut id);
        self.next_id += 1;
        let id = std::str::from_utf8(&id).unwrap_or_default();
        let (written, norm) = &checker.decisions[p.decision as usize];
        let unit = checker.units[p.unit as usize].as_str();
        let code = checker.codes[p.code as usize].as_str();
        if self.postgres {
            self.push_copy([id, unit, code, p.channel.as_str(), written, norm], p);
        } else {
            if self.rows > 0 {
                self.buf.push(b',');
            }
            let row = (
                id,
                unit,
                code,
                p.channel.as_str(),
                written,
                norm,
                p.posted_on,
                &p.evidence_url,
                &p.note,
            );
            // Writing plain strings and dates into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.buf, &row);
        }
        self.rows += 1;
    }

    /// One tuple of PostgreSQL's binary COPY format, in the table's column order.
    fn push_copy(&mut self, texts: [&str; 6], p: &ParsedPosting) {
        fn text(buf: &mut Vec<u8>, value: Option<&str>) {
            match value {
                Some(v) => {
                    buf.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    buf.extend_from_slice(v.as_bytes());
                }
                None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let buf = &mut self.buf;
        buf.extend_from_slice(&13i16.to_be_bytes());
        for t in texts {
            text(buf, Some(t));
        }
        let epoch = pg_epoch();
        let days = (p.posted_on - epoch.date()).num_days() as i32;
        buf.extend_from_slice(&4i32.to_be_bytes());
        buf.extend_from_slice(&days.to_be_bytes());
        text(buf, None); // removed_on
        text(buf, p.evidence_url.as_deref());
        text(buf, None); // photo_ref
        text(buf, p.note.as_deref());
        text(buf, Some(&self.recorded_by));
        let micros = (self.recorded_at - epoch)
            .num_microseconds()
            .unwrap_or_default();
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&micros.to_be_bytes());
    }

    /// The rows pushed since the last call, as one chunk (`None` if there are none).
    fn take(&mut self) -> Result<Option<Message>, ServiceError> {
        if self.rows == 0 {
            return Ok(None);
        }
        if self.postgres {
            self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        } else {
            self.buf.push(b']');
        }
        let rows = self.rows;
        let data = std::mem::take(&mut self.buf);
        let payload = if self.postgres {
            Payload::Copy(data)
        } else {
            Payload::Json(String::from_utf8(data).map_err(ServiceError::internal)?)
        };
        self.start();
        Ok(Some(Message::Rows { rows, payload }))
    }
}

/// The checking thread: checks every line, sending the encoded rows while no line has had a
/// problem, then [`Message::Done`] if none had. Returns every problem found, or an encoding error.
/// If the writer fails (it drops its end of the channel), the remaining lines are still checked,
/// without encoding, so that the answer lists the file's own problems first.
fn check_and_encode(
    data: &str,
    mut checker: Checker<'_>,
    mut encoder: Encoder,
    tx: SyncSender<Message>,
) -> Result<(), ServiceError> {
    let started = Instant::now();
    let waited = std::cell::Cell::new(std::time::Duration::ZERO);
    let send = |message: Message| {
        let began = Instant::now();
        let sent = tx.send(message).is_ok();
        waited.set(waited.get() + began.elapsed());
        sent
    };
    let mut writing = true;
    let mut touched = BTreeSet::new();
    checker.check_all(data, |checker, p| {
        // After the first problem, or once the writer has failed, lines are only checked.
        if !writing || !checker.problems.is_empty() {
            return Ok(true);
        }
        touched.insert(p.unit);
        encoder.push(checker, &p);
        if encoder.rows == CHUNK
            && let Some(message) = encoder.take()?
        {
            writing = send(message);
        }
        Ok(true)
    })?;
    if !checker.problems.is_empty() {
        return Err(ServiceError::Validation(checker.problems));
    }
    if writing && let Some(message) = encoder.take()? {
        writing = send(message);
    }
    if writing {
        let communes = touched
            .into_iter()
            .map(|u| checker.units[u as usize].clone())
            .collect();
        let secs = (started.elapsed() - waited.get()).as_secs_f64();
        let referenced = checker.referenced();
        send(Message::Done {
            communes,
            referenced,
            secs,
        });
    }
    Ok(())
}

/// Checks a whole CSV file of postings without writing it: what it holds, or 422 with every
/// problem (up to 100) by line. [`clashes`] then compares it with the postings already current.
pub fn check_postings(
    data: &str,
    communes: &HashSet<String>,
    today: NaiveDate,
) -> Result<Checked, ServiceError> {
    let mut checker = Checker::new(first_record(data).as_ref(), communes, today)?;
    checker.keep_keys = true;
    let mut rows = 0;
    checker.check_all(data, |_, _| {
        rows += 1;
        Ok(true)
    })?;
    if !checker.problems.is_empty() {
        return Err(ServiceError::Validation(checker.problems));
    }
    Ok(Checked {
        rows,
        referenced: checker.referenced(),
        codes: checker
            .codes
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        units: std::mem::take(&mut checker.units),
        keys: std::mem::take(&mut checker.keys),
    })
}

/// The lines of a checked file that a load would refuse because the commune already has a
/// current posting of that procedure on that channel (a load adds postings; it replaces none):
/// each by line, commune, procedure and channel, with the posting it meets (up to 100).
pub fn clashes(
    conn: &mut DbConnection,
    checked: &Checked,
) -> Result<Vec<FieldError>, ServiceError> {
    let current: HashMap<(String, String, String), (String, NaiveDate)> =
        repo::current_of(conn, &checked.units)?
            .into_iter()
            .map(|(unit, code, channel, decision, posted_on)| {
                ((unit, code, channel), (decision, posted_on))
            })
            .collect();
    let mut out = Vec::new();
    if current.is_empty() {
        return Ok(out);
    }
    for &(line, unit, code, channel) in &checked.keys {
        let (unit, code) = (&checked.units[unit as usize], &checked.codes[code as usize]);
        let key = (unit.clone(), code.clone(), channel.as_str().to_owned());
        if let Some((decision, posted_on)) = current.get(&key) {
            out.push(FieldError::new(
                format!("line {line}"),
                format!(
                    "commune {unit} already has a current posting of {code} on the {} \
                     (decision {decision}, posted {posted_on}); a load adds postings and \
                     replaces none: remove that posting first, or leave this line out",
                    channel.as_str()
                ),
            ));
            if out.len() == MAX_PROBLEMS {
                break;
            }
        }
    }
    Ok(out)
}

/// What the good lines of a file refer to that the catalogue does not know: procedures it does
/// not hold, and decision numbers that announced no version of the procedure. The lines are
/// loaded all the same; the reports list them as `unknown_procedure` or `outdated`.
pub fn warnings(referenced: &[Reference], catalogue: &CatalogueIndex) -> Vec<String> {
    let lines = |r: &Reference| match r.lines {
        1 => format!("line {}", r.first_line),
        n => format!("{n} lines from line {}", r.first_line),
    };
    referenced
        .iter()
        .filter_map(|r| {
            let rows = catalogue.rows(&r.code);
            if rows.is_empty() {
                return Some(format!(
                    "{} is not in the catalogue ({}); the reports list it as unknown_procedure",
                    r.code,
                    lines(r)
                ));
            }
            let announced = rows
                .iter()
                .any(|row| row.announced_by_norm.as_deref() == Some(r.decision_norm.as_str()));
            (!announced).then(|| {
                format!(
                    "decision {} announced no version of {} ({}); the reports list the posting \
                     as outdated",
                    r.decision,
                    r.code,
                    lines(r)
                )
            })
        })
        .collect()
}

/// The file's first record (its header), if it has one.
fn first_record(data: &str) -> Option<StringRecord> {
    let mut first = None;
    let _ = super::csv::read_lines(data, |_, record| -> Result<bool, ()> {
        first = record.ok().cloned();
        Ok(false)
    });
    first
}

/// Checks and writes a whole CSV file of postings in one transaction. 422 with every problem (up
/// to 100, by line) if a line is wrong; 409 if a commune already has a current posting of a
/// procedure and channel the file holds. Either way nothing is written.
pub fn load_postings(
    conn: &mut DbConnection,
    data: &str,
    communes: &HashSet<String>,
    today: NaiveDate,
    actor: &Actor,
    progress: &mut dyn FnMut(u64),
) -> Result<Committed<BulkSummary>, ServiceError> {
    let checker = Checker::new(first_record(data).as_ref(), communes, today)?;
    let sqlite = matches!(conn, DbConnection::Sqlite(_));
    let encoder = Encoder::new(!sqlite, &actor.identity.sub, crate::repo::now());
    let recorded_at = encoder.recorded_at;
    // A load larger than the table is faster with the indexes built afterwards (by sorting)
    // and the commune references checked once, as a set, than both kept up row by row. All of
    // it happens inside the load's transaction, so a failure or a crash leaves the table, its
    // indexes and its constraints as they were.
    let lines = data.lines().count().saturating_sub(1) as i64;
    let result = (|| {
        let rebuild = repo::count(conn)? < lines;
        if sqlite {
            repo::sqlite_load_settings(conn, true, rebuild)?;
        }
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel(QUEUE);
            let checking = scope.spawn(move || check_and_encode(data, checker, encoder, tx));
            let began = Instant::now();
            let guard = Guard::lock(WriteLock::Bulk);
            let written = transact(conn, guard, actor, |tx| {
                let (summary, communes) =
                    write_all(tx.conn, rx, rebuild, actor, recorded_at, progress)?;
                for unit in communes {
                    tx.bump(Counter::Commune(unit));
                }
                tx.audit(Audit {
                    action: "bulk_load",
                    entity: Entity::Postings,
                    entity_id: "*".into(),
                    unit: None,
                    before: None,
                    after: Some(format!(
                        "{} rows, {} communes",
                        summary.rows, summary.communes
                    )),
                });
                Ok((summary, Instant::now()))
            })
            .map(|committed| {
                committed.map(|(mut summary, done)| {
                    summary.commit_secs = done.elapsed().as_secs_f64();
                    summary.other_secs = began.elapsed().as_secs_f64()
                        - summary.write_secs
                        - summary.index_secs
                        - summary.commit_secs;
                    summary
                })
            });
            // The writer has dropped its end of the channel by now: the checker finishes its
            // lines without encoding them. The file's own problems come before the writer's.
            match checking.join() {
                Ok(Ok(())) => written,
                Ok(Err(problems)) => Err(problems),
                Err(_) => Err(ServiceError::internal(anyhow::anyhow!(
                    "the thread checking the file panicked"
                ))),
            }
        })
    })();
    if sqlite && let Err(e) = repo::sqlite_load_settings(conn, false, false) {
        // The load itself is decided; the caller drops the connection anyway.
        tracing::warn!(error = %e, "could not restore the connection's settings after a load");
    }
    match result {
        // The database says only that some posting clashed: find which lines, by name.
        Err(ServiceError::Conflict(message)) => {
            let named = check_postings(data, communes, today)
                .and_then(|checked| clashes(conn, &checked))
                .unwrap_or_default();
            Err(ServiceError::Conflict(if named.is_empty() {
                message
            } else {
                format!(
                    "{} line{} clash with current postings; nothing was loaded:\n{}",
                    named.len(),
                    if named.len() == 1 { "" } else { "s" },
                    named
                        .iter()
                        .map(|e| format!("{}: {}", e.field, e.message))
                        .collect::<Vec<_>>()
                        .join("\n")
                )
            }))
        }
        other => other,
    }
}

/// The writing half of [`load_postings`], inside its transaction: the summary and the communes
/// the file names.
fn write_all(
    conn: &mut DbConnection,
    rx: Receiver<Message>,
    rebuild: bool,
    actor: &Actor,
    recorded_at: NaiveDateTime,
    progress: &mut dyn FnMut(u64),
) -> Result<(BulkSummary, Vec<String>), ServiceError> {
    if rebuild {
        repo::drop_indexes(conn)?;
    }
    let started = Instant::now();
    let mut written = 0;
    let (communes, referenced, check_secs) = loop {
        // A checker that stops without `Done` found a problem: it returns it itself.
        let message = rx.recv().map_err(|_| {
            ServiceError::internal(anyhow::anyhow!(
                "the file checker stopped without an answer"
            ))
        })?;
        let rows = match message {
            Message::Done {
                communes,
                referenced,
                secs,
            } => break (communes, referenced, secs),
            Message::Rows { rows, payload } => match (&mut *conn, payload) {
                (DbConnection::Pg(c), Payload::Copy(data)) => {
                    repo::copy_binary(c, &data).map_err(conflict)?;
                    rows
                }
                (DbConnection::Sqlite(c), Payload::Json(json)) => {
                    repo::insert_json(c, &json, &actor.identity.sub, recorded_at)
                        .map_err(conflict)?
                }
                _ => {
                    return Err(ServiceError::internal(anyhow::anyhow!(
                        "a chunk encoded for the other backend"
                    )));
                }
            },
        };
        written += rows;
        progress(written as u64);
    };
    let write_secs = started.elapsed().as_secs_f64();
    if rebuild {
        // On SQLite the rows already in the table were written with the references enforced;
        // the new ones name only these communes, checked against the file's own list before the
        // transaction began and here again inside it (PostgreSQL checks its restored foreign
        // key).
        if matches!(conn, DbConnection::Sqlite(_)) && repo::unknown_units(conn, &communes)? > 0 {
            return Err(ServiceError::Conflict(
                "a posting names a commune that does not exist; nothing was loaded".into(),
            ));
        }
        repo::restore_indexes(conn).map_err(conflict)?;
    }
    // Fresh statistics, or PostgreSQL's planner sees the table as it was before the load and
    // may read a commune's postings the slow way until autovacuum gets to it.
    repo::analyze(conn)?;
    let index_secs = started.elapsed().as_secs_f64() - write_secs;
    let summary = BulkSummary {
        rows: written,
        communes: communes.len(),
        referenced,
        check_secs,
        write_secs,
        index_secs,
        ..BulkSummary::default()
    };
    Ok((summary, communes))
}

fn conflict(e: diesel::result::Error) -> ServiceError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => ServiceError::Conflict(
            "a commune in the file already has a current posting of one of its procedures and \
             channels; nothing was loaded"
                .into(),
        ),
        other => other.into(),
    }
}
