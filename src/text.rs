//! Text hygiene shared by every stage that stores or shows text from mail.
//!
//! Everything a collaborator sends is untrusted and may arrive in any
//! normalization form. Rule R24 wants precomposed Unicode (NFC), PostgreSQL
//! rejects NUL bytes in text, and values that later land in mail headers must
//! not carry line breaks. These helpers are pure and total: they never fail
//! and never panic, whatever the input.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// NFC-normalizes `s` (R24).
pub fn nfc(s: &str) -> String {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        return s.to_string();
    }
    s.nfc().collect()
}

/// Cleans a multi-line text: NFC, `\r\n` and lone `\r` become `\n`, and
/// control characters other than newline and tab are dropped.
pub fn clean_text(s: &str) -> String {
    // Most text is already clean; checking is much cheaper than rebuilding.
    let clean = !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    if clean && is_nfc_quick(s.chars()) == IsNormalized::Yes {
        return s.to_string();
    }
    let unified = s.replace("\r\n", "\n").replace('\r', "\n");
    nfc(&unified)
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect()
}

/// Cleans a one-line value (subject, display name, file name): NFC, every
/// run of white space or control characters becomes one space, trimmed.
/// The result cannot break a header line.
pub fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    for c in s.nfc() {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Cuts `s` to at most `max` characters, on a character boundary, adding an
/// ellipsis when something was cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Escapes text for inclusion in HTML element content or attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Folds Vietnamese (and other Latin) text to lower-case ASCII: diacritics
/// removed, `đ` → `d`. Used to match commands and tags typed with or without
/// diacritics ("DUYỆT" and "duyet" fold to the same word).
pub fn fold_ascii(s: &str) -> String {
    use unicode_normalization::char::{decompose_canonical, is_combining_mark};
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            _ if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            'đ' | 'Đ' => out.push('d'),
            _ => decompose_canonical(c, |d| {
                if !is_combining_mark(d) {
                    out.extend(d.to_lowercase());
                }
            }),
        }
    }
    out
}

/// Normalizes an e-mail address for comparison: trimmed, lower-cased.
pub fn normalize_address(s: &str) -> String {
    s.trim().trim_matches(['<', '>']).trim().to_lowercase()
}

/// A plausible mailbox address: one `@`, non-empty local part and domain,
/// no white space or control characters.
pub fn is_plausible_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfc_composes_decomposed_vietnamese() {
        let decomposed = "Ho\u{0323}\u{0302}i nghi\u{0323}";
        assert_eq!(nfc(decomposed), "Hội nghị");
        assert_ne!(decomposed, "Hội nghị");
    }

    #[test]
    fn clean_line_removes_header_breaking_characters() {
        assert_eq!(
            clean_line("  Tin\r\nBcc: evil@example.org\t bài\u{0}  "),
            "Tin Bcc: evil@example.org bài"
        );
    }

    #[test]
    fn clean_text_keeps_newlines_and_drops_nul() {
        assert_eq!(clean_text("a\r\nb\rc\u{0}d\te"), "a\nb\ncd\te");
        assert_eq!(clean_text("Ho\u{0323}\u{0302}i\nnghị"), "Hội\nnghị");
        assert_eq!(clean_text("đã sạch\n"), "đã sạch\n");
    }

    #[test]
    fn fold_ascii_strips_vietnamese_diacritics() {
        assert_eq!(fold_ascii("DUYỆT"), "duyet");
        assert_eq!(fold_ascii("Từ chối"), "tu choi");
        assert_eq!(fold_ascii("Đảng"), "dang");
    }

    #[test]
    fn truncate_respects_character_boundaries() {
        assert_eq!(truncate_chars("Hội nghị", 4), "Hội…");
        assert_eq!(truncate_chars("abc", 3), "abc");
    }

    #[test]
    fn plausible_addresses() {
        assert!(is_plausible_address("ctv@xa.gov.vn"));
        assert!(!is_plausible_address("ctv"));
        assert!(!is_plausible_address("a b@x.vn"));
        assert!(!is_plausible_address("@x.vn"));
        assert!(!is_plausible_address("a@localhost"));
    }
}
