//! Zalo webhook acceptance benchmark (issue: Zalo channel).
//!
//! A running `bientap run` with `[zalo]` configured receives signed webhook
//! requests from 50 concurrent senders (one connection per request, as
//! Zalo's servers make them), 40 text events each. Every request is timed
//! from the moment it is written to the moment the status line is read: in
//! that time the signature is checked, the raw event fsynced into the
//! archive and its row committed to SQLite. Printed: p50, p90, p99 and the
//! maximum against Zalo's 2-second limit, the rate, and a check that every
//! accepted event is in the state database. Run with
//! `cargo bench --bench zalo`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;

const SENDERS: usize = 50;
const EACH: usize = 40;
const APP: &str = "360846524940903967";
const SECRET: &str = "bench-secret";

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let md = tempfile::tempdir().unwrap();
    for sub in ["new", "cur", "tmp"] {
        std::fs::create_dir_all(md.path().join(sub)).unwrap();
    }
    // A long quiet window: only acceptance is measured, nothing collected.
    let b = Board::new(
        "bbt@example.test",
        Mailbox::Maildir(md.path().to_path_buf()),
        None,
        &format!(
            "[zalo]\napp_id = \"{APP}\"\noa_id = \"1\"\nsecret_key_file = \"zalo-secret\"\n\
             refresh_token_file = \"zalo-refresh\"\nlisten = \"127.0.0.1:0\"\nquiet_window = \"1h\"\n\
             api_base = \"http://127.0.0.1:9\"\noauth_base = \"http://127.0.0.1:9\"\n"
        ),
    );
    std::fs::write(b.dir.path().join("zalo-secret"), SECRET).unwrap();
    std::fs::write(b.dir.path().join("zalo-refresh"), "unused").unwrap();
    let mut daemon = b.start();
    let addr = b.running("zalo");

    let start = Instant::now();
    let threads: Vec<_> = (0..SENDERS)
        .map(|s| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut times = Vec::with_capacity(EACH);
                for i in 0..EACH {
                    let ts = jiff::Timestamp::now().as_millisecond().to_string();
                    let body = serde_json::json!({
                        "app_id": APP,
                        "sender": {"id": format!("90000000000{s:05}")},
                        "recipient": {"id": "1"},
                        "event_name": "user_send_text",
                        "message": {"msg_id": format!("bench-{s}-{i}"), "text": "Tin bài về hoạt động của xã trong tuần."},
                        "timestamp": ts,
                    })
                    .to_string();
                    let mac = bientap::zalo::signature::mac(APP, body.as_bytes(), &ts, SECRET);
                    let t = Instant::now();
                    let (code, _) = http_with(
                        &addr,
                        "POST",
                        "/zalo/webhook",
                        &[("X-ZEvent-Signature", &mac)],
                        &body,
                    );
                    times.push(t.elapsed());
                    assert_eq!(code, 200);
                }
                times
            })
        })
        .collect();
    let mut times: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let wall = start.elapsed();
    times.sort();

    let store = b.store().await;
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM zalo_events")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    daemon.stop();

    let n = times.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "Zalo webhook acceptance, {SENDERS} concurrent senders × {EACH} events ({n} requests):"
    );
    println!(
        "  p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms (Zalo's limit: 2000 ms)",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.90)),
        ms(percentile(&times, 0.99)),
        ms(times[n - 1]),
    );
    println!(
        "  {:.0} requests/s; {stored} of {n} events durable in the state database",
        n as f64 / wall.as_secs_f64()
    );
}
