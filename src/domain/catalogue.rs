//! The catalogue model: procedure content and its hash, versions in force over time, the
//! applicable version for a province on a date, and the rules that turn a decision's items into
//! changes of the version timeline (validated as a whole, before anything is written).

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::FieldError;
use super::codes::{ProcedureCode, UnitCode, normalize_decision_number};
use super::obligation::{ListAction, ListEntry, Placement, PlacementInput, PostingPlace, place};

/// Level of government that carries out a procedure (cấp thực hiện).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Central,
    Province,
    /// Historical: district level ended on 2025-06-30.
    District,
    Commune,
    Other,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Central,
        Level::Province,
        Level::District,
        Level::Commune,
        Level::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Central => "central",
            Level::Province => "province",
            Level::District => "district",
            Level::Commune => "commune",
            Level::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// A set of levels, stored as a comma-separated list in a fixed order.
pub fn levels_to_db(levels: &BTreeSet<Level>) -> String {
    levels
        .iter()
        .map(|l| l.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

pub fn levels_from_db(s: &str) -> BTreeSet<Level> {
    s.split(',').filter_map(Level::parse).collect()
}

/// How an application is submitted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Direct,
    Online,
    Postal,
}

/// Unit of a processing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    WorkingDays,
    Days,
    Hours,
    Months,
}

impl TimeUnit {
    /// Reads the portal's Vietnamese unit names.
    pub fn from_vietnamese(raw: &str) -> Option<Self> {
        match super::text::fold(raw).as_str() {
            "ngay lam viec" => Some(TimeUnit::WorkingDays),
            "ngay" => Some(TimeUnit::Days),
            "gio" | "gio lam viec" => Some(TimeUnit::Hours),
            "thang" => Some(TimeUnit::Months),
            _ => None,
        }
    }
}

/// One submission channel of a procedure, with its processing time and fee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    pub method: Method,
    /// Processing time, in `time_unit`.
    pub time_value: Option<f64>,
    pub time_unit: Option<TimeUnit>,
    /// Fee in VND (integer, no minor unit), when the published text states one.
    pub fee_vnd: Option<i64>,
    /// The fee cell and notes as published.
    pub fee_and_notes: Option<String>,
}

/// What a posting must show: the fields a version's `content_hash` covers, plus descriptive
/// fields kept as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcedureContent {
    pub name: String,
    pub sector_code: String,
    pub levels: BTreeSet<Level>,
    pub channels: Vec<Channel>,
    pub documents: Option<String>,
    pub steps: Option<String>,
    pub requirements: Option<String>,
    pub legal_basis: Option<String>,
    pub results: Option<String>,
    pub executing_agency: Option<String>,
    // Not hashed: descriptive.
    pub procedure_type: Option<String>,
    pub subjects: Option<String>,
    pub authority: Option<String>,
    pub source_url: Option<String>,
}

impl ProcedureContent {
    /// SHA-256 over the fields a commune must post, in a fixed order.
    pub fn content_hash(&self) -> String {
        #[derive(Serialize)]
        struct Hashed<'a> {
            name: &'a str,
            sector: &'a str,
            levels: &'a BTreeSet<Level>,
            channels: &'a [Channel],
            documents: &'a Option<String>,
            steps: &'a Option<String>,
            requirements: &'a Option<String>,
            legal_basis: &'a Option<String>,
            results: &'a Option<String>,
            executing_agency: &'a Option<String>,
        }
        let hashed = Hashed {
            name: &self.name,
            sector: &self.sector_code,
            levels: &self.levels,
            channels: &self.channels,
            documents: &self.documents,
            steps: &self.steps,
            requirements: &self.requirements,
            legal_basis: &self.legal_basis,
            results: &self.results,
            executing_agency: &self.executing_agency,
        };
        // Serialising plain strings, sets and numbers cannot fail.
        let bytes = serde_json::to_vec(&hashed).unwrap_or_default();
        hex::encode(Sha256::digest(&bytes))
    }

    /// Which of the posted fields differ between two versions, in the vocabulary of reports.
    pub fn changed_fields(&self, other: &ProcedureContent) -> Vec<&'static str> {
        let fees = |c: &ProcedureContent| -> Vec<(Method, Option<i64>, Option<String>)> {
            c.channels
                .iter()
                .map(|ch| (ch.method, ch.fee_vnd, ch.fee_and_notes.clone()))
                .collect()
        };
        let times = |c: &ProcedureContent| -> Vec<(Method, Option<u64>, Option<TimeUnit>)> {
            c.channels
                .iter()
                .map(|ch| (ch.method, ch.time_value.map(f64::to_bits), ch.time_unit))
                .collect()
        };
        let mut out = Vec::new();
        if self.name != other.name {
            out.push("name");
        }
        if self.sector_code != other.sector_code {
            out.push("sector");
        }
        if fees(self) != fees(other) {
            out.push("fees");
        }
        if times(self) != times(other) {
            out.push("processing_time");
        }
        if self.documents != other.documents {
            out.push("documents");
        }
        if self.steps != other.steps {
            out.push("steps");
        }
        if self.requirements != other.requirements {
            out.push("requirements");
        }
        if self.legal_basis != other.legal_basis {
            out.push("legal_basis");
        }
        if self.results != other.results {
            out.push("results");
        }
        if self.levels != other.levels {
            out.push("levels");
        }
        if self.executing_agency != other.executing_agency {
            out.push("agency");
        }
        out
    }
}

/// Where a decision or a version applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    National,
    Province(UnitCode),
}

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw == "national" {
            return Ok(Scope::National);
        }
        UnitCode::province(raw).map(Scope::Province).map_err(|_| {
            format!(
                "`{}` is neither `national` nor a 2-digit province code",
                super::codes::clip(raw)
            )
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Scope::National => "national",
            Scope::Province(code) => code.as_str(),
        }
    }
}

pub const NATIONAL: &str = "national";

/// Whether a window `[from, to)` contains `date`.
pub fn window_contains(from: NaiveDate, to: Option<NaiveDate>, date: NaiveDate) -> bool {
    from <= date && to.is_none_or(|to| date < to)
}

/// What the timeline rules need to know of a stored version.
pub trait Windowed {
    fn scope(&self) -> &str;
    fn valid_from(&self) -> NaiveDate;
    fn valid_to(&self) -> Option<NaiveDate>;
}

/// Implements `Windowed` for a row type with `scope`, `valid_from` and `valid_to` fields.
#[macro_export]
macro_rules! impl_windowed {
    ($($row:ty),+ $(,)?) => {$(
        impl $crate::domain::catalogue::Windowed for $row {
            fn scope(&self) -> &str {
                &self.scope
            }
            fn valid_from(&self) -> chrono::NaiveDate {
                self.valid_from
            }
            fn valid_to(&self) -> Option<chrono::NaiveDate> {
                self.valid_to
            }
        }
    )+};
}

impl<T: Windowed> Windowed for &T {
    fn scope(&self) -> &str {
        (*self).scope()
    }
    fn valid_from(&self) -> NaiveDate {
        (*self).valid_from()
    }
    fn valid_to(&self) -> Option<NaiveDate> {
        (*self).valid_to()
    }
}

/// The applicable version among one procedure's rows: the province-scoped row in force on `date`
/// if there is one, else the national row in force then. Abolitions are rows too (tombstones), so
/// the answer may be an abolition: the procedure is then not in force.
pub fn applicable<'a, V: Windowed>(
    rows: &'a [V],
    province: Option<&str>,
    date: NaiveDate,
) -> Option<&'a V> {
    let in_force = |scope: &str| {
        rows.iter()
            .find(|r| r.scope() == scope && window_contains(r.valid_from(), r.valid_to(), date))
    };
    province.and_then(in_force).or_else(|| in_force(NATIONAL))
}

/// A stored version as the decision rules see it.
#[derive(Debug, Clone)]
pub struct ExistingVersion {
    pub id: String,
    pub scope: String,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub abolished: bool,
    pub announced_by_norm: Option<String>,
    pub content_hash: String,
    pub content: ProcedureContent,
    /// `None` for a row written before posting places existed (placed at the next start).
    pub placement: Option<Placement>,
}

crate::impl_windowed!(ExistingVersion);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemAction {
    /// A new procedure: its first version.
    New,
    /// A new version of a procedure in force.
    Amended,
    /// The procedure ends.
    Abolished,
    /// In a provincial list: the province's communes must post the procedure from the date.
    Listed,
    /// In a provincial list: the province's communes need not post the procedure from the date.
    Delisted,
}

impl ItemAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemAction::New => "new",
            ItemAction::Amended => "amended",
            ItemAction::Abolished => "abolished",
            ItemAction::Listed => "listed",
            ItemAction::Delisted => "delisted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ItemAction::New,
            ItemAction::Amended,
            ItemAction::Abolished,
            ItemAction::Listed,
            ItemAction::Delisted,
        ]
        .into_iter()
        .find(|a| a.as_str() == s)
    }

    /// The list action of a provincial list's item (`None` for an announcement's).
    pub fn list_action(self) -> Option<ListAction> {
        match self {
            ItemAction::Listed => Some(ListAction::Listed),
            ItemAction::Delisted => Some(ListAction::Delisted),
            ItemAction::New | ItemAction::Amended | ItemAction::Abolished => None,
        }
    }
}

/// The fields an item sets. For `new`, name, sector and levels are required; for `amended`,
/// absent fields keep the value of the version being amended.
#[derive(Debug, Clone, Default)]
pub struct ContentPatch {
    pub name: Option<String>,
    pub sector_code: Option<String>,
    pub levels: Option<BTreeSet<Level>>,
    pub channels: Option<Vec<Channel>>,
    pub documents: Option<String>,
    pub steps: Option<String>,
    pub requirements: Option<String>,
    pub legal_basis: Option<String>,
    pub results: Option<String>,
    pub executing_agency: Option<String>,
    pub procedure_type: Option<String>,
    pub subjects: Option<String>,
    pub authority: Option<String>,
    pub source_url: Option<String>,
}

impl ContentPatch {
    fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.sector_code.is_none()
            && self.levels.is_none()
            && self.channels.is_none()
            && self.documents.is_none()
            && self.steps.is_none()
            && self.requirements.is_none()
            && self.legal_basis.is_none()
            && self.results.is_none()
            && self.executing_agency.is_none()
            && self.procedure_type.is_none()
            && self.subjects.is_none()
            && self.authority.is_none()
            && self.source_url.is_none()
    }

    fn apply(self, base: &ProcedureContent) -> ProcedureContent {
        let keep = |new: Option<String>, old: &Option<String>| new.or_else(|| old.clone());
        ProcedureContent {
            name: self.name.unwrap_or_else(|| base.name.clone()),
            sector_code: self.sector_code.unwrap_or_else(|| base.sector_code.clone()),
            levels: self.levels.unwrap_or_else(|| base.levels.clone()),
            channels: self.channels.unwrap_or_else(|| base.channels.clone()),
            documents: keep(self.documents, &base.documents),
            steps: keep(self.steps, &base.steps),
            requirements: keep(self.requirements, &base.requirements),
            legal_basis: keep(self.legal_basis, &base.legal_basis),
            results: keep(self.results, &base.results),
            executing_agency: keep(self.executing_agency, &base.executing_agency),
            procedure_type: keep(self.procedure_type, &base.procedure_type),
            subjects: keep(self.subjects, &base.subjects),
            authority: keep(self.authority, &base.authority),
            source_url: keep(self.source_url, &base.source_url),
        }
    }

    fn into_new(self) -> Result<ProcedureContent, Vec<&'static str>> {
        let mut missing = Vec::new();
        if self.name.is_none() {
            missing.push("name");
        }
        if self.sector_code.is_none() {
            missing.push("sector");
        }
        if self.levels.is_none() {
            missing.push("levels");
        }
        match (self.name, self.sector_code, self.levels) {
            (Some(name), Some(sector_code), Some(levels)) => Ok(ProcedureContent {
                name,
                sector_code,
                levels,
                channels: self.channels.unwrap_or_default(),
                documents: self.documents,
                steps: self.steps,
                requirements: self.requirements,
                legal_basis: self.legal_basis,
                results: self.results,
                executing_agency: self.executing_agency,
                procedure_type: self.procedure_type,
                subjects: self.subjects,
                authority: self.authority,
                source_url: self.source_url,
            }),
            _ => Err(missing),
        }
    }
}

/// One item of a decision, parsed.
#[derive(Debug, Clone)]
pub struct ItemInput {
    pub action: ItemAction,
    pub code: ProcedureCode,
    pub effective_on: NaiveDate,
    pub patch: Option<ContentPatch>,
    /// Where the version is posted, when the decision says so (`new` and `amended` only).
    pub posting_place: Option<PostingPlace>,
}

/// A version to insert.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub scope: String,
    pub valid_from: NaiveDate,
    pub abolished: bool,
    pub content: ProcedureContent,
    pub content_hash: String,
    pub announced_by: Option<String>,
    pub placement: Placement,
}

/// The sector table: the posting place of a sector's procedures whose agency text says nothing,
/// by sector code.
pub type SectorPlaces = HashMap<String, PostingPlace>;

/// The posting place of a version of `content` (see `obligation::place`): as the decision says
/// (`decided`), as a previous decision said when the item does not change it (`carried`), or by
/// the rules.
pub fn placement_of(
    content: &ProcedureContent,
    national: bool,
    announced_by: Option<&str>,
    (decided, carried): (Option<PostingPlace>, Option<&Placement>),
    sector_places: &SectorPlaces,
) -> Placement {
    let commune_level = content.levels.contains(&Level::Commune);
    let decided = decided.or_else(|| carried.filter(|p| p.rule == DECIDED).map(|p| p.place));
    match decided {
        Some(place) if commune_level => Placement::new(place, DECIDED),
        _ => place(&PlacementInput {
            commune_level,
            national,
            announced_by,
            executing_agency: content.executing_agency.as_deref(),
            authority: content.authority.as_deref(),
            sector_place: sector_places.get(&content.sector_code).copied(),
        }),
    }
}

/// The rule of a placement a decision set.
pub const DECIDED: &str = "decision";

/// What applying one item does to the timeline.
#[derive(Debug, Clone)]
pub struct PlannedItem {
    pub seq: i32,
    pub action: ItemAction,
    pub code: ProcedureCode,
    pub effective_on: NaiveDate,
    /// The code is new to the catalogue.
    pub creates_procedure: bool,
    /// Open versions that end where this item takes effect.
    pub closes: Vec<String>,
    pub version: NewVersion,
}

/// Everything known about the procedures a decision names.
pub type Timelines = HashMap<String, Vec<ExistingVersion>>;

/// The sectors a decision may name, and where each sector's procedures are posted when their
/// agency says nothing.
pub struct SectorPlacesOf<'a> {
    pub codes: &'a HashSet<String>,
    pub places: &'a SectorPlaces,
}

fn item_field(index: usize, field: &str) -> String {
    format!("items[{index}].{field}")
}

/// Checks one decision's items against the catalogue and plans the changes. Every problem is
/// reported, not just the first; nothing is planned unless the decision is valid as a whole.
pub fn plan_decision(
    scope: &Scope,
    signed_on: NaiveDate,
    announced_by: &str,
    items: Vec<ItemInput>,
    timelines: &Timelines,
    sectors: &SectorPlacesOf<'_>,
) -> Result<Vec<PlannedItem>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut planned = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let province = match scope {
        Scope::National => None,
        Scope::Province(p) => Some(p.as_str()),
    };
    for (index, item) in items.into_iter().enumerate() {
        let code = item.code.as_str().to_owned();
        if let Some(first) = seen.insert(code.clone(), index) {
            errors.push(FieldError::new(
                item_field(index, "procedure_code"),
                format!("procedure {code} already appears in items[{first}]; a decision names each procedure once"),
            ));
            continue;
        }
        if item.effective_on < signed_on {
            errors.push(FieldError::new(
                item_field(index, "effective_on"),
                format!(
                    "takes effect on {} but the decision is signed on {signed_on}",
                    item.effective_on
                ),
            ));
        }
        let rows: &[ExistingVersion] = timelines.get(&code).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(sector) = item.patch.as_ref().and_then(|p| p.sector_code.as_ref())
            && !sectors.codes.contains(sector)
        {
            errors.push(FieldError::new(
                item_field(index, "procedure.sector"),
                format!("unknown sector `{sector}`; create it first (POST /api/v1/sectors)"),
            ));
        }
        if let Some(levels) = item.patch.as_ref().and_then(|p| p.levels.as_ref())
            && levels.is_empty()
        {
            errors.push(FieldError::new(
                item_field(index, "procedure.levels"),
                "must name at least one level",
            ));
        }
        if item.action.list_action().is_some() {
            errors.push(FieldError::new(
                item_field(index, "action"),
                "`listed` and `delisted` belong to a provincial list, whose items are all \
                 `listed` or `delisted`",
            ));
            continue;
        }
        let eff = item.effective_on;
        let placing = |content: &ProcedureContent, carried: Option<&Placement>| {
            placement_of(
                content,
                province.is_none(),
                Some(announced_by),
                (item.posting_place, carried),
                sectors.places,
            )
        };
        match item.action {
            ItemAction::Listed | ItemAction::Delisted => {}
            ItemAction::New => {
                if !rows.is_empty() {
                    errors.push(FieldError::new(
                        item_field(index, "procedure_code"),
                        format!("procedure {code} already exists; use `amended` to change it"),
                    ));
                    continue;
                }
                let Some(patch) = item.patch else {
                    errors.push(FieldError::new(
                        item_field(index, "procedure"),
                        "a `new` item needs the procedure",
                    ));
                    continue;
                };
                match patch.into_new() {
                    Ok(content) => planned.push(PlannedItem {
                        seq: index as i32,
                        action: ItemAction::New,
                        code: item.code,
                        effective_on: eff,
                        creates_procedure: true,
                        closes: Vec::new(),
                        version: new_version(
                            scope,
                            (eff, false),
                            placing(&content, None),
                            content,
                            announced_by,
                        ),
                    }),
                    Err(missing) => {
                        for field in missing {
                            errors.push(FieldError::new(
                                item_field(index, &format!("procedure.{field}")),
                                "is required for a `new` item",
                            ));
                        }
                    }
                }
            }
            ItemAction::Amended | ItemAction::Abolished => {
                let current = match in_force_for_change(rows, province, eff, &code) {
                    Ok(v) => v,
                    Err(message) => {
                        errors.push(FieldError::new(
                            item_field(index, "procedure_code"),
                            message,
                        ));
                        continue;
                    }
                };
                if let Some(later) = later_change(rows, province, eff) {
                    errors.push(FieldError::new(
                        item_field(index, "effective_on"),
                        format!(
                            "procedure {code} already has a change taking effect on {later}; \
                             changes are recorded in the order they take effect"
                        ),
                    ));
                    continue;
                }
                let closes = rows_to_close(rows, scope, item.action);
                if item.action == ItemAction::Abolished {
                    if item.patch.as_ref().is_some_and(|p| !p.is_empty())
                        || item.posting_place.is_some()
                    {
                        errors.push(FieldError::new(
                            item_field(index, "procedure"),
                            "an `abolished` item carries no procedure content",
                        ));
                        continue;
                    }
                    planned.push(PlannedItem {
                        seq: index as i32,
                        action: ItemAction::Abolished,
                        code: item.code,
                        effective_on: eff,
                        creates_procedure: false,
                        closes,
                        version: new_version(
                            scope,
                            (eff, true),
                            placing(&current.content, current.placement.as_ref()),
                            current.content.clone(),
                            announced_by,
                        ),
                    });
                    continue;
                }
                let Some(patch) = item.patch.filter(|p| !p.is_empty()) else {
                    errors.push(FieldError::new(
                        item_field(index, "procedure"),
                        "an `amended` item needs the fields it changes",
                    ));
                    continue;
                };
                let content = patch.apply(&current.content);
                // An amendment that changes nothing a commune posts would only make every
                // commune re-post the same board.
                if content.content_hash() == current.content_hash {
                    errors.push(FieldError::new(
                        item_field(index, "procedure"),
                        "changes none of the procedure's fields",
                    ));
                    continue;
                }
                let placement = placing(&content, current.placement.as_ref());
                planned.push(PlannedItem {
                    seq: index as i32,
                    action: ItemAction::Amended,
                    code: item.code,
                    effective_on: eff,
                    creates_procedure: false,
                    closes,
                    version: new_version(scope, (eff, false), placement, content, announced_by),
                });
            }
        }
    }
    if errors.is_empty() {
        Ok(planned)
    } else {
        Err(errors)
    }
}

fn new_version(
    scope: &Scope,
    (valid_from, abolished): (NaiveDate, bool),
    placement: Placement,
    content: ProcedureContent,
    announced_by: &str,
) -> NewVersion {
    NewVersion {
        scope: scope.as_str().to_owned(),
        valid_from,
        abolished,
        content_hash: content.content_hash(),
        content,
        announced_by: Some(announced_by.to_owned()),
        placement,
    }
}

/// The version an `amended` or `abolished` item changes: the one applicable in the decision's
/// scope on its effective date, which must exist and not be an abolition.
fn in_force_for_change<'a>(
    rows: &'a [ExistingVersion],
    province: Option<&str>,
    date: NaiveDate,
    code: &str,
) -> Result<&'a ExistingVersion, String> {
    if rows.is_empty() {
        return Err(format!("procedure {code} is not in the catalogue"));
    }
    match applicable(rows, province, date) {
        Some(v) if !v.abolished => Ok(v),
        Some(v) => Err(format!(
            "procedure {code} was abolished on {}",
            v.valid_from
        )),
        None => {
            let first = rows.iter().map(|r| r.valid_from).min();
            match first {
                Some(first) if first > date => Err(format!(
                    "procedure {code} is not in force on {date}: it takes effect on {first}"
                )),
                _ => Err(format!("procedure {code} is not in force on {date}")),
            }
        }
    }
}

/// A recorded change that takes effect on or after `date` and would be overtaken by a change on
/// `date`. National changes conflict with any scope; provincial ones with their own and national.
fn later_change(
    rows: &[ExistingVersion],
    province: Option<&str>,
    date: NaiveDate,
) -> Option<NaiveDate> {
    rows.iter()
        .filter(|r| match province {
            None => true,
            Some(p) => r.scope == p || r.scope == NATIONAL,
        })
        .map(|r| r.valid_from)
        .filter(|from| *from >= date)
        .min()
}

/// The open rows a change ends: its own scope's open row; a national abolition also ends every
/// provincial variant (a procedure abolished nationally is abolished everywhere).
fn rows_to_close(rows: &[ExistingVersion], scope: &Scope, action: ItemAction) -> Vec<String> {
    rows.iter()
        // An abolition stays in force: a later national abolition does not reopen the date a
        // province abolished the procedure on.
        .filter(|r| r.valid_to.is_none() && !r.abolished)
        .filter(|r| match (scope, action) {
            (Scope::National, ItemAction::Abolished) => true,
            _ => r.scope == scope.as_str(),
        })
        .map(|r| r.id.clone())
        .collect()
}

/// What a provincial list item does, once checked.
#[derive(Debug, Clone)]
pub struct PlannedListItem {
    pub seq: i32,
    pub code: ProcedureCode,
    pub action: ListAction,
    pub effective_on: NaiveDate,
    /// The version that applies in the province on `effective_on`: what the item concerns.
    pub version_id: String,
}

/// Checks a provincial list (a decision of `province` whose items all list or delist
/// procedures) against the catalogue and the province's earlier lists. Every problem is reported;
/// nothing is planned unless the list is valid as a whole.
pub fn plan_list(
    province: &UnitCode,
    signed_on: NaiveDate,
    items: Vec<ItemInput>,
    timelines: &Timelines,
    lists: &[ListEntry],
) -> Result<Vec<PlannedListItem>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut planned = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, item) in items.into_iter().enumerate() {
        let code = item.code.as_str().to_owned();
        let Some(action) = item.action.list_action() else {
            errors.push(FieldError::new(
                item_field(index, "action"),
                "a provincial list's items are all `listed` or `delisted`",
            ));
            continue;
        };
        if item.patch.as_ref().is_some_and(|p| !p.is_empty()) || item.posting_place.is_some() {
            errors.push(FieldError::new(
                item_field(index, "procedure"),
                "a list item names a procedure and a date, not its content",
            ));
        }
        if let Some(first) = seen.insert(code.clone(), index) {
            errors.push(FieldError::new(
                item_field(index, "procedure_code"),
                format!("procedure {code} already appears in items[{first}]; a decision names each procedure once"),
            ));
            continue;
        }
        let eff = item.effective_on;
        if eff < signed_on {
            errors.push(FieldError::new(
                item_field(index, "effective_on"),
                format!("takes effect on {eff} but the decision is signed on {signed_on}"),
            ));
        }
        let rows: &[ExistingVersion] = timelines.get(&code).map(Vec::as_slice).unwrap_or(&[]);
        let current = match in_force_for_change(rows, Some(province.as_str()), eff, &code) {
            Ok(v) => v,
            Err(message) => {
                errors.push(FieldError::new(
                    item_field(index, "procedure_code"),
                    message,
                ));
                continue;
            }
        };
        let own: Vec<&ListEntry> = lists
            .iter()
            .filter(|e| e.province == province.as_str() && e.code == code)
            .collect();
        if let Some(later) = own.iter().map(|e| e.valid_from).filter(|d| *d >= eff).min() {
            errors.push(FieldError::new(
                item_field(index, "effective_on"),
                format!(
                    "the province's list already changes procedure {code} on {later}; \
                     list changes are recorded in the order they take effect"
                ),
            ));
            continue;
        }
        if let Some(entry) = own.iter().find(|e| e.in_force(eff))
            && entry.action == action
        {
            errors.push(FieldError::new(
                item_field(index, "action"),
                format!(
                    "procedure {code} is already {} by {} from {}",
                    action.as_str(),
                    entry.decision_number,
                    entry.valid_from
                ),
            ));
            continue;
        }
        planned.push(PlannedListItem {
            seq: index as i32,
            code: item.code,
            action,
            effective_on: eff,
            version_id: current.id.clone(),
        });
    }
    if errors.is_empty() {
        Ok(planned)
    } else {
        Err(errors)
    }
}

/// What importing one catalogue record does.
#[derive(Debug, Clone)]
pub enum ImportOutcome {
    Created(PlannedItem),
    Amended(PlannedItem),
    Unchanged,
}

/// Compares one imported record with the national version in force on the import's effective date.
pub fn plan_import_record(
    code: ProcedureCode,
    content: ProcedureContent,
    announced_by: Option<String>,
    (effective_on, seq): (NaiveDate, i32),
    rows: &[ExistingVersion],
    sector_places: &SectorPlaces,
) -> Result<ImportOutcome, String> {
    let national: Vec<&ExistingVersion> = rows.iter().filter(|r| r.scope == NATIONAL).collect();
    let hash = content.content_hash();
    let announced_norm = announced_by.as_deref().map(normalize_decision_number);
    let placement = placement_of(
        &content,
        true,
        announced_by.as_deref(),
        (None, None),
        sector_places,
    );
    let version = NewVersion {
        scope: NATIONAL.to_owned(),
        valid_from: effective_on,
        abolished: false,
        content_hash: hash.clone(),
        content,
        announced_by,
        placement,
    };
    if national.is_empty() {
        if !rows.is_empty() {
            return Err(format!(
                "procedure {code} exists only as a provincial procedure"
            ));
        }
        return Ok(ImportOutcome::Created(PlannedItem {
            seq,
            action: ItemAction::New,
            code,
            effective_on,
            creates_procedure: true,
            closes: Vec::new(),
            version,
        }));
    }
    let current = national
        .iter()
        .find(|r| window_contains(r.valid_from, r.valid_to, effective_on));
    match current {
        Some(v) if v.abolished => Err(format!(
            "procedure {code} was abolished on {}; announce it again with a decision",
            v.valid_from
        )),
        Some(v) if v.content_hash == hash && v.announced_by_norm == announced_norm => {
            Ok(ImportOutcome::Unchanged)
        }
        Some(_) => {
            if let Some(later) = later_change(rows, None, effective_on) {
                return Err(format!(
                    "procedure {code} differs from the catalogue, but a change taking effect on {later} \
                     is already recorded; import with a later effective date"
                ));
            }
            let closes = rows_to_close(rows, &Scope::National, ItemAction::Amended);
            Ok(ImportOutcome::Amended(PlannedItem {
                seq,
                action: ItemAction::Amended,
                code,
                effective_on,
                creates_procedure: false,
                closes,
                version,
            }))
        }
        None => Err(format!(
            "procedure {code} is not in force on {effective_on}"
        )),
    }
}

#[cfg(test)]
#[path = "catalogue_tests.rs"]
mod tests;
