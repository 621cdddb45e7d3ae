//! Running as a system service: the systemd notify protocol (READY,
//! WATCHDOG, RELOADING, STOPPING), and the health the workers report for
//! `/healthz`, `/metrics` and `bientap status`.

pub mod daemon;
pub mod http;

use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

/// Sends a state line to systemd when it supervises us ($NOTIFY_SOCKET);
/// does nothing otherwise. Failures are logged, never fatal: the daemon
/// works the same without a supervisor.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send_notify(&path, state) {
        tracing::debug!(error = %e, state, "cannot notify systemd");
    }
}

fn send_notify(path: &std::ffi::OsStr, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let bytes = path.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        // An abstract socket: '@' stands for the leading NUL byte.
        Some(name) => SocketAddr::from_abstract_name(name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(path))?,
    };
    let socket = UnixDatagram::unbound()?;
    socket.send_to_addr(state.as_bytes(), &addr)?;
    Ok(())
}

/// How often to tell systemd we are alive: half its watchdog interval, when
/// it set one for this process.
pub fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Ok(pid) = std::env::var("WATCHDOG_PID")
        && pid.parse::<u32>().ok() != Some(std::process::id())
    {
        return None;
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// What the workers report about themselves.
#[derive(Debug, Default)]
pub struct Health {
    state: Mutex<State>,
}

/// A snapshot of the health state.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct State {
    pub started_at: Option<Timestamp>,
    /// The mailbox is connected (IMAP logged in; a Maildir is readable).
    pub source_connected: bool,
    /// The last time the mailbox was read to the end.
    pub last_poll: Option<Timestamp>,
    /// How long that read took, milliseconds.
    pub last_poll_ms: Option<u64>,
    pub polls: u64,
    pub source_error: Option<String>,
    pub source_error_at: Option<Timestamp>,
    /// Messages processed (committed) since the start.
    pub ingested: u64,
    /// A batch in progress since then (a stuck batch stops the watchdog).
    pub batch_started: Option<Timestamp>,
    pub last_sent: Option<Timestamp>,
    pub sent: u64,
    pub send_failures: u64,
    pub send_error: Option<String>,
    pub send_error_at: Option<Timestamp>,
    pub reloads: u64,
    pub last_reload: Option<Timestamp>,
    pub reload_error: Option<String>,
    /// Zalo: webhook events accepted and refused (bad signature) since the
    /// start, the last accepted one, messages sent through the OA, token
    /// refreshes, and the last Zalo error.
    pub zalo_events: u64,
    pub zalo_refused: u64,
    pub zalo_last_event: Option<Timestamp>,
    pub zalo_sent: u64,
    pub zalo_refreshes: u64,
    pub zalo_error: Option<String>,
    pub zalo_error_at: Option<Timestamp>,
}

impl Health {
    fn update(&self, f: impl FnOnce(&mut State)) {
        match self.state.lock() {
            Ok(mut s) => f(&mut s),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn snapshot(&self) -> State {
        match self.state.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub fn started(&self) {
        self.update(|s| s.started_at = Some(Timestamp::now()));
    }

    pub fn source_up(&self) {
        self.update(|s| s.source_connected = true);
    }

    pub fn source_down(&self, error: &str) {
        self.update(|s| {
            s.source_connected = false;
            s.source_error = Some(error.to_string());
            s.source_error_at = Some(Timestamp::now());
        });
    }

    /// The mailbox was read to the end; it took `took`.
    pub fn polled(&self, took: Duration) {
        self.update(|s| {
            s.source_connected = true;
            s.last_poll = Some(Timestamp::now());
            s.last_poll_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
            s.polls = s.polls.saturating_add(1);
        });
    }

    pub fn batch_begins(&self) {
        self.update(|s| s.batch_started = Some(Timestamp::now()));
    }

    pub fn batch_done(&self, messages: usize) {
        self.update(|s| {
            s.batch_started = None;
            s.ingested = s.ingested.saturating_add(messages as u64);
        });
    }

    pub fn mail_sent(&self) {
        self.update(|s| {
            s.last_sent = Some(Timestamp::now());
            s.sent = s.sent.saturating_add(1);
            s.send_error = None;
        });
    }

    pub fn send_failed(&self, error: &str) {
        self.update(|s| {
            s.send_failures = s.send_failures.saturating_add(1);
            s.send_error = Some(error.to_string());
            s.send_error_at = Some(Timestamp::now());
        });
    }

    pub fn zalo_event(&self) {
        self.update(|s| {
            s.zalo_events = s.zalo_events.saturating_add(1);
            s.zalo_last_event = Some(Timestamp::now());
        });
    }

    pub fn zalo_refused(&self) {
        self.update(|s| s.zalo_refused = s.zalo_refused.saturating_add(1));
    }

    pub fn zalo_sent(&self) {
        self.update(|s| {
            s.zalo_sent = s.zalo_sent.saturating_add(1);
            s.zalo_error = None;
        });
    }

    pub fn zalo_refreshed(&self) {
        self.update(|s| s.zalo_refreshes = s.zalo_refreshes.saturating_add(1));
    }

    pub fn zalo_failed(&self, error: &str) {
        self.update(|s| {
            s.zalo_error = Some(error.to_string());
            s.zalo_error_at = Some(Timestamp::now());
        });
    }

    pub fn reloaded(&self, result: Result<(), String>) {
        self.update(|s| {
            s.last_reload = Some(Timestamp::now());
            match result {
                Ok(()) => {
                    s.reloads = s.reloads.saturating_add(1);
                    s.reload_error = None;
                }
                Err(e) => s.reload_error = Some(e),
            }
        });
    }
}

/// A batch running longer than this is stuck: the watchdog stops, and
/// systemd restarts the daemon (nothing is lost: nothing was acknowledged).
pub const STUCK_BATCH: Duration = Duration::from_secs(600);

impl State {
    /// True when a batch has run for longer than `STUCK_BATCH`.
    pub fn stuck(&self, now: Timestamp) -> bool {
        self.batch_started
            .is_some_and(|t| now.duration_since(t).as_secs() > STUCK_BATCH.as_secs() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_reaches_a_listening_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        send_notify(path.as_os_str(), "READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn a_long_batch_is_stuck() {
        let h = Health::default();
        h.batch_begins();
        let now = Timestamp::now();
        assert!(!h.snapshot().stuck(now));
        let later = now
            .checked_add(jiff::SignedDuration::from_secs(601))
            .unwrap();
        assert!(h.snapshot().stuck(later));
        h.batch_done(3);
        assert!(!h.snapshot().stuck(later));
        assert_eq!(h.snapshot().ingested, 3);
    }
}
