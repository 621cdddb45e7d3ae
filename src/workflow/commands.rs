//! Commands in a reviewer's reply: read from the first non-empty lines of
//! the new text (quotes and signature already stripped), in Vietnamese with
//! or without diacritics and in English, any case:
//!
//! - `DUYỆT` / `DUYET` / `APPROVE` [options]: approve; options separated by
//!   commas: `chuyên mục: <tên>` (or `[tên]`), `TIN THAM KHẢO` (R9).
//! - `TỪ CHỐI` / `TU CHOI` / `KHÔNG DUYỆT` / `REJECT` `<lý do>`: reject.
//! - `SỬA` / `SUA` / `YÊU CẦU SỬA` / `REVISE` `<yêu cầu>`: send back.
//! - `CHUYỂN DUYỆT` / `CHUYEN DUYET` / `TRÌNH DUYỆT` / `FORWARD`: the
//!   secretariat sends the (edited) article on to the approver (R5).
//! - `CHUYỂN` / `CHUYEN` / `REASSIGN` `<e-mail>`: give the ticket to someone.
//!
//! Matching happens on the ASCII-folded text; the reason or request keeps
//! the writer's own spelling.

use jiff::civil::Date;

use crate::schedule::ItemKind;
use crate::text::fold_ascii;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Approve(ApproveOptions),
    Reject {
        reason: String,
    },
    Revise {
        request: String,
    },
    Forward {
        note: String,
    },
    Reassign {
        to: String,
    },
    /// Take a published article down from the portal.
    Unpublish {
        reason: String,
    },
}

impl Command {
    /// The command as a reviewer would write it, for history and mail.
    pub fn label(&self) -> &'static str {
        match self {
            Command::Approve(_) => "DUYỆT",
            Command::Reject { .. } => "TỪ CHỐI",
            Command::Revise { .. } => "SỬA",
            Command::Forward { .. } => "CHUYỂN DUYỆT",
            Command::Reassign { .. } => "CHUYỂN",
            Command::Unpublish { .. } => "GỠ BÀI",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApproveOptions {
    pub category: Option<String>,
    pub reference_news: bool,
    /// `loại: <tin | văn bản | hội nghị | hỏi đáp>` (R14).
    pub kind: Option<ItemKind>,
    /// `ngày: DD/MM/YYYY`: the event's (or signing's) date (R14).
    pub event_date: Option<Date>,
    /// `tác giả: <tên>` and `nguồn: <nguồn tin>` (R8).
    pub author: Option<String>,
    pub source: Option<String>,
    /// Words on the approve line that are not options.
    pub note: String,
}

/// Command words, folded, longest first so that "chuyen duyet" wins over
/// "chuyen" and "khong duyet" over "duyet".
const WORDS: &[(&str, Verb)] = &[
    ("unpublish", Verb::Unpublish),
    ("go bai", Verb::Unpublish),
    ("chuyen duyet", Verb::Forward),
    ("trinh duyet", Verb::Forward),
    ("khong duyet", Verb::Reject),
    ("yeu cau sua", Verb::Revise),
    ("reassign", Verb::Reassign),
    ("forward", Verb::Forward),
    ("approve", Verb::Approve),
    ("tu choi", Verb::Reject),
    ("reject", Verb::Reject),
    ("revise", Verb::Revise),
    ("chuyen", Verb::Reassign),
    ("duyet", Verb::Approve),
    ("sua", Verb::Revise),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Approve,
    Reject,
    Revise,
    Forward,
    Reassign,
    Unpublish,
}

/// How many non-empty lines at the top are searched for a command.
const LINES_SEARCHED: usize = 3;

/// Folds `s` character by character, remembering where each folded
/// character came from, so a match in the folded text maps back to the
/// original.
fn fold_with_offsets(s: &str) -> (String, Vec<usize>) {
    let mut folded = String::with_capacity(s.len());
    let mut offsets = Vec::with_capacity(s.len());
    for (offset, c) in s.char_indices() {
        for f in fold_ascii(c.encode_utf8(&mut [0u8; 4])).chars() {
            folded.push(f);
            offsets.push(offset);
        }
    }
    (folded, offsets)
}

/// Reads the command in a reply's new text, if any.
pub fn parse(new_text: &str) -> Option<Command> {
    let lines: Vec<&str> = new_text.lines().collect();
    let mut seen = 0;
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line
            .trim()
            .trim_start_matches(['-', '*', '>', '•'])
            .trim_start();
        if trimmed.is_empty() {
            continue;
        }
        seen += 1;
        if let Some((verb, rest)) = verb_at_start(trimmed) {
            let rest_of_text = lines.get(i + 1..).unwrap_or_default().join("\n");
            return Some(build(verb, rest, rest_of_text.trim()));
        }
        if seen >= LINES_SEARCHED {
            break;
        }
    }
    None
}

/// The verb a line starts with and the rest of the line after it.
fn verb_at_start(line: &str) -> Option<(Verb, &str)> {
    let (folded, offsets) = fold_with_offsets(line);
    for (word, verb) in WORDS {
        let Some(after) = folded.strip_prefix(word) else {
            continue;
        };
        // A whole word: "duyet" but not "duyetx".
        if after.chars().next().is_some_and(|c| c.is_alphanumeric()) {
            continue;
        }
        let consumed = word.chars().count();
        let start = offsets.get(consumed).copied().unwrap_or(line.len());
        let rest = line.get(start..).unwrap_or_default();
        return Some((
            *verb,
            rest.trim_start_matches([':', '-', ',', '.', ' ', '\t', '–']),
        ));
    }
    None
}

fn build(verb: Verb, rest: &str, following: &str) -> Command {
    let text_and_following = || {
        let mut t = rest.trim().to_string();
        if !following.is_empty() {
            if !t.is_empty() {
                t.push('\n');
            }
            t.push_str(following);
        }
        t
    };
    match verb {
        Verb::Approve => Command::Approve(approve_options(rest)),
        Verb::Reject => Command::Reject {
            reason: text_and_following(),
        },
        Verb::Revise => Command::Revise {
            request: text_and_following(),
        },
        Verb::Forward => Command::Forward {
            note: rest.trim().to_string(),
        },
        Verb::Unpublish => Command::Unpublish {
            reason: text_and_following(),
        },
        Verb::Reassign => Command::Reassign {
            to: rest
                .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
                .map(|w| w.trim_matches(['<', '>', '.', ':']))
                .find(|w| w.contains('@'))
                .map(crate::text::normalize_address)
                .unwrap_or_default(),
        },
    }
}

fn approve_options(rest: &str) -> ApproveOptions {
    let mut opts = ApproveOptions::default();
    let mut notes = Vec::new();
    for part in rest.split([',', ';']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let folded = fold_ascii(part);
        if matches!(
            folded.as_str(),
            "tin tham khao" | "tham khao" | "reference" | "reference news"
        ) {
            opts.reference_news = true;
        } else if let Some(inner) = part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
            opts.category = Some(inner.trim().to_string());
        } else if let Some(value) = ["tac gia", "author", "nguoi viet"]
            .iter()
            .find_map(|p| option_value(part, &folded, p))
        {
            opts.author = Some(value);
        } else if let Some(value) = ["nguon tin", "nguon", "source"]
            .iter()
            .find_map(|p| option_value(part, &folded, p))
        {
            opts.source = Some(value);
        } else if let Some(value) = ["loai", "kind"]
            .iter()
            .find_map(|p| option_value(part, &folded, p))
        {
            match ItemKind::from_word(&value) {
                Some(k) => opts.kind = Some(k),
                None => notes.push(part),
            }
        } else if let Some(value) = ["ngay su kien", "ngay ky", "ngay", "date"]
            .iter()
            .find_map(|p| option_value(part, &folded, p))
        {
            match parse_dmy(&value) {
                Some(d) => opts.event_date = Some(d),
                None => notes.push(part),
            }
        } else if let Some(prefix) = ["chuyen muc", "category", "muc"]
            .iter()
            .find(|p| folded.starts_with(*p))
        {
            let (_, offsets) = fold_with_offsets(part);
            let start = offsets
                .get(prefix.chars().count())
                .copied()
                .unwrap_or(part.len());
            let name = part
                .get(start..)
                .unwrap_or_default()
                .trim_start_matches([':', ' ', '-'])
                .trim();
            if !name.is_empty() {
                opts.category = Some(name.to_string());
            }
        } else {
            notes.push(part);
        }
    }
    opts.note = notes.join(", ");
    opts
}

/// The value of an option written `<name>: <value>` (or `<name> <value>`).
fn option_value(part: &str, folded: &str, name: &str) -> Option<String> {
    let rest = folded.strip_prefix(name)?;
    if !rest.starts_with([':', ' ']) {
        return None;
    }
    let (_, offsets) = fold_with_offsets(part);
    let start = offsets
        .get(name.chars().count())
        .copied()
        .unwrap_or(part.len());
    let value = part.get(start..)?.trim_start_matches([':', ' ']).trim();
    (!value.is_empty()).then(|| value.to_string())
}

/// A date written DD/MM/YYYY (or with - or .).
fn parse_dmy(s: &str) -> Option<Date> {
    let parts: Vec<i16> = s
        .split(['/', '-', '.'])
        .map(|p| p.trim().parse().ok())
        .collect::<Option<Vec<_>>>()?;
    let [d, m, y] = parts.as_slice() else {
        return None;
    };
    Date::new(*y, i8::try_from(*m).ok()?, i8::try_from(*d).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approve_in_every_spelling() {
        for t in [
            "DUYỆT",
            "duyệt",
            "Duyet",
            "DUYET.",
            "APPROVE",
            "approve\n\nthanks",
            "- Duyệt",
        ] {
            assert_eq!(
                parse(t),
                Some(Command::Approve(ApproveOptions::default())),
                "{t:?}"
            );
        }
    }

    #[test]
    fn approve_options() {
        let c = parse("DUYỆT, chuyên mục: Kinh tế - Xã hội, TIN THAM KHẢO").unwrap();
        assert_eq!(
            c,
            Command::Approve(ApproveOptions {
                category: Some("Kinh tế - Xã hội".into()),
                reference_news: true,
                ..ApproveOptions::default()
            })
        );
        let c = parse("DUYỆT, loại: văn bản, ngày: 20/11/2026").unwrap();
        assert_eq!(
            c,
            Command::Approve(ApproveOptions {
                kind: Some(ItemKind::Document),
                event_date: Some(jiff::civil::date(2026, 11, 20)),
                ..ApproveOptions::default()
            })
        );
        let c = parse("duyet [Đảng]").unwrap();
        assert!(
            matches!(c, Command::Approve(ApproveOptions { category: Some(ref k), .. }) if k == "Đảng")
        );
    }

    #[test]
    fn reject_keeps_the_reason_as_written() {
        assert_eq!(
            parse("TỪ CHỐI: Ảnh không rõ nguồn.\nĐề nghị gửi lại ảnh gốc."),
            Some(Command::Reject {
                reason: "Ảnh không rõ nguồn.\nĐề nghị gửi lại ảnh gốc.".into()
            })
        );
        assert_eq!(
            parse("tu choi trung lap"),
            Some(Command::Reject {
                reason: "trung lap".into()
            })
        );
        assert_eq!(
            parse("Không duyệt - sai số liệu"),
            Some(Command::Reject {
                reason: "sai số liệu".into()
            })
        );
        assert_eq!(
            parse("REJECT: duplicate"),
            Some(Command::Reject {
                reason: "duplicate".into()
            })
        );
    }

    #[test]
    fn revise_and_forward_and_reassign() {
        assert_eq!(
            parse("SỬA: bổ sung tên tác giả"),
            Some(Command::Revise {
                request: "bổ sung tên tác giả".into()
            })
        );
        assert_eq!(
            parse("sua\nthêm nguồn tin"),
            Some(Command::Revise {
                request: "thêm nguồn tin".into()
            })
        );
        assert_eq!(
            parse("CHUYỂN DUYỆT"),
            Some(Command::Forward {
                note: String::new()
            })
        );
        assert_eq!(
            parse("forward"),
            Some(Command::Forward {
                note: String::new()
            })
        );
        assert_eq!(
            parse("CHUYỂN cho <PhoTruongBan@xa.gov.vn> giúp"),
            Some(Command::Reassign {
                to: "photruongban@xa.gov.vn".into()
            })
        );
    }

    #[test]
    fn prose_is_not_a_command() {
        assert_eq!(parse("Cảm ơn anh, tôi sẽ xem bài này sau."), None);
        assert_eq!(parse("Duyệtx"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("a\nb\nc\nDUYỆT"), None, "only the first lines count");
    }

    #[test]
    fn credits_on_the_approve_line_and_unpublish() {
        let c = parse("DUYỆT, tác giả: Nguyễn Văn An, nguồn: UBND xã Ea Sô").unwrap();
        assert!(matches!(
            c,
            Command::Approve(ApproveOptions { author: Some(ref a), source: Some(ref s), .. }) if a == "Nguyễn Văn An" && s == "UBND xã Ea Sô"
        ));
        assert_eq!(
            parse("GỠ BÀI: sai số liệu"),
            Some(Command::Unpublish {
                reason: "sai số liệu".into()
            })
        );
        assert_eq!(
            parse("go bai - trung lap"),
            Some(Command::Unpublish {
                reason: "trung lap".into()
            })
        );
        assert_eq!(
            parse("UNPUBLISH wrong figures"),
            Some(Command::Unpublish {
                reason: "wrong figures".into()
            })
        );
    }

    #[test]
    fn a_first_line_starting_with_sua_asks_for_changes() {
        // The command word stands first: the rest is the request.
        assert_eq!(
            parse("Sửa chữa đường sá chưa đúng số liệu"),
            Some(Command::Revise {
                request: "chữa đường sá chưa đúng số liệu".into()
            })
        );
    }

    #[test]
    fn greeting_before_the_command() {
        assert_eq!(
            parse("Chào BBT,\nDUYỆT"),
            Some(Command::Approve(ApproveOptions::default()))
        );
    }
}
