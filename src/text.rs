//! Text hygiene shared by every stage that stores or shows text from mail.
//!
//! Everything a collaborator sends is untrusted and may arrive in any
//! normalization form. Rule R24 wants precomposed Unicode (NFC), PostgreSQL
//! rejects NUL bytes in text, and values that later land in mail headers must
//! not carry line breaks. These helpers are pure and total: they never fail
//! and never panic, whatever the input.
//!
//! Invisible characters are this module's business too, in one place:
//!
//! - Names (subjects, titles, sender names, file names: whatever
//!   `clean_line` cleans) keep no invisible character at all: no bidi
//!   control (`report\u{202e}fdp.txt` would read "reporttxt.pdf"), no
//!   zero-width or other format character (Unicode category Cf), no other
//!   default-ignorable code point (Hangul fillers, the combining grapheme
//!   joiner, tag characters, variation selectors). The emoji and text
//!   presentation selectors (U+FE0F, U+FE0E) are kept right after a visible
//!   character, where they choose how it looks (❤️); anywhere else, and the
//!   other selectors always, they show nothing and can only hide data.
//! - Text (the article, replies: whatever `clean_text` cleans) keeps what
//!   writing uses: zero-width joiners in emoji, soft hyphens, variation
//!   selectors, the bidi marks (U+200E, U+200F, U+061C) that place
//!   punctuation in right-to-left quotations. It loses the bidi embeddings,
//!   overrides and isolates (U+202A–U+202E, U+2066–U+2069), which reorder
//!   whole runs of text so that what a reviewer reads is not what is stored
//!   (the "Trojan Source" trick); the HTML sanitizer cleans its output the
//!   same way, so a `&#x202E;` in HTML goes too.

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// NFC-normalizes `s` (R24).
pub fn nfc(s: &str) -> String {
    if is_nfc_quick(s.chars()) == IsNormalized::Yes {
        return s.to_string();
    }
    s.nfc().collect()
}

/// Cleans a multi-line text: NFC, `\r\n` and lone `\r` become `\n`,
/// control characters other than newline and tab are dropped, and so are
/// bidi embeddings, overrides and isolates (see the module comment).
pub fn clean_text(s: &str) -> String {
    // Most text is already clean; checking is much cheaper than rebuilding.
    let clean = !s
        .chars()
        .any(|c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_reordering(c));
    if clean && is_nfc_quick(s.chars()) == IsNormalized::Yes {
        return s.to_string();
    }
    let unified = s.replace("\r\n", "\n").replace('\r', "\n");
    // Dropped before composing, so that what was on either side of a
    // dropped character composes as it would have without it.
    unified
        .chars()
        .filter(|c| (*c == '\n' || *c == '\t' || !c.is_control()) && !is_bidi_reordering(*c))
        .nfc()
        .collect()
}

/// Cleans a one-line value (subject, title, display name, file name):
/// invisible characters removed (`is_invisible`; a variation selector stays
/// right after a visible character), NFC, every run of white space or
/// control characters becomes one space, trimmed. The result cannot break a
/// header line and shows all that it holds.
pub fn clean_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending_space = false;
    let kept = visible_chars(s).filter(|c| c.is_whitespace() || !c.is_control());
    for c in kept.nfc() {
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

/// Whether `c` is a bidi control: the marks (U+061C, U+200E, U+200F), the
/// embeddings and overrides (U+202A–U+202E) and the isolates
/// (U+2066–U+2069).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}') || is_bidi_reordering(c)
}

/// The bidi controls that reorder a run of text rather than one
/// neighbouring character: embeddings, overrides and isolates, with their
/// terminators.
fn is_bidi_reordering(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `s` without the bidi embeddings, overrides and isolates that
/// `clean_text` removes, and otherwise unchanged (not normalized: for
/// serialized HTML, where composing could join text to markup).
pub fn without_bidi_overrides(s: &str) -> String {
    s.chars().filter(|c| !is_bidi_reordering(*c)).collect()
}

/// Whether `c` shows nothing by itself: a format character (Unicode
/// general category Cf, Unicode 16: bidi controls, zero-width space,
/// joiners, word joiner, invisible operators, byte order mark, soft hyphen,
/// interlinear annotation, tag characters…) or another default-ignorable
/// code point (combining grapheme joiner, Hangul fillers, Khmer inherent
/// vowels, Mongolian free variation selectors, variation selectors, the
/// reserved U+2065, U+FFF0–U+FFF8 and U+E0000–U+E0FFF).
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// The characters of `s` without the invisible ones (`is_invisible`),
/// except an emoji or text presentation selector (U+FE0F, U+FE0E) right
/// after a visible, non-space character: "❤️" stays red. The other
/// variation selectors (standardized and ideographic variants) have no use
/// in a Vietnamese name, and runs of them are a known way to hide data in
/// text that looks plain.
fn visible_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    let mut after_base = false;
    s.chars().filter(move |&c| {
        if matches!(c, '\u{FE0E}' | '\u{FE0F}') {
            std::mem::replace(&mut after_base, false)
        } else if is_invisible(c) {
            false
        } else {
            after_base = !c.is_whitespace() && !c.is_control();
            true
        }
    })
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
///
/// U+0338 (combining long solidus overlay) is escaped too: right after a
/// tag's `>` it would compose with it under NFC (`>` + U+0338 is `≯`), so
/// normalizing the HTML later (as the legacy-encoding conversion does)
/// would eat the end of the tag and turn the text after it into
/// attributes.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{338}' => out.push_str("&#x338;"),
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
    fn clean_line_removes_bidi_controls_from_names() {
        // Shown as "reporttxt.pdf"; it is a .txt file.
        assert_eq!(clean_line("report\u{202e}fdp.txt"), "reportfdp.txt");
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}',
            '\u{202E}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
        ] {
            assert!(is_bidi_control(c) && is_invisible(c), "{c:?}");
            assert_eq!(clean_line(&format!("Bài{c} viết")), "Bài viết", "{c:?}");
        }
        assert!(!is_bidi_control('a') && !is_bidi_control('\u{200B}'));
    }

    #[test]
    fn clean_line_removes_zero_width_and_format_characters() {
        assert_eq!(
            clean_line(
                "\u{feff}Hội\u{200b} nghị\u{200c}\u{200d} tổng\u{2060} kết\u{00ad} năm\u{2064} 2026\u{180e}"
            ),
            "Hội nghị tổng kết năm 2026"
        );
        // Tag characters spell hidden text ("ignore"); Hangul fillers and
        // the combining grapheme joiner show nothing either.
        let tags: String = "ignore"
            .chars()
            .map(|c| char::from_u32(0xE0000 + c as u32).unwrap_or('x'))
            .collect();
        assert_eq!(
            clean_line(&format!("Tin{tags} mới\u{3164}\u{034f}\u{e0001}")),
            "Tin mới"
        );
        // Nothing visible is nothing.
        assert_eq!(clean_line("\u{200b}\u{202e} \u{feff}"), "");
        for c in [
            '\u{00AD}',
            '\u{200B}',
            '\u{200D}',
            '\u{2060}',
            '\u{2064}',
            '\u{FEFF}',
            '\u{E0041}',
            '\u{E007F}',
            '\u{FE00}',
            '\u{E0100}',
        ] {
            assert!(is_invisible(c), "{c:?}");
        }
        for c in ['a', 'ệ', 'Đ', ' ', '\u{0301}', '❤', '€'] {
            assert!(!is_invisible(c), "{c:?}");
        }
    }

    #[test]
    fn clean_line_keeps_vietnamese_names_intact() {
        for name in [
            "Nguyễn Thị Ánh Tuyết",
            "Trần Đức Lượng",
            "Hoàng Thị Mỹ Hạnh",
            "Phạm Quốc Việt",
            "Lê Thị Hồng Nhung",
            "Đặng Văn Ngữ",
            "Bùi Thị Xuân",
            "Hội nghị tổng kết công tác năm 2026 của UBND xã Ea Sô",
        ] {
            assert_eq!(clean_line(name), name);
            // Decomposed (as macOS and some phones send it) comes back
            // composed, even with an invisible character inside a letter.
            let decomposed: String = name.nfd().collect();
            assert_eq!(clean_line(&decomposed), name);
            let hidden: String = decomposed.chars().flat_map(|c| [c, '\u{200b}']).collect();
            assert_eq!(clean_line(&hidden), name);
        }
        assert_eq!(clean_line("Nguye\u{0302}\u{200b}\u{0303}n"), "Nguyễn");
    }

    #[test]
    fn presentation_selectors_stay_after_a_character_only() {
        assert_eq!(clean_line("Yêu ❤\u{fe0f} quê"), "Yêu ❤\u{fe0f} quê");
        assert_eq!(clean_line("\u{fe0f}Tin \u{fe0f}mới"), "Tin mới");
        assert_eq!(clean_line("a\u{fe0f}\u{fe0f}\u{fe0e}"), "a\u{fe0f}");
        // Runs of selectors smuggle bytes; they all go.
        let smuggled: String = (0..16)
            .map(|i| char::from_u32(0xE0100 + i).unwrap_or('x'))
            .collect();
        assert_eq!(clean_line(&format!("Tin{smuggled}\u{fe01}")), "Tin");
    }

    #[test]
    fn clean_text_drops_bidi_reordering_but_keeps_writing() {
        assert_eq!(
            clean_text("Giá: \u{202e}000.01\u{202c} đồng\n\u{2067}x\u{2069}"),
            "Giá: 000.01 đồng\nx"
        );
        // Joiners, marks, soft hyphens and selectors belong to writing.
        let kept = "👨\u{200d}👩\u{200d}👧 ❤\u{fe0f} \u{200f}«شكرا»\u{200f} công\u{00ad}nghệ";
        assert_eq!(clean_text(kept), kept);
        assert_eq!(clean_text("Ho\u{0323}\u{202e}\u{0302}i"), "Hội");
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
