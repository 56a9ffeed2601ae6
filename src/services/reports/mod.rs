//! Gap reports: one commune, one province (a row per commune, worst first), the country (a row
//! per province) and a decision's impact. Each report reads what it needs in a few set-based
//! queries (catalogue rows, postings, exemptions, settings, holidays), then runs the pure gap
//! engine per commune in memory.
//!
//! - [`load`]: reading postings, exemptions and version contents into the engine's facts;
//! - [`commune`]: one commune's report, cached as JSON;
//! - [`aggregate`]: province and national reports, from per-commune summaries (cached, stored);
//! - [`impact`]: which communes have not yet acted on a decision.
//!
//! This module holds the report types the API answers with.

mod aggregate;
mod commune;
mod impact;
mod load;

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ServiceError;
use crate::cache::Reference;
use crate::db::DbConnection;
use crate::domain::gaps::{
    Finding, FindingKind, KindCounts, PostingChannel, ProvinceRules, SectorSummary, Summary,
    percent,
};
use crate::domain::obligation::{PlacesPeriod, PostingPlace};
use crate::repo::postings::{self, SettingsRow};
use crate::repo::units::{self as units_repo, UnitRow};

pub use aggregate::{
    CommuneOverdue, SUMMARY_VERSION, communes_overdue, national_report, province_report,
};
pub use commune::{commune_report, commune_report_json};
pub use impact::{decision_impact, province_names};
pub use load::load_calendar;

/// A province's rules: its settings (or the defaults: 5 working days, both channels) and its
/// posting-place periods (none: the centre only).
pub fn rules_from(row: Option<&SettingsRow>, posting_places: &[PlacesPeriod]) -> ProvinceRules {
    let mut rules = match row {
        None => ProvinceRules::default(),
        Some(r) => ProvinceRules {
            deadline_working_days: r.deadline_working_days.max(0) as u32,
            required_channels: r
                .required_channels
                .split(',')
                .filter_map(PostingChannel::parse)
                .collect(),
            posting_places: Vec::new(),
        },
    };
    rules.posting_places = posting_places.to_vec();
    rules
}

/// A province's rules from the cached reference data.
pub fn rules_in(reference: &Reference, province: &str) -> ProvinceRules {
    rules_from(
        reference.settings.get(province),
        reference.places_of(province),
    )
}

/// A province's rules read from the database.
pub fn rules_of(conn: &mut DbConnection, province: &str) -> Result<ProvinceRules, ServiceError> {
    let periods: Vec<PlacesPeriod> = postings::posting_places(conn, Some(province))?
        .iter()
        .map(|r| r.period())
        .collect();
    Ok(rules_from(
        postings::settings(conn, province)?.as_ref(),
        &periods,
    ))
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitRef {
    #[schema(example = "26740")]
    pub code: String,
    #[schema(example = "Phường Sài Gòn")]
    pub name: String,
}

/// The rules a report applied.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RulesView {
    pub deadline_working_days: u32,
    pub required_channels: Vec<PostingChannel>,
    /// The posting places the province's communes post on the report's date: `commune_centre`,
    /// and `commune_police` where the province has it posted at the centre too.
    #[serde(default = "crate::domain::obligation::default_places")]
    pub posting_places: Vec<PostingPlace>,
}

impl RulesView {
    /// The rules applied on `as_of`.
    pub fn of(r: &ProvinceRules, as_of: NaiveDate) -> Self {
        RulesView {
            deadline_working_days: r.deadline_working_days,
            required_channels: r.required_channels.clone(),
            posting_places: r.places_on(as_of),
        }
    }
}

/// A sector's completeness, with its name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SectorCoverage {
    #[schema(example = "ho-tich")]
    pub sector_code: String,
    #[schema(example = "Hộ tịch")]
    pub sector_name: String,
    pub required_pairs: u64,
    pub ok: u64,
    pub missing: u64,
    pub outdated: u64,
    pub completeness: f64,
}

/// A finding with its sector's name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub sector_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CommuneReport {
    pub commune: UnitRef,
    pub province: UnitRef,
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    pub rules: RulesView,
    pub summary: Summary,
    /// Per-sector completeness, with names.
    pub sectors: Vec<SectorCoverage>,
    /// Worst first: high severity, then by procedure code and channel.
    pub findings: Vec<ReportFinding>,
}

fn coverage(list: &[SectorSummary], names: &HashMap<String, String>) -> Vec<SectorCoverage> {
    list.iter()
        .map(|s| SectorCoverage {
            sector_code: s.sector_code.clone(),
            sector_name: names.get(&s.sector_code).cloned().unwrap_or_default(),
            required_pairs: s.required_pairs,
            ok: s.ok,
            missing: s.missing,
            outdated: s.outdated,
            completeness: s.completeness,
        })
        .collect()
}

/// The commune `code` and its province, found with `lookup`: 404 for an unknown code, 422 when
/// it names a province.
fn split_commune<U: std::borrow::Borrow<UnitRow>>(
    code: &str,
    mut lookup: impl FnMut(&str) -> Result<Option<U>, ServiceError>,
) -> Result<(U, U), ServiceError> {
    let commune =
        lookup(code)?.ok_or_else(|| ServiceError::NotFound(format!("no commune {code}")))?;
    let province_code = commune.borrow().parent_code.clone().ok_or_else(|| {
        ServiceError::invalid("code", format!("{code} is a province, not a commune"))
    })?;
    let province = lookup(&province_code)?.ok_or_else(|| {
        ServiceError::internal(anyhow::anyhow!("commune {code} has no province row"))
    })?;
    Ok((commune, province))
}

/// The commune and its province, read from the database.
pub fn commune_and_province(
    conn: &mut DbConnection,
    code: &str,
) -> Result<(UnitRow, UnitRow), ServiceError> {
    split_commune(code, |c| Ok(units_repo::get(conn, c)?))
}

/// The commune named by a request's `field` and its province: an unknown code is the request's
/// fault there (422), not a missing resource.
pub fn named_commune(
    conn: &mut DbConnection,
    code: &str,
    field: &str,
) -> Result<(UnitRow, UnitRow), ServiceError> {
    commune_and_province(conn, code).map_err(|e| match e {
        ServiceError::NotFound(_) => {
            ServiceError::invalid(field, format!("there is no commune {code}"))
        }
        other => other,
    })
}

/// The commune and its province, from the cached reference data.
pub fn commune_in<'a>(
    reference: &'a Reference,
    code: &str,
) -> Result<(&'a UnitRow, &'a UnitRow), ServiceError> {
    split_commune(code, |c| Ok(reference.unit(c)))
}

/// One row of a province report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommuneRow {
    #[schema(example = "26740")]
    pub code: String,
    #[schema(example = "Phường Sài Gòn")]
    pub name: String,
    pub required_pairs: u64,
    pub ok: u64,
    pub completeness: f64,
    pub missing: u64,
    pub outdated: u64,
    pub must_remove: u64,
    /// not_applicable, premature and unknown_procedure findings.
    pub other: u64,
    pub overdue: u64,
    pub timely_rate: f64,
}

/// Totals over many communes.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Totals {
    pub communes: u64,
    pub required_pairs: u64,
    pub ok: u64,
    pub completeness: f64,
    pub counts: KindCounts,
    pub overdue: u64,
    pub timely: u64,
    pub timely_rate: f64,
}

impl Totals {
    pub(super) fn add(&mut self, s: &Summary) {
        self.communes += 1;
        self.required_pairs += s.required_pairs;
        self.ok += s.ok;
        self.overdue += s.overdue;
        self.timely += s.timely;
        self.counts.merge(&s.counts);
    }

    pub(super) fn finish(&mut self) {
        self.completeness = percent(self.ok, self.required_pairs);
        self.timely_rate = percent(self.timely, self.required_pairs);
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvinceReport {
    pub province: UnitRef,
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    pub rules: RulesView,
    pub totals: Totals,
    /// Coverage of each sector across the province's communes.
    pub sectors: Vec<SectorCoverage>,
    /// Worst first: lowest completeness, then most overdue.
    pub communes: Vec<CommuneRow>,
}

/// One row of the national report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvinceRow {
    #[schema(example = "01")]
    pub code: String,
    #[schema(example = "Thành phố Hà Nội")]
    pub name: String,
    // Inline: a second `$ref` to `Totals` next to `NationalReport.totals` trips
    // openapi-generator's circular-reference check.
    #[serde(flatten)]
    #[schema(inline)]
    pub totals: Totals,
    /// Communes whose completeness is below 100%.
    pub incomplete_communes: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NationalReport {
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    pub totals: Totals,
    /// Worst first: lowest completeness.
    pub provinces: Vec<ProvinceRow>,
}

/// One pending action a decision caused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImpactRow {
    #[schema(example = "26740")]
    pub commune_code: String,
    #[schema(example = "Phường Sài Gòn")]
    pub commune_name: String,
    #[schema(example = "79")]
    pub province_code: String,
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    #[schema(example = "Thủ tục đăng ký khai sinh")]
    pub procedure_name: Option<String>,
    pub channel: PostingChannel,
    /// `missing` or `outdated` (what the decision introduced is not posted), or `must_remove`
    /// (what it abolished is still posted).
    pub kind: FindingKind,
    #[schema(example = "2026-07-08")]
    pub due_on: Option<NaiveDate>,
    pub overdue: bool,
    /// Calendar days past `due_on` (0 unless overdue).
    #[schema(example = 3)]
    pub days_overdue: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionImpact {
    #[schema(example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01")]
    pub decision_id: String,
    #[schema(example = "1234/QĐ-BTP")]
    pub decision_number: String,
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    /// The province asked for, if any.
    #[schema(example = "79")]
    pub province: Option<String>,
    /// Communes with at least one pending action.
    pub communes_affected: u64,
    pub pending: u64,
    pub rows: Vec<ImpactRow>,
}
