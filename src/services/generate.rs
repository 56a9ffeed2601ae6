//! A deterministic data set at national scale, for benchmarks: decisions that amend about 10% of
//! the commune-level procedures (a fifth of them by provinces) and abolish about 2%, then every
//! commune's postings as a CSV the bulk loader reads: about 95% of the required procedures on the
//! counter and 85% on the web page, about 5% of those outdated, and a few abolished procedures
//! still up. The same seed over the same catalogue gives the same file, byte for byte.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{Duration, NaiveDate};

use crate::db::DbConnection;
use crate::domain::catalogue::{ContentPatch, ItemAction, ItemInput, NATIONAL, Scope};
use crate::domain::codes::{DecisionNumber, ProcedureCode, UnitCode};
use crate::domain::gaps::{CatalogueVersion, PostingChannel};
use crate::domain::obligation::PlacesPeriod;
use crate::repo::catalogue::load_catalogue;
use crate::repo::units::communes_of;
use crate::services::ServiceError;
use crate::services::catalogue::{DecisionInput, create_decision};
use crate::services::write::Actor;

/// SplitMix64: small, fast, and the same on every platform.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub seed: u64,
    /// Only these provinces' communes (all when empty).
    pub provinces: Vec<String>,
    /// The date the data set describes: decisions take effect before it, postings are up on it.
    pub as_of: NaiveDate,
}

#[derive(Debug, Clone, Default)]
pub struct GenerateSummary {
    pub decisions_recorded: usize,
    pub amended: usize,
    pub abolished: usize,
    pub communes: usize,
    pub rows: usize,
}

const TITLE: &str = "Dữ liệu sinh để đo hiệu năng (niemyet generate)";
const NATIONAL_AMENDMENT: &str = "9001/QĐ-BTP";
const NATIONAL_ABOLITION: &str = "9002/QĐ-BTP";
/// Provinces that amend some procedures themselves (those present in the unit list are used).
const AMENDING_PROVINCES: [&str; 5] = ["79", "01", "48", "92", "52"];
/// What an outdated posting shows when the procedure was never amended: a pre-2025 number.
const OLD_DECISION: &str = "1085/QĐ-UBND";

fn code(c: &str) -> Result<ProcedureCode, ServiceError> {
    ProcedureCode::parse(c).map_err(|e| ServiceError::internal(anyhow::anyhow!("{}", e.0)))
}

fn number(n: &str) -> Result<DecisionNumber, ServiceError> {
    DecisionNumber::parse(n).map_err(|e| ServiceError::internal(anyhow::anyhow!("{}", e.0)))
}

fn taken(conn: &mut DbConnection, number: &str, scope: &str) -> Result<bool, ServiceError> {
    let norm = crate::domain::codes::normalize_decision_number(number);
    Ok(crate::repo::catalogue::decision_number_taken(
        conn, &norm, scope,
    )?)
}

fn patch(note: &str) -> ContentPatch {
    ContentPatch {
        legal_basis: Some(format!("Văn bản sửa đổi, bổ sung năm 2026 ({note})")),
        ..ContentPatch::default()
    }
}

/// Records the generated decisions (each only if its number is not taken yet), then writes the
/// postings CSV to `out`.
pub fn generate(
    conn: &mut DbConnection,
    options: &GenerateOptions,
    out: &mut dyn Write,
) -> Result<GenerateSummary, ServiceError> {
    let mut rng = Rng::new(options.seed);
    let mut summary = GenerateSummary::default();
    let system = Actor::system();
    let amend_on = options.as_of - Duration::days(60);
    let abolish_on = options.as_of - Duration::days(30);

    // Commune-level procedures in force nationally, in code order.
    let index = load_catalogue(conn, None)?;
    // What communes post under the default obligation, nationally.
    let national = index.for_province(NATIONAL, options.as_of, &[]);
    let mut required: Vec<String> = national
        .required_versions()
        .map(|v| v.code.clone())
        .collect();
    required.sort();
    // Shuffle, then take 10% to amend and the next 2% to abolish.
    for i in (1..required.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        required.swap(i, j);
    }
    let amended: Vec<String> = required[..required.len() / 10].to_vec();
    let mut abolished: Vec<String> =
        required[required.len() / 10..required.len() / 10 + required.len() / 50].to_vec();
    let mut amended = amended;
    amended.sort();
    abolished.sort();
    summary.amended = amended.len();
    summary.abolished = abolished.len();
    let provinces: Vec<String> = crate::repo::units::list(
        conn,
        &crate::repo::units::UnitFilter {
            level: Some("province".into()),
            limit: 1000,
            ..Default::default()
        },
    )?
    .into_iter()
    .map(|u| u.code)
    .collect();
    let amending: Vec<&str> = AMENDING_PROVINCES
        .into_iter()
        .filter(|p| provinces.iter().any(|x| x == p))
        .collect();
    // A fifth of the amendments are provincial, spread over the amending provinces.
    let mut national_items = Vec::new();
    let mut provincial: BTreeMap<&str, Vec<ItemInput>> = BTreeMap::new();
    for (i, c) in amended.iter().enumerate() {
        let item = ItemInput {
            action: ItemAction::Amended,
            posting_place: None,
            code: code(c)?,
            effective_on: amend_on,
            patch: Some(patch(c)),
        };
        if i % 5 == 4 && !amending.is_empty() {
            let p = amending[(i / 5) % amending.len()];
            provincial.entry(p).or_default().push(item);
        } else {
            national_items.push(item);
        }
    }
    let mut decisions: Vec<(String, Scope, Vec<ItemInput>)> = Vec::new();
    if !national_items.is_empty() {
        decisions.push((NATIONAL_AMENDMENT.into(), Scope::National, national_items));
    }
    for (p, items) in provincial {
        let scope = Scope::Province(
            UnitCode::province(p)
                .map_err(|e| ServiceError::internal(anyhow::anyhow!("{}", e.0)))?,
        );
        decisions.push((format!("9100/QĐ-UBND-{p}"), scope, items));
    }
    if !abolished.is_empty() {
        let items = abolished
            .iter()
            .map(|c| {
                Ok(ItemInput {
                    action: ItemAction::Abolished,
                    posting_place: None,
                    code: code(c)?,
                    effective_on: abolish_on,
                    patch: None,
                })
            })
            .collect::<Result<Vec<_>, ServiceError>>()?;
        decisions.push((NATIONAL_ABOLITION.into(), Scope::National, items));
    }
    for (n, scope, items) in decisions {
        if taken(conn, &n, scope.as_str())? {
            continue;
        }
        create_decision(
            conn,
            DecisionInput {
                number: number(&n)?,
                issuer: match &scope {
                    Scope::National => "Bộ Tư pháp".into(),
                    Scope::Province(p) => format!("UBND tỉnh {p}"),
                },
                scope,
                signed_on: amend_on - Duration::days(10),
                title: Some(TITLE.into()),
                items,
            },
            (&system, None),
        )?
        .without_cache();
        summary.decisions_recorded += 1;
    }

    // Postings, commune by commune.
    let index = load_catalogue(conn, None)?;
    let communes = communes_of(conn, None)?;
    let mut places: std::collections::HashMap<String, Vec<PlacesPeriod>> = Default::default();
    for row in crate::repo::postings::posting_places(conn, None)? {
        places
            .entry(row.province_code.clone())
            .or_default()
            .push(row.period());
    }
    let mut csv = crate::services::csv::writer(out);
    csv.write_record([
        "unit_code",
        "procedure_code",
        "channel",
        "decision_number",
        "posted_on",
    ])
    .map_err(ServiceError::internal)?;
    let first_day = NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or(options.as_of);
    let mut views = BTreeMap::new();
    for commune in communes {
        let Some(province) = commune.parent_code.clone() else {
            continue;
        };
        if !options.provinces.is_empty() && !options.provinces.contains(&province) {
            continue;
        }
        let view = views.entry(province.clone()).or_insert_with(|| {
            let periods = places.get(&province).map(Vec::as_slice).unwrap_or(&[]);
            index.for_province(&province, options.as_of, periods)
        });
        let mut versions: Vec<&CatalogueVersion> = view.required_versions().collect();
        versions.sort_by(|a, b| a.code.cmp(&b.code));
        summary.communes += 1;
        let mut line = |code: &str, channel: PostingChannel, decision: &str, on: NaiveDate| {
            summary.rows += 1;
            csv.write_record([
                commune.code.as_str(),
                code,
                channel.as_str(),
                decision,
                &on.to_string(),
            ])
        };
        for v in versions {
            let current = v.announced_by.as_deref().unwrap_or(OLD_DECISION);
            // The version this one replaced, if any: what an outdated board still shows.
            let previous = index
                .rows(&v.code)
                .iter()
                .filter(|r| r.valid_to == Some(v.valid_from) && !r.abolished)
                .find_map(|r| r.announced_by.as_deref());
            for (channel, p) in [
                (PostingChannel::Counter, 0.95),
                (PostingChannel::Portal, 0.85),
            ] {
                if !rng.chance(p) {
                    continue;
                }
                // About 5% outdated in all: a third of the boards of amended procedures (a
                // tenth of the catalogue) and 2% of the others.
                let outdated = match previous {
                    Some(_) => rng.chance(0.3),
                    None => rng.chance(0.02),
                };
                let (decision, on) = match (outdated, previous) {
                    (true, Some(old)) => (old, first_day + Duration::days(rng.below(30) as i64)),
                    (true, None) => (
                        OLD_DECISION,
                        first_day + Duration::days(rng.below(30) as i64),
                    ),
                    (false, _) => (
                        current,
                        (v.valid_from.max(first_day) + Duration::days(rng.below(12) as i64))
                            .min(options.as_of),
                    ),
                };
                line(&v.code, channel, decision, on).map_err(ServiceError::internal)?;
            }
        }
        // Some abolished procedures are still up.
        for c in &abolished {
            let Some(last) = index
                .rows(c)
                .iter()
                .filter(|r| !r.abolished && r.scope == NATIONAL)
                .max_by_key(|r| r.valid_from)
            else {
                continue;
            };
            if rng.chance(0.2) {
                let decision = last.announced_by.as_deref().unwrap_or(OLD_DECISION);
                let on = first_day + Duration::days(rng.below(30) as i64);
                line(c, PostingChannel::Counter, decision, on).map_err(ServiceError::internal)?;
            }
        }
    }
    csv.flush().map_err(ServiceError::internal)?;
    Ok(summary)
}
