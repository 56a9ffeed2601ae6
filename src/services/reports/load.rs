//! Reading what the gap engine needs: postings, exemptions and the content of versions, in a
//! few set-based queries, turned into the engine's facts.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::QueryResult;

use crate::db::DbConnection;
use crate::domain::calendar::Calendar;
use crate::domain::gaps::{
    Evaluation, ExemptionFact, Finding, FindingKind, PostingChannel, PostingFact, ProvinceRules,
    ProvinceView, evaluate, summarize,
};
use crate::repo::catalogue as catalogue_repo;
use crate::repo::postings::{self, ExemptionRow, PostingFactRow, PostingRow};
use crate::repo::sectors;
use crate::repo::units::UnitRow;
use crate::services::ServiceError;

/// The working-day calendar: weekends and the holiday table.
pub fn load_calendar(conn: &mut DbConnection) -> QueryResult<Calendar> {
    Ok(Calendar::new(
        postings::holidays(conn)?.into_iter().map(|h| h.day),
    ))
}

pub(super) fn posting_fact(row: &PostingRow) -> Option<PostingFact> {
    Some(PostingFact {
        code: row.procedure_code.clone(),
        channel: PostingChannel::parse(&row.channel)?,
        decision: row.decision_number.clone(),
        decision_norm: row.decision_number_norm.clone(),
        posted_on: row.posted_on,
    })
}

pub(super) fn exemption_fact(row: &ExemptionRow) -> ExemptionFact {
    ExemptionFact {
        code: row.procedure_code.clone(),
        valid_from: row.valid_from,
        valid_to: row.valid_to,
    }
}

/// Fills `changed_fields` of outdated findings by comparing the posted and the expected
/// versions' content (one query for every distinct pair).
pub(super) fn fill_changed_fields(
    conn: &mut DbConnection,
    findings: &mut [&mut Finding],
) -> Result<(), ServiceError> {
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
    for row in catalogue_repo::versions_by_ids(conn, &ids)? {
        let content = row.content().map_err(ServiceError::internal)?;
        contents.insert(row.id, content);
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

/// Sector names by code.
pub(super) fn sector_names(conn: &mut DbConnection) -> QueryResult<HashMap<String, String>> {
    Ok(sectors::list(conn)?
        .into_iter()
        .map(|s| (s.code, s.name))
        .collect())
}

/// Current postings grouped by commune, as the engine reads them.
pub(super) fn facts_by_unit(rows: Vec<PostingFactRow>) -> HashMap<String, Vec<PostingFact>> {
    let mut by_unit: HashMap<String, Vec<PostingFact>> = HashMap::new();
    for row in rows {
        if let Some(channel) = PostingChannel::parse(&row.channel) {
            by_unit.entry(row.unit_code).or_default().push(PostingFact {
                code: row.procedure_code,
                channel,
                decision: row.decision_number,
                decision_norm: row.decision_number_norm,
                posted_on: row.posted_on,
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
pub(super) fn summary_facts_by_unit(
    rows: Vec<postings::SummaryFactRow>,
) -> HashMap<String, Vec<PostingFact>> {
    let mut by_unit: HashMap<String, Vec<PostingFact>> = HashMap::new();
    let mut current: Option<(String, Vec<PostingFact>)> = None;
    for row in rows {
        let (Some(channel), Some(posted_on)) = (
            PostingChannel::parse(&row.channel),
            parse_day(&row.posted_on),
        ) else {
            continue;
        };
        let unit = row.unit_code;
        let fact = PostingFact {
            code: row.procedure_code,
            channel,
            decision: String::new(),
            decision_norm: row.decision_number_norm,
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
pub(super) fn evaluate_province(
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
