//! The sysadmin's commands: `status`, `reload`, `quarantine`, `members`,
//! `backup`, `restore`. They read the state database directly, and talk
//! to the running daemon through its loopback endpoint when they must.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::service::daemon::{self, Running};
use crate::service::http::Status;
use crate::store::Store;
use crate::store::console::{self, Figures};

#[derive(Debug, Subcommand)]
pub enum QuarantineCommand {
    /// Quarantined messages, newest first, with the reason.
    List {
        /// Also those released or dropped.
        #[arg(long)]
        all: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// One quarantined message; `--raw` writes its bytes to stdout (for
    /// `bientap inspect`).
    Show {
        id: i64,
        #[arg(long)]
        raw: bool,
    },
    /// Let a quarantined message through: it becomes a ticket (or a reply)
    /// as if it had just arrived, without the check that stopped it.
    Release {
        id: i64,
        /// Required for a message with a classification stamp (MẬT, TỐI
        /// MẬT, TUYỆT MẬT): who decided it may be read by the board (R10).
        /// Recorded with the message; it is still never published.
        #[arg(long, value_name = "NAME")]
        declassified_by: Option<String>,
    },
    /// Discard a quarantined message: it is marked dropped and its bytes
    /// are deleted from the archive.
    Drop { id: i64 },
}

#[derive(Debug, Subcommand)]
pub enum MembersCommand {
    /// The board's members, their roles and whether they may act.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a member at once (R2): their commands and tokens stop
    /// working, whatever the config file says, until `members enable`.
    Disable {
        email: String,
        /// Why; kept with the record.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Lift a `members disable`.
    Enable { email: String },
}

/// A request to the running daemon's endpoint; the status code and body.
async fn request(running: &Running, method: &str, path: &str) -> Result<(u16, String)> {
    let addr = running
        .http
        .as_deref()
        .context("The running daemon has no HTTP endpoint (http.listen is off)")?;
    let talk = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(response)
    };
    let response = tokio::time::timeout(std::time::Duration::from_secs(60), talk)
        .await
        .context("The daemon did not answer within 60 s")?
        .with_context(|| format!("Cannot reach the daemon at {addr}"))?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .context("The daemon's answer is not HTTP")?;
    Ok((code, body.to_string()))
}

/// `bientap reload`: the running daemon re-reads its configuration.
pub async fn reload(config: &Config) -> Result<()> {
    let Some(running) = daemon::running(config) else {
        bail!(
            "bientap is not running for this configuration (no {}); nothing to reload",
            daemon::running_file(config).display()
        );
    };
    let (code, body) = request(&running, "POST", "/reload").await?;
    if code != 200 {
        bail!("The daemon kept its configuration: {}", body.trim());
    }
    println!("reloaded: {}", body.trim());
    Ok(())
}

/// `bientap status`: one screen about the board.
pub async fn status(config: &Config, json: bool) -> Result<()> {
    let running = daemon::running(config);
    let live: Option<Status> = match &running {
        Some(r) if r.http.is_some() => match request(r, "GET", "/status").await {
            Ok((200, body)) => serde_json::from_str(&body).ok(),
            _ => None,
        },
        _ => None,
    };
    let store = Store::open(&config.database.url).await?;
    let figures = console::figures(&store, jiff::Timestamp::now().as_millisecond()).await?;
    store.close().await;
    if json {
        let value = serde_json::json!({
            "running": running,
            "daemon": live,
            "figures": figures,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    match &running {
        Some(r) => println!(
            "bientap:   running (pid {}, since {}){}",
            r.pid,
            r.started_at,
            r.http
                .as_ref()
                .map(|h| format!(", endpoint http://{h}"))
                .unwrap_or_default()
        ),
        None => println!("bientap:   not running"),
    }
    if let Some(s) = &live {
        let h = &s.health;
        println!(
            "health:    {}",
            if h.healthy { "healthy" } else { "UNHEALTHY" }
        );
        let checks = [
            ("mailbox", Some(&h.source)),
            ("smtp", Some(&h.smtp)),
            ("database", Some(&h.database)),
            ("outbox", Some(&h.outbox)),
            ("zalo", h.zalo.as_ref()),
        ];
        for (name, c) in checks.into_iter().filter_map(|(n, c)| Some((n, c?))) {
            println!(
                "  {name:<9} {:<4} {}",
                if c.ok { "ok" } else { "FAIL" },
                c.detail
            );
        }
    }
    print_figures(&figures);
    if let Some(s) = &live {
        let st = &s.state;
        println!(
            "since start: {} message(s) ingested, {} mail(s) sent, {} sending failure(s), {} reload(s)",
            st.ingested, st.sent, st.send_failures, st.reloads
        );
        for (what, error, at) in [
            ("mailbox", &st.source_error, &st.source_error_at),
            ("sending", &st.send_error, &st.send_error_at),
            ("zalo", &st.zalo_error, &st.zalo_error_at),
            ("reload", &st.reload_error, &st.last_reload),
        ] {
            if let Some(e) = error {
                println!(
                    "last {what} error{}: {e}",
                    at.map(|t| format!(" ({t})")).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

fn print_figures(f: &Figures) {
    let list = |rows: &[(String, i64)]| {
        if rows.is_empty() {
            "none".to_string()
        } else {
            rows.iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    println!("tickets:   {}; overdue {}", list(&f.tickets), f.overdue);
    println!("messages:  {}", list(&f.messages));
    println!(
        "outbox:    {} waiting, {} failed{}",
        f.outbox_pending,
        f.outbox_failed,
        f.outbox_oldest_due
            .map(|ms| format!(", oldest due {}", crate::store::rfc3339(ms)))
            .unwrap_or_default()
    );
    if f.quarantined > 0 {
        println!(
            "quarantine: {} message(s) (`bientap quarantine list`)",
            f.quarantined
        );
    }
}

pub async fn quarantine(config: &Config, cmd: QuarantineCommand) -> Result<()> {
    match cmd {
        QuarantineCommand::List { all, limit, json } => {
            let store = Store::open(&config.database.url).await?;
            let items = console::quarantine_list(&store, all, limit).await?;
            store.close().await;
            if json {
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else if items.is_empty() {
                println!("the quarantine is empty");
            } else {
                for q in items {
                    println!(
                        "{:>6}  {:<11} {}  {}  {:?}\n        {}",
                        q.id,
                        q.state,
                        q.arrived_at,
                        if q.from.is_empty() {
                            "(no sender)"
                        } else {
                            &q.from
                        },
                        q.subject,
                        q.reason
                    );
                }
            }
            Ok(())
        }
        QuarantineCommand::Show { id, raw } => {
            let store = Store::open(&config.database.url).await?;
            let item = console::quarantine_get(&store, id).await?;
            store.close().await;
            let Some(q) = item else {
                bail!("No message {id}; `bientap quarantine list` shows them");
            };
            let archive = crate::store::Archive::open(&config.storage.state_dir.join("archive"))?;
            if raw {
                let bytes = archive.read(&q.sha256).with_context(|| {
                    format!("The bytes of message {id} are not in the archive (dropped?)")
                })?;
                std::io::stdout()
                    .write_all(&bytes)
                    .context("Cannot write to stdout")?;
                return Ok(());
            }
            println!("message {}  [{}]", q.id, q.state);
            println!(
                "from:     {}",
                if q.from.is_empty() { "(none)" } else { &q.from }
            );
            println!("subject:  {}", q.subject);
            println!("arrived:  {}", q.arrived_at);
            println!("size:     {} bytes, sha256 {}", q.size, q.sha256);
            println!("reason:   {}", q.reason);
            if !q.handled_by.is_empty() {
                println!("handled:  by {}", q.handled_by);
            }
            if let Some(code) = &q.ticket {
                println!("ticket:   {code}");
            }
            if archive.contains(&q.sha256) {
                println!(
                    "\nTo read it: bientap quarantine show {id} --raw > message-{id}.eml && bientap inspect message-{id}.eml"
                );
            }
            Ok(())
        }
        QuarantineCommand::Release {
            id,
            declassified_by,
        } => {
            let board = daemon::open_board(config.clone()).await?;
            let outcome = board
                .pipeline
                .release(id, &console_user(), declassified_by.as_deref())
                .await;
            let sent = board.outbox.send_due(None).await;
            board.pipeline.store().close().await;
            let outcome = outcome?;
            println!(
                "message {id} released: {}",
                serde_json::to_string(&outcome)?
            );
            sent.map(drop)
        }
        QuarantineCommand::Drop { id } => {
            let store = Store::open(&config.database.url).await?;
            let item = console::quarantine_get(&store, id).await?;
            let Some(q) = item else {
                store.close().await;
                bail!("No message {id}; `bientap quarantine list` shows them");
            };
            let now = jiff::Timestamp::now().as_millisecond();
            let dropped = console::quarantine_drop(&store, id, &console_user(), now).await?;
            let shared: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM attachments WHERE sha256 = $1")
                    .bind(&q.sha256)
                    .fetch_one(store.pool())
                    .await
                    .context("Cannot check the archive's references")?;
            store.close().await;
            if !dropped {
                bail!("Message {id} is not in quarantine (it is {})", q.state);
            }
            let archive = crate::store::Archive::open(&config.storage.state_dir.join("archive"))?;
            if shared == 0 {
                archive.remove(&q.sha256)?;
            }
            println!("message {id} dropped; its bytes were deleted from the archive");
            Ok(())
        }
    }
}

/// Who acts at the console, for the records.
fn console_user() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_default();
    if user.is_empty() {
        "console".to_string()
    } else {
        format!("console ({user})")
    }
}

pub async fn members(config: &Config, cmd: MembersCommand) -> Result<()> {
    let store = Store::open(&config.database.url).await?;
    let result = members_with(config, &store, cmd).await;
    store.close().await;
    result
}

async fn members_with(config: &Config, store: &Store, cmd: MembersCommand) -> Result<()> {
    let disabled = console::disabled_details(store).await?;
    match cmd {
        MembersCommand::List { json } => {
            if json {
                let list: Vec<_> = config
                    .members
                    .iter()
                    .map(|m| {
                        let d = disabled.iter().find(|d| d.email == m.email);
                        serde_json::json!({
                            "name": m.name,
                            "email": m.email,
                            "roles": m.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                            "unit": m.unit,
                            "active": m.active && d.is_none(),
                            "disabled": d,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(());
            }
            for m in &config.members {
                let d = disabled.iter().find(|d| d.email == m.email);
                let state = match (m.active, d) {
                    (_, Some(d)) => format!(
                        "DISABLED {} by {}{}",
                        d.disabled_at,
                        d.disabled_by,
                        if d.reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", d.reason)
                        }
                    ),
                    (false, None) => "inactive (config file)".to_string(),
                    (true, None) => "active".to_string(),
                };
                println!(
                    "{:<32} {:<24} {:<22} {state}",
                    m.email,
                    m.name,
                    m.roles
                        .iter()
                        .map(|r| r.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                );
            }
            Ok(())
        }
        MembersCommand::Disable { email, reason } => {
            let email = crate::text::normalize_address(&email);
            if config.member(&email).is_none() {
                bail!("{email} is not a member in {}", config.path.display());
            }
            let now = jiff::Timestamp::now().as_millisecond();
            if !console::disable_member(store, &email, &console_user(), &reason, now).await? {
                println!("{email} was already disabled");
                return Ok(());
            }
            println!("{email} disabled: their commands and reply tokens no longer work");
            apply_in_daemon(config).await
        }
        MembersCommand::Enable { email } => {
            let email = crate::text::normalize_address(&email);
            if !console::enable_member(store, &email).await? {
                bail!("{email} was not disabled at the console");
            }
            println!("{email} enabled again (as the config file says)");
            apply_in_daemon(config).await
        }
    }
}

/// Makes the running daemon, if any, take a change at once.
async fn apply_in_daemon(config: &Config) -> Result<()> {
    match daemon::running(config) {
        Some(r) if r.http.is_some() => {
            let (code, body) = request(&r, "POST", "/reload").await?;
            if code != 200 {
                bail!(
                    "Recorded, but the running daemon could not reload: {}",
                    body.trim()
                );
            }
            println!("the running daemon applied it");
        }
        Some(_) => println!(
            "the running daemon has no endpoint: run `systemctl reload bientap` to apply it now"
        ),
        None => println!("bientap is not running; it applies this when it starts"),
    }
    Ok(())
}

/// `bientap backup DEST` and `bientap backup --verify DEST`.
pub async fn backup(config: &Config, dest: &Path, verify: bool, progress: bool) -> Result<()> {
    if verify {
        let v = crate::backup::verify(dest)?;
        if v.problems.is_empty() {
            println!(
                "{}: {} files, {} bytes, all as the manifest says",
                dest.display(),
                v.files,
                v.bytes
            );
            return Ok(());
        }
        for p in &v.problems {
            eprintln!("problem: {p}");
        }
        bail!(
            "{} problem(s) in the backup at {}",
            v.problems.len(),
            dest.display()
        );
    }
    let m = crate::backup::backup(config, dest, progress).await?;
    println!(
        "backup written to {}: {} tickets, {} files ({} database)",
        dest.display(),
        m.tickets,
        m.files.len(),
        m.database
    );
    Ok(())
}

/// `bientap restore SRC`.
pub async fn restore(config: &Config, src: &Path, force: bool, progress: bool) -> Result<()> {
    if daemon::running(config).is_some() {
        bail!("bientap is running for this configuration: stop it first (systemctl stop bientap)");
    }
    let m = crate::backup::restore(config, src, force, progress).await?;
    println!(
        "restored {} tickets from the backup of {} into {}",
        m.tickets,
        m.created_at,
        config.storage.state_dir.display()
    );
    Ok(())
}
