//! Re-sent and copied articles (R12): one fingerprint per ticket, of its
//! latest version, compared with each new submission.

use anyhow::{Context, Result};
use jiff::Timestamp;
use sqlx::{AnyConnection, Row};

use crate::content::similar::{self, Signature};
use crate::store::Attachment;
use crate::store::archive::sha256_hex;
use crate::workflow::{notices, state};

/// What a submission is compared by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fingerprint {
    /// The normalized text and the attachments' digests: equal for the
    /// same article sent again. Empty when there is too little to tell.
    pub digest: String,
    /// MinHash of the text's word shingles; `None` when the text is too
    /// short to compare.
    pub signature: Option<Signature>,
}

impl Fingerprint {
    pub fn of(text: &str, attachments: &[Attachment]) -> Fingerprint {
        let signature = similar::signature(text);
        let mut files: Vec<&str> = attachments.iter().map(|a| a.sha256.as_str()).collect();
        files.sort_unstable();
        let digest = if signature.is_none() && files.is_empty() {
            String::new()
        } else {
            sha256_hex(format!("{}\n{}", similar::digest(text), files.join(",")).as_bytes())
        };
        Fingerprint { digest, signature }
    }
}

/// States whose tickets a new submission may repeat or copy.
const COMPARED: &[&str] = &[
    state::EDITING,
    state::REVIEWING,
    state::NEEDS_CHANGES,
    state::APPROVED,
    state::PUBLISHED,
    state::UNPUBLISHED,
];

fn compared_states() -> String {
    COMPARED
        .iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ticket this sender already sent the same article as, if any
/// (rejected tickets aside: sending again after a rejection starts anew).
pub async fn resent(
    conn: &mut AnyConnection,
    fp: &Fingerprint,
    sender: &str,
) -> Result<Option<(i64, String)>> {
    if fp.digest.is_empty() {
        return Ok(None);
    }
    let row = sqlx::query(&format!(
        "SELECT t.id, t.code FROM fingerprints f JOIN tickets t ON t.id = f.ticket_id
         WHERE f.digest = $1 AND t.sender_addr = $2 AND t.state IN ({})
         ORDER BY t.id DESC LIMIT 1",
        compared_states()
    ))
    .bind(&fp.digest)
    .bind(sender)
    .fetch_optional(conn)
    .await
    .context("Cannot look for the same article sent before")?;
    row.map(|r| Ok((r.try_get("id")?, r.try_get("code")?)))
        .transpose()
}

/// Notes for the reviewer naming the published articles and open tickets
/// this text resembles from `threshold` up, most similar first (at most 3).
pub async fn near(
    conn: &mut AnyConnection,
    fp: &Fingerprint,
    threshold: f64,
) -> Result<Vec<String>> {
    let Some(sig) = &fp.signature else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query(&format!(
        "SELECT t.code, t.title, t.state, f.signature FROM fingerprints f JOIN tickets t ON t.id = f.ticket_id
         WHERE f.signature <> '' AND t.state IN ({})",
        compared_states()
    ))
    .fetch_all(conn)
    .await
    .context("Cannot read the fingerprints of earlier articles")?;
    let mut found = Vec::new();
    for r in &rows {
        let stored: String = r.try_get("signature")?;
        let Some(other) = Signature::decode(&stored) else {
            continue;
        };
        let s = similar::similarity(sig, &other);
        if s >= threshold {
            let code: String = r.try_get("code")?;
            let title: String = r.try_get("title")?;
            let st: String = r.try_get("state")?;
            found.push((s, code, title, st));
        }
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    Ok(found
        .into_iter()
        .take(3)
        .map(|(s, code, title, st)| {
            let status = match st.as_str() {
                state::PUBLISHED => "đã đăng".to_string(),
                state::UNPUBLISHED => "đã đăng rồi gỡ".to_string(),
                other => format!("đang xử lý, {}", notices::state_vi(other)),
            };
            format!(
                "Giống bài {code} \"{title}\" ({status}) {}%: cần kiểm tra có sao chép bài của người khác không (Quy chế: không sao chép tin, bài).",
                similar::percent(s)
            )
        })
        .collect())
}

/// Records the fingerprint of a ticket's latest version.
pub async fn save(
    conn: &mut AnyConnection,
    ticket_id: i64,
    version: i64,
    fp: &Fingerprint,
    now: Timestamp,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO fingerprints (ticket_id, version, digest, signature, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (ticket_id) DO UPDATE SET version = excluded.version, digest = excluded.digest,
             signature = excluded.signature, updated_at = excluded.updated_at",
    )
    .bind(ticket_id)
    .bind(version)
    .bind(&fp.digest)
    .bind(
        fp.signature
            .as_ref()
            .map(Signature::encode)
            .unwrap_or_default(),
    )
    .bind(now.as_millisecond())
    .execute(conn)
    .await
    .context("Cannot record the article's fingerprint")?;
    Ok(())
}
