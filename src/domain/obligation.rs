//! Who must post what: where each procedure version is posted (its posting place), which places
//! a province's communes must post, and the provincial lists that add or remove single
//! procedures. Pure: the gap engine asks [`required_basis`] whether a procedure is required of a
//! commune on a date, and why.
//!
//! A commune's one-stop centre posts what it receives (Decree 63/2010/NĐ-CP, Art. 17: procedures
//! are posted at the seat of the body that handles them; Decree 118/2025/NĐ-CP, Art. 14(2): the
//! commune centre receives the procedures of the commune People's Committee and those the
//! province assigns to it). `levels` says at which tier a procedure is carried out, not who
//! receives it: a commune-level customs, tax, treasury or social-insurance procedure is received
//! and posted at that branch's own office.
//!
//! The posting place of a version is decided, in this order, by:
//! 1. its levels: a version without the commune level is posted `elsewhere` (`not_commune_level`);
//! 2. a national record announced by a provincial People's Committee decision (`…/QĐ-UBND`) is a
//!    province's own procedure filed as national: `elsewhere` until that province lists it
//!    (`provincial_record`);
//! 3. its executing agency, then its authority (folded: no case, no diacritics, any white space
//!    one space): a commune-level body named anywhere wins (the commune People's Committee, its
//!    chairman or offices → `commune_centre`; the commune police → `commune_police`), then the
//!    district tier abolished in 2025 (its procedures went to the commune committee, its police's
//!    to the commune police), then the networks with offices of their own (customs, tax,
//!    treasury, social insurance, courts, land registry, port authorities, police above the
//!    commune, banks → `elsewhere`); provincial and central bodies say nothing about the
//!    commune-level version and fall through;
//! 4. the sector table (data, a reason per sector, editable by an admin);
//! 5. otherwise the commune's centre (`commune_default`): a commune-level procedure of no known
//!    sector, naming no body, is the commune People's Committee's.
//!
//! A decision may also set the place of the version it announces (`decision`).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use chrono::NaiveDate;
use regex::Regex;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::fold;

/// Where a commune-level procedure is received, and so posted.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PostingPlace {
    /// The commune's public administrative service centre (and its web page).
    CommuneCentre,
    /// The commune police's reception.
    CommunePolice,
    /// Another office: customs, tax, treasury, social insurance, a provincial or central body.
    Elsewhere,
}

impl PostingPlace {
    pub const ALL: [PostingPlace; 3] = [
        PostingPlace::CommuneCentre,
        PostingPlace::CommunePolice,
        PostingPlace::Elsewhere,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostingPlace::CommuneCentre => "commune_centre",
            PostingPlace::CommunePolice => "commune_police",
            PostingPlace::Elsewhere => "elsewhere",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        PostingPlace::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The place in Vietnamese, for people-facing outputs.
    pub fn label_vi(self) -> &'static str {
        match self {
            PostingPlace::CommuneCentre => "Trung tâm Phục vụ hành chính công cấp xã",
            PostingPlace::CommunePolice => "Công an cấp xã",
            PostingPlace::Elsewhere => "Cơ quan khác (không niêm yết tại xã)",
        }
    }
}

/// A version's posting place and the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub place: PostingPlace,
    /// `not_commune_level`, `provincial_record`, `agency_…`, `authority_…`, `sector_table`,
    /// `commune_default` or `decision` (see [`describe_rule`]).
    pub rule: String,
}

impl Placement {
    pub fn new(place: PostingPlace, rule: impl Into<String>) -> Self {
        Self {
            place,
            rule: rule.into(),
        }
    }
}

/// What the placement rules read of a version.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlacementInput<'a> {
    pub commune_level: bool,
    /// Whether the version is of national scope (not a province's own).
    pub national: bool,
    pub announced_by: Option<&'a str>,
    pub executing_agency: Option<&'a str>,
    pub authority: Option<&'a str>,
    /// The sector table's place for the version's sector, if the table has a row for it.
    pub sector_place: Option<PostingPlace>,
}

/// Text longer than this, or with a line break, is step text that leaked into a body field.
const MAX_BODY_TEXT: usize = 300;

struct Patterns {
    committee: Regex,
    police_commune: Regex,
    generic_commune: Regex,
    /// The district committee, its chairman, or an office of it (named as "… thuộc UBND
    /// huyện", which the same pattern finds), or the district justice office.
    district_committee: Regex,
    district_police: Regex,
    provincial_decision: Regex,
    placeholder: Regex,
    /// Networks with offices of their own: (rule suffix, any tier, local tier). In the authority
    /// stage only a local office counts: a central deciding body does not say where the
    /// commune-level filing is made.
    networks: Vec<(&'static str, Regex, Option<Regex>)>,
}

#[expect(
    clippy::expect_used,
    reason = "constant patterns: they compile, as the placement tests show"
)]
fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let re = |p: &str| Regex::new(p).expect("a placement pattern compiles");
        let ub = r"(?:uy ban nhan dan|ubnd)";
        let commune = r"(?:xa|phuong|thi tran|dac khu)";
        let district = r"(?:huyen|quan|thi xa)";
        Patterns {
            committee: re(&format!(r"\b(?:chu tich )?{ub}(?: cap)? {commune}\b")),
            police_commune: re(&format!(r"\bcong an (?:cap )?{commune}\b")),
            generic_commune: re(r"\bcap xa\b"),
            district_committee: re(&format!(
                r"\bphong tu phap\b|\b(?:chu tich )?{ub}(?: cap)? {district}\b"
            )),
            district_police: re(&format!(r"\bcong an (?:cap )?{district}\b")),
            provincial_decision: re(r"/qd-ubnd\b"),
            placeholder: re(r"cong doan co quan bhxh viet nam"),
            networks: vec![
                (
                    "customs",
                    re(r"\bhai quan\b"),
                    Some(re(
                        r"\bchi cuc hai quan\b|\bhai quan (?:cua khau|ngoai cua khau|khu vuc)\b",
                    )),
                ),
                (
                    "tax",
                    re(r"\b(?:thue co so|cuc thue|chi cuc thue|thue tinh|co quan thue|doi thue)\b"),
                    Some(re(r"\b(?:thue co so|chi cuc thue|doi thue|co quan thue)\b")),
                ),
                ("treasury", re(r"\bkho bac\b"), Some(re(r"\bkho bac\b"))),
                (
                    "social_insurance",
                    re(r"\b(?:bao hiem xa hoi|bhxh)\b"),
                    Some(re(
                        r"\b(?:bao hiem xa hoi|bhxh) (?:cap )?(?:huyen|co so|khu vuc|quan)\b",
                    )),
                ),
                (
                    "court",
                    re(r"\btoa an\b"),
                    Some(re(
                        r"\btoa an nhan dan khu vuc\b|\btoa an nhan dan (?:cap )?huyen\b",
                    )),
                ),
                (
                    "land_registry",
                    re(r"\bvan phong dang ky dat dai\b"),
                    Some(re(r"\bchi nhanh van phong dang ky dat dai\b")),
                ),
                (
                    "maritime",
                    re(r"\b(?:cang vu|chi cuc hang hai|cuc hang hai)\b"),
                    Some(re(r"\b(?:cang vu|chi cuc hang hai)\b")),
                ),
                (
                    "police_upper",
                    re(concat!(
                        r"\bcong an (?:cap )?(?:tinh|thanh pho)\b|\bcuc canh sat\b",
                        r"|\bcuc quan ly xuat nhap canh\b|\bphong canh sat\b"
                    )),
                    None,
                ),
                ("bank", re(r"\bngan hang\b"), Some(re(r"\bngan hang\b"))),
            ],
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Agency,
    Authority,
}

impl Stage {
    fn prefix(self) -> &'static str {
        match self {
            Stage::Agency => "agency",
            Stage::Authority => "authority",
        }
    }
}

/// What one body text says about the commune-level version, if anything.
fn place_by_text(raw: Option<&str>, stage: Stage) -> Option<Placement> {
    let raw = raw?.trim();
    if raw.is_empty() || raw.contains('\n') || raw.chars().count() > MAX_BODY_TEXT {
        return None;
    }
    let p = patterns();
    let folded = fold(raw);
    let text = p.placeholder.replace_all(&folded, " ");
    let text = text.trim_matches(|c: char| c.is_whitespace() || ",;.".contains(c));
    if text.is_empty() {
        return None;
    }
    let found =
        |place, rule: &str| Some(Placement::new(place, format!("{}_{rule}", stage.prefix())));
    // A commune-level body named anywhere wins: the question is only about the commune-level
    // version of the record. The committee before its police: received at the centre.
    if p.committee.is_match(text) {
        return found(PostingPlace::CommuneCentre, "commune_committee");
    }
    if p.police_commune.is_match(text) {
        return found(PostingPlace::CommunePolice, "commune_police");
    }
    if p.generic_commune
        .is_match(&p.police_commune.replace_all(text, " "))
    {
        return found(PostingPlace::CommuneCentre, "commune_generic");
    }
    // The district tier abolished in 2025, still named on commune-level records.
    if p.district_committee.is_match(text) {
        return found(PostingPlace::CommuneCentre, "district_tier_moved");
    }
    if p.district_police.is_match(text) {
        return found(PostingPlace::CommunePolice, "district_police_moved");
    }
    for (name, any_tier, local_tier) in &p.networks {
        let pattern = match stage {
            Stage::Agency => Some(any_tier),
            Stage::Authority => local_tier.as_ref(),
        };
        if pattern.is_some_and(|re| re.is_match(text)) {
            return found(PostingPlace::Elsewhere, name);
        }
    }
    None
}

/// The posting place of a version, and the rule that decided it (see the module's doc).
pub fn place(input: &PlacementInput<'_>) -> Placement {
    if !input.commune_level {
        return Placement::new(PostingPlace::Elsewhere, "not_commune_level");
    }
    if input.national
        && input
            .announced_by
            .is_some_and(|d| patterns().provincial_decision.is_match(&fold(d)))
    {
        return Placement::new(PostingPlace::Elsewhere, "provincial_record");
    }
    place_by_text(input.executing_agency, Stage::Agency)
        .or_else(|| place_by_text(input.authority, Stage::Authority))
        .unwrap_or_else(|| match input.sector_place {
            Some(place) => Placement::new(place, "sector_table"),
            None => Placement::new(PostingPlace::CommuneCentre, "commune_default"),
        })
}

/// What a placement rule means, in Vietnamese, for people-facing outputs.
pub fn describe_rule(rule: &str) -> &'static str {
    let base = rule
        .strip_prefix("agency_")
        .or_else(|| rule.strip_prefix("authority_"))
        .unwrap_or(rule);
    match base {
        "not_commune_level" => "Thủ tục không thực hiện ở cấp xã",
        "provincial_record" => {
            "Thủ tục riêng của một tỉnh (công bố bằng quyết định của UBND tỉnh), không bắt buộc ở các xã trên cả nước"
        }
        "commune_committee" => {
            "Cơ quan thực hiện là UBND cấp xã, Chủ tịch hoặc cơ quan thuộc UBND cấp xã"
        }
        "commune_police" => "Cơ quan thực hiện là Công an cấp xã",
        "commune_generic" => "Cơ quan thực hiện là một cơ quan cấp xã",
        "district_tier_moved" => {
            "Còn ghi cơ quan cấp huyện (đã bỏ từ 01/7/2025): thủ tục đã chuyển về UBND cấp xã"
        }
        "district_police_moved" => {
            "Còn ghi Công an cấp huyện (đã bỏ từ 01/3/2025): thủ tục đã chuyển về Công an cấp xã"
        }
        "customs" => "Cơ quan hải quan tiếp nhận",
        "tax" => "Cơ quan thuế tiếp nhận",
        "treasury" => "Kho bạc Nhà nước tiếp nhận",
        "social_insurance" => "Cơ quan bảo hiểm xã hội tiếp nhận",
        "court" => "Tòa án tiếp nhận",
        "land_registry" => "Văn phòng đăng ký đất đai tiếp nhận",
        "maritime" => "Cảng vụ, cơ quan hàng hải tiếp nhận",
        "police_upper" => "Công an cấp tỉnh hoặc cơ quan cảnh sát cấp trên tiếp nhận",
        "bank" => "Ngân hàng tiếp nhận",
        "sector_table" => "Không ghi rõ cơ quan thực hiện: theo bảng lĩnh vực",
        "commune_default" => "Thủ tục cấp xã không ghi cơ quan thực hiện: UBND cấp xã tiếp nhận",
        "decision" => "Quyết định công bố quy định nơi tiếp nhận",
        _ => "Quy tắc khác",
    }
}

/// A province's setting: the posting places its communes must post, from a date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PlacesPeriod {
    /// The first day the places apply.
    pub from: NaiveDate,
    /// Always includes `commune_centre`; `commune_police` when the province has the commune
    /// police's procedures posted at the centre too.
    pub places: Vec<PostingPlace>,
}

/// The default: the commune centre only.
pub fn default_places() -> Vec<PostingPlace> {
    vec![PostingPlace::CommuneCentre]
}

/// The places in force on `date` among `periods` (the default before the first one).
pub fn places_on(periods: &[PlacesPeriod], date: NaiveDate) -> Vec<PostingPlace> {
    periods
        .iter()
        .filter(|p| p.from <= date)
        .max_by_key(|p| p.from)
        .map_or_else(default_places, |p| p.places.clone())
}

/// The day the province's communes began posting `place`, in the run of periods in force on
/// `date`: `None` when they post it by default (since the beginning) or do not post it.
pub fn place_since(
    periods: &[PlacesPeriod],
    place: PostingPlace,
    date: NaiveDate,
) -> Option<NaiveDate> {
    let mut started: Vec<&PlacesPeriod> = periods.iter().filter(|p| p.from <= date).collect();
    started.sort_by_key(|p| p.from);
    let mut posting = default_places().contains(&place);
    let mut since = None;
    for p in started {
        let now = p.places.contains(&place);
        if now && !posting {
            since = Some(p.from);
        }
        if !now {
            since = None;
        }
        posting = now;
    }
    since.filter(|_| posting)
}

/// Checks a province's periods: each names the centre, no place twice, `elsewhere` never, no two
/// periods from the same day. Returns them sorted, or every problem.
pub fn check_periods(mut periods: Vec<PlacesPeriod>) -> Result<Vec<PlacesPeriod>, Vec<String>> {
    let mut problems = Vec::new();
    let mut days = BTreeSet::new();
    for (i, p) in periods.iter_mut().enumerate() {
        let set: BTreeSet<PostingPlace> = p.places.iter().copied().collect();
        if !set.contains(&PostingPlace::CommuneCentre) {
            problems.push(format!("periods[{i}].places must include commune_centre"));
        }
        if set.contains(&PostingPlace::Elsewhere) {
            problems.push(format!(
                "periods[{i}].places: `elsewhere` is never posted at a commune"
            ));
        }
        if !days.insert(p.from) {
            problems.push(format!("periods[{i}].from: {} appears twice", p.from));
        }
        p.places = set.into_iter().collect();
    }
    periods.sort_by_key(|p| p.from);
    if problems.is_empty() {
        Ok(periods)
    } else {
        Err(problems)
    }
}

/// What a provincial list item does to a procedure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ListAction {
    /// The province's communes must post it (whatever its posting place).
    Listed,
    /// The province's communes need not post it.
    Delisted,
}

impl ListAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ListAction::Listed => "listed",
            ListAction::Delisted => "delisted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "listed" => Some(ListAction::Listed),
            "delisted" => Some(ListAction::Delisted),
            _ => None,
        }
    }
}

/// One item of a provincial list, in force from `valid_from` until the next item of the same
/// province and procedure.
#[derive(Debug, Clone)]
pub struct ListEntry {
    pub province: String,
    pub code: String,
    pub action: ListAction,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
    pub decision_id: String,
    pub decision_number: String,
}

impl ListEntry {
    pub fn in_force(&self, date: NaiveDate) -> bool {
        super::catalogue::window_contains(self.valid_from, self.valid_to, date)
    }
}

/// Why a procedure is required of a commune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BasisKind {
    /// Its posting place is one the province's communes post.
    PostingPlace,
    /// A provincial list names it.
    ProvincialList,
}

/// The provincial decision that listed a procedure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ListedBy {
    pub decision_id: String,
    /// The decision's number, e.g. `1234/QĐ-UBND`.
    pub decision_number: String,
    /// The day the listing took effect.
    pub effective_on: NaiveDate,
}

/// Why a procedure is required: the posting-place rule, or the provincial decision that listed
/// it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Basis {
    pub kind: BasisKind,
    /// The version's posting place.
    pub posting_place: PostingPlace,
    /// The rule that placed the version (`agency_commune_committee`, `sector_table`, …).
    pub placement_rule: String,
    /// For `provincial_list`: the decision that listed the procedure.
    pub listed_by: Option<ListedBy>,
    /// The day the obligation began, when a province's list or setting began it (the posting
    /// deadline runs from there, or from the version's effective date if later).
    pub required_since: Option<NaiveDate>,
}

/// Whether a procedure whose applicable version is placed at `placement` (and is at the commune
/// level or not) is required on `date` of the communes of a province with the place `periods`,
/// given the province's list entry in force (if any): `Some(basis)` when it is.
pub fn required_basis(
    placement: &Placement,
    commune_level: bool,
    (periods, date): (&[PlacesPeriod], NaiveDate),
    listed: Option<&ListEntry>,
) -> Option<Basis> {
    match listed {
        Some(entry) => match entry.action {
            ListAction::Listed => Some(Basis {
                kind: BasisKind::ProvincialList,
                posting_place: placement.place,
                placement_rule: placement.rule.clone(),
                listed_by: Some(ListedBy {
                    decision_id: entry.decision_id.clone(),
                    decision_number: entry.decision_number.clone(),
                    effective_on: entry.valid_from,
                }),
                required_since: Some(entry.valid_from),
            }),
            ListAction::Delisted => None,
        },
        None => {
            (commune_level && places_on(periods, date).contains(&placement.place)).then(|| Basis {
                kind: BasisKind::PostingPlace,
                posting_place: placement.place,
                placement_rule: placement.rule.clone(),
                listed_by: None,
                required_since: place_since(periods, placement.place, date),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency(text: &str) -> Option<Placement> {
        place_by_text(Some(text), Stage::Agency)
    }

    fn authority(text: &str) -> Option<Placement> {
        place_by_text(Some(text), Stage::Authority)
    }

    fn is(p: Option<Placement>, place: PostingPlace, rule: &str) -> bool {
        p == Some(Placement::new(place, rule))
    }

    #[test]
    fn agency_text_places_a_commune_level_version() {
        use PostingPlace::*;
        assert!(is(
            agency("Công an xã; Công an huyện"),
            CommunePolice,
            "agency_commune_police"
        ));
        assert!(is(
            agency("Công an cấp Xã"),
            CommunePolice,
            "agency_commune_police"
        ));
        assert!(is(
            agency("Ủy ban Nhân dân\u{a0}xã,\u{a0}phường,\u{a0}thị trấn."),
            CommuneCentre,
            "agency_commune_committee"
        ));
        assert!(is(
            agency("Sở Xây dựng, Uỷ ban Nhân dân cấp xã, phường, thị trấn"),
            CommuneCentre,
            "agency_commune_committee"
        ));
        assert!(is(
            agency("Chủ tịch UBND cấp xã"),
            CommuneCentre,
            "agency_commune_committee"
        ));
        assert!(is(
            agency("Cơ quan quản lý đất đai cấp xã, Văn phòng đăng ký đất đai"),
            CommuneCentre,
            "agency_commune_generic"
        ));
        assert!(is(
            agency("Phòng Tư Pháp"),
            CommuneCentre,
            "agency_district_tier_moved"
        ));
        assert!(is(
            agency("Phòng Kinh tế thuộc UBND huyện"),
            CommuneCentre,
            "agency_district_tier_moved"
        ));
        assert!(is(
            authority("UBND cấp huyện"),
            CommuneCentre,
            "authority_district_tier_moved"
        ));
        assert!(is(
            agency("Công an huyện"),
            CommunePolice,
            "agency_district_police_moved"
        ));
        assert!(is(
            agency("Chi cục Hải quan khu vực"),
            Elsewhere,
            "agency_customs"
        ));
        assert!(is(
            agency("Thuế tỉnh, thành phố, Thuế cơ sở"),
            Elsewhere,
            "agency_tax"
        ));
        assert!(is(
            agency("Kho bạc nhà nước các cấp, Chi nhánh ngân hàng thương mại trên địa bàn"),
            Elsewhere,
            "agency_treasury"
        ));
        assert!(is(
            agency("Bảo hiểm xã hội cấp Tỉnh, Bảo hiểm xã hội cấp huyện"),
            Elsewhere,
            "agency_social_insurance"
        ));
        assert!(is(
            agency("Cục cảnh sát quản lý hành chính về trật tự, xã hội"),
            Elsewhere,
            "agency_police_upper"
        ));
        // Say nothing about the commune-level version: fall through.
        for nothing in [
            "Sở Xây dựng",
            "Tổ chức hành nghề công chứng",
            "Công đoàn cơ quan BHXH Việt Nam",
            "",
            "Bước 1: nộp hồ sơ\nBước 2: nhận kết quả",
        ] {
            assert_eq!(agency(nothing), None, "{nothing}");
        }
        // A central deciding body in the authority does not say where the filing is made.
        assert_eq!(authority("Bảo hiểm xã hội Việt Nam"), None);
    }

    #[test]
    fn rules_apply_in_order() {
        let mut input = PlacementInput {
            commune_level: true,
            national: true,
            announced_by: Some("163/QĐ-BTP"),
            executing_agency: None,
            authority: Some("Chủ tịch Ủy ban nhân dân cấp xã"),
            sector_place: Some(PostingPlace::Elsewhere),
        };
        assert_eq!(place(&input).rule, "authority_commune_committee");
        input.authority = None;
        assert_eq!(
            place(&input),
            Placement::new(PostingPlace::Elsewhere, "sector_table")
        );
        input.sector_place = None;
        assert_eq!(
            place(&input),
            Placement::new(PostingPlace::CommuneCentre, "commune_default")
        );
        input.announced_by = Some("226/QĐ-UBND");
        assert_eq!(place(&input).rule, "provincial_record");
        // A province's own version announced by its committee is placed by its text.
        input.national = false;
        assert_eq!(place(&input).rule, "commune_default");
        input.commune_level = false;
        assert_eq!(place(&input).rule, "not_commune_level");
        for rule in ["agency_customs", "authority_commune_committee", "decision"] {
            assert_ne!(describe_rule(rule), "Quy tắc khác", "{rule}");
        }
    }

    #[test]
    fn periods_and_lists_decide_the_required_set() {
        let d = |s: &str| s.parse::<NaiveDate>().expect("a date");
        let periods = check_periods(vec![
            PlacesPeriod {
                from: d("2026-01-01"),
                places: vec![PostingPlace::CommunePolice, PostingPlace::CommuneCentre],
            },
            PlacesPeriod {
                from: d("2025-07-01"),
                places: vec![PostingPlace::CommuneCentre],
            },
        ])
        .expect("valid periods");
        assert_eq!(places_on(&periods, d("2025-01-01")), default_places());
        assert_eq!(places_on(&periods, d("2025-12-31")), default_places());
        let police_too = places_on(&periods, d("2026-01-01"));
        assert_eq!(
            police_too,
            vec![PostingPlace::CommuneCentre, PostingPlace::CommunePolice]
        );
        assert!(
            check_periods(vec![PlacesPeriod {
                from: d("2026-01-01"),
                places: vec![PostingPlace::CommunePolice, PostingPlace::Elsewhere],
            }])
            .is_err_and(|p| p.len() == 2)
        );
        let police = Placement::new(PostingPlace::CommunePolice, "agency_commune_police");
        assert!(required_basis(&police, true, (&periods, d("2025-12-31")), None).is_none());
        let basis =
            required_basis(&police, true, (&periods, d("2026-02-01")), None).expect("required");
        assert_eq!(basis.kind, BasisKind::PostingPlace);
        assert_eq!(basis.required_since, Some(d("2026-01-01")));
        let centre = Placement::new(PostingPlace::CommuneCentre, "sector_table");
        let basis =
            required_basis(&centre, true, (&periods, d("2026-02-01")), None).expect("required");
        assert_eq!(
            basis.required_since, None,
            "the centre is posted since the beginning"
        );
        let entry = |action| ListEntry {
            province: "52".into(),
            code: "1.000001".into(),
            action,
            valid_from: d("2026-03-01"),
            valid_to: None,
            decision_id: "x".into(),
            decision_number: "12/QĐ-UBND".into(),
        };
        let listed = entry(ListAction::Listed);
        let basis = required_basis(&police, false, (&[], d("2026-03-02")), Some(&listed))
            .expect("a listed procedure is required whatever its place and level");
        assert_eq!(basis.kind, BasisKind::ProvincialList);
        assert_eq!(basis.required_since, Some(d("2026-03-01")));
        assert_eq!(
            basis.listed_by.map(|l| l.decision_number).as_deref(),
            Some("12/QĐ-UBND")
        );
        let delisted = entry(ListAction::Delisted);
        assert!(required_basis(&centre, true, (&[], d("2026-03-02")), Some(&delisted)).is_none());
    }
}
