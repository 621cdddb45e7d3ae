//! The daemon's loopback HTTP endpoint (`[http] listen`): `/healthz` for
//! monitoring, `/metrics` for Prometheus, and the console's `/status` and
//! `/reload`. It has no authentication, so it only listens on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::State as AxumState;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::{Health, State};
use crate::config::{Config, Live, Outbound, Source};
use crate::net::Shutdown;
use crate::store::Store;
use crate::store::console::{self, Figures};

/// Mail due but unsent for longer than this means the outbox is stuck.
const OUTBOX_STUCK: Duration = Duration::from_secs(15 * 60);

/// A reload request and where to send its outcome.
pub type ReloadRequest = oneshot::Sender<Result<String, String>>;

/// What the handlers share.
#[derive(Clone)]
pub struct Endpoint {
    pub health: Arc<Health>,
    pub store: Store,
    pub config: Live<Config>,
    pub reload: mpsc::Sender<ReloadRequest>,
}

/// One check of `/healthz`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

/// The answer of `/healthz`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Report {
    pub healthy: bool,
    pub source: Check,
    pub smtp: Check,
    pub database: Check,
    pub outbox: Check,
    /// The Zalo channel, when configured.
    #[serde(default)]
    pub zalo: Option<Check>,
}

/// The answer of `/status`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Status {
    pub health: Report,
    pub state: State,
    pub figures: Figures,
}

/// Serves until shutdown on an already bound listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    endpoint: Endpoint,
    shutdown: Shutdown,
) -> Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/reload", post(reload))
        .with_state(endpoint);
    serve_router(listener, app, shutdown).await
}

/// Serves `app` until shutdown, letting requests in progress finish.
pub async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: Shutdown,
) -> Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
        .context("The HTTP endpoint failed")
}

/// Binds the configured address; only loopback addresses are accepted.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!(
            "Cannot listen on {addr} (http.listen): is another bientap running? set another port"
        )
    })
}

async fn healthz(AxumState(e): AxumState<Endpoint>) -> Response {
    let report = check(&e).await;
    let code = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, axum::Json(report)).into_response()
}

async fn status(AxumState(e): AxumState<Endpoint>) -> Response {
    let now = Timestamp::now();
    let figures = console::figures(&e.store, now.as_millisecond()).await;
    let health = check_with(&e, &figures, now).await;
    match figures {
        Ok(figures) => axum::Json(Status {
            health,
            state: e.health.snapshot(),
            figures,
        })
        .into_response(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("{err:#}")).into_response(),
    }
}

async fn reload(AxumState(e): AxumState<Endpoint>) -> Response {
    let (tx, rx) = oneshot::channel();
    if e.reload.send(tx).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "the daemon is stopping").into_response();
    }
    match rx.await {
        Ok(Ok(summary)) => (StatusCode::OK, summary).into_response(),
        Ok(Err(problem)) => (StatusCode::UNPROCESSABLE_ENTITY, problem).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the reload did not finish").into_response(),
    }
}

/// Runs every check of `/healthz`.
pub async fn check(e: &Endpoint) -> Report {
    let now = Timestamp::now();
    let figures = console::figures(&e.store, now.as_millisecond()).await;
    check_with(e, &figures, now).await
}

/// The checks, with the database's figures already read.
async fn check_with(e: &Endpoint, figures: &Result<Figures>, now: Timestamp) -> Report {
    let config = e.config.get();
    let state = e.health.snapshot();
    let source = source_check(&config, &state, now);
    let smtp = smtp_check(&config, &state).await;
    let database = match heartbeat(&e.store, now).await {
        Ok(()) => Check {
            ok: true,
            detail: "writable".into(),
        },
        Err(err) => Check {
            ok: false,
            detail: format!("{err:#}"),
        },
    };
    let unreadable = |err: &anyhow::Error| Check {
        ok: false,
        detail: format!("{err:#}"),
    };
    let outbox = match figures {
        Ok(f) => outbox_check(f, now),
        Err(err) => unreadable(err),
    };
    let zalo = config.zalo.as_ref().map(|z| match figures {
        Ok(f) => zalo_check(z, f, &state, now),
        Err(err) => unreadable(err),
    });
    Report {
        healthy: source.ok
            && smtp.ok
            && database.ok
            && outbox.ok
            && zalo.as_ref().is_none_or(|z| z.ok),
        source,
        smtp,
        database,
        outbox,
        zalo,
    }
}

/// Zalo: submissions waiting well past their quiet window mean the
/// collector is stuck (or files cannot be downloaded).
fn zalo_check(z: &crate::config::Zalo, f: &Figures, s: &State, now: Timestamp) -> Check {
    let limit = i64::try_from(z.quiet_window.as_secs())
        .unwrap_or(i64::MAX)
        .saturating_add(15 * 60);
    let waiting = f
        .zalo_oldest_pending
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map_or(0, |t| age(now, t));
    let last = s.zalo_last_event.map_or_else(
        || "none since the start".to_string(),
        |t| format!("last {} s ago", age(now, t)),
    );
    if waiting > limit {
        return Check {
            ok: false,
            detail: format!(
                "{} Zalo event(s) waiting for {waiting} s, past the quiet window: see the log",
                f.zalo_pending
            ),
        };
    }
    let error = s
        .zalo_error
        .as_deref()
        .map_or(String::new(), |e| format!("; last error: {e}"));
    Check {
        ok: true,
        detail: format!(
            "events: {} accepted ({last}), {} refused, {} waiting{error}",
            s.zalo_events, s.zalo_refused, f.zalo_pending
        ),
    }
}

fn age(now: Timestamp, t: Timestamp) -> i64 {
    now.duration_since(t).as_secs()
}

fn source_check(config: &Config, state: &State, now: Timestamp) -> Check {
    // How long without a complete read is still normal: an IDLE wait, or
    // a few polling intervals, plus a network timeout.
    let quiet = match &config.source {
        Source::Imap(i) if i.idle => i.idle_timeout + i.timeout * 2,
        Source::Imap(i) => i.poll_interval * 3 + i.timeout * 2,
        Source::Maildir(m) => m.poll_interval * 3,
    } + Duration::from_secs(60);
    let quiet = i64::try_from(quiet.as_secs()).unwrap_or(i64::MAX);
    let started = state.started_at.map_or(0, |t| age(now, t));
    match state.last_poll {
        // Down once it was up, or still not up a minute after the start.
        _ if !state.source_connected && (state.last_poll.is_some() || started > 60) => Check {
            ok: false,
            detail: format!(
                "mailbox not connected: {}",
                state.source_error.as_deref().unwrap_or("no connection yet")
            ),
        },
        Some(t) if age(now, t) > quiet => Check {
            ok: false,
            detail: format!("no complete read of the mailbox for {} s", age(now, t)),
        },
        Some(t) => Check {
            ok: true,
            detail: format!("connected; last read {} s ago", age(now, t)),
        },
        None if started > quiet => Check {
            ok: false,
            detail: "the mailbox has not been read since the start".into(),
        },
        None => Check {
            ok: true,
            detail: "starting".into(),
        },
    }
}

async fn smtp_check(config: &Config, state: &State) -> Check {
    match &config.outbound {
        Outbound::Smtp(smtp) => {
            let target = format!("{}:{}", smtp.host, smtp.port);
            let reached = tokio::time::timeout(
                Duration::from_secs(3),
                tokio::net::TcpStream::connect(&target),
            )
            .await;
            match reached {
                Ok(Ok(_)) => Check {
                    ok: true,
                    detail: match &state.send_error {
                        Some(err) => format!("{target} reachable; last sending error: {err}"),
                        None => format!("{target} reachable"),
                    },
                },
                Ok(Err(err)) => Check {
                    ok: false,
                    detail: format!("{target} unreachable: {err}"),
                },
                Err(_) => Check {
                    ok: false,
                    detail: format!("{target}: no answer within 3 s"),
                },
            }
        }
        Outbound::Maildrop(dir) => Check {
            ok: true,
            detail: format!("mail written to {}", dir.display()),
        },
        Outbound::Disabled => Check {
            ok: true,
            detail: "no outgoing mail configured".into(),
        },
    }
}

fn outbox_check(f: &Figures, now: Timestamp) -> Check {
    let stuck = f
        .outbox_oldest_due
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map(|t| age(now, t))
        .filter(|secs| *secs > OUTBOX_STUCK.as_secs() as i64);
    match stuck {
        Some(secs) => Check {
            ok: false,
            detail: format!(
                "{} mail(s) waiting, the oldest due {} min ago (`bientap outbox list`)",
                f.outbox_pending,
                secs / 60
            ),
        },
        None => Check {
            ok: true,
            detail: format!("{} waiting, {} failed", f.outbox_pending, f.outbox_failed),
        },
    }
}

/// Proves the state database takes writes.
async fn heartbeat(store: &Store, now: Timestamp) -> Result<()> {
    tokio::time::timeout(
        Duration::from_secs(5),
        sqlx::query(
            "INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
        )
        .bind(now.as_millisecond())
        .execute(store.pool()),
    )
    .await
    .context("the state database did not answer within 5 s")?
    .context("the state database refuses writes")?;
    Ok(())
}

async fn metrics(AxumState(e): AxumState<Endpoint>) -> Response {
    let now = Timestamp::now();
    match console::figures(&e.store, now.as_millisecond()).await {
        Ok(f) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            render_metrics(&f, &e.health.snapshot()),
        )
            .into_response(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, format!("{err:#}")).into_response(),
    }
}

/// The Prometheus text exposition of the figures and the process's
/// counters.
pub fn render_metrics(f: &Figures, s: &State) -> String {
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, value) in samples {
            out.push_str(&format!("{name}{labels} {value}\n"));
        }
    };
    let labelled = |label: &str, rows: &[(String, i64)]| -> Vec<(String, f64)> {
        rows.iter()
            .map(|(k, v)| {
                (
                    format!("{{{label}=\"{}\"}}", k.replace(['"', '\\', '\n'], "_")),
                    *v as f64,
                )
            })
            .collect()
    };
    let one = |v: f64| vec![(String::new(), v)];
    metric(
        "bientap_messages",
        "gauge",
        "Messages recorded in the state database, by what they were.",
        &labelled("kind", &f.messages),
    );
    metric(
        "bientap_tickets",
        "gauge",
        "Tickets by state.",
        &labelled("state", &f.tickets),
    );
    metric(
        "bientap_tickets_overdue",
        "gauge",
        "Pending tickets past their approval deadline (R6).",
        &one(f.overdue as f64),
    );
    metric(
        "bientap_outbox_depth",
        "gauge",
        "Outgoing mail not sent yet.",
        &one(f.outbox_pending as f64),
    );
    metric(
        "bientap_outbox_failed",
        "gauge",
        "Outgoing mail that failed for good.",
        &one(f.outbox_failed as f64),
    );
    metric(
        "bientap_quarantined",
        "gauge",
        "Messages in quarantine.",
        &one(f.quarantined as f64),
    );
    metric(
        "bientap_ingested_total",
        "counter",
        "Messages committed since the daemon started.",
        &one(s.ingested as f64),
    );
    metric(
        "bientap_mail_sent_total",
        "counter",
        "Mails sent since the daemon started.",
        &one(s.sent as f64),
    );
    metric(
        "bientap_send_failures_total",
        "counter",
        "Failed sending attempts since the daemon started.",
        &one(s.send_failures as f64),
    );
    metric(
        "bientap_source_connected",
        "gauge",
        "1 when the mailbox is connected.",
        &one(if s.source_connected { 1.0 } else { 0.0 }),
    );
    metric(
        "bientap_polls_total",
        "counter",
        "Complete reads of the mailbox since the daemon started.",
        &one(s.polls as f64),
    );
    if let Some(ms) = s.last_poll_ms {
        metric(
            "bientap_poll_duration_seconds",
            "gauge",
            "How long the last complete read of the mailbox took.",
            &one(ms as f64 / 1000.0),
        );
    }
    if let Some(t) = s.last_poll {
        metric(
            "bientap_last_poll_timestamp_seconds",
            "gauge",
            "When the mailbox was last read to the end (Unix time).",
            &one(t.as_second() as f64),
        );
    }
    metric(
        "bientap_zalo_events_total",
        "counter",
        "Zalo webhook events accepted since the daemon started.",
        &one(s.zalo_events as f64),
    );
    metric(
        "bientap_zalo_refused_total",
        "counter",
        "Zalo webhook requests refused for a missing or wrong signature.",
        &one(s.zalo_refused as f64),
    );
    metric(
        "bientap_zalo_pending_events",
        "gauge",
        "Zalo events waiting for their sender's quiet window.",
        &one(f.zalo_pending as f64),
    );
    metric(
        "bientap_zalo_sent_total",
        "counter",
        "Messages sent through the Zalo OA since the daemon started.",
        &one(s.zalo_sent as f64),
    );
    metric(
        "bientap_zalo_token_refreshes_total",
        "counter",
        "Zalo access token renewals since the daemon started.",
        &one(s.zalo_refreshes as f64),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_prometheus_text() {
        let f = Figures {
            messages: vec![("submission".into(), 12), ("quarantined".into(), 1)],
            tickets: vec![("reviewing".into(), 3)],
            overdue: 1,
            outbox_pending: 2,
            quarantined: 1,
            ..Figures::default()
        };
        let s = State {
            ingested: 13,
            last_poll_ms: Some(250),
            source_connected: true,
            ..State::default()
        };
        let text = render_metrics(&f, &s);
        assert!(
            text.contains("# TYPE bientap_tickets gauge\nbientap_tickets{state=\"reviewing\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("bientap_messages{kind=\"submission\"} 12\n"));
        assert!(text.contains("bientap_tickets_overdue 1\n"));
        assert!(text.contains("bientap_outbox_depth 2\n"));
        assert!(text.contains("bientap_ingested_total 13\n"));
        assert!(text.contains("bientap_poll_duration_seconds 0.25\n"));
        assert!(text.contains("bientap_source_connected 1\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (name, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(name.starts_with("bientap_"), "{line}");
        }
    }
}
