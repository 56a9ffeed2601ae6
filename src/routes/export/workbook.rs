//! The commune and province reports as workbooks a People's Committee can be handed: a summary
//! sheet first (title block, key figures, a table and a chart of completeness), then the detail,
//! every sheet ready to filter and to print on A4.

use chrono::Timelike;
use rust_xlsxwriter::{Chart, ChartDataLabel, ChartType, Workbook, Worksheet, XlsxError};

use super::labels::{self, Lang, Vocab};
use super::{Cell, Styles, excel_date, print_setup, severity_value, write_cell, write_table};
use crate::domain::gaps::{FindingKind, KindCounts, Severity};
use crate::services::reports::{
    CommuneReport, DecisionImpact, ImpactRow, NationalReport, ProvinceReport, ProvinceRow,
    RulesView,
};

/// What the report is about, for its title block.
struct Heading<'a> {
    title: &'static str,
    /// Label key, code (written as text, if any) and name: the unit, its province, a decision.
    subjects: Vec<(&'static str, &'a str, &'a str)>,
    as_of: chrono::NaiveDate,
    rules: String,
}

/// The rules a report applied, in words.
pub(super) fn rules_text(rules: &RulesView, lang: Lang) -> String {
    let channels: Vec<_> = rules
        .required_channels
        .iter()
        .map(|c| labels::value(Vocab::Channel, c.as_str(), lang))
        .collect();
    let places: Vec<_> = rules
        .posting_places
        .iter()
        .map(|p| labels::value(Vocab::Place, p.as_str(), lang))
        .collect();
    format!(
        "{}; {}: {}; {}: {}",
        labels::text("rule_deadline", lang).replace("{}", &rules.deadline_working_days.to_string()),
        labels::text("rule_channels", lang),
        channels.join(", "),
        labels::text("rule_places", lang),
        places.join(", "),
    )
}

/// Now, in Vietnam (UTC+7, no daylight saving).
fn generated_at() -> Result<rust_xlsxwriter::ExcelDateTime, XlsxError> {
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::hours(7);
    excel_date(now.date())?.and_hms(now.hour() as u16, now.minute() as u8, now.second())
}

/// The title block from the first row; returns the next free row.
fn title_block(
    sheet: &mut Worksheet,
    styles: &Styles,
    heading: &Heading<'_>,
    width: u16,
) -> Result<u32, XlsxError> {
    let lang = styles.lang;
    let t = |key| labels::text(key, lang);
    sheet.merge_range(0, 0, 0, width, t(heading.title), &styles.title)?;
    sheet.set_row_height(0, 24)?;
    let mut row = 2;
    let mut line = |sheet: &mut Worksheet, key: &'static str| -> Result<u32, XlsxError> {
        sheet.write_string_with_format(row, 0, t(key), &styles.label)?;
        row += 1;
        Ok(row - 1)
    };
    // The code first, as text; the name runs on to the right.
    for (key, code, name) in &heading.subjects {
        let r = line(sheet, key)?;
        let at = if code.is_empty() {
            1
        } else {
            write_cell(sheet, styles, (r, 1), &Cell::from(*code), false)?;
            2
        };
        if !name.is_empty() {
            sheet.write_string(r, at, *name)?;
        }
    }
    // Dates do not run on into the next cell as text does: they get three columns.
    let r = line(sheet, "as_of")?;
    sheet.merge_range(r, 1, r, 3, "", &styles.day)?;
    sheet.write_datetime_with_format(r, 1, excel_date(heading.as_of)?, &styles.day)?;
    let r = line(sheet, "rules")?;
    sheet.merge_range(r, 1, r, width, &heading.rules, &styles.note)?;
    sheet.set_row_height(r, 30)?;
    let r = line(sheet, "generated")?;
    sheet.merge_range(r, 1, r, 3, "", &styles.datetime)?;
    sheet.write_datetime_with_format(r, 1, generated_at()?, &styles.datetime)?;
    let r = line(sheet, "software")?;
    sheet.write_string(
        r,
        1,
        format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
    )?;
    Ok(row + 1)
}

/// Label and value, one line each, from `row`; returns the next free row.
fn figures(
    sheet: &mut Worksheet,
    styles: &Styles,
    mut row: u32,
    lines: &[(&'static str, Cell)],
) -> Result<u32, XlsxError> {
    sheet.write_string_with_format(
        row,
        0,
        labels::text("figures", styles.lang),
        &styles.section,
    )?;
    row += 1;
    for (key, value) in lines {
        sheet.write_string_with_format(row, 0, labels::column(key, styles.lang), &styles.wrap)?;
        write_cell(sheet, styles, (row, 1), value, false)?;
        row += 1;
    }
    Ok(row + 1)
}

fn kind_lines(counts: &KindCounts) -> Vec<(&'static str, Cell)> {
    FindingKind::ALL
        .iter()
        .map(|k| (k.as_str(), Cell::from(counts.get(*k))))
        .collect()
}

/// A bar per row of `(first..=last)` of the summary sheet: names in `name_col`, completeness in
/// `value_col`. On a chart sheet of its own, which prints as one page: a chart in a worksheet is
/// cut wherever a page break falls.
fn completeness_chart(
    workbook: &mut Workbook,
    styles: &Styles,
    (title, subtitle): (&'static str, &str),
    (first, last): (u32, u32),
    (name_col, value_col): (u16, u16),
) -> Result<(), XlsxError> {
    if last < first {
        return Ok(());
    }
    let lang = styles.lang;
    let name = labels::sheet("summary", lang);
    let mut chart = Chart::new(ChartType::Bar);
    chart
        .add_series()
        .set_categories((name, first, name_col, last, name_col))
        .set_values((name, first, value_col, last, value_col))
        .set_data_label(ChartDataLabel::new().show_value());
    chart.title().set_name(labels::text(title, lang));
    chart.legend().set_hidden();
    chart.x_axis().set_num_format("0%").set_min(0).set_max(1);
    // The first row on top, as in the table.
    chart.y_axis().set_reverse();
    let sheet = workbook.add_chartsheet();
    sheet.set_name(labels::sheet("chart", lang))?;
    sheet
        .set_landscape()
        .set_paper_size(9)
        .set_header(format!("&R{}", super::header_text(subtitle)))
        .set_footer(format!(
            "&L{} {}",
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION")
        ));
    sheet.insert_chart(0, 0, &chart)?;
    Ok(())
}

fn rank(s: Severity) -> u8 {
    match s {
        Severity::High => 0,
        Severity::Medium => 1,
        Severity::Low => 2,
    }
}

/// The changed fields of an `outdated` finding, in words.
fn fields_text(fields: &[String], lang: Lang) -> String {
    fields
        .iter()
        .map(|f| labels::value(Vocab::Field, f, lang))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) const FINDING_COLUMNS: [&str; 15] = [
    "severity",
    "kind",
    "procedure_code",
    "procedure_name",
    "sector",
    "channel",
    "expected_decision",
    "expected_effective_on",
    "observed_decision",
    "observed_posted_on",
    "changed_fields",
    "due_on",
    "overdue",
    "days_overdue",
    "finding_id",
];

pub(super) const SECTOR_COLUMNS: [&str; 7] = [
    "sector",
    "sector_code",
    "required_pairs",
    "ok",
    "missing",
    "outdated",
    "completeness",
];

pub(super) fn sector_rows(sectors: &[crate::services::reports::SectorCoverage]) -> Vec<Vec<Cell>> {
    sectors
        .iter()
        .map(|s| {
            vec![
                Cell::from(s.sector_name.as_str()),
                Cell::from(s.sector_code.as_str()),
                Cell::from(s.required_pairs),
                Cell::from(s.ok),
                Cell::from(s.missing),
                Cell::from(s.outdated),
                Cell::Percent(s.completeness),
            ]
        })
        .collect()
}

/// How wide the first column of a summary must be for its labels.
fn label_width(keys: &[&'static str], lang: Lang) -> usize {
    keys.iter()
        .map(|k| labels::column(k, lang).chars().count())
        .chain(
            [
                "unit",
                "province",
                "decision",
                "scope",
                "as_of",
                "rules",
                "generated",
                "software",
            ]
            .iter()
            .map(|k| labels::text(k, lang).chars().count()),
        )
        .max()
        .unwrap_or(24)
        .clamp(24, 44)
}

/// A commune's report: summary (figures, sectors, chart), then its findings worst first.
/// A commune report's key figures, in the order people read them.
pub(super) fn summary_lines(s: &crate::domain::gaps::Summary) -> Vec<(&'static str, Cell)> {
    let mut lines = vec![
        ("required_procedures", Cell::from(s.required_procedures)),
        ("required_pairs", Cell::from(s.required_pairs)),
        ("ok", Cell::from(s.ok)),
        ("completeness", Cell::Percent(s.completeness)),
    ];
    lines.extend(kind_lines(&s.counts));
    lines.extend([
        ("overdue", Cell::from(s.overdue)),
        ("timely", Cell::from(s.timely)),
        ("timely_rate", Cell::Percent(s.timely_rate)),
    ]);
    lines
}

/// A commune report's findings as rows of [`FINDING_COLUMNS`], the most severe and the most
/// overdue first.
pub(super) fn finding_rows(report: &CommuneReport, lang: Lang) -> Vec<Vec<Cell>> {
    let mut findings: Vec<_> = report.findings.iter().collect();
    findings.sort_by(|a, b| {
        let (a, b) = (&a.finding, &b.finding);
        (
            rank(a.severity),
            -a.days_overdue,
            &a.procedure_code,
            a.channel,
        )
            .cmp(&(
                rank(b.severity),
                -b.days_overdue,
                &b.procedure_code,
                b.channel,
            ))
    });
    findings
        .iter()
        .map(|f| {
            let g = &f.finding;
            vec![
                severity_value(g.severity),
                Cell::Value(Vocab::Kind, g.kind.as_str()),
                Cell::from(g.procedure_code.as_str()),
                Cell::from(g.procedure_name.clone()),
                Cell::from(f.sector_name.clone()),
                Cell::Value(Vocab::Channel, g.channel.as_str()),
                Cell::from(g.expected.as_ref().and_then(|e| e.decision.clone())),
                Cell::from(g.expected.as_ref().map(|e| e.effective_on)),
                Cell::from(g.observed.as_ref().map(|o| o.decision.clone())),
                Cell::from(g.observed.as_ref().map(|o| o.posted_on)),
                Cell::from(fields_text(&g.changed_fields, lang)),
                Cell::from(g.due_on),
                Cell::from(g.overdue),
                Cell::from(g.days_overdue),
                Cell::from(g.id.as_str()),
            ]
        })
        .collect()
}

pub fn commune(report: &CommuneReport, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new(lang);
    let mut workbook = Workbook::new();
    let subtitle = format!(
        "{} ({}) · {}",
        report.commune.name, report.commune.code, report.as_of
    );
    let s = &report.summary;

    let sheet = workbook.add_worksheet();
    sheet.set_name(labels::sheet("summary", lang))?;
    let heading = Heading {
        title: "title_commune",
        subjects: vec![
            ("unit", &report.commune.code, &report.commune.name),
            ("province", &report.province.code, &report.province.name),
        ],
        as_of: report.as_of,
        rules: rules_text(&report.rules, lang),
    };
    let width = SECTOR_COLUMNS.len() as u16 - 1;
    let row = title_block(sheet, &styles, &heading, width)?;
    let lines = summary_lines(s);
    let row = figures(sheet, &styles, row, &lines)?;
    sheet.write_string_with_format(row, 0, labels::text("by_sector", lang), &styles.section)?;
    let header = row + 1;
    let rows = sector_rows(&report.sectors);
    let keys: Vec<_> = lines.iter().map(|l| l.0).collect();
    let last = write_table(
        sheet,
        &styles,
        (header, label_width(&keys, lang)),
        &SECTOR_COLUMNS,
        &rows,
    )?;
    let title = labels::text("title_commune", lang);
    print_setup(sheet, lang, title, &subtitle, Some(header), (last, width))?;
    completeness_chart(
        &mut workbook,
        &styles,
        ("chart_sector", &subtitle),
        (header + 1, last),
        (0, width),
    )?;

    let sheet = workbook.add_worksheet();
    let name = labels::sheet("findings", lang);
    sheet.set_name(name)?;
    let rows = finding_rows(report, lang);
    let last = write_table(sheet, &styles, (0, 0), &FINDING_COLUMNS, &rows)?;
    let last_col = FINDING_COLUMNS.len() as u16 - 1;
    sheet.autofilter(0, 0, last, last_col)?;
    sheet.set_freeze_panes(1, 0)?;
    // The finding's id is for tracking on screen; the printed page ends at days overdue.
    print_setup(
        sheet,
        lang,
        &format!("{} — {}", name, labels::text("sorted", lang)),
        &subtitle,
        Some(0),
        (last, last_col - 1),
    )?;
    workbook.save_to_buffer()
}

const COMMUNE_COLUMNS: [&str; 11] = [
    "commune_name",
    "commune_code",
    "required_pairs",
    "ok",
    "completeness",
    "missing",
    "outdated",
    "must_remove",
    "other",
    "overdue",
    "timely_rate",
];

/// A province's report: summary (figures, a row per commune worst first, chart), then each
/// sector's coverage across the province.
pub fn province(report: &ProvinceReport, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new(lang);
    let mut workbook = Workbook::new();
    let subtitle = format!(
        "{} ({}) · {}",
        report.province.name, report.province.code, report.as_of
    );
    let t = &report.totals;

    let sheet = workbook.add_worksheet();
    sheet.set_name(labels::sheet("summary", lang))?;
    let heading = Heading {
        title: "title_province",
        subjects: vec![("unit", &report.province.code, &report.province.name)],
        as_of: report.as_of,
        rules: rules_text(&report.rules, lang),
    };
    let width = COMMUNE_COLUMNS.len() as u16 - 1;
    let row = title_block(sheet, &styles, &heading, width)?;
    let mut lines = vec![
        ("communes", Cell::from(t.communes)),
        ("required_pairs", Cell::from(t.required_pairs)),
        ("ok", Cell::from(t.ok)),
        ("completeness", Cell::Percent(t.completeness)),
    ];
    lines.extend(kind_lines(&t.counts));
    lines.extend([
        ("overdue", Cell::from(t.overdue)),
        ("timely", Cell::from(t.timely)),
        ("timely_rate", Cell::Percent(t.timely_rate)),
    ]);
    let row = figures(sheet, &styles, row, &lines)?;
    sheet.write_string_with_format(row, 0, labels::text("by_commune", lang), &styles.section)?;
    let header = row + 1;
    let rows: Vec<Vec<Cell>> = report
        .communes
        .iter()
        .map(|c| {
            vec![
                Cell::from(c.name.as_str()),
                Cell::from(c.code.as_str()),
                Cell::from(c.required_pairs),
                Cell::from(c.ok),
                Cell::Percent(c.completeness),
                Cell::from(c.missing),
                Cell::from(c.outdated),
                Cell::from(c.must_remove),
                Cell::from(c.other),
                Cell::from(c.overdue),
                Cell::Percent(c.timely_rate),
            ]
        })
        .collect();
    let keys: Vec<_> = lines.iter().map(|l| l.0).collect();
    let last = write_table(
        sheet,
        &styles,
        (header, label_width(&keys, lang)),
        &COMMUNE_COLUMNS,
        &rows,
    )?;
    sheet.autofilter(header, 0, last, width)?;
    let title = labels::text("title_province", lang);
    print_setup(sheet, lang, title, &subtitle, Some(header), (last, width))?;
    completeness_chart(
        &mut workbook,
        &styles,
        ("chart_commune", &subtitle),
        (header + 1, last),
        (0, 4),
    )?;

    let sheet = workbook.add_worksheet();
    let name = labels::sheet("sectors", lang);
    sheet.set_name(name)?;
    let rows = sector_rows(&report.sectors);
    let last = write_table(sheet, &styles, (0, 0), &SECTOR_COLUMNS, &rows)?;
    let last_col = SECTOR_COLUMNS.len() as u16 - 1;
    sheet.autofilter(0, 0, last, last_col)?;
    sheet.set_freeze_panes(1, 0)?;
    print_setup(sheet, lang, name, &subtitle, Some(0), (last, last_col))?;
    workbook.save_to_buffer()
}

/// The national summary's table: a row per province, worst first.
const PROVINCE_COLUMNS: [&str; 10] = [
    "province_name",
    "province_code",
    "communes",
    "incomplete_communes",
    "completeness",
    "missing",
    "outdated",
    "must_remove",
    "overdue",
    "timely_rate",
];

/// The national detail: every figure of every province, in code order.
const PROVINCE_DETAIL_COLUMNS: [&str; 16] = [
    "province_code",
    "province_name",
    "communes",
    "incomplete_communes",
    "required_pairs",
    "ok",
    "completeness",
    "missing",
    "outdated",
    "must_remove",
    "not_applicable",
    "premature",
    "unknown_procedure",
    "overdue",
    "timely",
    "timely_rate",
];

fn province_detail_row(p: &ProvinceRow) -> Vec<Cell> {
    let (t, c) = (&p.totals, &p.totals.counts);
    vec![
        Cell::from(p.code.as_str()),
        Cell::from(p.name.as_str()),
        Cell::from(t.communes),
        Cell::from(p.incomplete_communes),
        Cell::from(t.required_pairs),
        Cell::from(t.ok),
        Cell::Percent(t.completeness),
        Cell::from(c.missing),
        Cell::from(c.outdated),
        Cell::from(c.must_remove),
        Cell::from(c.not_applicable),
        Cell::from(c.premature),
        Cell::from(c.unknown_procedure),
        Cell::from(t.overdue),
        Cell::from(t.timely),
        Cell::Percent(t.timely_rate),
    ]
}

/// A detail sheet: the table from the first row, header frozen, filter on, printed with the
/// header on every page.
fn detail_sheet(
    workbook: &mut Workbook,
    styles: &Styles,
    (name, title): (&'static str, &str),
    subtitle: &str,
    columns: &[&'static str],
    rows: &[Vec<Cell>],
) -> Result<(), XlsxError> {
    let sheet = workbook.add_worksheet();
    sheet.set_name(labels::sheet(name, styles.lang))?;
    let last = write_table(sheet, styles, (0, 0), columns, rows)?;
    let last_col = columns.len() as u16 - 1;
    sheet.autofilter(0, 0, last, last_col)?;
    sheet.set_freeze_panes(1, 0)?;
    print_setup(
        sheet,
        styles.lang,
        title,
        subtitle,
        Some(0),
        (last, last_col),
    )?;
    Ok(())
}

/// The national report: summary (figures, a row per province worst first, chart), then every
/// province's figures in code order.
pub fn national(report: &NationalReport, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new(lang);
    let mut workbook = Workbook::new();
    let country = labels::text("whole_country", lang);
    let subtitle = format!("{country} · {}", report.as_of);
    let t = &report.totals;

    let sheet = workbook.add_worksheet();
    sheet.set_name(labels::sheet("summary", lang))?;
    let heading = Heading {
        title: "title_national",
        subjects: vec![("scope", "", country)],
        as_of: report.as_of,
        rules: labels::text("rules_each_province", lang).to_owned(),
    };
    let width = PROVINCE_COLUMNS.len() as u16 - 1;
    let row = title_block(sheet, &styles, &heading, width)?;
    let mut lines = vec![
        ("provinces", Cell::from(report.provinces.len() as u64)),
        ("communes", Cell::from(t.communes)),
        (
            "incomplete_communes",
            Cell::from(
                report
                    .provinces
                    .iter()
                    .map(|p| p.incomplete_communes)
                    .sum::<u64>(),
            ),
        ),
        ("required_pairs", Cell::from(t.required_pairs)),
        ("ok", Cell::from(t.ok)),
        ("completeness", Cell::Percent(t.completeness)),
    ];
    lines.extend(kind_lines(&t.counts));
    lines.extend([
        ("overdue", Cell::from(t.overdue)),
        ("timely", Cell::from(t.timely)),
        ("timely_rate", Cell::Percent(t.timely_rate)),
    ]);
    let row = figures(sheet, &styles, row, &lines)?;
    sheet.write_string_with_format(row, 0, labels::text("by_province", lang), &styles.section)?;
    let header = row + 1;
    let rows: Vec<Vec<Cell>> = report
        .provinces
        .iter()
        .map(|p| {
            let (t, c) = (&p.totals, &p.totals.counts);
            vec![
                Cell::from(p.name.as_str()),
                Cell::from(p.code.as_str()),
                Cell::from(t.communes),
                Cell::from(p.incomplete_communes),
                Cell::Percent(t.completeness),
                Cell::from(c.missing),
                Cell::from(c.outdated),
                Cell::from(c.must_remove),
                Cell::from(t.overdue),
                Cell::Percent(t.timely_rate),
            ]
        })
        .collect();
    let keys: Vec<_> = lines.iter().map(|l| l.0).collect();
    let last = write_table(
        sheet,
        &styles,
        (header, label_width(&keys, lang)),
        &PROVINCE_COLUMNS,
        &rows,
    )?;
    sheet.autofilter(header, 0, last, width)?;
    let title = labels::text("title_national", lang);
    print_setup(sheet, lang, title, &subtitle, Some(header), (last, width))?;
    completeness_chart(
        &mut workbook,
        &styles,
        ("chart_province", &subtitle),
        (header + 1, last),
        (0, 4),
    )?;

    let mut by_code: Vec<_> = report.provinces.iter().collect();
    by_code.sort_by(|a, b| a.code.cmp(&b.code));
    let rows: Vec<_> = by_code.into_iter().map(province_detail_row).collect();
    let name = labels::sheet("provinces", lang);
    detail_sheet(
        &mut workbook,
        &styles,
        ("provinces", name),
        &subtitle,
        &PROVINCE_DETAIL_COLUMNS,
        &rows,
    )?;
    workbook.save_to_buffer()
}

/// What a decision may leave to do.
const IMPACT_KINDS: [FindingKind; 3] = [
    FindingKind::Missing,
    FindingKind::Outdated,
    FindingKind::MustRemove,
];

const KIND_CHANNEL_COLUMNS: [&str; 4] = ["kind", "counter", "portal", "total"];

const IMPACT_PROVINCE_COLUMNS: [&str; 8] = [
    "province_name",
    "province_code",
    "communes_affected",
    "pending",
    "missing",
    "outdated",
    "must_remove",
    "overdue",
];

const IMPACT_COLUMNS: [&str; 10] = [
    "province_code",
    "commune_code",
    "commune_name",
    "procedure_code",
    "procedure_name",
    "channel",
    "kind",
    "due_on",
    "overdue",
    "days_overdue",
];

/// Pending actions by kind (rows) and channel (columns), with totals.
fn kind_channel_rows(rows: &[ImpactRow], lang: Lang) -> Vec<Vec<Cell>> {
    use crate::domain::gaps::PostingChannel;
    let count = |kind: Option<FindingKind>, channel: Option<PostingChannel>| {
        rows.iter()
            .filter(|r| kind.is_none_or(|k| r.kind == k))
            .filter(|r| channel.is_none_or(|c| r.channel == c))
            .count() as u64
    };
    let line = |kind: Option<FindingKind>| {
        vec![
            kind.map_or_else(
                || Cell::from(labels::text("total", lang)),
                |k| Cell::Value(Vocab::Kind, k.as_str()),
            ),
            Cell::from(count(kind, Some(PostingChannel::Counter))),
            Cell::from(count(kind, Some(PostingChannel::Portal))),
            Cell::from(count(kind, None)),
        ]
    };
    IMPACT_KINDS
        .iter()
        .map(|k| line(Some(*k)))
        .chain([line(None)])
        .collect()
}

/// Pending actions per province, the most first.
fn impact_province_rows(
    rows: &[ImpactRow],
    names: &std::collections::HashMap<String, String>,
) -> Vec<Vec<Cell>> {
    use std::collections::{BTreeMap, HashSet};
    let mut by: BTreeMap<&str, Vec<&ImpactRow>> = BTreeMap::new();
    for r in rows {
        by.entry(r.province_code.as_str()).or_default().push(r);
    }
    let mut by: Vec<_> = by.into_iter().collect();
    by.sort_by_key(|(_, rows)| std::cmp::Reverse(rows.len()));
    by.into_iter()
        .map(|(code, rows)| {
            let kind = |k: FindingKind| rows.iter().filter(|r| r.kind == k).count() as u64;
            let communes: HashSet<_> = rows.iter().map(|r| r.commune_code.as_str()).collect();
            vec![
                Cell::from(names.get(code).map_or(code, String::as_str)),
                Cell::from(code),
                Cell::from(communes.len() as u64),
                Cell::from(rows.len() as u64),
                Cell::from(kind(FindingKind::Missing)),
                Cell::from(kind(FindingKind::Outdated)),
                Cell::from(kind(FindingKind::MustRemove)),
                Cell::from(rows.iter().filter(|r| r.overdue).count() as u64),
            ]
        })
        .collect()
}

/// A decision's impact: summary (figures, a table by kind and channel, a row per province), then
/// every pending action, the longest overdue first. `names` gives the provinces' names.
pub fn impact(
    report: &DecisionImpact,
    names: &std::collections::HashMap<String, String>,
    lang: Lang,
) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new(lang);
    let mut workbook = Workbook::new();
    let scope = match &report.province {
        Some(code) => (code.as_str(), names.get(code).map_or("", String::as_str)),
        None => ("", labels::text("whole_country", lang)),
    };
    let subtitle = format!(
        "{} · {} · {}",
        report.decision_number,
        if scope.1.is_empty() { scope.0 } else { scope.1 },
        report.as_of
    );

    let sheet = workbook.add_worksheet();
    sheet.set_name(labels::sheet("summary", lang))?;
    let heading = Heading {
        title: "title_impact",
        subjects: vec![
            ("decision", &report.decision_number, ""),
            ("scope", scope.0, scope.1),
        ],
        as_of: report.as_of,
        rules: labels::text("rules_each_province", lang).to_owned(),
    };
    let width = IMPACT_PROVINCE_COLUMNS.len() as u16 - 1;
    let row = title_block(sheet, &styles, &heading, width)?;
    let provinces: std::collections::HashSet<_> =
        report.rows.iter().map(|r| &r.province_code).collect();
    let lines = vec![
        ("provinces", Cell::from(provinces.len() as u64)),
        ("communes_affected", Cell::from(report.communes_affected)),
        ("pending", Cell::from(report.pending)),
        (
            "overdue",
            Cell::from(report.rows.iter().filter(|r| r.overdue).count() as u64),
        ),
    ];
    let row = figures(sheet, &styles, row, &lines)?;
    let keys: Vec<_> = lines.iter().map(|l| l.0).collect();
    let first_min = label_width(&keys, lang);
    sheet.write_string_with_format(
        row,
        0,
        labels::text("by_kind_channel", lang),
        &styles.section,
    )?;
    let rows = kind_channel_rows(&report.rows, lang);
    let last = write_table(
        sheet,
        &styles,
        (row + 1, first_min),
        &KIND_CHANNEL_COLUMNS,
        &rows,
    )?;
    let row = last + 2;
    sheet.write_string_with_format(
        row,
        0,
        labels::text("by_province_impact", lang),
        &styles.section,
    )?;
    let header = row + 1;
    let rows = impact_province_rows(&report.rows, names);
    let last = write_table(
        sheet,
        &styles,
        (header, first_min),
        &IMPACT_PROVINCE_COLUMNS,
        &rows,
    )?;
    sheet.autofilter(header, 0, last, width)?;
    let title = labels::text("title_impact", lang);
    print_setup(sheet, lang, title, &subtitle, Some(header), (last, width))?;

    let mut pending: Vec<_> = report.rows.iter().collect();
    pending.sort_by(|a, b| {
        (
            -a.days_overdue,
            &a.province_code,
            &a.commune_code,
            &a.procedure_code,
            a.channel,
        )
            .cmp(&(
                -b.days_overdue,
                &b.province_code,
                &b.commune_code,
                &b.procedure_code,
                b.channel,
            ))
    });
    let rows: Vec<Vec<Cell>> = pending
        .iter()
        .map(|i| {
            vec![
                Cell::from(i.province_code.as_str()),
                Cell::from(i.commune_code.as_str()),
                Cell::from(i.commune_name.as_str()),
                Cell::from(i.procedure_code.as_str()),
                Cell::from(i.procedure_name.clone()),
                Cell::Value(Vocab::Channel, i.channel.as_str()),
                Cell::Value(Vocab::Kind, i.kind.as_str()),
                Cell::from(i.due_on),
                Cell::from(i.overdue),
                Cell::from(i.days_overdue),
            ]
        })
        .collect();
    let name = labels::sheet("impact", lang);
    detail_sheet(
        &mut workbook,
        &styles,
        (
            "impact",
            &format!("{} — {}", name, labels::text("sorted_overdue", lang)),
        ),
        &subtitle,
        &IMPACT_COLUMNS,
        &rows,
    )?;
    workbook.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_ranks_high_first() {
        let mut all = [Severity::Low, Severity::High, Severity::Medium];
        all.sort_by_key(|s| rank(*s));
        assert_eq!(all, [Severity::High, Severity::Medium, Severity::Low]);
    }

    #[test]
    fn rules_read_in_vietnamese() {
        let rules = RulesView {
            deadline_working_days: 5,
            required_channels: vec![crate::domain::gaps::PostingChannel::Counter],
            posting_places: vec![],
        };
        let text = rules_text(&rules, Lang::Vi);
        assert!(text.starts_with("hạn niêm yết 5 ngày làm việc"), "{text}");
        assert!(text.contains("Tại Bộ phận Một cửa"), "{text}");
    }
}
