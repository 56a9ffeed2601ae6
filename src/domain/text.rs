//! Text handling for Vietnamese: NFC normalisation of every input, and the folded form used for
//! search (lower case, no diacritics, `đ` → `d`), so that `dang ky` finds `Đăng ký`.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// NFC form of `s` with surrounding white space removed.
pub fn nfc(s: &str) -> String {
    s.trim().nfc().collect()
}

/// Search key: decomposes, drops combining marks, maps `đ`/`Đ` to `d`, lower-cases and folds
/// runs of white space into one space.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last_space = true;
    for c in s.nfd() {
        if is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'đ' | 'Đ' => 'd',
            c => c,
        };
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        out.extend(c.to_lowercase());
    }
    while out.ends_with(' ') {
        out.pop();
    }
    out
}

/// The key names are searched by: the folded text with every character other than letters,
/// digits, `.` and `-` turned into a space, and spaces collapsed. Stored names and queries both
/// go through it, so punctuation never decides a match (and the key is safe in a LIKE pattern).
pub fn search_key(s: &str) -> String {
    let folded: String = fold(s)
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                ' '
            }
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// URL-friendly code from a name: `Hộ tịch` → `ho-tich`.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in fold(s).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Whether `s` contains a control character other than tab, line feed and carriage return.
pub fn has_control(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_removes_case_and_diacritics() {
        assert_eq!(
            fold("Thủ tục đăng ký khai sinh"),
            "thu tuc dang ky khai sinh"
        );
        assert_eq!(fold("ĐĂNG KÝ"), "dang ky");
        assert_eq!(fold("khai sính"), "khai sinh");
        assert_eq!(fold("  Hộ   tịch "), "ho tich");
    }

    #[test]
    fn fold_treats_decomposed_and_composed_input_alike() {
        let decomposed: String = "Hộ tịch".nfd().collect();
        assert_eq!(fold(&decomposed), fold("Hộ tịch"));
    }

    #[test]
    fn nfc_composes() {
        let decomposed: String = "Đắk Lắk".nfd().collect();
        assert_ne!(decomposed, "Đắk Lắk");
        assert_eq!(nfc(&decomposed), "Đắk Lắk");
    }

    #[test]
    fn search_key_drops_punctuation() {
        assert_eq!(
            search_key("Thủ tục (sửa đổi), bổ sung"),
            "thu tuc sua doi bo sung"
        );
        assert_eq!(search_key("50% _x_ 1.001193"), "50 x 1.001193");
    }

    #[test]
    fn slug_is_ascii() {
        assert_eq!(slug("Hộ tịch"), "ho-tich");
        assert_eq!(slug("Khiếu nại, tố cáo"), "khieu-nai-to-cao");
        assert_eq!(
            slug("Hàng hải và đường thủy nội địa"),
            "hang-hai-va-duong-thuy-noi-dia"
        );
    }
}
