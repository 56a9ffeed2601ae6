//! Placing versions: the sector table (where a sector's procedures are posted when their agency
//! text says nothing), its edits by an admin, and placing the versions that were written before
//! posting places existed. A decision places the versions it announces itself
//! (`domain::catalogue::placement_of`).
//!
//! An edit of the sector table places every version of that sector again, past ones included, so
//! that reports for any date follow the corrected table: it corrects the data, it is not a change
//! of law (a province's change of what its communes post is a provincial list, from a date).

use std::collections::HashMap;

use super::ServiceError;
use super::etag;
use super::write::{Actor, Audit, Counter, Guard, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::catalogue::{DECIDED, Level, NATIONAL, levels_from_db};
use crate::domain::obligation::{Placement, PlacementInput, PostingPlace, place};
use crate::domain::text;
use crate::repo::audit::Entity;
use crate::repo::catalogue::{self as catalogue_repo, PlacementRow};
use crate::repo::sectors::{self, SectorPlaceRow};

/// One row of the sector table, as the bundled file or an admin gives it.
#[derive(Debug, Clone)]
pub struct SectorPlace {
    pub sector_name: String,
    pub place: PostingPlace,
    pub reason: String,
}

/// Reads the bundled sector table (`sector,place,reason` with a header).
pub fn parse_sector_table(data: &str) -> Result<Vec<SectorPlace>, ServiceError> {
    let mut rows = Vec::new();
    super::csv::read_lines(data, |line, record| {
        let bad =
            |why: &str| ServiceError::internal(anyhow::anyhow!("sector table, line {line}: {why}"));
        let record = record.map_err(bad)?;
        if line == 1 {
            return Ok(true);
        }
        let (Some(name), Some(place), Some(reason)) = (record.get(0), record.get(1), record.get(2))
        else {
            return Err(bad("expected sector,place,reason"));
        };
        rows.push(SectorPlace {
            sector_name: text::nfc(name),
            place: PostingPlace::parse(place.trim()).ok_or_else(|| bad("unknown place"))?,
            reason: text::nfc(reason),
        });
        Ok(true)
    })?;
    Ok(rows)
}

/// Fills an empty sector table with `rows` (start-up seeding): no audit entry.
pub fn seed_sector_table(
    conn: &mut DbConnection,
    rows: &[SectorPlace],
) -> Result<usize, ServiceError> {
    let system = Actor::system();
    transact(conn, Guard::lock(WriteLock::Catalogue), &system, |tx| {
        if !sectors::places(tx.conn)?.is_empty() {
            return Ok(0);
        }
        let now = crate::repo::now();
        let rows: Vec<SectorPlaceRow> = rows
            .iter()
            .map(|r| SectorPlaceRow {
                sector_name: r.sector_name.clone(),
                place: r.place.as_str().to_owned(),
                reason: r.reason.clone(),
                updated_by: system.identity.sub.clone(),
                updated_at: now,
            })
            .collect();
        Ok(sectors::insert_places(tx.conn, &rows)?)
    })
    .map(Committed::without_cache)
}

/// The placement of a stored version, by the rules (a decision's own placement is kept).
fn placement_of_row(row: &PlacementRow, table: &HashMap<String, PostingPlace>) -> Placement {
    if row.posting_rule.as_deref() == Some(DECIDED)
        && let Some(place) = row.posting_place.as_deref().and_then(PostingPlace::parse)
    {
        return Placement::new(place, DECIDED);
    }
    place(&PlacementInput {
        commune_level: levels_from_db(&row.levels).contains(&Level::Commune),
        national: row.scope == NATIONAL,
        announced_by: row.announced_by.as_deref(),
        executing_agency: row.executing_agency.as_deref(),
        authority: row.authority.as_deref(),
        sector_place: table.get(&row.sector_code).copied(),
    })
}

/// Places `rows` again; returns those whose placement changed.
fn replace(
    rows: &[PlacementRow],
    table: &HashMap<String, PostingPlace>,
) -> Vec<(String, Placement)> {
    rows.iter()
        .filter_map(|row| {
            let placement = placement_of_row(row, table);
            let same = row.posting_place.as_deref() == Some(placement.place.as_str())
                && row.posting_rule.as_deref() == Some(placement.rule.as_str());
            (!same).then(|| (row.id.clone(), placement))
        })
        .collect()
}

/// Places the versions written before posting places existed (at start; nothing to do after the
/// first). Returns how many were placed.
pub fn place_unplaced(conn: &mut DbConnection) -> Result<usize, ServiceError> {
    let committed = transact(
        conn,
        Guard::lock(WriteLock::Catalogue),
        &Actor::system(),
        |tx| {
            let rows = catalogue_repo::versions_to_place(tx.conn, None)?;
            if rows.is_empty() {
                return Ok(0);
            }
            let placed = replace(&rows, &sectors::place_by_code(tx.conn)?);
            catalogue_repo::set_placements(tx.conn, &placed)?;
            tx.bump(Counter::Catalogue);
            tx.audit(Audit {
                action: "place",
                entity: Entity::SectorPlace,
                entity_id: "*".into(),
                unit: None,
                before: None,
                after: Some(format!("{} versions placed", placed.len())),
            });
            Ok(placed.len())
        },
    )?;
    Ok(committed.without_cache())
}

/// A sector's row of the table, as the API shows it.
#[derive(Debug, Clone)]
pub struct SectorPlaceView {
    pub sector_code: String,
    pub sector_name: String,
    /// `None` when the table has no row for the sector (its procedures of no known agency are
    /// then the commune centre's).
    pub row: Option<SectorPlaceRow>,
}

impl SectorPlaceView {
    pub fn etag(&self) -> String {
        match &self.row {
            Some(r) => etag::of([r.sector_name.as_str(), &r.place, &r.reason]),
            None => etag::of([self.sector_name.as_str()]),
        }
    }
}

/// The sector table's row of the sector `code` (404 for an unknown sector).
pub fn sector_place(conn: &mut DbConnection, code: &str) -> Result<SectorPlaceView, ServiceError> {
    let sector = sectors::get(conn, code)?
        .ok_or_else(|| ServiceError::NotFound(format!("no sector `{code}`")))?;
    Ok(SectorPlaceView {
        row: sectors::place_of(conn, &sector.name)?,
        sector_code: sector.code,
        sector_name: sector.name,
    })
}

/// Sets where a sector's procedures of no known agency are posted, and places every version of
/// the sector again. Returns the row and how many versions changed place.
pub fn set_sector_place(
    conn: &mut DbConnection,
    code: &str,
    (place, reason): (PostingPlace, String),
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<(SectorPlaceView, usize)>, ServiceError> {
    let guard = Guard {
        lock: WriteLock::Catalogue,
        if_match,
        what: "the sector's posting place",
    };
    transact(conn, guard, actor, |tx| {
        let before = sector_place(tx.conn, code)?;
        tx.check_if_match(&before.etag())?;
        let row = SectorPlaceRow {
            sector_name: before.sector_name.clone(),
            place: place.as_str().to_owned(),
            reason,
            updated_by: actor.identity.sub.clone(),
            updated_at: crate::repo::now(),
        };
        let after = SectorPlaceView {
            row: Some(row.clone()),
            ..before.clone()
        };
        if before.etag() == after.etag() {
            return Ok((before, 0));
        }
        sectors::save_place(tx.conn, &row)?;
        let rows = catalogue_repo::versions_to_place(tx.conn, Some(code))?;
        let placed = replace(&rows, &sectors::place_by_code(tx.conn)?);
        catalogue_repo::set_placements(tx.conn, &placed)?;
        tx.bump(Counter::Catalogue);
        tx.audit(Audit {
            action: "update",
            entity: Entity::SectorPlace,
            entity_id: code.to_owned(),
            unit: None,
            before: Some(before.etag().trim_matches('"').to_owned()),
            after: Some(after.etag().trim_matches('"').to_owned()),
        });
        Ok((after, placed.len()))
    })
}
