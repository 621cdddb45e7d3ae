//! Approval by e-mail that cannot be forged (invariant 4, issue 13): with
//! `review.require_dkim`, a reviewer's reply carrying their valid token
//! changes the ticket only when a DKIM signature of their domain, verified
//! by bientap itself against keys in DNS, covers it. Real Dovecot/Postfix,
//! a real DNS server on loopback (dnsmasq) publishing the test's keys and
//! DMARC policy; replies signed in the test.
//!
//! Every forged reply below also carries an Authentication-Results header
//! that claims a DKIM pass for the sender's domain in the name of the
//! board's trusted server: trusting such headers instead of checking, or
//! reading them naively, lets it through.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

mod common;

use std::time::Duration;

use common::dkim::{DnsServer, Signer, dead_dns_line, dmarc_record};
use common::*;

/// What the board's own mail server would be called.
const TRUSTED: &str = "mx.example.test";

/// Authentication-Results that a naive reader takes for a DKIM pass of
/// example.test (the attacker's review, issue 13 item 3).
const FORGED: &[&str] = &[
    "Authentication-Results: mx.example.test; dkim=fail (bad) header.d=example.test; x=y (; dkim=pass header.d=example.test )",
    "Authentication-Results: mx.example.test; dkim=fail reason=\"bad signature; dkim=pass header.d=example.test \" header.d=example.test",
    "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=\"x; dkim=pass header.d=example.test \"@evil.test",
    "Authentication-Results: mx.example.test; dkim=pass header.d=test",
];

/// A header as the trusted server writes it for a good signature.
const GOOD_AR: &str = "Authentication-Results: mx.example.test;\r\n\tdkim=pass (256-bit key) header.d=example.test header.s=sel";

/// A board requiring DKIM with `review_extra` in `[review]`, its daemon,
/// and the deputy's notification of a fresh ticket.
struct Case {
    p: People,
    b: Board,
    daemon: Daemon,
    note: Mail,
    code: String,
    to: String,
}

async fn case(tag: &str, review_extra: &str) -> Case {
    let stack = stack();
    let p = People::new(tag);
    let b = Board::with_members(
        &p.board,
        Mailbox::imap(stack, "starttls"),
        None,
        &p.members(),
        &format!("[review]\ndefault_approver = \"deputy\"\nrequire_dkim = true\n{review_extra}\n"),
    );
    let daemon = b.start();
    p.send_article(stack, "Tin nông nghiệp", "Vụ lúa đông xuân thắng lợi.");
    let note = stack.wait_mail(&p.deputy, "Cần duyệt").await;
    let code = code_in(&note.subject);
    let to = note.reply_to.clone().unwrap();
    Case {
        p,
        b,
        daemon,
        note,
        code,
        to,
    }
}

impl Case {
    /// The deputy's DUYỆT, with `headers` on top, unsigned.
    fn approval(&self, headers: &[&str]) -> Vec<u8> {
        self.note.reply_with(&self.p.deputy, "DUYỆT", headers)
    }

    fn send(&self, raw: &[u8]) {
        stack().send_smtp(&self.p.deputy, &[&self.to], raw);
    }

    /// How often the daemon logged that a sender's domain failed for `why`.
    fn failed_for(&self, why: &str) -> usize {
        self.daemon
            .log_text()
            .lines()
            .filter(|l| l.contains("sender's domain failed") && l.contains(why))
            .count()
    }

    /// Waits for `n` denials, each for the sender's domain; the ticket
    /// still waits for its approver.
    async fn denied(&mut self, n: usize, dns: Option<&DnsServer>) {
        let start = std::time::Instant::now();
        while self.b.events(&self.code, "denied").await < n {
            assert!(self.daemon.is_running(), "{}", self.daemon.log_text());
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "fewer than {n} denials on {}: {:#?}\nlog:\n{}\nDNS:\n{}",
                self.code,
                self.b.store().await.ticket(&self.code).await.unwrap(),
                self.daemon.log_text(),
                dns.map(DnsServer::log_text).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let store = self.b.store().await;
        let t = store.ticket(&self.code).await.unwrap().unwrap();
        store.close().await;
        assert_eq!(t.summary.state, "reviewing", "{:#?}", t.events);
        assert!(
            t.events.iter().all(|e| e.kind != "approved"),
            "{:#?}",
            t.events
        );
        for e in t.events.iter().filter(|e| e.kind == "denied") {
            assert!(e.detail.contains("DKIM"), "{:#?}", t.events);
        }
    }

    /// Waits for the approval; its `verified`.
    async fn approved(&mut self) -> String {
        let detail = self
            .b
            .wait_state(&self.code, "approved", &mut self.daemon)
            .await;
        detail
            .events
            .iter()
            .find(|e| e.kind == "approved")
            .unwrap()
            .verified
            .clone()
    }
}

/// The DNS of example.test: the deputy's signing key and a relaxed DMARC
/// policy.
fn example_dns(signer: &Signer, more: &[(String, String)]) -> DnsServer {
    let mut records = vec![
        signer.key_record(),
        dmarc_record("example.test", "v=DMARC1; p=reject; adkim=r"),
    ];
    records.extend_from_slice(more);
    DnsServer::start(&records)
}

/// (a) A reply signed by the sender's domain is approved, and the history
/// says how the domain was verified.
#[tokio::test]
async fn a_signed_reply_is_approved() {
    stack();
    let signer = Signer::new("example.test");
    let dns = example_dns(&signer, &[]);
    let mut c = case("dkim-ok", &dns.config_line()).await;
    c.send(&signer.sign(&c.approval(&[])));
    let verified = c.approved().await;
    assert_eq!(
        verified,
        "token in the reply address; DKIM pass (d=example.test, verified); DMARC pass",
        "DNS:\n{}",
        dns.log_text()
    );
    c.daemon.stop();
}

/// (b) Unsigned replies whose Authentication-Results only seem to say
/// "DKIM pass" (a result inside a comment, inside a quoted reason, inside
/// a quoted local part; a bare suffix as the signing domain) change
/// nothing, even in the trusted server's name.
#[tokio::test]
async fn forged_authentication_results_change_nothing() {
    stack();
    let signer = Signer::new("example.test");
    let dns = example_dns(&signer, &[]);
    let mut c = case(
        "dkim-forged",
        &format!("{}\ntrusted_authserv_id = \"{TRUSTED}\"", dns.config_line()),
    )
    .await;
    for forged in FORGED {
        c.send(&c.approval(&[forged]));
    }
    c.denied(FORGED.len(), Some(&dns)).await;
    assert_eq!(
        c.failed_for("why=no DKIM signature"),
        FORGED.len(),
        "{}",
        c.daemon.log_text()
    );
    // The member is told why.
    let told = stack().wait_mail(&c.p.deputy, "Chưa thực hiện được").await;
    assert!(told.text.contains("DKIM"), "{}", told.text);
    // The same board approves a signed reply: the denials were the forgeries'.
    c.send(&signer.sign(&c.approval(&[])));
    assert!(
        c.approved()
            .await
            .contains("DKIM pass (d=example.test, verified)")
    );
    c.daemon.stop();
}

/// (c) A valid signature of another domain (with its key in DNS) does not
/// vouch for the sender's.
#[tokio::test]
async fn a_signature_of_another_domain_is_refused() {
    stack();
    let ours = Signer::new("example.test");
    let evil = Signer::new("evil.test");
    let dns = example_dns(
        &ours,
        &[
            evil.key_record(),
            dmarc_record("evil.test", "v=DMARC1; p=none"),
        ],
    );
    let mut c = case(
        "dkim-other",
        &format!("{}\ntrusted_authserv_id = \"{TRUSTED}\"", dns.config_line()),
    )
    .await;
    let forged = "Authentication-Results: mx.example.test; dkim=pass header.d=example.test";
    c.send(&evil.sign(&c.approval(&[forged])));
    c.denied(1, Some(&dns)).await;
    assert_eq!(
        c.failed_for("no DKIM signature of example.test (signed by evil.test only)"),
        1,
        "{}",
        c.daemon.log_text()
    );
    c.daemon.stop();
}

/// (d) A body altered after signing (the command changed on the way) is
/// refused, whatever the headers say.
#[tokio::test]
async fn a_body_altered_after_signing_is_refused() {
    stack();
    let signer = Signer::new("example.test");
    let dns = example_dns(&signer, &[]);
    let mut c = case(
        "dkim-altered",
        &format!("{}\ntrusted_authserv_id = \"{TRUSTED}\"", dns.config_line()),
    )
    .await;
    let forged = "Authentication-Results: mx.example.test; dkim=pass header.d=example.test";
    let signed = String::from_utf8(signer.sign(&c.note.reply_with(
        &c.p.deputy,
        "Xin xem lại đoạn hai.",
        &[forged],
    )))
    .unwrap();
    let altered = signed.replacen("Xin xem lại đoạn hai.", "DUYỆT", 1);
    assert_ne!(altered, signed);
    c.send(altered.as_bytes());
    c.denied(1, Some(&dns)).await;
    assert_eq!(
        c.failed_for("DKIM fail (d=example.test): Calculated body hash does not match"),
        1,
        "{}",
        c.daemon.log_text()
    );
    c.daemon.stop();
}

/// (e) When DNS does not answer, the topmost Authentication-Results of the
/// trusted server decide, read by the grammar: the forged ones change
/// nothing, a well-formed DKIM pass is accepted and the history says where
/// it came from.
#[tokio::test]
async fn without_dns_the_trusted_header_decides() {
    stack();
    let signer = Signer::new("example.test");
    let mut c = case(
        "dkim-nodns",
        &format!("{}\ntrusted_authserv_id = \"{TRUSTED}\"", dead_dns_line()),
    )
    .await;
    // The server's header is the topmost: a pass below it is not read.
    let below = format!("{}\r\n{GOOD_AR}", FORGED[0]);
    for forged in FORGED.iter().copied().chain([below.as_str()]) {
        c.send(&signer.sign(&c.approval(&[forged])));
    }
    c.denied(FORGED.len() + 1, None).await;
    assert_eq!(
        c.failed_for("the Authentication-Results of mx.example.test show no DKIM pass"),
        FORGED.len() + 1,
        "{}",
        c.daemon.log_text()
    );

    c.send(&signer.sign(&c.approval(&[GOOD_AR])));
    let verified = c.approved().await;
    assert!(
        verified.starts_with(
            "token in the reply address; DKIM pass (d=example.test) per the Authentication-Results of mx.example.test"
        ),
        "{verified}"
    );
    c.daemon.stop();
}
