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
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::webhooks::EventType;
use crate::repo::audit::Entity;
use crate::repo::inspections::{self as repo, InspectionHead, InspectionRow};

/// A checked request to record an inspection.
#[derive(Debug, Clone)]
pub struct InspectionInput {
    pub commune: String,
    pub inspected_on: NaiveDate,
    pub team: Vec<String>,
    pub notes: Option<String>,
}

/// An inspection as recorded, without its snapshot.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InspectionSummary {
    pub id: String,
    pub commune: String,
    pub province: String,
    pub inspected_on: NaiveDate,
    /// The team members, as given.
    pub team: Vec<String>,
    pub notes: Option<String>,
    /// Findings in the snapshot.
    pub finding_count: i32,
    /// The commune's completeness on the inspection day, in percent.
    pub completeness: f64,
    /// SHA-256 of the frozen report: the same for as long as the record exists.
    pub content_hash: String,
    pub recorded_by: String,
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// An inspection with its frozen report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Inspection {
    #[serde(flatten)]
    pub summary: InspectionSummary,
    /// The commune report as of `inspected_on`, exactly as it was when the inspection was
    /// recorded.
    pub report: CommuneReport,
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
            commune: self.unit_code,
            province: self.province_code,
            inspected_on: self.inspected_on,
            notes: self.notes,
            finding_count: self.finding_count,
            completeness: self.completeness,
            content_hash: self.content_hash,
            recorded_by: self.created_by,
            recorded_at: self.created_at.and_utc(),
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
                commune: self.unit_code,
                province: self.province_code,
                inspected_on: self.inspected_on,
                notes: self.notes,
                finding_count: self.finding_count,
                completeness: self.completeness,
                content_hash: self.content_hash,
                recorded_by: self.created_by,
                recorded_at: self.created_at.and_utc(),
            },
            report,
        })
    }
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
                        commune: row.unit_code.clone(),
                        province: row.province_code.clone(),
                        inspected_on: row.inspected_on,
                        finding_count: row.finding_count,
                        completeness: row.completeness,
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

/// Compares an inspection's snapshot with the commune's report on `as_of`.
pub fn follow_up(snapshot: Inspection, now: CommuneReport) -> FollowUp {
    let then_ids: HashSet<&str> = snapshot
        .report
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
    for f in &snapshot.report.findings {
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
    FollowUp {
        inspection_id: snapshot.summary.id,
        commune: now.commune,
        inspected_on: snapshot.summary.inspected_on,
        as_of: now.as_of,
        counts,
        completeness_then: snapshot.report.summary.completeness,
        completeness_now: now.summary.completeness,
        findings,
    }
}
