//! Importing the 2025 conversion table: retired units and their lineage edges (see
//! `domain::lineage` for how the table is read and checked).

use std::collections::HashMap;

use sha2::Digest;

use super::ServiceError;
use super::write::{Actor, Audit, Counter, Guard, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::FieldError;
use crate::domain::lineage::{self, CurrentCommune, Lineage, Problem, Resolutions};
use crate::domain::text;
use crate::repo::audit::Entity;
use crate::repo::lineage::{self as repo, EdgeRow, RetiredUnitRow};

/// Resolutions known by number, with their source (`province_code,resolution,source`).
pub const RESOLUTIONS_CSV: &str = include_str!("../../data/lineage-resolutions.csv");

#[derive(Debug, Clone, serde::Serialize)]
pub struct LineageSummary {
    pub source_sha256: String,
    pub provinces: usize,
    pub districts: usize,
    pub communes: usize,
    pub edges: usize,
    /// Rows worked around (each says how).
    pub problems: Vec<Problem>,
    /// The same table was already loaded: nothing written.
    pub unchanged: bool,
}

pub fn resolutions() -> Resolutions {
    RESOLUTIONS_CSV
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split(',');
            Some((f.next()?.trim().to_owned(), f.next()?.trim().to_owned()))
        })
        .collect()
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

/// Reads and checks the table against the current communes; nothing is written.
pub fn check(conn: &mut DbConnection, data: &str) -> Result<Lineage, ServiceError> {
    let current: HashMap<String, CurrentCommune> = crate::repo::units::communes_of(conn, None)?
        .into_iter()
        .map(|u| {
            (
                u.code,
                CurrentCommune {
                    name: u.name,
                    province: u.parent_code.unwrap_or_default(),
                },
            )
        })
        .collect();
    if current.is_empty() {
        return Err(ServiceError::invalid(
            "units",
            "no current communes to check the table against: load the units first (`niemyet serve` seeds them, or `niemyet import-units`)",
        ));
    }
    Ok(lineage::parse(data, &current, &resolutions()))
}

/// Loads the table: every retired unit and edge replaced in one transaction, or nothing when a
/// row cannot be placed (all such rows reported by line) or the same table is already loaded.
pub fn import_lineage(
    conn: &mut DbConnection,
    data: &str,
    actor: &Actor,
) -> Result<Committed<LineageSummary>, ServiceError> {
    let sha = sha256_hex(data.as_bytes());
    let parsed = check(conn, data)?;
    let blocking: Vec<FieldError> = parsed
        .blocking()
        .map(|p| {
            FieldError::new(
                format!("line {}", p.line),
                format!("{}: {}", p.kind, p.message),
            )
        })
        .collect();
    if !blocking.is_empty() {
        return Err(ServiceError::Validation(blocking));
    }
    let valid_to = lineage::retired_on();
    let units: Vec<RetiredUnitRow> = parsed
        .units
        .iter()
        .map(|u| RetiredUnitRow {
            level: u.level.to_owned(),
            code: u.code.clone(),
            name_search: text::search_key(&u.name),
            name: u.name.clone(),
            division_type: u.division_type.clone(),
            district_code: u.district_code.clone(),
            province_code: u.province_code.clone(),
            valid_to,
            source_sha256: sha.clone(),
        })
        .collect();
    let edges: Vec<EdgeRow> = parsed
        .edges
        .iter()
        .map(|e| EdgeRow {
            old_level: e.old_level.to_owned(),
            old_code: e.old_code.clone(),
            new_code: e.new_code.clone(),
            relation: e.relation.as_str().to_owned(),
            note: e.note.clone(),
            basis: e.basis.clone(),
            source_line: i32::try_from(e.line).unwrap_or(i32::MAX),
            source_sha256: sha.clone(),
        })
        .collect();
    let mut summary = LineageSummary {
        source_sha256: sha.clone(),
        provinces: parsed.count("province"),
        districts: parsed.count("district"),
        communes: parsed.count("commune"),
        edges: edges.len(),
        problems: parsed.problems.clone(),
        unchanged: false,
    };
    transact(conn, Guard::lock(WriteLock::Reference), actor, |tx| {
        let loaded = repo::sources(tx.conn)?;
        // The same table with the same bases (the resolutions file may have gained a number).
        let bases: std::collections::BTreeSet<&str> =
            edges.iter().map(|e| e.basis.as_str()).collect();
        if loaded == [sha.clone()]
            && repo::count_edges(tx.conn)? == edges.len() as i64
            && repo::bases(tx.conn)?
                .iter()
                .map(String::as_str)
                .collect::<std::collections::BTreeSet<_>>()
                == bases
        {
            summary.unchanged = true;
            return Ok(summary);
        }
        repo::replace(tx.conn, &units, &edges)?;
        tx.bump(Counter::Reference);
        tx.audit(Audit {
            action: "import_lineage",
            entity: Entity::Units,
            entity_id: format!("lineage:{sha}"),
            unit: None,
            before: None,
            after: None,
        });
        Ok(summary)
    })
}
