//! The statistics office's old→new conversion table of the 2025 reform ("Bảng chuyển đổi ĐVHC
//! mới – cũ"), read into retired units and lineage edges, with every problem of the table reported
//! by line. Pure: the caller gives the current communes and stores the result.
//!
//! The table as published has banner rows (only the first cell filled), two header rows, stray
//! spaces and line breaks inside cells, names with codes in parentheses (`Huyện Mỹ Đức (282)`),
//! and notes with typos (`Nhâp một phần diện tích`). Its new communes' codes and names are checked
//! against the units of today: a code that is not a current commune, or that names another
//! commune, is resolved by the commune's name within its province when exactly one matches, and
//! reported either way.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use super::text;

/// How an old unit went into a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Relation {
    /// Its whole territory and population (`Nhập toàn bộ`, `Sắp xếp toàn bộ`).
    Whole,
    /// Part of it (`Nhập một phần…`, `Phần còn lại…`, `… từ một phần …`).
    Part,
    /// Kept as it was (`Giữ nguyên`).
    Unchanged,
    /// Kept whole under a new name or type (`Đổi loại hình`, `Đổi tên`).
    RenamedType,
}

impl Relation {
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Whole => "whole",
            Relation::Part => "part",
            Relation::Unchanged => "unchanged",
            Relation::RenamedType => "renamed_type",
        }
    }

    /// Reads a note of the table, whatever its spacing, case or diacritics.
    pub fn from_note(note: &str) -> Option<Relation> {
        let key = words(note);
        if key.contains("mot phan") || key.starts_with("phan con lai") {
            Some(Relation::Part)
        } else if key.starts_with("nhap toan bo") || key.starts_with("sap xep toan bo") {
            Some(Relation::Whole)
        } else if key.starts_with("giu nguyen") {
            Some(Relation::Unchanged)
        } else if key.starts_with("doi loai hinh") || key.starts_with("doi ten") {
            Some(Relation::RenamedType)
        } else {
            None
        }
    }
}

/// The last day the retired units were in force.
pub fn retired_on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 30).unwrap_or_default()
}

/// A unit of the table before 2025-07-01.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldUnit {
    pub level: &'static str,
    pub code: String,
    pub name: String,
    pub division_type: String,
    pub district_code: Option<String>,
    pub province_code: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Physical line of the file where the row starts.
    pub line: u64,
    pub old_level: &'static str,
    pub old_code: String,
    pub new_code: String,
    pub relation: Relation,
    /// The note as published, white space folded.
    pub note: String,
    pub basis: String,
}

/// Something wrong in a row. A `resolved` problem was worked around (and says how); any other
/// keeps the whole file from loading.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub line: u64,
    pub kind: &'static str,
    pub message: String,
    pub resolved: bool,
}

#[derive(Debug, Default)]
pub struct Lineage {
    pub units: Vec<OldUnit>,
    pub edges: Vec<Edge>,
    pub problems: Vec<Problem>,
}

impl Lineage {
    pub fn blocking(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.resolved)
    }
    pub fn count(&self, level: &str) -> usize {
        self.units.iter().filter(|u| u.level == level).count()
    }
}

/// A commune of today, as the table is checked against it.
#[derive(Debug, Clone)]
pub struct CurrentCommune {
    pub name: String,
    pub province: String,
}

/// The resolutions known by number (`data/lineage-resolutions.csv`: province code, number).
pub type Resolutions = HashMap<String, String>;

/// The legal basis of a new province's edges.
pub fn basis(province_code: &str, province_name: &str, known: &Resolutions) -> String {
    match known.get(province_code) {
        Some(number) => format!(
            "Nghị quyết {number} ngày 16/6/2025 của Ủy ban Thường vụ Quốc hội về việc sắp xếp các đơn vị hành chính cấp xã của {province_name} năm 2025"
        ),
        None => format!(
            "Nghị quyết của Ủy ban Thường vụ Quốc hội về việc sắp xếp các đơn vị hành chính cấp xã của {province_name} năm 2025 (một trong các Nghị quyết 1654–1687/NQ-UBTVQH15 ngày 16/6/2025)"
        ),
    }
}

/// Only letters and digits, folded: the form names are compared in (`Hoà`/`Hòa`, `M'Drắk`/
/// `M’Drắk`, `Chân Mây - Lăng Cô`/`Chân Mây – Lăng Cô`, double spaces all compare equal).
fn words(s: &str) -> String {
    text::fold(s)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `Huyện Mỹ Đức (282)` → (`Huyện Mỹ Đức`, `282`).
fn name_code(cell: &str) -> Option<(String, String)> {
    let cell = clean(cell);
    let open = cell.rfind('(')?;
    let code = cell.get(open + 1..)?.strip_suffix(')')?.trim();
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((clean(&cell[..open]), code.to_owned()))
}

/// NFC, white space (line breaks included) folded to single spaces.
fn clean(s: &str) -> String {
    text::nfc(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The type word(s) a name starts with: `Xã`, `Phường`, `Thị trấn`, `Huyện`, `Thị xã`, ...
fn division_type(name: &str) -> String {
    const TYPES: [&str; 10] = [
        "thành phố",
        "thị trấn",
        "thị xã",
        "đặc khu",
        "phường",
        "huyện",
        "quận",
        "tỉnh",
        "xã",
        "xa",
    ];
    let lower = name.to_lowercase();
    TYPES
        .iter()
        .find(|t| lower.starts_with(*t))
        .map(|t| if *t == "xa" { "xã" } else { t })
        .unwrap_or("")
        .to_owned()
}

fn code_of(cell: &str, digits: usize) -> Option<String> {
    let c = cell.trim();
    (c.len() == digits && c.bytes().all(|b| b.is_ascii_digit())).then(|| c.to_owned())
}

struct Seen<T> {
    first_line: u64,
    value: T,
    /// Every variant, how often it appeared and on which line first.
    variants: BTreeMap<T, (usize, u64)>,
}

fn see<T: Ord + Clone>(map: &mut BTreeMap<String, Seen<T>>, key: &str, value: T, line: u64) {
    let seen = map.entry(key.to_owned()).or_insert_with(|| Seen {
        first_line: line,
        value: value.clone(),
        variants: BTreeMap::new(),
    });
    seen.variants.entry(value).or_insert((0, line)).0 += 1;
}

/// The most frequent variant (the first seen on a tie).
fn majority<T: Ord + Clone>(seen: &Seen<T>) -> T {
    let best = seen.variants.values().map(|v| v.0).max().unwrap_or(0);
    if seen.variants.get(&seen.value).map(|v| v.0) == Some(best) {
        return seen.value.clone();
    }
    seen.variants
        .iter()
        .find(|(_, n)| n.0 == best)
        .map(|(v, _)| v.clone())
        .unwrap_or_else(|| seen.value.clone())
}

/// Reads the table. Never fails: what is wrong is in `problems`, by line.
pub fn parse(
    data: &str,
    current: &HashMap<String, CurrentCommune>,
    resolutions: &Resolutions,
) -> Lineage {
    let data = data.strip_prefix('\u{feff}').unwrap_or(data);
    let mut out = Lineage::default();
    let mut problem = |line: u64, kind: &'static str, message: String, resolved: bool| {
        out.problems.push(Problem {
            line,
            kind,
            message,
            resolved,
        })
    };
    let by_name: HashMap<(String, String), Vec<&String>> =
        current.iter().fold(HashMap::new(), |mut m, (code, c)| {
            m.entry((c.province.clone(), words(&c.name)))
                .or_default()
                .push(code);
            m
        });
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data.as_bytes());
    // Old units as the rows describe them, each row its own witness; settled after the file.
    let mut communes: BTreeMap<String, Seen<(String, String, String)>> = BTreeMap::new();
    let mut districts: BTreeMap<String, Seen<String>> = BTreeMap::new();
    let mut district_province: BTreeMap<String, Seen<String>> = BTreeMap::new();
    // (line, district, province code, province name) as each row gives them.
    let mut witnesses: Vec<(u64, String, String, String)> = Vec::new();
    let mut provinces: BTreeMap<String, Seen<String>> = BTreeMap::new();
    let mut edges = Vec::new();
    let mut pairs = std::collections::HashSet::new();
    let mut record = csv::StringRecord::new();
    let mut index = 0u64;
    loop {
        let line = reader.position().line();
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                problem(line, "unreadable", format!("not CSV: {e}"), false);
                break;
            }
        }
        index += 1;
        let line = record.position().map_or(line, |p| p.line());
        let cell = |i: usize| record.get(i).unwrap_or_default();
        if index <= 2 || (1..record.len()).all(|i| cell(i).trim().is_empty()) {
            // The two header rows, banner rows and blank lines.
            continue;
        }
        if record.len() < 8 {
            problem(
                line,
                "columns",
                format!("expected 8 columns, found {}", record.len()),
                false,
            );
            continue;
        }
        let Some((new_province_name, new_province)) = name_code(cell(0)) else {
            problem(
                line,
                "new_province",
                format!("`{}` is not `Name (code)`", clean(cell(0))),
                false,
            );
            continue;
        };
        let new_name = clean(cell(1));
        let Some(stated_new) = code_of(cell(2), 5) else {
            problem(
                line,
                "new_code",
                format!("`{}` is not a 5-digit commune code", clean(cell(2))),
                false,
            );
            continue;
        };
        let Some((district_name, district)) = name_code(cell(6)).filter(|(_, c)| c.len() == 3)
        else {
            problem(
                line,
                "old_district",
                format!("`{}` is not `Name (3-digit code)`", clean(cell(6))),
                false,
            );
            continue;
        };
        let Some((province_name, province)) = name_code(cell(7)).filter(|(_, c)| c.len() == 2)
        else {
            problem(
                line,
                "old_province",
                format!("`{}` is not `Name (2-digit code)`", clean(cell(7))),
                false,
            );
            continue;
        };
        let mut note = clean(cell(5));
        let Some(mut relation) = Relation::from_note(&note) else {
            problem(
                line,
                "note",
                format!("note `{note}` says neither whole, part, unchanged nor renamed"),
                false,
            );
            continue;
        };
        // The new commune: its code must be a current commune of that name.
        let new_code = match current.get(&stated_new) {
            Some(c) if words(&c.name) == words(&new_name) && c.province == new_province => {
                stated_new
            }
            found => {
                let candidates = by_name
                    .get(&(new_province.clone(), words(&new_name)))
                    .cloned()
                    .unwrap_or_default();
                let what = match found {
                    None => format!("new code {stated_new} is not a current commune"),
                    Some(c) => format!(
                        "new code {stated_new} is {} ({}), not {new_name}",
                        c.name, c.province
                    ),
                };
                match candidates.as_slice() {
                    [one] => {
                        problem(
                            line,
                            if found.is_none() {
                                "new_code_unknown"
                            } else {
                                "new_name_mismatch"
                            },
                            format!(
                                "{what}; linked to {new_name} ({one}) of province {new_province} by name"
                            ),
                            true,
                        );
                        (*one).clone()
                    }
                    _ => {
                        problem(
                            line,
                            "new_commune_unresolved",
                            format!(
                                "{what}, and {} current communes of province {new_province} are named {new_name}",
                                candidates.len()
                            ),
                            false,
                        );
                        continue;
                    }
                }
            }
        };
        see(&mut districts, &district, district_name, line);
        see(&mut provinces, &province, province_name.clone(), line);
        witnesses.push((line, district.clone(), province.clone(), province_name));
        let old_name = clean(cell(3));
        let (old_level, old_code) = match code_of(cell(4), 5) {
            Some(code) => {
                see(
                    &mut communes,
                    &code,
                    (old_name, district.clone(), province.clone()),
                    line,
                );
                ("commune", code)
            }
            // A special zone made from a whole district, or an area the district managed
            // itself (Kim Đông's coastal alluvial land): the edge leaves from the district.
            None if cell(4).trim().is_empty() => {
                if !words(&note).starts_with("sap xep toan bo") {
                    // Not the district itself but an area it managed: part of the district.
                    relation = Relation::Part;
                    note = format!("{note} ({old_name})");
                }
                ("district", district.clone())
            }
            None => {
                problem(
                    line,
                    "old_code",
                    format!("`{}` is not a 5-digit commune code", clean(cell(4))),
                    false,
                );
                continue;
            }
        };
        if !pairs.insert((old_level, old_code.clone(), new_code.clone())) {
            problem(
                line,
                "duplicate_edge",
                format!(
                    "{old_level} {old_code} → {new_code} is on an earlier row too; kept that one"
                ),
                true,
            );
            continue;
        }
        edges.push(Edge {
            line,
            old_level,
            old_code,
            new_code,
            relation,
            note,
            basis: basis(&new_province, &new_province_name, resolutions),
        });
    }

    // Settle each old unit on what most rows say, and report the rows that disagree.
    let mut settled_provinces: BTreeMap<String, String> = BTreeMap::new();
    for (code, seen) in &provinces {
        let name = majority(seen);
        report_variants(&mut out.problems, "old_province_name", code, seen, &name);
        settled_provinces.insert(code.clone(), name);
    }
    // A province cell whose name is that of another code (`Quảng Trị (44)` where 44 is Quảng
    // Bình): the rows' majority decides the code's name (the disagreeing rows are reported above),
    // and the row's district goes to the province of that name.
    let bare = |name: &str| {
        let w = words(name);
        for prefix in ["tinh ", "thanh pho "] {
            if let Some(rest) = w.strip_prefix(prefix) {
                return rest.to_owned();
            }
        }
        w
    };
    for (line, district, code, name) in witnesses {
        let settled = settled_provinces.get(&code).map(|n| bare(n));
        let code = if settled.as_deref() == Some(bare(&name).as_str()) {
            code
        } else {
            let named: Vec<&String> = settled_provinces
                .iter()
                .filter(|(_, n)| bare(n) == bare(&name))
                .map(|(c, _)| c)
                .collect();
            match named.as_slice() {
                [other] => {
                    out.problems.push(Problem {
                        line,
                        kind: "old_province_code",
                        message: format!(
                            "old province `{name} ({code})`: {code} is {}; district {district} placed in {name} ({other})",
                            settled_provinces.get(&code).cloned().unwrap_or_default()
                        ),
                        resolved: true,
                    });
                    (*other).clone()
                }
                _ => code,
            }
        };
        see(&mut district_province, &district, code, line);
    }
    let mut settled_district_province: BTreeMap<String, String> = BTreeMap::new();
    for (code, seen) in &district_province {
        let province = majority(seen);
        report_variants(
            &mut out.problems,
            "old_district_province",
            code,
            seen,
            &province,
        );
        settled_district_province.insert(code.clone(), province);
    }
    for (code, name) in &settled_provinces {
        out.units.push(OldUnit {
            level: "province",
            code: code.clone(),
            division_type: if words(name).starts_with("thanh pho") {
                "thành phố trung ương".into()
            } else {
                "tỉnh".into()
            },
            name: name.clone(),
            district_code: None,
            province_code: None,
        });
    }
    for (code, seen) in &districts {
        // `Thị Xã`/`Thị xã`: the same name, cased two ways; not a problem.
        let name = majority(seen);
        let distinct: Vec<&String> = seen
            .variants
            .keys()
            .filter(|v| v.to_lowercase() != name.to_lowercase())
            .collect();
        if !distinct.is_empty() {
            report_variants(&mut out.problems, "old_district_name", code, seen, &name);
        }
        out.units.push(OldUnit {
            level: "district",
            code: code.clone(),
            division_type: division_type(&name),
            name,
            district_code: None,
            province_code: settled_district_province.get(code).cloned(),
        });
    }
    for (code, seen) in &communes {
        let (name, district, _) = majority(seen);
        let mut as_names: Seen<String> = Seen {
            first_line: seen.first_line,
            value: seen.value.0.clone(),
            variants: BTreeMap::new(),
        };
        for ((n, d, _), (k, l)) in &seen.variants {
            let v = as_names
                .variants
                .entry(format!("{n} ({d})"))
                .or_insert((0, *l));
            v.0 += k;
            v.1 = v.1.min(*l);
        }
        if as_names.variants.len() > 1 {
            report_variants(
                &mut out.problems,
                "old_commune_name",
                code,
                &as_names,
                &format!("{name} ({district})"),
            );
        }
        out.units.push(OldUnit {
            level: "commune",
            code: code.clone(),
            division_type: division_type(&name),
            name,
            province_code: settled_district_province.get(&district).cloned(),
            district_code: Some(district),
        });
    }
    out.edges = edges;
    out.problems.sort_by_key(|p| p.line);
    out
}

fn report_variants<T: Ord + Clone + std::fmt::Display>(
    problems: &mut Vec<Problem>,
    kind: &'static str,
    code: &str,
    seen: &Seen<T>,
    kept: &T,
) {
    if seen.variants.len() < 2 {
        return;
    }
    let others: Vec<String> = seen
        .variants
        .iter()
        .filter(|(v, _)| *v != kept)
        .map(|(v, (n, l))| format!("`{v}` ({n} row(s), first on line {l})"))
        .collect();
    let line = seen
        .variants
        .iter()
        .filter(|(v, _)| *v != kept)
        .map(|(_, (_, l))| *l)
        .min()
        .unwrap_or(seen.first_line);
    problems.push(Problem {
        line,
        kind,
        message: format!(
            "{code} is `{kept}` in {} row(s) and {} elsewhere; kept `{kept}`",
            seen.variants.get(kept).map_or(0, |v| v.0),
            others.join(", ")
        ),
        resolved: true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_map_to_relations_whatever_their_spelling() {
        for (note, relation) in [
            ("Nhập toàn bộ", Relation::Whole),
            ("Nhâp một phần diện tích", Relation::Part),
            ("Nhập một  phần\n", Relation::Part),
            ("Giữ nguyên ", Relation::Unchanged),
            ("Đổi loại hình", Relation::RenamedType),
            ("Đổi tên", Relation::RenamedType),
            ("Đổi tên từ một phần Phường 15", Relation::Part),
            (
                "Phần còn lại sau khi tách một phần vào xã Canh Vinh",
                Relation::Part,
            ),
            (
                "Sắp xếp toàn bộ huyện Côn Đảo thành đặc khu Côn Đảo",
                Relation::Whole,
            ),
        ] {
            assert_eq!(Relation::from_note(note), Some(relation), "{note:?}");
        }
        assert_eq!(Relation::from_note("Không rõ"), None);
    }

    #[test]
    fn a_wrong_new_code_is_resolved_by_name_and_reported() {
        let current: HashMap<String, CurrentCommune> = [(
            "10441".to_owned(),
            CurrentCommune {
                name: "Xã Mỹ Đức".into(),
                province: "01".into(),
            },
        )]
        .into();
        let csv = "banner,,,\nh1,h2,h3,h4,h5,h6,h7,h8,\nHÀ NỘI,,,,,,,,\n\
Thành phố Hà Nội (01),Xã Mỹ Đức ,10440,Xã Đại Hưng,10480,\"Nhập toàn bộ\n\",Huyện Mỹ Đức (282),Thành phố Hà Nội (01),\n";
        let lineage = parse(csv, &current, &Resolutions::new());
        assert_eq!(lineage.edges.len(), 1);
        assert_eq!(lineage.edges[0].new_code, "10441");
        assert_eq!(lineage.edges[0].relation, Relation::Whole);
        assert_eq!(lineage.problems.len(), 1, "{:?}", lineage.problems);
        assert_eq!(lineage.problems[0].line, 4);
        assert!(lineage.problems[0].resolved);
        assert_eq!(lineage.count("commune"), 1);
        assert_eq!(lineage.count("district"), 1);
        assert_eq!(lineage.count("province"), 1);
    }
}
