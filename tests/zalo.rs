//! The Zalo channel end to end: signed webhooks sent to the running daemon,
//! a local fake of Zalo's OA API (the one stand-in allowed: Zalo's cloud
//! cannot run here), and the same tickets, review by mail and outbox as
//! mailed submissions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::time::Duration;

use common::zalo::{FakeZalo, INTERNAL_SECRET, InternalService, LOOPBACK_DOWNLOADS, sign};
use common::*;
use serde_json::json;

const APP: &str = "360846524940903967";
const OA: &str = "388613280878808645";
const SECRET: &str = "oa-secret-key-for-tests";
const PATH: &str = "/zalo/webhook";

/// A board at `address` with Zalo pointed at `fake`; its mailbox is
/// `mailbox`; `extra` is more configuration; `downloads` the `[zalo]` lines
/// saying where files may be downloaded from ([`LOOPBACK_DOWNLOADS`] to
/// reach the fake).
fn zalo_board(
    fake: &FakeZalo,
    address: &str,
    mailbox: Mailbox<'_>,
    members: &str,
    quiet: &str,
    extra: &str,
    downloads: &str,
) -> Board {
    let zalo = format!(
        "{extra}\n[zalo]\napp_id = \"{APP}\"\noa_id = \"{OA}\"\nsecret_key_file = \"zalo-secret\"\n\
         refresh_token_file = \"zalo-refresh\"\naccess_token_file = \"zalo-access\"\n\
         listen = \"127.0.0.1:0\"\npath = \"{PATH}\"\nquiet_window = \"{quiet}\"\n\
         api_base = \"{0}\"\noauth_base = \"{0}\"\n{downloads}",
        fake.base
    );
    let b = Board::with_members(address, mailbox, None, members, &zalo);
    let (access, refresh) = fake.tokens();
    std::fs::write(b.dir.path().join("zalo-secret"), SECRET).unwrap();
    std::fs::write(b.dir.path().join("zalo-refresh"), refresh).unwrap();
    std::fs::write(b.dir.path().join("zalo-access"), access).unwrap();
    b
}

fn maildir_board(fake: &FakeZalo, quiet: &str) -> Board {
    maildir_board_with(fake, quiet, LOOPBACK_DOWNLOADS)
}

fn maildir_board_with(fake: &FakeZalo, quiet: &str, downloads: &str) -> Board {
    let md = tempfile::tempdir().unwrap().keep();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    zalo_board(
        fake,
        "bbt@example.test",
        Mailbox::Maildir(md),
        DEFAULT_MEMBERS,
        quiet,
        "",
        downloads,
    )
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A webhook body as Zalo sends it.
fn event(name: &str, user: &str, at_ms: i64, message: serde_json::Value) -> String {
    json!({
        "app_id": APP,
        "sender": {"id": user},
        "user_id_by_app": format!("app-{user}"),
        "recipient": {"id": OA},
        "event_name": name,
        "message": message,
        "timestamp": at_ms.to_string(),
    })
    .to_string()
}

fn text_event(user: &str, msg_id: &str, text: &str) -> String {
    event(
        "user_send_text",
        user,
        now_ms(),
        json!({"msg_id": msg_id, "text": text}),
    )
}

/// Posts `body` signed with `secret` (None: no signature header).
fn post(addr: &str, body: &str, secret: Option<&str>) -> u16 {
    let ts = serde_json::from_str::<serde_json::Value>(body).unwrap()["timestamp"]
        .as_str()
        .unwrap()
        .to_string();
    let mac = secret.map(|s| sign(APP, body, &ts, s));
    let headers: Vec<(&str, &str)> = mac
        .as_deref()
        .map(|m| {
            vec![
                ("X-ZEvent-Signature", m),
                ("Content-Type", "application/json"),
            ]
        })
        .unwrap_or_default();
    http_with(addr, "POST", PATH, &headers, body).0
}

/// Sends a correctly signed text event, which must be accepted.
fn send(addr: &str, user: &str, msg_id: &str, text: &str) {
    assert_eq!(
        post(addr, &text_event(user, msg_id, text), Some(SECRET)),
        200
    );
}

async fn count(b: &Board, sql: &str) -> i64 {
    let store = b.store().await;
    let n: i64 = sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    n
}

async fn zalo_tickets(
    b: &Board,
    n: usize,
    daemon: &mut Daemon,
) -> Vec<bientap::store::TicketSummary> {
    let start = std::time::Instant::now();
    loop {
        assert!(daemon.is_running(), "daemon died:\n{}", daemon.log_text());
        let tickets = b.tickets().await;
        if tickets.len() >= n {
            return tickets;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {n} Zalo ticket(s):\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_sent(fake: &FakeZalo, n: usize) {
    let start = std::time::Instant::now();
    while fake.sent().len() < n {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {n} Zalo message(s); sent: {:#?}",
            fake.sent()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Text, three photos and a Word file, then quiet: one ticket with four
/// attachments, and a receipt in Vietnamese through the OA.
#[tokio::test]
async fn text_photos_and_word_file_make_one_ticket_and_a_receipt() {
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = maildir_board(&fake, "2s");
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "246845883529197922";

    let t = now_ms();
    let mut bodies = vec![event(
        "user_send_text",
        user,
        t,
        json!({"msg_id": "m1", "text": "Hội nghị tổng kết công tác năm 2026 của xã Ea Sô.\nSáng 20/11, UBND xã tổ chức hội nghị."}),
    )];
    let photo = std::fs::read(manifest_dir().join("fixtures/images/plain.jpg")).unwrap();
    let gps = std::fs::read(manifest_dir().join("fixtures/images/gps.jpg")).unwrap();
    for (i, bytes) in [photo.clone(), gps, photo].into_iter().enumerate() {
        let url = fake.serve(&format!("anh{i}.jpg"), "image/jpeg", bytes);
        bodies.push(event(
            "user_send_image",
            user,
            t + 1 + i as i64,
            json!({"msg_id": format!("m-img-{i}"), "text": "", "attachments": [{"type": "image", "payload": {"url": url, "thumbnail": url}}]}),
        ));
    }
    let docx = std::fs::read(manifest_dir().join("fixtures/docx/hoi-nghi.docx")).unwrap();
    let url = fake.serve(
        "hoi-nghi.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        docx,
    );
    bodies.push(event(
        "user_send_file",
        user,
        t + 10,
        json!({"msg_id": "m-file", "attachments": [{"type": "file", "payload": {"url": url, "name": "Hội nghị.docx", "size": "9000", "type": "docx"}}]}),
    ));
    // A link that expired before it was fetched: the submission goes ahead
    // without it, and the reviewer is told.
    let gone = format!("{}/media/expired.jpg", fake.base);
    bodies.push(event(
        "user_send_image",
        user,
        t + 11,
        json!({"msg_id": "m-gone", "attachments": [{"type": "image", "payload": {"url": gone, "thumbnail": gone}}]}),
    ));
    for body in &bodies {
        assert_eq!(post(&addr, body, Some(SECRET)), 200);
    }

    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    assert_eq!(tickets.len(), 1, "one submission, one ticket");
    let t = &tickets[0];
    assert_eq!(t.channel, "zalo");
    assert_eq!(t.sender, format!("zalo:{user}"));
    assert!(!t.sender_is_member);
    // The Word file became the article: its own pictures are attached too.
    assert!(t.attachments >= 4, "three photos and the Word file");
    let store = b.store().await;
    let detail = store.ticket(&t.code).await.unwrap().unwrap();
    store.close().await;
    let v = &detail.versions[0];
    assert!(v.body_text.contains("Hội nghị tổng kết"), "{}", v.body_text);
    let sent: Vec<&str> = v
        .attachments
        .iter()
        .filter(|a| !a.inline)
        .map(|a| a.filename.as_str())
        .collect();
    assert_eq!(sent.len(), 4, "three photos and the Word file: {sent:?}");
    assert!(sent.contains(&"Hội nghị.docx"), "{sent:?}");
    assert!(
        v.notes
            .iter()
            .any(|n| n.contains("GPS") || n.contains("vị trí")),
        "the photo's location is removed and noted: {:?}",
        v.notes
    );
    assert!(
        v.notes.iter().any(|n| n.contains("Không tải được tệp")),
        "{:?}",
        v.notes
    );
    assert_eq!(
        count(&b, "SELECT COUNT(*) FROM zalo_events WHERE state = 'done'").await,
        6
    );

    wait_sent(&fake, 1).await;
    let sent = fake.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let (to, text) = &sent[0];
    assert_eq!(to, user);
    assert!(text.contains(&t.code), "{text}");
    assert!(text.contains("Đã nhận bài"), "{text}");
    assert!(text.contains("Hạn duyệt"), "{text}");
    assert_eq!(
        unicode_normalization::UnicodeNormalization::nfc(text.as_str()).collect::<String>(),
        *text,
        "NFC (R24)"
    );
    daemon.stop();
}

/// A forged signature, no signature, a stale timestamp and a replayed
/// message id change nothing; `GỬI` makes the submission at once.
#[tokio::test]
async fn forged_stale_and_replayed_events_change_nothing() {
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = maildir_board(&fake, "10m");
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000001";

    let forged = text_event(user, "f1", "Bài giả mạo");
    assert_eq!(post(&addr, &forged, Some("not-the-secret")), 401);
    assert_eq!(post(&addr, &forged, None), 401);
    let stale = event(
        "user_send_text",
        user,
        now_ms() - 3_600_000,
        json!({"msg_id": "s1", "text": "Bài cũ phát lại"}),
    );
    assert_eq!(post(&addr, &stale, Some(SECRET)), 200);
    assert_eq!(count(&b, "SELECT COUNT(*) FROM zalo_events").await, 0);

    let good = text_event(user, "g1", "Tin hoạt động văn nghệ chào mừng ngày 20/11.");
    assert_eq!(post(&addr, &good, Some(SECRET)), 200);
    assert_eq!(
        post(&addr, &good, Some(SECRET)),
        200,
        "a redelivery is acknowledged"
    );
    assert_eq!(count(&b, "SELECT COUNT(*) FROM zalo_events").await, 1);
    // A sticker is recorded and ignored.
    let sticker = event(
        "user_send_sticker",
        user,
        now_ms(),
        json!({"msg_id": "st1", "attachments": [{"type": "sticker", "payload": {"id": "1", "url": "http://127.0.0.1:1/s"}}]}),
    );
    assert_eq!(post(&addr, &sticker, Some(SECRET)), 200);
    assert_eq!(
        count(
            &b,
            "SELECT COUNT(*) FROM zalo_events WHERE state = 'ignored'"
        )
        .await,
        1
    );
    assert!(b.tickets().await.is_empty(), "the sender is not quiet yet");

    send(&addr, user, "g2", "GỬI");
    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    assert_eq!(tickets.len(), 1);
    assert!(
        tickets[0].title.contains("văn nghệ"),
        "{}",
        tickets[0].title
    );
    // Replayed after it was used: still one ticket.
    assert_eq!(post(&addr, &good, Some(SECRET)), 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(b.tickets().await.len(), 1);
    wait_sent(&fake, 1).await;
    assert_eq!(fake.sent().len(), 1);

    // What the sysadmin sees.
    let (code, metrics) = http(&b.endpoint(), "GET", "/metrics");
    assert_eq!(code, 200);
    assert!(
        metrics.contains("bientap_zalo_refused_total 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("bientap_zalo_events_total 3\n"),
        "{metrics}"
    );
    let (code, health) = http(&b.endpoint(), "GET", "/healthz");
    assert_eq!(code, 200, "{health}");
    assert!(health.contains("zalo"), "{health}");
    let status = b.cli(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("zalo"), "{status}");
    daemon.stop();
}

/// An expired access token is renewed once, the message goes out once, and
/// the rotated refresh token is in the state database (the old one is dead
/// at Zalo): a restart uses the stored pair.
#[tokio::test]
async fn expired_token_is_renewed_and_the_new_refresh_token_kept() {
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = maildir_board(&fake, "10m");
    fake.expire_access_token();
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000002";
    send(&addr, user, "a1", "Tin về phong trào thể thao. GỬI");
    send(&addr, user, "a2", "gửi");
    zalo_tickets(&b, 1, &mut daemon).await;
    wait_sent(&fake, 1).await;
    assert_eq!(fake.refreshes(), 1);
    let (_, refresh) = fake.tokens();
    assert_ne!(refresh, "refresh-1");
    let store = b.store().await;
    let stored: String = sqlx::query_scalar("SELECT refresh_token FROM zalo_tokens WHERE id = 1")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    assert_eq!(
        stored, refresh,
        "the rotated refresh token is stored at once"
    );
    daemon.stop();

    // After a restart the stored tokens serve: no second refresh (the
    // configured refresh token would now be refused).
    let _ = std::fs::remove_file(b.state_dir().join("daemon.json"));
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let other = "9000000000000000003";
    send(&addr, other, "b1", "Tin thứ hai");
    send(&addr, other, "b2", "HẾT");
    zalo_tickets(&b, 2, &mut daemon).await;
    wait_sent(&fake, 2).await;
    assert_eq!(fake.refreshes(), 1);
    assert_eq!(fake.sent().len(), 2);
    daemon.stop();
}

/// Killed between the 200 and the processing: after the restart the
/// events make their ticket, exactly once, and one receipt.
#[tokio::test]
async fn accepted_event_survives_kill_9_and_is_processed_once() {
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = maildir_board(&fake, "10m");
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000004";
    send(&addr, user, "k1", "Tin về lễ hội cồng chiêng.");
    send(&addr, user, "k2", "Kèm lời cảm ơn.");
    daemon.kill9();
    assert!(b.tickets().await.is_empty());

    b.set("zalo", "quiet_window = \"1s\"");
    let text = std::fs::read_to_string(&b.config).unwrap();
    std::fs::write(&b.config, text.replacen("quiet_window = \"10m\"\n", "", 1)).unwrap();
    let _ = std::fs::remove_file(b.state_dir().join("daemon.json"));
    let mut daemon = b.start();
    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    assert_eq!(tickets.len(), 1);
    let store = b.store().await;
    let detail = store.ticket(&tickets[0].code).await.unwrap().unwrap();
    store.close().await;
    let body = &detail.versions[0].body_text;
    assert!(
        body.contains("cồng chiêng") && body.contains("cảm ơn"),
        "{body}"
    );
    wait_sent(&fake, 1).await;
    daemon.stop();

    // Another restart: nothing more.
    let _ = std::fs::remove_file(b.state_dir().join("daemon.json"));
    let mut daemon = b.start();
    b.running("zalo");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(b.tickets().await.len(), 1);
    assert_eq!(fake.sent().len(), 1);
    daemon.stop();
}

/// A board reading IMAP whose head approves, with Zalo.
fn reviewed_board(stack: &'static MailStack, tag: &str) -> (People, FakeZalo, Board) {
    let p = People::new(tag);
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = zalo_board(
        &fake,
        &p.board,
        Mailbox::imap(stack, "starttls"),
        &p.members(),
        "10m",
        "[review]\ndefault_approver = \"head\"\n",
        LOOPBACK_DOWNLOADS,
    );
    (p, fake, b)
}

/// The reviewer asks for changes and then decides by mail; the Zalo sender
/// hears both in Zalo (with the reason, R7) and answers the change request
/// in Zalo with the next version.
#[tokio::test]
async fn decision_by_mail_reaches_the_zalo_sender() {
    let stack = stack();
    let (p, fake, b) = reviewed_board(stack, "zalo-decide");
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000005";
    send(&addr, user, "d1", "Tin về buổi sinh hoạt chi đoàn.");
    send(&addr, user, "d2", "GỬI");
    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    let code = tickets[0].code.clone();
    wait_sent(&fake, 1).await;

    // Changes asked by mail reach Zalo; the answer in Zalo is version 2.
    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    assert!(note.text.contains("sinh hoạt chi đoàn"), "{}", note.text);
    stack.answer(&note, &p.head, "SỬA: ghi rõ thời gian và địa điểm");
    wait_sent(&fake, 2).await;
    let (to, text) = fake.sent()[1].clone();
    assert_eq!(to, user);
    assert!(text.contains("Đề nghị sửa bài"), "{text}");
    assert!(text.contains("ghi rõ thời gian và địa điểm"), "{text}");
    assert!(text.contains("nhắn GỬI"), "{text}");
    send(
        &addr,
        user,
        "d3",
        "Tin về buổi sinh hoạt chi đoàn, 8 giờ sáng 24/11 tại nhà văn hoá thôn 3.",
    );
    send(&addr, user, "d4", "GỬI");
    wait_sent(&fake, 3).await;
    assert!(
        fake.sent()[2].1.contains("Đã nhận bản sửa"),
        "{:?}",
        fake.sent()
    );
    assert_eq!(b.tickets().await.len(), 1, "the answer is no new ticket");

    let note = stack.wait_nth_mail(&p.head, "Cần duyệt", 2).await;
    assert!(note.text.contains("nhà văn hoá thôn 3"), "{}", note.text);
    stack.answer(&note, &p.head, "TỪ CHỐI: thiếu ảnh và tên tác giả");
    wait_sent(&fake, 4).await;
    let (to, text) = fake.sent()[3].clone();
    assert_eq!(to, user);
    assert!(text.contains(&code), "{text}");
    assert!(text.contains("thiếu ảnh và tên tác giả"), "{text}");
    let store = b.store().await;
    let detail = store.ticket(&code).await.unwrap().unwrap();
    store.close().await;
    assert_eq!(detail.versions.len(), 2);
    assert!(detail.versions.iter().all(|v| v.channel == "zalo"));
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.kind == "rejected" && e.actor == p.head),
        "{:?}",
        detail.events
    );
    // The sender's answer never went to the fake address by mail.
    assert_eq!(
        count(
            &b,
            "SELECT COUNT(*) FROM outbox WHERE channel = 'email' AND recipient LIKE 'zalo:%'"
        )
        .await,
        0
    );
    daemon.stop();
}

/// A member links their Zalo account with a code sent to their mailbox (a
/// wrong code first); their Zalo submissions then carry their name and
/// unit (R4). When Zalo will not deliver to them, the decision goes by
/// mail instead and the ticket says so.
#[tokio::test]
async fn linked_member_submits_and_hears_by_mail_when_zalo_cannot_deliver() {
    let stack = stack();
    let (p, fake, b) = reviewed_board(stack, "zalo-link");
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000006";

    let link = format!("LIÊN KẾT {}", p.deputy.to_uppercase());
    send(&addr, user, "l1", &link);
    let mail = stack.wait_mail(&p.deputy, "Mã liên kết").await;
    let code = mail.subject.rsplit(' ').next().unwrap().to_string();
    assert_eq!(code.len(), 6, "{}", mail.subject);
    wait_sent(&fake, 1).await;
    assert!(
        fake.sent()[0].1.contains("mã gồm 6 chữ số"),
        "{:?}",
        fake.sent()
    );

    let wrong = if code == "000000" { "111111" } else { "000000" };
    send(&addr, user, "l2", wrong);
    wait_sent(&fake, 2).await;
    assert!(fake.sent()[1].1.contains("không đúng"), "{:?}", fake.sent());
    send(&addr, user, "l3", &code);
    wait_sent(&fake, 3).await;
    assert!(
        fake.sent()[2].1.contains("Lê Thị Phương"),
        "{:?}",
        fake.sent()
    );
    assert!(b.tickets().await.is_empty(), "linking makes no ticket");

    send(&addr, user, "s1", "Tin về hội thao cựu chiến binh.");
    send(&addr, user, "s2", "GỬI");
    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    let t = &tickets[0];
    assert_eq!(t.sender, p.deputy);
    assert!(t.sender_is_member);
    assert_eq!(t.sender_name, "Lê Thị Phương");
    assert_eq!(t.channel, "zalo");
    wait_sent(&fake, 4).await;
    assert!(fake.sent()[3].1.contains(&t.code), "receipt by Zalo");
    assert_eq!(
        stack.count_subject(&p.deputy, "Đã nhận bài"),
        0,
        "not by mail"
    );

    fake.unreachable(user);
    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    stack.answer(&note, &p.head, "TỪ CHỐI: trùng nội dung đã đăng");
    let by_mail = stack.wait_mail(&p.deputy, "không được duyệt").await;
    assert!(
        by_mail.text.contains("trùng nội dung đã đăng"),
        "{}",
        by_mail.text
    );
    assert_eq!(fake.sent().len(), 4, "nothing more went by Zalo");
    wait_for(
        Duration::from_secs(30),
        "the change of channel on the ticket",
        || async { b.events(&t.code, "zalo_unreachable").await == 1 },
    )
    .await;
    daemon.stop();
}

/// A Zalo submission quarantined for a dangerous file is released at the
/// console: it becomes the Zalo sender's ticket, and they hear back in Zalo.
#[tokio::test]
async fn quarantined_zalo_submission_is_released_to_its_sender() {
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = maildir_board(&fake, "10m");
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000007";
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00".to_vec();
    exe.extend_from_slice(&[0u8; 512]);
    let url = fake.serve("bao-cao.pdf.exe", "application/octet-stream", exe);
    send(&addr, user, "q1", "Báo cáo kết quả thu hoạch lúa vụ mùa.");
    assert_eq!(
        post(
            &addr,
            &event(
                "user_send_file",
                user,
                now_ms(),
                json!({"msg_id": "q2", "attachments": [{"type": "file", "payload": {"url": url, "name": "bao-cao.pdf.exe", "size": "520"}}]}),
            ),
            Some(SECRET)
        ),
        200
    );
    send(&addr, user, "q3", "GỬI");
    let store = b.store().await;
    let pool = store.pool().clone();
    wait_for(
        Duration::from_secs(60),
        "the quarantined submission",
        || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM messages WHERE source = 'zalo' AND kind = 'quarantined'",
            )
            .fetch_one(&pool)
            .await
            .unwrap()
                == 1
        },
    )
    .await;
    store.close().await;
    assert!(b.tickets().await.is_empty());
    assert!(fake.sent().is_empty(), "no receipt for quarantined mail");

    let out = b.cli(&["quarantine", "list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let out = b.cli(&["quarantine", "release", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    assert_eq!(tickets[0].channel, "zalo");
    assert_eq!(tickets[0].sender, format!("zalo:{user}"));
    wait_sent(&fake, 1).await;
    let (to, text) = fake.sent()[0].clone();
    assert_eq!(to, user);
    assert!(text.contains(&tickets[0].code), "{text}");
    daemon.stop();
}

/// An image event, as Zalo sends it, naming `url`.
fn image_event(user: &str, msg_id: &str, url: &str) -> String {
    event(
        "user_send_image",
        user,
        now_ms(),
        json!({"msg_id": msg_id, "attachments": [{"type": "image", "payload": {"url": url, "thumbnail": url}}]}),
    )
}

/// A file event naming `url`.
fn file_event(user: &str, msg_id: &str, url: &str, name: &str) -> String {
    event(
        "user_send_file",
        user,
        now_ms(),
        json!({"msg_id": msg_id, "attachments": [{"type": "file", "payload": {"url": url, "name": name, "size": "40", "type": "txt"}}]}),
    )
}

/// The ticket's first version's notes and the names of its attachments,
/// after checking that nothing of the internal service reached them.
async fn refused_downloads(b: &Board, code: &str) -> (Vec<String>, Vec<String>) {
    let store = b.store().await;
    let detail = store.ticket(code).await.unwrap().unwrap();
    store.close().await;
    let v = &detail.versions[0];
    assert!(!v.body_text.contains(INTERNAL_SECRET), "{}", v.body_text);
    let refused: Vec<String> = v
        .notes
        .iter()
        .filter(|n| n.contains("bị từ chối"))
        .cloned()
        .collect();
    let attached = v.attachments.iter().map(|a| a.filename.clone()).collect();
    (refused, attached)
}

/// Whoever holds the OA secret key can sign an event naming any address.
/// With the production default (no private addresses), a file URL whose
/// host is on `zalo.download_hosts` but resolves to loopback, an IP host,
/// and the user-info trick are all refused: the internal service is never
/// contacted, the ticket is made without the files, and the reviewer reads
/// why.
#[tokio::test]
async fn signed_event_cannot_make_the_server_fetch_internal_addresses() {
    let internal = InternalService::start();
    let port = internal.port;
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = maildir_board_with(
        &fake,
        "10m",
        "download_hosts = [\"localhost\", \"127.0.0.1\", \"*.zdn.vn\"]\n",
    );
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000008";
    send(&addr, user, "i1", "Tin về hội nghị cán bộ chủ chốt.");
    for body in [
        image_event(user, "i2", &format!("http://localhost:{port}/admin")),
        file_event(
            user,
            "i3",
            &format!("http://127.0.0.1:{port}/latest/meta-data/"),
            "meta.txt",
        ),
        file_event(
            user,
            "i4",
            &format!("http://f21-zpc.zdn.vn@127.0.0.1:{port}/x"),
            "bai.txt",
        ),
    ] {
        assert_eq!(post(&addr, &body, Some(SECRET)), 200);
    }
    send(&addr, user, "i5", "GỬI");
    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    assert_eq!(internal.hits(), 0, "the internal service was contacted");
    let (refused, attached) = refused_downloads(&b, &tickets[0].code).await;
    assert!(attached.is_empty(), "{attached:?}");
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(
        refused
            .iter()
            .any(|n| n.contains("anh-1") && n.contains("mạng nội bộ")),
        "{refused:?}"
    );
    assert!(
        refused
            .iter()
            .any(|n| n.contains("meta.txt") && n.contains("địa chỉ IP")),
        "{refused:?}"
    );
    let log = daemon.log_text();
    assert!(log.contains("Zalo file address refused"), "{log}");
    assert!(
        log.contains("resolves to 127.0.0.1") || log.contains("resolves to ::1"),
        "{log}"
    );
    daemon.stop();
    assert_eq!(internal.hits(), 0);
}

/// Downloads go only to listed hosts, and so does every redirect: a host
/// not on the list is refused, a listed host's redirect to one that is not
/// is stopped before the second hop, and a redirect within the list is
/// followed (the board here opts in to loopback so that the fake Zalo can
/// serve files).
#[tokio::test]
async fn downloads_and_their_redirects_stay_on_the_listed_hosts() {
    let internal = InternalService::start();
    let port = internal.port;
    let fake = FakeZalo::start(APP, SECRET, "access-1", "refresh-1");
    let b = maildir_board_with(&fake, "10m", LOOPBACK_DOWNLOADS);
    let mut daemon = b.start();
    let addr = b.running("zalo");
    let user = "9000000000000000009";
    let photo = std::fs::read(manifest_dir().join("fixtures/images/plain.jpg")).unwrap();
    let served = fake.serve("that.jpg", "image/jpeg", photo);
    let away = fake.redirect("away", &format!("http://localhost:{port}/admin"));
    let within = fake.redirect("within", &served);
    send(&addr, user, "r1", "Tin về lễ khánh thành cầu treo.");
    for body in [
        image_event(user, "r2", &format!("http://localhost:{port}/x")),
        image_event(user, "r3", &away),
        image_event(user, "r4", &within),
    ] {
        assert_eq!(post(&addr, &body, Some(SECRET)), 200);
    }
    send(&addr, user, "r5", "GỬI");
    let tickets = zalo_tickets(&b, 1, &mut daemon).await;
    assert_eq!(internal.hits(), 0, "the internal service was contacted");
    let (refused, attached) = refused_downloads(&b, &tickets[0].code).await;
    assert_eq!(refused.len(), 2, "{refused:?}");
    // Not listed, named in the event.
    assert!(
        refused
            .iter()
            .any(|n| n.contains("localhost") && !n.contains("chuyển hướng")),
        "{refused:?}"
    );
    // Not listed, reached by a redirect.
    assert!(
        refused
            .iter()
            .any(|n| n.contains("localhost") && n.contains("chuyển hướng")),
        "{refused:?}"
    );
    assert_eq!(
        attached.len(),
        1,
        "the redirect within the list: {attached:?}"
    );
    daemon.stop();
    assert_eq!(internal.hits(), 0);
}
