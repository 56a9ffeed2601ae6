//! Exemptions, public holidays and province settings: the data deadlines and the required set
//! depend on. Each write checks its `If-Match` against the state read in its transaction, bumps
//! the counter the reports depend on, and is audited.

use chrono::NaiveDate;

use super::ServiceError;
use super::etag;
use super::write::{Actor, Audit, Counter, Guard, Tx, transact};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::codes::ProcedureCode;
use crate::domain::gaps::{PostingChannel, ProvinceRules};
use crate::repo::audit::Entity;
use crate::repo::postings::{self as repo, ExemptionRow, HolidayRow, SettingsRow};
use crate::repo::units;

use super::reports::rules_of;

/// ETag of one exemption.
pub fn exemption_etag(r: &ExemptionRow) -> String {
    etag::of([
        r.id.as_str(),
        &r.procedure_code,
        &r.reason,
        &r.valid_from.to_string(),
        &r.valid_to.map(|d| d.to_string()).unwrap_or_default(),
    ])
}

/// ETag of a commune's exemptions: changes when one is added or removed.
pub fn exemptions_etag(rows: &[ExemptionRow]) -> String {
    let mut tags: Vec<String> = rows.iter().map(exemption_etag).collect();
    tags.sort();
    etag::of(tags)
}

/// ETag of the holiday table.
pub fn holidays_etag(rows: &[HolidayRow]) -> String {
    etag::of(
        rows.iter()
            .map(|h| format!("{}={}", h.day, h.name))
            .collect::<Vec<_>>(),
    )
}

/// ETag of a province's rules.
pub fn settings_etag(rules: &ProvinceRules) -> String {
    let channels: Vec<&str> = rules.required_channels.iter().map(|c| c.as_str()).collect();
    etag::of(&[rules.deadline_working_days.to_string(), channels.join(",")])
}

/// An etag as stored in the audit log: without its quotes.
fn bare(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// A checked request for an exemption.
#[derive(Debug, Clone)]
pub struct NewExemption {
    pub procedure: ProcedureCode,
    pub reason: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

/// Exempts `unit` (a commune) from a procedure. 422 for a procedure the catalogue does not
/// know, 409 when an exemption of the same procedure overlaps.
pub fn create_exemption(
    conn: &mut DbConnection,
    unit: &str,
    new: NewExemption,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<ExemptionRow>, ServiceError> {
    let guard = Guard {
        lock: WriteLock::commune(unit),
        if_match,
        what: "the commune's exemptions",
    };
    transact(conn, guard, actor, |tx| {
        let current = repo::exemptions_for_unit(tx.conn, unit)?;
        tx.check_if_match(&exemptions_etag(&current))?;
        let code = new.procedure.as_str();
        if !crate::repo::catalogue::procedure_exists(tx.conn, code)? {
            return Err(ServiceError::invalid(
                "procedure_code",
                format!("{code} is not in the catalogue"),
            ));
        }
        let overlapping = current.into_iter().find(|e| {
            e.procedure_code == code
                && e.valid_to.is_none_or(|to| to > new.valid_from)
                && new.valid_to.is_none_or(|to| to > e.valid_from)
        });
        if let Some(e) = overlapping {
            return Err(ServiceError::Conflict(format!(
                "exemption {} already covers part of that period",
                e.id
            )));
        }
        let row = ExemptionRow {
            id: uuid::Uuid::now_v7().to_string(),
            unit_code: unit.to_owned(),
            procedure_code: code.to_owned(),
            reason: new.reason,
            valid_from: new.valid_from,
            valid_to: new.valid_to,
            created_by: actor.identity.sub.clone(),
            created_at: crate::repo::now(),
        };
        repo::insert_exemption(tx.conn, &row)?;
        record_exemption(
            tx,
            "create",
            &row,
            (None, Some(bare(&exemption_etag(&row)))),
        );
        Ok(row)
    })
}

/// Removes an exemption of `unit`; with `If-Match`, only if it is still the one read.
pub fn delete_exemption(
    conn: &mut DbConnection,
    unit: &str,
    id: &str,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<()>, ServiceError> {
    let guard = Guard {
        lock: WriteLock::commune(unit),
        if_match,
        what: "the exemption",
    };
    transact(conn, guard, actor, |tx| {
        let row = repo::get_exemption(tx.conn, unit, id)?.ok_or_else(|| {
            ServiceError::NotFound(format!("commune {unit} has no exemption {id}"))
        })?;
        tx.check_if_match(&exemption_etag(&row))?;
        repo::delete_exemption(tx.conn, &row.id)?;
        record_exemption(
            tx,
            "delete",
            &row,
            (Some(bare(&exemption_etag(&row))), None),
        );
        Ok(())
    })
}

fn record_exemption(
    tx: &mut Tx<'_>,
    action: &'static str,
    row: &ExemptionRow,
    (before, after): (Option<String>, Option<String>),
) {
    tx.bump(Counter::Commune(row.unit_code.clone()));
    tx.audit(Audit {
        action,
        entity: Entity::Exemption,
        entity_id: row.id.clone(),
        unit: Some(row.unit_code.clone()),
        before,
        after,
    });
}

/// Replaces the holiday table (`rows` checked and in date order). Sending the same table again
/// writes and audits nothing.
pub fn replace_holidays(
    conn: &mut DbConnection,
    rows: Vec<HolidayRow>,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<Vec<HolidayRow>>, ServiceError> {
    let guard = Guard {
        lock: WriteLock::Reference,
        if_match,
        what: "the holiday table",
    };
    transact(conn, guard, actor, |tx| {
        let before = holidays_etag(&repo::holidays(tx.conn)?);
        tx.check_if_match(&before)?;
        if holidays_etag(&rows) == before {
            return Ok(rows);
        }
        repo::replace_holidays(tx.conn, &rows)?;
        let after = repo::holidays(tx.conn)?;
        tx.bump(Counter::Reference);
        tx.audit(Audit {
            action: "replace",
            entity: Entity::Holidays,
            entity_id: "*".into(),
            unit: None,
            before: Some(bare(&before)),
            after: Some(bare(&holidays_etag(&after))),
        });
        Ok(after)
    })
}

/// Fills an empty holiday table (start-up seeding): no audit entry, nothing to compare.
pub fn seed_holidays(conn: &mut DbConnection, rows: &[HolidayRow]) -> Result<usize, ServiceError> {
    transact(
        conn,
        Guard::lock(WriteLock::Reference),
        &Actor::system(),
        |tx| {
            if repo::count_holidays(tx.conn)? > 0 {
                return Ok(0);
            }
            repo::replace_holidays(tx.conn, rows)?;
            Ok(rows.len())
        },
    )
    .map(Committed::without_cache)
}

/// A province's rules (404 for an unknown province).
pub fn province_rules(
    conn: &mut DbConnection,
    province: &str,
) -> Result<ProvinceRules, ServiceError> {
    if !units::is_province(conn, province)? {
        return Err(no_province(province));
    }
    rules_of(conn, province)
}

fn no_province(code: &str) -> ServiceError {
    ServiceError::NotFound(format!("no province {code}"))
}

/// Changes a province's rules; the same rules again write and audit nothing.
pub fn save_province_rules(
    conn: &mut DbConnection,
    province: &str,
    rules: ProvinceRules,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<ProvinceRules>, ServiceError> {
    let guard = Guard {
        lock: WriteLock::Reference,
        if_match,
        what: "the province settings",
    };
    transact(conn, guard, actor, |tx| {
        let current = province_rules(tx.conn, province)?;
        let before = settings_etag(&current);
        tx.check_if_match(&before)?;
        let after = settings_etag(&rules);
        if before == after {
            return Ok(rules);
        }
        let channels: Vec<&str> = rules.required_channels.iter().map(|c| c.as_str()).collect();
        repo::save_settings(
            tx.conn,
            &SettingsRow {
                province_code: province.to_owned(),
                deadline_working_days: i32::try_from(rules.deadline_working_days)
                    .unwrap_or(i32::MAX),
                required_channels: channels.join(","),
                updated_by: actor.identity.sub.clone(),
                updated_at: crate::repo::now(),
            },
        )?;
        tx.bump(Counter::Reference);
        tx.audit(Audit {
            action: "update",
            entity: Entity::ProvinceSettings,
            entity_id: province.to_owned(),
            unit: Some(province.to_owned()),
            before: Some(bare(&before)),
            after: Some(bare(&after)),
        });
        Ok(rules)
    })
}

/// The channels a province may require: at least one, each once, in a fixed order.
pub fn normalise_channels(mut channels: Vec<PostingChannel>) -> Vec<PostingChannel> {
    channels.sort();
    channels.dedup();
    channels
}
