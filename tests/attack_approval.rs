//! Attacks on approval by e-mail (issue 13), through real Dovecot and
//! Postfix: each test feeds the daemon what an attacker would send and
//! checks that nothing changed, then that the legitimate path still works.
//!
//! - item 1: credits from a forged sender;
//! - item 2: an old approval replayed against a new version, and against a
//!   correction the approver asked for;
//! - item 5: two From headers, or only a Sender;
//! - item 8: a classified mail released at the console and approved.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::time::{Duration, Instant};

use bientap::publish::SiteDb;
use common::*;
use sqlx::Row;

/// A board whose approver is `approver` ("head" or "deputy"), publishing
/// at once into a SQLite portal database of its own.
fn board(
    stack: &'static MailStack,
    p: &People,
    approver: &str,
) -> (Board, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let site_url = format!("sqlite://{}", dir.path().join("portal.db").display());
    let b = Board::with_members(
        &p.board,
        Mailbox::imap(stack, "starttls"),
        None,
        &p.members(),
        &format!(
            "[review]\ndefault_approver = \"{approver}\"\n\n[site]\nurl = \"{site_url}\"\nmedia_dir = \"media\"\n\
             media_url = \"https://portal.example.test/media\"\narticle_url = \"https://portal.example.test/tin/{{slug}}\"\n\
             publish = \"immediately\"\n"
        ),
    );
    (b, site_url, dir)
}

async fn state_of(b: &Board, code: &str) -> bientap::store::TicketDetail {
    let store = b.store().await;
    let t = store.ticket(code).await.unwrap().unwrap();
    store.close().await;
    t
}

async fn articles(site_url: &str) -> i64 {
    let site = SiteDb::open(site_url).await.unwrap();
    sqlx::query("SELECT COUNT(*) FROM articles")
        .fetch_one(site.pool())
        .await
        .unwrap()
        .try_get::<i64, _>(0)
        .unwrap()
}

/// Item 1: a mail "From" the submitter, answering with the ticket's code in
/// the subject but no token and no reference, names an author and a
/// source; the approved ticket is held for missing credits. It changes
/// nothing and nothing is published. The sender's real answer to their
/// receipt (which carries their token) supplies the credits.
#[tokio::test]
async fn forged_credits_change_nothing() {
    let stack = stack();
    let p = People::new("forgedcredits");
    let (b, site_url, _dir) = board(stack, &p, "head");
    let mut daemon = b.start();
    p.send_article(
        stack,
        "Khánh thành nhà văn hóa thôn 3",
        "Sáng nay thôn 3 khánh thành nhà văn hóa mới.",
    );
    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    let code = code_in(&note.subject);
    let receipt = stack.wait_mail(&p.ctv, "Đã nhận bài").await;
    assert!(
        receipt.reply_to.is_some(),
        "the receipt carries the sender's token"
    );
    stack.answer(&note, &p.head, "DUYỆT");
    wait_events(&b, &code, "held", 1, &mut daemon).await;

    let forged = article(
        &p.ctv,
        &p.board,
        &format!("Re: [{code}] Khánh thành nhà văn hóa thôn 3"),
        "Tác giả: Kẻ Giả Mạo\nNguồn: evil.test",
    );
    stack.send_smtp("attacker@sink.example.test", &[&p.board], &forged);
    wait_events(&b, &code, "denied", 1, &mut daemon).await;
    let t = state_of(&b, &code).await;
    assert_eq!(t.summary.state, "approved");
    assert_eq!(t.summary.author, "", "{:?}", t.events);
    assert_eq!(t.summary.source, "");
    let denied = t.events.iter().find(|e| e.kind == "denied").unwrap();
    assert!(denied.detail.contains("no token"), "{}", denied.detail);
    assert_eq!(articles(&site_url).await, 0, "nothing published");

    // The sender, answering their receipt, supplies the credits: published.
    stack.answer(
        &receipt,
        &p.ctv,
        "Tác giả: Nguyễn Văn An\nNguồn: UBND xã Ea Sô",
    );
    let t = b.wait_state(&code, "published", &mut daemon).await;
    assert_eq!(t.summary.author, "Nguyễn Văn An");
    assert_eq!(t.summary.source, "UBND xã Ea Sô");
    let credits = t.events.iter().find(|e| e.kind == "credits").unwrap();
    assert!(credits.verified.contains("token"), "{}", credits.verified);
    let site = SiteDb::open(&site_url).await.unwrap();
    let row = sqlx::query("SELECT author, source FROM articles WHERE origin = $1")
        .bind(&code)
        .fetch_one(site.pool())
        .await
        .unwrap();
    assert_eq!(
        bientap::publish::text(&row, "author").unwrap(),
        "Nguyễn Văn An"
    );
    daemon.stop();
}

/// Item 2: after a SỬA round, the reviewer's round-1 DUYỆT (re-sent with a
/// new Message-ID) does not approve version 2 unseen; after the approver
/// asks for a correction of the approved article, replaying the approval
/// of version 2 does not cancel it. Each time the reviewer is told the
/// mail is out of date; the current notification still works.
#[tokio::test]
async fn an_old_approval_cannot_approve_a_new_version() {
    let stack = stack();
    let p = People::new("oldapproval");
    let (b, _site, _dir) = board(stack, &p, "deputy");
    let mut daemon = b.start();
    p.send_article(
        stack,
        "Hội thi nấu ăn",
        "Hội phụ nữ xã tổ chức hội thi nấu ăn.\n\nBài: Lê Văn Bình\nNguồn: Hội phụ nữ xã",
    );
    let note1 = stack.wait_mail(&p.deputy, "Cần duyệt").await;
    let code = code_in(&note1.subject);
    stack.answer(&note1, &p.deputy, "SỬA: ghi rõ số đội tham gia");
    let ask = stack.wait_mail(&p.ctv, "Đề nghị sửa bài").await;
    stack.answer(
        &ask,
        &p.ctv,
        "Hội phụ nữ xã tổ chức hội thi nấu ăn với 9 đội tham gia.\n\nBài: Lê Văn Bình\nNguồn: Hội phụ nữ xã",
    );
    b.wait_state(&code, "reviewing", &mut daemon).await;
    let note2 = stack.wait_nth_mail(&p.deputy, "Cần duyệt", 2).await;
    assert_ne!(note1.reply_to, note2.reply_to, "each round has its token");

    // The round-1 approval, sent again (a new Message-ID).
    stack.answer(&note1, &p.deputy, "DUYỆT");
    wait_events(&b, &code, "denied", 1, &mut daemon).await;
    let t = state_of(&b, &code).await;
    assert_eq!(t.summary.state, "reviewing", "version 2 was not approved");
    let explained = stack.wait_mail(&p.deputy, "Chưa thực hiện được").await;
    assert!(explained.text.contains("đã cũ"), "{}", explained.text);
    assert!(explained.text.contains("phiên bản 2"), "{}", explained.text);

    // Version 2 approved through its own notification.
    stack.answer(&note2, &p.deputy, "DUYỆT");
    b.wait_state(&code, "published", &mut daemon).await;
    // The approver asks for a correction (answering "Đã đăng").
    let published = stack.wait_mail(&p.deputy, "Đã đăng").await;
    stack.answer(&published, &p.deputy, "SỬA: sai tên hội thi");
    b.wait_state(&code, "needs_changes", &mut daemon).await;
    // Replaying the approval of version 2 does not cancel the correction.
    stack.answer(&note2, &p.deputy, "DUYỆT");
    wait_events(&b, &code, "denied", 2, &mut daemon).await;
    let t = state_of(&b, &code).await;
    assert_eq!(t.summary.state, "needs_changes");
    assert_eq!(
        t.events.iter().filter(|e| e.kind == "approved").count(),
        1,
        "{:#?}",
        t.events
    );
    daemon.stop();
}

/// Item 5: a reply with the approver's valid token but two From headers
/// (the attacker's first, the approver's last), or an empty From with
/// `Sender: <approver>`, is recorded as denied; a submission with two From
/// headers is quarantined. The approver's own reply then works.
#[tokio::test]
async fn two_from_headers_or_only_a_sender_never_act() {
    let stack = stack();
    let p = People::new("twofrom");
    let (b, _site, _dir) = board(stack, &p, "deputy");
    let mut daemon = b.start();
    p.send_article(stack, "Tin thể thao", "Giải cầu lông xã.");
    let note = stack.wait_mail(&p.deputy, "Cần duyệt").await;
    let code = code_in(&note.subject);
    let to = note.reply_to.clone().unwrap();

    // Delivered as they are (LMTP): Postfix would add a missing From.
    let two = note.reply_with(&p.deputy, "DUYỆT", &["From: attacker@sink.example.test"]);
    stack.deliver_lmtp("attacker@sink.example.test", &[&to], &two);
    wait_events(&b, &code, "denied", 1, &mut daemon).await;
    let sender_only = note.reply_with("", "DUYỆT", &[&format!("Sender: {}", p.deputy)]);
    stack.deliver_lmtp("attacker@sink.example.test", &[&to], &sender_only);
    wait_events(&b, &code, "denied", 2, &mut daemon).await;
    let t = state_of(&b, &code).await;
    assert_eq!(t.summary.state, "reviewing");
    assert!(
        t.events
            .iter()
            .filter(|e| e.kind == "denied")
            .all(|e| e.detail.contains("single From")),
        "{:#?}",
        t.events
    );

    let mut raw = b"From: attacker@sink.example.test\r\n".to_vec();
    raw.extend(p.article("Tin giả", "Nội dung."));
    stack.deliver_lmtp("attacker@sink.example.test", &[&p.board], &raw);
    wait_for(
        Duration::from_secs(60),
        "the submission quarantined",
        || async {
            let out = b.cli(&["quarantine", "list", "--json"]);
            let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
            list.iter()
                .any(|q| q["reason"].as_str().unwrap().contains("2 sender addresses"))
        },
    )
    .await;

    stack.answer(&note, &p.deputy, "DUYỆT");
    b.wait_state(&code, "approved", &mut daemon).await;
    assert_eq!(
        b.tickets().await.len(),
        1,
        "the forged submission made no ticket"
    );
    daemon.stop();
}

/// Item 8: a [MẬT] mail is quarantined; releasing it needs a named
/// declassification (recorded); approved, it is still never published:
/// held, the heads told, the console refuses too.
#[tokio::test]
async fn a_classified_mail_released_and_approved_is_never_published() {
    let stack = stack();
    let p = People::new("classified");
    let (b, site_url, _dir) = board(stack, &p, "head");
    let mut daemon = b.start();
    p.send_article(
        stack,
        "[MẬT] Kế hoạch bảo vệ mục tiêu",
        "Nội dung kế hoạch.\n\nBài: Trần Văn Cường\nNguồn: Công an xã",
    );
    stack.wait_mail(&p.head, "đã được cách ly").await;
    let list: Vec<serde_json::Value> =
        serde_json::from_slice(&b.cli(&["quarantine", "list", "--json"]).stdout).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().unwrap().to_string();

    let refused = b.cli(&["quarantine", "release", &id]);
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--declassified-by"), "{err}");
    assert!(b.tickets().await.is_empty());

    let out = b.cli(&[
        "quarantine",
        "release",
        &id,
        "--declassified-by",
        "Hoàng Minh Đức",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let store = b.store().await;
    let who: String = sqlx::query_scalar("SELECT declassified_by FROM messages WHERE id = $1")
        .bind(id.parse::<i64>().unwrap())
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    assert_eq!(who, "Hoàng Minh Đức");

    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    let code = code_in(&note.subject);
    stack.answer(&note, &p.head, "DUYỆT");
    let start = Instant::now();
    loop {
        let t = state_of(&b, &code).await;
        if t.events
            .iter()
            .any(|e| e.kind == "held" && e.detail.contains("R10"))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no classified hold on {code}: {:#?}\n{}",
            t.events,
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let told = stack.wait_mail(&p.head, "không được đăng").await;
    assert!(told.text.contains("MẬT"), "{}", told.text);
    stack.wait_mail(&p.head2, "không được đăng").await;
    assert_eq!(state_of(&b, &code).await.summary.state, "approved");
    assert_eq!(articles(&site_url).await, 0, "nothing reached the portal");

    let console = b.cli(&["publish", &code]);
    assert!(!console.status.success());
    let err = String::from_utf8_lossy(&console.stderr);
    assert!(err.contains("classification"), "{err}");
    assert_eq!(articles(&site_url).await, 0);
    daemon.stop();
}

/// Mail sent before the upgrade carries tokens over ticket, member and
/// stage only: they still prove the member in the round the ticket was in
/// at the upgrade, and in no later one.
#[tokio::test]
async fn tokens_from_before_the_upgrade_count_in_that_round_only() {
    use hmac::{Hmac, Mac};
    let stack = stack();
    let p = People::new("legacy");
    let (b, _site, _dir) = board(stack, &p, "deputy");
    let mut daemon = b.start();
    p.send_article(stack, "Tin cũ", "Bài gửi trước khi nâng cấp.");
    let note = stack.wait_mail(&p.deputy, "Cần duyệt").await;
    let code = code_in(&note.subject);
    // As the migration leaves a ticket open at the upgrade.
    let store = b.store().await;
    sqlx::query("UPDATE tickets SET legacy_round = round WHERE code = $1")
        .bind(&code)
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
    let key = hex::decode(
        std::fs::read_to_string(b.state_dir().join("reply.key"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{code}\0{}\0reviewing", p.deputy).as_bytes());
    let old = hex::encode(mac.finalize().into_bytes())[..16].to_string();
    let (local, domain) = p.board.split_once('@').unwrap();
    let old_address = format!("{local}+{}.{old}@{domain}", code.to_lowercase());
    let reply = |text: &str| {
        article(
            &p.deputy,
            &old_address,
            &format!("Re: [{code}] Cần duyệt"),
            text,
        )
    };

    stack.send_smtp(&p.deputy, &[&old_address], &reply("SỬA: thêm ảnh"));
    let t = b.wait_state(&code, "needs_changes", &mut daemon).await;
    let asked = t
        .events
        .iter()
        .find(|e| e.kind == "changes_requested")
        .unwrap();
    assert!(
        asked.verified.contains("before the upgrade"),
        "{}",
        asked.verified
    );
    // The round of the upgrade is over: the same token proves nothing.
    stack.send_smtp(&p.deputy, &[&old_address], &reply("DUYỆT"));
    wait_events(&b, &code, "denied", 1, &mut daemon).await;
    assert_eq!(state_of(&b, &code).await.summary.state, "needs_changes");
    daemon.stop();
}
