//! Changing the catalogue: posting a decision, and importing a catalogue file (which is a
//! decision too, recorded with its source). Both plan against the catalogue inside the write
//! transaction and write everything or nothing.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::ServiceError;
use super::etag;
use super::write::{Actor, Audit, Counter, Emit, Guard, Tx, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::FieldError;
use crate::domain::catalogue::{
    ImportOutcome, ItemInput, PlannedItem, PlannedListItem, Scope, SectorPlaces, SectorPlacesOf,
    plan_decision, plan_import_record, plan_list,
};
use crate::domain::codes::DecisionNumber;
use crate::domain::import::{ImportRecord, parse_record};
use crate::domain::obligation::PostingPlace;
use crate::domain::text;
use crate::domain::webhooks::EventType;
use crate::repo::audit::Entity;
use crate::repo::catalogue::{self as repo, DecisionRow};
use crate::repo::sectors::{self, SectorRow};

/// A decision as submitted, parsed.
#[derive(Debug, Clone)]
pub struct DecisionInput {
    pub number: DecisionNumber,
    pub issuer: String,
    pub scope: Scope,
    pub signed_on: NaiveDate,
    pub title: Option<String>,
    pub items: Vec<ItemInput>,
}

/// The catalogue's `ETag`: changes with every decision (decisions are never deleted, so their
/// number and the latest id name the catalogue's state).
pub fn catalogue_etag(conn: &mut DbConnection) -> diesel::QueryResult<String> {
    let (count, latest) = repo::revision(conn)?;
    Ok(etag::of([count.to_string(), latest.unwrap_or_default()]))
}

/// Validates a decision against the catalogue and applies it in one transaction. Returns the new
/// decision's id. 409 if a decision with that number exists in that scope; 422 with every
/// problem if any item is invalid.
pub fn create_decision(
    conn: &mut DbConnection,
    input: DecisionInput,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<String>, ServiceError> {
    transact(conn, catalogue_guard(if_match), actor, |tx| {
        let current = catalogue_etag(tx.conn)?;
        tx.check_if_match(&current)?;
        let conn = &mut *tx.conn;
        let mut errors = Vec::new();
        if let Scope::Province(p) = &input.scope
            && !crate::repo::units::is_province(conn, p.as_str())?
        {
            errors.push(FieldError::new("scope", format!("{p} is not a province")));
        }
        let number_norm = input.number.normalized();
        if repo::decision_number_taken(conn, &number_norm, input.scope.as_str())? {
            return Err(ServiceError::Conflict(format!(
                "decision {} is already recorded for scope {}",
                input.number.as_str(),
                input.scope.as_str()
            )));
        }
        let codes: Vec<String> = input
            .items
            .iter()
            .map(|i| i.code.as_str().to_owned())
            .collect();
        let timelines = repo::timelines(conn, &codes)?;
        // A decision whose items list or delist procedures is a provincial list.
        let list = input.items.iter().any(|i| i.action.list_action().is_some());
        let mut decision = DecisionRow {
            id: uuid::Uuid::now_v7().to_string(),
            number: input.number.as_str().to_owned(),
            number_norm,
            issuer: input.issuer,
            scope: input.scope.as_str().to_owned(),
            kind: "announcement".into(),
            title: input.title,
            signed_on: input.signed_on,
            source: None,
            source_sha256: None,
            created_by: actor.identity.sub.clone(),
            created_at: crate::repo::now(),
        };
        let fail = |mut errors: Vec<FieldError>, more: Vec<FieldError>| {
            errors.extend(more);
            ServiceError::Validation(errors)
        };
        if list {
            let Scope::Province(province) = &input.scope else {
                errors.push(FieldError::new(
                    "scope",
                    "a provincial list (items `listed` or `delisted`) is a province's decision",
                ));
                return Err(ServiceError::Validation(errors));
            };
            let lists = repo::list_entries(conn, Some(province.as_str()))?;
            let planned = plan_list(province, input.signed_on, input.items, &timelines, &lists)
                .map_err(|more| fail(errors.clone(), more))?;
            if !errors.is_empty() {
                return Err(ServiceError::Validation(errors));
            }
            decision.kind = repo::LIST.into();
            repo::apply_list(tx.conn, &decision, &planned)?;
            tx.bump(Counter::Catalogue);
            tx.audit(decision_audit(
                &decision,
                "create",
                Some(list_hash(&planned)),
            ));
            tx.emit(decision_recorded(&decision));
            return Ok(decision.id);
        }
        let sectors = SectorPlacesOf {
            codes: &sectors::list(conn)?.into_iter().map(|s| s.code).collect(),
            places: &sectors::place_by_code(conn)?,
        };
        let planned = plan_decision(
            &input.scope,
            input.signed_on,
            input.number.as_str(),
            input.items,
            &timelines,
            &sectors,
        )
        .map_err(|more| fail(errors.clone(), more))?;
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let hash = plan_hash(&planned);
        record_decision(tx, &decision, &planned, ("create", Some(hash)))?;
        Ok(decision.id)
    })
}

fn list_hash(planned: &[PlannedListItem]) -> String {
    let mut hasher = Sha256::new();
    for item in planned {
        for part in [
            item.code.as_str(),
            item.action.as_str(),
            &item.effective_on.to_string(),
            &item.version_id,
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
    }
    hex::encode(hasher.finalize())
}

/// The guard of every catalogue write: one decision at a time, against the catalogue's ETag.
fn catalogue_guard(if_match: Option<&str>) -> Guard<'_> {
    Guard {
        lock: WriteLock::Catalogue,
        if_match,
        what: "the catalogue",
    }
}

/// Writes a planned decision: its rows, the catalogue's counter, and its audit entry (`action`
/// and the hash recorded after it).
fn record_decision(
    tx: &mut Tx<'_>,
    decision: &DecisionRow,
    planned: &[PlannedItem],
    (action, after): (&'static str, Option<String>),
) -> Result<(), ServiceError> {
    repo::apply(tx.conn, decision, planned)?;
    tx.bump(Counter::Catalogue);
    tx.audit(decision_audit(decision, action, after));
    tx.emit(decision_recorded(decision));
    Ok(())
}

/// The webhook event of a recorded decision. Its data (the communes it concerns and their due
/// dates) takes a computation over every commune in scope, which the delivery worker makes once,
/// after the commit, rather than holding the catalogue's lock for it.
fn decision_recorded(decision: &DecisionRow) -> Emit {
    Emit {
        kind: EventType::DecisionRecorded,
        subject: decision.id.clone(),
        scope: decision.scope.clone(),
        data: None,
    }
}

/// The audit entry of a decision (`after`: the hash of what it changed).
fn decision_audit(decision: &DecisionRow, action: &'static str, after: Option<String>) -> Audit {
    Audit {
        action,
        entity: Entity::Decision,
        entity_id: decision.id.clone(),
        // The province a decision concerns (none for a national one).
        unit: (decision.scope != crate::domain::catalogue::NATIONAL)
            .then(|| decision.scope.clone()),
        before: None,
        after,
    }
}

fn plan_hash(planned: &[PlannedItem]) -> String {
    let mut hasher = Sha256::new();
    for item in planned {
        hasher.update(item.code.as_str().as_bytes());
        hasher.update(item.action.as_str().as_bytes());
        hasher.update(item.effective_on.to_string().as_bytes());
        hasher.update(item.version.content_hash.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// How an import was asked for.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub effective_on: NaiveDate,
    pub dry_run: bool,
    /// Where the file came from (a file name), recorded on the decision.
    pub source: String,
    /// Import only if the catalogue's `ETag` is still this one.
    pub if_match: Option<String>,
}

/// One line the import could not take.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LineProblem {
    /// 1-based line number in the file.
    pub line: usize,
    /// The procedure code, when the line has a readable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "1.001193")]
    pub code: Option<String>,
    pub message: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportSummary {
    pub dry_run: bool,
    #[schema(example = "2026-07-01")]
    pub effective_on: NaiveDate,
    /// SHA-256 of the (decompressed) file.
    pub source_sha256: String,
    /// Non-empty lines read.
    pub lines: usize,
    pub created: usize,
    pub amended: usize,
    pub unchanged: usize,
    /// Lines skipped for a problem (listed in `problems`).
    pub skipped: usize,
    pub sectors_created: usize,
    /// The decision that records this import; `null` for a dry run or when nothing changed.
    #[schema(example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01")]
    pub decision_id: Option<String>,
    pub problems: Vec<LineProblem>,
}

struct ParsedLine {
    line: usize,
    record: ImportRecord,
}

/// Reads every line; a bad line becomes a problem, never a failure of the whole file.
fn read_lines(data: &[u8], problems: &mut Vec<LineProblem>) -> (usize, Vec<ParsedLine>) {
    let mut lines = 0;
    let mut parsed = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, raw) in data.split(|b| *b == b'\n').enumerate() {
        let line = index + 1;
        let Ok(text) = std::str::from_utf8(raw) else {
            lines += 1;
            problems.push(LineProblem {
                line,
                code: None,
                message: "not valid UTF-8".into(),
            });
            continue;
        };
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.is_empty() {
            continue;
        }
        lines += 1;
        match parse_record(text) {
            Ok(record) => {
                let code = record.code.as_str().to_owned();
                if let Some(first) = seen.get(&code) {
                    problems.push(LineProblem {
                        line,
                        code: Some(code),
                        message: format!("the same code is already on line {first}"),
                    });
                    continue;
                }
                seen.insert(code, line);
                parsed.push(ParsedLine { line, record });
            }
            Err(message) => problems.push(LineProblem {
                line,
                code: None,
                message,
            }),
        }
    }
    (lines, parsed)
}

/// Imports catalogue records. Records equal to the version in force on `effective_on` are
/// unchanged; new codes are created; changed records become amended versions. All of it is one
/// decision of kind `import`, written in one transaction (or not at all for a dry run).
pub fn import_catalogue(
    conn: &mut DbConnection,
    data: &[u8],
    options: &ImportOptions,
    actor: &Actor,
    progress: &mut dyn FnMut(u64),
) -> Result<Committed<ImportSummary>, ServiceError> {
    let source_sha256 = hex::encode(Sha256::digest(data));
    let mut problems = Vec::new();
    let (lines, parsed) = read_lines(data, &mut problems);
    transact(
        conn,
        catalogue_guard(options.if_match.as_deref()),
        actor,
        |tx| {
            let current = catalogue_etag(tx.conn)?;
            tx.check_if_match(&current)?;
            let conn = &mut *tx.conn;
            let existing_sectors = sectors::list(conn)?;
            let mut sector_by_name: HashMap<String, String> = existing_sectors
                .iter()
                .map(|s| (s.name.clone(), s.code.clone()))
                .collect();
            let mut taken: HashSet<String> = existing_sectors.into_iter().map(|s| s.code).collect();
            let codes: Vec<String> = parsed
                .iter()
                .map(|p| p.record.code.as_str().to_owned())
                .collect();
            let timelines = repo::timelines(conn, &codes)?;
            // The sector table by name, so that a sector this import creates is placed too.
            let table: HashMap<String, PostingPlace> = sectors::places(conn)?
                .into_iter()
                .filter_map(|r| Some((r.sector_name, PostingPlace::parse(&r.place)?)))
                .collect();
            let mut sector_places: SectorPlaces = sector_by_name
                .iter()
                .filter_map(|(name, code)| Some((code.clone(), *table.get(name)?)))
                .collect();

            let mut new_sectors: Vec<SectorRow> = Vec::new();
            let mut planned = Vec::new();
            let (mut created, mut amended, mut unchanged) = (0, 0, 0);
            let now = crate::repo::now();
            for (index, ParsedLine { line, record }) in parsed.into_iter().enumerate() {
                progress(index as u64 + 1);
                let sector_name = record.sector_name;
                let sector_code = match sector_by_name.get(&sector_name) {
                    Some(code) => code.clone(),
                    None => {
                        let code = sectors::new_code(&sector_name, &|c| taken.contains(c));
                        taken.insert(code.clone());
                        sector_by_name.insert(sector_name.clone(), code.clone());
                        if let Some(place) = table.get(&sector_name) {
                            sector_places.insert(code.clone(), *place);
                        }
                        new_sectors.push(SectorRow {
                            code: code.clone(),
                            name_search: text::search_key(&sector_name),
                            name: sector_name,
                            created_at: now,
                        });
                        code
                    }
                };
                let mut content = record.content;
                content.sector_code = sector_code;
                let code = record.code;
                let rows = timelines
                    .get(code.as_str())
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let code_text = code.as_str().to_owned();
                let seq = planned.len() as i32;
                match plan_import_record(
                    code,
                    content,
                    record.announced_by,
                    (options.effective_on, seq),
                    rows,
                    &sector_places,
                ) {
                    Ok(ImportOutcome::Created(item)) => {
                        created += 1;
                        planned.push(item);
                    }
                    Ok(ImportOutcome::Amended(item)) => {
                        amended += 1;
                        planned.push(item);
                    }
                    Ok(ImportOutcome::Unchanged) => unchanged += 1,
                    Err(message) => problems.push(LineProblem {
                        line,
                        code: Some(code_text),
                        message,
                    }),
                }
            }
            // Only sectors that a written version uses are created.
            let used: HashSet<&str> = planned
                .iter()
                .map(|p| p.version.content.sector_code.as_str())
                .collect();
            new_sectors.retain(|s| used.contains(s.code.as_str()));
            problems.sort_by_key(|p| p.line);
            let mut summary = ImportSummary {
                dry_run: options.dry_run,
                effective_on: options.effective_on,
                source_sha256: source_sha256.clone(),
                lines,
                created,
                amended,
                unchanged,
                skipped: problems.len(),
                sectors_created: new_sectors.len(),
                decision_id: None,
                problems,
            };
            if options.dry_run || planned.is_empty() {
                return Ok(summary);
            }
            let number = format!(
                "NHAP-{}-{}",
                options.effective_on.format("%Y%m%d"),
                &source_sha256[..12]
            );
            let decision = DecisionRow {
                id: uuid::Uuid::now_v7().to_string(),
                number_norm: crate::domain::codes::normalize_decision_number(&number),
                number,
                issuer: "niemyet catalogue import".into(),
                scope: "national".into(),
                kind: "import".into(),
                title: Some(format!("Catalogue import from {}", options.source)),
                signed_on: options.effective_on,
                source: Some(options.source.clone()),
                source_sha256: Some(source_sha256),
                created_by: actor.identity.sub.clone(),
                created_at: now,
            };
            if repo::decision_number_taken(conn, &decision.number_norm, "national")? {
                return Err(ServiceError::Conflict(format!(
                    "this file was already imported with effective date {}, and the catalogue has changed since; \
                 import it with a later effective date",
                    options.effective_on
                )));
            }
            sectors::insert(conn, &new_sectors)?;
            let hash = decision.source_sha256.clone();
            record_decision(tx, &decision, &planned, ("import", hash))?;
            summary.decision_id = Some(decision.id);
            Ok(summary)
        },
    )
}
