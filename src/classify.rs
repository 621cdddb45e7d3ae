//! What kind of mail is this: a new submission, a reply about a ticket, or
//! automatic mail that must never create a ticket nor be answered
//! (invariant 5).
//!
//! Pure functions over the parsed message. A ticket reference is only a
//! candidate here; the caller checks that the ticket exists.

use std::sync::LazyLock;

use mail_parser::{Message, MimeHeaders};
use regex::Regex;
use serde::Serialize;

use crate::content::Extracted;
use crate::text::fold_ascii;

/// Our own Message-IDs start with this, followed by the ticket code, so a
/// reply's References lead back to its ticket even without the database.
pub const OWN_MESSAGE_ID_PREFIX: &str = "bientap.";

/// A bracketed ticket tag in a subject, any board prefix.
pub static TICKET_TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\s*\[[A-Za-z]{1,10}-\d{4}-\d{4,6}\]\s*").ok());

static TICKET_CODE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)\b([a-z]{1,10})-(\d{4})-(\d{4,6})\b").ok());

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Class {
    /// Automatic mail: bounce, auto-reply, list mail, our own mail.
    Automatic {
        reason: String,
        /// A ticket it seems to be about, for the record.
        ticket: Option<String>,
    },
    /// Cannot become a ticket; kept with the reason.
    Quarantine { reason: String },
    /// About an existing ticket (if it exists).
    Reply { ticket: String, found_in: String },
    /// A new article for the board.
    Submission,
}

/// Classifies one message for a board whose ticket codes start with
/// `code_prefix` and whose address is `board_address`.
pub fn classify(
    msg: &Message<'_>,
    mail: &Extracted<'_>,
    code_prefix: &str,
    board_address: &str,
) -> Class {
    let ticket = ticket_reference(mail, code_prefix, board_address);
    if let Some(reason) = automatic_reason(msg, mail, board_address) {
        return Class::Automatic {
            reason,
            ticket: ticket.map(|(code, _)| code),
        };
    }
    if mail.from.is_none() {
        // A reply without exactly one sender is recorded on its ticket as
        // denied (the rules refuse it); anything else waits in quarantine.
        if let Some((ticket, found_in)) = ticket {
            return Class::Reply {
                ticket,
                found_in: found_in.to_string(),
            };
        }
        return Class::Quarantine {
            reason: if mail.from_count > 1 {
                format!(
                    "{} sender addresses (From): who wrote it cannot be known, cannot become a ticket",
                    mail.from_count
                )
            } else {
                "no sender address (From): nobody to answer, cannot become a ticket".into()
            },
        };
    }
    if mail.subject.is_empty() && mail.body_text.trim().is_empty() && mail.attachments.is_empty() {
        return Class::Quarantine {
            reason: "empty message: no subject, no text, no attachment".into(),
        };
    }
    match ticket {
        Some((ticket, found_in)) => Class::Reply {
            ticket,
            found_in: found_in.to_string(),
        },
        None => Class::Submission,
    }
}

/// Normalizes a code found in text ("bbt-2026-42" → "BBT-2026-0042").
fn normalize_code(prefix: &str, year: &str, seq: &str) -> Option<String> {
    let seq: u32 = seq.parse().ok()?;
    Some(format!("{}-{year}-{seq:04}", prefix.to_ascii_uppercase()))
}

fn find_code(haystack: &str, code_prefix: &str) -> Option<String> {
    let re = TICKET_CODE.as_ref()?;
    re.captures_iter(haystack).find_map(|c| {
        let prefix = c.get(1)?.as_str();
        if !prefix.eq_ignore_ascii_case(code_prefix) {
            return None;
        }
        normalize_code(prefix, c.get(2)?.as_str(), c.get(3)?.as_str())
    })
}

/// Where a message names a ticket: our Message-IDs in In-Reply-To or
/// References (strongest: the client threads it), the plus-address of a
/// notification's Reply-To, then a code in the subject.
pub fn ticket_reference(
    mail: &Extracted<'_>,
    code_prefix: &str,
    board_address: &str,
) -> Option<(String, &'static str)> {
    let own_ids = mail
        .in_reply_to
        .iter()
        .chain(mail.references.iter())
        .filter_map(|id| id.strip_prefix(OWN_MESSAGE_ID_PREFIX));
    for id in own_ids {
        if let Some(code) = find_code(id, code_prefix) {
            return Some((code, "references"));
        }
    }
    if let Some((local, domain)) = board_address.split_once('@') {
        for r in &mail.recipients {
            let Some((r_local, r_domain)) = r.split_once('@') else {
                continue;
            };
            if !r_domain.eq_ignore_ascii_case(domain) {
                continue;
            }
            if let Some(detail) = r_local
                .strip_prefix(local)
                .and_then(|d| d.strip_prefix('+'))
                && let Some(code) = find_code(detail, code_prefix)
            {
                return Some((code, "address"));
            }
        }
    }
    find_code(&mail.subject, code_prefix).map(|c| (c, "subject"))
}

/// Why a message is automatic, or `None` when a person wrote it.
pub fn automatic_reason(
    msg: &Message<'_>,
    mail: &Extracted<'_>,
    board_address: &str,
) -> Option<String> {
    let header_text = |name: &str| -> Option<String> {
        msg.header_raw(name).map(|v| v.trim().to_ascii_lowercase())
    };

    if let Some(v) = header_text("Auto-Submitted")
        && !v.is_empty()
        && v != "no"
        && !v.starts_with("no ")
        && !v.starts_with("no;")
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    if mail
        .message_id
        .as_deref()
        .is_some_and(|id| id.starts_with(OWN_MESSAGE_ID_PREFIX))
    {
        return Some("sent by bientap itself (mail loop)".into());
    }
    if let Some(ct) = msg.content_type() {
        let sub = ct.subtype().unwrap_or_default().to_ascii_lowercase();
        if ct.ctype().eq_ignore_ascii_case("multipart") && sub == "report" {
            let kind = ct.attribute("report-type").unwrap_or("report");
            return Some(format!(
                "delivery or read report (multipart/report; {kind})"
            ));
        }
    }
    if msg
        .header_raw("Return-Path")
        .is_some_and(|v| v.trim() == "<>")
    {
        return Some("null sender (Return-Path: <>), a bounce or notification".into());
    }
    if let Some(from) = &mail.from {
        let local = from.address.split('@').next().unwrap_or_default();
        if matches!(local, "mailer-daemon" | "postmaster" | "mail-daemon") {
            return Some(format!("sent by {}", from.address));
        }
        if from.address == board_address {
            return Some("sent from the board's own address (mail loop)".into());
        }
    }
    for list_header in ["List-Id", "List-Unsubscribe", "List-Post", "X-Mailing-List"] {
        if msg.header_raw(list_header).is_some() {
            return Some(format!("mailing-list mail ({list_header})"));
        }
    }
    if let Some(p) = header_text("Precedence")
        && matches!(p.as_str(), "bulk" | "list" | "junk" | "auto_reply")
    {
        return Some(format!("Precedence: {p}"));
    }
    for h in [
        "X-Autoreply",
        "X-Autorespond",
        "X-Auto-Reply",
        "X-AutoReply-From",
        "X-Mail-Autoreply",
    ] {
        if msg.header_raw(h).is_some() {
            return Some(format!("auto-reply header {h}"));
        }
    }
    if header_text("X-Loop").is_some_and(|v| v.contains(board_address)) {
        return Some("X-Loop names the board (mail loop)".into());
    }
    let subject = fold_ascii(&mail.subject);
    const AUTO_SUBJECTS: &[&str] = &[
        "auto:",
        "automatic reply",
        "autoreply",
        "auto-reply",
        "out of office",
        "out of the office",
        "tra loi tu dong",
        "tu dong tra loi",
        "thu tra loi tu dong",
        "undeliverable:",
        "undelivered mail returned to sender",
        "delivery status notification",
        "mail delivery failed",
        "delivery failure",
        "returned mail:",
        "khong gui duoc",
    ];
    if let Some(p) = AUTO_SUBJECTS.iter().find(|p| subject.starts_with(*p)) {
        return Some(format!("automatic subject (\"{p}\")"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::{extract, parse};

    const BOARD: &str = "bbt@xa.vn";

    fn class_of(raw: &str) -> Class {
        let msg = parse(raw.as_bytes()).unwrap();
        let e = extract(&msg);
        classify(&msg, &e, "BBT", BOARD)
    }

    #[test]
    fn plain_article_is_a_submission() {
        assert_eq!(
            class_of("From: a@x.vn\r\nSubject: Tin\r\n\r\nNội dung"),
            Class::Submission
        );
    }

    #[test]
    fn automatic_mail_is_recognized() {
        let cases = [
            "From: a@x.vn\r\nAuto-Submitted: auto-replied\r\nSubject: Re: Tin\r\n\r\nVắng mặt",
            "From: MAILER-DAEMON@x.vn\r\nSubject: failure\r\n\r\nx",
            "From: a@x.vn\r\nList-Id: <news.x.vn>\r\nSubject: Bản tin\r\n\r\nx",
            "From: a@x.vn\r\nPrecedence: bulk\r\nSubject: x\r\n\r\nx",
            "From: a@x.vn\r\nSubject: Trả lời tự động: Tin\r\n\r\nx",
            "From: a@x.vn\r\nSubject: Automatic reply: Tin\r\n\r\nx",
            "From: a@x.vn\r\nReturn-Path: <>\r\nSubject: x\r\n\r\nx",
            "From: a@x.vn\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n--b--\r\n",
            "From: bbt@xa.vn\r\nSubject: x\r\n\r\nx",
            "From: a@x.vn\r\nMessage-ID: <bientap.BBT-2026-0001.1.abc@xa.vn>\r\nSubject: x\r\n\r\nx",
        ];
        for raw in cases {
            assert!(matches!(class_of(raw), Class::Automatic { .. }), "{raw}");
        }
    }

    #[test]
    fn unusable_mail_is_quarantined() {
        assert!(matches!(
            class_of("Subject: x\r\n\r\nno sender"),
            Class::Quarantine { .. }
        ));
        assert!(matches!(
            class_of("From: a@x.vn\r\n\r\n"),
            Class::Quarantine { .. }
        ));
    }

    #[test]
    fn auto_submitted_no_is_a_person() {
        assert_eq!(
            class_of("From: a@x.vn\r\nAuto-Submitted: no\r\nSubject: Tin\r\n\r\nx"),
            Class::Submission
        );
    }

    #[test]
    fn ticket_references_are_found() {
        let by_subject = class_of("From: a@x.vn\r\nSubject: TL: [BBT-2026-0042] Tin\r\n\r\nx");
        assert_eq!(
            by_subject,
            Class::Reply {
                ticket: "BBT-2026-0042".into(),
                found_in: "subject".into()
            }
        );

        let by_address = class_of(
            "From: a@x.vn\r\nTo: bbt+BBT-2026-0007.ab12@xa.vn\r\nSubject: Re: Tin\r\n\r\nx",
        );
        assert_eq!(
            by_address,
            Class::Reply {
                ticket: "BBT-2026-0007".into(),
                found_in: "address".into()
            }
        );

        let by_refs = class_of(
            "From: a@x.vn\r\nIn-Reply-To: <bientap.BBT-2025-0100.3.zz@xa.vn>\r\nSubject: Re: x\r\n\r\nx",
        );
        assert_eq!(
            by_refs,
            Class::Reply {
                ticket: "BBT-2025-0100".into(),
                found_in: "references".into()
            }
        );
    }

    #[test]
    fn subject_codes_are_found_without_a_board_address() {
        let msg = parse(b"From: a@x.vn\r\nSubject: TL: [BBT-2026-0001] x\r\n\r\nx").unwrap();
        let e = extract(&msg);
        assert!(matches!(classify(&msg, &e, "BBT", ""), Class::Reply { .. }));
    }

    #[test]
    fn other_boards_codes_are_not_ours() {
        assert_eq!(
            class_of("From: a@x.vn\r\nSubject: [ABC-2026-0042] Tin\r\n\r\nx"),
            Class::Submission
        );
    }
}
