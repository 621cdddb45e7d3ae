//! From what a mail says to the article a reviewer reads, and the checks
//! the rules demand. Pure: bytes in, article and findings out.
//!
//! After `content::extract`, `refine`
//!
//! - refuses dangerous attachments (executables, macros) and hostile Word
//!   archives: the caller quarantines the message;
//! - reads Word (.docx) attachments and, when the body is only a cover
//!   note, makes the document the article, with its images placed where they
//!   stood;
//! - converts text typed in TCVN3 or VNI to Unicode NFC (R24);
//! - checks photos by their bytes, strips GPS from the stored copies and
//!   records their dimensions;
//! - finds classification stamps (R10), flags word-list hits (R11, R13)
//!   and missing credits (R8).
//!
//! Findings for the reviewer are Vietnamese notes on the ticket's version.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::content::docx::{self, DocxError};
use crate::content::facts::{self, Credits};
use crate::content::legacy::{self, Legacy};
use crate::content::screen::{self, Mark, WordList};
use crate::content::{Extracted, Part, UNTITLED, html, image};
use crate::store::archive::sha256_hex;
use crate::text::{self, clean_line, clean_text, fold_ascii};

/// Where the article comes from when a mail has a body and a Word file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArticleFrom {
    /// The document, when the body is only a cover note.
    Auto,
    Body,
    Document,
}

/// What `refine` may do, from `[content]` and `[screening]`.
#[derive(Debug, Clone)]
pub struct Options {
    pub article_from: ArticleFrom,
    pub max_photo_size: u64,
    pub max_photo_pixels: u64,
    pub docx_limits: docx::Limits,
    pub word_lists: Vec<WordList>,
    /// Quarantine for dangerous attachments, hostile archives and
    /// classification stamps; off only for a message the sysadmin released
    /// from quarantine.
    pub enforce: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            article_from: ArticleFrom::Auto,
            max_photo_size: 20 << 20,
            max_photo_pixels: 60_000_000,
            docx_limits: docx::Limits::default(),
            word_lists: screen::default_lists(),
            enforce: true,
        }
    }
}

/// What the checks found beyond the notes.
#[derive(Debug, Default)]
pub struct Refined {
    /// Why the message must not reach reviewers (English, for the
    /// sysadmin's quarantine list).
    pub quarantine: Option<String>,
    /// A classification stamp (R10): quarantine and tell the head only.
    /// Also reported when the checks do not enforce (a release from
    /// quarantine), where it takes a named declassification.
    pub classified: Option<Mark>,
    /// Author and source found in the article, the cover note or the
    /// signature (R8).
    pub credits: Credits,
    /// The article's text was converted from a legacy encoding.
    pub converted: Option<Legacy>,
    /// The Word file the article comes from, when not the mail's body.
    pub document: Option<String>,
}

/// A body of fewer words than this, next to a Word file, is a cover note.
const COVER_NOTE_WORDS: usize = 120;

/// Where classification stamps are looked for.
#[derive(Debug, Clone, Copy)]
pub enum StampScope<'a> {
    /// A submission: its subject, its text and its Word files.
    Whole,
    /// A reply about a ticket: what the replier wrote and their Word
    /// files. Its subject and quoted history echo our own mail about the
    /// ticket, which was checked when the ticket was opened (or released).
    Reply(&'a str),
}

/// Refines an extracted mail in place; see the module documentation.
pub fn refine(mail: &mut Extracted<'_>, opts: &Options, stamps: StampScope<'_>) -> Refined {
    let mut out = Refined::default();
    let mut notes = Vec::new();
    for a in &mail.attachments {
        if let Some(reason) = screen::attachment_danger(&a.filename, &a.data) {
            if opts.enforce {
                out.quarantine = Some(reason);
                return out;
            }
            notes.push(format!(
                "Tệp \"{}\" có thể gây hại ({reason}); quản trị đã cho phép chuyển, không nên mở nếu không cần.",
                a.filename
            ));
        }
    }
    let documents = match read_documents(mail, opts, &mut notes) {
        Ok(d) => d,
        Err(reason) => {
            out.quarantine = Some(reason);
            return out;
        }
    };

    // R10 first: a stamped mail or document goes no further.
    let stamp = match stamps {
        StampScope::Whole => screen::classified_mark(&mail.subject, &mail.body_text),
        StampScope::Reply(written) => screen::classified_mark("", written),
    }
    .or_else(|| {
        documents
            .iter()
            .find_map(|d| screen::classified_mark("", &d.doc.text))
    });
    if let Some(mark) = stamp {
        notes.push(format!(
            "Thư có dấu độ mật {} ({}); quản trị đã cho phép chuyển theo quyết định của lãnh đạo Ban. Không được đăng tài liệu mật.",
            mark.level.label(),
            mark.place
        ));
        let enforce = opts.enforce;
        out.classified = Some(mark);
        if enforce {
            return out;
        }
    }

    // R24: the body typed in a legacy encoding.
    if let Some(enc) = legacy::detect(&mail.body_text) {
        mail.body_text = legacy::convert(&mail.body_text, enc);
        mail.body_html = legacy::convert(&mail.body_html, enc);
        // A title from a Unicode subject stays as it is.
        if !has_unicode_vietnamese(&mail.title) {
            mail.title = legacy::convert(&mail.title, enc);
        }
        notes.push(format!(
            "Thân thư gõ bằng bảng mã {}; hệ thống đã chuyển sang Unicode dựng sẵn (TCVN 6909:2001). Xin kiểm tra lại chữ.",
            enc.name()
        ));
        out.converted = Some(enc);
    }

    let digests: Vec<String> = mail.attachments.iter().map(|a| a.sha256.clone()).collect();
    check_photos(&mut mail.attachments, opts, &mut notes);
    // A photo that lost its GPS data has a new digest: the body's image
    // shows the cleaned copy (the one archived with the ticket, and the one
    // published), not a digest no attachment has.
    for (before, a) in digests.iter().zip(&mail.attachments) {
        if *before != a.sha256 {
            mail.body_html = mail.body_html.replace(
                &format!("{}{before}", html::ATTACHMENT_SCHEME),
                &format!("{}{}", html::ATTACHMENT_SCHEME, a.sha256),
            );
        }
    }
    let cover = mail.body_text.clone();
    let chosen = choose_document(mail, &documents, opts.article_from);
    if let Some(i) = chosen
        && let Some(d) = documents.get(i)
    {
        place_document(mail, d, opts, &mut notes);
        out.converted = out.converted.or(d.converted);
        out.document = Some(d.filename.clone());
    }
    for (i, d) in documents.iter().enumerate() {
        if Some(i) != chosen {
            notes.push(format!(
                "Tệp Word \"{}\" được gửi kèm; nội dung bài lấy từ {}.",
                d.filename,
                if chosen.is_some() {
                    "tệp Word khác"
                } else {
                    "thân thư"
                }
            ));
        }
    }

    note_unread_formats(&mail.attachments, &mut notes);

    // R8: bylines in the article, else in the cover note or signature.
    let in_article = facts::credits(&mail.body_text);
    let in_cover = facts::credits(&cover);
    out.credits = Credits {
        author: in_article.author.or(in_cover.author),
        source: in_article.source.or(in_cover.source),
    };
    match (&out.credits.author, &out.credits.source) {
        (None, None) => notes.push("Bài chưa ghi tên tác giả và nguồn tin (Quy chế: tin, bài đăng phải ghi rõ tác giả và nguồn tin).".into()),
        (None, Some(_)) => notes.push("Bài chưa ghi tên tác giả.".into()),
        (Some(_), None) => notes.push("Bài chưa ghi nguồn tin.".into()),
        (Some(_), Some(_)) => {}
    }

    // R11, R13: flags for the reviewer, never a decision.
    let screened = format!("{}\n{}", mail.title, mail.body_text);
    for hit in screen::screen(&screened, &opts.word_lists) {
        notes.push(format!(
            "Cảnh báo {} ({}): bài có cụm từ \"{}\"{}. Người duyệt cần xem xét{}.",
            hit.rule,
            hit.list,
            hit.phrase,
            if hit.count > 1 {
                format!(" ({} lần)", hit.count)
            } else {
                String::new()
            },
            if hit.rule == "R13" {
                "; nội dung quảng cáo thương mại cần văn bản xác nhận của doanh nghiệp"
            } else {
                ""
            }
        ));
    }
    mail.notes.extend(notes);
    out
}

/// A Word attachment that could be read.
struct Document {
    filename: String,
    doc: docx::DocxArticle,
    converted: Option<Legacy>,
}

fn is_docx(a: &Part<'_>) -> bool {
    is_word_file(&a.filename, &a.content_type, &a.data)
}

/// Whether a file is a Word (.docx) document to read.
pub fn is_word_file(filename: &str, content_type: &str, data: &[u8]) -> bool {
    let name = filename.to_lowercase();
    (name.ends_with(".docx")
        || name.ends_with(".dotx")
        || content_type.contains("wordprocessingml"))
        && data.starts_with(b"PK")
}

/// The classification stamp in a Word document's text (legacy fonts
/// converted first), if it can be read.
pub fn document_stamp(data: &[u8], limits: &docx::Limits) -> Option<Mark> {
    let mut doc = docx::read(data, limits).ok()?;
    convert_legacy(&mut doc);
    screen::classified_mark("", &doc.text)
}

/// Reads every Word attachment; a hostile archive is the message's
/// quarantine reason.
fn read_documents(
    mail: &Extracted<'_>,
    opts: &Options,
    notes: &mut Vec<String>,
) -> Result<Vec<Document>, String> {
    let mut documents = Vec::new();
    for a in mail.attachments.iter().filter(|a| is_docx(a)) {
        match docx::read(&a.data, &opts.docx_limits) {
            Ok(mut doc) => {
                let converted = convert_legacy(&mut doc);
                if let Some(enc) = converted {
                    notes.push(format!(
                        "Tệp Word \"{}\" gõ bằng phông chữ bảng mã {}; hệ thống đã chuyển sang Unicode dựng sẵn (TCVN 6909:2001). Xin kiểm tra lại chữ.",
                        a.filename,
                        enc.name()
                    ));
                }
                documents.push(Document {
                    filename: a.filename.clone(),
                    doc,
                    converted,
                });
            }
            Err(e @ (DocxError::TooLarge(_) | DocxError::UnsafeName(_))) if opts.enforce => {
                return Err(format!("attachment \"{}\": {e}", a.filename));
            }
            Err(e) => {
                tracing::debug!(file = %a.filename, error = %e, "Word attachment not readable");
                notes.push(format!(
                    "Không đọc được tệp Word \"{}\" (tệp hỏng hoặc không đúng định dạng .docx); người duyệt cần mở tệp để đọc.",
                    a.filename
                ));
            }
        }
    }
    Ok(documents)
}

/// Converts a document typed in a legacy font: the fonts it uses are a
/// strong hint, the text has the last word.
fn convert_legacy(doc: &mut docx::DocxArticle) -> Option<Legacy> {
    let by_font = doc.fonts.iter().find_map(|f| legacy::font_encoding(f));
    let by_text = legacy::detect(&doc.text);
    let enc = match (by_font, by_text) {
        (_, Some(t)) => t,
        // Too little text to be sure, but the font says so and converting
        // repairs more than it breaks.
        (Some(f), None) if repairs(&doc.text, f) => f,
        _ => return None,
    };
    doc.text = legacy::convert(&doc.text, enc);
    doc.html = legacy::convert(&doc.html, enc);
    doc.title = doc.title.as_deref().map(|t| legacy::convert(t, enc));
    Some(enc)
}

/// True when converting `text` makes Vietnamese of it: the conversion
/// changes it into letters only Unicode Vietnamese has.
fn repairs(text: &str, enc: Legacy) -> bool {
    let converted = legacy::convert(text, enc);
    converted != text && has_unicode_vietnamese(&converted)
}

/// Letters only Unicode Vietnamese has (outside Latin-1, so never legacy
/// mojibake).
fn has_unicode_vietnamese(s: &str) -> bool {
    s.chars().any(|c| {
        matches!(c, 'ạ'..='ỹ' | 'Ạ'..='Ỹ' | 'ơ' | 'ư' | 'Ơ' | 'Ư' | 'đ' | 'Đ' | 'ă' | 'Ă' | 'ĩ' | 'Ĩ' | 'ũ' | 'Ũ')
    })
}

fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// Which document, if any, is the article.
fn choose_document(
    mail: &Extracted<'_>,
    documents: &[Document],
    from: ArticleFrom,
) -> Option<usize> {
    let (i, largest) = documents
        .iter()
        .enumerate()
        .max_by_key(|(_, d)| word_count(&d.doc.text))?;
    let doc_words = word_count(&largest.doc.text);
    if doc_words == 0 {
        return None;
    }
    let body_words = word_count(&mail.body_text);
    match from {
        ArticleFrom::Body if body_words > 0 => None,
        ArticleFrom::Body | ArticleFrom::Document => Some(i),
        ArticleFrom::Auto => (body_words < COVER_NOTE_WORDS
            || (doc_words >= 3 * body_words && body_words < 400))
            .then_some(i),
    }
}

/// Points the document's `<img src="docx-image:N">` at `cid:` + the N-th
/// of `cids`, in one pass (a document may hold thousands of images).
fn point_images_at(html: &str, cids: &[String]) -> String {
    let pattern = format!("src=\"{}", docx::IMAGE_SCHEME);
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some((before, after)) = rest.split_once(pattern.as_str()) {
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let (number, tail) = after.split_at(digits);
        let cid = number.parse::<usize>().ok().and_then(|i| cids.get(i));
        match (cid, tail.strip_prefix('"')) {
            (Some(cid), Some(tail)) => {
                out.push_str("src=\"cid:");
                out.push_str(cid);
                out.push('"');
                rest = tail;
            }
            _ => {
                out.push_str(&pattern);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Makes a document the article: its text and HTML, its images as inline
/// attachments where they stood, the cover note kept as a note.
fn place_document(mail: &mut Extracted<'_>, d: &Document, opts: &Options, notes: &mut Vec<String>) {
    let stem = d
        .filename
        .rsplit_once('.')
        .map_or(d.filename.as_str(), |(s, _)| s)
        .to_string();
    let cover = mail_cover(&mail.body_text);
    let mut cids = Vec::with_capacity(d.doc.images.len());
    let mut cid_map = BTreeMap::new();
    for (index, img) in d.doc.images.iter().enumerate() {
        let sniffed = image::sniff(&img.data);
        let ext = sniffed.map_or("bin", |t| t.extension());
        let sha = sha256_hex(&img.data);
        let cid = format!("docx-{index}-{}", sha.get(..12).unwrap_or_default());
        cids.push(cid.clone());
        let mut part = Part {
            filename: format!("{stem}-anh-{}.{ext}", index + 1),
            content_type: sniffed.map_or(img.content_type.clone(), |t| t.mime().to_string()),
            size: img.data.len(),
            sha256: sha,
            content_id: cid.clone(),
            inline: sniffed.is_some(),
            dimensions: None,
            data: Cow::Owned(img.data.clone()),
        };
        // The CID map needs the digest of the cleaned copy.
        clean_photo(&mut part, opts, notes);
        cid_map.insert(cid, part.sha256.clone());
        mail.attachments.push(part);
    }
    mail.body_html = html::sanitize(&point_images_at(&d.doc.html, &cids), &cid_map);
    mail.body_text = clean_text(&d.doc.text);
    if is_generic_title(&mail.title)
        && let Some(t) = d
            .doc
            .title
            .as_deref()
            .map(clean_line)
            .filter(|t| !t.is_empty())
    {
        mail.title = text::truncate_chars(&t, 250);
    }
    notes.push(if cover.is_empty() {
        format!("Nội dung bài lấy từ tệp Word \"{}\".", d.filename)
    } else {
        format!(
            "Nội dung bài lấy từ tệp Word \"{}\"; thư kèm: «{}»",
            d.filename,
            text::truncate_chars(&cover, 300)
        )
    });
}

/// The cover note on one line.
fn mail_cover(s: &str) -> String {
    clean_line(&s.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// Subjects that say "here is an article" rather than what it is about.
fn is_generic_title(title: &str) -> bool {
    let folded = fold_ascii(title);
    let words: Vec<&str> = folded
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let joined = words.join(" ");
    title.is_empty()
        || title == UNTITLED
        || words.len() <= 2
        || [
            "gui bai",
            "gui bbt",
            "gui ban bien tap",
            "bai viet",
            "tin bai",
            "nop bai",
            "bai cong tac",
            "gui tin",
        ]
        .iter()
        .any(|p| joined.starts_with(p))
}

/// Photos: the type their bytes show, GPS removed from the stored copy,
/// dimensions, limits; HEIC flagged.
fn check_photos(attachments: &mut [Part<'_>], opts: &Options, notes: &mut Vec<String>) {
    for a in attachments.iter_mut() {
        clean_photo(a, opts, notes);
    }
}

fn clean_photo(a: &mut Part<'_>, opts: &Options, notes: &mut Vec<String>) {
    let Some(kind) = image::sniff(&a.data) else {
        if a.content_type.starts_with("image/") {
            notes.push(format!(
                "Tệp \"{}\" mang nhãn ảnh nhưng nội dung không phải ảnh; người duyệt không nên mở tệp này.",
                a.filename
            ));
        }
        return;
    };
    a.content_type = kind.mime().to_string();
    let cleaned = image::strip_gps(&a.data);
    if cleaned.removed_gps {
        let data = cleaned.data.into_owned();
        a.sha256 = sha256_hex(&data);
        a.size = data.len();
        a.data = Cow::Owned(data);
        notes.push(format!(
            "Đã xoá dữ liệu vị trí (GPS) khỏi ảnh \"{}\".",
            a.filename
        ));
    }
    if image::has_gps(&a.data) {
        notes.push(format!(
            "Ảnh \"{}\" còn dữ liệu vị trí (GPS) mà hệ thống không xoá được; ảnh này sẽ không được đăng lên Cổng.",
            a.filename
        ));
    }
    if kind == image::ImageType::Heic {
        notes.push(format!(
            "Ảnh \"{}\" ở định dạng HEIC (iPhone), nhiều trình duyệt không hiển thị được; nên đề nghị người gửi gửi lại ảnh JPEG.",
            a.filename
        ));
    }
    a.dimensions = image::dimensions(&a.data);
    if let Some((w, h)) = a.dimensions
        && u64::from(w) * u64::from(h) > opts.max_photo_pixels
    {
        notes.push(format!(
            "Ảnh \"{}\" có kích thước {w}×{h} điểm ảnh, vượt giới hạn; cần thu nhỏ trước khi đăng.",
            a.filename
        ));
    }
    if a.size as u64 > opts.max_photo_size {
        notes.push(format!(
            "Ảnh \"{}\" dung lượng {:.1} MB, vượt giới hạn {:.1} MB; cần thu nhỏ trước khi đăng.",
            a.filename,
            a.size as f64 / 1_048_576.0,
            opts.max_photo_size as f64 / 1_048_576.0
        ));
    }
}

/// Formats kept as attachments that bientap does not read.
fn note_unread_formats(attachments: &[Part<'_>], notes: &mut Vec<String>) {
    for a in attachments {
        let name = a.filename.to_lowercase();
        let what = match name.rsplit_once('.').map(|(_, e)| e) {
            Some("doc" | "dot") => "Word cũ (.doc)",
            Some("odt") => "OpenDocument (.odt)",
            Some("rtf") => "RTF",
            Some("pdf") => "PDF",
            Some("xls" | "xlsx" | "ods") => "bảng tính",
            Some("ppt" | "pptx" | "odp") => "trình chiếu",
            _ => continue,
        };
        notes.push(format!(
            "Tệp \"{}\" ({what}) được giữ nguyên làm tệp đính kèm, hệ thống chưa đọc được nội dung; người duyệt cần mở tệp để đọc.",
            a.filename
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_photo_cleaned_of_gps_stays_in_the_body() {
        use base64::Engine;
        let photo = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/images/gps.jpg"
        ));
        let raw = format!(
            "From: a@x.vn\r\nSubject: Cầu treo\r\nMIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=r\r\n\r\n\
             --r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Cầu mới <img src=\"cid:anh@x\"></p>\r\n\
             --r\r\nContent-Type: image/jpeg\r\nContent-ID: <anh@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--r--\r\n",
            base64::engine::general_purpose::STANDARD.encode(photo)
        );
        let msg = crate::content::parse(raw.as_bytes()).unwrap();
        let mut mail = crate::content::extract(&msg);
        let raw_sha = mail.attachments[0].sha256.clone();
        refine(&mut mail, &Options::default(), StampScope::Whole);
        let cleaned = &mail.attachments[0];
        assert_ne!(cleaned.sha256, raw_sha, "GPS removed");
        assert!(
            mail.body_html
                .contains(&format!("{}{}", html::ATTACHMENT_SCHEME, cleaned.sha256)),
            "{}",
            mail.body_html
        );
        assert!(!mail.body_html.contains(&raw_sha), "{}", mail.body_html);
    }

    #[test]
    fn document_images_point_at_their_attachments() {
        let cids: Vec<String> = (0..12).map(|i| format!("c{i}")).collect();
        let html = format!(
            "<p><img src=\"{s}1\" alt=\"a\"><img src=\"{s}11\"><img src=\"{s}12\"><img src=\"{s}x\"></p>",
            s = docx::IMAGE_SCHEME
        );
        assert_eq!(
            point_images_at(&html, &cids),
            format!(
                "<p><img src=\"cid:c1\" alt=\"a\"><img src=\"cid:c11\"><img src=\"{s}12\"><img src=\"{s}x\"></p>",
                s = docx::IMAGE_SCHEME
            )
        );
    }
}
