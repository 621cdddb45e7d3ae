//! Backups (R20): a consistent snapshot of a board's state, taken while the
//! daemon runs, checked against a manifest, and restored.
//!
//! A backup is a directory:
//!
//! | path | what |
//! | --- | --- |
//! | `state.db` | the SQLite state database (`VACUUM INTO`: a consistent online snapshot) |
//! | `state.pgdump` | or the PostgreSQL state database (`pg_dump --format=custom`) |
//! | `reply.key` | the key reply tokens are made with; without it, the tokens in mails already sent stop working |
//! | `archive/<ab>/<sha256>` | every raw message and attachment |
//! | `media/…` | the published copies in `site.media_dir`, when a `[site]` is configured |
//! | `manifest.sha256` | the SHA-256 of `manifest.json`, in `sha256sum` format |
//! | `manifest.json` | what the backup holds: every file with its size and SHA-256, the counts; written last |
//!
//! The portal's own database (`site.url`) is *not* backed up: it belongs to
//! the portal's team, who back it up with the rest of the portal. The media
//! directory is included because bientap writes it.
//!
//! Consistency: the database is snapshotted first, the archive copied after.
//! The archive is content-addressed and append-only, and a blob is durable
//! before the transaction that references it commits, so every blob the
//! snapshot references is already there when the archive is copied; blobs
//! that arrive later are copied too, harmlessly. A backup without
//! `manifest.json` is incomplete (it was interrupted): `verify` and `restore`
//! refuse it.
//!
//! A backup holds the reply key and everything collaborators sent: keep it
//! as confidential as the state directory (it is created with mode 0700).

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, IsTerminal, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{ConnectOptions, Connection};

use crate::config::{Config, redact_url};
use crate::store::{Archive, Store, archive::Batch};

/// The manifest format this version writes and reads.
pub const FORMAT: u32 = 1;
/// The manifest, listing every file of a backup.
pub const MANIFEST: &str = "manifest.json";
/// The SHA-256 of `manifest.json`, in `sha256sum` format.
pub const MANIFEST_SHA256: &str = "manifest.sha256";
/// The SQLite snapshot inside a backup.
pub const SQLITE_FILE: &str = "state.db";
/// The PostgreSQL dump inside a backup.
pub const PGDUMP_FILE: &str = "state.pgdump";
/// The reply key, in the state directory and in a backup.
pub const REPLY_KEY: &str = "reply.key";

/// Files are copied and hashed in pieces of this size, never read whole.
const CHUNK: usize = 1 << 20;

/// What a backup holds (written as DEST/manifest.json).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format; this version writes and reads [`FORMAT`].
    pub format: u32,
    /// When the backup was taken (its database snapshot), RFC 3339 UTC.
    pub created_at: String,
    /// The bientap version that took it; restore with the same or a newer one.
    pub bientap_version: String,
    /// `"sqlite"` (the backup holds `state.db`) or `"postgres"` (`state.pgdump`).
    pub database: String,
    /// The newest schema migration applied to the snapshot.
    #[serde(default)]
    pub schema_version: i64,
    /// The state directory it was taken from (for the record only).
    #[serde(default)]
    pub state_dir: String,
    /// Tickets in the database snapshot.
    pub tickets: i64,
    /// Messages (every mail taken in) in the database snapshot.
    #[serde(default)]
    pub messages: i64,
    /// Archive blobs copied (raw messages and attachments).
    #[serde(default)]
    pub archive_blobs: u64,
    /// Files copied from the site's media directory.
    #[serde(default)]
    pub media_files: u64,
    /// Blobs the snapshot references that were not in the archive when the
    /// backup was taken: damage of the live archive, recorded so it is known.
    /// Empty on a healthy board.
    #[serde(default)]
    pub missing_blobs: Vec<String>,
    /// Every file of the backup but the manifest itself.
    pub files: Vec<FileEntry>,
}

/// One file of a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup directory, '/' separated.
    pub path: String,
    pub size: u64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
}

/// The result of checking a backup against its manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// Files checked.
    pub files: usize,
    /// Bytes read while checking.
    pub bytes: u64,
    /// What is wrong, one sentence each; empty when the backup is sound.
    pub problems: Vec<String>,
}

impl Verified {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The state database's kind, from its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

impl Kind {
    fn of(url: &str) -> Result<Kind> {
        if url.starts_with("sqlite:") {
            Ok(Kind::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Kind::Postgres)
        } else {
            bail!(
                "Unsupported state database URL {}; backups know sqlite://PATH and postgres://USER@HOST/DB",
                redact_url(url)
            )
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
        }
    }

    fn file(self) -> &'static str {
        match self {
            Kind::Sqlite => SQLITE_FILE,
            Kind::Postgres => PGDUMP_FILE,
        }
    }
}

/// What the database snapshot holds.
#[derive(Debug, Default)]
struct Snapshot {
    tickets: i64,
    messages: i64,
    schema_version: i64,
    /// Archive digests the snapshot references (messages and attachments).
    referenced: BTreeSet<String>,
}

/// Takes a consistent snapshot of the board's state into `dest` (created;
/// must be empty or absent). Safe while the daemon runs.
///
/// Order: the state database first (SQLite `VACUUM INTO`, or `pg_dump` on a
/// snapshot exported from a transaction that also counts the tickets), then
/// the reply key, the archive (each blob's SHA-256 checked against its name
/// while it is copied and fsynced; the archive's `tmp/` is skipped) and the
/// site's media directory, then `manifest.sha256` and last `manifest.json`,
/// each written to a temporary name, fsynced and renamed. The portal's
/// database is not included (see the module documentation). A progress bar
/// goes to stderr when `progress` and stderr is a terminal.
///
/// Errors: `dest` not empty, no state database, `pg_dump` missing or failing,
/// a corrupt archive blob (named), any I/O failure. A partial `dest` is left
/// behind without a manifest; delete it and try again.
pub async fn backup(config: &Config, dest: &Path, progress: bool) -> Result<Manifest> {
    let show = progress && std::io::stderr().is_terminal();
    let kind = Kind::of(&config.database.url)?;
    let archive_root = config.storage.state_dir.join("archive");
    let media_root = config.site.as_ref().map(|s| s.media_dir.clone());
    let dest = prepare_dest(dest, &archive_root, media_root.as_deref())?;
    let created_at = jiff::Timestamp::now().to_string();

    let spinner = spinner("snapshotting the state database", show);
    let db_out = dest.join(kind.file());
    let snapshot = match kind {
        Kind::Sqlite => sqlite_snapshot(&sqlite_path(&config.database.url)?, &db_out).await,
        Kind::Postgres => pg_snapshot(&config.database.url, &db_out).await,
    };
    spinner.finish_and_clear();
    let snapshot = snapshot?;

    let job = CopyJob {
        dest: dest.clone(),
        db_file: kind.file(),
        state_dir: config.storage.state_dir.clone(),
        archive_root,
        media_root,
        show,
    };
    let copied = tokio::task::spawn_blocking(move || job.run())
        .await
        .context("The backup's copying task failed")??;

    let missing_blobs: Vec<String> = snapshot
        .referenced
        .difference(&copied.blobs)
        .cloned()
        .collect();
    for sha in missing_blobs.iter().take(20) {
        tracing::warn!(
            blob = %sha,
            "the state database references an archive blob that is not in the archive"
        );
    }
    let manifest = Manifest {
        format: FORMAT,
        created_at,
        bientap_version: env!("CARGO_PKG_VERSION").to_string(),
        database: kind.name().to_string(),
        schema_version: snapshot.schema_version,
        state_dir: config.storage.state_dir.display().to_string(),
        tickets: snapshot.tickets,
        messages: snapshot.messages,
        archive_blobs: copied.blobs.len() as u64,
        media_files: copied.media_files,
        missing_blobs,
        files: copied.files,
    };
    let to_write = manifest.clone();
    tokio::task::spawn_blocking(move || write_manifest(&dest, &to_write))
        .await
        .context("The manifest task failed")??;
    Ok(manifest)
}

/// Checks every file against the manifest (and the manifest's own
/// checksum); returns a report.
///
/// Ok with the problems listed (a file missing, of another size or content,
/// a path outside the backup, the manifest changed since it was written,
/// the database file absent); Err only when the manifest cannot be read at
/// all (no `manifest.json`: the backup is incomplete; unparsable; a format
/// from a newer bientap). Reads every file once, in pieces.
pub fn verify(dest: &Path) -> Result<Verified> {
    verify_inner(dest, false).map(|(_, v)| v)
}

/// Restores `src` into the board's configured state dir / database / media
/// dir. Refuses when the target already holds state unless `force`; refuses
/// when verify finds problems.
///
/// Stop the service first (`systemctl stop bientap`): for SQLite, restore
/// refuses while another process has the state database open, even with
/// `force`; for PostgreSQL, while other sessions are connected to the
/// database. Run it as the service's user, or as root (restored files are
/// then given to the owner of the state directory / media directory).
///
/// Order: the archive blobs (through the archive's own temp + fsync +
/// rename), the media files, the reply key, then the database: SQLite's
/// `state.db` copied next to the target, fsynced, the old `-wal`/`-shm`
/// removed and renamed into place; PostgreSQL through `pg_restore --clean
/// --if-exists --no-owner --no-privileges --single-transaction` into the
/// configured database. Finally the store is opened (bringing the schema up
/// to date) and its tickets counted against the manifest.
///
/// "Holds state": the target database has tickets or messages. An existing
/// archive does not count (blobs are content-addressed; the backup's are
/// added to it). The backup must be of the same database kind as the
/// configuration (SQLite to SQLite, PostgreSQL to PostgreSQL).
pub async fn restore(config: &Config, src: &Path, force: bool, progress: bool) -> Result<Manifest> {
    let show = progress && std::io::stderr().is_terminal();
    let kind = Kind::of(&config.database.url)?;
    let src = src.to_path_buf();
    let checked = src.clone();
    let (manifest, verified) = tokio::task::spawn_blocking(move || verify_inner(&checked, show))
        .await
        .context("The verification task failed")??;
    if let Some(first) = verified.problems.first() {
        bail!(
            "The backup in {} failed verification ({} problem(s); the first: {first}). Nothing was restored. \
             Run `bientap backup --verify {}` to see them all, and restore another backup.",
            src.display(),
            verified.problems.len(),
            src.display()
        );
    }
    if manifest.database != kind.name() {
        bail!(
            "The backup in {} holds a {} database but the configuration's state database is {}; \
             restore only goes from SQLite to SQLite or PostgreSQL to PostgreSQL. Point `database.url` at the right kind of database.",
            src.display(),
            manifest.database,
            kind.name()
        );
    }

    // The target: nobody using it, and empty unless forced.
    let target_db = match kind {
        Kind::Sqlite => {
            let path = sqlite_path(&config.database.url)?;
            check_sqlite_target(&path, force).await?;
            Some(path)
        }
        Kind::Postgres => {
            check_pg_target(&config.database.url, force).await?;
            None
        }
    };

    let job = RestoreJob {
        src: src.clone(),
        manifest: manifest.clone(),
        state_dir: config.storage.state_dir.clone(),
        media_root: config.site.as_ref().map(|s| s.media_dir.clone()),
        target_db: target_db.clone(),
        show,
    };
    tokio::task::spawn_blocking(move || job.run())
        .await
        .context("The restore task failed")??;

    if kind == Kind::Postgres {
        pg_restore(&config.database.url, &src.join(PGDUMP_FILE)).await?;
    }

    let store = Store::open(&config.database.url).await.with_context(|| {
        format!(
            "The restored state database {} cannot be opened",
            redact_url(&config.database.url)
        )
    })?;
    let tickets: Result<i64> = sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
        .fetch_one(store.pool())
        .await
        .context("Cannot count the restored tickets");
    store.close().await;
    if let Some(db) = &target_db {
        give_sidecars_to_owner(db);
    }
    let tickets = tickets?;
    if tickets != manifest.tickets {
        bail!(
            "The restored state database has {tickets} tickets but the backup's manifest says {}; \
             the restore is not trustworthy. Restore another backup.",
            manifest.tickets
        );
    }
    Ok(manifest)
}

// ---------------------------------------------------------------------------
// Backup: the database.

/// The file a `sqlite:` URL names (the same reading as the store's).
fn sqlite_path(url: &str) -> Result<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        bail!("The state database must be a file (sqlite://PATH) to be backed up or restored");
    }
    Ok(PathBuf::from(path))
}

/// `VACUUM INTO` on a read-only connection to the live database: SQLite
/// writes a consistent copy as of one read transaction, while the daemon
/// goes on writing (WAL). The snapshot is then fsynced and counted.
async fn sqlite_snapshot(db: &Path, out: &Path) -> Result<Snapshot> {
    if !db.is_file() {
        bail!(
            "There is no state database at {}: nothing to back up. Has `bientap run` ever run with this configuration?",
            db.display()
        );
    }
    let out_str = out
        .to_str()
        .with_context(|| format!("The backup path {} is not UTF-8", out.display()))?;
    // Read-write (but never created): a read-only connection would leave
    // the -wal and -shm files behind, owned by whoever ran the backup.
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(db)
        .busy_timeout(Duration::from_secs(60))
        .log_statements(tracing::log::LevelFilter::Trace)
        .connect()
        .await
        .with_context(|| format!("Cannot open the state database {}", db.display()))?;
    // The file name is bound as a parameter (VACUUM INTO takes an
    // expression), so no quoting is needed.
    let vacuum = sqlx::query("VACUUM INTO ?1")
        .bind(out_str)
        .execute(&mut conn)
        .await
        .with_context(|| {
            format!(
                "Cannot snapshot the state database {} into {}",
                db.display(),
                out.display()
            )
        });
    let _ = conn.close().await;
    give_sidecars_to_owner(db);
    vacuum?;

    let mut snap = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(out)
        .read_only(true)
        .immutable(true)
        .log_statements(tracing::log::LevelFilter::Trace)
        .connect()
        .await
        .with_context(|| format!("Cannot open the snapshot {}", out.display()))?;
    let counted = count::<sqlx::Sqlite>(&mut snap).await;
    let _ = snap.close().await;
    counted
}

/// What a state database holds: counts, schema version and the archive
/// blobs it references. The same statements for SQLite and PostgreSQL.
async fn count<DB>(conn: &mut DB::Connection) -> Result<Snapshot>
where
    DB: sqlx::Database,
    for<'e> &'e mut DB::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    String: sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let context = "Cannot count the tickets and messages: is this a bientap state database?";
    let mut scalar = async |sql: &'static str| -> Result<i64> {
        sqlx::query_scalar::<DB, i64>(sql)
            .fetch_one(&mut *conn)
            .await
            .context(context)
    };
    let tickets = scalar("SELECT COUNT(*) FROM tickets").await?;
    let messages = scalar("SELECT COUNT(*) FROM messages").await?;
    let schema_version =
        scalar("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM _sqlx_migrations").await?;
    let referenced: Vec<String> =
        sqlx::query_scalar("SELECT sha256 FROM messages UNION SELECT sha256 FROM attachments")
            .fetch_all(&mut *conn)
            .await
            .context("Cannot list the archive blobs the database references")?;
    Ok(Snapshot {
        tickets,
        messages,
        schema_version,
        referenced: referenced.into_iter().collect(),
    })
}

/// A repeatable-read transaction exports its snapshot; the counts are read
/// in it and `pg_dump --snapshot` dumps exactly that state.
async fn pg_snapshot(url: &str, out: &Path) -> Result<Snapshot> {
    let mut conn = sqlx::PgConnection::connect(url)
        .await
        .with_context(|| format!("Cannot connect to the state database {}", redact_url(url)))?;
    sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut conn)
        .await
        .context("Cannot start the snapshot transaction")?;
    let name: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
        .fetch_one(&mut conn)
        .await
        .context("Cannot export a snapshot of the state database")?;
    let snapshot = count::<sqlx::Postgres>(&mut conn).await?;

    let mut args: Vec<std::ffi::OsString> = vec![
        "--format=custom".into(),
        "--no-owner".into(),
        format!("--snapshot={name}").into(),
        "--file".into(),
        out.as_os_str().to_owned(),
    ];
    let (url_no_password, password) = split_password(url)?;
    args.push("--dbname".into());
    args.push(url_no_password.into());
    let dumped = run_pg_tool("pg_dump", args, password).await;
    // The transaction only held the snapshot; ending it changes nothing.
    let _ = sqlx::query("COMMIT").execute(&mut conn).await;
    let _ = conn.close().await;
    dumped?;
    let file = File::open(out)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("Cannot fsync {}", out.display()));
    file?;
    Ok(snapshot)
}

/// Runs `pg_dump` or `pg_restore` with the password (if the URL has one)
/// in `PGPASSWORD` rather than on the command line, where every user of the
/// machine could read it.
async fn run_pg_tool(
    tool: &'static str,
    args: Vec<std::ffi::OsString>,
    password: Option<String>,
) -> Result<()> {
    let output = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(tool);
        cmd.args(&args)
            .env("PGCONNECT_TIMEOUT", "30")
            .stdin(std::process::Stdio::null());
        if let Some(p) = password {
            cmd.env("PGPASSWORD", p);
        }
        cmd.output()
    })
    .await
    .with_context(|| format!("The {tool} task failed"))?;
    let output = match output {
        Ok(o) => o,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!(
            "{tool} was not found: install postgresql-client (apt install postgresql-client), \
             of the server's major version or newer"
        ),
        Err(e) => return Err(e).with_context(|| format!("Cannot run {tool}")),
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{tool} failed ({}): {}",
            output.status,
            if tail.is_empty() {
                "no message".to_string()
            } else {
                tail.join("\n")
            }
        );
    }
    Ok(())
}

/// Splits the password out of `scheme://user:password@host/...`: the URL
/// without it, and the (percent-decoded) password.
fn split_password(url: &str) -> Result<(String, Option<String>)> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok((url.to_string(), None));
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some((authority, tail)) = rest.split_at_checked(end) else {
        return Ok((url.to_string(), None));
    };
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return Ok((url.to_string(), None));
    };
    let Some((user, password)) = userinfo.split_once(':') else {
        return Ok((url.to_string(), None));
    };
    let password = percent_decode(password)
        .context("The database URL's password is not valid percent-encoded UTF-8")?;
    Ok((format!("{scheme}://{user}@{host}{tail}"), Some(password)))
}

fn percent_decode(s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .context("a % not followed by two hex digits")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).context("not UTF-8")
}

// ---------------------------------------------------------------------------
// Backup: the files.

/// Creates `dest` (mode 0700) or checks that it is an empty directory;
/// returns it canonical. A destination inside the archive or the media
/// directory would copy itself.
fn prepare_dest(dest: &Path, archive_root: &Path, media_root: Option<&Path>) -> Result<PathBuf> {
    let mut created = false;
    match fs::symlink_metadata(dest) {
        Ok(m) if m.is_dir() => {
            let mut entries = fs::read_dir(dest)
                .with_context(|| format!("Cannot read the directory {}", dest.display()))?;
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: a backup goes into a new or empty directory. Choose another destination (one per backup, e.g. named after the date).",
                    dest.display()
                );
            }
        }
        Ok(_) => bail!(
            "{} exists and is not a directory: a backup goes into a new or empty directory",
            dest.display()
        ),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                fs::create_dir_all(parent)
                    .with_context(|| format!("Cannot create {}", parent.display()))?;
            }
            fs::DirBuilder::new()
                .mode(0o700)
                .create(dest)
                .with_context(|| {
                    format!("Cannot create the backup directory {}", dest.display())
                })?;
            created = true;
        }
        Err(e) => {
            return Err(e).with_context(|| format!("Cannot look at {}", dest.display()));
        }
    }
    let dest = fs::canonicalize(dest)
        .with_context(|| format!("Cannot resolve the path {}", dest.display()))?;
    for root in std::iter::once(archive_root).chain(media_root) {
        if let Ok(root) = fs::canonicalize(root)
            && dest.starts_with(&root)
        {
            if created {
                let _ = fs::remove_dir(&dest);
            }
            bail!(
                "The backup destination {} is inside {}, which it copies; choose a directory elsewhere",
                dest.display(),
                root.display()
            );
        }
    }
    Ok(dest)
}

/// What a file of the live board is in the backup.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    /// An archive blob whose name is its digest.
    Blob(String),
    /// A media file; its name starts with its digest when bientap wrote it.
    Media(Option<String>),
    /// The reply key.
    Key,
}

#[derive(Debug)]
struct Source {
    path: PathBuf,
    rel: String,
    size: u64,
    role: Role,
}

struct CopyJob {
    dest: PathBuf,
    db_file: &'static str,
    state_dir: PathBuf,
    archive_root: PathBuf,
    media_root: Option<PathBuf>,
    show: bool,
}

struct Copied {
    files: Vec<FileEntry>,
    blobs: BTreeSet<String>,
    media_files: u64,
}

impl CopyJob {
    fn run(self) -> Result<Copied> {
        let mut files = Vec::new();
        // The snapshot was written by SQLite or pg_dump: hash it.
        let db_path = self.dest.join(self.db_file);
        let (size, sha256) = hash_file(&db_path, &ProgressBar::hidden())?;
        fsync_file(&db_path)?;
        files.push(FileEntry {
            path: self.db_file.to_string(),
            size,
            sha256,
        });

        let mut sources = Vec::new();
        let key = self.state_dir.join(REPLY_KEY);
        match fs::metadata(&key) {
            Ok(m) if m.is_file() => sources.push(Source {
                path: key,
                rel: REPLY_KEY.to_string(),
                size: m.len(),
                role: Role::Key,
            }),
            Ok(_) => bail!("{} is not a file", key.display()),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                tracing::info!(path = %key.display(), "no reply key to back up yet");
            }
            Err(e) => return Err(e).with_context(|| format!("Cannot read {}", key.display())),
        }
        list_archive(&self.archive_root, &mut sources)?;
        if let Some(media) = &self.media_root {
            list_media(media, &mut sources)?;
        }

        let total: u64 = sources.iter().map(|s| s.size).sum();
        let bar = bytes_bar(total, "copying the archive", self.show);
        let mut dirs = Dirs::default();
        dirs.note(&self.dest);
        let mut blobs = BTreeSet::new();
        let mut media_files = 0;
        for s in &sources {
            let Some(rel) = safe_relative(&s.rel) else {
                bail!(
                    "Cannot back up {}: its name cannot be stored",
                    s.path.display()
                );
            };
            let target = self.dest.join(rel);
            if let Some(parent) = target.parent() {
                dirs.create(parent)?;
            }
            let mode = if s.role == Role::Key { 0o600 } else { 0o644 };
            let (size, sha256) = copy_file(&s.path, &target, mode, &bar)?;
            match &s.role {
                Role::Blob(name) | Role::Media(Some(name)) if *name != sha256 => {
                    bar.abandon();
                    bail!(
                        "{} is corrupt: its content's SHA-256 is {sha256}, not the {name} its name says. \
                         Nothing else can be trusted to repair it: replace it with the file of the same name from an older backup, then back up again.",
                        s.path.display()
                    );
                }
                Role::Blob(name) => {
                    blobs.insert(name.clone());
                }
                Role::Media(_) => media_files += 1,
                Role::Key => {}
            }
            files.push(FileEntry {
                path: s.rel.clone(),
                size,
                sha256,
            });
        }
        bar.finish_and_clear();
        dirs.sync()?;
        Ok(Copied {
            files,
            blobs,
            media_files,
        })
    }
}

/// Archive blobs: `<root>/<ab>/<digest starting with ab>`; `tmp/` (blobs
/// being written) and anything else are skipped.
fn list_archive(root: &Path, out: &mut Vec<Source>) -> Result<()> {
    let entries = match fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(e).with_context(|| format!("Cannot read the archive {}", root.display()));
        }
    };
    let mut found = Vec::new();
    for fan in entries {
        let fan = fan.with_context(|| format!("Cannot read the archive {}", root.display()))?;
        let Some(fan_name) = fan.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let is_fan = fan_name.len() == 2 && fan_name.bytes().all(is_lower_hex);
        if !is_fan || !fan.file_type().is_ok_and(|t| t.is_dir()) {
            if fan_name != "tmp" {
                tracing::debug!(path = %fan.path().display(), "not an archive directory, skipped");
            }
            continue;
        }
        let dir = fan.path();
        for blob in fs::read_dir(&dir).with_context(|| format!("Cannot read {}", dir.display()))? {
            let blob = blob.with_context(|| format!("Cannot read {}", dir.display()))?;
            let name = blob.file_name().to_str().map(str::to_string);
            let Some(name) = name.filter(|n| is_digest(n) && n.starts_with(&fan_name)) else {
                tracing::debug!(path = %blob.path().display(), "not an archive blob, skipped");
                continue;
            };
            let meta = blob
                .metadata()
                .with_context(|| format!("Cannot read {}", blob.path().display()))?;
            if !meta.is_file() {
                continue;
            }
            found.push(Source {
                path: blob.path(),
                rel: format!("archive/{fan_name}/{name}"),
                size: meta.len(),
                role: Role::Blob(name),
            });
        }
    }
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.extend(found);
    Ok(())
}

/// Every regular file under the media directory, but hidden ones (the
/// temporary `.name.pid.tmp` files of publishing); symlinks are not followed.
fn list_media(root: &Path, out: &mut Vec<Source>) -> Result<()> {
    if !root.is_dir() {
        return Ok(());
    }
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), "media".to_string())];
    while let Some((dir, rel)) = stack.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("Cannot read {}", dir.display()))? {
            let entry = entry.with_context(|| format!("Cannot read {}", dir.display()))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                bail!(
                    "Cannot back up {}: its name is not UTF-8. Rename it, then back up again.",
                    path.display()
                );
            };
            if name.starts_with('.') {
                continue;
            }
            let child = format!("{rel}/{name}");
            let kind = entry
                .file_type()
                .with_context(|| format!("Cannot read {}", path.display()))?;
            if kind.is_dir() {
                stack.push((path, child));
            } else if kind.is_file() {
                let meta = entry
                    .metadata()
                    .with_context(|| format!("Cannot read {}", path.display()))?;
                let digest = name
                    .split('.')
                    .next()
                    .filter(|stem| is_digest(stem))
                    .map(str::to_string);
                found.push(Source {
                    path,
                    rel: child,
                    size: meta.len(),
                    role: Role::Media(digest),
                });
            } else {
                tracing::warn!(path = %path.display(), "not a regular file, left out of the backup");
            }
        }
    }
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.extend(found);
    Ok(())
}

/// Writes `manifest.sha256`, then `manifest.json`, each atomically, then
/// fsyncs the directory: `manifest.json` present means the backup is whole.
fn write_manifest(dest: &Path, manifest: &Manifest) -> Result<()> {
    let mut json =
        serde_json::to_vec_pretty(manifest).context("Cannot serialize the backup manifest")?;
    json.push(b'\n');
    let digest = hex::encode(Sha256::digest(&json));
    write_atomic(
        dest,
        MANIFEST_SHA256,
        format!("{digest}  {MANIFEST}\n").as_bytes(),
    )?;
    write_atomic(dest, MANIFEST, &json)?;
    fsync_dir(dest)
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let written = File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, &target))
        .with_context(|| format!("Cannot write {}", target.display()));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

// ---------------------------------------------------------------------------
// Verify.

fn verify_inner(dest: &Path, show: bool) -> Result<(Manifest, Verified)> {
    if !dest.is_dir() {
        bail!("There is no backup at {}: not a directory", dest.display());
    }
    let manifest_path = dest.join(MANIFEST);
    let json = match fs::read(&manifest_path) {
        Ok(j) => j,
        Err(e) if e.kind() == ErrorKind::NotFound => bail!(
            "{} has no {MANIFEST}: the backup is incomplete (it was interrupted, or is still being written) \
             or is not a bientap backup. Take a new backup, or use another one.",
            dest.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("Cannot read {}", manifest_path.display()));
        }
    };
    let manifest: Manifest = serde_json::from_slice(&json).with_context(|| {
        format!(
            "{} is not a bientap backup manifest (damaged?); use another backup",
            manifest_path.display()
        )
    })?;
    if manifest.format > FORMAT {
        bail!(
            "{} was written by a newer bientap ({}, manifest format {}); use that version or newer",
            manifest_path.display(),
            manifest.bientap_version,
            manifest.format
        );
    }

    let bar = bytes_bar(
        manifest.files.iter().map(|f| f.size).sum(),
        "verifying",
        show,
    );
    let mut problems = Vec::new();
    let digest = hex::encode(Sha256::digest(&json));
    match fs::read_to_string(dest.join(MANIFEST_SHA256)) {
        Ok(text) => {
            let recorded = text.split_whitespace().next().unwrap_or_default();
            if recorded != digest {
                problems.push(format!(
                    "{MANIFEST} does not match {MANIFEST_SHA256}: the manifest was changed after the backup was taken, or is damaged"
                ));
            }
        }
        Err(e) => problems.push(format!("{MANIFEST_SHA256} cannot be read: {e}")),
    }
    let db_file = match manifest.database.as_str() {
        "sqlite" => Some(SQLITE_FILE),
        "postgres" => Some(PGDUMP_FILE),
        other => {
            problems.push(format!("unknown database kind {other:?} in the manifest"));
            None
        }
    };
    if let Some(f) = db_file
        && !manifest.files.iter().any(|e| e.path == f)
    {
        problems.push(format!(
            "the manifest lists no {f}: the backup has no database"
        ));
    }

    let mut seen = BTreeSet::new();
    let mut bytes = 0u64;
    for entry in &manifest.files {
        if !seen.insert(entry.path.as_str()) {
            problems.push(format!("{}: listed twice in the manifest", entry.path));
            continue;
        }
        let Some(rel) = safe_relative(&entry.path) else {
            problems.push(format!(
                "{}: not a path inside the backup (absolute, or with ..)",
                entry.path
            ));
            continue;
        };
        if let Some(problem) = unexpected_entry(entry) {
            problems.push(problem);
            continue;
        }
        let path = dest.join(rel);
        match hash_file(&path, &bar) {
            Ok((size, sha)) => {
                bytes += size;
                if size != entry.size {
                    problems.push(format!(
                        "{}: {size} bytes, the manifest says {}",
                        entry.path, entry.size
                    ));
                } else if sha != entry.sha256 {
                    problems.push(format!(
                        "{}: its content changed (SHA-256 {sha}, the manifest says {})",
                        entry.path, entry.sha256
                    ));
                }
            }
            Err(e) => {
                let missing = e
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == ErrorKind::NotFound)
                    || !path.exists();
                if missing {
                    problems.push(format!("{}: missing", entry.path));
                } else {
                    problems.push(format!("{}: cannot be read: {e:#}", entry.path));
                }
            }
        }
    }
    bar.finish_and_clear();
    let verified = Verified {
        files: manifest.files.len(),
        bytes,
        problems,
    };
    Ok((manifest, verified))
}

/// Entries a bientap backup can hold: the database, the key, archive blobs
/// under their digest, media files.
fn unexpected_entry(entry: &FileEntry) -> Option<String> {
    let path = entry.path.as_str();
    if path == SQLITE_FILE || path == PGDUMP_FILE || path == REPLY_KEY {
        return None;
    }
    if let Some(rest) = path.strip_prefix("archive/") {
        let ok = rest.split_once('/').is_some_and(|(fan, name)| {
            is_digest(name) && name.starts_with(fan) && fan.len() == 2 && name == entry.sha256
        });
        return (!ok).then(|| {
            format!(
                "{path}: an archive entry must be named after its SHA-256 ({})",
                entry.sha256
            )
        });
    }
    if path.starts_with("media/") {
        return None;
    }
    Some(format!("{path}: not something a bientap backup holds"))
}

// ---------------------------------------------------------------------------
// Restore.

/// Counts what a SQLite target holds, and refuses while a process has it
/// open (the daemon, a CLI command).
async fn check_sqlite_target(db: &Path, force: bool) -> Result<()> {
    let holders = processes_holding(&[db.to_path_buf(), wal_path(db, "-wal")]);
    if let Some((pid, name)) = holders.first() {
        bail!(
            "The state database {} is open in process {pid} ({name}): stop bientap first (systemctl stop bientap), \
             and any bientap command still running, then restore.",
            db.display()
        );
    }
    if !db.exists() {
        return Ok(());
    }
    let held = async {
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .busy_timeout(Duration::from_secs(10))
            .log_statements(tracing::log::LevelFilter::Trace)
            .connect()
            .await?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('tickets', 'messages')",
        )
        .fetch_one(&mut conn)
        .await?;
        let held: i64 = if tables == 2 {
            sqlx::query_scalar(
                "SELECT (SELECT COUNT(*) FROM tickets) + (SELECT COUNT(*) FROM messages)",
            )
            .fetch_one(&mut conn)
            .await?
        } else {
            0
        };
        let _ = conn.close().await;
        Ok::<i64, sqlx::Error>(held)
    }
    .await;
    give_sidecars_to_owner(db);
    match held {
        Ok(0) => Ok(()),
        _ if force => Ok(()),
        Ok(n) => bail!(
            "The state database {} already holds state ({n} tickets and messages). \
             Restoring replaces it: add --force if that is what you want (take a backup of it first).",
            db.display()
        ),
        Err(e) => bail!(
            "The state database {} exists and cannot be read ({e}). Restoring replaces it: add --force if that is what you want.",
            db.display()
        ),
    }
}

/// The -wal, -shm files and the migration lock next to a SQLite database
/// belong to its owner: a backup or restore run as root must not leave
/// files the service's user cannot open. Best effort.
fn give_sidecars_to_owner(db: &Path) {
    let owner = owner_of(db);
    let sidecars = [
        wal_path(db, "-wal"),
        wal_path(db, "-shm"),
        db.with_extension("migrate.lock"),
    ];
    for p in sidecars.iter().filter(|p| p.exists()) {
        if let Err(e) = adopt(p, owner) {
            tracing::warn!(error = %format!("{e:#}"), "cannot give a database file to its owner");
        }
    }
}

fn wal_path(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Processes (but this one) with one of `paths` open, from /proc; empty
/// where /proc cannot be read.
fn processes_holding(paths: &[PathBuf]) -> Vec<(u32, String)> {
    let wanted: Vec<PathBuf> = paths
        .iter()
        .filter_map(|p| fs::canonicalize(p).ok())
        .collect();
    if wanted.is_empty() {
        return Vec::new();
    }
    let me = std::process::id();
    let Ok(procs) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for proc_entry in procs.flatten() {
        let Some(pid) = proc_entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .filter_map(|fd| fs::read_link(fd.path()).ok())
            .any(|target| wanted.contains(&target));
        if holds {
            let name = fs::read_to_string(proc_entry.path().join("comm"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            found.push((pid, name));
        }
    }
    found
}

/// Refuses while other sessions use the database, or when it holds state
/// and not `force`.
async fn check_pg_target(url: &str, force: bool) -> Result<()> {
    let mut conn = sqlx::PgConnection::connect(url).await.with_context(|| {
        format!(
            "Cannot connect to the state database {}; it must exist (createdb) before a restore",
            redact_url(url)
        )
    })?;
    // A session closed a moment ago may still be listed while its server
    // process exits: look again for a little while.
    let mut sessions: Vec<(i32, String, String)> = Vec::new();
    for attempt in 0..20 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        sessions = sqlx::query_as(
            "SELECT pid, COALESCE(application_name, ''), COALESCE(client_addr::TEXT, 'local')
             FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .fetch_all(&mut conn)
        .await
        .context("Cannot list the sessions connected to the state database")?;
        if sessions.is_empty() {
            break;
        }
    }
    let has_tables: bool = sqlx::query_scalar(
        "SELECT to_regclass('tickets') IS NOT NULL AND to_regclass('messages') IS NOT NULL",
    )
    .fetch_one(&mut conn)
    .await
    .context("Cannot look at the state database's tables")?;
    let held: i64 = if has_tables {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM tickets) + (SELECT COUNT(*) FROM messages)",
        )
        .fetch_one(&mut conn)
        .await
        .context("Cannot count the state database's tickets")?
    } else {
        0
    };
    let _ = conn.close().await;
    if !sessions.is_empty() {
        let list: Vec<String> = sessions
            .iter()
            .take(5)
            .map(|(pid, app, addr)| format!("pid {pid} {app} from {addr}"))
            .collect();
        bail!(
            "{} other session(s) are connected to the state database {} ({}): stop bientap first \
             (systemctl stop bientap) and close the others, then restore.",
            sessions.len(),
            redact_url(url),
            list.join(", ")
        );
    }
    if held > 0 && !force {
        bail!(
            "The state database {} already holds state ({held} tickets and messages). \
             Restoring replaces it: add --force if that is what you want (take a backup of it first).",
            redact_url(url)
        );
    }
    Ok(())
}

async fn pg_restore(url: &str, dump: &Path) -> Result<()> {
    let (url_no_password, password) = split_password(url)?;
    let args: Vec<std::ffi::OsString> = vec![
        "--clean".into(),
        "--if-exists".into(),
        "--no-owner".into(),
        "--no-privileges".into(),
        "--single-transaction".into(),
        "--dbname".into(),
        url_no_password.into(),
        dump.as_os_str().to_owned(),
    ];
    run_pg_tool("pg_restore", args, password)
        .await
        .context("The state database was not restored (pg_restore runs in one transaction: the database is as it was)")
}

struct RestoreJob {
    src: PathBuf,
    manifest: Manifest,
    state_dir: PathBuf,
    media_root: Option<PathBuf>,
    target_db: Option<PathBuf>,
    show: bool,
}

impl RestoreJob {
    fn run(self) -> Result<()> {
        let state_owner = {
            fs::create_dir_all(&self.state_dir)
                .with_context(|| format!("Cannot create {}", self.state_dir.display()))?;
            owner_of(&self.state_dir)
        };
        let total: u64 = self.manifest.files.iter().map(|f| f.size).sum();
        let bar = bytes_bar(total, "restoring", self.show);

        // Archive blobs first: the database that references them comes last.
        let archive_root = self.state_dir.join("archive");
        let archive_existed = archive_root.join("tmp").is_dir();
        let archive = Archive::open(&archive_root)?;
        if !archive_existed {
            adopt(&archive_root, state_owner)?;
            adopt(&archive_root.join("tmp"), state_owner)?;
        }
        let mut batch = Batch::default();
        for entry in &self.manifest.files {
            let Some(name) = entry.path.strip_prefix("archive/") else {
                continue;
            };
            let sha = name.rsplit('/').next().unwrap_or_default();
            let target = archive.path(sha)?;
            let fan = target.parent().map(Path::to_path_buf);
            let fan_existed = fan.as_ref().is_some_and(|d| d.is_dir());
            if fs::metadata(&target).is_ok_and(|m| m.len() == entry.size) {
                bar.inc(entry.size);
                continue;
            }
            if target.exists() {
                // Another size under the same digest: damaged; replace it.
                fs::remove_file(&target)
                    .with_context(|| format!("Cannot replace {}", target.display()))?;
            }
            let source = self
                .src
                .join(safe_relative(&entry.path).unwrap_or_default());
            let mut writer = archive.writer()?;
            stream(&source, &bar, |chunk| writer.write(chunk))?;
            let (got, _) = writer.finish(&mut batch)?;
            if got != sha {
                bail!(
                    "{} changed while it was restored (its SHA-256 is now {got}); restore again",
                    source.display()
                );
            }
            if !fan_existed && let Some(fan) = &fan {
                adopt(fan, state_owner)?;
            }
            adopt(&target, state_owner)?;
        }
        archive.sync(&mut batch)?;

        // Media files.
        let media: Vec<&FileEntry> = self
            .manifest
            .files
            .iter()
            .filter(|f| f.path.starts_with("media/"))
            .collect();
        match (&self.media_root, media.is_empty()) {
            (_, true) => {}
            (None, false) => {
                tracing::warn!(
                    files = media.len(),
                    "the backup holds media files but the configuration has no [site]: not restored"
                );
                for f in &media {
                    bar.inc(f.size);
                }
            }
            (Some(root), false) => {
                fs::create_dir_all(root)
                    .with_context(|| format!("Cannot create {}", root.display()))?;
                let media_owner = owner_of(root);
                let mut dirs = Dirs::default();
                for f in media {
                    let rel = f
                        .path
                        .strip_prefix("media/")
                        .and_then(safe_relative)
                        .with_context(|| format!("Bad media path {:?} in the manifest", f.path))?;
                    let target = root.join(rel);
                    if fs::metadata(&target).is_ok_and(|m| m.len() == f.size) {
                        bar.inc(f.size);
                        continue;
                    }
                    if let Some(parent) = target.parent() {
                        for created in dirs.create(parent)? {
                            adopt(&created, media_owner)?;
                        }
                    }
                    let source = self.src.join(safe_relative(&f.path).unwrap_or_default());
                    install_copy(&source, f, &target, 0o644, &bar)?;
                    adopt(&target, media_owner)?;
                }
                dirs.sync()?;
            }
        }

        // The reply key, then the database.
        if let Some(key) = self.manifest.files.iter().find(|f| f.path == REPLY_KEY) {
            let target = self.state_dir.join(REPLY_KEY);
            install_copy(&self.src.join(REPLY_KEY), key, &target, 0o600, &bar)?;
            adopt(&target, state_owner)?;
        }
        let db_entry = self.manifest.files.iter().find(|f| f.path == SQLITE_FILE);
        if let (Some(db), Some(db_entry)) = (&self.target_db, db_entry) {
            let dir = db
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
            let Some(file_name) = db.file_name() else {
                bail!("The state database path {} names no file", db.display());
            };
            let mut tmp_name = std::ffi::OsString::from(".");
            tmp_name.push(file_name);
            tmp_name.push(".restore.tmp");
            let tmp = dir.join(tmp_name);
            let _ = fs::remove_file(&tmp);
            let source = self.src.join(SQLITE_FILE);
            let copied = copy_file(&source, &tmp, 0o600, &bar)
                .and_then(|copied| same_as_verified(&source, db_entry, &copied))
                .and_then(|()| adopt(&tmp, owner_of(dir)));
            if copied.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            copied?;
            // A WAL left by the old database would be replayed onto the new one.
            for suffix in ["-wal", "-shm", "-journal"] {
                let p = wal_path(db, suffix);
                match fs::remove_file(&p) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(e).with_context(|| format!("Cannot remove {}", p.display()));
                    }
                }
            }
            fs::rename(&tmp, db)
                .with_context(|| format!("Cannot move {} to {}", tmp.display(), db.display()))?;
            fsync_dir(dir)?;
        } else {
            for f in self.manifest.files.iter().filter(|f| f.path == PGDUMP_FILE) {
                bar.inc(f.size);
            }
        }
        bar.finish_and_clear();
        Ok(())
    }
}

/// Copies `src` to a temporary name next to `target`, fsyncs, renames it
/// over `target` and fsyncs the directory.
fn install_copy(
    src: &Path,
    expected: &FileEntry,
    target: &Path,
    mode: u32,
    bar: &ProgressBar,
) -> Result<()> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let Some(name) = target.file_name() else {
        bail!("{} names no file", target.display());
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let _ = fs::remove_file(&tmp);
    let copied = copy_file(src, &tmp, mode, bar)
        .and_then(|copied| same_as_verified(src, expected, &copied))
        .and_then(|()| {
            fs::rename(&tmp, target)
                .with_context(|| format!("Cannot move {} to {}", tmp.display(), target.display()))
        });
    if copied.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    copied?;
    fsync_dir(dir)
}

/// A file restored must be the one verified a moment before.
fn same_as_verified(src: &Path, expected: &FileEntry, copied: &(u64, String)) -> Result<()> {
    if copied.0 != expected.size || copied.1 != expected.sha256 {
        bail!(
            "{} changed after the backup was verified (SHA-256 {}, the manifest says {}); \
             nothing else of it will be restored: restore again from an unchanging copy",
            src.display(),
            copied.1,
            expected.sha256
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Files.

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn is_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(is_lower_hex)
}

/// A manifest path as a relative path: '/'-separated normal components,
/// nothing absolute, no `.` or `..`.
fn safe_relative(path: &str) -> Option<PathBuf> {
    if path.is_empty() || path.contains('\0') || path.contains('\\') {
        return None;
    }
    let mut out = PathBuf::new();
    for part in path.split('/') {
        let mut components = Path::new(part).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(c)), None) if c == part => out.push(c),
            _ => return None,
        }
    }
    Some(out)
}

/// Reads `src` in pieces, handing each to `sink` and the progress bar;
/// returns the size and SHA-256.
fn stream(
    src: &Path,
    bar: &ProgressBar,
    mut sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<(u64, String)> {
    let mut input = File::open(src).with_context(|| format!("Cannot open {}", src.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).with_context(|| format!("Cannot read {}", src.display())),
        };
        let chunk = buf
            .get(..n)
            .with_context(|| format!("Read past the buffer of {}", src.display()))?;
        hasher.update(chunk);
        sink(chunk)?;
        size += n as u64;
        bar.inc(n as u64);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn hash_file(path: &Path, bar: &ProgressBar) -> Result<(u64, String)> {
    stream(path, bar, |_| Ok(()))
}

/// Copies `src` to the new file `dst` (which must not exist), hashing as
/// it goes, and fsyncs it.
fn copy_file(src: &Path, dst: &Path, mode: u32, bar: &ProgressBar) -> Result<(u64, String)> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(dst)
        .with_context(|| format!("Cannot create {}", dst.display()))?;
    let copied = stream(src, bar, |chunk| {
        out.write_all(chunk)
            .with_context(|| format!("Cannot write {}", dst.display()))
    })?;
    out.sync_all()
        .with_context(|| format!("Cannot fsync {}", dst.display()))?;
    Ok(copied)
}

fn fsync_file(path: &Path) -> Result<()> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("Cannot fsync {}", path.display()))
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("Cannot fsync the directory {}", dir.display()))
}

/// Directories created or written into, to fsync once at the end.
#[derive(Default)]
struct Dirs {
    touched: BTreeSet<PathBuf>,
}

impl Dirs {
    fn note(&mut self, dir: &Path) {
        self.touched.insert(dir.to_path_buf());
    }

    /// Makes sure `dir` exists; returns the directories it had to create
    /// (outermost first), all noted for the fsync with their parents.
    fn create(&mut self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut missing = Vec::new();
        let mut cur = Some(dir);
        while let Some(d) = cur {
            if d.as_os_str().is_empty() || d.is_dir() {
                break;
            }
            missing.push(d.to_path_buf());
            cur = d.parent();
        }
        missing.reverse();
        for d in &missing {
            fs::create_dir(d)
                .or_else(|e| {
                    if e.kind() == ErrorKind::AlreadyExists {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .with_context(|| format!("Cannot create {}", d.display()))?;
            if let Some(parent) = d.parent() {
                self.note(parent);
            }
        }
        self.note(dir);
        Ok(missing)
    }

    fn sync(&mut self) -> Result<()> {
        for d in std::mem::take(&mut self.touched) {
            fsync_dir(&d)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

fn owner_of(path: &Path) -> Option<Owner> {
    fs::metadata(path).ok().map(|m| Owner {
        uid: m.uid(),
        gid: m.gid(),
    })
}

/// Gives `path` to `owner` when it belongs to someone else (a restore run
/// as root for a service running as its own user).
fn adopt(path: &Path, owner: Option<Owner>) -> Result<()> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let meta =
        fs::symlink_metadata(path).with_context(|| format!("Cannot read {}", path.display()))?;
    if meta.uid() == owner.uid && meta.gid() == owner.gid {
        return Ok(());
    }
    std::os::unix::fs::chown(path, Some(owner.uid), Some(owner.gid)).with_context(|| {
        format!(
            "Cannot give {} to uid {} gid {} (the owner of its directory); restore as root or as the service's user",
            path.display(),
            owner.uid,
            owner.gid
        )
    })
}

fn bytes_bar(total: u64, what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template(
        "{spinner} {msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar
}

fn spinner(what: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_inside() {
        assert_eq!(
            safe_relative("archive/ab/abc"),
            Some(PathBuf::from("archive/ab/abc"))
        );
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../b",
            "a//b",
            "./a",
            "a/.",
            "a\\b",
            "a/",
        ] {
            assert_eq!(safe_relative(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn password_leaves_the_command_line() {
        let (url, pw) =
            split_password("postgres://bbt:p%40ss:w@db.example/bientap?sslmode=require").unwrap();
        assert_eq!(url, "postgres://bbt@db.example/bientap?sslmode=require");
        assert_eq!(pw.as_deref(), Some("p@ss:w"));
        let (url, pw) = split_password("postgres://postgres@127.0.0.1:5432/test").unwrap();
        assert_eq!(url, "postgres://postgres@127.0.0.1:5432/test");
        assert_eq!(pw, None);
        assert!(split_password("postgres://u:%zz@h/d").is_err());
    }

    #[test]
    fn sqlite_urls_name_files() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/bientap/state.db?mode=rwc").unwrap(),
            PathBuf::from("/var/lib/bientap/state.db")
        );
        assert_eq!(
            sqlite_path("sqlite:state.db").unwrap(),
            PathBuf::from("state.db")
        );
        assert!(sqlite_path("sqlite::memory:").is_err());
    }

    fn config_for(dir: &Path) -> Config {
        config_with(dir, "")
    }

    fn config_with(dir: &Path, extra: &str) -> Config {
        let text = format!(
            "[board]\nname = 'x'\naddress = 'bbt@example.test'\n[storage]\nstate_dir = '{}'\n[maildir]\npath = '{}'\n\
             [[members]]\nname = 'T'\nemail = 'tb@example.test'\nroles = ['head']\n{extra}",
            dir.join("state").display(),
            dir.join("md").display()
        );
        Config::from_toml(&dir.join("bientap.toml"), &text).unwrap()
    }

    /// A board with one message in its database and archive.
    async fn small_board(dir: &Path) -> (Config, String) {
        let config = config_for(dir);
        let store = Store::open(&config.database.url).await.unwrap();
        let archive = Archive::open(&config.storage.state_dir.join("archive")).unwrap();
        let mut batch = Batch::default();
        let sha = archive
            .put(&mut batch, b"From: a@b\r\n\r\nxin chao\r\n")
            .unwrap();
        archive.sync(&mut batch).unwrap();
        sqlx::query(
            "INSERT INTO messages (sha256, size, source, arrived_at, arrival_from, ingested_at, kind)
             VALUES ($1, 1, 'test', 0, 'test', 0, 'automatic')",
        )
        .bind(&sha)
        .execute(store.pool())
        .await
        .unwrap();
        store.close().await;
        crate::workflow::auth::ReplyKey::load_or_create(&config.storage.state_dir).unwrap();
        // A blob being written must not be copied.
        fs::write(
            config.storage.state_dir.join("archive/tmp/123.0.abc"),
            b"half",
        )
        .unwrap();
        (config, sha)
    }

    #[tokio::test]
    async fn backup_verify_restore_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (config, sha) = small_board(dir.path()).await;
        let dest = dir.path().join("backups/one");
        let m = backup(&config, &dest, false).await.unwrap();
        assert_eq!((m.messages, m.archive_blobs, m.tickets), (1, 1, 0));
        assert!(m.missing_blobs.is_empty());
        // Nothing left next to the live database by the snapshot.
        assert!(!config.storage.state_dir.join("state.db-wal").exists());
        assert!(!config.storage.state_dir.join("state.db-shm").exists());
        let paths: Vec<&str> = m.files.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"state.db"), "{paths:?}");
        assert!(paths.contains(&"reply.key"), "{paths:?}");
        assert!(paths.contains(&format!("archive/{}/{sha}", sha.get(..2).unwrap()).as_str()));
        assert!(!paths.iter().any(|p| p.contains("tmp")), "{paths:?}");
        assert!(verify(&dest).unwrap().is_ok());

        // Never into the archive it copies.
        let inside = config.storage.state_dir.join("archive/backup");
        let err = backup(&config, &inside, false).await.unwrap_err();
        assert!(format!("{err:#}").contains("inside"), "{err:#}");
        assert!(!inside.exists());

        // A second backup into the same place is refused.
        let again = backup(&config, &dest, false).await.unwrap_err();
        assert!(format!("{again:#}").contains("not empty"), "{again:#}");

        // Into a fresh board.
        let other = tempfile::tempdir().unwrap();
        let target = config_for(other.path());
        restore(&target, &dest, false, false).await.unwrap();
        let key = |c: &Config| fs::read(c.storage.state_dir.join(REPLY_KEY)).unwrap();
        assert_eq!(key(&config), key(&target));
        let archive = Archive::open(&target.storage.state_dir.join("archive")).unwrap();
        assert_eq!(
            archive.read(&sha).unwrap(),
            b"From: a@b\r\n\r\nxin chao\r\n"
        );
        // Now it holds state: a second restore needs force.
        let refused = restore(&target, &dest, false, false).await.unwrap_err();
        assert!(format!("{refused:#}").contains("--force"), "{refused:#}");
        restore(&target, &dest, true, false).await.unwrap();
    }

    #[tokio::test]
    async fn corrupt_blob_fails_the_backup_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let (config, sha) = small_board(dir.path()).await;
        let blob = config
            .storage
            .state_dir
            .join("archive")
            .join(sha.get(..2).unwrap())
            .join(&sha);
        fs::write(&blob, b"something else").unwrap();
        let err = backup(&config, &dir.path().join("b"), false)
            .await
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains(&sha) && text.contains("corrupt"), "{text}");
    }

    #[tokio::test]
    async fn verify_reports_missing_and_changed_files() {
        let dir = tempfile::tempdir().unwrap();
        let (config, sha) = small_board(dir.path()).await;
        let dest = dir.path().join("b");
        backup(&config, &dest, false).await.unwrap();
        fs::remove_file(dest.join(REPLY_KEY)).unwrap();
        fs::write(
            dest.join("archive").join(sha.get(..2).unwrap()).join(&sha),
            b"x",
        )
        .unwrap();
        let v = verify(&dest).unwrap();
        assert_eq!(v.problems.len(), 2, "{:?}", v.problems);
        assert!(v.problems.iter().any(|p| p == "reply.key: missing"));

        fs::remove_file(dest.join(MANIFEST)).unwrap();
        let err = verify(&dest).unwrap_err();
        assert!(format!("{err}").contains("incomplete"), "{err}");
    }

    #[tokio::test]
    async fn media_files_travel_but_not_their_temporary_copies() {
        let site = |dir: &Path| {
            format!(
                "[site]\nurl = 'sqlite://{}'\nmedia_dir = '{}'\nmedia_url = '/media'\narticle_url = 'https://p.example/{{slug}}'\n",
                dir.join("site.db").display(),
                dir.join("media").display()
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let (_, _) = small_board(dir.path()).await;
        let config = config_with(dir.path(), &site(dir.path()));
        let photo = b"not really a jpeg".to_vec();
        let sha = crate::store::archive::sha256_hex(&photo);
        let fan = dir.path().join("media").join(sha.get(..2).unwrap());
        fs::create_dir_all(&fan).unwrap();
        fs::write(fan.join(format!("{sha}.jpg")), &photo).unwrap();
        fs::write(fan.join(format!(".{sha}.jpg.77.tmp")), b"half").unwrap();
        fs::write(dir.path().join("media/robots.txt"), b"User-agent: *\n").unwrap();
        fs::write(dir.path().join("site.db"), b"the portal's").unwrap();

        let dest = dir.path().join("b");
        let m = backup(&config, &dest, false).await.unwrap();
        assert_eq!(m.media_files, 2);
        let rel = format!("media/{}/{sha}.jpg", sha.get(..2).unwrap());
        assert!(m.files.iter().any(|f| f.path == rel), "{:?}", m.files);
        assert!(!m.files.iter().any(|f| f.path.contains(".tmp")));
        // The portal's database is not part of a backup.
        assert!(!m.files.iter().any(|f| f.path.contains("site")));
        assert!(verify(&dest).unwrap().is_ok());

        let other = tempfile::tempdir().unwrap();
        let target = config_with(other.path(), &site(other.path()));
        restore(&target, &dest, false, false).await.unwrap();
        let restored = other
            .path()
            .join("media")
            .join(sha.get(..2).unwrap())
            .join(format!("{sha}.jpg"));
        assert_eq!(fs::read(restored).unwrap(), photo);
        assert!(other.path().join("media/robots.txt").is_file());
        assert!(!other.path().join("site.db").exists());
    }

    /// Run as root (as a restore often is), the files go to the owner of
    /// the state directory, so the service's user can open them.
    #[tokio::test]
    async fn restore_as_root_hands_files_to_the_state_directory_owner() {
        if fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1) != 0 {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (config, sha) = small_board(dir.path()).await;
        let dest = dir.path().join("b");
        backup(&config, &dest, false).await.unwrap();

        let other = tempfile::tempdir().unwrap();
        let target = config_for(other.path());
        let state = &target.storage.state_dir;
        fs::create_dir_all(state).unwrap();
        std::os::unix::fs::chown(state, Some(4321), Some(4322)).unwrap();
        restore(&target, &dest, false, false).await.unwrap();
        let blob = Archive::open(&state.join("archive"))
            .unwrap()
            .path(&sha)
            .unwrap();
        for p in [
            state.join("state.db"),
            state.join("state.migrate.lock"),
            state.join(REPLY_KEY),
            state.join("archive"),
            blob.parent().unwrap().to_path_buf(),
            blob,
        ] {
            let m = fs::metadata(&p).unwrap();
            assert_eq!((m.uid(), m.gid()), (4321, 4322), "{}", p.display());
        }
    }
}
