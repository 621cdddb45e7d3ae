//! The new text of a reply: what the replier wrote, without the quoted
//! history and signature that mail clients append.
//!
//! Clients mark the start of the history differently: Gmail ("On … wrote:",
//! Vietnamese "Vào … đã viết:", often wrapped over two lines), Outlook (a
//! "From:/Sent:" or "Từ:/Đã gửi:" header block, sometimes after a line of
//! underscores), Apple Mail and Thunderbird ("On … wrote:"), Yahoo, and
//! "-----Original Message-----" separators; mobile clients add "Sent from my
//! iPhone" / "Gửi từ iPhone của tôi". Lines are compared after folding to
//! lower-case ASCII, so the Vietnamese patterns match with or without
//! diacritics.

use std::sync::LazyLock;

use regex::Regex;

use crate::text::{clean_text, fold_ascii};

/// A constant pattern; `None` only if it failed to compile, which the tests
/// rule out. Matching against `None` is simply false: no panic on mail.
type Pattern = LazyLock<Option<Regex>>;

fn is_match(pattern: &Pattern, line: &str) -> bool {
    pattern.as_ref().is_some_and(|re| re.is_match(line))
}

static ATTRIBUTION: Pattern = LazyLock::new(|| {
    Regex::new(
        r"^(on\s.*\swrote\s*:?|vao\s.*\sda viet\s*:?|le\s.*\sa ecrit\s*:?|am\s.*\sschrieb\s.*:|.*<[^>@\s]+@[^>\s]+>\s*(wrote|da viet|viet)\s*:)$",
    )
    .ok()
});

static ATTRIBUTION_START: Pattern = LazyLock::new(|| Regex::new(r"^(on|vao|le|am)\s").ok());

static SEPARATOR: Pattern = LazyLock::new(|| {
    Regex::new(
        r"^[-_=\s]*(original message|tin nhan goc|thu goc|noi dung thu goc|forwarded message|thu chuyen tiep|thu da chuyen tiep|message d'origine|urspr.ngliche nachricht)[-_=\s]*:?$",
    )
    .ok()
});

static HEADER_FROM: Pattern = LazyLock::new(|| Regex::new(r"^\*?(from|tu|de|von)\*?\s*:").ok());

static HEADER_OTHER: Pattern = LazyLock::new(|| {
    Regex::new(
        r"^\*?(sent|date|to|cc|subject|da gui|gui|ngay|den|chu de|tieu de|envoye|objet)\*?\s*:",
    )
    .ok()
});

static SIGNOFF: Pattern = LazyLock::new(|| {
    Regex::new(
        r"^(sent from my |sent from yahoo|get outlook for |gui tu |duoc gui tu |tai outlook cho )",
    )
    .ok()
});

/// Where the quoted history starts in `lines` (index of the first line that
/// is not new text), or `lines.len()` when there is none.
fn history_start(lines: &[&str]) -> usize {
    let folded: Vec<String> = lines.iter().map(|l| fold_ascii(l.trim())).collect();
    for (i, line) in folded.iter().enumerate() {
        if line.starts_with('>') {
            // A quote block: the attribution line, if any, is just above.
            return i;
        }
        if line == "--"
            || lines
                .get(i)
                .is_some_and(|l| l.trim_end_matches('\r') == "-- ")
        {
            return i;
        }
        if is_match(&ATTRIBUTION, line) || is_match(&SEPARATOR, line) || is_match(&SIGNOFF, line) {
            return i;
        }
        if is_match(&ATTRIBUTION_START, line) {
            let wrapped = folded
                .iter()
                .skip(i)
                .take(3)
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(" ")
                .trim()
                .to_string();
            if is_match(&ATTRIBUTION, &wrapped) {
                return i;
            }
        }
        if is_match(&HEADER_FROM, line)
            && folded
                .iter()
                .skip(i + 1)
                .take(4)
                .filter(|l| is_match(&HEADER_OTHER, l))
                .count()
                >= 2
        {
            // Outlook puts a line of underscores above the header block.
            let above = i.checked_sub(1).and_then(|j| folded.get(j));
            return if above.is_some_and(|l| !l.is_empty() && l.chars().all(|c| c == '_')) {
                i - 1
            } else {
                i
            };
        }
    }
    lines.len()
}

/// The text the replier wrote, trimmed; empty when the reply only quotes.
pub fn new_text(body: &str) -> String {
    let body = clean_text(body);
    let lines: Vec<&str> = body.lines().collect();
    let mut end = history_start(&lines);
    // A rule left just above the history ("----", "____") belongs to it.
    while end > 0
        && lines.get(end - 1).is_some_and(|l| {
            let l = l.trim();
            l.is_empty() || (l.len() >= 3 && l.chars().all(|c| matches!(c, '-' | '_' | '=' | '*')))
        })
    {
        end -= 1;
    }
    let kept = lines.get(..end).unwrap_or(&lines);
    kept.join("\n").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_compile() {
        for p in [
            &ATTRIBUTION,
            &ATTRIBUTION_START,
            &SEPARATOR,
            &HEADER_FROM,
            &HEADER_OTHER,
            &SIGNOFF,
        ] {
            assert!(p.is_some());
        }
    }

    #[test]
    fn gmail_english() {
        let t = "APPROVE\n\nOn Wed, Nov 25, 2026 at 10:00 AM Ban bien tap <bbt@x.vn> wrote:\n> Bài gốc\n";
        assert_eq!(new_text(t), "APPROVE");
    }

    #[test]
    fn gmail_vietnamese_wrapped() {
        let t = "Duyệt\n\nVào Th 4, 25 thg 11, 2026 vào lúc 10:00 Ban biên tập <\nbbt@x.vn> đã viết:\n\n> nội dung\n";
        assert_eq!(new_text(t), "Duyệt");
    }

    #[test]
    fn outlook_vietnamese_header_block() {
        let t = "TỪ CHỐI: ảnh mờ\r\n\r\n________________________________\r\nTừ: Ban biên tập <bbt@x.vn>\r\nĐã gửi: Thứ Tư, 25 tháng 11, 2026 10:00\r\nĐến: Nguyễn Văn A\r\nChủ đề: [BBT-2026-0001] Bài\r\n\r\nnội dung";
        assert_eq!(new_text(t), "TỪ CHỐI: ảnh mờ");
    }

    #[test]
    fn outlook_original_message_separator() {
        let t = "SUA: them nguon tin\n-----Original Message-----\nFrom: a@b.vn\nSent: today\nTo: c@d.vn\n";
        assert_eq!(new_text(t), "SUA: them nguon tin");
    }

    #[test]
    fn mobile_signature_is_cut() {
        assert_eq!(new_text("DUYET\n\nGửi từ iPhone của tôi\n\n> x"), "DUYET");
        assert_eq!(new_text("ok\nSent from my iPhone"), "ok");
        assert_eq!(new_text("ok\n-- \nNguyễn Văn A\nPhòng VH"), "ok");
    }

    #[test]
    fn thunderbird_and_apple() {
        assert_eq!(
            new_text("Đồng ý.\n\nOn 11/25/26 10:00 AM, Ban BT wrote:\n> x"),
            "Đồng ý."
        );
        assert_eq!(
            new_text("Đồng ý.\n\nOn 25 Nov 2026, at 10:00, BBT <bbt@x.vn> wrote:\n\n> x"),
            "Đồng ý."
        );
    }

    #[test]
    fn prose_mentioning_from_is_kept() {
        let t = "Từ: phòng văn hóa gửi lên bài này.\nCảm ơn.";
        assert_eq!(new_text(t), t);
    }

    #[test]
    fn a_rule_above_the_history_goes_with_it() {
        assert_eq!(
            new_text("DUYỆT\n----\n> Từ: BBT\n> Đã gửi: x\n> Đến: y"),
            "DUYỆT"
        );
        assert_eq!(new_text("Ý kiến:\n---\nphần sau"), "Ý kiến:\n---\nphần sau");
    }

    #[test]
    fn only_quotes_gives_empty() {
        assert_eq!(new_text("> a\n> b"), "");
    }
}
