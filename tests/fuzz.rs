//! Fuzzing the reading of messages (issue 13): real and malformed messages
//! (fixtures/corpus/mime, fixtures/mail, fixtures/content), mutated at
//! random — bytes flipped, truncated, two spliced together, headers doubled
//! or dropped, deep nesting inserted (HTML tags, multipart and
//! message/rfc822 levels), huge header lines, bad encodings — are read by
//! `bientap::ingest::read`, the step of the pipeline between the archive and
//! the database (parse, classify, refine, within `content.read_budget`).
//! Every input must end in a verdict without a panic, within the budget or
//! quarantined by it.
//!
//! Inside `cargo test` it runs for `BIENTAP_FUZZ_SECONDS` (default 20) or
//! `BIENTAP_FUZZ_ITERATIONS`, from the seed `BIENTAP_FUZZ_SEED` (random
//! when unset, and printed). `BIENTAP_FUZZ_ONLY=N` replays iteration N of a
//! seed alone; `BIENTAP_FUZZ_STRICT=1` also fails on an input the budget
//! stopped. A failing input is written to `target/fuzz/`. Long runs:
//! `scripts/fuzz.sh`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bientap::config::Config;
use bientap::ingest::{self, Reading};
use common::manifest_dir;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What a panic inside the reading turns into (see `ingest`).
const CRASHED: &str = "crashed";

/// Where the panics caught while reading happened (the pipeline catches
/// them and quarantines the message): a panic in our code fails the fuzz;
/// mail-parser's `debug_assert!`s, compiled into test builds only, do not.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn record_panics() {
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        if let Ok(mut p) = PANICS.lock() {
            p.push(place);
        }
    }));
}

/// Whether every panic since the last call was one of mail-parser's debug
/// assertions (a release build does not have them).
fn only_parser_assertions() -> bool {
    let mut p = PANICS.lock().unwrap();
    let ok = !p.is_empty() && p.iter().all(|place| place.contains("/mail-parser-"));
    p.clear();
    ok
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

fn seeds() -> Vec<Vec<u8>> {
    let root = manifest_dir().join("fixtures");
    let mut dirs: Vec<PathBuf> = ["rfc", "thirdparty", "malformed", "legacy"]
        .iter()
        .map(|g| root.join("corpus/mime").join(g))
        .collect();
    dirs.push(root.join("mail"));
    dirs.push(root.join("content"));
    let mut files = Vec::new();
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(files.len() > 120, "{} seed messages", files.len());
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn config(dir: &Path) -> Arc<Config> {
    let text = format!(
        "[board]\nname = 'Fuzz'\naddress = 'bbt@example.test'\n[storage]\nstate_dir = '{}'\n[maildir]\npath = '{}'\n\
         [[members]]\nname = 'T'\nemail = 'tb@example.test'\nroles = ['head']\n",
        dir.join("state").display(),
        dir.join("md").display()
    );
    Arc::new(Config::from_toml(&dir.join("bientap.toml"), &text).unwrap())
}

/// Where the header block ends (the blank line), if it does.
fn header_end(m: &[u8]) -> Option<usize> {
    let crlf = m.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 2);
    let lf = m.windows(2).position(|w| w == b"\n\n").map(|i| i + 1);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The header lines of `m` as (start, end) byte ranges, folded lines
/// included in their header.
fn header_lines(m: &[u8]) -> Vec<(usize, usize)> {
    let end = header_end(m).unwrap_or(m.len());
    let mut lines = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < end {
        if m[i] == b'\n' {
            let next = i + 1;
            let folded = m.get(next).is_some_and(|c| *c == b' ' || *c == b'\t');
            if !folded {
                lines.push((start, next));
                start = next;
            }
        }
        i += 1;
    }
    lines
}

fn pick<'a, T>(rng: &mut StdRng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// How deep an inserted nesting goes: mostly modest, sometimes huge.
fn levels(rng: &mut StdRng) -> usize {
    *pick(rng, &[2, 10, 100, 1_000, 10_000, 60_000, 200_000])
}

/// Deeply nested HTML of one of the shapes that once cost quadratic time.
fn html_nesting(rng: &mut StdRng) -> String {
    let n = levels(rng);
    let unit = *pick(
        rng,
        &[
            "<div>",
            "<span>",
            "<b>",
            "<b class=\"{i}\">",
            "<p><b id=\"{i}\"></p>x",
            "<div><i title=\"{i}\"></div>y",
            "<table><tr><td>",
            "<ul><li>",
            "<blockquote>",
            "<svg><g>",
            "<select><div>",
            "<a href=\"https://x/{i}\">",
            "<b><div>",
            "<font face=\"{i}\">",
            "<td>",
        ],
    );
    let close = rng.random_bool(0.5);
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&unit.replace("{i}", &i.to_string()));
    }
    s.push_str("Nội dung");
    if close {
        let end: String = unit
            .split('<')
            .filter(|t| !t.is_empty() && !t.starts_with('/'))
            .rev()
            .map(|t| {
                let name: String = t
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                format!("</{name}>")
            })
            .collect();
        s.push_str(&end.repeat(n));
    }
    s
}

/// Splits a message into its header block (with the blank line) and body.
fn split(m: &[u8]) -> (Vec<u8>, Vec<u8>) {
    match header_end(m) {
        Some(end) => {
            let body_at = if m[end..].starts_with(b"\r\n") {
                end + 2
            } else {
                end + 1
            };
            (m[..end].to_vec(), m[body_at.min(m.len())..].to_vec())
        }
        None => (m.to_vec(), Vec::new()),
    }
}

/// The message's headers with the content headers removed.
fn envelope(headers: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (s, e) in header_lines(headers) {
        let line = &headers[s..e];
        let lower = String::from_utf8_lossy(line).to_ascii_lowercase();
        if !lower.starts_with("content-") && !lower.starts_with("mime-version") {
            out.extend_from_slice(line);
        }
    }
    out
}

/// One mutation of `m`; `other` is another seed message. Returns what was
/// done, for the report.
fn mutate(rng: &mut StdRng, m: &mut Vec<u8>, other: &[u8]) -> String {
    match rng.random_range(0..12) {
        0 => {
            let n = rng.random_range(1..=16);
            for _ in 0..n {
                if m.is_empty() {
                    break;
                }
                let i = rng.random_range(0..m.len());
                m[i] ^= 1 << rng.random_range(0..8);
            }
            format!("{n} bits flipped")
        }
        1 => {
            let at = rng.random_range(0..=m.len());
            m.truncate(at);
            format!("truncated at {at}")
        }
        2 => {
            let a = rng.random_range(0..=m.len());
            let b = rng.random_range(0..=other.len());
            m.truncate(a);
            m.extend_from_slice(&other[b..]);
            format!("spliced at {a} with another message from {b}")
        }
        3 => {
            let lines = header_lines(m);
            if lines.is_empty() {
                return "no header to double".into();
            }
            let (s, e) = *pick(rng, &lines);
            let line = m[s..e].to_vec();
            let times = *pick(rng, &[1, 10, 10_000]);
            let at = e;
            let copies: Vec<u8> = line.repeat(times);
            m.splice(at..at, copies);
            format!("header line doubled {times} times")
        }
        4 => {
            let lines = header_lines(m);
            if lines.is_empty() {
                return "no header to drop".into();
            }
            let (s, e) = *pick(rng, &lines);
            m.drain(s..e);
            "header line dropped".into()
        }
        5 => {
            // Deep HTML as the body, or inside the existing one.
            let html = html_nesting(rng);
            let (headers, body) = split(m);
            let mut out = envelope(&headers);
            out.extend_from_slice(
                b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n",
            );
            if rng.random_bool(0.5) && !body.is_empty() {
                let at = rng.random_range(0..=body.len());
                out.extend_from_slice(&body[..at]);
                out.extend_from_slice(html.as_bytes());
                out.extend_from_slice(&body[at..]);
            } else {
                out.extend_from_slice(html.as_bytes());
            }
            *m = out;
            "deep HTML body".into()
        }
        6 => {
            // The message inside many multipart levels.
            let n = *pick(rng, &[2, 50, 1_000, 10_000]);
            let (headers, body) = split(m);
            let content: Vec<u8> = header_lines(&headers)
                .into_iter()
                .filter(|(s, _)| {
                    String::from_utf8_lossy(&headers[*s..(*s + 8).min(headers.len())])
                        .to_ascii_lowercase()
                        .starts_with("content-")
                })
                .flat_map(|(s, e)| headers[s..e].to_vec())
                .collect();
            let mut out = envelope(&headers);
            out.extend_from_slice(
                b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
            );
            for i in 0..n {
                out.extend_from_slice(
                    format!(
                        "--b{i}\r\nContent-Type: multipart/mixed; boundary=\"b{}\"\r\n\r\n",
                        i + 1
                    )
                    .as_bytes(),
                );
            }
            out.extend_from_slice(format!("--b{n}\r\n").as_bytes());
            out.extend_from_slice(&content);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&body);
            let closing = rng.random_bool(0.5);
            if closing {
                for i in (0..=n).rev() {
                    out.extend_from_slice(format!("\r\n--b{i}--\r\n").as_bytes());
                }
            }
            *m = out;
            format!("{n} multipart levels")
        }
        7 => {
            // The message forwarded inside itself many times.
            let n = *pick(rng, &[2, 50, 1_000, 10_000]);
            let mut out = Vec::new();
            for i in 0..n {
                out.extend_from_slice(
                    format!(
                        "From: fw{i}@example.test\r\nSubject: Fw {i}\r\nMIME-Version: 1.0\r\nContent-Type: message/rfc822\r\n\r\n"
                    )
                    .as_bytes(),
                );
            }
            out.extend_from_slice(m);
            *m = out;
            format!("{n} message/rfc822 levels")
        }
        8 => {
            // A huge header line, folded or not.
            let len = *pick(rng, &[1_000, 100_000, 1_000_000]);
            let (name, unit) = *pick(
                rng,
                &[
                    ("Subject", "=?utf-8?b?VGluIG3hu5tp?= "),
                    ("Subject", "x"),
                    ("To", "a@example.test, "),
                    ("References", "<a@b> "),
                    ("Content-Type", "text/html; a=b; "),
                    ("X-Long", "\r\n "),
                ],
            );
            let value = unit.repeat(len / unit.len() + 1);
            let line = format!("{name}: {value}\r\n");
            let lines = header_lines(m);
            let at = lines.first().map_or(0, |l| l.0);
            m.splice(at..at, line.into_bytes());
            format!("{name} header of {len} bytes")
        }
        9 => {
            // Bad encodings.
            let (headers, body) = split(m);
            let mut out = envelope(&headers);
            let (ct, cte) = *pick(
                rng,
                &[
                    ("text/html; charset=\"x-unknown\"", "base64"),
                    ("text/plain; charset=utf-8", "base64"),
                    ("text/html; charset=windows-1258", "quoted-printable"),
                    ("text/plain; charset=\"utf-7\"", "8bit"),
                    ("text/html; charset=iso-2022-jp", "7bit"),
                    ("text/plain; charset=utf-16", "binary"),
                ],
            );
            out.extend_from_slice(
                format!("MIME-Version: 1.0\r\nContent-Type: {ct}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n")
                    .as_bytes(),
            );
            let mut body = body;
            for _ in 0..rng.random_range(0..8) {
                if body.is_empty() {
                    break;
                }
                let i = rng.random_range(0..body.len());
                let junks: [&[u8]; 6] = [
                    &b"=\r\n"[..],
                    b"=ZZ",
                    b"\xff\xfe",
                    b"\xc3",
                    b"====",
                    b"=?utf-8?q?=E1?=",
                ];
                body.splice(i..i, pick(rng, &junks).iter().copied());
            }
            out.extend_from_slice(&body);
            *m = out;
            format!("body declared {ct}, {cte}")
        }
        10 => {
            // Encoded words in the subject and sender, broken or huge.
            let word = *pick(
                rng,
                &[
                    "=?utf-8?b?4bqi?=",
                    "=?utf-8?q?=E1=BA?=",
                    "=?unknown?b?AAAA?=",
                    "=?utf-8?b?????=",
                    "=?utf-8*vi?q?T=C3=ACn?=",
                ],
            );
            let n = *pick(rng, &[1, 100, 50_000]);
            let line = format!(
                "Subject: {}\r\nFrom: {} <x@example.test>\r\n",
                word.repeat(n),
                word.repeat(n.min(100))
            );
            m.splice(0..0, line.into_bytes());
            format!("{n} encoded words {word}")
        }
        _ => {
            // A text body made HTML, so that the HTML path reads it.
            let (headers, body) = split(m);
            let mut out = envelope(&headers);
            out.extend_from_slice(
                b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body>",
            );
            out.extend_from_slice(&body);
            *m = out;
            "body read as HTML".into()
        }
    }
}

/// Reads one input; `Err` says what is wrong.
fn check(config: &Arc<Config>, input: &[u8], strict: bool) -> Result<Reading, String> {
    let start = Instant::now();
    let reading = ingest::read(config, input);
    let took = start.elapsed();
    if let Reading::Quarantine { reason } = &reading {
        if reason.is_empty() {
            return Err("quarantined without a reason".into());
        }
        if reason.contains(CRASHED) && !only_parser_assertions() {
            return Err(format!("the reading panicked: {reason}"));
        }
        if reason.contains("content.read_budget") {
            if strict {
                return Err(format!("stopped by the budget: {reason}"));
            }
            return Ok(reading);
        }
    }
    // Returned at the budget at the latest (with room for a busy machine).
    if took > config.read_budget + Duration::from_secs(10) {
        return Err(format!(
            "took {took:?}, over the budget and not stopped by it"
        ));
    }
    Ok(reading)
}

fn save(seed: u64, iteration: u64, input: &[u8]) -> PathBuf {
    let dir = manifest_dir().join("target/fuzz");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{seed:016x}-{iteration}.eml"));
    std::fs::write(&path, input).unwrap();
    path
}

#[test]
fn reading_mutated_messages_always_ends_in_a_verdict() {
    // A fixed seed in `cargo test` (the same inputs on every run, so CI is
    // repeatable); `scripts/fuzz.sh` explores random ones.
    let seed: u64 = env("BIENTAP_FUZZ_SEED").unwrap_or(0x5eed_b1e7_7a90_0001);
    let seconds: u64 = env("BIENTAP_FUZZ_SECONDS").unwrap_or(20);
    let max_iterations: u64 = env("BIENTAP_FUZZ_ITERATIONS").unwrap_or(u64::MAX);
    let only: Option<u64> = env("BIENTAP_FUZZ_ONLY");
    let strict = env::<u8>("BIENTAP_FUZZ_STRICT").is_some_and(|v| v != 0);
    eprintln!(
        "fuzz: seed {seed} ({seconds} s; rerun with BIENTAP_FUZZ_SEED={seed}, one input with BIENTAP_FUZZ_ONLY=<iteration>)"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let seeds = seeds();
    record_panics();

    // The seeds themselves first: all of them read cleanly.
    if only.is_none() {
        for (i, raw) in seeds.iter().enumerate() {
            if let Err(why) = check(&config, raw, true) {
                panic!("seed message {i}: {why}");
            }
        }
    }

    let start = Instant::now();
    let deadline = Duration::from_secs(seconds);
    let (mut iterations, mut stopped) = (0u64, 0u64);
    let mut kinds = std::collections::BTreeMap::<&str, u64>::new();
    let range: Box<dyn Iterator<Item = u64>> = match only {
        Some(n) => Box::new(n..=n),
        None => Box::new(0..max_iterations),
    };
    for iteration in range {
        if only.is_none() && start.elapsed() >= deadline {
            break;
        }
        let mut rng = StdRng::seed_from_u64(seed ^ iteration.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let mut input = pick(&mut rng, &seeds).clone();
        let other = pick(&mut rng, &seeds).clone();
        let mut done = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            done.push(mutate(&mut rng, &mut input, &other));
        }
        iterations += 1;
        match check(&config, &input, strict) {
            Ok(reading) => {
                let kind = match reading {
                    Reading::Ticket => "ticket",
                    Reading::Reply { .. } => "reply",
                    Reading::Automatic { .. } => "automatic",
                    Reading::Quarantine { reason } => {
                        if reason.contains("content.read_budget") {
                            stopped += 1;
                            let path = save(seed, iteration, &input);
                            eprintln!(
                                "fuzz: iteration {iteration} stopped by the budget ({}); input in {}",
                                done.join(", "),
                                path.display()
                            );
                        }
                        "quarantine"
                    }
                };
                *kinds.entry(kind).or_default() += 1;
            }
            Err(why) => {
                let path = save(seed, iteration, &input);
                panic!(
                    "fuzz: iteration {iteration} of seed {seed} ({}): {why}; input in {}; replay with BIENTAP_FUZZ_SEED={seed} BIENTAP_FUZZ_ONLY={iteration}",
                    done.join(", "),
                    path.display()
                );
            }
        }
    }
    eprintln!(
        "fuzz: {iterations} inputs in {:.1} s: {kinds:?}, {stopped} stopped by the budget",
        start.elapsed().as_secs_f64()
    );
    assert!(iterations > 0);
}
