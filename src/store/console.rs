//! What the sysadmin's commands read and change: members disabled at the
//! console (R2), quarantined messages, and the figures of `status` and
//! `/metrics`.

use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::Row;

use super::{Store, rfc3339};

/// The members disabled with `bientap members disable`.
pub async fn disabled_members(store: &Store) -> Result<Vec<String>> {
    sqlx::query_scalar("SELECT email FROM member_states")
        .fetch_all(store.pool())
        .await
        .context("Cannot read the disabled members")
}

/// Disables a member at once (R2); returns false when already disabled.
pub async fn disable_member(
    store: &Store,
    email: &str,
    by: &str,
    reason: &str,
    now_ms: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO member_states (email, disabled_at, disabled_by, reason) VALUES ($1, $2, $3, $4)
         ON CONFLICT (email) DO NOTHING",
    )
    .bind(email)
    .bind(now_ms)
    .bind(by)
    .bind(reason)
    .execute(store.pool())
    .await
    .context("Cannot record the disabled member")?;
    Ok(done.rows_affected() > 0)
}

/// Lifts a console disable; returns false when the member was not disabled.
pub async fn enable_member(store: &Store, email: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM member_states WHERE email = $1")
        .bind(email)
        .execute(store.pool())
        .await
        .context("Cannot lift the disable")?;
    Ok(done.rows_affected() > 0)
}

/// When and by whom a member was disabled at the console.
#[derive(Debug, Clone, Serialize)]
pub struct Disabled {
    pub email: String,
    pub disabled_at: String,
    pub disabled_by: String,
    pub reason: String,
}

pub async fn disabled_details(store: &Store) -> Result<Vec<Disabled>> {
    let rows = sqlx::query(
        "SELECT email, disabled_at, disabled_by, reason FROM member_states ORDER BY email",
    )
    .fetch_all(store.pool())
    .await
    .context("Cannot read the disabled members")?;
    rows.iter()
        .map(|r| {
            Ok(Disabled {
                email: r.try_get("email")?,
                disabled_at: rfc3339(r.try_get("disabled_at")?),
                disabled_by: r.try_get("disabled_by")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect()
}

/// A quarantined (or once quarantined) message.
#[derive(Debug, Clone, Serialize)]
pub struct Quarantined {
    pub id: i64,
    /// `quarantined`, or what the console made of it: `released`, `dropped`.
    pub state: String,
    pub sha256: String,
    pub size: i64,
    pub arrived_at: String,
    pub from: String,
    pub subject: String,
    pub reason: String,
    pub handled_by: String,
    pub ticket: Option<String>,
}

const QUARANTINE_COLUMNS: &str =
    "m.id, m.kind, m.sha256, m.size, m.arrived_at, m.from_addr, m.subject, m.reason,
     m.handled_by, t.code";

fn quarantined(r: &sqlx::any::AnyRow) -> Result<Quarantined> {
    Ok(Quarantined {
        id: r.try_get("id")?,
        state: r.try_get("kind")?,
        sha256: r.try_get("sha256")?,
        size: r.try_get("size")?,
        arrived_at: rfc3339(r.try_get("arrived_at")?),
        from: r.try_get("from_addr")?,
        subject: r.try_get("subject")?,
        reason: r.try_get("reason")?,
        handled_by: r.try_get("handled_by")?,
        ticket: r.try_get("code")?,
    })
}

/// Quarantined messages, newest first; with `all`, also those released or
/// dropped.
pub async fn quarantine_list(store: &Store, all: bool, limit: i64) -> Result<Vec<Quarantined>> {
    let filter = if all {
        "m.kind IN ('quarantined', 'released', 'dropped')"
    } else {
        "m.kind = 'quarantined'"
    };
    let rows = sqlx::query(&format!(
        "SELECT {QUARANTINE_COLUMNS} FROM messages m LEFT JOIN tickets t ON t.id = m.ticket_id
         WHERE {filter} ORDER BY m.id DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(store.pool())
    .await
    .context("Cannot read the quarantine")?;
    rows.iter().map(quarantined).collect()
}

/// One message of the quarantine by its id.
pub async fn quarantine_get(store: &Store, id: i64) -> Result<Option<Quarantined>> {
    let row = sqlx::query(&format!(
        "SELECT {QUARANTINE_COLUMNS} FROM messages m LEFT JOIN tickets t ON t.id = m.ticket_id WHERE m.id = $1"
    ))
    .bind(id)
    .fetch_optional(store.pool())
    .await
    .context("Cannot read the message")?;
    row.as_ref().map(quarantined).transpose()
}

/// Marks a quarantined message dropped (its bytes are removed by the
/// caller); returns false when it is not in quarantine.
pub async fn quarantine_drop(store: &Store, id: i64, by: &str, now_ms: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE messages SET kind = 'dropped', handled_at = $1, handled_by = $2 WHERE id = $3 AND kind = 'quarantined'",
    )
    .bind(now_ms)
    .bind(by)
    .bind(id)
    .execute(store.pool())
    .await
    .context("Cannot drop the message")?;
    Ok(done.rows_affected() > 0)
}

/// The figures of `bientap status` and `/metrics`.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Figures {
    /// Messages recorded, by what they were (submission, reply,
    /// automatic, quarantined, released, dropped).
    pub messages: Vec<(String, i64)>,
    pub tickets: Vec<(String, i64)>,
    /// Pending tickets past their approval deadline (R6).
    pub overdue: i64,
    /// Outgoing mail not sent yet, and mail that failed for good.
    pub outbox_pending: i64,
    pub outbox_failed: i64,
    /// The oldest unsent mail that was due, milliseconds since the epoch.
    pub outbox_oldest_due: Option<i64>,
    pub send_attempts_failed: i64,
    pub quarantined: i64,
    /// Zalo events waiting for their sender's quiet window, and when the
    /// oldest of them arrived (milliseconds since the epoch).
    #[serde(default)]
    pub zalo_pending: i64,
    #[serde(default)]
    pub zalo_oldest_pending: Option<i64>,
}

pub async fn figures(store: &Store, now_ms: i64) -> Result<Figures> {
    let pool = store.pool();
    let grouped = |sql: &'static str| async move {
        let rows = sqlx::query(sql)
            .fetch_all(pool)
            .await
            .context("Cannot read the figures")?;
        rows.iter()
            .map(|r| Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?)))
            .collect::<Result<Vec<_>>>()
    };
    let messages =
        grouped("SELECT kind, COUNT(*) FROM messages GROUP BY kind ORDER BY kind").await?;
    let tickets =
        grouped("SELECT state, COUNT(*) FROM tickets GROUP BY state ORDER BY state").await?;
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await
            .context("Cannot read the figures")
    };
    let overdue = sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM tickets WHERE state IN ('editing', 'reviewing', 'needs_changes') AND due_at < $1",
    )
    .bind(now_ms)
    .fetch_one(pool)
    .await
    .context("Cannot read the figures")?;
    let outbox_pending = count("SELECT COUNT(*) FROM outbox WHERE status = 'pending'").await?;
    let outbox_failed = count("SELECT COUNT(*) FROM outbox WHERE status = 'failed'").await?;
    let send_attempts_failed =
        count("SELECT COALESCE(SUM(attempts), 0) FROM outbox WHERE last_error <> ''").await?;
    let outbox_oldest_due: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1",
    )
    .bind(now_ms)
    .fetch_one(pool)
    .await
    .context("Cannot read the figures")?;
    let zalo_pending = count("SELECT COUNT(*) FROM zalo_events WHERE state = 'pending'").await?;
    let zalo_oldest_pending: Option<i64> =
        sqlx::query_scalar("SELECT MIN(received_at) FROM zalo_events WHERE state = 'pending'")
            .fetch_one(pool)
            .await
            .context("Cannot read the figures")?;
    let quarantined = messages
        .iter()
        .find(|(k, _)| k == "quarantined")
        .map_or(0, |(_, n)| *n);
    Ok(Figures {
        messages,
        tickets,
        overdue,
        outbox_pending,
        outbox_failed,
        outbox_oldest_due,
        send_attempts_failed,
        quarantined,
        zalo_pending,
        zalo_oldest_pending,
    })
}
