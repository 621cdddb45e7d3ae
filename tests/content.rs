//! What collaborators really send: Word files (a cover note beside the
//! article, legacy fonts, zip bombs), text typed in TCVN3 or VNI, photos with
//! GPS, classified stamps, dangerous attachments, advertising, re-sent and
//! copied articles, missing credits. `bientap inspect` on each fixture, and
//! the mail room end to end through real mailboxes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use common::*;
use serde_json::Value;
use sqlx::Row;

fn content_fixture(name: &str) -> Vec<u8> {
    std::fs::read(manifest_dir().join("fixtures/content").join(name)).unwrap()
}

/// A fixture as sent by `from` to `to`.
fn addressed(name: &str, from: &str, to: &str) -> Vec<u8> {
    String::from_utf8(content_fixture(name))
        .unwrap()
        .replace("an.nv@collab.example.test", from)
        .replace("bbt@example.test", to)
        .into_bytes()
}

fn inspect(name: &str) -> Value {
    let out = std::process::Command::new(bientap_bin())
        .args(["--config", "/nonexistent/bientap.toml", "inspect", "--json"])
        .arg(manifest_dir().join("fixtures/content").join(name))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn notes(v: &Value) -> Vec<String> {
    v["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

fn has_note(v: &Value, needle: &str) -> bool {
    notes(v).iter().any(|n| n.contains(needle))
}

#[test]
fn inspect_reports_every_finding() {
    // A Word file beside a cover note is the article; its image is placed
    // where it stood; the photo's GPS is gone.
    let v = inspect("docx-cover-note.eml");
    assert_eq!(v["kind"], "submission");
    assert_eq!(v["title"], "Hội nghị tổng kết công tác năm 2026");
    let text = v["body_text"].as_str().unwrap();
    assert!(text.contains("Hoàn thành 12/12 chỉ tiêu chủ yếu"), "{text}");
    let html = v["body_html"].as_str().unwrap();
    assert!(html.contains("<table>") && html.contains("<li>"), "{html}");
    assert!(html.contains("<img src=\"attachment:"), "{html}");
    assert!(has_note(
        &v,
        "Nội dung bài lấy từ tệp Word \"Hội nghị tổng kết.docx\"; thư kèm: «Kính gửi Ban biên tập"
    ));
    assert!(has_note(
        &v,
        "Đã xoá dữ liệu vị trí (GPS) khỏi ảnh \"Ảnh hội trường.jpg\""
    ));
    let attachments = v["attachments"].as_array().unwrap();
    let photo = attachments
        .iter()
        .find(|a| a["filename"] == "Ảnh hội trường.jpg")
        .unwrap();
    assert_eq!(photo["dimensions"], serde_json::json!([64, 48]));
    let placed = attachments.iter().find(|a| a["inline"] == true).unwrap();
    assert!(html.contains(placed["sha256"].as_str().unwrap()));
    assert_eq!(v["author"], "Nguyễn Văn An");
    assert_eq!(v["source"], "UBND xã Ea Sô");

    // Legacy fonts and legacy bodies come out as Unicode NFC, noted.
    for (name, enc, expect) in [
        (
            "docx-tcvn3.eml",
            "TCVN3 (ABC)",
            "Hội nghị tổng kết công tác năm 2026",
        ),
        ("docx-vni.eml", "VNI", "Hội nghị tổng kết"),
        (
            "body-vni.eml",
            "VNI",
            "Hội Nông dân xã Ea Sô tổ chức hội thi nhà nông đua tài",
        ),
        (
            "body-tcvn3.eml",
            "TCVN3 (ABC)",
            "Hội Nông dân xã Ea Sô tổ chức hội thi nhà nông đua tài",
        ),
    ] {
        let v = inspect(name);
        assert_eq!(v["converted_from"], enc, "{name}");
        let text = v["body_text"].as_str().unwrap();
        assert!(text.contains(expect), "{name}: {text}");
        assert!(has_note(&v, "Unicode dựng sẵn"), "{name}: {:?}", notes(&v));
    }
    // The subject was Unicode already and stays so.
    assert_eq!(inspect("body-vni.eml")["title"], "Hội thi nhà nông đua tài");

    // Classification stamps: quarantined, content withheld; prose with
    // "mật khẩu", "mật độ", "Mật ong" is an ordinary article.
    for (name, mark) in [
        ("classified-stamp.eml", "TỐI MẬT (line 1)"),
        ("classified-subject.eml", "MẬT (subject)"),
    ] {
        let v = inspect(name);
        assert_eq!(v["classified"], mark, "{name}");
        assert_eq!(v["body_text"], "", "{name}: content withheld");
    }
    let v = inspect("not-classified.eml");
    assert_eq!(v["classified"], Value::Null);
    assert_eq!(v["kind"], "submission");

    // Dangerous attachments and hostile archives are quarantined.
    for (name, reason) in [
        ("executable.eml", "is an executable (Windows PE)"),
        ("macro.eml", "contains Word macros"),
        ("zip-bomb.eml", "possible zip bomb"),
        ("traversal.eml", "unsafe entry name"),
    ] {
        let v = inspect(name);
        assert_eq!(v["kind"], "quarantine", "{name}");
        assert!(
            v["reason"].as_str().unwrap().contains(reason),
            "{name}: {}",
            v["reason"]
        );
    }

    // Flags for the reviewer.
    let v = inspect("advertising.eml");
    assert!(
        has_note(&v, "Cảnh báo R13 (quảng cáo): bài có cụm từ \"khuyến mãi\""),
        "{:?}",
        notes(&v)
    );
    assert!(has_note(&v, "\"hotline\""));
    let v = inspect("heic-photo.eml");
    assert!(has_note(&v, "ở định dạng HEIC"), "{:?}", notes(&v));
    assert!(has_note(&v, "còn dữ liệu vị trí (GPS)"));
    assert!(has_note(&v, "Bài chưa ghi tên tác giả."), "{:?}", notes(&v));
    assert_eq!(v["source"], "Xã đoàn Ea Sô");
}

/// A board reading IMAP with two heads, a deputy and a secretary.
fn board(stack: &'static MailStack, p: &People) -> Board {
    Board::with_members(
        &p.board,
        Mailbox::imap(stack, "starttls"),
        None,
        &p.members(),
        "[review]\ndefault_approver = \"head\"\n",
    )
}

/// A Word file with a cover note becomes the ticket's article; the stored
/// photo has no GPS while the raw message is kept as it came; a corrected
/// Word file typed in TCVN3 becomes version 2 in Unicode.
#[tokio::test]
async fn word_file_becomes_the_article() {
    let stack = stack();
    let p = People::new("docx");
    let b = board(stack, &p);
    let mut daemon = b.start();
    stack.send_smtp(
        &p.ctv,
        &[&p.board],
        &addressed("docx-cover-note.eml", &p.ctv, &p.board),
    );

    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    let code = code_in(&note.subject);
    assert!(
        note.subject.contains("Hội nghị tổng kết công tác năm 2026"),
        "{}",
        note.subject
    );
    assert!(
        note.text.contains("Hoàn thành 12/12 chỉ tiêu chủ yếu"),
        "{}",
        note.text
    );
    assert!(
        note.text
            .contains("Lưu ý:      Nội dung bài lấy từ tệp Word"),
        "{}",
        note.text
    );
    assert!(
        note.text
            .contains("Lưu ý:      Đã xoá dữ liệu vị trí (GPS)"),
        "{}",
        note.text
    );

    let detail = b.store().await.ticket(&code).await.unwrap().unwrap();
    let v1 = &detail.versions[0];
    assert!(v1.body_html.contains("<table>"), "{}", v1.body_html);
    let photo = v1
        .attachments
        .iter()
        .find(|a| a.filename == "Ảnh hội trường.jpg")
        .unwrap();
    assert_eq!((photo.width, photo.height), (Some(64), Some(48)));
    let stored = std::fs::read(b.archived(&photo.sha256)).unwrap();
    assert!(
        !bientap::content::image::has_gps(&stored),
        "the stored photo keeps no location"
    );
    let original = std::fs::read(manifest_dir().join("fixtures/images/gps.jpg")).unwrap();
    assert_ne!(bientap::store::archive::sha256_hex(&original), photo.sha256);
    let raw = std::fs::read(b.archived(&v1.raw_sha256)).unwrap();
    assert!(
        String::from_utf8_lossy(&raw).contains("Content-Disposition: attachment"),
        "the raw message is kept whole"
    );
    assert!(
        v1.attachments
            .iter()
            .any(|a| a.inline && v1.body_html.contains(&a.sha256))
    );

    // A correction sent as a Word file in a legacy font.
    stack.answer(&note, &p.head, "SỬA: xin gửi bản có số liệu mới");
    let ask = stack.wait_mail(&p.ctv, "Đề nghị sửa bài").await;
    let correction = {
        use base64::Engine;
        let doc = base64::engine::general_purpose::STANDARD
            .encode(std::fs::read(manifest_dir().join("fixtures/docx/tcvn3.docx")).unwrap());
        let reply = String::from_utf8(ask.reply(&p.ctv, "Em gửi bản sửa ở tệp đính kèm.")).unwrap();
        let (head, body) = reply.split_once("\r\n\r\n").unwrap();
        let head = head.replace(
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit",
            "Content-Type: multipart/mixed; boundary=\"b1\"",
        );
        format!(
            "{head}\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n\
             --b1\r\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document\r\n\
             Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"ban-sua.docx\"\r\n\r\n{doc}\r\n--b1--\r\n"
        )
    };
    stack.send_smtp(
        &p.ctv,
        &[ask.reply_to.as_deref().unwrap()],
        correction.as_bytes(),
    );
    let detail = b.wait_state(&code, "reviewing", &mut daemon).await;
    assert_eq!(detail.versions.len(), 2);
    let v2 = &detail.versions[1];
    assert!(
        v2.body_text.contains("Hội nghị tổng kết công tác năm 2026"),
        "{}",
        v2.body_text
    );
    assert!(
        v2.notes.iter().any(|n| n.contains("TCVN3")),
        "{:?}",
        v2.notes
    );
    daemon.stop();
}

/// A mail stamped TỐI MẬT makes no ticket, reaches no reviewer and gets no
/// receipt; only the heads learn who sent it and when, not what it says.
#[tokio::test]
async fn classified_mail_reaches_only_the_head() {
    let stack = stack();
    let p = People::new("secret");
    let b = board(stack, &p);
    let mut daemon = b.start();
    stack.send_smtp(
        &p.ctv,
        &[&p.board],
        &addressed("classified-stamp.eml", &p.ctv, &p.board),
    );

    let alert = stack
        .wait_mail(&p.head, "Thư có dấu TỐI MẬT đã được cách ly")
        .await;
    assert!(alert.text.contains(&p.ctv), "{}", alert.text);
    for secret in ["an ninh trật tự", "tuần tra", "Báo cáo tình hình"] {
        assert!(
            !alert.text.contains(secret) && !alert.subject.contains(secret),
            "{secret} leaked: {}",
            alert.text
        );
    }
    let alert2 = stack.wait_mail(&p.head2, "Thư có dấu TỐI MẬT").await;
    assert!(alert2.text.contains("Kính gửi Trần Văn Hải"));
    b.wait_outbox_empty(&mut daemon).await;
    assert!(b.tickets().await.is_empty(), "no ticket");
    for other in [&p.ctv, &p.deputy, &p.secretary] {
        assert_eq!(stack.inbox(other).len(), 0, "{other} got mail");
    }
    let store = b.store().await;
    let row = sqlx::query("SELECT kind, reason, sha256 FROM messages")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(row.try_get::<String, _>("kind").unwrap(), "quarantined");
    assert!(
        row.try_get::<String, _>("reason")
            .unwrap()
            .contains("TỐI MẬT")
    );
    let raw = std::fs::read(b.archived(&row.try_get::<String, _>("sha256").unwrap())).unwrap();
    assert!(
        String::from_utf8_lossy(&raw).contains("an ninh"),
        "the bytes are kept"
    );
    store.close().await;
    daemon.stop();
}

/// The same article sent again joins its ticket; a near copy from someone
/// else is flagged for the reviewer with the earlier ticket and a share.
#[tokio::test]
async fn resent_and_copied_articles() {
    let stack = stack();
    let p = People::new("copies");
    let other = format!("ctv2-{}", p.ctv);
    let b = board(stack, &p);
    let mut daemon = b.start();
    let text = |name: &str| {
        std::fs::read_to_string(manifest_dir().join("fixtures/similar").join(name)).unwrap()
    };
    p.send_article(stack, "Khánh thành cầu", &text("original.txt"));
    let first = stack.wait_mail(&p.head, "Cần duyệt").await;
    let code = code_in(&first.subject);

    p.send_article(stack, "Khánh thành cầu (gửi lại)", &text("resent.txt"));
    let again = stack.wait_mail(&p.ctv, "Bài đã được nhận trước đó").await;
    assert!(again.subject.contains(&code), "{}", again.subject);
    b.wait_event(&code, "resent", &mut daemon).await;
    assert_eq!(b.tickets().await.len(), 1, "no second ticket");

    stack.send_smtp(
        &other,
        &[&p.board],
        &article(
            &other,
            &p.board,
            "Cầu mới ở buôn",
            &text("lightly-edited.txt"),
        ),
    );
    let copy = stack.wait_nth_mail(&p.head, "Cần duyệt", 2).await;
    assert_ne!(code_in(&copy.subject), code);
    let flagged = copy
        .text
        .lines()
        .find(|l| l.contains(&format!("Giống bài {code}")))
        .unwrap_or_else(|| panic!("{}", copy.text));
    let pct: u32 = flagged
        .split_whitespace()
        .find_map(|w| w.strip_suffix("%:").and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("{flagged}"));
    assert!((50..=85).contains(&pct), "{flagged}");

    stack.send_smtp(
        &other,
        &[&p.board],
        &article(&other, &p.board, "Bài khác", &text("different.txt")),
    );
    let different = stack.wait_nth_mail(&p.head, "Cần duyệt", 3).await;
    assert!(!different.text.contains("Giống bài"), "{}", different.text);
    daemon.stop();
}

/// Without author and source the receipt asks for them; the sender's
/// answer puts them on the ticket.
#[tokio::test]
async fn missing_credits_asked_and_supplied() {
    let stack = stack();
    let p = People::new("credits");
    let b = board(stack, &p);
    let mut daemon = b.start();
    p.send_article(
        stack,
        "Tiêm chủng đợt 4",
        "Trạm y tế xã tổ chức tiêm chủng mở rộng đợt 4 cho 150 trẻ em từ ngày 1/12.",
    );
    let receipt = stack.wait_mail(&p.ctv, "Đã nhận bài").await;
    let code = code_in(&receipt.subject);
    assert!(
        receipt
            .text
            .contains("Bài chưa ghi tên tác giả và nguồn tin"),
        "{}",
        receipt.text
    );
    assert!(
        receipt.text.contains("Tác giả: <họ và tên người viết>"),
        "{}",
        receipt.text
    );
    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    assert!(
        note.text
            .contains("Lưu ý:      Bài chưa ghi tên tác giả và nguồn tin"),
        "{}",
        note.text
    );

    stack.answer(
        &receipt,
        &p.ctv,
        "Tác giả: Lê Văn Cường\nNguồn: Trạm y tế xã",
    );
    let event = b.wait_event(&code, "credits", &mut daemon).await;
    assert_eq!(event.detail, "tác giả: Lê Văn Cường, nguồn: Trạm y tế xã");
    let t = b.store().await.ticket(&code).await.unwrap().unwrap();
    assert_eq!(t.summary.author, "Lê Văn Cường");
    assert_eq!(t.summary.source, "Trạm y tế xã");
    assert_eq!(t.summary.state, "reviewing");
    daemon.stop();
}
