//! Who may change a ticket by mail (invariant 4, R26).
//!
//! Every mail that invites someone to act carries a token: an HMAC over
//! (ticket, member, stage, version, round) with a key kept in the state
//! directory. It travels in the
//! plus-addressed Reply-To (`bbt+bbt-2026-0042.<token>@domain`), and the
//! notification's Message-ID is stored, so a reply proves itself either by
//! the token in the address it was sent to, or by referencing (In-Reply-To
//! / References) a notification sent to that very member for that ticket
//! and stage. A token of another member, ticket, stage, version or round
//! proves nothing (`ticket::rules` says what each proves).
//!
//! Optionally the sender's domain must also vouch for the mail (DKIM,
//! `dkim`).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::text::normalize_address;

/// Hex characters of a token (64 bits).
const TOKEN_LEN: usize = 16;

/// The key tokens are made with; created once per installation.
#[derive(Clone)]
pub struct ReplyKey([u8; 32]);

impl std::fmt::Debug for ReplyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReplyKey(<secret>)")
    }
}

impl ReplyKey {
    /// Reads `<state_dir>/reply.key`, creating it (mode 0600) on first use.
    pub fn load_or_create(state_dir: &Path) -> Result<ReplyKey> {
        let path = state_dir.join("reply.key");
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::create_dir_all(state_dir)
                .with_context(|| format!("Cannot create {}", state_dir.display()))?;
            let key: [u8; 32] = rand::random();
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
            {
                Ok(mut f) => {
                    f.write_all(hex::encode(key).as_bytes())
                        .and_then(|()| f.sync_all())
                        .with_context(|| format!("Cannot write {}", path.display()))?;
                }
                // Another process created it first: use theirs.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("Cannot create {}", path.display()));
                }
            }
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("Cannot read {}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .with_context(|| format!("{} is not a bientap key", path.display()))?;
        let Ok(key) = <[u8; 32]>::try_from(bytes.as_slice()) else {
            bail!("{} is not a bientap key (wrong length)", path.display());
        };
        Ok(ReplyKey(key))
    }

    #[cfg(test)]
    pub fn fixed(seed: u8) -> ReplyKey {
        ReplyKey([seed; 32])
    }

    /// The token issued to `member` for `code` at `stage`, for the ticket's
    /// `version` in its `round`: it proves nothing for any other.
    pub fn token(&self, code: &str, member: &str, stage: &str, version: i64, round: i64) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            // HMAC takes keys of any length; this cannot happen.
            Err(_) => return String::new(),
        };
        for field in [
            code.to_ascii_uppercase().as_bytes(),
            normalize_address(member).as_bytes(),
            stage.as_bytes(),
            version.to_string().as_bytes(),
            round.to_string().as_bytes(),
        ] {
            mac.update(field);
            mac.update(b"\0");
        }
        let digest = hex::encode(mac.finalize().into_bytes());
        digest.get(..TOKEN_LEN).unwrap_or_default().to_string()
    }

    /// Whether `token` was issued to `member` for `code` at `stage`, for
    /// `version` in `round`, compared in constant time.
    pub fn verify(
        &self,
        token: &str,
        code: &str,
        member: &str,
        stage: &str,
        version: i64,
        round: i64,
    ) -> bool {
        same_token(&self.token(code, member, stage, version, round), token)
    }
}

impl ReplyKey {
    /// Whether `token` is one issued before tokens named the version and
    /// round (over ticket, member and stage only). Such tokens are honoured
    /// only in the round a ticket was in at the upgrade (`workflow`).
    pub fn verify_legacy(&self, token: &str, code: &str, member: &str, stage: &str) -> bool {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.0) else {
            return false;
        };
        mac.update(code.to_ascii_uppercase().as_bytes());
        mac.update(b"\0");
        mac.update(normalize_address(member).as_bytes());
        mac.update(b"\0");
        mac.update(stage.as_bytes());
        let digest = hex::encode(mac.finalize().into_bytes());
        same_token(digest.get(..TOKEN_LEN).unwrap_or_default(), token)
    }
}

/// Whether a presented token is the expected one, compared in constant
/// time (case-insensitive: mail clients may change an address's case).
fn same_token(expected: &str, token: &str) -> bool {
    expected.len() == token.len()
        && expected
            .bytes()
            .zip(token.to_ascii_lowercase().bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// The plus-address a notification's Reply-To carries.
pub fn reply_address(board_address: &str, code: &str, token: &str) -> String {
    match board_address.split_once('@') {
        Some((local, domain)) => format!("{local}+{}.{token}@{domain}", code.to_ascii_lowercase()),
        None => board_address.to_string(),
    }
}

/// `(ticket code, token)` pairs in plus-addresses of the board among the
/// recipients of a mail.
pub fn plus_tokens(recipients: &[String], board_address: &str) -> Vec<(String, String)> {
    let Some((local, domain)) = board_address.split_once('@') else {
        return Vec::new();
    };
    recipients
        .iter()
        .filter_map(|r| {
            let (r_local, r_domain) = r.split_once('@')?;
            if !r_domain.eq_ignore_ascii_case(domain) {
                return None;
            }
            let detail = r_local.strip_prefix(local)?.strip_prefix('+')?;
            let (code, token) = detail.rsplit_once('.')?;
            Some((code.to_ascii_uppercase(), token.to_ascii_lowercase()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_ticket_member_stage_version_and_round() {
        let key = ReplyKey::fixed(7);
        let t = key.token("BBT-2026-0042", "pb@xa.vn", "reviewing", 2, 5);
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(key.verify(&t, "bbt-2026-0042", "PB@xa.vn", "reviewing", 2, 5));
        assert!(!key.verify(&t, "BBT-2026-0043", "pb@xa.vn", "reviewing", 2, 5));
        assert!(!key.verify(&t, "BBT-2026-0042", "tb@xa.vn", "reviewing", 2, 5));
        assert!(!key.verify(&t, "BBT-2026-0042", "pb@xa.vn", "editing", 2, 5));
        assert!(!key.verify(&t, "BBT-2026-0042", "pb@xa.vn", "reviewing", 1, 5));
        assert!(!key.verify(&t, "BBT-2026-0042", "pb@xa.vn", "reviewing", 2, 4));
        // Fields are delimited: version 1, round 25 is not version 12, round 5.
        assert_ne!(
            key.token("X", "a@b.vn", "s", 1, 25),
            key.token("X", "a@b.vn", "s", 12, 5)
        );
        assert!(!ReplyKey::fixed(8).verify(&t, "BBT-2026-0042", "pb@xa.vn", "reviewing", 2, 5));
    }

    #[test]
    fn tokens_from_before_the_upgrade() {
        // A token as the previous release computed it, for ticket, member
        // and stage: 16 hex digits of HMAC-SHA256 over "CODE\0member\0stage".
        let key = ReplyKey::fixed(7);
        let mut mac = Hmac::<Sha256>::new_from_slice(&[7u8; 32]).unwrap();
        mac.update(b"BBT-2026-0042\0pb@xa.vn\0reviewing");
        let old = hex::encode(mac.finalize().into_bytes())
            .get(..TOKEN_LEN)
            .unwrap()
            .to_string();
        assert!(key.verify_legacy(&old, "bbt-2026-0042", "PB@xa.vn", "reviewing"));
        assert!(!key.verify_legacy(&old, "BBT-2026-0042", "tb@xa.vn", "reviewing"));
        assert!(!key.verify_legacy(&old, "BBT-2026-0042", "pb@xa.vn", "editing"));
        assert!(!key.verify(&old, "BBT-2026-0042", "pb@xa.vn", "reviewing", 1, 1));
    }

    #[test]
    fn plus_addresses_round_trip() {
        let addr = reply_address("bbt@xa.vn", "BBT-2026-0042", "0123456789abcdef");
        assert_eq!(addr, "bbt+bbt-2026-0042.0123456789abcdef@xa.vn");
        let found = plus_tokens(
            &[addr, "bbt@xa.vn".into(), "x+bbt-2026-1.aa@xa.vn".into()],
            "bbt@xa.vn",
        );
        assert_eq!(
            found,
            vec![("BBT-2026-0042".to_string(), "0123456789abcdef".to_string())]
        );
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let a = ReplyKey::load_or_create(dir.path()).unwrap();
        let b = ReplyKey::load_or_create(dir.path()).unwrap();
        assert_eq!(
            a.token("X-2026-0001", "a@b.vn", "s", 1, 1),
            b.token("X-2026-0001", "a@b.vn", "s", 1, 1)
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("reply.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
