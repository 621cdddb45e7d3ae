//! Zalo source: what collaborators send the board's Zalo Official Account.
//!
//! Two halves, with the state database between them:
//!
//! - The webhook receiver checks the signature before anything else, then
//!   stores the raw event in the archive (fsync) and a `zalo_events` row
//!   (commit), and only then answers 200: an accepted event survives any
//!   crash, and Zalo's redelivery of it (same message id) changes nothing.
//! - The collector turns a sender's pending events into one submission once
//!   the sender has been quiet for `zalo.quiet_window`, or at once when they
//!   send `GỬI` / `GUI` / `HẾT`: texts become the body, photos and files are
//!   downloaded (size cap, timeout) and attached, and the result goes through
//!   the same pipeline as mail. The events are marked done in the same
//!   transaction as the ticket, so each event is used exactly once.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use jiff::Timestamp;
use lettre::Message;
use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use sqlx::{AnyConnection, AnyPool, Row};
use tokio::sync::Notify;

use super::{Ack, Body, Channel, Incoming, Pipeline};
use crate::config::{Config, Live, Zalo};
use crate::net::Shutdown;
use crate::service::Health;
use crate::store::Store;
use crate::store::archive::{Archive, Batch};
use crate::text;
use crate::workflow::{Settings, link};
use crate::zalo::api::{Client, DownloadError, Endpoints};
use crate::zalo::event::{self, Event, Parsed, Part};
use crate::zalo::signature;

/// `messages.source` of submissions that came through Zalo.
pub const SOURCE: &str = "zalo";

/// Pending events are looked at least this often.
const COLLECT_EVERY: Duration = Duration::from_secs(1);
/// A download that keeps failing for a passing reason is retried this long
/// before the submission goes ahead without that file (with a note)...
const DOWNLOAD_PATIENCE: Duration = Duration::from_secs(3600);
/// ...this often.
const DOWNLOAD_RETRY: Duration = Duration::from_secs(60);

/// The Zalo API client for a configured OA.
pub fn client(z: &Zalo) -> Result<Client> {
    Client::new(
        Endpoints {
            api_base: z.api_base.clone(),
            oauth_base: z.oauth_base.clone(),
        },
        z.app_id.clone(),
        z.secret_key.clone(),
    )
}

/// What the webhook receiver shares.
#[derive(Clone)]
pub struct Receiver {
    pub store: Store,
    pub archive: Archive,
    pub config: Live<Config>,
    pub wake: Arc<Notify>,
    pub health: Arc<Health>,
}

/// What became of one webhook request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Stored and committed; the collector will use it.
    Stored,
    /// Stored and committed, but nothing to do (sticker, follow…): the reason.
    Ignored(String),
    /// This event was accepted before.
    Duplicate,
    /// Signed, but its timestamp is too far from now: dropped.
    Stale,
    /// Missing or wrong signature: dropped.
    Forged,
    /// Zalo is not configured.
    Disabled,
}

impl Accepted {
    fn status(&self) -> StatusCode {
        match self {
            Accepted::Stored | Accepted::Ignored(_) | Accepted::Duplicate | Accepted::Stale => {
                StatusCode::OK
            }
            Accepted::Forged => StatusCode::UNAUTHORIZED,
            Accepted::Disabled => StatusCode::NOT_FOUND,
        }
    }
}

/// The webhook route at `path`.
pub fn router(receiver: Receiver, path: &str) -> Router {
    Router::new()
        .route(path, post(webhook))
        .with_state(receiver)
}

async fn webhook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let sig = headers.get(signature::HEADER).and_then(|v| v.to_str().ok());
    match r.accept(sig, &body).await {
        Ok(a) => a.status(),
        Err(e) => {
            // Not acknowledged: Zalo delivers it again later.
            tracing::error!(error = %format!("{e:#}"), "cannot store a Zalo event; answered 500 so that Zalo retries");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}

impl Receiver {
    /// Checks, stores and commits one webhook request.
    pub async fn accept(&self, sig: Option<&str>, body: &[u8]) -> Result<Accepted> {
        let config = self.config.get();
        let Some(z) = &config.zalo else {
            return Ok(Accepted::Disabled);
        };
        let Some(ts) = event::timestamp_field(body) else {
            tracing::warn!("Zalo webhook without a timestamp: cannot be verified, refused");
            self.health.zalo_refused();
            return Ok(Accepted::Forged);
        };
        if !signature::verify(sig, &z.app_id, body, &ts, &z.secret_key) {
            tracing::warn!(
                "Zalo webhook with a missing or wrong signature refused (is zalo.secret_key_file the OA's current secret key?)"
            );
            self.health.zalo_refused();
            return Ok(Accepted::Forged);
        }
        let now = Timestamp::now();
        let sha256 = crate::store::archive::sha256_hex(body);
        let (key, name, user, at, state, parsed_json, outcome) = match event::parse(body) {
            Ok(parsed) => {
                let (ev, state, outcome) = match parsed {
                    Parsed::Submission(ev) => (ev, "pending", String::new()),
                    Parsed::Ignored { event, reason } => (event, "ignored", reason),
                };
                let skew = (now.as_millisecond() - ev.timestamp_ms).unsigned_abs();
                if Duration::from_millis(skew) > z.max_skew {
                    tracing::warn!(event = %ev.name, timestamp_ms = ev.timestamp_ms, "Zalo event outside zalo.max_skew: ignored (a replay, or the clock is wrong)");
                    return Ok(Accepted::Stale);
                }
                let key = ev
                    .msg_id
                    .clone()
                    .unwrap_or_else(|| format!("{}:{}:{}", ev.name, ev.user_id, ev.timestamp_ms));
                let json = serde_json::to_string(&ev).context("Cannot encode a Zalo event")?;
                (
                    key,
                    ev.name,
                    ev.user_id,
                    ev.timestamp_ms,
                    state,
                    json,
                    outcome,
                )
            }
            Err(e) => (
                format!("raw:{sha256}"),
                String::new(),
                String::new(),
                now.as_millisecond(),
                "ignored",
                String::new(),
                format!("not a Zalo event: {e:#}"),
            ),
        };
        let seen: Option<i64> =
            sqlx::query_scalar("SELECT id FROM zalo_events WHERE event_key = $1")
                .bind(&key)
                .fetch_optional(self.store.pool())
                .await
                .context("Cannot look up a Zalo event")?;
        if seen.is_some() {
            return Ok(Accepted::Duplicate);
        }
        let archive = self.archive.clone();
        let raw = body.to_vec();
        let digest = sha256.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let mut batch = Batch::default();
            archive.put_hashed(&mut batch, &digest, &raw)?;
            archive.sync(&mut batch)
        })
        .await
        .context("The archive task failed")??;
        let inserted = sqlx::query(
            "INSERT INTO zalo_events (event_key, name, user_id, sha256, event_at, received_at, state, parsed, outcome)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
        )
        .bind(&key)
        .bind(&name)
        .bind(&user)
        .bind(&sha256)
        .bind(at)
        .bind(now.as_millisecond())
        .bind(state)
        .bind(&parsed_json)
        .bind(&outcome)
        .execute(self.store.pool())
        .await
        .context("Cannot store a Zalo event")?;
        if inserted.rows_affected() == 0 {
            return Ok(Accepted::Duplicate);
        }
        self.health.zalo_event();
        if state == "pending" {
            tracing::info!(event = %name, user = %user, "Zalo event stored");
            self.wake.notify_one();
            Ok(Accepted::Stored)
        } else {
            tracing::info!(event = %name, user = %user, reason = %outcome, "Zalo event recorded, nothing to do");
            Ok(Accepted::Ignored(outcome))
        }
    }
}

/// Marks the events a submission was made of as done, in the caller's
/// transaction (the one that commits the ticket).
pub(super) async fn mark_done(
    conn: &mut AnyConnection,
    events: &[i64],
    outcome: &str,
) -> Result<()> {
    for id in events {
        sqlx::query("UPDATE zalo_events SET state = 'done', outcome = $1 WHERE id = $2")
            .bind(outcome)
            .bind(id)
            .execute(&mut *conn)
            .await
            .context("Cannot mark a Zalo event done")?;
    }
    Ok(())
}

/// The sender a Zalo submission is recorded under: the linked member's
/// address, or `zalo:<user id>`.
pub async fn sender_of(pool: &AnyPool, config: &Config, user_id: &str) -> Result<Channel> {
    let linked: Option<String> = sqlx::query_scalar(
        "SELECT email FROM zalo_users WHERE user_id = $1 AND email <> '' AND linked_at IS NOT NULL",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
    .context("Cannot read the Zalo users")?;
    let member = linked
        .as_deref()
        .and_then(|email| config.member(email))
        .filter(|m| m.active);
    let (mut address, name) = match member {
        Some(m) => (m.email.clone(), m.name.clone()),
        None => (format!("zalo:{user_id}"), String::new()),
    };
    // Messages to a ticket waiting for this sender's changes are its next
    // version, whatever address the ticket was opened under.
    let waiting = sqlx::query(
        "SELECT code, sender_addr FROM tickets WHERE sender_zalo = $1 AND state = 'needs_changes'
         ORDER BY updated_at DESC LIMIT 1",
    )
    .bind(user_id)
    .fetch_optional(pool)
    .await
    .context("Cannot look for the sender's tickets")?;
    let answers = match waiting {
        Some(row) => {
            address = row.try_get("sender_addr")?;
            Some(row.try_get("code")?)
        }
        None => None,
    };
    Ok(Channel::Zalo {
        user_id: user_id.to_string(),
        address,
        name,
        notes: Vec::new(),
        answers,
    })
}

/// The domain of the address a Zalo submission's MIME form is written from:
/// `<user id>@zalo.invalid`.
const MIME_DOMAIN: &str = "@zalo.invalid";

/// The Zalo user a submission's MIME form was written for.
pub fn user_of(raw: &[u8]) -> Option<String> {
    let msg = crate::content::parse(raw)?;
    let address = msg.from()?.first()?.address()?;
    address
        .strip_suffix(MIME_DOMAIN)
        .filter(|u| !u.is_empty())
        .map(str::to_string)
}

/// `GỬI`, `GUI`, `HẾT`, `HET`: the sender is done, make the submission now.
fn is_send_command(t: &str) -> bool {
    let folded = text::fold_ascii(t.trim()).to_ascii_uppercase();
    let word = folded.trim_end_matches(['.', '!']);
    matches!(word, "GUI" | "HET" | "GUI BAI" | "XONG")
}

/// One stored event waiting for its submission.
struct Pending {
    id: i64,
    received_at: i64,
    event: Event,
}

/// A file of the submission, downloaded.
struct File {
    name: String,
    content_type: String,
    bytes: Vec<u8>,
}

/// Turns quiet senders' events into submissions.
pub struct Collector {
    pipeline: Pipeline,
    client: Client,
    wake: Arc<Notify>,
    /// Senders whose submission waits for a download that failed for a
    /// passing reason, and when to try again (milliseconds).
    retry_at: Mutex<HashMap<String, i64>>,
}

impl Collector {
    pub fn new(pipeline: Pipeline, client: Client, wake: Arc<Notify>) -> Collector {
        Collector {
            pipeline,
            client,
            wake,
            retry_at: Mutex::default(),
        }
    }

    fn retry_at(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        match self.retry_at.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Collects until shutdown; a submission in hand is finished first.
    pub async fn run(&self, shutdown: &Shutdown) {
        loop {
            if let Err(e) = self.collect_due(Some(shutdown)).await {
                tracing::error!(error = %format!("{e:#}"), "Zalo collection failed; will retry");
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(COLLECT_EVERY) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// One pass: every sender who is done becomes a submission. Returns
    /// how many were made.
    pub async fn collect_due(&self, shutdown: Option<&Shutdown>) -> Result<usize> {
        let config = self.pipeline.config();
        let Some(z) = config.zalo.clone() else {
            return Ok(0);
        };
        let rows = sqlx::query(
            "SELECT id, user_id, received_at, parsed FROM zalo_events WHERE state = 'pending' ORDER BY id",
        )
        .fetch_all(self.pipeline.store().pool())
        .await
        .context("Cannot read pending Zalo events")?;
        let mut by_user: BTreeMap<String, Vec<Pending>> = BTreeMap::new();
        for r in rows {
            let id: i64 = r.try_get("id")?;
            let parsed: String = r.try_get("parsed")?;
            let Ok(event) = serde_json::from_str::<Event>(&parsed) else {
                sqlx::query("UPDATE zalo_events SET state = 'ignored', outcome = 'unreadable stored event' WHERE id = $1")
                    .bind(id)
                    .execute(self.pipeline.store().pool())
                    .await
                    .context("Cannot set aside a Zalo event")?;
                continue;
            };
            let user: String = r.try_get("user_id")?;
            if let [Part::Text(t)] = event.parts.as_slice()
                && let Some(cmd) = link::command(t)
                && self.command(&user, id, &cmd).await?
            {
                continue;
            }
            by_user.entry(user).or_default().push(Pending {
                id,
                received_at: r.try_get("received_at")?,
                event,
            });
        }
        let now = Timestamp::now().as_millisecond();
        let quiet = i64::try_from(z.quiet_window.as_millis()).unwrap_or(i64::MAX);
        let mut made = 0;
        for (user, events) in by_user {
            if shutdown.is_some_and(Shutdown::is_set) {
                break;
            }
            let last = events.iter().map(|p| p.received_at).max().unwrap_or(now);
            let told_done = events.iter().any(|p| {
                p.event
                    .parts
                    .iter()
                    .any(|part| matches!(part, Part::Text(t) if is_send_command(t)))
            });
            let not_before = self.retry_at().get(&user).copied().unwrap_or(0);
            if (!told_done && now - last < quiet) || now < not_before {
                continue;
            }
            if self.submit(&config, &z, &user, &events, now).await? {
                self.retry_at().remove(&user);
                made += 1;
            } else {
                let pause = i64::try_from(DOWNLOAD_RETRY.as_millis()).unwrap_or(60_000);
                self.retry_at().insert(user, now + pause);
            }
        }
        Ok(made)
    }

    /// Carries out a linking command at once (not part of a submission);
    /// `false` when the text is not a command after all.
    async fn command(&self, user: &str, event: i64, cmd: &link::Command) -> Result<bool> {
        let p = &self.pipeline;
        let mut tx = p.store.begin().await?;
        let settings = Settings::current(&p.config, &p.calendar);
        let ctx = settings.ctx(&p.key, p.clock.now());
        let Some(outcome) = link::handle(&mut tx, &ctx, user, cmd).await? else {
            return Ok(false);
        };
        mark_done(&mut tx, &[event], &outcome).await?;
        tx.commit()
            .await
            .context("Cannot commit a Zalo link command")?;
        p.wake.outbox.notify_one();
        tracing::info!(user = %user, %outcome, "Zalo link command");
        Ok(true)
    }

    /// Builds and ingests one sender's submission. `false` when a download
    /// failed for a passing reason and the submission waits.
    async fn submit(
        &self,
        config: &Config,
        z: &Zalo,
        user: &str,
        events: &[Pending],
        now: i64,
    ) -> Result<bool> {
        let first_at = events.iter().map(|p| p.received_at).min().unwrap_or(now);
        let patient = now - first_at < i64::try_from(DOWNLOAD_PATIENCE.as_millis()).unwrap_or(0);
        let mut texts = Vec::new();
        let mut files = Vec::new();
        let mut notes = Vec::new();
        for p in events {
            for part in &p.event.parts {
                let (url, name) = match part {
                    Part::Text(t) if is_send_command(t) => continue,
                    Part::Text(t) => {
                        texts.push(text::nfc(t.trim()));
                        continue;
                    }
                    Part::Link { url, description } => {
                        texts.push(text::nfc(&format!("Liên kết: {url} {description}")));
                        continue;
                    }
                    Part::Image { url, caption } => {
                        if !caption.trim().is_empty() {
                            texts.push(text::nfc(caption.trim()));
                        }
                        (url, format!("anh-{}", files.len() + 1))
                    }
                    Part::File { url, name, .. } => (url, text::nfc(name)),
                    Part::Audio { url } => (url, format!("ghi-am-{}", files.len() + 1)),
                    Part::Video { url } => (url, format!("video-{}", files.len() + 1)),
                };
                match self
                    .client
                    .download(url, &z.downloads, z.max_file_size, z.download_timeout)
                    .await
                {
                    Ok(d) => files.push(File {
                        name: with_extension(name, &d.content_type),
                        content_type: d.content_type,
                        bytes: d.bytes,
                    }),
                    Err(DownloadError::Transient(e)) if patient => {
                        tracing::warn!(user = %user, error = %e, "Zalo file not downloaded yet; the submission waits");
                        return Ok(false);
                    }
                    Err(DownloadError::Refused(refusal)) => {
                        // Nothing was sent to that address. A signed event
                        // naming it means the OA secret key is in the
                        // wrong hands, or Zalo serves files from a host
                        // missing from zalo.download_hosts.
                        tracing::warn!(user = %user, file = %name, host = %refusal.host, reason = %refusal, "Zalo file address refused (is the OA secret key safe? is zalo.download_hosts complete?); the submission goes ahead without it");
                        notes.push(format!(
                            "Không tải được tệp {name} gửi qua Zalo: địa chỉ của tệp bị từ chối vì {}. Tệp không được tải về; nếu cần, đề nghị người gửi gửi lại.",
                            refusal.vietnamese()
                        ));
                    }
                    Err(e) => {
                        tracing::warn!(user = %user, file = %name, error = %e, "Zalo file could not be downloaded; the submission goes ahead without it");
                        notes.push(format!("Không tải được tệp {name} gửi qua Zalo: {e}"));
                    }
                }
            }
        }
        let mut channel = sender_of(self.pipeline.store().pool(), config, user).await?;
        if let Channel::Zalo { notes: n, .. } = &mut channel {
            *n = notes;
        }
        let first_key = events.first().map_or(0, |p| p.id);
        let raw = mime(config, z, user, first_key, first_at, &texts, files)?;
        let ids: Vec<i64> = events.iter().map(|p| p.id).collect();
        let outcomes = self
            .pipeline
            .process(
                SOURCE,
                vec![Incoming {
                    body: Body::Bytes(raw),
                    arrived_at: Timestamp::from_millisecond(first_at).ok(),
                    channel,
                }],
                Ack::Zalo { events: &ids },
            )
            .await?;
        tracing::info!(user = %user, events = ids.len(), outcome = ?outcomes.first(), "Zalo submission ingested");
        Ok(true)
    }
}

/// The submission as a MIME message, so that it is archived and read like
/// mail. Its Message-ID is fixed by the first event, so that building it
/// again (after a crash) is recognized as the same submission.
fn mime(
    config: &Config,
    z: &Zalo,
    user: &str,
    first_event: i64,
    at_ms: i64,
    texts: &[String],
    files: Vec<File>,
) -> Result<Vec<u8>> {
    let body = texts.join("\n\n");
    let subject = body
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map_or_else(
            || "Bài gửi qua Zalo".to_string(),
            |l| text::truncate_chars(l, 150),
        );
    let from: Mailbox = format!("{user}{MIME_DOMAIN}")
        .parse()
        .context("A Zalo user id that is not usable in an address")?;
    let to: Mailbox = config
        .board
        .address
        .parse()
        .context("The board's address is not valid")?;
    let date = std::time::UNIX_EPOCH + Duration::from_millis(u64::try_from(at_ms).unwrap_or(0));
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .date(date)
        .message_id(Some(format!(
            "<zalo.{first_event}.{user}@{}.zalo.invalid>",
            z.oa_id
        )));
    let text = SinglePart::plain(body);
    let message = if files.is_empty() {
        builder.singlepart(text)
    } else {
        let mut mixed = MultiPart::mixed().singlepart(text);
        for f in files {
            let ctype = ContentType::parse(&f.content_type).unwrap_or_else(|_| octet_stream());
            mixed = mixed.singlepart(MimeAttachment::new(f.name).body(f.bytes, ctype));
        }
        builder.multipart(mixed)
    }
    .context("Cannot build the MIME form of a Zalo submission")?;
    Ok(message.formatted())
}

/// Photos, recordings and videos come without a file name: theirs gets
/// the extension of the type their server gave (the bytes are checked
/// against it later, as for mail).
fn with_extension(name: String, content_type: &str) -> String {
    if name.contains('.') {
        return name;
    }
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match crate::content::names::extension_for(&essence) {
        "bin" => name,
        ext => format!("{name}.{ext}"),
    }
}

fn octet_stream() -> ContentType {
    ContentType::parse("application/octet-stream").unwrap_or(ContentType::TEXT_PLAIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_names_get_extensions() {
        assert_eq!(with_extension("anh-1".into(), "image/jpeg"), "anh-1.jpg");
        assert_eq!(
            with_extension("anh-2".into(), "Image/PNG; x=y"),
            "anh-2.png"
        );
        assert_eq!(with_extension("Bài.docx".into(), "image/jpeg"), "Bài.docx");
        assert_eq!(with_extension("tep".into(), "application/x-unknown"), "tep");
    }

    #[test]
    fn send_commands() {
        for t in ["GỬI", "gửi", "Gui", "HẾT", "het.", " GỬI BÀI ", "xong!"] {
            assert!(is_send_command(t), "{t}");
        }
        for t in ["gửi bài viết về lễ hội", "Hết hạn", "", "GỬI: bài"] {
            assert!(!is_send_command(t), "{t}");
        }
    }
}
