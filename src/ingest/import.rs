//! Backlog import: a Maildir or an mbox file of mail that arrived before
//! bientap ran. The files are only read, never changed; importing the same
//! backlog twice changes nothing (messages are recognized by digest and
//! Message-ID).

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use serde::Serialize;

use super::maildir::read_file;
use super::{Ack, Body, Channel, Incoming, Outcome, Pipeline};

const BATCH_MESSAGES: usize = 64;
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// Counts of what an import did.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub messages: usize,
    pub tickets: usize,
    pub replies: usize,
    pub automatic: usize,
    pub quarantined: usize,
    pub duplicates: usize,
    pub unreadable: usize,
}

impl Summary {
    fn add(&mut self, outcomes: &[Outcome]) {
        for o in outcomes {
            self.messages += 1;
            match o {
                Outcome::Ticket { .. } => self.tickets += 1,
                Outcome::Reply { .. } => self.replies += 1,
                Outcome::Automatic { .. } => self.automatic += 1,
                Outcome::Quarantined { .. } => self.quarantined += 1,
                Outcome::Duplicate => self.duplicates += 1,
            }
        }
    }
}

fn progress_bar(len: u64, what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:40}] {pos}/{len} ({per_sec}, {eta} left)",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

/// Imports every message of a Maildir (new/ and cur/, and Maildir++
/// subfolders are not followed).
pub async fn maildir(pipeline: &Pipeline, dir: &Path, show_progress: bool) -> Result<Summary> {
    let mut files: Vec<PathBuf> = Vec::new();
    for sub in ["cur", "new"] {
        let d = dir.join(sub);
        if !d.is_dir() {
            bail!(
                "{} is not a Maildir: {} is missing",
                dir.display(),
                d.display()
            );
        }
        for entry in
            std::fs::read_dir(&d).with_context(|| format!("Cannot list {}", d.display()))?
        {
            let entry = entry.with_context(|| format!("Cannot list {}", d.display()))?;
            if entry.file_type().is_ok_and(|t| t.is_file())
                && !entry.file_name().to_string_lossy().starts_with('.')
            {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    let bar = progress_bar(files.len() as u64, "importing", show_progress);
    let mut summary = Summary::default();
    let mut batch = Vec::new();
    let mut bytes = 0u64;
    for (i, file) in files.iter().enumerate() {
        let reader = pipeline.clone();
        let path = file.clone();
        match tokio::task::spawn_blocking(move || read_file(&reader, &path)).await? {
            Ok(incoming) => {
                if let Body::Bytes(b) = &incoming.body {
                    bytes += b.len() as u64;
                }
                batch.push(incoming);
            }
            Err(e) => {
                summary.unreadable += 1;
                bar.suspend(|| tracing::warn!(file = %file.display(), error = %format!("{e:#}"), "skipping unreadable file"));
            }
        }
        if batch.len() >= BATCH_MESSAGES || bytes >= BATCH_BYTES || i + 1 == files.len() {
            let n = batch.len() as u64;
            let outcomes = pipeline
                .process("import", std::mem::take(&mut batch), Ack::None)
                .await?;
            summary.add(&outcomes);
            bytes = 0;
            bar.inc(n);
        }
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// Imports every message of an mbox file.
pub async fn mbox(pipeline: &Pipeline, file: &Path, show_progress: bool) -> Result<Summary> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("Cannot read {}", file.display()))?
        .len();
    let bar = progress_bar(size, "importing (bytes)", show_progress);
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<Incoming>>>(2);
    let path = file.to_path_buf();
    // The mbox reader is blocking; it hands batches over a small channel.
    let reader = tokio::task::spawn_blocking(move || {
        let send = |batch: Result<Vec<Incoming>>| tx.blocking_send(batch).is_ok();
        let f = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                send(Err(
                    anyhow::Error::new(e).context(format!("Cannot open {}", path.display()))
                ));
                return;
            }
        };
        let mut batch = Vec::new();
        let mut bytes = 0u64;
        for message in mail_parser::mailbox::mbox::MessageIterator::new(BufReader::new(f)) {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    send(Err(anyhow::Error::new(e).context(format!(
                        "Cannot read the mbox file {}",
                        path.display()
                    ))));
                    return;
                }
            };
            let date = message.internal_date();
            let arrived_at = i64::try_from(date)
                .ok()
                .filter(|d| *d > 0)
                .and_then(|d| Timestamp::from_second(d).ok());
            let raw = message.unwrap_contents();
            bytes += raw.len() as u64;
            batch.push(Incoming {
                body: Body::Bytes(raw),
                arrived_at,
                channel: Channel::Email,
            });
            if (batch.len() >= BATCH_MESSAGES || bytes >= BATCH_BYTES)
                && !send(Ok(std::mem::take(&mut batch)))
            {
                return;
            }
            if bytes >= BATCH_BYTES {
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            send(Ok(batch));
        }
    });
    let mut summary = Summary::default();
    while let Some(batch) = rx.recv().await {
        let batch = batch?;
        let batch_bytes: u64 = batch
            .iter()
            .map(|m| match &m.body {
                Body::Bytes(b) => b.len() as u64,
                Body::Archived { size, .. } => *size,
            })
            .sum();
        let outcomes = pipeline.process("import", batch, Ack::None).await?;
        summary.add(&outcomes);
        bar.inc(batch_bytes);
    }
    reader.await.context("The mbox reader task failed")?;
    bar.finish_and_clear();
    Ok(summary)
}

/// The summary as `key: value` lines.
pub fn render(summary: &Summary) -> String {
    [
        ("messages read", summary.messages),
        ("new tickets", summary.tickets),
        ("replies to tickets", summary.replies),
        ("automatic mail dropped", summary.automatic),
        ("quarantined", summary.quarantined),
        ("already known", summary.duplicates),
        ("unreadable files", summary.unreadable),
    ]
    .iter()
    .map(|(k, v)| format!("{k}: {v}"))
    .collect::<Vec<_>>()
    .join("\n")
}
