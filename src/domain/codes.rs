//! Identifiers of the domain, parsed once at the edge: procedure codes, unit codes and decision
//! numbers. Their fields are private, so a value of these types is always well formed.

use std::fmt;

use serde::Serialize;

use super::text;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CodeError(pub String);

/// National procedure code `D.NNNNNN` (e.g. `1.001193`). Provincial long forms such as
/// `1.001612.000.00.00.H48` are accepted and kept whole: they carry the national code first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProcedureCode(String);

impl ProcedureCode {
    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        let s = raw.trim();
        let err = || {
            CodeError(format!(
                "`{}` is not a procedure code (expected D.NNNNNN, e.g. 1.001193)",
                clip(s)
            ))
        };
        if s.len() > 40 {
            return Err(err());
        }
        let mut parts = s.split('.');
        let head = parts.next().unwrap_or_default();
        let number = parts.next().unwrap_or_default();
        let ok_head =
            !head.is_empty() && head.len() <= 2 && head.bytes().all(|b| b.is_ascii_digit());
        let ok_number = number.len() == 6 && number.bytes().all(|b| b.is_ascii_digit());
        let ok_tail = parts
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|b| b.is_ascii_alphanumeric()));
        if ok_head && ok_number && ok_tail {
            Ok(Self(s.to_ascii_uppercase()))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcedureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Administrative unit code: 2 digits for a province, 5 for a commune.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct UnitCode(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitLevel {
    Province,
    Commune,
}

impl UnitLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitLevel::Province => "province",
            UnitLevel::Commune => "commune",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "province" => Some(UnitLevel::Province),
            "commune" => Some(UnitLevel::Commune),
            _ => None,
        }
    }
}

impl UnitCode {
    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        let s = raw.trim();
        if (s.len() == 2 || s.len() == 5) && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(CodeError(format!(
                "`{}` is not a unit code (2 digits for a province, 5 for a commune, zero-padded)",
                clip(s)
            )))
        }
    }

    pub fn province(raw: &str) -> Result<Self, CodeError> {
        let code = Self::parse(raw)?;
        if code.level() == UnitLevel::Province {
            Ok(code)
        } else {
            Err(CodeError(format!(
                "`{}` is not a province code (2 digits)",
                code.0
            )))
        }
    }

    pub fn level(&self) -> UnitLevel {
        if self.0.len() == 2 {
            UnitLevel::Province
        } else {
            UnitLevel::Commune
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The number of an announcing decision, e.g. `163/QĐ-BTP` or `19/2025/QĐ-TTg`: a serial number,
/// an optional year, and a symbol of letters and digits joined by hyphens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DecisionNumber(String);

impl DecisionNumber {
    pub fn parse(raw: &str) -> Result<Self, CodeError> {
        let s = text::nfc(raw);
        let err = || {
            CodeError(format!(
                "`{}` is not a decision number (expected e.g. 163/QĐ-BTP or 19/2025/QĐ-TTg)",
                clip(&s)
            ))
        };
        if s.is_empty() || s.chars().count() > 60 {
            return Err(err());
        }
        let parts: Vec<&str> = s.split('/').collect();
        let (serial, symbol) = match parts.as_slice() {
            [serial, symbol] => (*serial, *symbol),
            [serial, year, symbol]
                if year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (*serial, *symbol)
            }
            _ => return Err(err()),
        };
        let serial_ok = !serial.is_empty()
            && serial.chars().next().is_some_and(|c| c.is_ascii_digit())
            && serial.chars().all(|c| c.is_ascii_alphanumeric());
        let symbol_ok = !symbol.is_empty()
            && symbol
                .split('-')
                .all(|p| !p.is_empty() && p.chars().all(latin_alphanumeric));
        if serial_ok && symbol_ok {
            Ok(Self(s))
        } else {
            Err(err())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn normalized(&self) -> String {
        normalize_decision_number(&self.0)
    }
}

/// A letter of the Latin script as Vietnamese writes it (ASCII, Latin-1 and Latin Extended-A and
/// -B for `Đ` and `Ư`, Latin Extended Additional for the stacked diacritics) or an ASCII digit. A
/// symbol typed with a Cyrillic or Greek look-alike (`ВТР` for `BTP`) would look right and never
/// match the catalogue.
fn latin_alphanumeric(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || (c.is_alphabetic() && matches!(c, '\u{00C0}'..='\u{024F}' | '\u{1E00}'..='\u{1EFF}'))
}

/// Matching key of a decision number as published, for raw numbers too (the portal's data has
/// junk such as `QĐ/0001-BTP`, which is kept as it is): NFC, no spaces, upper case, `Đ` → `D`.
pub fn normalize_decision_number(raw: &str) -> String {
    let upper: String = text::nfc(raw)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_uppercase)
        .map(|c| if c == 'Đ' { 'D' } else { c })
        .collect();
    // Some capitals come out decomposed (`ΐ` gives `Ι` and two combining marks): composed again,
    // the key of a key is the key itself.
    text::nfc(&upper)
}

/// `s` for an error message: control characters dropped, cut at 40 characters.
pub(crate) fn clip(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    if s.chars().count() > 40 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn procedure_codes() {
        assert_eq!(
            ProcedureCode::parse("1.001193").map(|c| c.0),
            Ok("1.001193".to_owned())
        );
        assert!(ProcedureCode::parse(" 2.000123 ").is_ok());
        assert!(ProcedureCode::parse("1.001612.000.00.00.H48").is_ok());
        for bad in [
            "",
            "1001193",
            "1.00119",
            "a.001193",
            "1.001193.",
            "1.001193;DROP",
            "../1.001193",
        ] {
            assert!(ProcedureCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unit_codes() {
        assert_eq!(
            UnitCode::parse("79").map(|c| c.level()),
            Ok(UnitLevel::Province)
        );
        assert_eq!(
            UnitCode::parse("26740").map(|c| c.level()),
            Ok(UnitLevel::Commune)
        );
        for bad in ["7", "790", "2674a", "", "79 OR 1=1"] {
            assert!(UnitCode::parse(bad).is_err(), "{bad}");
        }
        assert!(UnitCode::province("26740").is_err());
    }

    #[test]
    fn decision_numbers() {
        for good in [
            "163/QĐ-BTP",
            "19/2025/QĐ-TTg",
            "885/QĐ-BCA-C06",
            "1025/QĐ-UBND",
            "12/CT-ƯBND",
            "7/QĐ-SỞTP",
        ] {
            assert!(DecisionNumber::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "QĐ/0001-BTP",
            "163",
            "163/",
            "/QĐ-BTP",
            "163/QĐ--BTP",
            "163/QĐ BTP",
            // Cyrillic В, Т, Р; Greek Β; Arabic-Indic digits.
            "163/QĐ-ВТР",
            "163/QĐ-ΒTP",
            "163/QĐ-BTP٣",
        ] {
            assert!(DecisionNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(normalize_decision_number(" 163/qđ-btp"), "163/QD-BTP");
    }

    /// Found by the `codes` fuzz target: the key of a key differed from the key.
    #[test]
    fn a_matching_key_is_its_own_key() {
        for raw in ["9/Qΐ-TTNg79", "163/qđ-btp", "1/ǰ-ß", "2/QĐ-ΰ"] {
            let key = normalize_decision_number(raw);
            assert_eq!(normalize_decision_number(&key), key, "{raw}");
        }
        assert_eq!(
            normalize_decision_number("9/Qΐ-TTNg79"),
            "9/QΪ\u{301}-TTNG79"
        );
    }
}
