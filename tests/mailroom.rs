//! The mail room end to end: real mail sent through Postfix into Dovecot,
//! read by the real `bientap` binary over IMAP, tickets checked in the
//! state database.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::time::Duration;

use common::*;

/// Every fixture through SMTP → Postfix → Dovecot → IMAP (STARTTLS) →
/// bientap: three tickets, one reply, one dropped auto-reply, one
/// quarantined mail; everything moved out of the inbox.
#[tokio::test]
async fn mailed_submissions_become_tickets() {
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("board"));
    for name in [
        "01-member-plain-photo.eml",
        "02-stranger-html-inline.eml",
        "03-windows-1258.eml",
        "04-out-of-office.eml",
    ] {
        stack.send_smtp("sender@sink.example.test", &[&board], &fixture(name));
    }
    stack.wait_delivered(&board, "INBOX", 4);

    let b = Board::new(&board, Mailbox::imap(stack, "starttls"), None, "");
    let mut daemon = b.start();
    let tickets = wait_tickets(&b, 3, &mut daemon).await;

    // A reply about the first ticket and a mail without sender arrive
    // while the daemon runs (IDLE).
    let first = tickets
        .iter()
        .find(|t| t.title == "Hội nghị tổng kết công tác năm 2026")
        .expect("member ticket");
    let reply = String::from_utf8(fixture("05-reply-outlook-vi.eml"))
        .unwrap()
        .replace("BBT-2026-0001", &first.code);
    stack.send_smtp("an.nv@collab.example.test", &[&board], reply.as_bytes());
    // Postfix would add a From header to a mail from loopback that lacks
    // one; LMTP hands it to Dovecot as it is.
    stack.deliver_lmtp(
        "nobody@sink.example.test",
        &[&board],
        &fixture("06-no-sender.eml"),
    );

    let store = b.store().await;
    wait_for(Duration::from_secs(60), "6 messages recorded", || async {
        store
            .message_counts()
            .await
            .unwrap()
            .iter()
            .map(|(_, n)| n)
            .sum::<i64>()
            == 6
    })
    .await;
    let counts: std::collections::BTreeMap<String, i64> =
        store.message_counts().await.unwrap().into_iter().collect();
    assert_eq!(counts.get("submission"), Some(&3), "{counts:?}");
    assert_eq!(counts.get("reply"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("automatic"), Some(&1), "{counts:?}");
    assert_eq!(counts.get("quarantined"), Some(&1), "{counts:?}");

    let tickets = b.tickets().await;
    assert_eq!(tickets.len(), 3);
    let titles: Vec<&str> = tickets.iter().map(|t| t.title.as_str()).collect();
    assert!(
        titles.contains(&"Ngày hội Đại đoàn kết toàn dân tộc ở thôn 3"),
        "{titles:?}"
    );
    // windows-1258 subject with combining tone marks arrives composed (NFC).
    assert!(titles.contains(&"Phong trào sản xuất giỏi"), "{titles:?}");

    // Member matched, strangers marked; server arrival time drives the deadline.
    let member = tickets
        .iter()
        .find(|t| t.sender == "an.nv@collab.example.test")
        .unwrap();
    assert!(member.sender_is_member);
    assert_eq!(member.sender_unit, "UBND xã Ea Sô");
    assert_eq!(member.attachments, 1);
    assert_eq!(member.due_ms - member.received_ms, 3 * 24 * 3600 * 1000);
    let stranger = tickets
        .iter()
        .find(|t| t.sender == "binh.tt@sink.example.test")
        .unwrap();
    assert!(!stranger.sender_is_member);

    let detail = store.ticket(&member.code).await.unwrap().unwrap();
    let v1 = &detail.versions[0];
    assert_eq!(v1.attachments[0].filename, "Ảnh hội nghị.jpg");
    assert!(b.archived(&v1.attachments[0].sha256).is_file());
    assert!(
        detail
            .events
            .iter()
            .any(|e| e.kind == "reply" && e.detail.starts_with("Xin bổ sung")),
        "{:?}",
        detail.events
    );
    assert!(
        !detail.events.iter().any(|e| e.detail.contains("Đã gửi")),
        "quoted history leaked into the reply"
    );

    let html = store
        .ticket(&stranger.code)
        .await
        .unwrap()
        .unwrap()
        .versions[0]
        .body_html
        .clone();
    assert!(html.contains("src=\"attachment:"), "{html}");
    assert!(
        !html.contains("script") && !html.contains("onmouseover") && !html.contains("javascript"),
        "{html}"
    );

    let quarantined = store.quarantined(10).await.unwrap();
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0].reason.contains("no sender"),
        "{:?}",
        quarantined[0]
    );
    assert!(b.archived(&quarantined[0].sha256).is_file());

    // Everything left the inbox for the processed folder.
    wait_until(Duration::from_secs(30), "inbox emptied", || {
        stack.count(&board, "INBOX") == 0
    });
    assert_eq!(stack.count(&board, "Processed"), 6);

    let status = daemon.stop();
    assert!(
        status.success(),
        "bientap exited with {status}; log:\n{}",
        daemon.log_text()
    );
    store.close().await;

    // The CLI shows the same tickets.
    let out = b.cli(&["tickets", "list", "--json"]);
    assert!(out.status.success());
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 3);
    for field in [
        "code",
        "state",
        "title",
        "sender",
        "received_at",
        "due_at",
        "attachments",
    ] {
        assert!(
            listed[0].get(field).is_some(),
            "missing {field} in {listed}"
        );
    }
}

/// Implicit TLS with XOAUTH2 (a token Dovecot validates itself), and plain
/// TCP with LOGIN; both with `run --once`.
#[tokio::test]
async fn implicit_tls_with_xoauth2_and_plain_login() {
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("oauth"));
    stack.deliver_lmtp(
        "an.nv@collab.example.test",
        &[&board],
        &fixture("01-member-plain-photo.eml"),
    );

    let token_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(token_file.path(), jwt_for(stack, &board)).unwrap();
    let b = Board::new(
        &board,
        Mailbox::Imap {
            stack,
            tls: "implicit",
            auth: ImapAuth::OAuth2TokenFile(token_file.path().to_path_buf()),
        },
        None,
        "",
    );
    b.run_once();
    assert_eq!(b.tickets().await.len(), 1);
    assert_eq!(stack.count(&board, "INBOX"), 0);

    // A token of another user is refused with a clear message.
    std::fs::write(
        token_file.path(),
        jwt_for(stack, "someone-else@example.test"),
    )
    .unwrap();
    let out = b.cli(&["run", "--once"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("login as") && err.contains("refused"), "{err}");

    let plain_board = format!("{}@{DOMAIN}", unique("plain"));
    stack.deliver_lmtp(
        "x@sink.example.test",
        &[&plain_board],
        &fixture("03-windows-1258.eml"),
    );
    let p = Board::new(&plain_board, Mailbox::imap(stack, "none"), None, "");
    p.run_once();
    assert_eq!(p.tickets().await[0].title, "Phong trào sản xuất giỏi");
}

/// The same message twice (same Message-ID, different delivery headers)
/// gives one ticket; both copies leave the inbox.
#[tokio::test]
async fn duplicates_give_one_ticket() {
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("dup"));
    let raw = fixture("01-member-plain-photo.eml");
    stack.send_smtp("an.nv@collab.example.test", &[&board], &raw);
    stack.deliver_lmtp("an.nv@collab.example.test", &[&board], &raw);
    stack.wait_delivered(&board, "INBOX", 2);
    let b = Board::new(&board, Mailbox::imap(stack, "starttls"), None, "");
    b.run_once();
    assert_eq!(b.tickets().await.len(), 1);
    assert_eq!(stack.count(&board, "INBOX"), 0);
    assert_eq!(stack.count(&board, "Processed"), 2);

    // Replaying the whole mailbox (both copies back in the inbox) changes nothing.
    for raw in stack.messages(&board, "Processed") {
        stack.deliver_lmtp("an.nv@collab.example.test", &[&board], &raw);
    }
    let out = b.cli(&["run", "--once"]);
    assert!(out.status.success());
    assert_eq!(b.tickets().await.len(), 1);
}

/// A message over the size limit is streamed to the archive in pieces and
/// quarantined with the reason; the bytes are kept.
#[tokio::test]
async fn oversized_mail_is_quarantined_with_its_bytes() {
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("big"));
    let mut raw = b"From: an.nv@collab.example.test\r\nSubject: Video\r\nMessage-ID: <big@x>\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    while raw.len() < 2_600_000 {
        raw.extend_from_slice(
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0NTY3\r\n",
        );
    }
    stack.deliver_lmtp("an.nv@collab.example.test", &[&board], &raw);
    stack.deliver_lmtp(
        "an.nv@collab.example.test",
        &[&board],
        &fixture("03-windows-1258.eml"),
    );
    let b = Board::new(&board, Mailbox::imap(stack, "starttls"), None, "");
    b.set("storage", "max_message_size = \"1M\"");
    b.run_once();
    let store = b.store().await;
    let q = store.quarantined(10).await.unwrap();
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(q[0].reason.contains("over the limit"), "{}", q[0].reason);
    // The stored bytes are what Dovecot serves: its Maildir file (with its
    // delivery headers), lines ending in CRLF as IMAP sends them.
    let delivered = stack
        .messages(&board, "Processed")
        .into_iter()
        .find(|m| m.len() > 2_000_000)
        .unwrap();
    let served: Vec<u8> = delivered
        .split_inclusive(|b| *b == b'\n')
        .flat_map(|line| match line.strip_suffix(b"\n") {
            Some(l) if !l.ends_with(b"\r") => [l, b"\r\n".as_slice()].concat(),
            _ => line.to_vec(),
        })
        .collect();
    let archived = std::fs::read(b.archived(&q[0].sha256)).unwrap();
    assert_eq!(archived.len(), served.len());
    assert!(
        archived == served,
        "archived bytes differ from the delivered message"
    );
    assert_eq!(
        b.tickets().await.len(),
        1,
        "the small message still became a ticket"
    );
}

/// UIDVALIDITY changes (the folder was recreated): bientap rereads the
/// folder from the start instead of skipping new mail by old UIDs.
#[tokio::test]
async fn uidvalidity_change_rereads_the_folder() {
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("uidv"));
    let b = Board::new(&board, Mailbox::imap(stack, "starttls"), None, "");
    b.set("imap", "folder = \"Submissions\"");

    let imap = imap_session(stack, &board).await;
    let mut imap = imap;
    imap.create("Submissions").await.unwrap();
    for i in 0..3 {
        let raw = format!(
            "From: a{i}@sink.example.test\r\nSubject: Tin {i}\r\nMessage-ID: <u{i}@x>\r\n\r\nNội dung {i}\r\n"
        );
        imap.append("Submissions", None, None, raw.as_bytes())
            .await
            .unwrap();
    }
    b.run_once();
    assert_eq!(b.tickets().await.len(), 3);

    // Recreate the folder: new UIDVALIDITY, UIDs start at 1 again.
    imap.delete("Submissions").await.unwrap();
    imap.create("Submissions").await.unwrap();
    let raw = "From: new@sink.example.test\r\nSubject: Tin mới\r\nMessage-ID: <u-new@x>\r\n\r\nNội dung\r\n";
    imap.append("Submissions", None, None, raw.as_bytes())
        .await
        .unwrap();
    imap.logout().await.unwrap();

    let log = b.run_once();
    assert!(log.contains("UIDVALIDITY changed"), "{log}");
    let tickets = b.tickets().await;
    assert_eq!(tickets.len(), 4);
    assert!(tickets.iter().any(|t| t.title == "Tin mới"));
}

/// A server without IDLE, MOVE and UIDPLUS: bientap polls, and moves with
/// COPY + \\Deleted + EXPUNGE.
#[tokio::test]
async fn servers_without_idle_or_move() {
    let old = MailStack::private_with(
        "oldcaps",
        "dovecot",
        &[(
            "MAILSTACK_IMAP_CAPABILITY",
            "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE NAMESPACE",
        )],
    );
    let board = format!("{}@{DOMAIN}", unique("old"));
    for name in ["01-member-plain-photo.eml", "03-windows-1258.eml"] {
        old.deliver_lmtp("ctv@sink.example.test", &[&board], &fixture(name));
    }
    let b = Board::new(
        &board,
        Mailbox::Imap {
            stack: &old,
            tls: "starttls",
            auth: ImapAuth::Password,
        },
        None,
        "",
    );
    let mut daemon = b.start();
    wait_tickets(&b, 2, &mut daemon).await;
    // Arrives while the daemon polls.
    old.deliver_lmtp(
        "ctv@sink.example.test",
        &[&board],
        &fixture("02-stranger-html-inline.eml"),
    );
    wait_tickets(&b, 3, &mut daemon).await;
    wait_until(Duration::from_secs(30), "inbox emptied", || {
        old.count(&board, "INBOX") == 0
    });
    assert_eq!(old.count(&board, "Processed"), 3);
    daemon.stop();
    let log = daemon.log_text();
    assert!(
        log.contains("idle=false") && log.contains("move=false"),
        "{log}"
    );
}

/// The state database on PostgreSQL: the same mail room.
#[tokio::test]
async fn state_in_postgres() {
    let pg = PgDatabase::create().await;
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("pg"));
    for name in [
        "01-member-plain-photo.eml",
        "02-stranger-html-inline.eml",
        "03-windows-1258.eml",
        "04-out-of-office.eml",
    ] {
        stack.deliver_lmtp("ctv@sink.example.test", &[&board], &fixture(name));
    }
    let b = Board::new(
        &board,
        Mailbox::imap(stack, "starttls"),
        Some(pg.url.clone()),
        "",
    );
    b.run_once();
    let tickets = b.tickets().await;
    assert_eq!(tickets.len(), 3);
    let out = b.cli(&["tickets", "show", &tickets[2].code]);
    assert!(out.status.success());
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("Hội nghị tổng kết công tác năm 2026"),
        "{shown}"
    );
    assert!(shown.contains("Ảnh hội nghị.jpg"), "{shown}");
    // Running again changes nothing.
    let out = b.cli(&["run", "--once"]);
    assert!(out.status.success());
    assert_eq!(b.tickets().await.len(), 3);
}

/// An authenticated IMAP session for test set-up (plain, loopback).
pub async fn imap_session(
    stack: &MailStack,
    user: &str,
) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.imap_port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}
