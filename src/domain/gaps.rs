//! The gap engine: for one commune on one date, what it must post, what it has posted, and what
//! is missing, outdated or must come down. Pure: the caller loads the catalogue, the postings,
//! the exemptions, the province's settings and the holidays, and gets findings and a summary.
//!
//! The rules (DESIGN.md, "Gap rules" and "Who must post what"): the required set is every
//! procedure whose applicable version on the date includes the commune level and is posted at a
//! place the province's communes post (`obligation`), adjusted by the province's lists, minus the
//! commune's active exemptions; each required procedure must be posted on each required channel
//! with its applicable version.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::calendar::Calendar;
use super::catalogue::{NATIONAL, applicable, window_contains};
use super::obligation::{
    Basis, ListEntry, Placement, PlacesPeriod, PostingPlace, places_on, required_basis,
};

/// Where a commune posts a procedure.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PostingChannel {
    /// The board at the one-stop office.
    Counter,
    /// The commune's web page.
    Portal,
}

impl PostingChannel {
    pub const ALL: [PostingChannel; 2] = [PostingChannel::Counter, PostingChannel::Portal];

    pub fn as_str(self) -> &'static str {
        match self {
            PostingChannel::Counter => "counter",
            PostingChannel::Portal => "portal",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "counter" => Some(PostingChannel::Counter),
            "portal" => Some(PostingChannel::Portal),
            _ => None,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A required procedure is not posted on a required channel.
    Missing,
    /// Posted, but not the applicable version.
    Outdated,
    /// Posted, but the procedure was abolished.
    MustRemove,
    /// Posted, in force, but not required of this commune (not commune level, exempted, or a
    /// channel the province does not require).
    NotApplicable,
    /// Posted before its first version takes effect.
    Premature,
    /// Posted under a code the catalogue does not know.
    UnknownProcedure,
}

impl FindingKind {
    pub const ALL: [FindingKind; 6] = [
        FindingKind::Missing,
        FindingKind::Outdated,
        FindingKind::MustRemove,
        FindingKind::NotApplicable,
        FindingKind::Premature,
        FindingKind::UnknownProcedure,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Missing => "missing",
            FindingKind::Outdated => "outdated",
            FindingKind::MustRemove => "must_remove",
            FindingKind::NotApplicable => "not_applicable",
            FindingKind::Premature => "premature",
            FindingKind::UnknownProcedure => "unknown_procedure",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            FindingKind::Missing | FindingKind::MustRemove => Severity::High,
            FindingKind::Outdated | FindingKind::UnknownProcedure => Severity::Medium,
            FindingKind::NotApplicable | FindingKind::Premature => Severity::Low,
        }
    }
}

// A kind added to `FindingKind` must be added here too: the matches below stop compiling until
// it is, and so does every aggregation that destructures the counts.
/// Findings per kind: every kind present, zero included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KindCounts {
    pub missing: u64,
    pub outdated: u64,
    pub must_remove: u64,
    pub not_applicable: u64,
    pub premature: u64,
    pub unknown_procedure: u64,
}

impl KindCounts {
    fn slot(&mut self, kind: FindingKind) -> &mut u64 {
        match kind {
            FindingKind::Missing => &mut self.missing,
            FindingKind::Outdated => &mut self.outdated,
            FindingKind::MustRemove => &mut self.must_remove,
            FindingKind::NotApplicable => &mut self.not_applicable,
            FindingKind::Premature => &mut self.premature,
            FindingKind::UnknownProcedure => &mut self.unknown_procedure,
        }
    }

    pub fn get(self, kind: FindingKind) -> u64 {
        let mut counts = self;
        *counts.slot(kind)
    }

    pub fn add(&mut self, kind: FindingKind, n: u64) {
        *self.slot(kind) += n;
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &KindCounts) {
        let KindCounts {
            missing,
            outdated,
            must_remove,
            not_applicable,
            premature,
            unknown_procedure,
        } = *other;
        self.missing += missing;
        self.outdated += outdated;
        self.must_remove += must_remove;
        self.not_applicable += not_applicable;
        self.premature += premature;
        self.unknown_procedure += unknown_procedure;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    High,
    Medium,
    Low,
}

/// One catalogue row as the engine needs it (content is compared by the caller, by id).
#[derive(Debug, Clone)]
pub struct CatalogueVersion {
    pub id: String,
    pub code: String,
    pub scope: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub abolished: bool,
    pub commune_level: bool,
    /// Where the version is posted, and the rule that decided it.
    pub placement: Placement,
    pub name: String,
    pub sector_code: String,
    /// The announcing decision as published, and its matching key.
    pub announced_by: Option<String>,
    pub announced_by_norm: Option<String>,
    pub content_hash: String,
}

crate::impl_windowed!(CatalogueVersion);

/// The catalogue rows of every procedure, by code (national rows and any provincial ones), and
/// the provincial lists.
#[derive(Debug, Default)]
pub struct CatalogueIndex {
    by_code: BTreeMap<String, Vec<CatalogueVersion>>,
    /// Codes known in any scope (a procedure of another province's own catalogue is known, but
    /// not applicable here).
    known: HashSet<String>,
    /// Provincial list items, by province and code.
    lists: HashMap<String, HashMap<String, Vec<ListEntry>>>,
}

impl CatalogueIndex {
    pub fn new(rows: impl IntoIterator<Item = CatalogueVersion>) -> Self {
        let mut by_code: BTreeMap<String, Vec<CatalogueVersion>> = BTreeMap::new();
        for row in rows {
            by_code.entry(row.code.clone()).or_default().push(row);
        }
        let known = by_code.keys().cloned().collect();
        Self {
            by_code,
            known,
            lists: HashMap::new(),
        }
    }

    /// Adds the provincial lists' items.
    pub fn with_lists(mut self, entries: impl IntoIterator<Item = ListEntry>) -> Self {
        for e in entries {
            self.lists
                .entry(e.province.clone())
                .or_default()
                .entry(e.code.clone())
                .or_default()
                .push(e);
        }
        self
    }

    /// The list item of `province` for `code` in force on `date`, if any.
    pub fn listed(&self, province: &str, code: &str, date: NaiveDate) -> Option<&ListEntry> {
        self.lists
            .get(province)?
            .get(code)?
            .iter()
            .find(|e| e.in_force(date))
    }

    /// Adds codes known elsewhere (when the index holds only some scopes).
    pub fn with_known_codes(mut self, codes: impl IntoIterator<Item = String>) -> Self {
        self.known.extend(codes);
        self
    }

    pub fn rows(&self, code: &str) -> &[CatalogueVersion] {
        self.by_code.get(code).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn codes(&self) -> impl Iterator<Item = &String> {
        self.by_code.keys()
    }
}

/// A current posting.
#[derive(Debug, Clone)]
pub struct PostingFact {
    pub code: String,
    pub channel: PostingChannel,
    pub decision: String,
    pub decision_norm: String,
    pub posted_on: NaiveDate,
}

/// An exemption of the commune.
#[derive(Debug, Clone)]
pub struct ExemptionFact {
    pub code: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

/// A province's rules.
#[derive(Debug, Clone)]
pub struct ProvinceRules {
    pub deadline_working_days: u32,
    pub required_channels: Vec<PostingChannel>,
    /// The posting places its communes post, from each date (none: the centre only).
    pub posting_places: Vec<PlacesPeriod>,
}

impl ProvinceRules {
    /// The posting places the province's communes post on `date`.
    pub fn places_on(&self, date: NaiveDate) -> Vec<PostingPlace> {
        places_on(&self.posting_places, date)
    }
}

impl Default for ProvinceRules {
    fn default() -> Self {
        Self {
            deadline_working_days: 5,
            required_channels: PostingChannel::ALL.to_vec(),
            posting_places: Vec::new(),
        }
    }
}

/// The version a finding expects to see posted (for `must_remove`, the abolition).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Expected {
    pub version_id: String,
    /// Its announcing decision as published.
    pub decision: Option<String>,
    pub effective_on: NaiveDate,
    pub content_hash: String,
}

/// What the commune has posted.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Observed {
    /// The decision number as posted.
    pub decision: String,
    pub posted_on: NaiveDate,
    /// The catalogue version that decision announced, when it is one of this procedure's.
    pub version_id: Option<String>,
}

/// One gap, or one posting to take down.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// Stable across reports: a hash of commune, procedure, channel and kind.
    pub id: String,
    pub kind: FindingKind,
    pub severity: Severity,
    pub procedure_code: String,
    /// Name and sector from the catalogue (`null` for an unknown code).
    pub procedure_name: Option<String>,
    pub sector_code: Option<String>,
    pub channel: PostingChannel,
    pub expected: Option<Expected>,
    pub observed: Option<Observed>,
    /// For `outdated`: which posted fields differ (name, fees, processing_time, documents,
    /// steps, requirements, legal_basis, results, levels, agency, sector).
    pub changed_fields: Vec<String>,
    /// The deadline: the trigger date plus the province's working days.
    pub due_on: Option<NaiveDate>,
    pub overdue: bool,
    /// Calendar days past `due_on` (0 unless overdue).
    pub days_overdue: i64,
    /// For `missing` and `outdated`: why the commune must post the procedure.
    pub basis: Option<Basis>,
}

/// Completeness of one sector.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SectorSummary {
    pub sector_code: String,
    pub required_pairs: u64,
    pub ok: u64,
    pub missing: u64,
    pub outdated: u64,
    /// ok / required pairs, in percent.
    pub completeness: f64,
}

impl SectorSummary {
    /// An empty summary of `sector_code`.
    pub fn of(sector_code: &str) -> Self {
        SectorSummary {
            sector_code: sector_code.to_owned(),
            ..SectorSummary::default()
        }
    }

    /// Adds the pairs of `other` (the same sector elsewhere); `completeness` is recomputed.
    pub fn absorb(&mut self, other: &SectorSummary) {
        let SectorSummary {
            sector_code: _,
            required_pairs,
            ok,
            missing,
            outdated,
            completeness: _,
        } = other;
        self.required_pairs += required_pairs;
        self.ok += ok;
        self.missing += missing;
        self.outdated += outdated;
        self.completeness = percent(self.ok, self.required_pairs);
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    /// Procedures the commune must post.
    pub required_procedures: u64,
    /// Required (procedure, channel) pairs.
    pub required_pairs: u64,
    pub ok: u64,
    /// ok / required pairs, in percent (100 when nothing is required).
    pub completeness: f64,
    /// Findings per kind (every kind present, zero included).
    pub counts: KindCounts,
    pub overdue: u64,
    /// Required pairs posted with the applicable version on or before their due date.
    pub timely: u64,
    /// timely / required pairs, in percent: the shape of the "công khai đúng hạn" indicator.
    pub timely_rate: f64,
    pub by_sector: Vec<SectorSummary>,
}

#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub findings: Vec<Finding>,
    pub summary: Summary,
}

pub fn finding_id(unit: &str, code: &str, channel: PostingChannel, kind: FindingKind) -> String {
    let digest =
        Sha256::digest(format!("{unit}|{code}|{}|{}", channel.as_str(), kind.as_str()).as_bytes());
    hex::encode(&digest[..8])
}

pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        (part as f64 * 1000.0 / whole as f64).round() / 10.0
    }
}

/// The version a posting reproduces: one of the procedure's rows announced by the posted decision
/// (the one in force on the day it was posted when several are).
fn posted_version<'a>(
    rows: &[&'a CatalogueVersion],
    posting: &PostingFact,
) -> Option<&'a CatalogueVersion> {
    let mut candidates: Vec<&CatalogueVersion> = rows
        .iter()
        .copied()
        .filter(|r| {
            !r.abolished && r.announced_by_norm.as_deref() == Some(posting.decision_norm.as_str())
        })
        .collect();
    candidates.sort_by_key(|r| r.valid_from);
    candidates
        .iter()
        .find(|r| window_contains(r.valid_from, r.valid_to, posting.posted_on))
        .or_else(|| {
            candidates
                .iter()
                .rev()
                .find(|r| r.valid_from <= posting.posted_on)
        })
        .or_else(|| candidates.first())
        .copied()
}

struct Ctx<'a> {
    unit: &'a str,
    as_of: NaiveDate,
    rules: &'a ProvinceRules,
    calendar: &'a Calendar,
    /// Due dates by trigger date: most findings of a commune share a handful of triggers.
    due_cache: std::cell::RefCell<HashMap<NaiveDate, NaiveDate>>,
}

/// Collects findings, or only their counts when the caller needs the summary alone (province and
/// national reports), which saves building millions of findings.
struct Collector {
    keep: bool,
    findings: Vec<Finding>,
    counts: KindCounts,
    overdue: u64,
}

/// What a finding is about: a procedure on a channel, its version if the catalogue has one, and
/// why it is required when it is.
#[derive(Clone, Copy)]
struct Subject<'a> {
    code: &'a str,
    channel: PostingChannel,
    version: Option<&'a CatalogueVersion>,
    basis: Option<&'a Basis>,
}

impl Collector {
    fn add(
        &mut self,
        ctx: &Ctx<'_>,
        kind: FindingKind,
        subject: Subject<'_>,
        observed: Option<Observed>,
        trigger: Option<NaiveDate>,
    ) {
        self.counts.add(kind, 1);
        if self.keep {
            let finding = ctx.finding(kind, subject, observed, trigger);
            self.overdue += u64::from(finding.overdue);
            self.findings.push(finding);
        } else if let Some(t) = trigger {
            self.overdue += u64::from(ctx.due(t).1);
        }
    }
}

impl Ctx<'_> {
    fn due(&self, trigger: NaiveDate) -> (NaiveDate, bool, i64) {
        let due = *self
            .due_cache
            .borrow_mut()
            .entry(trigger)
            .or_insert_with(|| {
                self.calendar
                    .add_working_days(trigger, self.rules.deadline_working_days)
            });
        let overdue = self.as_of > due;
        (
            due,
            overdue,
            if overdue {
                (self.as_of - due).num_days()
            } else {
                0
            },
        )
    }

    fn finding(
        &self,
        kind: FindingKind,
        Subject {
            code,
            channel,
            version,
            basis,
        }: Subject<'_>,
        observed: Option<Observed>,
        trigger: Option<NaiveDate>,
    ) -> Finding {
        let (due_on, overdue, days_overdue) = match trigger {
            Some(t) => {
                let (due, overdue, days) = self.due(t);
                (Some(due), overdue, days)
            }
            None => (None, false, 0),
        };
        Finding {
            id: finding_id(self.unit, code, channel, kind),
            kind,
            severity: kind.severity(),
            procedure_code: code.to_owned(),
            procedure_name: version.map(|v| v.name.clone()),
            sector_code: version.map(|v| v.sector_code.clone()),
            channel,
            // For must_remove, the abolition: the decision that ended the procedure and its date.
            expected: match kind {
                FindingKind::Missing | FindingKind::Outdated | FindingKind::MustRemove => version
                    .map(|v| Expected {
                        version_id: v.id.clone(),
                        decision: v.announced_by.clone(),
                        effective_on: v.valid_from,
                        content_hash: v.content_hash.clone(),
                    }),
                _ => None,
            },
            observed,
            changed_fields: Vec::new(),
            due_on,
            overdue,
            days_overdue,
            basis: basis.cloned(),
        }
    }
}

/// The catalogue as it applies in one province on one date: computed once, shared by every
/// commune of the province.
pub struct ProvinceView<'a> {
    pub province: String,
    known: &'a HashSet<String>,
    pub as_of: NaiveDate,
    /// Rows of national and this province's scope, by code.
    rows: HashMap<&'a str, Vec<&'a CatalogueVersion>>,
    /// The applicable row of every code that has one (abolitions included).
    applicable: HashMap<&'a str, &'a CatalogueVersion>,
    /// Applicable, in force, and in the province's obligation: what every commune must post
    /// (before exemptions), with why.
    required: Vec<Required<'a>>,
}

/// A procedure every commune of a province must post: its applicable version, and why.
#[derive(Debug, Clone)]
pub struct Required<'a> {
    pub version: &'a CatalogueVersion,
    pub basis: Basis,
}

impl CatalogueIndex {
    /// The catalogue as it applies in `province` on `as_of`, for communes whose posting places
    /// are set by `periods` (the province's setting; empty for the default).
    pub fn for_province(
        &self,
        province: &str,
        as_of: NaiveDate,
        periods: &[PlacesPeriod],
    ) -> ProvinceView<'_> {
        let mut rows: HashMap<&str, Vec<&CatalogueVersion>> = HashMap::new();
        let mut applicable_rows = HashMap::new();
        let mut required = Vec::new();
        for (code, all) in &self.by_code {
            let own: Vec<&CatalogueVersion> = all
                .iter()
                .filter(|r| r.scope == NATIONAL || r.scope == province)
                .collect();
            if let Some(current) = applicable(&own, Some(province), as_of).copied() {
                applicable_rows.insert(code.as_str(), current);
                let listed = self.listed(province, code, as_of);
                if !current.abolished
                    && let Some(basis) = required_basis(
                        &current.placement,
                        current.commune_level,
                        (periods, as_of),
                        listed,
                    )
                {
                    required.push(Required {
                        version: current,
                        basis,
                    });
                }
            }
            rows.insert(code.as_str(), own);
        }
        ProvinceView {
            province: province.to_owned(),
            known: &self.known,
            as_of,
            rows,
            applicable: applicable_rows,
            required,
        }
    }
}

impl<'a> ProvinceView<'a> {
    /// What every commune of the province must post (before exemptions), by code.
    pub fn required(&self) -> &[Required<'a>] {
        &self.required
    }

    /// The versions every commune of the province must post (before exemptions), by code.
    pub fn required_versions(&self) -> impl Iterator<Item = &'a CatalogueVersion> + '_ {
        self.required.iter().map(|r| r.version)
    }
}

/// Evaluates one commune (`unit`) of the view's province on the view's date.
pub fn evaluate(
    unit: &str,
    view: &ProvinceView<'_>,
    postings: &[PostingFact],
    exemptions: &[ExemptionFact],
    rules: &ProvinceRules,
    calendar: &Calendar,
) -> Evaluation {
    run(unit, view, postings, exemptions, rules, calendar, true)
}

/// The same evaluation, summary only: `findings` stays empty.
pub fn summarize(
    unit: &str,
    view: &ProvinceView<'_>,
    postings: &[PostingFact],
    exemptions: &[ExemptionFact],
    rules: &ProvinceRules,
    calendar: &Calendar,
) -> Evaluation {
    run(unit, view, postings, exemptions, rules, calendar, false)
}

fn run(
    unit: &str,
    view: &ProvinceView<'_>,
    postings: &[PostingFact],
    exemptions: &[ExemptionFact],
    rules: &ProvinceRules,
    calendar: &Calendar,
    keep: bool,
) -> Evaluation {
    let as_of = view.as_of;
    let ctx = Ctx {
        unit,
        as_of,
        rules,
        calendar,
        due_cache: Default::default(),
    };
    let exempt: HashSet<&str> = exemptions
        .iter()
        .filter(|e| window_contains(e.valid_from, e.valid_to, as_of))
        .map(|e| e.code.as_str())
        .collect();
    let posted: HashMap<(&str, PostingChannel), &PostingFact> = postings
        .iter()
        .map(|p| ((p.code.as_str(), p.channel), p))
        .collect();
    let required_channels: Vec<PostingChannel> = {
        let mut c = rules.required_channels.clone();
        c.sort();
        c.dedup();
        c
    };
    let no_rows: Vec<&CatalogueVersion> = Vec::new();

    let mut out = Collector {
        keep,
        findings: Vec::new(),
        counts: KindCounts::default(),
        overdue: 0,
    };
    let mut matched: HashSet<(&str, PostingChannel)> = HashSet::new();
    let mut summary = Summary::default();
    let mut sectors: BTreeMap<String, SectorSummary> = BTreeMap::new();

    // Required procedures, channel by channel.
    for Required {
        version: current,
        basis,
    } in &view.required
    {
        let current: &CatalogueVersion = current;
        let code = current.code.as_str();
        // The deadline runs from the version's effective date, or from the day the province's
        // list or setting made it required, if later.
        let trigger = basis
            .required_since
            .map_or(current.valid_from, |since| since.max(current.valid_from));
        let subject = |channel| Subject {
            code,
            channel,
            version: Some(current),
            basis: Some(basis),
        };
        if exempt.contains(code) {
            continue;
        }
        let rows = view.rows.get(code).unwrap_or(&no_rows);
        summary.required_procedures += 1;
        let sector = sectors
            .entry(current.sector_code.clone())
            .or_insert_with(|| SectorSummary::of(&current.sector_code));
        for &channel in &required_channels {
            summary.required_pairs += 1;
            sector.required_pairs += 1;
            let key = (code, channel);
            let Some(posting) = posted.get(&key) else {
                sector.missing += 1;
                out.add(
                    &ctx,
                    FindingKind::Missing,
                    subject(channel),
                    None,
                    Some(trigger),
                );
                continue;
            };
            matched.insert(key);
            let version = posted_version(rows, posting);
            if version.is_some_and(|v| v.id == current.id) {
                summary.ok += 1;
                sector.ok += 1;
                let (due, _, _) = ctx.due(trigger);
                if posting.posted_on <= due {
                    summary.timely += 1;
                }
                continue;
            }
            sector.outdated += 1;
            let observed = Observed {
                decision: posting.decision.clone(),
                posted_on: posting.posted_on,
                version_id: version.map(|v| v.id.clone()),
            };
            out.add(
                &ctx,
                FindingKind::Outdated,
                subject(channel),
                Some(observed),
                Some(trigger),
            );
        }
    }

    // Postings that answer no requirement.
    for posting in postings {
        if matched.contains(&(posting.code.as_str(), posting.channel)) {
            continue;
        }
        let rows = view.rows.get(posting.code.as_str()).unwrap_or(&no_rows);
        let observed = Some(Observed {
            decision: posting.decision.clone(),
            posted_on: posting.posted_on,
            version_id: None,
        });
        let channel = posting.channel;
        let code = posting.code.as_str();
        if rows.is_empty() && !view.known.contains(code) {
            out.add(
                &ctx,
                FindingKind::UnknownProcedure,
                Subject {
                    code,
                    channel,
                    version: None,
                    basis: None,
                },
                observed,
                None,
            )
        } else if rows.is_empty() {
            // Another province's own procedure: known, but not this province's to post.
            out.add(
                &ctx,
                FindingKind::NotApplicable,
                Subject {
                    code,
                    channel,
                    version: None,
                    basis: None,
                },
                observed,
                None,
            )
        } else {
            match view.applicable.get(code).copied() {
                Some(v) if v.abolished => out.add(
                    &ctx,
                    FindingKind::MustRemove,
                    Subject {
                        code,
                        channel,
                        version: Some(v),
                        basis: None,
                    },
                    observed,
                    Some(v.valid_from),
                ),
                Some(v) => out.add(
                    &ctx,
                    FindingKind::NotApplicable,
                    Subject {
                        code,
                        channel,
                        version: Some(v),
                        basis: None,
                    },
                    observed,
                    None,
                ),
                None => {
                    let first = rows.iter().copied().min_by_key(|r| r.valid_from);
                    out.add(
                        &ctx,
                        FindingKind::Premature,
                        Subject {
                            code,
                            channel,
                            version: first,
                            basis: None,
                        },
                        observed,
                        None,
                    )
                }
            }
        }
    }

    let mut findings = out.findings;
    findings.sort_by(|a, b| {
        (a.severity, &a.procedure_code, a.channel, a.kind).cmp(&(
            b.severity,
            &b.procedure_code,
            b.channel,
            b.kind,
        ))
    });
    summary.counts = out.counts;
    summary.overdue = out.overdue;
    summary.completeness = percent(summary.ok, summary.required_pairs);
    summary.timely_rate = percent(summary.timely, summary.required_pairs);
    summary.by_sector = sectors
        .into_values()
        .map(|mut s| {
            s.completeness = percent(s.ok, s.required_pairs);
            s
        })
        .collect();
    Evaluation { findings, summary }
}

#[cfg(test)]
#[path = "gaps_tests.rs"]
mod tests;
