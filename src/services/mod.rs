//! Operations that span several repository calls or one transaction: imports, decisions,
//! postings, settings, reports, inspections and the change feed. Shared by the HTTP handlers,
//! the command line and start-up seeding, which all call the same functions; every write goes
//! through [`write::transact`]. Errors are [`ServiceError`], mapped to HTTP at the edge.

pub mod bulk;
pub mod catalogue;
pub mod changes;
pub mod csv;
mod error;
pub mod etag;
pub mod generate;
pub mod inspections;
pub mod lineage;
pub mod obligation;
pub mod placement;
pub mod postings;
pub mod reports;
pub mod sectors;
pub mod settings;
pub mod snapshot;
pub mod units;
pub mod webhooks;
pub mod write;

pub use error::ServiceError;

use std::io::Read;

/// Decompresses gzip data, refusing to produce more than `max` bytes (a gzip bomb stops here).
pub fn gunzip_limited(data: &[u8], max: u64) -> Result<Vec<u8>, GunzipError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .take(max + 1)
        .read_to_end(&mut out)
        .map_err(|e| GunzipError::Corrupt(e.to_string()))?;
    if out.len() as u64 > max {
        return Err(GunzipError::TooLarge(max));
    }
    Ok(out)
}

#[derive(Debug, thiserror::Error)]
pub enum GunzipError {
    #[error("the gzip data is corrupt: {0}")]
    Corrupt(String),
    #[error("the data decompresses to more than {0} bytes")]
    TooLarge(u64),
}

/// Whether `data` starts with the gzip magic number.
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b])
}
