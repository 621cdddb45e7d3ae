//! Invariants 1 and 2 under failure: kill -9 in the middle of ingesting,
//! the IMAP server restarting under a running daemon.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;

/// 500 submissions; the daemon is killed with SIGKILL three times while it
/// works, then left to finish. Exactly 500 tickets, numbered without gaps,
/// one per message, and every message moved out of the inbox once.
#[tokio::test]
async fn kill_9_mid_ingest_loses_and_doubles_nothing() {
    const N: usize = 500;
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("crash"));
    for i in 0..N {
        stack.deliver_lmtp(
            "ctv@sink.example.test",
            &[&board],
            &long_submission("crash", i, 400),
        );
    }
    assert_eq!(stack.count(&board, "INBOX"), N);

    let b = Board::new(&board, Mailbox::imap(stack, "none"), None, "");
    // Small fetches (about 60 messages each) so that there is a "middle".
    b.set("imap", "fetch_batch_size = \"1M\"");

    // The test reads the count while the daemon writes (SQLite WAL).
    let store = b.store().await;
    let count = || async {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
            .fetch_one(store.pool())
            .await
            .unwrap();
        n as usize
    };
    let mut killed_mid_way = 0;
    for _ in 0..3 {
        let before = count().await;
        if before >= N {
            break;
        }
        let mut daemon = b.start();
        // Kill as soon as the daemon has committed something new.
        let started = std::time::Instant::now();
        while count().await <= before {
            assert!(daemon.is_running(), "bientap exited: {}", daemon.log_text());
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no progress: {}",
                daemon.log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        daemon.kill9();
        if count().await < N {
            killed_mid_way += 1;
        }
    }
    assert!(
        killed_mid_way >= 1,
        "ingest finished before any kill; the test did not exercise a crash"
    );

    let mut daemon = b.start();
    let tickets = wait_tickets(&b, N, &mut daemon).await;
    wait_until(Duration::from_secs(60), "inbox emptied", || {
        stack.count(&board, "INBOX") == 0
    });
    daemon.stop();

    assert_eq!(tickets.len(), N, "tickets doubled");
    let year = &tickets[0].code[4..8];
    let codes: BTreeSet<String> = tickets.iter().map(|t| t.code.clone()).collect();
    let expected: BTreeSet<String> = (1..=N).map(|n| format!("BBT-{year}-{n:04}")).collect();
    assert_eq!(codes, expected, "ticket numbers have gaps or doubles");
    let titles: BTreeSet<String> = tickets.iter().map(|t| t.title.clone()).collect();
    assert_eq!(titles.len(), N, "a message became two tickets or none");

    let counts = store.message_counts().await.unwrap();
    assert_eq!(counts, vec![("submission".to_string(), N as i64)]);
    assert_eq!(
        stack.count(&board, "Processed"),
        N,
        "a message was moved twice or not at all"
    );
}

/// The IMAP server restarts under a running daemon: it reconnects and
/// goes on; mail delivered after the restart becomes tickets too.
#[tokio::test]
async fn reconnects_after_imap_server_restart() {
    let private = MailStack::private("restart", "dovecot");
    let board = format!("{}@{DOMAIN}", unique("restart"));
    for i in 0..5 {
        private.deliver_lmtp(
            "ctv@sink.example.test",
            &[&board],
            &long_submission("crash", 1000 + i, 400),
        );
    }
    let b = Board::new(
        &board,
        Mailbox::Imap {
            stack: &private,
            tls: "starttls",
            auth: ImapAuth::Password,
        },
        None,
        "",
    );
    let mut daemon = b.start();
    wait_tickets(&b, 5, &mut daemon).await;

    private.control("restart", "dovecot");
    for i in 5..10 {
        private.deliver_lmtp(
            "ctv@sink.example.test",
            &[&board],
            &long_submission("crash", 1000 + i, 400),
        );
    }
    let tickets = wait_tickets(&b, 10, &mut daemon).await;
    assert_eq!(tickets.len(), 10);
    assert!(
        daemon.log_text().contains("reconnecting"),
        "{}",
        daemon.log_text()
    );
    wait_until(Duration::from_secs(30), "inbox emptied", || {
        private.count(&board, "INBOX") == 0
    });

    // Down for a while: the daemon keeps retrying and does not exit.
    private.control("stop", "dovecot");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        daemon.is_running(),
        "bientap gave up while the server was down"
    );
    private.control("start", "dovecot");
    private.deliver_lmtp(
        "ctv@sink.example.test",
        &[&board],
        &long_submission("crash", 2000, 400),
    );
    wait_tickets(&b, 11, &mut daemon).await;
    let status = daemon.stop();
    assert!(status.success(), "{}", daemon.log_text());
}
