//! Province and national reports: per-commune summaries, from the cache where the counters are
//! unchanged, from the stored summaries after a start, and computed together otherwise.

use crate::telemetry::metrics;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::load::{exemption_fact, summary_facts_by_unit};
use super::{
    CommuneRow, NationalReport, ProvinceReport, ProvinceRow, RulesView, Totals, UnitRef, coverage,
    rules_in,
};
use crate::cache::{Compiled, Reference, ReportCache, Revs};
use crate::db::{DbConnection, Fanout};
use crate::domain::gaps::{ExemptionFact, KindCounts, SectorSummary, Summary, summarize};
use crate::repo::postings;
use crate::repo::summaries::{self as summaries_repo, SummaryRow};
use crate::repo::units::UnitRow;
use crate::services::ServiceError;

fn commune_row(unit: &UnitRow, s: &Summary) -> CommuneRow {
    // Every kind lands in a column: a new kind fails to compile here until it is placed.
    let KindCounts {
        missing,
        outdated,
        must_remove,
        not_applicable,
        premature,
        unknown_procedure,
    } = s.counts;
    CommuneRow {
        code: unit.code.clone(),
        name: unit.name.clone(),
        required_pairs: s.required_pairs,
        ok: s.ok,
        completeness: s.completeness,
        missing,
        outdated,
        must_remove,
        other: not_applicable + premature + unknown_procedure,
        overdue: s.overdue,
        timely_rate: s.timely_rate,
    }
}

fn sort_worst_first(rows: &mut [CommuneRow]) {
    rows.sort_by(|a, b| {
        a.completeness
            .total_cmp(&b.completeness)
            .then(b.overdue.cmp(&a.overdue))
            .then_with(|| a.code.cmp(&b.code))
    });
}

/// The version of what `summarize` computes. Bump it whenever a change to the gap rules or to
/// [`Summary`] would summarise the same postings differently: summaries stored by an older build
/// are then computed again instead of served (their counters alone cannot tell).
pub const SUMMARY_VERSION: u32 = 2;

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
) -> Result<Vec<Arc<Summary>>, ServiceError> {
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
        let rules = rules_in(reference, province);
        let view = compiled
            .index
            .for_province(province, as_of, &rules.posting_places);
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
            cache
                .metrics()
                .computed(metrics::Computation::CommuneSummary, 1);
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
                    .map_err(ServiceError::internal)?,
                });
            }
            *slot = Some(summary);
        }
        // Derived data, not a change of record (no counter, no audit entry): a failure to store
        // only means the next start computes them again.
        if !computed.is_empty()
            && let Err(e) = summaries_repo::store_if_free(conn, &computed)
        {
            tracing::warn!(province, error = %e, "storing commune summaries");
        }
    }
    Ok(out.into_iter().flatten().collect())
}

pub fn province_report(
    conn: &mut DbConnection,
    cache: &ReportCache,
    code: &str,
    as_of: NaiveDate,
) -> Result<ProvinceReport, ServiceError> {
    let (catalogue_rev, reference_rev, _) = cache.revisions_of(conn, &[])?;
    let reference = cache.reference(conn, reference_rev)?;
    let province = reference
        .units
        .get(code)
        .filter(|u| u.parent_code.is_none())
        .ok_or_else(|| ServiceError::NotFound(format!("no province {code}")))?;
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
    let rules = rules_in(&reference, code);
    let mut totals = Totals::default();
    let mut sectors: BTreeMap<String, SectorSummary> = BTreeMap::new();
    let mut rows = Vec::with_capacity(communes.len());
    for (commune, summary) in communes.iter().zip(&summaries) {
        totals.add(summary);
        for s in &summary.by_sector {
            sectors
                .entry(s.sector_code.clone())
                .or_insert_with(|| SectorSummary::of(&s.sector_code))
                .absorb(s);
        }
        rows.push(commune_row(commune, summary));
    }
    totals.finish();
    sort_worst_first(&mut rows);
    let sectors: Vec<SectorSummary> = sectors.into_values().collect();
    Ok(ProvinceReport {
        province: UnitRef {
            code: province.code.clone(),
            name: province.name.clone(),
        },
        as_of,
        rules: RulesView::of(&rules, as_of),
        totals,
        sectors: coverage(&sectors, &compiled.sector_names),
        communes: rows,
    })
}

/// The national report. Provinces whose summaries are not cached are computed on the fanout's
/// threads, each with its own connection (what the first report after a start costs); the
/// report itself is then read on one connection. No connection is held while another is awaited.
pub fn national_report(
    fanout: &Fanout,
    cache: &ReportCache,
    as_of: NaiveDate,
) -> Result<NationalReport, ServiceError> {
    let (all, reference, compiled) = {
        let mut conn = fanout.get()?;
        let all = cache.all_revisions(&mut conn)?;
        let revision = |key| all.get(key).copied().unwrap_or(0);
        let reference = cache.reference(&mut conn, revision(crate::repo::revisions::REFERENCE))?;
        let compiled = cache.catalogue(&mut conn, revision(crate::repo::revisions::CATALOGUE))?;
        (all, reference, compiled)
    };
    let catalogue_rev = all
        .get(crate::repo::revisions::CATALOGUE)
        .copied()
        .unwrap_or(0);
    let reference_rev = all
        .get(crate::repo::revisions::REFERENCE)
        .copied()
        .unwrap_or(0);
    let threads = fanout.threads();
    if threads > 1 {
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
                    let Ok(mut conn) = fanout.get() else { return };
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
    let mut conn = fanout.get()?;
    let conn = &mut *conn;
    cache
        .metrics()
        .computed(metrics::Computation::NationalReport, 1);
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

/// One commune's overdue findings on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommuneOverdue {
    pub province: String,
    pub commune: String,
    pub name: String,
    pub overdue: u64,
}

/// Every commune with an overdue finding on `as_of`, province by province, in code order (of
/// these provinces only, when given).
pub fn communes_overdue(
    conn: &mut DbConnection,
    cache: &ReportCache,
    as_of: NaiveDate,
    only: Option<&std::collections::HashSet<String>>,
) -> Result<Vec<CommuneOverdue>, ServiceError> {
    let all = cache.all_revisions(conn)?;
    let revision = |key| all.get(key).copied().unwrap_or(0);
    let (catalogue_rev, reference_rev) = (
        revision(crate::repo::revisions::CATALOGUE),
        revision(crate::repo::revisions::REFERENCE),
    );
    let reference = cache.reference(conn, reference_rev)?;
    let compiled = cache.catalogue(conn, catalogue_rev)?;
    let mut out = Vec::new();
    for province in reference
        .provinces
        .iter()
        .filter(|p| only.is_none_or(|only| only.contains(&p.code)))
    {
        let summaries = province_summaries(
            conn,
            cache,
            (&compiled, &reference),
            &province.code,
            (catalogue_rev, reference_rev, &all),
            as_of,
        )?;
        let communes = reference
            .communes
            .get(&province.code)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        for (commune, summary) in communes.iter().zip(&summaries) {
            if summary.overdue > 0 {
                out.push(CommuneOverdue {
                    province: province.code.clone(),
                    commune: commune.code.clone(),
                    name: commune.name.clone(),
                    overdue: summary.overdue,
                });
            }
        }
    }
    Ok(out)
}
