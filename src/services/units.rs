//! Importing the list of administrative units (CSV: code,name,division_type,level,parent_code).

use std::collections::HashSet;

use chrono::NaiveDate;

use super::ServiceError;
use super::write::{Actor, Audit, Counter, Guard, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::FieldError;
use crate::domain::codes::{UnitCode, UnitLevel};
use crate::domain::text;
use crate::repo::audit::Entity;
use crate::repo::units::{self, UnitRow};

#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitImportSummary {
    pub rows: usize,
    pub inserted: usize,
    pub updated: usize,
}

/// One line of the file as a unit, or what is wrong with it.
fn parse_unit(f: &[&str], valid_from: NaiveDate) -> Result<UnitRow, String> {
    if f.len() != 5 {
        return Err(format!("expected 5 columns, found {}", f.len()));
    }
    let code = UnitCode::parse(f[0]).map_err(|e| e.0)?;
    let level = match UnitLevel::parse(f[3].trim()) {
        Some(l) if l == code.level() => l,
        _ => return Err(format!("level `{}` does not fit code {code}", f[3].trim())),
    };
    let name = text::nfc(f[1]);
    if name.is_empty() {
        return Err("empty name".into());
    }
    let parent = text::nfc(f[4]);
    let parent_code = match (level, parent.is_empty()) {
        (UnitLevel::Province, true) => None,
        (UnitLevel::Commune, false) => Some(
            UnitCode::province(&parent)
                .map_err(|e| e.0)?
                .as_str()
                .to_owned(),
        ),
        (UnitLevel::Province, false) => return Err("a province has no parent".into()),
        (UnitLevel::Commune, true) => return Err("a commune needs its province as parent".into()),
    };
    Ok(UnitRow {
        code: code.as_str().to_owned(),
        name_search: text::search_key(&name),
        name,
        division_type: text::nfc(f[2]),
        level: level.as_str().to_owned(),
        parent_code,
        valid_from,
        valid_to: None,
    })
}

/// Reads the CSV; every bad line is reported, and nothing is returned unless all are good.
pub fn parse_units(data: &str, valid_from: NaiveDate) -> Result<Vec<UnitRow>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut rows: Vec<UnitRow> = Vec::new();
    let mut seen = HashSet::new();
    let _ = super::csv::read_lines(data, |number, record| -> Result<bool, ()> {
        let parsed = match record {
            Ok(r) if number == 1 && r.get(0) == Some("code") => return Ok(true),
            Ok(r) => parse_unit(&r.iter().collect::<Vec<_>>(), valid_from),
            Err(problem) => Err(problem.to_owned()),
        };
        match parsed {
            Ok(row) if !seen.insert(row.code.clone()) => errors.push(FieldError::new(
                format!("line {number}"),
                format!("unit {} appears twice", row.code),
            )),
            Ok(row) => rows.push(row),
            Err(message) => errors.push(FieldError::new(format!("line {number}"), message)),
        }
        Ok(true)
    });
    let provinces: HashSet<&str> = rows
        .iter()
        .filter(|r| r.level == "province")
        .map(|r| r.code.as_str())
        .collect();
    for row in &rows {
        if let Some(parent) = &row.parent_code
            && !provinces.contains(parent.as_str())
        {
            errors.push(FieldError::new(
                format!("unit {}", row.code),
                format!("parent {parent} is not a province of the file"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    rows.sort_by(|a, b| (a.level != "province", &a.code).cmp(&(b.level != "province", &b.code)));
    Ok(rows)
}

/// Loads the units of a CSV file: new codes are inserted, changed ones updated.
pub fn import_units(
    conn: &mut DbConnection,
    data: &str,
    valid_from: NaiveDate,
    actor: &Actor,
) -> Result<Committed<UnitImportSummary>, ServiceError> {
    let rows = parse_units(data, valid_from).map_err(ServiceError::Validation)?;
    transact(conn, Guard::lock(WriteLock::Reference), actor, |tx| {
        let (inserted, updated) = units::upsert(tx.conn, &rows)?;
        tx.bump(Counter::Reference);
        if inserted + updated > 0 {
            tx.audit(Audit {
                action: "import",
                entity: Entity::Units,
                entity_id: "*".into(),
                unit: None,
                before: None,
                after: None,
            });
        }
        Ok(UnitImportSummary {
            rows: rows.len(),
            inserted,
            updated,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_unit_lines_are_all_reported() {
        let date = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default();
        let csv = "code,name,division_type,level,parent_code\n79,HCM,tp,province,\n2674,X,xã,commune,79\n26740,X,xã,commune,80\n";
        let errors = parse_units(csv, date).err().unwrap_or_default();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
