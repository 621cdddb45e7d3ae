//! The MIME robustness corpus (fixtures/corpus/mime: real and deliberately
//! malformed messages) through every ingest path: Maildir, IMAP, backlog
//! import, and with PostgreSQL as the state database. Nothing may panic,
//! hang or vanish: every message ends recorded (or recognized as a
//! duplicate of one that is), its raw bytes in the archive, and every
//! quarantined one has a reason.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use bientap::store::archive::sha256_hex;
use common::*;

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let root = manifest_dir().join("fixtures/corpus/mime");
    let mut files = Vec::new();
    for group in ["rfc", "thirdparty", "malformed", "legacy"] {
        for entry in std::fs::read_dir(root.join(group)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                let raw = std::fs::read(&path).unwrap();
                files.push((path, raw));
            }
        }
    }
    files.sort();
    assert_eq!(files.len(), 107, "the corpus has 107 messages");
    files
}

/// Runs a bientap command with a deadline: a hang is a failure.
fn run_with_deadline(b: &Board, args: &[&str], deadline: Duration) -> String {
    let mut child = Command::new(bientap_bin())
        .arg("--config")
        .arg(&b.config)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(
                status.success(),
                "bientap {args:?} failed ({status}):\n{err}"
            );
            assert!(!err.contains("panicked"), "a panic was reported:\n{err}");
            return err;
        }
        if start.elapsed() > deadline {
            child.kill().unwrap();
            panic!("bientap {args:?} hung for {deadline:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Checks that every input is accounted for: recorded under its digest, or
/// a duplicate of a recorded message (same Message-ID or same bytes); its
/// bytes archived; quarantined ones with a reason. Returns counts by kind.
async fn account_for(b: &Board, inputs: &[Vec<u8>]) -> BTreeMap<String, i64> {
    let store = b.store().await;
    let rows: Vec<(String, Option<String>, String, String)> =
        sqlx::query_as("SELECT sha256, message_id, kind, reason FROM messages")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let by_sha: BTreeMap<&str, &str> = rows
        .iter()
        .map(|(s, _, k, _)| (s.as_str(), k.as_str()))
        .collect();
    for (sha, _, kind, reason) in &rows {
        if kind == "quarantined" {
            assert!(
                !reason.trim().is_empty(),
                "quarantined {sha} without a reason"
            );
        }
    }
    let ids: Vec<&str> = rows
        .iter()
        .filter_map(|(_, id, _, _)| id.as_deref())
        .collect();
    for raw in inputs {
        let sha = sha256_hex(raw);
        assert!(
            b.archived(&sha).is_file(),
            "raw bytes of {sha} not archived"
        );
        if by_sha.contains_key(sha.as_str()) {
            continue;
        }
        // Not recorded under its own digest: must be a duplicate by Message-ID.
        let msg = bientap::content::parse(raw).expect("an unrecorded message must at least parse");
        let mail = bientap::content::extract(&msg);
        let id = mail
            .message_id
            .expect("an unrecorded message must be a Message-ID duplicate");
        assert!(
            ids.contains(&id.as_str()),
            "message {sha} (Message-ID {id}) was lost"
        );
    }
    let counts = store.message_counts().await.unwrap().into_iter().collect();
    store.close().await;
    counts
}

fn maildir_with_corpus() -> (tempfile::TempDir, Vec<Vec<u8>>) {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
    }
    let mut inputs = Vec::new();
    for (i, (_, raw)) in corpus().into_iter().enumerate() {
        std::fs::write(dir.path().join("new").join(format!("{i:04}.corpus")), &raw).unwrap();
        inputs.push(raw);
    }
    (dir, inputs)
}

#[tokio::test]
async fn corpus_through_maildir() {
    let (maildir, inputs) = maildir_with_corpus();
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(maildir.path().to_path_buf()),
        None,
        "",
    );
    run_with_deadline(&b, &["run", "--once"], Duration::from_secs(120));
    let counts = account_for(&b, &inputs).await;
    assert!(
        counts.get("submission").copied().unwrap_or(0) > 50,
        "{counts:?}"
    );
    assert!(
        counts.get("quarantined").copied().unwrap_or(0) > 0,
        "{counts:?}"
    );
    assert_eq!(
        std::fs::read_dir(maildir.path().join("new"))
            .unwrap()
            .count(),
        0,
        "files left in new/"
    );

    // Reading the same Maildir again (files put back) changes nothing.
    let before = b.tickets().await.len();
    for entry in std::fs::read_dir(maildir.path().join("cur")).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().replace(":2,S", "");
        std::fs::rename(&p, maildir.path().join("new").join(name)).unwrap();
    }
    run_with_deadline(&b, &["run", "--once"], Duration::from_secs(120));
    assert_eq!(b.tickets().await.len(), before);
}

#[tokio::test]
async fn corpus_through_imap() {
    let stack = stack();
    let board = format!("{}@{DOMAIN}", unique("corpus"));
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.imap_port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    let mut imap = client
        .login(&board, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    let corpus = corpus();
    for (_, raw) in &corpus {
        imap.append("INBOX", None, None, raw).await.unwrap();
    }
    // What IMAP serves is what gets archived.
    let mut served = Vec::new();
    imap.select("INBOX").await.unwrap();
    {
        use futures::StreamExt;
        let mut fetches = imap.uid_fetch("1:*", "BODY.PEEK[]").await.unwrap();
        while let Some(f) = fetches.next().await {
            served.push(f.unwrap().body().unwrap().to_vec());
        }
    }
    imap.logout().await.unwrap();
    assert_eq!(served.len(), corpus.len());

    let b = Board::new(&board, Mailbox::imap(stack, "none"), None, "");
    run_with_deadline(&b, &["run", "--once"], Duration::from_secs(120));
    account_for(&b, &served).await;
    assert_eq!(
        stack.count(&board, "INBOX"),
        0,
        "messages left in the inbox"
    );
    assert_eq!(stack.count(&board, "Processed"), corpus.len());
}

#[tokio::test]
async fn corpus_through_import_into_postgres() {
    let pg = PgDatabase::create().await;
    let (maildir, inputs) = maildir_with_corpus();
    let unused = tempfile::tempdir().unwrap();
    for sub in ["new", "cur"] {
        std::fs::create_dir_all(unused.path().join(sub)).unwrap();
    }
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(unused.path().to_path_buf()),
        Some(pg.url.clone()),
        "",
    );
    let dir = maildir.path().to_str().unwrap();
    run_with_deadline(
        &b,
        &["import", "--maildir", dir, "--quiet"],
        Duration::from_secs(120),
    );
    let counts = account_for(&b, &inputs).await;
    assert!(
        counts.get("submission").copied().unwrap_or(0) > 50,
        "{counts:?}"
    );
    // Import only reads: the files are still where they were.
    assert_eq!(
        std::fs::read_dir(maildir.path().join("new"))
            .unwrap()
            .count(),
        inputs.len()
    );

    // The same backlog again: all known.
    let out = Command::new(bientap_bin())
        .arg("--config")
        .arg(&b.config)
        .args(["import", "--maildir", dir, "--quiet"])
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("new tickets: 0"), "{summary}");
    assert!(
        summary.contains(&format!("already known: {}", inputs.len())),
        "{summary}"
    );
}

#[tokio::test]
async fn mbox_import() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("backlog.mbox");
    let mut text = Vec::new();
    for name in [
        "01-member-plain-photo.eml",
        "02-stranger-html-inline.eml",
        "03-windows-1258.eml",
    ] {
        text.extend_from_slice(b"From ctv@sink.example.test Mon Nov 23 08:15:00 2026\n");
        for line in fixture(name).split_inclusive(|b| *b == b'\n') {
            let line = line
                .strip_suffix(b"\r\n")
                .map(|l| [l, b"\n"].concat())
                .unwrap_or(line.to_vec());
            if line.starts_with(b"From ") {
                text.push(b'>');
            }
            text.extend_from_slice(&line);
        }
        text.push(b'\n');
    }
    std::fs::write(&mbox, text).unwrap();
    let md = tempfile::tempdir().unwrap();
    for sub in ["new", "cur"] {
        std::fs::create_dir_all(md.path().join(sub)).unwrap();
    }
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(md.path().to_path_buf()),
        None,
        "",
    );
    let out = b.cli(&["import", "--mbox", mbox.to_str().unwrap(), "--quiet"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("new tickets: 3"));
    let tickets = b.tickets().await;
    assert_eq!(tickets.len(), 3);
    // The arrival time comes from the mbox "From " line, not the import time.
    assert!(
        tickets
            .iter()
            .all(|t| t.received_at.starts_with("2026-11-23T08:15")),
        "{tickets:?}"
    );
}
