//! Deadlines on Vietnamese working days. Weeks of a board's life are
//! simulated with an injected clock (a Tết week and a make-up Saturday
//! included), then the reminder mails are checked in real mailboxes, across
//! a kill -9.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bientap::config::Config;
use bientap::ingest::{Ack, Body, Channel, Incoming, Pipeline, PipelineParts, Wake};
use bientap::schedule::Clock;
use bientap::schedule::calendar::Calendar;
use bientap::schedule::reminders::Scheduler;
use bientap::store::{Archive, Store};
use bientap::workflow::auth::{ReplyKey, reply_address};
use common::*;
use jiff::Timestamp;
use jiff::civil::{Date, Time, date};
use sqlx::Row;

#[derive(Debug)]
struct FakeClock(Mutex<Timestamp>);

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

impl FakeClock {
    fn set(&self, t: Timestamp) {
        *self.0.lock().unwrap() = t;
    }
}

/// Local (Hà Nội) time.
fn ict(d: Date, h: i8, m: i8) -> Timestamp {
    d.at(h, m, 0, 0)
        .in_tz("Asia/Ho_Chi_Minh")
        .unwrap()
        .timestamp()
}

struct Sim {
    _dir: tempfile::TempDir,
    config: Arc<Config>,
    calendar: Arc<Calendar>,
    store: Store,
    pipeline: Pipeline,
    scheduler: Scheduler,
    clock: Arc<FakeClock>,
    key: ReplyKey,
}

async fn simulation(start: Timestamp) -> Sim {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let md = dir.path().join("md");
    for sub in ["new", "cur"] {
        std::fs::create_dir_all(md.join(sub)).unwrap();
    }
    let text = format!(
        r#"
        [board]
        name = "Ban biên tập"
        address = "bbt@example.test"
        [storage]
        state_dir = "{}"
        [maildir]
        path = "{}"
        [review]
        default_approver = "deputy"
        [calendar]
        working_days = ["2026-02-28"]
        [[calendar.tet]]
        year = 2026
        first = "2026-02-14"
        last = "2026-02-22"
        [reminders]
        before = 1
        escalate_after = 2
        quota_days = 3
        quarter_report_days = 5
        [[members]]
        name = "Trưởng ban"
        email = "tb@example.test"
        roles = ["head"]
        [[members]]
        name = "Phó ban"
        email = "pb@example.test"
        roles = ["deputy"]
        [[members]]
        name = "Thành viên"
        email = "tv@example.test"
        roles = ["member"]
        "#,
        state.display(),
        md.display()
    );
    let config = Arc::new(Config::from_toml(&dir.path().join("bientap.toml"), &text).unwrap());
    let store = Store::open(&config.database.url).await.unwrap();
    let archive = Archive::open(&state.join("archive")).unwrap();
    let key = ReplyKey::load_or_create(&state).unwrap();
    let calendar = Arc::new(Calendar::new(
        config.board.time_zone.clone(),
        config.calendar.clone(),
    ));
    let clock = Arc::new(FakeClock(Mutex::new(start)));
    let wake = Wake::default();
    let pipeline = Pipeline::new(PipelineParts {
        config: Arc::clone(&config).into(),
        store: store.clone(),
        archive,
        key: key.clone(),
        calendar: Arc::clone(&calendar).into(),
        clock: clock.clone(),
        wake: wake.clone(),
        health: Arc::default(),
    });
    let scheduler = Scheduler::new(
        Arc::clone(&config).into(),
        Arc::clone(&calendar).into(),
        store.clone(),
        clock.clone(),
        wake.scheduler.clone(),
        wake.outbox.clone(),
    );
    Sim {
        _dir: dir,
        config,
        calendar,
        store,
        pipeline,
        scheduler,
        clock,
        key,
    }
}

impl Sim {
    async fn mail(&self, at: Timestamp, raw: Vec<u8>) {
        self.clock.set(at);
        let incoming = Incoming {
            body: Body::Bytes(raw),
            arrived_at: Some(at),
            channel: Channel::Email,
        };
        self.pipeline
            .process("maildir", vec![incoming], Ack::None)
            .await
            .unwrap();
    }

    async fn code_of(&self, title: &str) -> String {
        sqlx::query_scalar("SELECT code FROM tickets WHERE title = $1")
            .bind(title)
            .fetch_one(self.store.pool())
            .await
            .unwrap()
    }

    /// (kind, recipient, created_at, subject, text) of every outbox row.
    async fn outbox(&self) -> Vec<(String, String, Timestamp, String, String)> {
        sqlx::query(
            "SELECT kind, recipient, created_at, subject, body_text FROM outbox ORDER BY id",
        )
        .fetch_all(self.store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get("kind"),
                r.get("recipient"),
                Timestamp::from_millisecond(r.get("created_at")).unwrap(),
                r.get("subject"),
                r.get("body_text"),
            )
        })
        .collect()
    }
}

/// Five weeks, half-hour by half-hour, from Monday 9 February to 20 March 2026: Tết
/// (configured as 14–22 February), a make-up Saturday (28 February), the
/// end of February (quota) and the run-up to the quarter report.
#[tokio::test]
async fn five_weeks_with_tet_and_a_make_up_saturday() {
    let start = ict(date(2026, 2, 9), 0, 0);
    let sim = simulation(start).await;
    let deputy = "pb@example.test";

    // T1: Monday 9 Feb 09:00, due Thursday 12 Feb 09:00 (3 calendar days).
    // T2: Friday 13 Feb 16:00, due Monday 16 Feb 16:00, in the middle of Tết.
    // T3: from the member, approved by reply on Wednesday 11 Feb.
    let arrivals = [
        (
            ict(date(2026, 2, 9), 9, 0),
            article(
                "ctv@sink.example.test",
                "bbt@example.test",
                "Tin một",
                "Nội dung.",
            ),
        ),
        (
            ict(date(2026, 2, 10), 8, 0),
            article(
                "tv@example.test",
                "bbt@example.test",
                "Tin của thành viên",
                "Nội dung.",
            ),
        ),
        (
            ict(date(2026, 2, 13), 16, 0),
            article(
                "ctv@sink.example.test",
                "bbt@example.test",
                "Tin hai",
                "Nội dung.",
            ),
        ),
    ];
    let end = ict(date(2026, 3, 20), 0, 0);
    let mut t = start;
    let mut next_arrival = 0;
    let mut rounds = 0;
    while t < end {
        while let Some((at, raw)) = arrivals.get(next_arrival)
            && *at <= t
        {
            sim.mail(*at, raw.clone()).await;
            next_arrival += 1;
        }
        if t == ict(date(2026, 2, 11), 10, 0) {
            // The deputy approves the member's article by replying.
            let code = sim.code_of("Tin của thành viên").await;
            let token = sim.key.token(&code, deputy, "reviewing", 1, 1);
            let to = reply_address("bbt@example.test", &code, &token);
            let reply = format!(
                "From: {deputy}\r\nTo: {to}\r\nSubject: Re: [{code}] Cần duyệt\r\nMessage-ID: <{}@x>\r\n\r\nDUYỆT\r\n",
                unique("r")
            );
            sim.mail(t, reply.into_bytes()).await;
        }
        sim.clock.set(t);
        sim.scheduler.round(t).await.unwrap();
        rounds += 1;
        t = t.checked_add(jiff::SignedDuration::from_mins(30)).unwrap();
    }
    assert!(rounds > 1800);

    let out = sim.outbox().await;
    let cal = &sim.calendar;
    let local = |ts: Timestamp| ts.to_zoned_datetime(sim.config.board.time_zone.clone());
    let automatic: Vec<_> = out
        .iter()
        .filter(|o| ["remind", "escalate", "quota", "report"].contains(&o.0.as_str()))
        .collect();
    assert!(!automatic.is_empty());
    for (kind, to, at, subject, _) in &automatic {
        let z = local(*at);
        assert!(
            cal.is_working_day(z.date()),
            "{kind} to {to} on a day off: {z} ({subject})"
        );
        assert!(
            z.time() >= Time::constant(7, 30, 0, 0) && z.time() < Time::constant(17, 0, 0, 0),
            "{kind} outside working hours: {z}"
        );
        assert!(
            !(date(2026, 2, 14)..=date(2026, 2, 22)).contains(&z.date()),
            "{kind} during Tết: {z}"
        );
    }
    // One digest per reviewer per round.
    let mut per_round: BTreeMap<(String, Timestamp), usize> = BTreeMap::new();
    for (kind, to, at, _, _) in &out {
        if kind == "remind" {
            *per_round.entry((to.clone(), *at)).or_default() += 1;
        }
    }
    assert!(per_round.values().all(|n| *n == 1), "{per_round:?}");

    let reminders: Vec<String> = out
        .iter()
        .filter(|o| o.0 == "remind" && o.1 == deputy)
        .map(|o| local(o.2).strftime("%Y-%m-%d %H:%M").to_string())
        .collect();
    assert_eq!(
        reminders.get(..5).unwrap(),
        [
            "2026-02-11 09:00", // T1, one working day before its deadline
            "2026-02-12 09:00", // T1 at its deadline
            "2026-02-13 07:30", // T1 overdue (T2's early reminder would be due at once: skipped)
            "2026-02-23 07:30", // after Tết: T1 overdue, T2 at its deadline, one digest
            "2026-02-24 07:30",
        ]
        .map(String::from),
        "all: {reminders:?}"
    );
    assert!(
        reminders.contains(&"2026-02-28 07:30".to_string()),
        "the make-up Saturday is a working day: {reminders:?}"
    );
    assert!(
        !reminders.contains(&"2026-03-01 07:30".to_string()),
        "Sunday is not: {reminders:?}"
    );
    let digest = out
        .iter()
        .find(|o| o.0 == "remind" && local(o.2).date() == date(2026, 2, 23))
        .unwrap();
    assert!(
        digest.3.contains("2 bài đang chờ Anh/Chị") && digest.3.contains("2 bài quá hạn"),
        "{}",
        digest.3
    );

    // Escalations to the head, once per ticket, 2 working days after the deadline.
    let escalations: Vec<(String, String)> = out
        .iter()
        .filter(|o| o.0 == "escalate")
        .map(|o| {
            (
                o.1.clone(),
                local(o.2).strftime("%Y-%m-%d %H:%M").to_string(),
            )
        })
        .collect();
    assert_eq!(
        escalations,
        vec![
            (
                "tb@example.test".to_string(),
                "2026-02-23 09:00".to_string()
            ),
            (
                "tb@example.test".to_string(),
                "2026-02-24 16:00".to_string()
            ),
        ]
    );

    // R17: on the first of the last 3 working days of February (Thursday
    // 26, as Saturday 28 works), members with nothing approved in February.
    let quota: Vec<(String, String)> = out
        .iter()
        .filter(|o| o.0 == "quota")
        .map(|o| {
            (
                o.1.clone(),
                local(o.2).strftime("%Y-%m-%d %H:%M").to_string(),
            )
        })
        .collect();
    let feb: Vec<&(String, String)> = quota
        .iter()
        .filter(|q| q.1.starts_with("2026-02"))
        .collect();
    assert!(feb.iter().all(|q| q.1 == "2026-02-26 07:30"), "{quota:?}");
    let feb_to: Vec<&str> = feb.iter().map(|q| q.0.as_str()).collect();
    assert!(
        !feb_to.contains(&"tv@example.test"),
        "the member had an article approved: {quota:?}"
    );
    assert_eq!(
        feb_to.iter().filter(|t| **t == "tb@example.test").count(),
        2,
        "the head: own reminder and the list"
    );
    assert!(feb_to.contains(&"pb@example.test"));

    // R23: 5 working days before 25 March.
    let reports: Vec<(String, String)> = out
        .iter()
        .filter(|o| o.0 == "report")
        .map(|o| {
            (
                o.1.clone(),
                local(o.2).strftime("%Y-%m-%d %H:%M").to_string(),
            )
        })
        .collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert!(
        reports.iter().all(|r| r.1 == "2026-03-18 07:30"),
        "{reports:?}"
    );

    // Running the last round again sends nothing twice.
    let before = out.len();
    sim.scheduler.round(end).await.unwrap();
    assert_eq!(sim.outbox().await.len(), before);
}

/// A ticket arrives already overdue: the reviewer's digest and the head's
/// escalation reach their real mailboxes; after a kill -9 and restart
/// neither is sent again.
#[tokio::test]
async fn reminders_reach_mailboxes_once_across_a_crash() {
    let stack = stack();
    let u = unique("remind");
    let board = format!("bbt-{u}@{DOMAIN}");
    let (tb, pb) = (format!("tb-{u}@{DOMAIN}"), format!("pb-{u}@{DOMAIN}"));
    // Every day around today is a working day, all day: the test does not
    // depend on when it runs.
    let today = Timestamp::now().in_tz("Asia/Ho_Chi_Minh").unwrap().date();
    let days: Vec<String> = (-10..=3)
        .map(|i| {
            format!(
                "\"{}\"",
                today.checked_add(jiff::Span::new().days(i)).unwrap()
            )
        })
        .collect();
    let b = Board::with_members(
        &board,
        Mailbox::imap(stack, "starttls"),
        None,
        &members(&[("Trưởng ban", &tb, "head"), ("Phó ban", &pb, "deputy")]),
        &format!(
            "[review]\ndefault_approver = \"deputy\"\n[calendar]\nworking_hours = \"00:00-23:59\"\nworking_days = [{}]\n[reminders]\nescalate_after = 1\nquota_days = 0\nquarter_report_days = 0\n",
            days.join(", ")
        ),
    );
    // Arrived five days ago (the server's INTERNALDATE).
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
    let five_days_ago = Timestamp::now()
        .in_tz("Asia/Ho_Chi_Minh")
        .unwrap()
        .checked_sub(jiff::Span::new().days(5))
        .unwrap();
    let internal = five_days_ago.strftime("%d-%b-%Y %H:%M:%S %z").to_string();
    let raw = article("ctv@sink.example.test", &board, "Tin cũ", "Nội dung.");
    imap.append("INBOX", None, Some(&format!("\"{internal}\"")), &raw)
        .await
        .unwrap();
    imap.logout().await.unwrap();

    let mut daemon = b.start();
    let digest = stack.wait_mail(&pb, "Nhắc việc").await;
    assert!(
        digest.text.contains("Tin cũ") && digest.text.contains("quá hạn"),
        "{}",
        digest.text
    );
    let escalation = stack.wait_mail(&tb, "Báo cáo bài quá hạn").await;
    assert!(escalation.text.contains("Tin cũ"), "{}", escalation.text);
    b.wait_outbox_empty(&mut daemon).await;
    daemon.kill9();

    // Restart, and make the daemon do a full round of work (a new ticket,
    // its notification sent) before counting.
    let mut daemon = b.start();
    stack.send_smtp(
        "ctv@sink.example.test",
        &[&board],
        &article("ctv@sink.example.test", &board, "Tin mới", "Nội dung."),
    );
    wait_until(Duration::from_secs(60), "the new notification", || {
        stack.count_subject(&pb, "Cần duyệt: Tin mới") == 1
    });
    b.wait_outbox_empty(&mut daemon).await;
    daemon.stop();
    assert_eq!(
        stack.count_subject(&pb, "Nhắc việc"),
        1,
        "{:?}",
        stack
            .inbox(&pb)
            .iter()
            .map(|m| &m.subject)
            .collect::<Vec<_>>()
    );
    assert_eq!(stack.count_subject(&tb, "Báo cáo bài quá hạn"), 1);

    let out = b.cli(&["tickets", "list", "--overdue", "--json"]);
    let overdue: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(overdue.as_array().unwrap().len(), 1, "{overdue}");
    assert_eq!(overdue[0]["title"], "Tin cũ");
}
