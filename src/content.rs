//! MIME → article: what one message says, read defensively.
//!
//! `extract` is pure: it takes the raw bytes of a message and returns its
//! envelope facts (sender, subject, ids, references), the article body as
//! sanitized HTML and as plain text, and the attachments with their digests,
//! all text NFC-normalized (R24). It never fails: whatever mail-parser could
//! not make sense of becomes a note, and the caller decides whether what is
//! left can become a ticket. Attachment bytes are borrowed from the parsed
//! message, so a large message is not copied again.

pub mod docx;
pub mod facts;
pub mod html;
pub mod image;
pub mod legacy;
pub mod media;
pub mod names;
pub mod refine;
pub mod reply;
pub mod screen;
pub mod similar;

use std::borrow::Cow;
use std::collections::BTreeMap;

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};
use serde::Serialize;

use crate::store::archive::sha256_hex;
use crate::text::{self, clean_line, clean_text};

/// Title used when a submission has no subject and no usable text.
pub const UNTITLED: &str = "(không có tiêu đề)";

/// Everything the gateway reads from one message.
#[derive(Debug, Serialize)]
pub struct Extracted<'a> {
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// The sender: the one address of the message's From header; `None`
    /// when there is not exactly one (see `from_count`).
    pub from: Option<Sender>,
    /// How many addresses the From headers name, all of them counted: a
    /// message with more or fewer than one never acts on a ticket.
    pub from_count: usize,
    /// The subject as sent (cleaned to one line).
    pub subject: String,
    /// The subject without reply/forward prefixes and ticket tags.
    pub title: String,
    /// Date header, milliseconds since the epoch, when present and sane.
    pub date_ms: Option<i64>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    /// Addresses the message was delivered to (To, Cc, Delivered-To, X-Original-To).
    pub recipients: Vec<String>,
    /// Sanitized HTML of the article body.
    pub body_html: String,
    /// Plain-text rendering of the body.
    pub body_text: String,
    pub attachments: Vec<Part<'a>>,
    /// What went wrong while reading, for the reviewer and for `inspect`.
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Sender {
    pub name: String,
    /// Normalized (lower-case) address.
    pub address: String,
}

/// One attachment (or inline image) of a message.
#[derive(Debug, Serialize)]
pub struct Part<'a> {
    pub filename: String,
    pub content_type: String,
    pub size: usize,
    pub sha256: String,
    /// Content-ID without angle brackets, empty when absent.
    pub content_id: String,
    /// Shown inside the body rather than as a separate file.
    pub inline: bool,
    /// Width and height of a photo, when its bytes say.
    pub dimensions: Option<(u32, u32)>,
    #[serde(skip)]
    pub data: Cow<'a, [u8]>,
}

impl Part<'_> {
    /// The attachment as a ticket version records it (its bytes go to the
    /// archive under `sha256`).
    pub fn record(&self) -> crate::store::Attachment {
        crate::store::Attachment {
            filename: self.filename.clone(),
            content_type: self.content_type.clone(),
            size: i64::try_from(self.size).unwrap_or(i64::MAX),
            sha256: self.sha256.clone(),
            content_id: self.content_id.clone(),
            inline: self.inline,
            width: self.dimensions.map(|(w, _)| i64::from(w)),
            height: self.dimensions.map(|(_, h)| i64::from(h)),
        }
    }
}

/// Parses raw bytes. `None` when there is nothing that looks like a message.
pub fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

/// Reads one parsed message.
pub fn extract<'a>(msg: &'a Message<'a>) -> Extracted<'a> {
    let mut notes = Vec::new();

    let message_id = msg
        .message_id()
        .map(|id| clean_line(id).trim_matches(['<', '>']).to_string())
        .filter(|id| !id.is_empty() && id.len() <= 995);

    // Exactly one From address, or none at all: a second From header (or a
    // list in one) is how a forger puts a member's address behind their
    // own, and Sender is not the author (invariant 4).
    let from_count = from_addresses(msg);
    let from = if from_count == 1 {
        first_sender(msg.from())
    } else {
        None
    };
    if from.is_none() {
        notes.push(if from_count > 1 {
            format!("Thư ghi {from_count} địa chỉ người gửi (From); không xác định được ai gửi.")
        } else {
            "Thư không có địa chỉ người gửi (From) dùng được.".to_string()
        });
    }

    let subject = msg.subject().map(clean_line).unwrap_or_default();
    let date_ms = msg.date().and_then(|d| {
        let ms = d.to_timestamp().checked_mul(1000)?;
        // Dates before 1990 or after 2200 are broken headers, not facts.
        (631_152_000_000..7_258_118_400_000)
            .contains(&ms)
            .then_some(ms)
    });

    let mut recipients: Vec<String> = Vec::new();
    for addr in [msg.to(), msg.cc()].into_iter().flatten() {
        recipients.extend(addresses(addr));
    }
    for name in ["Delivered-To", "X-Original-To"] {
        for value in msg.header_values(name) {
            if let Some(t) = value.as_text() {
                recipients.push(text::normalize_address(t));
            }
        }
    }
    recipients.retain(|r| text::is_plausible_address(r));
    recipients.dedup();

    let (attachments, cid_map) = collect_attachments(msg, &mut notes);
    let (body_html, body_text) = collect_body(msg, &cid_map, &mut notes);

    for (i, part) in msg.parts.iter().enumerate() {
        if part.is_encoding_problem {
            notes.push(format!(
                "Phần {} của thư không giải mã được trọn vẹn; có thể thiếu hoặc sai chữ.",
                i + 1
            ));
        }
    }

    let title = title_for(&subject, &body_text, &attachments);

    Extracted {
        message_id,
        from,
        from_count,
        subject,
        title,
        date_ms,
        in_reply_to: id_list(msg.in_reply_to()),
        references: id_list(msg.references()),
        recipients,
        body_html,
        body_text,
        attachments,
        notes,
    }
}

/// The number of addresses in all of a message's From headers; a From
/// header that is not an address list counts as one unusable address.
fn from_addresses(msg: &Message<'_>) -> usize {
    msg.header_values(mail_parser::HeaderName::From)
        .map(|value| match value {
            HeaderValue::Address(a) => a.iter().count(),
            HeaderValue::Empty => 0,
            _ => 1,
        })
        .sum()
}

fn first_sender(addr: Option<&Address<'_>>) -> Option<Sender> {
    let addr = addr?;
    addr.iter().find_map(|a| {
        let address = text::normalize_address(a.address()?);
        text::is_plausible_address(&address).then(|| Sender {
            name: a.name().map(clean_line).unwrap_or_default(),
            address,
        })
    })
}

fn addresses(addr: &Address<'_>) -> Vec<String> {
    addr.iter()
        .filter_map(|a| a.address().map(text::normalize_address))
        .collect()
}

fn id_list(value: &HeaderValue<'_>) -> Vec<String> {
    let ids: Vec<String> = match value {
        HeaderValue::Text(t) => vec![t.to_string()],
        HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => Vec::new(),
    };
    ids.into_iter()
        .map(|id| clean_line(&id).trim_matches(['<', '>']).to_string())
        .filter(|id| !id.is_empty())
        .take(100)
        .collect()
}

fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let main = ct.ctype().to_ascii_lowercase();
            match ct.subtype() {
                Some(sub) => format!("{main}/{}", sub.to_ascii_lowercase()),
                None => main,
            }
        }
        None => match part.body {
            PartType::Text(_) => "text/plain".to_string(),
            PartType::Html(_) => "text/html".to_string(),
            PartType::Message(_) => "message/rfc822".to_string(),
            _ => "application/octet-stream".to_string(),
        },
    }
}

fn collect_attachments<'a>(
    msg: &'a Message<'a>,
    notes: &mut Vec<String>,
) -> (Vec<Part<'a>>, BTreeMap<String, String>) {
    let mut parts = Vec::new();
    let mut cid_map = BTreeMap::new();
    for (n, part) in msg.attachments().enumerate() {
        let content_type = content_type_of(part);
        let data: Cow<'a, [u8]> = Cow::Borrowed(part.contents());
        if data.is_empty() {
            notes.push(format!("Tệp đính kèm thứ {} rỗng nên đã bỏ qua.", n + 1));
            continue;
        }
        let nested_subject = part
            .message()
            .and_then(|m| m.subject())
            .map(clean_line)
            .filter(|s| !s.is_empty());
        let raw_name = part
            .attachment_name()
            .map(str::to_string)
            .or(nested_subject.map(|s| format!("{s}.eml")));
        let fallback = format!("tep-dinh-kem-{}", n + 1);
        let filename = names::safe_file_name(raw_name.as_deref(), &fallback, &content_type);
        let content_id = part
            .content_id()
            .map(|c| clean_line(c).trim_matches(['<', '>']).to_string())
            .unwrap_or_default();
        let disposition_inline = part
            .content_disposition()
            .is_some_and(|d| d.ctype().eq_ignore_ascii_case("inline"));
        let inline =
            content_type.starts_with("image/") && (disposition_inline || !content_id.is_empty());
        let sha256 = sha256_hex(&data);
        if !content_id.is_empty() {
            cid_map.insert(content_id.clone(), sha256.clone());
        }
        parts.push(Part {
            filename,
            content_type,
            size: data.len(),
            sha256,
            content_id,
            inline,
            dimensions: None,
            data,
        });
    }
    (parts, cid_map)
}

/// The article body: the HTML alternative sanitized when there is one,
/// otherwise the text parts as paragraphs. Inline media in the body lists
/// are attachments, not text, and are skipped here.
fn collect_body(
    msg: &Message<'_>,
    cid_map: &BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> (String, String) {
    let mut html_src = String::new();
    let mut has_html = false;
    for part in msg.html_bodies() {
        match &part.body {
            PartType::Html(h) => {
                has_html = true;
                html_src.push_str(h);
                html_src.push('\n');
            }
            PartType::Text(t) => {
                html_src.push_str(&html::text_to_html(t));
            }
            _ => {}
        }
    }
    let mut text_src = String::new();
    let mut has_text = false;
    for part in msg.text_bodies() {
        if let PartType::Text(t) = &part.body {
            has_text = true;
            if !text_src.is_empty() {
                text_src.push_str("\n\n");
            }
            text_src.push_str(t);
        }
    }
    let body_html = if has_html {
        html::sanitize(&html_src, cid_map)
    } else if has_text {
        html::text_to_html(&text_src)
    } else {
        String::new()
    };
    let body_text = if has_text {
        clean_text(&text_src).trim().to_string()
    } else if has_html {
        html::to_text(&body_html)
    } else {
        String::new()
    };
    if body_text.is_empty() && !body_html.is_empty() && has_html && !has_text {
        notes.push("Phần HTML của thư không có chữ đọc được.".to_string());
    }
    (body_html, body_text)
}

/// Reply and forward prefixes in several languages: Re, Fwd, Fw, Vietnamese
/// Outlook's TL (trả lời) and CT (chuyển tiếp), French/Outlook TR, German
/// AW/WG, Nordic SV/VS.
fn strip_prefixes(subject: &str) -> &str {
    let mut s = subject.trim();
    loop {
        let before = s;
        for prefix in [
            "re", "fwd", "fw", "tl", "tr", "ct", "aw", "wg", "sv", "vs", "rv", "enc",
        ] {
            if let Some(rest) = strip_one_prefix(s, prefix) {
                s = rest;
            }
        }
        if let Some(rest) = s.strip_prefix("[Fwd:").and_then(|r| r.strip_suffix(']')) {
            s = rest.trim();
        }
        if s == before {
            return s;
        }
    }
}

fn strip_one_prefix<'s>(s: &'s str, prefix: &str) -> Option<&'s str> {
    let head = s.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = s.get(prefix.len()..)?;
    // "Re:", "RE :", "Re[2]:", "Fwd:"
    let rest = rest.trim_start_matches(' ');
    let rest = match rest.strip_prefix('[') {
        Some(r) => r
            .trim_start_matches(|c: char| c.is_ascii_digit())
            .strip_prefix(']')?,
        None => rest,
    };
    let rest = rest.trim_start().strip_prefix([':', '：'])?;
    Some(rest.trim_start())
}

/// Removes ticket tags such as "[BBT-2026-0042]" wherever they stand.
fn strip_ticket_tags(s: &str) -> String {
    crate::classify::TICKET_TAG
        .as_ref()
        .map(|re| re.replace_all(s, "").to_string())
        .unwrap_or_else(|| s.to_string())
}

fn title_for(subject: &str, body_text: &str, attachments: &[Part<'_>]) -> String {
    let stripped = strip_ticket_tags(strip_prefixes(subject));
    let title = clean_line(strip_prefixes(&stripped));
    if !title.is_empty() {
        return text::truncate_chars(&title, 250);
    }
    if let Some(line) = body_text.lines().map(clean_line).find(|l| !l.is_empty()) {
        return text::truncate_chars(&line, 120);
    }
    if let Some(a) = attachments.iter().find(|a| !a.inline) {
        return text::truncate_chars(&a.filename, 120);
    }
    UNTITLED.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> (String, String, String, usize, Vec<String>) {
        let msg = parse(raw.as_bytes()).unwrap();
        let e = extract(&msg);
        (
            e.title,
            e.body_html,
            e.body_text,
            e.attachments.len(),
            e.notes,
        )
    }

    #[test]
    fn prefixes_are_stripped() {
        assert_eq!(strip_prefixes("Re: Fwd: TL: Tin bài"), "Tin bài");
        assert_eq!(strip_prefixes("RE[2]: FW : CT: Hội nghị"), "Hội nghị");
        assert_eq!(strip_prefixes("Trả lời thư"), "Trả lời thư");
        assert_eq!(strip_prefixes("Region news"), "Region news");
        assert_eq!(strip_prefixes("[Fwd: Bài viết]"), "Bài viết");
    }

    #[test]
    fn title_falls_back_to_body_then_attachment() {
        assert_eq!(title_for("Re: ", "\n  Dòng đầu  \nsau", &[]), "Dòng đầu");
        assert_eq!(title_for("", "", &[]), UNTITLED);
        assert_eq!(title_for("TL: [BBT-2026-0042] Bài sửa", "", &[]), "Bài sửa");
    }

    #[test]
    fn encoded_vietnamese_subject_and_windows_1258_body() {
        // "Tin mới" in windows-1258: ơ is 0xF5 and the tone mark (sắc) is a
        // separate combining character, 0xEC; NFC must compose them into ớ.
        let raw = b"From: =?UTF-8?B?Tmd1eeG7hW4gVsSDbiBB?= <ctv@xa.vn>\r\n\
Subject: =?UTF-8?Q?H=E1=BB=99i_ngh=E1=BB=8B?=\r\n\
Content-Type: text/plain; charset=windows-1258\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n\
Tin m\xf5\xeci\r\n";
        let msg = parse(raw).unwrap();
        let e = extract(&msg);
        assert_eq!(e.title, "Hội nghị");
        assert_eq!(e.from.as_ref().unwrap().name, "Nguyễn Văn A");
        assert_eq!(e.body_text, "Tin mới");
        assert!(e.body_html.contains("<p>Tin mới</p>"));
    }

    #[test]
    fn html_alternative_is_sanitized_and_text_kept() {
        let raw = "From: a@x.vn\r\nSubject: T\r\nContent-Type: multipart/alternative; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nXin chào\r\n\
--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p onclick=x()>Xin <b>chào</b></p><script>x</script>\r\n--b--\r\n";
        let (_, html, text, n, _) = read(raw);
        assert_eq!(html.trim(), "<p>Xin <b>chào</b></p>");
        assert_eq!(text, "Xin chào");
        assert_eq!(n, 0);
    }

    #[test]
    fn inline_image_is_linked_by_digest() {
        let raw = "From: a@x.vn\r\nSubject: Ảnh\r\nContent-Type: multipart/related; boundary=r\r\n\r\n\
--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Xem <img src=\"cid:anh1@x\"></p>\r\n\
--r\r\nContent-Type: image/png\r\nContent-ID: <anh1@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n";
        let msg = parse(raw.as_bytes()).unwrap();
        let e = extract(&msg);
        assert_eq!(e.attachments.len(), 1);
        let a = &e.attachments[0];
        assert!(a.inline);
        assert_eq!(a.content_id, "anh1@x");
        assert!(
            e.body_html.contains(&format!("attachment:{}", a.sha256)),
            "{}",
            e.body_html
        );
    }

    #[test]
    fn attachment_names_are_made_safe() {
        let raw = "From: a@x.vn\r\nSubject: T\r\nContent-Type: multipart/mixed; boundary=m\r\n\r\n\
--m\r\nContent-Type: text/plain\r\n\r\nbody\r\n\
--m\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"../../x.pdf\"\r\n\r\n%PDF\r\n\
--m\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment\r\n\r\nzz\r\n--m--\r\n";
        let msg = parse(raw.as_bytes()).unwrap();
        let e = extract(&msg);
        let names: Vec<_> = e.attachments.iter().map(|a| a.filename.as_str()).collect();
        assert_eq!(names, ["x.pdf", "tep-dinh-kem-2.bin"]);
    }

    #[test]
    fn invisible_characters_leave_subject_sender_and_file_names() {
        // U+202E (right-to-left override) and U+200B (zero-width space),
        // encoded as a mail client would.
        let raw = "From: =?UTF-8?Q?Nguy=E1=BB=85n=E2=80=AE_V=C4=83n_An?= <a@x.vn>\r\n\
Subject: =?UTF-8?Q?Re:_=E2=80=8BTin_=E2=80=AEm=E1=BB=9Bi=E2=80=8B_v=E1=BB=81_x=C3=A3?=\r\n\
Content-Type: multipart/mixed; boundary=m\r\n\r\n\
--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbody\r\n\
--m\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename*=utf-8''report%E2%80%AEfdp.txt\r\n\r\nx\r\n--m--\r\n";
        let msg = parse(raw.as_bytes()).unwrap();
        let e = extract(&msg);
        assert_eq!(e.subject, "Re: Tin mới về xã");
        assert_eq!(e.title, "Tin mới về xã");
        assert_eq!(e.from.as_ref().unwrap().name, "Nguyễn Văn An");
        assert_eq!(e.attachments[0].filename, "reportfdp.txt");
        // A title taken from the body is cleaned the same way.
        assert_eq!(title_for("", "\u{202e}Dòng\u{200b} đầu", &[]), "Dòng đầu");
    }

    #[test]
    fn references_and_recipients() {
        let raw = "From: a@x.vn\r\nTo: BBT <bbt+BBT-2026-0001.abc@x.vn>\r\nDelivered-To: bbt@x.vn\r\n\
In-Reply-To: <m1@x.vn>\r\nReferences: <m0@x.vn> <m1@x.vn>\r\nMessage-ID: <r1@x.vn>\r\nSubject: Re: x\r\n\r\nDUYET\r\n";
        let msg = parse(raw.as_bytes()).unwrap();
        let e = extract(&msg);
        assert_eq!(e.message_id.as_deref(), Some("r1@x.vn"));
        assert_eq!(e.in_reply_to, ["m1@x.vn"]);
        assert_eq!(e.references, ["m0@x.vn", "m1@x.vn"]);
        assert_eq!(e.recipients, ["bbt+bbt-2026-0001.abc@x.vn", "bbt@x.vn"]);
    }
}
