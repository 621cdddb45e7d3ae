//! Publishing approved items into the portal's database.
//!
//! The portal's tables (`migrations/site/`, documented in
//! docs/site-schema.md) live in a database of their own, given by
//! `[site] url`: SQLite, PostgreSQL or MySQL/MariaDB; never assumed to be
//! the state database's server. An approved ticket is queued for the next
//! publishing moment (at once, or the configured windows on working days,
//! R15) and published in approval order:
//!
//! 1. media files are copied into the site's media directory under
//!    content-addressed names, photos stripped of GPS data, and fsynced:
//!    only what `content::media` recognises from the bytes (photos, PDF,
//!    office documents without macros, audio, video), with the extension
//!    and content type of what it is; everything else stays with the
//!    ticket, its history says why, and the body loses its images of it
//!    (docs/media.md);
//! 2. one site transaction upserts the article (keyed by its origin, the
//!    ticket code), replaces its media rows and logs the publication (R19);
//! 3. one state transaction marks the ticket published and puts the
//!    sender's mail with the link in the outbox.
//!
//! Before the first step the rulebook is asked (`ticket::rules::
//! publishable`): approved, credits known, and no classification stamp in
//! the title, the text or a Word file of the version (R10, whatever let
//! the item in: a stamped version is held and the heads told).
//!
//! A crash between the steps repeats the later ones: files are never
//! rewritten, the upsert is idempotent, and the ticket is only marked
//! published with its mail. A site database that is down leaves the ticket
//! approved; it is retried with growing delays.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use jiff::Timestamp;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Row};
use tokio::sync::Notify;

use crate::config::{Config, Live, Site};
use crate::content::html::ATTACHMENT_SCHEME;
use crate::content::media::{self, Publishable, Withheld};
use crate::content::screen::{self, Mark};
use crate::content::{docx, image, names, refine};
use crate::net::Shutdown;
use crate::schedule::Clock;
use crate::schedule::calendar::Calendar;
use crate::store::archive::sha256_hex;
use crate::store::{Archive, Attachment, Store};
use crate::text::{clean_line, escape_html, fold_ascii, truncate_chars};
use crate::ticket::rules::{self, Refusal};
use crate::workflow::{self, Settings, state};

/// The longest a publication waits before it is retried.
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// The SQL dialect of the site database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
}

const SITE_MIGRATIONS: &[(i64, &str, &str, &str, &str)] = &[(
    1,
    "portal",
    include_str!("../migrations/site/sqlite/0001_portal.sql"),
    include_str!("../migrations/site/postgres/0001_portal.sql"),
    include_str!("../migrations/site/mysql/0001_portal.sql"),
)];

#[derive(Debug)]
struct SiteMigrations(Dialect);

impl<'s> MigrationSource<'s> for SiteMigrations {
    fn resolve(
        self,
    ) -> futures::future::BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        let migrations = SITE_MIGRATIONS
            .iter()
            .map(|(version, name, sqlite, postgres, mysql)| {
                let sql = match self.0 {
                    Dialect::Sqlite => *sqlite,
                    Dialect::Postgres => *postgres,
                    Dialect::Mysql => *mysql,
                };
                Migration::new(
                    *version,
                    std::borrow::Cow::Borrowed(*name),
                    MigrationType::Simple,
                    std::borrow::Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// The portal's database.
#[derive(Debug, Clone)]
pub struct SiteDb {
    pool: AnyPool,
    dialect: Dialect,
}

/// An article as the portal stores it.
#[derive(Debug, Clone)]
pub struct Article {
    pub origin: String,
    pub title: String,
    pub summary: String,
    pub body_html: String,
    pub author: String,
    pub source: String,
    pub category: String,
    pub reference_news: bool,
    pub reference_notice: String,
    pub credit_line: String,
    pub version: i64,
    pub approved_by: String,
    pub approved_at: i64,
    pub media: Vec<MediaFile>,
}

/// A file published with an article.
#[derive(Debug, Clone)]
pub struct MediaFile {
    pub sha256: String,
    pub file_name: String,
    pub original_name: String,
    pub content_type: String,
    pub url: String,
    pub is_image: bool,
    pub dimensions: Option<(u32, u32)>,
}

/// Folds a title to an ASCII slug: "Hội nghị tổng kết năm 2026" →
/// "hoi-nghi-tong-ket-nam-2026".
pub fn slugify(title: &str) -> String {
    let mut slug = String::with_capacity(title.len());
    for c in fold_ascii(title).chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let mut out: String = slug.chars().take(200).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "bai-viet".to_string()
    } else {
        out
    }
}

/// The lead paragraph: the first paragraph of the text, cut near 300
/// characters at a sentence end.
pub fn summary(text: &str) -> String {
    let first = text
        .split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .find(|p| p.chars().count() > 20 && !p.to_lowercase().starts_with("kính gửi"))
        .unwrap_or_default();
    if first.chars().count() <= 300 {
        return first;
    }
    let cut: String = first.chars().take(300).collect();
    match cut.rfind(". ") {
        Some(i) if i > 100 => cut.get(..=i).unwrap_or(&cut).to_string(),
        _ => truncate_chars(&first, 300),
    }
}

/// A text column of a site row. MySQL reports TEXT columns as BLOB through
/// sqlx's `Any` driver (sqlx#3390, fixed after 0.8), so bytes are accepted
/// and must be UTF-8.
pub fn text(row: &sqlx::any::AnyRow, column: &str) -> Result<String> {
    match row.try_get::<String, _>(column) {
        Ok(s) => Ok(s),
        Err(_) => {
            let bytes: Vec<u8> = row
                .try_get(column)
                .with_context(|| format!("Cannot read column {column}"))?;
            String::from_utf8(bytes).with_context(|| format!("Column {column} is not UTF-8"))
        }
    }
}

impl SiteDb {
    /// Connects to the portal's database and brings its tables up to date.
    pub async fn open(url: &str) -> Result<SiteDb> {
        sqlx::any::install_default_drivers();
        let dialect = if url.starts_with("sqlite:") {
            Dialect::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Dialect::Postgres
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            Dialect::Mysql
        } else {
            bail!("Unsupported site database URL; use sqlite://, postgres:// or mysql://");
        };
        let url = match dialect {
            Dialect::Sqlite if !url.contains("mode=") => {
                if url.contains('?') {
                    format!("{url}&mode=rwc")
                } else {
                    format!("{url}?mode=rwc")
                }
            }
            Dialect::Mysql => url.replacen("mariadb:", "mysql:", 1),
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .context("Invalid site database URL")?
            .log_statements(tracing::log::LevelFilter::Trace);
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(20))
            .connect_with(options)
            .await
            .with_context(|| {
                format!(
                    "Cannot connect to the site database {}",
                    crate::config::redact_url(&url)
                )
            })?;
        if dialect == Dialect::Mysql {
            sqlx::query("SET NAMES utf8mb4")
                .execute(&pool)
                .await
                .context("Cannot set the site database's character set")?;
        }
        Migrator::new(SiteMigrations(dialect))
            .await
            .context("Cannot load the site migrations")?
            .run(&pool)
            .await
            .context("Cannot bring the site database's tables up to date")?;
        Ok(SiteDb { pool, dialect })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `$1, $2…` as the dialect wants them (MySQL: `?`, in order).
    fn sql(&self, q: &str) -> String {
        if self.dialect != Dialect::Mysql {
            return q.to_string();
        }
        let mut out = String::with_capacity(q.len());
        let mut chars = q.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                out.push('?');
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The id of a category, created on first use.
    async fn category(&self, conn: &mut AnyConnection, name: &str) -> Result<Option<i64>> {
        if name.trim().is_empty() {
            return Ok(None);
        }
        let slug = slugify(name);
        let insert = match self.dialect {
            Dialect::Mysql => "INSERT IGNORE INTO categories (slug, name) VALUES (?, ?)",
            _ => {
                "INSERT INTO categories (slug, name) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING"
            }
        };
        sqlx::query(insert)
            .bind(&slug)
            .bind(name)
            .execute(&mut *conn)
            .await
            .context("Cannot record the category")?;
        let id: i64 = sqlx::query_scalar(&self.sql("SELECT id FROM categories WHERE slug = $1"))
            .bind(&slug)
            .fetch_one(&mut *conn)
            .await
            .context("Cannot read the category")?;
        Ok(Some(id))
    }

    /// A slug no other article uses: the title's, or the title's with -2, -3…
    async fn free_slug(
        &self,
        conn: &mut AnyConnection,
        origin: &str,
        title: &str,
    ) -> Result<String> {
        let existing: Option<String> =
            sqlx::query_scalar(&self.sql("SELECT slug FROM articles WHERE origin = $1"))
                .bind(origin)
                .fetch_optional(&mut *conn)
                .await
                .context("Cannot read the article")?;
        if let Some(slug) = existing {
            // A republished article keeps its address.
            return Ok(slug);
        }
        let base = slugify(title);
        for n in 1..1000 {
            let candidate = if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            };
            let taken: Option<i64> =
                sqlx::query_scalar(&self.sql("SELECT id FROM articles WHERE slug = $1"))
                    .bind(&candidate)
                    .fetch_optional(&mut *conn)
                    .await
                    .context("Cannot check the slug")?;
            if taken.is_none() {
                return Ok(candidate);
            }
        }
        Ok(format!("{base}-{}", origin.to_ascii_lowercase()))
    }

    /// Publishes (or republishes in place) an article; returns its slug.
    pub async fn publish(&self, a: &Article, now: i64) -> Result<String> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("Cannot start a site transaction")?;
        let category = self.category(&mut tx, &a.category).await?;
        let slug = self.free_slug(&mut tx, &a.origin, &a.title).await?;
        let current =
            sqlx::query(&self.sql(
                "SELECT id, status, version, title, body_html FROM articles WHERE origin = $1",
            ))
            .bind(&a.origin)
            .fetch_optional(&mut *tx)
            .await
            .context("Cannot read the article")?;
        let existing: Option<i64> = match &current {
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                let status = text(row, "status")?;
                let version: i64 = row.try_get("version")?;
                let title = text(row, "title")?;
                let body = text(row, "body_html")?;
                if status == "published"
                    && version == a.version
                    && title == a.title
                    && body == a.body_html
                {
                    // Published already (a crash before the ticket was marked): nothing to redo.
                    return Ok(slug);
                }
                Some(id)
            }
            None => None,
        };
        let id = match existing {
            Some(id) => {
                sqlx::query(&self.sql("DELETE FROM media WHERE article_id = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .context("Cannot replace the article's media")?;
                id
            }
            None => {
                // A placeholder row, filled in by the update below within
                // the same transaction.
                sqlx::query(&self.sql(
                    "INSERT INTO articles (origin, slug, title, summary, body_html, author, source, reference_news,
                         reference_notice, credit_line, status, version, approved_by, approved_at, published_at,
                         updated_at, unpublish_reason)
                     VALUES ($1, $2, '', '', '', '', '', 0, '', '', 'published', 0, '', 0, 0, 0, '')",
                ))
                .bind(&a.origin)
                .bind(&slug)
                .execute(&mut *tx)
                .await
                .context("Cannot insert the article")?;
                sqlx::query_scalar(&self.sql("SELECT id FROM articles WHERE origin = $1"))
                    .bind(&a.origin)
                    .fetch_one(&mut *tx)
                    .await
                    .context("Cannot read the new article's id")?
            }
        };
        sqlx::query(&self.sql(
            "UPDATE articles SET slug = $1, title = $2, summary = $3, body_html = $4, author = $5, source = $6,
                 category_id = $7, reference_news = $8, reference_notice = $9, credit_line = $10, status = 'published',
                 version = $11, approved_by = $12, approved_at = $13, published_at = $14, updated_at = $15,
                 unpublished_at = NULL, unpublish_reason = ''
             WHERE id = $16",
        ))
        .bind(&slug)
        .bind(&a.title)
        .bind(&a.summary)
        .bind(&a.body_html)
        .bind(&a.author)
        .bind(&a.source)
        .bind(category)
        .bind(i64::from(a.reference_news))
        .bind(&a.reference_notice)
        .bind(&a.credit_line)
        .bind(a.version)
        .bind(&a.approved_by)
        .bind(a.approved_at)
        .bind(now)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("Cannot write the article")?;
        for (position, m) in (0_i64..).zip(&a.media) {
            sqlx::query(&self.sql(
                "INSERT INTO media (article_id, position, sha256, file_name, original_name, content_type, url, is_image,
                     width, height)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            ))
            .bind(id)
            .bind(position)
            .bind(&m.sha256)
            .bind(&m.file_name)
            .bind(&m.original_name)
            .bind(&m.content_type)
            .bind(&m.url)
            .bind(i64::from(m.is_image))
            .bind(m.dimensions.map(|(w, _)| i64::from(w)))
            .bind(m.dimensions.map(|(_, h)| i64::from(h)))
            .execute(&mut *tx)
            .await
            .context("Cannot record a media file")?;
        }
        let action = if existing.is_some() {
            "updated"
        } else {
            "published"
        };
        self.log(&mut tx, id, a, action, &a.approved_by, "", now)
            .await?;
        tx.commit().await.context("Cannot commit the publication")?;
        Ok(slug)
    }

    #[allow(clippy::too_many_arguments)]
    async fn log(
        &self,
        conn: &mut AnyConnection,
        id: i64,
        a: &Article,
        action: &str,
        by: &str,
        reason: &str,
        now: i64,
    ) -> Result<()> {
        sqlx::query(&self.sql(
            "INSERT INTO publication_log (article_id, origin, action, at, by_whom, reason, title, version, body_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        ))
        .bind(id)
        .bind(&a.origin)
        .bind(action)
        .bind(now)
        .bind(by)
        .bind(reason)
        .bind(&a.title)
        .bind(a.version)
        .bind(sha256_hex(a.body_html.as_bytes()))
        .execute(conn)
        .await
        .context("Cannot log the publication")?;
        Ok(())
    }

    /// Takes an article down: the row stays, marked unpublished, with the
    /// reason (R19).
    pub async fn unpublish(&self, origin: &str, reason: &str, by: &str, now: i64) -> Result<bool> {
        let mut tx = self
            .pool
            .begin()
            .await
            .context("Cannot start a site transaction")?;
        let row =
            sqlx::query(&self.sql(
                "SELECT id, status, title, version, body_html FROM articles WHERE origin = $1",
            ))
            .bind(origin)
            .fetch_optional(&mut *tx)
            .await
            .context("Cannot read the article")?;
        let Some(row) = row else {
            return Ok(false);
        };
        let id: i64 = row.try_get("id")?;
        if text(&row, "status")? == "unpublished" {
            // Taken down already (a crash before the ticket was marked).
            return Ok(true);
        }
        sqlx::query(&self.sql(
            "UPDATE articles SET status = 'unpublished', unpublished_at = $1, unpublish_reason = $2, updated_at = $3 WHERE id = $4",
        ))
        .bind(now)
        .bind(reason)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("Cannot take the article down")?;
        let logged = Article {
            origin: origin.to_string(),
            title: text(&row, "title")?,
            version: row.try_get("version")?,
            body_html: text(&row, "body_html")?,
            summary: String::new(),
            author: String::new(),
            source: String::new(),
            category: String::new(),
            reference_news: false,
            reference_notice: String::new(),
            credit_line: String::new(),
            approved_by: String::new(),
            approved_at: 0,
            media: Vec::new(),
        };
        self.log(&mut tx, id, &logged, "unpublished", by, reason, now)
            .await?;
        tx.commit().await.context("Cannot commit the takedown")?;
        Ok(true)
    }
}

/// Copies an attachment into the media directory under a content-addressed
/// name with the extension of what its bytes are (photos without GPS
/// data), durably; returns its description, or why it is not published:
/// not a kind the portal publishes (`content::media`), or a photo whose
/// location data cannot be removed (a collaborator's whereabouts never
/// reach the portal).
fn copy_media(
    archive: &Archive,
    site: &Site,
    a: &Attachment,
) -> Result<std::result::Result<MediaFile, Withheld>> {
    let bytes = archive.read(&a.sha256)?;
    let kind = match media::classify(&a.filename, &bytes) {
        Ok(kind) => kind,
        Err(why) => return Ok(Err(why)),
    };
    let photo = kind.photo_type().is_some();
    let cleaned;
    let data: &[u8] = if photo {
        cleaned = image::strip_gps(&bytes);
        if image::has_gps(&cleaned.data) {
            return Ok(Err(Withheld::Location));
        }
        &cleaned.data
    } else {
        &bytes
    };
    let sha = sha256_hex(data);
    let ext = kind.extension;
    let file_name = format!("{sha}.{ext}");
    let dir = site.media_dir.join(sha.get(..2).unwrap_or("00"));
    let dest = dir.join(&file_name);
    if !dest.is_file() {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("Cannot create {}", dir.display()))?;
        let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &dest)?;
            std::fs::File::open(&dir)?.sync_all()
        };
        write().with_context(|| format!("Cannot write {}", dest.display()))?;
    }
    Ok(Ok(MediaFile {
        url: format!(
            "{}/{}/{file_name}",
            site.media_url.trim_end_matches('/'),
            sha.get(..2).unwrap_or("00")
        ),
        sha256: sha,
        file_name,
        original_name: published_name(&a.filename, &kind),
        content_type: kind.mime.to_string(),
        is_image: photo,
        dimensions: if photo { image::dimensions(data) } else { None },
    }))
}

/// The name a published file is shown and downloaded under: the sender's,
/// cleaned (`names::safe_file_name`: no path, no invisible or bidi
/// characters), with the extension of what the file is: a JPEG sent as
/// `photo.php` is `photo.jpg`, a PDF sent as `report\u{202e}fdp.txt` is
/// `reportfdp.pdf`.
fn published_name(sent: &str, kind: &Publishable) -> String {
    let safe = names::safe_file_name(Some(sent), "tep-dinh-kem", kind.mime);
    let stem = match safe.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => {
            let ext = ext.to_ascii_lowercase();
            let same = ext == kind.extension
                || matches!(
                    (kind.extension, ext.as_str()),
                    ("jpg", "jpeg" | "jpe" | "jfif")
                        | ("ogg", "oga" | "opus")
                        | ("mp4", "m4v")
                        | ("m4a", "m4b")
                );
            if same {
                return safe;
            }
            stem
        }
        _ => safe.as_str(),
    };
    format!("{stem}.{}", kind.extension)
}

/// Publishes what is due and takes down what is asked.
pub struct Publisher {
    config: Live<Config>,
    store: Store,
    archive: Archive,
    calendar: Live<Calendar>,
    clock: Arc<dyn Clock>,
    key: workflow::auth::ReplyKey,
    site: Option<SiteDb>,
    wake: Arc<Notify>,
    outbox: Arc<Notify>,
}

/// What the publisher needs.
pub struct PublisherParts {
    pub config: Live<Config>,
    pub store: Store,
    pub archive: Archive,
    pub calendar: Live<Calendar>,
    pub clock: Arc<dyn Clock>,
    pub key: workflow::auth::ReplyKey,
    pub wake: Arc<Notify>,
    pub outbox: Arc<Notify>,
}

impl Publisher {
    pub fn new(p: PublisherParts) -> Publisher {
        Publisher {
            config: p.config,
            store: p.store,
            archive: p.archive,
            calendar: p.calendar,
            clock: p.clock,
            key: p.key,
            site: None,
            wake: p.wake,
            outbox: p.outbox,
        }
    }

    /// The site database, connected on first use (it may be down when the
    /// daemon starts).
    async fn site(&mut self) -> Result<&SiteDb> {
        let config = self.config.get();
        let Some(cfg) = &config.site else {
            bail!("No [site] section: publishing is not configured");
        };
        if self.site.is_none() {
            self.site = Some(SiteDb::open(&cfg.url).await?);
        }
        self.site
            .as_ref()
            .context("The site database is not connected")
    }

    /// Publishes until shutdown.
    pub async fn run(mut self, shutdown: &Shutdown) {
        if self.config.get().site.is_none() {
            tracing::info!("no [site] section: approved items are not published");
            return;
        }
        let mut failures = 0u32;
        loop {
            let now = self.clock.now();
            let wait = match self.publish_due(now).await {
                Ok(_) => {
                    failures = 0;
                    self.next_due_in(now).await.unwrap_or(MAX_RETRY)
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    // The site database may be down: forget the pool, retry later.
                    self.site = None;
                    let delay = Duration::from_secs(5u64.saturating_mul(1 << failures.min(9)))
                        .min(MAX_RETRY);
                    tracing::warn!(error = %format!("{e:#}"), retry_in_secs = delay.as_secs(), "publishing failed; will retry");
                    delay
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait.min(Duration::from_secs(60))) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    async fn next_due_in(&self, now: Timestamp) -> Result<Duration> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(publish_at) FROM tickets WHERE publish_at IS NOT NULL")
                .fetch_one(self.store.pool())
                .await
                .context("Cannot read the next publication")?;
        Ok(next.map_or(MAX_RETRY, |ms| {
            Duration::from_millis(u64::try_from(ms - now.as_millisecond()).unwrap_or(0))
        }))
    }

    /// Takes down what approvers asked to, then publishes every queued
    /// ticket whose moment has come, in approval order; returns the codes
    /// done. A ticket that fails is retried later with a growing delay.
    pub async fn publish_due(&mut self, now: Timestamp) -> Result<Vec<String>> {
        let takedowns = sqlx::query(
            "SELECT code, takedown_reason, decided_by FROM tickets WHERE takedown_at IS NOT NULL AND state = $1 ORDER BY takedown_at",
        )
        .bind(state::PUBLISHED)
        .fetch_all(self.store.pool())
        .await
        .context("Cannot read the takedown requests")?;
        let mut done = Vec::new();
        for r in &takedowns {
            let code: String = r.try_get("code")?;
            let reason: String = r.try_get("takedown_reason")?;
            let by: String = r.try_get("decided_by")?;
            self.take_down(&code, &reason, &by, now).await?;
            done.push(code);
        }
        let due = sqlx::query(
            "SELECT id, code, publish_attempts FROM tickets WHERE publish_at IS NOT NULL AND publish_at <= $1 AND state = $2
             ORDER BY decided_at, id",
        )
        .bind(now.as_millisecond())
        .bind(state::APPROVED)
        .fetch_all(self.store.pool())
        .await
        .context("Cannot read the publishing queue")?;
        for r in &due {
            let id: i64 = r.try_get("id")?;
            let code: String = r.try_get("code")?;
            let attempts: i64 = r.try_get("publish_attempts")?;
            match self.publish(&code, now).await {
                Ok(Some(_)) => done.push(code),
                Ok(None) => {}
                Err(e) => {
                    let error = format!("{e:#}");
                    let delay = Duration::from_secs(5u64.saturating_mul(1 << attempts.clamp(0, 9)))
                        .min(MAX_RETRY);
                    tracing::warn!(ticket = %code, %error, retry_in_secs = delay.as_secs(), "publishing failed; will retry");
                    let retry_at = now.as_millisecond()
                        + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                    let mut conn = self
                        .store
                        .pool()
                        .acquire()
                        .await
                        .context("Cannot reach the state database")?;
                    workflow::publish_failed(&mut conn, id, &error, retry_at).await?;
                    // A fresh connection next time: the site may have been down.
                    self.site = None;
                }
            }
        }
        Ok(done)
    }

    fn settings(&self) -> Settings {
        Settings::current(&self.config, &self.calendar)
    }

    /// A ticket by its code, with its latest version.
    async fn ticket(&self, code: &str) -> Result<(workflow::Ticket, workflow::Version)> {
        let mut conn = self
            .store
            .pool()
            .acquire()
            .await
            .context("Cannot reach the state database")?;
        let id = workflow::ticket_id(&mut conn, code)
            .await?
            .with_context(|| format!("No ticket {code}"))?;
        let t = workflow::load(&mut conn, id).await?;
        let version = workflow::latest_version(&mut conn, id).await?;
        Ok((t, version))
    }

    /// Takes one published ticket down from the portal and marks it.
    pub async fn take_down(
        &mut self,
        code: &str,
        reason: &str,
        by: &str,
        now: Timestamp,
    ) -> Result<()> {
        let (t, _) = self.ticket(code).await?;
        match rules::unpublishable(&t.view(), reason) {
            Ok(()) => {}
            Err(Refusal::NotPublished) => bail!(
                "Ticket {code} is {}, not published; there is nothing to take down",
                t.state
            ),
            Err(_) => {
                bail!("Give the reason for taking {code} down; it is kept with the article (R19)")
            }
        }
        self.site()
            .await?
            .unpublish(code, reason, by, now.as_second())
            .await?;
        let mut tx = self.store.begin().await?;
        workflow::mark_unpublished(
            &mut tx,
            &self.settings().ctx(&self.key, now),
            t.id,
            reason,
            by,
        )
        .await?;
        tx.commit()
            .await
            .context("Cannot commit the takedown on the ticket")?;
        tracing::info!(ticket = %code, %reason, "taken down from the portal");
        Ok(())
    }

    /// Publishes one approved ticket now, whatever its publishing moment
    /// (the console's `bientap publish`).
    pub async fn publish_now(&mut self, code: &str, now: Timestamp) -> Result<String> {
        let (t, _) = self.ticket(code).await?;
        check_publishable(&t)?;
        let mut tx = self.store.begin().await?;
        workflow::queue_now(&mut tx, &self.settings().ctx(&self.key, now), t.id).await?;
        tx.commit().await.context("Cannot queue the ticket")?;
        match self.publish(code, now).await? {
            Some(url) => Ok(url),
            None => bail!(
                "Ticket {code} was not published: its version carries a classification stamp (R10); \
                 it is held and the heads were told (`bientap tickets show {code}`)"
            ),
        }
    }

    /// Publishes one approved ticket; `None` when its version carries a
    /// classification stamp: then it is held and the heads told (R10).
    async fn publish(&mut self, code: &str, now: Timestamp) -> Result<Option<String>> {
        let (t, version) = self.ticket(code).await?;
        check_publishable(&t)?;
        let subject = {
            let mut conn = self
                .store
                .pool()
                .acquire()
                .await
                .context("Cannot reach the state database")?;
            workflow::latest_subject(&mut conn, t.id).await?
        };
        let stamp = {
            let archive = self.archive.clone();
            let limits = self.config.get().content.docx_limits;
            let headings = [t.title.clone(), subject];
            let v = version.clone();
            tokio::task::spawn_blocking(move || classification(&archive, &limits, &headings, &v))
                .await
                .context("The classification check failed to run")??
        };
        let stamp_label = stamp
            .as_ref()
            .map(|m| format!("{} ({})", m.level.label(), m.place));
        match (rules::publishable(&t.view(), stamp_label.as_deref()), stamp) {
            (Ok(()), _) => {}
            (Err(Refusal::Classified(_)), Some(mark)) => {
                let mut tx = self.store.begin().await?;
                workflow::hold_classified(
                    &mut tx,
                    &self.settings().ctx(&self.key, now),
                    t.id,
                    &mark,
                )
                .await?;
                tx.commit()
                    .await
                    .context("Cannot commit the hold on the ticket")?;
                self.outbox.notify_one();
                tracing::warn!(ticket = %code, stamp = mark.level.label(), place = %mark.place, "not published: classification stamp (R10); held, heads told");
                return Ok(None);
            }
            (Err(refusal), _) => return Err(refusal_error(&t, refusal)),
        }
        let site_cfg = self
            .config
            .get()
            .site
            .clone()
            .context("No [site] section: publishing is not configured")?;
        // 1. Media files first: the row must never point at a missing file.
        let archive = self.archive.clone();
        let attachments = version.attachments.clone();
        let cfg = site_cfg.clone();
        let media = tokio::task::spawn_blocking(move || {
            attachments
                .iter()
                .map(|a| copy_media(&archive, &cfg, a).map(|m| (a, m)))
                .collect::<Result<Vec<_>>>()
                .map(|all| {
                    let mut kept = Vec::new();
                    let mut withheld = Vec::new();
                    for (a, m) in all {
                        match m {
                            Ok(m) => kept.push((a.sha256.clone(), m)),
                            Err(why) => withheld.push((clean_line(&a.filename), why)),
                        }
                    }
                    (kept, withheld)
                })
        })
        .await
        .context("The media copy task failed")??;
        let (media, withheld) = media;
        if !withheld.is_empty() {
            tracing::warn!(ticket = %code, files = ?withheld.iter().map(|(name, _)| name).collect::<Vec<_>>(), "files left out of the publication");
        }
        let by_original: BTreeMap<String, String> = media
            .iter()
            .map(|(orig, m)| (orig.clone(), m.url.clone()))
            .collect();
        // Images of files left out go; none points at the archive.
        let body_html = rewrite_images(&version.body_html, &by_original);
        let site_name = site_cfg
            .name
            .clone()
            .unwrap_or_else(|| self.config.get().board.name.clone());
        let article = Article {
            origin: t.code.clone(),
            // Within the portal's column sizes (docs/site-schema.md).
            title: truncate_chars(&clean_line(&t.title), 480),
            summary: summary(&version.body_text),
            body_html,
            author: truncate_chars(&t.author, 290),
            source: truncate_chars(&t.source, 290),
            category: truncate_chars(&t.category, 190),
            reference_news: t.reference_news,
            reference_notice: if t.reference_news {
                "Tin tham khảo: thông tin chưa được cơ quan có thẩm quyền xác nhận chính thức."
                    .to_string()
            } else {
                String::new()
            },
            credit_line: format!(
                "Tác giả: {}. Nguồn: {}. Khi phát hành lại thông tin từ {site_name}, đề nghị ghi rõ nguồn.",
                t.author, t.source
            ),
            version: version.number,
            approved_by: t.decided_by.clone(),
            approved_at: t.decided_at.unwrap_or(now.as_millisecond()) / 1000,
            media: media.into_iter().map(|(_, m)| m).collect(),
        };
        // 2. The portal's row, in one site transaction.
        let now_s = now.as_second();
        let slug = self.site().await?.publish(&article, now_s).await?;
        let url = site_cfg.article_url.replace("{slug}", &slug);
        // 3. The ticket and the sender's mail, in one state transaction.
        let mut tx = self.store.begin().await?;
        workflow::mark_published(
            &mut tx,
            &self.settings().ctx(&self.key, now),
            t.id,
            &slug,
            &url,
            &withheld,
        )
        .await?;
        tx.commit()
            .await
            .context("Cannot commit the publication on the ticket")?;
        self.outbox.notify_one();
        tracing::info!(ticket = %code, %url, "published");
        Ok(Some(url))
    }
}

/// The rulebook's word on publishing an approved ticket (R5, R8); the
/// stamp check (R10) needs the version's files and comes later.
fn check_publishable(t: &workflow::Ticket) -> Result<()> {
    rules::publishable(&t.view(), None).map_err(|r| refusal_error(t, r))
}

/// A refusal to publish, for the console and the log.
fn refusal_error(t: &workflow::Ticket, refusal: Refusal) -> anyhow::Error {
    match refusal {
        Refusal::MissingCredits => anyhow::anyhow!(
            "Ticket {} lacks {} (R8); the approver supplies it on the approve line",
            t.code,
            workflow::missing_credits(t).unwrap_or("tác giả và nguồn tin")
        ),
        refusal => anyhow::anyhow!("Ticket {}: {}", t.code, refusal.reason_en()),
    }
}

/// The classification stamp in what would be published (R10): the title
/// or the subject the version came with, the text, or a Word file among
/// the version's files.
fn classification(
    archive: &Archive,
    limits: &docx::Limits,
    headings: &[String],
    version: &workflow::Version,
) -> Result<Option<Mark>> {
    if let Some(mark) = headings
        .iter()
        .find_map(|h| screen::classified_mark(h, &version.body_text))
    {
        return Ok(Some(mark));
    }
    for a in &version.attachments {
        let data = archive.read(&a.sha256)?;
        if refine::is_word_file(&a.filename, &a.content_type, &data)
            && let Some(mark) = refine::document_stamp(&data, limits)
        {
            return Ok(Some(Mark {
                place: format!("{}, {}", a.filename, mark.place),
                ..mark
            }));
        }
    }
    Ok(None)
}

/// Points the article's images at their published copies, and drops the
/// images whose file is not published (`urls` maps the SHA-256 of each
/// published attachment to its address): the portal's page never refers
/// to the archive or to a file left out.
///
/// `html` is the sanitizer's output, so every `<img` is a tag (text has
/// `&lt;`) and its attribute values are double-quoted with `"` escaped.
fn rewrite_images(html: &str, urls: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find("<img") {
        let (before, tag_on) = rest.split_at(at);
        out.push_str(before);
        let end = tag_end(tag_on).unwrap_or(tag_on.len());
        let (tag, after) = tag_on.split_at(end);
        rest = after;
        let needle = format!("src=\"{ATTACHMENT_SCHEME}");
        let Some(src_at) = tag.find(&needle) else {
            out.push_str(tag);
            continue;
        };
        let value_at = src_at + needle.len();
        let sha: String = tag
            .get(value_at..)
            .unwrap_or_default()
            .chars()
            .take_while(|c| *c != '"')
            .collect();
        if let Some(url) = urls.get(&sha) {
            out.push_str(&tag.replacen(&format!("{ATTACHMENT_SCHEME}{sha}"), &escape_html(url), 1));
        }
    }
    out.push_str(rest);
    out
}

/// The length of the tag at the start of `s` (through its `>`), skipping
/// `>` inside double-quoted attribute values; None when it does not end.
fn tag_end(s: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_vietnamese() {
        assert_eq!(
            slugify("Hội nghị tổng kết năm 2026"),
            "hoi-nghi-tong-ket-nam-2026"
        );
        assert_eq!(
            slugify("Đắk Nông: “Ngày hội” — đại đoàn kết!"),
            "dak-nong-ngay-hoi-dai-doan-ket"
        );
        assert_eq!(slugify("???"), "bai-viet");
    }

    #[test]
    fn images_of_withheld_files_are_dropped() {
        let kept = "a".repeat(64);
        let left_out = "b".repeat(64);
        let urls = BTreeMap::from([(
            kept.clone(),
            "https://portal.example.test/media/aa/x.jpg?a&b".to_string(),
        )]);
        let html = format!(
            "<p>Ảnh <img src=\"attachment:{kept}\" alt=\"a > b\"> và \
             <img alt=\"x\" src=\"attachment:{left_out}\"><img src=\"https://x.example/y.png\"></p>\
             <p>attachment:{left_out} &lt;img src=\"attachment:{left_out}\"&gt;</p>"
        );
        assert_eq!(
            rewrite_images(&html, &urls),
            format!(
                "<p>Ảnh <img src=\"https://portal.example.test/media/aa/x.jpg?a&amp;b\" alt=\"a > b\"> và \
                 <img src=\"https://x.example/y.png\"></p>\
                 <p>attachment:{left_out} &lt;img src=\"attachment:{left_out}\"&gt;</p>"
            )
        );
        // A tag cut short (not from the sanitizer) cannot loop or panic.
        assert_eq!(
            rewrite_images("<p><img src=\"attach", &urls),
            "<p><img src=\"attach"
        );
        assert_eq!(
            rewrite_images(&format!("<img src=\"attachment:{left_out}"), &urls),
            ""
        );
    }

    #[test]
    fn published_names_say_what_the_file_is() {
        let jpeg = media::classify("x", b"\xFF\xD8\xFF\xE0").unwrap();
        let pdf = media::classify("x", b"%PDF-1.4").unwrap();
        assert_eq!(published_name("photo.php", &jpeg), "photo.jpg");
        assert_eq!(
            published_name("Ảnh cầu treo.JPEG", &jpeg),
            "Ảnh cầu treo.JPEG"
        );
        assert_eq!(
            published_name("report\u{202e}fdp.txt", &pdf),
            "reportfdp.pdf"
        );
        assert_eq!(published_name("Báo cáo", &pdf), "Báo cáo.pdf");
        assert_eq!(published_name("\u{200b}", &pdf), "tep-dinh-kem.pdf");
        assert_eq!(published_name(".htaccess", &pdf), "htaccess.pdf");
    }

    #[test]
    fn summary_is_the_lead_paragraph() {
        assert_eq!(
            summary("Kính gửi Ban biên tập,\n\nSáng nay xã tổ chức hội nghị lớn.\n\nĐoạn hai."),
            "Sáng nay xã tổ chức hội nghị lớn."
        );
        let long = format!("{}. {}", "Câu mở đầu rất dài ".repeat(10), "x ".repeat(200));
        let s = summary(&long);
        assert!(s.chars().count() <= 301 && s.ends_with('.'), "{s}");
    }
}
