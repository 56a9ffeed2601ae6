//! Recording what a commune has posted: the whole inventory at once (idempotent), or one posting.
//! A posting that changes is ended and replaced, never overwritten, so every past date can be
//! reported.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use diesel::QueryResult;
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::ServiceError;
use super::write::{Actor, Audit, Counter, Guard, Tx, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::codes::{ProcedureCode, normalize_decision_number};
use crate::domain::gaps::{CatalogueIndex, PostingChannel};
use crate::repo::audit::Entity;
use crate::repo::postings::{self, PostingRow};

/// One posting as submitted, already checked.
#[derive(Debug, Clone)]
pub struct PostingInput {
    pub code: ProcedureCode,
    pub channel: PostingChannel,
    pub decision: String,
    pub posted_on: NaiveDate,
    pub evidence_url: Option<String>,
    pub photo_ref: Option<String>,
    pub note: Option<String>,
}

/// Something recorded as asked, but worth a look.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostingWarning {
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    pub channel: PostingChannel,
    /// `unknown_procedure` or `unknown_decision`.
    pub kind: String,
    pub message: String,
}

/// What a write did.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct PostingChanges {
    /// Whether anything changed (false when the same inventory is sent again).
    pub changed: bool,
    pub created: usize,
    /// Postings ended and replaced by a new one (another decision or date).
    pub replaced: usize,
    /// Postings whose evidence or note changed.
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
    pub warnings: Vec<PostingWarning>,
    /// ETag of the commune's inventory after the write.
    pub etag: String,
}

/// ETag of a commune's open postings: changes whenever a posting is added, replaced, removed or
/// its evidence edited.
pub fn inventory_etag(rows: &[PostingRow]) -> String {
    let mut sorted: Vec<&PostingRow> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.procedure_code, &a.channel).cmp(&(&b.procedure_code, &b.channel)));
    let mut hasher = Sha256::new();
    for r in sorted {
        for part in [
            r.id.as_str(),
            &r.decision_number,
            &r.posted_on.to_string(),
            r.evidence_url.as_deref().unwrap_or(""),
            r.photo_ref.as_deref().unwrap_or(""),
            r.note.as_deref().unwrap_or(""),
        ] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
    }
    format!("\"{}\"", hex::encode(&hasher.finalize()[..12]))
}

/// Lines whose procedure the catalogue does not know, or whose decision announced no version of
/// it (read from the compiled catalogue the reports use, so a save costs no catalogue query).
fn warnings_for(catalogue: &CatalogueIndex, inputs: &[&PostingInput]) -> Vec<PostingWarning> {
    let mut out = Vec::new();
    for input in inputs {
        let code = input.code.as_str();
        let rows = catalogue.rows(code);
        if rows.is_empty() {
            out.push(PostingWarning {
                procedure_code: code.to_owned(),
                channel: input.channel,
                kind: "unknown_procedure".into(),
                message: format!(
                    "{code} is not in the catalogue; the report lists it as unknown_procedure"
                ),
            });
            continue;
        }
        let norm = normalize_decision_number(&input.decision);
        if !rows
            .iter()
            .any(|r| r.announced_by_norm.as_deref() == Some(norm.as_str()))
        {
            out.push(PostingWarning {
                procedure_code: code.to_owned(),
                channel: input.channel,
                kind: "unknown_decision".into(),
                message: format!(
                    "decision {} announced no version of {code}; the report lists the posting as outdated",
                    input.decision
                ),
            });
        }
    }
    out
}

fn new_row(unit: &str, input: &PostingInput, actor: &Actor) -> PostingRow {
    PostingRow {
        id: uuid::Uuid::now_v7().to_string(),
        unit_code: unit.to_owned(),
        procedure_code: input.code.as_str().to_owned(),
        channel: input.channel.as_str().to_owned(),
        decision_number: input.decision.clone(),
        decision_number_norm: normalize_decision_number(&input.decision),
        posted_on: input.posted_on,
        removed_on: None,
        evidence_url: input.evidence_url.clone(),
        photo_ref: input.photo_ref.clone(),
        note: input.note.clone(),
        recorded_by: actor.identity.sub.clone(),
        recorded_at: crate::repo::now(),
    }
}

enum Outcome {
    Created,
    Replaced,
    Updated,
    Unchanged,
}

/// Writes collected while applying an inventory, flushed in batches.
#[derive(Default)]
struct Pending {
    inserts: Vec<PostingRow>,
    removals: BTreeMap<NaiveDate, Vec<String>>,
    /// Open postings whose evidence was edited in place (already written), as they now read.
    edited: Vec<PostingRow>,
}

impl Pending {
    /// The commune's open postings once these writes are applied to `open`, so that the new ETag
    /// needs no second read (trimming the history only ever touches closed postings).
    fn open_after(&self, open: &[PostingRow]) -> Vec<PostingRow> {
        let removed: HashSet<&str> = self
            .removals
            .values()
            .flatten()
            .map(String::as_str)
            .collect();
        let edited: HashMap<&str, &PostingRow> =
            self.edited.iter().map(|r| (r.id.as_str(), r)).collect();
        open.iter()
            .filter(|r| !removed.contains(r.id.as_str()))
            .map(|r| edited.get(r.id.as_str()).copied().unwrap_or(r).clone())
            .chain(self.inserts.iter().cloned())
            .collect()
    }

    fn remove(&mut self, id: &str, on: NaiveDate) {
        self.removals.entry(on).or_default().push(id.to_owned());
    }

    /// Cuts back every earlier posting of the same procedure and channel whose window reaches past
    /// a new posting's date, so that at most one posting of a pair is current on any day.
    fn trim_history(&mut self, conn: &mut DbConnection, unit: &str) -> QueryResult<()> {
        if self.inserts.is_empty() {
            return Ok(());
        }
        // Only closed postings of the procedures being posted anew, ending after the earliest new
        // date, can need a cut; the rest of the history is not read.
        let codes: Vec<&str> = self
            .inserts
            .iter()
            .map(|r| r.procedure_code.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let earliest = self.inserts.iter().map(|r| r.posted_on).min();
        let closed = match earliest {
            Some(earliest) => postings::closed_ending_after(conn, unit, &codes, earliest)?,
            None => Vec::new(),
        };
        let mut cuts = Vec::new();
        for new in &self.inserts {
            for old in closed
                .iter()
                .filter(|o| o.procedure_code == new.procedure_code && o.channel == new.channel)
            {
                let to = new.posted_on.max(old.posted_on);
                if old.removed_on.is_some_and(|removed| removed > to) {
                    cuts.push((old.id.clone(), to));
                }
            }
        }
        for (id, on) in cuts {
            self.remove(&id, on);
        }
        Ok(())
    }

    fn flush(mut self, conn: &mut DbConnection, unit: &str) -> QueryResult<()> {
        self.trim_history(conn, unit)?;
        // Removals first: the partial unique index allows one open posting per key.
        for (on, ids) in self.removals {
            for chunk in ids.chunks(crate::repo::INSERT_CHUNK) {
                postings::remove_many(conn, chunk, on)?;
            }
        }
        postings::insert(conn, &self.inserts)?;
        Ok(())
    }
}

/// Applies one posting against the commune's open one of the same procedure and channel.
fn apply_one(
    conn: &mut DbConnection,
    pending: &mut Pending,
    unit: &str,
    open: Option<&PostingRow>,
    input: &PostingInput,
    actor: &Actor,
) -> QueryResult<Outcome> {
    let Some(old) = open else {
        pending.inserts.push(new_row(unit, input, actor));
        return Ok(Outcome::Created);
    };
    // Most lines of a whole inventory are unchanged: they cost a comparison, not a new row.
    if old.decision_number_norm == normalize_decision_number(&input.decision)
        && old.posted_on == input.posted_on
    {
        if old.evidence_url == input.evidence_url
            && old.photo_ref == input.photo_ref
            && old.note == input.note
        {
            return Ok(Outcome::Unchanged);
        }
        let mut edited = old.clone();
        edited.evidence_url = input.evidence_url.clone();
        edited.photo_ref = input.photo_ref.clone();
        edited.note = input.note.clone();
        edited.recorded_by = actor.identity.sub.clone();
        edited.recorded_at = crate::repo::now();
        postings::update_evidence(conn, &edited)?;
        pending.edited.push(edited);
        return Ok(Outcome::Updated);
    }
    let fresh = new_row(unit, input, actor);
    // A new posting replaces the old one from its own date; a correction dated on or before the
    // old posting voids it.
    pending.remove(&old.id, fresh.posted_on.max(old.posted_on));
    pending.inserts.push(fresh);
    Ok(Outcome::Replaced)
}

fn count(changes: &mut PostingChanges, outcome: Outcome) {
    match outcome {
        Outcome::Created => changes.created += 1,
        Outcome::Replaced => changes.replaced += 1,
        Outcome::Updated => changes.updated += 1,
        Outcome::Unchanged => changes.unchanged += 1,
    }
}

/// The audit entry and counter of a change to `unit`'s inventory (ETags before and after).
fn record_change(
    tx: &mut Tx<'_>,
    unit: &str,
    action: &'static str,
    entity_id: String,
    (before, after): (&str, &str),
) {
    tx.bump(Counter::Commune(unit.to_owned()));
    tx.audit(Audit {
        action,
        entity: Entity::Postings,
        entity_id,
        unit: Some(unit.to_owned()),
        before: Some(before.trim_matches('"').to_owned()),
        after: Some(after.trim_matches('"').to_owned()),
    });
}

/// The commune's open postings and their ETag, after checking `If-Match` against it.
fn open_inventory(tx: &mut Tx<'_>, unit: &str) -> Result<(Vec<PostingRow>, String), ServiceError> {
    let open = postings::open_for_unit(tx.conn, unit)?;
    let etag = inventory_etag(&open);
    tx.check_if_match(&etag)?;
    Ok((open, etag))
}

/// The guard of a write to `unit`'s inventory.
fn guard<'a>(unit: &str, if_match: Option<&'a str>) -> Guard<'a> {
    Guard {
        lock: WriteLock::commune(unit),
        if_match,
        what: "the inventory",
    }
}

/// Replaces a commune's whole inventory: postings not in `inputs` are taken down `today`.
pub fn replace_inventory(
    conn: &mut DbConnection,
    unit: &str,
    inputs: &[PostingInput],
    today: NaiveDate,
    catalogue: &CatalogueIndex,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<PostingChanges>, ServiceError> {
    transact(conn, guard(unit, if_match), actor, |tx| {
        let (open, before) = open_inventory(tx, unit)?;
        let by_key: BTreeMap<(String, String), &PostingRow> = open
            .iter()
            .map(|r| ((r.procedure_code.clone(), r.channel.clone()), r))
            .collect();
        let mut changes = PostingChanges::default();
        let mut pending = Pending::default();
        let mut seen = HashSet::new();
        for input in inputs {
            let key = (
                input.code.as_str().to_owned(),
                input.channel.as_str().to_owned(),
            );
            let outcome = apply_one(
                tx.conn,
                &mut pending,
                unit,
                by_key.get(&key).copied(),
                input,
                actor,
            )?;
            count(&mut changes, outcome);
            seen.insert(key);
        }
        for (key, row) in &by_key {
            if !seen.contains(key) {
                pending.remove(&row.id, today.max(row.posted_on));
                changes.removed += 1;
            }
        }
        let after = pending.open_after(&open);
        pending.flush(tx.conn, unit)?;
        changes.warnings = warnings_for(catalogue, &inputs.iter().collect::<Vec<_>>());
        changes.etag = inventory_etag(&after);
        changes.changed = changes.etag != before;
        if changes.changed {
            record_change(
                tx,
                unit,
                "replace",
                unit.to_owned(),
                (&before, &changes.etag),
            );
        }
        Ok(changes)
    })
}

/// Records one posting (creating, replacing or editing it).
pub fn put_posting(
    conn: &mut DbConnection,
    unit: &str,
    input: &PostingInput,
    catalogue: &CatalogueIndex,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<(PostingChanges, PostingRow)>, ServiceError> {
    transact(conn, guard(unit, if_match), actor, |tx| {
        let (open, before) = open_inventory(tx, unit)?;
        let current = open.iter().find(|r| {
            r.procedure_code == input.code.as_str() && r.channel == input.channel.as_str()
        });
        let mut changes = PostingChanges::default();
        let mut pending = Pending::default();
        count(
            &mut changes,
            apply_one(tx.conn, &mut pending, unit, current, input, actor)?,
        );
        let after = pending.open_after(&open);
        pending.flush(tx.conn, unit)?;
        changes.warnings = warnings_for(catalogue, &[input]);
        changes.etag = inventory_etag(&after);
        changes.changed = changes.etag != before;
        if changes.changed {
            let id = format!("{unit}/{}/{}", input.code, input.channel.as_str());
            record_change(tx, unit, "put", id, (&before, &changes.etag));
        }
        let row = after
            .into_iter()
            .find(|r| {
                r.procedure_code == input.code.as_str() && r.channel == input.channel.as_str()
            })
            .ok_or_else(|| {
                ServiceError::internal(anyhow::anyhow!("the posting just written is missing"))
            })?;
        Ok((changes, row))
    })
}

/// Takes one posting down on `on` (it stays in the history). Returns the inventory's new ETag.
pub fn remove_posting(
    conn: &mut DbConnection,
    unit: &str,
    (code, channel): (&ProcedureCode, PostingChannel),
    on: NaiveDate,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<String>, ServiceError> {
    transact(conn, guard(unit, if_match), actor, |tx| {
        let (open, before) = open_inventory(tx, unit)?;
        let row = open
            .iter()
            .find(|r| r.procedure_code == code.as_str() && r.channel == channel.as_str())
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "commune {unit} has no current posting of {code} on {}",
                    channel.as_str()
                ))
            })?;
        if on < row.posted_on {
            return Err(ServiceError::invalid(
                "removed_on",
                format!(
                    "the posting dates from {}; it cannot be removed before that",
                    row.posted_on
                ),
            ));
        }
        postings::remove(tx.conn, &row.id, on)?;
        let remaining: Vec<PostingRow> = open.iter().filter(|r| r.id != row.id).cloned().collect();
        let after = inventory_etag(&remaining);
        let id = format!("{unit}/{code}/{}", channel.as_str());
        record_change(tx, unit, "remove", id, (&before, &after));
        Ok(after)
    })
}
