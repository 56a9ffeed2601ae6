//! Every word a person reads in an export, in one table: column headers, sheet names, the values
//! of the service's enums, and the phrases of a workbook's title block. Vietnamese is the
//! default; `?lang=en` picks English.
//!
//! A CSV in English keeps the JSON field names as its headers and every enum value as the API
//! writes it, because programs read CSV: only workbooks show the English phrases below.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The language of an export's words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Lang {
    /// Vietnamese (the default).
    #[default]
    Vi,
    /// English.
    En,
}

/// (key, Vietnamese, English).
type Entry = (&'static str, &'static str, &'static str);

/// Column headers. The key is the CSV's English header (the JSON field name).
const COLUMNS: &[Entry] = &[
    ("province_code", "Mã tỉnh", "Province code"),
    ("province_name", "Tỉnh, thành phố", "Province"),
    ("commune_code", "Mã xã", "Commune code"),
    ("commune_name", "Xã, phường, đặc khu", "Commune"),
    ("as_of", "Ngày báo cáo", "As of"),
    ("finding_id", "Mã phát hiện", "Finding id"),
    ("kind", "Loại phát hiện", "Kind"),
    ("severity", "Mức độ", "Severity"),
    ("procedure_code", "Mã thủ tục", "Procedure code"),
    ("procedure_name", "Tên thủ tục", "Procedure"),
    ("sector_code", "Mã lĩnh vực", "Sector code"),
    ("sector", "Lĩnh vực", "Sector"),
    ("channel", "Hình thức niêm yết", "Channel"),
    (
        "expected_decision",
        "Quyết định công bố phải niêm yết",
        "Decision to post",
    ),
    ("expected_effective_on", "Hiệu lực từ", "In effect from"),
    (
        "observed_decision",
        "Quyết định đang niêm yết",
        "Decision posted",
    ),
    ("observed_posted_on", "Ngày niêm yết", "Posted on"),
    ("changed_fields", "Nội dung đã thay đổi", "Changed fields"),
    ("due_on", "Hạn niêm yết", "Due on"),
    ("overdue", "Quá hạn", "Overdue"),
    ("days_overdue", "Số ngày quá hạn", "Days overdue"),
    (
        "required_procedures",
        "Số thủ tục phải niêm yết",
        "Procedures to post",
    ),
    (
        "required_pairs",
        "Số lượt phải niêm yết (thủ tục × hình thức)",
        "Required postings (procedure × channel)",
    ),
    ("ok", "Đạt", "Posted correctly"),
    ("completeness", "Tỷ lệ đầy đủ", "Completeness"),
    ("missing", "Chưa niêm yết", "Missing"),
    ("outdated", "Chưa cập nhật", "Outdated"),
    ("must_remove", "Phải gỡ bỏ", "Must remove"),
    ("not_applicable", "Không thuộc diện", "Not applicable"),
    ("premature", "Niêm yết trước hiệu lực", "Premature"),
    (
        "unknown_procedure",
        "Mã không có trong CSDL",
        "Unknown procedure",
    ),
    ("other", "Khác", "Other"),
    ("timely", "Niêm yết đúng hạn", "Posted on time"),
    ("timely_rate", "Tỷ lệ đúng hạn", "Timely rate"),
    ("communes", "Số xã", "Communes"),
    (
        "incomplete_communes",
        "Số xã chưa đầy đủ",
        "Incomplete communes",
    ),
    ("decision", "Quyết định công bố", "Announcing decision"),
    ("effective_on", "Ngày hiệu lực", "Effective on"),
    ("processing_time", "Thời hạn giải quyết", "Processing time"),
    ("fee", "Phí, lệ phí", "Fee"),
    ("posting_place", "Nơi niêm yết", "Posting place"),
    ("basis", "Căn cứ", "Basis"),
    (
        "source_url",
        "Trang trên CSDL quốc gia",
        "National portal page",
    ),
    ("status", "Tình trạng", "Status"),
    ("posting_action", "Việc phải làm", "Posting action"),
    ("decision_number", "Số quyết định", "Decision number"),
    ("decision_scope", "Cấp ban hành", "Decision scope"),
    ("decision_signed_on", "Ngày ký", "Signed on"),
    ("action", "Nội dung quyết định", "Action"),
    ("inspection_id", "Mã đợt kiểm tra", "Inspection id"),
    ("inspected_on", "Ngày kiểm tra", "Inspected on"),
    ("no", "STT", "No."),
    ("qr", "Tra cứu", "Look up"),
    (
        "district_name",
        "Quận, huyện (trước 01/7/2025)",
        "District (until 2025-06-30)",
    ),
    ("finding", "Nội dung phát hiện", "Finding"),
    ("provinces", "Số tỉnh, thành phố", "Provinces"),
    (
        "communes_affected",
        "Số xã phải thực hiện",
        "Communes affected",
    ),
    ("pending", "Số việc chưa thực hiện", "Pending actions"),
    ("counter", "Tại Bộ phận Một cửa", "At the counter"),
    ("portal", "Trên trang thông tin điện tử", "On the web page"),
    ("total", "Tổng số", "Total"),
];

/// Sheet names (at most 31 characters, Excel's limit).
const SHEETS: &[Entry] = &[
    ("summary", "Tổng hợp", "Summary"),
    ("chart", "Biểu đồ", "Chart"),
    ("findings", "Phát hiện", "Findings"),
    ("communes", "Các xã", "Communes"),
    ("sectors", "Theo lĩnh vực", "By sector"),
    ("provinces", "Các tỉnh", "Provinces"),
    ("impact", "Ảnh hưởng", "Impact"),
    ("posting_list", "Danh mục niêm yết", "Posting list"),
    ("changes", "Thay đổi", "Changes"),
    ("follow_up", "Theo dõi khắc phục", "Follow-up"),
    ("archive", "Hồ sơ lưu trữ", "Archive record"),
];

/// Phrases of a workbook's title block, print header and footer.
const TEXTS: &[Entry] = &[
    (
        "title_commune",
        "BÁO CÁO KẾT QUẢ NIÊM YẾT THỦ TỤC HÀNH CHÍNH",
        "PUBLIC POSTING OF ADMINISTRATIVE PROCEDURES: COMMUNE REPORT",
    ),
    (
        "title_province",
        "BÁO CÁO TỔNG HỢP NIÊM YẾT THỦ TỤC HÀNH CHÍNH CÁC XÃ",
        "PUBLIC POSTING OF ADMINISTRATIVE PROCEDURES: PROVINCE REPORT",
    ),
    (
        "title_national",
        "BÁO CÁO TỔNG HỢP NIÊM YẾT THỦ TỤC HÀNH CHÍNH TOÀN QUỐC",
        "PUBLIC POSTING OF ADMINISTRATIVE PROCEDURES: NATIONAL REPORT",
    ),
    (
        "title_impact",
        "TÌNH HÌNH THỰC HIỆN NIÊM YẾT THEO QUYẾT ĐỊNH CÔNG BỐ",
        "PUBLIC POSTING REQUIRED BY A DECISION: WHAT REMAINS TO DO",
    ),
    ("unit", "Đơn vị", "Unit"),
    ("decision", "Quyết định công bố", "Decision"),
    ("scope", "Phạm vi", "Scope"),
    ("whole_country", "Toàn quốc", "The whole country"),
    (
        "rules_each_province",
        "quy tắc niêm yết của từng tỉnh, thành phố (hạn niêm yết, hình thức bắt buộc, nơi niêm yết)",
        "each province's own posting rules (deadline, required channels, posting places)",
    ),
    ("province", "Tỉnh, thành phố", "Province"),
    ("as_of", "Số liệu tính đến ngày", "As of"),
    ("rules", "Quy tắc áp dụng", "Rules applied"),
    (
        "generated",
        "Lập lúc (giờ Việt Nam)",
        "Generated (Vietnam time)",
    ),
    ("software", "Phần mềm", "Software"),
    ("figures", "SỐ LIỆU CHÍNH", "KEY FIGURES"),
    ("by_sector", "THEO LĨNH VỰC", "BY SECTOR"),
    (
        "by_commune",
        "THEO XÃ (thấp nhất trước)",
        "BY COMMUNE (worst first)",
    ),
    (
        "chart_sector",
        "Tỷ lệ đầy đủ theo lĩnh vực",
        "Completeness by sector",
    ),
    (
        "chart_commune",
        "Tỷ lệ đầy đủ theo xã",
        "Completeness by commune",
    ),
    (
        "by_province",
        "THEO TỈNH, THÀNH PHỐ (thấp nhất trước)",
        "BY PROVINCE (worst first)",
    ),
    (
        "chart_province",
        "Tỷ lệ đầy đủ theo tỉnh, thành phố",
        "Completeness by province",
    ),
    (
        "by_kind_channel",
        "THEO LOẠI VIỆC VÀ HÌNH THỨC NIÊM YẾT",
        "BY KIND AND CHANNEL",
    ),
    ("by_province_impact", "THEO TỈNH, THÀNH PHỐ", "BY PROVINCE"),
    (
        "sorted_overdue",
        "Sắp xếp: số ngày quá hạn giảm dần",
        "Sorted by days overdue (most first)",
    ),
    ("page", "Trang", "Page"),
    (
        "sheet_title",
        "DANH MỤC THỦ TỤC HÀNH CHÍNH NIÊM YẾT CÔNG KHAI",
        "ADMINISTRATIVE PROCEDURES POSTED FOR THE PUBLIC",
    ),
    ("committee", "ỦY BAN NHÂN DÂN", "PEOPLE'S COMMITTEE OF"),
    (
        "nation",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "SOCIALIST REPUBLIC OF VIET NAM",
    ),
    (
        "motto",
        "Độc lập - Tự do - Hạnh phúc",
        "Independence - Freedom - Happiness",
    ),
    ("in_force_on", "Áp dụng tại ngày", "In force on"),
    ("total", "Tổng số", "In all"),
    ("procedures", "thủ tục", "procedures"),
    ("sector_heading", "Lĩnh vực", "Sector"),
    (
        "scan",
        "Quét mã QR để mở trang của thủ tục trên Cổng Dịch vụ công quốc gia.",
        "Scan a QR code to open the procedure's page on the National Public Service Portal.",
    ),
    ("printed", "In lúc", "Printed"),
    ("free", "miễn phí", "free"),
    ("currency", "đồng", "VND"),
    ("of", "/", "of"),
    (
        "rule_deadline",
        "hạn niêm yết {} ngày làm việc kể từ ngày quyết định có hiệu lực",
        "posted within {} working days of the decision taking effect",
    ),
    ("rule_channels", "hình thức bắt buộc", "required channels"),
    ("rule_places", "nơi niêm yết", "posting places"),
    (
        "sorted",
        "Sắp xếp: mức độ, rồi số ngày quá hạn giảm dần",
        "Sorted by severity, then days overdue (most first)",
    ),
    ("no_findings", "Không có phát hiện nào.", "No findings."),
    (
        "title_inspection",
        "BIÊN BẢN KIỂM TRA VIỆC NIÊM YẾT, CÔNG KHAI THỦ TỤC HÀNH CHÍNH",
        "RECORD OF AN INSPECTION OF THE PUBLIC POSTING OF ADMINISTRATIVE PROCEDURES",
    ),
    ("inspected_on", "Ngày kiểm tra", "Inspected on"),
    ("team", "Đoàn kiểm tra", "Inspection team"),
    ("record_id", "Số hiệu bản ghi", "Record"),
    (
        "notes",
        "Ý KIẾN, KẾT LUẬN CỦA ĐOÀN KIỂM TRA",
        "THE TEAM'S NOTES AND CONCLUSIONS",
    ),
    (
        "sign_unit",
        "ĐẠI DIỆN ĐƠN VỊ ĐƯỢC KIỂM TRA",
        "FOR THE INSPECTED UNIT",
    ),
    (
        "sign_team",
        "TRƯỞNG ĐOÀN KIỂM TRA",
        "HEAD OF THE INSPECTION TEAM",
    ),
    (
        "sign_hint",
        "(Ký, ghi rõ họ tên)",
        "(Signature and full name)",
    ),
    ("archive_valid_to", "hoạt động đến ngày", "in force until"),
    (
        "archive_note",
        "Biên bản ghi lại từ hồ sơ lưu trữ: đơn vị đã được sắp xếp theo Nghị quyết năm 2025 của Ủy ban Thường vụ Quốc hội; các phát hiện ghi như hồ sơ, không tính lại theo danh mục.",
        "Recorded from the archive: the unit was reorganised by the Standing Committee's 2025 resolution; the findings are as the record wrote them, not computed from the catalogue.",
    ),
    (
        "archive_findings",
        "NỘI DUNG PHÁT HIỆN QUA KIỂM TRA",
        "WHAT THE INSPECTION FOUND",
    ),
];

/// The values of the service's enums, by vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vocab {
    Kind,
    Severity,
    Channel,
    YesNo,
    ChangeStatus,
    PostingAction,
    ItemAction,
    FollowUp,
    Place,
    /// The parts of a procedure an `outdated` finding names.
    Field,
    /// How an application is submitted.
    Method,
    /// The unit of a processing time.
    TimeUnit,
}

const VALUES: &[(Vocab, &str, &str, &str)] = &[
    (Vocab::Kind, "missing", "Chưa niêm yết", "Missing"),
    (
        Vocab::Kind,
        "outdated",
        "Niêm yết chưa cập nhật",
        "Outdated",
    ),
    (
        Vocab::Kind,
        "must_remove",
        "Đã bãi bỏ, phải gỡ",
        "Abolished, must remove",
    ),
    (
        Vocab::Kind,
        "not_applicable",
        "Không thuộc diện phải niêm yết",
        "Not applicable",
    ),
    (
        Vocab::Kind,
        "premature",
        "Niêm yết trước ngày hiệu lực",
        "Posted before in force",
    ),
    (
        Vocab::Kind,
        "unknown_procedure",
        "Mã không có trong CSDL",
        "Unknown procedure code",
    ),
    (Vocab::Severity, "high", "Cao", "High"),
    (Vocab::Severity, "medium", "Trung bình", "Medium"),
    (Vocab::Severity, "low", "Thấp", "Low"),
    (
        Vocab::Channel,
        "counter",
        "Tại Bộ phận Một cửa",
        "Counter (board)",
    ),
    (
        Vocab::Channel,
        "portal",
        "Trang thông tin điện tử",
        "Web page",
    ),
    (Vocab::YesNo, "true", "Có", "Yes"),
    (Vocab::YesNo, "false", "Không", "No"),
    (
        Vocab::ChangeStatus,
        "in_effect",
        "Đang có hiệu lực",
        "In effect",
    ),
    (
        Vocab::ChangeStatus,
        "upcoming",
        "Sắp có hiệu lực",
        "Upcoming",
    ),
    (Vocab::PostingAction, "post", "Niêm yết", "Post"),
    (Vocab::PostingAction, "re_post", "Niêm yết lại", "Re-post"),
    (Vocab::PostingAction, "take_down", "Gỡ bỏ", "Take down"),
    (Vocab::ItemAction, "new", "Công bố mới", "New"),
    (Vocab::ItemAction, "amended", "Sửa đổi, bổ sung", "Amended"),
    (Vocab::ItemAction, "abolished", "Bãi bỏ", "Abolished"),
    (Vocab::ItemAction, "listed", "Đưa vào danh mục", "Listed"),
    (
        Vocab::ItemAction,
        "delisted",
        "Đưa ra khỏi danh mục",
        "Delisted",
    ),
    (Vocab::FollowUp, "resolved", "Đã khắc phục", "Resolved"),
    (
        Vocab::FollowUp,
        "still_open",
        "Chưa khắc phục",
        "Still open",
    ),
    (Vocab::FollowUp, "new", "Mới phát sinh", "New"),
    (
        Vocab::Place,
        "commune_centre",
        "Trung tâm phục vụ hành chính công xã",
        "Commune service centre",
    ),
    (
        Vocab::Place,
        "commune_police",
        "Công an xã",
        "Commune police",
    ),
    (Vocab::Place, "elsewhere", "Cơ quan khác", "Elsewhere"),
    (Vocab::Method, "direct", "trực tiếp", "in person"),
    (Vocab::Method, "online", "trực tuyến", "online"),
    (Vocab::Method, "postal", "bưu chính", "by post"),
    (
        Vocab::TimeUnit,
        "working_days",
        "ngày làm việc",
        "working days",
    ),
    (Vocab::TimeUnit, "days", "ngày", "days"),
    (Vocab::TimeUnit, "hours", "giờ", "hours"),
    (Vocab::TimeUnit, "months", "tháng", "months"),
    (Vocab::Field, "name", "tên thủ tục", "name"),
    (Vocab::Field, "sector", "lĩnh vực", "sector"),
    (Vocab::Field, "fees", "phí, lệ phí", "fees"),
    (
        Vocab::Field,
        "processing_time",
        "thời hạn giải quyết",
        "processing time",
    ),
    (Vocab::Field, "documents", "thành phần hồ sơ", "documents"),
    (Vocab::Field, "steps", "trình tự thực hiện", "steps"),
    (
        Vocab::Field,
        "requirements",
        "yêu cầu, điều kiện",
        "requirements",
    ),
    (Vocab::Field, "legal_basis", "căn cứ pháp lý", "legal basis"),
    (Vocab::Field, "results", "kết quả thực hiện", "results"),
    (Vocab::Field, "levels", "cấp thực hiện", "levels"),
    (
        Vocab::Field,
        "agency",
        "cơ quan thực hiện",
        "executing agency",
    ),
];

fn pick(entry: &Entry, lang: Lang) -> &'static str {
    match lang {
        Lang::Vi => entry.1,
        Lang::En => entry.2,
    }
}

fn find(table: &'static [Entry], key: &str, lang: Lang) -> Option<&'static str> {
    table.iter().find(|e| e.0 == key).map(|e| pick(e, lang))
}

/// A column's header in a workbook.
pub fn column(key: &'static str, lang: Lang) -> &'static str {
    find(COLUMNS, key, lang).unwrap_or(key)
}

/// A column's header in a CSV: the JSON field name in English, so that programs keep theirs.
pub fn csv_column(key: &'static str, lang: Lang) -> &'static str {
    match lang {
        Lang::Vi => column(key, lang),
        Lang::En => key,
    }
}

pub fn sheet(key: &'static str, lang: Lang) -> &'static str {
    find(SHEETS, key, lang).unwrap_or(key)
}

pub fn text(key: &'static str, lang: Lang) -> &'static str {
    find(TEXTS, key, lang).unwrap_or(key)
}

/// An enum value as a person reads it (the value itself when the table lacks it).
pub fn value(vocab: Vocab, raw: &str, lang: Lang) -> &str {
    VALUES
        .iter()
        .find(|v| v.0 == vocab && v.1 == raw)
        .map_or(raw, |v| match lang {
            Lang::Vi => v.2,
            Lang::En => v.3,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::gaps::{FindingKind, PostingChannel};
    use std::collections::HashSet;

    #[test]
    fn keys_and_labels_are_unique_in_each_language() {
        for table in [COLUMNS, SHEETS, TEXTS] {
            let keys: HashSet<_> = table.iter().map(|e| e.0).collect();
            assert_eq!(keys.len(), table.len(), "a key twice");
        }
        for lang in [Lang::Vi, Lang::En] {
            let headers: HashSet<_> = COLUMNS.iter().map(|e| pick(e, lang)).collect();
            assert_eq!(headers.len(), COLUMNS.len(), "two columns read the same");
        }
        assert!(
            SHEETS
                .iter()
                .all(|e| e.1.chars().count() <= 31 && e.2.len() <= 31)
        );
    }

    #[test]
    fn every_finding_kind_and_channel_has_words() {
        for kind in FindingKind::ALL {
            assert_ne!(value(Vocab::Kind, kind.as_str(), Lang::Vi), kind.as_str());
            assert_ne!(value(Vocab::Kind, kind.as_str(), Lang::En), kind.as_str());
        }
        for channel in PostingChannel::ALL {
            assert_ne!(
                value(Vocab::Channel, channel.as_str(), Lang::Vi),
                channel.as_str()
            );
        }
        assert_eq!(value(Vocab::FollowUp, "new", Lang::Vi), "Mới phát sinh");
        assert_eq!(value(Vocab::ItemAction, "new", Lang::Vi), "Công bố mới");
    }
}
