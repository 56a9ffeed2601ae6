//! The data bundled into the binary (from `data/`, see `data/SOURCES.md`): the administrative
//! units of 2025 and the national catalogue snapshot. A fresh database gets both at start.

use chrono::NaiveDate;

use crate::auth::Identity;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::services::catalogue::{ImportOptions, ImportSummary, import_catalogue};
use crate::services::units::{UnitImportSummary, import_units};
use crate::services::{GunzipError, gunzip_limited};

pub const UNITS_CSV: &str = include_str!("../data/admin-units-2025.csv");
pub const CATALOGUE_GZ: &[u8] = include_bytes!("../data/dvcqg-catalogue-2026-06.jsonl.gz");
pub const CATALOGUE_NAME: &str = "dvcqg-catalogue-2026-06.jsonl.gz";

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
    pub catalogue: Option<ImportSummary>,
}

/// Loads the bundled units into an empty unit table and the bundled catalogue into an empty
/// catalogue. A database that has either keeps it.
pub fn seed_if_empty(conn: &mut DbConnection) -> Result<SeedReport, ApiError> {
    let mut report = SeedReport::default();
    if crate::repo::units::count(conn)? == 0 {
        report.units = Some(import_units(
            conn,
            UNITS_CSV,
            two_tier_start(),
            &Identity::system(),
        )?);
    }
    if crate::repo::catalogue::count_procedures(conn)? == 0 {
        let data = catalogue_bytes().map_err(ApiError::internal)?;
        let options = ImportOptions {
            effective_on: two_tier_start(),
            dry_run: false,
            source: format!("{CATALOGUE_NAME} (bundled)"),
        };
        report.catalogue = Some(import_catalogue(
            conn,
            &data,
            &options,
            &Identity::system(),
            None,
            &mut |_| {},
        )?);
    }
    Ok(report)
}
