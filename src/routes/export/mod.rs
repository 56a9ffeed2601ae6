//! Report formats: JSON, CSV (UTF-8 with a BOM, so that Excel shows Vietnamese correctly) and
//! XLSX, chosen by `?format=` or the `Accept` header, with the words people read in Vietnamese
//! unless `?lang=en` (see [`labels`]).
//!
//! CSV is for programs and stays plain: RFC 4180, one row per item, values exactly as the JSON
//! has them. A spreadsheet opening it by double-click still turns `01` into `1` (see the README,
//! "Exports"): the workbook is the form for people, with typed cells, a title block and a summary
//! ([`workbook`] for the reports, [`to_xlsx`] for every other table).

pub mod labels;
pub mod page;
pub mod sheet;
pub mod workbook;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    ExcelDateTime, Format as CellFormat, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
pub use labels::{Lang, Vocab};

pub const CSV: &str = "text/csv; charset=utf-8";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    /// A page to print (A4).
    Html,
}

/// `?format=` wins; otherwise the first of CSV or XLSX the `Accept` header names; else JSON.
pub fn negotiate(req: &HttpRequest, format: Option<Format>) -> Format {
    if let Some(f) = format {
        return f;
    }
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    for part in accept.split(',') {
        match part.split(';').next().unwrap_or_default().trim() {
            "text/csv" => return Format::Csv,
            XLSX => return Format::Xlsx,
            "text/html" => return Format::Html,
            "application/json" | "application/problem+json" | "*/*" => return Format::Json,
            _ => {}
        }
    }
    Format::Json
}

/// One cell of a table.
pub enum Cell {
    Text(String),
    Int(i64),
    Float(f64),
    /// A share in percent (`87.5`): a number in CSV, a percentage cell in a workbook.
    Percent(f64),
    Bool(bool),
    Date(NaiveDate),
    /// An enum value as the API writes it (`missing`): as is in CSV, in words in a workbook.
    Value(Vocab, &'static str),
    Empty,
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}
impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}
impl From<Option<String>> for Cell {
    fn from(s: Option<String>) -> Self {
        s.map_or(Cell::Empty, Cell::Text)
    }
}
impl From<u64> for Cell {
    fn from(n: u64) -> Self {
        Cell::Int(n as i64)
    }
}
impl From<i64> for Cell {
    fn from(n: i64) -> Self {
        Cell::Int(n)
    }
}
impl From<f64> for Cell {
    fn from(n: f64) -> Self {
        Cell::Float(n)
    }
}
impl From<bool> for Cell {
    fn from(b: bool) -> Self {
        Cell::Bool(b)
    }
}
impl From<Option<NaiveDate>> for Cell {
    fn from(d: Option<NaiveDate>) -> Self {
        d.map_or(Cell::Empty, Cell::Date)
    }
}
impl From<NaiveDate> for Cell {
    fn from(d: NaiveDate) -> Self {
        Cell::Date(d)
    }
}

/// A severity as the API writes it.
pub fn severity_value(s: crate::domain::gaps::Severity) -> Cell {
    use crate::domain::gaps::Severity;
    Cell::Value(
        Vocab::Severity,
        match s {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
        },
    )
}

/// A report flattened to rows, for CSV and XLSX.
pub struct Table {
    /// The sheet's name, a key of [`labels`].
    pub sheet: &'static str,
    /// What the table is of (unit, dates), printed in a workbook's page header.
    pub subtitle: String,
    /// Column keys of [`labels`]; the same order in every language.
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

/// A cell as CSV text. A text cell that starts like a formula is prefixed with `'`, so that a
/// spreadsheet shows it as text instead of running it.
fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) if s.starts_with(['=', '+', '-', '@']) => format!("'{s}"),
        Cell::Text(s) => s.clone(),
        Cell::Int(n) => n.to_string(),
        Cell::Float(f) | Cell::Percent(f) => f.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Value(_, v) => (*v).to_owned(),
        Cell::Empty => String::new(),
    }
}

/// The table as CSV: UTF-8 with a byte-order mark (so that Excel reads Vietnamese), a header
/// row in `lang`, CRLF line ends.
pub fn to_csv(table: &Table, lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let mut out = crate::services::csv::writer("\u{feff}".as_bytes().to_vec());
    out.write_record(table.columns.iter().map(|c| labels::csv_column(c, lang)))?;
    for row in &table.rows {
        out.write_record(row.iter().map(csv_text))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// The cell formats a workbook uses.
pub struct Styles {
    pub lang: Lang,
    pub header: CellFormat,
    pub text: CellFormat,
    pub wrap: CellFormat,
    pub date: CellFormat,
    pub datetime: CellFormat,
    /// A date in running text (no border).
    pub day: CellFormat,
    pub int: CellFormat,
    pub float: CellFormat,
    pub percent: CellFormat,
    pub title: CellFormat,
    pub section: CellFormat,
    pub label: CellFormat,
    /// Running text of the title block.
    pub note: CellFormat,
}

impl Styles {
    pub fn new(lang: Lang) -> Self {
        let (date, datetime) = match lang {
            Lang::Vi => ("dd/mm/yyyy", "dd/mm/yyyy hh:mm"),
            Lang::En => ("yyyy-mm-dd", "yyyy-mm-dd hh:mm"),
        };
        let cell = || {
            CellFormat::new()
                .set_border(FormatBorder::Thin)
                .set_align(FormatAlign::Top)
        };
        Styles {
            lang,
            header: CellFormat::new()
                .set_bold()
                .set_text_wrap()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_background_color(0xDDEBF7)
                .set_border(FormatBorder::Thin),
            // Codes are text: `@` keeps Excel from reading what a person types there as a number.
            text: cell().set_num_format("@"),
            wrap: cell().set_text_wrap(),
            date: cell().set_num_format(date).set_align(FormatAlign::Center),
            datetime: CellFormat::new()
                .set_num_format(datetime)
                .set_align(FormatAlign::Left),
            day: CellFormat::new()
                .set_num_format(date)
                .set_align(FormatAlign::Left),
            int: cell().set_num_format("#,##0"),
            float: cell().set_num_format("#,##0.0"),
            percent: cell().set_num_format("0.0%"),
            title: CellFormat::new().set_bold().set_font_size(14),
            section: CellFormat::new().set_bold().set_font_size(11),
            // Level with the first line of a value that wraps (the rules applied).
            label: CellFormat::new().set_bold().set_align(FormatAlign::Top),
            note: CellFormat::new()
                .set_text_wrap()
                .set_align(FormatAlign::Top),
        }
    }
}

pub fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(
        u16::try_from(d.year()).map_err(|_| XlsxError::DateTimeRangeError(d.to_string()))?,
        d.month() as u8,
        d.day() as u8,
    )
}

/// Writes one cell in the style of its kind; `wrap` for long text.
pub fn write_cell(
    sheet: &mut Worksheet,
    styles: &Styles,
    (row, col): (u32, u16),
    cell: &Cell,
    wrap: bool,
) -> Result<(), XlsxError> {
    let text_format = if wrap { &styles.wrap } else { &styles.text };
    match cell {
        Cell::Text(s) => sheet.write_string_with_format(row, col, s, text_format)?,
        Cell::Int(n) => sheet.write_number_with_format(row, col, *n as f64, &styles.int)?,
        Cell::Float(f) => sheet.write_number_with_format(row, col, *f, &styles.float)?,
        Cell::Percent(p) => sheet.write_number_with_format(row, col, p / 100.0, &styles.percent)?,
        Cell::Bool(b) => sheet.write_string_with_format(
            row,
            col,
            labels::value(Vocab::YesNo, &b.to_string(), styles.lang),
            text_format,
        )?,
        Cell::Date(d) => {
            sheet.write_datetime_with_format(row, col, excel_date(*d)?, &styles.date)?
        }
        Cell::Value(vocab, v) => sheet.write_string_with_format(
            row,
            col,
            labels::value(*vocab, v, styles.lang),
            text_format,
        )?,
        Cell::Empty => sheet.write_blank(row, col, text_format)?,
    };
    Ok(())
}

/// How wide a cell's text is, in characters, as a person reads it.
fn shown_width(cell: &Cell, lang: Lang) -> usize {
    match cell {
        Cell::Text(s) => s.chars().count(),
        Cell::Int(n) => n.to_string().len() + 1,
        Cell::Float(_) | Cell::Percent(_) => 7,
        Cell::Bool(b) => labels::value(Vocab::YesNo, &b.to_string(), lang)
            .chars()
            .count(),
        Cell::Date(_) => 10,
        Cell::Value(vocab, v) => labels::value(*vocab, v, lang).chars().count(),
        Cell::Empty => 0,
    }
}

/// Longest text a column shows before it wraps: a procedure's name is what people read, the
/// rest wraps sooner so that a landscape page stays legible.
fn max_width(key: &str) -> usize {
    match key {
        "procedure_name" | "commune_name" | "province_name" | "basis" | "source_url" => 40,
        // Two values, the longer of 23 letters: wrapping them only makes every row taller.
        "channel" => 24,
        "kind" | "sector" | "changed_fields" | "status" | "posting_action" | "action"
        | "posting_place" => 16,
        _ => 24,
    }
}

/// Points per line of text (Calibri 11, the workbook's default font).
const LINE_HEIGHT: f64 = 15.0;

/// Writes `columns` and `rows` as a table from `first_row`: a header, typed cells, columns as wide
/// as their content (at least `first_min` characters for the first) and rows as tall as their
/// wrapped text. Returns the last row written.
pub fn write_table(
    sheet: &mut Worksheet,
    styles: &Styles,
    (first_row, first_min): (u32, usize),
    columns: &[&'static str],
    rows: &[Vec<Cell>],
) -> Result<u32, XlsxError> {
    let lang = styles.lang;
    let mut widths = Vec::with_capacity(columns.len());
    for (c, key) in columns.iter().enumerate() {
        // A header wraps onto at most three lines; the data decides the rest.
        let header = labels::column(key, lang).chars().count().div_ceil(3).max(8);
        let data = rows
            .iter()
            .filter_map(|r| r.get(c))
            .map(|cell| shown_width(cell, lang))
            .max()
            .unwrap_or(0);
        let mut width = header.max(data).min(max_width(key));
        if c == 0 {
            width = width.max(first_min);
        }
        sheet.set_column_width(c as u16, width as f64 + 2.0)?;
        widths.push(width);
    }
    let lines = |text: usize, width: usize| text.div_ceil(width.max(1)).max(1);
    let header_lines = columns
        .iter()
        .zip(&widths)
        .map(|(key, w)| lines(labels::column(key, lang).chars().count(), *w))
        .max()
        .unwrap_or(1);
    for (c, key) in columns.iter().enumerate() {
        sheet.write_string_with_format(
            first_row,
            c as u16,
            labels::column(key, lang),
            &styles.header,
        )?;
    }
    sheet.set_row_height(first_row, LINE_HEIGHT * header_lines as f64 + 2.0)?;
    for (r, row) in rows.iter().enumerate() {
        let at = first_row + 1 + r as u32;
        let mut tallest = 1;
        for (c, (cell, width)) in row.iter().zip(&widths).enumerate() {
            let shown = shown_width(cell, lang);
            let wrap = shown > *width;
            if wrap {
                // A column's width counts digits; Vietnamese letters are narrower on average
                // (rendered, about nine tenths), more than uneven word breaks take back.
                tallest = tallest.max(lines(shown * 9 / 10, *width));
            }
            write_cell(sheet, styles, (at, c as u16), cell, wrap)?;
        }
        if tallest > 1 {
            sheet.set_row_height(at, LINE_HEIGHT * tallest as f64)?;
        }
    }
    Ok(first_row + rows.len() as u32)
}

/// Escapes text for a page header or footer, where `&` starts a code.
pub fn header_text(s: &str) -> String {
    s.replace('&', "&&")
}

/// A4 landscape, as wide as one page, `header_row` repeated on every page, the title at the top
/// and the page number at the foot; `area` is what prints.
pub fn print_setup(
    sheet: &mut Worksheet,
    lang: Lang,
    title: &str,
    subtitle: &str,
    header_row: Option<u32>,
    area: (u32, u16),
) -> Result<(), XlsxError> {
    const A4: u8 = 9;
    sheet
        .set_landscape()
        .set_paper_size(A4)
        .set_print_fit_to_pages(1, 0)
        .set_margins(0.4, 0.4, 0.6, 0.6, 0.25, 0.25)
        .set_header(format!(
            "&L&\"-,Bold\"{}&R{}",
            header_text(title),
            header_text(subtitle)
        ))
        .set_footer(format!(
            "&L{} {}&R{} &P {} &N",
            env!("CARGO_PKG_NAME"),
            env!("CARGO_PKG_VERSION"),
            labels::text("page", lang),
            labels::text("of", lang),
        ));
    sheet.set_print_area(0, 0, area.0, area.1)?;
    if let Some(row) = header_row {
        sheet.set_repeat_rows(row, row)?;
    }
    Ok(())
}

/// Any table as a workbook of one sheet, ready to filter and to print.
pub fn to_xlsx(table: &Table, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new(lang);
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let name = labels::sheet(table.sheet, lang);
    sheet.set_name(name)?;
    let last_row = write_table(sheet, &styles, (0, 0), &table.columns, &table.rows)?;
    let last_col = table.columns.len().saturating_sub(1) as u16;
    sheet.autofilter(0, 0, last_row, last_col)?;
    sheet.set_freeze_panes(1, 0)?;
    print_setup(
        sheet,
        lang,
        name,
        &table.subtitle,
        Some(0),
        (last_row, last_col),
    )?;
    workbook.save_to_buffer()
}

/// Answers `value` as JSON, or `table()` as CSV or a one-sheet workbook, with a download name.
pub fn respond<T: Serialize>(
    format: Format,
    lang: Lang,
    value: &T,
    table: impl FnOnce() -> Table,
    filename: &str,
) -> Result<HttpResponse, ApiError> {
    respond_with(format, lang, value, table, filename, |table, lang| {
        to_xlsx(&table(), lang)
    })
}

/// [`respond_with`], with a page of its own for HTML too.
pub fn respond_pages<T: Serialize, F: FnOnce() -> Table>(
    (format, lang): (Format, Lang),
    value: &T,
    table: F,
    filename: &str,
    workbook: impl FnOnce(F, Lang) -> Result<Vec<u8>, XlsxError>,
    html: impl FnOnce(Lang) -> String,
) -> Result<HttpResponse, ApiError> {
    match format {
        Format::Html => Ok(html_response(html(lang), lang)),
        other => respond_with(other, lang, value, table, filename, workbook),
    }
}

/// A page answered as such: its own policy (inline styles only), its language.
fn html_response(body: String, lang: Lang) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, page::CSP))
        .insert_header((header::CONTENT_LANGUAGE, lang_tag(lang)))
        .body(body)
}

/// [`respond`], with a workbook of its own for XLSX (made from the same rows or not).
pub fn respond_with<T: Serialize, F: FnOnce() -> Table>(
    format: Format,
    lang: Lang,
    value: &T,
    table: F,
    filename: &str,
    workbook: impl FnOnce(F, Lang) -> Result<Vec<u8>, XlsxError>,
) -> Result<HttpResponse, ApiError> {
    let disposition = |ext: &str| format!("attachment; filename=\"{filename}.{ext}\"");
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(value),
        Format::Csv => HttpResponse::Ok()
            .content_type(CSV)
            .insert_header((header::CONTENT_DISPOSITION, disposition("csv")))
            .insert_header((header::CONTENT_LANGUAGE, lang_tag(lang)))
            .body(to_csv(&table(), lang).map_err(ApiError::internal)?),
        Format::Xlsx => HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header((header::CONTENT_DISPOSITION, disposition("xlsx")))
            .insert_header((header::CONTENT_LANGUAGE, lang_tag(lang)))
            .body(workbook(table, lang).map_err(ApiError::internal)?),
        Format::Html => html_response(page::table(&table(), lang), lang),
    })
}

pub fn lang_tag(lang: Lang) -> &'static str {
    match lang {
        Lang::Vi => "vi",
        Lang::En => "en",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            sheet: "findings",
            subtitle: String::new(),
            columns: vec!["procedure_code", "kind"],
            rows: vec![
                vec![Cell::from("Hộ tịch, \"khai sinh\""), Cell::from("=1+1")],
                vec![Cell::from("1.000110"), Cell::Value(Vocab::Kind, "missing")],
                vec![Cell::Int(3), Cell::Empty],
            ],
        }
    }

    #[test]
    fn csv_quotes_and_starts_with_a_bom() {
        let csv = String::from_utf8(to_csv(&table(), Lang::Vi).unwrap_or_default());
        assert_eq!(
            csv.unwrap_or_default(),
            "\u{feff}Mã thủ tục,Loại phát hiện\r\n\"Hộ tịch, \"\"khai sinh\"\"\",'=1+1\r\n\
             1.000110,missing\r\n3,\r\n"
        );
    }

    #[test]
    fn english_csv_headers_are_the_json_field_names_in_the_same_order() {
        let csv = String::from_utf8(to_csv(&table(), Lang::En).unwrap_or_default());
        assert!(
            csv.unwrap_or_default()
                .starts_with("\u{feff}procedure_code,kind\r\n")
        );
    }
}
