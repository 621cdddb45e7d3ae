//! Scheduler benchmark (issue: deadlines on working days).
//!
//! 100,000 open tickets in a SQLite state database, their next reminders
//! spread over 60 days; 1 % of them are due at the benchmark's "now". The
//! scheduler must find the earliest due instant and handle what is due
//! without reading every ticket. Printed: time to find the next due
//! instant, time of one full round (select the due tickets, advance their
//! reminders, write one digest per reviewer and the escalations, commit),
//! and peak memory of the process. Run with `cargo bench --bench schedule`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bientap::config::Config;
use bientap::schedule::Clock;
use bientap::schedule::calendar::Calendar;
use bientap::schedule::reminders::Scheduler;
use bientap::store::Store;
use jiff::Timestamp;
use tokio::sync::Notify;

const TICKETS: i64 = 100_000;

#[derive(Debug)]
struct Fixed(Mutex<Timestamp>);

impl Clock for Fixed {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[board]\nname = \"BBT\"\naddress = \"bbt@example.test\"\n[storage]\nstate_dir = \"{}\"\n[maildir]\npath = \"/nonexistent\"\n\
         [review]\ndefault_approver = \"deputy\"\n[calendar]\nworking_hours = \"00:00-23:59\"\n\
         [[members]]\nname = \"TB\"\nemail = \"tb@example.test\"\nroles = [\"head\"]\n\
         [[members]]\nname = \"PB\"\nemail = \"pb@example.test\"\nroles = [\"deputy\"]\n",
        dir.path().display()
    );
    let config = Arc::new(Config::from_toml(&dir.path().join("b.toml"), &text).unwrap());
    let store = Store::open(&config.database.url).await.unwrap();

    // A Monday morning, so "now" is working time.
    let now: Timestamp = "2026-11-30T02:00:00Z".parse().unwrap();
    let start = Instant::now();
    let day = 86_400_000i64;
    let mut tx = store.begin().await.unwrap();
    for i in 0..TICKETS {
        // next_alert_at spread over 60 days around now; 1 % due.
        let next = if i % 100 == 0 {
            now.as_millisecond() - 60_000
        } else {
            now.as_millisecond() + 60_000 + (i * 53) % (60 * day)
        };
        sqlx::query(
            "INSERT INTO tickets (code, state, title, sender_addr, received_at, due_at, first_message, created_at,
                 updated_at, assignee_role, alert_step, next_alert_at)
             VALUES ($1, 'reviewing', $2, 'ctv@sink.example.test', $3, $4, 0, $3, $3, 'deputy', 1, $5)",
        )
        .bind(format!("BBT-2026-{:06}", i + 1))
        .bind(format!("Tin số {i}"))
        .bind(next - 3 * day)
        .bind(next)
        .bind(next)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    println!(
        "schedule benchmark: {TICKETS} open tickets inserted in {:.1} s",
        start.elapsed().as_secs_f64()
    );

    let calendar = Arc::new(Calendar::new(
        config.board.time_zone.clone(),
        config.calendar.clone(),
    ));
    let clock = Arc::new(Fixed(Mutex::new(now)));
    let scheduler = Scheduler::new(
        Arc::clone(&config).into(),
        calendar.into(),
        store.clone(),
        clock,
        Arc::new(Notify::new()),
        Arc::new(Notify::new()),
    );

    let t = Instant::now();
    let mut earliest = None;
    for _ in 0..100 {
        earliest = scheduler.next_due().await.unwrap();
    }
    let find = t.elapsed().as_secs_f64() / 100.0;
    assert!(earliest.is_some_and(|e| e <= now));

    let t = Instant::now();
    let round = scheduler.round(now).await.unwrap();
    let round_time = t.elapsed().as_secs_f64();
    assert_eq!(round.tickets, usize::try_from(TICKETS / 100).unwrap());
    let t = Instant::now();
    let again = scheduler.round(now).await.unwrap();
    let idle_round = t.elapsed().as_secs_f64();
    assert_eq!(again.tickets, 0);

    println!("  find the earliest due instant: {:>8.3} ms", find * 1000.0);
    println!(
        "  one round, {} due tickets ({} digests, {} escalation mails): {:>8.1} ms",
        round.tickets,
        round.digests,
        round.escalations,
        round_time * 1000.0
    );
    println!(
        "  a round with nothing due:      {:>8.3} ms",
        idle_round * 1000.0
    );
    println!("  peak memory (VmHWM): {:.1} MB", peak_rss_mb());
}
