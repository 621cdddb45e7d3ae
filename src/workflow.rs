//! Ticket transitions. Each function runs inside the caller's transaction,
//! so a transition, its history entry and the mail it causes (outbox rows)
//! are committed together or not at all (invariant 3).
//!
//! States (docs/design.md):
//!
//! ```text
//! received ─► editing ─► reviewing ─► approved ─► published ─► unpublished
//!                │  ▲         │  ▲       │ (held while credits are missing)
//!                ▼  │         ▼  │       ▼
//!             needs_changes ◄────┴─── (SỬA, also after approval)
//!                                 rejected
//! ```
//!
//! A new ticket is routed at once (R3): to the secretariat when the board
//! has an editing stage (R5), else to its approver. What a message may do
//! is decided by the pure rulebook (`ticket::rules::decide`): the right
//! member for the stage, proved by a token issued to them for this
//! ticket's stage, version and round (`auth`), or the ticket's sender with
//! theirs. This module carries the decision out. Everything else is
//! recorded on the ticket and changes nothing; members get a short
//! explanation, strangers nothing.

pub mod auth;
pub mod authres;
pub mod commands;
pub mod copies;
pub mod dkim;
pub mod link;
pub mod notices;
pub mod route;

use anyhow::{Context, Result};
use jiff::Timestamp;
use sqlx::{AnyConnection, Row};

use self::auth::ReplyKey;
use self::commands::Command;
use self::dkim::DomainAuth;
use self::notices::Answering;
use crate::config::{Approver, Config, Live, Member, Role};
use crate::schedule::calendar::Calendar;
use crate::schedule::{self, ItemKind, reminders};
use crate::store::Attachment;
use crate::ticket::rules::{
    self, Act, Actor, Allowed, Ask, Issued, Proof, Refusal, Stage, State, View,
};

/// A ticket's state, as stored.
pub mod state {
    pub const RECEIVED: &str = "received";
    pub const EDITING: &str = "editing";
    pub const REVIEWING: &str = "reviewing";
    pub const NEEDS_CHANGES: &str = "needs_changes";
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    pub const PUBLISHED: &str = "published";
    pub const UNPUBLISHED: &str = "unpublished";
}

/// Kinds of entries in a ticket's history.
pub mod event {
    pub const RECEIVED: &str = "received";
    pub const ROUTED: &str = "routed";
    pub const REPLY: &str = "reply";
    pub const RESENT: &str = "resent";
    pub const CREDITS: &str = "credits";
    pub const AUTOMATIC: &str = "automatic";
    pub const DENIED: &str = "denied";
    pub const NEW_VERSION: &str = "new_version";
    pub const FORWARDED: &str = "forwarded";
    pub const APPROVED: &str = "approved";
    pub const REJECTED: &str = "rejected";
    pub const CHANGES_REQUESTED: &str = "changes_requested";
    pub const REASSIGNED: &str = "reassigned";
    pub const HELD: &str = "held";
    pub const PUBLISHED: &str = "published";
    pub const MEDIA_WITHHELD: &str = "media_withheld";
    pub const TAKEDOWN_REQUESTED: &str = "takedown_requested";
    pub const UNPUBLISHED: &str = "unpublished";
    /// A message to a Zalo sender could not go by Zalo.
    pub const ZALO_UNREACHABLE: &str = "zalo_unreachable";
}

/// What every transition needs.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    pub config: &'a Config,
    pub key: &'a ReplyKey,
    pub calendar: &'a Calendar,
    pub now: Timestamp,
}

/// The configuration and calendar one unit of work runs with, taken once
/// from their live cells (they may be reloaded meanwhile).
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: std::sync::Arc<Config>,
    pub calendar: std::sync::Arc<Calendar>,
}

impl Settings {
    pub fn current(config: &Live<Config>, calendar: &Live<Calendar>) -> Settings {
        Settings {
            config: config.get(),
            calendar: calendar.get(),
        }
    }

    pub fn ctx<'a>(&'a self, key: &'a ReplyKey, now: Timestamp) -> Ctx<'a> {
        Ctx {
            config: &self.config,
            key,
            calendar: &self.calendar,
            now,
        }
    }
}

/// What a new ticket is made of.
#[derive(Debug)]
pub struct NewTicket<'a> {
    pub year: i16,
    pub title: &'a str,
    /// The subject as sent, for routing by tag.
    pub subject: &'a str,
    pub sender_addr: &'a str,
    pub sender_name: &'a str,
    pub sender_member: bool,
    pub sender_unit: &'a str,
    pub channel: &'a str,
    /// The Zalo user the sender wrote from ("" for mail): what the sender is
    /// told goes there.
    pub sender_zalo: &'a str,
    pub received_at: i64,
    pub due_at: i64,
    /// Byline and source found in the text (R8).
    pub author: &'a str,
    pub source: &'a str,
    /// Kind of item and its publication deadline (R14), when known.
    pub kind: Option<ItemKind>,
    pub event_date: Option<jiff::civil::Date>,
    pub publish_due: Option<i64>,
    pub body_html: &'a str,
    pub body_text: &'a str,
    pub notes: &'a [String],
    pub attachments: &'a [Attachment],
    /// The `messages` row the ticket comes from, and its Message-ID.
    pub message: i64,
    pub message_id: Option<&'a str>,
}

/// A ticket as transitions see it.
#[derive(Debug, Clone)]
pub struct Ticket {
    pub id: i64,
    pub code: String,
    pub state: String,
    pub title: String,
    pub sender_addr: String,
    pub sender_name: String,
    pub sender_member: bool,
    pub sender_unit: String,
    /// The Zalo user the sender wrote from; "" for mail.
    pub sender_zalo: String,
    pub received_at: i64,
    pub due_at: i64,
    pub category: String,
    pub assignee_role: String,
    pub assignee: String,
    pub route_approver: String,
    pub changes_stage: String,
    pub reference_news: bool,
    pub decision_note: String,
    pub kind: String,
    pub event_date: String,
    pub publish_due: Option<i64>,
    pub alert_step: i64,
    pub escalated: bool,
    pub author: String,
    pub source: String,
    pub decided_by: String,
    pub decided_at: Option<i64>,
    pub publish_at: Option<i64>,
    pub takedown_at: Option<i64>,
    pub takedown_reason: String,
    /// The latest version's number.
    pub version: i64,
    /// Advances with every transition; tokens are issued for one round.
    pub round: i64,
    /// The round the ticket was in when tokens began to name rounds (0 for
    /// tickets opened since): mail sent before still proves its sender in
    /// that round alone.
    pub legacy_round: i64,
}

impl Ticket {
    /// What the rulebook needs to know about the ticket. A state the
    /// rulebook does not know is taken as final: nothing acts on it.
    pub fn view(&self) -> View<'_> {
        View {
            state: State::parse(&self.state).unwrap_or(State::Rejected),
            changes_stage: Stage::parse(&self.changes_stage).unwrap_or(Stage::Reviewing),
            version: self.version,
            round: self.round,
            sender: &self.sender_addr,
            assignee: &self.assignee,
            assignee_role: Role::parse(&self.assignee_role),
            decided_by: &self.decided_by,
            missing_credits: missing_credits(self).is_some(),
        }
    }

    /// A transition: tokens of the round that ends stop working.
    fn next_round(&mut self) {
        self.round = self.round.saturating_add(1);
    }
}

/// A version of a ticket's article.
#[derive(Debug, Clone)]
pub struct Version {
    pub number: i64,
    pub body_html: String,
    pub body_text: String,
    pub notes: Vec<String>,
    pub attachments: Vec<Attachment>,
}

impl Version {
    /// The version after `self` from a reply: its Word document or text
    /// (when there is any) and files (when there are any) replace this
    /// version's.
    fn next(self, text: &str, reply: &Reply<'_>) -> Version {
        let text = text.trim();
        let (body_html, body_text) = match reply.document {
            Some((html, doc_text)) => (html.to_string(), doc_text.to_string()),
            None if text.is_empty() => (self.body_html, self.body_text),
            None => (crate::content::html::text_to_html(text), text.to_string()),
        };
        let (notes, attachments) = (reply.notes, reply.attachments);
        Version {
            number: self.number + 1,
            body_html,
            body_text,
            notes: notes.to_vec(),
            attachments: if attachments.is_empty() {
                self.attachments
            } else {
                attachments.to_vec()
            },
        }
    }
}

/// Formats a ticket code: `BBT-2026-0042`.
pub fn ticket_code(prefix: &str, year: i16, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:04}")
}

fn approver_column(a: &Approver) -> String {
    match a {
        Approver::Role(r) => r.as_str().to_string(),
        Approver::Member(e) => e.clone(),
    }
}

/// Sets who a ticket waits for, from a stored approver column.
fn assignment(approver: &str) -> (String, String) {
    match Role::parse(approver) {
        Some(role) => (role.as_str().to_string(), String::new()),
        None => (String::new(), approver.to_string()),
    }
}

/// The active members who may act on a ticket at its stage (the rulebook's
/// `View::may_act`): who it waits for; once approved, its approver and the
/// heads (R1).
pub fn assignees<'c>(config: &'c Config, t: &Ticket) -> Vec<&'c Member> {
    let view = t.view();
    config.members.iter().filter(|m| view.may_act(m)).collect()
}

/// What publishing still needs from the approver (R8), if anything.
pub fn missing_credits(t: &Ticket) -> Option<&'static str> {
    match (t.author.trim().is_empty(), t.source.trim().is_empty()) {
        (true, true) => Some("tên tác giả và nguồn tin"),
        (true, false) => Some("tên tác giả"),
        (false, true) => Some("nguồn tin"),
        (false, false) => None,
    }
}

fn who(t: &Ticket) -> String {
    if t.assignee.is_empty() {
        t.assignee_role.clone()
    } else {
        t.assignee.clone()
    }
}

/// Opens a ticket, routes it, notifies its reviewers and the sender;
/// returns its code.
pub async fn submit(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    new: &NewTicket<'_>,
) -> Result<String> {
    let config = ctx.config;
    let now = ctx.now.as_millisecond();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO ticket_counters (year, last_seq) VALUES ($1, 1)
         ON CONFLICT (year) DO UPDATE SET last_seq = ticket_counters.last_seq + 1
         RETURNING last_seq",
    )
    .bind(i64::from(new.year))
    .fetch_one(&mut *conn)
    .await
    .context("Cannot draw the next ticket number")?;
    let code = ticket_code(&config.board.code_prefix, new.year, seq);

    let routed = route::route(
        config,
        new.subject,
        new.title,
        new.body_text,
        new.sender_unit,
    );
    let route_approver = approver_column(&routed.approver);
    let (first_state, (assignee_role, assignee)) = if config.review.editing_stage {
        (
            state::EDITING,
            (Role::Secretariat.as_str().to_string(), String::new()),
        )
    } else {
        (state::REVIEWING, assignment(&route_approver))
    };

    // Reminders start at the first one still ahead (R6).
    let due = Timestamp::from_millisecond(new.due_at).unwrap_or(ctx.now);
    let step = reminders::initial_step(ctx.calendar, &config.reminders, due, ctx.now);
    let next_alert = reminders::next_alert(ctx.calendar, &config.reminders, due, step, false);

    let ticket_id: i64 = sqlx::query_scalar(
        "INSERT INTO tickets (code, state, title, sender_addr, sender_name, sender_member, sender_unit, channel,
             received_at, due_at, first_message, created_at, updated_at, category, assignee_role, assignee,
             route_approver, kind, event_date, publish_due, alert_step, next_alert_at, author, source, sender_zalo)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                 $22, $23, $24)
         RETURNING id",
    )
    .bind(&code)
    .bind(first_state)
    .bind(new.title)
    .bind(new.sender_addr)
    .bind(new.sender_name)
    .bind(i64::from(new.sender_member))
    .bind(new.sender_unit)
    .bind(new.channel)
    .bind(new.received_at)
    .bind(new.due_at)
    .bind(new.message)
    .bind(now)
    .bind(&routed.category)
    .bind(&assignee_role)
    .bind(&assignee)
    .bind(&route_approver)
    .bind(new.kind.map_or("", ItemKind::as_str))
    .bind(new.event_date.map(|d| d.to_string()).unwrap_or_default())
    .bind(new.publish_due)
    .bind(step)
    .bind(next_alert.map(|a| a.at().as_millisecond()))
    .bind(new.author)
    .bind(new.source)
    .bind(new.sender_zalo)
    .fetch_one(&mut *conn)
    .await
    .with_context(|| format!("Cannot create ticket {code}"))?;

    let version = Version {
        number: 1,
        body_html: new.body_html.to_string(),
        body_text: new.body_text.to_string(),
        notes: new.notes.to_vec(),
        attachments: new.attachments.to_vec(),
    };
    add_version(conn, ticket_id, new.message, &version, now).await?;
    link_message(conn, new.message, ticket_id).await?;

    let from = if new.sender_member {
        format!("from member {}", new.sender_addr)
    } else {
        format!("from {} (not a registered member)", new.sender_addr)
    };
    add_event(
        conn,
        ticket_id,
        now,
        event::RECEIVED,
        new.sender_addr,
        Some(new.message),
        &from,
        "",
    )
    .await?;
    let t = load(conn, ticket_id).await?;
    let routing = format!(
        "to {} ({}{})",
        who(&t),
        routed.because,
        if routed.category.is_empty() {
            String::new()
        } else {
            format!(", category {}", routed.category)
        }
    );
    add_event(
        conn,
        ticket_id,
        now,
        event::ROUTED,
        "bientap",
        None,
        &routing,
        "",
    )
    .await?;

    let reason = if t.state == state::EDITING {
        "Ban biên tập nhận được bài mới; xin Anh/Chị biên tập rồi chuyển lãnh đạo duyệt."
    } else {
        "Ban biên tập nhận được bài mới cần Anh/Chị duyệt."
    };
    notices::notify_assignees(conn, ctx, &t, &version, reason).await?;
    let answering = Answering {
        message: Some(new.message),
        message_id: new.message_id,
    };
    notices::receipt(conn, ctx, &t, &version, answering).await?;
    Ok(code)
}

async fn add_version(
    conn: &mut AnyConnection,
    ticket_id: i64,
    message: i64,
    v: &Version,
    now: i64,
) -> Result<()> {
    let version_id: i64 = sqlx::query_scalar(
        "INSERT INTO versions (ticket_id, number, message_id, body_html, body_text, notes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(ticket_id)
    .bind(v.number)
    .bind(message)
    .bind(&v.body_html)
    .bind(&v.body_text)
    .bind(v.notes.join("\n"))
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .context("Cannot store the ticket version")?;
    for (position, a) in (0_i64..).zip(&v.attachments) {
        sqlx::query(
            "INSERT INTO attachments (version_id, position, filename, content_type, size, sha256, content_id, inline,
                 width, height)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(version_id)
        .bind(position)
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(&a.sha256)
        .bind(&a.content_id)
        .bind(i64::from(a.inline))
        .bind(a.width)
        .bind(a.height)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("Cannot record attachment {}", a.filename))?;
    }
    Ok(())
}

/// Appends an entry to a ticket's history; `verified` says how the sender
/// of the message was authenticated, if it mattered.
#[allow(clippy::too_many_arguments)]
pub async fn add_event(
    conn: &mut AnyConnection,
    ticket_id: i64,
    at: i64,
    kind: &str,
    actor: &str,
    message: Option<i64>,
    detail: &str,
    verified: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (ticket_id, at, kind, actor, message_id, detail, verified)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ticket_id)
    .bind(at)
    .bind(kind)
    .bind(actor)
    .bind(message)
    .bind(detail)
    .bind(verified)
    .execute(conn)
    .await
    .context("Cannot record a ticket event")?;
    Ok(())
}

/// Links an incoming message to the ticket it belongs to.
pub async fn link_message(
    conn: &mut AnyConnection,
    message_row: i64,
    ticket_id: i64,
) -> Result<()> {
    sqlx::query("UPDATE messages SET ticket_id = $1 WHERE id = $2")
        .bind(ticket_id)
        .bind(message_row)
        .execute(conn)
        .await
        .context("Cannot link the message to its ticket")?;
    Ok(())
}

/// The id of the ticket with this code.
pub async fn ticket_id(conn: &mut AnyConnection, code: &str) -> Result<Option<i64>> {
    sqlx::query_scalar("SELECT id FROM tickets WHERE code = $1")
        .bind(code)
        .fetch_optional(conn)
        .await
        .context("Cannot look up a ticket")
}

/// Loads a ticket.
pub async fn load(conn: &mut AnyConnection, id: i64) -> Result<Ticket> {
    let r = sqlx::query(
        "SELECT id, code, state, title, sender_addr, sender_name, sender_member, sender_unit, sender_zalo, received_at, due_at,
                category, assignee_role, assignee, route_approver, changes_stage, reference_news, decision_note,
                kind, event_date, publish_due, alert_step, escalated, author, source, decided_by, decided_at, publish_at,
                takedown_at, takedown_reason, round, legacy_round,
                (SELECT MAX(number) FROM versions WHERE versions.ticket_id = tickets.id) AS version
         FROM tickets WHERE id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await
    .context("Cannot load the ticket")?;
    Ok(Ticket {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        state: r.try_get("state")?,
        title: r.try_get("title")?,
        sender_addr: r.try_get("sender_addr")?,
        sender_name: r.try_get("sender_name")?,
        sender_member: r.try_get::<i64, _>("sender_member")? != 0,
        sender_unit: r.try_get("sender_unit")?,
        sender_zalo: r.try_get("sender_zalo")?,
        received_at: r.try_get("received_at")?,
        due_at: r.try_get("due_at")?,
        category: r.try_get("category")?,
        assignee_role: r.try_get("assignee_role")?,
        assignee: r.try_get("assignee")?,
        route_approver: r.try_get("route_approver")?,
        changes_stage: r.try_get("changes_stage")?,
        reference_news: r.try_get::<i64, _>("reference_news")? != 0,
        decision_note: r.try_get("decision_note")?,
        kind: r.try_get("kind")?,
        event_date: r.try_get("event_date")?,
        publish_due: r.try_get("publish_due")?,
        alert_step: r.try_get("alert_step")?,
        escalated: r.try_get::<i64, _>("escalated")? != 0,
        author: r.try_get("author")?,
        source: r.try_get("source")?,
        decided_by: r.try_get("decided_by")?,
        decided_at: r.try_get("decided_at")?,
        publish_at: r.try_get("publish_at")?,
        takedown_at: r.try_get("takedown_at")?,
        takedown_reason: r.try_get("takedown_reason")?,
        round: r.try_get("round")?,
        legacy_round: r.try_get("legacy_round")?,
        version: r.try_get::<Option<i64>, _>("version")?.unwrap_or(0),
    })
}

/// The newest version of a ticket's article.
pub async fn latest_version(conn: &mut AnyConnection, ticket_id: i64) -> Result<Version> {
    let v = sqlx::query(
        "SELECT id, number, body_html, body_text, notes FROM versions WHERE ticket_id = $1 ORDER BY number DESC LIMIT 1",
    )
    .bind(ticket_id)
    .fetch_one(&mut *conn)
    .await
    .context("Cannot load the ticket's article")?;
    let version_id: i64 = v.try_get("id")?;
    let attachments = crate::store::version_attachments(conn, version_id).await?;
    let notes: String = v.try_get("notes")?;
    Ok(Version {
        number: v.try_get("number")?,
        body_html: v.try_get("body_html")?,
        body_text: v.try_get("body_text")?,
        notes: notes.lines().map(str::to_string).collect(),
        attachments,
    })
}

/// The subject of the message a ticket's latest version came from: a
/// classification stamp may stand there alone ("[MẬT] …"), where the
/// title, cleaned of tags, no longer shows it.
pub async fn latest_subject(conn: &mut AnyConnection, ticket_id: i64) -> Result<String> {
    let subject: Option<String> = sqlx::query_scalar(
        "SELECT m.subject FROM versions v JOIN messages m ON m.id = v.message_id
         WHERE v.ticket_id = $1 ORDER BY v.number DESC LIMIT 1",
    )
    .bind(ticket_id)
    .fetch_optional(conn)
    .await
    .context("Cannot read the subject of the ticket's latest version")?;
    Ok(subject.unwrap_or_default())
}

/// A reply about an existing ticket, as the ingest stage read it.
#[derive(Debug)]
pub struct Reply<'a> {
    pub message: i64,
    pub message_id: Option<&'a str>,
    pub from: &'a str,
    /// What the replier wrote, quotes and signature removed.
    pub new_text: &'a str,
    pub recipients: &'a [String],
    /// In-Reply-To and References.
    pub references: &'a [String],
    /// The sender's domain authentication, when the board requires it.
    pub domain_auth: &'a DomainAuth,
    /// What reading the reply noticed, and its files: for a new version.
    pub notes: &'a [String],
    pub attachments: &'a [Attachment],
    /// The article's HTML and text when a Word file in the reply is the
    /// article: the new version's body then.
    pub document: Option<(&'a str, &'a str)>,
    /// The Zalo user it came from, vouched for by Zalo's signed webhook;
    /// None for mail.
    pub zalo_user: Option<&'a str>,
}

/// What a reply did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// A command changed the ticket.
    Applied(String),
    /// The sender sent a new version.
    NewVersion(i64),
    /// A command or version that was refused, and why.
    Denied(String),
    /// Recorded, nothing else to do.
    Noted,
}

/// What proves who sent a reply: a token issued to the sending address for
/// this ticket, in the address the reply was sent to or in our mail it
/// answers (In-Reply-To/References); Zalo's signed webhook for the
/// ticket's Zalo sender. Of several, the newest round counts.
async fn proof(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    reply: &Reply<'_>,
) -> Result<Proof> {
    if reply
        .zalo_user
        .is_some_and(|u| !t.sender_zalo.is_empty() && u == t.sender_zalo)
    {
        return Ok(Proof::ZaloSender);
    }
    let mut best: Option<(Issued, String)> = None;
    let mut consider = |issued: Issued, how: String| {
        if best.as_ref().is_none_or(|(b, _)| issued.round > b.round) {
            best = Some((issued, how));
        }
    };
    // Tokens from before rounds existed count in the round of the upgrade.
    let legacy = (t.round == t.legacy_round).then(|| {
        let view = t.view();
        if reply.from == t.sender_addr && view.state == State::NeedsChanges {
            (Stage::Sender, "needs_changes")
        } else {
            (view.stage(), view.stage().as_str())
        }
    });
    for (code, token) in auth::plus_tokens(reply.recipients, &ctx.config.board.address) {
        if code != t.code {
            continue;
        }
        if let Some((stage, old_stage)) = legacy
            && ctx
                .key
                .verify_legacy(&token, &t.code, reply.from, old_stage)
        {
            let issued = Issued {
                stage,
                version: t.version,
                round: t.round,
            };
            consider(
                issued,
                "token in the reply address (mail sent before the upgrade)".to_string(),
            );
        }
        let row = sqlx::query(
            "SELECT stage, version, round FROM outbox WHERE ticket_id = $1 AND token = $2 LIMIT 1",
        )
        .bind(t.id)
        .bind(&token)
        .fetch_optional(&mut *conn)
        .await
        .context("Cannot look up the token of a reply")?;
        if let Some(issued) = row.map(|r| issued_from(&r)).transpose()?.flatten()
            && ctx.key.verify(
                &token,
                &t.code,
                reply.from,
                issued.stage.as_str(),
                issued.version,
                issued.round,
            )
        {
            consider(issued, "token in the reply address".to_string());
        }
    }
    for id in reply.references {
        let row = sqlx::query(
            "SELECT stage, version, round, recipient, token FROM outbox
             WHERE message_id = $1 AND ticket_id = $2 AND stage <> ''",
        )
        .bind(id)
        .bind(t.id)
        .fetch_optional(&mut *conn)
        .await
        .context("Cannot look up our earlier mail")?;
        if let Some(r) = row {
            let recipient: String = r.try_get("recipient")?;
            let token: String = r.try_get("token")?;
            let issued = match (token.is_empty(), legacy) {
                (false, _) => issued_from(&r)?,
                // Our mail from before the upgrade, in the upgrade's round:
                // for the stage it was sent at.
                (true, Some(_)) => {
                    let stage: String = r.try_get("stage")?;
                    Stage::parse(&stage).map(|stage| Issued {
                        stage,
                        version: t.version,
                        round: t.round,
                    })
                }
                (true, None) => None,
            };
            if let Some(issued) = issued
                && !reply.from.is_empty()
                && recipient == reply.from
            {
                consider(issued, format!("reply to our mail <{id}>"));
            }
        }
    }
    Ok(best.map_or(Proof::None, |(issued, how)| Proof::Token { issued, how }))
}

/// What an outbox row's token was issued for.
fn issued_from(r: &sqlx::any::AnyRow) -> Result<Option<Issued>> {
    let stage: String = r.try_get("stage")?;
    let Some(stage) = Stage::parse(&stage) else {
        return Ok(None);
    };
    Ok(Some(Issued {
        stage,
        version: r.try_get("version")?,
        round: r.try_get("round")?,
    }))
}

/// How the sender's domain was authenticated (`dkim`); a reply that was
/// not checked while the board requires it fails.
fn dkim_ok(ctx: &Ctx<'_>, reply: &Reply<'_>) -> DomainAuth {
    match reply.domain_auth {
        _ if !ctx.config.review.require_dkim => DomainAuth::NotRequired,
        DomainAuth::NotRequired => DomainAuth::Fail("the sender's domain was not checked".into()),
        checked => checked.clone(),
    }
}

/// How to answer commands by mail, for explanations.
const HINT: &str = "Để ra lệnh, xin bấm \"Trả lời\" ngay trên thư thông báo của Ban biên tập (giữ nguyên địa chỉ trả lời) và viết lệnh ở dòng đầu: DUYỆT, TỪ CHỐI: <lý do>, SỬA: <yêu cầu>, CHUYỂN <địa chỉ thư>.";

/// The sender sent the same article again: it joins its ticket, and the
/// sender is told the code it is on record under.
pub async fn resent(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    ticket_id: i64,
    message: i64,
    message_id: Option<&str>,
) -> Result<()> {
    let t = load(conn, ticket_id).await?;
    link_message(conn, message, t.id).await?;
    add_event(
        conn,
        t.id,
        ctx.now.as_millisecond(),
        event::RESENT,
        &t.sender_addr,
        Some(message),
        "the same article sent again",
        "",
    )
    .await?;
    notices::resent(
        conn,
        ctx,
        &t,
        Answering {
            message: Some(message),
            message_id,
        },
    )
    .await
}

/// The sender supplies the author or source the ticket lacks (R8),
/// answering our mail: "Tác giả: …", "Nguồn: …". Only what is missing is
/// filled in; the rulebook has checked the sender's token.
async fn credits_from_sender(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &mut Ticket,
    reply: &Reply<'_>,
    found: crate::content::facts::Credits,
    verified: &str,
) -> Result<ReplyOutcome> {
    let mut given = Vec::new();
    if t.author.trim().is_empty()
        && let Some(a) = found.author
    {
        given.push(format!("tác giả: {a}"));
        t.author = a;
    }
    if t.source.trim().is_empty()
        && let Some(src) = found.source
    {
        given.push(format!("nguồn: {src}"));
        t.source = src;
    }
    // A held item goes out at the next publishing moment once complete.
    if t.state == state::APPROVED
        && missing_credits(t).is_none()
        && let Some(site) = &ctx.config.site
    {
        t.publish_at = Some(schedule::next_window(site, ctx.calendar, ctx.now).as_millisecond());
    }
    save_ticket(conn, ctx, t, reply.from, false).await?;
    add_event(
        conn,
        t.id,
        ctx.now.as_millisecond(),
        event::CREDITS,
        reply.from,
        Some(reply.message),
        &given.join(", "),
        verified,
    )
    .await?;
    Ok(ReplyOutcome::Applied("credits".into()))
}

/// Handles a reply about a ticket: the rulebook decides what it may do.
pub async fn on_reply(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    ticket_id: i64,
    reply: &Reply<'_>,
) -> Result<ReplyOutcome> {
    let now = ctx.now.as_millisecond();
    let mut t = load(conn, ticket_id).await?;
    link_message(conn, reply.message, t.id).await?;
    let address = (!reply.from.is_empty()).then_some(reply.from);
    let actor = Actor {
        address,
        member: address.and_then(|a| ctx.config.member(a)),
    };
    let command = commands::parse(reply.new_text);
    let target = match &command {
        Some(Command::Reassign { to }) => ctx.config.member(to),
        _ => None,
    };
    let found = crate::content::facts::credits(reply.new_text);
    let credits = (t.author.trim().is_empty() && found.author.is_some())
        || (t.source.trim().is_empty() && found.source.is_some());
    let ask = Ask {
        command: command.as_ref(),
        target,
        credits,
    };
    let proof = proof(conn, ctx, &t, reply).await?;
    let answering = Answering {
        message: Some(reply.message),
        message_id: reply.message_id,
    };
    let domain = dkim_ok(ctx, reply);
    match rules::decide(&t.view(), &actor, &proof, &domain, &ask) {
        Ok(Allowed {
            act: Act::NewVersion,
            verified,
        }) => new_version(conn, ctx, &mut t, reply, &verified, answering).await,
        Ok(Allowed {
            act: Act::Credits,
            verified,
        }) => credits_from_sender(conn, ctx, &mut t, reply, found, &verified).await,
        Ok(Allowed {
            act: Act::Command,
            verified,
        }) => match (command, actor.member) {
            (Some(command), Some(member)) => {
                apply(
                    conn, ctx, &mut t, reply, command, member, &verified, answering,
                )
                .await
            }
            _ => Ok(ReplyOutcome::Noted),
        },
        Ok(Allowed { act: Act::Note, .. }) => {
            let note = if reply.new_text.is_empty() {
                "(no new text)".to_string()
            } else {
                reply.new_text.to_string()
            };
            add_event(
                conn,
                t.id,
                now,
                event::REPLY,
                reply.from,
                Some(reply.message),
                &note,
                "",
            )
            .await?;
            Ok(ReplyOutcome::Noted)
        }
        Err(refusal) => {
            let what = command.as_ref().map_or("reply", Command::label);
            deny(conn, ctx, &t, reply, &actor, what, &refusal, answering).await
        }
    }
}

/// Records why a message changed nothing; members are told, strangers get
/// nothing (no backscatter).
#[allow(clippy::too_many_arguments)]
async fn deny(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    reply: &Reply<'_>,
    actor: &Actor<'_>,
    what: &str,
    refusal: &Refusal,
    answering: Answering<'_>,
) -> Result<ReplyOutcome> {
    let reason = refusal.reason_en();
    add_event(
        conn,
        t.id,
        ctx.now.as_millisecond(),
        event::DENIED,
        reply.from,
        Some(reply.message),
        &format!("{what}: {reason}"),
        "",
    )
    .await?;
    if refusal.tell(actor)
        && let Some(m) = actor.member
    {
        let hint = match refusal {
            Refusal::Stranger
            | Refusal::NoToken
            | Refusal::OutOfDate { .. }
            | Refusal::VersionWithoutRequest => HINT,
            _ => "",
        };
        notices::explain(conn, ctx, t, m, &refusal.reason_vi(), hint, answering).await?;
    }
    Ok(ReplyOutcome::Denied(reason))
}

/// Carries out a command the rulebook allowed.
#[allow(clippy::too_many_arguments)]
async fn apply(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &mut Ticket,
    reply: &Reply<'_>,
    command: Command,
    member: &Member,
    verified: &str,
    answering: Answering<'_>,
) -> Result<ReplyOutcome> {
    let now = ctx.now.as_millisecond();
    let stage = t.view().stage();
    let was = t.state.clone();
    let publication = stage == Stage::Publication;
    // The detail for history and mail, and the event kind.
    let (detail, kind): (String, &str) = match &command {
        Command::Approve(opts) => {
            if let Some(c) = &opts.category {
                t.category = c.clone();
            }
            t.reference_news = opts.reference_news || (publication && t.reference_news);
            if let Some(k) = opts.kind {
                t.kind = k.as_str().to_string();
            }
            if let Some(d) = opts.event_date {
                t.event_date = d.to_string();
            }
            if let Some(a) = &opts.author {
                t.author = a.clone();
            }
            if let Some(src) = &opts.source {
                t.source = src.clone();
            }
            if opts.kind.is_some() || opts.event_date.is_some() {
                t.publish_due = publication_due(ctx, t);
            }
            t.state = state::APPROVED.into();
            t.decided_by = member.email.clone();
            t.takedown_at = None;
            // Published at the next publishing moment, once it names its
            // author and source (R8).
            t.publish_at = match (&ctx.config.site, missing_credits(t)) {
                (Some(site), None) => {
                    Some(schedule::next_window(site, ctx.calendar, ctx.now).as_millisecond())
                }
                _ => None,
            };
            let mut detail = Vec::new();
            if !t.category.is_empty() {
                detail.push(format!("chuyên mục: {}", t.category));
            }
            if t.reference_news {
                detail.push("tin tham khảo".into());
            }
            if let Some(k) = ItemKind::parse(&t.kind) {
                detail.push(format!("loại: {}", k.title_vi()));
            }
            if !t.event_date.is_empty() {
                detail.push(format!("ngày sự kiện: {}", t.event_date));
            }
            if !opts.note.is_empty() {
                detail.push(opts.note.clone());
            }
            (detail.join(", "), event::APPROVED)
        }
        Command::Reject { reason } => {
            t.state = state::REJECTED.into();
            t.decision_note = reason.clone();
            t.decided_by = member.email.clone();
            (reason.clone(), event::REJECTED)
        }
        Command::Revise { request } => {
            // After approval, the corrected version comes back to the approver.
            let asking = if publication { Stage::Reviewing } else { stage };
            t.changes_stage = asking.as_str().to_string();
            if publication {
                t.assignee = t.decided_by.clone();
                t.assignee_role = String::new();
            }
            t.state = state::NEEDS_CHANGES.into();
            t.decision_note = request.clone();
            t.publish_at = None;
            (request.clone(), event::CHANGES_REQUESTED)
        }
        Command::Forward { note } => {
            t.state = state::REVIEWING.into();
            let (role, who) = assignment(&t.route_approver);
            t.assignee_role = role;
            t.assignee = who;
            (note.clone(), event::FORWARDED)
        }
        Command::Reassign { to } => {
            t.assignee = to.clone();
            t.assignee_role = String::new();
            (t.assignee.clone(), event::REASSIGNED)
        }
        Command::Unpublish { reason } => {
            // The publisher takes it down from the portal, then marks it.
            t.takedown_at = Some(now);
            t.takedown_reason = reason.clone();
            (reason.clone(), event::TAKEDOWN_REQUESTED)
        }
    };
    t.next_round();

    let version = match command {
        Command::Forward { .. } => edited_version(conn, t, reply, now).await?,
        _ => None,
    };
    save_ticket(
        conn,
        ctx,
        t,
        reply.from,
        matches!(command, Command::Approve(_) | Command::Reject { .. }),
    )
    .await?;
    add_event(
        conn,
        t.id,
        now,
        kind,
        reply.from,
        Some(reply.message),
        &detail,
        verified,
    )
    .await?;
    match &command {
        Command::Approve(_) => {
            let held = missing_credits(t);
            if let Some(missing) = held {
                add_event(
                    conn,
                    t.id,
                    now,
                    event::HELD,
                    "bientap",
                    None,
                    &format!("not published until it names {missing} (R8)"),
                    "",
                )
                .await?;
            }
            let hint = match held {
                Some(missing) => format!(
                    "Bài chưa được đăng vì chưa có {missing} (Quy chế: tin, bài đăng phải ghi rõ tác giả và nguồn tin). \
                     Xin trả lời thư này: DUYỆT, tác giả: <tên>, nguồn: <nguồn tin>."
                ),
                None if ctx.config.site.is_some() => {
                    "Bài sẽ được đăng vào đợt cập nhật tới. Để gỡ bài sau khi đăng, trả lời thư này: GỠ BÀI: <lý do>.".to_string()
                }
                None => String::new(),
            };
            notices::confirm(
                conn,
                ctx,
                t,
                member,
                command.label(),
                &detail,
                &hint,
                answering,
            )
            .await?;
            if ![state::APPROVED, state::PUBLISHED].contains(&was.as_str()) {
                notices::decision(conn, ctx, t, member).await?;
            }
        }
        Command::Reject { .. } | Command::Revise { .. } => {
            notices::confirm(
                conn,
                ctx,
                t,
                member,
                command.label(),
                &detail,
                "",
                answering,
            )
            .await?;
            notices::decision(conn, ctx, t, member).await?;
        }
        Command::Unpublish { .. } => {
            notices::confirm(
                conn,
                ctx,
                t,
                member,
                command.label(),
                &detail,
                "Bài sẽ được gỡ khỏi Cổng trong ít phút.",
                answering,
            )
            .await?;
        }
        Command::Forward { .. } => {
            notices::confirm(
                conn,
                ctx,
                t,
                member,
                command.label(),
                &detail,
                "",
                answering,
            )
            .await?;
            let v = match version {
                Some(v) => v,
                None => latest_version(conn, t.id).await?,
            };
            let reason = format!(
                "Tổ thư ký ({}) đã biên tập và trình bài; xin Anh/Chị duyệt.",
                member.name
            );
            notices::notify_assignees(conn, ctx, t, &v, &reason).await?;
        }
        Command::Reassign { .. } => {
            notices::confirm(
                conn,
                ctx,
                t,
                member,
                command.label(),
                &detail,
                "",
                answering,
            )
            .await?;
            let v = latest_version(conn, t.id).await?;
            let reason = format!("{} giao bài này cho Anh/Chị xử lý.", member.name);
            notices::notify_assignees(conn, ctx, t, &v, &reason).await?;
        }
    }
    Ok(ReplyOutcome::Applied(command.label().to_string()))
}

/// Marks a ticket published (after the portal's transaction committed) and
/// tells the sender, with the link, and the approver, with how to take it
/// down; `withheld` names the files left off the portal and why.
pub async fn mark_published(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    ticket_id: i64,
    slug: &str,
    url: &str,
    withheld: &[(String, crate::content::media::Withheld)],
) -> Result<()> {
    let now = ctx.now.as_millisecond();
    let mut t = load(conn, ticket_id).await?;
    let previous: String = sqlx::query_scalar("SELECT url FROM tickets WHERE id = $1")
        .bind(ticket_id)
        .fetch_one(&mut *conn)
        .await
        .context("Cannot read the ticket's address")?;
    let republished = !previous.is_empty();
    t.state = state::PUBLISHED.into();
    t.next_round();
    t.publish_at = None;
    t.takedown_at = None;
    t.takedown_reason = String::new();
    save_ticket(conn, ctx, &t, "bientap", false).await?;
    sqlx::query("UPDATE tickets SET published_at = $1, slug = $2, url = $3, publish_error = '', publish_attempts = 0 WHERE id = $4")
        .bind(now)
        .bind(slug)
        .bind(url)
        .bind(ticket_id)
        .execute(&mut *conn)
        .await
        .context("Cannot record the publication")?;
    add_event(
        conn,
        ticket_id,
        now,
        event::PUBLISHED,
        "bientap",
        None,
        url,
        "",
    )
    .await?;
    if !withheld.is_empty() {
        // One entry naming every file left out and why.
        let detail = withheld
            .iter()
            .map(|(name, why)| format!("{name} — {why}"))
            .collect::<Vec<_>>()
            .join("; ");
        add_event(
            conn,
            ticket_id,
            now,
            event::MEDIA_WITHHELD,
            "bientap",
            None,
            &format!("not published on the portal: {detail}"),
            "",
        )
        .await?;
    }
    notices::published(conn, ctx, &t, url, republished).await
}

/// Marks a ticket taken down (after the portal's transaction committed).
pub async fn mark_unpublished(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    ticket_id: i64,
    reason: &str,
    by: &str,
) -> Result<()> {
    let now = ctx.now.as_millisecond();
    let mut t = load(conn, ticket_id).await?;
    t.state = state::UNPUBLISHED.into();
    t.next_round();
    t.takedown_at = None;
    t.takedown_reason = reason.to_string();
    t.publish_at = None;
    save_ticket(conn, ctx, &t, by, false).await?;
    add_event(
        conn,
        ticket_id,
        now,
        event::UNPUBLISHED,
        by,
        None,
        reason,
        "",
    )
    .await
}

/// Holds an approved ticket whose version carries a classification stamp
/// (R10): it is not published, its history says why and the heads are
/// told. A new version (through SỬA) is checked again.
pub async fn hold_classified(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    ticket_id: i64,
    mark: &crate::content::screen::Mark,
) -> Result<()> {
    let mut t = load(conn, ticket_id).await?;
    t.publish_at = None;
    save_ticket(conn, ctx, &t, "bientap", false).await?;
    add_event(
        conn,
        ticket_id,
        ctx.now.as_millisecond(),
        event::HELD,
        "bientap",
        None,
        &format!(
            "not published: version {} carries the classification stamp {} ({}); classified documents are never published (R10)",
            t.version,
            mark.level.label(),
            mark.place
        ),
        "",
    )
    .await?;
    notices::held_classified(conn, ctx, &t, mark).await
}

/// Queues an approved ticket for publishing now (the console's `publish`).
pub async fn queue_now(conn: &mut AnyConnection, ctx: &Ctx<'_>, ticket_id: i64) -> Result<()> {
    let mut t = load(conn, ticket_id).await?;
    t.publish_at = Some(ctx.now.as_millisecond());
    save_ticket(conn, ctx, &t, "console", false).await
}

/// Records a failed publishing attempt and when to try again.
pub async fn publish_failed(
    conn: &mut AnyConnection,
    ticket_id: i64,
    error: &str,
    retry_at: i64,
) -> Result<()> {
    sqlx::query("UPDATE tickets SET publish_error = $1, publish_attempts = publish_attempts + 1, publish_at = $2 WHERE id = $3")
        .bind(error)
        .bind(retry_at)
        .bind(ticket_id)
        .execute(conn)
        .await
        .context("Cannot record the publishing failure")?;
    Ok(())
}

/// A ticket's publication deadline (R14) from its kind and event date.
fn publication_due(ctx: &Ctx<'_>, t: &Ticket) -> Option<i64> {
    let kind = ItemKind::parse(&t.kind)?;
    let received = ctx
        .calendar
        .date_of(Timestamp::from_millisecond(t.received_at).ok()?);
    let event = t.event_date.parse().ok();
    Some(
        schedule::publish_due(kind, event, received, ctx.calendar, &ctx.config.deadlines)
            .as_millisecond(),
    )
}

/// With CHUYỂN DUYỆT the secretariat may send an edited version: the text
/// after the command line and the files attached to the reply. Files not
/// replaced are carried over.
async fn edited_version(
    conn: &mut AnyConnection,
    t: &mut Ticket,
    reply: &Reply<'_>,
    now: i64,
) -> Result<Option<Version>> {
    let edited_text = reply
        .new_text
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .skip(1)
        .collect::<Vec<_>>()
        .join("\n");
    if edited_text.trim().is_empty() && reply.attachments.is_empty() {
        return Ok(None);
    }
    let v = latest_version(conn, t.id).await?.next(&edited_text, reply);
    add_version(conn, t.id, reply.message, &v, now).await?;
    t.version = v.number;
    Ok(Some(v))
}

async fn save_ticket(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    by: &str,
    decided: bool,
) -> Result<()> {
    let now = ctx.now.as_millisecond();
    // Reminders run while the ticket waits for a reviewer; they stop while
    // it waits for the sender and once it is decided.
    let next_alert = if [state::EDITING, state::REVIEWING].contains(&t.state.as_str()) {
        let due = Timestamp::from_millisecond(t.due_at).unwrap_or(ctx.now);
        reminders::next_alert(
            ctx.calendar,
            &ctx.config.reminders,
            due,
            t.alert_step,
            t.escalated,
        )
        .map(|a| a.at().as_millisecond())
    } else {
        None
    };
    sqlx::query(
        "UPDATE tickets SET state = $1, category = $2, assignee_role = $3, assignee = $4, changes_stage = $5,
             reference_news = $6, decision_note = $7, updated_at = $8,
             decided_at = CASE WHEN $9 = 1 THEN $8 ELSE decided_at END,
             decided_by = CASE WHEN $9 = 1 THEN $10 ELSE decided_by END,
             next_alert_at = $11, kind = $12, event_date = $13, publish_due = $14, author = $15, source = $16,
             publish_at = $17, takedown_at = $18, takedown_reason = $19, round = $20
         WHERE id = $21",
    )
    .bind(&t.state)
    .bind(&t.category)
    .bind(&t.assignee_role)
    .bind(&t.assignee)
    .bind(&t.changes_stage)
    .bind(i64::from(t.reference_news))
    .bind(&t.decision_note)
    .bind(now)
    .bind(i64::from(decided))
    .bind(by)
    .bind(next_alert)
    .bind(&t.kind)
    .bind(&t.event_date)
    .bind(t.publish_due)
    .bind(&t.author)
    .bind(&t.source)
    .bind(t.publish_at)
    .bind(t.takedown_at)
    .bind(&t.takedown_reason)
    .bind(t.round)
    .bind(t.id)
    .execute(conn)
    .await
    .with_context(|| format!("Cannot update ticket {}", t.code))?;
    Ok(())
}

/// The sender answers a change request with a new version (the rulebook
/// has checked it answers the current request).
async fn new_version(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &mut Ticket,
    reply: &Reply<'_>,
    verified: &str,
    answering: Answering<'_>,
) -> Result<ReplyOutcome> {
    let now = ctx.now.as_millisecond();
    // The new text (without the quoted request) is the new body, unless the
    // sender only attached files.
    let v = latest_version(conn, t.id)
        .await?
        .next(reply.new_text, reply);
    add_version(conn, t.id, reply.message, &v, now).await?;
    t.version = v.number;
    t.state = t.changes_stage.clone();
    t.next_round();
    // Credits the ticket lacked may come with the corrected version (R8).
    let found = crate::content::facts::credits(&v.body_text);
    if t.author.trim().is_empty()
        && let Some(a) = found.author
    {
        t.author = a;
    }
    if t.source.trim().is_empty()
        && let Some(src) = found.source
    {
        t.source = src;
    }
    save_ticket(conn, ctx, t, reply.from, false).await?;
    add_event(
        conn,
        t.id,
        now,
        event::NEW_VERSION,
        reply.from,
        Some(reply.message),
        &format!("version {}", v.number),
        verified,
    )
    .await?;
    let reason = format!(
        "Người gửi đã gửi bản sửa (phiên bản {}) theo yêu cầu; xin Anh/Chị xem lại.",
        v.number
    );
    notices::notify_assignees(conn, ctx, t, &v, &reason).await?;
    notices::version_received(conn, ctx, t, &v, answering).await?;
    Ok(ReplyOutcome::NewVersion(v.number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_zero_padded_per_year() {
        assert_eq!(ticket_code("BBT", 2026, 42), "BBT-2026-0042");
        assert_eq!(ticket_code("BBT", 2026, 12345), "BBT-2026-12345");
    }

    #[test]
    fn assignment_from_stored_approver() {
        assert_eq!(assignment("deputy"), ("deputy".to_string(), String::new()));
        assert_eq!(
            assignment("pb@xa.vn"),
            (String::new(), "pb@xa.vn".to_string())
        );
    }
}
