//! DKIM for tests: signing keys made in the test (Ed25519, by mail-auth
//! over ring) and a private DNS server on loopback (dnsmasq, installed by
//! `tests/harness/services.sh`) publishing their keys and DMARC policies.
//! A board verifies them through `review.dns_servers`.

use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::{Canonicalization, DkimSigner};

use super::unique;

const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// A dnsmasq answering on a loopback port with the given TXT records and
/// NXDOMAIN for every other name under `.test`; stopped (by its pid) when
/// dropped.
pub struct DnsServer {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl DnsServer {
    pub fn start(records: &[(String, String)]) -> DnsServer {
        assert!(
            std::path::Path::new(DNSMASQ).exists(),
            "{DNSMASQ} is missing: run tests/harness/services.sh install (as root), or apt-get install dnsmasq-base"
        );
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..10 {
            let port = free_port();
            let log = dir.path().join(format!("dnsmasq-{port}.log"));
            let mut cmd = Command::new(DNSMASQ);
            cmd.args([
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                "--no-poll",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                "--local=/test/",
                "--log-facility=-",
                "--log-queries",
            ])
            .arg(format!("--port={port}"))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("dnsmasq.pid").display()
            ));
            for (name, text) in records {
                assert!(!text.contains(','), "a TXT record with a comma: {text}");
                cmd.arg(format!("--txt-record={name},{text}"));
            }
            let mut child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("start dnsmasq");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let start = Instant::now();
            loop {
                if let Ok(Some(_)) = child.try_wait() {
                    // The port was taken meanwhile: another one.
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return DnsServer {
                        child,
                        addr,
                        log,
                        _dir: dir,
                    };
                }
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "dnsmasq did not come up:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("no free loopback port for dnsmasq");
    }

    /// What it was asked, for failure messages.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The `dns_servers` line of a board's `[review]`.
    pub fn config_line(&self) -> String {
        format!("dns_servers = [\"{}\"]", self.addr)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port free for both UDP and TCP at the moment.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A `dns_servers` line naming a loopback port nobody answers on.
pub fn dead_dns_line() -> String {
    format!("dns_servers = [\"127.0.0.1:{}\"]", free_port())
}

/// A DKIM signing key of `domain` under a selector of its own.
pub struct Signer {
    pub domain: String,
    pub selector: String,
    pkcs8: Vec<u8>,
}

impl Signer {
    pub fn new(domain: &str) -> Signer {
        Signer {
            domain: domain.to_string(),
            selector: unique("s").replace('-', ""),
            pkcs8: Ed25519Key::generate_pkcs8().unwrap(),
        }
    }

    fn key(&self) -> Ed25519Key {
        Ed25519Key::from_pkcs8_der(&self.pkcs8).unwrap()
    }

    /// Its public key as DNS publishes it: (name, TXT).
    pub fn key_record(&self) -> (String, String) {
        use base64::Engine;
        (
            format!("{}._domainkey.{}", self.selector, self.domain),
            format!(
                "v=DKIM1; k=ed25519; p={}",
                base64::engine::general_purpose::STANDARD.encode(self.key().public_key())
            ),
        )
    }

    /// `raw` with a DKIM-Signature of this key on top (relaxed/relaxed, the
    /// headers a mail client signs).
    pub fn sign(&self, raw: &[u8]) -> Vec<u8> {
        let signature = DkimSigner::from_key(self.key())
            .domain(self.domain.as_str())
            .selector(self.selector.as_str())
            .headers([
                "From",
                "To",
                "Subject",
                "Message-ID",
                "In-Reply-To",
                "References",
                "MIME-Version",
                "Content-Type",
                "Content-Transfer-Encoding",
            ])
            .header_canonicalization(Canonicalization::Relaxed)
            .body_canonicalization(Canonicalization::Relaxed)
            .sign(raw)
            .unwrap();
        let mut signed = signature.to_header().into_bytes();
        signed.extend_from_slice(raw);
        signed
    }
}

/// A DMARC policy record of `domain`: (name, TXT).
pub fn dmarc_record(domain: &str, policy: &str) -> (String, String) {
    (format!("_dmarc.{domain}"), policy.to_string())
}
