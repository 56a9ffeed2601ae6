//! Reports as pages to print (`?format=html` or `Accept: text/html`): A4, the words in
//! Vietnamese unless `?lang=en`, everything inline (the page loads nothing). The commune report
//! puts its summary first; an inspection prints as its record (biên bản), with the team and a
//! block to sign; every other export prints as its table under a title.

use std::fmt::Write;

use chrono::NaiveDate;

use super::labels::{self, Lang, Vocab};
use super::sheet::esc;
use super::workbook::{
    FINDING_COLUMNS, SECTOR_COLUMNS, finding_rows, rules_text, sector_rows, summary_lines,
};
use super::{Cell, Table};
use crate::services::inspections::Inspection;
use crate::services::reports::CommuneReport;

/// A page's own Content-Security-Policy: its inline styles, nothing fetched, nothing run.
pub use super::sheet::CSP;

const STYLE: &str = "\
@page { size: A4 landscape; margin: 12mm 10mm 14mm 10mm; }
* { box-sizing: border-box; }
body { font-family: 'Times New Roman', 'Liberation Serif', serif; font-size: 10.5pt; margin: 0;
  color: #000; }
.top { display: flex; justify-content: space-between; text-align: center; font-weight: bold; }
.top div { width: 48%; }
.top .motto { text-decoration: underline; }
h1 { text-align: center; font-size: 14pt; margin: 6mm 0 1mm; }
.sub { text-align: center; margin: 0 0 4mm; }
h2 { font-size: 11.5pt; margin: 5mm 0 1.5mm; break-after: avoid; page-break-after: avoid; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.8mm 4mm; margin: 0; }
dt { font-weight: bold; }
dd { margin: 0; }
table { width: 100%; border-collapse: collapse; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 0.6pt solid #000; padding: 0.8mm 1.2mm; vertical-align: top; }
th { background: #eee; font-size: 9pt; }
td { font-size: 9pt; }
td.n { text-align: right; white-space: nowrap; }
td.v { white-space: nowrap; }
table.figures { width: auto; }
table.fixed { table-layout: fixed; }
.sign { display: flex; justify-content: space-around; margin-top: 10mm; text-align: center;
  break-inside: avoid; page-break-inside: avoid; }
.sign div { width: 40%; min-height: 35mm; }
.sign .role { font-weight: bold; }
.sign .hint { font-style: italic; font-size: 9pt; }
.foot { margin-top: 4mm; font-size: 8.5pt; font-style: italic; }
@media screen { body { max-width: 297mm; margin: 8mm auto; } }
";

fn date(d: NaiveDate, lang: Lang) -> String {
    match lang {
        Lang::Vi => d.format("%d/%m/%Y").to_string(),
        Lang::En => d.to_string(),
    }
}

/// Digits grouped by three (`.` in Vietnamese, `,` in English).
fn grouped(n: i64, lang: Lang) -> String {
    let digits = n.unsigned_abs().to_string();
    let sep = match lang {
        Lang::Vi => '.',
        Lang::En => ',',
    };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

fn decimal(f: f64, lang: Lang) -> String {
    let s = format!("{f:.1}");
    match lang {
        Lang::Vi => s.replace('.', ","),
        Lang::En => s,
    }
}

/// How a cell sits in its column.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    /// Running text: wraps.
    Text,
    /// A number: right-aligned, on one line.
    Number,
    /// A date: on one line.
    Word,
}

/// A cell as a person reads it.
fn shown(cell: &Cell, lang: Lang) -> (String, Align) {
    match cell {
        Cell::Text(s) => (esc(s), Align::Text),
        Cell::Int(n) => (grouped(*n, lang), Align::Number),
        Cell::Float(f) => (decimal(*f, lang), Align::Number),
        Cell::Percent(p) => (format!("{} %", decimal(*p, lang)), Align::Number),
        Cell::Bool(b) => (
            esc(labels::value(Vocab::YesNo, &b.to_string(), lang)),
            Align::Text,
        ),
        Cell::Date(d) => (date(*d, lang), Align::Word),
        Cell::Value(vocab, v) => (esc(labels::value(*vocab, v, lang)), Align::Text),
        Cell::Empty => (String::new(), Align::Text),
    }
}

fn table_html(out: &mut String, columns: &[&'static str], rows: &[Vec<Cell>], lang: Lang) {
    table_with_widths(out, (columns, &[]), rows, lang);
}

/// A table whose columns take these shares of the width, in percent (none: as the browser
/// lays them out).
fn table_with_widths(
    out: &mut String,
    (columns, widths): (&[&'static str], &[u8]),
    rows: &[Vec<Cell>],
    lang: Lang,
) {
    if widths.is_empty() {
        out.push_str("<table>");
    } else {
        out.push_str("<table class=\"fixed\"><colgroup>");
        for w in widths {
            let _ = write!(out, "<col style=\"width: {w}%\">");
        }
        out.push_str("</colgroup>");
    }
    out.push_str("<thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", esc(labels::column(c, lang)));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let _ = match shown(cell, lang) {
                (text, Align::Number) => write!(out, "<td class=\"n\">{text}</td>"),
                (text, Align::Word) => write!(out, "<td class=\"v\">{text}</td>"),
                (text, Align::Text) => write!(out, "<td>{text}</td>"),
            };
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
}

fn open(out: &mut String, title: &str, lang: Lang) {
    let _ = write!(
        out,
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>",
        super::lang_tag(lang),
        esc(title)
    );
}

fn close(out: &mut String, lang: Lang) {
    let now = chrono::Utc::now().naive_utc() + chrono::Duration::hours(7);
    let _ = write!(
        out,
        "<p class=\"foot\">{}: {} {} · niemyet {}</p></body></html>",
        esc(labels::text("generated", lang)),
        date(now.date(), lang),
        now.format("%H:%M"),
        env!("CARGO_PKG_VERSION"),
    );
}

/// The committee and the national motto, side by side, as official documents open.
fn heading(out: &mut String, committee: &str, lang: Lang) {
    let t = |k| esc(labels::text(k, lang));
    let _ = write!(
        out,
        "<div class=\"top\"><div>{} {}</div><div>{}<br><span class=\"motto\">{}</span></div></div>",
        t("committee"),
        esc(&committee.to_uppercase()),
        t("nation"),
        t("motto"),
    );
}

/// The commune report's body: title block, key figures, sectors, findings.
fn commune_body(out: &mut String, report: &CommuneReport, lang: Lang) {
    let t = |k| esc(labels::text(k, lang));
    let _ = write!(
        out,
        "<dl><dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd>{} ({})</dd><dt>{}</dt><dd>{}</dd>\
         <dt>{}</dt><dd>{}</dd></dl>",
        t("unit"),
        esc(&report.commune.name),
        esc(&report.commune.code),
        t("province"),
        esc(&report.province.name),
        esc(&report.province.code),
        t("as_of"),
        date(report.as_of, lang),
        t("rules"),
        esc(&rules_text(&report.rules, lang)),
    );
    let _ = write!(
        out,
        "<h2>{}</h2><table class=\"figures\"><tbody>",
        t("figures")
    );
    for (key, cell) in summary_lines(&report.summary) {
        let (text, _) = shown(&cell, lang);
        let _ = write!(
            out,
            "<tr><th>{}</th><td class=\"n\">{text}</td></tr>",
            esc(labels::column(key, lang))
        );
    }
    out.push_str("</tbody></table>");
    let _ = write!(out, "<h2>{}</h2>", t("by_sector"));
    table_html(out, &SECTOR_COLUMNS, &sector_rows(&report.sectors), lang);
    let _ = write!(
        out,
        "<h2>{} ({})</h2>",
        esc(labels::sheet("findings", lang)),
        t("sorted")
    );
    if report.findings.is_empty() {
        let _ = write!(out, "<p>{}</p>", t("no_findings"));
    } else {
        // The finding's id is for tracking on screen; the page ends at days overdue.
        let rows: Vec<Vec<Cell>> = finding_rows(report, lang)
            .into_iter()
            .map(|mut r| {
                r.truncate(FINDING_COLUMNS.len() - 1);
                r
            })
            .collect();
        // Severity, kind, code, name, sector, channel, expected decision and date, observed
        // decision and date, changed fields, due date, overdue, days overdue.
        const WIDTHS: [u8; 14] = [5, 8, 7, 16, 8, 11, 8, 6, 8, 6, 5, 6, 3, 3];
        table_with_widths(
            out,
            (&FINDING_COLUMNS[..FINDING_COLUMNS.len() - 1], &WIDTHS),
            &rows,
            lang,
        );
    }
}

/// A commune's report as a page to print.
pub fn commune(report: &CommuneReport, lang: Lang) -> String {
    let mut out = String::new();
    let title = labels::text("title_commune", lang);
    open(
        &mut out,
        &format!("{title} · {}", report.commune.name),
        lang,
    );
    heading(&mut out, &report.commune.name, lang);
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"sub\">{}</p>",
        esc(title),
        esc(&format!(
            "{} · {}",
            report.commune.name,
            date(report.as_of, lang)
        ))
    );
    commune_body(&mut out, report, lang);
    close(&mut out, lang);
    out
}

/// An inspection as its record (biên bản): when, where, who, what was found (the report frozen
/// on the day), the team's notes, and a block for the team's head and the commune's
/// representative to sign.
pub fn inspection(inspection: &Inspection, lang: Lang) -> String {
    let t = |k| esc(labels::text(k, lang));
    let s = &inspection.summary;
    // A record from the archive of a retired commune names the unit as it was.
    let (unit, committee) = match (&inspection.report, &s.archive) {
        (Some(report), _) => (report.commune.name.clone(), report.province.name.clone()),
        (None, Some(archive)) => (
            match &archive.unit.district {
                Some(d) => format!("{}, {}", archive.unit.name, d.name),
                None => archive.unit.name.clone(),
            },
            archive.unit.province.name.clone(),
        ),
        (None, None) => (s.commune.clone(), String::new()),
    };
    let mut out = String::new();
    let title = labels::text("title_inspection", lang);
    open(&mut out, &format!("{title} · {unit}"), lang);
    heading(&mut out, &committee, lang);
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"sub\">{}</p>",
        esc(title),
        esc(&format!("{unit} · {}", date(s.inspected_on, lang)))
    );
    let _ = write!(
        out,
        "<dl><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd>",
        t("inspected_on"),
        date(s.inspected_on, lang),
        t("team"),
        esc(&s.team.join(", ")),
        t("record_id"),
        esc(&s.id),
    );
    if let Some(archive) = &s.archive {
        let _ = write!(
            out,
            "<dt>{}</dt><dd>{} ({}) · {} {}</dd>",
            t("unit"),
            esc(&unit),
            esc(&archive.unit.code),
            t("archive_valid_to"),
            date(archive.unit.valid_to, lang),
        );
    }
    out.push_str("</dl>");
    match (&inspection.report, &s.archive) {
        (Some(report), _) => commune_body(&mut out, report, lang),
        (None, Some(archive)) => {
            let _ = write!(
                out,
                "<p class=\"foot\">{}</p><h2>{}</h2>",
                t("archive_note"),
                t("archive_findings")
            );
            if archive.findings.is_empty() {
                out.push_str("<p>—</p>");
            } else {
                out.push_str("<ol>");
                for finding in &archive.findings {
                    let _ = write!(out, "<li>{}</li>", esc(finding).replace('\n', "<br>"));
                }
                out.push_str("</ol>");
            }
        }
        (None, None) => {}
    }
    let _ = write!(out, "<h2>{}</h2>", t("notes"));
    match s.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        Some(notes) => {
            let _ = write!(out, "<p>{}</p>", esc(notes).replace('\n', "<br>"));
        }
        None => out.push_str("<p>—</p>"),
    }
    let _ = write!(
        out,
        "<div class=\"sign\"><div><p class=\"role\">{}</p><p class=\"hint\">{}</p></div>\
         <div><p class=\"role\">{}</p><p class=\"hint\">{}</p></div></div>",
        t("sign_unit"),
        t("sign_hint"),
        t("sign_team"),
        t("sign_hint"),
    );
    close(&mut out, lang);
    out
}

/// Any export's table as a page to print, under its title and subtitle.
pub fn table(table: &Table, lang: Lang) -> String {
    let mut out = String::new();
    let title = labels::sheet(table.sheet, lang);
    open(&mut out, title, lang);
    let _ = write!(
        out,
        "<h1>{}</h1><p class=\"sub\">{}</p>",
        esc(title),
        esc(&table.subtitle)
    );
    table_html(&mut out, &table.columns, &table.rows, lang);
    close(&mut out, lang);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_as_each_language_writes_them() {
        assert_eq!(grouped(1_234_567, Lang::Vi), "1.234.567");
        assert_eq!(grouped(1_234_567, Lang::En), "1,234,567");
        assert_eq!(grouped(-45, Lang::Vi), "-45");
        assert_eq!(grouped(100, Lang::Vi), "100");
        assert_eq!(decimal(87.25, Lang::Vi), "87,2");
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
    }
}
