//! Importing the list of administrative units (CSV: code,name,division_type,level,parent_code).

use std::collections::HashSet;

use chrono::NaiveDate;

use crate::auth::Identity;
use crate::db::{DbConnection, WriteLock, write_tx};
use crate::domain::codes::{UnitCode, UnitLevel};
use crate::domain::text;
use crate::error::{ApiError, FieldError};
use crate::repo::audit::{self, AuditEvent};
use crate::repo::units::{self, UnitRow};

#[derive(Debug, Clone, serde::Serialize)]
pub struct UnitImportSummary {
    pub rows: usize,
    pub inserted: usize,
    pub updated: usize,
}

/// Splits one CSV line, honouring double quotes.
pub fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', true) => quoted = false,
            ('"', false) if field.is_empty() => quoted = true,
            (',', false) => fields.push(std::mem::take(&mut field)),
            (c, _) => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Reads the CSV; every bad line is reported, and nothing is returned unless all are good.
pub fn parse_units(data: &str, valid_from: NaiveDate) -> Result<Vec<UnitRow>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    for (index, line) in data.lines().enumerate() {
        let number = index + 1;
        if index == 0 && line.starts_with("code,") || line.trim().is_empty() {
            continue;
        }
        let at = || format!("line {number}");
        let f = split_csv_line(line);
        if f.len() != 5 {
            errors.push(FieldError::new(
                at(),
                format!("expected 5 columns, found {}", f.len()),
            ));
            continue;
        }
        let code = match UnitCode::parse(&f[0]) {
            Ok(c) => c,
            Err(e) => {
                errors.push(FieldError::new(at(), e.0));
                continue;
            }
        };
        let level = match UnitLevel::parse(f[3].trim()) {
            Some(l) if l == code.level() => l,
            _ => {
                errors.push(FieldError::new(
                    at(),
                    format!("level `{}` does not fit code {code}", f[3].trim()),
                ));
                continue;
            }
        };
        let name = text::nfc(&f[1]);
        if name.is_empty() {
            errors.push(FieldError::new(at(), "empty name"));
            continue;
        }
        let parent = text::nfc(&f[4]);
        let parent_code = match (level, parent.is_empty()) {
            (UnitLevel::Province, true) => None,
            (UnitLevel::Commune, false) => match UnitCode::province(&parent) {
                Ok(p) => Some(p.as_str().to_owned()),
                Err(e) => {
                    errors.push(FieldError::new(at(), e.0));
                    continue;
                }
            },
            (UnitLevel::Province, false) => {
                errors.push(FieldError::new(at(), "a province has no parent"));
                continue;
            }
            (UnitLevel::Commune, true) => {
                errors.push(FieldError::new(
                    at(),
                    "a commune needs its province as parent",
                ));
                continue;
            }
        };
        if !seen.insert(code.as_str().to_owned()) {
            errors.push(FieldError::new(at(), format!("unit {code} appears twice")));
            continue;
        }
        rows.push(UnitRow {
            code: code.as_str().to_owned(),
            name_search: text::search_key(&name),
            name,
            division_type: text::nfc(&f[2]),
            level: level.as_str().to_owned(),
            parent_code,
            valid_from,
            valid_to: None,
        });
    }
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

pub fn import_units(
    conn: &mut DbConnection,
    data: &str,
    valid_from: NaiveDate,
    actor: &Identity,
) -> Result<UnitImportSummary, ApiError> {
    let rows = parse_units(data, valid_from).map_err(ApiError::Validation)?;
    write_tx(conn, WriteLock::Reference, |conn| {
        let (inserted, updated) = units::upsert(conn, &rows)?;
        crate::repo::revisions::bump(conn, crate::repo::revisions::REFERENCE)?;
        if inserted + updated > 0 {
            audit::record(
                conn,
                AuditEvent {
                    actor,
                    action: "import",
                    entity: "units",
                    entity_id: "*",
                    unit: None,
                    hash_before: None,
                    hash_after: None,
                    request_id: None,
                },
            )?;
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
    fn csv_lines_split_with_quotes() {
        assert_eq!(split_csv_line(r#"1,"a, b",c"#), vec!["1", "a, b", "c"]);
        assert_eq!(
            split_csv_line(r#""say ""hi""",x"#),
            vec![r#"say "hi""#, "x"]
        );
        assert_eq!(
            split_csv_line("01,Hà Nội,tỉnh,province,"),
            vec!["01", "Hà Nội", "tỉnh", "province", ""]
        );
    }

    #[test]
    fn bad_unit_lines_are_all_reported() {
        let date = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default();
        let csv = "code,name,division_type,level,parent_code\n79,HCM,tp,province,\n2674,X,xã,commune,79\n26740,X,xã,commune,80\n";
        let errors = parse_units(csv, date).err().unwrap_or_default();
        assert_eq!(errors.len(), 2, "{errors:?}");
    }
}
