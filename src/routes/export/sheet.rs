//! The posting sheet (danh mục niêm yết): what a commune must hang on its board, as one HTML
//! page that prints on A4, sector by sector, each procedure with a QR code of its page on the
//! national portal. Everything is inline (styles, the QR codes as SVG): the page loads nothing.

use std::fmt::Write;

use chrono::NaiveDate;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

use super::labels::{self, Lang};

/// The page's own Content-Security-Policy: its inline styles, nothing fetched, nothing run.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'none'";

/// One procedure as the sheet shows it.
pub struct SheetItem {
    pub code: String,
    pub name: String,
    pub decision: Option<String>,
    pub processing_time: String,
    pub fee: String,
    pub source_url: Option<String>,
}

pub struct SheetSector {
    pub name: String,
    pub items: Vec<SheetItem>,
}

/// Who posts, and on which day.
pub struct SheetHeading<'a> {
    pub commune: &'a str,
    pub province: &'a str,
    pub as_of: NaiveDate,
}

const STYLE: &str = "\
@page { size: A4 portrait; margin: 12mm 10mm 14mm 10mm; }
* { box-sizing: border-box; }
body { font-family: 'Times New Roman', 'Liberation Serif', serif; font-size: 11pt; margin: 0;
  color: #000; }
.top { display: flex; justify-content: space-between; text-align: center; font-weight: bold; }
.top div { width: 48%; }
.top .motto { text-decoration: underline; }
h1 { text-align: center; font-size: 14pt; margin: 8mm 0 1mm; }
.sub { text-align: center; margin: 0 0 5mm; }
h2 { font-size: 12pt; margin: 5mm 0 1.5mm; break-after: avoid; page-break-after: avoid; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
thead { display: table-header-group; }
tr { break-inside: avoid; page-break-inside: avoid; }
th, td { border: 0.6pt solid #000; padding: 1mm 1.2mm; vertical-align: top; }
th { background: #eee; font-size: 10pt; }
td.c, th.c { text-align: center; }
td.qr { padding: 0.5mm; text-align: center; }
td.qr svg { width: 19mm; height: 19mm; display: block; margin: 0 auto; }
col.no { width: 9mm; } col.code { width: 20mm; } col.dec { width: 26mm; }
col.time { width: 30mm; } col.fee { width: 26mm; } col.qr { width: 21mm; }
.note { margin-top: 4mm; font-size: 9.5pt; font-style: italic; }
@media screen { body { max-width: 210mm; margin: 8mm auto; } }
";

/// Text as HTML.
pub(super) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `url` as a QR code in inline SVG (medium error correction: a board's print gets scuffed).
pub fn qr_svg(url: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(url.as_bytes(), EcLevel::M)?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(120, 120)
        .quiet_zone(true)
        .build();
    // Inline in HTML, the XML declaration has no place.
    Ok(image
        .find("<svg")
        .map_or(image.clone(), |at| image[at..].to_owned()))
}

/// One line per submission method (`trực tiếp: …; trực tuyến: …`).
fn lines(text: &str) -> String {
    esc(text).replace("; ", "<br>")
}

fn roman(mut n: usize) -> String {
    const NUMERALS: [(usize, &str); 9] = [
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (value, numeral) in NUMERALS {
        while n >= value {
            out.push_str(numeral);
            n -= value;
        }
    }
    out
}

/// The whole page.
pub fn posting_sheet(
    heading: &SheetHeading<'_>,
    sectors: &[SheetSector],
    lang: Lang,
    printed: &str,
) -> Result<String, qrcode::types::QrError> {
    let t = |key| labels::text(key, lang);
    let col = |key| esc(labels::column(key, lang));
    let date = match lang {
        Lang::Vi => heading.as_of.format("%d/%m/%Y").to_string(),
        Lang::En => heading.as_of.to_string(),
    };
    let total: usize = sectors.iter().map(|s| s.items.len()).sum();
    let mut html = String::new();
    let lang_tag = match lang {
        Lang::Vi => "vi",
        Lang::En => "en",
    };
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"{lang_tag}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{} — {}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        esc(t("sheet_title")),
        esc(heading.commune),
    );
    let _ = write!(
        html,
        "<div class=\"top\"><div>{}<br>{}</div><div>{}<br><span class=\"motto\">{}</span></div></div>\n\
         <h1>{}</h1>\n<p class=\"sub\">{}, {} — {} {}<br>{}: {} {}</p>\n",
        esc(t("committee")),
        esc(&heading.commune.to_uppercase()),
        esc(t("nation")),
        esc(t("motto")),
        esc(t("sheet_title")),
        esc(heading.commune),
        esc(heading.province),
        esc(t("in_force_on")),
        date,
        esc(t("total")),
        total,
        esc(t("procedures")),
    );
    let mut number = 0;
    for (i, sector) in sectors.iter().enumerate() {
        let _ = write!(
            html,
            "<h2>{}. {} {} ({} {})</h2>\n<table>\n<colgroup><col class=\"no\"><col class=\"code\">\
             <col><col class=\"dec\"><col class=\"time\"><col class=\"fee\"><col class=\"qr\"></colgroup>\n\
             <thead><tr><th class=\"c\">{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
             <th class=\"c\">{}</th></tr></thead>\n<tbody>\n",
            roman(i + 1),
            esc(t("sector_heading")),
            esc(&sector.name),
            sector.items.len(),
            esc(t("procedures")),
            col("no"),
            col("procedure_code"),
            col("procedure_name"),
            col("decision"),
            col("processing_time"),
            col("fee"),
            col("qr"),
        );
        for item in &sector.items {
            number += 1;
            let qr = match &item.source_url {
                Some(url) => qr_svg(url)?,
                None => String::new(),
            };
            let _ = writeln!(
                html,
                "<tr><td class=\"c\">{number}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td class=\"qr\">{qr}</td></tr>",
                esc(&item.code),
                esc(&item.name),
                esc(item.decision.as_deref().unwrap_or("")),
                lines(&item.processing_time),
                lines(&item.fee),
            );
        }
        html.push_str("</tbody>\n</table>\n");
    }
    let _ = write!(
        html,
        "<p class=\"note\">{} {}: {} — {} {}.</p>\n</body>\n</html>\n",
        esc(t("scan")),
        esc(t("printed")),
        esc(printed),
        env!("CARGO_PKG_NAME"),
        env!("CARGO_PKG_VERSION"),
    );
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_sectors_are_numbered() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(
            [1, 4, 9, 14, 40].map(roman),
            ["I", "IV", "IX", "XIV", "XL"].map(String::from)
        );
    }

    #[test]
    fn a_qr_code_is_inline_svg() {
        let svg = qr_svg(
            "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193",
        );
        let svg = svg.unwrap_or_default();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        assert!(!svg.contains("<?xml"));
    }
}
