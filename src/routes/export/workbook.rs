//! The commune and province reports as workbooks a People's Committee can be handed: a summary
//! sheet first (title block, key figures, a table and a chart of completeness), then the detail,
//! every sheet ready to filter and to print on A4.

use chrono::Timelike;
use rust_xlsxwriter::{Chart, ChartDataLabel, ChartType, Workbook, Worksheet, XlsxError};

use super::labels::{self, Lang, Vocab};
use super::{Cell, Styles, excel_date, print_setup, severity_value, write_cell, write_table};
use crate::domain::gaps::{FindingKind, KindCounts, Severity};
use crate::services::reports::{CommuneReport, ProvinceReport, RulesView, UnitRef};

/// What the report is about, for its title block.
struct Heading<'a> {
    title: &'static str,
    unit: &'a UnitRef,
    province: Option<&'a UnitRef>,
    as_of: chrono::NaiveDate,
    rules: &'a RulesView,
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
    let r = line(sheet, "unit")?;
    write_cell(
        sheet,
        styles,
        (r, 1),
        &Cell::from(heading.unit.code.as_str()),
        false,
    )?;
    sheet.write_string(r, 2, &heading.unit.name)?;
    if let Some(province) = heading.province {
        let r = line(sheet, "province")?;
        write_cell(
            sheet,
            styles,
            (r, 1),
            &Cell::from(province.code.as_str()),
            false,
        )?;
        sheet.write_string(r, 2, &province.name)?;
    }
    // Dates do not run on into the next cell as text does: they get three columns.
    let r = line(sheet, "as_of")?;
    sheet.merge_range(r, 1, r, 3, "", &styles.day)?;
    sheet.write_datetime_with_format(r, 1, excel_date(heading.as_of)?, &styles.day)?;
    let r = line(sheet, "rules")?;
    sheet.merge_range(
        r,
        1,
        r,
        width,
        &rules_text(heading.rules, lang),
        &styles.note,
    )?;
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
        unit: &report.commune,
        province: Some(&report.province),
        as_of: report.as_of,
        rules: &report.rules,
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
        unit: &report.province,
        province: None,
        as_of: report.as_of,
        rules: &report.rules,
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
