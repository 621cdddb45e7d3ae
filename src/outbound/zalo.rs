//! The outbox's Zalo side: rows with `channel = 'zalo'` go to the sender's
//! Zalo account as consultation messages through the OA API.
//!
//! Rows are claimed like mail rows (a lease, the attempt counted before it
//! is made), so a restart never sends one twice. The access token lives in
//! `zalo_tokens`; when Zalo says it is invalid or expired, it is renewed
//! with the refresh token, and the new pair (the refresh token is
//! single-use) is committed before it is used. When Zalo will not deliver
//! to the user (outside the window in which an OA may answer, or the user
//! left the OA), the message goes by e-mail if the sender is a member, and
//! the ticket's history says so.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use jiff::Timestamp;
use sqlx::Row;

use tokio::sync::Notify;

use crate::config::{Config, Live};
use crate::net::Shutdown;
use crate::outbound;
use crate::service::Health;
use crate::store::Store;
use crate::text;
use crate::zalo::api::{ApiError, Client, MAX_TEXT};

/// Rows looked at per pass.
const BATCH: i64 = 50;
/// The longest a message is retried for a passing reason.
const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);
/// Renew the access token this long before it expires.
const RENEW_EARLY: Duration = Duration::from_secs(600);
/// The outbox is looked at this often for Zalo rows (an indexed query).
const POLL: Duration = Duration::from_secs(2);

/// The Zalo sending worker.
pub struct ZaloOutbox {
    pub store: Store,
    pub config: Live<Config>,
    pub client: Client,
    pub health: Arc<Health>,
    /// Wakes the mail outbox when a message goes by mail instead.
    pub mail: Arc<Notify>,
}

struct Row_ {
    id: i64,
    created_at: i64,
    ticket_id: Option<i64>,
    recipient: String,
    subject: String,
    body_text: String,
    attempts: i64,
}

/// How one send ended.
enum Sent {
    Done,
    Retry(String),
    Failed(String),
    /// Zalo will not deliver to this user.
    Unreachable(String),
}

impl ZaloOutbox {
    pub async fn run(&self, shutdown: &Shutdown) {
        loop {
            if let Err(e) = self.send_due(Some(shutdown)).await {
                tracing::error!(error = %format!("{e:#}"), "Zalo outbox pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = shutdown.wait() => return,
            }
        }
    }

    /// Sends every due Zalo row; returns how many went out.
    pub async fn send_due(&self, shutdown: Option<&Shutdown>) -> Result<usize> {
        let pool = self.store.pool();
        let now = Timestamp::now().as_millisecond();
        let rows = sqlx::query(
            "SELECT id, created_at, ticket_id, recipient, subject, body_text, attempts FROM outbox
             WHERE status = 'pending' AND channel = 'zalo' AND next_attempt_at <= $1 ORDER BY id LIMIT $2",
        )
        .bind(now)
        .bind(BATCH)
        .fetch_all(pool)
        .await
        .context("Cannot read the outbox")?;
        let mut sent = 0;
        for r in rows {
            if shutdown.is_some_and(Shutdown::is_set) {
                break;
            }
            let row = Row_ {
                id: r.try_get("id")?,
                created_at: r.try_get("created_at")?,
                ticket_id: r.try_get("ticket_id")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                body_text: r.try_get("body_text")?,
                attempts: r.try_get("attempts")?,
            };
            if !outbound::claim(pool, row.id, now).await? {
                continue;
            }
            match self.send(&row).await {
                Sent::Done => {
                    outbound::mark_sent(pool, row.id).await?;
                    tracing::info!(to = %row.recipient, subject = %row.subject, "Zalo message sent");
                    self.health.zalo_sent();
                    sent += 1;
                }
                Sent::Retry(e) => {
                    self.health.zalo_failed(&e);
                    let age =
                        Duration::from_millis(u64::try_from(now - row.created_at).unwrap_or(0));
                    if age >= GIVE_UP_AFTER {
                        self.fail(
                            row.id,
                            &format!("gave up after {} attempts: {e}", row.attempts + 1),
                        )
                        .await?;
                    } else {
                        let delay =
                            Duration::from_secs(30).saturating_mul(2u32.saturating_pow(
                                u32::try_from(row.attempts.clamp(0, 7)).unwrap_or(0),
                            ));
                        outbound::retry_later(pool, row.id, now, delay, &e).await?;
                        tracing::warn!(to = %row.recipient, error = %e, retry_in_secs = delay.as_secs(), "Zalo message not sent; will retry");
                    }
                }
                Sent::Failed(e) => {
                    self.health.zalo_failed(&e);
                    self.fail(row.id, &e).await?;
                }
                Sent::Unreachable(e) => {
                    self.health.zalo_failed(&e);
                    self.by_mail_instead(&row, &e).await?;
                }
            }
        }
        Ok(sent)
    }

    async fn fail(&self, id: i64, error: &str) -> Result<()> {
        outbound::mark_failed(self.store.pool(), id, error).await?;
        tracing::error!(id, error = %error, "Zalo message given up; see `bientap outbox list`");
        Ok(())
    }

    /// Zalo will not deliver: a member sender gets it by mail (a new row,
    /// in the same transaction as the Zalo row's end); the ticket's history
    /// records what happened either way.
    async fn by_mail_instead(&self, row: &Row_, error: &str) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let now = Timestamp::now().as_millisecond();
        let sender: Option<String> = match row.ticket_id {
            Some(t) => sqlx::query_scalar("SELECT sender_addr FROM tickets WHERE id = $1")
                .bind(t)
                .fetch_optional(&mut *tx)
                .await
                .context("Cannot read the ticket's sender")?,
            None => None,
        };
        let email = sender.filter(|s| s.contains('@') && !s.starts_with("zalo:"));
        let detail = match &email {
            Some(address) => {
                sqlx::query(
                    "INSERT INTO outbox (created_at, kind, ticket_id, recipient, message_id, stage, subject, body_text,
                         body_html, attachments, reply_to, in_reply_to, answers_message, status, attempts,
                         next_attempt_at, channel, token, version, round)
                     SELECT $1, kind, ticket_id, $2, message_id || '.mail', stage, subject, body_text, body_html,
                         attachments, reply_to, in_reply_to, answers_message, 'pending', 0, $1, 'email', token,
                         version, round
                     FROM outbox WHERE id = $3",
                )
                .bind(now)
                .bind(address)
                .bind(row.id)
                .execute(&mut *tx)
                .await
                .context("Cannot queue the mail that replaces a Zalo message")?;
                format!("không gửi được qua Zalo ({error}); đã gửi qua e-mail {address}")
            }
            None => {
                format!("không gửi được qua Zalo ({error}); người gửi không có e-mail đã liên kết")
            }
        };
        sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1 WHERE id = $2")
            .bind(text::truncate_chars(&detail, 1000))
            .bind(row.id)
            .execute(&mut *tx)
            .await
            .context("Cannot mark a Zalo message as failed")?;
        if let Some(ticket) = row.ticket_id {
            crate::workflow::add_event(
                &mut tx,
                ticket,
                now,
                crate::workflow::event::ZALO_UNREACHABLE,
                "zalo",
                None,
                &detail,
                "",
            )
            .await?;
        }
        tx.commit()
            .await
            .context("Cannot commit the change of channel")?;
        self.mail.notify_one();
        tracing::warn!(to = %row.recipient, by_mail = email.is_some(), error = %error, "Zalo message not deliverable");
        Ok(())
    }

    async fn send(&self, row: &Row_) -> Sent {
        let message = zalo_text(&row.subject, &row.body_text);
        let token = match self.access_token(false).await {
            Ok(t) => t,
            Err(e) => return Sent::Retry(format!("{e:#}")),
        };
        let first = self
            .client
            .send_text(&token, &row.recipient, &message)
            .await;
        let outcome = match first {
            Err(ApiError::Token(e)) => {
                tracing::info!(error = %e, "Zalo access token refused; renewing it");
                match self.access_token(true).await {
                    Ok(t) => self.client.send_text(&t, &row.recipient, &message).await,
                    Err(e) => return Sent::Retry(format!("{e:#}")),
                }
            }
            other => other,
        };
        match outcome {
            Ok(_) => Sent::Done,
            Err(ApiError::Unreachable(e)) => Sent::Unreachable(e),
            Err(ApiError::Transient(e)) | Err(ApiError::Token(e)) => Sent::Retry(e),
            Err(ApiError::Permanent(e)) => Sent::Failed(e),
        }
    }

    /// The current access token; renewed first when `renew` is set, when
    /// none is known or when it is about to expire.
    async fn access_token(&self, renew: bool) -> Result<String> {
        let pool = self.store.pool();
        let row = sqlx::query(
            "SELECT access_token, refresh_token, expires_at FROM zalo_tokens WHERE id = 1",
        )
        .fetch_optional(pool)
        .await
        .context("Cannot read the Zalo tokens")?;
        let config = self.config.get();
        let z = config
            .zalo
            .as_ref()
            .context("[zalo] is no longer configured")?;
        let now = Timestamp::now().as_millisecond();
        let (access, refresh, expires_at) = match row {
            Some(r) => (
                r.try_get::<String, _>("access_token")?,
                r.try_get::<String, _>("refresh_token")?,
                r.try_get::<i64, _>("expires_at")?,
            ),
            // Never used yet: the configured tokens; an access token from
            // the configuration is tried as is (Zalo says if it expired).
            None => (
                z.access_token.clone().unwrap_or_default(),
                z.refresh_token.clone(),
                if z.access_token.is_some() {
                    i64::MAX
                } else {
                    0
                },
            ),
        };
        let early = i64::try_from(RENEW_EARLY.as_millis()).unwrap_or(0);
        if !renew && !access.is_empty() && expires_at.saturating_sub(early) > now {
            return Ok(access);
        }
        let tokens = self
            .client
            .refresh(&refresh)
            .await
            .map_err(|e| anyhow::anyhow!("Cannot renew the Zalo access token: {e}"))?;
        // The refresh token just used is dead: the new one is committed
        // before anything else happens.
        let expires = now + i64::try_from(tokens.expires_in.as_millis()).unwrap_or(0);
        sqlx::query(
            "INSERT INTO zalo_tokens (id, access_token, refresh_token, expires_at, updated_at)
             VALUES (1, $1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET access_token = $1, refresh_token = $2, expires_at = $3, updated_at = $4",
        )
        .bind(&tokens.access_token)
        .bind(&tokens.refresh_token)
        .bind(expires)
        .bind(now)
        .execute(pool)
        .await
        .context("Cannot store the renewed Zalo tokens: the OA must be authorized again (a new refresh token in zalo.refresh_token_file)")?;
        self.health.zalo_refreshed();
        tracing::info!(
            expires_in_secs = tokens.expires_in.as_secs(),
            "Zalo access token renewed; the new refresh token is stored"
        );
        Ok(tokens.access_token)
    }
}

/// A mail's subject and text as one Zalo message within Zalo's limit.
fn zalo_text(subject: &str, body: &str) -> String {
    let whole = format!("{subject}\n\n{}", body.trim());
    text::truncate_chars(&whole, MAX_TEXT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_fit_zalo() {
        let long = "Nội dung. ".repeat(400);
        let t = zalo_text("[BBT-2026-0001] Đã nhận bài", &long);
        assert!(t.chars().count() <= MAX_TEXT);
        assert!(t.starts_with("[BBT-2026-0001] Đã nhận bài\n\n"));
        assert!(t.ends_with('…'));
        assert_eq!(zalo_text("Tiêu đề", "ngắn\n"), "Tiêu đề\n\nngắn");
    }
}
