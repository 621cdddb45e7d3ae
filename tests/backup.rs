//! Backups (R20): a snapshot taken while the daemon ingests restores every
//! ticket and file; verify catches damage; restore refuses what it must.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bientap::backup::{self, Manifest};
use bientap::config::Config;
use bientap::store::archive::sha256_hex;
use common::*;

/// Pseudo-random bytes, different for every `seed`.
fn noise(seed: usize, len: usize) -> Vec<u8> {
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Submission `i`: plain text, or every fourth one with a PDF attachment
/// (1 MB for every fortieth, 24 KB otherwise).
fn submission(i: usize) -> Vec<u8> {
    use base64::Engine;
    let body = format!("Bài viết số {i} về hoạt động của xã Ea Sô trong tháng. ").repeat(12);
    let head = format!(
        "From: Cộng tác viên {i} <ctv{i}@collab.example.test>\r\nTo: bbt@example.test\r\n\
         Subject: Tin hoạt động số {i}\r\nMessage-ID: <backup-{i}-{}@collab.example.test>\r\nMIME-Version: 1.0\r\n",
        unique("m")
    );
    if !i.is_multiple_of(4) {
        return format!(
            "{head}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
        )
        .into_bytes();
    }
    let size = if i.is_multiple_of(40) {
        1 << 20
    } else {
        24 << 10
    };
    let mut pdf = format!("%PDF-1.4\n% tai lieu {i}\n").into_bytes();
    pdf.extend(noise(i, size));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pdf);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "{head}Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n\
         --b1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=\"tai-lieu-{i}.pdf\"\r\n\r\n{}\r\n--b1--\r\n",
        lines.join("\r\n")
    )
    .into_bytes()
}

/// An empty Maildir.
fn maildir() -> tempfile::TempDir {
    let md = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.path().join(sub)).unwrap();
    }
    md
}

/// Delivered the Maildir way: written to tmp/, renamed into new/.
fn deliver(md: &Path, i: usize) {
    let name = format!("{i:05}.backup-test");
    let tmp = md.join("tmp").join(&name);
    std::fs::write(&tmp, submission(i)).unwrap();
    std::fs::rename(&tmp, md.join("new").join(&name)).unwrap();
}

fn config(b: &Board) -> Config {
    Config::load(&b.config).unwrap()
}

async fn count(b: &Board, table: &str) -> i64 {
    let store = b.store().await;
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    n
}

async fn codes(b: &Board) -> Vec<String> {
    let store = b.store().await;
    let c: Vec<String> = sqlx::query_scalar("SELECT code FROM tickets ORDER BY id")
        .fetch_all(store.pool())
        .await
        .unwrap();
    store.close().await;
    c
}

/// Every digest the database references: raw messages and attachments.
async fn referenced(b: &Board) -> Vec<String> {
    let store = b.store().await;
    let d: Vec<String> =
        sqlx::query_scalar("SELECT sha256 FROM messages UNION SELECT sha256 FROM attachments")
            .fetch_all(store.pool())
            .await
            .unwrap();
    store.close().await;
    d
}

fn dir_size(m: &Manifest) -> u64 {
    m.files.iter().map(|f| f.size).sum()
}

/// A board that ran once over `n` submissions; returns it and its Maildir.
fn board_after_once(n: usize, db_url: Option<String>) -> (Board, tempfile::TempDir) {
    let md = maildir();
    for i in 0..n {
        deliver(md.path(), i);
    }
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(md.path().to_path_buf()),
        db_url,
        "",
    );
    b.run_once();
    (b, md)
}

/// A board that has never run: the restore target.
fn fresh_board(db_url: Option<String>) -> (Board, tempfile::TempDir) {
    let md = maildir();
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(md.path().to_path_buf()),
        db_url,
        "",
    );
    (b, md)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_load_restores_every_ticket_and_file() {
    const N: usize = 400;
    const BEFORE: usize = 100;
    const UNTIL_BACKUP: usize = 250;
    let md = maildir();
    for i in 0..BEFORE {
        deliver(md.path(), i);
    }
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(md.path().to_path_buf()),
        None,
        "",
    );
    let mut daemon = b.start();

    // Mail keeps arriving while the backup runs; the last part only after
    // it, so the snapshot cannot hold every ticket.
    let backed_up = Arc::new(AtomicBool::new(false));
    let feeder = {
        let dir: PathBuf = md.path().to_path_buf();
        let backed_up = backed_up.clone();
        std::thread::spawn(move || {
            for i in BEFORE..UNTIL_BACKUP {
                deliver(&dir, i);
                std::thread::sleep(Duration::from_millis(8));
            }
            while !backed_up.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            for i in UNTIL_BACKUP..N {
                deliver(&dir, i);
            }
        })
    };
    let start = Instant::now();
    while count(&b, "tickets").await < 30 {
        assert!(daemon.is_running(), "bientap exited: {}", daemon.log_text());
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no tickets: {}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let dest = b.dir.path().join("backups/under-load");
    let t0 = Instant::now();
    let manifest = backup::backup(&config(&b), &dest, false).await.unwrap();
    let took = t0.elapsed();
    let live_then = count(&b, "tickets").await;
    backed_up.store(true, Ordering::SeqCst);
    feeder.join().unwrap();
    println!(
        "backup under load: {} tickets, {} messages, {} blobs, {} files, {:.1} MB in {:.2} s (the daemon had {live_then} tickets right after)",
        manifest.tickets,
        manifest.messages,
        manifest.archive_blobs,
        manifest.files.len(),
        dir_size(&manifest) as f64 / 1e6,
        took.as_secs_f64()
    );
    assert!(
        manifest.tickets > 0 && manifest.tickets < UNTIL_BACKUP as i64,
        "{} tickets in the snapshot",
        manifest.tickets
    );
    assert_eq!(manifest.database, "sqlite");
    assert!(
        manifest.missing_blobs.is_empty(),
        "{:?}",
        manifest.missing_blobs
    );
    assert!(manifest.files.iter().any(|f| f.path == "reply.key"));
    assert!(
        !manifest.files.iter().any(|f| f.path.contains("/tmp/")),
        "archive temp files copied"
    );

    // Ingest goes on to the end, undisturbed.
    let all = wait_tickets(&b, N, &mut daemon).await;
    assert_eq!(all.len(), N);
    assert!(daemon.stop().success(), "{}", daemon.log_text());

    let verified = backup::verify(&dest).unwrap();
    assert!(verified.problems.is_empty(), "{:?}", verified.problems);
    assert_eq!(verified.files, manifest.files.len());
    assert_eq!(verified.bytes, dir_size(&manifest));

    // Into a board that has never run.
    let (b2, _md2) = fresh_board(None);
    let t0 = Instant::now();
    let restored = backup::restore(&config(&b2), &dest, false, false)
        .await
        .unwrap();
    println!("restore: {:.2} s", t0.elapsed().as_secs_f64());
    assert_eq!(restored.tickets, manifest.tickets);

    // The snapshot is a prefix of the history: the first tickets, in order.
    let source_codes = codes(&b).await;
    let restored_codes = codes(&b2).await;
    assert_eq!(restored_codes.len() as i64, manifest.tickets);
    assert_eq!(
        restored_codes,
        source_codes[..restored_codes.len()].to_vec()
    );
    assert_eq!(count(&b2, "messages").await, manifest.messages);
    let attachments = count(&b2, "attachments").await;
    assert!(attachments > 0, "no attachment in the snapshot");

    // Every raw message and attachment the restored database references.
    let digests = referenced(&b2).await;
    assert!(digests.len() as i64 >= manifest.messages);
    for sha in &digests {
        let path = b2.archived(sha);
        let bytes =
            std::fs::read(&path).unwrap_or_else(|e| panic!("{} missing: {e}", path.display()));
        assert_eq!(&sha256_hex(&bytes), sha, "{}", path.display());
    }
    assert_eq!(
        std::fs::read(b.state_dir().join("reply.key")).unwrap(),
        std::fs::read(b2.state_dir().join("reply.key")).unwrap()
    );

    // The restored board works: the CLI reads it.
    let first = &restored_codes[0];
    let out = b2.cli(&["tickets", "show", first, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(first.as_str()));
}

#[tokio::test]
async fn verify_finds_a_flipped_byte_a_missing_file_and_a_changed_manifest() {
    let (b, _md) = board_after_once(8, None);
    let dest = b.dir.path().join("backup");
    let manifest = backup::backup(&config(&b), &dest, false).await.unwrap();
    assert_eq!(manifest.tickets, 8);
    assert!(backup::verify(&dest).unwrap().problems.is_empty());

    let blobs: Vec<&str> = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("archive/"))
        .map(|f| f.path.as_str())
        .collect();
    assert!(blobs.len() >= 10, "{blobs:?}");
    let flipped = blobs[0];
    let removed = blobs[1];
    let path = dest.join(flipped);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    std::fs::remove_file(dest.join(removed)).unwrap();

    let v = backup::verify(&dest).unwrap();
    assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
    assert!(
        v.problems
            .iter()
            .any(|p| p.starts_with(flipped) && p.contains("content changed")),
        "{:?}",
        v.problems
    );
    assert!(
        v.problems.contains(&format!("{removed}: missing")),
        "{:?}",
        v.problems
    );

    // Restore will not use it.
    let (b2, _md2) = fresh_board(None);
    let err = backup::restore(&config(&b2), &dest, false, false)
        .await
        .unwrap_err();
    assert!(
        format!("{err:#}").contains("failed verification"),
        "{err:#}"
    );
    assert!(!b2.state_dir().join("state.db").exists());

    // A manifest changed after the fact (here: one ticket more).
    let clean = b.dir.path().join("backup2");
    backup::backup(&config(&b), &clean, false).await.unwrap();
    let text = std::fs::read_to_string(clean.join("manifest.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["tickets"] = serde_json::json!(9);
    std::fs::write(
        clean.join("manifest.json"),
        serde_json::to_vec_pretty(&json).unwrap(),
    )
    .unwrap();
    let v = backup::verify(&clean).unwrap();
    assert_eq!(v.problems.len(), 1, "{:?}", v.problems);
    assert!(
        v.problems[0].contains("manifest.sha256"),
        "{:?}",
        v.problems
    );
}

#[tokio::test]
async fn postgres_backup_restores_into_another_database() {
    let db = PgDatabase::create().await;
    let (b, _md) = board_after_once(6, Some(db.url.clone()));
    let before = codes(&b).await;
    assert_eq!(before.len(), 6);

    let dest = b.dir.path().join("backup");
    let manifest = backup::backup(&config(&b), &dest, false).await.unwrap();
    assert_eq!(manifest.database, "postgres");
    assert_eq!(manifest.tickets, 6);
    assert!(manifest.files.iter().any(|f| f.path == "state.pgdump"));
    assert!(!manifest.files.iter().any(|f| f.path == "state.db"));
    assert!(manifest.missing_blobs.is_empty());
    assert!(backup::verify(&dest).unwrap().problems.is_empty());

    let db2 = PgDatabase::create().await;
    let (b2, _md2) = fresh_board(Some(db2.url.clone()));
    backup::restore(&config(&b2), &dest, false, false)
        .await
        .unwrap();
    assert_eq!(codes(&b2).await, before);
    for sha in referenced(&b2).await {
        assert!(b2.archived(&sha).is_file(), "{sha}");
    }

    // Again over what is now there: only with force.
    let err = backup::restore(&config(&b2), &dest, false, false)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--force"), "{err:#}");
    backup::restore(&config(&b2), &dest, true, false)
        .await
        .unwrap();
    assert_eq!(codes(&b2).await, before);

    // A PostgreSQL backup does not go into a SQLite board.
    let (b3, _md3) = fresh_board(None);
    let err = backup::restore(&config(&b3), &dest, false, false)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("SQLite to SQLite"), "{err:#}");
}

#[tokio::test]
async fn restore_refuses_a_board_with_state_a_running_daemon_and_an_incomplete_backup() {
    let (b, _md) = board_after_once(3, None);
    let dest = b.dir.path().join("backup");
    let manifest = backup::backup(&config(&b), &dest, false).await.unwrap();
    assert_eq!(manifest.tickets, 3);

    // Not into a non-empty directory.
    let err = backup::backup(&config(&b), &dest, false).await.unwrap_err();
    assert!(format!("{err:#}").contains("not empty"), "{err:#}");

    // A board with tickets of its own.
    let (target, md2) = fresh_board(None);
    deliver(md2.path(), 1000);
    let out = target.cli(&["run", "--once"]);
    assert!(out.status.success());
    assert_eq!(count(&target, "tickets").await, 1);
    let err = backup::restore(&config(&target), &dest, false, false)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("--force"), "{err:#}");
    assert_eq!(
        count(&target, "tickets").await,
        1,
        "changed although refused"
    );

    // Not under a running daemon, even with force.
    let mut daemon = target.start();
    deliver(md2.path(), 1001);
    wait_tickets(&target, 2, &mut daemon).await;
    let err = backup::restore(&config(&target), &dest, true, false)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("stop bientap"), "{err:#}");
    assert!(daemon.stop().success());

    // Stopped: force replaces its state with the backup's.
    backup::restore(&config(&target), &dest, true, false)
        .await
        .unwrap();
    assert_eq!(codes(&target).await, codes(&b).await);
    assert_eq!(
        std::fs::read(b.state_dir().join("reply.key")).unwrap(),
        std::fs::read(target.state_dir().join("reply.key")).unwrap()
    );

    // A backup without its manifest is incomplete.
    std::fs::remove_file(dest.join("manifest.json")).unwrap();
    let err = backup::verify(&dest).unwrap_err();
    assert!(format!("{err:#}").contains("incomplete"), "{err:#}");
    let (fresh, _md3) = fresh_board(None);
    let err = backup::restore(&config(&fresh), &dest, false, false)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("incomplete"), "{err:#}");
    assert!(!fresh.state_dir().join("state.db").exists());
}
