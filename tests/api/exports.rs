//! The exports people open: workbooks read back with calamine (and their XML parts where calamine
//! sees nothing, such as print setup and charts), CSV read as a program reads it.

use std::io::{Cursor, Read};

use calamine::{Data, Range, Reader, Xlsx, open_workbook_from_rs};
use chrono::NaiveDate;
use niemyet::auth::Role;
use serde_json::Value;

use crate::helpers::{Reply, TestApp};

/// A demo commune with missing, outdated, must-remove and unknown-code findings.
const COMMUNE: &str = "10273";
const AS_OF: &str = "2026-11-30";

async fn download(app: &TestApp, path: &str, token: &str) -> Reply {
    let reply = app
        .send(app.client.get(app.url(path)).bearer_auth(token))
        .await;
    assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    reply
}

fn workbook(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
    open_workbook_from_rs(Cursor::new(bytes.to_vec())).expect("a workbook")
}

/// One part of the workbook's zip, as text.
fn part(bytes: &[u8], name: &str) -> Option<String> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("an XLSX is a zip");
    let mut file = zip.by_name(name).ok()?;
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    Some(text)
}

fn text(cell: Option<&Data>) -> String {
    match cell {
        Some(Data::String(s)) => s.clone(),
        other => panic!("expected a text cell, got {other:?}"),
    }
}

fn number(cell: Option<&Data>) -> f64 {
    match cell {
        Some(Data::Float(f)) => *f,
        Some(Data::Int(n)) => *n as f64,
        other => panic!("expected a number cell, got {other:?}"),
    }
}

/// A date cell's serial day (days since 1899-12-30, as Excel counts).
fn date(cell: Option<&Data>) -> f64 {
    match cell {
        Some(Data::DateTime(d)) => d.as_f64(),
        other => panic!("expected a date cell, got {other:?}"),
    }
}

fn serial(day: &str) -> f64 {
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("a date");
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("Excel's epoch");
    (day - epoch).num_days() as f64
}

/// The row whose first cell reads `label`.
fn row_of(sheet: &Range<Data>, label: &str) -> usize {
    (0..sheet.height())
        .find(|r| sheet.get((*r, 0)) == Some(&Data::String(label.to_owned())))
        .unwrap_or_else(|| panic!("no row `{label}`"))
}

/// The value beside a label of the summary sheet.
fn figure(sheet: &Range<Data>, label: &str) -> f64 {
    number(sheet.get((row_of(sheet, label), 1)))
}

fn headers(sheet: &Range<Data>, row: usize) -> Vec<String> {
    (0..sheet.width())
        .map_while(|c| match sheet.get((row, c)) {
            Some(Data::String(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[actix_web::test]
async fn a_commune_workbook_is_in_vietnamese_summary_first_with_typed_cells() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Officer, Some(COMMUNE));
    let path = format!("/api/v1/communes/{COMMUNE}/report?as_of={AS_OF}");
    let json = app.get_as(&path, &token).await;
    let reply = download(&app, &format!("{path}&format=xlsx"), &token).await;
    assert_eq!(reply.header("content-language").as_deref(), Some("vi"));
    let bytes = reply.bytes.to_vec();
    let mut book = workbook(&bytes);
    assert_eq!(book.sheet_names(), ["Tổng hợp", "Biểu đồ", "Phát hiện"]);

    // The title block: unit and province codes as text, the date as a date.
    let summary = book.worksheet_range("Tổng hợp").expect("a summary sheet");
    assert_eq!(
        text(summary.get((0, 0))),
        "BÁO CÁO KẾT QUẢ NIÊM YẾT THỦ TỤC HÀNH CHÍNH"
    );
    let unit = row_of(&summary, "Đơn vị");
    assert_eq!(text(summary.get((unit, 1))), COMMUNE);
    assert_eq!(text(summary.get((unit, 2))), json["commune"]["name"]);
    let province = row_of(&summary, "Tỉnh, thành phố");
    assert_eq!(text(summary.get((province, 1))), "01", "leading zero kept");
    assert_eq!(
        date(summary.get((row_of(&summary, "Số liệu tính đến ngày"), 1))),
        serial(AS_OF)
    );
    assert!(text(summary.get((row_of(&summary, "Quy tắc áp dụng"), 1))).contains("ngày làm việc"));
    assert!(
        date(summary.get((row_of(&summary, "Lập lúc (giờ Việt Nam)"), 1))) > serial(AS_OF) - 400.0
    );

    // The figures are the JSON report's.
    let s = &json["summary"];
    let n = |v: &Value| v.as_f64().expect("a number");
    assert_eq!(
        figure(&summary, "Số thủ tục phải niêm yết"),
        n(&s["required_procedures"])
    );
    assert_eq!(figure(&summary, "Đạt"), n(&s["ok"]));
    assert!(close(
        figure(&summary, "Tỷ lệ đầy đủ"),
        n(&s["completeness"]) / 100.0
    ));
    assert_eq!(
        figure(&summary, "Chưa niêm yết"),
        n(&s["counts"]["missing"])
    );
    assert_eq!(
        figure(&summary, "Chưa cập nhật"),
        n(&s["counts"]["outdated"])
    );
    assert_eq!(
        figure(&summary, "Phải gỡ bỏ"),
        n(&s["counts"]["must_remove"])
    );
    assert_eq!(figure(&summary, "Quá hạn"), n(&s["overdue"]));
    assert!(close(
        figure(&summary, "Tỷ lệ đúng hạn"),
        n(&s["timely_rate"]) / 100.0
    ));
    assert!(n(&s["counts"]["outdated"]) > 0.0 && n(&s["counts"]["missing"]) > 0.0);

    // The table by sector, as the JSON lists it.
    let header = row_of(&summary, "Lĩnh vực");
    assert_eq!(headers(&summary, header)[..2], ["Lĩnh vực", "Mã lĩnh vực"]);
    let sectors = json["sectors"].as_array().expect("sectors");
    assert!(!sectors.is_empty());
    for (i, sector) in sectors.iter().enumerate() {
        let r = header + 1 + i;
        assert_eq!(text(summary.get((r, 0))), sector["sector_name"]);
        assert_eq!(text(summary.get((r, 1))), sector["sector_code"]);
        assert!(close(
            number(summary.get((r, 6))),
            n(&sector["completeness"]) / 100.0
        ));
    }

    // Findings: Vietnamese headers and values, codes as text, dates as dates, worst first.
    let findings = book.worksheet_range("Phát hiện").expect("a findings sheet");
    let expected = json["findings"].as_array().expect("findings");
    assert_eq!(findings.height(), expected.len() + 1);
    assert_eq!(
        headers(&findings, 0)[..6],
        [
            "Mức độ",
            "Loại phát hiện",
            "Mã thủ tục",
            "Tên thủ tục",
            "Lĩnh vực",
            "Hình thức niêm yết"
        ]
    );
    let column = |name: &str| {
        headers(&findings, 0)
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (due, days) = (column("Hạn niêm yết"), column("Số ngày quá hạn"));
    let mut codes: Vec<String> = Vec::new();
    let mut order = Vec::new();
    for r in 1..findings.height() {
        codes.push(text(findings.get((r, 2))));
        let rank = match text(findings.get((r, 0))).as_str() {
            "Cao" => 0,
            "Trung bình" => 1,
            "Thấp" => 2,
            other => panic!("severity {other}"),
        };
        order.push((rank, -(number(findings.get((r, days))) as i64)));
        assert!(
            [
                "Chưa niêm yết",
                "Niêm yết chưa cập nhật",
                "Đã bãi bỏ, phải gỡ",
                "Không thuộc diện phải niêm yết",
                "Niêm yết trước ngày hiệu lực",
                "Mã không có trong CSDL"
            ]
            .contains(&text(findings.get((r, 1))).as_str())
        );
        if !matches!(findings.get((r, due)), Some(Data::Empty) | None) {
            assert!(date(findings.get((r, due))) > 40000.0);
        }
    }
    assert!(order.is_sorted(), "severity, then days overdue: {order:?}");
    assert!(order.first().map(|o| o.0) == Some(0) && order.iter().any(|o| o.0 == 1));
    let mut json_codes: Vec<String> = expected
        .iter()
        .map(|f| f["procedure_code"].as_str().unwrap_or_default().to_owned())
        .collect();
    json_codes.sort();
    codes.sort();
    assert_eq!(codes, json_codes, "codes as written, trailing zeros too");
    assert!(codes.iter().any(|c| c.ends_with('0')));

    // What calamine cannot see: printing and the chart.
    let findings_xml = part(&bytes, "xl/worksheets/sheet2.xml").expect("the findings sheet");
    for needle in [
        "<pageSetUpPr fitToPage=\"1\"/>",
        "paperSize=\"9\"",
        "orientation=\"landscape\"",
        "fitToHeight=\"0\"",
        "<autoFilter ref=\"A1:",
        "ySplit=\"1\"",
        "<oddFooter>",
        "&amp;P",
    ] {
        assert!(
            findings_xml.contains(needle),
            "the findings sheet lacks {needle}"
        );
    }
    let book_xml = part(&bytes, "xl/workbook.xml").expect("the workbook part");
    assert!(book_xml.contains("_xlnm.Print_Titles") && book_xml.contains("_xlnm.Print_Area"));
    let chart = part(&bytes, "xl/charts/chart1.xml").expect("a chart");
    assert!(chart.contains("<c:barChart>") && chart.contains("Tổng hợp"));
    let summary_xml = part(&bytes, "xl/worksheets/sheet1.xml").expect("the summary sheet");
    assert!(summary_xml.contains("orientation=\"landscape\""));
    let chart_sheet =
        part(&bytes, "xl/chartsheets/sheet1.xml").expect("the chart on a sheet of its own");
    assert!(chart_sheet.contains("<drawing") && chart_sheet.contains("orientation=\"landscape\""));
}

#[actix_web::test]
async fn a_province_workbook_sums_up_its_communes_with_their_codes_as_text() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Auditor, Some("01"));
    let path = format!("/api/v1/provinces/01/report?as_of={AS_OF}");
    let json = app.get_as(&path, &token).await;
    let bytes = download(&app, &format!("{path}&format=xlsx"), &token)
        .await
        .bytes
        .to_vec();
    let mut book = workbook(&bytes);
    assert_eq!(book.sheet_names(), ["Tổng hợp", "Biểu đồ", "Theo lĩnh vực"]);
    let summary = book.worksheet_range("Tổng hợp").expect("a summary sheet");
    assert_eq!(
        text(summary.get((0, 0))),
        "BÁO CÁO TỔNG HỢP NIÊM YẾT THỦ TỤC HÀNH CHÍNH CÁC XÃ"
    );
    assert_eq!(text(summary.get((row_of(&summary, "Đơn vị"), 1))), "01");
    let t = &json["totals"];
    let n = |v: &Value| v.as_f64().expect("a number");
    assert_eq!(figure(&summary, "Số xã"), n(&t["communes"]));
    assert!(close(
        figure(&summary, "Tỷ lệ đầy đủ"),
        n(&t["completeness"]) / 100.0
    ));
    assert_eq!(
        figure(&summary, "Chưa niêm yết"),
        n(&t["counts"]["missing"])
    );
    assert_eq!(figure(&summary, "Quá hạn"), n(&t["overdue"]));

    // A row per commune, worst first as in the JSON, codes with their leading zeros.
    let header = row_of(&summary, "Xã, phường, đặc khu");
    assert_eq!(headers(&summary, header)[1], "Mã xã");
    let communes = json["communes"].as_array().expect("communes");
    assert!(communes.len() > 100);
    for (i, c) in communes.iter().enumerate() {
        let r = header + 1 + i;
        assert_eq!(text(summary.get((r, 1))), c["code"]);
        assert!(close(
            number(summary.get((r, 4))),
            n(&c["completeness"]) / 100.0
        ));
    }
    assert!(communes.iter().any(|c| c["code"] == "00004"));

    let sectors = book
        .worksheet_range("Theo lĩnh vực")
        .expect("a sector sheet");
    assert_eq!(
        sectors.height(),
        json["sectors"].as_array().map_or(0, Vec::len) + 1
    );

    let xml = part(&bytes, "xl/worksheets/sheet1.xml").expect("the summary sheet");
    assert!(xml.contains("orientation=\"landscape\"") && xml.contains("fitToHeight=\"0\""));
    let chart = part(&bytes, "xl/charts/chart1.xml").expect("a chart per commune");
    assert!(chart.contains(&format!(
        "$A${}:$A${}",
        header + 2,
        header + 1 + communes.len()
    )));
}

#[actix_web::test]
async fn english_is_asked_for_with_lang_and_anything_else_is_a_bad_request() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Officer, Some(COMMUNE));
    let path = format!("/api/v1/communes/{COMMUNE}/report?as_of={AS_OF}");
    let bytes = download(&app, &format!("{path}&format=xlsx&lang=en"), &token)
        .await
        .bytes
        .to_vec();
    let mut book = workbook(&bytes);
    assert_eq!(book.sheet_names(), ["Summary", "Chart", "Findings"]);
    let findings = book.worksheet_range("Findings").expect("findings");
    assert_eq!(
        headers(&findings, 0)[..3],
        ["Severity", "Kind", "Procedure code"]
    );
    assert_eq!(text(findings.get((1, 0))), "High");
    assert_eq!(text(findings.get((1, 1))), "Missing");

    // CSV: Vietnamese headers by default, the JSON's names in English, the same columns in the
    // same order, and the same values.
    let vi = download(&app, &format!("{path}&format=csv"), &token).await;
    let en = download(&app, &format!("{path}&format=csv&lang=en"), &token).await;
    let records = |reply: &Reply| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(&reply.bytes[3..])
            .records()
            .map(|r| r.expect("a record").iter().map(str::to_owned).collect())
            .collect()
    };
    let (vi, en) = (records(&vi), records(&en));
    assert_eq!(vi[0][..3], ["Mã xã", "Xã, phường, đặc khu", "Ngày báo cáo"]);
    assert_eq!(en[0][..3], ["commune_code", "commune_name", "as_of"]);
    assert_eq!(vi[0].len(), en[0].len());
    assert_eq!(vi[1..], en[1..], "only the headers differ");
    let kind = en[0]
        .iter()
        .position(|h| h == "kind")
        .expect("a kind column");
    assert_eq!(vi[0][kind], "Loại phát hiện");

    let auditor = app.token(Role::Auditor, None);
    for path in [
        format!("{path}&lang=fr"),
        format!("{path}&format=csv&lang=VI"),
        "/api/v1/provinces/01/report?lang=".to_owned(),
        "/api/v1/provinces/01/posting-list?format=xlsx&lang=fr".to_owned(),
        "/api/v1/catalogue/changes?since=2026-05-01&lang=de".to_owned(),
    ] {
        let problem = app
            .send(app.client.get(app.url(&path)).bearer_auth(&auditor))
            .await
            .problem(400);
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|d| d.contains("`vi` or `en`")),
            "{path}: {problem}"
        );
    }
}

#[actix_web::test]
async fn csv_keeps_codes_exactly_as_the_json_has_them() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Auditor, Some("01"));
    let path = format!("/api/v1/provinces/01/report?as_of={AS_OF}");
    let json = app.get_as(&path, &token).await;
    let csv = download(&app, &format!("{path}&format=csv&lang=en"), &token).await;
    let text = String::from_utf8(csv.bytes[3..].to_vec()).expect("UTF-8");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a record")).collect();
    let communes = json["communes"].as_array().expect("communes");
    assert_eq!(rows.len(), communes.len());
    for (row, commune) in rows.iter().zip(communes) {
        assert_eq!(
            &row[0], "01",
            "no quote, apostrophe or formula around a code"
        );
        assert_eq!(&row[2], commune["code"].as_str().unwrap_or_default());
    }
    assert!(text.contains("\r\n01,2026-11-30,00004,"));
}

#[actix_web::test]
async fn the_posting_sheet_prints_the_communes_list_with_a_qr_code_per_procedure() {
    let app = TestApp::spawn().await;
    let commune = "23764";
    let officer = app.token(Role::Officer, Some(commune));
    let query = format!("as_of={AS_OF}");
    let list = app
        .get_as(
            &format!("/api/v1/communes/{commune}/posting-list?{query}"),
            &officer,
        )
        .await;
    let path = format!("/api/v1/communes/{commune}/posting-sheet?{query}");
    let reply = download(&app, &path, &officer).await;
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html"))
    );
    assert!(
        reply
            .header("content-security-policy")
            .is_some_and(|c| c.starts_with("default-src 'none'"))
    );
    let html = reply.text();
    assert!(html.contains(list["commune"]["name"].as_str().expect("a name")));
    assert!(html.contains("DANH MỤC THỦ TỤC HÀNH CHÍNH NIÊM YẾT CÔNG KHAI"));
    assert!(html.contains("size: A4"));
    for external in ["src=", "href=", "url(", "@import", "<script", "<link"] {
        assert!(!html.contains(external), "the page loads {external}");
    }

    // Every procedure, sector by sector in the list's order, one QR code each.
    let sectors = list["sectors"].as_array().expect("sectors");
    let items: Vec<&Value> = sectors
        .iter()
        .flat_map(|s| s["items"].as_array().into_iter().flatten())
        .collect();
    assert_eq!(
        items.len() as u64,
        list["procedures"].as_u64().expect("a count")
    );
    let with_url = items.iter().filter(|i| i["source_url"].is_string()).count();
    assert!(with_url > 0);
    assert_eq!(html.matches("<svg").count(), with_url);
    let mut at = 0;
    for sector in sectors {
        let heading = format!("Lĩnh vực {}", sector["sector_name"].as_str().unwrap_or(""));
        at += html[at..]
            .find(&heading)
            .unwrap_or_else(|| panic!("{heading} after the one before"));
        for item in sector["items"].as_array().into_iter().flatten() {
            let code = format!("<td>{}</td>", item["procedure_code"].as_str().unwrap_or(""));
            assert!(html[at..].contains(&code), "{code} under its sector");
        }
    }
    // The QR code beside a procedure is its own page's.
    let item = items
        .iter()
        .find(|i| i["source_url"].is_string())
        .expect("a procedure with a page");
    let url = item["source_url"].as_str().unwrap_or("");
    let qr = niemyet::routes::export::sheet::qr_svg(url).expect("a QR code");
    let code = format!("<td>{}</td>", item["procedure_code"].as_str().unwrap_or(""));
    let row = &html[html.find(&code).expect("its row")..];
    let row = &row[..row.find("</tr>").expect("the row ends")];
    assert!(row.contains(&qr), "the QR code of {url}");
    // And a reader takes it back to that page.
    let svg = &row[row.find("<svg").expect("a QR code in the row")..];
    let svg = &svg[..svg.find("</svg>").expect("the SVG ends")];
    assert_eq!(decode_qr(svg), url, "what a phone reads from the board");

    // In English on request; in the commune's scope only, like its posting list.
    let english = download(&app, &format!("{path}&lang=en"), &officer).await;
    let english = english.text();
    assert!(english.contains("ADMINISTRATIVE PROCEDURES POSTED FOR THE PUBLIC"));
    assert!(html.contains("trực tiếp: ") && !english.contains("trực tiếp: "));
    assert!(english.contains("in person: ") && english.contains("working days"));
    app.send(
        app.client
            .get(app.url(&path))
            .bearer_auth(app.token(Role::Officer, Some("10441"))),
    )
    .await
    .problem(403);
    app.get(&path).await.problem(401);
    app.send(
        app.client
            .get(app.url(&format!("{path}&lang=fr")))
            .bearer_auth(&officer),
    )
    .await
    .problem(400);
    app.send(
        app.client
            .get(app.url("/api/v1/communes/52/posting-sheet"))
            .bearer_auth(app.token(Role::Admin, None)),
    )
    .await
    .problem(422);
}

/// Reads a QR code drawn as the posting sheet draws it: the qrcode crate's SVG, one path whose
/// `M{x} {y}h{w}v{h}H{x}V{y}` commands are the dark modules in the image's pixels. Each is painted
/// black on white, with a margin of its own and four times larger, and the picture handed to a
/// QR reader as a camera's grey image would be.
fn decode_qr(svg: &str) -> String {
    const MARGIN: usize = 16;
    const SCALE: usize = 4;
    let attr = |name: &str| -> usize {
        let at = svg.find(&format!(" {name}=\"")).expect(name) + name.len() + 3;
        svg[at..]
            .split('"')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} is a number"))
    };
    let (width, height) = (attr("width"), attr("height"));
    let d = svg.find(" d=\"").expect("a path") + 4;
    let d = svg[d..].split('"').next().unwrap_or_default();
    let (w, h) = ((width + 2 * MARGIN) * SCALE, (height + 2 * MARGIN) * SCALE);
    let mut pixels = vec![255u8; w * h];
    let mut dark = 0;
    for rect in d.split('M').filter(|r| !r.is_empty()) {
        let n: Vec<usize> = rect
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().expect("a coordinate"))
            .collect();
        let [x, y, rw, rh, ..] = n[..] else {
            panic!("a rectangle: {rect}")
        };
        for py in (y + MARGIN) * SCALE..(y + rh + MARGIN) * SCALE {
            pixels[py * w + (x + MARGIN) * SCALE..py * w + (x + rw + MARGIN) * SCALE].fill(0);
        }
        dark += 1;
    }
    assert!(dark > 20, "a QR code has many dark modules: {dark}");
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the picture");
    let (_, text) = grids[0].decode().expect("the QR code decodes");
    text
}

/// Whether a page loads anything from elsewhere (a script, a style sheet, an image, a font).
fn loads_something(html: &str) -> bool {
    let lower = html.to_lowercase();
    [
        "<script", "<link", "<img", "<iframe", "@import", "src=", "url(",
    ]
    .iter()
    .any(|t| lower.contains(t))
}

#[actix_web::test]
async fn a_commune_report_prints_as_a_page_summary_first_findings_by_severity() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Admin, None);
    let json = app
        .get_as(
            &format!("/api/v1/communes/{COMMUNE}/report?as_of={AS_OF}"),
            &token,
        )
        .await;
    for path in [
        format!("/api/v1/communes/{COMMUNE}/report?as_of={AS_OF}&format=html"),
        format!("/api/v1/communes/{COMMUNE}/report?as_of={AS_OF}"),
    ] {
        let reply = app
            .send(
                app.client
                    .get(app.url(&path))
                    .bearer_auth(&token)
                    .header("accept", "text/html"),
            )
            .await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{path}"
        );
        assert!(
            reply
                .header("content-security-policy")
                .is_some_and(|c| c.starts_with("default-src 'none'")),
            "{path}"
        );
        let html = reply.text();
        assert!(!loads_something(&html), "the page loads nothing");
        assert!(html.contains("BÁO CÁO KẾT QUẢ NIÊM YẾT THỦ TỤC HÀNH CHÍNH"));
        assert!(html.contains("Xã Phú Xuyên"), "the commune's name");
        assert!(html.contains("30/11/2026"), "dates as people write them");
        assert!(html.contains("size: A4 landscape"));
        // The summary before the findings, and one row per finding.
        let figures = html.find("SỐ LIỆU CHÍNH").expect("the key figures");
        let findings = html.find("Sắp xếp: mức độ").expect("the findings' heading");
        assert!(figures < findings);
        let count = json["findings"].as_array().map(Vec::len).unwrap_or(0);
        assert!(count > 0);
        let body = &html[findings..];
        assert_eq!(
            body.matches("<tr>").count(),
            count + 1,
            "a header and a row each"
        );
        // Most severe first: the first row is high, and no high row comes after a medium one.
        let high = body.find(">Cao<").expect("a high finding");
        let medium = body.find(">Trung bình<").expect("a medium finding");
        assert!(high < medium);
        assert!(!body[medium..].contains(">Cao<"));
    }
    let english = app
        .send(
            app.client
                .get(app.url(&format!(
                    "/api/v1/communes/{COMMUNE}/report?as_of={AS_OF}&format=html&lang=en"
                )))
                .bearer_auth(&token),
        )
        .await;
    assert_eq!(english.status, 200);
    assert!(
        english
            .text()
            .contains("PUBLIC POSTING OF ADMINISTRATIVE PROCEDURES: COMMUNE REPORT")
    );
    assert!(english.text().contains("2026-11-30"));
}

#[actix_web::test]
async fn an_inspection_prints_as_its_record_with_the_team_and_a_block_to_sign() {
    let app = TestApp::spawn_demo().await;
    let auditor = app.token(Role::Auditor, Some("01"));
    let created = app
        .post_json(
            "/api/v1/inspections",
            &serde_json::json!({"unit": COMMUNE, "inspected_on": "2026-11-20",
                                "team": ["Nguyễn Văn An", "Trần Thị Bình"],
                                "notes": "Bảng niêm yết thiếu lĩnh vực hộ tịch.\nĐề nghị bổ sung trong 5 ngày."}),
            Some(&auditor),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text());
    let id = created.json()["id"].as_str().unwrap_or_default().to_owned();
    let reply = download(
        &app,
        &format!("/api/v1/inspections/{id}?format=html"),
        &auditor,
    )
    .await;
    let html = reply.text();
    assert!(!loads_something(&html));
    assert!(html.contains("BIÊN BẢN KIỂM TRA VIỆC NIÊM YẾT, CÔNG KHAI THỦ TỤC HÀNH CHÍNH"));
    assert!(html.contains("Nguyễn Văn An, Trần Thị Bình"));
    assert!(html.contains("20/11/2026"));
    assert!(
        html.contains("Bảng niêm yết thiếu lĩnh vực hộ tịch.<br>Đề nghị bổ sung trong 5 ngày.")
    );
    assert!(html.contains("TRƯỞNG ĐOÀN KIỂM TRA"));
    assert!(html.contains("ĐẠI DIỆN ĐƠN VỊ ĐƯỢC KIỂM TRA"));
    assert!(html.contains("(Ký, ghi rõ họ tên)"));
    // Its own tag: the page is another representation of the same record.
    let json = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/inspections/{id}")))
                .bearer_auth(&auditor),
        )
        .await;
    assert_ne!(json.header("etag"), reply.header("etag"));
    assert!(reply.header("etag").is_some_and(|t| t.ends_with("-html\"")));
}

#[actix_web::test]
async fn every_other_export_prints_as_its_table() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Admin, None);
    let reply = download(
        &app,
        &format!("/api/v1/provinces/01/report?as_of={AS_OF}&format=html"),
        &token,
    )
    .await;
    let html = reply.text();
    assert!(!loads_something(&html));
    assert!(html.contains("<table>"));
    assert!(html.contains("00004"), "codes as written");
    assert!(html.contains("Phường Ba Đình"));
}

/// The print setup every detail sheet has, read from its XML part.
fn assert_prints_landscape_with_a_filter(bytes: &[u8], part_name: &str) {
    let xml = part(bytes, part_name).unwrap_or_else(|| panic!("no {part_name}"));
    for needle in [
        "<pageSetUpPr fitToPage=\"1\"/>",
        "paperSize=\"9\"",
        "orientation=\"landscape\"",
        "fitToHeight=\"0\"",
        "<autoFilter ref=\"A1:",
        "ySplit=\"1\"",
        "<oddFooter>",
        "&amp;P",
    ] {
        assert!(xml.contains(needle), "{part_name} lacks {needle}");
    }
    let book_xml = part(bytes, "xl/workbook.xml").expect("the workbook part");
    assert!(book_xml.contains("_xlnm.Print_Titles") && book_xml.contains("_xlnm.Print_Area"));
}

#[actix_web::test]
async fn a_national_workbook_ranks_the_provinces_and_charts_their_completeness() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Auditor, None);
    let path = format!("/api/v1/reports/national?as_of={AS_OF}");
    let json = app.get_as(&path, &token).await;
    let bytes = download(&app, &format!("{path}&format=xlsx"), &token)
        .await
        .bytes
        .to_vec();
    let mut book = workbook(&bytes);
    assert_eq!(book.sheet_names(), ["Tổng hợp", "Biểu đồ", "Các tỉnh"]);
    let summary = book.worksheet_range("Tổng hợp").expect("a summary sheet");
    assert_eq!(
        text(summary.get((0, 0))),
        "BÁO CÁO TỔNG HỢP NIÊM YẾT THỦ TỤC HÀNH CHÍNH TOÀN QUỐC"
    );
    assert_eq!(
        text(summary.get((row_of(&summary, "Phạm vi"), 1))),
        "Toàn quốc"
    );
    assert_eq!(
        date(summary.get((row_of(&summary, "Số liệu tính đến ngày"), 1))),
        serial(AS_OF)
    );
    assert!(text(summary.get((row_of(&summary, "Quy tắc áp dụng"), 1))).contains("từng tỉnh"));

    // The figures are the JSON report's.
    let t = &json["totals"];
    let n = |v: &Value| v.as_f64().expect("a number");
    let provinces = json["provinces"].as_array().expect("provinces");
    assert_eq!(figure(&summary, "Số tỉnh, thành phố"), 34.0);
    assert_eq!(provinces.len(), 34);
    assert_eq!(figure(&summary, "Số xã"), n(&t["communes"]));
    assert_eq!(figure(&summary, "Đạt"), n(&t["ok"]));
    assert!(close(
        figure(&summary, "Tỷ lệ đầy đủ"),
        n(&t["completeness"]) / 100.0
    ));
    assert_eq!(
        figure(&summary, "Chưa niêm yết"),
        n(&t["counts"]["missing"])
    );
    assert_eq!(
        figure(&summary, "Chưa cập nhật"),
        n(&t["counts"]["outdated"])
    );
    assert_eq!(figure(&summary, "Quá hạn"), n(&t["overdue"]));
    assert!(close(
        figure(&summary, "Tỷ lệ đúng hạn"),
        n(&t["timely_rate"]) / 100.0
    ));
    let incomplete: f64 = provinces.iter().map(|p| n(&p["incomplete_communes"])).sum();
    assert_eq!(figure(&summary, "Số xã chưa đầy đủ"), incomplete);

    // A row per province, worst first as in the JSON, codes with their leading zeros.
    let header = row_of(&summary, "Tỉnh, thành phố");
    assert_eq!(headers(&summary, header)[1], "Mã tỉnh");
    for (i, p) in provinces.iter().enumerate() {
        let r = header + 1 + i;
        assert_eq!(text(summary.get((r, 0))), p["name"]);
        assert_eq!(text(summary.get((r, 1))), p["code"]);
        assert!(close(
            number(summary.get((r, 4))),
            n(&p["completeness"]) / 100.0
        ));
    }
    let summary_xml = part(&bytes, "xl/worksheets/sheet1.xml").expect("the summary sheet");
    assert!(
        summary_xml.contains("orientation=\"landscape\"")
            && summary_xml.contains("fitToHeight=\"0\"")
    );
    let chart = part(&bytes, "xl/charts/chart1.xml").expect("a chart per province");
    assert!(chart.contains("<c:barChart>"));
    assert!(chart.contains(&format!("$A${}:$A${}", header + 2, header + 35)));
    assert!(chart.contains(&format!("$E${}:$E${}", header + 2, header + 35)));
    assert!(part(&bytes, "xl/chartsheets/sheet1.xml").is_some());

    // Every province's figures in code order, "01" first.
    let detail = book
        .worksheet_range("Các tỉnh")
        .expect("a sheet of provinces");
    assert_eq!(detail.height(), 35);
    assert_eq!(headers(&detail, 0)[..2], ["Mã tỉnh", "Tỉnh, thành phố"]);
    let codes: Vec<String> = (1..detail.height())
        .map(|r| text(detail.get((r, 0))))
        .collect();
    assert_eq!(codes[0], "01", "the code as text, its leading zero kept");
    assert!(codes.is_sorted());
    assert_prints_landscape_with_a_filter(&bytes, "xl/worksheets/sheet2.xml");

    // In English on request; the CSV is the plain table it was.
    let english = download(&app, &format!("{path}&format=xlsx&lang=en"), &token).await;
    assert_eq!(
        workbook(&english.bytes).sheet_names(),
        ["Summary", "Chart", "Provinces"]
    );
    let csv = download(&app, &format!("{path}&format=csv&lang=en"), &token).await;
    assert!(csv.text().starts_with(
        "\u{feff}as_of,province_code,province_name,communes,incomplete_communes,required_pairs,\
         ok,completeness,missing,outdated,must_remove,overdue,timely_rate\r\n"
    ));
}

#[actix_web::test]
async fn an_impact_workbook_counts_what_a_decision_left_to_do_longest_overdue_first() {
    let app = TestApp::spawn_demo().await;
    let token = app.token(Role::Auditor, Some("01"));
    let decisions = app
        .get_json(&format!(
            "/api/v1/decisions?number={}",
            niemyet::seed::DEMO_AMENDMENT
        ))
        .await;
    let id = decisions["items"][0]["id"]
        .as_str()
        .expect("the demo amendment");
    let path = format!("/api/v1/decisions/{id}/impact?as_of={AS_OF}");
    let json = app.get_as(&path, &token).await;
    let bytes = download(&app, &format!("{path}&format=xlsx"), &token)
        .await
        .bytes
        .to_vec();
    let mut book = workbook(&bytes);
    assert_eq!(book.sheet_names(), ["Tổng hợp", "Ảnh hưởng"]);
    let summary = book.worksheet_range("Tổng hợp").expect("a summary sheet");
    assert_eq!(
        text(summary.get((0, 0))),
        "TÌNH HÌNH THỰC HIỆN NIÊM YẾT THEO QUYẾT ĐỊNH CÔNG BỐ"
    );
    assert_eq!(
        text(summary.get((row_of(&summary, "Quyết định công bố"), 1))),
        niemyet::seed::DEMO_AMENDMENT
    );
    let scope = row_of(&summary, "Phạm vi");
    assert_eq!(text(summary.get((scope, 1))), "01", "leading zero kept");
    assert_eq!(text(summary.get((scope, 2))), "Thành phố Hà Nội");
    assert_eq!(
        date(summary.get((row_of(&summary, "Số liệu tính đến ngày"), 1))),
        serial(AS_OF)
    );

    // The figures are the JSON's.
    let rows = json["rows"].as_array().expect("rows");
    let n = |v: &Value| v.as_f64().expect("a number");
    assert!(
        rows.len() > 100,
        "Hà Nội's communes have the amendment to post"
    );
    assert_eq!(
        figure(&summary, "Số xã phải thực hiện"),
        n(&json["communes_affected"])
    );
    assert_eq!(
        figure(&summary, "Số việc chưa thực hiện"),
        n(&json["pending"])
    );
    let overdue = rows.iter().filter(|r| r["overdue"] == true).count() as f64;
    assert!(overdue > 0.0);
    assert_eq!(figure(&summary, "Quá hạn"), overdue);

    // By kind and channel, then by province.
    let count = |kind: &str, channel: &str| {
        rows.iter()
            .filter(|r| r["kind"] == kind && r["channel"] == channel)
            .count() as f64
    };
    let header = row_of(&summary, "Loại phát hiện");
    assert_eq!(
        headers(&summary, header),
        [
            "Loại phát hiện",
            "Tại Bộ phận Một cửa",
            "Trên trang thông tin điện tử",
            "Tổng số"
        ]
    );
    let missing = row_of(&summary, "Chưa niêm yết");
    assert_eq!(
        number(summary.get((missing, 1))),
        count("missing", "counter")
    );
    assert_eq!(
        number(summary.get((missing, 2))),
        count("missing", "portal")
    );
    let outdated = row_of(&summary, "Niêm yết chưa cập nhật");
    assert_eq!(
        number(summary.get((outdated, 1))),
        count("outdated", "counter")
    );
    assert_eq!(
        number(summary.get((row_of(&summary, "Tổng số"), 3))),
        n(&json["pending"])
    );
    let header = row_of(&summary, "Tỉnh, thành phố");
    assert_eq!(text(summary.get((header + 1, 0))), "Thành phố Hà Nội");
    assert_eq!(text(summary.get((header + 1, 1))), "01");
    assert_eq!(number(summary.get((header + 1, 3))), n(&json["pending"]));

    // Every pending action, longest overdue first, codes as text, deadlines as dates.
    let detail = book.worksheet_range("Ảnh hưởng").expect("a detail sheet");
    assert_eq!(detail.height(), rows.len() + 1);
    let columns = headers(&detail, 0);
    assert_eq!(
        columns[..4],
        ["Mã tỉnh", "Mã xã", "Xã, phường, đặc khu", "Mã thủ tục"]
    );
    let column = |name: &str| {
        columns
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let (due, days) = (column("Hạn niêm yết"), column("Số ngày quá hạn"));
    let mut lateness = Vec::new();
    let mut codes = Vec::new();
    for r in 1..detail.height() {
        assert_eq!(text(detail.get((r, 0))), "01");
        codes.push(text(detail.get((r, 1))));
        lateness.push(number(detail.get((r, days))));
        assert!(date(detail.get((r, due))) > serial("2026-10-01") - 1.0);
    }
    assert!(lateness.is_sorted_by(|a, b| a >= b), "{lateness:?}");
    let mut json_codes: Vec<String> = rows
        .iter()
        .map(|r| r["commune_code"].as_str().unwrap_or_default().to_owned())
        .collect();
    json_codes.sort();
    codes.sort();
    assert_eq!(codes, json_codes);
    assert!(
        codes.iter().any(|c| c.starts_with('0')),
        "leading zeros kept"
    );
    assert_prints_landscape_with_a_filter(&bytes, "xl/worksheets/sheet2.xml");

    // The CSV is the plain table it was.
    let csv = download(&app, &format!("{path}&format=csv&lang=en"), &token).await;
    assert!(csv.text().starts_with(
        "\u{feff}decision,as_of,province_code,commune_code,commune_name,procedure_code,\
         procedure_name,channel,kind,due_on,overdue\r\n"
    ));
}
