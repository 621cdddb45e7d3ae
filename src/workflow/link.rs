//! Linking a Zalo account to a member (R4): the member sends the board's
//! Zalo OA `LIÊN KẾT <email>`; a one-time code goes to that address by mail;
//! the member sends the code back in Zalo. From then on their Zalo
//! submissions carry their name and unit.
//!
//! The answer in Zalo is the same whether or not the address is a member's,
//! so the OA cannot be used to find out who the members are. Codes live 30
//! minutes, are stored hashed, and allow five tries.

use anyhow::{Context, Result};
use minijinja::context;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::Ctx;
use crate::outbound::templates;
use crate::outbound::{self, Draft, Kind};
use crate::text;

/// How long a code may be used.
const CODE_LIFETIME_MS: i64 = 30 * 60 * 1000;
/// Wrong codes allowed before a new `LIÊN KẾT` is needed.
const MAX_TRIES: i64 = 5;

/// A linking command in a Zalo text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `LIÊN KẾT <email>` (or `LIEN KET`).
    Link(String),
    /// Six digits: the code, if a link is pending.
    Code(String),
}

/// The linking command a text is, if any.
pub fn command(t: &str) -> Option<Command> {
    let t = t.trim();
    let folded = text::fold_ascii(t).to_ascii_uppercase();
    if let Some(rest) = folded.strip_prefix("LIEN KET") {
        let email = rest
            .split_whitespace()
            .find(|w| w.contains('@'))?
            .trim_matches(|c: char| matches!(c, '<' | '>' | ',' | '.' | ';' | ':'))
            .to_ascii_lowercase();
        return Some(Command::Link(email));
    }
    (t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit())).then(|| Command::Code(t.to_string()))
}

fn code_hash(user_id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{user_id}:{code}").as_bytes()))
}

/// A linking message to `recipient` (an address, or `zalo:<user id>`),
/// through the outbox.
async fn send(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    recipient: String,
    template: &str,
    values: minijinja::Value,
) -> Result<()> {
    outbound::enqueue(
        conn,
        ctx.config,
        &Draft {
            kind: Kind::Link,
            ticket: None,
            recipient,
            rendered: templates::render(template, &values)?,
            html: None,
            attachments: Vec::new(),
            reply_to: None,
            in_reply_to: None,
            grant: None,
            answers: None,
        },
        ctx.now,
    )
    .await?;
    Ok(())
}

/// A message to a Zalo user.
async fn to_zalo(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    user_id: &str,
    template: &str,
    values: minijinja::Value,
) -> Result<()> {
    send(conn, ctx, format!("zalo:{user_id}"), template, values).await
}

/// Carries out a linking command from `user_id`, in the caller's
/// transaction. `None` when `cmd` is a code but no link is pending (the
/// digits are then ordinary text); otherwise what was done, for the record.
pub async fn handle(
    conn: &mut AnyConnection,
    ctx: &Ctx<'_>,
    user_id: &str,
    cmd: &Command,
) -> Result<Option<String>> {
    let now = ctx.now.as_millisecond();
    let board_name = &ctx.config.board.name;
    let signature = super::notices::signature(ctx.config);
    match cmd {
        Command::Link(email) => {
            let member = ctx.config.member(email).filter(|m| m.active);
            let code = format!("{:06}", rand::random_range(0..1_000_000u32));
            sqlx::query(
                "INSERT INTO zalo_users (user_id, link_email, link_code, link_expires, link_tries, last_seen)
                 VALUES ($1, $2, $3, $4, 0, $5)
                 ON CONFLICT (user_id) DO UPDATE SET link_email = $2, link_code = $3, link_expires = $4,
                     link_tries = 0, last_seen = $5",
            )
            .bind(user_id)
            .bind(email)
            .bind(if member.is_some() { code_hash(user_id, &code) } else { String::new() })
            .bind(now + CODE_LIFETIME_MS)
            .bind(now)
            .execute(&mut *conn)
            .await
            .context("Cannot record a Zalo link request")?;
            if let Some(m) = member {
                send(
                    conn,
                    ctx,
                    m.email.clone(),
                    "link_code.txt",
                    context! { name => &m.name, code => &code, board_name, signature => &signature },
                )
                .await?;
            }
            to_zalo(
                conn,
                ctx,
                user_id,
                "zalo_link_sent.txt",
                context! { email, board_name, signature => &signature },
            )
            .await?;
            Ok(Some(if member.is_some() {
                format!("link requested for member {email}; code mailed")
            } else {
                format!("link requested for {email}, not an active member; nothing mailed")
            }))
        }
        Command::Code(code) => {
            let row = sqlx::query(
                "SELECT link_email, link_code, link_expires, link_tries FROM zalo_users WHERE user_id = $1",
            )
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await
            .context("Cannot read the Zalo users")?;
            let Some(row) = row else { return Ok(None) };
            let email: String = row.try_get("link_email")?;
            let hash: String = row.try_get("link_code")?;
            let expires: i64 = row.try_get("link_expires")?;
            let tries: i64 = row.try_get("link_tries")?;
            if email.is_empty() || expires < now {
                return Ok(None);
            }
            let member = ctx.config.member(&email).filter(|m| m.active);
            let good = !hash.is_empty() && tries < MAX_TRIES && code_hash(user_id, code) == hash;
            match (good, member) {
                (true, Some(m)) => {
                    sqlx::query(
                        "UPDATE zalo_users SET email = $1, linked_at = $2, link_email = '', link_code = '',
                             link_expires = 0, link_tries = 0, last_seen = $2 WHERE user_id = $3",
                    )
                    .bind(&m.email)
                    .bind(now)
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await
                    .context("Cannot link a Zalo account")?;
                    to_zalo(
                        conn,
                        ctx,
                        user_id,
                        "zalo_linked.txt",
                        context! { name => &m.name, email => &m.email, unit => &m.unit, board_name, signature => &signature },
                    )
                    .await?;
                    Ok(Some(format!("linked to member {}", m.email)))
                }
                _ => {
                    sqlx::query(
                        "UPDATE zalo_users SET link_tries = link_tries + 1, last_seen = $1 WHERE user_id = $2",
                    )
                    .bind(now)
                    .bind(user_id)
                    .execute(&mut *conn)
                    .await
                    .context("Cannot count a wrong Zalo link code")?;
                    let left = (MAX_TRIES - tries - 1).max(0);
                    to_zalo(
                        conn,
                        ctx,
                        user_id,
                        "zalo_link_wrong.txt",
                        context! { left, board_name, signature => &signature },
                    )
                    .await?;
                    Ok(Some(format!("wrong link code ({left} tries left)")))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        assert_eq!(
            command("LIÊN KẾT An.NV@collab.example.test"),
            Some(Command::Link("an.nv@collab.example.test".into()))
        );
        assert_eq!(
            command("lien ket <an@x.vn>."),
            Some(Command::Link("an@x.vn".into()))
        );
        assert_eq!(command(" 042917 "), Some(Command::Code("042917".into())));
        assert_eq!(command("LIÊN KẾT"), None);
        assert_eq!(command("Liên kết các xã trong huyện"), None);
        assert_eq!(command("0429170"), None);
        assert_eq!(command("Tin về hội nghị"), None);
    }

    #[test]
    fn codes_are_bound_to_the_user() {
        assert_ne!(code_hash("1", "123456"), code_hash("2", "123456"));
        assert_eq!(code_hash("1", "123456"), code_hash("1", "123456"));
    }
}
