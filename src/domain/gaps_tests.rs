//! Every finding kind, every date boundary, and the properties of a complete board.

use chrono::{Days, NaiveDate};
use proptest::prelude::*;

use super::*;
use crate::domain::obligation::{Placement, PostingPlace};

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

fn version(
    id: &str,
    code: &str,
    scope: &str,
    from: &str,
    to: Option<&str>,
    decision: &str,
) -> CatalogueVersion {
    CatalogueVersion {
        id: id.into(),
        code: code.into(),
        scope: scope.into(),
        valid_from: d(from),
        valid_to: to.map(d),
        abolished: false,
        commune_level: true,
        placement: Placement::new(PostingPlace::CommuneCentre, "agency_commune_committee"),
        name: format!("Thủ tục {code}"),
        sector_code: "ho-tich".into(),
        announced_by: Some(decision.into()),
        announced_by_norm: Some(crate::domain::codes::normalize_decision_number(decision)),
        content_hash: format!("hash-{id}"),
    }
}

/// A: amended on Monday 2026-03-02. B: abolished that day. C: province level only.
/// D: takes effect 2026-06-01. E: a Hồ Chí Minh City version from 2026-01-05.
fn catalogue() -> CatalogueIndex {
    let mut b_end = version("b2", "1.000002", NATIONAL, "2026-03-02", None, "2/QĐ-BTP");
    b_end.abolished = true;
    let mut c = version("c1", "1.000003", NATIONAL, "2025-07-01", None, "1/QĐ-BTP");
    c.commune_level = false;
    CatalogueIndex::new(vec![
        version(
            "a1",
            "1.000001",
            NATIONAL,
            "2025-07-01",
            Some("2026-03-02"),
            "1/QĐ-BTP",
        ),
        version("a2", "1.000001", NATIONAL, "2026-03-02", None, "2/QĐ-BTP"),
        version(
            "b1",
            "1.000002",
            NATIONAL,
            "2025-07-01",
            Some("2026-03-02"),
            "1/QĐ-BTP",
        ),
        b_end,
        c,
        version("d1", "1.000004", NATIONAL, "2026-06-01", None, "3/QĐ-BTP"),
        version("e1", "1.000005", NATIONAL, "2025-07-01", None, "1/QĐ-BTP"),
        version("e79", "1.000005", "79", "2026-01-05", None, "9/QĐ-UBND"),
    ])
}

fn posting(code: &str, channel: PostingChannel, decision: &str, posted_on: &str) -> PostingFact {
    PostingFact {
        code: code.into(),
        channel,
        decision: decision.into(),
        decision_norm: crate::domain::codes::normalize_decision_number(decision),
        posted_on: d(posted_on),
    }
}

fn calendar() -> Calendar {
    Calendar::new([d("2026-03-04")])
}

fn run(
    as_of: &str,
    province: &str,
    postings: &[PostingFact],
    exemptions: &[ExemptionFact],
    rules: &ProvinceRules,
) -> Evaluation {
    let catalogue = catalogue();
    let view = catalogue.for_province(province, d(as_of), &[]);
    evaluate("26740", &view, postings, exemptions, rules, &calendar())
}

fn find<'a>(e: &'a Evaluation, code: &str, channel: PostingChannel) -> Vec<&'a Finding> {
    e.findings
        .iter()
        .filter(|f| f.procedure_code == code && f.channel == channel)
        .collect()
}

/// Every required pair posted with the version in force on `as_of`.
fn complete_board(as_of: &str) -> Vec<PostingFact> {
    let decisions: &[(&str, &str)] = if d(as_of) >= d("2026-03-02") {
        &[("1.000001", "2/QĐ-BTP"), ("1.000005", "1/QĐ-BTP")]
    } else {
        &[
            ("1.000001", "1/QĐ-BTP"),
            ("1.000002", "1/QĐ-BTP"),
            ("1.000005", "1/QĐ-BTP"),
        ]
    };
    decisions
        .iter()
        .flat_map(|(code, decision)| {
            PostingChannel::ALL
                .into_iter()
                .map(move |ch| posting(code, ch, decision, "2025-07-02"))
        })
        .collect()
}

#[test]
fn a_complete_board_has_no_findings() {
    for as_of in ["2026-02-27", "2026-03-01", "2026-03-02", "2026-05-31"] {
        let e = run(
            as_of,
            "52",
            &complete_board(as_of),
            &[],
            &ProvinceRules::default(),
        );
        assert!(e.findings.is_empty(), "{as_of}: {:?}", e.findings);
        assert_eq!(e.summary.completeness, 100.0);
        assert_eq!(e.summary.ok, e.summary.required_pairs);
    }
}

#[test]
fn an_amendment_makes_the_posting_outdated_from_its_effective_date() {
    let board = complete_board("2026-03-01");
    let before = run("2026-03-01", "52", &board, &[], &ProvinceRules::default());
    assert!(find(&before, "1.000001", PostingChannel::Counter).is_empty());
    let on = run("2026-03-02", "52", &board, &[], &ProvinceRules::default());
    let f = find(&on, "1.000001", PostingChannel::Counter);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, FindingKind::Outdated);
    assert_eq!(
        f[0].observed.as_ref().and_then(|o| o.version_id.as_deref()),
        Some("a1")
    );
    assert_eq!(
        f[0].expected.as_ref().map(|e| e.version_id.as_str()),
        Some("a2")
    );
    // Five working days after Monday 2 March, skipping the holiday on Wednesday 4 March.
    assert_eq!(f[0].due_on, Some(d("2026-03-10")));
    assert!(!f[0].overdue);
}

#[test]
fn the_due_date_is_not_overdue_on_the_day_and_is_the_day_after() {
    let board = complete_board("2026-03-01");
    for (as_of, overdue, days) in [
        ("2026-03-09", false, 0),
        ("2026-03-10", false, 0),
        ("2026-03-11", true, 1),
    ] {
        let e = run(as_of, "52", &board, &[], &ProvinceRules::default());
        let f = find(&e, "1.000001", PostingChannel::Portal)[0];
        assert_eq!((f.overdue, f.days_overdue), (overdue, days), "{as_of}");
    }
    let e = run("2026-03-11", "52", &board, &[], &ProvinceRules::default());
    assert_eq!(
        e.summary.overdue, 4,
        "two outdated and two must_remove findings"
    );
}

#[test]
fn an_abolished_procedure_still_posted_must_come_down() {
    let board = complete_board("2026-03-01");
    let e = run("2026-03-02", "52", &board, &[], &ProvinceRules::default());
    let f = find(&e, "1.000002", PostingChannel::Counter);
    assert_eq!(f[0].kind, FindingKind::MustRemove);
    assert_eq!(f[0].severity, Severity::High);
    assert_eq!(f[0].due_on, Some(d("2026-03-10")));
    let before = run("2026-03-01", "52", &board, &[], &ProvinceRules::default());
    assert!(find(&before, "1.000002", PostingChannel::Counter).is_empty());
}

#[test]
fn nothing_posted_is_missing_with_its_deadline() {
    let e = run("2026-03-02", "52", &[], &[], &ProvinceRules::default());
    assert_eq!(e.summary.required_procedures, 2);
    assert_eq!(e.summary.required_pairs, 4);
    assert_eq!(e.summary.counts.missing, 4);
    assert_eq!(e.summary.completeness, 0.0);
    let a = find(&e, "1.000001", PostingChannel::Counter)[0];
    assert_eq!(a.kind, FindingKind::Missing);
    assert!(a.observed.is_none());
    let e1 = find(&e, "1.000005", PostingChannel::Counter)[0];
    assert!(e1.overdue, "in force since 2025-07-01");
}

#[test]
fn postings_that_answer_no_requirement_are_classified() {
    let mut board = complete_board("2026-05-01");
    board.push(posting(
        "1.000003",
        PostingChannel::Counter,
        "1/QĐ-BTP",
        "2025-07-02",
    ));
    board.push(posting(
        "1.000004",
        PostingChannel::Counter,
        "3/QĐ-BTP",
        "2026-04-01",
    ));
    board.push(posting(
        "9.999999",
        PostingChannel::Portal,
        "7/QĐ-X",
        "2026-04-01",
    ));
    let e = run("2026-05-01", "52", &board, &[], &ProvinceRules::default());
    assert_eq!(
        find(&e, "1.000003", PostingChannel::Counter)[0].kind,
        FindingKind::NotApplicable
    );
    assert_eq!(
        find(&e, "1.000004", PostingChannel::Counter)[0].kind,
        FindingKind::Premature
    );
    assert_eq!(
        find(&e, "9.999999", PostingChannel::Portal)[0].kind,
        FindingKind::UnknownProcedure
    );
    assert_eq!(
        e.summary.completeness, 100.0,
        "extra postings do not lower completeness"
    );
    // On the day D takes effect it is required, and the posting of its version is ok.
    let e = run("2026-06-01", "52", &board, &[], &ProvinceRules::default());
    assert!(find(&e, "1.000004", PostingChannel::Counter).is_empty());
    assert_eq!(
        find(&e, "1.000004", PostingChannel::Portal)[0].kind,
        FindingKind::Missing
    );
}

#[test]
fn another_provinces_own_procedure_is_not_applicable_not_unknown() {
    let catalogue = catalogue().with_known_codes(["2.000999".to_owned()]);
    let view = catalogue.for_province("52", d("2026-05-01"), &[]);
    let board = vec![posting(
        "2.000999",
        PostingChannel::Counter,
        "5/QĐ-UBND",
        "2026-04-01",
    )];
    let e = evaluate(
        "23764",
        &view,
        &board,
        &[],
        &ProvinceRules::default(),
        &calendar(),
    );
    assert_eq!(
        find(&e, "2.000999", PostingChannel::Counter)[0].kind,
        FindingKind::NotApplicable
    );
}

#[test]
fn a_provincial_version_is_required_in_its_province_only() {
    let board = complete_board("2026-05-01");
    let hcm = run("2026-05-01", "79", &board, &[], &ProvinceRules::default());
    let f = find(&hcm, "1.000005", PostingChannel::Counter);
    assert_eq!(f[0].kind, FindingKind::Outdated);
    assert_eq!(
        f[0].expected.as_ref().and_then(|e| e.decision.as_deref()),
        Some("9/QĐ-UBND")
    );
    let gia_lai = run("2026-05-01", "52", &board, &[], &ProvinceRules::default());
    assert!(find(&gia_lai, "1.000005", PostingChannel::Counter).is_empty());
}

#[test]
fn an_exemption_removes_the_requirement_while_it_lasts() {
    let exemption = ExemptionFact {
        code: "1.000001".into(),
        valid_from: d("2026-01-01"),
        valid_to: Some(d("2026-04-01")),
    };
    let e = run(
        "2026-03-02",
        "52",
        &[],
        std::slice::from_ref(&exemption),
        &ProvinceRules::default(),
    );
    assert!(find(&e, "1.000001", PostingChannel::Counter).is_empty());
    assert_eq!(e.summary.required_procedures, 1);
    let after = run(
        "2026-04-01",
        "52",
        &[],
        std::slice::from_ref(&exemption),
        &ProvinceRules::default(),
    );
    assert_eq!(
        find(&after, "1.000001", PostingChannel::Counter)[0].kind,
        FindingKind::Missing
    );
    // A posting of an exempted procedure is not required: not_applicable.
    let board = vec![posting(
        "1.000001",
        PostingChannel::Counter,
        "2/QĐ-BTP",
        "2026-03-02",
    )];
    let e = run(
        "2026-03-02",
        "52",
        &board,
        &[exemption],
        &ProvinceRules::default(),
    );
    assert_eq!(
        find(&e, "1.000001", PostingChannel::Counter)[0].kind,
        FindingKind::NotApplicable
    );
}

#[test]
fn the_province_decides_the_channels_and_the_deadline() {
    let rules = ProvinceRules {
        deadline_working_days: 10,
        required_channels: vec![PostingChannel::Counter],
        posting_places: Vec::new(),
    };
    let e = run("2026-03-02", "52", &[], &[], &rules);
    assert_eq!(e.summary.required_pairs, 2);
    assert!(
        e.findings
            .iter()
            .all(|f| f.channel == PostingChannel::Counter)
    );
    let a = find(&e, "1.000001", PostingChannel::Counter)[0];
    assert_eq!(a.due_on, Some(d("2026-03-17")));
}

#[test]
fn the_timely_rate_counts_postings_made_by_their_due_date() {
    let mut board = complete_board("2026-04-01");
    // The amended A is posted on the counter in time and on the portal late.
    for p in board.iter_mut().filter(|p| p.code == "1.000001") {
        p.posted_on = match p.channel {
            PostingChannel::Counter => d("2026-03-10"),
            PostingChannel::Portal => d("2026-03-11"),
        };
    }
    let e = run("2026-04-01", "52", &board, &[], &ProvinceRules::default());
    assert_eq!(e.summary.ok, 4);
    assert_eq!(e.summary.timely, 3);
    assert_eq!(e.summary.timely_rate, 75.0);
    assert_eq!(e.summary.by_sector.len(), 1);
    assert_eq!(e.summary.by_sector[0].completeness, 100.0);
}

#[test]
fn finding_ids_are_stable_and_distinct() {
    let a = run("2026-03-02", "52", &[], &[], &ProvinceRules::default());
    let b = run("2026-03-05", "52", &[], &[], &ProvinceRules::default());
    let ids = |e: &Evaluation| e.findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&a), ids(&b));
    let mut unique = ids(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), a.findings.len());
    assert_ne!(
        finding_id(
            "26740",
            "1.000001",
            PostingChannel::Counter,
            FindingKind::Missing
        ),
        finding_id(
            "26740",
            "1.000001",
            PostingChannel::Counter,
            FindingKind::Outdated
        )
    );
}

fn random_catalogue(amended: Vec<Option<u64>>) -> CatalogueIndex {
    let mut rows = Vec::new();
    for (i, amend) in amended.into_iter().enumerate() {
        let code = format!("1.{:06}", i + 1);
        match amend {
            None => rows.push(version(
                &format!("v{i}a"),
                &code,
                NATIONAL,
                "2025-07-01",
                None,
                "1/QĐ-BTP",
            )),
            Some(days) => {
                let at = d("2025-07-01")
                    .checked_add_days(Days::new(days + 1))
                    .unwrap_or_default()
                    .to_string();
                rows.push(version(
                    &format!("v{i}a"),
                    &code,
                    NATIONAL,
                    "2025-07-01",
                    Some(&at),
                    "1/QĐ-BTP",
                ));
                rows.push(version(
                    &format!("v{i}b"),
                    &code,
                    NATIONAL,
                    &at,
                    None,
                    &format!("{}/QĐ-BTP", i + 100),
                ));
            }
        }
    }
    CatalogueIndex::new(rows)
}

fn applicable_board(catalogue: &CatalogueIndex, as_of: NaiveDate) -> Vec<PostingFact> {
    let view = catalogue.for_province("52", as_of, &[]);
    view.required_versions()
        .flat_map(|v| {
            PostingChannel::ALL.into_iter().map(move |ch| PostingFact {
                code: v.code.clone(),
                channel: ch,
                decision: v.announced_by.clone().unwrap_or_default(),
                decision_norm: v.announced_by_norm.clone().unwrap_or_default(),
                posted_on: v.valid_from,
            })
        })
        .collect()
}

proptest! {
    #[test]
    fn posting_exactly_the_applicable_versions_gives_100_percent_and_removing_one_gives_one_missing(
        amended in proptest::collection::vec(proptest::option::of(0u64..400), 1..30),
        as_of_days in 0u64..500,
        remove in any::<proptest::sample::Index>(),
    ) {
        let catalogue = random_catalogue(amended);
        let as_of = d("2025-07-01").checked_add_days(Days::new(as_of_days)).unwrap_or_default();
        let board = applicable_board(&catalogue, as_of);
        let view = catalogue.for_province("52", as_of, &[]);
        let full = evaluate("26740", &view, &board, &[], &ProvinceRules::default(), &Calendar::default());
        prop_assert!(full.findings.is_empty());
        prop_assert_eq!(full.summary.completeness, 100.0);
        prop_assert_eq!(full.summary.timely_rate, 100.0);

        // The summary-only path counts exactly what the full one finds.
        let quick = summarize("26740", &view, &board[1..], &[], &ProvinceRules::default(), &Calendar::default());
        let slow = evaluate("26740", &view, &board[1..], &[], &ProvinceRules::default(), &Calendar::default());
        prop_assert!(quick.findings.is_empty());
        prop_assert_eq!(&quick.summary.counts, &slow.summary.counts);
        prop_assert_eq!(
            (quick.summary.ok, quick.summary.overdue, quick.summary.timely),
            (slow.summary.ok, slow.summary.overdue, slow.summary.timely)
        );

        let mut fewer = board.clone();
        let gone = fewer.remove(remove.index(board.len()));
        let e = evaluate("26740", &view, &fewer, &[], &ProvinceRules::default(), &Calendar::default());
        prop_assert_eq!(e.findings.len(), 1);
        prop_assert_eq!(e.findings[0].kind, FindingKind::Missing);
        prop_assert_eq!(&e.findings[0].procedure_code, &gone.code);
        prop_assert_eq!(e.findings[0].channel, gone.channel);
        prop_assert_eq!(e.summary.ok + 1, e.summary.required_pairs);
    }
}
