//! Unit and property tests of the version timeline rules.

use std::collections::{BTreeSet, HashSet};

use chrono::{Days, NaiveDate};
use proptest::prelude::*;

use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

fn content(name: &str, fee: i64) -> ProcedureContent {
    ProcedureContent {
        name: name.to_owned(),
        sector_code: "ho-tich".into(),
        levels: BTreeSet::from([Level::Commune]),
        channels: vec![Channel {
            method: Method::Direct,
            time_value: Some(1.0),
            time_unit: Some(TimeUnit::WorkingDays),
            fee_vnd: Some(fee),
            fee_and_notes: None,
        }],
        documents: Some("Tờ khai".into()),
        steps: None,
        requirements: None,
        legal_basis: None,
        results: None,
        executing_agency: None,
        procedure_type: None,
        subjects: None,
        authority: None,
        source_url: None,
    }
}

fn code(s: &str) -> ProcedureCode {
    ProcedureCode::parse(s).expect("a valid procedure code")
}

fn sectors() -> HashSet<String> {
    HashSet::from(["ho-tich".to_owned()])
}

/// Applies a plan to in-memory rows the way the repository does.
fn apply(rows: &mut Vec<ExistingVersion>, planned: &[PlannedItem]) {
    for item in planned {
        for id in &item.closes {
            if let Some(row) = rows.iter_mut().find(|r| &r.id == id) {
                row.valid_to = Some(item.effective_on);
            }
        }
        rows.push(ExistingVersion {
            id: format!("v{}", rows.len() + 1),
            scope: item.version.scope.clone(),
            valid_from: item.version.valid_from,
            valid_to: None,
            abolished: item.version.abolished,
            announced_by_norm: item
                .version
                .announced_by
                .as_deref()
                .map(normalize_decision_number),
            content_hash: item.version.content_hash.clone(),
            content: item.version.content.clone(),
            placement: Some(item.version.placement.clone()),
        });
    }
}

fn base() -> Vec<ExistingVersion> {
    let c = content("Thủ tục đăng ký khai sinh", 0);
    vec![ExistingVersion {
        id: "v0".into(),
        scope: NATIONAL.into(),
        valid_from: d("2025-07-01"),
        valid_to: None,
        abolished: false,
        announced_by_norm: Some("163/QD-BTP".into()),
        content_hash: c.content_hash(),
        content: c,
        placement: None,
    }]
}

fn fee_patch(fee: i64) -> ContentPatch {
    ContentPatch {
        channels: Some(vec![Channel {
            method: Method::Direct,
            time_value: Some(1.0),
            time_unit: Some(TimeUnit::WorkingDays),
            fee_vnd: Some(fee),
            fee_and_notes: None,
        }]),
        ..ContentPatch::default()
    }
}

fn item(action: ItemAction, eff: &str, patch: Option<ContentPatch>) -> ItemInput {
    ItemInput {
        action,
        code: code("1.001193"),
        effective_on: d(eff),
        patch,
        posting_place: None,
    }
}

fn plan(
    scope: &Scope,
    signed: &str,
    items: Vec<ItemInput>,
    rows: &[ExistingVersion],
) -> Result<Vec<PlannedItem>, Vec<FieldError>> {
    let timelines = Timelines::from([("1.001193".to_owned(), rows.to_vec())]);
    let codes = sectors();
    let places = SectorPlaces::new();
    let sectors = SectorPlacesOf {
        codes: &codes,
        places: &places,
    };
    plan_decision(scope, d(signed), "1/QĐ-BTP", items, &timelines, &sectors)
}

#[test]
fn the_applicable_version_changes_on_the_effective_date_not_the_day_before() {
    let mut rows = base();
    let planned = plan(
        &Scope::National,
        "2026-03-01",
        vec![item(
            ItemAction::Amended,
            "2026-04-01",
            Some(fee_patch(8000)),
        )],
        &rows,
    )
    .expect("the decision is valid");
    apply(&mut rows, &planned);
    let at = |date: &str| applicable(&rows, None, d(date)).map(|v| v.id.clone());
    assert_eq!(at("2026-03-31").as_deref(), Some("v0"));
    assert_eq!(at("2026-04-01").as_deref(), Some("v2"));
    assert_eq!(at("2026-04-02").as_deref(), Some("v2"));
    assert_eq!(at("2025-06-30"), None);
    // The amendment kept the fields it did not name.
    assert_eq!(rows[1].content.documents.as_deref(), Some("Tờ khai"));
    assert_eq!(
        rows[0].content.changed_fields(&rows[1].content),
        vec!["fees"]
    );
}

#[test]
fn a_provincial_version_wins_in_its_province_and_a_national_abolition_ends_it() {
    let mut rows = base();
    let hcm = Scope::Province(UnitCode::province("79").expect("a valid province code"));
    let planned = plan(
        &hcm,
        "2026-01-01",
        vec![item(
            ItemAction::Amended,
            "2026-02-01",
            Some(fee_patch(15000)),
        )],
        &rows,
    )
    .expect("the decision is valid");
    assert!(
        planned[0].closes.is_empty(),
        "a provincial amendment leaves the national version alone"
    );
    apply(&mut rows, &planned);
    assert_eq!(
        applicable(&rows, Some("79"), d("2026-02-01")).map(|v| v.scope.as_str()),
        Some("79")
    );
    assert_eq!(
        applicable(&rows, Some("52"), d("2026-02-01")).map(|v| v.scope.as_str()),
        Some(NATIONAL)
    );
    assert_eq!(
        applicable(&rows, Some("79"), d("2026-01-31")).map(|v| v.scope.as_str()),
        Some(NATIONAL)
    );

    let planned = plan(
        &Scope::National,
        "2026-05-01",
        vec![item(ItemAction::Abolished, "2026-06-01", None)],
        &rows,
    )
    .expect("the decision is valid");
    assert_eq!(
        planned[0].closes.len(),
        2,
        "the national and the provincial open rows"
    );
    apply(&mut rows, &planned);
    assert!(applicable(&rows, Some("79"), d("2026-06-01")).is_some_and(|v| v.abolished));
    assert!(
        applicable(&rows, Some("79"), d("2026-05-31"))
            .is_some_and(|v| !v.abolished && v.scope == "79")
    );
}

#[test]
fn a_national_abolition_keeps_an_earlier_provincial_abolition() {
    let mut rows = base();
    let hanoi = Scope::Province(UnitCode::province("01").expect("a valid province code"));
    let planned = plan(
        &hanoi,
        "2026-02-01",
        vec![item(ItemAction::Abolished, "2026-03-02", None)],
        &rows,
    )
    .expect("the decision is valid");
    apply(&mut rows, &planned);
    let planned = plan(
        &Scope::National,
        "2026-11-01",
        vec![item(ItemAction::Abolished, "2026-12-01", None)],
        &rows,
    )
    .expect("the decision is valid");
    apply(&mut rows, &planned);
    let in_hanoi =
        applicable(&rows, Some("01"), d("2026-12-02")).map(|v| (v.abolished, v.valid_from));
    assert_eq!(
        in_hanoi,
        Some((true, d("2026-03-02"))),
        "Hà Nội's abolition date stands"
    );
}

#[test]
fn invalid_items_are_all_reported() {
    let rows = base();
    let items = vec![
        item(ItemAction::Amended, "2026-02-01", Some(fee_patch(1))),
        ItemInput {
            action: ItemAction::New,
            code: code("1.001193"),
            effective_on: d("2026-04-01"),
            patch: Some(ContentPatch::default()),
            posting_place: None,
        },
        ItemInput {
            action: ItemAction::Amended,
            code: code("9.999999"),
            effective_on: d("2026-04-01"),
            patch: Some(fee_patch(1)),
            posting_place: None,
        },
    ];
    let errors = plan(&Scope::National, "2026-03-01", items, &rows)
        .err()
        .unwrap_or_default();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "items[0].effective_on",
            "items[1].procedure_code",
            "items[2].procedure_code"
        ],
        "{errors:?}"
    );
}

#[test]
fn a_change_before_a_recorded_later_change_is_refused() {
    let mut rows = base();
    let planned = plan(
        &Scope::National,
        "2026-03-01",
        vec![item(
            ItemAction::Amended,
            "2026-04-01",
            Some(fee_patch(8000)),
        )],
        &rows,
    )
    .expect("the decision is valid");
    apply(&mut rows, &planned);
    for eff in ["2026-03-15", "2026-04-01"] {
        let errors = plan(
            &Scope::National,
            "2026-03-01",
            vec![item(ItemAction::Abolished, eff, None)],
            &rows,
        )
        .err()
        .unwrap_or_default();
        assert_eq!(errors.len(), 1, "{eff}: {errors:?}");
        assert!(errors[0].message.contains("2026-04-01"));
    }
}

#[test]
fn imports_create_amend_or_leave_records() {
    let rows = base();
    let same = content("Thủ tục đăng ký khai sinh", 0);
    let eff = d("2026-01-01");
    let outcome = plan_import_record(
        code("1.001193"),
        same.clone(),
        Some("163/QĐ-BTP".into()),
        (eff, 0),
        &rows,
        &SectorPlaces::new(),
    );
    assert!(matches!(outcome, Ok(ImportOutcome::Unchanged)));
    let outcome = plan_import_record(
        code("1.001193"),
        content("Khác", 0),
        Some("163/QĐ-BTP".into()),
        (eff, 0),
        &rows,
        &SectorPlaces::new(),
    );
    assert!(
        matches!(outcome, Ok(ImportOutcome::Amended(ref p)) if p.closes == vec!["v0".to_owned()])
    );
    let outcome = plan_import_record(
        code("1.001193"),
        same.clone(),
        Some("200/QĐ-BTP".into()),
        (eff, 0),
        &rows,
        &SectorPlaces::new(),
    );
    assert!(
        matches!(outcome, Ok(ImportOutcome::Amended(_))),
        "a new announcing decision is a new version"
    );
    let none = SectorPlaces::new();
    let outcome = plan_import_record(code("1.000001"), same.clone(), None, (eff, 0), &[], &none);
    assert!(matches!(outcome, Ok(ImportOutcome::Created(_))));
    let outcome = plan_import_record(
        code("1.001193"),
        same,
        None,
        (d("2025-06-01"), 0),
        &rows,
        &none,
    );
    assert!(outcome.is_err(), "not in force before its first version");
}

#[test]
fn the_content_hash_covers_posted_fields_only() {
    let a = content("A", 100);
    let mut b = a.clone();
    b.source_url = Some("https://dichvucong.gov.vn/x".into());
    b.subjects = Some("Công dân Việt Nam".into());
    assert_eq!(a.content_hash(), b.content_hash());
    b.channels[0].fee_vnd = Some(200);
    assert_ne!(a.content_hash(), b.content_hash());
    assert_eq!(a.content_hash().len(), 64);
}

#[derive(Debug, Clone)]
enum Step {
    Amend {
        province: Option<&'static str>,
        gap_days: u64,
        fee: i64,
    },
    Abolish {
        province: Option<&'static str>,
        gap_days: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let province = prop_oneof![Just(None), Just(Some("79")), Just(Some("52"))];
    prop_oneof![
        4 => (province.clone(), 1u64..60, 1i64..1000).prop_map(|(province, gap_days, fee)| Step::Amend { province, gap_days, fee }),
        1 => (province, 1u64..60).prop_map(|(province, gap_days)| Step::Abolish { province, gap_days }),
    ]
}

proptest! {
    /// Whatever sequence of decisions is accepted, every scope has at most one version in force
    /// on any date, and the applicable version is the latest one of the province's scope that
    /// started on or before the date, else the latest national one.
    #[test]
    fn accepted_decisions_keep_the_timeline_consistent(steps in proptest::collection::vec(step(), 1..12)) {
        let mut rows = base();
        let mut date = d("2025-07-01");
        for s in steps {
            let (province, gap, action, patch) = match s {
                Step::Amend { province, gap_days, fee } => (province, gap_days, ItemAction::Amended, Some(fee_patch(fee))),
                Step::Abolish { province, gap_days } => (province, gap_days, ItemAction::Abolished, None),
            };
            date = date.checked_add_days(Days::new(gap)).unwrap_or(date);
            let scope = match province {
                None => Scope::National,
                Some(p) => Scope::Province(UnitCode::province(p).expect("a valid province code")),
            };
            let signed = date.to_string();
            let items = vec![ItemInput { action, code: code("1.001193"), effective_on: date, patch, posting_place: None }];
            if let Ok(planned) = plan(&scope, &signed, items, &rows) {
                apply(&mut rows, &planned);
            }
        }
        let mut probe = d("2025-06-25");
        while probe <= date.checked_add_days(Days::new(3)).unwrap_or(date) {
            for scope in [NATIONAL, "79", "52"] {
                let in_force = rows.iter().filter(|r| r.scope == scope && window_contains(r.valid_from, r.valid_to, probe)).count();
                prop_assert!(in_force <= 1, "{scope} has {in_force} rows in force on {probe}");
            }
            for province in ["79", "52"] {
                let latest = |scope: &str| rows.iter().filter(|r| r.scope == scope && r.valid_from <= probe && window_contains(r.valid_from, r.valid_to, probe)).max_by_key(|r| r.valid_from);
                let expected = latest(province).or_else(|| latest(NATIONAL)).map(|r| r.id.clone());
                prop_assert_eq!(applicable(&rows, Some(province), probe).map(|r| r.id.clone()), expected);
            }
            // After a national abolition nothing is in force anywhere.
            if let Some(end) = rows.iter().find(|r| r.scope == NATIONAL && r.abolished).map(|r| r.valid_from)
                && probe >= end
            {
                for province in [None, Some("79"), Some("52")] {
                    prop_assert!(applicable(&rows, province, probe).is_none_or(|v| v.abolished));
                }
            }
            probe = probe.checked_add_days(Days::new(1)).unwrap_or(probe);
            if probe > d("2030-01-01") { break; }
        }
    }
}
