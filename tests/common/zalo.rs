//! A local fake of Zalo's OA API, the one stand-in DEVELOPERS.md allows:
//! the consultation-message endpoint, the OAuth token refresh and media
//! URLs (and redirects), on 127.0.0.1 with a port of its own. Boards that
//! download from it opt in to loopback downloads explicitly
//! ([`LOOPBACK_DOWNLOADS`]).
//!
//! It runs on a thread of its own with its own tokio runtime, so sync tests
//! and `#[tokio::test]` tests use it alike; dropping it stops the server.
//! It keeps Zalo's habits that matter to a client: errors come as HTTP 200
//! with a negative `error` code, only the current access token is accepted,
//! and a refresh token works once, each refresh issuing a new pair.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The `[zalo]` lines that let a board download from the fake on
/// 127.0.0.1: without them (the default) loopback is refused, as in
/// production.
pub const LOOPBACK_DOWNLOADS: &str =
    "download_hosts = [\"127.0.0.1\"]\nallow_private_downloads = true\n";

/// Zalo's answer to a send with a bad or expired access token.
pub const INVALID_TOKEN: i64 = -216;
/// Zalo's answer to a send to a user outside the messaging window.
pub const NOT_INTERACTED: i64 = -230;

/// A running fake. `base` serves as both `api_base` and `oauth_base`.
pub struct FakeZalo {
    pub base: String,
    state: Arc<Mutex<Fake>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Fake {
    app_id: String,
    secret_key: String,
    access_token: String,
    refresh_token: String,
    access_expired: bool,
    issued: u64,
    used_refresh_tokens: BTreeSet<String>,
    sent: Vec<(String, String)>,
    attempts: usize,
    refreshes: usize,
    unreachable: BTreeSet<String>,
    media: BTreeMap<String, (String, Vec<u8>)>,
    redirects: BTreeMap<String, String>,
}

type Shared = Arc<Mutex<Fake>>;

fn lock(state: &Shared) -> MutexGuard<'_, Fake> {
    // A handler that panicked leaves plain data behind: keep serving.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeZalo {
    /// Starts a fake for the app `app_id` whose current tokens are
    /// `access_token` and `refresh_token`.
    pub fn start(
        app_id: &str,
        secret_key: &str,
        access_token: &str,
        refresh_token: &str,
    ) -> FakeZalo {
        let state = Arc::new(Mutex::new(Fake {
            app_id: app_id.to_owned(),
            secret_key: secret_key.to_owned(),
            access_token: access_token.to_owned(),
            refresh_token: refresh_token.to_owned(),
            access_expired: false,
            issued: 0,
            used_refresh_tokens: BTreeSet::new(),
            sent: Vec::new(),
            attempts: 0,
            refreshes: 0,
            unreachable: BTreeSet::new(),
            media: BTreeMap::new(),
            redirects: BTreeMap::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fake Zalo's port");
        let base = format!(
            "http://{}",
            listener.local_addr().expect("fake Zalo address")
        );
        listener
            .set_nonblocking(true)
            .expect("fake Zalo listener non-blocking");
        let router = Router::new()
            .route("/v3.0/oa/message/cs", post(send_message))
            .route("/v4/oa/access_token", post(renew_tokens))
            .route("/media/{name}", get(media))
            .route("/redirect/{name}", get(redirect))
            .with_state(Arc::clone(&state));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("fake-zalo".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("fake Zalo runtime");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .expect("fake Zalo tokio listener");
                    axum::serve(listener, router)
                        .with_graceful_shutdown(async {
                            let _ = stopped.await;
                        })
                        .await
                        .expect("fake Zalo server");
                });
            })
            .expect("start the fake Zalo thread");
        FakeZalo {
            base,
            state,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The messages accepted, as (user id, text), in order.
    pub fn sent(&self) -> Vec<(String, String)> {
        lock(&self.state).sent.clone()
    }

    /// Every POST to the message endpoint, accepted or not.
    pub fn attempts(&self) -> usize {
        lock(&self.state).attempts
    }

    /// Serves `bytes` as `content_type` and returns its URL,
    /// `{base}/media/{name}`.
    pub fn serve(&self, name: &str, content_type: &str, bytes: Vec<u8>) -> String {
        lock(&self.state)
            .media
            .insert(name.to_owned(), (content_type.to_owned(), bytes));
        format!("{}/media/{name}", self.base)
    }

    /// Answers `{base}/redirect/{name}` (the URL returned) with a 302 to
    /// `location`.
    pub fn redirect(&self, name: &str, location: &str) -> String {
        lock(&self.state)
            .redirects
            .insert(name.to_owned(), location.to_owned());
        format!("{}/redirect/{name}", self.base)
    }

    /// From now on the current access token gets Zalo's invalid-token
    /// answer, until a refresh issues a new one.
    pub fn expire_access_token(&self) {
        lock(&self.state).access_expired = true;
    }

    /// Successful refreshes so far.
    pub fn refreshes(&self) -> usize {
        lock(&self.state).refreshes
    }

    /// The current (access token, refresh token).
    pub fn tokens(&self) -> (String, String) {
        let state = lock(&self.state);
        (state.access_token.clone(), state.refresh_token.clone())
    }

    /// From now on sends to `user_id` get Zalo's outside-the-window answer.
    pub fn unreachable(&self, user_id: &str) {
        lock(&self.state).unreachable.insert(user_id.to_owned());
    }
}

impl Drop for FakeZalo {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The `X-ZEvent-Signature` value Zalo would send with this webhook body:
/// `mac=` and the hex SHA-256 of app id, body, timestamp and secret key.
pub fn sign(app_id: &str, body: &str, timestamp: &str, secret: &str) -> String {
    let digest = Sha256::digest(format!("{app_id}{body}{timestamp}{secret}").as_bytes());
    format!("mac={}", hex::encode(digest))
}

/// A complete webhook body as Zalo sends it: `event_name` from `user_id`
/// to the OA, with `message` (e.g. `{"msg_id": "m1", "text": "..."}`) and
/// the timestamp as a string of milliseconds.
pub fn webhook(
    app_id: &str,
    event_name: &str,
    user_id: &str,
    message: Value,
    timestamp: &str,
) -> String {
    json!({
        "app_id": app_id,
        "sender": {"id": user_id},
        "user_id_by_app": format!("app-{user_id}"),
        "recipient": {"id": "fake-oa"},
        "event_name": event_name,
        "message": message,
        "timestamp": timestamp,
    })
    .to_string()
}

fn zalo_error(code: i64, message: &str) -> Response {
    Json(json!({"error": code, "message": message})).into_response()
}

async fn send_message(State(state): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let mut state = lock(&state);
    state.attempts += 1;
    let token = headers
        .get("access_token")
        .and_then(|value| value.to_str().ok());
    if state.access_expired || token != Some(state.access_token.as_str()) {
        return zalo_error(INVALID_TOKEN, "Access token is invalid");
    }
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let user = request
        .pointer("/recipient/user_id")
        .and_then(Value::as_str);
    let text = request.pointer("/message/text").and_then(Value::as_str);
    let (Some(user), Some(text)) = (user, text) else {
        return zalo_error(-201, "Parameters are invalid");
    };
    if state.unreachable.contains(user) {
        return zalo_error(
            NOT_INTERACTED,
            "User has not interacted with the OA in the past 7 days",
        );
    }
    state.sent.push((user.to_owned(), text.to_owned()));
    let message_id = format!("fake-msg-{}", state.sent.len());
    Json(json!({
        "error": 0,
        "message": "Success",
        "data": {"message_id": message_id, "user_id": user},
    }))
    .into_response()
}

async fn renew_tokens(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let mut state = lock(&state);
    let oauth_error = |code: i64, name: &str, description: &str| {
        Json(json!({"error": code, "error_name": name, "error_description": description}))
            .into_response()
    };
    let secret = headers
        .get("secret_key")
        .and_then(|value| value.to_str().ok());
    if secret != Some(state.secret_key.as_str()) {
        return oauth_error(
            -14002,
            "Invalid secret key",
            "The secret_key header is wrong",
        );
    }
    let field = |key: &str| form.get(key).map(String::as_str);
    if field("app_id") != Some(state.app_id.as_str()) {
        return oauth_error(-14001, "Invalid app id", "The app_id is not this app's");
    }
    if field("grant_type") != Some("refresh_token") {
        return oauth_error(-14003, "Invalid grant type", "Expected refresh_token");
    }
    let given = field("refresh_token").unwrap_or_default();
    if given != state.refresh_token || state.used_refresh_tokens.contains(given) {
        return oauth_error(
            -14014,
            "Invalid refresh token",
            "The refresh token is unknown or was already used",
        );
    }
    let used = state.refresh_token.clone();
    state.used_refresh_tokens.insert(used);
    // New names never seen before, whatever names the test started with.
    loop {
        state.issued += 1;
        let fresh = format!("fake-refresh-{}", state.issued);
        if !state.used_refresh_tokens.contains(&fresh) {
            state.refresh_token = fresh;
            break;
        }
    }
    state.access_token = format!("fake-access-{}", state.issued);
    state.refreshes += 1;
    state.access_expired = false;
    Json(json!({
        "access_token": state.access_token,
        "refresh_token": state.refresh_token,
        "expires_in": "90000",
    }))
    .into_response()
}

async fn redirect(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let Some(location) = lock(&state).redirects.get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

/// A service on the board's own network that a download must never reach
/// (an admin console, a metadata service): a plain HTTP server on
/// 127.0.0.1 answering every request with a secret, counting connections.
pub struct InternalService {
    pub port: u16,
    hits: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the internal service answers: it must never become an attachment.
pub const INTERNAL_SECRET: &str = "INTERNAL-ONLY root password: hunter2";

impl InternalService {
    pub fn start() -> InternalService {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the internal service");
        let port = listener
            .local_addr()
            .expect("internal service address")
            .port();
        let hits = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (counted, stopping) = (Arc::clone(&hits), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("internal-service".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    counted.fetch_add(1, Ordering::SeqCst);
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(2)));
                    let mut request = [0u8; 4096];
                    let _ = stream.read(&mut request);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{INTERNAL_SECRET}",
                        INTERNAL_SECRET.len()
                    );
                }
            })
            .expect("start the internal service");
        InternalService {
            port,
            hits,
            stop,
            thread: Some(thread),
        }
    }

    /// Connections accepted so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for InternalService {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Media in chunks of 16 KiB without a Content-Length, so that a client's
/// size cap is met while reading, not only from the header.
async fn media(State(state): State<Shared>, Path(name): Path<String>) -> Response {
    let Some((content_type, bytes)) = lock(&state).media.get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let chunks: Vec<Result<Vec<u8>, Infallible>> = bytes
        .chunks(16 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .collect();
    let body = Body::from_stream(futures::stream::iter(chunks));
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}
