//! Invariant 9: one message cannot hold up the others. A batch holding a
//! 2.2 MB nesting bomb (200,000 nested `<div>`, which once took minutes to
//! read) and ordinary submissions goes through the real pipeline (Maildir,
//! `bientap run --once`): every submission becomes a ticket, and the bomb
//! becomes a ticket with its body flattened, or is quarantined with a reason
//! naming the reading budget. A generous deadline is only a watchdog against
//! a hang; timings are in `cargo bench --bench reading`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Runs `bientap run --once`; a run that does not end within `deadline`
/// is a hang and fails the test.
fn run_once_watched(b: &Board, deadline: Duration) -> String {
    let mut child = Command::new(bientap_bin())
        .arg("--config")
        .arg(&b.config)
        .args(["run", "--once"])
        .env("BIENTAP_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > deadline {
            child.kill().unwrap();
            panic!("bientap run --once hung for {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "bientap run --once failed:\n{log}");
    assert!(!log.contains("panicked"), "a panic was reported:\n{log}");
    log
}

/// An HTML mail of `levels` nested divs around one paragraph.
fn nesting_bomb(levels: usize) -> Vec<u8> {
    format!(
        "From: ctv.bom@sink.example.test\r\nTo: bbt@example.test\r\nSubject: Bom\r\n\
         Message-ID: <bomb-{levels}@sink.example.test>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{}<p>Giữa quả bom</p>{}\r\n",
        "<div>".repeat(levels),
        "</div>".repeat(levels)
    )
    .into_bytes()
}

#[tokio::test]
async fn a_nesting_bomb_does_not_hold_up_its_batch() {
    let maildir = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.path().join(sub)).unwrap();
    }
    let tag = unique("budget");
    // Files are read in name order: the bomb in the middle of the batch.
    let mut files = vec![("2-bomb".to_string(), nesting_bomb(200_000))];
    for i in [1, 3, 4, 5] {
        files.push((format!("{i}-ok"), long_submission(&tag, i, 30)));
    }
    assert!(files[0].1.len() > 2_200_000);
    for (name, raw) in &files {
        std::fs::write(maildir.path().join("new").join(name), raw).unwrap();
    }
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(maildir.path().to_path_buf()),
        None,
        "",
    );
    run_once_watched(&b, Duration::from_secs(300));

    let store = b.store().await;
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT m.from_addr, m.kind, m.reason, v.body_html FROM messages m
         LEFT JOIN versions v ON v.message_id = m.id ORDER BY m.id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    store.close().await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    for i in [1, 3, 4, 5] {
        let from = format!("ctv{i}@sink.example.test");
        let row = rows.iter().find(|r| r.0 == from).unwrap();
        assert_eq!(row.1, "submission", "{row:?}");
        assert!(row.3.is_some(), "no ticket for {from}");
    }
    let (_, kind, reason, body) = rows
        .iter()
        .find(|r| r.0 == "ctv.bom@sink.example.test")
        .expect("the bomb is recorded");
    match kind.as_str() {
        "submission" => {
            let body = body.as_deref().expect("the bomb's ticket has a body");
            assert!(body.contains("Giữa quả bom"), "{:.300}", body);
            let depth = body.matches("<div>").count();
            assert!(
                depth <= bientap::content::html::MAX_DEPTH,
                "{depth} divs kept"
            );
        }
        "quarantined" => assert!(reason.contains("content.read_budget"), "{reason}"),
        other => panic!("the bomb became {other}: {reason}"),
    }
    assert_eq!(
        std::fs::read_dir(maildir.path().join("new"))
            .unwrap()
            .count(),
        0,
        "messages left in new/"
    );
}

/// With a budget it cannot meet, the bomb is quarantined naming the budget
/// while the ordinary submissions of its batch become tickets.
#[tokio::test]
async fn a_message_over_the_budget_is_quarantined_and_the_others_go_on() {
    let maildir = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.path().join(sub)).unwrap();
    }
    let tag = unique("budget-tight");
    // Many copies under different Message-IDs make the bomb's reading take
    // many times the smallest budget, whatever the machine.
    let bomb = {
        let one = nesting_bomb(200_000);
        let body = String::from_utf8(one).unwrap();
        let (head, html) = body.split_once("\r\n\r\n").unwrap();
        format!("{head}\r\n\r\n{}", html.repeat(20)).into_bytes()
    };
    // Last in name order, so that it joins the others' batch (a batch
    // closes after 16 MB).
    std::fs::write(maildir.path().join("new").join("9-bomb"), &bomb).unwrap();
    for i in 1..=3 {
        std::fs::write(
            maildir.path().join("new").join(format!("{i}-ok")),
            long_submission(&tag, i, 30),
        )
        .unwrap();
    }
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(maildir.path().to_path_buf()),
        None,
        "[content]\nread_budget = \"1s\"\n",
    );
    run_once_watched(&b, Duration::from_secs(300));
    let store = b.store().await;
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT from_addr, kind, reason FROM messages ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    store.close().await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in &rows {
        if row.0 == "ctv.bom@sink.example.test" || row.0.is_empty() {
            assert_eq!(row.1, "quarantined", "{row:?}");
            assert!(row.2.contains("content.read_budget"), "{row:?}");
        } else {
            assert_eq!(row.1, "submission", "{row:?}");
        }
    }
}
