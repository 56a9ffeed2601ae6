//! The bulk loader's line checker over whole files: no input panics, and the answer is either a
//! count of good lines or between 1 and 100 problems.
#![no_main]

use std::collections::HashSet;

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use niemyet::services::ServiceError;
use niemyet::services::bulk::check_postings;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let communes: HashSet<String> = ["23764", "10441"].map(String::from).into();
    let today = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap_or_default();
    match check_postings(text, &communes, today) {
        Ok(checked) => {
            assert!(checked.rows < text.lines().count().max(1));
            let referenced: usize = checked.referenced.iter().map(|r| r.lines).sum();
            assert_eq!(referenced, checked.rows);
        }
        Err(ServiceError::Validation(problems)) => {
            assert!((1..=100).contains(&problems.len()), "{problems:?}")
        }
        Err(other) => panic!("{other}"),
    }
});
