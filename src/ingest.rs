//! Ingest: raw messages in, committed records out.
//!
//! Every source (IMAP, Maildir, a backlog import) hands batches of raw
//! messages to `Pipeline::process`. For each message the pipeline
//!
//! 1. archives the raw bytes and every attachment (content-addressed, fsync),
//! 2. reads it (`content::extract`) and classifies it (`classify`),
//! 3. commits, in one database transaction for the whole batch, the message
//!    record and what follows from it: a new ticket, a reply event, or the
//!    reason it was dropped or quarantined, together with the source's
//!    acknowledgement bookkeeping (IMAP position and planned moves).
//!
//! Only after that commit may a source remove a message from its inbox
//! (invariant 1). Replaying a message finds its digest or Message-ID already
//! recorded and changes nothing (invariant 2). A message that cannot become
//! a ticket is quarantined with a readable reason and its bytes kept; no
//! input makes the pipeline panic or stop.

pub mod imap;
pub mod import;
pub mod maildir;
pub mod zalo;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::Notify;

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::classify::{self, Class};
use crate::config::{Config, Live};
use crate::content::facts::Credits;
use crate::content::refine::StampScope;
use crate::content::screen::Mark;
use crate::content::{self, refine, reply};
use crate::schedule::{self, Clock, calendar::Calendar};
use crate::service::Health;
use crate::store::archive::{Archive, Batch};
use crate::store::{self, Attachment, Store};
use crate::text;
use crate::workflow::auth::ReplyKey;
use crate::workflow::copies::{self, Fingerprint};
use crate::workflow::dkim::{self, DomainAuth};
use crate::workflow::{self, Ctx, NewTicket, Settings};

/// Longest reply text kept on a ticket event.
const MAX_EVENT_TEXT: usize = 4000;

/// One raw message from a source.
#[derive(Debug)]
pub struct Incoming {
    pub body: Body,
    /// When the board's server received it (IMAP INTERNALDATE, Maildir
    /// delivery time); the Date header is only a fallback (R6).
    pub arrived_at: Option<Timestamp>,
    pub channel: Channel,
}

/// The way a message came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    Email,
    /// A submission collected from a Zalo user's messages, built into a MIME
    /// message by `ingest::zalo`. Zalo vouches for the sender (the webhook
    /// is signed), so it is neither classified as automatic mail nor read
    /// for ticket references, and its sender is `address`: the linked
    /// member's e-mail address, or `zalo:<user id>`.
    Zalo {
        user_id: String,
        address: String,
        name: String,
        /// Findings of the collection for the reviewer (a file that could
        /// not be downloaded).
        notes: Vec<String>,
        /// The ticket whose change request this answers (the sender's
        /// ticket waiting for changes), as a reply by mail would.
        answers: Option<String>,
    },
}

impl Channel {
    pub fn as_str(&self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Zalo { .. } => "zalo",
        }
    }

    fn zalo_user(&self) -> &str {
        match self {
            Channel::Email => "",
            Channel::Zalo { user_id, .. } => user_id,
        }
    }
}

#[derive(Debug)]
pub enum Body {
    Bytes(Vec<u8>),
    /// Too large to hold in memory: the source streamed it into the archive.
    Archived {
        sha256: String,
        size: u64,
    },
}

/// How a source acknowledges a batch, in the same transaction.
#[derive(Debug)]
pub enum Ack<'a> {
    /// Nothing to record (Maildir renames after commit; imports).
    None,
    /// IMAP: plan the move of every fetched UID and advance the position.
    Imap {
        mailbox: &'a str,
        uid_validity: u32,
        uids: &'a [u32],
        last_uid: u32,
    },
    /// Zalo: the stored webhook events the (single) submission was made of
    /// are done.
    Zalo { events: &'a [i64] },
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Ticket {
        code: String,
    },
    /// About an existing ticket; `effect` says what it did.
    Reply {
        code: String,
        effect: String,
    },
    Automatic {
        reason: String,
    },
    Quarantined {
        reason: String,
    },
    /// Seen before (same bytes or same Message-ID): nothing done.
    Duplicate,
}

/// Everything the database needs about one message, worked out before the
/// transaction starts.
#[derive(Debug)]
struct Prepared {
    sha256: String,
    size: u64,
    arrived_at: i64,
    arrival_from: &'static str,
    message_id: Option<String>,
    from_addr: String,
    from_name: String,
    subject: String,
    verdict: Verdict,
    channel: Channel,
}

impl Prepared {
    /// A message recorded without being read (too large, unparseable).
    fn unread(
        sha256: String,
        size: u64,
        arrived_at: i64,
        arrival_from: &'static str,
        verdict: Verdict,
    ) -> Prepared {
        Prepared {
            sha256,
            size,
            arrived_at,
            arrival_from,
            message_id: None,
            from_addr: String::new(),
            from_name: String::new(),
            subject: String::new(),
            verdict,
            channel: Channel::Email,
        }
    }
}

#[derive(Debug)]
enum Verdict {
    Quarantine(String),
    /// A classification stamp (R10): kept unread, the heads told.
    Classified(Mark),
    Automatic {
        reason: String,
        ticket: Option<String>,
    },
    /// A reply naming a ticket; if the ticket does not exist, `article`
    /// becomes a new one.
    Reply {
        ticket: String,
        new_text: String,
        recipients: Vec<String>,
        references: Vec<String>,
        /// The sender's domain authentication, worked out after reading
        /// (it needs DNS) by `Pipeline::authenticate`.
        domain_auth: DomainAuth,
        article: Article,
    },
    Submission(Article),
}

#[derive(Debug)]
struct Article {
    title: String,
    body_html: String,
    body_text: String,
    notes: Vec<String>,
    attachments: Vec<Attachment>,
    credits: Credits,
    fingerprint: Fingerprint,
    /// The article comes from a Word attachment.
    from_document: bool,
}

/// The ingest pipeline of one board.
#[derive(Debug, Clone)]
pub struct Pipeline {
    config: Live<Config>,
    store: Store,
    archive: Archive,
    key: ReplyKey,
    calendar: Live<Calendar>,
    clock: Arc<dyn Clock>,
    /// Woken after each commit: the outbox may have mail to send and the
    /// scheduler new deadlines.
    wake: Wake,
    health: Arc<Health>,
}

/// What a pipeline is built from.
#[derive(Debug)]
pub struct PipelineParts {
    pub config: Live<Config>,
    pub store: Store,
    pub archive: Archive,
    pub key: ReplyKey,
    pub calendar: Live<Calendar>,
    pub clock: Arc<dyn Clock>,
    pub wake: Wake,
    /// Where the sources report their connection and reads.
    pub health: Arc<Health>,
}

/// Who to wake after a commit.
#[derive(Debug, Clone, Default)]
pub struct Wake {
    pub outbox: Arc<Notify>,
    pub scheduler: Arc<Notify>,
    pub publisher: Arc<Notify>,
}

impl Pipeline {
    pub fn new(parts: PipelineParts) -> Self {
        let PipelineParts {
            config,
            store,
            archive,
            key,
            calendar,
            clock,
            wake,
            health,
        } = parts;
        Pipeline {
            config,
            store,
            archive,
            key,
            calendar,
            clock,
            wake,
            health,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn archive(&self) -> &Archive {
        &self.archive
    }

    /// What the sources report to (`/healthz`).
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The configuration now (it may be reloaded between batches).
    /// What wakes the mail outbox: other stages that queue mail use it.
    pub fn outbox_wake(&self) -> Arc<Notify> {
        Arc::clone(&self.wake.outbox)
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.get()
    }

    /// Takes a message out of quarantine at the sysadmin's word: reads it
    /// again from the archive without the checks that quarantined it
    /// (dangerous attachment, classification stamp, size), then it becomes
    /// a ticket or a reply as if it had just arrived. Unusable mail (no
    /// sender, not a message) stays where it is. A message with a
    /// classification stamp (R10) is released only with the name of who
    /// declassified it, which is recorded; the publisher still never
    /// writes a stamped version to the portal.
    pub async fn release(
        &self,
        message: i64,
        by: &str,
        declassified_by: Option<&str>,
    ) -> Result<Outcome> {
        let row = sqlx::query(
            "SELECT sha256, size, arrived_at, arrival_from, kind, reason, source, from_addr FROM messages WHERE id = $1",
        )
        .bind(message)
        .fetch_optional(self.store.pool())
        .await
        .context("Cannot read the message")?
        .with_context(|| format!("No message {message}; `bientap quarantine list` shows them"))?;
        let kind: String = row.try_get("kind")?;
        if kind != "quarantined" {
            anyhow::bail!("Message {message} is not in quarantine (it is {kind})");
        }
        let sha256: String = row.try_get("sha256")?;
        let size: i64 = row.try_get("size")?;
        let arrived_at: i64 = row.try_get("arrived_at")?;
        let arrival_from: String = row.try_get("arrival_from")?;
        let was: String = row.try_get("reason")?;
        let source: String = row.try_get("source")?;
        let config = self.config.get();
        let archive = self.archive.clone();
        let raw = {
            let (archive, sha256) = (archive.clone(), sha256.clone());
            tokio::task::spawn_blocking(move || archive.read(&sha256))
                .await
                .context("The archive task failed")??
        };
        // Released as if it had just arrived: a Zalo submission under the
        // sender its MIME form names, as the collector would record it now.
        let channel = if source == zalo::SOURCE {
            let user = zalo::user_of(&raw)
                .context("This Zalo submission no longer names its Zalo sender")?;
            zalo::sender_of(self.store.pool(), &config, &user).await?
        } else {
            Channel::Email
        };
        let prepared = tokio::task::spawn_blocking(move || -> Result<(Prepared, Option<Mark>)> {
            let mut durable = Batch::default();
            let checks = refine::Options {
                enforce: false,
                ..config.content.clone()
            };
            let read = read_bounded(
                &config,
                Some(checks),
                &channel,
                Some(&archive),
                &mut durable,
                raw,
            )?;
            archive.sync(&mut durable)?;
            let prepared = Prepared {
                sha256,
                size: u64::try_from(size).unwrap_or(0),
                arrived_at,
                arrival_from: if arrival_from == "server" {
                    "server"
                } else {
                    "ingest"
                },
                message_id: read.message_id,
                from_addr: read.from_addr,
                from_name: read.from_name,
                subject: read.subject,
                verdict: read.verdict,
                channel,
            };
            Ok((prepared, read.stamp))
        })
        .await
        .context("The release task failed")??;
        let (prepared, stamp) = prepared;
        let declassified_by = declassified_by.map(str::trim).unwrap_or_default();
        if let Some(mark) = &stamp
            && declassified_by.is_empty()
        {
            anyhow::bail!(
                "Message {message} carries the classification stamp {} ({}) (R10). Release it only on the \
                 decision of whoever may declassify it, naming them: bientap quarantine release {message} \
                 --declassified-by \"NAME\" (recorded with the message)",
                mark.level.label(),
                mark.place
            );
        }
        let mut prepared = [prepared];
        self.authenticate(&self.config.get(), &mut prepared).await?;
        let [prepared] = prepared;
        match &prepared.verdict {
            Verdict::Quarantine(reason) => {
                anyhow::bail!(
                    "Message {message} cannot become a ticket even when released: {reason}"
                )
            }
            Verdict::Automatic { reason, .. } => {
                anyhow::bail!(
                    "Message {message} is automatic mail ({reason}); there is nothing to release"
                )
            }
            _ => {}
        }
        let now = self.clock.now();
        let mut tx = self.store.begin().await?;
        let done = sqlx::query(
            "UPDATE messages SET kind = 'released', handled_at = $1, handled_by = $2, declassified_by = $3
             WHERE id = $4 AND kind = 'quarantined'",
        )
        .bind(now.as_millisecond())
        .bind(by)
        .bind(if stamp.is_some() { declassified_by } else { "" })
        .bind(message)
        .execute(&mut *tx)
        .await
        .context("Cannot mark the message released")?;
        if done.rows_affected() == 0 {
            anyhow::bail!("Message {message} left quarantine meanwhile");
        }
        let settings = Settings::current(&self.config, &self.calendar);
        let ctx = settings.ctx(&self.key, now);
        let (target, unknown) = reply_target(&mut tx, &prepared).await?;
        let outcome = apply(&mut tx, &ctx, &prepared, message, was, target, unknown).await?;
        tx.commit().await.context("Cannot commit the release")?;
        self.wake.outbox.notify_one();
        self.wake.scheduler.notify_one();
        self.wake.publisher.notify_one();
        tracing::info!(message, %by, declassified_by, outcome = ?outcome, "released from quarantine");
        Ok(outcome)
    }

    /// With `review.require_dkim`, authenticates the sender's domain of
    /// every reply by mail (`workflow::dkim`): DNS lookups, so here between
    /// reading (on blocking threads) and the commit. The raw bytes are read
    /// back from the archive; failing to read them fails the batch, like
    /// any archive error.
    async fn authenticate(&self, config: &Config, prepared: &mut [Prepared]) -> Result<()> {
        if !config.review.require_dkim {
            return Ok(());
        }
        // The replies by mail and their bytes; the lookups run together.
        let mut replies = Vec::new();
        for (i, p) in prepared.iter_mut().enumerate() {
            let Verdict::Reply { domain_auth, .. } = &mut p.verdict else {
                continue;
            };
            if p.channel != Channel::Email {
                *domain_auth = DomainAuth::Fail("not an e-mail: no DKIM signature to check".into());
                continue;
            }
            let (archive, sha256) = (self.archive.clone(), p.sha256.clone());
            let raw = tokio::task::spawn_blocking(move || archive.read(&sha256))
                .await
                .context("The archive task failed")??;
            replies.push((i, raw));
        }
        if replies.is_empty() {
            return Ok(());
        }
        let checker = dkim::Checker::new(&config.review);
        let checked = futures::future::join_all(replies.iter().map(|(i, raw)| {
            let from = prepared.get(*i).map_or("", |p| p.from_addr.as_str());
            checker.check(raw, from)
        }))
        .await;
        for ((i, _), auth) in replies.iter().zip(checked) {
            if let Some(p) = prepared.get_mut(*i)
                && let Verdict::Reply { domain_auth, .. } = &mut p.verdict
            {
                match &auth {
                    DomainAuth::Pass(how) => {
                        tracing::info!(from = %p.from_addr, sha256 = %p.sha256, %how, "sender's domain passed")
                    }
                    DomainAuth::Fail(why) => {
                        tracing::info!(from = %p.from_addr, sha256 = %p.sha256, %why, "sender's domain failed")
                    }
                    DomainAuth::NotRequired => {}
                }
                *domain_auth = auth;
            }
        }
        Ok(())
    }

    /// Archives, reads and commits a batch; returns one outcome per message.
    /// An error means nothing of the batch may be acknowledged.
    pub async fn process(
        &self,
        source: &'static str,
        batch: Vec<Incoming>,
        ack: Ack<'_>,
    ) -> Result<Vec<Outcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let config = self.config.get();
        let archive = self.archive.clone();
        self.health.batch_begins();
        let mut prepared = {
            let config = Arc::clone(&config);
            tokio::task::spawn_blocking(move || prepare_all(&config, &archive, batch, now))
                .await
                .context("The message preparation task failed")??
        };
        self.authenticate(&config, &mut prepared).await?;

        let outcomes = match self.commit(source, &prepared, &ack, now).await {
            Ok(outcomes) => Ok(outcomes),
            Err(batch_err) => {
                tracing::warn!(error = %format!("{batch_err:#}"), "batch commit failed; committing messages one by one");
                self.commit_one_by_one(source, &prepared, &ack, now).await
            }
        };
        self.health
            .batch_done(outcomes.as_ref().map_or(0, Vec::len));
        outcomes
    }

    async fn commit(
        &self,
        source: &str,
        prepared: &[Prepared],
        ack: &Ack<'_>,
        now: Timestamp,
    ) -> Result<Vec<Outcome>> {
        let mut tx = self.store.begin().await?;
        let mut outcomes = Vec::with_capacity(prepared.len());
        let settings = Settings::current(&self.config, &self.calendar);
        let ctx = settings.ctx(&self.key, now);
        for p in prepared {
            outcomes.push(record(&mut tx, &ctx, source, p).await?);
        }
        if let Ack::Imap {
            mailbox,
            uid_validity,
            uids,
            last_uid,
        } = ack
        {
            for uid in *uids {
                store::plan_move(&mut tx, mailbox, *uid_validity, *uid).await?;
            }
            store::set_mailbox_position(&mut tx, mailbox, *uid_validity, *last_uid).await?;
        }
        if let Ack::Zalo { events } = ack {
            let outcome = outcomes.first().map(outcome_text).unwrap_or_default();
            zalo::mark_done(&mut tx, events, &outcome).await?;
        }
        tx.commit().await.context("Cannot commit the batch")?;
        self.wake.outbox.notify_one();
        self.wake.scheduler.notify_one();
        self.wake.publisher.notify_one();
        log_outcomes(prepared, &outcomes);
        Ok(outcomes)
    }

    /// The slow path after a failed batch: each message in its own
    /// transaction; one the database refuses is quarantined with the
    /// database's reason rather than blocking the inbox forever.
    async fn commit_one_by_one(
        &self,
        source: &str,
        prepared: &[Prepared],
        ack: &Ack<'_>,
        now: Timestamp,
    ) -> Result<Vec<Outcome>> {
        let mut outcomes = Vec::with_capacity(prepared.len());
        for (i, p) in prepared.iter().enumerate() {
            let single_ack = match ack {
                Ack::None => Ack::None,
                Ack::Zalo { events } => Ack::Zalo { events },
                Ack::Imap {
                    mailbox,
                    uid_validity,
                    uids,
                    ..
                } => match uids.get(i..=i) {
                    Some(one) => Ack::Imap {
                        mailbox,
                        uid_validity: *uid_validity,
                        uids: one,
                        last_uid: one.first().copied().unwrap_or_default(),
                    },
                    None => Ack::None,
                },
            };
            let outcome = match self
                .commit(source, std::slice::from_ref(p), &single_ack, now)
                .await
            {
                Ok(mut o) => o.pop().unwrap_or(Outcome::Duplicate),
                Err(err) => {
                    let reason = format!("the database refused this message: {err:#}");
                    let verdict = Verdict::Quarantine(text::truncate_chars(&reason, 1000));
                    let mut fallback = Prepared::unread(
                        p.sha256.clone(),
                        p.size,
                        p.arrived_at,
                        p.arrival_from,
                        verdict,
                    );
                    fallback.from_addr = text::truncate_chars(&p.from_addr, 200);
                    fallback.subject = text::truncate_chars(&p.subject, 200);
                    let mut o = self
                        .commit(source, std::slice::from_ref(&fallback), &single_ack, now)
                        .await
                        .context(
                            "Cannot record even a quarantine entry; is the database reachable?",
                        )?;
                    o.pop().unwrap_or(Outcome::Duplicate)
                }
            };
            outcomes.push(outcome);
        }
        if let Ack::Imap {
            mailbox,
            uid_validity,
            last_uid,
            ..
        } = ack
        {
            let mut tx = self.store.begin().await?;
            store::set_mailbox_position(&mut tx, mailbox, *uid_validity, *last_uid).await?;
            tx.commit()
                .await
                .context("Cannot commit the mailbox position")?;
        }
        Ok(outcomes)
    }
}

/// One line on what became of a message, for the records of its source.
fn outcome_text(o: &Outcome) -> String {
    match o {
        Outcome::Ticket { code } => format!("ticket {code}"),
        Outcome::Reply { code, effect } => format!("{code}: {effect}"),
        Outcome::Automatic { reason } => format!("automatic: {reason}"),
        Outcome::Quarantined { reason } => format!("quarantined: {reason}"),
        Outcome::Duplicate => "duplicate".to_string(),
    }
}

fn log_outcomes(prepared: &[Prepared], outcomes: &[Outcome]) {
    for (p, o) in prepared.iter().zip(outcomes) {
        match o {
            Outcome::Ticket { code } => {
                tracing::info!(ticket = %code, from = %p.from_addr, sha256 = %p.sha256, "new ticket")
            }
            Outcome::Reply { code, effect } => {
                tracing::info!(ticket = %code, from = %p.from_addr, %effect, "reply to a ticket")
            }
            Outcome::Automatic { reason } => {
                tracing::info!(from = %p.from_addr, %reason, "automatic mail dropped")
            }
            Outcome::Quarantined { reason } => {
                tracing::warn!(sha256 = %p.sha256, from = %p.from_addr, %reason, "message quarantined")
            }
            Outcome::Duplicate => tracing::debug!(sha256 = %p.sha256, "duplicate message ignored"),
        }
    }
}

/// Prepares a batch on all cores: parsing, hashing and archiving are CPU
/// and disk work that parallelizes well. Results keep the batch order.
fn prepare_all(
    config: &Arc<Config>,
    archive: &Archive,
    batch: Vec<Incoming>,
    now: Timestamp,
) -> Result<Vec<Prepared>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(batch.len());
    let n = batch.len();
    let inputs: Vec<Mutex<Option<Incoming>>> =
        batch.into_iter().map(|m| Mutex::new(Some(m))).collect();
    let outputs: Vec<Mutex<Option<Result<Prepared>>>> = (0..n).map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let mut durable = Batch::default();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut local = Batch::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(slot) = inputs.get(i) else { break };
                        let incoming = slot.lock().ok().and_then(|mut s| s.take());
                        let result = match incoming {
                            Some(m) => prepare(config, archive, &mut local, m, now),
                            None => Err(anyhow::anyhow!("Message {i} of the batch went missing")),
                        };
                        if let Some(out) = outputs.get(i)
                            && let Ok(mut out) = out.lock()
                        {
                            *out = Some(result);
                        }
                    }
                    local
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(local) => durable.merge(local),
                Err(_) => tracing::error!("a message preparation thread panicked"),
            }
        }
    });
    archive.sync(&mut durable)?;
    outputs
        .into_iter()
        .enumerate()
        .map(|(i, out)| {
            out.into_inner()
                .ok()
                .flatten()
                .with_context(|| format!("Message {i} of the batch was not prepared"))?
        })
        .collect()
}

/// Archives and reads one message. Errors are I/O errors of the archive
/// (the batch must be retried); everything about the message itself ends
/// in a verdict.
fn prepare(
    config: &Arc<Config>,
    archive: &Archive,
    durable: &mut Batch,
    incoming: Incoming,
    now: Timestamp,
) -> Result<Prepared> {
    let limit = config.storage.max_message_size;
    let (arrived_at, arrival_from) = match incoming.arrived_at {
        Some(t) => (t.as_millisecond(), "server"),
        None => (now.as_millisecond(), "ingest"),
    };
    let channel = incoming.channel;
    let raw = match incoming.body {
        Body::Archived { sha256, size } => {
            let verdict = Verdict::Quarantine(too_large(size, limit));
            return Ok(Prepared::unread(
                sha256,
                size,
                arrived_at,
                arrival_from,
                verdict,
            ));
        }
        Body::Bytes(raw) => raw,
    };
    let sha256 = archive.put(durable, &raw)?;
    let size = raw.len() as u64;
    let unread = |verdict: Verdict| {
        Prepared::unread(sha256.clone(), size, arrived_at, arrival_from, verdict)
    };
    if size > limit {
        return Ok(unread(Verdict::Quarantine(too_large(size, limit))));
    }

    let read = read_bounded(config, None, &channel, Some(archive), durable, raw)?;
    let (arrived_at, arrival_from) = match (incoming.arrived_at, read.date_ms) {
        (Some(t), _) => (t.as_millisecond(), "server"),
        (None, Some(d)) => (d, "date-header"),
        (None, None) => (now.as_millisecond(), "ingest"),
    };
    Ok(Prepared {
        sha256,
        size,
        arrived_at,
        arrival_from,
        message_id: read.message_id,
        from_addr: read.from_addr,
        from_name: read.from_name,
        subject: read.subject,
        verdict: read.verdict,
        channel,
    })
}

fn too_large(size: u64, limit: u64) -> String {
    format!(
        "message is {:.1} MB, over the limit of {:.1} MB (storage.max_message_size)",
        size as f64 / 1_048_576.0,
        limit as f64 / 1_048_576.0
    )
}

struct Read {
    message_id: Option<String>,
    from_addr: String,
    from_name: String,
    subject: String,
    date_ms: Option<i64>,
    verdict: Verdict,
    /// A classification stamp, whether or not the checks enforced it.
    stamp: Option<Mark>,
}

impl Read {
    /// A message kept unread, for `reason`.
    fn unread(reason: String) -> Read {
        Read {
            message_id: None,
            from_addr: String::new(),
            from_name: String::new(),
            subject: String::new(),
            date_ms: None,
            verdict: Verdict::Quarantine(reason),
            stamp: None,
        }
    }
}

/// What reading a message comes to before the database is asked: the
/// verdict the pipeline records, without the article.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// A submission: a new ticket.
    Ticket,
    /// About this ticket (a new ticket if there is no such ticket).
    Reply {
        ticket: String,
    },
    Automatic {
        reason: String,
    },
    Quarantine {
        reason: String,
    },
}

/// Reads an e-mail as the pipeline does (parse, classify, refine, within
/// `content.read_budget`) without touching the database or the archive:
/// for tests and fuzzing.
pub fn read(config: &Arc<Config>, raw: &[u8]) -> Reading {
    let read = read_bounded(
        config,
        None,
        &Channel::Email,
        None,
        &mut Batch::default(),
        raw.to_vec(),
    );
    match read.map(|r| r.verdict) {
        Ok(Verdict::Submission(_)) => Reading::Ticket,
        Ok(Verdict::Reply { ticket, .. }) => Reading::Reply { ticket },
        Ok(Verdict::Automatic { reason, .. }) => Reading::Automatic { reason },
        Ok(Verdict::Quarantine(reason)) => Reading::Quarantine { reason },
        Ok(Verdict::Classified(mark)) => Reading::Quarantine {
            reason: format!(
                "classification mark {} ({})",
                mark.level.label(),
                mark.place
            ),
        },
        // Without an archive nothing fails for want of I/O.
        Err(e) => Reading::Quarantine {
            reason: format!("{e:#}"),
        },
    }
}

/// What a reading thread hands back: the reading (or its panic) and the
/// archive directories it still has to sync.
type Handed = (std::thread::Result<Result<Option<Read>>>, Batch);

/// The stack of a reading thread.
const READ_STACK: usize = 256 * 1024 * 1024;

/// Readings given up on that are still running (they hold a core each).
static ABANDONED: AtomicUsize = AtomicUsize::new(0);

/// Where a reading thread leaves its result for the worker waiting on it.
#[derive(Default)]
struct Handoff {
    slot: Mutex<Slot>,
    done: Condvar,
}

#[derive(Default)]
struct Slot {
    handed: Option<Handed>,
    /// The worker stopped waiting: the reading is discarded when it ends.
    abandoned: bool,
}

/// Reads one message on a thread of its own, so that no message holds up
/// its batch for longer than `config.read_budget`: when the budget runs
/// out the message is quarantined unread (its raw bytes are archived
/// already) and the worker goes on with the next one. The abandoned
/// reading finishes in the background; nothing of it is used. Whatever
/// stops the reading — a panic, bytes that are not a message, the budget —
/// ends in a quarantine verdict; an error is an I/O error of the archive.
///
/// Attachments the verdict refers to are archived into `durable` (nowhere
/// without `archive`). `checks` replaces `config.content` (a release).
fn read_bounded(
    config: &Arc<Config>,
    checks: Option<refine::Options>,
    channel: &Channel,
    archive: Option<&Archive>,
    durable: &mut Batch,
    raw: Vec<u8>,
) -> Result<Read> {
    let budget = config.read_budget;
    let handoff = Arc::new(Handoff::default());
    let reading = {
        let (config, channel, archive) = (Arc::clone(config), channel.clone(), archive.cloned());
        let handoff = Arc::clone(&handoff);
        move || {
            let mut batch = Batch::default();
            let checks = checks.as_ref().unwrap_or(&config.content);
            let read = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let mut keep = |sha256: &str, data: &[u8]| match &archive {
                    Some(_) if abandoned(&handoff) => {
                        anyhow::bail!("the reading of this message was abandoned")
                    }
                    Some(archive) => archive.put_hashed(&mut batch, sha256, data),
                    None => Ok(()),
                };
                read_message(&config, checks, &channel, &raw, &mut keep)
            }));
            let Ok(mut slot) = handoff.slot.lock() else {
                return;
            };
            if slot.abandoned {
                // Other messages may share what it archived: make that
                // durable, and drop the rest.
                drop(slot);
                ABANDONED.fetch_sub(1, Ordering::Relaxed);
                if let Some(archive) = &archive
                    && let Err(e) = archive.sync(&mut batch)
                {
                    tracing::warn!(error = %format!("{e:#}"), "an abandoned reading could not sync the archive");
                }
                tracing::info!("an abandoned reading of a message ended; its result was discarded");
                return;
            }
            slot.handed = Some((read, batch));
            handoff.done.notify_all();
        }
    };
    std::thread::Builder::new()
        .name("bientap-read".into())
        // Deeply nested MIME (message/rfc822 in multipart, many levels)
        // makes the parser recurse: a reading gets a stack that bounded
        // input cannot exhaust (only the pages used are allocated).
        .stack_size(READ_STACK)
        .spawn(reading)
        .context("Cannot start a thread to read a message")?;
    let deadline = std::time::Instant::now() + budget;
    let mut slot = handoff
        .slot
        .lock()
        .map_err(|_| anyhow::anyhow!("A message reading thread failed"))?;
    loop {
        if let Some((read, batch)) = slot.handed.take() {
            durable.merge(batch);
            return finish_reading(read);
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            slot.abandoned = true;
            let running = ABANDONED.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                budget = ?budget,
                abandoned_readings_running = running,
                "reading a message took longer than content.read_budget; quarantined unread"
            );
            return Ok(Read::unread(format!(
                "reading this message took longer than {} s (content.read_budget); it was kept unread",
                budget.as_secs_f64()
            )));
        }
        slot = handoff
            .done
            .wait_timeout(slot, deadline - now)
            .map_err(|_| anyhow::anyhow!("A message reading thread failed"))?
            .0;
    }
}

fn abandoned(handoff: &Handoff) -> bool {
    handoff.slot.lock().map_or(true, |s| s.abandoned)
}

/// The verdict of a reading that ended.
fn finish_reading(read: std::thread::Result<Result<Option<Read>>>) -> Result<Read> {
    Ok(match read {
        Ok(read) => read?.unwrap_or_else(|| {
            Read::unread("not an e-mail message: no header block could be read".to_string())
        }),
        Err(_) => {
            Read::unread("the MIME parser crashed on this message; it was kept unread".to_string())
        }
    })
}

/// Stores an attachment a verdict refers to, by digest (the archive).
type Keep<'a> = &'a mut dyn FnMut(&str, &[u8]) -> Result<()>;

/// Parses and classifies one message; the attachments its verdict refers
/// to go to `keep`, the only I/O. `None` when it is not a message.
fn read_message(
    config: &Config,
    checks: &refine::Options,
    channel: &Channel,
    raw: &[u8],
    keep: Keep<'_>,
) -> Result<Option<Read>> {
    let Some(msg) = content::parse(raw) else {
        return Ok(None);
    };
    let mut mail = content::extract(&msg);
    if msg.headers().is_empty() {
        return Ok(None);
    }
    let class = match channel {
        Channel::Email => classify::classify(
            &msg,
            &mail,
            &config.board.code_prefix,
            &config.board.address,
        ),
        Channel::Zalo {
            answers: Some(code),
            ..
        } => Class::Reply {
            ticket: code.clone(),
            found_in: "zalo".into(),
        },
        Channel::Zalo { answers: None, .. } => Class::Submission,
    };
    let (from_addr, from_name) = mail
        .from
        .as_ref()
        .map(|s| (s.address.clone(), s.name.clone()))
        .unwrap_or_default();

    // Commands are read from what the replier wrote, whatever a Word file
    // attached to the reply says.
    let written = reply::new_text(&mail.body_text);
    // What a reviewer may read: Word files, legacy encodings, photos, and
    // the checks the rules demand.
    let refined = match &class {
        Class::Submission => Some(refine::refine(&mut mail, checks, StampScope::Whole)),
        Class::Reply { .. } => Some(refine::refine(
            &mut mail,
            checks,
            StampScope::Reply(&written),
        )),
        Class::Automatic { .. } | Class::Quarantine { .. } => None,
    };
    let class = match refined.as_ref() {
        Some(refine::Refined {
            quarantine: Some(reason),
            ..
        }) => Class::Quarantine {
            reason: reason.clone(),
        },
        _ => class,
    };
    let article = |keep: Keep<'_>| -> Result<Article> {
        let attachments = mail
            .attachments
            .iter()
            .map(|a| {
                keep(&a.sha256, &a.data)?;
                Ok(a.record())
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Article {
            fingerprint: Fingerprint::of(&mail.body_text, &attachments),
            attachments,
            title: mail.title.clone(),
            body_html: mail.body_html.clone(),
            body_text: mail.body_text.clone(),
            notes: mail.notes.clone(),
            credits: refined
                .as_ref()
                .map(|r| r.credits.clone())
                .unwrap_or_default(),
            from_document: refined.as_ref().is_some_and(|r| r.document.is_some()),
        })
    };

    let stamp = refined.as_ref().and_then(|r| r.classified.clone());
    let classified = stamp.clone().filter(|_| checks.enforce);
    let mut verdict = if let Some(mark) = classified {
        Verdict::Classified(mark)
    } else {
        match class {
            Class::Automatic { reason, ticket } => Verdict::Automatic { reason, ticket },
            Class::Quarantine { reason } => Verdict::Quarantine(reason),
            Class::Reply { ticket, .. } => {
                let new_text = text::truncate_chars(&written, MAX_EVENT_TEXT);
                Verdict::Reply {
                    ticket,
                    new_text,
                    recipients: mail.recipients.clone(),
                    references: mail
                        .in_reply_to
                        .iter()
                        .chain(&mail.references)
                        .cloned()
                        .collect(),
                    domain_auth: DomainAuth::NotRequired,
                    article: article(keep)?,
                }
            }
            Class::Submission => Verdict::Submission(article(keep)?),
        }
    };
    // A Zalo submission is recorded under the sender Zalo vouched for, with
    // what its collection noticed.
    let (from_addr, from_name) = match channel {
        Channel::Email => (from_addr, from_name),
        Channel::Zalo {
            address,
            name,
            notes,
            ..
        } => {
            if let Verdict::Submission(article) | Verdict::Reply { article, .. } = &mut verdict {
                article.notes.extend(notes.iter().cloned());
            }
            (address.clone(), name.clone())
        }
    };
    Ok(Some(Read {
        message_id: mail.message_id.clone(),
        from_addr,
        from_name,
        subject: mail.subject.clone(),
        date_ms: mail.date_ms,
        verdict,
        stamp,
    }))
}

/// Writes one prepared message and its consequences.
async fn record(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    source: &str,
    p: &Prepared,
) -> Result<Outcome> {
    let (reply_target, unknown_ticket_note) = reply_target(conn, p).await?;
    let (kind, reason) = match &p.verdict {
        Verdict::Quarantine(r) => ("quarantined", r.clone()),
        Verdict::Classified(mark) => (
            "quarantined",
            format!(
                "classification mark {} ({}): not read further, not forwarded; the head of the board was told (R10)",
                mark.level.label(),
                mark.place
            ),
        ),
        Verdict::Automatic { reason, .. } => ("automatic", reason.clone()),
        Verdict::Reply { .. } if reply_target.is_some() => ("reply", String::new()),
        Verdict::Reply { .. } | Verdict::Submission(_) => ("submission", String::new()),
    };
    let Some(message_row) = insert_message(conn, source, p, kind, &reason, ctx.now).await? else {
        return Ok(Outcome::Duplicate);
    };
    apply(
        conn,
        ctx,
        p,
        message_row,
        reason,
        reply_target,
        unknown_ticket_note,
    )
    .await
}

/// The ticket a reply is about; a reply to a ticket that does not exist is
/// a new submission, with a note saying so.
async fn reply_target(
    conn: &mut AnyConnection,
    p: &Prepared,
) -> Result<(Option<i64>, Option<String>)> {
    let Verdict::Reply { ticket, .. } = &p.verdict else {
        return Ok((None, None));
    };
    Ok(match workflow::ticket_id(conn, ticket).await? {
        Some(id) => (Some(id), None),
        None => (
            None,
            Some(format!(
                "Thư nhắc đến mã bài {ticket} nhưng không có bài nào mang mã này."
            )),
        ),
    })
}

/// What a recorded message does: a ticket, a reply, an alert.
async fn apply(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    p: &Prepared,
    message_row: i64,
    reason: String,
    reply_target: Option<i64>,
    unknown_ticket_note: Option<String>,
) -> Result<Outcome> {
    match &p.verdict {
        Verdict::Quarantine(reason) => Ok(Outcome::Quarantined {
            reason: reason.clone(),
        }),
        Verdict::Classified(mark) => {
            workflow::notices::classified(conn, ctx, message_row, &p.from_addr, p.arrived_at, mark)
                .await?;
            Ok(Outcome::Quarantined { reason })
        }
        Verdict::Automatic { reason, ticket } => {
            if let Some(code) = ticket
                && let Some(ticket_id) = workflow::ticket_id(conn, code).await?
            {
                workflow::link_message(conn, message_row, ticket_id).await?;
                let now = ctx.now.as_millisecond();
                workflow::add_event(
                    conn,
                    ticket_id,
                    now,
                    workflow::event::AUTOMATIC,
                    &p.from_addr,
                    Some(message_row),
                    reason,
                    "",
                )
                .await?;
            }
            Ok(Outcome::Automatic {
                reason: reason.clone(),
            })
        }
        Verdict::Reply {
            ticket,
            new_text,
            recipients,
            references,
            domain_auth,
            article,
        } => match reply_target {
            Some(ticket_id) => {
                let reply = workflow::Reply {
                    message: message_row,
                    message_id: p.message_id.as_deref(),
                    from: &p.from_addr,
                    new_text,
                    recipients,
                    references,
                    domain_auth,
                    notes: &article.notes,
                    attachments: &article.attachments,
                    document: article
                        .from_document
                        .then_some((article.body_html.as_str(), article.body_text.as_str())),
                    zalo_user: match &p.channel {
                        Channel::Zalo { user_id, .. } => Some(user_id.as_str()),
                        Channel::Email => None,
                    },
                };
                let outcome = workflow::on_reply(conn, ctx, ticket_id, &reply).await?;
                if let workflow::ReplyOutcome::NewVersion(n) = outcome {
                    copies::save(conn, ticket_id, n, &article.fingerprint, ctx.now).await?;
                }
                Ok(Outcome::Reply {
                    code: ticket.clone(),
                    effect: describe(&outcome),
                })
            }
            None => {
                let mut article_notes = article.notes.clone();
                article_notes.extend(unknown_ticket_note);
                open(conn, ctx, p, article, &article_notes, message_row).await
            }
        },
        Verdict::Submission(article) => {
            open(conn, ctx, p, article, &article.notes, message_row).await
        }
    }
}

fn describe(outcome: &workflow::ReplyOutcome) -> String {
    match outcome {
        workflow::ReplyOutcome::Applied(label) => format!("applied {label}"),
        workflow::ReplyOutcome::NewVersion(n) => format!("new version {n}"),
        workflow::ReplyOutcome::Denied(reason) => format!("denied: {reason}"),
        workflow::ReplyOutcome::Noted => "recorded".to_string(),
    }
}

async fn open(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    p: &Prepared,
    article: &Article,
    notes: &[String],
    message_row: i64,
) -> Result<Outcome> {
    let config = ctx.config;
    let cal = ctx.calendar;
    let received = Timestamp::from_millisecond(p.arrived_at).unwrap_or(ctx.now);
    let due = schedule::approval_due(
        received,
        cal,
        config.board.approval_days,
        config.deadlines.approval_counting,
    )?;
    // R14: the kind from a subject tag, the event's date from the text.
    let received_day = cal.date_of(received);
    let kind = schedule::kind_from_subject(&p.subject);
    let event_date = schedule::event_date_in(&article.body_text, received_day);
    let publish_due = kind.map(|k| {
        schedule::publish_due(k, event_date, received_day, cal, &config.deadlines).as_millisecond()
    });
    // The same article sent again by the same sender joins its ticket.
    if let Some((ticket_id, code)) =
        copies::resent(conn, &article.fingerprint, &p.from_addr).await?
    {
        workflow::resent(conn, ctx, ticket_id, message_row, p.message_id.as_deref()).await?;
        return Ok(Outcome::Reply {
            code,
            effect: "the same article sent again: joined its ticket".into(),
        });
    }
    // R12: near copies of published articles and open tickets.
    let mut notes = notes.to_vec();
    notes.extend(copies::near(conn, &article.fingerprint, config.screening.similarity).await?);
    let credits = &article.credits;
    let member = config.member(&p.from_addr).filter(|m| m.active);
    let code = workflow::submit(
        conn,
        ctx,
        &NewTicket {
            year: schedule::local_year(received, cal),
            title: &article.title,
            subject: &p.subject,
            sender_addr: &p.from_addr,
            sender_name: if p.from_name.is_empty() {
                member.map_or("", |m| m.name.as_str())
            } else {
                &p.from_name
            },
            sender_member: member.is_some(),
            sender_unit: member.map_or("", |m| m.unit.as_str()),
            channel: p.channel.as_str(),
            sender_zalo: p.channel.zalo_user(),
            received_at: received.as_millisecond(),
            due_at: due.as_millisecond(),
            author: credits.author.as_deref().unwrap_or_default(),
            source: credits.source.as_deref().unwrap_or_default(),
            kind,
            event_date,
            publish_due,
            body_html: &article.body_html,
            body_text: &article.body_text,
            notes: &notes,
            attachments: &article.attachments,
            message: message_row,
            message_id: p.message_id.as_deref(),
        },
    )
    .await?;
    if let Some(ticket_id) = workflow::ticket_id(conn, &code).await? {
        copies::save(conn, ticket_id, 1, &article.fingerprint, ctx.now).await?;
    }
    Ok(Outcome::Ticket { code })
}

async fn insert_message(
    conn: &mut AnyConnection,
    source: &str,
    p: &Prepared,
    kind: &str,
    reason: &str,
    now: Timestamp,
) -> Result<Option<i64>> {
    sqlx::query_scalar(
        "INSERT INTO messages (sha256, message_id, size, source, arrived_at, arrival_from, ingested_at,
             kind, from_addr, from_name, subject, reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT DO NOTHING
         RETURNING id",
    )
    .bind(&p.sha256)
    .bind(&p.message_id)
    .bind(i64::try_from(p.size).unwrap_or(i64::MAX))
    .bind(source)
    .bind(p.arrived_at)
    .bind(p.arrival_from)
    .bind(now.as_millisecond())
    .bind(kind)
    .bind(&p.from_addr)
    .bind(&p.from_name)
    .bind(&p.subject)
    .bind(reason)
    .fetch_optional(conn)
    .await
    .context("Cannot record the message")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(dir: &std::path::Path) -> Arc<Config> {
        let text = format!(
            "[board]\nname = 'x'\naddress = 'bbt@example.test'\n[storage]\nstate_dir = '{}'\n[maildir]\npath = '{}'\n\
             [[members]]\nname = 'T'\nemail = 'tb@example.test'\nroles = ['head']\n",
            dir.join("state").display(),
            dir.join("md").display()
        );
        Arc::new(Config::from_toml(&dir.join("bientap.toml"), &text).unwrap())
    }

    fn mail(from: &str, body: &str) -> Vec<u8> {
        format!(
            "From: {from}\r\nTo: bbt@example.test\r\nSubject: Tin\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{body}\r\n"
        )
        .into_bytes()
    }

    /// 200,000 nested divs: 2.2 MB that once took minutes to read.
    fn bomb() -> Vec<u8> {
        mail(
            "ctv@example.test",
            &format!("{}Bài{}", "<div>".repeat(200_000), "</div>".repeat(200_000)),
        )
    }

    #[test]
    fn reading_gives_a_verdict_for_anything() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        assert_eq!(
            read(&config, &mail("ctv@example.test", "<p>Bài viết</p>")),
            Reading::Ticket
        );
        assert!(matches!(
            read(&config, b""),
            Reading::Quarantine { reason } if reason.starts_with("not an e-mail message")
        ));
        for raw in [&b"\x00\x01"[..], b"\r\n\r\n<div>", b"From: <>\r\n\r\n"] {
            let r = read(&config, raw);
            assert!(matches!(&r, Reading::Quarantine { .. }), "{r:?}");
        }
    }

    #[test]
    fn a_message_over_its_budget_is_quarantined_and_the_batch_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let mut tight = (*config(dir.path())).clone();
        tight.read_budget = std::time::Duration::from_millis(1);
        let tight = Arc::new(tight);
        let archive = Archive::open(&dir.path().join("archive")).unwrap();
        let batch = vec![Incoming {
            body: Body::Bytes(bomb()),
            arrived_at: None,
            channel: Channel::Email,
        }];
        let prepared = prepare_all(&tight, &archive, batch, Timestamp::now()).unwrap();
        let [p] = prepared.as_slice() else {
            panic!("one message in, one out")
        };
        assert!(
            matches!(&p.verdict, Verdict::Quarantine(r) if r.contains("content.read_budget")),
            "{:?}",
            p.verdict
        );
        // Its bytes are archived all the same.
        assert!(archive.contains(&p.sha256));
        assert!(
            matches!(read(&tight, &bomb()), Reading::Quarantine { reason } if reason.contains("longer than"))
        );
    }

    #[test]
    fn a_nesting_bomb_within_its_budget_becomes_a_ticket() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        assert_eq!(read(&config, &bomb()), Reading::Ticket);
    }
}
