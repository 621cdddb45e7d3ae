//! Reading benchmark (issue 13, item 9): how long the pipeline's reading
//! step (`bientap::ingest::read`: MIME, sanitizing, text, classification,
//! checks) takes for one message, for an ordinary submission and for the
//! nesting bombs that once held up a batch for minutes. Each message is
//! read three times and the fastest is printed, with what it came to.
//! The budget is raised to its maximum so that every time is the reading's
//! own. Run with `cargo bench --bench reading`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use bientap::config::Config;
use bientap::ingest::{self, Reading};

fn html_mail(body: &str) -> Vec<u8> {
    format!(
        "From: ctv@sink.example.test\r\nTo: bbt@example.test\r\nSubject: Tin\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

fn repeat(unit: &str, n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&unit.replace("{i}", &i.to_string()));
    }
    s
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[board]\nname = 'Bench'\naddress = 'bbt@example.test'\n[storage]\nstate_dir = '{}'\n[maildir]\npath = '{}'\n\
         [content]\nread_budget = 600\n\
         [[members]]\nname = 'T'\nemail = 'tb@example.test'\nroles = ['head']\n",
        dir.path().join("state").display(),
        dir.path().join("md").display()
    );
    let config = Arc::new(Config::from_toml(&dir.path().join("bientap.toml"), &text).unwrap());
    let paragraph =
        "<p>Sáng ngày 22/11/2026, UBND xã tổ chức <b>hội nghị</b> tổng kết công tác năm.</p>";
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("ordinary article (HTML)", html_mail(&paragraph.repeat(200))),
        (
            "60,000 unclosed <div>",
            html_mail(&format!("{}Bài", "<div>".repeat(60_000))),
        ),
        (
            "100,000 closed <div>",
            html_mail(&format!(
                "{}Bài{}",
                "<div>".repeat(100_000),
                "</div>".repeat(100_000)
            )),
        ),
        (
            "200,000 nested <div>",
            html_mail(&format!(
                "{}Bài{}",
                "<div>".repeat(200_000),
                "</div>".repeat(200_000)
            )),
        ),
        (
            "100,000 <b class=N>",
            html_mail(&format!("{}Bài", repeat("<b class=\"{i}\">", 100_000))),
        ),
        (
            "100,000 <p><b id=N></p>x",
            html_mail(&repeat("<p><b id=\"{i}\"></p>x", 100_000)),
        ),
        (
            "50,000 <blockquote>x<br>",
            html_mail(&repeat("<blockquote>x<br>", 50_000)),
        ),
    ];
    println!("reading one message (fastest of 3), release build:");
    for (name, raw) in &cases {
        let mut best = Duration::MAX;
        let mut outcome = String::new();
        for _ in 0..3 {
            let start = Instant::now();
            let reading = ingest::read(&config, raw);
            best = best.min(start.elapsed());
            outcome = match reading {
                Reading::Ticket => "ticket".into(),
                Reading::Reply { ticket } => format!("reply to {ticket}"),
                Reading::Automatic { reason } => format!("automatic: {reason}"),
                Reading::Quarantine { reason } => format!("quarantined: {reason}"),
            };
        }
        println!(
            "  {name:<28} {:>7.2} MB {:>9.1} ms  {outcome}",
            raw.len() as f64 / 1_048_576.0,
            best.as_secs_f64() * 1000.0
        );
    }
}
