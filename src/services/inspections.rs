//! Inspections: the commune report frozen on the day an inspection team visits, and the
//! follow-up that compares that snapshot with the commune's report on a later day.
//!
//! Findings are matched by their stable id (commune, procedure, channel and kind): a finding of
//! the snapshot that is no longer reported is `resolved`, one still reported is `still_open`, and
//! one reported now but not then is `new`. A `missing` posting that was put up with an old
//! version is therefore a `missing` resolved and an `outdated` new: the board changed, and the
//! team sees both.

use std::collections::HashSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::ServiceError;
use super::reports::{CommuneReport, ReportFinding, UnitRef, commune_report};
use super::snapshot;
use super::write::{Actor, Audit, Emit, Guard, transact};
use crate::auth::{Identity, Role};
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::webhooks::EventType;
use crate::repo::audit::Entity;
use crate::repo::inspections::{
    self as repo, ArchiveRow, InspectionFilter, InspectionHead, InspectionRow,
};
use crate::repo::lineage;

/// A checked request to record an inspection.
#[derive(Debug, Clone)]
pub struct InspectionInput {
    pub commune: String,
    pub inspected_on: NaiveDate,
    pub team: Vec<String>,
    pub notes: Option<String>,
}

/// What an inspection record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InspectionKind {
    /// An inspection of a commune of today, with the commune's report frozen on the day.
    Snapshot,
    /// An inspection of a commune retired in 2025, recorded from a paper archive: its findings
    /// as the team wrote them, no computed report (there was no catalogue then).
    Archive,
}

/// An inspection as recorded, without its snapshot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InspectionSummary {
    #[schema(example = "01938f4e-7c2a-7d3b-9a41-5f0e2b7c9d10")]
    pub id: String,
    pub kind: InspectionKind,
    /// The commune inspected. For an archive record, the retired commune's code, which may name
    /// another commune today: `archive.unit` says which unit it was.
    #[schema(example = "26740")]
    pub commune: String,
    /// The province of today whose auditors keep the record (for an archive record, the
    /// province of the retired commune's successors).
    #[schema(example = "79")]
    pub province: String,
    #[schema(example = "2026-11-20")]
    pub inspected_on: NaiveDate,
    /// The team members, as given.
    #[schema(example = json!(["Nguyễn Văn An", "Trần Thị Bình"]))]
    pub team: Vec<String>,
    pub notes: Option<String>,
    /// Findings in the snapshot (for an archive record, the findings written down).
    pub finding_count: i32,
    /// The commune's completeness on the inspection day, in percent; null for an archive record.
    pub completeness: Option<f64>,
    /// SHA-256 of the frozen report (of the archive record's content): the same for as long as
    /// the record exists.
    #[schema(example = "bae32b1ade648bf42b6e485f8ba5e3d9e2909a2eeb59764d83ef536a2ada5f5f")]
    pub content_hash: String,
    #[schema(example = "auditor-01")]
    pub recorded_by: String,
    #[schema(example = "2026-11-20T09:15:02Z")]
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// For an archive record: the retired commune as it was, and what the team found.
    pub archive: Option<ArchiveRecord>,
}

/// A retired commune as it was on its last day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArchivedUnit {
    #[schema(example = "10480")]
    pub code: String,
    #[schema(example = "Xã Đại Hưng")]
    pub name: String,
    /// Its district of the time.
    pub district: Option<UnitRef>,
    /// Its province of the time.
    pub province: UnitRef,
    /// Its last day in force.
    #[schema(example = "2025-06-30")]
    pub valid_to: NaiveDate,
}

/// What an archive record holds besides the summary.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ArchiveRecord {
    pub unit: ArchivedUnit,
    /// The findings, each as written in the archive.
    pub findings: Vec<String>,
    /// The retired commune's lineage: the communes of today it went to.
    #[schema(example = "/api/v1/units/10480/lineage?as_of=2025-06-30")]
    pub lineage: String,
}

/// An inspection with its frozen report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Inspection {
    #[serde(flatten)]
    pub summary: InspectionSummary,
    /// The commune report as of `inspected_on`, exactly as it was when the inspection was
    /// recorded; null for an archive record.
    pub report: Option<CommuneReport>,
}

fn team_from_db(raw: &str) -> Result<Vec<String>, ServiceError> {
    serde_json::from_str(raw)
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("inspection team is not JSON: {e}")))
}

impl InspectionHead {
    pub fn view(self) -> Result<InspectionSummary, ServiceError> {
        Ok(InspectionSummary {
            team: team_from_db(&self.team)?,
            id: self.id,
            kind: InspectionKind::Snapshot,
            commune: self.unit_code,
            province: self.province_code,
            inspected_on: self.inspected_on,
            notes: self.notes,
            finding_count: self.finding_count,
            completeness: Some(self.completeness),
            content_hash: self.content_hash,
            recorded_by: self.created_by,
            recorded_at: self.created_at.and_utc(),
            archive: None,
        })
    }
}

impl InspectionRow {
    pub fn view(self) -> Result<Inspection, ServiceError> {
        // Read through the stored format, never through the API's report type: a snapshot
        // outlives any version of the API.
        let report = snapshot::read(&self.report).map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("inspection {} snapshot: {e}", self.id))
        })?;
        Ok(Inspection {
            summary: InspectionSummary {
                team: team_from_db(&self.team)?,
                id: self.id,
                kind: InspectionKind::Snapshot,
                commune: self.unit_code,
                province: self.province_code,
                inspected_on: self.inspected_on,
                notes: self.notes,
                finding_count: self.finding_count,
                completeness: Some(self.completeness),
                content_hash: self.content_hash,
                recorded_by: self.created_by,
                recorded_at: self.created_at.and_utc(),
                archive: None,
            },
            report: Some(report),
        })
    }
}

impl ArchiveRow {
    pub fn view(self) -> Result<InspectionSummary, ServiceError> {
        let findings: Vec<String> = serde_json::from_str(&self.findings).map_err(|e| {
            ServiceError::internal(anyhow::anyhow!("archive findings are not JSON: {e}"))
        })?;
        let district = match (self.district_code, self.district_name) {
            (Some(code), Some(name)) => Some(UnitRef { code, name }),
            _ => None,
        };
        Ok(InspectionSummary {
            team: team_from_db(&self.team)?,
            id: self.id,
            kind: InspectionKind::Archive,
            commune: self.unit_code.clone(),
            province: self.province_code,
            inspected_on: self.inspected_on,
            notes: self.notes,
            finding_count: self.finding_count,
            completeness: None,
            content_hash: self.content_hash,
            recorded_by: self.created_by,
            recorded_at: self.created_at.and_utc(),
            archive: Some(ArchiveRecord {
                lineage: format!(
                    "/api/v1/units/{}/lineage?as_of={}",
                    self.unit_code, self.unit_valid_to
                ),
                unit: ArchivedUnit {
                    code: self.unit_code,
                    name: self.unit_name,
                    district,
                    province: UnitRef {
                        code: self.old_province_code,
                        name: self.old_province_name,
                    },
                    valid_to: self.unit_valid_to,
                },
                findings,
            }),
        })
    }
}

/// Loads an inspection of either kind that `identity` may read (404 for an unknown id). An
/// archive record is read by the auditors of its province of today and by the officers of the
/// retired commune's successors.
pub fn readable(
    conn: &mut DbConnection,
    identity: &Identity,
    id: &str,
) -> Result<Inspection, ServiceError> {
    if let Some(row) = repo::get(conn, id)? {
        identity.require_commune_read(&row.unit_code, &row.province_code)?;
        return row.view();
    }
    let row = repo::get_archive(conn, id)?
        .ok_or_else(|| ServiceError::NotFound(format!("no inspection {id}")))?;
    if identity.role == Role::Officer {
        // Its own commune must be a successor: an old code equal to its own is not enough.
        let successors = successors_of(conn, &row.unit_code)?;
        if !identity
            .unit
            .as_ref()
            .is_some_and(|own| successors.iter().any(|c| c == own.as_str()))
        {
            return Err(ServiceError::Forbidden(format!(
                "an officer reads the archive records of the communes its own came from; {} ({}) did not go to it",
                row.unit_name, row.unit_code
            )));
        }
    } else {
        identity.require_province_read(&row.province_code)?;
    }
    Ok(Inspection {
        summary: row.view()?,
        report: None,
    })
}

/// The communes of today a retired commune went to, wholly or in part.
fn successors_of(conn: &mut DbConnection, old_code: &str) -> Result<Vec<String>, ServiceError> {
    Ok(lineage::successors(conn, "commune", old_code)?
        .into_iter()
        .map(|e| e.new_code)
        .collect())
}

/// The retired communes a commune of today came from (itself included when it kept its code).
pub fn predecessors_of(
    conn: &mut DbConnection,
    commune: &str,
) -> Result<Vec<String>, ServiceError> {
    Ok(lineage::predecessors(conn, commune)?
        .into_iter()
        .filter(|e| e.old_level == "commune")
        .map(|e| e.old_code)
        .collect())
}

/// Inspections of both kinds under `filter`, latest visit first: at most `filter.limit`.
pub fn list(
    conn: &mut DbConnection,
    filter: &InspectionFilter,
) -> Result<Vec<InspectionSummary>, ServiceError> {
    let mut items = repo::list(conn, filter)?
        .into_iter()
        .map(InspectionHead::view)
        .collect::<Result<Vec<_>, _>>()?;
    for row in repo::list_archive(conn, filter)? {
        items.push(row.view()?);
    }
    // Each list is in (inspected_on, id) order, descending; so is their merge.
    items.sort_by(|a, b| (b.inspected_on, b.id.as_str()).cmp(&(a.inspected_on, a.id.as_str())));
    items.truncate(usize::try_from(filter.limit).unwrap_or(usize::MAX));
    Ok(items)
}

/// Records an inspection of `input.commune` (whose province is `province`): freezes its report
/// as of the inspection day, in the stored snapshot format. Runs under the commune's write lock,
/// so the snapshot never mixes two states of its postings.
pub fn record(
    conn: &mut DbConnection,
    input: InspectionInput,
    province: &str,
    actor: &Actor,
) -> Result<Committed<InspectionRow>, ServiceError> {
    let guard = Guard::lock(WriteLock::commune(&input.commune));
    transact(conn, guard, actor, |tx| {
        let report = commune_report(tx.conn, &input.commune, input.inspected_on)?;
        let json = snapshot::write(&report)?;
        let content_hash = hex::encode(Sha256::digest(json.as_bytes()));
        let row = InspectionRow {
            id: uuid::Uuid::now_v7().to_string(),
            unit_code: input.commune.clone(),
            province_code: province.to_owned(),
            inspected_on: input.inspected_on,
            team: serde_json::to_string(&input.team).map_err(ServiceError::internal)?,
            notes: input.notes,
            finding_count: i32::try_from(report.findings.len()).unwrap_or(i32::MAX),
            completeness: report.summary.completeness,
            report: json,
            content_hash,
            created_by: actor.identity.sub.clone(),
            created_at: crate::repo::now(),
        };
        repo::insert(tx.conn, &row)?;
        tx.audit(Audit {
            action: "create",
            entity: Entity::Inspection,
            entity_id: row.id.clone(),
            unit: Some(row.unit_code.clone()),
            before: None,
            after: Some(row.content_hash.clone()),
        });
        tx.emit(Emit {
            kind: EventType::InspectionRecorded,
            subject: row.id.clone(),
            scope: row.province_code.clone(),
            data: Some(crate::notify::to_value(
                &crate::notify::payload::InspectionRecorded {
                    inspection: crate::notify::payload::InspectionLink {
                        id: row.id.clone(),
                        kind: InspectionKind::Snapshot,
                        commune: row.unit_code.clone(),
                        province: row.province_code.clone(),
                        inspected_on: row.inspected_on,
                        finding_count: row.finding_count,
                        completeness: Some(row.completeness),
                        url: format!("/api/v1/inspections/{}", row.id),
                    },
                },
            )),
        });
        Ok(row)
    })
}

/// `error` (the commune of today was not found), with a hint when the code named a commune
/// retired in 2025: where it went is in its lineage.
pub fn hint_archive(
    conn: &mut DbConnection,
    input: &InspectionInput,
    error: ServiceError,
) -> ServiceError {
    let retired = match &error {
        ServiceError::Validation(_) => lineage::get(conn, "commune", &input.commune).ok().flatten(),
        _ => None,
    };
    match retired {
        Some(u) => ServiceError::invalid(
            "unit",
            format!(
                "{} ({}) was a commune until {}: the communes of today it went to are at /api/v1/units/{}/lineage?as_of={}",
                u.name, u.code, u.valid_to, u.code, u.valid_to
            ),
        ),
        None => error,
    }
}

/// A checked request to record an inspection of a retired commune from the archive.
#[derive(Debug, Clone)]
pub struct ArchiveInput {
    pub commune: String,
    pub inspected_on: NaiveDate,
    pub team: Vec<String>,
    pub notes: Option<String>,
    pub findings: Vec<String>,
}

/// Records an inspection of a commune retired in 2025, from the archive: an admin's, or an
/// auditor's of the province of today its successors belong to (or of the country). The
/// commune must have been in force on the inspection day. Runs under the reference lock, so the
/// retired unit and its lineage cannot change under it.
pub fn record_archive(
    conn: &mut DbConnection,
    input: ArchiveInput,
    actor: &Actor,
) -> Result<Committed<ArchiveRow>, ServiceError> {
    transact(conn, Guard::lock(WriteLock::Reference), actor, |tx| {
        let unit = lineage::get(tx.conn, "commune", &input.commune)?.ok_or_else(|| {
            ServiceError::invalid(
                "unit",
                format!(
                    "no commune {} was in force on {} (units retired in 2025 are listed by GET /api/v1/units?as_of=2025-06-30)",
                    input.commune, input.inspected_on
                ),
            )
        })?;
        if input.inspected_on > unit.valid_to {
            return Err(ServiceError::invalid(
                "inspected_on",
                format!(
                    "{} ({}) was in force until {}: an archive record is of a visit made by then",
                    unit.name, unit.code, unit.valid_to
                ),
            ));
        }
        let successors = successors_of(tx.conn, &unit.code)?;
        let first = successors.first().ok_or_else(|| {
            ServiceError::invalid(
                "unit",
                format!(
                    "{} ({}) has no successor among the communes of today: load the unit lineage first",
                    unit.name, unit.code
                ),
            )
        })?;
        let province = crate::repo::units::get(tx.conn, first)?
            .and_then(|u| u.parent_code)
            .ok_or_else(|| {
                ServiceError::internal(anyhow::anyhow!("successor {first} has no province"))
            })?;
        actor.identity.require_province_read(&province)?;
        let name_of = |conn: &mut DbConnection, level: &str, code: &Option<String>| {
            code.as_deref()
                .map(|c| lineage::get(conn, level, c))
                .transpose()
                .map(Option::flatten)
        };
        let district = name_of(tx.conn, "district", &unit.district_code)?;
        let old_province = name_of(tx.conn, "province", &unit.province_code)?.ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!(
                "retired commune {} has no province",
                unit.code
            ))
        })?;
        let team = serde_json::to_string(&input.team).map_err(ServiceError::internal)?;
        let findings = serde_json::to_string(&input.findings).map_err(ServiceError::internal)?;
        // The hash covers what the record says, in a fixed order.
        let content = serde_json::json!({
            "format": "archive/1",
            "unit": {"code": unit.code, "valid_to": unit.valid_to},
            "inspected_on": input.inspected_on,
            "team": input.team,
            "notes": input.notes,
            "findings": input.findings,
        });
        let content_hash = hex::encode(Sha256::digest(content.to_string().as_bytes()));
        let row = ArchiveRow {
            id: uuid::Uuid::now_v7().to_string(),
            unit_code: unit.code.clone(),
            unit_valid_to: unit.valid_to,
            unit_name: unit.name.clone(),
            district_code: district.as_ref().map(|d| d.code.clone()),
            district_name: district.map(|d| d.name),
            old_province_code: old_province.code,
            old_province_name: old_province.name,
            province_code: province.clone(),
            inspected_on: input.inspected_on,
            team,
            notes: input.notes,
            findings,
            finding_count: i32::try_from(input.findings.len()).unwrap_or(i32::MAX),
            content_hash,
            created_by: actor.identity.sub.clone(),
            created_at: crate::repo::now(),
        };
        repo::insert_archive(tx.conn, &row)?;
        // Filed under the first successor, whose province's auditors read the audit log.
        tx.audit(Audit {
            action: "create_archive",
            entity: Entity::Inspection,
            entity_id: row.id.clone(),
            unit: Some(first.clone()),
            before: None,
            after: Some(row.content_hash.clone()),
        });
        tx.emit(Emit {
            kind: EventType::InspectionRecorded,
            subject: row.id.clone(),
            scope: province,
            data: Some(crate::notify::to_value(
                &crate::notify::payload::InspectionRecorded {
                    inspection: crate::notify::payload::InspectionLink {
                        id: row.id.clone(),
                        kind: InspectionKind::Archive,
                        commune: row.unit_code.clone(),
                        province: row.province_code.clone(),
                        inspected_on: row.inspected_on,
                        finding_count: row.finding_count,
                        completeness: None,
                        url: format!("/api/v1/inspections/{}", row.id),
                    },
                },
            )),
        });
        Ok(row)
    })
}

/// What became of a finding since the inspection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FollowUpStatus {
    /// In the snapshot and still reported.
    StillOpen,
    /// Reported now, not in the snapshot.
    New,
    /// In the snapshot, no longer reported.
    Resolved,
}

impl FollowUpStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FollowUpStatus::StillOpen => "still_open",
            FollowUpStatus::New => "new",
            FollowUpStatus::Resolved => "resolved",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUpFinding {
    pub status: FollowUpStatus,
    /// The finding as reported on `as_of` (for `resolved`: as it stood in the snapshot).
    #[serde(flatten)]
    pub finding: ReportFinding,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct FollowUpCounts {
    pub resolved: u64,
    pub still_open: u64,
    pub new: u64,
}

/// The snapshot compared with the commune's report on `as_of`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FollowUp {
    pub inspection_id: String,
    pub commune: UnitRef,
    pub inspected_on: NaiveDate,
    pub as_of: NaiveDate,
    pub counts: FollowUpCounts,
    /// Completeness in the snapshot and on `as_of`, in percent.
    pub completeness_then: f64,
    pub completeness_now: f64,
    /// Still open first, then new, then resolved; worst first within each.
    pub findings: Vec<FollowUpFinding>,
}

/// Compares an inspection's snapshot with the commune's report on `as_of` (409 for an archive
/// record, which has no snapshot).
pub fn follow_up(
    conn: &mut DbConnection,
    snapshot: Inspection,
    as_of: NaiveDate,
) -> Result<FollowUp, ServiceError> {
    let Some(then) = snapshot.report else {
        return Err(ServiceError::Conflict(format!(
            "inspection {} is a record from the archive of a retired commune: it has no report to follow up (follow up its successors' inspections)",
            snapshot.summary.id
        )));
    };
    let now = commune_report(conn, &snapshot.summary.commune, as_of)?;
    let then_ids: HashSet<&str> = then
        .findings
        .iter()
        .map(|f| f.finding.id.as_str())
        .collect();
    let now_ids: HashSet<&str> = now.findings.iter().map(|f| f.finding.id.as_str()).collect();
    let mut counts = FollowUpCounts::default();
    let mut findings = Vec::new();
    for f in &now.findings {
        let status = if then_ids.contains(f.finding.id.as_str()) {
            counts.still_open += 1;
            FollowUpStatus::StillOpen
        } else {
            counts.new += 1;
            FollowUpStatus::New
        };
        findings.push(FollowUpFinding {
            status,
            finding: f.clone(),
        });
    }
    for f in &then.findings {
        if !now_ids.contains(f.finding.id.as_str()) {
            counts.resolved += 1;
            findings.push(FollowUpFinding {
                status: FollowUpStatus::Resolved,
                finding: f.clone(),
            });
        }
    }
    // Both reports list findings worst first; a stable sort by status keeps that order.
    findings.sort_by_key(|f| f.status);
    Ok(FollowUp {
        inspection_id: snapshot.summary.id,
        commune: now.commune,
        inspected_on: snapshot.summary.inspected_on,
        as_of: now.as_of,
        counts,
        completeness_then: then.summary.completeness,
        completeness_now: now.summary.completeness,
        findings,
    })
}
