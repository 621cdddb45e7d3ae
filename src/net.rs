//! Network plumbing shared by the mail connections: TCP with a timeout,
//! rustls client configuration, reconnect backoff, and the shutdown signal
//! every long-running loop races against.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_rustls::TlsConnector;

/// A byte stream a protocol client can run over: plain TCP or TLS.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + std::fmt::Debug> Io for T {}

/// Opens a TCP connection, giving up after `timeout`.
pub async fn connect_tcp(host: &str, port: u16, timeout: Duration) -> Result<TcpStream> {
    let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
        .await
        .with_context(|| format!("Timed out connecting to {host}:{port}"))?
        .with_context(|| format!("Cannot connect to {host}:{port}"))?;
    stream.set_nodelay(true).ok();
    Ok(stream)
}

/// A TLS connector trusting the system's certificate store plus, if given,
/// the certificates in `ca_file` (for a board's own mail server).
pub fn tls_connector(ca_file: Option<&Path>) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A malformed system certificate is skipped, not fatal.
        let _ = roots.add(cert);
    }
    if let Some(path) = ca_file {
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("Cannot read CA file {}", path.display()))?
        {
            let cert = cert.with_context(|| format!("Bad certificate in {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("Unusable certificate in {}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            bail!("No certificate found in CA file {}", path.display());
        }
    }
    if roots.is_empty() {
        bail!("No trusted certificates: install ca-certificates or set ca_file");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("Cannot set up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// Starts TLS on `stream`, checking the certificate against `host`.
pub async fn start_tls<S: AsyncRead + AsyncWrite + Unpin>(
    connector: &TlsConnector,
    host: &str,
    stream: S,
    timeout: Duration,
) -> Result<tokio_rustls::client::TlsStream<S>> {
    let name = ServerName::try_from(host.to_string())
        .with_context(|| format!("{host} is not a valid TLS server name"))?;
    tokio::time::timeout(timeout, connector.connect(name, stream))
        .await
        .with_context(|| format!("Timed out in the TLS handshake with {host}"))?
        .with_context(|| format!("TLS handshake with {host} failed"))
}

/// Exponential backoff with jitter between reconnects (2 s doubling to
/// 80 s), reset after a connection that worked.
#[derive(Debug)]
pub struct Backoff {
    next: Duration,
    min: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            next: min,
            min,
            max,
        }
    }

    /// The delay before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = (self.next * 2).min(self.max);
        let jitter_ms = u64::try_from(base.as_millis() / 4).unwrap_or(0);
        base + Duration::from_millis(rand::random_range(0..=jitter_ms))
    }

    pub fn reset(&mut self) {
        self.next = self.min;
    }
}

/// The shutdown signal: set once (SIGTERM, SIGINT, end of `--once`), seen by
/// every loop.
#[derive(Debug, Clone)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

impl Shutdown {
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger { tx }, Shutdown { rx })
    }

    pub fn is_set(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown was requested.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means the trigger is gone, which also means: stop.
        let _ = rx.wait_for(|set| *set).await;
    }

    /// Sleeps for `d`; returns false if shutdown came first.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.wait() => false,
        }
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_secs(2), Duration::from_secs(80));
        let delays: Vec<u64> = (0..8).map(|_| b.next_delay().as_secs()).collect();
        assert!(delays[0] >= 2 && delays[0] <= 3, "{delays:?}");
        assert!(delays[7] >= 80 && delays[7] <= 100, "{delays:?}");
        b.reset();
        assert!(b.next_delay() < Duration::from_secs(3));
    }

    #[tokio::test]
    async fn shutdown_interrupts_sleep() {
        let (trigger, shutdown) = Shutdown::new();
        trigger.trigger();
        assert!(!shutdown.sleep(Duration::from_secs(3600)).await);
        assert!(shutdown.is_set());
    }
}
