//! What an inspection keeps for good: the commune report of the inspection day in a stored format
//! of its own, versioned, and separate from the API's report type. The API may rename, add or
//! drop fields; a snapshot written years ago must still read, and its bytes (whose hash is the
//! inspection's `content_hash`) are never rewritten.
//!
//! Formats:
//! - 1: written before the format was versioned and before posting places: no `format`, no
//!   `rules.posting_places`, no finding `basis` (read as empty and absent).
//! - 2: `format: 2`; `rules.posting_places` and each missing or outdated finding's `basis`.
//!
//! Reading maps every known format to today's API report ([`read`]); writing always writes
//! [`FORMAT`] ([`write`]).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::ServiceError;
use super::reports::{CommuneReport, ReportFinding, RulesView, SectorCoverage, UnitRef};
use crate::domain::gaps::{
    Expected, Finding, FindingKind, KindCounts, Observed, PostingChannel, SectorSummary, Severity,
    Summary,
};
use crate::domain::obligation::{Basis, BasisKind, ListedBy, PostingPlace};

/// The format [`write`] writes.
pub const FORMAT: u32 = 2;

fn legacy() -> u32 {
    1
}

/// A frozen commune report, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(default = "legacy")]
    pub format: u32,
    pub commune: Unit,
    pub province: Unit,
    pub as_of: NaiveDate,
    pub rules: Rules,
    pub summary: Totals,
    #[serde(default)]
    pub sectors: Vec<Coverage>,
    #[serde(default)]
    pub findings: Vec<Gap>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Unit {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Counter,
    Portal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rules {
    pub deadline_working_days: u32,
    pub required_channels: Vec<Channel>,
    /// Empty in format 1: the obligation was then every commune-level procedure.
    #[serde(default)]
    pub posting_places: Vec<Place>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Place {
    CommuneCentre,
    CommunePolice,
    Elsewhere,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Why {
    PostingPlace,
    ProvincialList,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listing {
    pub decision_id: String,
    pub decision_number: String,
    pub effective_on: NaiveDate,
}

/// Why a procedure was required (format 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reason {
    pub kind: Why,
    pub posting_place: Place,
    pub placement_rule: String,
    pub listed_by: Option<Listing>,
    pub required_since: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub missing: u64,
    pub outdated: u64,
    pub must_remove: u64,
    pub not_applicable: u64,
    pub premature: u64,
    pub unknown_procedure: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SectorTotals {
    pub sector_code: String,
    pub required_pairs: u64,
    pub ok: u64,
    pub missing: u64,
    pub outdated: u64,
    pub completeness: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Totals {
    pub required_procedures: u64,
    pub required_pairs: u64,
    pub ok: u64,
    pub completeness: f64,
    pub counts: Counts,
    pub overdue: u64,
    pub timely: u64,
    pub timely_rate: f64,
    #[serde(default)]
    pub by_sector: Vec<SectorTotals>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Coverage {
    pub sector_code: String,
    pub sector_name: String,
    pub required_pairs: u64,
    pub ok: u64,
    pub missing: u64,
    pub outdated: u64,
    pub completeness: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Missing,
    Outdated,
    MustRemove,
    NotApplicable,
    Premature,
    UnknownProcedure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    High,
    Medium,
    Low,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Version {
    pub version_id: String,
    pub decision: Option<String>,
    pub effective_on: NaiveDate,
    pub content_hash: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Posted {
    pub decision: String,
    pub posted_on: NaiveDate,
    pub version_id: Option<String>,
}

/// One finding, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gap {
    pub id: String,
    pub kind: Kind,
    pub severity: Level,
    pub procedure_code: String,
    pub procedure_name: Option<String>,
    pub sector_code: Option<String>,
    pub sector_name: Option<String>,
    pub channel: Channel,
    pub expected: Option<Version>,
    pub observed: Option<Posted>,
    #[serde(default)]
    pub changed_fields: Vec<String>,
    pub due_on: Option<NaiveDate>,
    pub overdue: bool,
    pub days_overdue: i64,
    #[serde(default)]
    pub basis: Option<Reason>,
}

/// Today's report in the stored format, as JSON text (whose SHA-256 is the content hash).
pub fn write(report: &CommuneReport) -> Result<String, ServiceError> {
    serde_json::to_string(&Snapshot::from(report.clone())).map_err(ServiceError::internal)
}

/// A stored snapshot, of any known format, as today's report.
pub fn read(stored: &str) -> Result<CommuneReport, ServiceError> {
    let snapshot: Snapshot = serde_json::from_str(stored).map_err(ServiceError::internal)?;
    if snapshot.format > FORMAT {
        return Err(ServiceError::internal(anyhow::anyhow!(
            "snapshot format {} is newer than this build reads ({FORMAT})",
            snapshot.format
        )));
    }
    Ok(snapshot.into())
}

/// `From` both ways between two enums with the same variants: a variant added to either side
/// fails to compile here until the stored format says what it is.
macro_rules! same_variants {
    ($a:ident, $b:ident: $($v:ident),+) => {
        impl From<$a> for $b {
            fn from(x: $a) -> Self {
                match x {
                    $($a::$v => $b::$v),+
                }
            }
        }
        impl From<$b> for $a {
            fn from(x: $b) -> Self {
                match x {
                    $($b::$v => $a::$v),+
                }
            }
        }
    };
}

/// `From` both ways between two structs with the same fields (`vec` ones are lists converted
/// item by item, `opt` ones optional values): a field added to either side fails to compile
/// here.
macro_rules! same_fields {
    ($a:ident, $b:ident: $($f:ident),* $(; vec $($v:ident),+)? $(; opt $($o:ident),+)?) => {
        impl From<$a> for $b {
            fn from(x: $a) -> Self {
                Self {
                    $($f: x.$f.into(),)*
                    $($($v: x.$v.into_iter().map(Into::into).collect(),)+)?
                    $($($o: x.$o.map(Into::into),)+)?
                }
            }
        }
        impl From<$b> for $a {
            fn from(x: $b) -> Self {
                Self {
                    $($f: x.$f.into(),)*
                    $($($v: x.$v.into_iter().map(Into::into).collect(),)+)?
                    $($($o: x.$o.map(Into::into),)+)?
                }
            }
        }
    };
}

same_variants!(Channel, PostingChannel: Counter, Portal);
same_variants!(Kind, FindingKind: Missing, Outdated, MustRemove, NotApplicable, Premature, UnknownProcedure);
same_variants!(Level, Severity: High, Medium, Low);
same_variants!(Place, PostingPlace: CommuneCentre, CommunePolice, Elsewhere);
same_variants!(Why, BasisKind: PostingPlace, ProvincialList);
same_fields!(Listing, ListedBy: decision_id, decision_number, effective_on);
same_fields!(Reason, Basis: kind, posting_place, placement_rule, required_since; opt listed_by);
same_fields!(Unit, UnitRef: code, name);
same_fields!(Rules, RulesView: deadline_working_days; vec required_channels, posting_places);
same_fields!(Counts, KindCounts: missing, outdated, must_remove, not_applicable, premature, unknown_procedure);
same_fields!(SectorTotals, SectorSummary: sector_code, required_pairs, ok, missing, outdated, completeness);
same_fields!(Totals, Summary: required_procedures, required_pairs, ok, completeness, counts, overdue, timely, timely_rate; vec by_sector);
same_fields!(Coverage, SectorCoverage: sector_code, sector_name, required_pairs, ok, missing, outdated, completeness);
same_fields!(Version, Expected: version_id, decision, effective_on, content_hash);
same_fields!(Posted, Observed: decision, posted_on, version_id);

impl From<ReportFinding> for Gap {
    fn from(r: ReportFinding) -> Self {
        let f = r.finding;
        Gap {
            id: f.id,
            kind: f.kind.into(),
            severity: f.severity.into(),
            procedure_code: f.procedure_code,
            procedure_name: f.procedure_name,
            sector_code: f.sector_code,
            sector_name: r.sector_name,
            channel: f.channel.into(),
            expected: f.expected.map(Into::into),
            observed: f.observed.map(Into::into),
            changed_fields: f.changed_fields,
            due_on: f.due_on,
            overdue: f.overdue,
            days_overdue: f.days_overdue,
            basis: f.basis.map(Into::into),
        }
    }
}

impl From<Gap> for ReportFinding {
    fn from(g: Gap) -> Self {
        ReportFinding {
            finding: Finding {
                id: g.id,
                kind: g.kind.into(),
                severity: g.severity.into(),
                procedure_code: g.procedure_code,
                procedure_name: g.procedure_name,
                sector_code: g.sector_code,
                channel: g.channel.into(),
                expected: g.expected.map(Into::into),
                observed: g.observed.map(Into::into),
                changed_fields: g.changed_fields,
                due_on: g.due_on,
                overdue: g.overdue,
                days_overdue: g.days_overdue,
                basis: g.basis.map(Into::into),
            },
            sector_name: g.sector_name,
        }
    }
}

impl From<CommuneReport> for Snapshot {
    fn from(r: CommuneReport) -> Self {
        Snapshot {
            format: FORMAT,
            commune: r.commune.into(),
            province: r.province.into(),
            as_of: r.as_of,
            rules: r.rules.into(),
            summary: r.summary.into(),
            sectors: r.sectors.into_iter().map(Into::into).collect(),
            findings: r.findings.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<Snapshot> for CommuneReport {
    fn from(s: Snapshot) -> Self {
        CommuneReport {
            commune: s.commune.into(),
            province: s.province.into(),
            as_of: s.as_of,
            rules: s.rules.into(),
            summary: s.summary.into(),
            sectors: s.sectors.into_iter().map(Into::into).collect(),
            findings: s.findings.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// An inspection's snapshot exactly as a release before the versioned format stored it
    /// (Xã Thanh Bình, 30130, inspected on 2026-11-25 over the demo data): never edit it.
    const FORMAT_1: &str = include_str!("../../tests/fixtures/inspection-snapshot-format1.json");

    #[test]
    fn a_snapshot_stored_before_the_format_was_versioned_still_reads() {
        // The bytes are those stored: their hash is the inspection's content hash.
        assert_eq!(
            hex::encode(Sha256::digest(FORMAT_1.as_bytes())),
            "f2d23a0cbeac347bcc10096fc5c9d1855826b2fa533dc9327bee712e67ef4c12"
        );
        let report = read(FORMAT_1).expect("read(FORMAT_1)");
        assert_eq!(report.commune.code, "30130");
        assert_eq!(report.province.code, "82");
        assert_eq!(report.as_of.to_string(), "2026-11-25");
        assert_eq!(report.summary.counts.outdated, 4);
        assert_eq!(report.summary.counts.must_remove, 2);
        assert_eq!(report.findings.len(), 6);
        let first = &report.findings[0];
        assert_eq!(first.finding.id, "f8626e6a7fb0e9f3");
        assert_eq!(first.finding.kind, FindingKind::MustRemove);
        assert_eq!(
            first.sector_name.as_deref(),
            Some("Đăng ký, quản lý cư trú")
        );
    }

    #[test]
    fn todays_format_reads_back_what_it_wrote() {
        let report = read(FORMAT_1).expect("read(FORMAT_1)");
        let written = write(&report).expect("write(&report)");
        assert!(written.starts_with(&format!("{{\"format\":{FORMAT},")));
        let again = read(&written).expect("read(&written)");
        assert_eq!(
            serde_json::to_value(&again).ok(),
            serde_json::to_value(&report).ok()
        );
    }

    #[test]
    fn a_format_from_a_newer_build_is_refused_not_misread() {
        let newer = FORMAT_1.replacen('{', &format!("{{\"format\":{},", FORMAT + 1), 1);
        assert!(read(&newer).is_err());
    }
}
