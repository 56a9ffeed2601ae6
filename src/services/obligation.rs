//! The posting obligation as a resource: which posting places a province's communes post (an
//! effective-dated setting), and the posting list — every procedure a province's communes (or one
//! commune, its exemptions applied) must post on a date, by sector, with the applicable version,
//! its posting place and why it is required. The posting list is what a commune prints and
//! hangs.

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::ServiceError;
use super::etag;
use super::reports::{UnitRef, commune_in, rules_in};
use super::write::{Actor, Audit, Counter, Guard, transact};
use crate::auth::Denied;
use crate::cache::ReportCache;
use crate::cache::counters::Committed;
use crate::db::{DbConnection, WriteLock};
use crate::domain::catalogue::{Channel, window_contains};
use crate::domain::obligation::{Basis, PlacesPeriod, PostingPlace, check_periods};
use crate::repo::audit::Entity;
use crate::repo::catalogue as catalogue_repo;
use crate::repo::postings::{self as repo, PlacesRow};
use crate::repo::units;

/// The ETag of a province's periods.
pub fn places_etag(periods: &[PlacesPeriod]) -> String {
    etag::of(periods.iter().map(|p| {
        let places: Vec<&str> = p.places.iter().map(|x| x.as_str()).collect();
        format!("{}={}", p.from, places.join(","))
    }))
}

fn check_province(conn: &mut DbConnection, province: &str) -> Result<(), ServiceError> {
    if units::is_province(conn, province)? {
        Ok(())
    } else {
        Err(ServiceError::NotFound(format!("no province {province}")))
    }
}

/// A province's posting-place periods, by date (empty: the default, the centre only).
pub fn places_of(
    conn: &mut DbConnection,
    province: &str,
) -> Result<Vec<PlacesPeriod>, ServiceError> {
    check_province(conn, province)?;
    Ok(repo::posting_places(conn, Some(province))?
        .iter()
        .map(PlacesRow::period)
        .collect())
}

/// Replaces a province's periods (checked: each names the centre, never `elsewhere`). The same
/// periods again write and audit nothing.
pub fn replace_places(
    conn: &mut DbConnection,
    province: &str,
    periods: Vec<PlacesPeriod>,
    (actor, if_match): (&Actor, Option<&str>),
) -> Result<Committed<Vec<PlacesPeriod>>, ServiceError> {
    let periods = check_periods(periods).map_err(|problems| {
        ServiceError::Validation(
            problems
                .into_iter()
                .map(|p| match p.split_once(": ") {
                    Some((field, message)) => crate::domain::FieldError::new(field, message),
                    None => crate::domain::FieldError::new("periods", p),
                })
                .collect(),
        )
    })?;
    let guard = Guard {
        lock: WriteLock::Reference,
        if_match,
        what: "the province's posting places",
    };
    transact(conn, guard, actor, |tx| {
        let before = places_of(tx.conn, province)?;
        tx.check_if_match(&places_etag(&before))?;
        if places_etag(&before) == places_etag(&periods) {
            return Ok(periods);
        }
        let now = crate::repo::now();
        let rows: Vec<PlacesRow> = periods
            .iter()
            .map(|p| PlacesRow {
                province_code: province.to_owned(),
                valid_from: p.from,
                places: p
                    .places
                    .iter()
                    .map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                updated_by: actor.identity.sub.clone(),
                updated_at: now,
            })
            .collect();
        repo::replace_posting_places(tx.conn, province, &rows)?;
        tx.bump(Counter::Reference);
        tx.audit(Audit {
            action: "replace",
            entity: Entity::PostingPlaces,
            entity_id: province.to_owned(),
            unit: Some(province.to_owned()),
            before: Some(places_etag(&before).trim_matches('"').to_owned()),
            after: Some(places_etag(&periods).trim_matches('"').to_owned()),
        });
        Ok(periods)
    })
}

/// One procedure a commune must post.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostingListItem {
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    #[schema(example = "Thủ tục đăng ký khai sinh")]
    pub procedure_name: String,
    /// The applicable version: what the posting must reproduce.
    #[schema(example = "0196d4a2-3f1c-7a10-8b2c-3d4e5f6a7b8c")]
    pub version_id: String,
    /// Its announcing decision, as published (the number written on the posting).
    #[schema(example = "1234/QĐ-BTP")]
    pub decision: Option<String>,
    /// The day the version took effect.
    #[schema(example = "2026-07-01")]
    pub effective_on: NaiveDate,
    pub content_hash: String,
    /// Processing time and fee per submission method.
    pub channels: Vec<Channel>,
    /// The procedure's page on the national portal.
    #[schema(
        example = "https://dichvucong.gov.vn/thu-tuc-hanh-chinh/019d2bf7-4fc1-768b-9ba3-94be4bca58ee"
    )]
    pub source_url: Option<String>,
    pub posting_place: PostingPlace,
    /// Why it is required.
    pub basis: Basis,
}

/// A sector's procedures on the list.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostingListSector {
    #[schema(example = "ho-tich")]
    pub sector_code: String,
    #[schema(example = "Hộ tịch")]
    pub sector_name: String,
    pub items: Vec<PostingListItem>,
}

/// What the communes of a province (or one commune) must post on a date.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostingList {
    pub province: UnitRef,
    /// For a commune's list: the commune (its exemptions are applied).
    pub commune: Option<UnitRef>,
    #[schema(example = "2026-07-01")]
    pub as_of: NaiveDate,
    /// The posting places the province's communes post on `as_of`.
    pub posting_places: Vec<PostingPlace>,
    /// Procedures on the list.
    pub procedures: u64,
    /// By sector name.
    pub sectors: Vec<PostingListSector>,
}

/// The posting list of `province` on `as_of`; with `commune`, that commune's (its exemptions
/// applied; `authorize` is given its province first).
pub fn posting_list(
    conn: &mut DbConnection,
    cache: &ReportCache,
    (province, commune): (&str, Option<&str>),
    as_of: NaiveDate,
    authorize: &dyn Fn(&str) -> Result<(), Denied>,
) -> Result<PostingList, ServiceError> {
    let (catalogue_rev, reference_rev, _) = cache.revisions_of(conn, &[])?;
    let reference = cache.reference(conn, reference_rev)?;
    let (province_row, commune_row) = match commune {
        Some(code) => {
            let (c, p) = commune_in(&reference, code)?;
            authorize(&p.code)?;
            (p, Some(c))
        }
        None => (
            reference
                .unit(province)
                .filter(|u| u.parent_code.is_none())
                .ok_or_else(|| ServiceError::NotFound(format!("no province {province}")))?,
            None,
        ),
    };
    let rules = rules_in(&reference, &province_row.code);
    let compiled = cache.catalogue(conn, catalogue_rev)?;
    let view = compiled
        .index
        .for_province(&province_row.code, as_of, &rules.posting_places);
    let exempt: HashSet<String> = match commune_row {
        Some(c) => repo::exemptions_for_unit(conn, &c.code)?
            .into_iter()
            .filter(|e| window_contains(e.valid_from, e.valid_to, as_of))
            .map(|e| e.procedure_code)
            .collect(),
        None => HashSet::new(),
    };
    let required: Vec<_> = view
        .required()
        .iter()
        .filter(|r| !exempt.contains(&r.version.code))
        .collect();
    // What a posting shows (processing time, fee, the portal's page) is in the versions' content.
    let ids: Vec<String> = required.iter().map(|r| r.version.id.clone()).collect();
    let mut content = std::collections::HashMap::new();
    for row in catalogue_repo::versions_by_ids(conn, &ids)? {
        let c = row.content().map_err(ServiceError::internal)?;
        content.insert(row.id, (c.channels, c.source_url));
    }
    let mut sectors: BTreeMap<(String, String), Vec<PostingListItem>> = BTreeMap::new();
    for r in &required {
        let v = r.version;
        let name = compiled
            .sector_names
            .get(&v.sector_code)
            .cloned()
            .unwrap_or_default();
        let (channels, source_url) = content.remove(&v.id).unwrap_or_default();
        sectors
            .entry((name, v.sector_code.clone()))
            .or_default()
            .push(PostingListItem {
                procedure_code: v.code.clone(),
                procedure_name: v.name.clone(),
                version_id: v.id.clone(),
                decision: v.announced_by.clone(),
                effective_on: v.valid_from,
                content_hash: v.content_hash.clone(),
                channels,
                source_url,
                posting_place: v.placement.place,
                basis: r.basis.clone(),
            });
    }
    let unit_ref = |u: &crate::repo::units::UnitRow| UnitRef {
        code: u.code.clone(),
        name: u.name.clone(),
    };
    Ok(PostingList {
        province: unit_ref(province_row),
        commune: commune_row.map(unit_ref),
        as_of,
        posting_places: rules.places_on(as_of),
        procedures: required.len() as u64,
        sectors: sectors
            .into_iter()
            .map(|((sector_name, sector_code), items)| PostingListSector {
                sector_code,
                sector_name,
                items,
            })
            .collect(),
    })
}
