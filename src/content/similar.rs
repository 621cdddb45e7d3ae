//! Near-duplicate detection (R12: no copying of other people's articles).
//!
//! A new submission is compared with published articles and open tickets so
//! the reviewer can be told "giống bài BBT-2026-0012 đã đăng 83%", and an
//! exact re-send is recognised so it joins the ticket it repeats.
//!
//! Two fingerprints are computed from the same word sequence ([`words`]):
//!
//! - [`digest`]: SHA-256 of the normalized words. Equal for texts that differ
//!   only in white space, line wrapping, punctuation and quotes, letter case,
//!   Unicode normalization form (NFC/NFD) or the shared boilerplate lines
//!   described below. This is the "same text sent again" test.
//! - [`signature`]: a MinHash signature of the set of word shingles (runs of
//!   `SHINGLE_WORDS` consecutive words). [`similarity`] of two signatures
//!   estimates the Jaccard similarity of the two shingle sets, i.e. the share
//!   of passages the texts have in common. With [`SIGNATURE_LEN`] = 128
//!   values the standard error of the estimate is at most about 0.045.
//!
//! # Words
//!
//! A word is a maximal run of letters and digits (combining marks included),
//! lower-cased and NFC-normalized. Diacritics are kept: Vietnamese syllables
//! that differ only by a tone mark are different words ("bán" is not "bản").
//! Invisible formatting characters (soft hyphen, zero-width space and
//! joiners, word joiner, byte order mark) are dropped without splitting a
//! word, so a stray U+00AD inside "nghị" does not make two words.
//!
//! # Boilerplate lines
//!
//! Every submission greets the board and signs off, and collaborators put the
//! same byline under every article. Left in, those lines would make unrelated
//! articles by one collaborator look alike and a copy under another name look
//! less alike. So, before tokenizing, a line is dropped when its ASCII-folded
//! form ([`fold_ascii`]; leading punctuation such as "(", "-", "*" ignored):
//!
//! - starts with a greeting: "kinh gui", "kinh thua", "kinh chao",
//!   "xin chao", "than gui", "gui ban bien tap", "gui bbt" (any length);
//! - starts with a closing and is short (at most `CLOSING_MAX_WORDS`
//!   words): "tran trong", "tran thanh cam on", "xin cam on", "than ai",
//!   "than chao" — a long line starting "Trân trọng …" is prose and stays;
//! - is a credit line "Label: …" whose label (the text before the first
//!   colon) is exactly one of the byline labels of `content::facts` plus
//!   photo credits: "bài, ảnh", "tin", "tác giả", "người viết", "nguồn",
//!   "nguồn tin", "ảnh", … (see `CREDIT_LABELS`). The label must match as a
//!   whole, so "Nguồn vốn đầu tư: …" or "Bài học kinh nghiệm: …" stay.
//!
//! A greeting wrapped over two lines only loses its first line; that is an
//! accepted imprecision of a simple rule.
//!
//! # Stability
//!
//! Signatures and digests are stored in databases, so the computation must
//! never change silently. The hashing is written out here rather than taken
//! from `std` (whose `DefaultHasher` may change between releases):
//!
//! 1. Each shingle is hashed with 64-bit FNV-1a over the UTF-8 bytes of its
//!    words, each word followed by the byte 0x1F (unit separator, which
//!    cannot occur inside a word).
//! 2. For slot `i` in `0..SIGNATURE_LEN` the seed is
//!    `s_i = mix64(SEED_BASE + (i + 1) * GOLDEN_GAMMA)` (wrapping), i.e. the
//!    `i`-th output of a SplitMix64 generator started at `SEED_BASE`
//!    ("bientap1" in ASCII).
//! 3. The slot's value for a shingle hash `h` is the high 32 bits of
//!    `mix64(h ^ s_i)`, `mix64` being the SplitMix64 finalizer; the
//!    signature keeps the minimum per slot over all distinct shingles.
//!
//! `pinned_values` in the tests fixes the first values for a known text.
//! Changing the word rules, the boilerplate rules, `SHINGLE_WORDS` or the
//! hashing changes stored values: that needs a migration that recomputes
//! them, not just a code change. The word rules rely on Unicode case
//! mapping, NFC and the letter/digit properties, which Unicode's stability
//! policies keep fixed for the characters Vietnamese text uses.

use sha2::{Digest, Sha256};
use unicode_normalization::char::is_combining_mark;

use crate::text::{fold_ascii, nfc};

/// Number of MinHash values in a signature.
pub const SIGNATURE_LEN: usize = 128;

/// Texts with fewer (distinct) shingles than this are not compared (too
/// short to judge). 30 shingles are 34 words, two or three sentences: below
/// that a shared quotation or a stock phrase ("Ủy ban nhân dân xã …") would
/// weigh as much as the rest of the text, and replies such as "em gửi lại
/// bài đã sửa" are not articles.
pub const MIN_SHINGLES: usize = 30;

/// Words per shingle. Vietnamese is written syllable by syllable and a
/// lexical word is one to three syllables (mostly two), so 5 syllables span
/// two or three words: long enough that stock phrases of official news
/// ("ủy ban nhân dân", "phát triển kinh tế") do not by themselves make two
/// different articles look alike, short enough that a changed number or
/// reworded clause only spoils the few shingles around it, so a lightly
/// edited copy still scores high.
const SHINGLE_WORDS: usize = 5;

/// Closings are only dropped on lines of at most this many words.
const CLOSING_MAX_WORDS: usize = 12;

/// How many characters of a line are looked at for the boilerplate test
/// (labels and greetings are short; NFD text needs up to three characters
/// per letter).
const HEAD_CHARS: usize = 96;

/// Lines starting with these (folded) words are greetings.
const GREETINGS: &[&[&str]] = &[
    &["kinh", "gui"],
    &["kinh", "thua"],
    &["kinh", "chao"],
    &["xin", "chao"],
    &["than", "gui"],
    &["gui", "ban", "bien", "tap"],
    &["gui", "bbt"],
];

/// Short lines starting with these (folded) words are closings.
const CLOSINGS: &[&[&str]] = &[
    &["tran", "trong"],
    &["tran", "thanh", "cam", "on"],
    &["xin", "cam", "on"],
    &["than", "ai"],
    &["than", "chao"],
];

/// Labels of credit lines ("Bài, ảnh: Nguyễn Văn An"), folded, punctuation
/// between words removed.
const CREDIT_LABELS: &[&[&str]] = &[
    &["bai", "va", "anh"],
    &["bai", "anh"],
    &["tin", "anh"],
    &["tin", "va", "anh"],
    &["tac", "gia"],
    &["nguoi", "viet"],
    &["but", "danh"],
    &["phong", "vien"],
    &["nhom", "phong", "vien"],
    &["cong", "tac", "vien"],
    &["ctv"],
    &["bai"],
    &["tin"],
    &["anh"],
    &["nguon"],
    &["nguon", "tin"],
    &["nguon", "anh"],
    &["anh", "minh", "hoa"],
    &["video"],
    &["clip"],
];

/// FNV-1a 64-bit offset basis and prime.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Byte written after each word of a shingle.
const WORD_SEPARATOR: u8 = 0x1f;
/// SplitMix64 increment (2^64 / golden ratio).
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;
/// Start of the seed sequence: the ASCII bytes of "bientap1".
const SEED_BASE: u64 = 0x6269_656e_7461_7031;

/// A MinHash signature: the minimum of each of [`SIGNATURE_LEN`] hash
/// functions over a text's shingles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature([u32; SIGNATURE_LEN]);

impl Signature {
    /// Compact text form for a database column: each value as 8 lower-case
    /// hex digits, big-endian, in slot order (always `8 * SIGNATURE_LEN` =
    /// 1024 characters).
    pub fn encode(&self) -> String {
        let bytes: Vec<u8> = self.0.iter().flat_map(|v| v.to_be_bytes()).collect();
        hex::encode(bytes)
    }

    /// Reads [`Signature::encode`]'s form (hex digits of either case).
    /// `None` on anything else: wrong length, odd length, non-hex or
    /// non-ASCII characters, surrounding white space, empty input.
    pub fn decode(s: &str) -> Option<Signature> {
        if s.len() != SIGNATURE_LEN * 8 {
            return None;
        }
        let bytes = hex::decode(s).ok()?;
        let mut values = [0u32; SIGNATURE_LEN];
        let mut chunks = bytes.chunks_exact(4);
        for slot in &mut values {
            let chunk: [u8; 4] = chunks.next()?.try_into().ok()?;
            *slot = u32::from_be_bytes(chunk);
        }
        Some(Signature(values))
    }
}

/// The words of a text as compared: lower-case NFC runs of letters and
/// digits; punctuation, white space, case and Unicode form differences
/// ignored, diacritics kept. Greeting, closing and credit lines are left out
/// (see the module documentation), so this is exactly what [`digest`] and
/// [`signature`] see.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.split(is_line_break) {
        if !is_boilerplate(line) {
            push_words(line, &mut out);
        }
    }
    out
}

/// SHA-256 (lower-case hex) of the normalized word sequence: the words of
/// [`words`] joined by single spaces. Equal for texts that differ only in
/// white space, punctuation and quotes, case, line wrapping, NFC/NFD and
/// boilerplate lines. A text without words (empty, only punctuation or only
/// boilerplate) gets the digest of the empty string; callers should not
/// treat two such texts as the same article.
pub fn digest(text: &str) -> String {
    let mut hasher = Sha256::new();
    for (i, word) in words(text).iter().enumerate() {
        if i > 0 {
            hasher.update(b" ");
        }
        hasher.update(word.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// MinHash signature over the text's shingles of `SHINGLE_WORDS` (5)
/// consecutive words; `None` when the text has fewer than [`MIN_SHINGLES`]
/// distinct shingles.
pub fn signature(text: &str) -> Option<Signature> {
    let words = words(text);
    let mut hashes: Vec<u64> = words.windows(SHINGLE_WORDS).map(shingle_hash).collect();
    // A repeated passage counts once (it would not change the minima), and
    // long repetitive texts are cheap.
    hashes.sort_unstable();
    hashes.dedup();
    if hashes.len() < MIN_SHINGLES {
        return None;
    }
    let seeds: [u64; SIGNATURE_LEN] = std::array::from_fn(seed);
    let mut mins = [u32::MAX; SIGNATURE_LEN];
    for h in hashes {
        for (min, s) in mins.iter_mut().zip(seeds.iter()) {
            let v = slot_value(h, *s);
            if v < *min {
                *min = v;
            }
        }
    }
    Some(Signature(mins))
}

/// Estimated Jaccard similarity of the shingle sets, 0.0–1.0: the share of
/// slots where the two signatures agree.
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    let same = a.0.iter().zip(b.0.iter()).filter(|(x, y)| x == y).count();
    same as f64 / SIGNATURE_LEN as f64
}

/// Similarity as a whole percentage for messages ("83%"), rounded to the
/// nearest integer; values outside 0.0–1.0 are clamped, NaN gives 0.
pub fn percent(s: f64) -> u32 {
    if s.is_nan() {
        return 0;
    }
    // In 0.0..=100.0 after clamping, so the cast is exact.
    (s.clamp(0.0, 1.0) * 100.0).round() as u32
}

fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Characters that are neither part of a word nor a separator.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}' | '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}'
    )
}

/// Splits `line` into words and appends them to `out`.
fn push_words(line: &str, out: &mut Vec<String>) {
    let mut word = String::new();
    let mut has_alnum = false;
    for c in line.chars() {
        if is_invisible(c) {
            continue;
        }
        if c.is_alphanumeric() || is_combining_mark(c) {
            has_alnum |= c.is_alphanumeric();
            word.extend(c.to_lowercase());
        } else if !word.is_empty() {
            finish_word(&mut word, has_alnum, out);
            has_alnum = false;
        }
    }
    finish_word(&mut word, has_alnum, out);
}

fn finish_word(word: &mut String, has_alnum: bool, out: &mut Vec<String>) {
    // A run of stray combining marks is not a word.
    if has_alnum {
        out.push(nfc(word));
    }
    word.clear();
}

/// Greeting, closing or credit line (see the module documentation).
fn is_boilerplate(line: &str) -> bool {
    let head: String = line
        .chars()
        .skip_while(|c| !c.is_alphanumeric())
        .take(HEAD_CHARS)
        .collect();
    if head.is_empty() {
        return false;
    }
    let folded = fold_ascii(&head);
    let tokens = folded_tokens(&folded);
    if GREETINGS.iter().any(|g| tokens.starts_with(g)) {
        return true;
    }
    if CLOSINGS.iter().any(|c| tokens.starts_with(c))
        && line.split_whitespace().take(CLOSING_MAX_WORDS + 1).count() <= CLOSING_MAX_WORDS
    {
        return true;
    }
    match folded.split_once([':', '：']) {
        Some((label, _)) => {
            let label = folded_tokens(label);
            CREDIT_LABELS.contains(&label.as_slice())
        }
        None => false,
    }
}

fn folded_tokens(folded: &str) -> Vec<&str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .collect()
}

/// 64-bit FNV-1a over the words' UTF-8 bytes, each followed by 0x1F.
fn shingle_hash(shingle: &[String]) -> u64 {
    let mut h = FNV_OFFSET;
    for word in shingle {
        for &b in word
            .as_bytes()
            .iter()
            .chain(std::iter::once(&WORD_SEPARATOR))
        {
            h ^= u64::from(b);
            h = h.wrapping_mul(FNV_PRIME);
        }
    }
    h
}

/// The SplitMix64 finalizer (Steele, Lea, Flood 2014), a bijection on u64.
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Seed of slot `i`: the `i`-th output of SplitMix64 started at `SEED_BASE`.
fn seed(i: usize) -> u64 {
    let step = (i as u64).wrapping_add(1);
    mix64(SEED_BASE.wrapping_add(step.wrapping_mul(GOLDEN_GAMMA)))
}

/// Value of one slot for one shingle hash: high 32 bits of the mix.
fn slot_value(h: u64, seed: u64) -> u32 {
    (mix64(h ^ seed) >> 32) as u32
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::string_slice)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        let path = format!("{}/fixtures/similar/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap()
    }

    fn sig(text: &str) -> Signature {
        signature(text).unwrap()
    }

    /// A deterministic text of `n` pseudo-random Vietnamese syllables.
    fn random_text(n: usize, mut state: u64) -> String {
        const SYLLABLES: &[&str] = &[
            "xã",
            "huyện",
            "thôn",
            "buôn",
            "cầu",
            "đường",
            "dân",
            "hội",
            "nghị",
            "tổng",
            "kết",
            "năm",
            "phát",
            "triển",
            "kinh",
            "tế",
            "nông",
            "thôn",
            "mới",
            "cà",
            "phê",
            "sầu",
            "riêng",
            "học",
            "sinh",
            "trường",
            "điện",
            "nước",
            "bê",
            "tông",
            "đất",
            "lúa",
            "rừng",
            "suối",
            "chợ",
            "văn",
            "hóa",
            "an",
            "ninh",
            "y",
            "tế",
            "bảo",
            "hiểm",
            "thu",
            "nhập",
            "hộ",
            "nghèo",
            "giao",
            "thông",
            "thủy",
            "lợi",
        ];
        let mut out = String::new();
        for i in 0..n {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let k = (state >> 33) as usize % SYLLABLES.len();
            out.push_str(SYLLABLES[k]);
            out.push(if i % 17 == 16 { '\n' } else { ' ' });
        }
        out
    }

    const SAMPLE: &str = "Sáng ngày 12/3/2026, Ủy ban nhân dân xã Ea Sô tổ chức lễ khánh \
        thành và đưa vào sử dụng cầu Ea Tul bắc qua suối cùng tên, nối liền thôn 3 và \
        buôn Trấp với trung tâm xã. Tổng kinh phí xây dựng gần 14,6 tỷ đồng.";

    #[test]
    fn hash_building_blocks_match_reference_vectors() {
        // FNV-1a 64 of "a" is the published test vector; ours appends 0x1F.
        let mut h = FNV_OFFSET;
        for b in b"a" {
            h = (h ^ u64::from(*b)).wrapping_mul(FNV_PRIME);
        }
        assert_eq!(h, 0xaf63_dc4c_8601_ec8c);
        // First output of SplitMix64 seeded with 0.
        assert_eq!(mix64(GOLDEN_GAMMA), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn pinned_values() {
        // These values are stored in databases: if this test fails, the
        // computation changed and stored signatures and digests are no
        // longer comparable with new ones. The expected values were checked
        // against an independent Python implementation of the scheme
        // (fixtures/similar/README.md).
        let words = words(SAMPLE);
        assert_eq!(words.len(), 51);
        assert_eq!(shingle_hash(&words[..SHINGLE_WORDS]), 0x92ce_e6e4_ed2d_6667);
        assert_eq!(seed(0), mix64(SEED_BASE.wrapping_add(GOLDEN_GAMMA)));
        let s = sig(SAMPLE);
        assert_eq!(
            &s.0[..4],
            &[45_261_956, 275_381_471, 37_656_752, 94_476_757]
        );
        assert!(s.encode().starts_with("02b2a4841069fcdf023e98b005a199d5"));
        assert_eq!(
            digest(SAMPLE),
            "188cd56a7ab0735570c477a87ec8baaa196020dbe64ea6493d665bb08c0602a8"
        );
    }

    #[test]
    fn words_are_normalized() {
        assert_eq!(
            words("«Hội NGHỊ» tổng-kết,\n  năm 2025!"),
            ["hội", "nghị", "tổng", "kết", "năm", "2025"]
        );
        // NFD input, upper case: same words as NFC.
        assert_eq!(words("HO\u{0323}\u{0302}I nghi\u{0323}"), ["hội", "nghị"]);
        // Diacritics are kept.
        assert_ne!(words("bán"), words("bản"));
        assert_ne!(words("bán"), words("ban"));
        // Invisible characters do not split words.
        assert_eq!(words("ngh\u{ad}ị hộ\u{200b}i"), ["nghị", "hội"]);
        assert!(words("").is_empty());
        assert!(words(" \n\t\r\n  ").is_empty());
        assert!(words("... — !!! \u{301}").is_empty());
    }

    #[test]
    fn boilerplate_lines_are_dropped() {
        let body = "Cầu Ea Tul dài 48 mét.\nNguồn vốn đầu tư: ngân sách tỉnh.\n";
        let wrapped = format!(
            "Kính gửi Ban biên tập,\n(Nguồn: UBND xã Ea Sô)\n{body}- Bài, ảnh: Nguyễn Văn An\n\
             Ảnh: Quang cảnh lễ khánh thành\nTác giả : Lê Văn Cường\nTin và ảnh: X\n\
             Trân trọng cảm ơn Ban biên tập!\nXIN CHÀO BBT\nNguồn tin: Đài truyền thanh\n"
        );
        assert_eq!(words(&wrapped), words(body));
        assert_eq!(digest(&wrapped), digest(body));
        // Prose that merely starts like boilerplate stays.
        let prose = "Trân trọng những đóng góp của bà con, Ủy ban nhân dân xã đã tặng giấy \
                     khen cho nhiều tập thể và cá nhân.\nBài học kinh nghiệm: làm đường trước.\n\
                     Nguồn vốn đầu tư: ngân sách tỉnh.";
        assert_eq!(words(prose).first().map(String::as_str), Some("trân"));
        assert!(words(prose).contains(&"học".to_string()));
        assert!(words(prose).contains(&"vốn".to_string()));
    }

    #[test]
    fn digest_equal_and_different() {
        let a = "Hội nghị tổng kết năm 2025.\nXã Ea Sô đạt 18/19 tiêu chí.";
        let b = "  hội NGHỊ   tổng kết\n\n năm 2025 \r\n“Xã Ea Sô” đạt 18/19 tiêu chí!!";
        assert_eq!(digest(a), digest(b));
        assert_eq!(digest(a).len(), 64);
        assert_ne!(
            digest(a),
            digest("Hội nghị tổng kết năm 2026.\nXã Ea Sô đạt 18/19 tiêu chí.")
        );
        // Word boundaries matter: joining words changes the digest.
        assert_ne!(digest("ea sô"), digest("easô"));
        // Word order matters.
        assert_ne!(digest("xã ea sô"), digest("sô ea xã"));
        // Empty, blank and boilerplate-only texts: the digest of nothing.
        let nothing = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(digest(""), nothing);
        assert_eq!(digest(" \n\t "), nothing);
        assert_eq!(digest("Kính gửi BBT\nTrân trọng!"), nothing);
    }

    #[test]
    fn encode_decode_round_trip() {
        let s = sig(SAMPLE);
        let e = s.encode();
        assert_eq!(e.len(), SIGNATURE_LEN * 8);
        assert!(
            e.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(Signature::decode(&e), Some(s.clone()));
        assert_eq!(Signature::decode(&e.to_uppercase()), Some(s));
        let zero = Signature([0; SIGNATURE_LEN]);
        assert_eq!(zero.encode(), "0".repeat(SIGNATURE_LEN * 8));
        let max = Signature([u32::MAX; SIGNATURE_LEN]);
        assert_eq!(Signature::decode(&max.encode()), Some(max));
    }

    #[test]
    fn malformed_decode_is_none() {
        let good = sig(SAMPLE).encode();
        assert_eq!(Signature::decode(""), None);
        // Odd length, too short, too long.
        assert_eq!(Signature::decode(&good[1..]), None);
        assert_eq!(Signature::decode(&good[2..]), None);
        assert_eq!(Signature::decode(&format!("{good}00")), None);
        assert_eq!(Signature::decode(&format!("{good}{good}")), None);
        // Non-hex characters at the right length.
        assert_eq!(Signature::decode(&format!("zz{}", &good[2..])), None);
        assert_eq!(Signature::decode(&format!("{} ", &good[1..])), None);
        assert_eq!(Signature::decode(&format!("0x{}", &good[2..])), None);
        // Multi-byte characters: "ệ" is 3 bytes, so byte length matches.
        assert_eq!(Signature::decode(&format!("ệ{}", &good[3..])), None);
        assert_eq!(
            Signature::decode(&"ệ".repeat(SIGNATURE_LEN * 8 / 3 + 1)),
            None
        );
    }

    #[test]
    fn short_and_empty_texts_have_no_signature() {
        assert_eq!(signature(""), None);
        assert_eq!(signature("   \n\n\t "), None);
        assert_eq!(
            signature("Em gửi lại bài đã sửa theo góp ý của Ban biên tập."),
            None
        );
        // Exactly at the limit: MIN_SHINGLES shingles need MIN_SHINGLES + 4
        // distinct words.
        let words: Vec<String> = (0..MIN_SHINGLES + SHINGLE_WORDS - 1)
            .map(|i| format!("w{i}"))
            .collect();
        assert!(signature(&words.join(" ")).is_some());
        assert_eq!(signature(&words[1..].join(" ")), None);
        // Repetition does not make a text long enough.
        assert_eq!(signature(&"xã ea sô tổ chức hội nghị. ".repeat(200)), None);
        // Boilerplate does not count.
        let text = format!("Kính gửi {}\nTrân trọng", words.join(" "));
        assert_eq!(signature(&text), None);
    }

    #[test]
    fn similarity_properties() {
        let o = sig(&fixture("original.txt"));
        let d = sig(&fixture("different.txt"));
        let l = sig(&fixture("lightly-edited.txt"));
        assert_eq!(similarity(&o, &o), 1.0);
        assert_eq!(similarity(&d, &d), 1.0);
        for (a, b) in [(&o, &d), (&o, &l), (&l, &d)] {
            assert_eq!(similarity(a, b), similarity(b, a));
            let s = similarity(a, b);
            assert!((0.0..=1.0).contains(&s));
        }
        // A text and the same text with a few sentences appended.
        let base = fixture("original.txt");
        let longer = format!("{base}\n{}", random_text(60, 7));
        let s = similarity(&sig(&base), &sig(&longer));
        assert!((0.6..1.0).contains(&s), "{s}");
    }

    #[test]
    fn fixture_relations() {
        let original = fixture("original.txt");
        let edited = fixture("lightly-edited.txt");
        let resent = fixture("resent.txt");
        let different = fixture("different.txt");

        // The re-send really is written differently.
        assert_ne!(resent, original);
        assert_ne!(nfc(&resent), resent);
        assert_eq!(digest(&resent), digest(&original));
        assert_eq!(words(&resent), words(&original));
        assert_eq!(signature(&resent), signature(&original));

        assert_ne!(digest(&edited), digest(&original));
        assert_ne!(digest(&different), digest(&original));

        let o = sig(&original);
        let e = sig(&edited);
        let d = sig(&different);
        let oe = similarity(&o, &e);
        let od = similarity(&o, &d);
        let ed = similarity(&e, &d);
        assert!((0.5..=0.85).contains(&oe), "original/edited {oe}");
        assert!(od < 0.15, "original/different {od}");
        assert!(ed < 0.15, "edited/different {ed}");
    }

    #[test]
    fn percent_rounds_and_clamps() {
        assert_eq!(percent(0.834), 83);
        assert_eq!(percent(0.835), 84);
        assert_eq!(percent(1.0), 100);
        assert_eq!(percent(0.0), 0);
        assert_eq!(percent(0.004), 0);
        assert_eq!(percent(-0.5), 0);
        assert_eq!(percent(7.0), 100);
        assert_eq!(percent(f64::NAN), 0);
        assert_eq!(percent(f64::INFINITY), 100);
        assert_eq!(percent(f64::NEG_INFINITY), 0);
        assert_eq!(percent(106.0 / 128.0), 83);
    }

    #[test]
    fn one_megabyte_text() {
        let mut text = random_text(200_000, 42);
        while text.len() < 1 << 20 {
            text.push_str(&random_text(1000, text.len() as u64));
        }
        assert!(text.len() >= 1 << 20);
        let s = sig(&text);
        assert_eq!(similarity(&s, &s), 1.0);
        assert_eq!(digest(&text).len(), 64);
        // A copy with one paragraph replaced is still nearly identical.
        let mut copy = String::from("Kính gửi Ban biên tập\n");
        copy.push_str(&random_text(300, 9));
        copy.push('\n');
        copy.push_str(text.split_once('\n').unwrap().1);
        assert!(similarity(&s, &sig(&copy)) > 0.95);
        // One long line without breaks works as well.
        let one_line = text.replace('\n', " ");
        assert_eq!(digest(&one_line), digest(&text));
    }
}
