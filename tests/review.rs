//! Review by e-mail through real mailboxes: submission → receipt →
//! notification → reply with a command → decision mails; two stages,
//! routing, reassigning; and everything that must change nothing.

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

fn board(stack: &'static MailStack, p: &People, extra: &str) -> Board {
    Board::with_members(
        &p.board,
        Mailbox::imap(stack, "starttls"),
        None,
        &p.members(),
        extra,
    )
}

/// The whole loop with one approver: receipt, notification with the
/// article and its photo, DUYỆT by reply, confirmation, decision.
#[tokio::test]
async fn approve_by_reply() {
    let stack = stack();
    let p = People::new("approve");
    let b = board(stack, &p, "[review]\ndefault_approver = \"head\"\n");
    let mut daemon = b.start();
    let raw = String::from_utf8(fixture("01-member-plain-photo.eml"))
        .unwrap()
        .replace("an.nv@collab.example.test", &p.ctv);
    stack.send_smtp(&p.ctv, &[&p.board], raw.as_bytes());

    let receipt = stack.wait_mail(&p.ctv, "Đã nhận bài").await;
    let code = code_in(&receipt.subject);
    assert_eq!(receipt.auto_submitted.as_deref(), Some("auto-generated"));
    assert!(
        receipt.text.contains(&format!("vào sổ với mã {code}")),
        "{}",
        receipt.text
    );
    assert!(receipt.text.contains("Hạn duyệt:"), "{}", receipt.text);
    assert!(
        receipt.text.contains("Ảnh hội nghị.jpg"),
        "{}",
        receipt.text
    );

    // Both heads hold the approving role; each gets a token of their own.
    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    let note2 = stack.wait_mail(&p.head2, "Cần duyệt").await;
    assert_ne!(note.reply_to, note2.reply_to);
    let reply_to = note.reply_to.clone().unwrap();
    assert!(
        reply_to.starts_with(&format!(
            "{}+{}.",
            p.board.split('@').next().unwrap(),
            code.to_lowercase()
        )),
        "{reply_to}"
    );
    assert!(note.text.contains("Hội nghị tổng kết công tác năm 2026"));
    assert!(
        note.text.contains("Năm 2026, xã hoàn thành 18/20 chỉ tiêu"),
        "the article is in the mail"
    );
    assert!(
        note.text.contains("TỪ CHỐI: <lý do>"),
        "instructions are in the mail"
    );
    assert_eq!(note.attachments, vec!["Ảnh hội nghị.jpg".to_string()]);
    assert!(
        note.html
            .as_deref()
            .unwrap_or_default()
            .contains("<p>Năm 2026"),
        "{:?}",
        note.html
    );

    stack.send_smtp(&p.head, &[&reply_to], &note.reply(&p.head, "DUYỆT"));
    let detail = b.wait_state(&code, "approved", &mut daemon).await;
    let approved = detail.events.iter().find(|e| e.kind == "approved").unwrap();
    assert_eq!(approved.actor, p.head);
    assert_eq!(approved.verified, "token in the reply address");
    assert!(
        approved.message_sha256.is_some(),
        "the deciding message is on record"
    );

    let confirm = stack.wait_mail(&p.head, "Đã ghi nhận").await;
    assert!(confirm.text.contains("DUYỆT"), "{}", confirm.text);
    let decided = stack.wait_mail(&p.ctv, "Bài đã được duyệt").await;
    assert!(
        decided.text.contains("Trưởng ban Hoàng Minh Đức"),
        "{}",
        decided.text
    );

    let shown = String::from_utf8(b.cli(&["tickets", "show", &code]).stdout).unwrap();
    assert!(
        shown.contains("[approved]") && shown.contains("verified: token in the reply address"),
        "{shown}"
    );
    daemon.stop();
}

/// Changes requested → the sender replies with a new version → back to
/// review → rejected with a reason that reaches the sender (R7).
#[tokio::test]
async fn changes_then_new_version_then_reject() {
    let stack = stack();
    let p = People::new("revise");
    let b = board(stack, &p, "[review]\ndefault_approver = \"deputy\"\n");
    let mut daemon = b.start();
    p.send_article(
        stack,
        "Giải bóng đá thanh niên",
        "Sáng nay giải bóng đá khai mạc.",
    );

    let note = stack.wait_mail(&p.deputy, "Cần duyệt").await;
    let code = code_in(&note.subject);
    let to = note.reply_to.clone().unwrap();
    stack.send_smtp(
        &p.deputy,
        &[&to],
        &note.reply(&p.deputy, "SỬA: bổ sung tên tác giả và nguồn tin"),
    );
    b.wait_state(&code, "needs_changes", &mut daemon).await;

    let ask = stack.wait_mail(&p.ctv, "Đề nghị sửa bài").await;
    assert!(
        ask.text.contains("bổ sung tên tác giả và nguồn tin"),
        "{}",
        ask.text
    );
    let ask_to = ask
        .reply_to
        .clone()
        .expect("the change request carries the sender's token");
    let fixed = "Sáng nay giải bóng đá thanh niên khai mạc với 12 đội.\n\nBài: Nguyễn Văn Bình\nNguồn: Xã đoàn";
    stack.send_smtp(&p.ctv, &[&ask_to], &ask.reply(&p.ctv, fixed));

    let detail = b.wait_state(&code, "reviewing", &mut daemon).await;
    assert_eq!(detail.versions.len(), 2);
    assert!(
        detail.versions[1].body_text.contains("khai mạc với 12 đội"),
        "{}",
        detail.versions[1].body_text
    );
    assert!(
        !detail.versions[1].body_text.contains("Đề nghị sửa bài"),
        "the quoted request is not part of the new version"
    );
    stack.wait_mail(&p.ctv, "Đã nhận bản sửa").await;

    // The deputy gets the new version, with a new notification.
    wait_until(Duration::from_secs(60), "second notification", || {
        stack.count_subject(&p.deputy, "Cần duyệt") == 2
    });
    let again = stack
        .inbox(&p.deputy)
        .into_iter()
        .rfind(|m| m.subject.contains("Cần duyệt"))
        .unwrap();
    assert!(again.text.contains("Phiên bản:  2"), "{}", again.text);
    assert!(again.text.contains("khai mạc với 12 đội"), "{}", again.text);
    let to = again.reply_to.clone().unwrap();
    stack.send_smtp(
        &p.deputy,
        &[&to],
        &again.reply(&p.deputy, "Từ chối: trùng với tin đã đăng ngày 20/11"),
    );
    b.wait_state(&code, "rejected", &mut daemon).await;
    let rejected = stack.wait_mail(&p.ctv, "Bài không được duyệt").await;
    assert!(
        rejected
            .text
            .contains("Lý do: trùng với tin đã đăng ngày 20/11"),
        "{}",
        rejected.text
    );
    daemon.stop();
}

/// Two stages (R5) and routing (R3): a [Đảng] article goes to the
/// secretariat, which forwards an edited version to the head (the route's
/// approver); the head hands it to the deputy, who approves it as
/// reference news (R9).
#[tokio::test]
async fn two_stages_routing_and_reassign() {
    let stack = stack();
    let p = People::new("stages");
    let extra = "[review]\nediting_stage = true\ndefault_approver = \"deputy\"\n\n\
                 [[routes]]\ncategory = \"Xây dựng Đảng\"\ntags = [\"Đảng\"]\nkeywords = [\"chi bộ\"]\napprover = \"head\"\n";
    let b = board(stack, &p, extra);
    let mut daemon = b.start();
    p.send_article(
        stack,
        "[Đảng] Đại hội Chi bộ thôn 3",
        "Đại hội chi bộ nhiệm kỳ 2026-2031.",
    );

    let edit = stack.wait_mail(&p.secretary, "Cần biên tập").await;
    let code = code_in(&edit.subject);
    assert!(edit.text.contains("CHUYỂN DUYỆT"), "{}", edit.text);
    assert_eq!(
        stack.count_subject(&p.head, "Cần duyệt"),
        0,
        "the approver waits for the secretariat"
    );
    let to = edit.reply_to.clone().unwrap();
    let edited = "CHUYỂN DUYỆT\n\nĐại hội Chi bộ thôn 3 nhiệm kỳ 2026-2031 đã bầu Ban chấp hành mới.\n\nBài: Vũ Thị Hà";
    stack.send_smtp(&p.secretary, &[&to], &edit.reply(&p.secretary, edited));

    let detail = b.wait_state(&code, "reviewing", &mut daemon).await;
    assert_eq!(detail.summary.category, "Xây dựng Đảng");
    assert_eq!(detail.summary.waiting_for, "head");
    assert_eq!(detail.versions.len(), 2, "the edited version is the second");
    assert!(
        detail.versions[1]
            .body_text
            .starts_with("Đại hội Chi bộ thôn 3 nhiệm kỳ")
    );

    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    assert!(
        note.text.contains("đã bầu Ban chấp hành mới"),
        "the approver reads the edited version"
    );
    let to = note.reply_to.clone().unwrap();
    stack.send_smtp(
        &p.head,
        &[&to],
        &note.reply(&p.head, &format!("CHUYỂN {}", p.deputy)),
    );
    let detail = b.wait_state(&code, "reviewing", &mut daemon).await;
    b.wait_event(&code, "reassigned", &mut daemon).await;
    assert_eq!(
        b.store()
            .await
            .ticket(&code)
            .await
            .unwrap()
            .unwrap()
            .summary
            .waiting_for,
        p.deputy
    );
    drop(detail);

    let note = stack.wait_mail(&p.deputy, "Cần duyệt").await;
    let to = note.reply_to.clone().unwrap();
    stack.send_smtp(
        &p.deputy,
        &[&to],
        &note.reply(&p.deputy, "Duyet, TIN THAM KHAO"),
    );
    let detail = b.wait_state(&code, "approved", &mut daemon).await;
    assert!(detail.summary.reference_news);
    let decided = stack.wait_mail(&p.ctv, "Bài đã được duyệt").await;
    assert!(decided.text.contains("Tin tham khảo"), "{}", decided.text);
    daemon.stop();
}

/// Nothing but a token-bearing command from the right member changes a
/// ticket: a forged From, another member's token, a collaborator's
/// command, an out-of-office reply, a bounce, a replay, a late reply.
/// Members are told why; strangers get nothing.
#[tokio::test]
async fn only_the_right_member_with_their_token_can_act() {
    let stack = stack();
    let p = People::new("guard");
    let b = board(stack, &p, "[review]\ndefault_approver = \"head\"\n");
    let mut daemon = b.start();
    p.send_article(stack, "Tin văn nghệ", "Hội diễn văn nghệ quần chúng.");
    let note = stack.wait_mail(&p.head, "Cần duyệt").await;
    let note2 = stack.wait_mail(&p.head2, "Cần duyệt").await;
    let code = code_in(&note.subject);
    let receipt = stack.wait_mail(&p.ctv, "Đã nhận bài").await;

    // 1. Forged From: the head's address, written to the plain board
    //    address with the code in the subject; no token, no reference.
    let forged = article(&p.head, &p.board, &format!("[{code}] duyệt"), "DUYỆT");
    stack.send_smtp("attacker@sink.example.test", &[&p.board], &forged);
    wait_events(&b, &code, "denied", 1, &mut daemon).await;
    let explained = stack.wait_mail(&p.head, "Chưa thực hiện được").await;
    assert!(
        explained.text.contains("không mang mã xác thực"),
        "{}",
        explained.text
    );

    // 2. The second head answers through the first head's reply address.
    let stolen = String::from_utf8(note.reply(&p.head2, "DUYỆT"))
        .unwrap()
        .replace(
            &format!("<{}>", note.message_id),
            "<unrelated@example.test>",
        );
    stack.send_smtp(
        &p.head2,
        &[note.reply_to.as_deref().unwrap()],
        stolen.as_bytes(),
    );
    wait_events(&b, &code, "denied", 2, &mut daemon).await;

    // 3. The collaborator (a stranger) answers the receipt with a command.
    stack.send_smtp(&p.ctv, &[&p.board], &receipt.reply(&p.ctv, "DUYỆT"));
    wait_events(&b, &code, "denied", 3, &mut daemon).await;

    // 4. An out-of-office reply to the notification, and 5. a bounce.
    let ooo = note.reply_with(
        &p.head,
        "Tôi đang đi công tác đến 30/11.",
        &["Auto-Submitted: auto-replied"],
    );
    stack.send_smtp(&p.head, &[note.reply_to.as_deref().unwrap()], &ooo);
    let bounce = format!(
        "From: MAILER-DAEMON@example.test\r\nTo: {}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
         Message-ID: <{}@example.test>\r\nIn-Reply-To: <{}>\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
         --b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n--b--\r\n",
        p.board,
        unique("bounce"),
        note.message_id
    );
    stack.send_smtp("", &[&p.board], bounce.as_bytes());
    wait_events(&b, &code, "automatic", 2, &mut daemon).await;
    assert_eq!(
        b.store()
            .await
            .ticket(&code)
            .await
            .unwrap()
            .unwrap()
            .summary
            .state,
        "reviewing"
    );

    // 6. The second head approves properly; then 7. the exact same mail is
    //    delivered again, and 8. the first head approves too, late.
    let approval = note2.reply(&p.head2, "DUYỆT");
    stack.send_smtp(&p.head2, &[note2.reply_to.as_deref().unwrap()], &approval);
    b.wait_state(&code, "approved", &mut daemon).await;
    stack.send_smtp(&p.head2, &[note2.reply_to.as_deref().unwrap()], &approval);
    stack.send_smtp(
        &p.head,
        &[note.reply_to.as_deref().unwrap()],
        &note.reply(&p.head, "TỪ CHỐI: không phù hợp"),
    );
    wait_events(&b, &code, "denied", 4, &mut daemon).await;
    wait_until(Duration::from_secs(60), "late explanation", || {
        stack.count_subject(&p.head, "Chưa thực hiện được") == 2
    });
    let late = stack
        .inbox(&p.head)
        .into_iter()
        .rfind(|m| m.subject.contains("Chưa thực hiện được"))
        .unwrap();
    assert!(
        late.text.contains("đã được xử lý trước đó"),
        "{}",
        late.text
    );
    b.wait_outbox_empty(&mut daemon).await;
    daemon.stop();

    let detail = b.store().await.ticket(&code).await.unwrap().unwrap();
    assert_eq!(detail.summary.state, "approved");
    assert_eq!(
        detail
            .events
            .iter()
            .filter(|e| e.kind == "approved")
            .count(),
        1,
        "one decision"
    );
    // The replayed approval was recognized as the same message: no event.
    assert_eq!(
        detail.events.iter().filter(|e| e.kind == "denied").count(),
        4,
        "{:#?}",
        detail.events
    );
    // No answer where none is due: the stranger got the receipt and the
    // decision only (nothing for their command); the second head, a
    // member, the notification, the explanation for using someone else's
    // address, and the confirmation; nothing for the replayed approval.
    let ctv_subjects: Vec<String> = stack
        .inbox(&p.ctv)
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(ctv_subjects.len(), 2, "{ctv_subjects:?}");
    let head2: Vec<String> = stack
        .inbox(&p.head2)
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(head2.len(), 3, "{head2:?}");
    assert_eq!(stack.count_subject(&p.head2, "Đã ghi nhận"), 1, "{head2:?}");
    assert!(
        stack
            .inbox("attacker@sink.example.test")
            .iter()
            .all(|m| !m.subject.contains(&code))
    );
}

/// Text from a submission that lands in our headers cannot add headers.
#[tokio::test]
async fn subjects_cannot_inject_headers() {
    use base64::Engine;
    let stack = stack();
    let p = People::new("inject");
    let b = board(stack, &p, "[review]\ndefault_approver = \"head\"\n");
    let evil = base64::engine::general_purpose::STANDARD
        .encode("Tin\r\nBcc: victim@example.test\r\nX-Evil: 1");
    let name =
        base64::engine::general_purpose::STANDARD.encode("Kẻ gian\r\nBcc: victim2@example.test");
    let raw = format!(
        "From: =?utf-8?b?{name}?= <{}>\r\nTo: {}\r\nSubject: =?utf-8?b?{evil}?=\r\nMessage-ID: <{}@x>\r\n\r\nNội dung\r\n",
        p.ctv,
        p.board,
        unique("inj")
    );
    stack.send_smtp(&p.ctv, &[&p.board], raw.as_bytes());
    b.run_once();
    for user in [p.ctv.as_str(), p.head.as_str()] {
        let mail = stack.wait_mail(user, "[BBT-").await;
        let headers = mail.header_block();
        assert!(
            !headers
                .lines()
                .any(|l| l.starts_with("Bcc:") || l.starts_with("X-Evil:")),
            "{headers}"
        );
        assert_eq!(mail.to, vec![user.to_string()]);
        assert!(
            mail.subject
                .contains("Tin Bcc: victim@example.test X-Evil: 1"),
            "{}",
            mail.subject
        );
    }
    assert_eq!(stack.count("victim@example.test", "INBOX"), 0);
    assert_eq!(stack.count("victim2@example.test", "INBOX"), 0);
}

/// SMTP is down: tickets are still made and their mail waits in the
/// outbox, across a kill -9 and restart; when SMTP returns, every mail
/// goes out exactly once.
#[tokio::test]
async fn outbox_waits_for_smtp_and_sends_once() {
    let private = MailStack::private("smtpdown", "");
    let p = People::new("down");
    let b = Board::with_members(
        &p.board,
        Mailbox::Imap {
            stack: &private,
            tls: "starttls",
            auth: ImapAuth::Password,
        },
        None,
        &p.members(),
        "[review]\ndefault_approver = \"deputy\"\n",
    );
    private.control("stop", "postfix");
    for i in 0..3 {
        private.deliver_lmtp(
            &p.ctv,
            &[&p.board],
            &p.article(&format!("Tin số {i}"), "Nội dung."),
        );
    }
    let mut daemon = b.start();
    wait_tickets(&b, 3, &mut daemon).await;
    let store = b.store().await;
    wait_for(Duration::from_secs(60), "failed attempts", || async {
        let tried: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND status = 'pending'",
        )
        .fetch_one(store.pool())
        .await
        .unwrap();
        tried >= 1
    })
    .await;
    daemon.kill9();
    let mut daemon = b.start();
    tokio::time::sleep(Duration::from_secs(2)).await;
    private.control("start", "postfix");
    b.wait_outbox_empty(&mut daemon).await;
    daemon.stop();
    let status: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        status,
        vec![("sent".to_string(), 6)],
        "3 receipts and 3 notifications"
    );
    private.wait_delivered(&p.ctv, "INBOX", 3);
    private.wait_delivered(&p.deputy, "INBOX", 3);
    assert_eq!(private.count_subject(&p.ctv, "Đã nhận bài"), 3);
    assert_eq!(private.count_subject(&p.deputy, "Cần duyệt"), 3);
}

/// Automatic answers to one address are capped per hour (a loop guard);
/// notifications to reviewers are not. Mail carries the board's signature.
#[tokio::test]
async fn automatic_answers_are_capped_per_recipient() {
    let md = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.path().join(sub)).unwrap();
    }
    let drop_dir = tempfile::tempdir().unwrap();
    let b = Board::with_members(
        "bbt@example.test",
        Mailbox::Maildir(md.path().to_path_buf()),
        None,
        &members(&[("Hoàng Minh Đức", "truongban@example.test", "head")]),
        &format!(
            "[maildrop]\npath = \"{}\"\n\n[review]\nauto_reply_limit = 2\n",
            drop_dir.path().display()
        ),
    );
    b.set(
        "board",
        "signature = \"Ban biên tập xã Ea Sô\\nĐiện thoại: 0262 000 000\"",
    );
    for i in 0..3 {
        let raw = article(
            "robot@sink.example.test",
            "bbt@example.test",
            &format!("Tin số {i}"),
            "Nội dung.",
        );
        std::fs::write(md.path().join("new").join(format!("{i}.host")), raw).unwrap();
    }
    let log = b.run_once();
    assert_eq!(b.tickets().await.len(), 3);
    let mails: Vec<Mail> = std::fs::read_dir(drop_dir.path())
        .unwrap()
        .map(|e| Mail::parse(&std::fs::read(e.unwrap().path()).unwrap()))
        .collect();
    let receipts: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.subject.contains("Đã nhận bài"))
        .collect();
    assert_eq!(receipts.len(), 2, "the third receipt is held back");
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.subject.contains("Cần duyệt"))
            .count(),
        3
    );
    assert!(
        receipts[0]
            .text
            .trim_end()
            .ends_with("Ban biên tập xã Ea Sô\nĐiện thoại: 0262 000 000"),
        "{}",
        receipts[0].text
    );
    assert!(log.contains("automatic answer held back"), "{log}");
}
