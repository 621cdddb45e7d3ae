//! Legacy Vietnamese font encodings, TCVN3 (ABC) and VNI, read as mojibake.
//!
//! Before Unicode, Vietnamese was typed with 8-bit fonts that draw Vietnamese
//! letters at the code points of Western letters and symbols. When such text
//! reaches us through Unicode (a Word file whose runs use ".VnTime" or
//! "VNI-Times", text pasted into a mail), every byte shows up as the
//! Windows-1252 character with that code: "Hội nghị" reads "Héi nghÞ" in
//! TCVN3 and "Hoäi nghò" in VNI. R24 wants precomposed Unicode, so such text
//! is converted before it is stored or shown.
//!
//! Neither encoding uses the bytes 0x80–0x9F, the only range where
//! Windows-1252 and Latin-1 differ, so the tables below are written over the
//! characters U+00A0–U+00FF and hold for both readings.
//!
//! When a Word run names its font, `font_encoding` is the reliable answer;
//! `detect` is a heuristic for text whose font is unknown. Everything here is
//! pure and total: no input makes it fail or panic.

use unicode_normalization::UnicodeNormalization;

use crate::text::nfc;

/// A legacy 8-bit Vietnamese encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legacy {
    /// TCVN 5712:1993 "VN3", the ABC fonts (".VnTime", ".VnArial", …).
    Tcvn3,
    /// VNI-Windows, the VNI fonts ("VNI-Times", "VNI-Helve", …).
    Vni,
}

impl Legacy {
    /// The name reviewers know the encoding by.
    pub fn name(self) -> &'static str {
        match self {
            Legacy::Tcvn3 => "TCVN3 (ABC)",
            Legacy::Vni => "VNI",
        }
    }
}

/// Converts text typed in `enc` (as it reads through Unicode, bytes shown as
/// Windows-1252 characters) to Unicode NFC.
///
/// Characters that are not part of the encoding pass through unchanged, so
/// ASCII, digits and punctuation survive. TCVN3 has no codes for capitals
/// with tone marks: they were typed with the lowercase codes and come back
/// lowercase ("HéI" → "Hội"); text in a capitals-only font (".VnTimeH", see
/// [`uppercase_font`]) is upper-cased by the caller.
pub fn convert(text: &str, enc: Legacy) -> String {
    // Composed first: a Latin-1 letter that arrived decomposed ("e" + U+0301)
    // is still one legacy byte.
    nfc(&decode(&nfc(text), enc))
}

/// Whether a font name belongs to a legacy encoding: the ABC fonts are named
/// ".Vn…" (".VnTime", ".VnTimeH", ".VnArial", ".VnCentury Schoolbook"), the
/// VNI fonts "VNI-…" or "VNI …" ("VNI-Times", "VNI-Helve", "VNI Times").
pub fn font_encoding(font: &str) -> Option<Legacy> {
    let name = family(font).to_lowercase();
    if name
        .strip_prefix(".vn")
        .is_some_and(|rest| !rest.is_empty())
    {
        return Some(Legacy::Tcvn3);
    }
    // "vni" alone or "vnipro" are not font families of VNI-Windows.
    if name
        .strip_prefix("vni")
        .is_some_and(|rest| rest.starts_with(['-', ' ', '_']))
    {
        return Some(Legacy::Vni);
    }
    None
}

/// Whether `font` is one of the capitals-only ABC fonts (".VnTimeH",
/// ".VnArialH"): they draw the lowercase TCVN3 codes as capitals, so the
/// converted text of such a run must be upper-cased to read as it looked.
pub fn uppercase_font(font: &str) -> bool {
    font_encoding(font) == Some(Legacy::Tcvn3) && family(font).ends_with('H')
}

/// A font name as documents quote it, without white space or quotes.
fn family(font: &str) -> &str {
    font.trim().trim_matches(['"', '\'']).trim()
}

/// Words with non-ASCII characters that `detect` reads: a sample this large
/// decides as well as the whole text does, and the cost stays bounded.
const SAMPLE_WORDS: usize = 4000;
/// Distinct words (of two characters or more) that must turn from garbage
/// into Vietnamese syllables: one or two accidents prove nothing.
const MIN_EVIDENCE_WORDS: usize = 3;
/// Of those, distinct words that carry a character typical of the
/// encoding's mojibake (see `signature`). One is enough: capitals typed in
/// TCVN3 ("VIÖT NAM") use few of them, and without any, Swedish "på", "så",
/// "då" would read as Vietnamese "pồ", "sồ", "dồ".
const MIN_SIGNATURE_WORDS: usize = 1;
/// Share of the non-ASCII words that must be Vietnamese syllables after
/// conversion: real legacy text converts almost entirely, a foreign text
/// keeps most of its words foreign.
const MIN_VALID_PERCENT: usize = 70;
/// Words repaired per word broken (a valid syllable that stops being one).
const MIN_GAIN_PER_LOSS: usize = 4;
/// At most one word in this many may hold letters that only Unicode has
/// (ộ, ư, đ): legacy text cannot contain them, Unicode Vietnamese is full of
/// them.
const NATIVE_SHARE: usize = 10;
/// The winning encoding must repair more than this many times the words the
/// other one repairs.
const MARGIN: usize = 2;

/// Detects mojibake in a text: `Some(enc)` when the text is very likely
/// Vietnamese typed in a legacy encoding, `None` for Unicode Vietnamese,
/// English or other languages.
///
/// The rule: the text is split into words and each word that has a
/// non-ASCII character is converted with both encodings. A word is *repaired*
/// when it was not a Vietnamese syllable and becomes one ("t¸c" → "tác"),
/// *broken* in the opposite case. Syllables are checked for their structure
/// (initial, vowel cluster, final, one tone, spelling rules), so "Cafộ" or
/// "Grỹòe" do not count. An encoding is chosen when
/// - at least `MIN_EVIDENCE_WORDS` distinct words of two or more characters
///   are repaired, at least `MIN_SIGNATURE_WORDS` of them through a character
///   typical of the encoding's mojibake and rare in real text;
/// - at least `MIN_VALID_PERCENT` % of the non-ASCII words are syllables
///   after conversion;
/// - repaired words outnumber broken ones `MIN_GAIN_PER_LOSS` to one;
/// - at most one word in `NATIVE_SHARE` holds letters only Unicode has;
/// - it repairs more than `MARGIN` times as many words as the other one.
pub fn detect(text: &str) -> Option<Legacy> {
    if text.is_ascii() {
        return None;
    }
    let text = nfc(text);
    let words = || {
        text.split(|c: char| !is_word_char(c))
            .filter(|w| !w.is_ascii())
            .take(SAMPLE_WORDS)
    };
    // Cheap first: Unicode Vietnamese, the usual case, is told by its
    // letters without converting anything.
    let (total, native) = words().fold((0, 0), |(t, n), w| {
        (t + 1, n + usize::from(w.chars().any(is_native_letter)))
    });
    if native * NATIVE_SHARE > total {
        return None;
    }
    let mut tcvn3 = Tally::default();
    let mut vni = Tally::default();
    for word in words() {
        let before = is_syllable(word);
        tcvn3.add(word, before, Legacy::Tcvn3);
        vni.add(word, before, Legacy::Vni);
    }
    if tcvn3.convincing(total, native) && tcvn3.repaired > MARGIN * vni.repaired {
        Some(Legacy::Tcvn3)
    } else if vni.convincing(total, native) && vni.repaired > MARGIN * tcvn3.repaired {
        Some(Legacy::Vni)
    } else {
        None
    }
}

/// What converting the words of a text with one encoding did.
#[derive(Default)]
struct Tally {
    /// Words that became syllables, counted with repetition.
    repaired: usize,
    /// Syllables that stopped being ones.
    broken: usize,
    /// Words that are syllables after conversion.
    valid: usize,
    /// Distinct repaired words of two characters or more, as converted.
    evidence: Vec<String>,
    /// The part of `evidence` repaired through a signature character.
    signed: Vec<String>,
}

impl Tally {
    fn add(&mut self, word: &str, before: bool, enc: Legacy) {
        let converted = decode(word, enc);
        let after = is_syllable(&converted);
        if after {
            self.valid += 1;
        }
        match (before, after) {
            (false, true) => {
                self.repaired += 1;
                // A lone symbol ("·" → "ã", "×" → "ì") is a separator far
                // more often than a one-letter word.
                if word.chars().nth(1).is_some() {
                    let key = converted.to_lowercase();
                    if signature(word, enc) {
                        remember(&mut self.signed, &key);
                    }
                    remember(&mut self.evidence, &key);
                }
            }
            (true, false) => self.broken += 1,
            _ => {}
        }
    }

    fn convincing(&self, total: usize, native: usize) -> bool {
        self.evidence.len() >= MIN_EVIDENCE_WORDS
            && self.signed.len() >= MIN_SIGNATURE_WORDS
            && self.valid * 100 >= total * MIN_VALID_PERCENT
            && self.broken * MIN_GAIN_PER_LOSS <= self.repaired
            && native * NATIVE_SHARE <= total
    }
}

/// Keeps a few distinct words: enough to reach the thresholds.
fn remember(list: &mut Vec<String>, key: &str) {
    if list.len() < MIN_EVIDENCE_WORDS && !list.iter().any(|k| k == key) {
        list.push(key.to_string());
    }
}

/// Whether `word` holds a character typical of `enc`'s mojibake and rare in
/// real text of any Western language.
///
/// TCVN3: the symbols it uses for letters ("¸" á, "«" ô, "§" Đ, "·" ã, …),
/// "×" ì, "÷" ữ and the Icelandic thorn ("Þ" ị, "þ" ỵ). Its other codes are
/// ordinary letters (é, ô, ü) of French or German.
///
/// VNI: a vowel followed by one of its mark characters, except "ù", "ú" and
/// "ï", which follow vowels in French "où", Spanish "aún" and French or
/// Dutch diaereses ("Loïc").
fn signature(word: &str, enc: Legacy) -> bool {
    match enc {
        Legacy::Tcvn3 => word.chars().any(|c| {
            matches!(c, '\u{A1}'..='\u{BE}' | '×' | '÷' | 'Þ' | 'þ') && tcvn3_char(c) != c
        }),
        Legacy::Vni => word.chars().zip(word.chars().skip(1)).any(|(base, mark)| {
            !matches!(lower(mark), 'ù' | 'ú' | 'ï') && vni_pair(base, mark).is_some()
        }),
    }
}

fn is_word_char(c: char) -> bool {
    // The Latin-1 symbols stand for letters in TCVN3 ("t¸c"), so they are
    // part of words.
    c.is_alphabetic() || ('\u{A1}'..='\u{FF}').contains(&c)
}

/// Vietnamese letters outside Latin-1: no legacy text shows them.
fn is_native_letter(c: char) -> bool {
    matches!(
        c,
        'ă' | 'Ă' | 'đ' | 'Đ' | 'ĩ' | 'Ĩ' | 'ũ' | 'Ũ' | 'ơ' | 'Ơ' | 'ư' | 'Ư' | '\u{1EA0}'
            ..='\u{1EF9}'
    )
}

fn decode(text: &str, enc: Legacy) -> String {
    match enc {
        Legacy::Tcvn3 => text.chars().map(tcvn3_char).collect(),
        Legacy::Vni => vni_decode(text),
    }
}

// Combining marks, for composing letters and for reading syllables.
const GRAVE: char = '\u{300}';
const ACUTE: char = '\u{301}';
const CIRCUMFLEX: char = '\u{302}';
const TILDE: char = '\u{303}';
const BREVE: char = '\u{306}';
const HOOK: char = '\u{309}';
const HORN: char = '\u{31B}';
const DOT_BELOW: char = '\u{323}';

/// TCVN3 for the codes 0xA0–0xFF, as Latin-1 characters U+00A0–U+00FF.
///
/// TCVN 5712:1993 has three tables. VN1 also puts the capitals with tone
/// marks in the control ranges and in the gaps of this one (0xAF Ằ, 0xC0 Ắ,
/// 0xB0–0xB4 combining tones, …); the ABC fonts are VN3, which leaves those
/// out. The codes below that map to themselves (NBSP ¯ ° ± ² ³ ´ º ¿ À Á Â Ã
/// Ä Å Í Ù Ú Û à ð ÿ) are not letters in the ".Vn" fonts, and reading them as
/// VN1 capitals would turn symbols into letters; ý is the one letter that
/// keeps its Latin-1 code. Capitals with tone marks are typed with the
/// lowercase codes; only Ă Â Ê Ô Ơ Ư Đ have codes of their own (0xA1–0xA7).
///
/// Checked against glibc iconv's TCVN5712-1 (every lowercase letter and base
/// capital), xvnkb's tcvn.h and bogoengine's charset table.
const TCVN3: [char; 96] = [
    // 0xA0
    '\u{A0}', 'Ă', 'Â', 'Ê', 'Ô', 'Ơ', 'Ư', 'Đ', 'ă', 'â', 'ê', 'ô', 'ơ', 'ư', 'đ', '¯',
    // 0xB0
    '°', '±', '²', '³', '´', 'à', 'ả', 'ã', 'á', 'ạ', 'º', 'ằ', 'ẳ', 'ẵ', 'ắ', '¿',
    // 0xC0
    'À', 'Á', 'Â', 'Ã', 'Ä', 'Å', 'ặ', 'ầ', 'ẩ', 'ẫ', 'ấ', 'ậ', 'è', 'Í', 'ẻ', 'ẽ',
    // 0xD0
    'é', 'ẹ', 'ề', 'ể', 'ễ', 'ế', 'ệ', 'ì', 'ỉ', 'Ù', 'Ú', 'Û', 'ĩ', 'í', 'ị', 'ò',
    // 0xE0
    'à', 'ỏ', 'õ', 'ó', 'ọ', 'ồ', 'ổ', 'ỗ', 'ố', 'ộ', 'ờ', 'ở', 'ỡ', 'ớ', 'ợ', 'ù',
    // 0xF0
    'ð', 'ủ', 'ũ', 'ú', 'ụ', 'ừ', 'ử', 'ữ', 'ứ', 'ự', 'ỳ', 'ỷ', 'ỹ', 'ý', 'ỵ', 'ÿ',
];

fn tcvn3_char(c: char) -> char {
    u32::from(c)
        .checked_sub(0xA0)
        .and_then(|i| usize::try_from(i).ok())
        .and_then(|i| TCVN3.get(i))
        .copied()
        .unwrap_or(c)
}

/// VNI-Windows writes most letters as a base letter followed by a mark
/// character; a few are single characters (`vni_single`). Capitals use the
/// capital forms of the same characters ("HOÄI" is "HỘI"); a mark of the
/// other case is accepted too, the base letter decides.
fn vni_decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(letter) = chars.peek().and_then(|&mark| vni_pair(c, mark)) {
            out.push(letter);
            chars.next();
        } else {
            out.push(vni_single(c).unwrap_or(c));
        }
    }
    out
}

/// The letter a VNI base letter and mark character stand for.
///
/// Bases: a e o u y, and "ô" for ơ, "ö" for ư. Marks (lowercase; capitals
/// alike):
/// - tones on any base: ù sắc, ø huyền, û hỏi, õ ngã, ï nặng;
/// - circumflex on a, e, o: â alone, á ấ, à ầ, å ẩ, ã ẫ, ä ậ;
/// - breve on a: ê alone, é ắ, è ằ, ú ẳ, ü ẵ, ë ặ.
///
/// Checked against xvnkb's vni.h and the vietnamese-conversion package.
fn vni_pair(base: char, mark: char) -> Option<char> {
    let vowel = match lower(base) {
        'a' => 'a',
        'e' => 'e',
        'o' => 'o',
        'u' => 'u',
        'y' => 'y',
        'ô' => 'ơ',
        'ö' => 'ư',
        _ => return None,
    };
    let (shape, tone) = match lower(mark) {
        'ù' => (None, Some(ACUTE)),
        'ø' => (None, Some(GRAVE)),
        'û' => (None, Some(HOOK)),
        'õ' => (None, Some(TILDE)),
        'ï' => (None, Some(DOT_BELOW)),
        'â' => (Some(CIRCUMFLEX), None),
        'á' => (Some(CIRCUMFLEX), Some(ACUTE)),
        'à' => (Some(CIRCUMFLEX), Some(GRAVE)),
        'å' => (Some(CIRCUMFLEX), Some(HOOK)),
        'ã' => (Some(CIRCUMFLEX), Some(TILDE)),
        'ä' => (Some(CIRCUMFLEX), Some(DOT_BELOW)),
        'ê' => (Some(BREVE), None),
        'é' => (Some(BREVE), Some(ACUTE)),
        'è' => (Some(BREVE), Some(GRAVE)),
        'ú' => (Some(BREVE), Some(HOOK)),
        'ü' => (Some(BREVE), Some(TILDE)),
        'ë' => (Some(BREVE), Some(DOT_BELOW)),
        _ => return None,
    };
    match shape {
        None => {}
        Some(CIRCUMFLEX) if matches!(vowel, 'a' | 'e' | 'o') => {}
        Some(BREVE) if vowel == 'a' => {}
        Some(_) => return None,
    }
    // Composed by normalization rather than mark by mark: ộ is ọ with a
    // circumflex, not ô with a dot below, and NFC knows the order.
    let sequence: String = [Some(vowel), shape, tone].into_iter().flatten().collect();
    let letter = only(sequence.nfc())?;
    Some(if base.is_uppercase() {
        upper(letter)
    } else {
        letter
    })
}

/// VNI letters written as one character: ơ, ư, đ and the i's and ỵ (whose
/// marks would collide with the dot of the i or the tail of the y).
fn vni_single(c: char) -> Option<char> {
    let letter = match lower(c) {
        'ô' => 'ơ',
        'ö' => 'ư',
        'ñ' => 'đ',
        'í' => 'í',
        'ì' => 'ì',
        'æ' => 'ỉ',
        'ó' => 'ĩ',
        'ò' => 'ị',
        'î' => 'ỵ',
        _ => return None,
    };
    Some(if c.is_uppercase() {
        upper(letter)
    } else {
        letter
    })
}

fn lower(c: char) -> char {
    only(c.to_lowercase()).unwrap_or(c)
}

fn upper(c: char) -> char {
    only(c.to_uppercase()).unwrap_or(c)
}

/// The single character of a case mapping; `None` when it has several.
fn only(mut chars: impl Iterator<Item = char>) -> Option<char> {
    let first = chars.next()?;
    chars.next().is_none().then_some(first)
}

/// Vietnamese syllables have at most 7 letters ("nghiêng").
const MAX_SYLLABLE_LETTERS: usize = 8;

const INITIALS: [&str; 28] = [
    "", "b", "c", "ch", "d", "đ", "g", "gh", "gi", "h", "k", "kh", "l", "m", "n", "ng", "ngh",
    "nh", "p", "ph", "qu", "r", "s", "t", "th", "tr", "v", "x",
];

const FINALS: [&str; 9] = ["", "c", "ch", "m", "n", "ng", "nh", "p", "t"];

/// Whether a vowel cluster takes a final consonant.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Coda {
    /// Ends in a glide or is complete as it is ("ai", "ưa", "iêu").
    Never,
    /// Needs one ("ăn", "tiên", "muốn").
    Always,
    Either,
}

/// Vowel clusters of Vietnamese syllables, tone marks removed.
const NUCLEI: &[(&str, Coda)] = &[
    ("a", Coda::Either),
    ("e", Coda::Either),
    ("ê", Coda::Either),
    ("i", Coda::Either),
    ("o", Coda::Either),
    ("ô", Coda::Either),
    ("ơ", Coda::Either),
    ("u", Coda::Either),
    ("ư", Coda::Either),
    ("y", Coda::Either),
    ("oa", Coda::Either),
    ("oe", Coda::Either),
    ("uê", Coda::Either),
    ("uy", Coda::Either),
    ("ă", Coda::Always),
    ("â", Coda::Always),
    ("iê", Coda::Always),
    ("yê", Coda::Always),
    ("uô", Coda::Always),
    ("ươ", Coda::Always),
    ("uâ", Coda::Always),
    ("oă", Coda::Always),
    ("uyê", Coda::Always),
    ("oo", Coda::Always),
    ("ai", Coda::Never),
    ("ao", Coda::Never),
    ("au", Coda::Never),
    ("ay", Coda::Never),
    ("âu", Coda::Never),
    ("ây", Coda::Never),
    ("eo", Coda::Never),
    ("êu", Coda::Never),
    ("ia", Coda::Never),
    ("iu", Coda::Never),
    ("oi", Coda::Never),
    ("ôi", Coda::Never),
    ("ơi", Coda::Never),
    ("ui", Coda::Never),
    ("ưi", Coda::Never),
    ("ưu", Coda::Never),
    ("ua", Coda::Never),
    ("ưa", Coda::Never),
    ("uơ", Coda::Never),
    ("iêu", Coda::Never),
    ("yêu", Coda::Never),
    ("uôi", Coda::Never),
    ("ươi", Coda::Never),
    ("ươu", Coda::Never),
    ("oai", Coda::Never),
    ("oay", Coda::Never),
    ("oao", Coda::Never),
    ("oeo", Coda::Never),
    ("uây", Coda::Never),
    ("uya", Coda::Never),
    ("uyu", Coda::Never),
];

/// Whether `word` is a well-formed Vietnamese syllable (in any case): an
/// initial, a vowel cluster and a final from the lists above, at most one
/// tone mark, only sắc or nặng before the stops c, ch, p, t, and the
/// spelling rules (k/gh/ngh before e ê i y, c/g/ng elsewhere). It says
/// nothing about whether the syllable is in use; it only rejects what
/// cannot be Vietnamese.
fn is_syllable(word: &str) -> bool {
    let mut letters: Vec<char> = Vec::with_capacity(MAX_SYLLABLE_LETTERS);
    let mut tone = None;
    for c in word.nfd().flat_map(char::to_lowercase) {
        match c {
            'f' | 'j' | 'w' | 'z' => return false,
            'a'..='z' | 'đ' => {
                if letters.len() == MAX_SYLLABLE_LETTERS {
                    return false;
                }
                letters.push(c);
            }
            CIRCUMFLEX | BREVE | HORN => {
                let Some(last) = letters.last_mut() else {
                    return false;
                };
                *last = match (*last, c) {
                    ('a', CIRCUMFLEX) => 'â',
                    ('e', CIRCUMFLEX) => 'ê',
                    ('o', CIRCUMFLEX) => 'ô',
                    ('a', BREVE) => 'ă',
                    ('o', HORN) => 'ơ',
                    ('u', HORN) => 'ư',
                    _ => return false,
                };
            }
            GRAVE | ACUTE | TILDE | HOOK | DOT_BELOW => {
                // In NFD the tone comes after the vowel's other mark (ố is
                // o, circumflex, acute) or before it (ộ is o, dot below,
                // circumflex), so both forms of the vowel are accepted.
                let on_vowel = letters.last().is_some_and(|l| {
                    matches!(
                        l,
                        'a' | 'ă' | 'â' | 'e' | 'ê' | 'i' | 'o' | 'ô' | 'ơ' | 'u' | 'ư' | 'y'
                    )
                });
                if tone.is_some() || !on_vowel {
                    return false;
                }
                tone = Some(c);
            }
            _ => return false,
        }
    }
    let base: String = letters.into_iter().collect();
    let stop_tone_ok = matches!(tone, None | Some(ACUTE) | Some(DOT_BELOW));
    INITIALS.iter().any(|initial| {
        let Some(rest) = base.strip_prefix(initial) else {
            return false;
        };
        FINALS.iter().any(|fin| {
            rest.strip_suffix(fin).is_some_and(|nucleus| {
                rime_ok(nucleus, fin)
                    && (stop_tone_ok || !matches!(*fin, "c" | "ch" | "p" | "t"))
                    && spelling_ok(initial, nucleus)
            })
        })
    })
}

fn rime_ok(nucleus: &str, fin: &str) -> bool {
    NUCLEI
        .iter()
        .find(|(n, _)| *n == nucleus)
        .is_some_and(|(_, coda)| match coda {
            Coda::Never => fin.is_empty(),
            Coda::Always => !fin.is_empty(),
            Coda::Either => true,
        })
}

fn spelling_ok(initial: &str, nucleus: &str) -> bool {
    let front = nucleus.starts_with(['e', 'ê', 'i', 'y']);
    match initial {
        "c" => !front,
        "k" | "gh" | "ngh" => front,
        "g" => !nucleus.starts_with(['e', 'ê']),
        "ng" => !nucleus.starts_with(['e', 'ê', 'i']),
        "qu" => !nucleus.starts_with('u'),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use unicode_normalization::is_nfc;

    const VOWELS: [char; 12] = ['a', 'ă', 'â', 'e', 'ê', 'i', 'o', 'ô', 'ơ', 'u', 'ư', 'y'];
    const TONES: [Option<char>; 6] = [
        None,
        Some(GRAVE),
        Some(ACUTE),
        Some(HOOK),
        Some(TILDE),
        Some(DOT_BELOW),
    ];

    /// The 67 lowercase Vietnamese letters beyond ASCII: 12 vowels × 6 tones,
    /// less the 6 plain ASCII vowels, and đ.
    fn vietnamese_lowercase() -> Vec<char> {
        let mut letters = Vec::new();
        for vowel in VOWELS {
            for tone in TONES {
                let sequence: String = [Some(vowel), tone].into_iter().flatten().collect();
                let letter = only(sequence.nfc()).unwrap();
                if !letter.is_ascii() {
                    letters.push(letter);
                }
            }
        }
        letters.push('đ');
        assert_eq!(letters.len(), 67);
        letters
    }

    /// Every Vietnamese letter, lowercase then capital, space-separated.
    fn alphabet(both_cases: bool) -> String {
        let mut s = String::from("abcdefghijklmnopqrstuvwxyz ");
        for c in vietnamese_lowercase() {
            s.push(c);
            s.push(' ');
        }
        if both_cases {
            s.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ ");
            for c in vietnamese_lowercase() {
                s.push(upper(c));
                s.push(' ');
            }
        } else {
            s.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ Ă Â Ê Ô Ơ Ư Đ");
        }
        s
    }

    /// A sentence with every Vietnamese letter in context.
    const SENTENCE: &str = "Ủy ban nhân dân tỉnh Thừa Thiên Huế thông báo: ngày hội \
        khuyến học được tổ chức tại trường Phổ thông, gồm các tiết mục múa, hát, \
        đọc thơ; mỗi học sinh góp một ý kiến về kỷ niệm khó quên, chuyện xưa ở \
        quê, những bữa cơm gạo mới, cánh đồng lúa chín vàng và mùa nước lũ; \
        ai nấy ngẫm nghĩ, ừ, rồi viết vội vài dòng: ấm áp, ngỡ ngàng, ẩn ý, \
        ầm ĩ, lẫy lừng, sẵn sàng, lặng lẽ, ẳng ẵng, ắt hẳn, tuyệt vời, gửi \
        lời chào, Đà Lạt, ỵ, ỷ, ỹ, ỳ, ữ, ự, ử, ợ, ỡ, ở, ờ, ớ, ộ, ỗ, ổ, ồ, ố.";

    /// The codes VN3 leaves to Latin-1 (see `TCVN3`).
    const FREE: [char; 22] = [
        '\u{A0}', '¯', '°', '±', '²', '³', '´', 'º', '¿', 'À', 'Á', 'Â', 'Ã', 'Ä', 'Å', 'Í', 'Ù',
        'Ú', 'Û', 'à', 'ð', 'ÿ',
    ];

    /// The codes of TCVN3 that are letters, with their letters; ý keeps its
    /// Latin-1 code.
    fn tcvn3_letters() -> impl Iterator<Item = (char, char)> {
        ('\u{A0}'..='\u{FF}')
            .zip(TCVN3)
            .filter(|(code, _)| !FREE.contains(code))
    }

    /// Encodes Unicode as the ABC fonts type it, read back as Latin-1:
    /// the inverse of `TCVN3`. Capitals with tone marks get the lowercase
    /// code, as ABC keyboards do.
    fn encode_tcvn3(s: &str) -> String {
        let code_of = |c: char| tcvn3_letters().find(|&(_, u)| u == c).map(|(code, _)| code);
        s.chars()
            .map(|c| {
                if c.is_ascii() {
                    return c;
                }
                code_of(c)
                    .or_else(|| code_of(lower(c)))
                    .unwrap_or_else(|| panic!("{c} has no TCVN3 code"))
            })
            .collect()
    }

    /// Encodes Unicode as VNI-Windows, read back as Latin-1: the inverse of
    /// `vni_single` and `vni_pair`, marks in the case of the letter.
    fn encode_vni(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii() {
                out.push(c);
                continue;
            }
            if let Some(single) = ('\u{C0}'..='\u{FF}').find(|&x| vni_single(x) == Some(c)) {
                out.push(single);
                continue;
            }
            let bases = ['a', 'e', 'o', 'u', 'y', 'ô', 'ö'];
            let pair = bases.iter().find_map(|&b| {
                let base = if c.is_uppercase() { upper(b) } else { b };
                ('\u{C0}'..='\u{FF}')
                    .filter(|m| m.is_uppercase() == c.is_uppercase())
                    .find(|&m| vni_pair(base, m) == Some(c))
                    .map(|m| (base, m))
            });
            let (base, mark) = pair.unwrap_or_else(|| panic!("{c} has no VNI form"));
            out.push(base);
            out.push(mark);
        }
        out
    }

    fn both(s: &str) -> [(Legacy, String); 2] {
        [
            (Legacy::Tcvn3, encode_tcvn3(s)),
            (Legacy::Vni, encode_vni(s)),
        ]
    }

    #[test]
    fn the_literal_examples_convert() {
        assert_eq!(
            convert("Héi nghÞ tæng kÕt c«ng t¸c n¨m 2026", Legacy::Tcvn3),
            "Hội nghị tổng kết công tác năm 2026"
        );
        assert_eq!(
            convert("Hoäi nghò toång keát", Legacy::Vni),
            "Hội nghị tổng kết"
        );
        assert_eq!(convert("HOÄI NGHÒ", Legacy::Vni), "HỘI NGHỊ");
    }

    #[test]
    fn the_national_motto_converts() {
        // The header of every administrative document, as found in old files.
        assert_eq!(
            convert(
                "Céng hoµ x· héi chñ nghÜa ViÖt Nam\n§éc lËp - Tù do - H¹nh phóc",
                Legacy::Tcvn3
            ),
            "Cộng hoà xã hội chủ nghĩa Việt Nam\nĐộc lập - Tự do - Hạnh phúc"
        );
        assert_eq!(
            convert(
                "Coäng hoaø xaõ hoäi chuû nghóa Vieät Nam\nÑoäc laäp - Töï do - Haïnh phuùc",
                Legacy::Vni
            ),
            "Cộng hoà xã hội chủ nghĩa Việt Nam\nĐộc lập - Tự do - Hạnh phúc"
        );
        assert_eq!(
            convert("COÄNG HOØA XAÕ HOÄI", Legacy::Vni),
            "CỘNG HÒA XÃ HỘI"
        );
        // ư is the soft hyphen in TCVN3 and must survive.
        assert_eq!(convert("ng\u{AD}êi d©n", Legacy::Tcvn3), "người dân");
        assert_eq!(convert("ngöôøi daân", Legacy::Vni), "người dân");
    }

    #[test]
    fn tcvn3_table_is_every_lowercase_letter_and_the_base_capitals() {
        for code in FREE {
            assert_eq!(tcvn3_char(code), code);
        }
        let mapped: Vec<char> = tcvn3_letters().map(|(_, u)| u).collect();
        let mut expected = vietnamese_lowercase();
        expected.extend(['Ă', 'Â', 'Ê', 'Ô', 'Ơ', 'Ư', 'Đ']);
        let mut sorted = mapped.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), mapped.len(), "a letter has two codes");
        expected.sort_unstable();
        assert_eq!(sorted, expected);
        assert_eq!(mapped.len(), 74);
        // The base capitals' own codes, ư on the soft hyphen, and codes that
        // VN1 gives to capitals left alone.
        for (code, letter) in [
            ('\u{A1}', 'Ă'),
            ('\u{A2}', 'Â'),
            ('\u{A3}', 'Ê'),
            ('\u{A4}', 'Ô'),
            ('\u{A5}', 'Ơ'),
            ('\u{A6}', 'Ư'),
            ('\u{A7}', 'Đ'),
            ('\u{AD}', 'ư'),
            ('\u{AE}', 'đ'),
            ('\u{AF}', '¯'),
            ('\u{C0}', 'À'),
            ('\u{E0}', 'à'),
        ] {
            assert_eq!(tcvn3_char(code), letter, "{:X}", u32::from(code));
        }
    }

    #[test]
    fn every_letter_round_trips() {
        let tcvn3_text = format!("{} {}", alphabet(false), SENTENCE.to_lowercase());
        let encoded = encode_tcvn3(&tcvn3_text);
        assert!(encoded.chars().all(|c| u32::from(c) <= 0xFF), "{encoded}");
        assert_eq!(convert(&encoded, Legacy::Tcvn3), tcvn3_text);

        let vni_text = format!(
            "{} {} {}",
            alphabet(true),
            SENTENCE,
            SENTENCE.to_uppercase()
        );
        let encoded = encode_vni(&vni_text);
        assert!(encoded.chars().all(|c| u32::from(c) <= 0xFF), "{encoded}");
        assert_eq!(convert(&encoded, Legacy::Vni), vni_text);
    }

    #[test]
    fn letters_without_separators_round_trip() {
        // No letter's VNI form may run into the next one.
        let letters: String = vietnamese_lowercase()
            .into_iter()
            .flat_map(|c| [c, upper(c), 'a', c, 'o', upper(c), 'u'])
            .collect();
        assert_eq!(convert(&encode_vni(&letters), Legacy::Vni), letters);
        let lowercase: String = vietnamese_lowercase().into_iter().collect();
        assert_eq!(convert(&encode_tcvn3(&lowercase), Legacy::Tcvn3), lowercase);
    }

    #[test]
    fn tcvn3_capitals_with_tones_come_back_lowercase() {
        let typed = encode_tcvn3("HỘI NGHỊ TỔNG KẾT");
        assert_eq!(typed, "HéI NGHÞ TæNG KÕT");
        let converted = convert(&typed, Legacy::Tcvn3);
        assert_eq!(converted, "HộI NGHị TổNG KếT");
        // In a ".VnTimeH" run the caller restores the capitals.
        assert!(uppercase_font(".VnTimeH"));
        assert_eq!(converted.to_uppercase(), "HỘI NGHỊ TỔNG KẾT");
    }

    #[test]
    fn other_text_passes_through() {
        for enc in [Legacy::Tcvn3, Legacy::Vni] {
            assert_eq!(convert("", enc), "");
            assert_eq!(
                convert("Report 2026: 3 items, 45% done (see #12)!", enc),
                "Report 2026: 3 items, 45% done (see #12)!"
            );
            assert_eq!(convert("Số €1 → ☺", enc), "Số €1 → ☺");
        }
        // Decomposed input is read as the Latin-1 letters it shows.
        assert_eq!(convert("He\u{301}i", Legacy::Tcvn3), "Hội");
    }

    #[test]
    fn every_result_is_nfc() {
        let inputs = [
            alphabet(true),
            SENTENCE.to_string(),
            encode_tcvn3(SENTENCE),
            encode_vni(SENTENCE),
            "e\u{301}o\u{302}\u{323}".to_string(),
            "Aù\u{301} oâ\u{300}".to_string(),
        ];
        for input in &inputs {
            for enc in [Legacy::Tcvn3, Legacy::Vni] {
                let out = convert(input, enc);
                assert!(is_nfc(&out), "{enc:?} {input:?} → {out:?}");
            }
        }
    }

    #[test]
    fn fonts_are_recognised() {
        for font in [
            ".VnTime",
            ".VnTimeH",
            ".VnArial",
            ".VnArialH",
            ".VnCentury Schoolbook",
            " .vntime ",
            "\".VnTime\"",
        ] {
            assert_eq!(font_encoding(font), Some(Legacy::Tcvn3), "{font}");
        }
        for font in ["VNI-Times", "VNI-Helve", "VNI Times", "vni-aptima"] {
            assert_eq!(font_encoding(font), Some(Legacy::Vni), "{font}");
        }
        for font in [
            "Times New Roman",
            "Arial",
            "",
            ".vn",
            "VNI",
            "Vnitimes",
            "VnExpress",
        ] {
            assert_eq!(font_encoding(font), None, "{font}");
        }
        assert!(uppercase_font(".VnArialH"));
        assert!(uppercase_font(" \".VnCentury SchoolbookH\" "));
        assert!(!uppercase_font(".VnTime"));
        assert!(!uppercase_font("VNI-Helve"));
        assert!(!uppercase_font("Arial BlackH"));
        assert_eq!(Legacy::Tcvn3.name(), "TCVN3 (ABC)");
        assert_eq!(Legacy::Vni.name(), "VNI");
    }

    #[test]
    fn syllables_are_told_from_other_words() {
        for word in [
            "người", "Nguyễn", "quốc", "khuya", "gì", "giữ", "nghiêng", "thuở", "khuỷu", "chuyện",
            "được", "hoặc", "xoong", "kỹ", "ĐẠI", "ở", "yêu", "ừ", "hòa", "hoà",
        ] {
            assert!(is_syllable(word), "{word}");
        }
        for word in [
            "Café",
            "naïve",
            "Grüße",
            "Señor",
            "kõt",
            "ci",
            "ka",
            "nghao",
            "ngi",
            "ghá",
            "tiê",
            "ăn\u{301}",
            "aoo",
            "x·",
            "ba\u{301}\u{300}",
            "",
            "strong",
            "mồndag",
            "gỏt",
            "ai\u{301}n",
        ] {
            assert!(!is_syllable(word), "{word}");
        }
    }

    #[test]
    fn legacy_text_is_detected() {
        let sentences = [
            "Ủy ban nhân dân tỉnh thông báo kế hoạch tổ chức lễ kỷ niệm ngày thành lập.",
            "Đồng chí Chủ tịch đã phát biểu chỉ đạo tại hội nghị trực tuyến với các địa phương.",
            "Người dân được hướng dẫn thực hiện thủ tục hành chính qua cổng dịch vụ công.",
            "VIỆT NAM DÂN CHỦ CỘNG HÒA",
            "THÔNG BÁO KẾT QUẢ TUYỂN DỤNG VIÊN CHỨC NĂM 2026",
            SENTENCE,
        ];
        for s in sentences {
            for (enc, encoded) in both(s) {
                assert_eq!(detect(&encoded), Some(enc), "{enc:?}: {encoded}");
                assert_eq!(
                    convert(&encoded, enc).to_lowercase(),
                    s.to_lowercase(),
                    "{encoded}"
                );
            }
        }
        // As typed in a ".VnTimeH" heading: lowercase codes throughout.
        let heading = encode_tcvn3("thông báo kết quả tuyển dụng");
        assert_eq!(detect(&heading), Some(Legacy::Tcvn3), "{heading}");
        assert_eq!(
            detect("Héi nghÞ tæng kÕt c«ng t¸c n¨m 2026"),
            Some(Legacy::Tcvn3)
        );
        assert_eq!(detect("Hoäi nghò toång keát"), Some(Legacy::Vni));
        assert_eq!(
            detect("Céng hoµ x· héi chñ nghÜa ViÖt Nam"),
            Some(Legacy::Tcvn3)
        );
        assert_eq!(
            detect("Coäng hoaø xaõ hoäi chuû nghóa Vieät Nam"),
            Some(Legacy::Vni)
        );
    }

    #[test]
    fn other_text_is_not_detected() {
        let long_vietnamese = SENTENCE.repeat(3);
        let texts = [
            "Hội nghị tổng kết công tác năm 2026",
            long_vietnamese.as_str(),
            "Café au lait, naïve résumé",
            "Grüße aus München",
            "Señor Núñez",
            "mật khẩu",
            "",
            "   ",
            "The quarterly report is attached; please review it by Friday.",
            // Vietnamese that only uses Latin-1 letters.
            "Tôi là cô giáo",
            "Chào bà, chào cô",
            // One accidental character.
            "Giá: 100.000 ± 5%",
            "Nhận xét: ¸",
            "x · y · z · w",
            "Home · News · Contact · About",
            "10 µm × 20 µm, 3 µs ÷ 2",
            "µm, µs, µg × ÷",
            // Languages whose words may look like Vietnamese once converted.
            "« Bonjour », dit-il. L'été à Paris, où Loïc a goûté la crème brûlée en août.",
            "Hej då, vi ses på måndag, så kul!",
            "São Paulo, não, informação, mãe, você, avô, até já",
            "Ich möchte über die Straße gehen, daß es schön wäre, für Käse und Bär.",
            "El señor Núñez aún está en España con su niño; mañana irá a León.",
            "Dag Søren, vi går på tur i Ærø og Bjørn kommer også.",
            "Þetta er þú og Ðórður",
            "De reünie van België was geïnteresseerd in coöperatie, zei Noël.",
        ];
        for text in texts {
            assert_eq!(detect(text), None, "{text}");
        }
    }

    #[test]
    fn mixed_unicode_is_not_detected() {
        // A Unicode mail quoting one legacy line stays Unicode as a whole.
        let text = format!("{}\n{}", SENTENCE, "Héi nghÞ tæng kÕt");
        assert_eq!(detect(&text), None);
    }
}
