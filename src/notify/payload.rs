//! What a webhook delivery's body holds, event by event: the Standard Webhooks envelope (`id`,
//! `type`, `timestamp`) around a thin `data` of ids, codes, dates and counts, with links to the
//! API resources that hold the rest. These types write the events and document them in the
//! spec's `webhooks` section.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::webhooks::EventType;

/// The body of every delivery: the event's `id`, `type` and `timestamp` around its `data`.
macro_rules! envelope {
    ($($(#[$doc:meta])* $name:ident => $data:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// The event's id, also sent as `webhook-id`: the same on every attempt and
            /// replay, so that a receiver drops what it has already seen.
            #[schema(example = "evt_0193a2f05c1e7d3a9f423b6f1e2d4c5a")]
            pub id: String,
            #[serde(rename = "type")]
            pub kind: EventType,
            /// When the event happened (when it was sent is `webhook-timestamp`).
            pub timestamp: DateTime<Utc>,
            pub data: $data,
        }
    )+};
}

envelope! {
    /// The body of a `decision.recorded` delivery.
    DecisionRecordedEvent => DecisionRecorded;
    /// The body of an `items.effective` delivery.
    ItemsEffectiveEvent => ItemsEffective;
    /// The body of a `findings.overdue` delivery.
    FindingsOverdueEvent => FindingsOverdue;
    /// The body of an `inspection.recorded` delivery.
    InspectionRecordedEvent => InspectionRecorded;
}

/// `decision.recorded`: a decision, and per province (only the subscription's own, for a
/// province's subscription) the communes that must post, re-post or take down something
/// because of it, each with its earliest due date.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionRecorded {
    pub decision: DecisionLink,
    /// The date the communes' duties are computed as of: the last day one of the decision's
    /// items takes effect, or the day it was recorded if that is later.
    pub as_of: NaiveDate,
    pub provinces: Vec<ProvinceImpact>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionLink {
    pub id: String,
    #[schema(example = "1234/QĐ-BTP")]
    pub number: String,
    /// `national`, or the province of a provincial decision.
    #[schema(example = "national")]
    pub scope: String,
    #[schema(example = "/api/v1/decisions/0193a2f0-5c1e-7d3a-9f42-3b6f1e2d4c5a")]
    pub url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvinceImpact {
    #[schema(example = "52")]
    pub code: String,
    pub communes_affected: u64,
    /// Actions pending across those communes (one per procedure and channel).
    pub pending: u64,
    pub earliest_due_on: Option<NaiveDate>,
    /// The decision's impact on this province, row by row.
    pub impact_url: String,
    pub communes: Vec<CommuneDue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommuneDue {
    #[schema(example = "21583")]
    pub code: String,
    pub name: String,
    pub pending: u64,
    /// The earliest date by which one of its actions is due (`null` for a procedure without a
    /// deadline rule).
    pub due_on: Option<NaiveDate>,
}

/// `items.effective`: the decision items that take effect on a day (Vietnam's time zone), sent
/// that morning; a province's subscription gets the national items and its own province's.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemsEffective {
    pub day: NaiveDate,
    pub items: Vec<EffectiveItem>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EffectiveItem {
    pub decision_id: String,
    pub decision_number: String,
    /// `national`, or the province of a provincial decision.
    pub scope: String,
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    /// What the item does: `publish`, `amend`, `replace`, `abolish`; `add` or `remove` on a
    /// province's list.
    pub action: String,
    pub decision_url: String,
    pub procedure_url: String,
}

/// `findings.overdue`: the communes whose first finding became overdue on a day (overdue that
/// day, none the day before), with how many are overdue; sent that morning.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingsOverdue {
    pub day: NaiveDate,
    pub provinces: Vec<ProvinceOverdue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProvinceOverdue {
    pub code: String,
    pub communes_newly_overdue: u64,
    pub report_url: String,
    pub communes: Vec<CommuneOverdue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CommuneOverdue {
    pub code: String,
    pub name: String,
    /// Its findings overdue that day.
    pub overdue: u64,
    pub report_url: String,
}

/// `inspection.recorded`: an inspection of a commune, frozen on its day.
#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionRecorded {
    pub inspection: InspectionLink,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionLink {
    pub id: String,
    /// `snapshot`, or `archive` for a record of a commune retired in 2025.
    pub kind: crate::services::inspections::InspectionKind,
    pub commune: String,
    pub province: String,
    pub inspected_on: NaiveDate,
    pub finding_count: i32,
    /// Required pairs posted and current, in percent (as the report's `completeness`); null
    /// for an archive record.
    pub completeness: Option<f64>,
    pub url: String,
}
