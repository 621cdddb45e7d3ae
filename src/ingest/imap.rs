//! The IMAP source: the board's mailbox on a mail server.
//!
//! One long-lived session: connect (TLS, STARTTLS or plain), log in (LOGIN or
//! XOAUTH2), make sure the processed folder exists, then repeat:
//!
//! - SELECT the inbox and compare UIDVALIDITY with the stored one; when it
//!   changed, old UIDs mean nothing: start from UID 1 and rely on dedupe.
//! - Finish moves planned before a crash.
//! - Fetch sizes of new UIDs, then bodies with BODY.PEEK[] in batches bounded
//!   in bytes; a message over the size limit is streamed to the archive in
//!   partial fetches and never held in memory.
//! - Hand each batch to the pipeline; the commit records the planned moves
//!   and the new position in the same transaction; only then move the
//!   messages to the processed folder (UID MOVE, or COPY + \Deleted +
//!   EXPUNGE where MOVE is missing).
//! - Wait: IDLE (re-issued before the server's 29-minute limit) when the
//!   server has it, else poll.
//!
//! Any error ends the session; the caller reconnects with backoff.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Authenticator, Client};
use futures::StreamExt;
use jiff::Timestamp;
use tokio_rustls::TlsConnector;

use super::{Ack, Body, Channel, Incoming, Pipeline};
use crate::config::{self, Credential, TlsMode, imap_utf7};
use crate::net::{self, Backoff, Io, Shutdown};
use crate::store::archive::Batch;

type Session = async_imap::Session<Box<dyn Io>>;

/// Most messages fetched in one command.
const MAX_BATCH_MESSAGES: usize = 200;
/// Piece size when streaming an oversized message.
const CHUNK: u32 = 1024 * 1024;

/// Reads the mailbox until shutdown; with `once`, until it is empty.
pub async fn run(
    pipeline: &Pipeline,
    cfg: &config::Imap,
    shutdown: &Shutdown,
    once: bool,
) -> Result<()> {
    let connector = match cfg.tls {
        TlsMode::None => None,
        TlsMode::Starttls | TlsMode::Implicit => Some(net::tls_connector(cfg.ca_file.as_deref())?),
    };
    let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(80));
    loop {
        let mut logged_in = false;
        let result = session(
            pipeline,
            cfg,
            connector.as_ref(),
            shutdown,
            once,
            &mut logged_in,
        )
        .await;
        match result {
            Ok(()) => return Ok(()),
            Err(e) if once => return Err(e),
            Err(e) => {
                pipeline.health().source_down(&format!("{e:#}"));
                if logged_in {
                    backoff.reset();
                }
                let delay = backoff.next_delay();
                tracing::warn!(
                    host = %cfg.host,
                    error = %format!("{e:#}"),
                    retry_in_secs = delay.as_secs(),
                    "IMAP session ended; reconnecting"
                );
                if !shutdown.sleep(delay).await {
                    return Ok(());
                }
            }
        }
    }
}

/// Runs `fut` with the network timeout.
async fn timed<T, E>(
    cfg: &config::Imap,
    what: &str,
    fut: impl Future<Output = Result<T, E>>,
) -> Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    tokio::time::timeout(cfg.timeout, fut)
        .await
        .map_err(|_| anyhow!("IMAP {what}: no answer within {} s", cfg.timeout.as_secs()))?
        .with_context(|| format!("IMAP {what} failed"))
}

async fn greeting(cfg: &config::Imap, client: &mut Client<Box<dyn Io>>) -> Result<()> {
    let response = timed(cfg, "greeting", client.read_response())
        .await?
        .context("The IMAP server closed the connection before greeting")?;
    if let async_imap::imap_proto::Response::Data {
        status: async_imap::imap_proto::Status::Bye,
        ..
    } = response.parsed()
    {
        bail!("The IMAP server refused the connection (BYE)");
    }
    Ok(())
}

async fn connect(
    cfg: &config::Imap,
    connector: Option<&TlsConnector>,
) -> Result<Client<Box<dyn Io>>> {
    let tcp = net::connect_tcp(&cfg.host, cfg.port, cfg.timeout).await?;
    let tls = || connector.context("TLS requested but no TLS configuration");
    let client = match cfg.tls {
        TlsMode::None => {
            let mut c = Client::new(Box::new(tcp) as Box<dyn Io>);
            greeting(cfg, &mut c).await?;
            c
        }
        TlsMode::Implicit => {
            let stream = net::start_tls(tls()?, &cfg.host, tcp, cfg.timeout).await?;
            let mut c = Client::new(Box::new(stream) as Box<dyn Io>);
            greeting(cfg, &mut c).await?;
            c
        }
        TlsMode::Starttls => {
            let mut plain = Client::new(Box::new(tcp) as Box<dyn Io>);
            greeting(cfg, &mut plain).await?;
            timed(
                cfg,
                "STARTTLS",
                plain.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            let stream = net::start_tls(tls()?, &cfg.host, plain.into_inner(), cfg.timeout).await?;
            // No greeting after STARTTLS (RFC 3501 §6.2.1).
            Client::new(Box::new(stream) as Box<dyn Io>)
        }
    };
    Ok(client)
}

/// SASL XOAUTH2 (Google, Microsoft): the first answer carries the token; if
/// the server rejects it, it sends an error challenge that must be answered
/// with an empty line.
struct XOAuth2 {
    user: String,
    token: String,
    sent: bool,
}

impl Authenticator for XOAuth2 {
    type Response = String;

    fn process(&mut self, _challenge: &[u8]) -> String {
        if self.sent {
            return String::new();
        }
        self.sent = true;
        format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token)
    }
}

async fn login(cfg: &config::Imap, client: Client<Box<dyn Io>>) -> Result<Session> {
    let refused = |e: async_imap::error::Error| {
        anyhow!(
            "IMAP login as {} refused: {e}. Check imap.username and the password or token",
            cfg.username
        )
    };
    let token = match &cfg.credential {
        Credential::Password(password) => {
            let login = client.login(&cfg.username, password);
            return tokio::time::timeout(cfg.timeout, login)
                .await
                .map_err(|_| anyhow!("IMAP login: no answer within {} s", cfg.timeout.as_secs()))?
                .map_err(|(e, _)| refused(e));
        }
        Credential::OAuth2Token(t) => t.clone(),
        Credential::OAuth2TokenFile(path) => std::fs::read_to_string(path)
            .with_context(|| format!("Cannot read the OAuth2 token file {}", path.display()))?
            .trim()
            .to_string(),
    };
    let auth = XOAuth2 {
        user: cfg.username.clone(),
        token,
        sent: false,
    };
    tokio::time::timeout(cfg.timeout, client.authenticate("XOAUTH2", auth))
        .await
        .map_err(|_| anyhow!("IMAP XOAUTH2: no answer within {} s", cfg.timeout.as_secs()))?
        .map_err(|(e, _)| refused(e))
}

/// The inbox being read and where its mail goes after commit.
#[derive(Debug, Clone, Copy)]
struct Inbox<'a> {
    /// The mailbox's key in the state database.
    key: &'a str,
    uid_validity: u32,
    /// The processed folder, IMAP-encoded.
    processed: &'a str,
    features: Features,
}

/// Server features that change how we work.
#[derive(Debug, Clone, Copy)]
struct Features {
    idle: bool,
    mv: bool,
    uidplus: bool,
}

async fn session(
    pipeline: &Pipeline,
    cfg: &config::Imap,
    connector: Option<&TlsConnector>,
    shutdown: &Shutdown,
    once: bool,
    logged_in: &mut bool,
) -> Result<()> {
    let client = connect(cfg, connector).await?;
    let mut session = login(cfg, client).await?;
    *logged_in = true;
    pipeline.health().source_up();
    let caps = timed(cfg, "CAPABILITY", session.capabilities()).await?;
    let features = Features {
        idle: caps.has_str("IDLE"),
        mv: caps.has_str("MOVE"),
        uidplus: caps.has_str("UIDPLUS"),
    };
    tracing::info!(host = %cfg.host, user = %cfg.username, idle = features.idle, r#move = features.mv, "IMAP session open");

    let inbox = imap_utf7(&cfg.folder);
    let processed = imap_utf7(&cfg.processed_folder);
    ensure_folder(cfg, &mut session, &processed).await?;
    let key = format!(
        "imap://{}@{}:{}/{}",
        cfg.username, cfg.host, cfg.port, cfg.folder
    );

    loop {
        let read_started = std::time::Instant::now();
        let mailbox = timed(cfg, "SELECT", session.select(&inbox)).await?;
        let uid_validity = mailbox
            .uid_validity
            .context("The IMAP server gave no UIDVALIDITY; it cannot be read safely")?;
        let store = pipeline.store();
        let mut last_uid = match store.mailbox_state(&key).await? {
            Some((v, last)) if v == uid_validity => last,
            Some((v, _)) => {
                tracing::warn!(
                    old = v,
                    new = uid_validity,
                    "UIDVALIDITY changed; rereading the whole inbox (duplicates are recognized)"
                );
                store.reset_mailbox(&key, uid_validity).await?;
                0
            }
            None => 0,
        };
        let inbox = Inbox {
            key: &key,
            uid_validity,
            processed: &processed,
            features,
        };
        move_out(pipeline, cfg, &mut session, &inbox).await?;

        loop {
            let sizes = fetch_sizes(cfg, &mut session, last_uid.saturating_add(1)).await?;
            if sizes.is_empty() {
                break;
            }
            // While one batch is processed (parsed, archived, committed), the
            // next is fetched: the network and the disk work at the same time.
            let mut fetched: Option<Fetched> = None;
            let mut plan = plan_batches(
                &sizes,
                cfg.fetch_batch_size,
                pipeline.config().storage.max_message_size,
            )
            .into_iter();
            loop {
                let next = plan.next();
                let Some(current) = fetched.take() else {
                    match next {
                        Some(batch) => {
                            fetched = Some(Fetched::new(
                                fetch_batch(pipeline, cfg, &mut session, &batch).await?,
                                &batch,
                            ));
                            continue;
                        }
                        None => break,
                    }
                };
                let ack = Ack::Imap {
                    mailbox: &key,
                    uid_validity,
                    uids: &current.uids,
                    last_uid: current.last_uid.max(last_uid),
                };
                let process = pipeline.process("imap", current.messages, ack);
                let outcomes = match next.filter(|_| !shutdown.is_set()) {
                    Some(batch) => {
                        let (outcomes, incoming) =
                            tokio::join!(process, fetch_batch(pipeline, cfg, &mut session, &batch));
                        let outcomes = outcomes?;
                        fetched = Some(Fetched::new(incoming?, &batch));
                        outcomes
                    }
                    None => process.await?,
                };
                last_uid = current.last_uid.max(last_uid);
                tracing::debug!(count = outcomes.len(), last_uid, "IMAP batch committed");
                move_out(pipeline, cfg, &mut session, &inbox).await?;
                if shutdown.is_set() {
                    return logout(cfg, session).await;
                }
            }
        }

        pipeline.health().polled(read_started.elapsed());
        if once || shutdown.is_set() {
            return logout(cfg, session).await;
        }
        let (back, go_on) = wait_for_mail(cfg, session, features, shutdown).await?;
        session = back;
        if !go_on {
            return logout(cfg, session).await;
        }
    }
}

async fn logout(cfg: &config::Imap, mut session: Session) -> Result<()> {
    // A failed LOGOUT changes nothing: everything is committed already.
    let _ = tokio::time::timeout(cfg.timeout, session.logout()).await;
    Ok(())
}

async fn ensure_folder(cfg: &config::Imap, session: &mut Session, name: &str) -> Result<()> {
    let exists = {
        let mut names = timed(cfg, "LIST", session.list(Some(""), Some(name))).await?;
        let mut found = false;
        while let Some(item) = tokio::time::timeout(cfg.timeout, names.next())
            .await
            .map_err(|_| anyhow!("IMAP LIST: no answer"))?
        {
            if item.is_ok_and(|n| n.name() == name) {
                found = true;
            }
        }
        found
    };
    if !exists {
        match tokio::time::timeout(cfg.timeout, session.create(name)).await {
            Ok(Ok(())) => {
                tracing::info!(folder = %cfg.processed_folder, "created the processed folder")
            }
            // Another client created it in between.
            Ok(Err(async_imap::error::Error::No(msg)))
                if msg.to_ascii_uppercase().contains("ALREADYEXISTS") => {}
            Ok(Err(e)) => {
                return Err(anyhow!(e)).with_context(|| {
                    format!("Cannot create the IMAP folder {}", cfg.processed_folder)
                });
            }
            Err(_) => bail!("IMAP CREATE: no answer within {} s", cfg.timeout.as_secs()),
        }
    }
    Ok(())
}

/// A fetched batch waiting to be processed.
struct Fetched {
    uids: Vec<u32>,
    last_uid: u32,
    messages: Vec<Incoming>,
}

impl Fetched {
    fn new(incoming: Vec<(u32, Incoming)>, planned: &[(u32, u32)]) -> Fetched {
        let uids = incoming.iter().map(|(uid, _)| *uid).collect();
        // Planned UIDs that vanished meanwhile count as read.
        let last_uid = planned
            .iter()
            .map(|(uid, _)| *uid)
            .max()
            .unwrap_or_default();
        Fetched {
            uids,
            last_uid,
            messages: incoming.into_iter().map(|(_, m)| m).collect(),
        }
    }
}

/// `(uid, size)` of every message from `from_uid` on.
async fn fetch_sizes(
    cfg: &config::Imap,
    session: &mut Session,
    from_uid: u32,
) -> Result<Vec<(u32, u32)>> {
    let mut out = Vec::new();
    let mut stream = timed(
        cfg,
        "UID FETCH",
        session.uid_fetch(format!("{from_uid}:*"), "(UID RFC822.SIZE)"),
    )
    .await?;
    // Always drain the stream; skip entries without UID or size.
    while let Some(item) = tokio::time::timeout(cfg.timeout, stream.next())
        .await
        .map_err(|_| anyhow!("IMAP UID FETCH: no answer"))?
    {
        let fetch = item.context("IMAP UID FETCH failed")?;
        if let (Some(uid), Some(size)) = (fetch.uid, fetch.size)
            && uid >= from_uid
        {
            out.push((uid, size));
        }
    }
    out.sort_unstable();
    out.dedup_by_key(|(uid, _)| *uid);
    Ok(out)
}

/// Groups messages into fetches of at most `batch_bytes` (or one message).
/// A message over `max_size` is a batch of its own: it will be streamed.
fn plan_batches(sizes: &[(u32, u32)], batch_bytes: u64, max_size: u64) -> Vec<Vec<(u32, u32)>> {
    let mut batches = Vec::new();
    let mut current: Vec<(u32, u32)> = Vec::new();
    let mut bytes = 0u64;
    for &(uid, size) in sizes {
        let size64 = u64::from(size);
        if size64 > max_size {
            if !current.is_empty() {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
            batches.push(vec![(uid, size)]);
            continue;
        }
        if !current.is_empty()
            && (bytes + size64 > batch_bytes || current.len() >= MAX_BATCH_MESSAGES)
        {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size64;
        current.push((uid, size));
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// A UID set in IMAP syntax, ranges compressed: "3:5,9".
fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut iter = sorted.into_iter().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while iter.peek() == Some(&end.saturating_add(1)) {
            end = iter.next().unwrap_or(end);
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
    }
    parts.join(",")
}

fn timestamp_of(fetch: &async_imap::types::Fetch) -> Option<Timestamp> {
    fetch
        .internal_date()
        .and_then(|d| Timestamp::from_millisecond(d.timestamp_millis()).ok())
}

/// Fetches the messages of one planned batch.
async fn fetch_batch(
    pipeline: &Pipeline,
    cfg: &config::Imap,
    session: &mut Session,
    batch: &[(u32, u32)],
) -> Result<Vec<(u32, Incoming)>> {
    let max = pipeline.config().storage.max_message_size;
    if let [(uid, size)] = batch
        && u64::from(*size) > max
    {
        return Ok(vec![(
            *uid,
            stream_to_archive(pipeline, cfg, session, *uid).await?,
        )]);
    }
    let uids: Vec<u32> = batch.iter().map(|(uid, _)| *uid).collect();
    let wanted: std::collections::BTreeSet<u32> = uids.iter().copied().collect();
    let mut out = Vec::with_capacity(batch.len());
    let mut stream = timed(
        cfg,
        "UID FETCH",
        session.uid_fetch(uid_set(&uids), "(UID INTERNALDATE BODY.PEEK[])"),
    )
    .await?;
    while let Some(item) = tokio::time::timeout(cfg.timeout, stream.next())
        .await
        .map_err(|_| anyhow!("IMAP UID FETCH: no answer"))?
    {
        let fetch = item.context("IMAP UID FETCH failed")?;
        // Unsolicited FETCH responses (flag changes) carry no body.
        let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) else {
            continue;
        };
        if !wanted.contains(&uid) || out.iter().any(|(u, _)| *u == uid) {
            continue;
        }
        out.push((
            uid,
            Incoming {
                body: Body::Bytes(body.to_vec()),
                arrived_at: timestamp_of(&fetch),
                channel: Channel::Email,
            },
        ));
    }
    out.sort_by_key(|(uid, _)| *uid);
    Ok(out)
}

/// Streams one message into the archive in partial fetches.
async fn stream_to_archive(
    pipeline: &Pipeline,
    cfg: &config::Imap,
    session: &mut Session,
    uid: u32,
) -> Result<Incoming> {
    let mut writer = pipeline.archive().writer()?;
    let mut arrived_at = None;
    let mut offset: u32 = 0;
    loop {
        let query = format!("(UID INTERNALDATE BODY.PEEK[]<{offset}.{CHUNK}>)");
        let mut got: Option<usize> = None;
        let mut stream = timed(cfg, "UID FETCH", session.uid_fetch(uid.to_string(), query)).await?;
        while let Some(item) = tokio::time::timeout(cfg.timeout, stream.next())
            .await
            .map_err(|_| anyhow!("IMAP UID FETCH: no answer"))?
        {
            let fetch = item.context("IMAP UID FETCH failed")?;
            if fetch.uid != Some(uid) {
                continue;
            }
            if let Some(body) = fetch.body()
                && got.is_none()
            {
                arrived_at = arrived_at.or_else(|| timestamp_of(&fetch));
                got = Some(body.len());
                writer.write(body)?;
            }
        }
        drop(stream);
        let n = got.context("The message disappeared while it was being read")?;
        offset = offset.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        if n < CHUNK as usize {
            break;
        }
    }
    let archive = pipeline.archive().clone();
    let (sha256, size) = tokio::task::spawn_blocking(move || -> Result<(String, u64)> {
        let mut durable = Batch::default();
        let done = writer.finish(&mut durable)?;
        archive.sync(&mut durable)?;
        Ok(done)
    })
    .await
    .context("The archive task failed")??;
    tracing::warn!(uid, size, "oversized message streamed to the archive");
    Ok(Incoming {
        body: Body::Archived { sha256, size },
        arrived_at,
        channel: Channel::Email,
    })
}

/// Performs the moves the database says are due.
async fn move_out(
    pipeline: &Pipeline,
    cfg: &config::Imap,
    session: &mut Session,
    inbox: &Inbox<'_>,
) -> Result<()> {
    let Inbox {
        key,
        uid_validity,
        processed,
        features,
    } = *inbox;
    let pending = pipeline.store().pending_moves(key, uid_validity).await?;
    for chunk in pending.chunks(500) {
        let set = uid_set(chunk);
        if features.mv {
            timed(cfg, "UID MOVE", session.uid_mv(&set, processed)).await?;
        } else {
            timed(cfg, "UID COPY", session.uid_copy(&set, processed)).await?;
            {
                let stream = timed(
                    cfg,
                    "UID STORE",
                    session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
                )
                .await?;
                drain(cfg, stream, "UID STORE").await?;
            }
            if features.uidplus {
                let stream = timed(cfg, "UID EXPUNGE", session.uid_expunge(&set)).await?;
                drain(cfg, stream, "UID EXPUNGE").await?;
            } else {
                let stream = timed(cfg, "EXPUNGE", session.expunge()).await?;
                drain(cfg, stream, "EXPUNGE").await?;
            }
        }
        pipeline
            .store()
            .forget_moves(key, uid_validity, chunk)
            .await?;
        tracing::debug!(count = chunk.len(), folder = %cfg.processed_folder, "moved processed messages");
    }
    Ok(())
}

async fn drain<S, T, E>(cfg: &config::Imap, stream: S, what: &str) -> Result<()>
where
    S: futures::Stream<Item = Result<T, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(item) = tokio::time::timeout(cfg.timeout, stream.next())
        .await
        .map_err(|_| anyhow!("IMAP {what}: no answer"))?
    {
        item.with_context(|| format!("IMAP {what} failed"))?;
    }
    Ok(())
}

/// Waits until new mail may be there. Returns the session and whether to go
/// on (false on shutdown).
async fn wait_for_mail(
    cfg: &config::Imap,
    session: Session,
    features: Features,
    shutdown: &Shutdown,
) -> Result<(Session, bool)> {
    let mut session = session;
    let mut announced = false;
    while let Ok(r) = session.unsolicited_responses.try_recv() {
        if matches!(
            r,
            UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)
        ) {
            announced = true;
        }
    }
    if announced {
        return Ok((session, true));
    }
    if !(cfg.idle && features.idle) {
        if !shutdown.sleep(cfg.poll_interval).await {
            return Ok((session, false));
        }
        timed(cfg, "NOOP", session.noop()).await?;
        return Ok((session, true));
    }
    let mut handle = session.idle();
    timed(cfg, "IDLE", handle.init()).await?;
    {
        let (wait, _interrupt) = handle.wait_with_timeout(cfg.idle_timeout);
        // The outer timer bounds IDLE even when the server's keepalives keep
        // resetting the inner one, so IDLE is re-issued before 29 minutes.
        tokio::select! {
            r = wait => { r.context("IMAP IDLE failed")?; }
            _ = tokio::time::sleep(cfg.idle_timeout) => {}
            _ = shutdown.wait() => {}
        }
    }
    let session = timed(cfg, "IDLE DONE", handle.done()).await?;
    Ok((session, !shutdown.is_set()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_are_compressed() {
        assert_eq!(uid_set(&[5, 3, 4, 9, 11, 10]), "3:5,9:11");
        assert_eq!(uid_set(&[7]), "7");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn batches_respect_bytes_and_isolate_oversized() {
        let sizes = [(1, 400), (2, 400), (3, 400), (4, 5000), (5, 100)];
        let batches = plan_batches(&sizes, 1000, 1000);
        assert_eq!(
            batches,
            vec![
                vec![(1, 400), (2, 400)],
                vec![(3, 400)],
                vec![(4, 5000)],
                vec![(5, 100)]
            ]
        );
    }
}
