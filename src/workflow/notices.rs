//! The mail a transition causes, put in the outbox inside the transition's
//! transaction: notifications to reviewers (with their token), receipts and
//! decisions to senders, confirmations and explanations to members. The
//! words are in the templates (`src/outbound/templates/`); this module
//! chooses the template and fills it.

use std::sync::LazyLock;

use anyhow::Result;
use minijinja::context;
use regex::Regex;
use serde::Serialize;
use sqlx::AnyConnection;

use super::auth::reply_address;
use super::{Ctx, Ticket, Version, state};
use crate::config::{Config, Member};
use crate::content::html::ATTACHMENT_SCHEME;
use crate::outbound::templates::{self, vi_size, vi_time};
use crate::outbound::{self, Draft, Grant, Kind, OutAttachment, inline_cid};
use crate::store::Attachment;
use crate::ticket::rules::Stage;

/// The mail a notice answers: the incoming message row and its Message-ID.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answering<'a> {
    pub message: Option<i64>,
    pub message_id: Option<&'a str>,
}

static ATTACHMENT_URL: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"attachment:([0-9a-f]{64})").ok());

/// Points the article's images at the parts attached to our mail.
fn inline_images_as_cid(html: &str) -> String {
    match ATTACHMENT_URL.as_ref() {
        Some(re) => re
            .replace_all(html, |c: &regex::Captures<'_>| {
                format!("cid:{}", inline_cid(c.get(1).map_or("", |m| m.as_str())))
            })
            .into_owned(),
        None => html.to_string(),
    }
}

#[derive(Debug, Serialize)]
struct FileLine {
    filename: String,
    size: String,
}

fn file_lines<'a>(files: impl Iterator<Item = &'a Attachment>) -> minijinja::Value {
    let lines: Vec<FileLine> = files
        .map(|a| FileLine {
            filename: a.filename.clone(),
            size: vi_size(a.size),
        })
        .collect();
    minijinja::Value::from(minijinja::value::Serde(lines))
}

/// The closing lines of our mail.
pub fn signature(config: &Config) -> String {
    if config.board.signature.is_empty() {
        config.board.name.clone()
    } else {
        config.board.signature.clone()
    }
}

/// The values every template about a ticket uses.
fn ticket_ctx(ctx: &Ctx<'_>, t: &Ticket) -> minijinja::Value {
    let tz = &ctx.config.board.time_zone;
    context! {
        code => &t.code,
        title => &t.title,
        sender => &t.sender_addr,
        sender_name => &t.sender_name,
        sender_is_member => &t.sender_member,
        sender_unit => &t.sender_unit,
        zalo => !t.sender_zalo.is_empty(),
        category => &t.category,
        received => vi_time(t.received_at, tz),
        due => vi_time(t.due_at, tz),
        board_name => &ctx.config.board.name,
        signature => signature(ctx.config),
    }
}

/// The token `recipient` gets for `t` at `stage`, for the ticket's latest
/// version in its current round, and the reply address carrying it.
fn grant(ctx: &Ctx<'_>, t: &Ticket, recipient: &str, stage: Stage) -> (Grant, String) {
    let token = ctx
        .key
        .token(&t.code, recipient, stage.as_str(), t.version, t.round);
    let address = reply_address(&ctx.config.board.address, &t.code, &token);
    let grant = Grant {
        token,
        stage: stage.as_str().to_string(),
        version: t.version,
        round: t.round,
    };
    (grant, address)
}

async fn put(conn: &mut AnyConnection, ctx: &Ctx<'_>, draft: Draft) -> Result<()> {
    outbound::enqueue(conn, ctx.config, &draft, ctx.now).await?;
    Ok(())
}

/// Notifies every member the ticket now waits for; each gets a token of
/// their own in the Reply-To.
pub async fn notify_assignees(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    version: &Version,
    reason: &str,
) -> Result<()> {
    for member in super::assignees(ctx.config, t) {
        notify(conn, ctx, t, version, member, reason).await?;
    }
    Ok(())
}

async fn notify(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    version: &Version,
    member: &Member,
    reason: &str,
) -> Result<()> {
    let stage = t.view().stage();
    // Inline images travel with the HTML; other files up to the cap.
    let referenced = |a: &Attachment| {
        version
            .body_html
            .contains(&format!("{ATTACHMENT_SCHEME}{}", a.sha256))
    };
    let mut budget = ctx.config.review.attach_limit;
    let mut attach: Vec<OutAttachment> = Vec::new();
    let (mut attached, mut listed) = (Vec::new(), Vec::new());
    for a in &version.attachments {
        let size = u64::try_from(a.size).unwrap_or(u64::MAX);
        let inline = referenced(a);
        if inline || size <= budget {
            budget = budget.saturating_sub(size);
            attach.push(OutAttachment {
                sha256: a.sha256.clone(),
                content_type: a.content_type.clone(),
                filename: a.filename.clone(),
                inline,
            });
            if !inline {
                attached.push(a);
            }
        } else {
            listed.push(a);
        }
    }
    let body_html = inline_images_as_cid(&version.body_html);
    let values = context! {
        ..ticket_ctx(ctx, t),
        ..context! {
            reviewer_name => &member.name,
            reason => reason,
            stage => stage.as_str(),
            version => &version.number,
            notes => &version.notes,
            body_text => &version.body_text,
            body_html => body_html,
            attached => file_lines(attached.into_iter()),
            listed => file_lines(listed.into_iter()),
        }
    };
    let rendered = templates::render("notify.txt", &values)?;
    let html = templates::render_html("notify.html", &values)?;
    let (grant, reply_to) = grant(ctx, t, &member.email, stage);
    put(
        conn,
        ctx,
        Draft {
            kind: Kind::Notify,
            ticket: Some((t.id, t.code.clone())),
            recipient: member.email.clone(),
            rendered,
            html: Some(html),
            attachments: attach,
            reply_to: Some(reply_to),
            in_reply_to: None,
            grant: Some(grant),
            answers: None,
        },
    )
    .await
}

/// Tells a sender their submission was received.
pub async fn receipt(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    version: &Version,
    answering: Answering<'_>,
) -> Result<()> {
    let values = context! {
        ..ticket_ctx(ctx, t),
        ..context! {
            attachments => file_lines(version.attachments.iter().filter(|a| !a.inline)),
            missing_credits => super::missing_credits(t),
        }
    };
    to_sender(
        conn,
        ctx,
        t,
        Kind::Receipt,
        templates::render("receipt.txt", &values)?,
        answering,
    )
    .await
}

/// Tells a sender who sent the same article again that it is already on
/// record, under which code.
pub async fn resent(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    answering: Answering<'_>,
) -> Result<()> {
    let values = context! {
        ..ticket_ctx(ctx, t),
        ..context! { state => state_vi(&t.state) }
    };
    to_sender(
        conn,
        ctx,
        t,
        Kind::Receipt,
        templates::render("resent.txt", &values)?,
        answering,
    )
    .await
}

/// Tells the heads of the board that a mail with a classification stamp
/// (R10) was quarantined: who sent it and when, never what it says.
pub async fn classified(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    message: i64,
    from: &str,
    arrived_at: i64,
    mark: &crate::content::screen::Mark,
) -> Result<()> {
    let heads: Vec<&Member> = ctx.config.members_with(crate::config::Role::Head).collect();
    if heads.is_empty() {
        tracing::warn!(
            message,
            "a classified mail was quarantined but the board has no active head to tell"
        );
    }
    for head in heads {
        let values = context! {
            name => &head.name,
            from => from,
            received => vi_time(arrived_at, &ctx.config.board.time_zone),
            level => mark.level.label(),
            place => if mark.place == "subject" { "tiêu đề thư".to_string() } else { mark.place.replace("line", "dòng") },
            message => message,
            board_name => &ctx.config.board.name,
            signature => signature(ctx.config),
        };
        put(
            conn,
            ctx,
            Draft {
                kind: Kind::Alert,
                ticket: None,
                recipient: head.email.clone(),
                rendered: templates::render("classified.txt", &values)?,
                html: None,
                attachments: Vec::new(),
                reply_to: None,
                in_reply_to: None,
                grant: None,
                answers: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Mail to the ticket's sender. While the ticket is open it carries the
/// sender's token: answering it proves the sender when they supply credits
/// or, answering a change request, a new version (`ticket::rules`).
async fn to_sender(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    kind: Kind,
    rendered: templates::Rendered,
    answering: Answering<'_>,
) -> Result<()> {
    let open = ![state::REJECTED, state::PUBLISHED, state::UNPUBLISHED].contains(&t.state.as_str());
    let (grant, reply_to) = if open {
        let (g, address) = grant(ctx, t, &t.sender_addr, Stage::Sender);
        (Some(g), Some(address))
    } else {
        (None, None)
    };
    put(
        conn,
        ctx,
        Draft {
            kind,
            ticket: Some((t.id, t.code.clone())),
            // A sender who wrote through Zalo hears back there.
            recipient: if t.sender_zalo.is_empty() {
                t.sender_addr.clone()
            } else {
                format!("zalo:{}", t.sender_zalo)
            },
            rendered,
            html: None,
            attachments: Vec::new(),
            reply_to,
            in_reply_to: answering.message_id.map(str::to_string),
            grant,
            answers: answering.message,
        },
    )
    .await
}

/// Tells the sender what was decided (R7 for rejections).
pub async fn decision(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    approver: &Member,
) -> Result<()> {
    let tz = &ctx.config.board.time_zone;
    let values = context! {
        ..ticket_ctx(ctx, t),
        ..context! {
            approver_title => approver_title(approver),
            at => vi_time(ctx.now.as_millisecond(), tz),
            reference_news => &t.reference_news,
            reason => &t.decision_note,
            request => &t.decision_note,
        }
    };
    // The sender answers a change request with the new version; the token
    // of this round in its Reply-To lets that answer through.
    let template = match t.state.as_str() {
        state::APPROVED => "approved.txt",
        state::REJECTED => "rejected.txt",
        _ => "changes.txt",
    };
    to_sender(
        conn,
        ctx,
        t,
        Kind::Decision,
        templates::render(template, &values)?,
        Answering::default(),
    )
    .await
}

/// Tells a sender their new version arrived and went back to review.
pub async fn version_received(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    version: &Version,
    answering: Answering<'_>,
) -> Result<()> {
    let values = context! { ..ticket_ctx(ctx, t), ..context! { version => version.number } };
    to_sender(
        conn,
        ctx,
        t,
        Kind::Decision,
        templates::render("version_received.txt", &values)?,
        answering,
    )
    .await
}

fn approver_title(m: &Member) -> String {
    let role = m
        .roles
        .iter()
        .find(|r| matches!(r, crate::config::Role::Head | crate::config::Role::Deputy))
        .map(|r| r.title_vi())
        .unwrap_or("Ban biên tập");
    format!("{role} {}", m.name)
}

/// Confirms a command to the member who gave it. When the member may still
/// act on the ticket (once approved: supply what publishing needs, correct
/// or take the article down; while the sender is asked for changes:
/// decide after all), the confirmation carries their token of the new
/// round.
#[allow(clippy::too_many_arguments)]
pub async fn confirm(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    member: &Member,
    action: &str,
    detail: &str,
    hint: &str,
    answering: Answering<'_>,
) -> Result<()> {
    let values = context! {
        ..ticket_ctx(ctx, t),
        ..context! {
            reviewer_name => &member.name,
            action => action,
            detail => detail,
            hint => hint,
            state => state_vi(&t.state),
            at => vi_time(ctx.now.as_millisecond(), &ctx.config.board.time_zone),
        }
    };
    let view = t.view();
    let token = view.may_act(member).then(|| view.stage());
    to_member(
        conn,
        ctx,
        t,
        member,
        Kind::Confirm,
        templates::render("confirm.txt", &values)?,
        token,
        answering,
    )
    .await
}

/// Tells the sender their article is on the portal, with the link, and the
/// approver how to take it down.
pub async fn published(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    url: &str,
    again: bool,
) -> Result<()> {
    let values = context! {
        ..ticket_ctx(ctx, t),
        ..context! {
            url => url,
            again => again,
            at => vi_time(ctx.now.as_millisecond(), &ctx.config.board.time_zone),
        }
    };
    to_sender(
        conn,
        ctx,
        t,
        Kind::Decision,
        templates::render("published.txt", &values)?,
        Answering::default(),
    )
    .await?;
    if let Some(approver) = ctx.config.member(&t.decided_by).filter(|m| m.active) {
        let values = context! { ..values, ..context! { name => &approver.name } };
        let rendered = templates::render("published_approver.txt", &values)?;
        to_member(
            conn,
            ctx,
            t,
            approver,
            Kind::Confirm,
            rendered,
            Some(Stage::Publication),
            Answering::default(),
        )
        .await?;
    }
    Ok(())
}

/// Tells the heads that an approved ticket was not published because its
/// version carries a classification stamp (R10). Without the article.
pub async fn held_classified(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    mark: &crate::content::screen::Mark,
) -> Result<()> {
    for head in ctx.config.members_with(crate::config::Role::Head) {
        let values = context! {
            ..ticket_ctx(ctx, t),
            ..context! {
                name => &head.name,
                version => t.version,
                level => mark.level.label(),
                place => mark.place.replace("line", "dòng").replace("subject", "tiêu đề"),
            }
        };
        to_member(
            conn,
            ctx,
            t,
            head,
            Kind::Alert,
            templates::render("held_classified.txt", &values)?,
            None,
            Answering::default(),
        )
        .await?;
    }
    Ok(())
}

/// Explains to a member why their mail changed nothing.
pub async fn explain(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    member: &Member,
    reason: &str,
    hint: &str,
    answering: Answering<'_>,
) -> Result<()> {
    let values = context! {
        ..ticket_ctx(ctx, t),
        ..context! { name => &member.name, reason => reason, hint => hint }
    };
    to_member(
        conn,
        ctx,
        t,
        member,
        Kind::Explain,
        templates::render("explain.txt", &values)?,
        None,
        answering,
    )
    .await
}

/// Mail to a member; with `token`, it carries their token for that stage.
#[allow(clippy::too_many_arguments)]
async fn to_member(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    t: &Ticket,
    member: &Member,
    kind: Kind,
    rendered: templates::Rendered,
    token: Option<Stage>,
    answering: Answering<'_>,
) -> Result<()> {
    let (grant, reply_to) = match token {
        Some(stage) => {
            let (g, address) = grant(ctx, t, &member.email, stage);
            (Some(g), Some(address))
        }
        None => (None, None),
    };
    put(
        conn,
        ctx,
        Draft {
            kind,
            ticket: Some((t.id, t.code.clone())),
            recipient: member.email.clone(),
            rendered,
            html: None,
            attachments: Vec::new(),
            reply_to,
            in_reply_to: answering.message_id.map(str::to_string),
            grant,
            answers: answering.message,
        },
    )
    .await
}

/// A state in Vietnamese, for mail.
pub fn state_vi(s: &str) -> &'static str {
    crate::ticket::rules::State::parse(s).map_or("không rõ", crate::ticket::rules::state_vi)
}
