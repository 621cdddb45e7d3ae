//! The archive: raw messages and attachments as content-addressed files.
//!
//! A blob lives at `<root>/<first two hex digits>/<sha256>` and is never
//! rewritten (R19). It is written to `<root>/tmp/`, fsynced, renamed into
//! place and its directory fsynced, so after `Batch::sync` returns the bytes
//! survive a crash or power loss; a crash before that leaves at most a
//! stray temporary file, never a truncated blob under its final name.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Temporary files older than this are leftovers of a crash.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

#[derive(Debug, Clone)]
pub struct Archive {
    root: PathBuf,
}

/// Blobs written since the last `sync`: their directories still need an
/// fsync for the renames to be durable.
#[derive(Debug, Default)]
pub struct Batch {
    dirs: BTreeSet<PathBuf>,
}

impl Batch {
    /// Takes over the directories another batch still has to sync.
    pub fn merge(&mut self, other: Batch) {
        self.dirs.extend(other.dirs);
    }
}

/// The SHA-256 of `bytes` in lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn is_digest(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Archive {
    /// Opens (creating if needed) the archive under `root`.
    pub fn open(root: &Path) -> Result<Archive> {
        let tmp = root.join("tmp");
        fs::create_dir_all(&tmp)
            .with_context(|| format!("Cannot create the archive directory {}", tmp.display()))?;
        let archive = Archive {
            root: root.to_path_buf(),
        };
        archive.remove_stale_tmp();
        Ok(archive)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob with this digest lives (whether or not it exists).
    pub fn path(&self, sha256: &str) -> Result<PathBuf> {
        if !is_digest(sha256) {
            bail!("Not a SHA-256 digest: {sha256:?}");
        }
        let fan = sha256.get(..2).unwrap_or("00");
        Ok(self.root.join(fan).join(sha256))
    }

    pub fn contains(&self, sha256: &str) -> bool {
        self.path(sha256).is_ok_and(|p| p.is_file())
    }

    /// Stores `bytes` whose digest the caller already computed.
    pub fn put_hashed(&self, batch: &mut Batch, sha256: &str, bytes: &[u8]) -> Result<()> {
        let dest = self.path(sha256)?;
        if dest.is_file() {
            return Ok(());
        }
        let (tmp_path, mut file) = self.tmp_file()?;
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("Cannot write {}", tmp_path.display()));
        drop(file);
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp_path);
            return Err(e);
        }
        self.install(batch, &tmp_path, &dest)
    }

    /// Stores `bytes`, returning their digest.
    pub fn put(&self, batch: &mut Batch, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        self.put_hashed(batch, &sha, bytes)?;
        Ok(sha)
    }

    /// A writer for a blob too large to hold in memory; its digest is known
    /// when it is finished.
    pub fn writer(&self) -> Result<BlobWriter> {
        let (path, file) = self.tmp_file()?;
        Ok(BlobWriter {
            archive: self.clone(),
            path,
            file: Some(file),
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Reads a whole blob.
    pub fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.path(sha256)?;
        let mut buf = Vec::new();
        File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut buf))
            .with_context(|| format!("Cannot read archived blob {}", path.display()))?;
        Ok(buf)
    }

    /// Deletes a blob for good (a quarantined message the sysadmin
    /// dropped); the removal is made durable.
    pub fn remove(&self, sha256: &str) -> Result<()> {
        let path = self.path(sha256)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("Cannot delete {}", path.display())),
        }
        if let Some(dir) = path.parent() {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("Cannot sync {}", dir.display()))?;
        }
        Ok(())
    }

    /// Makes the renames of `batch` durable.
    pub fn sync(&self, batch: &mut Batch) -> Result<()> {
        for dir in std::mem::take(&mut batch.dirs) {
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .with_context(|| format!("Cannot fsync directory {}", dir.display()))?;
        }
        Ok(())
    }

    fn tmp_file(&self) -> Result<(PathBuf, File)> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{}.{}.{:08x}", std::process::id(), n, rand::random::<u32>());
        let path = self.root.join("tmp").join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("Cannot create {}", path.display()))?;
        Ok((path, file))
    }

    fn install(&self, batch: &mut Batch, tmp_path: &Path, dest: &Path) -> Result<()> {
        let dir = dest.parent().unwrap_or(&self.root).to_path_buf();
        if !dir.is_dir() {
            fs::create_dir_all(&dir).with_context(|| format!("Cannot create {}", dir.display()))?;
            batch.dirs.insert(self.root.clone());
        }
        fs::rename(tmp_path, dest)
            .with_context(|| format!("Cannot move {} to {}", tmp_path.display(), dest.display()))?;
        batch.dirs.insert(dir);
        Ok(())
    }

    fn remove_stale_tmp(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age > STALE_TMP_AGE);
            if old {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Streams one blob into the archive.
pub struct BlobWriter {
    archive: Archive,
    path: PathBuf,
    file: Option<File>,
    hasher: Sha256,
    len: u64,
}

impl BlobWriter {
    pub fn write(&mut self, chunk: &[u8]) -> Result<()> {
        let file = self
            .file
            .as_mut()
            .context("Blob writer used after it was finished")?;
        file.write_all(chunk)
            .with_context(|| format!("Cannot write {}", self.path.display()))?;
        self.hasher.update(chunk);
        self.len += chunk.len() as u64;
        Ok(())
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Completes the blob; returns its digest and length.
    pub fn finish(mut self, batch: &mut Batch) -> Result<(String, u64)> {
        let file = self.file.take().context("Blob writer finished twice")?;
        file.sync_all()
            .with_context(|| format!("Cannot fsync {}", self.path.display()))?;
        drop(file);
        let sha = hex::encode(std::mem::take(&mut self.hasher).finalize());
        let dest = self.archive.path(&sha)?;
        if dest.is_file() {
            let _ = fs::remove_file(&self.path);
        } else {
            self.archive.install(batch, &self.path, &dest)?;
        }
        Ok((sha, self.len))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_content_addressed_and_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open(dir.path()).unwrap();
        let mut batch = Batch::default();
        let sha = archive.put(&mut batch, b"xin chao").unwrap();
        assert_eq!(sha, sha256_hex(b"xin chao"));
        assert_eq!(archive.put(&mut batch, b"xin chao").unwrap(), sha);
        archive.sync(&mut batch).unwrap();
        assert_eq!(archive.read(&sha).unwrap(), b"xin chao");
        assert!(
            archive
                .path(&sha)
                .unwrap()
                .starts_with(dir.path().join(sha.get(..2).unwrap()))
        );
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn streamed_blob_matches_digest() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open(dir.path()).unwrap();
        let mut batch = Batch::default();
        let mut w = archive.writer().unwrap();
        w.write(b"part one, ").unwrap();
        w.write(b"part two").unwrap();
        let (sha, len) = w.finish(&mut batch).unwrap();
        assert_eq!(sha, sha256_hex(b"part one, part two"));
        assert_eq!(len, 18);
        assert!(archive.contains(&sha));
    }

    #[test]
    fn abandoned_writer_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open(dir.path()).unwrap();
        let mut w = archive.writer().unwrap();
        w.write(b"half").unwrap();
        drop(w);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn rejects_non_digest_names() {
        let dir = tempfile::tempdir().unwrap();
        let archive = Archive::open(dir.path()).unwrap();
        assert!(archive.path("../../etc/passwd").is_err());
    }
}
