//! Quote stripping and command reading against real client reply formats
//! (fixtures/replies: Gmail, Outlook, Apple Mail, Thunderbird, Yahoo, iOS,
//! Android; Vietnamese and English quote headers). The quoted notification
//! contains the command list itself, so reading a command from the quote
//! instead of the new text would give wrong answers here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

use bientap::classify::{Class, classify};
use bientap::content::{self, html, reply};
use bientap::workflow::commands::{ApproveOptions, Command, parse};

fn read(name: &str) -> (Class, String, Option<String>) {
    let path = format!("{}/fixtures/replies/{name}", env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(&path).unwrap();
    let msg = content::parse(&raw).unwrap();
    let mail = content::extract(&msg);
    let class = classify(&msg, &mail, "BBT", "bbt@example.test");
    let from_text = reply::new_text(&mail.body_text);
    // The same reply read from its HTML part alone, as for an HTML-only client.
    let from_html = msg
        .body_html(0)
        .map(|h| reply::new_text(&html::to_text(&h)));
    (class, from_text, from_html)
}

fn expect(name: &str, command: Command) {
    let (class, text, html_text) = read(name);
    assert!(
        matches!(&class, Class::Reply { ticket, .. } if ticket == "BBT-2026-0042"),
        "{name}: {class:?}"
    );
    assert_eq!(
        parse(&text),
        Some(command.clone()),
        "{name}: new text was {text:?}"
    );
    for leaked in ["Mã bài", "CÁCH TRẢ LỜI", "Kính gửi", "wrote:", "đã viết:"] {
        assert!(
            !text.contains(leaked),
            "{name}: quoted history leaked into {text:?}"
        );
    }
    if let Some(h) = html_text {
        assert_eq!(
            parse(&h),
            Some(command),
            "{name} (HTML): new text was {h:?}"
        );
    }
}

#[test]
fn gmail_english() {
    expect("gmail-en.eml", Command::Approve(ApproveOptions::default()));
}

#[test]
fn gmail_vietnamese_with_a_category() {
    expect(
        "gmail-vi.eml",
        Command::Approve(ApproveOptions {
            category: Some("Kinh tế".into()),
            ..ApproveOptions::default()
        }),
    );
}

#[test]
fn outlook_vietnamese_two_line_reason() {
    expect(
        "outlook-vi.eml",
        Command::Reject {
            reason: "Bài trùng với tin đã đăng ngày 20/11.\nĐề nghị không đăng lại.".into(),
        },
    );
}

#[test]
fn outlook_english_original_message() {
    expect(
        "outlook-en.eml",
        Command::Reject {
            reason: "duplicate of an earlier article".into(),
        },
    );
}

#[test]
fn apple_mail_vietnamese() {
    expect(
        "apple-mail-vi.eml",
        Command::Revise {
            request: "bổ sung tên tác giả và nguồn tin".into(),
        },
    );
}

#[test]
fn thunderbird_with_signature() {
    expect(
        "thunderbird-en.eml",
        Command::Approve(ApproveOptions::default()),
    );
}

#[test]
fn yahoo() {
    expect("yahoo-en.eml", Command::Approve(ApproveOptions::default()));
}

#[test]
fn iphone_vietnamese() {
    expect("iphone-vi.eml", Command::Approve(ApproveOptions::default()));
}

#[test]
fn android_gmail_without_diacritics() {
    expect(
        "android-gmail-vi.eml",
        Command::Reject {
            reason: "anh mo, de nghi gui anh goc".into(),
        },
    );
}

#[test]
fn outlook_mobile_reassign() {
    expect(
        "outlook-mobile-en.eml",
        Command::Reassign {
            to: "photruongban@example.test".into(),
        },
    );
}
