//! The command line as a sysadmin meets it: configuration checks, reading
//! one message with `inspect`, the Maildir daemon stopping on SIGTERM.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::process::Command;

use common::*;

fn bientap(args: &[&str]) -> std::process::Output {
    Command::new(bientap_bin()).args(args).output().unwrap()
}

#[test]
fn check_config_reports_every_problem_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[board]\nname = \"BBT\"\naddress = \"khong-phai-email\"\ntime_zone = \"Asia/Hanoi_Typo\"\n\
         [imap]\nhost = \"imap.example.org\"\nusername = \"bbt\"\npassword_file = \"missing-secret\"\nfoldr = \"INBOX\"\n",
    )
    .unwrap();
    let out = bientap(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "5 problems",
        "khong-phai-email",
        "Asia/Hanoi_Typo",
        "missing-secret",
        "unknown key `imap.foldr`",
        "`review.default_approver` = \"head\": no active member has this role",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    // `run` refuses the same file the same way, without a panic.
    let out = bientap(&["--config", cfg.to_str().unwrap(), "run", "--once"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));

    let out = bientap(&[
        "--config",
        dir.path().join("nope.toml").to_str().unwrap(),
        "check-config",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the configuration file"));
}

#[test]
fn secrets_come_from_files_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("imap-password"), "s3cret\n").unwrap();
    let cfg = dir.path().join("ok.toml");
    let base = "[board]\nname = \"BBT\"\naddress = \"bbt@example.test\"\n[storage]\nstate_dir = \"state\"\n\
                [[members]]\nname = \"TB\"\nemail = \"tb@example.test\"\nroles = [\"head\"]\n\
                [imap]\nhost = \"127.0.0.1\"\nusername = \"bbt@example.test\"\n";
    std::fs::write(&cfg, format!("{base}password_file = \"imap-password\"\n")).unwrap();
    let out = bientap(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret"));

    // No password in the file: the environment supplies it.
    std::fs::write(&cfg, base).unwrap();
    let out = bientap(&["--config", cfg.to_str().unwrap(), "check-config"]);
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(bientap_bin())
        .args(["--config", cfg.to_str().unwrap(), "check-config"])
        .env("BIENTAP_IMAP_PASSWORD", "from-env")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // systemd's LoadCredential=: relative secret files are looked up there.
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("imap"), "from-credentials").unwrap();
    std::fs::write(&cfg, format!("{base}password_file = \"imap\"\n")).unwrap();
    let out = Command::new(bientap_bin())
        .args(["--config", cfg.to_str().unwrap(), "check-config"])
        .env("CREDENTIALS_DIRECTORY", creds.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn inspect_explains_one_message() {
    let path = manifest_dir().join("fixtures/mail/05-reply-outlook-vi.eml");
    let out = bientap(&[
        "--config",
        "/nonexistent.toml",
        "inspect",
        path.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "reply");
    assert_eq!(v["ticket"], "BBT-2026-0001");
    assert_eq!(v["found_in"], "subject");
    assert_eq!(v["from"]["address"], "an.nv@collab.example.test");
    assert_eq!(
        v["reply_text"],
        "Xin bổ sung: số liệu thu nhập là 52,5 triệu đồng."
    );
    for field in [
        "file",
        "size",
        "sha256",
        "message_id",
        "subject",
        "title",
        "date",
        "attachments",
        "notes",
        "body_html",
        "body_text",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }

    let path = manifest_dir().join("fixtures/mail/02-stranger-html-inline.eml");
    let out = bientap(&[
        "--config",
        "/nonexistent.toml",
        "inspect",
        path.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("submission"), "{text}");
    assert!(text.contains("co.png (image/png"), "{text}");
    assert!(!text.contains("<script"), "{text}");

    let out = bientap(&["inspect", "/nonexistent.eml"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("Cannot read /nonexistent.eml"));
}

#[tokio::test]
async fn maildir_daemon_picks_up_new_mail_and_stops_on_sigterm() {
    let md = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.path().join(sub)).unwrap();
    }
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(md.path().to_path_buf()),
        None,
        "",
    );
    let mut daemon = b.start();
    // Delivered the Maildir way: written to tmp/, renamed into new/.
    for (i, name) in ["01-member-plain-photo.eml", "03-windows-1258.eml"]
        .iter()
        .enumerate()
    {
        let tmp = md.path().join("tmp").join(format!("{i}.host"));
        std::fs::write(&tmp, fixture(name)).unwrap();
        std::fs::rename(&tmp, md.path().join("new").join(format!("{i}.host"))).unwrap();
    }
    let tickets = wait_tickets(&b, 2, &mut daemon).await;
    assert_eq!(tickets.len(), 2);
    let status = daemon.stop();
    assert!(status.success(), "{}", daemon.log_text());
    let cur: Vec<String> = std::fs::read_dir(md.path().join("cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(cur.len(), 2);
    assert!(cur.iter().all(|n| n.ends_with(":2,S")), "{cur:?}");

    let out = b.cli(&["tickets", "show", "BBT-1999-0001"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("No ticket BBT-1999-0001"));
}

/// The shipped configurations stay valid: the documented example (with its
/// password from the environment) and the demo.
#[test]
fn shipped_configs_pass_check_config() {
    let example = manifest_dir().join("config/bientap.example.toml");
    let out = Command::new(bientap_bin())
        .args(["--config", example.to_str().unwrap(), "check-config"])
        .env("BIENTAP_IMAP_PASSWORD", "x")
        .env("BIENTAP_SMTP_PASSWORD", "y")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let demo = manifest_dir().join("config/demo.toml");
    let out = bientap(&["--config", demo.to_str().unwrap(), "check-config"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
