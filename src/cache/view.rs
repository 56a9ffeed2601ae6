//! The catalogue as the public reads it, held in memory: every version of every procedure in
//! every scope, with its content and its decision, the sectors' names, and the search index over
//! the names. It is built from the database once per catalogue revision (the counter every
//! decision, import and sector write bumps), so lists, searches and procedure pages never scan the
//! database, and a decision shows on the next request, on every instance.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::domain::catalogue::{Level, applicable, levels_from_db};
use crate::domain::search::{Quality, SearchIndex, Synonyms};
use crate::repo::catalogue::{self as catalogue_repo, DecisionRow, VersionRow};
use crate::repo::sectors;

/// The synonyms searched with, as shipped (`data/search-synonyms.tsv`).
pub const SYNONYMS: &str = include_str!("../../data/search-synonyms.tsv");

/// A prior given to procedures a commune carries out: between names that match equally well,
/// those are what a citizen asking the portal means most often.
const COMMUNE_PRIOR: f32 = 0.03;

/// One version, as loaded.
#[derive(Debug)]
pub struct ViewVersion {
    pub row: VersionRow,
    pub levels: Vec<Level>,
}

impl crate::domain::catalogue::Windowed for ViewVersion {
    fn scope(&self) -> &str {
        &self.row.scope
    }
    fn valid_from(&self) -> NaiveDate {
        self.row.valid_from
    }
    fn valid_to(&self) -> Option<NaiveDate> {
        self.row.valid_to
    }
}

impl ViewVersion {
    fn commune_level(&self) -> bool {
        self.levels.contains(&Level::Commune)
    }
}

/// Which procedures a list holds, as the query asks.
#[derive(Debug, Clone, Default)]
pub struct ListFilter<'a> {
    pub as_of: NaiveDate,
    pub province: Option<&'a str>,
    pub level: Option<Level>,
    pub sector: Option<&'a str>,
    pub status: StatusFilter,
}

/// Procedures in force, abolished, or both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StatusFilter {
    #[default]
    InForce,
    Abolished,
    All,
}

/// One procedure of a list: the version that applies, and how it matched a search.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub version: &'a ViewVersion,
    pub quality: Option<Quality>,
}

pub struct CatalogueView {
    pub revision: i64,
    versions: Vec<ViewVersion>,
    /// Each code's versions (indexes into `versions`), codes in order.
    by_code: BTreeMap<String, Vec<usize>>,
    decisions: HashMap<String, DecisionRow>,
    pub sector_names: HashMap<String, String>,
    search: SearchIndex,
}

impl CatalogueView {
    /// Loads the whole catalogue under `revision`.
    pub fn load(conn: &mut DbConnection, revision: i64) -> QueryResult<Self> {
        let (rows, decisions) = catalogue_repo::every_version(conn)?;
        let sector_names = sectors::list(conn)?
            .into_iter()
            .map(|s| (s.code, s.name))
            .collect();
        // The synonyms ship with the binary and are checked by its tests: a line that does not
        // parse is left out rather than stopping the catalogue.
        let synonyms = Synonyms::parse(SYNONYMS).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the bundled synonyms do not parse");
            Synonyms::default()
        });
        Ok(Self::new(revision, rows, decisions, sector_names, synonyms))
    }

    pub fn new(
        revision: i64,
        rows: Vec<VersionRow>,
        decisions: Vec<DecisionRow>,
        sector_names: HashMap<String, String>,
        synonyms: Synonyms,
    ) -> Self {
        let mut versions: Vec<ViewVersion> = rows
            .into_iter()
            .map(|row| ViewVersion {
                levels: levels_from_db(&row.levels).into_iter().collect(),
                row,
            })
            .collect();
        versions.sort_by(|a, b| {
            (&a.row.procedure_code, a.row.valid_from, &a.row.scope).cmp(&(
                &b.row.procedure_code,
                b.row.valid_from,
                &b.row.scope,
            ))
        });
        let mut by_code: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, v) in versions.iter().enumerate() {
            by_code
                .entry(v.row.procedure_code.clone())
                .or_default()
                .push(i);
        }
        let search = SearchIndex::new(
            versions.iter().map(|v| {
                let prior = if v.commune_level() {
                    COMMUNE_PRIOR
                } else {
                    0.0
                };
                (v.row.procedure_code.as_str(), v.row.name.as_str(), prior)
            }),
            synonyms,
        );
        CatalogueView {
            revision,
            versions,
            by_code,
            decisions: decisions.into_iter().map(|d| (d.id.clone(), d)).collect(),
            sector_names,
            search,
        }
    }

    /// Every version of a procedure, in effective order (empty for an unknown code).
    pub fn versions_of(&self, code: &str) -> Vec<&ViewVersion> {
        self.by_code
            .get(code)
            .map(|ids| ids.iter().map(|i| &self.versions[*i]).collect())
            .unwrap_or_default()
    }

    /// The version of `code` that applies on `as_of` in `province` (an abolition when abolished).
    pub fn applicable(
        &self,
        code: &str,
        province: Option<&str>,
        as_of: NaiveDate,
    ) -> Option<&ViewVersion> {
        let versions = self.versions_of(code);
        applicable(&versions, province, as_of).copied()
    }

    pub fn decision(&self, id: &str) -> Option<&DecisionRow> {
        self.decisions.get(id)
    }

    pub fn sector_name(&self, code: &str) -> String {
        self.sector_names.get(code).cloned().unwrap_or_default()
    }

    fn keep(&self, v: &ViewVersion, filter: &ListFilter<'_>) -> bool {
        let status = match filter.status {
            StatusFilter::InForce => !v.row.abolished,
            StatusFilter::Abolished => v.row.abolished,
            StatusFilter::All => true,
        };
        status
            && filter.level.is_none_or(|l| v.levels.contains(&l))
            && filter.sector.is_none_or(|s| s == v.row.sector_code)
    }

    /// The procedures that apply, in code order, after `after` (a code), at most `limit + 1` of
    /// them (one more than a page, to tell whether another page follows).
    pub fn list(
        &self,
        filter: &ListFilter<'_>,
        after: Option<&str>,
        limit: usize,
    ) -> Vec<Listed<'_>> {
        let range = match after {
            Some(a) => self
                .by_code
                .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => self.by_code.range::<str, _>(..),
        };
        range
            .filter_map(|(_, ids)| {
                let versions: Vec<&ViewVersion> = ids.iter().map(|i| &self.versions[*i]).collect();
                applicable(&versions, filter.province, filter.as_of).copied()
            })
            .filter(|v| self.keep(v, filter))
            .take(limit + 1)
            .map(|version| Listed {
                version,
                quality: None,
            })
            .collect()
    }

    /// The procedures matching `query` that apply, best first, from the `offset`-th, at most
    /// `limit + 1` of them. A procedure matches by the version that applies: a name it had
    /// before, or has only elsewhere, does not find it.
    pub fn search(
        &self,
        query: &str,
        filter: &ListFilter<'_>,
        offset: usize,
        limit: usize,
    ) -> Vec<Listed<'_>> {
        let mut seen: HashSet<&str> = HashSet::new();
        self.search
            .search(query)
            .into_iter()
            .filter_map(|hit| {
                let matched = &self.versions[hit.doc];
                let code = matched.row.procedure_code.as_str();
                if seen.contains(code) {
                    return None;
                }
                let applies = self.applicable(code, filter.province, filter.as_of)?;
                if applies.row.id != matched.row.id || !self.keep(applies, filter) {
                    return None;
                }
                seen.insert(code);
                Some(Listed {
                    version: applies,
                    quality: Some(hit.quality),
                })
            })
            .skip(offset)
            .take(limit + 1)
            .collect()
    }
}
