//! Report formats: JSON, CSV (UTF-8 with a BOM, so that Excel shows Vietnamese correctly) and
//! XLSX, chosen by `?format=` or the `Accept` header.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

pub const CSV: &str = "text/csv; charset=utf-8";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Json,
    Csv,
    Xlsx,
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
    Bool(bool),
    Date(NaiveDate),
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

/// A report flattened to rows, for CSV and XLSX.
pub struct Table {
    pub sheet: &'static str,
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
        Cell::Float(f) => f.to_string(),
        Cell::Bool(b) => b.to_string(),
        Cell::Date(d) => d.to_string(),
        Cell::Empty => String::new(),
    }
}

/// The table as CSV: UTF-8 with a byte-order mark (so that Excel reads Vietnamese), a header
/// row, CRLF line ends.
pub fn to_csv(table: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut out = crate::services::csv::writer("\u{feff}".as_bytes().to_vec());
    out.write_record(&table.columns)?;
    for row in &table.rows {
        out.write_record(row.iter().map(csv_text))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

pub fn to_xlsx(table: &Table) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format as CellFormat, Workbook};
    let mut workbook = Workbook::new();
    let bold = CellFormat::new().set_bold();
    let sheet = workbook.add_worksheet();
    sheet.set_name(table.sheet)?;
    for (c, name) in table.columns.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, *name, &bold)?;
    }
    for (r, row) in table.rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => sheet.write_string(r, c, s)?,
                Cell::Int(n) => sheet.write_number(r, c, *n as f64)?,
                Cell::Float(f) => sheet.write_number(r, c, *f)?,
                Cell::Bool(b) => sheet.write_boolean(r, c, *b)?,
                Cell::Date(d) => sheet.write_string(r, c, d.to_string())?,
                Cell::Empty => sheet,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    workbook.save_to_buffer()
}

/// Answers `value` as JSON, or `table()` as CSV or XLSX with a download file name.
pub fn respond<T: Serialize>(
    format: Format,
    value: &T,
    table: impl FnOnce() -> Table,
    filename: &str,
) -> Result<HttpResponse, ApiError> {
    let disposition = |ext: &str| format!("attachment; filename=\"{filename}.{ext}\"");
    Ok(match format {
        Format::Json => HttpResponse::Ok().json(value),
        Format::Csv => HttpResponse::Ok()
            .content_type(CSV)
            .insert_header((header::CONTENT_DISPOSITION, disposition("csv")))
            .body(to_csv(&table()).map_err(ApiError::internal)?),
        Format::Xlsx => HttpResponse::Ok()
            .content_type(XLSX)
            .insert_header((header::CONTENT_DISPOSITION, disposition("xlsx")))
            .body(to_xlsx(&table()).map_err(ApiError::internal)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_starts_with_a_bom() {
        let table = Table {
            sheet: "t",
            columns: vec!["a", "b"],
            rows: vec![
                vec![Cell::from("Hộ tịch, \"khai sinh\""), Cell::from("=1+1")],
                vec![Cell::Int(3), Cell::Empty],
            ],
        };
        let csv = String::from_utf8(to_csv(&table).unwrap_or_default()).unwrap_or_default();
        assert_eq!(
            csv,
            "\u{feff}a,b\r\n\"Hộ tịch, \"\"khai sinh\"\"\",'=1+1\r\n3,\r\n"
        );
    }
}
