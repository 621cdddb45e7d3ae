//! The state database: tickets, every message taken in, mailbox positions.
//!
//! SQLite (one file under the state directory) is the embedded default;
//! PostgreSQL runs the same queries for larger or multi-instance boards. Both
//! go through sqlx's `Any` driver, so every statement here is written in the
//! SQL both understand: `$n` placeholders, `RETURNING`, `ON CONFLICT`, and
//! integers only (times are milliseconds since the epoch, flags are 0/1).
//!
//! Invariant 1 and 2 rest on this module: everything derived from a message
//! is written in one transaction together with the message row, and the
//! unique keys on `messages.sha256` and `messages.message_id` make a replay
//! a no-op.

pub mod archive;
pub mod console;

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use futures::future::BoxFuture;
use serde::Serialize;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{AnyConnection, AnyPool, ConnectOptions, Row};

pub use archive::Archive;

use crate::config::redact_url;

/// The SQL dialect behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the state database; cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

#[derive(Debug)]
struct Embedded(Backend);

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, sqlx::error::BoxDynError>> {
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, name, sqlite, postgres)| {
                let sql = match self.0 {
                    Backend::Sqlite => *sqlite,
                    Backend::Postgres => *postgres,
                };
                Migration::new(
                    *version,
                    Cow::Borrowed(*name),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect();
        Box::pin(async move { Ok(migrations) })
    }
}

/// The schema's history: version, name, SQLite and PostgreSQL dialects.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "core",
        include_str!("../migrations/sqlite/0001_core.sql"),
        include_str!("../migrations/postgres/0001_core.sql"),
    ),
    (
        2,
        "review",
        include_str!("../migrations/sqlite/0002_review.sql"),
        include_str!("../migrations/postgres/0002_review.sql"),
    ),
    (
        3,
        "deadlines",
        include_str!("../migrations/sqlite/0003_deadlines.sql"),
        include_str!("../migrations/postgres/0003_deadlines.sql"),
    ),
    (
        4,
        "publish",
        include_str!("../migrations/sqlite/0004_publish.sql"),
        include_str!("../migrations/postgres/0004_publish.sql"),
    ),
    (
        5,
        "content",
        include_str!("../migrations/sqlite/0005_content.sql"),
        include_str!("../migrations/postgres/0005_content.sql"),
    ),
    (
        6,
        "service",
        include_str!("../migrations/sqlite/0006_service.sql"),
        include_str!("../migrations/postgres/0006_service.sql"),
    ),
    (
        7,
        "zalo",
        include_str!("../migrations/sqlite/0007_zalo.sql"),
        include_str!("../migrations/postgres/0007_zalo.sql"),
    ),
    (
        8,
        "approval",
        include_str!("../migrations/sqlite/0008_approval.sql"),
        include_str!("../migrations/postgres/0008_approval.sql"),
    ),
];

impl Store {
    /// Connects to `url`, creating the SQLite file if needed, and brings the
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            bail!("Unsupported database URL; use sqlite://PATH or postgres://USER@HOST/DB");
        };
        let (url, lock_path) = match backend {
            Backend::Sqlite => {
                let (url, path) = sqlite_url_with_options(url)?;
                (url, Some(path.with_extension("migrate.lock")))
            }
            Backend::Postgres => (url.to_string(), None),
        };
        let options = AnyConnectOptions::from_str(&url)
            .context("Invalid database URL")?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2));
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA synchronous = FULL",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA busy_timeout = 10000",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .with_context(|| {
                format!("Cannot connect to the state database {}", redact_url(&url))
            })?;
        let store = Store { pool, backend };
        // Two processes opening a new SQLite file at once (the daemon and a
        // CLI command) must not both create the schema; PostgreSQL takes an
        // advisory lock inside sqlx's migrator.
        let _guard = match lock_path {
            Some(path) => Some(lock_file(path).await?),
            None => None,
        };
        store.migrate().await?;
        Ok(store)
    }

    async fn migrate(&self) -> Result<()> {
        let migrator = Migrator::new(Embedded(self.backend))
            .await
            .context("Cannot load the embedded migrations")?;
        migrator
            .run(&self.pool)
            .await
            .context("Cannot bring the state database schema up to date")?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn begin(&self) -> Result<Tx> {
        self.pool
            .begin()
            .await
            .context("Cannot start a state database transaction")
    }

    /// Ids of the messages already recorded with one of these digests.
    pub async fn known_digests(&self, digests: &[String]) -> Result<Vec<String>> {
        let mut known = Vec::new();
        for chunk in digests.chunks(200) {
            let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT sha256 FROM messages WHERE sha256 IN ({})",
                placeholders.join(", ")
            );
            let mut q = sqlx::query_scalar::<_, String>(&sql);
            for d in chunk {
                q = q.bind(d);
            }
            known.extend(
                q.fetch_all(&self.pool)
                    .await
                    .context("Cannot look up known message digests")?,
            );
        }
        Ok(known)
    }

    pub async fn mailbox_state(&self, mailbox: &str) -> Result<Option<(u32, u32)>> {
        let row =
            sqlx::query("SELECT uid_validity, last_uid FROM mailbox_state WHERE mailbox = $1")
                .bind(mailbox)
                .fetch_optional(&self.pool)
                .await
                .context("Cannot read the mailbox position")?;
        match row {
            None => Ok(None),
            Some(r) => {
                let v: i64 = r.try_get(0)?;
                let u: i64 = r.try_get(1)?;
                Ok(Some((
                    u32::try_from(v).unwrap_or_default(),
                    u32::try_from(u).unwrap_or_default(),
                )))
            }
        }
    }

    /// Starts over in a mailbox whose UIDVALIDITY changed: old UIDs mean
    /// nothing any more, pending moves for them are void.
    pub async fn reset_mailbox(&self, mailbox: &str, uid_validity: u32) -> Result<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM pending_moves WHERE mailbox = $1")
            .bind(mailbox)
            .execute(&mut *tx)
            .await
            .context("Cannot clear pending moves")?;
        set_mailbox_position(&mut tx, mailbox, uid_validity, 0).await?;
        tx.commit()
            .await
            .context("Cannot commit the mailbox reset")?;
        Ok(())
    }

    pub async fn pending_moves(&self, mailbox: &str, uid_validity: u32) -> Result<Vec<u32>> {
        let uids: Vec<i64> = sqlx::query_scalar(
            "SELECT uid FROM pending_moves WHERE mailbox = $1 AND uid_validity = $2 ORDER BY uid",
        )
        .bind(mailbox)
        .bind(i64::from(uid_validity))
        .fetch_all(&self.pool)
        .await
        .context("Cannot read pending moves")?;
        Ok(uids
            .into_iter()
            .filter_map(|u| u32::try_from(u).ok())
            .collect())
    }

    pub async fn forget_moves(&self, mailbox: &str, uid_validity: u32, uids: &[u32]) -> Result<()> {
        let mut tx = self.begin().await?;
        for uid in uids {
            sqlx::query(
                "DELETE FROM pending_moves WHERE mailbox = $1 AND uid_validity = $2 AND uid = $3",
            )
            .bind(mailbox)
            .bind(i64::from(uid_validity))
            .bind(i64::from(*uid))
            .execute(&mut *tx)
            .await
            .context("Cannot delete a pending move")?;
        }
        tx.commit().await.context("Cannot commit done moves")?;
        Ok(())
    }

    /// Tickets, newest first, optionally in one state.
    pub async fn list_tickets(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TicketSummary>> {
        self.list_tickets_where(state, None, limit).await
    }

    /// Tickets late at `now`: waiting for a reviewer past the approval
    /// deadline (R6), or approved and not published past the publication
    /// deadline (R14). Uses the (state, due_at) index.
    pub async fn overdue_tickets(&self, now: i64, limit: i64) -> Result<Vec<TicketSummary>> {
        self.list_tickets_where(None, Some(now), limit).await
    }

    async fn list_tickets_where(
        &self,
        state: Option<&str>,
        overdue_at: Option<i64>,
        limit: i64,
    ) -> Result<Vec<TicketSummary>> {
        let filter = match (state, overdue_at) {
            (_, Some(_)) => {
                "WHERE (t.state IN ('editing', 'reviewing') AND t.due_at < $2)
                    OR (t.state = 'approved' AND t.publish_due IS NOT NULL AND t.publish_due < $2)"
            }
            (Some(_), None) => "WHERE t.state = $2",
            (None, None) => "",
        };
        let order = if overdue_at.is_some() {
            "t.due_at"
        } else {
            "t.id DESC"
        };
        let sql =
            format!("SELECT {SUMMARY_COLUMNS} FROM tickets t {filter} ORDER BY {order} LIMIT $1");
        let mut q = sqlx::query(&sql).bind(limit);
        if let Some(now) = overdue_at {
            q = q.bind(now);
        } else if let Some(s) = state {
            q = q.bind(s);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .context("Cannot list tickets")?;
        rows.iter().map(TicketSummary::from_row).collect()
    }

    pub async fn ticket(&self, code: &str) -> Result<Option<TicketDetail>> {
        let sql = format!("SELECT {SUMMARY_COLUMNS} FROM tickets t WHERE t.code = $1");
        let Some(row) = sqlx::query(&sql)
            .bind(code)
            .fetch_optional(&self.pool)
            .await
            .context("Cannot read the ticket")?
        else {
            return Ok(None);
        };
        let summary = TicketSummary::from_row(&row)?;
        let ticket_id: i64 = row.try_get("id")?;

        let version_rows = sqlx::query(
            "SELECT v.id, v.number, v.body_html, v.body_text, v.notes, v.created_at, m.sha256, m.source
             FROM versions v JOIN messages m ON m.id = v.message_id
             WHERE v.ticket_id = $1 ORDER BY v.number",
        )
        .bind(ticket_id)
        .fetch_all(&self.pool)
        .await
        .context("Cannot read ticket versions")?;
        let mut versions = Vec::with_capacity(version_rows.len());
        for v in &version_rows {
            let version_id: i64 = v.try_get("id")?;
            let attachments = {
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .context("Cannot reach the state database")?;
                version_attachments(&mut conn, version_id).await?
            };
            let notes: String = v.try_get("notes")?;
            versions.push(VersionInfo {
                number: v.try_get("number")?,
                created_at: v.try_get("created_at")?,
                raw_sha256: v.try_get("sha256")?,
                channel: if v.try_get::<String, _>("source")? == "zalo" {
                    "zalo".to_string()
                } else {
                    "email".to_string()
                },
                body_html: v.try_get("body_html")?,
                body_text: v.try_get("body_text")?,
                notes: notes.lines().map(str::to_string).collect(),
                attachments,
            });
        }

        let events = sqlx::query(
            "SELECT e.at, e.kind, e.actor, e.detail, e.verified, m.sha256
             FROM events e LEFT JOIN messages m ON m.id = e.message_id
             WHERE e.ticket_id = $1 ORDER BY e.id",
        )
        .bind(ticket_id)
        .fetch_all(&self.pool)
        .await
        .context("Cannot read ticket history")?
        .iter()
        .map(|e| {
            Ok(EventInfo {
                at: e.try_get("at")?,
                kind: e.try_get("kind")?,
                actor: e.try_get("actor")?,
                detail: e.try_get("detail")?,
                verified: e.try_get("verified")?,
                message_sha256: e.try_get("sha256")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

        Ok(Some(TicketDetail {
            summary,
            versions,
            events,
        }))
    }

    /// Counts of recorded messages by kind.
    pub async fn message_counts(&self) -> Result<Vec<(String, i64)>> {
        let rows =
            sqlx::query("SELECT kind, COUNT(*) AS n FROM messages GROUP BY kind ORDER BY kind")
                .fetch_all(&self.pool)
                .await
                .context("Cannot count messages")?;
        rows.iter()
            .map(|r| Ok((r.try_get("kind")?, r.try_get("n")?)))
            .collect()
    }

    /// Quarantined messages, newest first.
    pub async fn quarantined(&self, limit: i64) -> Result<Vec<MessageInfo>> {
        let rows = sqlx::query(
            "SELECT sha256, message_id, size, arrived_at, from_addr, subject, reason
             FROM messages WHERE kind = 'quarantined' ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .context("Cannot list quarantined messages")?;
        rows.iter()
            .map(|r| {
                Ok(MessageInfo {
                    sha256: r.try_get("sha256")?,
                    message_id: r.try_get("message_id")?,
                    size: r.try_get("size")?,
                    arrived_at: r.try_get("arrived_at")?,
                    from_addr: r.try_get("from_addr")?,
                    subject: r.try_get("subject")?,
                    reason: r.try_get("reason")?,
                })
            })
            .collect()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

const SUMMARY_COLUMNS: &str = "t.id, t.code, t.state, t.title, t.sender_addr, t.sender_name, \
     t.sender_member, t.sender_unit, t.channel, t.received_at, t.due_at, \
     t.category, t.assignee_role, t.assignee, t.reference_news, t.decision_note, \
     t.kind, t.event_date, t.publish_due, t.author, t.source, t.publish_at, t.published_at, t.url, \
     t.publish_error, t.takedown_reason, \
     (SELECT COUNT(*) FROM attachments a JOIN versions v ON v.id = a.version_id \
      WHERE v.ticket_id = t.id AND v.number = (SELECT MAX(number) FROM versions WHERE ticket_id = t.id)) AS attachment_count";

/// One line of `bientap tickets list`.
#[derive(Debug, Clone, Serialize)]
pub struct TicketSummary {
    pub code: String,
    pub state: String,
    pub title: String,
    pub sender: String,
    pub sender_name: String,
    /// True when the sender is a registered member; strangers are allowed (R4).
    pub sender_is_member: bool,
    pub sender_unit: String,
    pub channel: String,
    /// Arrival at the board's server, RFC 3339.
    pub received_at: String,
    /// Approval deadline (R6), RFC 3339.
    pub due_at: String,
    pub attachments: i64,
    /// Category from routing or the approver (R3).
    pub category: String,
    /// Who the ticket waits for: a member's address or a role.
    pub waiting_for: String,
    /// To be published as reference news (R9).
    pub reference_news: bool,
    /// The rejection reason or the change request.
    pub decision_note: String,
    /// Kind of item for the publication limit (R14): news, document,
    /// conference, answer; empty when unknown.
    pub kind: String,
    /// Date of the event (or signing), YYYY-MM-DD; empty when unknown.
    pub event_date: String,
    /// Publication deadline (R14), RFC 3339, when the kind is known.
    pub publish_due: Option<String>,
    #[serde(skip)]
    pub publish_due_ms: Option<i64>,
    /// Credits printed with the article (R8); empty until known.
    pub author: String,
    pub source: String,
    /// When an approved item is next published (a window, or a retry),
    /// RFC 3339.
    pub publish_at: Option<String>,
    /// When it was (last) published, RFC 3339.
    pub published_at: Option<String>,
    /// Its address on the portal.
    pub url: String,
    /// Why the last publishing attempt failed; empty after success.
    pub publish_error: String,
    /// Why it was taken down (R19).
    pub takedown_reason: String,
    #[serde(skip)]
    pub received_ms: i64,
    #[serde(skip)]
    pub due_ms: i64,
}

impl TicketSummary {
    fn from_row(r: &sqlx::any::AnyRow) -> Result<Self> {
        let received_ms: i64 = r.try_get("received_at")?;
        let due_ms: i64 = r.try_get("due_at")?;
        Ok(TicketSummary {
            code: r.try_get("code")?,
            state: r.try_get("state")?,
            title: r.try_get("title")?,
            sender: r.try_get("sender_addr")?,
            sender_name: r.try_get("sender_name")?,
            sender_is_member: r.try_get::<i64, _>("sender_member")? != 0,
            sender_unit: r.try_get("sender_unit")?,
            channel: r.try_get("channel")?,
            received_at: rfc3339(received_ms),
            due_at: rfc3339(due_ms),
            attachments: r.try_get("attachment_count")?,
            category: r.try_get("category")?,
            waiting_for: {
                let assignee: String = r.try_get("assignee")?;
                if assignee.is_empty() {
                    r.try_get("assignee_role")?
                } else {
                    assignee
                }
            },
            reference_news: r.try_get::<i64, _>("reference_news")? != 0,
            decision_note: r.try_get("decision_note")?,
            kind: r.try_get("kind")?,
            event_date: r.try_get("event_date")?,
            publish_due: r.try_get::<Option<i64>, _>("publish_due")?.map(rfc3339),
            publish_due_ms: r.try_get("publish_due")?,
            author: r.try_get("author")?,
            source: r.try_get("source")?,
            publish_at: r.try_get::<Option<i64>, _>("publish_at")?.map(rfc3339),
            published_at: r.try_get::<Option<i64>, _>("published_at")?.map(rfc3339),
            url: r.try_get("url")?,
            publish_error: r.try_get("publish_error")?,
            takedown_reason: r.try_get("takedown_reason")?,
            received_ms,
            due_ms,
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub summary: TicketSummary,
    pub versions: Vec<VersionInfo>,
    pub events: Vec<EventInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    pub number: i64,
    #[serde(serialize_with = "ser_ms")]
    pub created_at: i64,
    /// Digest of the raw message in the archive.
    pub raw_sha256: String,
    /// How this version came in: `email` or `zalo`.
    pub channel: String,
    pub body_html: String,
    pub body_text: String,
    pub notes: Vec<String>,
    pub attachments: Vec<Attachment>,
}

/// An attachment as recorded on a ticket version (bytes are in the archive).
#[derive(Debug, Clone, Serialize)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub content_id: String,
    pub inline: bool,
    /// A photo's width and height in pixels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventInfo {
    #[serde(serialize_with = "ser_ms")]
    pub at: i64,
    pub kind: String,
    pub actor: String,
    pub detail: String,
    /// How the sender of the message was authenticated, when it mattered.
    pub verified: String,
    pub message_sha256: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageInfo {
    pub sha256: String,
    pub message_id: Option<String>,
    pub size: i64,
    #[serde(serialize_with = "ser_ms")]
    pub arrived_at: i64,
    pub from_addr: String,
    pub subject: String,
    pub reason: String,
}

fn ser_ms<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339(*ms))
}

/// Formats milliseconds since the epoch as RFC 3339 UTC.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| format!("@{ms}ms"))
}

/// The attachments of a ticket version, in order.
pub async fn version_attachments(
    conn: &mut AnyConnection,
    version_id: i64,
) -> Result<Vec<Attachment>> {
    sqlx::query(
        "SELECT filename, content_type, size, sha256, content_id, inline, width, height
         FROM attachments WHERE version_id = $1 ORDER BY position",
    )
    .bind(version_id)
    .fetch_all(conn)
    .await
    .context("Cannot read attachments")?
    .iter()
    .map(|a| {
        Ok(Attachment {
            filename: a.try_get("filename")?,
            content_type: a.try_get("content_type")?,
            size: a.try_get("size")?,
            sha256: a.try_get("sha256")?,
            content_id: a.try_get("content_id")?,
            inline: a.try_get::<i64, _>("inline")? != 0,
            width: a.try_get("width")?,
            height: a.try_get("height")?,
        })
    })
    .collect()
}

/// Records where a mailbox has been read up to.
pub async fn set_mailbox_position(
    conn: &mut AnyConnection,
    mailbox: &str,
    uid_validity: u32,
    last_uid: u32,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO mailbox_state (mailbox, uid_validity, last_uid) VALUES ($1, $2, $3)
         ON CONFLICT (mailbox) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = excluded.last_uid",
    )
    .bind(mailbox)
    .bind(i64::from(uid_validity))
    .bind(i64::from(last_uid))
    .execute(conn)
    .await
    .context("Cannot record the mailbox position")?;
    Ok(())
}

/// Plans the move of a message out of the inbox; done after commit.
pub async fn plan_move(
    conn: &mut AnyConnection,
    mailbox: &str,
    uid_validity: u32,
    uid: u32,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO pending_moves (mailbox, uid_validity, uid) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(mailbox)
    .bind(i64::from(uid_validity))
    .bind(i64::from(uid))
    .execute(conn)
    .await
    .context("Cannot plan a message move")?;
    Ok(())
}

/// Holds an exclusive lock on `path` (created if missing) until dropped.
async fn lock_file(path: std::path::PathBuf) -> Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("Cannot open {}", path.display()))?;
        file.lock()
            .with_context(|| format!("Cannot lock {}", path.display()))?;
        Ok(file)
    })
    .await
    .context("The lock task failed")?
}

/// Adds the options bientap needs to a SQLite URL (create the file if
/// missing), makes sure its directory exists, and returns the file's path.
fn sqlite_url_with_options(url: &str) -> Result<(String, std::path::PathBuf)> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        bail!("The state database must be a file (sqlite://PATH), not in memory");
    }
    if let Some(dir) = std::path::Path::new(path).parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("Cannot create the state directory {}", dir.display()))?;
    }
    let url = if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok((url, std::path::PathBuf::from(path)))
}
