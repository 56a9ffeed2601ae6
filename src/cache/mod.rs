//! What reports reuse between requests, each piece valid while the revision counters it was built
//! under are unchanged (`repo::revisions`, held in memory by [`counters`]):
//!
//! - the reference data (units, province settings, holidays), under `reference`;
//! - the compiled catalogue (every version row of every scope, indexed by code, and the sector
//!   names), under `catalogue`;
//! - each commune's summary per date, under (`catalogue`, `reference`, the commune's counter);
//! - the JSON body of recently asked commune reports, under the same three, bounded in bytes.
//!
//! A request reads the counters before anything else: from the in-memory copy the watcher keeps
//! (`db::counters`), or from the database (one indexed query) while that copy is not confirmed.
//! A write is seen by the next request on the instance that made it, and on other instances as
//! soon as their watcher hears of it (milliseconds); data read after the counters can only be
//! newer than them, which at worst costs one recomputation.

pub mod counters;
pub mod view;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use chrono::NaiveDate;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::domain::calendar::Calendar;
use crate::domain::gaps::{CatalogueIndex, Summary};
use crate::domain::obligation::PlacesPeriod;
use crate::repo::catalogue::load_catalogue;
use crate::repo::postings::{self, SettingsRow};
use crate::repo::units::{self as units_repo, UnitRow};
use crate::repo::{revisions, sectors};
use counters::{Committed, Counters};
use view::CatalogueView;

use crate::telemetry::metrics::{self, Metrics};

/// Revision counters a cached piece was computed under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Revs {
    pub catalogue: i64,
    pub reference: i64,
    pub unit: i64,
}

/// Units, settings and holidays, as reports read them.
pub struct Reference {
    pub revision: i64,
    pub units: HashMap<String, UnitRow>,
    /// Provinces by code.
    pub provinces: Vec<UnitRow>,
    /// Communes of each province, by code.
    pub communes: HashMap<String, Vec<UnitRow>>,
    pub settings: HashMap<String, SettingsRow>,
    /// Each province's posting-place periods (absent: the default).
    pub posting_places: HashMap<String, Vec<PlacesPeriod>>,
    pub calendar: Calendar,
}

impl Reference {
    fn load(conn: &mut DbConnection, revision: i64) -> QueryResult<Self> {
        let all = units_repo::list(
            conn,
            &units_repo::UnitFilter {
                limit: i64::MAX,
                ..Default::default()
            },
        )?;
        let mut provinces = Vec::new();
        let mut communes: HashMap<String, Vec<UnitRow>> = HashMap::new();
        for u in &all {
            match &u.parent_code {
                None => provinces.push(u.clone()),
                Some(p) => communes.entry(p.clone()).or_default().push(u.clone()),
            }
        }
        provinces.sort_by(|a, b| a.code.cmp(&b.code));
        for list in communes.values_mut() {
            list.sort_by(|a, b| a.code.cmp(&b.code));
        }
        Ok(Reference {
            revision,
            units: all.into_iter().map(|u| (u.code.clone(), u)).collect(),
            provinces,
            communes,
            posting_places: {
                let mut by_province: HashMap<String, Vec<PlacesPeriod>> = HashMap::new();
                for row in postings::posting_places(conn, None)? {
                    by_province
                        .entry(row.province_code.clone())
                        .or_default()
                        .push(row.period());
                }
                by_province
            },
            settings: postings::all_settings(conn)?
                .into_iter()
                .map(|s| (s.province_code.clone(), s))
                .collect(),
            calendar: Calendar::new(postings::holidays(conn)?.into_iter().map(|h| h.day)),
        })
    }

    /// A unit by code.
    pub fn unit(&self, code: &str) -> Option<&UnitRow> {
        self.units.get(code)
    }

    /// A province's posting-place periods (empty: the default).
    pub fn places_of(&self, province: &str) -> &[PlacesPeriod] {
        self.posting_places
            .get(province)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// The whole catalogue, compiled for the gap engine.
pub struct Compiled {
    pub revision: i64,
    pub index: CatalogueIndex,
    pub sector_names: HashMap<String, String>,
}

impl Compiled {
    fn load(conn: &mut DbConnection, revision: i64) -> QueryResult<Self> {
        Ok(Compiled {
            revision,
            index: load_catalogue(conn, None)?,
            sector_names: sectors::list(conn)?
                .into_iter()
                .map(|s| (s.code, s.name))
                .collect(),
        })
    }
}

/// A report's JSON, and the same gzip-compressed for clients that accept it.
#[derive(Debug, Clone)]
pub struct Body {
    pub json: Bytes,
    pub gzip: Bytes,
}

impl Body {
    pub fn new(json: Vec<u8>) -> Self {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(
            Vec::with_capacity(json.len() / 8),
            flate2::Compression::fast(),
        );
        // Writing to a Vec cannot fail.
        let gzip = encoder
            .write_all(&json)
            .and_then(|()| encoder.finish())
            .unwrap_or_default();
        Body {
            json: Bytes::from(json),
            gzip: Bytes::from(gzip),
        }
    }

    fn len(&self) -> usize {
        self.json.len() + self.gzip.len()
    }
}

/// Report bodies, oldest dropped first once over the byte budget.
#[derive(Default)]
struct Bodies {
    map: HashMap<(String, NaiveDate), (Revs, Body)>,
    order: VecDeque<(String, NaiveDate)>,
    bytes: usize,
}

/// Public catalogue answers by tag (which names the catalogue revision and the request), oldest
/// dropped first once over [`RESPONSE_BUDGET`].
#[derive(Default)]
struct Responses {
    map: HashMap<String, Body>,
    order: VecDeque<String>,
    bytes: usize,
}

/// Bytes of public catalogue answers kept (pages, searches, procedure details, with their gzip).
const RESPONSE_BUDGET: usize = 32 * 1024 * 1024;

/// Each commune's summary on one date, with the counters it was computed under.
type SummariesOfDay = HashMap<String, (Revs, Arc<Summary>)>;

/// Summaries kept per date; dates beyond this many are dropped, oldest asked first.
const SUMMARY_DATES: usize = 4;

pub struct ReportCache {
    reference: RwLock<Option<Arc<Reference>>>,
    catalogue: RwLock<Option<Arc<Compiled>>>,
    view: RwLock<Option<Arc<CatalogueView>>>,
    /// Held while the view loads, so that requests arriving meanwhile wait for that load instead
    /// of each reading the whole catalogue.
    view_loading: Mutex<()>,
    summaries: Mutex<HashMap<NaiveDate, SummariesOfDay>>,
    bodies: Mutex<Bodies>,
    body_budget: usize,
    responses: Mutex<Responses>,
    counters: Arc<Counters>,
    metrics: Metrics,
}

impl ReportCache {
    /// A cache keeping at most `body_budget` bytes of report bodies.
    pub fn new(body_budget: usize, counters: Arc<Counters>, metrics: Metrics) -> Self {
        ReportCache {
            counters,
            metrics,
            reference: RwLock::new(None),
            catalogue: RwLock::new(None),
            view: RwLock::new(None),
            view_loading: Mutex::new(()),
            summaries: Mutex::new(HashMap::new()),
            bodies: Mutex::new(Bodies::default()),
            responses: Mutex::new(Responses::default()),
            body_budget,
        }
    }

    /// The reference data under `revision`, loaded if the cached one is older.
    pub fn reference(&self, conn: &mut DbConnection, revision: i64) -> QueryResult<Arc<Reference>> {
        if let Some(r) = read(&self.reference).filter(|r| r.revision == revision) {
            return Ok(r);
        }
        let loaded = Arc::new(Reference::load(conn, revision)?);
        *write(&self.reference) = Some(loaded.clone());
        Ok(loaded)
    }

    /// The compiled catalogue under `revision`, loaded if the cached one is older.
    pub fn catalogue(&self, conn: &mut DbConnection, revision: i64) -> QueryResult<Arc<Compiled>> {
        if let Some(c) = read(&self.catalogue).filter(|c| c.revision == revision) {
            return Ok(c);
        }
        let loaded = Arc::new(Compiled::load(conn, revision)?);
        *write(&self.catalogue) = Some(loaded.clone());
        Ok(loaded)
    }

    /// The catalogue view, when it is known current without asking the database (the counters
    /// are confirmed and the view was built under the catalogue's counter).
    pub fn current_view(&self) -> Option<Arc<CatalogueView>> {
        let revision = self.counters.get_many(&[revisions::CATALOGUE])?[0];
        let found = read(&self.view).filter(|v| v.revision >= revision);
        self.metrics
            .cache_lookup(metrics::Cache::Catalogue, found.is_some());
        found
    }

    /// The catalogue view under the current counter, loaded if it is older (one load at a time).
    pub fn view(&self, conn: &mut DbConnection) -> QueryResult<Arc<CatalogueView>> {
        let (catalogue, _, _) = self.revisions_of(conn, &[])?;
        if let Some(v) = read(&self.view).filter(|v| v.revision >= catalogue) {
            return Ok(v);
        }
        let _loading = lock(&self.view_loading);
        if let Some(v) = read(&self.view).filter(|v| v.revision >= catalogue) {
            return Ok(v);
        }
        let started = std::time::Instant::now();
        let loaded = Arc::new(CatalogueView::load(conn, catalogue)?);
        tracing::info!(
            revision = catalogue,
            took_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "catalogue view loaded"
        );
        *write(&self.view) = Some(loaded.clone());
        Ok(loaded)
    }

    /// Whether `code` is a province, from the reference data in memory (provinces do not come
    /// and go between starts); `None` when that is not loaded.
    pub fn is_province(&self, code: &str) -> Option<bool> {
        let reference = read(&self.reference)?;
        Some(reference.provinces.iter().any(|p| p.code == code))
    }

    /// The global counters and those of `units`.
    pub fn revisions_of(
        &self,
        conn: &mut DbConnection,
        units: &[&str],
    ) -> QueryResult<(i64, i64, HashMap<String, i64>)> {
        if units.len() > 200 {
            let mut all = self.all_revisions(conn)?;
            let catalogue = all.remove(revisions::CATALOGUE).unwrap_or(0);
            let reference = all.remove(revisions::REFERENCE).unwrap_or(0);
            return Ok((catalogue, reference, all));
        }
        let mut keys: Vec<&str> = vec![revisions::CATALOGUE, revisions::REFERENCE];
        keys.extend_from_slice(units);
        if let Some(values) = self.counters.get_many(&keys) {
            let units = units
                .iter()
                .zip(&values[2..])
                .map(|(u, r)| (u.to_string(), *r))
                .collect();
            return Ok((values[0], values[1], units));
        }
        let mut map = revisions::get(conn, &keys)?;
        let catalogue = map.remove(revisions::CATALOGUE).unwrap_or(0);
        let reference = map.remove(revisions::REFERENCE).unwrap_or(0);
        Ok((catalogue, reference, map))
    }

    /// Every counter.
    pub fn all_revisions(&self, conn: &mut DbConnection) -> QueryResult<HashMap<String, i64>> {
        match self.counters.all() {
            Some(all) => Ok(all),
            None => revisions::all(conn),
        }
    }

    /// A commune report's body when everything it depends on is already in memory: the counters
    /// are confirmed, the reference data and the body are cached under them. Returns the body and
    /// the commune's province (for the caller to authorize); `None` means the caller must go to
    /// the database.
    pub fn cached_commune_body(&self, code: &str, as_of: NaiveDate) -> Option<(Body, String)> {
        let revs = self
            .counters
            .get_many(&[revisions::CATALOGUE, revisions::REFERENCE, code])?;
        let (catalogue, reference_rev, unit) = (revs[0], revs[1], revs[2]);
        let reference = read(&self.reference).filter(|r| r.revision == reference_rev)?;
        let province = reference.unit(code)?.parent_code.clone()?;
        let revs = Revs {
            catalogue,
            reference: reference_rev,
            unit,
        };
        self.body(code, as_of, revs).map(|b| (b, province))
    }

    /// The service's metrics, for the work done with this cache.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Loads the current reference data, so that the first requests find it in memory.
    pub fn warm(&self, conn: &mut DbConnection) -> QueryResult<()> {
        let (_, reference, _) = self.revisions_of(conn, &[])?;
        self.reference(conn, reference).map(drop)
    }

    /// The province of a commune, from the reference data in memory whatever its revision (a
    /// commune never changes province); `None` when it is not known there.
    pub fn province_of(&self, commune: &str) -> Option<String> {
        read(&self.reference)?.unit(commune)?.parent_code.clone()
    }

    /// Makes a committed write visible to this instance's reports and hands back its value.
    pub fn publish<T>(&self, committed: Committed<T>) -> T {
        self.counters.publish(committed)
    }

    /// The compiled catalogue under the current counter.
    pub fn current_catalogue(&self, conn: &mut DbConnection) -> QueryResult<Arc<Compiled>> {
        let (catalogue, _, _) = self.revisions_of(conn, &[])?;
        self.catalogue(conn, catalogue)
    }

    pub fn summary(&self, unit: &str, as_of: NaiveDate, revs: Revs) -> Option<Arc<Summary>> {
        let map = lock(&self.summaries);
        let found = map
            .get(&as_of)
            .and_then(|day| day.get(unit))
            .filter(|(r, _)| *r == revs)
            .map(|(_, s)| s.clone());
        self.metrics
            .cache_lookup(metrics::Cache::Summary, found.is_some());
        found
    }

    pub fn store_summary(&self, unit: &str, as_of: NaiveDate, revs: Revs, summary: Arc<Summary>) {
        let mut map = lock(&self.summaries);
        if !map.contains_key(&as_of) && map.len() >= SUMMARY_DATES {
            // Drop the date furthest from this one: reports are asked mostly for recent days.
            if let Some(far) = map
                .keys()
                .copied()
                .max_by_key(|d| (*d - as_of).num_days().abs())
            {
                map.remove(&far);
            }
        }
        map.entry(as_of)
            .or_default()
            .insert(unit.to_owned(), (revs, summary));
    }

    pub fn body(&self, unit: &str, as_of: NaiveDate, revs: Revs) -> Option<Body> {
        let bodies = lock(&self.bodies);
        let found = bodies
            .map
            .get(&(unit.to_owned(), as_of))
            .filter(|(r, _)| *r == revs)
            .map(|(_, b)| b.clone());
        self.metrics
            .cache_lookup(metrics::Cache::Body, found.is_some());
        found
    }

    /// A public catalogue answer kept under its tag.
    pub fn response(&self, tag: &str) -> Option<Body> {
        let found = lock(&self.responses).map.get(tag).cloned();
        self.metrics
            .cache_lookup(metrics::Cache::Response, found.is_some());
        found
    }

    pub fn store_response(&self, tag: &str, body: Body) {
        if body.len() > RESPONSE_BUDGET / 8 {
            return;
        }
        let mut r = lock(&self.responses);
        if r.map.contains_key(tag) {
            return;
        }
        while r.bytes + body.len() > RESPONSE_BUDGET {
            let Some(oldest) = r.order.pop_front() else {
                break;
            };
            if let Some(old) = r.map.remove(&oldest) {
                r.bytes -= old.len();
            }
        }
        r.bytes += body.len();
        r.order.push_back(tag.to_owned());
        r.map.insert(tag.to_owned(), body);
    }

    pub fn store_body(&self, unit: &str, as_of: NaiveDate, revs: Revs, body: Body) {
        if body.len() > self.body_budget {
            return;
        }
        let mut b = lock(&self.bodies);
        let key = (unit.to_owned(), as_of);
        if let Some((_, old)) = b.map.remove(&key) {
            b.bytes -= old.len();
            b.order.retain(|k| k != &key);
        }
        while b.bytes + body.len() > self.body_budget {
            let Some(oldest) = b.order.pop_front() else {
                break;
            };
            if let Some((_, old)) = b.map.remove(&oldest) {
                b.bytes -= old.len();
            }
        }
        b.bytes += body.len();
        b.order.push_back(key.clone());
        b.map.insert(key, (revs, body));
    }
}

// A poisoned lock only means another request panicked mid-update of a cache entry; the entry is
// replaced whole, so the data is still consistent.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn read<T: Clone>(l: &RwLock<Option<T>>) -> Option<T> {
    l.read().unwrap_or_else(|e| e.into_inner()).clone()
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
