//! A decision's impact: which communes have not yet posted what the decision introduced, or
//! still post what it abolished.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;

use super::load::{evaluate_province, facts_by_unit, load_calendar};
use super::{DecisionImpact, ImpactRow, rules_from};
use crate::db::DbConnection;
use crate::domain::catalogue::NATIONAL;
use crate::domain::gaps::FindingKind;
use crate::domain::obligation::PlacesPeriod;
use crate::repo::catalogue::{self as catalogue_repo, load_catalogue};
use crate::repo::postings::{self, SettingsRow};
use crate::repo::units::{self as units_repo, UnitRow};
use crate::services::ServiceError;

pub fn decision_impact(
    conn: &mut DbConnection,
    id: &str,
    province: Option<&str>,
    as_of: NaiveDate,
) -> Result<DecisionImpact, ServiceError> {
    let decision = catalogue_repo::get_decision(conn, id)?
        .ok_or_else(|| ServiceError::NotFound(format!("no decision {id}")))?;
    // What the decision concerns: the versions its items produced (or, for a provincial list,
    // the versions its items listed) and their procedures.
    let (version_ids, codes): (HashSet<String>, HashSet<String>) =
        catalogue_repo::concerned_versions(conn, &decision)?
            .into_iter()
            .unzip();
    // A provincial decision concerns its own province only.
    let scope_province = (decision.scope != NATIONAL).then(|| decision.scope.clone());
    let province = match (province, scope_province.as_deref()) {
        (Some(p), Some(s)) if p != s => {
            return Ok(empty_impact(&decision.id, &decision.number, as_of, Some(p)));
        }
        (Some(p), _) => Some(p.to_owned()),
        (None, s) => s.map(str::to_owned),
    };
    let catalogue = load_catalogue(conn, province.as_deref())?;
    let settings: HashMap<String, SettingsRow> = postings::all_settings(conn)?
        .into_iter()
        .map(|s| (s.province_code.clone(), s))
        .collect();
    let mut periods: HashMap<String, Vec<PlacesPeriod>> = HashMap::new();
    for row in postings::posting_places(conn, province.as_deref())? {
        periods
            .entry(row.province_code.clone())
            .or_default()
            .push(row.period());
    }
    let calendar = load_calendar(conn)?;
    let communes = units_repo::communes_of(conn, province.as_deref())?;
    let all_postings = facts_by_unit(postings::current_facts_for_province(
        conn,
        province.as_deref(),
        as_of,
    )?);
    let exemptions = postings::exemptions_for_province(conn, province.as_deref())?;
    let mut by_province: BTreeMap<String, Vec<UnitRow>> = BTreeMap::new();
    for c in communes {
        if let Some(p) = c.parent_code.clone() {
            by_province.entry(p).or_default().push(c);
        }
    }
    let mut rows = Vec::new();
    for (prov, its_communes) in &by_province {
        let rules = rules_from(
            settings.get(prov),
            periods.get(prov).map(Vec::as_slice).unwrap_or(&[]),
        );
        let view = catalogue.for_province(prov, as_of, &rules.posting_places);
        for (i, evaluation) in evaluate_province(
            &view,
            its_communes,
            &all_postings,
            &exemptions,
            &rules,
            &calendar,
            true,
        ) {
            let commune = &its_communes[i];
            for f in evaluation.findings {
                if !codes.contains(&f.procedure_code) {
                    continue;
                }
                // A missing or outdated pair expects a version this decision introduced; a posting
                // to take down, an abolition it made (not a later abolition of the same code).
                let caused = match f.kind {
                    FindingKind::Missing | FindingKind::Outdated | FindingKind::MustRemove => f
                        .expected
                        .as_ref()
                        .is_some_and(|e| version_ids.contains(&e.version_id)),
                    FindingKind::NotApplicable
                    | FindingKind::Premature
                    | FindingKind::UnknownProcedure => false,
                };
                if caused {
                    rows.push(ImpactRow {
                        commune_code: commune.code.clone(),
                        commune_name: commune.name.clone(),
                        province_code: prov.clone(),
                        procedure_code: f.procedure_code,
                        procedure_name: f.procedure_name,
                        channel: f.channel,
                        kind: f.kind,
                        due_on: f.due_on,
                        overdue: f.overdue,
                        days_overdue: f.days_overdue,
                    });
                }
            }
        }
    }
    let communes_affected = rows
        .iter()
        .map(|r| r.commune_code.as_str())
        .collect::<HashSet<_>>()
        .len() as u64;
    Ok(DecisionImpact {
        decision_id: decision.id,
        decision_number: decision.number,
        as_of,
        province,
        communes_affected,
        pending: rows.len() as u64,
        rows,
    })
}

/// The names of the provinces an impact names, by code.
pub fn province_names(
    conn: &mut DbConnection,
    impact: &DecisionImpact,
) -> Result<HashMap<String, String>, ServiceError> {
    let codes: HashSet<&str> = impact
        .rows
        .iter()
        .map(|r| r.province_code.as_str())
        .chain(impact.province.as_deref())
        .collect();
    let mut names = HashMap::new();
    for code in codes {
        if let Some(unit) = units_repo::get(conn, code)? {
            names.insert(unit.code, unit.name);
        }
    }
    Ok(names)
}

fn empty_impact(
    id: &str,
    number: &str,
    as_of: NaiveDate,
    province: Option<&str>,
) -> DecisionImpact {
    DecisionImpact {
        decision_id: id.to_owned(),
        decision_number: number.to_owned(),
        as_of,
        province: province.map(str::to_owned),
        communes_affected: 0,
        pending: 0,
        rows: Vec::new(),
    }
}
