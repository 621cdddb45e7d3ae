//! Running as a service: the systemd notify protocol (READY, WATCHDOG,
//! STOPPING) against a socket the test listens on, a graceful stop under
//! load that loses nothing, the health endpoint following Dovecot down and
//! up, reloads that keep the IMAP connection, members revoked at once, and
//! the quarantine handled at the console.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::collections::BTreeSet;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;

/// Everything received on the notify socket so far.
fn received(socket: &UnixDatagram, seen: &mut Vec<String>) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        seen.push(String::from_utf8_lossy(&buf[..n]).to_string());
    }
}

/// READY when up, WATCHDOG pings while it works, STOPPING on SIGTERM, exit
/// 0 with the batch in hand finished; the restart finds every message
/// exactly once.
#[tokio::test]
async fn notify_protocol_and_graceful_stop_under_load() {
    const N: usize = 300;
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("stop"));
    for i in 0..N {
        stack.deliver_lmtp(
            "ctv@sink.example.test",
            &[&board],
            &long_submission("stop", i, 300),
        );
    }
    let b = Board::new(&board, Mailbox::imap(stack, "none"), None, "");
    b.set("imap", "fetch_batch_size = \"512K\"");
    let sock_path = b.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&sock_path).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut daemon = b.start_with_env(&[
        ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "300000"),
    ]);
    let mut seen = Vec::new();
    wait_until(Duration::from_secs(30), "READY=1", || {
        received(&socket, &mut seen);
        seen.iter().any(|s| s == "READY=1")
    });

    // Stop it in the middle of the work.
    let store = b.store().await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tickets")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let start = Instant::now();
    loop {
        let n = count().await;
        if n > 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no ticket yet");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = daemon.stop();
    assert!(
        status.success(),
        "exit status {status}: {}",
        daemon.log_text()
    );
    received(&socket, &mut seen);
    assert!(seen.iter().any(|s| s == "STOPPING=1"), "{seen:?}");
    assert!(
        seen.iter().filter(|s| *s == "WATCHDOG=1").count() >= 1,
        "watchdog pings: {seen:?}"
    );
    let at_stop = count().await;
    assert!(at_stop < N as i64, "stopped before the end ({at_stop})");
    assert!(
        !b.state_dir().join("daemon.json").exists(),
        "the daemon's file is removed at exit"
    );

    let mut again = b.start();
    wait_for(Duration::from_secs(120), "every message", || async {
        count().await == N as i64
    })
    .await;
    b.wait_outbox_empty(&mut again).await;
    let subjects: BTreeSet<String> = b.tickets().await.into_iter().map(|t| t.title).collect();
    assert_eq!(subjects.len(), N, "each message once");
    assert_eq!(count().await, N as i64, "nothing doubled");
    assert_eq!(stack.count(&board, "INBOX"), 0, "every message moved out");
    store.close().await;
    again.stop();
}

/// `/healthz` turns 503 naming the mailbox when Dovecot stops and 200
/// again once it is back; `/metrics` follows.
#[tokio::test]
async fn health_follows_the_imap_server() {
    let private = MailStack::private("health", "");
    let board = format!("{}@{DOMAIN}", unique("health"));
    let b = Board::new(
        &board,
        Mailbox::Imap {
            stack: &private,
            tls: "none",
            auth: ImapAuth::Password,
        },
        None,
        "",
    );
    let mut daemon = b.start();
    let addr = b.endpoint();
    let healthz = || http(&addr, "GET", "/healthz");
    wait_until(Duration::from_secs(60), "healthy", || {
        let (code, body) = healthz();
        code == 200 && body.contains("last read")
    });
    let (_, metrics) = http(&addr, "GET", "/metrics");
    assert!(
        metrics.contains("bientap_source_connected 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE bientap_outbox_depth gauge"),
        "{metrics}"
    );

    private.control("stop", "dovecot");
    wait_until(Duration::from_secs(60), "unhealthy", || healthz().0 == 503);
    let (_, body) = healthz();
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["healthy"], false);
    assert_eq!(report["source"]["ok"], false, "{body}");
    assert!(
        report["source"]["detail"]
            .as_str()
            .unwrap()
            .contains("not connected"),
        "{body}"
    );
    assert_eq!(report["database"]["ok"], true, "{body}");
    let (_, metrics) = http(&addr, "GET", "/metrics");
    assert!(
        metrics.contains("bientap_source_connected 0\n"),
        "{metrics}"
    );

    private.control("start", "dovecot");
    wait_until(Duration::from_secs(120), "healthy again", || {
        healthz().0 == 200
    });
    assert!(daemon.is_running());
    let status = String::from_utf8(b.cli(&["status"]).stdout).unwrap();
    assert!(status.contains("health:    healthy"), "{status}");
    assert!(status.contains("last mailbox error"), "{status}");
    daemon.stop();
}

/// SIGHUP and `bientap reload` apply a new configuration without dropping
/// the IMAP connection; `members disable` revokes a member at once.
#[tokio::test]
async fn reload_and_revoke_without_restart() {
    let stack = stack();
    let p = People::new("reload");
    let b = Board::with_members(
        &p.board,
        Mailbox::imap(stack, "starttls"),
        None,
        &p.members(),
        "[review]\ndefault_approver = \"head\"\n",
    );
    let mut daemon = b.start();
    p.send_article(stack, "Bài một", "Nội dung bài một.");
    let first = stack.wait_mail(&p.head, "Cần duyệt").await;
    assert!(first.subject.contains("Bài một"));

    // The deputy becomes the default approver: by SIGHUP.
    let text = std::fs::read_to_string(&b.config).unwrap();
    std::fs::write(
        &b.config,
        text.replace(
            "default_approver = \"head\"",
            "default_approver = \"deputy\"",
        ),
    )
    .unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .unwrap();
    wait_until(Duration::from_secs(30), "the reload in the log", || {
        daemon.log_text().contains("configuration reloaded")
    });
    p.send_article(stack, "Bài hai", "Nội dung bài hai.");
    let second = stack.wait_mail(&p.deputy, "Cần duyệt").await;
    assert!(second.subject.contains("Bài hai"));

    // A bad edit is refused; the running configuration stays.
    let good = std::fs::read_to_string(&b.config).unwrap();
    std::fs::write(
        &b.config,
        good.replace("[review]", "[review]\nno_such_key = 1"),
    )
    .unwrap();
    let out = b.cli(&["reload"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no_such_key"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(&b.config, &good).unwrap();
    let out = b.cli(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The deputy is revoked at once: their approval no longer works.
    let out = b.cli(&[
        "members",
        "disable",
        &p.deputy,
        "--reason",
        "chuyển công tác",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("the running daemon applied it"));
    let code = code_in(&second.subject);
    stack.answer(&second, &p.deputy, "DUYỆT");
    let denied = b.wait_event(&code, "denied", &mut daemon).await;
    assert!(
        denied.detail.contains("not an active member"),
        "{}",
        denied.detail
    );
    let listed = String::from_utf8(b.cli(&["members", "list"]).stdout).unwrap();
    assert!(
        listed.contains("DISABLED") && listed.contains("chuyển công tác"),
        "{listed}"
    );

    assert_eq!(
        daemon.log_text().matches("IMAP session open").count(),
        1,
        "the connection was kept:\n{}",
        daemon.log_text()
    );
    daemon.stop();
}

/// Quarantined mail at the console: listed with its reason, shown raw,
/// released into a ticket, dropped with its bytes.
#[tokio::test]
async fn quarantine_at_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let fixture =
        |name: &str| std::fs::read(manifest_dir().join("fixtures/content").join(name)).unwrap();
    std::fs::write(maildir.join("new/1.eml"), fixture("executable.eml")).unwrap();
    std::fs::write(maildir.join("new/2.eml"), fixture("classified-subject.eml")).unwrap();
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(maildir.clone()),
        None,
        "",
    );
    b.run_once();
    assert!(b.tickets().await.is_empty());

    let out = b.cli(&["quarantine", "list", "--json"]);
    let list: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    let id_of = |needle: &str| {
        list.iter()
            .find(|q| q["reason"].as_str().unwrap().contains(needle))
            .unwrap()["id"]
            .as_i64()
            .unwrap()
            .to_string()
    };
    let exe = id_of("executable");
    let secret = id_of("classification mark");

    let raw = b.cli(&["quarantine", "show", &exe, "--raw"]).stdout;
    assert_eq!(
        raw,
        fixture("executable.eml"),
        "the bytes are kept as they came"
    );

    let out = b.cli(&["quarantine", "release", &exe]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tickets = b.tickets().await;
    assert_eq!(tickets.len(), 1);
    let detail = b
        .store()
        .await
        .ticket(&tickets[0].code)
        .await
        .unwrap()
        .unwrap();
    assert!(
        detail.versions[0]
            .notes
            .iter()
            .any(|n| n.contains("có thể gây hại")),
        "{:?}",
        detail.versions[0].notes
    );
    let again = b.cli(&["quarantine", "release", &exe]);
    assert!(!again.status.success(), "released once only");

    let sha: String = serde_json::from_slice::<Vec<serde_json::Value>>(
        &b.cli(&["quarantine", "list", "--json"]).stdout,
    )
    .unwrap()
    .iter()
    .find(|q| q["id"].as_i64().unwrap().to_string() == secret)
    .unwrap()["sha256"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(b.archived(&sha).exists());
    let out = b.cli(&["quarantine", "drop", &secret]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!b.archived(&sha).exists(), "the bytes are deleted");
    let all: Vec<serde_json::Value> =
        serde_json::from_slice(&b.cli(&["quarantine", "list", "--all", "--json"]).stdout).unwrap();
    let states: BTreeSet<&str> = all.iter().map(|q| q["state"].as_str().unwrap()).collect();
    assert_eq!(states, BTreeSet::from(["dropped", "released"]));
    assert!(
        b.cli(&["quarantine", "list", "--json"])
            .stdout
            .starts_with(b"[]")
    );
}
