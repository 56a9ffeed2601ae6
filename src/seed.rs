//! The data bundled into the binary (from `data/`, see `data/SOURCES.md`): the administrative
//! units of 2025 and the national catalogue snapshot. A fresh database gets both at start.

use chrono::NaiveDate;

use crate::db::DbConnection;
use crate::services::ServiceError;
use crate::services::catalogue::{ImportOptions, ImportSummary, import_catalogue};
use crate::services::units::{UnitImportSummary, import_units};
use crate::services::write::Actor;
use crate::services::{GunzipError, gunzip_limited};

pub const UNITS_CSV: &str = include_str!("../data/admin-units-2025.csv");
/// Where a sector's procedures are posted when their agency text says nothing.
pub const SECTOR_PLACES_CSV: &str = include_str!("../data/posting-place-sectors.csv");
pub const CATALOGUE_GZ: &[u8] = include_bytes!("../data/dvcqg-catalogue-2026-06.jsonl.gz");
pub const CATALOGUE_NAME: &str = "dvcqg-catalogue-2026-06.jsonl.gz";
/// The statistics office's old→new conversion table of the 2025 reform, as published.
pub const LINEAGE_GZ: &[u8] = include_bytes!("../data/unit-lineage-2025-nso.csv.gz");

/// The bundled conversion table, unpacked.
pub fn lineage_text() -> Result<String, ServiceError> {
    let bytes = gunzip_limited(LINEAGE_GZ, 64 * 1024 * 1024).map_err(ServiceError::internal)?;
    String::from_utf8(bytes).map_err(ServiceError::internal)
}

/// The start of two-tier local government (Resolution 202/2025/QH15): the date the bundled
/// units and catalogue take effect.
pub fn two_tier_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 7, 1).unwrap_or_default()
}

/// Largest catalogue a gzip file may expand to.
pub const MAX_CATALOGUE_BYTES: u64 = 512 * 1024 * 1024;

pub fn catalogue_bytes() -> Result<Vec<u8>, GunzipError> {
    gunzip_limited(CATALOGUE_GZ, MAX_CATALOGUE_BYTES)
}

#[derive(Debug, Default)]
pub struct SeedReport {
    pub units: Option<UnitImportSummary>,
    /// Rows of the sector table loaded (0 when it already had rows).
    pub sector_places: usize,
    pub catalogue: Option<ImportSummary>,
    pub lineage: Option<crate::services::lineage::LineageSummary>,
}

/// Loads the bundled units into an empty unit table and the bundled catalogue into an empty
/// catalogue. A database that has either keeps it. Runs before the server listens: no cache to
/// tell.
pub fn seed_if_empty(conn: &mut DbConnection) -> Result<SeedReport, ServiceError> {
    let mut report = SeedReport::default();
    let system = Actor::system();
    if crate::repo::units::count(conn)? == 0 {
        report.units =
            Some(import_units(conn, UNITS_CSV, two_tier_start(), &system)?.without_cache());
    }
    // After the units: the table's new communes are checked against them. A database holding
    // the bundled table is brought up to date too when the bundled bases changed (a resolution
    // number added); one holding another edition, loaded by hand, keeps it.
    let text = lineage_text()?;
    let bundled = crate::services::lineage::sha256_hex(text.as_bytes());
    if crate::repo::lineage::count_edges(conn)? == 0
        || crate::repo::lineage::sources(conn)? == [bundled]
    {
        let summary =
            crate::services::lineage::import_lineage(conn, &text, &system)?.without_cache();
        report.lineage = (!summary.unchanged).then_some(summary);
    }
    // Before the catalogue: its versions are placed as they are imported.
    report.sector_places = crate::services::placement::seed_sector_table(
        conn,
        &crate::services::placement::parse_sector_table(SECTOR_PLACES_CSV)?,
    )?;
    if crate::repo::catalogue::count_procedures(conn)? == 0 {
        let data = catalogue_bytes().map_err(ServiceError::internal)?;
        let options = ImportOptions {
            effective_on: two_tier_start(),
            dry_run: false,
            source: format!("{CATALOGUE_NAME} (bundled)"),
            if_match: None,
        };
        report.catalogue =
            Some(import_catalogue(conn, &data, &options, &system, &mut |_| {})?.without_cache());
    }
    Ok(report)
}

pub const HOLIDAYS_CSV: &str = include_str!("../data/holidays-vn.csv");

/// The bundled public holidays (`day,name` with a header line).
pub fn bundled_holidays() -> Result<Vec<crate::repo::postings::HolidayRow>, ServiceError> {
    let mut rows = Vec::new();
    crate::services::csv::read_lines(HOLIDAYS_CSV, |line, record| {
        let bad = || ServiceError::internal(anyhow::anyhow!("bad holiday on line {line}"));
        let record = record.map_err(|_| bad())?;
        if line == 1 {
            return Ok(true);
        }
        let (Some(day), Some(name), None) = (record.get(0), record.get(1), record.get(2)) else {
            return Err(bad());
        };
        rows.push(crate::repo::postings::HolidayRow {
            day: day.parse::<NaiveDate>().map_err(|_| bad())?,
            name: name.to_owned(),
        });
        Ok(true)
    })?;
    Ok(rows)
}

/// Loads the bundled public holidays into an empty holiday table.
pub fn seed_holidays_if_empty(conn: &mut DbConnection) -> Result<usize, ServiceError> {
    crate::services::settings::seed_holidays(conn, &bundled_holidays()?)
}

/// The demo decisions' numbers; their presence marks a database that has the demo.
pub const DEMO_AMENDMENT: &str = "2468/QĐ-BTP";
pub const DEMO_ABOLITION: &str = "1357/QĐ-BTP";
pub const DEMO_PROVINCIAL: &str = "85/QĐ-UBND";
/// What the demo's national abolition ends: a civil-status procedure of the commune centre.
pub const DEMO_ABOLISHED: &str = "3.000323";
/// What Hà Nội's demo decision gives a fee of its own.
pub const DEMO_PROVINCIAL_CODE: &str = "1.004873";

/// Whether a demo was begun on this database (one of its decisions exists).
pub fn demo_started(conn: &mut DbConnection) -> Result<bool, ServiceError> {
    use crate::domain::codes::normalize_decision_number;
    use crate::repo::catalogue::decision_number_taken;
    Ok(
        decision_number_taken(conn, &normalize_decision_number(DEMO_AMENDMENT), "national")?
            || decision_number_taken(conn, &normalize_decision_number(DEMO_ABOLITION), "national")?
            || decision_number_taken(conn, &normalize_decision_number(DEMO_PROVINCIAL), "01")?,
    )
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap_or_default()
}

/// Demo postings for four real communes, with decisions that change what they posted, so that a
/// fresh start shows a real report at once. Each commune's inventory is recorded only if the
/// commune has no postings yet, and each decision only if its number is not taken.
///
/// - Xã Thanh Bình (30130, Đồng Tháp) posted everything on both channels on time in July 2025;
/// - Xã Ia Grai (23764, Gia Lai) posted its counter late and 70% of its web page;
/// - Xã Phú Xuyên (10273, Hà Nội) posted 85% at the counter, half on its web page, one code the
///   catalogue does not know and one under a wrong decision number;
/// - Xã Mỹ Đức (10441, Hà Nội) posted 40% at the counter and nothing on its web page.
///
/// Then: decision 2468/QĐ-BTP amends two civil-status procedures from 2026-10-01, 1357/QĐ-BTP
/// abolishes another (3.000323, supervision of a guardianship) from 2026-11-02, and Hà Nội's
/// 85/QĐ-UBND sets its own fee for the certificate of marital status (1.004873) from 2026-08-03.
/// Every demo decision says so in its title. The communes post what the default obligation
/// requires of them (the commune centre's procedures).
pub fn seed_demo_if_empty(conn: &mut DbConnection) -> Result<bool, ServiceError> {
    use crate::domain::catalogue::{ContentPatch, ItemAction, ItemInput, Scope};
    use crate::domain::codes::{DecisionNumber, ProcedureCode, UnitCode};
    use crate::domain::gaps::PostingChannel;
    use crate::services::catalogue::{DecisionInput, create_decision};
    use crate::services::postings::{PostingInput, replace_inventory};

    // Each step (one commune's inventory, one decision) runs only if it has not run yet, so an
    // interrupted first start completes the demo on the next one.
    for unit in ["30130", "23764", "10273", "10441"] {
        if crate::repo::units::get(conn, unit)?.is_none() {
            return Ok(false);
        }
    }
    let system = Actor::system();
    let start = two_tier_start();
    let catalogue = crate::repo::catalogue::load_catalogue(conn, None)?;
    // Đồng Tháp (82) keeps the default obligation: its commune centres post their own.
    let view = catalogue.for_province("82", start, &[]);
    let required: Vec<(String, Option<String>, String)> = view
        .required_versions()
        .map(|v| {
            (
                v.code.clone(),
                v.announced_by.clone(),
                v.sector_code.clone(),
            )
        })
        .collect();
    if required.len() < 20 {
        return Ok(false);
    }
    let code =
        |s: &str| ProcedureCode::parse(s).map_err(|e| ServiceError::internal(anyhow::anyhow!(e.0)));
    let number = |s: &str| {
        DecisionNumber::parse(s).map_err(|e| ServiceError::internal(anyhow::anyhow!(e.0)))
    };
    let has = |c: &str| required.iter().any(|(code, _, _)| code == c);

    let inventory =
        |pick: &dyn Fn(usize, PostingChannel) -> Option<&'static str>| -> Vec<PostingInput> {
            let mut out = Vec::new();
            for (i, (c, decision, _)) in required.iter().enumerate() {
                for channel in PostingChannel::ALL {
                    if let (Some(day), Ok(code)) = (pick(i, channel), ProcedureCode::parse(c)) {
                        out.push(PostingInput {
                            code,
                            channel,
                            decision: decision.clone().unwrap_or_else(|| "không rõ".into()),
                            posted_on: d(day),
                            evidence_url: None,
                            photo_ref: Some(format!("anh-niem-yet-{}-{}", channel.as_str(), i + 1)),
                            note: None,
                        });
                    }
                }
            }
            out
        };
    let thanh_binh = inventory(&|_, _| Some("2025-07-03"));
    let ia_grai = inventory(&|i, ch| match ch {
        PostingChannel::Counter => Some("2025-07-10"),
        PostingChannel::Portal => (i % 10 < 7).then_some("2025-07-07"),
    });
    let mut phu_xuyen = inventory(&|i, ch| match ch {
        PostingChannel::Counter => (i % 20 >= 3).then_some("2025-08-15"),
        PostingChannel::Portal => (i % 2 == 0).then_some("2025-08-15"),
    });
    phu_xuyen.push(PostingInput {
        code: code("1.999999")?,
        channel: PostingChannel::Counter,
        decision: "12/QĐ-UBND".into(),
        posted_on: d("2025-08-15"),
        evidence_url: None,
        photo_ref: None,
        note: Some("Thủ tục do xã tự soạn, không có trong danh mục".into()),
    });
    if let Some(p) = phu_xuyen
        .iter_mut()
        .find(|p| p.channel == PostingChannel::Counter)
    {
        p.decision = "99/QĐ-BTP".into();
    }
    let my_duc =
        inventory(&|i, ch| (ch == PostingChannel::Counter && i % 5 < 2).then_some("2025-09-05"));

    let catalogue = crate::repo::catalogue::load_catalogue(conn, None)?;
    let mut loaded = false;
    for (unit, posted, on) in [
        ("30130", &thanh_binh, "2025-07-03"),
        ("23764", &ia_grai, "2025-07-10"),
        ("10273", &phu_xuyen, "2025-08-15"),
        ("10441", &my_duc, "2025-09-05"),
    ] {
        if crate::repo::postings::count_for_unit(conn, unit)? > 0 {
            continue;
        }
        loaded = true;
        replace_inventory(conn, unit, posted, d(on), &catalogue, (&system, None))?.without_cache();
    }

    let note = "Dữ liệu minh họa (demo) của niemyet";
    let pending =
        |conn: &mut DbConnection, number: &str, scope: &str| -> Result<bool, ServiceError> {
            let norm = crate::domain::codes::normalize_decision_number(number);
            Ok(!crate::repo::catalogue::decision_number_taken(
                conn, &norm, scope,
            )?)
        };
    if has("1.001193") && has("1.000656") && pending(conn, DEMO_AMENDMENT, "national")? {
        loaded = true;
        let amended_documents = ContentPatch {
            documents: Some("Tờ khai đăng ký theo mẫu mới; giấy tờ tùy thân; giấy tờ chứng minh nơi cư trú (bản điện tử được chấp nhận)".into()),
            legal_basis: Some("Luật Hộ tịch số 60/2014/QH13; Nghị định hướng dẫn sửa đổi năm 2026".into()),
            ..ContentPatch::default()
        };
        create_decision(
            conn,
            DecisionInput {
                number: number(DEMO_AMENDMENT)?,
                issuer: "Bộ Tư pháp".into(),
                scope: Scope::National,
                signed_on: d("2026-09-15"),
                title: Some(format!("{note}: sửa đổi thủ tục hộ tịch cấp xã")),
                items: ["1.001193", "1.000656"]
                    .into_iter()
                    .map(|c| {
                        Ok(ItemInput {
                            action: ItemAction::Amended,
                            posting_place: None,
                            code: code(c)?,
                            effective_on: d("2026-10-01"),
                            patch: Some(amended_documents.clone()),
                        })
                    })
                    .collect::<Result<_, ServiceError>>()?,
            },
            (&system, None),
        )?
        .without_cache();
    }
    if has(DEMO_ABOLISHED) && pending(conn, DEMO_ABOLITION, "national")? {
        loaded = true;
        create_decision(
            conn,
            DecisionInput {
                number: number(DEMO_ABOLITION)?,
                issuer: "Bộ Tư pháp".into(),
                scope: Scope::National,
                signed_on: d("2026-10-20"),
                title: Some(format!("{note}: bãi bỏ thủ tục hộ tịch cấp xã")),
                items: vec![ItemInput {
                    action: ItemAction::Abolished,
                    posting_place: None,
                    code: code(DEMO_ABOLISHED)?,
                    effective_on: d("2026-11-02"),
                    patch: None,
                }],
            },
            (&system, None),
        )?
        .without_cache();
    }
    if has(DEMO_PROVINCIAL_CODE) && pending(conn, DEMO_PROVINCIAL, "01")? {
        loaded = true;
        let hanoi =
            UnitCode::province("01").map_err(|e| ServiceError::internal(anyhow::anyhow!(e.0)))?;
        let fees = crate::domain::catalogue::Channel {
            method: crate::domain::catalogue::Method::Direct,
            time_value: Some(3.0),
            time_unit: Some(crate::domain::catalogue::TimeUnit::WorkingDays),
            fee_vnd: Some(5_000),
            fee_and_notes: Some("5.000 đồng (Nghị quyết của HĐND thành phố Hà Nội)".into()),
        };
        create_decision(
            conn,
            DecisionInput {
                number: number(DEMO_PROVINCIAL)?,
                issuer: "UBND thành phố Hà Nội".into(),
                scope: Scope::Province(hanoi),
                signed_on: d("2026-07-20"),
                title: Some(format!(
                    "{note}: lệ phí cấp Giấy xác nhận tình trạng hôn nhân tại Hà Nội"
                )),
                items: vec![ItemInput {
                    action: ItemAction::Amended,
                    posting_place: None,
                    code: code(DEMO_PROVINCIAL_CODE)?,
                    effective_on: d("2026-08-03"),
                    patch: Some(ContentPatch {
                        channels: Some(vec![fees]),
                        ..ContentPatch::default()
                    }),
                }],
            },
            (&system, None),
        )?
        .without_cache();
    }
    Ok(loaded)
}
