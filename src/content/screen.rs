//! Screening what a mail carries before a reviewer sees it.
//!
//! - `classified_mark` finds classification stamps (R10: MẬT, TỐI MẬT,
//!   TUYỆT MẬT) in the subject or the text; the caller quarantines.
//! - `screen` flags phrases of configured word lists (R11 prohibited
//!   content, R13 advertising); flags only, the reviewer decides.
//! - `attachment_danger` recognizes programs, scripts and macro-bearing
//!   Office documents by name and by bytes; the caller quarantines.
//!
//! Everything here is pure and total: any input, no I/O, no panic.
//!
//! Words are compared the way Vietnamese is typed. Diacritics matter ("bán"
//! is not "bàn"), so two words match when they are equal after lower-casing
//! and normalization, with the tone mark allowed on either vowel ("hòa" and
//! "hoà", "túy" and "tuý", old and new spelling of the same syllable). Text
//! typed without any diacritics ("giam gia") matches by its letters alone,
//! and so does a phrase configured without them.

use std::collections::HashMap;
use std::io::Cursor;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;
use zip::ZipArchive;

use crate::text::{clean_text, fold_ascii, nfc};

// ---------------------------------------------------------------------------
// Classification stamps (R10)

/// Secrecy levels of state secrets, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Secrecy {
    Mat,
    ToiMat,
    TuyetMat,
}

impl Secrecy {
    /// The stamp as printed.
    pub fn label(self) -> &'static str {
        match self {
            Secrecy::Mat => "MẬT",
            Secrecy::ToiMat => "TỐI MẬT",
            Secrecy::TuyetMat => "TUYỆT MẬT",
        }
    }
}

/// A classification stamp and where it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub level: Secrecy,
    /// Where: "subject" or "line N" (1-based).
    pub place: String,
}

/// Secrecy stamps as printed: upper case, with diacritics, or without them
/// for the two-word levels (a bare "MAT" is too ambiguous).
const SECRECY_STAMPS: [(&str, Secrecy); 5] = [
    ("MẬT", Secrecy::Mat),
    ("TỐI MẬT", Secrecy::ToiMat),
    ("TUYỆT MẬT", Secrecy::TuyetMat),
    ("TOI MAT", Secrecy::ToiMat),
    ("TUYET MAT", Secrecy::TuyetMat),
];

/// Urgency stamps. They are not secrecy, but they often stand next to it
/// ("MẬT - KHẨN"), which must not hide the secrecy stamp.
const URGENCY_STAMPS: [&str; 9] = [
    "KHẨN",
    "THƯỢNG KHẨN",
    "HỎA TỐC",
    "HOẢ TỐC",
    "HỎA TỐC HẸN GIỜ",
    "HOẢ TỐC HẸN GIỜ",
    "KHAN",
    "THUONG KHAN",
    "HOA TOC",
];

/// Longer than any stamp or run of stamps, with decorations.
const MAX_STAMP_CHARS: usize = 48;

/// The label of the secrecy field of an official document.
const SECRECY_LABEL: &str = "độ mật";

/// Values of the secrecy field, longest first.
const SECRECY_VALUES: [(&str, Secrecy); 3] = [
    ("tuyệt mật", Secrecy::TuyetMat),
    ("tối mật", Secrecy::ToiMat),
    ("mật", Secrecy::Mat),
];

/// The highest stamp found in the subject or the text, if any.
///
/// A stamp is the stamp words standing alone, not the syllable "mật" in
/// prose:
///
/// - a line that is only an upper-case stamp, decorations aside ("MẬT",
///   "**TỐI MẬT**", "[TUYỆT MẬT]", "TUYET MAT"), possibly next to urgency
///   stamps ("MẬT - HỎA TỐC");
/// - the secrecy field of a document, "Độ mật: Mật" (label and value in any
///   case, with or without diacritics), at the start of a line or of a field
///   set apart by punctuation or wide spacing; a value on the next line
///   counts when the label line has none;
/// - in the subject: an upper-case stamp in brackets anywhere ("[MẬT]",
///   "(TỐI MẬT)"), or leading the subject before ':', '-', '–', '—' or '|'
///   ("TUYỆT MẬT: Kế hoạch…"; a hyphen between two letters joins words,
///   "MẬT-ONG" is not a stamp), also after reply and forward prefixes and
///   leading tags ("Fwd: [BBT-2026-0042] MẬT - …"), or the subject being
///   only a stamp; the field form counts there too.
///
/// The first place where the highest level was found is reported; the
/// subject comes first.
pub fn classified_mark(subject: &str, text: &str) -> Option<Mark> {
    let mut best: Option<Mark> = None;
    if let Some(level) = subject_stamp(&nfc(subject)) {
        raise(&mut best, level, "subject".to_string());
    }
    let text = clean_text(text);
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if best.as_ref().is_some_and(|b| b.level == Secrecy::TuyetMat) {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let level = match stamp_run(line) {
            Run::Secret(level) => Some(level),
            _ => None,
        };
        let rest = lines.get(i + 1..).unwrap_or_default();
        if let Some(level) = level.max(field_stamp(line, rest)) {
            raise(&mut best, level, format!("line {}", i + 1));
        }
    }
    best
}

fn raise(best: &mut Option<Mark>, level: Secrecy, place: String) {
    if best.as_ref().is_none_or(|b| level > b.level) {
        *best = Some(Mark { level, place });
    }
}

/// What a piece of text is made of, as stamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// No words at all.
    Empty,
    /// Only urgency stamps.
    Urgent,
    /// Only stamps, the highest secrecy stamp being this one.
    Secret(Secrecy),
    /// Something that is not a stamp.
    Other,
}

/// Reads `s` as a run of stamps: its groups of words between punctuation
/// must each be a sequence of stamps, however they are spaced ("MẬT",
/// "TỐI  MẬT", "MẬT - KHẨN", "MẬT      THƯỢNG KHẨN").
fn stamp_run(s: &str) -> Run {
    let mut run = Run::Empty;
    for segment in segments(s) {
        let words: Vec<&str> = segment.split_whitespace().collect();
        let mut at = 0;
        while at < words.len() {
            let Some((len, this)) = stamp_at(&words, at) else {
                return Run::Other;
            };
            run = match (run, this) {
                (Run::Secret(a), Run::Secret(b)) => Run::Secret(a.max(b)),
                (Run::Secret(a), _) | (_, Run::Secret(a)) => Run::Secret(a),
                _ => Run::Urgent,
            };
            at += len;
        }
    }
    run
}

/// The longest stamp starting at `words[at]`: its length in words and kind.
fn stamp_at(words: &[&str], at: usize) -> Option<(usize, Run)> {
    let secrecy = SECRECY_STAMPS.iter().map(|(t, l)| (*t, Run::Secret(*l)));
    let urgency = URGENCY_STAMPS.iter().map(|t| (*t, Run::Urgent));
    secrecy
        .chain(urgency)
        .filter_map(|(stamp, kind)| {
            let len = stamp.split(' ').count();
            let here = words.get(at..at + len)?;
            stamp
                .split(' ')
                .eq(here.iter().copied())
                .then_some((len, kind))
        })
        .max_by_key(|(len, _)| *len)
}

/// Splits `s` at punctuation into its groups of words.
fn segments(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_whitespace() && !is_word_char(c))
        .map(str::trim)
        .filter(|g| !g.is_empty())
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c)
}

fn is_hyphen(c: char) -> bool {
    matches!(c, '-' | '\u{2010}' | '\u{2011}')
}

fn subject_stamp(subject: &str) -> Option<Secrecy> {
    let bracketed = bracketed_stamp(subject);
    let leading = leading_stamp(subject);
    let field = field_stamp(subject, &[]);
    bracketed.max(leading).max(field)
}

/// The highest stamp in brackets anywhere in `s`: "[MẬT]", "(TỐI MẬT)".
fn bracketed_stamp(s: &str) -> Option<Secrecy> {
    let mut best = None;
    for (open_at, open) in s.char_indices() {
        let close = match open {
            '[' => ']',
            '(' => ')',
            '{' => '}',
            '【' => '】',
            '«' => '»',
            '<' => '>',
            _ => continue,
        };
        let Some(rest) = s.get(open_at + open.len_utf8()..) else {
            continue;
        };
        // Stamps are short: looking further would make a subject full of
        // brackets cost quadratic time.
        let Some(inner) = rest
            .char_indices()
            .take(MAX_STAMP_CHARS)
            .find(|(_, c)| *c == close)
            .and_then(|(end, _)| rest.get(..end))
        else {
            continue;
        };
        if let Run::Secret(level) = stamp_run(inner) {
            best = best.max(Some(level));
        }
    }
    best
}

/// A stamp leading the subject, after reply prefixes and leading tags.
fn leading_stamp(subject: &str) -> Option<Secrecy> {
    let s = strip_leading_noise(subject);
    if let Run::Secret(level) = stamp_run(s) {
        return Some(level);
    }
    for (at, c) in s.char_indices() {
        let separates = match c {
            ':' | '：' | '–' | '—' | '|' => true,
            c if is_hyphen(c) => {
                let before = s.get(..at).and_then(|h| h.chars().next_back());
                let after = s.get(at + c.len_utf8()..).and_then(|t| t.chars().next());
                !(before.is_some_and(is_word_char) && after.is_some_and(is_word_char))
            }
            _ => false,
        };
        if !separates {
            continue;
        }
        if at > MAX_STAMP_CHARS * 4 {
            return None;
        }
        match stamp_run(s.get(..at).unwrap_or_default()) {
            Run::Secret(level) => return Some(level),
            // "KHẨN - MẬT: …": the head may still grow into a secrecy stamp.
            Run::Empty | Run::Urgent => {}
            Run::Other => return None,
        }
    }
    None
}

/// Reply and forward prefixes ("Re:", "Fwd:", "TL:", "FW[2]:") and leading
/// bracketed tags ("[BBT-2026-0042]") removed from the start of a subject.
fn strip_leading_noise(subject: &str) -> &str {
    const PREFIXES: [&str; 12] = [
        "re", "fwd", "fw", "tl", "tr", "ct", "aw", "wg", "sv", "vs", "rv", "enc",
    ];
    let mut s = subject.trim_start();
    loop {
        let before = s;
        let word_end = s
            .char_indices()
            .find(|(_, c)| !c.is_ascii_alphabetic())
            .map_or(s.len(), |(i, _)| i);
        let word = s.get(..word_end).unwrap_or_default();
        if PREFIXES.iter().any(|p| p.eq_ignore_ascii_case(word)) {
            let rest = s.get(word_end..).unwrap_or_default().trim_start();
            let rest = match rest.strip_prefix('[') {
                Some(r) => r
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .strip_prefix(']')
                    .unwrap_or(rest),
                None => rest,
            };
            if let Some(r) = rest.trim_start().strip_prefix([':', '：']) {
                s = r.trim_start();
            }
        }
        if let Some(r) = s.strip_prefix('[')
            && let Some((_, after)) = r.split_once(']')
        {
            s = after.trim_start();
        }
        if s == before {
            return s;
        }
    }
}

/// The secrecy field, "Độ mật: Tối mật", in `line`. The label starts the
/// line or a field (after punctuation or wide spacing), the value ends at
/// the end of the line, punctuation or wide spacing. A label with no value
/// takes the next non-blank line of `following` as its value when that
/// line is only a level.
fn field_stamp(line: &str, following: &[&str]) -> Option<Secrecy> {
    let spans = word_spans(line);
    let text_of = |k: usize| spans.get(k).and_then(|&(a, b)| line.get(a..b));
    // Words are prepared only around a possible label: most lines have none.
    let word_run = |at: usize, len: usize| -> Vec<Word> {
        (at..at + len).filter_map(text_of).map(Word::new).collect()
    };
    let maybe_label = |k: usize| {
        text_of(k).is_some_and(|t| t.chars().count() == 2 && t.starts_with(['d', 'D', 'đ', 'Đ']))
    };
    if !(0..spans.len()).any(maybe_label) {
        return None;
    }
    let label = phrase_words(SECRECY_LABEL);
    for i in 0..spans.len() {
        if !maybe_label(i) || !matches_at(&word_run(i, label.len()), 0, &label) {
            continue;
        }
        let Some(&(start, _)) = spans.get(i) else {
            continue;
        };
        if let Some(i_before) = i.checked_sub(1)
            && let Some(&(_, prev_end)) = spans.get(i_before)
            && !is_wide_gap(line.get(prev_end..start).unwrap_or_default())
        {
            continue;
        }
        let value_at = i + label.len();
        let Some(label_end) = value_at
            .checked_sub(1)
            .and_then(|k| spans.get(k))
            .map(|s| s.1)
        else {
            continue;
        };
        let value_start = spans.get(value_at).map_or(line.len(), |s| s.0);
        let colon = line.get(label_end..value_start).unwrap_or_default().trim();
        if !matches!(colon, ":" | "：") {
            continue;
        }
        if value_at >= spans.len() {
            return following
                .iter()
                .find(|l| !l.trim().is_empty())
                .and_then(|l| whole_value(l));
        }
        for (value, level) in SECRECY_VALUES {
            let pattern = phrase_words(value);
            if !matches_at(&word_run(value_at, pattern.len()), 0, &pattern) {
                continue;
            }
            let end = value_at + pattern.len();
            let closed = match (spans.get(end - 1), spans.get(end)) {
                (Some(&(_, last_end)), Some(&(next_start, _))) => {
                    is_wide_gap(line.get(last_end..next_start).unwrap_or_default())
                }
                _ => true,
            };
            if closed {
                return Some(level);
            }
        }
    }
    None
}

/// A line whose words are exactly one secrecy level, in any case.
fn whole_value(line: &str) -> Option<Secrecy> {
    let words: Vec<Word> = tokens(line).map(Word::new).collect();
    SECRECY_VALUES.iter().find_map(|(value, level)| {
        let pattern = phrase_words(value);
        (words.len() == pattern.len() && matches_at(&words, 0, &pattern)).then_some(*level)
    })
}

/// Byte ranges of the words of `s`.
fn word_spans(s: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(st)) => {
                spans.push((st, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(st) = start {
        spans.push((st, s.len()));
    }
    spans
}

/// A gap between words that separates fields: punctuation, a tab, or two
/// or more spaces.
fn is_wide_gap(gap: &str) -> bool {
    gap.contains(|c: char| !c.is_whitespace() || c == '\t') || gap.chars().count() >= 2
}

// ---------------------------------------------------------------------------
// Word lists (R11, R13)

/// A named list of phrases to flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordList {
    pub name: String,
    /// "R11" or "R13".
    pub rule: String,
    pub phrases: Vec<String>,
}

/// A phrase of a list found in the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub list: String,
    pub rule: String,
    /// The phrase as configured.
    pub phrase: String,
    pub count: usize,
}

/// A word prepared for comparison.
#[derive(Debug)]
struct Word {
    /// Lower case, decomposed, tone marks moved to the end so that their
    /// placement does not matter.
    key: String,
    /// Lower-case ASCII letters, diacritics removed (`fold_ascii`).
    fold: String,
    /// Written without any diacritics.
    ascii: bool,
}

impl Word {
    fn new(token: &str) -> Word {
        if token.is_ascii() {
            let lower = token.to_ascii_lowercase();
            return Word {
                key: lower.clone(),
                fold: lower,
                ascii: true,
            };
        }
        Word {
            key: tone_key(token),
            fold: fold_ascii(token),
            ascii: false,
        }
    }

    /// Equal words, or equal letters when either side has no diacritics.
    /// Matching words always have equal folds, which the index relies on.
    fn matches(&self, other: &Word) -> bool {
        self.key == other.key || ((self.ascii || other.ascii) && self.fold == other.fold)
    }
}

/// Vietnamese tone marks: grave, acute, tilde, hook above, dot below.
fn is_tone_mark(c: char) -> bool {
    matches!(c, '\u{300}' | '\u{301}' | '\u{303}' | '\u{309}' | '\u{323}')
}

fn tone_key(token: &str) -> String {
    let mut key = String::with_capacity(token.len() + 4);
    let mut tones = String::new();
    for c in token.nfd().flat_map(char::to_lowercase) {
        if is_tone_mark(c) {
            tones.push(c);
        } else {
            key.push(c);
        }
    }
    key.push_str(&tones);
    key
}

/// The words of `s`: maximal runs of letters, digits and combining marks.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !is_word_char(c))
        .filter(|t| !t.is_empty())
}

fn phrase_words(phrase: &str) -> Vec<Word> {
    tokens(&nfc(phrase)).map(Word::new).collect()
}

/// `pattern` (non-empty) matches the words of `text` from `at` on.
fn matches_at(text: &[Word], at: usize, pattern: &[Word]) -> bool {
    !pattern.is_empty()
        && pattern
            .iter()
            .enumerate()
            .all(|(k, p)| text.get(at + k).is_some_and(|w| p.matches(w)))
}

/// Every configured phrase the text contains, as whole words, per list, in
/// list order then phrase order. Case does not matter, spacing and line
/// breaks between the words of a phrase do not either; `count` is the
/// number of non-overlapping occurrences. Phrases without any word are
/// ignored.
pub fn screen(text: &str, lists: &[WordList]) -> Vec<Hit> {
    let patterns: Vec<(&WordList, &String, Vec<Word>)> = lists
        .iter()
        .flat_map(|l| l.phrases.iter().map(move |p| (l, p, phrase_words(p))))
        .filter(|(_, _, words)| !words.is_empty())
        .collect();
    if patterns.is_empty() {
        return Vec::new();
    }
    let text = nfc(text);
    let words: Vec<Word> = tokens(&text).map(Word::new).collect();
    let mut by_fold: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, w) in words.iter().enumerate() {
        by_fold.entry(w.fold.as_str()).or_default().push(i);
    }
    let mut hits = Vec::new();
    for (list, phrase, pattern) in &patterns {
        let Some(starts) = pattern.first().and_then(|p| by_fold.get(p.fold.as_str())) else {
            continue;
        };
        let mut count = 0;
        let mut free_from = 0;
        for &at in starts {
            if at >= free_from && matches_at(&words, at, pattern) {
                count += 1;
                free_from = at + pattern.len();
            }
        }
        if count > 0 {
            hits.push(Hit {
                list: list.name.clone(),
                rule: list.rule.clone(),
                phrase: (*phrase).clone(),
                count,
            });
        }
    }
    hits
}

/// Defaults a board starts with (it can replace them in its config).
///
/// They are deliberately modest: every phrase is a flag a reviewer has to
/// read, so phrases common in legitimate news are left out. Boards tune the
/// lists in `[screening]`. Left out on purpose:
///
/// - political terms: a false flag on legitimate news about the Party or
///   the State costs more than it saves, and R11's anti-state content is
///   judged by reviewers, not by words;
/// - "ưu đãi" (policy language: "vay ưu đãi", "ưu đãi đầu tư") and "đặt
///   hàng" ("Nhà nước đặt hàng" commissions public services), both far
///   more frequent in government news than in advertising;
/// - a bare "sex", which is a form field in English documents.
pub fn default_lists() -> Vec<WordList> {
    let list = |name: &str, rule: &str, phrases: &[&str]| WordList {
        name: name.to_string(),
        rule: rule.to_string(),
        phrases: phrases.iter().map(|p| p.to_string()).collect(),
    };
    vec![
        // R11: banned goods, gambling, superstition and obscenity, as spam
        // words them. News about crackdowns will be flagged too: a flag is a
        // prompt to read, not a verdict.
        list(
            "nội dung cấm",
            "R11",
            &[
                "cá độ",
                "cờ bạc",
                "lô đề",
                "số đề",
                "xóc đĩa",
                "tài xỉu",
                "nổ hũ",
                "casino",
                "bùa yêu",
                "bùa ngải",
                "xem bói",
                "giải hạn",
                "trục vong",
                "ma túy",
                "thuốc lắc",
                "cỏ Mỹ",
                "mại dâm",
                "gái gọi",
                "phim sex",
                "clip sex",
                "vũ khí tự chế",
                "súng tự chế",
            ],
        ),
        // R13: commercial advertising, which needs the business's written
        // confirmation and a fee.
        list(
            "quảng cáo",
            "R13",
            &[
                "khuyến mãi",
                "khuyến mại",
                "giảm giá",
                "giá chỉ",
                "giá sốc",
                "mua ngay",
                "đặt mua",
                "liên hệ mua",
                "chốt đơn",
                "hotline",
                "inbox",
                "freeship",
                "ship cod",
                "miễn phí vận chuyển",
                "giao hàng tận nơi",
                "sale off",
                "xả kho",
                "số lượng có hạn",
                "mua 1 tặng 1",
                "cam kết chính hãng",
            ],
        ),
    ]
}

// ---------------------------------------------------------------------------
// Dangerous attachments

/// The compound file (OLE2) signature of .doc, .xls, .ppt and .msi files.
pub(crate) const OLE_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Extensions a document is commonly disguised as ("bao-cao.pdf.exe").
const DECOY_EXTENSIONS: [&str; 22] = [
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "rtf", "txt", "jpg", "jpeg",
    "png", "gif", "bmp", "mp3", "mp4", "avi", "zip", "rar", "html",
];

/// Why an attachment must not reach reviewers, in English for the
/// sysadmin's quarantine list; None when it is not dangerous by these
/// checks.
///
/// The bytes are checked first, whatever the name: Windows executables
/// ("MZ" with a PE, NE, LE or LX header at the offset stored at 0x3C, or a
/// plausible DOS header), ELF, Mach-O, "#!/…" scripts, Windows installers
/// (compound files with the MSI class), Office documents with VBA macros
/// (a zip with `vbaProject.bin` or `vbaData.xml`; a compound file with a
/// `Macros`, `_VBA_PROJECT_CUR` or `_VBA_PROJECT` entry), and zip archives
/// holding a file with one of the extensions below. "MZ" followed by text,
/// as in a text file that happens to start with those letters, is not an
/// executable. A zip or compound file that cannot be read is not this
/// function's business.
///
/// Then the name: the last extension, in any case, trailing dots and
/// spaces ignored as Windows ignores them, is a program, script, shortcut
/// or macro-enabled Office format.
pub fn attachment_danger(filename: &str, data: &[u8]) -> Option<String> {
    let what = danger(filename, data)?;
    Some(format!("attachment {filename:?} {what}"))
}

/// What `attachment_danger` finds, without the file's name in front: "is an
/// executable (Windows PE)", "contains Word macros (word/vbaProject.bin)".
pub(crate) fn danger(filename: &str, data: &[u8]) -> Option<String> {
    content_danger(data).or_else(|| name_danger(filename))
}

/// What a file with extension `ext` (lower case) is, when it is dangerous.
fn extension_kind(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "exe" | "com" | "scr" | "pif" | "cpl" | "dll" | "msi" | "msp" => {
            "a Windows program or installer"
        }
        "bat" | "cmd" | "js" | "jse" | "vbs" | "vbe" | "wsf" | "wsh" | "hta" | "ps1" | "psm1"
        | "sh" => "a script",
        "reg" => "a Windows registry file",
        "lnk" => "a Windows shortcut",
        "jar" => "a Java program",
        "apk" => "an Android app",
        "app" => "a macOS app",
        "docm" | "dotm" | "xlsm" | "xltm" | "xlam" | "pptm" | "potm" | "ppam" | "sldm" => {
            "a macro-enabled Office document"
        }
        _ => return None,
    })
}

/// The danger of a file name, as "is a script (.vbs)".
fn name_danger(name: &str) -> Option<String> {
    let base = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(name)
        .trim_end_matches(|c: char| c == '.' || c.is_whitespace())
        .to_lowercase();
    let (stem, ext) = base.rsplit_once('.')?;
    let kind = extension_kind(ext)?;
    let decoy = stem
        .trim_end()
        .rsplit_once('.')
        .map(|(_, e)| e)
        .filter(|e| DECOY_EXTENSIONS.contains(e));
    Some(match decoy {
        Some(d) => format!("is {kind} (.{ext}) disguised as .{d}"),
        None => format!("is {kind} (.{ext})"),
    })
}

/// The danger of the bytes, as "is an executable (Windows PE)".
fn content_danger(data: &[u8]) -> Option<String> {
    if let Some(kind) = windows_executable(data) {
        return Some(format!("is an executable ({kind})"));
    }
    if data.starts_with(b"\x7fELF") {
        return Some("is an executable (ELF, Linux/Unix)".to_string());
    }
    let mach_o: [[u8; 4]; 4] = [
        [0xFE, 0xED, 0xFA, 0xCE],
        [0xFE, 0xED, 0xFA, 0xCF],
        [0xCE, 0xFA, 0xED, 0xFE],
        [0xCF, 0xFA, 0xED, 0xFE],
    ];
    if mach_o.iter().any(|m| data.starts_with(m)) {
        return Some("is an executable (Mach-O, macOS)".to_string());
    }
    if data.starts_with(&[0xCA, 0xFE, 0xBA, 0xBE]) || data.starts_with(&[0xCA, 0xFE, 0xBA, 0xBF]) {
        return Some("is an executable (Mach-O universal binary or Java class)".to_string());
    }
    if let Some(rest) = data.strip_prefix(b"#!")
        && rest
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t'))
            .is_some_and(|b| *b == b'/')
    {
        return Some("is a script (#! interpreter line)".to_string());
    }
    if data.starts_with(b"PK\x03\x04") {
        return zip_danger(data);
    }
    if data.starts_with(&OLE_MAGIC) {
        return compound_danger(data);
    }
    None
}

fn le16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([*b.first()?, *b.get(1)?]))
}

fn le32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// The format of a Windows or DOS executable: "MZ" and either a new header
/// signature where e_lfanew (at 0x3C) points, or a DOS header whose fields
/// are plausible. Text starting with "MZ" fails the latter: its bytes are
/// printable, so the count of bytes on the last page (at 2) is far above
/// the 511 a DOS header allows.
fn windows_executable(data: &[u8]) -> Option<&'static str> {
    if !data.starts_with(b"MZ") {
        return None;
    }
    if let Some(offset) = le32(data, 0x3C).and_then(|o| usize::try_from(o).ok())
        && let Some(sig) = offset.checked_add(4).and_then(|end| data.get(offset..end))
    {
        if sig == b"PE\0\0" {
            return Some("Windows PE");
        }
        if matches!(sig.get(..2), Some(b"NE" | b"LE" | b"LX")) {
            return Some("16-bit Windows or OS/2");
        }
    }
    let last_page = le16(data, 2)?;
    let pages = le16(data, 4)?;
    let header_paragraphs = le16(data, 8)?;
    let header_fits = usize::from(header_paragraphs) * 16 <= data.len();
    (last_page < 512 && pages >= 1 && header_paragraphs >= 2 && header_fits).then_some("DOS MZ")
}

/// Macros or programs inside a zip archive (Office Open XML documents are
/// zip archives), judged by entry names alone; nothing is inflated.
fn zip_danger(data: &[u8]) -> Option<String> {
    let archive = ZipArchive::new(Cursor::new(data)).ok()?;
    let mut program = None;
    for raw in archive.file_names_raw() {
        let name = String::from_utf8_lossy(raw);
        let trimmed = name.trim_end_matches(['/', '\\']);
        let last = trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed);
        if last.eq_ignore_ascii_case("vbaProject.bin") || last.eq_ignore_ascii_case("vbaData.xml") {
            let top = trimmed
                .split(['/', '\\'])
                .next()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let app = match top.as_str() {
                "word" => "Word",
                "xl" => "Excel",
                "ppt" => "PowerPoint",
                _ => "Office",
            };
            return Some(format!("contains {app} macros ({trimmed})"));
        }
        if program.is_none()
            && let Some(what) = name_danger(trimmed)
        {
            program = Some(format!("contains {trimmed:?}, which {what}"));
        }
    }
    program
}

/// Installers and macros in a compound file (.doc, .xls, .msi).
fn compound_danger(data: &[u8]) -> Option<String> {
    if let Some(kind) = compound_installer(data) {
        return Some(format!("is {kind}"));
    }
    let entry = ["Macros", "_VBA_PROJECT_CUR", "_VBA_PROJECT"]
        .into_iter()
        .find(|name| compound_has_entry(data, name))?;
    let app = if compound_has_entry(data, "WordDocument") {
        "Word"
    } else if compound_has_entry(data, "Workbook") || compound_has_entry(data, "Book") {
        "Excel"
    } else {
        "Office"
    };
    Some(format!("contains {app} macros ({entry})"))
}

/// A Windows Installer package or patch: the class of the root entry, the
/// first entry of the first directory sector.
fn compound_installer(data: &[u8]) -> Option<&'static str> {
    let shift = le16(data, 0x1E)?;
    if shift != 9 && shift != 12 {
        return None;
    }
    let first_dir_sector = usize::try_from(le32(data, 0x30)?).ok()?;
    let root = first_dir_sector.checked_add(1)?.checked_mul(1 << shift)?;
    let class = data.get(root.checked_add(0x50)?..root.checked_add(0x60)?)?;
    let tail: [u8; 12] = [0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];
    if class.get(4..) != Some(&tail[..]) {
        return None;
    }
    match class.get(..4)? {
        [0x84, 0x10, 0x0C, 0x00] => Some("a Windows installer (MSI)"),
        [0x86, 0x10, 0x0C, 0x00] => Some("a Windows installer patch (MSP)"),
        _ => None,
    }
}

/// Whether a directory entry named `name` (ASCII, case-insensitive) is in
/// the compound file. Directory entries are 128 bytes and sectors start at
/// multiples of 512 bytes, so every entry starts at a multiple of 128 after
/// the header; an entry holds its name in UTF-16LE, the name's length in
/// bytes with the terminator at 64 and its type (storage or stream) at 66.
pub(crate) fn compound_has_entry(data: &[u8], name: &str) -> bool {
    let units: Vec<u16> = name.encode_utf16().collect();
    let Ok(name_bytes) = u16::try_from((units.len() + 1) * 2) else {
        return false;
    };
    (512..data.len()).step_by(128).any(|at| {
        let Some(entry) = data.get(at..at + 128) else {
            return false;
        };
        le16(entry, 64) == Some(name_bytes)
            && matches!(entry.get(66), Some(1 | 2))
            && units.iter().enumerate().all(|(k, unit)| {
                le16(entry, 2 * k).is_some_and(|u| {
                    let lower = |x: u16| {
                        if (u16::from(b'A')..=u16::from(b'Z')).contains(&x) {
                            x + 32
                        } else {
                            x
                        }
                    };
                    lower(u) == lower(*unit)
                })
            })
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::io::Write;

    use super::*;

    fn mark(subject: &str, text: &str) -> Option<(Secrecy, String)> {
        classified_mark(subject, text).map(|m| (m.level, m.place))
    }

    fn level(subject: &str, text: &str) -> Option<Secrecy> {
        classified_mark(subject, text).map(|m| m.level)
    }

    #[test]
    fn labels_are_the_printed_stamps() {
        assert_eq!(Secrecy::Mat.label(), "MẬT");
        assert_eq!(Secrecy::ToiMat.label(), "TỐI MẬT");
        assert_eq!(Secrecy::TuyetMat.label(), "TUYỆT MẬT");
        assert!(Secrecy::Mat < Secrecy::ToiMat && Secrecy::ToiMat < Secrecy::TuyetMat);
        // The tables must be NFC, like the text they are compared with.
        for (stamp, _) in SECRECY_STAMPS {
            assert_eq!(nfc(stamp), stamp);
        }
        for stamp in URGENCY_STAMPS {
            assert_eq!(nfc(stamp), stamp);
        }
    }

    #[test]
    fn stamp_on_the_first_line_of_a_letter() {
        let letter = "MẬT\nỦY BAN NHÂN DÂN XÃ AN BÌNH\nSố: 12/KH-UBND\nKế hoạch bảo vệ";
        assert_eq!(
            mark("Kế hoạch", letter),
            Some((Secrecy::Mat, "line 1".to_string()))
        );
    }

    #[test]
    fn stamp_on_a_line_among_others() {
        let text = "Kính gửi Ban biên tập,\n\n   **TỐI MẬT**  \nNội dung kèm theo.";
        assert_eq!(
            mark("", text),
            Some((Secrecy::ToiMat, "line 3".to_string()))
        );
        assert_eq!(level("", "a\n[TUYỆT MẬT]\nb"), Some(Secrecy::TuyetMat));
        assert_eq!(level("", "«MẬT»"), Some(Secrecy::Mat));
        assert_eq!(level("", "— MẬT —"), Some(Secrecy::Mat));
        assert_eq!(level("", "\"TỐI  MẬT\""), Some(Secrecy::ToiMat));
        assert_eq!(level("", "MẬT\tKHẨN"), Some(Secrecy::Mat));
        assert_eq!(level("", "MẬT-KHẨN"), Some(Secrecy::Mat));
        assert_eq!(level("", "MẬT-ONG"), None);
        assert_eq!(level("", "TỐI MẬT"), Some(Secrecy::ToiMat));
        assert_eq!(level("", "TỐI\u{a0}MẬT"), Some(Secrecy::ToiMat));
    }

    #[test]
    fn stamps_without_diacritics() {
        assert_eq!(level("", "TOI MAT"), Some(Secrecy::ToiMat));
        assert_eq!(level("", "_TUYET MAT_"), Some(Secrecy::TuyetMat));
        assert_eq!(level("", "MAT"), None);
        assert_eq!(level("", "toi mat"), None);
    }

    #[test]
    fn secrecy_next_to_urgency_stamps() {
        assert_eq!(level("", "MẬT - KHẨN"), Some(Secrecy::Mat));
        assert_eq!(level("", "HỎA TỐC / TỐI MẬT"), Some(Secrecy::ToiMat));
        assert_eq!(level("", "MẬT      THƯỢNG KHẨN"), Some(Secrecy::Mat));
        assert_eq!(level("", "KHẨN"), None);
        assert_eq!(level("", "THƯỢNG KHẨN"), None);
        assert_eq!(level("KHẨN: Tin bão số 3", "HỎA TỐC"), None);
    }

    #[test]
    fn field_form() {
        assert_eq!(
            mark("", "Số: 15/BC\nĐộ mật: Mật\nKính gửi"),
            Some((Secrecy::Mat, "line 2".to_string()))
        );
        assert_eq!(level("", "ĐỘ MẬT: TỐI MẬT"), Some(Secrecy::ToiMat));
        assert_eq!(level("", "Do mat: Tuyet mat"), Some(Secrecy::TuyetMat));
        assert_eq!(level("", "độ mật : tuyệt mật."), Some(Secrecy::TuyetMat));
        assert_eq!(
            level("", "Độ khẩn: Thượng khẩn    Độ mật: Tối mật"),
            Some(Secrecy::ToiMat)
        );
        assert_eq!(
            level("", "Độ mật: Mật    Độ khẩn: Khẩn"),
            Some(Secrecy::Mat)
        );
        assert_eq!(level("", "Độ mật:\n\n  Tối mật\n"), Some(Secrecy::ToiMat));
        assert_eq!(level("", "Độ mật: Không"), None);
        assert_eq!(level("", "Độ mật: ........"), None);
        assert_eq!(level("", "Độ mật: Mật ong rừng"), None);
        assert_eq!(level("", "Độ mật:\nMật ong rừng"), None);
        assert_eq!(level("", "Nồng độ mật: mật"), None);
    }

    #[test]
    fn subject_forms() {
        assert_eq!(
            mark("[MẬT] Kế hoạch diễn tập", ""),
            Some((Secrecy::Mat, "subject".to_string()))
        );
        assert_eq!(
            level("Kế hoạch (TỐI MẬT) năm 2026", ""),
            Some(Secrecy::ToiMat)
        );
        assert_eq!(
            level("TUYỆT MẬT: Kế hoạch tác chiến", ""),
            Some(Secrecy::TuyetMat)
        );
        assert_eq!(level("MẬT - Báo cáo", ""), Some(Secrecy::Mat));
        assert_eq!(level("TỐI MẬT – Báo cáo", ""), Some(Secrecy::ToiMat));
        assert_eq!(level("MẬT | Báo cáo", ""), Some(Secrecy::Mat));
        assert_eq!(level("Fwd: Re: MẬT: Báo cáo", ""), Some(Secrecy::Mat));
        assert_eq!(
            level("TL: FW: TUYET MAT - Báo cáo", ""),
            Some(Secrecy::TuyetMat)
        );
        assert_eq!(level("Re[2]: KHẨN - MẬT: Báo cáo", ""), Some(Secrecy::Mat));
        assert_eq!(
            level("Re: [BBT-2026-0042] TỐI MẬT: Báo cáo", ""),
            Some(Secrecy::ToiMat)
        );
        assert_eq!(level("TỐI MẬT", ""), Some(Secrecy::ToiMat));
        assert_eq!(level("Báo cáo - Độ mật: Mật", ""), Some(Secrecy::Mat));
    }

    #[test]
    fn subject_lookalikes() {
        assert_eq!(
            level("Mật: Kế hoạch", ""),
            None,
            "title case is not a stamp"
        );
        assert_eq!(level("MẬT ONG: giá tốt", ""), None);
        assert_eq!(level("MẬT-ONG rừng", ""), None);
        assert_eq!(level("MẬT-ONG: rừng", ""), None);
        assert_eq!(level("MẬT-KHẨN: Báo cáo", ""), Some(Secrecy::Mat));
        assert_eq!(level("Báo cáo MẬT ĐỘ dân cư", ""), None);
        assert_eq!(level("Re: Bảo mật thông tin", ""), None);
        assert_eq!(level("[Mật ong] Quà quê", ""), None);
        assert_eq!(level("Tin bài: chuyện bí mật - phần 2", ""), None);
    }

    #[test]
    fn highest_level_wins() {
        let text = "MẬT\nnội dung\nĐộ mật: Tuyệt mật\nTỐI MẬT";
        assert_eq!(
            mark("[MẬT] Báo cáo", text),
            Some((Secrecy::TuyetMat, "line 3".to_string()))
        );
        assert_eq!(
            mark("[TỐI MẬT] Báo cáo", "MẬT\nTỐI MẬT"),
            Some((Secrecy::ToiMat, "subject".to_string()))
        );
        assert_eq!(
            mark("", "MẬT\nx\nMẬT"),
            Some((Secrecy::Mat, "line 1".to_string()))
        );
    }

    #[test]
    fn decomposed_input() {
        // NFD: Ậ is A + dot below + circumflex.
        let nfd_mat: String = "MẬT".nfd().collect();
        assert_ne!(nfd_mat, "MẬT");
        assert_eq!(
            level("", &format!("x\r\n{nfd_mat}\r\ny")),
            Some(Secrecy::Mat)
        );
        // Marks in the other order, and on a precomposed Â.
        assert_eq!(level("", "MA\u{302}\u{323}T"), Some(Secrecy::Mat));
        assert_eq!(level("", "MÂ\u{323}T"), Some(Secrecy::Mat));
        let nfd_subject: String = "[TUYỆT MẬT] Kế hoạch".nfd().collect();
        assert_eq!(level(&nfd_subject, ""), Some(Secrecy::TuyetMat));
        let nfd_field: String = "Độ mật: Tối mật".nfd().collect();
        assert_eq!(level("", &nfd_field), Some(Secrecy::ToiMat));
    }

    #[test]
    fn prose_does_not_fire() {
        for text in [
            "Vui lòng đổi mật khẩu sau khi đăng nhập.",
            "Mật độ dân số của xã tăng nhanh.",
            "Đây là bí mật của làng.",
            "Mật ong rừng rất quý.",
            "MẬT ONG RỪNG U MINH",
            "Bảo mật thông tin cá nhân",
            "BẢO MẬT THÔNG TIN",
            "Hội nghị cơ mật",
            "ĐẢNG BỘ XÃ AN BÌNH... ĐỘ MẬT CAO",
            "Please wipe your feet on the door mat.",
            "MAT",
            "Trăng lên đầu núi\nMật\nngọt lịm môi em",
            "Tối mật",
            "Tuyệt mật",
            "KHẨN",
            "THƯỢNG KHẨN",
            "Không mật",
            "KHÔNG MẬT",
            "Độ mật cao của mạng lưới",
            "",
        ] {
            assert_eq!(level("", text), None, "{text}");
            assert_eq!(level(text, ""), None, "subject {text}");
        }
    }

    #[test]
    fn hostile_shapes_stay_linear() {
        let brackets = "(".repeat(100_000);
        assert_eq!(level(&brackets, &brackets), None);
        let dashes = "- ".repeat(100_000);
        assert_eq!(level(&dashes, &dashes), None);
        let labels = "Độ mật:\n\n\n".repeat(20_000);
        assert_eq!(level("", &labels), None);
        let blank_after_label = format!("Độ mật:{}Mật", "\n".repeat(100_000));
        assert_eq!(level("", &blank_after_label), Some(Secrecy::Mat));
        let one_line = "độ mật: mật ong ".repeat(20_000);
        assert_eq!(level("", &one_line), None);
    }

    fn lists() -> Vec<WordList> {
        vec![
            WordList {
                name: "quảng cáo".into(),
                rule: "R13".into(),
                phrases: vec!["giảm giá".into(), "bán".into(), "hotline".into()],
            },
            WordList {
                name: "cấm".into(),
                rule: "R11".into(),
                phrases: vec!["lô đề".into(), "ma túy".into(), "".into(), " - ".into()],
            },
        ]
    }

    fn found(text: &str) -> Vec<(String, usize)> {
        screen(text, &lists())
            .into_iter()
            .map(|h| (h.phrase, h.count))
            .collect()
    }

    #[test]
    fn phrases_match_whole_words_in_any_case_and_spacing() {
        assert_eq!(found("GIẢM GIÁ sốc"), [("giảm giá".to_string(), 1)]);
        assert_eq!(found("Giảm   \n giá 50%"), [("giảm giá".to_string(), 1)]);
        assert_eq!(found("bánh mì ngon"), []);
        assert_eq!(found("ngồi bàn"), []);
        assert_eq!(
            found("bàn bạn ban"),
            [("bán".to_string(), 1)],
            "ban typed without diacritics"
        );
        assert_eq!(found("Nhà BÁN gấp"), [("bán".to_string(), 1)]);
        assert_eq!(found("giảm giáo viên"), []);
    }

    #[test]
    fn diacritics_rules() {
        // Text typed without diacritics matches by letters.
        assert_eq!(found("giam gia manh"), [("giảm giá".to_string(), 1)]);
        assert_eq!(found("choi lo de"), [("lô đề".to_string(), 1)]);
        // Partly typed diacritics are diacritics: "giàm" is not "giảm".
        assert_eq!(found("giàm giá"), []);
        // A phrase without diacritics matches text with them.
        assert_eq!(found("Hótline 0909"), [("hotline".to_string(), 1)]);
        // Tone placement, old and new style.
        assert_eq!(found("ma tuý"), [("ma túy".to_string(), 1)]);
        // Decomposed text.
        let nfd: String = "Giảm giá".nfd().collect();
        assert_eq!(found(&nfd), [("giảm giá".to_string(), 1)]);
    }

    #[test]
    fn counts_order_and_fields() {
        let hits = screen(
            "Ma túy, lô đề; giảm giá! GIẢM GIÁ. giam gia. Hotline",
            &lists(),
        );
        assert_eq!(
            hits,
            [
                Hit {
                    list: "quảng cáo".into(),
                    rule: "R13".into(),
                    phrase: "giảm giá".into(),
                    count: 3
                },
                Hit {
                    list: "quảng cáo".into(),
                    rule: "R13".into(),
                    phrase: "hotline".into(),
                    count: 1
                },
                Hit {
                    list: "cấm".into(),
                    rule: "R11".into(),
                    phrase: "lô đề".into(),
                    count: 1
                },
                Hit {
                    list: "cấm".into(),
                    rule: "R11".into(),
                    phrase: "ma túy".into(),
                    count: 1
                },
            ]
        );
        let repeated = WordList {
            name: "x".into(),
            rule: "R13".into(),
            phrases: vec!["ha ha".into()],
        };
        assert_eq!(screen("ha ha ha ha ha", &[repeated])[0].count, 2);
    }

    #[test]
    fn empty_lists_and_text() {
        assert!(screen("giảm giá", &[]).is_empty());
        let empty = WordList {
            name: "x".into(),
            rule: "R11".into(),
            phrases: vec![],
        };
        assert!(screen("giảm giá", &[empty]).is_empty());
        assert!(screen("", &lists()).is_empty());
        assert!(screen("!!! ...", &default_lists()).is_empty());
    }

    #[test]
    fn default_lists_are_sane() {
        let lists = default_lists();
        assert_eq!(lists.len(), 2);
        for l in &lists {
            assert!(["R11", "R13"].contains(&l.rule.as_str()));
            for p in &l.phrases {
                assert_eq!(&nfc(p), p);
                assert!(!phrase_words(p).is_empty(), "{p}");
            }
        }
        let hits = screen(
            "KHUYẾN MÃI lớn, freeship toàn quốc, inbox chốt đơn. Xem bói, giải hạn.",
            &lists,
        );
        let phrases: Vec<&str> = hits.iter().map(|h| h.phrase.as_str()).collect();
        assert_eq!(
            phrases,
            [
                "xem bói",
                "giải hạn",
                "khuyến mãi",
                "chốt đơn",
                "inbox",
                "freeship"
            ]
        );
        let news = "UBND xã tổ chức hội nghị về chính sách vay ưu đãi, Nhà nước đặt hàng \
                    dịch vụ công; giá lúa tăng. Bảo mật thông tin khách hàng.";
        assert!(screen(news, &lists).is_empty());
    }

    #[test]
    fn large_text() {
        let paragraph = "Sáng nay, Ủy ban nhân dân xã tổ chức hội nghị tổng kết công tác \
                         năm, bàn về bánh chưng, mật độ dân số và giảm giá điện.\n";
        let mut text = String::new();
        while text.len() < 200_000 {
            text.push_str(paragraph);
        }
        let n = text.matches(paragraph).count();
        let mut lists = default_lists();
        for i in 0..200 {
            lists[0].phrases.push(format!("cụm từ số {i}"));
        }
        let hits = screen(&text, &lists);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].phrase, "giảm giá");
        assert_eq!(hits[0].count, n);
        assert_eq!(classified_mark("", &text), None);
    }

    fn zip_of(parts: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in parts {
            writer.start_file(*name, options).unwrap();
            writer.write_all(data).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    /// A minimal PE: DOS header with e_lfanew = 0x80 and the signature.
    fn pe() -> Vec<u8> {
        let mut data = vec![0u8; 0x100];
        data[..2].copy_from_slice(b"MZ");
        data[2..4].copy_from_slice(&0x90u16.to_le_bytes());
        data[4..6].copy_from_slice(&3u16.to_le_bytes());
        data[8..10].copy_from_slice(&4u16.to_le_bytes());
        data[0x3C..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        data[0x80..0x84].copy_from_slice(b"PE\0\0");
        data
    }

    /// A compound file with one directory sector (sector 0) holding the
    /// given entries; the root entry's class is `class`.
    fn compound(entries: &[(&str, u8)], class: [u8; 16]) -> Vec<u8> {
        let sectors = (entries.len() + 1).div_ceil(4);
        let mut data = vec![0u8; 512 * (sectors + 1)];
        data[..8].copy_from_slice(&OLE_MAGIC);
        data[0x1E..0x20].copy_from_slice(&9u16.to_le_bytes());
        data[0x30..0x34].copy_from_slice(&0u32.to_le_bytes());
        let all = std::iter::once(("Root Entry", 5)).chain(entries.iter().copied());
        for (i, (name, kind)) in all.enumerate() {
            let at = 512 + i * 128;
            for (k, unit) in name.encode_utf16().enumerate() {
                data[at + 2 * k..at + 2 * k + 2].copy_from_slice(&unit.to_le_bytes());
            }
            let len = ((name.len() + 1) * 2) as u16;
            data[at + 64..at + 66].copy_from_slice(&len.to_le_bytes());
            data[at + 66] = kind;
            if i == 0 {
                data[at + 0x50..at + 0x60].copy_from_slice(&class);
            }
        }
        data
    }

    const PLAIN_CLASS: [u8; 16] = [0; 16];

    fn danger(name: &str, data: &[u8]) -> String {
        attachment_danger(name, data).unwrap_or_default()
    }

    #[test]
    fn dangerous_extensions() {
        assert_eq!(
            danger("x.exe", b"hello"),
            "attachment \"x.exe\" is a Windows program or installer (.exe)"
        );
        assert_eq!(
            danger("bao-cao.pdf.exe", b"hello"),
            "attachment \"bao-cao.pdf.exe\" is a Windows program or installer (.exe) disguised as .pdf"
        );
        assert_eq!(
            danger("ANH.JPG.SCR", b""),
            "attachment \"ANH.JPG.SCR\" is a Windows program or installer (.scr) disguised as .jpg"
        );
        assert_eq!(
            danger("Hoa don.VBS", b"x"),
            "attachment \"Hoa don.VBS\" is a script (.vbs)"
        );
        assert!(danger("tai-lieu.exe. . ", b"x").contains("(.exe)"));
        assert!(danger("lien-ket.lnk", b"x").contains("a Windows shortcut"));
        assert!(danger("bang-luong.xlsm", b"x").contains("a macro-enabled Office document"));
        for ext in [
            "com", "pif", "bat", "cmd", "msi", "msp", "cpl", "dll", "jar", "js", "jse", "vbe",
            "wsf", "wsh", "hta", "ps1", "psm1", "reg", "apk", "app", "sh", "docm", "dotm", "xltm",
            "xlam", "pptm", "potm", "ppam", "sldm",
        ] {
            assert!(
                attachment_danger(&format!("f.{ext}"), b"x").is_some(),
                "{ext}"
            );
        }
        for name in [
            "exe",
            "bao-cao.docx",
            "anh.jpg",
            "thu.txt",
            "x.exe.pdf",
            "shell",
        ] {
            assert_eq!(attachment_danger(name, b"hello"), None, "{name}");
        }
    }

    #[test]
    fn executables_by_bytes() {
        assert_eq!(
            danger("anh.jpg", &pe()),
            "attachment \"anh.jpg\" is an executable (Windows PE)"
        );
        let mut ne = pe();
        ne[0x80..0x84].copy_from_slice(b"NE\0\0");
        assert!(danger("a.dat", &ne).contains("16-bit Windows"));
        let mut dos = pe();
        dos[0x3C..0x40].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        assert!(danger("a.dat", &dos).contains("(DOS MZ)"));
        assert!(danger("a.pdf", b"\x7fELF\x02\x01\x01").contains("ELF"));
        assert!(danger("a.pdf", &[0xCF, 0xFA, 0xED, 0xFE, 7, 0, 0, 1]).contains("Mach-O"));
        assert!(danger("a.pdf", &[0xCA, 0xFE, 0xBA, 0xBE, 0, 0, 0, 2]).contains("Mach-O"));
        assert_eq!(
            danger("ghi-chu.txt", b"#!/bin/sh\nrm -rf ~\n"),
            "attachment \"ghi-chu.txt\" is a script (#! interpreter line)"
        );
        assert!(danger("a.txt", b"#! /usr/bin/env python3\n").contains("script"));
        assert_eq!(attachment_danger("a.txt", b"#!important note"), None);
    }

    #[test]
    fn mz_in_prose_is_not_an_executable() {
        let prose = b"MZ Corporation annual report, 2025.\nRevenue grew in all regions, \
                      and the board thanks its staff for a good year of work.\n";
        assert_eq!(attachment_danger("bao-cao.txt", prose), None);
        assert_eq!(attachment_danger("mz.txt", b"MZ"), None);
        // The extension still counts.
        assert!(attachment_danger("bao-cao.exe", prose).is_some());
    }

    #[test]
    fn macro_documents_in_zip() {
        let docm = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document/>"),
            ("word/vbaProject.bin", b"\xd0\xcf\x11\xe0"),
        ]);
        assert_eq!(
            danger("bao-cao.docx", &docm),
            "attachment \"bao-cao.docx\" contains Word macros (word/vbaProject.bin)"
        );
        let xlsm = zip_of(&[("xl/workbook.xml", b"<w/>"), ("xl/VBAPROJECT.BIN", b"x")]);
        assert!(danger("bang.xlsx", &xlsm).contains("Excel macros"));
        let flat = zip_of(&[("customXml/vbaData.xml", b"<x/>")]);
        assert!(danger("a.docx", &flat).contains("Office macros (customXml/vbaData.xml)"));
    }

    #[test]
    fn programs_in_zip() {
        let archive = zip_of(&[("hoa-don/", b""), ("hoa-don/Hoa don.pdf.js", b"WScript")]);
        assert_eq!(
            danger("hoa-don.zip", &archive),
            "attachment \"hoa-don.zip\" contains \"hoa-don/Hoa don.pdf.js\", which is a script (.js) disguised as .pdf"
        );
        let photos = zip_of(&[("anh/1.jpg", b"\xff\xd8"), ("anh/ghi-chu.txt", b"x")]);
        assert_eq!(attachment_danger("anh.zip", &photos), None);
    }

    #[test]
    fn harmless_files() {
        let docx = zip_of(&[
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<w:document/>"),
            ("word/media/image1.png", b"\x89PNG"),
        ]);
        assert_eq!(attachment_danger("bao-cao.docx", &docx), None);
        assert_eq!(
            attachment_danger("anh.jpg", b"\xff\xd8\xff\xe0\0\x10JFIF"),
            None
        );
        assert_eq!(
            attachment_danger("van-ban.pdf", b"%PDF-1.7\n%\xe2\xe3"),
            None
        );
        assert_eq!(
            attachment_danger("x.docx", b"PK\x03\x04 not really a zip"),
            None
        );
        assert_eq!(attachment_danger("", b""), None);
        let doc = compound(&[("WordDocument", 2), ("1Table", 2)], PLAIN_CLASS);
        assert_eq!(attachment_danger("cong-van.doc", &doc), None);
        assert_eq!(attachment_danger("cut.doc", &OLE_MAGIC), None);
    }

    #[test]
    fn macro_documents_in_compound_files() {
        let doc = compound(
            &[
                ("WordDocument", 2),
                ("Macros", 1),
                ("VBA", 1),
                ("_VBA_PROJECT", 2),
            ],
            PLAIN_CLASS,
        );
        assert_eq!(
            danger("cong-van.doc", &doc),
            "attachment \"cong-van.doc\" contains Word macros (Macros)"
        );
        let xls = compound(&[("Workbook", 2), ("_VBA_PROJECT_CUR", 1)], PLAIN_CLASS);
        assert!(danger("bang.xls", &xls).contains("Excel macros (_VBA_PROJECT_CUR)"));
        // The name in document text, not as an entry, does not count.
        let mut text = compound(&[("WordDocument", 2)], PLAIN_CLASS);
        for unit in "Macros".encode_utf16() {
            text.extend_from_slice(&unit.to_le_bytes());
        }
        text.resize(2048, 0);
        assert_eq!(attachment_danger("a.doc", &text), None);
    }

    #[test]
    fn installers_in_compound_files() {
        let msi_class = [
            0x84, 0x10, 0x0C, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
        ];
        let msi = compound(&[], msi_class);
        assert_eq!(
            danger("tai-lieu.doc", &msi),
            "attachment \"tai-lieu.doc\" is a Windows installer (MSI)"
        );
    }

    #[test]
    fn odd_names_are_quoted_safely() {
        let reason = danger("hoa-don\u{202e}fdp.exe", b"x");
        assert!(reason.contains("\\u{202e}"), "{reason}");
    }
}
