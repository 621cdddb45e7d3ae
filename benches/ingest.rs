//! Ingest benchmark (issue: mail room core).
//!
//! 1,000 submissions of mixed sizes (most a few KB of text, some with photos,
//! some with 1–5 MB attachments) are delivered into a private Dovecot. Then
//!
//! - the floor: one IMAP session fetches every message (UID FETCH
//!   BODY.PEEK[] in the same batch sizes bientap uses) and throws it away;
//! - bientap: `bientap run --once` ingests the same mailbox (archive, parse,
//!   sanitize, commit to SQLite, move to the processed folder).
//!
//! Printed: messages per second for both, the ratio bientap / floor, and
//! bientap's peak memory (VmHWM) against the target of 100 MB plus twice the
//! largest message. Run with `cargo bench --bench ingest`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use futures::StreamExt;

const MESSAGES: usize = 1000;

/// A small deterministic generator (xorshift), so every run sees the same mix.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn message(i: usize, rng: &mut Rng) -> Vec<u8> {
    let text = "Sáng ngày 22/11/2026, UBND xã tổ chức hội nghị tổng kết công tác năm. "
        .repeat(20 + rng.below(200) as usize);
    let roll = rng.below(100);
    let attachment = match roll {
        0..=79 => None,
        80..=94 => Some((
            "anh.jpg",
            "image/jpeg",
            100_000 + rng.below(900_000) as usize,
        )),
        _ => Some((
            "tai-lieu.pdf",
            "application/pdf",
            1_000_000 + rng.below(4_000_000) as usize,
        )),
    };
    let mut raw = format!(
        "From: ctv{i}@sink.example.test\r\nTo: bbt@example.test\r\nSubject: =?utf-8?b?{}?=\r\n\
         Message-ID: <bench-{i}@sink.example.test>\r\nMIME-Version: 1.0\r\n",
        base64::engine::general_purpose::STANDARD.encode(format!("Tin bài số {i}"))
    );
    match attachment {
        None => raw.push_str(&format!(
            "Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        )),
        Some((name, ctype, size)) => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(rng.bytes(size));
            raw.push_str("Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n");
            raw.push_str(&format!(
                "Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n--b\r\n"
            ));
            raw.push_str(&format!(
                "Content-Type: {ctype}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ));
            for line in b64.as_bytes().chunks(76) {
                raw.push_str(std::str::from_utf8(line).unwrap());
                raw.push_str("\r\n");
            }
            raw.push_str("--b--\r\n");
        }
    }
    raw.into_bytes()
}

async fn raw_fetch(stack: &MailStack, user: &str, batch_bytes: u64) -> (Duration, usize, u64) {
    let start = Instant::now();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", stack.imap_port))
        .await
        .unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    let mut imap = client
        .login(user, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap();
    imap.select("INBOX").await.unwrap();
    let mut sizes = Vec::new();
    {
        let mut s = imap.uid_fetch("1:*", "(UID RFC822.SIZE)").await.unwrap();
        while let Some(f) = s.next().await {
            let f = f.unwrap();
            sizes.push((f.uid.unwrap(), u64::from(f.size.unwrap())));
        }
    }
    let (mut count, mut bytes) = (0, 0u64);
    let mut batch: Vec<u32> = Vec::new();
    let mut batch_size = 0;
    let flush = |batch: &mut Vec<u32>| {
        let set = batch
            .iter()
            .map(|u| u.to_string())
            .collect::<Vec<_>>()
            .join(",");
        batch.clear();
        set
    };
    for (i, (uid, size)) in sizes.iter().enumerate() {
        batch.push(*uid);
        batch_size += size;
        if batch_size >= batch_bytes || i + 1 == sizes.len() {
            let set = flush(&mut batch);
            batch_size = 0;
            let mut s = imap
                .uid_fetch(set, "(UID INTERNALDATE BODY.PEEK[])")
                .await
                .unwrap();
            while let Some(f) = s.next().await {
                let f = f.unwrap();
                // Copy the body out, as a consumer would.
                let body = f.body().unwrap().to_vec();
                bytes += body.len() as u64;
                count += 1;
            }
        }
    }
    imap.logout().await.unwrap();
    (start.elapsed(), count, bytes)
}

fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let stack = MailStack::private("bench", "dovecot");
    let board = format!("{}@{DOMAIN}", unique("bench"));
    let mut rng = Rng(0x5eed_b1e7_u64);
    let (mut total, mut largest) = (0u64, 0u64);
    eprintln!("delivering {MESSAGES} messages into Dovecot …");
    for i in 0..MESSAGES {
        let raw = message(i, &mut rng);
        total += raw.len() as u64;
        largest = largest.max(raw.len() as u64);
        stack.deliver_lmtp("ctv@sink.example.test", &[&board], &raw);
    }

    let batch_bytes = 16 * 1024 * 1024;
    let (floor, fetched, fetched_bytes) = raw_fetch(&stack, &board, batch_bytes).await;
    assert_eq!(fetched, MESSAGES);

    let b = Board::new(
        &board,
        Mailbox::Imap {
            stack: &stack,
            tls: "none",
            auth: ImapAuth::Password,
        },
        None,
        "",
    );
    // Ingest alone: the receipts and notifications it causes wait in the
    // outbox (no [smtp]), as they would for a board without outgoing mail.
    let text = std::fs::read_to_string(&b.config).unwrap();
    let without_smtp = match (text.find("[smtp]"), text.find("[[members]]")) {
        (Some(start), Some(end)) if start < end => format!("{}{}", &text[..start], &text[end..]),
        _ => text,
    };
    std::fs::write(&b.config, without_smtp).unwrap();
    let start = Instant::now();
    let mut child = Command::new(bientap_bin())
        .arg("--config")
        .arg(&b.config)
        .args(["run", "--once"])
        .env("BIENTAP_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(p) = peak_rss_kb(pid) {
            peak = peak.max(p);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    assert!(status.success(), "bientap failed");
    let tickets = b.tickets().await.len();
    assert_eq!(tickets, MESSAGES, "every message must become a ticket");

    let mb = |b: u64| b as f64 / 1_048_576.0;
    let rate = |d: Duration| MESSAGES as f64 / d.as_secs_f64();
    println!(
        "ingest benchmark: {MESSAGES} messages, {:.1} MB in all, largest {:.1} MB",
        mb(total),
        mb(largest)
    );
    println!(
        "  raw IMAP UID FETCH (floor): {:>7.2} s  {:>8.1} msg/s  {:>6.1} MB/s",
        floor.as_secs_f64(),
        rate(floor),
        mb(fetched_bytes) / floor.as_secs_f64()
    );
    println!(
        "  bientap run --once:         {:>7.2} s  {:>8.1} msg/s  {:>6.1} MB/s",
        took.as_secs_f64(),
        rate(took),
        mb(total) / took.as_secs_f64()
    );
    println!(
        "  ratio bientap / floor: {:.2} (target ≤ 1.5)",
        took.as_secs_f64() / floor.as_secs_f64()
    );
    println!(
        "  peak memory (VmHWM): {:.1} MB (target ≤ 100 MB + 2 × largest = {:.1} MB)",
        peak as f64 / 1024.0,
        100.0 + 2.0 * mb(largest)
    );
}
