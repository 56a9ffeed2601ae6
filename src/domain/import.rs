//! Reading the national portal's catalogue records (one JSON object a line). The text is raw and
//! messy, so this reader is lenient: it keeps every text field as published (NFC, without NUL
//! bytes), tolerates odd values field by field, and reports a line as a problem only when it
//! lacks what a version cannot do without (code, name, sector, levels).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::catalogue::{Channel, Level, Method, ProcedureContent, TimeUnit};
use super::codes::ProcedureCode;
use super::text;

/// One catalogue record, read.
#[derive(Debug, Clone)]
pub struct ImportRecord {
    pub code: ProcedureCode,
    pub sector_name: String,
    /// Content with an empty `sector_code`: the caller resolves the sector by name.
    pub content: ProcedureContent,
    /// The announcing decision's number as published (may be junk such as `QĐ/0001-BTP`).
    pub announced_by: Option<String>,
}

fn clean(s: &str) -> String {
    text::nfc(&s.replace('\0', ""))
}

fn text_field(obj: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::Null => None,
        Value::String(s) => Some(clean(s)).filter(|s| !s.is_empty()),
        other => Some(clean(&other.to_string())),
    }
}

#[expect(
    clippy::expect_used,
    reason = "a constant pattern: it compiles, as every test that reads a fee shows"
)]
fn fee_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*([0-9][0-9.,]*)\s*(?:Việt Nam Đồng|VNĐ|VND|đồng)")
            .expect("the fee pattern compiles")
    })
}

/// The fee stated at the start of the portal's fee cell (`70,000 Việt Nam Đồng(...)`), in VND;
/// `Miễn phí` (free of charge) is 0.
pub fn parse_fee(raw: &str) -> Option<i64> {
    if text::fold(raw).starts_with("mien phi") {
        return Some(0);
    }
    let caps = fee_regex().captures(raw)?;
    let digits: String = caps
        .get(1)?
        .as_str()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn parse_channel(value: &Value) -> Option<Channel> {
    let obj = value.as_object()?;
    let method = match obj.get("method")?.as_str()? {
        "direct" => Method::Direct,
        "online" => Method::Online,
        "postal" => Method::Postal,
        _ => return None,
    };
    let time_value = match obj.get("time_value") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().replace(',', ".").parse().ok(),
        _ => None,
    }
    .filter(|v: &f64| v.is_finite() && *v >= 0.0);
    let time_unit = obj
        .get("time_unit")
        .and_then(Value::as_str)
        .and_then(TimeUnit::from_vietnamese);
    let fee_and_notes = text_field(obj, "fee_and_notes");
    let fee_vnd = fee_and_notes.as_deref().and_then(parse_fee);
    Some(Channel {
        method,
        time_value,
        time_unit,
        fee_vnd,
        fee_and_notes,
    })
}

/// Reads one line. The error says what is missing, for the import's problem list.
pub fn parse_record(line: &str) -> Result<ImportRecord, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| format!("not valid JSON: {e}"))?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    let code_raw = obj.get("code").and_then(Value::as_str).ok_or("no `code`")?;
    let code = ProcedureCode::parse(code_raw).map_err(|e| e.0)?;
    let name = text_field(obj, "name").ok_or("no `name`")?;
    let sector_name = text_field(obj, "sector").ok_or("no `sector`")?;
    let levels: BTreeSet<Level> = obj
        .get("levels")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter_map(|s| Level::parse(s.trim()))
                .collect()
        })
        .unwrap_or_default();
    if levels.is_empty() {
        return Err("no known `levels` (central, province, commune, other)".into());
    }
    let mut channels: Vec<Channel> = obj
        .get("channels")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(parse_channel).collect())
        .unwrap_or_default();
    channels.sort_by_key(|c| c.method);
    channels.dedup_by_key(|c| c.method);
    let content = ProcedureContent {
        name,
        sector_code: String::new(),
        levels,
        channels,
        documents: text_field(obj, "documents"),
        steps: text_field(obj, "steps"),
        requirements: text_field(obj, "requirements"),
        legal_basis: text_field(obj, "legal_basis"),
        results: text_field(obj, "results"),
        executing_agency: text_field(obj, "executing_agency"),
        procedure_type: text_field(obj, "procedure_type"),
        subjects: text_field(obj, "subjects"),
        authority: text_field(obj, "authority"),
        source_url: text_field(obj, "source_url"),
    };
    Ok(ImportRecord {
        code,
        sector_name,
        content,
        announced_by: text_field(obj, "announcing_decision"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_read_from_the_start_of_the_cell() {
        assert_eq!(
            parse_fee("70,000 Việt Nam Đồng(- Cấp lại thẻ căn cước ...)"),
            Some(70_000)
        );
        assert_eq!(
            parse_fee("1,200,000 Việt Nam Đồng(1.200.000 đồng/thẻ ABTC.)"),
            Some(1_200_000)
        );
        assert_eq!(parse_fee("Không có thông tin"), None);
        assert_eq!(
            parse_fee("Miễn phí(Mức lệ phí cụ thể do Hội đồng nhân dân...)"),
            Some(0)
        );
        assert_eq!(parse_fee(""), None);
    }

    #[test]
    fn a_messy_record_is_read_field_by_field() {
        let line = r#"{"code":"1.001193","name":"Thủ tục đăng ký khai sinh","sector":"Hộ tịch",
            "levels":["commune","bogus"],"announcing_decision":"QĐ/0001-BTP","documents":42,
            "channels":[{"method":"direct","time_value":"1","time_unit":"Ngày làm việc","fee_and_notes":"8,000 Việt Nam Đồng"},
                        {"method":"fax"},{"method":"online","time_value":null,"time_unit":null,"fee_and_notes":null}],
            "steps":"a\u0000b"}"#;
        let record = parse_record(&line.replace('\n', " ")).expect("the record reads");
        assert_eq!(record.code.as_str(), "1.001193");
        assert_eq!(record.content.levels.len(), 1);
        assert_eq!(record.content.channels.len(), 2);
        assert_eq!(record.content.channels[0].fee_vnd, Some(8_000));
        assert_eq!(
            record.content.channels[0].time_unit,
            Some(TimeUnit::WorkingDays)
        );
        assert_eq!(record.content.documents.as_deref(), Some("42"));
        assert_eq!(record.content.steps.as_deref(), Some("ab"));
        assert_eq!(record.announced_by.as_deref(), Some("QĐ/0001-BTP"));
    }

    #[test]
    fn records_without_essentials_are_refused() {
        assert!(parse_record("{").is_err());
        assert!(parse_record("[]").is_err());
        assert!(
            parse_record(r#"{"code":"x","name":"a","sector":"b","levels":["commune"]}"#).is_err()
        );
        assert!(parse_record(r#"{"code":"1.000001","sector":"b","levels":["commune"]}"#).is_err());
        assert!(
            parse_record(r#"{"code":"1.000001","name":"a","sector":"b","levels":[]}"#).is_err()
        );
    }
}
