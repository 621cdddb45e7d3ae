//! Zalo's webhook signature.
//!
//! Zalo signs each webhook with the header `X-ZEvent-Signature: mac=<hex>`,
//! where `<hex>` is the lowercase hex SHA-256 of the app id, the raw request
//! body, the body's `timestamp` field and the OA secret key, concatenated in
//! that order. The body must be hashed exactly as received (before any
//! parsing), and the digest compared in constant time so that an attacker
//! learns nothing from how fast a forged signature is refused.

use sha2::{Digest, Sha256};

/// The header Zalo puts the signature in.
pub const HEADER: &str = "X-ZEvent-Signature";

/// The signature header value Zalo sends for this request: `mac=<hex>`.
pub fn mac(app_id: &str, body: &[u8], timestamp: &str, secret: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(app_id.as_bytes());
    hasher.update(body);
    hasher.update(timestamp.as_bytes());
    hasher.update(secret.as_bytes());
    format!("mac={}", hex::encode(hasher.finalize()))
}

/// Whether `header` (the `X-ZEvent-Signature` value, if the request had one)
/// is Zalo's signature of this request. Surrounding whitespace and an
/// uppercase digest are accepted; a missing header or `mac=` prefix is not.
pub fn verify(
    header: Option<&str>,
    app_id: &str,
    body: &[u8],
    timestamp: &str,
    secret: &str,
) -> bool {
    let Some(given) = header.and_then(|value| value.trim().strip_prefix("mac=")) else {
        return false;
    };
    let given = given.trim().to_ascii_lowercase();
    let expected = mac(app_id, body, timestamp, secret);
    let expected = expected.strip_prefix("mac=").unwrap_or(&expected);
    constant_time_eq(given.as_bytes(), expected.as_bytes())
}

/// Compares without stopping at the first difference. The length is not
/// secret (every digest has 64 hex digits), so a length mismatch may return
/// early.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[allow(clippy::string_slice, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const APP_ID: &str = "360846524940903967";
    const SECRET: &str = "oa-secret-key";
    const TIMESTAMP: &str = "154390853474";
    const BODY: &str = r#"{"app_id":"360846524940903967","sender":{"id":"246845883529197922"},"user_id_by_app":"552177279717587730","recipient":{"id":"388613280878808645"},"event_name":"user_send_text","message":{"text":"message","msg_id":"96d3cdf3af150460909"},"timestamp":"154390853474"}"#;
    // Computed independently with Python:
    // hashlib.sha256(APP_ID + BODY + TIMESTAMP + SECRET).hexdigest()
    const KNOWN: &str = "mac=785fbcbad86c7c7a96573f92af92c61d6307aa9559fe6fa74fa6f7441e693194";

    fn check(header: Option<&str>, body: &[u8], secret: &str) -> bool {
        verify(header, APP_ID, body, TIMESTAMP, secret)
    }

    #[test]
    fn known_vector() {
        assert_eq!(mac(APP_ID, BODY.as_bytes(), TIMESTAMP, SECRET), KNOWN);
        assert!(check(Some(KNOWN), BODY.as_bytes(), SECRET));
    }

    #[test]
    fn whitespace_and_uppercase_digest_accepted() {
        let upper = format!(
            "  mac={}\t",
            KNOWN.trim_start_matches("mac=").to_uppercase()
        );
        assert!(check(Some(&upper), BODY.as_bytes(), SECRET));
    }

    #[test]
    fn wrong_secret_refused() {
        assert!(!check(Some(KNOWN), BODY.as_bytes(), "other-secret"));
    }

    #[test]
    fn missing_header_or_prefix_refused() {
        assert!(!check(None, BODY.as_bytes(), SECRET));
        assert!(!check(Some(""), BODY.as_bytes(), SECRET));
        let bare = KNOWN.trim_start_matches("mac=");
        assert!(!check(Some(bare), BODY.as_bytes(), SECRET));
    }

    #[test]
    fn truncated_or_extended_mac_refused() {
        let truncated = &KNOWN[..KNOWN.len() - 1];
        assert!(!check(Some(truncated), BODY.as_bytes(), SECRET));
        assert!(!check(Some("mac="), BODY.as_bytes(), SECRET));
        let extended = format!("{KNOWN}0");
        assert!(!check(Some(&extended), BODY.as_bytes(), SECRET));
    }

    #[test]
    fn body_changed_by_one_byte_refused() {
        let mut body = BODY.as_bytes().to_vec();
        let last = body.len() - 2;
        body[last] ^= 1;
        assert!(!check(Some(KNOWN), &body, SECRET));
    }

    #[test]
    fn other_timestamp_or_app_refused() {
        assert!(!verify(
            Some(KNOWN),
            APP_ID,
            BODY.as_bytes(),
            "154390853475",
            SECRET
        ));
        assert!(!verify(
            Some(KNOWN),
            "1",
            BODY.as_bytes(),
            TIMESTAMP,
            SECRET
        ));
    }

    #[test]
    fn non_ascii_header_does_not_panic() {
        assert!(!check(Some("mac=đđđ"), BODY.as_bytes(), SECRET));
    }
}
