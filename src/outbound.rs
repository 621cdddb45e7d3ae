//! Outgoing mail through a transactional outbox (invariant 3).
//!
//! A transition that causes mail calls `enqueue` inside its own database
//! transaction: the mail becomes an `outbox` row with its final Message-ID,
//! committed together with the state change or not at all. The `Outbox`
//! worker sends committed rows afterwards: over SMTP (lettre), or into a
//! directory for the demo. A temporary failure (4xx, network, TLS) is
//! retried with growing delays; a permanent one (5xx) marks the row failed
//! with the server's answer. Because the Message-ID is fixed when the row is
//! written, a retry after a crash carries the same Message-ID and mail
//! clients show it once.
//!
//! Our mail is marked as automatic (`Auto-Submitted: auto-generated`,
//! `X-Auto-Response-Suppress: All`) so that well-behaved systems do not
//! answer it (invariant 5), and automatic answers to any one address are
//! capped per hour, so that two misbehaving robots cannot loop forever.

pub mod templates;
pub mod zalo;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use jiff::Timestamp;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::Notify;

use crate::classify::OWN_MESSAGE_ID_PREFIX;
use crate::config::{Config, Live, Outbound, Smtp, TlsMode};
use crate::net::Shutdown;
use crate::service::Health;
use crate::store::{Archive, Store};
pub use templates::Rendered;

/// Rows sent per pass of the worker.
const SEND_BATCH: i64 = 50;
/// The worker looks at the outbox at least this often.
const IDLE_RECHECK: Duration = Duration::from_secs(60);
/// How long a mail being sent is reserved for its sender.
const SEND_LEASE: Duration = Duration::from_secs(600);

/// Why a mail is sent; automatic answers are rate-limited per recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// To a sender: their submission was received.
    Receipt,
    /// To a reviewer: a ticket needs them.
    Notify,
    /// To a reviewer: their command was carried out.
    Confirm,
    /// To a sender: approved, rejected, changes requested, version received.
    Decision,
    /// To a member: their mail changed nothing, and why.
    Explain,
    /// To a reviewer: a digest of their pending tickets.
    Remind,
    /// To the head: tickets overdue beyond the grace period.
    Escalate,
    /// The monthly quota reminder (R17).
    Quota,
    /// The quarter report reminder (R23).
    Report,
    /// To the heads: a classified mail was quarantined (R10).
    Alert,
    /// Linking a Zalo account to a member: the code by mail, the answers
    /// in Zalo.
    Link,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Receipt => "receipt",
            Kind::Notify => "notify",
            Kind::Confirm => "confirm",
            Kind::Decision => "decision",
            Kind::Explain => "explain",
            Kind::Remind => "remind",
            Kind::Escalate => "escalate",
            Kind::Quota => "quota",
            Kind::Report => "report",
            Kind::Alert => "alert",
            Kind::Link => "link",
        }
    }

    /// Answers triggered directly by an incoming mail.
    fn is_automatic_answer(self) -> bool {
        matches!(
            self,
            Kind::Receipt | Kind::Confirm | Kind::Explain | Kind::Link
        )
    }
}

/// A file to attach, from the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutAttachment {
    pub sha256: String,
    pub content_type: String,
    pub filename: String,
    /// Shown inside the HTML body (`cid:<sha256>@bientap`).
    pub inline: bool,
}

/// One mail to put in the outbox.
#[derive(Debug, Clone)]
pub struct Draft {
    pub kind: Kind,
    pub ticket: Option<(i64, String)>,
    pub recipient: String,
    pub rendered: Rendered,
    pub html: Option<String>,
    pub attachments: Vec<OutAttachment>,
    pub reply_to: Option<String>,
    /// Message-ID (without brackets) of the mail this one answers.
    pub in_reply_to: Option<String>,
    /// The token the mail carries (in `reply_to`) and what it was issued
    /// for: a reply proves its sender with it (`ticket::rules`).
    pub grant: Option<Grant>,
    /// The incoming `messages` row this mail answers.
    pub answers: Option<i64>,
}

/// A token issued to a mail's recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub token: String,
    pub stage: String,
    pub version: i64,
    pub round: i64,
}

/// The Content-ID an inline image gets in our mail.
pub fn inline_cid(sha256: &str) -> String {
    format!("{sha256}@bientap")
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or("localhost", |(_, d)| d)
}

/// Puts a mail in the outbox, in the caller's transaction. Returns its
/// Message-ID, or `None` when an automatic answer was held back by the
/// per-recipient limit.
pub async fn enqueue(
    conn: &mut AnyConnection,
    config: &Config,
    draft: &Draft,
    now: Timestamp,
) -> Result<Option<String>> {
    let now_ms = now.as_millisecond();
    let (channel, recipient) = route(&draft.recipient);
    if draft.kind.is_automatic_answer() {
        let sent: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND kind IN ('receipt', 'confirm', 'explain', 'link') AND created_at > $2",
        )
        .bind(&recipient)
        .bind(now_ms - 3_600_000)
        .fetch_one(&mut *conn)
        .await
        .context("Cannot count recent automatic answers")?;
        if sent >= i64::from(config.review.auto_reply_limit) {
            tracing::warn!(
                recipient = %draft.recipient,
                kind = draft.kind.as_str(),
                limit = config.review.auto_reply_limit,
                "automatic answer held back: too many to this address in the last hour"
            );
            return Ok(None);
        }
    }
    let code = draft.ticket.as_ref().map_or("BBT", |(_, c)| c.as_str());
    let message_id = format!(
        "{OWN_MESSAGE_ID_PREFIX}{code}.{:016x}@{}",
        rand::random::<u64>(),
        domain_of(&config.board.address)
    );
    let attachments =
        serde_json::to_string(&draft.attachments).context("Cannot encode attachments")?;
    sqlx::query(
        "INSERT INTO outbox (created_at, kind, ticket_id, recipient, message_id, stage, subject, body_text,
             body_html, attachments, reply_to, in_reply_to, answers_message, status, attempts, next_attempt_at,
             channel, token, version, round)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', 0, $1, $14, $15, $16, $17)",
    )
    .bind(now_ms)
    .bind(draft.kind.as_str())
    .bind(draft.ticket.as_ref().map(|(id, _)| *id))
    .bind(&recipient)
    .bind(&message_id)
    .bind(draft.grant.as_ref().map_or("", |g| g.stage.as_str()))
    .bind(&draft.rendered.subject)
    .bind(&draft.rendered.text)
    .bind(draft.html.as_deref().unwrap_or_default())
    .bind(attachments)
    .bind(draft.reply_to.as_deref().unwrap_or_default())
    .bind(draft.in_reply_to.as_deref().unwrap_or_default())
    .bind(draft.answers)
    .bind(channel)
    .bind(draft.grant.as_ref().map_or("", |g| g.token.as_str()))
    .bind(draft.grant.as_ref().map_or(0, |g| g.version))
    .bind(draft.grant.as_ref().map_or(0, |g| g.round))
    .execute(&mut *conn)
    .await
    .context("Cannot put a mail in the outbox")?;
    Ok(Some(message_id))
}

/// The channel a message goes by: `zalo:<user id>` is a Zalo user (what a
/// Zalo sender is told), anything else an e-mail address.
fn route(recipient: &str) -> (&'static str, String) {
    match recipient.strip_prefix("zalo:") {
        Some(user) => ("zalo", user.to_string()),
        None => ("email", recipient.to_string()),
    }
}

/// Claims a due row for one sending attempt. The attempt is counted before
/// it is made and the row leased: another process sending (the console
/// while the daemon runs) skips it; a crash makes it due again after the
/// lease. `false` when someone else claimed it first.
pub(crate) async fn claim(pool: &AnyPool, id: i64, now: i64) -> Result<bool> {
    let claimed = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1
         WHERE id = $2 AND status = 'pending' AND next_attempt_at <= $3",
    )
    .bind(now + i64::try_from(SEND_LEASE.as_millis()).unwrap_or(i64::MAX / 2))
    .bind(id)
    .bind(now)
    .execute(pool)
    .await
    .context("Cannot count a send attempt")?;
    Ok(claimed.rows_affected() > 0)
}

pub(crate) async fn mark_sent(pool: &AnyPool, id: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET status = 'sent', sent_at = $1, last_error = '' WHERE id = $2")
        .bind(Timestamp::now().as_millisecond())
        .bind(id)
        .execute(pool)
        .await
        .context("Cannot mark an outgoing message as sent")?;
    Ok(())
}

/// Gives up on a row for good, with the reason.
pub(crate) async fn mark_failed(pool: &AnyPool, id: i64, error: &str) -> Result<()> {
    sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1 WHERE id = $2")
        .bind(error)
        .bind(id)
        .execute(pool)
        .await
        .context("Cannot mark an outgoing message as failed")?;
    Ok(())
}

/// Makes a row due again `delay` after `now`, keeping the error.
pub(crate) async fn retry_later(
    pool: &AnyPool,
    id: i64,
    now: i64,
    delay: Duration,
    error: &str,
) -> Result<()> {
    sqlx::query("UPDATE outbox SET next_attempt_at = $1, last_error = $2 WHERE id = $3")
        .bind(now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2))
        .bind(error)
        .bind(id)
        .execute(pool)
        .await
        .context("Cannot reschedule an outgoing message")?;
    Ok(())
}

/// A committed outbox row, as the worker reads it.
#[derive(Debug)]
struct Pending {
    id: i64,
    created_at: i64,
    recipient: String,
    message_id: String,
    subject: String,
    body_text: String,
    body_html: String,
    attachments: String,
    reply_to: String,
    in_reply_to: String,
    attempts: i64,
}

enum Transport {
    Smtp(Box<AsyncSmtpTransport<Tokio1Executor>>, Smtp),
    Maildrop(PathBuf),
    Disabled,
}

/// How a send ended.
enum SendError {
    /// Try again later.
    Temporary(String),
    /// The server refused for good, or the mail cannot be built.
    Permanent(String),
}

/// The worker that sends committed mail.
pub struct Outbox {
    store: Store,
    archive: Archive,
    config: Live<Config>,
    wake: Arc<Notify>,
    transport: Transport,
    health: Arc<Health>,
}

impl Outbox {
    /// The outbox worker. The transport is fixed for its life: a changed
    /// `[smtp]` needs a restart.
    pub fn new(
        config: Live<Config>,
        store: Store,
        archive: Archive,
        wake: Arc<Notify>,
        health: Arc<Health>,
    ) -> Result<Outbox> {
        let current = config.get();
        let transport = match &current.outbound {
            Outbound::Smtp(smtp) => Transport::Smtp(
                Box::new(smtp_transport(smtp, &current.board.address)?),
                smtp.clone(),
            ),
            Outbound::Maildrop(dir) => {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("Cannot create the maildrop directory {}", dir.display())
                })?;
                Transport::Maildrop(dir.clone())
            }
            Outbound::Disabled => Transport::Disabled,
        };
        Ok(Outbox {
            store,
            archive,
            config,
            wake,
            transport,
            health,
        })
    }

    /// Sends until shutdown, waking when new mail is committed or a retry
    /// is due.
    pub async fn run(&self, shutdown: &Shutdown) {
        if matches!(self.transport, Transport::Disabled) {
            tracing::warn!("no [smtp] or [maildrop] section: outgoing mail stays in the outbox");
            return;
        }
        loop {
            if let Err(e) = self.send_due(Some(shutdown)).await {
                tracing::error!(error = %format!("{e:#}"), "outbox pass failed");
            }
            let wait = self
                .next_due_in()
                .await
                .unwrap_or(IDLE_RECHECK)
                .min(IDLE_RECHECK);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// How long until the earliest pending row is due.
    async fn next_due_in(&self) -> Result<Duration> {
        let next: Option<i64> =
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' AND channel = 'email'")
                .fetch_one(self.store.pool())
                .await
                .context("Cannot read the outbox")?;
        let Some(next) = next else {
            return Ok(IDLE_RECHECK);
        };
        let ms = (next - Timestamp::now().as_millisecond()).max(0);
        Ok(Duration::from_millis(u64::try_from(ms).unwrap_or(0)))
    }

    /// One pass: sends every row that is due (stopping early, after the
    /// mail in hand, on shutdown); returns how many went out.
    pub async fn send_due(&self, shutdown: Option<&Shutdown>) -> Result<usize> {
        if matches!(self.transport, Transport::Disabled) {
            return Ok(0);
        }
        let mut sent = 0;
        loop {
            let now = Timestamp::now().as_millisecond();
            let rows = sqlx::query(
                "SELECT id, created_at, recipient, message_id, subject, body_text, body_html, attachments,
                        reply_to, in_reply_to, attempts
                 FROM outbox WHERE status = 'pending' AND channel = 'email' AND next_attempt_at <= $1
                 ORDER BY id LIMIT $2",
            )
            .bind(now)
            .bind(SEND_BATCH)
            .fetch_all(self.store.pool())
            .await
            .context("Cannot read the outbox")?;
            if rows.is_empty() {
                return Ok(sent);
            }
            let mut progressed = false;
            for r in &rows {
                if shutdown.is_some_and(Shutdown::is_set) {
                    return Ok(sent);
                }
                let row = Pending {
                    id: r.try_get("id")?,
                    created_at: r.try_get("created_at")?,
                    recipient: r.try_get("recipient")?,
                    message_id: r.try_get("message_id")?,
                    subject: r.try_get("subject")?,
                    body_text: r.try_get("body_text")?,
                    body_html: r.try_get("body_html")?,
                    attachments: r.try_get("attachments")?,
                    reply_to: r.try_get("reply_to")?,
                    in_reply_to: r.try_get("in_reply_to")?,
                    attempts: r.try_get("attempts")?,
                };
                if !claim(self.store.pool(), row.id, now).await? {
                    continue;
                }
                match self.send(&row).await {
                    Ok(()) => {
                        mark_sent(self.store.pool(), row.id).await?;
                        tracing::info!(to = %row.recipient, message_id = %row.message_id, subject = %row.subject, "mail sent");
                        self.health.mail_sent();
                        sent += 1;
                        progressed = true;
                    }
                    Err(SendError::Temporary(e)) => {
                        self.health.send_failed(&e);
                        let stop_at = match &self.transport {
                            Transport::Smtp(_, s) => s.give_up_after,
                            _ => Duration::ZERO,
                        };
                        let age =
                            Duration::from_millis(u64::try_from(now - row.created_at).unwrap_or(0));
                        if age >= stop_at {
                            self.fail(
                                &row,
                                &format!("gave up after {} attempts: {e}", row.attempts + 1),
                            )
                            .await?;
                        } else {
                            let delay = self.retry_delay(row.attempts + 1);
                            retry_later(self.store.pool(), row.id, now, delay, &e).await?;
                            tracing::warn!(to = %row.recipient, error = %e, retry_in_secs = delay.as_secs(), "mail not sent; will retry");
                        }
                    }
                    Err(SendError::Permanent(e)) => {
                        self.health.send_failed(&e);
                        self.fail(&row, &e).await?;
                    }
                }
            }
            if !progressed {
                return Ok(sent);
            }
        }
    }

    async fn fail(&self, row: &Pending, error: &str) -> Result<()> {
        mark_failed(self.store.pool(), row.id, error).await?;
        tracing::error!(to = %row.recipient, error = %error, "mail given up; see `bientap outbox list`");
        Ok(())
    }

    fn retry_delay(&self, attempts: i64) -> Duration {
        let (initial, max) = match &self.transport {
            Transport::Smtp(_, s) => (s.retry_initial, s.retry_max),
            _ => (Duration::from_secs(30), Duration::from_secs(3600)),
        };
        let factor = 2u32.saturating_pow(u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0));
        let base = initial.saturating_mul(factor).min(max);
        let jitter = u64::try_from(base.as_millis() / 10).unwrap_or(0);
        base + Duration::from_millis(rand::random_range(0..=jitter))
    }

    async fn send(&self, row: &Pending) -> Result<(), SendError> {
        let message = build_message(&self.config.get(), &self.archive, row)
            .map_err(|e| SendError::Permanent(format!("{e:#}")))?;
        match &self.transport {
            Transport::Smtp(t, _) => t.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    SendError::Permanent(e.to_string())
                } else {
                    SendError::Temporary(e.to_string())
                }
            }),
            Transport::Maildrop(dir) => write_maildrop(dir, row, &message.formatted())
                .map_err(|e| SendError::Temporary(format!("{e:#}"))),
            Transport::Disabled => Err(SendError::Temporary("no outgoing mail configured".into())),
        }
    }
}

fn smtp_transport(smtp: &Smtp, board_address: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>> {
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .timeout(Some(smtp.timeout))
        .hello_name(ClientId::Domain(domain_of(board_address).to_string()));
    if smtp.tls != TlsMode::None {
        let mut params = TlsParameters::builder(smtp.host.clone());
        if let Some(ca) = &smtp.ca_file {
            let pem = std::fs::read(ca).with_context(|| format!("Cannot read {}", ca.display()))?;
            params = params.add_root_certificate(
                Certificate::from_pem(&pem)
                    .with_context(|| format!("No usable certificate in {}", ca.display()))?,
            );
        }
        let params = params
            .build_rustls()
            .context("Cannot set up TLS for SMTP")?;
        builder = builder.tls(match smtp.tls {
            TlsMode::Implicit => Tls::Wrapper(params),
            _ => Tls::Required(params),
        });
    }
    if let (Some(user), Some(pass)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok(builder.build())
}

fn header(name: &'static str, value: &str) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value.to_string())
}

/// Builds the MIME message of an outbox row.
fn build_message(config: &Config, archive: &Archive, row: &Pending) -> Result<Message> {
    let from = Mailbox::new(
        Some(config.board.name.clone()),
        config
            .board
            .address
            .parse()
            .context("The board's address is not valid for sending")?,
    );
    let to: Mailbox = row
        .recipient
        .parse()
        .map_err(|e| anyhow!("Cannot send to {:?}: {e}", row.recipient))?;
    let date =
        std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(row.created_at).unwrap_or(0));
    let mut builder = Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .date(date)
        .message_id(Some(format!("<{}>", row.message_id)))
        .raw_header(header("Auto-Submitted", "auto-generated"))
        .raw_header(header("X-Auto-Response-Suppress", "All"));
    if !row.reply_to.is_empty() {
        builder = builder.reply_to(row.reply_to.parse().context("Bad Reply-To address")?);
    }
    if !row.in_reply_to.is_empty() {
        let id = format!("<{}>", row.in_reply_to);
        builder = builder.in_reply_to(id.clone()).references(id);
    }
    let attachments: Vec<OutAttachment> =
        serde_json::from_str(&row.attachments).unwrap_or_default();
    let text = SinglePart::plain(row.body_text.clone());
    if row.body_html.is_empty() && attachments.is_empty() {
        return builder.singlepart(text).context("Cannot build the mail");
    }
    let mut files = Vec::new();
    let mut inline = Vec::new();
    for a in &attachments {
        let bytes = archive.read(&a.sha256)?;
        let ctype = ContentType::parse(&a.content_type)
            .unwrap_or(ContentType::parse("application/octet-stream")?);
        if a.inline && !row.body_html.is_empty() {
            inline.push(MimeAttachment::new_inline(inline_cid(&a.sha256)).body(bytes, ctype));
        } else {
            files.push(MimeAttachment::new(a.filename.clone()).body(bytes, ctype));
        }
    }
    let body = if row.body_html.is_empty() {
        MultiPart::mixed().singlepart(text)
    } else {
        let mut related = MultiPart::related().singlepart(SinglePart::html(row.body_html.clone()));
        for part in inline {
            related = related.singlepart(part);
        }
        MultiPart::mixed().multipart(MultiPart::alternative().singlepart(text).multipart(related))
    };
    let body = files.into_iter().fold(body, |m, f| m.singlepart(f));
    builder.multipart(body).context("Cannot build the mail")
}

fn write_maildrop(dir: &Path, row: &Pending, bytes: &[u8]) -> Result<()> {
    let safe: String = row
        .message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let name = format!("{:013}-{safe}.eml", row.created_at);
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).with_context(|| format!("Cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(&name))
        .with_context(|| format!("Cannot move {name} into {}", dir.display()))?;
    Ok(())
}

/// One line of `bientap outbox list`.
#[derive(Debug, Serialize)]
pub struct OutboxEntry {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: String,
    pub created_at: String,
}

/// The most recent outbox rows, unsent first.
pub async fn list(store: &Store, limit: i64) -> Result<Vec<OutboxEntry>> {
    let rows = sqlx::query(
        "SELECT id, kind, recipient, subject, status, attempts, last_error, created_at FROM outbox
         ORDER BY CASE status WHEN 'sent' THEN 1 ELSE 0 END, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(store.pool())
    .await
    .context("Cannot read the outbox")?;
    rows.iter()
        .map(|r| {
            Ok(OutboxEntry {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
                attempts: r.try_get("attempts")?,
                last_error: r.try_get("last_error")?,
                created_at: crate::store::rfc3339(r.try_get("created_at")?),
            })
        })
        .collect()
}

/// Makes failed or waiting rows due now.
pub async fn retry(store: &Store, id: Option<i64>) -> Result<u64> {
    let now = Timestamp::now().as_millisecond();
    let done = match id {
        Some(id) => sqlx::query("UPDATE outbox SET status = 'pending', next_attempt_at = $1 WHERE id = $2 AND status <> 'sent'")
            .bind(now)
            .bind(id)
            .execute(store.pool())
            .await,
        None => sqlx::query("UPDATE outbox SET status = 'pending', next_attempt_at = $1 WHERE status <> 'sent'")
            .bind(now)
            .execute(store.pool())
            .await,
    }
    .context("Cannot reschedule outbox mail")?;
    if done.rows_affected() == 0 && id.is_some() {
        bail!("No unsent outbox mail with that id; `bientap outbox list` shows them");
    }
    Ok(done.rows_affected())
}
