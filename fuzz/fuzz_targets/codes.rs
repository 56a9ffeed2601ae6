//! Procedure codes, unit codes and decision numbers: no input panics, whatever parses reads back
//! the same when parsed again, and a decision number's matching key is stable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use niemyet::domain::codes::{DecisionNumber, ProcedureCode, UnitCode, normalize_decision_number};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(code) = ProcedureCode::parse(s) {
        assert_eq!(ProcedureCode::parse(code.as_str()).as_ref(), Ok(&code));
        assert!(code.as_str().is_ascii() && code.as_str().len() <= 40);
    }
    if let Ok(unit) = UnitCode::parse(s) {
        assert_eq!(UnitCode::parse(unit.as_str()).as_ref(), Ok(&unit));
    }
    let key = normalize_decision_number(s);
    assert_eq!(
        normalize_decision_number(&key),
        key,
        "the matching key of {s:?}"
    );
    if let Ok(number) = DecisionNumber::parse(s) {
        assert_eq!(DecisionNumber::parse(number.as_str()).as_ref(), Ok(&number));
        assert_eq!(number.normalized(), key);
    }
});
