//! The daemon: the board's workers (ingest, outbox, scheduler, publisher)
//! run together until SIGTERM; SIGHUP or `bientap reload` re-reads the
//! configuration between units of work; systemd hears READY, WATCHDOG,
//! RELOADING and STOPPING; the loopback endpoint reports health.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::http::{self, Endpoint, ReloadRequest};
use super::{Health, notify, watchdog_interval};
use crate::config::{Config, Live, Source};
use crate::ingest::{self, Pipeline, PipelineParts, Wake};
use crate::net::Shutdown;
use crate::outbound::Outbox;
use crate::outbound::zalo::ZaloOutbox;
use crate::publish::{Publisher, PublisherParts};
use crate::schedule::calendar::Calendar;
use crate::schedule::reminders::Scheduler;
use crate::schedule::{Clock, SystemClock};
use crate::store::{Archive, Store};
use crate::workflow::auth::ReplyKey;

/// The parts of a running board.
pub struct Board {
    pub pipeline: Pipeline,
    pub outbox: Outbox,
    pub scheduler: Scheduler,
    pub publisher: Publisher,
    /// What a reload replaces.
    pub config: Live<Config>,
    pub calendar: Live<Calendar>,
    pub health: Arc<Health>,
}

/// Opens the state database and archive and builds the workers.
pub async fn open_board(config: Config) -> Result<Board> {
    let store = Store::open(&config.database.url).await?;
    let config = with_member_states(config, &store).await?;
    let archive = Archive::open(&config.storage.state_dir.join("archive"))?;
    let key = ReplyKey::load_or_create(&config.storage.state_dir)?;
    let calendar = Live::new(Calendar::new(
        config.board.time_zone.clone(),
        config.calendar.clone(),
    ));
    let config = Live::new(config);
    let health = Arc::new(Health::default());
    let wake = Wake::default();
    let outbox = Outbox::new(
        config.clone(),
        store.clone(),
        archive.clone(),
        Arc::clone(&wake.outbox),
        Arc::clone(&health),
    )?;
    let scheduler = Scheduler::new(
        config.clone(),
        calendar.clone(),
        store.clone(),
        Arc::new(SystemClock),
        Arc::clone(&wake.scheduler),
        Arc::clone(&wake.outbox),
    );
    let publisher = Publisher::new(PublisherParts {
        config: config.clone(),
        store: store.clone(),
        archive: archive.clone(),
        calendar: calendar.clone(),
        clock: Arc::new(SystemClock),
        key: key.clone(),
        wake: Arc::clone(&wake.publisher),
        outbox: Arc::clone(&wake.outbox),
    });
    Ok(Board {
        pipeline: Pipeline::new(PipelineParts {
            config: config.clone(),
            store,
            archive,
            key,
            calendar: calendar.clone(),
            clock: Arc::new(SystemClock),
            wake,
            health: Arc::clone(&health),
        }),
        outbox,
        scheduler,
        publisher,
        config,
        calendar,
        health,
    })
}

/// The configuration with the members disabled at the console
/// (`bientap members disable`, R2) marked inactive, whatever the file says.
pub async fn with_member_states(mut config: Config, store: &Store) -> Result<Config> {
    for email in crate::store::console::disabled_members(store).await? {
        if let Some(m) = config.members.iter_mut().find(|m| m.email == email) {
            m.active = false;
        }
    }
    Ok(config)
}

/// Where a running daemon says how to reach it: `<state_dir>/daemon.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Running {
    pub pid: u32,
    /// The endpoint's address, when it listens.
    pub http: Option<String>,
    /// The Zalo webhook receiver's address, when Zalo is configured.
    #[serde(default)]
    pub zalo: Option<String>,
    pub started_at: String,
}

pub fn running_file(config: &Config) -> PathBuf {
    config.storage.state_dir.join("daemon.json")
}

/// The running daemon of this board, if its file is there and its process
/// lives.
pub fn running(config: &Config) -> Option<Running> {
    let text = std::fs::read_to_string(running_file(config)).ok()?;
    let r: Running = serde_json::from_str(&text).ok()?;
    Path::new(&format!("/proc/{}", r.pid)).exists().then_some(r)
}

/// Runs the board until SIGTERM/SIGINT; with `once`, reads the mailbox
/// to the end, reminds, publishes and sends what is due, then returns.
pub async fn run(config: Config, once: bool) -> Result<()> {
    let path = config.path.clone();
    let source = config.source.clone();
    let http_addr = config.http;
    let Board {
        pipeline,
        outbox,
        scheduler,
        publisher,
        config,
        calendar,
        health,
    } = open_board(config).await?;
    health.started();
    // One run publishes in the ingest pass; the daemon runs the publisher.
    let (mut once_publisher, daemon_publisher) = if once {
        (Some(publisher), None)
    } else {
        (None, Some(publisher))
    };
    let (trigger, shutdown) = Shutdown::new();
    let trigger = Arc::new(trigger);
    let (reload_tx, reload_rx) = mpsc::channel::<ReloadRequest>(4);

    // The endpoint binds before READY, so a port clash fails the start.
    let listener = match (once, http_addr) {
        (false, Some(addr)) => Some(http::bind(addr).await?),
        _ => None,
    };
    let current = config.get();
    let bound = listener.as_ref().and_then(|l| l.local_addr().ok());
    let zalo = match &current.zalo {
        Some(z) => Some(ZaloWorkers::new(z, &pipeline, &config, &health, once).await?),
        None => None,
    };
    let zalo_bound = zalo
        .as_ref()
        .and_then(|z| z.listener.as_ref())
        .and_then(|l| l.local_addr().ok());
    if !once {
        write_running(&current, bound, zalo_bound)?;
    }

    let signals = {
        let trigger = Arc::clone(&trigger);
        let reload_tx = reload_tx.clone();
        tokio::spawn(async move { handle_signals(trigger, reload_tx).await })
    };
    let reloads = tokio::spawn(serve_reloads(
        reload_rx,
        path,
        config.clone(),
        calendar.clone(),
        pipeline.store().clone(),
        Arc::clone(&health),
    ));
    let watchdog = tokio::spawn(watchdog(
        Arc::clone(&health),
        pipeline.store().clone(),
        shutdown.clone(),
    ));
    let endpoint = listener.map(|l| {
        let endpoint = Endpoint {
            health: Arc::clone(&health),
            store: pipeline.store().clone(),
            config: config.clone(),
            reload: reload_tx.clone(),
        };
        tokio::spawn(http::serve(l, endpoint, shutdown.clone()))
    });
    drop(reload_tx);
    let (zalo_collector, zalo_outbox, zalo_receiver) = match zalo {
        Some(z) => {
            let serving = z.listener.map(|l| {
                let app = ingest::zalo::router(z.receiver, &z.path);
                tokio::spawn(http::serve_router(l, app, shutdown.clone()))
            });
            (Some(z.collector), Some(z.outbox), serving)
        }
        None => (None, None, None),
    };

    tracing::info!(once, http = ?bound, "bientap running");
    if !once {
        notify("READY=1");
    }
    let read_mail = async {
        let result = match &source {
            Source::Imap(imap) => ingest::imap::run(&pipeline, imap, &shutdown, once).await,
            Source::Maildir(md) => ingest::maildir::run(&pipeline, md, &shutdown, once).await,
        };
        if once {
            // Everything read is committed; remind what is due, send what
            // it all caused, then stop.
            let reminded = scheduler.round(SystemClock.now()).await;
            let published = match once_publisher.as_mut() {
                Some(p) if pipeline.config().site.is_some() => {
                    p.publish_due(SystemClock.now()).await.map(drop)
                }
                _ => Ok(()),
            };
            let collected = match &zalo_collector {
                Some(c) => c.collect_due(None).await.map(drop),
                None => Ok(()),
            };
            let sent = outbox.send_due(None).await;
            let zalo_sent = match &zalo_outbox {
                Some(z) => z.send_due(None).await.map(drop),
                None => Ok(()),
            };
            collected?;
            zalo_sent?;
            reminded?;
            published?;
            trigger.trigger();
            sent?;
        } else {
            // The source only ends on shutdown or a fatal error; stop the
            // other workers either way.
            trigger.trigger();
        }
        result
    };
    let (result, (), (), (), (), ()) = tokio::join!(
        read_mail,
        async {
            if let (false, Some(c)) = (once, &zalo_collector) {
                c.run(&shutdown).await;
            }
        },
        async {
            if let (false, Some(z)) = (once, &zalo_outbox) {
                z.run(&shutdown).await;
            }
        },
        async {
            if !once {
                outbox.run(&shutdown).await;
            }
        },
        async {
            if !once {
                scheduler.run(&shutdown).await;
            }
        },
        async {
            if let Some(p) = daemon_publisher {
                p.run(&shutdown).await;
            }
        }
    );
    signals.abort();
    reloads.abort();
    watchdog.abort();
    for e in [endpoint, zalo_receiver].into_iter().flatten() {
        if let Ok(Err(err)) = e.await {
            tracing::warn!(error = %format!("{err:#}"), "an HTTP endpoint stopped");
        }
    }
    pipeline.store().close().await;
    if !once {
        let _ = std::fs::remove_file(running_file(&current));
    }
    tracing::info!("bientap stopped");
    result
}

fn write_running(
    config: &Config,
    http: Option<std::net::SocketAddr>,
    zalo: Option<std::net::SocketAddr>,
) -> Result<()> {
    let r = Running {
        pid: std::process::id(),
        http: http.map(|a| a.to_string()),
        zalo: zalo.map(|a| a.to_string()),
        started_at: jiff::Timestamp::now().to_string(),
    };
    let path = running_file(config);
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&r)?)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("Cannot write {}", path.display()))
}

/// The Zalo channel's workers: the webhook receiver (not in a one-off
/// run), the collector and the sender.
struct ZaloWorkers {
    listener: Option<tokio::net::TcpListener>,
    path: String,
    receiver: ingest::zalo::Receiver,
    collector: ingest::zalo::Collector,
    outbox: ZaloOutbox,
}

impl ZaloWorkers {
    async fn new(
        z: &crate::config::Zalo,
        pipeline: &Pipeline,
        config: &Live<Config>,
        health: &Arc<Health>,
        once: bool,
    ) -> Result<ZaloWorkers> {
        // The receiver binds before READY, so a port clash fails the start.
        let listener = if once {
            None
        } else {
            Some(
                tokio::net::TcpListener::bind(z.listen)
                    .await
                    .with_context(|| {
                        format!(
                            "Cannot listen on {} (zalo.listen) for Zalo's webhooks: is the port taken?",
                            z.listen
                        )
                    })?,
            )
        };
        let wake = Arc::new(tokio::sync::Notify::new());
        let client = ingest::zalo::client(z)?;
        Ok(ZaloWorkers {
            listener,
            path: z.path.clone(),
            receiver: ingest::zalo::Receiver {
                store: pipeline.store().clone(),
                archive: pipeline.archive().clone(),
                config: config.clone(),
                wake: Arc::clone(&wake),
                health: Arc::clone(health),
            },
            collector: ingest::zalo::Collector::new(pipeline.clone(), client.clone(), wake),
            outbox: ZaloOutbox {
                store: pipeline.store().clone(),
                config: config.clone(),
                client,
                health: Arc::clone(health),
                mail: pipeline.outbox_wake(),
            },
        })
    }
}

/// SIGTERM/SIGINT: stop taking new mail, finish the batch in hand. SIGHUP:
/// reload.
async fn handle_signals(
    trigger: Arc<crate::net::ShutdownTrigger>,
    reload: mpsc::Sender<ReloadRequest>,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        // Without signal handlers the daemon can only be killed; that is
        // safe (nothing is acknowledged before commit) but not graceful.
        tracing::warn!("cannot install signal handlers; stop will not be graceful");
        return;
    };
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                let (tx, rx) = tokio::sync::oneshot::channel();
                if reload.send(tx).await.is_ok() {
                    // The outcome is logged by the reloader.
                    let _ = rx.await;
                }
            }
        }
    }
    tracing::info!("shutdown requested; finishing the message in hand");
    notify("STOPPING=1");
    trigger.trigger();
}

/// Applies reload requests one at a time.
async fn serve_reloads(
    mut requests: mpsc::Receiver<ReloadRequest>,
    path: PathBuf,
    config: Live<Config>,
    calendar: Live<Calendar>,
    store: Store,
    health: Arc<Health>,
) {
    while let Some(answer) = requests.recv().await {
        notify("RELOADING=1");
        let outcome = reload(&path, &config, &calendar, &store).await;
        match &outcome {
            Ok(summary) => tracing::info!(%summary, "configuration reloaded"),
            Err(problem) => {
                tracing::error!(%problem, "configuration not reloaded; the previous one stays")
            }
        }
        health.reloaded(outcome.as_ref().map(drop).map_err(Clone::clone));
        notify("READY=1");
        let _ = answer.send(outcome);
    }
}

/// Re-reads the configuration file: members, routes, review, calendar,
/// deadlines, reminders, site, screening take effect for the next unit of
/// work; the mailbox, database, storage, outgoing mail and endpoint need a
/// restart.
async fn reload(
    path: &Path,
    config: &Live<Config>,
    calendar: &Live<Calendar>,
    store: &Store,
) -> Result<String, String> {
    let new = Config::load(path).map_err(|e| e.to_string())?;
    let new = with_member_states(new, store)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let old = config.get();
    let mut restart = Vec::new();
    if format!("{:?}", old.source) != format!("{:?}", new.source) {
        restart.push("[imap]/[maildir]");
    }
    if old.database.url != new.database.url {
        restart.push("[database]");
    }
    if old.storage.state_dir != new.storage.state_dir {
        restart.push("[storage]");
    }
    if format!("{:?}", old.outbound) != format!("{:?}", new.outbound) {
        restart.push("[smtp]/[maildrop]");
    }
    if old.http != new.http {
        restart.push("[http]");
    }
    let summary = format!(
        "{} member(s) ({} active), {} route(s){}",
        new.members.len(),
        new.members.iter().filter(|m| m.active).count(),
        new.routes.len(),
        if restart.is_empty() {
            String::new()
        } else {
            format!(
                "; changes to {} take effect at the next restart",
                restart.join(", ")
            )
        }
    );
    calendar.set(Calendar::new(
        new.board.time_zone.clone(),
        new.calendar.clone(),
    ));
    config.set(new);
    Ok(summary)
}

/// Tells systemd we are alive while the database answers and no batch is
/// stuck; stays silent otherwise, so systemd restarts a hung daemon.
async fn watchdog(health: Arc<Health>, store: Store, shutdown: Shutdown) {
    let Some(every) = watchdog_interval() else {
        return;
    };
    loop {
        let alive = !health.snapshot().stuck(jiff::Timestamp::now())
            && tokio::time::timeout(
                Duration::from_secs(5),
                sqlx::query("SELECT 1").execute(store.pool()),
            )
            .await
            .is_ok_and(|r| r.is_ok());
        if alive {
            notify("WATCHDOG=1");
        } else {
            tracing::error!(
                "not alive: no watchdog ping (a batch is stuck or the database does not answer)"
            );
        }
        if !shutdown.sleep(every).await {
            return;
        }
    }
}
