//! The catalogue importer's reader, line by line: no input panics, and a record it accepts has a
//! well-formed code and a sector name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use niemyet::domain::codes::ProcedureCode;
use niemyet::domain::import::{parse_fee, parse_record};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        if let Ok(record) = parse_record(line) {
            assert_eq!(
                ProcedureCode::parse(record.code.as_str()).as_ref(),
                Ok(&record.code)
            );
            assert!(!record.sector_name.is_empty());
            assert!(!record.sector_name.contains('\0'));
        }
        if let Some(fee) = parse_fee(line) {
            assert!(fee >= 0, "{line:?} gives a fee of {fee}");
        }
    }
});
