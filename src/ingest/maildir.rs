//! The Maildir source: a board whose mail server delivers into a local
//! Maildir (and the demo). New mail is read from `new/`, committed, then
//! renamed into `cur/` with the Seen flag. A crash between commit and
//! rename leaves the file in `new/`; the next scan finds it already
//! recorded (same digest) and only renames it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use jiff::Timestamp;

use super::{Ack, Body, Channel, Incoming, Outcome, Pipeline};
use crate::config;
use crate::net::Shutdown;

/// Messages committed together.
const BATCH_MESSAGES: usize = 64;
const BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// Polls the Maildir until shutdown (or once).
pub async fn run(
    pipeline: &Pipeline,
    md: &config::Maildir,
    shutdown: &Shutdown,
    once: bool,
) -> Result<()> {
    check_layout(&md.path)?;
    tracing::info!(path = %md.path.display(), "reading Maildir");
    loop {
        let started = std::time::Instant::now();
        match scan(pipeline, &md.path, shutdown).await {
            Ok(_) => pipeline.health().polled(started.elapsed()),
            Err(e) if once => return Err(e),
            Err(e) => {
                pipeline.health().source_down(&format!("{e:#}"));
                tracing::error!(error = %format!("{e:#}"), "Maildir scan failed; retrying");
            }
        }
        if once || !shutdown.sleep(md.poll_interval).await {
            return Ok(());
        }
    }
}

fn check_layout(path: &Path) -> Result<()> {
    for sub in ["new", "cur"] {
        let dir = path.join(sub);
        if !dir.is_dir() {
            bail!(
                "{} is not a Maildir: {} is missing (set maildir.path to a folder with new/ and cur/)",
                path.display(),
                dir.display()
            );
        }
    }
    Ok(())
}

/// The files waiting in `new/`, oldest name first (Maildir names start with
/// the delivery time).
fn waiting(path: &Path) -> Result<Vec<PathBuf>> {
    let new = path.join("new");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
        .with_context(|| format!("Cannot list {}", new.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files)
}

/// Reads one file; a file over the size limit is streamed into the archive.
pub(crate) fn read_file(pipeline: &Pipeline, path: &Path) -> Result<Incoming> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("Cannot stat {}", path.display()))?;
    let arrived_at = meta
        .modified()
        .ok()
        .and_then(|t| Timestamp::try_from(t).ok());
    let limit = pipeline.config().storage.max_message_size;
    let body = if meta.len() > limit {
        use std::io::Read;
        let mut file =
            std::fs::File::open(path).with_context(|| format!("Cannot open {}", path.display()))?;
        let mut writer = pipeline.archive().writer()?;
        let mut buf = vec![0u8; 1024 * 1024];
        loop {
            let n = file
                .read(&mut buf)
                .with_context(|| format!("Cannot read {}", path.display()))?;
            let Some(chunk) = buf.get(..n) else { break };
            if chunk.is_empty() {
                break;
            }
            writer.write(chunk)?;
        }
        let mut durable = crate::store::archive::Batch::default();
        let (sha256, size) = writer.finish(&mut durable)?;
        pipeline.archive().sync(&mut durable)?;
        Body::Archived { sha256, size }
    } else {
        Body::Bytes(std::fs::read(path).with_context(|| format!("Cannot read {}", path.display()))?)
    };
    Ok(Incoming {
        body,
        arrived_at,
        channel: Channel::Email,
    })
}

/// The name a processed message gets in `cur/`: Seen flag added.
fn cur_name(file_name: &str) -> String {
    match file_name.split_once(":2,") {
        Some((base, flags)) if flags.contains('S') => format!("{base}:2,{flags}"),
        Some((base, flags)) => {
            let mut f: Vec<char> = flags.chars().chain(['S']).collect();
            f.sort_unstable();
            format!("{base}:2,{}", f.into_iter().collect::<String>())
        }
        None => format!("{file_name}:2,S"),
    }
}

/// Reads files from the front of `files` until a batch is full.
fn read_batch(pipeline: &Pipeline, files: &[PathBuf]) -> (usize, Vec<(PathBuf, Incoming)>) {
    let mut batch = Vec::new();
    let mut bytes = 0u64;
    let mut used = 0;
    for file in files {
        used += 1;
        match read_file(pipeline, file) {
            Ok(incoming) => {
                if let Body::Bytes(b) = &incoming.body {
                    bytes += b.len() as u64;
                }
                batch.push((file.clone(), incoming));
            }
            // Gone (another reader took it) or unreadable: it stays where it is.
            Err(e) => {
                tracing::warn!(file = %file.display(), error = %format!("{e:#}"), "skipping unreadable Maildir file")
            }
        }
        if batch.len() >= BATCH_MESSAGES || bytes >= BATCH_BYTES {
            break;
        }
    }
    (used, batch)
}

/// Processes everything currently in `new/`; returns the outcomes.
pub async fn scan(pipeline: &Pipeline, path: &Path, shutdown: &Shutdown) -> Result<Vec<Outcome>> {
    let mut files = waiting(path)?;
    let mut all = Vec::with_capacity(files.len());
    while !files.is_empty() && !shutdown.is_set() {
        let reader = pipeline.clone();
        let pending = std::mem::take(&mut files);
        let (used, batch, pending) = tokio::task::spawn_blocking(move || {
            let (used, batch) = read_batch(&reader, &pending);
            (used, batch, pending)
        })
        .await
        .context("The Maildir reader task failed")?;
        files = pending.into_iter().skip(used).collect();
        let (paths, incoming): (Vec<PathBuf>, Vec<Incoming>) = batch.into_iter().unzip();
        let outcomes = pipeline.process("maildir", incoming, Ack::None).await?;
        for p in &paths {
            mark_seen(path, p)?;
        }
        all.extend(outcomes);
    }
    Ok(all)
}

fn mark_seen(maildir: &Path, file: &Path) -> Result<()> {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("Maildir entry without a name")?;
    let dest = maildir.join("cur").join(cur_name(&name));
    std::fs::rename(file, &dest)
        .with_context(|| format!("Cannot move {} to {}", file.display(), dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seen_flag_is_added_once() {
        assert_eq!(cur_name("1700000000.M1P2.host"), "1700000000.M1P2.host:2,S");
        assert_eq!(cur_name("x:2,F"), "x:2,FS");
        assert_eq!(cur_name("x:2,S"), "x:2,S");
    }
}
