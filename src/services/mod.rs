//! Operations that span several repository calls or one transaction: imports, decisions,
//! postings, reports, inspections and the change feed.
//! Shared by the HTTP handlers, the CLI and start-up seeding.

pub mod bulk;
pub mod cache;
pub mod catalogue;
pub mod changes;
pub mod etag;
pub mod generate;
pub mod inspections;
pub mod postings;
pub mod reports;
pub mod units;

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
