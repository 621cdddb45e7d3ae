//! Safe attachment file names.
//!
//! A name from a mail is a hint, never a path: directory parts, control
//! characters, invisible characters (bidi controls such as the U+202E that
//! makes `report\u{202e}fdp.txt` read "reporttxt.pdf", zero-width and other
//! format characters: `text::clean_line`) and characters that Windows or
//! shells treat specially are removed, Vietnamese letters are kept (NFC), the
//! length is bounded with the extension preserved, and an empty or reserved
//! result gets a neutral name.

use crate::text::clean_line;

const MAX_NAME_CHARS: usize = 120;

/// Makes `raw` safe to use as a file name; `fallback_stem` and
/// `content_type` name unnamed parts ("tep-dinh-kem-2.pdf").
pub fn safe_file_name(raw: Option<&str>, fallback_stem: &str, content_type: &str) -> String {
    let cleaned = raw.map(clean_component).unwrap_or_default();
    if cleaned.is_empty() || is_reserved(&cleaned) {
        let ext = extension_for(content_type);
        return if ext.is_empty() {
            fallback_stem.to_string()
        } else {
            format!("{fallback_stem}.{ext}")
        };
    }
    bound_length(&cleaned)
}

fn clean_component(raw: &str) -> String {
    let line = clean_line(raw);
    let last = line.rsplit(['/', '\\']).next().unwrap_or_default();
    let replaced: String = last
        .chars()
        .map(|c| match c {
            '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            _ => c,
        })
        .collect();
    replaced
        .trim_matches(|c: char| c == '.' || c == ' ')
        .to_string()
}

fn is_reserved(name: &str) -> bool {
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.ends_with(|c: char| c.is_ascii_digit()))
}

fn bound_length(name: &str) -> String {
    if name.chars().count() <= MAX_NAME_CHARS {
        return name.to_string();
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !e.is_empty() && e.chars().count() <= 10 => (s, Some(e)),
        _ => (name, None),
    };
    let keep = MAX_NAME_CHARS - ext.map_or(0, |e| e.chars().count() + 1);
    let stem: String = stem.chars().take(keep).collect();
    match ext {
        Some(e) => format!("{stem}.{e}"),
        None => stem,
    }
}

/// The usual extension of a MIME type, for parts that come without a name.
pub fn extension_for(content_type: &str) -> &'static str {
    match content_type {
        "text/plain" => "txt",
        "text/html" => "html",
        "text/calendar" => "ics",
        "image/jpeg" | "image/jpg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/heic" => "heic",
        "image/tiff" => "tif",
        "application/pdf" => "pdf",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.oasis.opendocument.text" => "odt",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/zip" => "zip",
        "message/rfc822" => "eml",
        "audio/mpeg" => "mp3",
        "audio/aac" => "aac",
        "audio/mp4" | "audio/x-m4a" => "m4a",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        _ => "bin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_controls_are_removed() {
        assert_eq!(
            safe_file_name(Some("../../etc/passwd"), "f", "text/plain"),
            "passwd"
        );
        assert_eq!(
            safe_file_name(Some("C:\\Users\\a\\Bài viết.docx"), "f", ""),
            "Bài viết.docx"
        );
        assert_eq!(safe_file_name(Some("a\r\nb\u{0}.txt"), "f", ""), "a b.txt");
        assert_eq!(
            safe_file_name(Some("what?<x>.pdf"), "f", ""),
            "what__x_.pdf"
        );
    }

    #[test]
    fn invisible_characters_are_removed() {
        // The name shows its real extension.
        assert_eq!(
            safe_file_name(Some("report\u{202e}fdp.txt"), "f", "text/plain"),
            "reportfdp.txt"
        );
        assert_eq!(
            safe_file_name(Some("Ảnh\u{200b} hiện\u{2066} trường\u{feff}.jpg"), "f", ""),
            "Ảnh hiện trường.jpg"
        );
        // Nothing visible left: the neutral name.
        assert_eq!(
            safe_file_name(
                Some("\u{202e}\u{200b}"),
                "tep-dinh-kem-1",
                "application/pdf"
            ),
            "tep-dinh-kem-1.pdf"
        );
        assert_eq!(safe_file_name(Some("\u{200b}.\u{202e}pdf"), "f", ""), "pdf");
    }

    #[test]
    fn vietnamese_is_kept_in_nfc() {
        let decomposed = "A\u{0309}nh hie\u{0323}\u{0302}n tru\u{031b}o\u{031b}\u{0300}ng.jpg";
        assert_eq!(
            safe_file_name(Some(decomposed), "f", ""),
            "Ảnh hiện trường.jpg"
        );
    }

    #[test]
    fn empty_and_reserved_names_get_a_fallback() {
        assert_eq!(
            safe_file_name(None, "tep-dinh-kem-1", "image/jpeg"),
            "tep-dinh-kem-1.jpg"
        );
        assert_eq!(
            safe_file_name(Some(" .. "), "tep-dinh-kem-2", "application/pdf"),
            "tep-dinh-kem-2.pdf"
        );
        assert_eq!(
            safe_file_name(Some("CON.txt"), "tep", "text/plain"),
            "tep.txt"
        );
    }

    #[test]
    fn long_names_keep_their_extension() {
        let long = format!("{}.docx", "Bài".repeat(100));
        let safe = safe_file_name(Some(&long), "f", "");
        assert_eq!(safe.chars().count(), MAX_NAME_CHARS);
        assert!(safe.ends_with(".docx"));
    }
}
