//! Ticket transitions. Each function runs inside the caller's transaction,
//! so a transition, its audit entry and everything it implies are committed
//! together or not at all (invariant 3).
//!
//! States (DESIGN.md): received → editing → reviewing → approved →
//! published, with needs_changes, rejected and quarantined on the side. The
//! mail room core opens tickets in `received` and records replies as events.

use anyhow::{Context, Result};
use sqlx::AnyConnection;

use crate::store::Attachment;

/// A ticket's state, as stored.
pub mod state {
    pub const RECEIVED: &str = "received";
}

/// Kinds of entries in a ticket's history.
pub mod event {
    pub const RECEIVED: &str = "received";
    pub const REPLY: &str = "reply";
    pub const AUTOMATIC: &str = "automatic";
}

/// What a new ticket is made of.
#[derive(Debug)]
pub struct NewTicket<'a> {
    pub code_prefix: &'a str,
    pub year: i16,
    pub title: &'a str,
    pub sender_addr: &'a str,
    pub sender_name: &'a str,
    pub sender_member: bool,
    pub sender_unit: &'a str,
    pub channel: &'a str,
    pub received_at: i64,
    pub due_at: i64,
    pub body_html: &'a str,
    pub body_text: &'a str,
    pub notes: &'a [String],
    pub attachments: &'a [Attachment],
    /// The `messages` row the ticket comes from.
    pub message: i64,
    pub now: i64,
}

/// Formats a ticket code: `BBT-2026-0042`.
pub fn ticket_code(prefix: &str, year: i16, seq: i64) -> String {
    format!("{prefix}-{year}-{seq:04}")
}

/// Opens a ticket with its first version; returns its code.
pub async fn open_ticket(conn: &mut AnyConnection, t: &NewTicket<'_>) -> Result<String> {
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO ticket_counters (year, last_seq) VALUES ($1, 1)
         ON CONFLICT (year) DO UPDATE SET last_seq = ticket_counters.last_seq + 1
         RETURNING last_seq",
    )
    .bind(i64::from(t.year))
    .fetch_one(&mut *conn)
    .await
    .context("Cannot draw the next ticket number")?;
    let code = ticket_code(t.code_prefix, t.year, seq);

    let ticket_id: i64 = sqlx::query_scalar(
        "INSERT INTO tickets (code, state, title, sender_addr, sender_name, sender_member,
             sender_unit, channel, received_at, due_at, first_message, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
         RETURNING id",
    )
    .bind(&code)
    .bind(state::RECEIVED)
    .bind(t.title)
    .bind(t.sender_addr)
    .bind(t.sender_name)
    .bind(i64::from(t.sender_member))
    .bind(t.sender_unit)
    .bind(t.channel)
    .bind(t.received_at)
    .bind(t.due_at)
    .bind(t.message)
    .bind(t.now)
    .fetch_one(&mut *conn)
    .await
    .with_context(|| format!("Cannot create ticket {code}"))?;

    add_version(
        conn,
        ticket_id,
        1,
        t.message,
        t.body_html,
        t.body_text,
        t.notes,
        t.attachments,
        t.now,
    )
    .await?;

    sqlx::query("UPDATE messages SET ticket_id = $1 WHERE id = $2")
        .bind(ticket_id)
        .bind(t.message)
        .execute(&mut *conn)
        .await
        .context("Cannot link the message to its ticket")?;

    let detail = if t.sender_member {
        format!("from member {}", t.sender_addr)
    } else {
        format!("from {} (not a registered member)", t.sender_addr)
    };
    add_event(
        conn,
        ticket_id,
        t.now,
        event::RECEIVED,
        t.sender_addr,
        Some(t.message),
        &detail,
    )
    .await?;
    Ok(code)
}

#[allow(clippy::too_many_arguments)]
async fn add_version(
    conn: &mut AnyConnection,
    ticket_id: i64,
    number: i64,
    message: i64,
    body_html: &str,
    body_text: &str,
    notes: &[String],
    attachments: &[Attachment],
    now: i64,
) -> Result<()> {
    let version_id: i64 = sqlx::query_scalar(
        "INSERT INTO versions (ticket_id, number, message_id, body_html, body_text, notes, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(ticket_id)
    .bind(number)
    .bind(message)
    .bind(body_html)
    .bind(body_text)
    .bind(notes.join("\n"))
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .context("Cannot store the ticket version")?;
    for (position, a) in (0_i64..).zip(attachments) {
        sqlx::query(
            "INSERT INTO attachments (version_id, position, filename, content_type, size, sha256, content_id, inline)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(version_id)
        .bind(position)
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.size)
        .bind(&a.sha256)
        .bind(&a.content_id)
        .bind(i64::from(a.inline))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("Cannot record attachment {}", a.filename))?;
    }
    Ok(())
}

/// Appends an entry to a ticket's history.
pub async fn add_event(
    conn: &mut AnyConnection,
    ticket_id: i64,
    at: i64,
    kind: &str,
    actor: &str,
    message: Option<i64>,
    detail: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (ticket_id, at, kind, actor, message_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ticket_id)
    .bind(at)
    .bind(kind)
    .bind(actor)
    .bind(message)
    .bind(detail)
    .execute(&mut *conn)
    .await
    .context("Cannot record a ticket event")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_zero_padded_per_year() {
        assert_eq!(ticket_code("BBT", 2026, 42), "BBT-2026-0042");
        assert_eq!(ticket_code("BBT", 2026, 12345), "BBT-2026-12345");
    }
}
