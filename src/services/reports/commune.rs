//! One commune's report: computed from the database for an inspection, or served from the
//! cache while the counters it was computed under are unchanged.

use crate::telemetry::metrics;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;

use super::load::{exemption_fact, fill_changed_fields, load_calendar, posting_fact, sector_names};
use super::{
    CommuneReport, ReportFinding, RulesView, UnitRef, commune_and_province, commune_in, coverage,
    rules_in, rules_of,
};
use crate::auth::Denied;
use crate::cache::{Body, ReportCache, Revs};
use crate::db::DbConnection;
use crate::domain::calendar::Calendar;
use crate::domain::gaps::{CatalogueIndex, ExemptionFact, PostingFact, ProvinceRules, evaluate};
use crate::repo::catalogue::load_catalogue;
use crate::repo::postings;
use crate::repo::units::UnitRow;
use crate::services::ServiceError;

/// A commune's report, computed from the database (inspections freeze this).
pub fn commune_report(
    conn: &mut DbConnection,
    code: &str,
    as_of: NaiveDate,
) -> Result<CommuneReport, ServiceError> {
    let (commune, province) = commune_and_province(conn, code)?;
    let catalogue = load_catalogue(conn, Some(&province.code))?;
    let rules = rules_of(conn, &province.code)?;
    let calendar = load_calendar(conn)?;
    let names = sector_names(conn)?;
    build_commune_report(
        conn,
        (&commune, &province),
        &catalogue,
        (&rules, &calendar, &names),
        as_of,
    )
}

/// A commune's report as JSON, from the cache while the counters it was computed under are
/// unchanged. `authorize` is given the commune's province before anything is read or computed.
pub fn commune_report_json(
    conn: &mut DbConnection,
    cache: &ReportCache,
    code: &str,
    as_of: NaiveDate,
    authorize: &dyn Fn(&str) -> Result<(), Denied>,
) -> Result<Body, ServiceError> {
    let (catalogue_rev, reference_rev, units) = cache.revisions_of(conn, &[code])?;
    let reference = cache.reference(conn, reference_rev)?;
    let (commune, province) = commune_in(&reference, code)?;
    authorize(&province.code)?;
    let revs = Revs {
        catalogue: catalogue_rev,
        reference: reference_rev,
        unit: units.get(code).copied().unwrap_or(0),
    };
    if let Some(body) = cache.body(code, as_of, revs) {
        return Ok(body);
    }
    let compiled = cache.catalogue(conn, catalogue_rev)?;
    let rules = rules_in(&reference, &province.code);
    let report = build_commune_report(
        conn,
        (commune, province),
        &compiled.index,
        (&rules, &reference.calendar, &compiled.sector_names),
        as_of,
    )?;
    let body = Body::new(serde_json::to_vec(&report).map_err(ServiceError::internal)?);
    cache
        .metrics()
        .computed(metrics::Computation::CommuneReport, 1);
    cache.store_summary(code, as_of, revs, Arc::new(report.summary));
    cache.store_body(code, as_of, revs, body.clone());
    Ok(body)
}

fn build_commune_report(
    conn: &mut DbConnection,
    (commune, province): (&UnitRow, &UnitRow),
    catalogue: &CatalogueIndex,
    (rules, calendar, names): (&ProvinceRules, &Calendar, &HashMap<String, String>),
    as_of: NaiveDate,
) -> Result<CommuneReport, ServiceError> {
    let facts: Vec<PostingFact> = postings::current_for_unit(conn, &commune.code, as_of)?
        .iter()
        .filter_map(posting_fact)
        .collect();
    let exemptions: Vec<ExemptionFact> = postings::exemptions_for_unit(conn, &commune.code)?
        .iter()
        .map(exemption_fact)
        .collect();
    let view = catalogue.for_province(&province.code, as_of, &rules.posting_places);
    let mut evaluation = evaluate(&commune.code, &view, &facts, &exemptions, rules, calendar);
    fill_changed_fields(
        conn,
        &mut evaluation.findings.iter_mut().collect::<Vec<_>>(),
    )?;
    Ok(CommuneReport {
        commune: UnitRef {
            code: commune.code.clone(),
            name: commune.name.clone(),
        },
        province: UnitRef {
            code: province.code.clone(),
            name: province.name.clone(),
        },
        as_of,
        rules: RulesView::of(rules, as_of),
        sectors: coverage(&evaluation.summary.by_sector, names),
        findings: evaluation
            .findings
            .into_iter()
            .map(|f| ReportFinding {
                sector_name: f.sector_code.as_ref().and_then(|s| names.get(s).cloned()),
                finding: f,
            })
            .collect(),
        summary: evaluation.summary,
    })
}
