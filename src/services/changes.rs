//! The change feed: what a commune office must post, re-post or take down since a date. Every
//! decision item that took effect on or after the date, and those signed but not yet in effect
//! (`upcoming`), grouped by decision in effective order.

use std::collections::HashMap;

use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;

use super::ServiceError;
use crate::db::DbConnection;
use crate::domain::catalogue::{ItemAction, Level, NATIONAL, levels_from_db};
use crate::repo::catalogue as repo;
use crate::repo::sectors;

/// What a commune office does about an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PostingAction {
    /// A new procedure: post it.
    Post,
    /// An amended procedure: replace the posted version.
    RePost,
    /// An abolished procedure: take it down.
    TakeDown,
}

impl PostingAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PostingAction::Post => "post",
            PostingAction::RePost => "re_post",
            PostingAction::TakeDown => "take_down",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeStatus {
    /// In effect on today's date.
    InEffect,
    /// Signed, taking effect after today.
    Upcoming,
}

impl ChangeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::InEffect => "in_effect",
            ChangeStatus::Upcoming => "upcoming",
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeItem {
    pub seq: i32,
    pub action: ItemAction,
    pub posting_action: PostingAction,
    #[schema(example = "1.001193")]
    pub procedure_code: String,
    /// The name in the version the item produced (for an abolition, the last one in force).
    #[schema(example = "Thủ tục đăng ký khai sinh")]
    pub procedure_name: String,
    #[schema(example = "ho-tich")]
    pub sector_code: String,
    #[schema(example = "Hộ tịch")]
    pub sector_name: String,
    pub levels: Vec<Level>,
    #[schema(example = "2026-07-01")]
    pub effective_on: NaiveDate,
    pub status: ChangeStatus,
    #[schema(example = "0196d4a2-3f1c-7a10-8b2c-3d4e5f6a7b8c")]
    pub version_id: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangedDecision {
    #[schema(example = "0196d4a2-3f1b-7c2e-9a4d-5b6c7d8e9f01")]
    pub id: String,
    #[schema(example = "1234/QĐ-BTP")]
    pub number: String,
    #[schema(example = "Bộ Tư pháp")]
    pub issuer: String,
    /// `national` or a province code.
    #[schema(example = "national")]
    pub scope: String,
    /// `announcement`, or `import` for a catalogue import.
    pub kind: String,
    pub title: Option<String>,
    #[schema(example = "2026-06-15")]
    pub signed_on: NaiveDate,
    /// The earliest effective date among the items listed.
    #[schema(example = "2026-07-01")]
    pub first_effective_on: NaiveDate,
    /// True when none of the items listed is in effect yet.
    pub upcoming: bool,
    pub items: Vec<ChangeItem>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ChangeCounts {
    pub decisions: u64,
    pub items: u64,
    pub upcoming_items: u64,
    pub post: u64,
    pub re_post: u64,
    pub take_down: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChangeFeed {
    #[schema(example = "2026-05-01")]
    pub since: NaiveDate,
    /// Today in Vietnam: items after it are `upcoming`.
    #[schema(example = "2026-07-01")]
    pub today: NaiveDate,
    /// The province asked for (its own decisions and the national ones).
    #[schema(example = "01")]
    pub province: Option<String>,
    pub level: Option<Level>,
    pub counts: ChangeCounts,
    /// In effective order: by each decision's first effective date.
    pub decisions: Vec<ChangedDecision>,
}

/// The changes since `since` (inclusive) that reach `province`'s communes (every scope when
/// `None`), optionally only for procedures of `level`.
pub fn changes_since(
    conn: &mut DbConnection,
    since: NaiveDate,
    province: Option<&str>,
    level: Option<Level>,
    today: NaiveDate,
) -> Result<ChangeFeed, ServiceError> {
    let rows = repo::changes_since(conn, since, province)?;
    // A national change to a procedure the province has its own version of does not reach its
    // communes while that version is in force.
    let own: HashMap<String, Vec<(NaiveDate, Option<NaiveDate>)>> = match province {
        None => HashMap::new(),
        Some(p) => {
            let mut map: HashMap<String, Vec<_>> = HashMap::new();
            for w in repo::provincial_windows(conn, p)? {
                map.entry(w.procedure_code)
                    .or_default()
                    .push((w.valid_from, w.valid_to));
            }
            map
        }
    };
    let overridden = |code: &str, on: NaiveDate| {
        own.get(code).is_some_and(|windows| {
            windows
                .iter()
                .any(|(from, to)| *from <= on && to.is_none_or(|t| on < t))
        })
    };
    // The levels each item's procedure had the day before it took effect, in the decision's
    // scope (its own version first, else the national one): an amendment that takes a procedure
    // off the commune level is a take-down for communes, one that adds it a new posting.
    let codes: Vec<String> = rows
        .iter()
        .map(|r| r.item.procedure_code.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut windows: HashMap<String, Vec<repo::LevelWindow>> = HashMap::new();
    for w in repo::level_windows(conn, &codes)? {
        windows.entry(w.procedure_code.clone()).or_default().push(w);
    }
    let levels_before = |code: &str, scope: &str, on: NaiveDate| -> Vec<Level> {
        let Some(day_before) = on.pred_opt() else {
            return Vec::new();
        };
        let list = windows.get(code).map(Vec::as_slice).unwrap_or(&[]);
        let in_force = |s: &str| {
            list.iter().find(|w| {
                w.scope == s
                    && w.valid_from <= day_before
                    && w.valid_to.is_none_or(|t| day_before < t)
            })
        };
        in_force(scope)
            .or_else(|| in_force(NATIONAL))
            .map(|w| levels_from_db(&w.levels).into_iter().collect())
            .unwrap_or_default()
    };
    let names: HashMap<String, String> = sectors::list(conn)?
        .into_iter()
        .map(|s| (s.code, s.name))
        .collect();
    let mut counts = ChangeCounts::default();
    let mut decisions: Vec<ChangedDecision> = Vec::new();
    let mut position: HashMap<String, usize> = HashMap::new();
    for repo::ChangeRow {
        item,
        decision,
        name,
        sector_code,
        levels,
    } in rows
    {
        let levels: Vec<Level> = levels_from_db(&levels).into_iter().collect();
        let action = ItemAction::parse(&item.action).ok_or_else(|| {
            ServiceError::internal(anyhow::anyhow!("decision item with action {}", item.action))
        })?;
        let before = match action {
            ItemAction::New | ItemAction::Listed | ItemAction::Delisted => Vec::new(),
            ItemAction::Amended | ItemAction::Abolished => {
                levels_before(&item.procedure_code, &decision.scope, item.effective_on)
            }
        };
        // A provincial list is about what the province's communes post, whatever the levels.
        let concerns = |l: Level| {
            levels.contains(&l)
                || before.contains(&l)
                || (l == Level::Commune && action.list_action().is_some())
        };
        if level.is_some_and(|l| !concerns(l)) {
            continue;
        }
        if decision.scope == NATIONAL && overridden(&item.procedure_code, item.effective_on) {
            continue;
        }
        let commune_now = levels.contains(&Level::Commune);
        let commune_before = before.contains(&Level::Commune);
        let posting_action = match action {
            ItemAction::New | ItemAction::Listed => PostingAction::Post,
            ItemAction::Abolished | ItemAction::Delisted => PostingAction::TakeDown,
            ItemAction::Amended if commune_before && !commune_now => PostingAction::TakeDown,
            ItemAction::Amended if !commune_before && commune_now => PostingAction::Post,
            ItemAction::Amended => PostingAction::RePost,
        };
        let status = if item.effective_on > today {
            ChangeStatus::Upcoming
        } else {
            ChangeStatus::InEffect
        };
        counts.items += 1;
        match posting_action {
            PostingAction::Post => counts.post += 1,
            PostingAction::RePost => counts.re_post += 1,
            PostingAction::TakeDown => counts.take_down += 1,
        }
        if status == ChangeStatus::Upcoming {
            counts.upcoming_items += 1;
        }
        let index = *position.entry(decision.id.clone()).or_insert_with(|| {
            decisions.push(ChangedDecision {
                id: decision.id.clone(),
                number: decision.number.clone(),
                issuer: decision.issuer.clone(),
                scope: decision.scope.clone(),
                kind: decision.kind.clone(),
                title: decision.title.clone(),
                signed_on: decision.signed_on,
                first_effective_on: item.effective_on,
                upcoming: true,
                items: Vec::new(),
            });
            decisions.len() - 1
        });
        let entry = &mut decisions[index];
        entry.upcoming &= status == ChangeStatus::Upcoming;
        entry.items.push(ChangeItem {
            seq: item.seq,
            action,
            posting_action,
            procedure_code: item.procedure_code,
            procedure_name: name,
            sector_name: names.get(&sector_code).cloned().unwrap_or_default(),
            sector_code,
            levels,
            effective_on: item.effective_on,
            status,
            version_id: item.version_id,
        });
    }
    counts.decisions = decisions.len() as u64;
    Ok(ChangeFeed {
        since,
        today,
        province: province.map(str::to_owned),
        level,
        counts,
        decisions,
    })
}
