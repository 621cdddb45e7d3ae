//! The sender's domain authentication of a reply (invariant 4, issue 13).
//!
//! With `review.require_dkim`, a command or a new version by mail counts
//! only when the sender's domain vouches for the mail: a DKIM signature of
//! the raw message that we verify ourselves (`mail-auth`, keys looked up in
//! DNS through `review.dns_servers` or the system resolver), whose `d=` is
//! aligned with the one domain of the From header. Alignment is DMARC's
//! (RFC 7489): relaxed (the organisational domains, from the Public Suffix
//! List, are equal: `mail.xa.gov.vn` signs for `xa.gov.vn`, never `gov.vn`
//! for `xa.gov.vn`), strict (the same domain) when the domain's DMARC record
//! (`_dmarc.<domain>`, else `_dmarc.<organisational domain>`) says
//! `adkim=s`.
//!
//! A permanent failure (no signature, a bad signature, a body altered after
//! signing, only signatures of other domains) is a failure whatever the
//! headers say. Only when the check cannot reach a result because DNS does
//! not answer, and `review.trusted_authserv_id` names the board's own mail
//! server, does the topmost Authentication-Results header of that server
//! decide (`authres`), and the history says so.

use std::net::SocketAddr;

use mail_auth::common::cache::NoCache;
use mail_auth::common::to_a_label;
use mail_auth::dmarc::{Alignment, Dmarc};
use mail_auth::hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts,
};
use mail_auth::hickory_resolver::proto::op::ResponseCode;
use mail_auth::{AuthenticatedMessage, DkimResult, DnsError, Error, MessageAuthenticator, Txt};
use mail_parser::{HeaderName, MessageParser};

use super::authres;
use crate::config::Review;

/// How the sender's domain was authenticated, when the board requires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainAuth {
    /// `review.require_dkim` is off.
    NotRequired,
    /// Passed; says how, for the ticket's history (English), e.g. "DKIM pass (d=example.test, verified); DMARC pass".
    Pass(String),
    /// Failed; says why, for the history (English).
    Fail(String),
}

/// The registrable (organisational) domain of `domain` by the Public
/// Suffix List; `None` for a public suffix itself (`gov.vn`, `co.uk`,
/// `test`) or a name that is not a domain.
pub fn org_domain(domain: &str) -> Option<String> {
    let domain = normalize(domain);
    if domain.is_empty() || domain.split('.').any(str::is_empty) {
        return None;
    }
    psl::domain_str(&domain).map(str::to_string)
}

/// Whether a signing domain `d` is aligned with the From domain: the same
/// domain (strict), or the same organisational domain (relaxed). Neither
/// holds when the From domain has no organisational domain.
pub fn aligned(d: &str, from: &str, strict: bool) -> bool {
    let (d, from) = (normalize(d), normalize(from));
    let Some(from_org) = org_domain(&from) else {
        return false;
    };
    if strict {
        return d == from;
    }
    org_domain(&d).is_some_and(|d_org| d_org == from_org)
}

/// A domain as compared: A-labels, lower case, no root dot.
fn normalize(domain: &str) -> String {
    let d = domain.trim().trim_end_matches('.');
    to_a_label(d).to_ascii_lowercase()
}

fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| normalize(d.trim_end_matches('>')))
        .filter(|d| !d.is_empty())
}

/// What a checker needs: the resolver and the trusted server, from the
/// configuration of the moment.
pub struct Checker {
    resolver: Result<MessageAuthenticator, String>,
    trusted: Option<String>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker")
            .field("resolver", &self.resolver.as_ref().map(|_| "…"))
            .field("trusted", &self.trusted)
            .finish()
    }
}

impl Checker {
    pub fn new(review: &Review) -> Checker {
        Checker {
            resolver: resolver(&review.dns_servers),
            trusted: review.trusted_authserv_id.clone(),
        }
    }

    /// Authenticates the sender's domain of the raw message `raw`, whose
    /// sender (as the workflow reads it) is `from_addr`.
    pub async fn check(&self, raw: &[u8], from_addr: &str) -> DomainAuth {
        match self.verify(raw, from_addr).await {
            Checked::Pass(how) => DomainAuth::Pass(how),
            Checked::Fail(why) => DomainAuth::Fail(why),
            Checked::Temp(why) => match &self.trusted {
                Some(id) => fallback(raw, from_addr, id, &why),
                None => DomainAuth::Fail(format!(
                    "{why}; no trusted Authentication-Results to fall back on (review.trusted_authserv_id is not set)"
                )),
            },
        }
    }

    async fn verify(&self, raw: &[u8], from_addr: &str) -> Checked {
        let Some(from) = domain_of(from_addr) else {
            return Checked::Fail("the sender's address has no domain".into());
        };
        if org_domain(&from).is_none() {
            return Checked::Fail(format!(
                "the sender's domain {from} is a public suffix, not a registrable domain"
            ));
        }
        let Some(parsed) = MessageParser::default().parse(raw) else {
            return Checked::Fail("the message cannot be read for DKIM".into());
        };
        let froms = parsed
            .root_part()
            .headers()
            .iter()
            .filter(|h| h.name == HeaderName::From)
            .count();
        if froms != 1 {
            return Checked::Fail(format!(
                "the message has {froms} From headers; DKIM needs exactly one"
            ));
        }
        let message = AuthenticatedMessage::from_parsed(&parsed, raw, true);
        if message.from.is_empty()
            || message
                .from
                .iter()
                .any(|a| domain_of(a).as_deref() != Some(from.as_str()))
        {
            return Checked::Fail(format!("the From header must name senders of {from} only"));
        }
        if message.dkim_headers.is_empty() && !message.has_dkim_errors {
            return Checked::Fail("no DKIM signature".into());
        }
        let resolver = match &self.resolver {
            Ok(r) => r,
            Err(e) => return Checked::Temp(format!("no DNS resolver: {e}")),
        };
        let outputs = resolver.verify_dkim(&message).await;
        let sigs: Vec<Sig> = outputs
            .iter()
            .map(|o| {
                let signature = o.signature();
                let d = signature.map(|s| normalize(&s.d)).unwrap_or_default();
                let signs_from =
                    signature.is_some_and(|s| s.h.iter().any(|h| h.eq_ignore_ascii_case("from")));
                let outcome = match o.result() {
                    DkimResult::Pass if signs_from => Outcome::Pass,
                    DkimResult::Pass => {
                        Outcome::Fail("the signature does not cover the From header".into())
                    }
                    DkimResult::TempError(e) => Outcome::Temp(e.to_string()),
                    DkimResult::PermError(e) if temporary(e) => Outcome::Temp(e.to_string()),
                    DkimResult::Fail(e) | DkimResult::PermError(e) | DkimResult::Neutral(e) => {
                        Outcome::Fail(e.to_string())
                    }
                    DkimResult::None => Outcome::Fail("no result".into()),
                };
                Sig { d, outcome }
            })
            .collect();
        let policy = if needs_policy(&from, &sigs) {
            dmarc_policy(resolver, &from).await
        } else {
            Policy::NoRecord
        };
        decide(&from, &sigs, &policy)
    }
}

/// The resolver `servers` name, or the system's when none.
fn resolver(servers: &[SocketAddr]) -> Result<MessageAuthenticator, String> {
    if servers.is_empty() {
        return MessageAuthenticator::new_system_conf()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"));
    }
    let name_servers = servers
        .iter()
        .map(|s| {
            let mut udp = ConnectionConfig::udp();
            udp.port = s.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = s.port();
            NameServerConfig::new(s.ip(), true, vec![udp, tcp])
        })
        .collect();
    MessageAuthenticator::new(
        ResolverConfig::from_name_servers(name_servers),
        ResolverOpts::default(),
    )
    .map_err(|e| format!("cannot set up the DNS resolver: {e}"))
}

/// Whether a DNS error says the server did not answer, rather than that
/// the name has no such record.
fn temporary(e: &Error) -> bool {
    match e {
        Error::Dns(DnsError::Resolver(_)) => true,
        Error::Dns(DnsError::RecordNotFound(code)) => {
            !matches!(code, ResponseCode::NXDomain | ResponseCode::NoError)
        }
        _ => false,
    }
}

/// What our own check found.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Checked {
    Pass(String),
    Fail(String),
    /// DNS did not answer: no result either way.
    Temp(String),
}

/// One DKIM signature and its verification.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sig {
    /// Its `d=`, normalized; empty when the signature could not be read.
    d: String,
    outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail(String),
    Temp(String),
}

/// The DMARC record of the From domain, as far as alignment goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Policy {
    Record { strict: bool },
    NoRecord,
    Temp(String),
}

/// Whether a signature that may count passed, so that the DMARC record
/// decides how strict alignment is.
fn needs_policy(from: &str, sigs: &[Sig]) -> bool {
    sigs.iter()
        .any(|s| s.outcome == Outcome::Pass && aligned(&s.d, from, false))
}

/// `_dmarc.<from>`, else `_dmarc.<organisational domain>` (RFC 7489 6.6.3).
async fn dmarc_policy(resolver: &MessageAuthenticator, from: &str) -> Policy {
    let mut names = vec![from.to_string()];
    if let Some(org) = org_domain(from).filter(|o| o != from) {
        names.push(org);
    }
    for name in names {
        match resolver
            .txt_lookup::<Dmarc>(format!("_dmarc.{name}."), None::<&NoCache<Box<str>, Txt>>)
            .await
        {
            Ok(record) => {
                return Policy::Record {
                    strict: record.adkim == Alignment::Strict,
                };
            }
            Err(e) if temporary(&e) => return Policy::Temp(e.to_string()),
            Err(_) => {}
        }
    }
    Policy::NoRecord
}

/// The verdict on the signatures of a mail from `from`.
fn decide(from: &str, sigs: &[Sig], policy: &Policy) -> Checked {
    let ours: Vec<&Sig> = sigs.iter().filter(|s| aligned(&s.d, from, false)).collect();
    let Some(first) = ours.first() else {
        let others: Vec<&str> = sigs
            .iter()
            .map(|s| s.d.as_str())
            .filter(|d| !d.is_empty())
            .collect();
        return Checked::Fail(if others.is_empty() {
            "no readable DKIM signature".into()
        } else {
            format!(
                "no DKIM signature of {from} (signed by {} only)",
                others.join(", ")
            )
        });
    };
    let strict = matches!(policy, Policy::Record { strict: true });
    if let Some(s) = ours
        .iter()
        .find(|s| s.outcome == Outcome::Pass && aligned(&s.d, from, strict))
    {
        let d = &s.d;
        return match policy {
            Policy::Record { .. } => {
                Checked::Pass(format!("DKIM pass (d={d}, verified); DMARC pass"))
            }
            Policy::NoRecord => Checked::Pass(format!(
                "DKIM pass (d={d}, verified); {from} publishes no DMARC policy"
            )),
            // Strict alignment holds whatever the record says.
            Policy::Temp(e) if d == from => Checked::Pass(format!(
                "DKIM pass (d={d}, verified); DMARC policy not read: {e}"
            )),
            Policy::Temp(e) => {
                Checked::Temp(format!("the DMARC policy of {from} could not be read: {e}"))
            }
        };
    }
    if let Some((d, e)) = ours.iter().find_map(|s| match &s.outcome {
        Outcome::Temp(e) => Some((&s.d, e)),
        _ => None,
    }) {
        return Checked::Temp(format!("DKIM key of {d} not read: {e}"));
    }
    if let Some(s) = ours.iter().find(|s| s.outcome == Outcome::Pass) {
        return Checked::Fail(format!(
            "DKIM pass for d={}, but the DMARC policy of {from} asks for strict alignment (adkim=s); DMARC fail",
            s.d
        ));
    }
    let why = match &first.outcome {
        Outcome::Fail(e) | Outcome::Temp(e) => e.as_str(),
        Outcome::Pass => "",
    };
    Checked::Fail(format!("DKIM fail (d={}): {why}", first.d))
}

/// When DNS did not answer: the topmost Authentication-Results of the
/// trusted server decides.
fn fallback(raw: &[u8], from_addr: &str, authserv_id: &str, why: &str) -> DomainAuth {
    let headers = auth_results_headers(raw);
    let from = domain_of(from_addr).unwrap_or_default();
    let deny = |what: &str| {
        DomainAuth::Fail(format!(
            "{why}; the Authentication-Results of {authserv_id} {what}"
        ))
    };
    match authres::topmost(headers.iter().map(String::as_str), authserv_id) {
        None => deny("are missing"),
        Some(Err(e)) => deny(&format!("cannot be read ({e})")),
        Some(Ok(header)) => match vouches(&header, &from) {
            Some(how) => DomainAuth::Pass(format!(
                "{how} per the Authentication-Results of {authserv_id} (our own check: {why})"
            )),
            None => deny(&format!(
                "show no DKIM pass aligned with {from} nor a DMARC pass"
            )),
        },
    }
}

/// What a trusted header says for the From domain `from`: an aligned DKIM
/// pass, or a DMARC pass for that very domain.
pub fn vouches(header: &authres::AuthResults, from: &str) -> Option<String> {
    header
        .results
        .iter()
        .find_map(|r| match (r.method.as_str(), r.result.as_str()) {
            ("dkim", "pass") => {
                let d = normalize(r.prop("header.d")?);
                aligned(&d, from, false).then(|| format!("DKIM pass (d={d})"))
            }
            ("dmarc", "pass") => {
                let f = normalize(r.prop("header.from")?);
                (f == normalize(from) && org_domain(&f).is_some()).then(|| "DMARC pass".to_string())
            }
            _ => None,
        })
}

/// The Authentication-Results headers of a message, unfolded, topmost
/// first.
fn auth_results_headers(raw: &[u8]) -> Vec<String> {
    let Some(parsed) = MessageParser::default().parse_headers(raw) else {
        return Vec::new();
    };
    parsed
        .root_part()
        .headers()
        .iter()
        .filter(|h| {
            raw.get(h.offset_field as usize..h.offset_start as usize)
                .is_some_and(|name| {
                    name.strip_suffix(b":")
                        .unwrap_or(name)
                        .trim_ascii()
                        .eq_ignore_ascii_case(b"Authentication-Results")
                })
        })
        .filter_map(|h| raw.get(h.offset_start as usize..h.offset_end as usize))
        .map(|v| {
            String::from_utf8_lossy(v)
                .replace("\r\n", "")
                .replace('\n', "")
                .trim()
                .to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn organisational_domains_come_from_the_public_suffix_list() {
        assert_eq!(org_domain("example.test").as_deref(), Some("example.test"));
        assert_eq!(
            org_domain("a.b.example.test").as_deref(),
            Some("example.test")
        );
        assert_eq!(org_domain("test"), None);
        assert_eq!(org_domain("co.uk"), None);
        assert_eq!(org_domain("gov.vn"), None);
        assert_eq!(
            org_domain("a.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(org_domain("mail.xa.gov.vn").as_deref(), Some("xa.gov.vn"));
        assert_eq!(org_domain("Example.TEST.").as_deref(), Some("example.test"));
        assert_eq!(org_domain(""), None);
        assert_eq!(org_domain("a..example.test"), None);
    }

    #[test]
    fn alignment_never_on_a_bare_suffix() {
        // The attack: `header.d=test` for example.test.
        assert!(!aligned("test", "example.test", false));
        assert!(!aligned("co.uk", "example.co.uk", false));
        assert!(!aligned("gov.vn", "xa.gov.vn", false));
        assert!(!aligned("co.uk", "co.uk", false));
        assert!(!aligned("co.uk", "co.uk", true));
        // Relaxed: the same organisational domain, either way round.
        assert!(aligned("a.example.co.uk", "example.co.uk", false));
        assert!(aligned("example.co.uk", "a.example.co.uk", false));
        assert!(aligned("mail.xa.gov.vn", "xa.gov.vn", false));
        assert!(aligned("EXAMPLE.test.", "example.test", false));
        assert!(!aligned("evil.test", "example.test", false));
        assert!(!aligned("example.test.evil.test", "example.test", false));
        assert!(!aligned("xa.gov.vn", "huyen.gov.vn", false));
        assert!(!aligned("other.co.uk", "example.co.uk", false));
        // Strict: the same domain.
        assert!(aligned("example.co.uk", "example.co.uk", true));
        assert!(!aligned("a.example.co.uk", "example.co.uk", true));
        assert!(!aligned("", "example.test", false));
    }

    fn sig(d: &str, outcome: Outcome) -> Sig {
        Sig {
            d: d.into(),
            outcome,
        }
    }

    fn fail(e: &str) -> Outcome {
        Outcome::Fail(e.into())
    }

    fn temp(e: &str) -> Outcome {
        Outcome::Temp(e.into())
    }

    #[test]
    fn an_aligned_verified_signature_passes() {
        let from = "example.test";
        let sigs = [sig("example.test", Outcome::Pass)];
        assert!(needs_policy(from, &sigs));
        assert_eq!(
            decide(from, &sigs, &Policy::Record { strict: false }),
            Checked::Pass("DKIM pass (d=example.test, verified); DMARC pass".into())
        );
        assert!(matches!(
            decide(from, &sigs, &Policy::NoRecord),
            Checked::Pass(s) if s.contains("no DMARC policy")
        ));
        // Exact: strict holds whatever an unreadable record says.
        assert!(matches!(
            decide(from, &sigs, &Policy::Temp("timeout".into())),
            Checked::Pass(_)
        ));
        // A subdomain's signature: relaxed only.
        let sub = [sig("mail.example.test", Outcome::Pass)];
        assert!(matches!(
            decide(from, &sub, &Policy::Record { strict: false }),
            Checked::Pass(_)
        ));
        assert!(matches!(
            decide(from, &sub, &Policy::Record { strict: true }),
            Checked::Fail(s) if s.contains("adkim=s")
        ));
        assert!(matches!(
            decide(from, &sub, &Policy::Temp("timeout".into())),
            Checked::Temp(_)
        ));
    }

    #[test]
    fn permanent_failures_are_failures() {
        let from = "example.test";
        let p = Policy::NoRecord;
        // Another domain's valid signature, next to our broken one.
        let sigs = [
            sig("evil.test", Outcome::Pass),
            sig(
                "example.test",
                fail("Calculated body hash does not match signature hash"),
            ),
        ];
        assert!(!needs_policy(from, &sigs));
        assert!(matches!(decide(from, &sigs, &p), Checked::Fail(s) if s.contains("body hash")));
        // Only other domains, or a bare suffix.
        for d in ["evil.test", "test"] {
            assert!(matches!(
                decide(from, &[sig(d, Outcome::Pass)], &p),
                Checked::Fail(s) if s.contains("no DKIM signature of example.test")
            ));
        }
        assert!(matches!(
            decide(from, &[sig("", fail("bad"))], &p),
            Checked::Fail(s) if s.contains("no readable")
        ));
        // DNS trouble with another domain's key is no excuse.
        assert!(matches!(
            decide(from, &[sig("evil.test", temp("timeout"))], &p),
            Checked::Fail(_)
        ));
    }

    #[test]
    fn dns_trouble_with_our_key_has_no_result() {
        let from = "example.test";
        let sigs = [
            sig("example.test", temp("DNS resolution error")),
            sig("example.test", fail("bad")),
        ];
        assert!(matches!(
            decide(from, &sigs, &Policy::NoRecord),
            Checked::Temp(_)
        ));
        // A pass elsewhere wins.
        let sigs = [
            sig("example.test", temp("DNS resolution error")),
            sig("example.test", Outcome::Pass),
        ];
        assert!(matches!(
            decide(from, &sigs, &Policy::NoRecord),
            Checked::Pass(_)
        ));
    }

    fn header(h: &str) -> authres::AuthResults {
        authres::parse(h).unwrap()
    }

    #[test]
    fn a_trusted_header_vouches_only_for_aligned_passes() {
        let from = "example.test";
        assert_eq!(
            vouches(
                &header("mx.example.test; dkim=pass header.d=example.test"),
                from
            )
            .as_deref(),
            Some("DKIM pass (d=example.test)")
        );
        assert!(
            vouches(
                &header("mx.example.test; dmarc=pass header.from=example.test"),
                from
            )
            .is_some()
        );
        for attack in [
            "mx.example.test; dkim=fail (bad) header.d=example.test; x=y (; dkim=pass header.d=example.test )",
            "mx.example.test; dkim=fail reason=\"bad; dkim=pass header.d=example.test \" header.d=example.test",
            "mx.example.test; spf=pass smtp.mailfrom=\"x;dkim=pass header.d=example.test\"@evil.test",
            "mx.example.test; spf=pass smtp.mailfrom=\"x; dkim=pass header.d=example.test \"@evil.test",
            "mx.example.test; dkim=pass header.d=test",
            "mx.example.test; dkim=pass header.d=evil.test",
            "mx.example.test; dkim=pass header.i=@example.test",
            "mx.example.test; dmarc=pass header.from=evil.test",
            "mx.example.test; dmarc=pass header.from=test",
            "mx.example.test; dkim=neutral header.d=example.test",
        ] {
            assert_eq!(vouches(&header(attack), from), None, "{attack}");
        }
        assert!(vouches(&header("mx.x; dkim=pass header.d=co.uk"), "example.co.uk").is_none());
        assert!(
            vouches(
                &header("mx.x; dkim=pass header.d=a.example.co.uk"),
                "example.co.uk"
            )
            .is_some()
        );
    }

    #[test]
    fn the_fallback_reads_the_topmost_header_of_the_trusted_server() {
        let mail = |headers: &str| -> Vec<u8> {
            format!("{headers}From: pb@example.test\r\nTo: bbt@example.test\r\nSubject: x\r\n\r\nDUYỆT\r\n")
                .into_bytes()
        };
        let pass =
            "Authentication-Results: mx.example.test;\r\n\tdkim=pass header.d=example.test\r\n";
        let got = fallback(&mail(pass), "pb@example.test", "mx.example.test", "timeout");
        assert!(
            matches!(&got, DomainAuth::Pass(s) if s.contains("DKIM pass (d=example.test) per the Authentication-Results of mx.example.test")),
            "{got:?}"
        );
        for attack in [
            "Authentication-Results: mx.example.test; dkim=fail (bad) header.d=example.test; x=y (; dkim=pass header.d=example.test )\r\n",
            "Authentication-Results: mx.example.test; dkim=fail reason=\"x; dkim=pass header.d=example.test \" header.d=example.test\r\n",
            "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=\"x;dkim=pass header.d=example.test\"@evil.test\r\n",
            "Authentication-Results: mx.example.test; dkim=pass header.d=test\r\n",
            "Authentication-Results: evil.test; dkim=pass header.d=example.test\r\n",
            // Below the server's own header: not consulted.
            &format!(
                "Authentication-Results: mx.example.test; dkim=fail header.d=example.test\r\n{pass}"
            ),
            "",
        ] {
            let got = fallback(
                &mail(attack),
                "pb@example.test",
                "mx.example.test",
                "timeout",
            );
            assert!(matches!(got, DomainAuth::Fail(_)), "{attack}: {got:?}");
        }
    }

    #[tokio::test]
    async fn unsigned_or_ambiguous_mail_fails_without_dns() {
        // A resolver that is never reached: these fail before any lookup.
        let checker = Checker {
            resolver: Err("none".into()),
            trusted: Some("mx.example.test".into()),
        };
        let ar = "Authentication-Results: mx.example.test; dkim=pass header.d=example.test\r\n";
        let unsigned = format!("{ar}From: pb@example.test\r\nSubject: x\r\n\r\nDUYỆT\r\n");
        assert_eq!(
            checker.check(unsigned.as_bytes(), "pb@example.test").await,
            DomainAuth::Fail("no DKIM signature".into())
        );
        let two = format!(
            "{ar}From: pb@example.test\r\nFrom: x@evil.test\r\nSubject: x\r\n\r\nDUYỆT\r\n"
        );
        assert!(matches!(
            checker.check(two.as_bytes(), "pb@example.test").await,
            DomainAuth::Fail(s) if s.contains("2 From headers")
        ));
        let mixed =
            format!("{ar}From: pb@example.test, x@evil.test\r\nSubject: x\r\n\r\nDUYỆT\r\n");
        assert!(matches!(
            checker.check(mixed.as_bytes(), "pb@example.test").await,
            DomainAuth::Fail(s) if s.contains("senders of example.test only")
        ));
        assert!(matches!(
            checker.check(unsigned.as_bytes(), "pb@test").await,
            DomainAuth::Fail(s) if s.contains("public suffix")
        ));
    }
}
