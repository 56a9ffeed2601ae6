//! Gap reports: one commune, one province (a row per commune, worst first), the country (a row
//! per province) and a decision's impact. Each report reads what it needs in a few set-based
//! queries (catalogue rows, postings, exemptions, settings, holidays), then runs the pure gap
//! engine per commune in memory.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{procedure_versions, units};
use crate::db::{DbConnection, WriteLock, write_tx};
use crate::domain::calendar::Calendar;
use crate::domain::catalogue::{Level, NATIONAL, levels_from_db};
use crate::domain::gaps::{
    CatalogueIndex, CatalogueVersion, Evaluation, ExemptionFact, Finding, FindingKind,
    PostingChannel, PostingFact, ProvinceRules, ProvinceView, SectorSummary, Summary, evaluate,
    percent, summarize,
};
use crate::error::ApiError;
use crate::repo::catalogue::{self as catalogue_repo, VersionRow};
use crate::repo::postings::{self, ExemptionRow, PostingFactRow, PostingRow, SettingsRow};
use crate::repo::sectors;
use crate::repo::summaries::{self as summaries_repo, SummaryRow};
use crate::repo::units::{self as units_repo, UnitRow};
use crate::services::cache::{Body, Compiled, Reference, ReportCache, Revs};

type CatalogueColumns = (
    String,
    String,
    String,
    NaiveDate,
    Option<NaiveDate>,
    bool,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
);

/// Every catalogue row of national scope and of `province` (of every scope when `None`).
pub fn load_catalogue(
    conn: &mut DbConnection,
    province: Option<&str>,
) -> QueryResult<CatalogueIndex> {
    let mut query = procedure_versions::table
        .select((
            procedure_versions::id,
            procedure_versions::procedure_code,
            procedure_versions::scope,
            procedure_versions::valid_from,
            procedure_versions::valid_to,
            procedure_versions::abolished,
            procedure_versions::levels,
            procedure_versions::name,
            procedure_versions::sector_code,
            procedure_versions::announced_by,
            procedure_versions::announced_by_norm,
            procedure_versions::content_hash,
        ))
        .into_boxed();
    if let Some(p) = province {
        query =
            query.filter(procedure_versions::scope.eq_any(vec![NATIONAL.to_owned(), p.to_owned()]));
    }
    let rows: Vec<CatalogueColumns> = query.load(conn)?;
    let known: Vec<String> = match province {
        Some(_) => crate::db::schema::procedures::table
            .select(crate::db::schema::procedures::code)
            .load(conn)?,
        None => Vec::new(),
    };
    let index = CatalogueIndex::new(rows.into_iter().map(
        |(
            id,
            code,
            scope,
            valid_from,
            valid_to,
            abolished,
            levels,
            name,
            sector_code,
            announced_by,
            announced_by_norm,
            content_hash,
        )| {
            CatalogueVersion {
                commune_level: levels_from_db(&levels).contains(&Level::Commune),
                id,
                code,
                scope,
                valid_from,
                valid_to,
                abolished,
                name,
                sector_code,
                announced_by,
                announced_by_norm,
                content_hash,
            }
        },
    ));
    Ok(index.with_known_codes(known))
}

/// A province's rules: its settings, or the defaults (5 working days, both channels).
pub fn rules_from(row: Option<&SettingsRow>) -> ProvinceRules {
    match row {
        None => ProvinceRules::default(),
        Some(r) => ProvinceRules {
            deadline_working_days: r.deadline_working_days.max(0) as u32,
            required_channels: r
                .required_channels
                .split(',')
                .filter_map(PostingChannel::parse)
                .collect(),
        },
    }
}

pub fn load_calendar(conn: &mut DbConnection) -> QueryResult<Calendar> {
    Ok(Calendar::new(
        postings::holidays(conn)?.into_iter().map(|h| h.day),
    ))
}

fn posting_fact(row: &PostingRow) -> Option<PostingFact> {
    Some(PostingFact {
        code: row.procedure_code.clone(),
        channel: PostingChannel::parse(&row.channel)?,
        decision: row.decision_number.clone(),
        decision_norm: row.decision_number_norm.clone(),
        posted_on: row.posted_on,
    })
}

fn exemption_fact(row: &ExemptionRow) -> ExemptionFact {
    ExemptionFact {
        code: row.procedure_code.clone(),
        valid_from: row.valid_from,
        valid_to: row.valid_to,
    }
}

/// Fills `changed_fields` of outdated findings by comparing the posted and the expected
/// versions' content (one query for every distinct pair).
fn fill_changed_fields(
    conn: &mut DbConnection,
    findings: &mut [&mut Finding],
) -> Result<(), ApiError> {
    let pairs: HashSet<(String, String)> = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Outdated)
        .filter_map(|f| {
            Some((
                f.observed.as_ref()?.version_id.clone()?,
                f.expected.as_ref()?.version_id.clone(),
            ))
        })
        .collect();
    if pairs.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = pairs
        .iter()
        .flat_map(|(a, b)| [a.clone(), b.clone()])
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let mut contents = HashMap::new();
    for chunk in ids.chunks(crate::repo::INSERT_CHUNK) {
        let rows: Vec<VersionRow> = procedure_versions::table
            .filter(procedure_versions::id.eq_any(chunk))
            .select(VersionRow::as_select())
            .load(conn)?;
        for row in rows {
            contents.insert(row.id.clone(), row.content().map_err(ApiError::internal)?);
        }
    }
    let mut diffs: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (posted, expected) in pairs {
        if let (Some(a), Some(b)) = (contents.get(&posted), contents.get(&expected)) {
            let fields = a.changed_fields(b).into_iter().map(str::to_owned).collect();
            diffs.insert((posted, expected), fields);
        }
    }
    for f in findings.iter_mut() {
        let key = f
            .observed
            .as_ref()
            .and_then(|o| o.version_id.clone())
            .zip(f.expected.as_ref().map(|e| e.version_id.clone()));
        if let Some(fields) = key.and_then(|k| diffs.get(&k)) {
            f.changed_fields = fields.clone();
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UnitRef {
    pub code: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RulesView {
    pub deadline_working_days: u32,
    pub required_channels: Vec<PostingChannel>,
}

impl From<&ProvinceRules> for RulesView {
    fn from(r: &ProvinceRules) -> Self {
        RulesView {
            deadline_working_days: r.deadline_working_days,
            required_channels: r.required_channels.clone(),
        }
    }
}

/// A sector's completeness, with its name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SectorCoverage {
    pub sector_code: String,
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

fn sector_names(conn: &mut DbConnection) -> QueryResult<HashMap<String, String>> {
    Ok(sectors::list(conn)?
        .into_iter()
        .map(|s| (s.code, s.name))
        .collect())
}

/// The commune and its province, or 404 (422 when the code names a province).
pub fn commune_and_province(
    conn: &mut DbConnection,
    code: &str,
) -> Result<(UnitRow, UnitRow), ApiError> {
    let commune = units_repo::get(conn, code)?
        .ok_or_else(|| ApiError::NotFound(format!("no commune {code}")))?;
    let province_code = commune.parent_code.clone().ok_or_else(|| {
        ApiError::validation_one("code", format!("{code} is a province, not a commune"))
    })?;
    let province = units_repo::get(conn, &province_code)?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("commune {code} has no province row")))?;
    Ok((commune, province))
}

/// A commune's report, computed from the database (inspections freeze this).
pub fn commune_report(
    conn: &mut DbConnection,
    code: &str,
    as_of: NaiveDate,
) -> Result<CommuneReport, ApiError> {
    let (commune, province) = commune_and_province(conn, code)?;
    let catalogue = load_catalogue(conn, Some(&province.code))?;
    let rules = rules_from(postings::settings(conn, &province.code)?.as_ref());
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
    authorize: &dyn Fn(&str) -> Result<(), ApiError>,
) -> Result<Body, ApiError> {
    let (catalogue_rev, reference_rev, units) = cache.revisions_of(conn, &[code])?;
    let reference = cache.reference(conn, reference_rev)?;
    let (commune, province) = reference.commune(code)?;
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
    let rules = rules_from(reference.settings.get(&province.code));
    let report = build_commune_report(
        conn,
        (commune, province),
        &compiled.index,
        (&rules, &reference.calendar, &compiled.sector_names),
        as_of,
    )?;
    let body = Body::new(serde_json::to_vec(&report).map_err(ApiError::internal)?);
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
) -> Result<CommuneReport, ApiError> {
    let facts: Vec<PostingFact> = postings::current_for_unit(conn, &commune.code, as_of)?
        .iter()
        .filter_map(posting_fact)
        .collect();
    let exemptions: Vec<ExemptionFact> = postings::exemptions_for_unit(conn, &commune.code)?
        .iter()
        .map(exemption_fact)
        .collect();
    let view = catalogue.for_province(&province.code, as_of);
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
        rules: rules.into(),
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

/// One row of a province report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommuneRow {
    pub code: String,
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

fn commune_row(unit: &UnitRow, s: &Summary) -> CommuneRow {
    let n = |k: FindingKind| s.counts.get(&k).copied().unwrap_or(0);
    CommuneRow {
        code: unit.code.clone(),
        name: unit.name.clone(),
        required_pairs: s.required_pairs,
        ok: s.ok,
        completeness: s.completeness,
        missing: n(FindingKind::Missing),
        outdated: n(FindingKind::Outdated),
        must_remove: n(FindingKind::MustRemove),
        other: n(FindingKind::NotApplicable)
            + n(FindingKind::Premature)
            + n(FindingKind::UnknownProcedure),
        overdue: s.overdue,
        timely_rate: s.timely_rate,
    }
}

/// Totals over many communes.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct Totals {
    pub communes: u64,
    pub required_pairs: u64,
    pub ok: u64,
    pub completeness: f64,
    pub counts: BTreeMap<FindingKind, u64>,
    pub overdue: u64,
    pub timely: u64,
    pub timely_rate: f64,
}

impl Totals {
    fn add(&mut self, s: &Summary) {
        self.communes += 1;
        self.required_pairs += s.required_pairs;
        self.ok += s.ok;
        self.overdue += s.overdue;
        self.timely += s.timely;
        for (k, n) in &s.counts {
            *self.counts.entry(*k).or_default() += n;
        }
    }

    fn finish(&mut self) {
        for k in FindingKind::ALL {
            self.counts.entry(k).or_default();
        }
        self.completeness = percent(self.ok, self.required_pairs);
        self.timely_rate = percent(self.timely, self.required_pairs);
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvinceReport {
    pub province: UnitRef,
    pub as_of: NaiveDate,
    pub rules: RulesView,
    pub totals: Totals,
    /// Coverage of each sector across the province's communes.
    pub sectors: Vec<SectorCoverage>,
    /// Worst first: lowest completeness, then most overdue.
    pub communes: Vec<CommuneRow>,
}

fn sort_worst_first(rows: &mut [CommuneRow]) {
    rows.sort_by(|a, b| {
        a.completeness
            .total_cmp(&b.completeness)
            .then(b.overdue.cmp(&a.overdue))
            .then_with(|| a.code.cmp(&b.code))
    });
}

/// Current postings grouped by commune, as the engine reads them.
fn facts_by_unit(rows: Vec<PostingFactRow>) -> HashMap<String, Vec<PostingFact>> {
    let mut by_unit: HashMap<String, Vec<PostingFact>> = HashMap::new();
    for (unit, code, channel, decision, decision_norm, posted_on) in rows {
        if let Some(channel) = PostingChannel::parse(&channel) {
            by_unit.entry(unit).or_default().push(PostingFact {
                code,
                channel,
                decision,
                decision_norm,
                posted_on,
            });
        }
    }
    by_unit
}

/// `YYYY-MM-DD` without the generality of a format string.
fn parse_day(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return s.parse().ok();
    }
    let num = |r: std::ops::Range<usize>| std::str::from_utf8(&b[r]).ok()?.parse::<u32>().ok();
    NaiveDate::from_ymd_opt(num(0..4)? as i32, num(5..7)?, num(8..10)?)
}

/// Summary facts grouped by commune (the rows come ordered by commune). The posted decision
/// text is left empty: a summary compares matching keys only.
fn summary_facts_by_unit(rows: Vec<postings::SummaryFactRow>) -> HashMap<String, Vec<PostingFact>> {
    let mut by_unit: HashMap<String, Vec<PostingFact>> = HashMap::new();
    let mut current: Option<(String, Vec<PostingFact>)> = None;
    for (unit, code, channel, decision_norm, posted_on) in rows {
        let (Some(channel), Some(posted_on)) =
            (PostingChannel::parse(&channel), parse_day(&posted_on))
        else {
            continue;
        };
        let fact = PostingFact {
            code,
            channel,
            decision: String::new(),
            decision_norm,
            posted_on,
        };
        match &mut current {
            Some((u, list)) if *u == unit => list.push(fact),
            _ => {
                if let Some((u, list)) = current.take() {
                    by_unit.entry(u).or_default().extend(list);
                }
                current = Some((unit, vec![fact]));
            }
        }
    }
    if let Some((u, list)) = current {
        by_unit.entry(u).or_default().extend(list);
    }
    by_unit
}

/// Evaluates every commune of a province against one shared view of the catalogue; with
/// `findings` false, only the summaries are computed.
fn evaluate_province(
    view: &ProvinceView<'_>,
    communes: &[UnitRow],
    postings: &HashMap<String, Vec<PostingFact>>,
    exemptions: &[ExemptionRow],
    rules: &ProvinceRules,
    calendar: &Calendar,
    findings: bool,
) -> Vec<(usize, Evaluation)> {
    let mut exempt: HashMap<&str, Vec<ExemptionFact>> = HashMap::new();
    for e in exemptions {
        exempt
            .entry(e.unit_code.as_str())
            .or_default()
            .push(exemption_fact(e));
    }
    communes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let facts = postings
                .get(c.code.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let ex = exempt
                .get(c.code.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let run = if findings { evaluate } else { summarize };
            (i, run(&c.code, view, facts, ex, rules, calendar))
        })
        .collect()
}

pub fn communes_of(conn: &mut DbConnection, province: Option<&str>) -> QueryResult<Vec<UnitRow>> {
    let mut query = units::table
        .filter(units::level.eq("commune"))
        .order(units::code.asc())
        .select(UnitRow::as_select())
        .into_boxed();
    if let Some(p) = province {
        query = query.filter(units::parent_code.eq(p.to_owned()));
    }
    query.load(conn)
}

/// The version of what `summarize` computes. Bump it whenever a change to the gap rules or to
/// [`Summary`] would summarise the same postings differently: summaries stored by an older build
/// are then computed again instead of served (their counters alone cannot tell).
pub const SUMMARY_VERSION: u32 = 1;

/// A stored summary and the version of the code that computed it.
#[derive(Serialize, Deserialize)]
struct StoredSummary<S> {
    version: u32,
    summary: S,
}

/// The summaries of a province's communes on `as_of`: from the cache where the counters are
/// unchanged, the others computed together (one query for their postings) and cached.
fn province_summaries(
    conn: &mut DbConnection,
    cache: &ReportCache,
    (compiled, reference): (&Compiled, &Reference),
    province: &str,
    (catalogue_rev, reference_rev, units): (i64, i64, &HashMap<String, i64>),
    as_of: NaiveDate,
) -> Result<Vec<Arc<Summary>>, ApiError> {
    let communes = reference
        .communes
        .get(province)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let revs = |code: &str| Revs {
        catalogue: catalogue_rev,
        reference: reference_rev,
        unit: units.get(code).copied().unwrap_or(0),
    };
    let mut out: Vec<Option<Arc<Summary>>> = communes
        .iter()
        .map(|c| cache.summary(&c.code, as_of, revs(&c.code)))
        .collect();
    let missing = |out: &[Option<Arc<Summary>>]| -> Vec<&str> {
        communes
            .iter()
            .zip(out)
            .filter(|(_, s)| s.is_none())
            .map(|(c, _)| c.code.as_str())
            .collect()
    };
    let stale = missing(&out);
    // Only today's summaries are stored: they are what the reports are mostly asked for, and one
    // row per commune stays enough.
    let persist = as_of == crate::domain::calendar::today_in_vietnam();
    if persist && !stale.is_empty() {
        let slot_of: HashMap<&str, usize> = communes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.as_str(), i))
            .collect();
        for row in summaries_repo::load(conn, &stale, as_of)? {
            let current = revs(&row.unit_code);
            let stored = Revs {
                catalogue: row.catalogue_rev,
                reference: row.reference_rev,
                unit: row.unit_rev,
            };
            if stored != current {
                continue;
            }
            let (Some(&i), Ok(stored)) = (
                slot_of.get(row.unit_code.as_str()),
                serde_json::from_str::<StoredSummary<Summary>>(&row.summary),
            ) else {
                continue;
            };
            if stored.version != SUMMARY_VERSION {
                continue;
            }
            let summary = Arc::new(stored.summary);
            cache.store_summary(&row.unit_code, as_of, current, summary.clone());
            out[i] = Some(summary);
        }
    }
    let stale = missing(&out);
    if !stale.is_empty() {
        let view = compiled.index.for_province(province, as_of);
        let rules = rules_from(reference.settings.get(province));
        let facts = summary_facts_by_unit(postings::summary_facts(conn, &stale, as_of)?);
        let mut exempt: HashMap<String, Vec<ExemptionFact>> = HashMap::new();
        for e in postings::exemptions_for_province(conn, Some(province))? {
            exempt
                .entry(e.unit_code.clone())
                .or_default()
                .push(exemption_fact(&e));
        }
        let mut computed = Vec::new();
        for (c, slot) in communes.iter().zip(out.iter_mut()) {
            if slot.is_some() {
                continue;
            }
            let summary = Arc::new(
                summarize(
                    &c.code,
                    &view,
                    facts.get(&c.code).map(Vec::as_slice).unwrap_or(&[]),
                    exempt.get(&c.code).map(Vec::as_slice).unwrap_or(&[]),
                    &rules,
                    &reference.calendar,
                )
                .summary,
            );
            cache.store_summary(&c.code, as_of, revs(&c.code), summary.clone());
            if persist {
                let r = revs(&c.code);
                computed.push(SummaryRow {
                    unit_code: c.code.clone(),
                    as_of,
                    catalogue_rev: r.catalogue,
                    reference_rev: r.reference,
                    unit_rev: r.unit,
                    summary: serde_json::to_string(&StoredSummary {
                        version: SUMMARY_VERSION,
                        summary: &*summary,
                    })
                    .map_err(ApiError::internal)?,
                });
            }
            *slot = Some(summary);
        }
        if !computed.is_empty() {
            // Derived data: a failure to store only means the next start computes them again.
            // On SQLite a report waits at most a quarter of a second for the one writer (a bulk
            // load can hold it for a minute; another province of the same report holds it for
            // milliseconds): past that, the summaries are simply not stored this time.
            use diesel::connection::SimpleConnection as _;
            let sqlite = matches!(conn, DbConnection::Sqlite(_));
            if sqlite {
                conn.batch_execute("PRAGMA busy_timeout = 250")?;
            }
            let stored = write_tx(conn, WriteLock::Summaries, |conn| {
                summaries_repo::store(conn, &computed)
            });
            if sqlite {
                conn.batch_execute("PRAGMA busy_timeout = 10000")?;
            }
            if let Err(e) = stored {
                tracing::warn!(province, error = %e, "storing commune summaries");
            }
        }
    }
    Ok(out.into_iter().flatten().collect())
}

pub fn province_report(
    conn: &mut DbConnection,
    cache: &ReportCache,
    code: &str,
    as_of: NaiveDate,
) -> Result<ProvinceReport, ApiError> {
    let (catalogue_rev, reference_rev, _) = cache.revisions_of(conn, &[])?;
    let reference = cache.reference(conn, reference_rev)?;
    let province = reference
        .units
        .get(code)
        .filter(|u| u.parent_code.is_none())
        .ok_or_else(|| ApiError::NotFound(format!("no province {code}")))?;
    let communes = reference
        .communes
        .get(code)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let keys: Vec<&str> = communes.iter().map(|c| c.code.as_str()).collect();
    // The communes' counters; the global ones stay those read first, which the reference data
    // was loaded under (anything read later is at least as new, so nothing stale is cached).
    let (_, _, units) = cache.revisions_of(conn, &keys)?;
    let compiled = cache.catalogue(conn, catalogue_rev)?;
    let summaries = province_summaries(
        conn,
        cache,
        (&compiled, &reference),
        code,
        (catalogue_rev, reference_rev, &units),
        as_of,
    )?;
    let rules = rules_from(reference.settings.get(code));
    let mut totals = Totals::default();
    let mut sectors: BTreeMap<String, SectorSummary> = BTreeMap::new();
    let mut rows = Vec::with_capacity(communes.len());
    for (commune, summary) in communes.iter().zip(&summaries) {
        totals.add(summary);
        for s in &summary.by_sector {
            let acc = sectors
                .entry(s.sector_code.clone())
                .or_insert_with(|| SectorSummary {
                    sector_code: s.sector_code.clone(),
                    ..SectorSummary::default()
                });
            acc.required_pairs += s.required_pairs;
            acc.ok += s.ok;
            acc.missing += s.missing;
            acc.outdated += s.outdated;
        }
        rows.push(commune_row(commune, summary));
    }
    totals.finish();
    sort_worst_first(&mut rows);
    let sectors: Vec<SectorSummary> = sectors
        .into_values()
        .map(|mut s| {
            s.completeness = percent(s.ok, s.required_pairs);
            s
        })
        .collect();
    Ok(ProvinceReport {
        province: UnitRef {
            code: province.code.clone(),
            name: province.name.clone(),
        },
        as_of,
        rules: (&rules).into(),
        totals,
        sectors: coverage(&sectors, &compiled.sector_names),
        communes: rows,
    })
}

/// One row of the national report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProvinceRow {
    pub code: String,
    pub name: String,
    #[serde(flatten)]
    pub totals: Totals,
    /// Communes whose completeness is below 100%.
    pub incomplete_communes: u64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NationalReport {
    pub as_of: NaiveDate,
    pub totals: Totals,
    /// Worst first: lowest completeness.
    pub provinces: Vec<ProvinceRow>,
}

/// The national report. With a pool, provinces whose summaries are not cached are computed on
/// several connections at once (one thread per core), which is what the first report after a
/// start costs.
pub fn national_report(
    conn: &mut DbConnection,
    pool: Option<&crate::db::DbPool>,
    cache: &ReportCache,
    as_of: NaiveDate,
) -> Result<NationalReport, ApiError> {
    let all = cache.all_revisions(conn)?;
    let catalogue_rev = all
        .get(crate::repo::revisions::CATALOGUE)
        .copied()
        .unwrap_or(0);
    let reference_rev = all
        .get(crate::repo::revisions::REFERENCE)
        .copied()
        .unwrap_or(0);
    let reference = cache.reference(conn, reference_rev)?;
    let compiled = cache.catalogue(conn, catalogue_rev)?;
    if let Some(pool) = pool {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        // Largest provinces first, dealt out in turn, so that the threads finish together.
        let mut order: Vec<&UnitRow> = reference.provinces.iter().collect();
        order.sort_by_key(|p| {
            std::cmp::Reverse(reference.communes.get(&p.code).map_or(0, Vec::len))
        });
        std::thread::scope(|scope| {
            for t in 0..threads {
                let mine: Vec<&UnitRow> = order.iter().skip(t).step_by(threads).copied().collect();
                let (compiled, reference, all) = (&compiled, &reference, &all);
                let span = tracing::Span::current();
                scope.spawn(move || {
                    let _entered = span.enter();
                    // A failure here only means the sequential pass below does the work.
                    let Ok(mut conn) = pool.get() else { return };
                    for province in mine {
                        if let Err(e) = province_summaries(
                            &mut conn,
                            cache,
                            (compiled, reference),
                            &province.code,
                            (catalogue_rev, reference_rev, all),
                            as_of,
                        ) {
                            tracing::warn!(province = %province.code, error = %e, "summaries");
                            return;
                        }
                    }
                });
            }
        });
    }
    let mut national = Totals::default();
    let mut rows = Vec::new();
    for province in &reference.provinces {
        let summaries = province_summaries(
            conn,
            cache,
            (&compiled, &reference),
            &province.code,
            (catalogue_rev, reference_rev, &all),
            as_of,
        )?;
        let mut totals = Totals::default();
        let mut incomplete = 0;
        for summary in &summaries {
            totals.add(summary);
            national.add(summary);
            if summary.ok < summary.required_pairs {
                incomplete += 1;
            }
        }
        totals.finish();
        rows.push(ProvinceRow {
            code: province.code.clone(),
            name: province.name.clone(),
            totals,
            incomplete_communes: incomplete,
        });
    }
    national.finish();
    rows.sort_by(|a, b| {
        a.totals
            .completeness
            .total_cmp(&b.totals.completeness)
            .then_with(|| a.code.cmp(&b.code))
    });
    Ok(NationalReport {
        as_of,
        totals: national,
        provinces: rows,
    })
}

/// One pending action a decision caused.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImpactRow {
    pub commune_code: String,
    pub commune_name: String,
    pub province_code: String,
    pub procedure_code: String,
    pub procedure_name: Option<String>,
    pub channel: PostingChannel,
    /// `missing` or `outdated` (what the decision introduced is not posted), or `must_remove`
    /// (what it abolished is still posted).
    pub kind: FindingKind,
    pub due_on: Option<NaiveDate>,
    pub overdue: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DecisionImpact {
    pub decision_id: String,
    pub decision_number: String,
    pub as_of: NaiveDate,
    /// The province asked for, if any.
    pub province: Option<String>,
    /// Communes with at least one pending action.
    pub communes_affected: u64,
    pub pending: u64,
    pub rows: Vec<ImpactRow>,
}

pub fn decision_impact(
    conn: &mut DbConnection,
    id: &str,
    province: Option<&str>,
    as_of: NaiveDate,
) -> Result<DecisionImpact, ApiError> {
    let decision = catalogue_repo::get_decision(conn, id)?
        .ok_or_else(|| ApiError::NotFound(format!("no decision {id}")))?;
    let items = catalogue_repo::items_of(conn, id)?;
    let version_ids: HashSet<String> = items.iter().map(|(i, _, _)| i.version_id.clone()).collect();
    let codes: HashSet<String> = items
        .iter()
        .map(|(i, _, _)| i.procedure_code.clone())
        .collect();
    // A provincial decision concerns its own province only.
    let scope_province = (decision.scope != NATIONAL).then(|| decision.scope.clone());
    let province = match (province, scope_province.as_deref()) {
        (Some(p), Some(s)) if p != s => {
            return Ok(empty_impact(&decision.id, &decision.number, as_of, Some(p)));
        }
        (Some(p), _) => Some(p.to_owned()),
        (None, s) => s.map(str::to_owned),
    };
    let catalogue = load_catalogue(conn, province.as_deref())?;
    let settings: HashMap<String, SettingsRow> = postings::all_settings(conn)?
        .into_iter()
        .map(|s| (s.province_code.clone(), s))
        .collect();
    let calendar = load_calendar(conn)?;
    let communes = communes_of(conn, province.as_deref())?;
    let all_postings = facts_by_unit(postings::current_facts_for_province(
        conn,
        province.as_deref(),
        as_of,
    )?);
    let exemptions = postings::exemptions_for_province(conn, province.as_deref())?;
    let mut by_province: BTreeMap<String, Vec<UnitRow>> = BTreeMap::new();
    for c in communes {
        if let Some(p) = c.parent_code.clone() {
            by_province.entry(p).or_default().push(c);
        }
    }
    let mut rows = Vec::new();
    for (prov, its_communes) in &by_province {
        let rules = rules_from(settings.get(prov));
        let view = catalogue.for_province(prov, as_of);
        for (i, evaluation) in evaluate_province(
            &view,
            its_communes,
            &all_postings,
            &exemptions,
            &rules,
            &calendar,
            true,
        ) {
            let commune = &its_communes[i];
            for f in evaluation.findings {
                if !codes.contains(&f.procedure_code) {
                    continue;
                }
                let caused = match f.kind {
                    FindingKind::Missing | FindingKind::Outdated => f
                        .expected
                        .as_ref()
                        .is_some_and(|e| version_ids.contains(&e.version_id)),
                    // Only what this decision abolished, not a later abolition of the same code.
                    FindingKind::MustRemove => f
                        .expected
                        .as_ref()
                        .is_some_and(|e| version_ids.contains(&e.version_id)),
                    _ => false,
                };
                if caused {
                    rows.push(ImpactRow {
                        commune_code: commune.code.clone(),
                        commune_name: commune.name.clone(),
                        province_code: prov.clone(),
                        procedure_code: f.procedure_code,
                        procedure_name: f.procedure_name,
                        channel: f.channel,
                        kind: f.kind,
                        due_on: f.due_on,
                        overdue: f.overdue,
                    });
                }
            }
        }
    }
    let communes_affected = rows
        .iter()
        .map(|r| r.commune_code.as_str())
        .collect::<HashSet<_>>()
        .len() as u64;
    Ok(DecisionImpact {
        decision_id: decision.id,
        decision_number: decision.number,
        as_of,
        province,
        communes_affected,
        pending: rows.len() as u64,
        rows,
    })
}

fn empty_impact(
    id: &str,
    number: &str,
    as_of: NaiveDate,
    province: Option<&str>,
) -> DecisionImpact {
    DecisionImpact {
        decision_id: id.to_owned(),
        decision_number: number.to_owned(),
        as_of,
        province: province.map(str::to_owned),
        communes_affected: 0,
        pending: 0,
        rows: Vec::new(),
    }
}
