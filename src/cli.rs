//! The `bientap` command line: the daemon (`run`) and the sysadmin's tools.
//!
//! Exit codes: 0 success, 1 a runtime failure (message on stderr), 2 a
//! configuration or usage problem.

mod ops;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::classify::{self, Class};
use crate::config::{self, Config, Source};
use crate::content::{self, reply};
use crate::ingest::import;
use crate::outbound;
use crate::schedule::calendar::Calendar;
use crate::schedule::{Clock, SystemClock};
use crate::service::daemon::{Board, open_board, run};
use crate::store::{Store, TicketSummary};

#[derive(Debug, Parser)]
#[command(
    name = "bientap",
    version,
    about = "Mail room of a portal's editorial board (Ban biên tập)"
)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, short, global = true, env = "BIENTAP_CONFIG", default_value = config::DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the mail room: read the board's mailbox and turn mail into tickets.
    Run {
        /// Process what is in the mailbox now, then exit.
        #[arg(long)]
        once: bool,
    },
    /// Check the configuration file and report every problem.
    CheckConfig,
    /// Look at tickets.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Show how bientap reads one message file (.eml), without storing it.
    Inspect {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Import a backlog of mail from a Maildir or an mbox file.
    Import(ImportArgs),
    /// Look at outgoing mail and send it again.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Publish an approved ticket on the portal now, outside the publishing
    /// windows (the same checks as the daemon: approved, author and source).
    Publish { code: String },
    /// Take a published article down from the portal; the row stays,
    /// marked unpublished with the reason (R19).
    Unpublish {
        code: String,
        /// Why it is taken down; kept on the portal's row and the ticket.
        #[arg(long)]
        reason: String,
    },
    /// One screen about the board: the daemon, its connections and health,
    /// tickets, queue, overdue items, last errors.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Make the running daemon re-read its configuration (members, routes,
    /// calendar…), like SIGHUP or `systemctl reload bientap`.
    Reload,
    /// Look at quarantined messages; release or drop them.
    #[command(subcommand)]
    Quarantine(ops::QuarantineCommand),
    /// List members; disable one at once (R2).
    #[command(subcommand)]
    Members(ops::MembersCommand),
    /// Back up the state (database, archive, media) while the daemon runs,
    /// or check a backup.
    Backup {
        dest: PathBuf,
        /// Check an existing backup against its manifest instead.
        #[arg(long)]
        verify: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Restore a backup into the configured state directory and database
    /// (stop the daemon first).
    Restore {
        src: PathBuf,
        /// Overwrite existing state.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        quiet: bool,
    },
    /// Print a year's days off (weekends aside), to check against the
    /// government's announcement.
    Calendar {
        year: i16,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Outgoing mail, unsent first: status, attempts, last error.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Make unsent mail (one, or all) due now; the daemon sends it.
    Retry {
        /// The outbox id from `outbox list`; all unsent mail when absent.
        id: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// List tickets, newest first.
    List {
        /// Only tickets in this state (editing, reviewing, needs_changes, approved, rejected).
        #[arg(long, conflicts_with = "overdue")]
        state: Option<String>,
        /// Only late tickets: past the approval deadline (R6) or approved and
        /// past the publication deadline (R14).
        #[arg(long)]
        overdue: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Show one ticket with its versions, attachments and history.
    Show {
        code: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    source: ImportSource,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct ImportSource {
    /// A Maildir folder (with cur/ and new/); it is only read.
    #[arg(long)]
    maildir: Option<PathBuf>,
    /// An mbox file; it is only read.
    #[arg(long)]
    mbox: Option<PathBuf>,
}

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("bientap: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(dispatch(cli))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BIENTAP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

async fn dispatch(cli: Cli) -> ExitCode {
    if let Command::Inspect { file, json } = &cli.command {
        // Inspect works without a valid config (board defaults then).
        let config = Config::load(&cli.config).ok();
        return report(inspect(config.as_ref(), file, *json).await);
    }
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::CheckConfig => {
            println!("{}: OK", config.path.display());
            println!("{}", describe(&config));
            Ok(())
        }
        Command::Run { once } => run(config, once).await,
        Command::Tickets(TicketsCommand::List {
            state,
            overdue,
            limit,
            json,
        }) => list(&config, state.as_deref(), overdue, limit, json).await,
        Command::Calendar { year, json } => calendar(&config, year, json),
        Command::Tickets(TicketsCommand::Show { code, json }) => show(&config, &code, json).await,
        Command::Import(args) => import_backlog(config, args).await,
        Command::Outbox(cmd) => outbox_command(&config, cmd).await,
        Command::Status { json } => ops::status(&config, json).await,
        Command::Reload => ops::reload(&config).await,
        Command::Quarantine(cmd) => ops::quarantine(&config, cmd).await,
        Command::Members(cmd) => ops::members(&config, cmd).await,
        Command::Backup {
            dest,
            verify,
            quiet,
        } => {
            ops::backup(
                &config,
                &dest,
                verify,
                !quiet && std::io::stderr().is_terminal(),
            )
            .await
        }
        Command::Restore { src, force, quiet } => {
            ops::restore(
                &config,
                &src,
                force,
                !quiet && std::io::stderr().is_terminal(),
            )
            .await
        }
        Command::Publish { code } => publish_now(config, &code).await,
        Command::Unpublish { code, reason } => unpublish_now(config, &code, &reason).await,
        Command::Inspect { .. } => Ok(()),
    };
    report(result)
}

fn report(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bientap: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn describe(c: &Config) -> String {
    let source = match &c.source {
        Source::Imap(i) => format!(
            "IMAP {}@{}:{} ({:?} TLS), folder {:?} → {:?}, {}",
            i.username,
            i.host,
            i.port,
            i.tls,
            i.folder,
            i.processed_folder,
            if i.idle { "IDLE" } else { "polling" }
        ),
        Source::Maildir(m) => format!("Maildir {}", m.path.display()),
    };
    let outbound = match &c.outbound {
        config::Outbound::Smtp(s) => format!("SMTP {}:{} ({:?} TLS)", s.host, s.port, s.tls),
        config::Outbound::Maildrop(p) => format!("written to {}", p.display()),
        config::Outbound::Disabled => "not configured: mail waits in the outbox".to_string(),
    };
    let approver = match &c.review.default_approver {
        config::Approver::Role(r) => r.as_str().to_string(),
        config::Approver::Member(m) => m.clone(),
    };
    format!(
        "board: {} <{}>, time zone {}\nmailbox: {source}\noutgoing mail: {outbound}\n\
         review: {}, default approver {approver}, {} route(s)\nstate: {} (database {})\nmembers: {} ({} active)\n\
         screening: {}; near copies from {:.0}%",
        c.board.name,
        c.board.address,
        c.board.time_zone_name,
        if c.review.editing_stage {
            "two stages (edit, approve)"
        } else {
            "one stage (approve)"
        },
        c.routes.len(),
        c.storage.state_dir.display(),
        config::redact_url(&c.database.url),
        c.members.len(),
        c.members.iter().filter(|m| m.active).count(),
        c.content
            .word_lists
            .iter()
            .map(|l| format!(
                "{} \"{}\" ({} phrases: {})",
                l.rule,
                l.name,
                l.phrases.len(),
                l.phrases.join(", ")
            ))
            .collect::<Vec<_>>()
            .join("; "),
        c.screening.similarity * 100.0
    )
}

async fn publish_now(config: Config, code: &str) -> Result<()> {
    let mut board = open_board(config).await?;
    let url = board.publisher.publish_now(code, SystemClock.now()).await;
    let sent = board.outbox.send_due(None).await;
    board.pipeline.store().close().await;
    println!("{code} published: {}", url?);
    sent.map(drop)
}

async fn unpublish_now(config: Config, code: &str, reason: &str) -> Result<()> {
    let mut board = open_board(config).await?;
    let done = board
        .publisher
        .take_down(code, reason, "console", SystemClock.now())
        .await;
    let sent = board.outbox.send_due(None).await;
    board.pipeline.store().close().await;
    done?;
    println!("{code} taken down from the portal; the row is kept, marked unpublished");
    sent.map(drop)
}

fn or_dash(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

fn local_time(config: &Config, ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned_datetime(config.board.time_zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

async fn list(
    config: &Config,
    state: Option<&str>,
    overdue: bool,
    limit: i64,
    json: bool,
) -> Result<()> {
    let store = Store::open(&config.database.url).await?;
    let tickets = if overdue {
        store
            .overdue_tickets(jiff::Timestamp::now().as_millisecond(), limit)
            .await?
    } else {
        store.list_tickets(state, limit).await?
    };
    store.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&tickets)?);
        return Ok(());
    }
    if tickets.is_empty() {
        println!("no tickets");
        return Ok(());
    }
    println!(
        "{:<15} {:<13} {:<16} {:<16} {:<22} {:>3}  {:<28} TITLE",
        "CODE", "STATE", "RECEIVED", "DUE", "LEFT", "ATT", "SENDER"
    );
    for t in &tickets {
        println!("{}", ticket_line(config, t));
    }
    Ok(())
}

fn ticket_line(config: &Config, t: &TicketSummary) -> String {
    let sender = if t.sender_is_member {
        t.sender.clone()
    } else {
        format!("{} (ngoài)", t.sender)
    };
    let now = jiff::Timestamp::now();
    // What the ticket is late for, or how long is left.
    let left = match t.state.as_str() {
        "editing" | "reviewing" | "needs_changes" => {
            jiff::Timestamp::from_millisecond(t.due_ms).ok()
        }
        "approved" => t
            .publish_due_ms
            .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()),
        _ => None,
    }
    .map(|due| crate::schedule::time_left_vi(due, now))
    .unwrap_or_default();
    format!(
        "{:<15} {:<13} {:<16} {:<16} {:<22} {:>3}  {:<28} {}",
        t.code,
        t.state,
        local_time(config, t.received_ms),
        local_time(config, t.due_ms),
        left,
        t.attachments,
        crate::text::truncate_chars(&sender, 28),
        crate::text::truncate_chars(&t.title, 60)
    )
}

fn calendar(config: &Config, year: i16, json: bool) -> Result<()> {
    let cal = Calendar::new(config.board.time_zone.clone(), config.calendar.clone());
    let days = cal.days_off(year);
    if json {
        println!("{}", serde_json::to_string_pretty(&days)?);
        return Ok(());
    }
    const WEEKDAYS: [&str; 7] = [
        "Thứ Hai",
        "Thứ Ba",
        "Thứ Tư",
        "Thứ Năm",
        "Thứ Sáu",
        "Thứ Bảy",
        "Chủ nhật",
    ];
    println!(
        "Days off in {year} besides Saturdays and Sundays ({}):",
        config.board.time_zone_name
    );
    for d in &days {
        let weekday = usize::try_from(d.date.weekday().to_monday_zero_offset())
            .ok()
            .and_then(|i| WEEKDAYS.get(i))
            .copied()
            .unwrap_or_default();
        println!("  {}  {:<9} {}", d.date, weekday, d.reason);
    }
    let make_up: Vec<String> = config
        .calendar
        .working_days
        .iter()
        .filter(|d| d.year() == year)
        .map(|d| d.to_string())
        .collect();
    if !make_up.is_empty() {
        println!("Make-up working days: {}", make_up.join(", "));
    }
    println!(
        "{} days off; configure others with [calendar] in {}",
        days.len(),
        config.path.display()
    );
    Ok(())
}

async fn show(config: &Config, code: &str, json: bool) -> Result<()> {
    let store = Store::open(&config.database.url).await?;
    let detail = store.ticket(&code.trim().to_ascii_uppercase()).await?;
    store.close().await;
    let Some(d) = detail else {
        bail!("No ticket {code}; `bientap tickets list` shows the codes");
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(());
    }
    let s = &d.summary;
    println!("{}  [{}]  {}", s.code, s.state, s.title);
    println!(
        "from:     {}{}{}",
        if s.sender_name.is_empty() {
            String::new()
        } else {
            format!("{} ", s.sender_name)
        },
        format_args!("<{}>", s.sender),
        if s.sender_is_member {
            format!(
                " member{}",
                if s.sender_unit.is_empty() {
                    String::new()
                } else {
                    format!(", {}", s.sender_unit)
                }
            )
        } else {
            " (not a registered member)".to_string()
        }
    );
    println!(
        "received: {} (via {})",
        local_time(config, s.received_ms),
        s.channel
    );
    let now = jiff::Timestamp::now();
    let pending = matches!(s.state.as_str(), "editing" | "reviewing" | "needs_changes");
    let left = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(|t| crate::schedule::time_left_vi(t, now))
            .unwrap_or_default()
    };
    println!(
        "due:      {} (approval limit, R6){}",
        local_time(config, s.due_ms),
        if pending {
            format!(": {}", left(s.due_ms))
        } else {
            String::new()
        }
    );
    if let Some(kind) = crate::schedule::ItemKind::parse(&s.kind) {
        let publish = s.publish_due_ms.map(|ms| {
            format!(
                ", publish by {}{}",
                local_time(config, ms),
                if s.state == "approved" {
                    format!(" ({})", left(ms))
                } else {
                    String::new()
                }
            )
        });
        println!(
            "kind:     {}{}{} (R14)",
            kind.title_vi(),
            if s.event_date.is_empty() {
                String::new()
            } else {
                format!(", event {}", s.event_date)
            },
            publish.unwrap_or_default()
        );
    }
    if pending && !s.waiting_for.is_empty() {
        println!("waiting:  {}", s.waiting_for);
    }
    if !s.category.is_empty() || s.reference_news {
        println!(
            "category: {}{}",
            if s.category.is_empty() {
                "-"
            } else {
                &s.category
            },
            if s.reference_news {
                " (reference news, R9)"
            } else {
                ""
            }
        );
    }
    if !s.decision_note.is_empty() {
        println!("note:     {}", s.decision_note);
    }
    if !s.author.is_empty() || !s.source.is_empty() {
        println!(
            "credits:  author {}; source {} (R8)",
            or_dash(&s.author),
            or_dash(&s.source)
        );
    }
    if let Some(at) = &s.publish_at {
        println!("publish:  queued for {at}");
    }
    if !s.publish_error.is_empty() {
        println!(
            "error:    last publishing attempt failed: {}",
            s.publish_error
        );
    }
    if !s.url.is_empty() {
        println!(
            "portal:   {}{}",
            s.url,
            s.published_at
                .as_deref()
                .map(|at| format!(" (published {at})"))
                .unwrap_or_default()
        );
    }
    if !s.takedown_reason.is_empty() {
        println!("taken down: {}", s.takedown_reason);
    }
    for v in &d.versions {
        println!(
            "\nversion {} ({}, via {}), raw message {}",
            v.number,
            local_time(config, v.created_at),
            v.channel,
            v.raw_sha256
        );
        for n in &v.notes {
            println!("  note: {n}");
        }
        for a in &v.attachments {
            println!(
                "  attachment: {} ({}, {} bytes{}) {}",
                a.filename,
                a.content_type,
                a.size,
                if a.inline { ", inline" } else { "" },
                a.sha256
            );
        }
        println!("  ---");
        for line in v.body_text.lines().take(40) {
            println!("  {line}");
        }
    }
    println!("\nhistory:");
    for e in &d.events {
        println!(
            "  {}  {:<17} {:<28} {}{}",
            local_time(config, e.at),
            e.kind,
            e.actor,
            e.detail.lines().next().unwrap_or_default(),
            if e.verified.is_empty() {
                String::new()
            } else {
                format!("  [verified: {}]", e.verified)
            }
        );
    }
    Ok(())
}

async fn import_backlog(config: Config, args: ImportArgs) -> Result<()> {
    let Board { pipeline, .. } = open_board(config).await?;
    let progress = !args.quiet && std::io::stderr().is_terminal();
    let summary = match (&args.source.maildir, &args.source.mbox) {
        (Some(dir), _) => import::maildir(&pipeline, dir, progress).await?,
        (None, Some(file)) => import::mbox(&pipeline, file, progress).await?,
        (None, None) => bail!("Give --maildir DIR or --mbox FILE"),
    };
    pipeline.store().close().await;
    println!("{}", import::render(&summary));
    Ok(())
}

async fn outbox_command(config: &Config, cmd: OutboxCommand) -> Result<()> {
    let store = Store::open(&config.database.url).await?;
    let result = match cmd {
        OutboxCommand::List { limit, json } => {
            let entries = outbound::list(&store, limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
            } else if entries.is_empty() {
                println!("the outbox is empty");
            } else {
                println!(
                    "{:>6}  {:<8} {:<9} {:>3}  {:<30} SUBJECT",
                    "ID", "STATUS", "KIND", "TRY", "TO"
                );
                for e in &entries {
                    println!(
                        "{:>6}  {:<8} {:<9} {:>3}  {:<30} {}",
                        e.id,
                        e.status,
                        e.kind,
                        e.attempts,
                        crate::text::truncate_chars(&e.recipient, 30),
                        crate::text::truncate_chars(&e.subject, 60)
                    );
                    if !e.last_error.is_empty() && e.status != "sent" {
                        println!("        last error: {}", e.last_error);
                    }
                }
            }
            Ok(())
        }
        OutboxCommand::Retry { id } => {
            let n = outbound::retry(&store, id).await?;
            println!("{n} mail(s) due now; the running daemon sends them");
            Ok(())
        }
    };
    store.close().await;
    result
}

/// What `inspect` prints as JSON (field names documented in the README).
#[derive(Debug, Serialize)]
struct Inspection<'a> {
    file: String,
    size: usize,
    sha256: String,
    #[serde(flatten)]
    class: Class,
    message_id: Option<String>,
    from: Option<content::Sender>,
    subject: String,
    title: String,
    date: Option<String>,
    recipients: Vec<String>,
    attachments: Vec<&'a content::Part<'a>>,
    /// Findings for the reviewer (Vietnamese, as on the ticket).
    notes: Vec<String>,
    /// A classification stamp (R10): the mail would be quarantined and the
    /// heads told.
    classified: Option<String>,
    /// Credits found (R8).
    author: Option<String>,
    source: Option<String>,
    /// The text was converted from this legacy encoding (R24).
    converted_from: Option<&'static str>,
    body_html: String,
    body_text: String,
    /// For replies: the new text without quoted history and signature.
    reply_text: Option<String>,
}

/// Near copies among the board's tickets (R12), when its state database
/// exists and answers; a note saying why not otherwise.
async fn near_copies(
    config: Option<&Config>,
    fingerprint: &crate::workflow::copies::Fingerprint,
) -> Vec<String> {
    let Some(config) = config else {
        return Vec::new();
    };
    let url = &config.database.url;
    if let Some(path) = url.strip_prefix("sqlite://")
        && !Path::new(path.split('?').next().unwrap_or(path)).exists()
    {
        return Vec::new();
    }
    let compared = async {
        let store = Store::open(url).await?;
        let mut conn = store.pool().acquire().await?;
        let found =
            crate::workflow::copies::near(&mut conn, fingerprint, config.screening.similarity)
                .await;
        drop(conn);
        store.close().await;
        found
    };
    match compared.await {
        Ok(found) => found,
        Err(e) => vec![format!("(not compared with earlier articles: {e:#})")],
    }
}

async fn inspect(config: Option<&Config>, file: &Path, json: bool) -> Result<()> {
    let raw = std::fs::read(file).with_context(|| format!("Cannot read {}", file.display()))?;
    let (prefix, board) = config
        .map(|c| (c.board.code_prefix.clone(), c.board.address.clone()))
        .unwrap_or_else(|| ("BBT".to_string(), String::new()));
    let sha256 = crate::store::archive::sha256_hex(&raw);
    let Some(msg) = content::parse(&raw) else {
        bail!(
            "{} is not an e-mail message: no header block could be read",
            file.display()
        );
    };
    let mut mail = content::extract(&msg);
    let class = classify::classify(&msg, &mail, &prefix, &board);
    let written = reply::new_text(&mail.body_text);
    let stamps = match class {
        Class::Reply { .. } => content::refine::StampScope::Reply(&written),
        _ => content::refine::StampScope::Whole,
    };
    let refined = matches!(class, Class::Submission | Class::Reply { .. }).then(|| {
        let defaults = content::refine::Options::default();
        content::refine::refine(&mut mail, config.map_or(&defaults, |c| &c.content), stamps)
    });
    let class = match refined.as_ref().and_then(|r| r.quarantine.clone()) {
        Some(reason) => Class::Quarantine { reason },
        None => class,
    };
    if matches!(class, Class::Submission) {
        let attachments: Vec<crate::store::Attachment> =
            mail.attachments.iter().map(content::Part::record).collect();
        let fingerprint = crate::workflow::copies::Fingerprint::of(&mail.body_text, &attachments);
        let found = near_copies(config, &fingerprint).await;
        mail.notes.extend(found);
    }
    let reply_text = matches!(class, Class::Reply { .. }).then_some(written);
    // A classified mail's content is not shown (R10).
    if refined.as_ref().is_some_and(|r| r.classified.is_some()) {
        mail.body_html.clear();
        mail.body_text.clear();
    }
    let inspection = Inspection {
        file: file.display().to_string(),
        size: raw.len(),
        sha256,
        class,
        message_id: mail.message_id.clone(),
        from: mail.from.clone(),
        subject: mail.subject.clone(),
        title: mail.title.clone(),
        date: mail.date_ms.map(crate::store::rfc3339),
        recipients: mail.recipients.clone(),
        attachments: mail.attachments.iter().collect(),
        notes: mail.notes.clone(),
        classified: refined
            .as_ref()
            .and_then(|r| r.classified.as_ref())
            .map(|m| format!("{} ({})", m.level.label(), m.place)),
        author: refined.as_ref().and_then(|r| r.credits.author.clone()),
        source: refined.as_ref().and_then(|r| r.credits.source.clone()),
        converted_from: refined.as_ref().and_then(|r| r.converted).map(|e| e.name()),
        body_html: mail.body_html.clone(),
        body_text: mail.body_text.clone(),
        reply_text,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
        return Ok(());
    }
    let i = &inspection;
    let kind = match &i.class {
        Class::Submission => "submission (becomes a new ticket)".to_string(),
        Class::Reply { ticket, found_in } => {
            format!("reply to ticket {ticket} (found in the {found_in})")
        }
        Class::Automatic { reason, .. } => format!("automatic mail, dropped: {reason}"),
        Class::Quarantine { reason } => format!("quarantined: {reason}"),
    };
    println!(
        "file:        {} ({} bytes, sha256 {})",
        i.file, i.size, i.sha256
    );
    match &i.classified {
        Some(mark) => println!(
            "kind:        quarantined: classification mark {mark}; not forwarded, the heads are told (R10)"
        ),
        None => println!("kind:        {kind}"),
    }
    if config.is_none() {
        println!("             (no readable configuration: board defaults used)");
    }
    println!(
        "from:        {}",
        i.from
            .as_ref()
            .map(|f| format!("{} <{}>", f.name, f.address))
            .unwrap_or_else(|| "(none)".into())
    );
    println!("subject:     {}", i.subject);
    println!("title:       {}", i.title);
    println!("date:        {}", i.date.as_deref().unwrap_or("(none)"));
    println!(
        "message-id:  {}",
        i.message_id.as_deref().unwrap_or("(none)")
    );
    for a in &i.attachments {
        println!(
            "attachment:  {} ({}, {} bytes{}{})",
            a.filename,
            a.content_type,
            a.size,
            a.dimensions
                .map(|(w, h)| format!(", {w}×{h}"))
                .unwrap_or_default(),
            if a.inline { ", inline" } else { "" }
        );
    }
    if i.classified.is_none() && matches!(i.class, Class::Submission | Class::Reply { .. }) {
        println!(
            "credits:     author {}; source {} (R8)",
            i.author.as_deref().unwrap_or("-"),
            i.source.as_deref().unwrap_or("-")
        );
    }
    if let Some(enc) = i.converted_from {
        println!("encoding:    converted from {enc} to Unicode (R24)");
    }
    for n in &i.notes {
        println!("note:        {n}");
    }
    if let Some(r) = &i.reply_text {
        println!("reply text:\n{}", indent(r));
    }
    if i.classified.is_some() {
        println!("body:        (not shown: classified)");
    } else {
        println!("body (sanitized HTML):\n{}", indent(&i.body_html));
    }
    Ok(())
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
