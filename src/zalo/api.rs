//! The Zalo OA HTTP API: consultation messages, token refresh, and media
//! downloads, each failure classified by what the caller should do next.
//!
//! Zalo's OA API answers most failures with HTTP 200 and a JSON body
//! `{"error": <negative code>, "message": ".."}`; the OAuth server answers
//! `{"error": <code>, "error_name": "..", "error_description": ".."}`.
//! So the body decides, and the HTTP status only where the body does not.
//!
//! Error codes (Zalo's own table is at developers.zalo.me, "Official Account
//! API → Phụ lục → Mã lỗi"; it was not reachable from here, so the mapping
//! follows what integrators report and keeps every other code permanent):
//!
//! | code | meaning | [`ApiError`] |
//! | ---- | ------- | ------------ |
//! | -216 | access token invalid | `Token` |
//! | -220 | access token expired or revoked | `Token` |
//! | -124 | invalid access token (ZNS and newer endpoints) | `Token` |
//! | -213 | user does not follow the OA | `Unreachable` |
//! | -230 | user has not interacted with the OA in the last 7 days | `Unreachable` |
//! | -32  | rate limit exceeded | `Transient` |
//! | other | invalid parameters, permissions, quota, … | `Permanent` |
//!
//! Sources: -216/-213/-230 as the consultation-message endpoint answers them
//! in practice (github.com/khoicodedao/Poto_platform, docs/FIX_ERROR_230.md,
//! which found -230 where the documentation promised -213); -124 as
//! github.com/ChatbotXIO/ChatbotX `integrations/zalo/src/lib/error-mapper.ts`
//! detects revoked tokens; -32 and -220 from Zalo's published table as
//! remembered, to be checked against it. Any OAuth error body makes a
//! refresh `Permanent` (the refresh token is single-use and cannot be
//! retried once refused), unless the HTTP status says Zalo is failing.

use std::error::Error as _;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};

use super::guard::{self, Policy, Refusal};

/// Zalo's limit on a consultation message's text, in characters.
pub const MAX_TEXT: usize = 2000;

/// How long a connection may take, and a whole API call.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The most an API reply (not a download) may weigh; Zalo's are a few
/// hundred bytes.
const MAX_REPLY: u64 = 1024 * 1024;

/// Where Zalo's APIs live. Tests point both at a local fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The OA API, `https://openapi.zalo.me`.
    pub api_base: String,
    /// The OAuth server that renews tokens, `https://oauth.zaloapp.com`.
    pub oauth_base: String,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            api_base: "https://openapi.zalo.me".to_owned(),
            oauth_base: "https://oauth.zaloapp.com".to_owned(),
        }
    }
}

/// A client of one OA's API: the app's id and secret key, and a connection
/// pool with timeouts.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    /// The client downloads go through, built for the download policy it
    /// enforces (rebuilt when the configuration changes it).
    downloads: Arc<Mutex<Option<(Policy, reqwest::Client)>>>,
    app_id: String,
    secret_key: String,
    api_base: String,
    oauth_base: String,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("app_id", &self.app_id)
            .field("secret_key", &"<redacted>")
            .field("api_base", &self.api_base)
            .field("oauth_base", &self.oauth_base)
            .finish()
    }
}

/// A fresh pair of tokens: the access token for API calls and the refresh
/// token that replaces the one just used (which Zalo no longer accepts).
#[derive(Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// How long the access token lives; zero when Zalo's answer did not say,
    /// so that it is treated as already due for renewal.
    pub expires_in: Duration,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"<redacted>")
            .field("refresh_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// A downloaded file and the type its server gave it.
#[derive(Clone, PartialEq, Eq)]
pub struct Downloaded {
    pub bytes: Vec<u8>,
    /// The `Content-Type` header, or `application/octet-stream` without one.
    pub content_type: String,
}

impl fmt::Debug for Downloaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Downloaded")
            .field("bytes", &self.bytes.len())
            .field("content_type", &self.content_type)
            .finish()
    }
}

/// Why a download failed, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The URL, a redirect or the addresses its host resolves to are not
    /// where downloads may go (see [`guard`]): nothing was sent there, and
    /// trying again changes nothing.
    #[error("{0}")]
    Refused(Refusal),
    /// Network, timeout, 5xx: retry later.
    #[error("{0}")]
    Transient(String),
    /// Gone, refused by the server, too large, not a URL: give up on it.
    #[error("{0}")]
    Permanent(String),
}

impl From<ApiError> for DownloadError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Transient(text) => DownloadError::Transient(text),
            ApiError::Token(text) | ApiError::Unreachable(text) | ApiError::Permanent(text) => {
                DownloadError::Permanent(text)
            }
        }
    }
}

/// Why a call failed, by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The access token is invalid or expired: refresh and retry once.
    #[error("{0}")]
    Token(String),
    /// The user is outside the window in which the OA may message them
    /// (Zalo lets an OA answer only users who interacted recently) or does
    /// not follow or has blocked the OA: another channel is needed.
    #[error("{0}")]
    Unreachable(String),
    /// Network, timeout, 5xx, rate limit: retry later.
    #[error("{0}")]
    Transient(String),
    /// Anything else: give up on this message.
    #[error("{0}")]
    Permanent(String),
}

impl Client {
    /// A client for the app `app_id` with its secret key. Fails when an
    /// endpoint is not an http(s) URL or TLS cannot be set up.
    pub fn new(endpoints: Endpoints, app_id: String, secret_key: String) -> anyhow::Result<Client> {
        for (name, base) in [
            ("api_base", &endpoints.api_base),
            ("oauth_base", &endpoints.oauth_base),
        ] {
            check_url(base).with_context(|| format!("Zalo endpoint {name} is unusable"))?;
        }
        let http = reqwest::Client::builder()
            .connect_timeout(TIMEOUT)
            .timeout(TIMEOUT)
            .user_agent(concat!("bientap/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("Cannot set up the HTTP client for Zalo")?;
        Ok(Client {
            http,
            downloads: Arc::default(),
            app_id,
            secret_key,
            api_base: endpoints.api_base.trim_end_matches('/').to_owned(),
            oauth_base: endpoints.oauth_base.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends `text` to `user_id` as a consultation message and returns
    /// Zalo's message id (empty if Zalo's success answer named none). Text
    /// over [`MAX_TEXT`] characters, or empty, is refused unsent.
    pub async fn send_text(
        &self,
        access_token: &str,
        user_id: &str,
        text: &str,
    ) -> Result<String, ApiError> {
        check_text(text)?;
        let body = json!({"recipient": {"user_id": user_id}, "message": {"text": text}});
        let request = self
            .http
            .post(format!("{}/v3.0/oa/message/cs", self.api_base))
            .header("access_token", access_token)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.to_string());
        let (status, reply) = call(request, "send a message to").await?;
        classify_send(status, &reply)
    }

    /// Exchanges a refresh token for a new access and refresh token. The
    /// refresh token is single-use: store the new one before anything else.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, ApiError> {
        let request = self
            .http
            .post(format!("{}/v4/oa/access_token", self.oauth_base))
            .header("secret_key", &self.secret_key)
            .form(&[
                ("refresh_token", refresh_token),
                ("app_id", &self.app_id),
                ("grant_type", "refresh_token"),
            ]);
        let (status, reply) = call(request, "renew the access token at").await?;
        classify_refresh(status, &reply)
    }

    /// Downloads a media or file URL from a webhook, only where `policy`
    /// lets it go (hosts, addresses, each redirect: see [`guard`]), at most
    /// `max_bytes` (more is an error and is not read), everything within
    /// `timeout`.
    pub async fn download(
        &self,
        url: &str,
        policy: &Policy,
        max_bytes: u64,
        timeout: Duration,
    ) -> Result<Downloaded, DownloadError> {
        let parsed = reqwest::Url::parse(url.trim())
            .map_err(|_| DownloadError::Permanent(format!("{} is not a URL", shorten(url))))?;
        policy.check_url(&parsed).map_err(DownloadError::Refused)?;
        let http = self.download_client(policy)?;
        let shown = shorten(url);
        let fetch = async {
            // The request's own timeout: the download client has none.
            let response = http
                .get(parsed)
                .timeout(timeout)
                .send()
                .await
                .map_err(|err| download_failure(&err, &shown))?;
            let status = response.status();
            if !status.is_success() {
                return Err(download_status(status, &shown).into());
            }
            let content_type = response
                .headers()
                .get(CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .filter(|value| !value.trim().is_empty())
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = read_capped(response, max_bytes, &shown).await?;
            Ok(Downloaded {
                bytes,
                content_type,
            })
        };
        tokio::time::timeout(timeout, fetch).await.map_err(|_| {
            DownloadError::Transient(format!(
                "Downloading {shown} took longer than {} s; try again later",
                timeout.as_secs_f32()
            ))
        })?
    }

    /// The download client for `policy`: its resolver connects only to
    /// addresses it has checked, its redirect policy checks every hop, and
    /// it uses no proxy (a proxy would resolve names itself). Built once per
    /// policy.
    fn download_client(&self, policy: &Policy) -> Result<reqwest::Client, DownloadError> {
        let mut cached = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((built_for, http)) = cached.as_ref()
            && built_for == policy
        {
            return Ok(http.clone());
        }
        let shared = Arc::new(policy.clone());
        let http = reqwest::Client::builder()
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("bientap/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .referer(false)
            .dns_resolver(Arc::new(guard::Resolver::new(Arc::clone(&shared))))
            .redirect(guard::redirect_policy(shared))
            .build()
            .map_err(|err| {
                DownloadError::Transient(format!(
                    "Cannot set up the HTTP client for downloads: {err}; try again later"
                ))
            })?;
        *cached = Some((policy.clone(), http.clone()));
        Ok(http)
    }
}

/// What to do about a download that got no answer: refused by the guard
/// (at a redirect or after resolving), too many redirects, or a network
/// failure worth retrying.
fn download_failure(err: &reqwest::Error, url: &str) -> DownloadError {
    if let Some(refusal) = guard::refusal_in(err) {
        return DownloadError::Refused(refusal.clone());
    }
    match transport(err, &format!("download {url}")) {
        ApiError::Transient(text) if err.is_redirect() => {
            DownloadError::Permanent(text.trim_end_matches("; try again later").to_owned())
        }
        other => other.into(),
    }
}

/// Refuses text Zalo would refuse: empty, or over [`MAX_TEXT`] characters.
fn check_text(text: &str) -> Result<(), ApiError> {
    let length = text.chars().count();
    if length > MAX_TEXT {
        return Err(ApiError::Permanent(format!(
            "Not sent: the text has {length} characters and Zalo takes at most {MAX_TEXT}; \
             shorten it"
        )));
    }
    if text.trim().is_empty() {
        return Err(ApiError::Permanent(
            "Not sent: the text is empty and Zalo refuses empty messages".to_owned(),
        ));
    }
    Ok(())
}

/// Sends an API request and reads its reply (bounded), turning transport
/// failures into `Transient`.
async fn call(request: reqwest::RequestBuilder, what: &str) -> Result<(u16, String), ApiError> {
    let response = request
        .send()
        .await
        .map_err(|err| transport(&err, &format!("{what} Zalo")))?;
    let status = response.status().as_u16();
    let bytes = read_capped(response, MAX_REPLY, "Zalo's reply").await?;
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Reads a body chunk by chunk, stopping as soon as it passes `max_bytes`.
async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: u64,
    what: &str,
) -> Result<Vec<u8>, ApiError> {
    let too_big = || {
        ApiError::Permanent(format!(
            "{what} is larger than the limit of {max_bytes} bytes; it was not read further"
        ))
    };
    let announced = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if announced.is_some_and(|length| length > max_bytes) {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|err| transport(&err, &format!("read {what}")))?
    {
        let total = u64::try_from(bytes.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if total > max_bytes {
            return Err(too_big());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// A failure to reach Zalo or to read its answer: worth retrying.
fn transport(err: &reqwest::Error, what: &str) -> ApiError {
    let mut text = format!("Cannot {what}");
    let mut source: Option<&dyn std::error::Error> = err.source();
    if err.is_timeout() {
        text.push_str(": timed out");
    }
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.push_str("; try again later");
    ApiError::Transient(text)
}

/// An http(s) URL with a host, or why not.
fn check_url(url: &str) -> anyhow::Result<reqwest::Url> {
    let parsed = reqwest::Url::parse(url.trim())
        .with_context(|| format!("{} is not a URL", shorten(url)))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        anyhow::bail!(
            "{} is a {} URL; only http and https are fetched",
            shorten(url),
            parsed.scheme()
        );
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        anyhow::bail!("{} names no host", shorten(url));
    }
    Ok(parsed)
}

/// What to do about a failed download's HTTP status.
fn download_status(status: StatusCode, url: &str) -> ApiError {
    let text = format!("Downloading {url} failed with HTTP {status}");
    if retry_worthy(status.as_u16()) {
        ApiError::Transient(format!("{text}; try again later"))
    } else {
        ApiError::Permanent(format!(
            "{text}; the file is gone or refused (Zalo's links expire)"
        ))
    }
}

/// Statuses that say the server is failing or busy rather than refusing.
fn retry_worthy(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

/// What to do about an answer from the consultation-message endpoint.
fn classify_send(status: u16, reply: &str) -> Result<String, ApiError> {
    let Some(object) = json_object(reply) else {
        return Err(unreadable(status, reply, "sending the message"));
    };
    match object.get("error").and_then(code_of) {
        Some(0) => Ok(object
            .get("data")
            .and_then(|data| data.get("message_id"))
            .and_then(text_of)
            .unwrap_or_default()),
        Some(code) => {
            let message = object.get("message").and_then(text_of).unwrap_or_default();
            Err(by_code(code, &message, status))
        }
        None => Err(unreadable(status, reply, "sending the message")),
    }
}

/// What to do about an answer from the OAuth token endpoint.
fn classify_refresh(status: u16, reply: &str) -> Result<Tokens, ApiError> {
    let Some(object) = json_object(reply) else {
        return Err(unreadable(status, reply, "renewing the access token"));
    };
    let field = |key: &str| {
        object
            .get(key)
            .and_then(text_of)
            .filter(|text| !text.trim().is_empty())
    };
    if let Some(access_token) = field("access_token") {
        let Some(refresh_token) = field("refresh_token") else {
            return Err(ApiError::Permanent(
                "Zalo renewed the access token but sent no new refresh token; \
                 authorise the OA again in Zalo's developer console"
                    .to_owned(),
            ));
        };
        let seconds = field("expires_in")
            .and_then(|text| text.trim().parse::<u64>().ok())
            .unwrap_or(0);
        return Ok(Tokens {
            access_token,
            refresh_token,
            expires_in: Duration::from_secs(seconds),
        });
    }
    let described = [
        field("error").map(|code| format!("error {code}")),
        field("error_name"),
        field("error_reason"),
        field("error_description"),
        field("message"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    if described.is_empty() {
        return Err(unreadable(status, reply, "renewing the access token"));
    }
    let text = format!(
        "Zalo refused to renew the access token ({})",
        shorten(&described.join(": "))
    );
    if retry_worthy(status) {
        Err(ApiError::Transient(format!("{text}; try again later")))
    } else {
        Err(ApiError::Permanent(format!(
            "{text}; check the app id and secret key, or authorise the OA again in Zalo's \
             developer console to get a new refresh token"
        )))
    }
}

/// An OA API error code, by what the caller should do (see the table at
/// the top of this file).
fn by_code(code: i64, message: &str, status: u16) -> ApiError {
    let said = if message.trim().is_empty() {
        format!("error {code}")
    } else {
        format!("error {code}: {}", shorten(message))
    };
    match code {
        -216 | -220 | -124 => ApiError::Token(format!(
            "Zalo refused the OA access token ({said}); renew it and try again"
        )),
        -213 | -230 => ApiError::Unreachable(format!(
            "Zalo will not deliver to this user ({said}): they have not written to the OA \
             recently, do not follow it or blocked it; reach them another way"
        )),
        -32 => ApiError::Transient(format!(
            "Zalo's rate limit was reached ({said}); try again later"
        )),
        _ if retry_worthy(status) => ApiError::Transient(format!(
            "Zalo is failing (HTTP {status}, {said}); try again later"
        )),
        _ => ApiError::Permanent(format!("Zalo refused the message ({said})")),
    }
}

/// An answer that says nothing usable. A server error or an unreadable
/// success (a proxy's page, a cut-off body) is worth retrying, although a
/// message Zalo did accept may then be sent twice; anything else is not.
fn unreadable(status: u16, reply: &str, what: &str) -> ApiError {
    let text = format!(
        "Zalo's answer to {what} could not be understood (HTTP {status}: {})",
        shorten(reply.trim())
    );
    if retry_worthy(status) || (200..300).contains(&status) {
        ApiError::Transient(format!("{text}; try again later"))
    } else {
        ApiError::Permanent(text)
    }
}

fn json_object(reply: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str(reply) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// An error code given as a number or a numeric string.
fn code_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// At most 200 characters of untrusted text, for an error message.
fn shorten(text: &str) -> String {
    crate::text::truncate_chars(text, 200)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn kind(result: Result<impl fmt::Debug, ApiError>) -> &'static str {
        match result {
            Ok(_) => "ok",
            Err(ApiError::Token(_)) => "token",
            Err(ApiError::Unreachable(_)) => "unreachable",
            Err(ApiError::Transient(_)) => "transient",
            Err(ApiError::Permanent(_)) => "permanent",
        }
    }

    #[test]
    fn send_success_returns_message_id() {
        let reply = r#"{"data":{"message_id":"a1b2","user_id":"9"},"error":0,"message":"Success"}"#;
        assert_eq!(classify_send(200, reply).unwrap(), "a1b2");
        let numeric = r#"{"error":"0","data":{"message_id":42}}"#;
        assert_eq!(classify_send(200, numeric).unwrap(), "42");
        assert_eq!(classify_send(200, r#"{"error":0}"#).unwrap(), "");
    }

    #[test]
    fn send_error_codes() {
        let cases = [
            (-216, "token"),
            (-220, "token"),
            (-124, "token"),
            (-213, "unreachable"),
            (-230, "unreachable"),
            (-32, "transient"),
            (-201, "permanent"),
            (-210, "permanent"),
            (-999, "permanent"),
        ];
        for (code, expected) in cases {
            let reply = format!(r#"{{"error":{code},"message":"Something"}}"#);
            assert_eq!(kind(classify_send(200, &reply)), expected, "{code}");
            let as_string = format!(r#"{{"error":"{code}"}}"#);
            assert_eq!(kind(classify_send(200, &as_string)), expected, "{code}");
        }
    }

    #[test]
    fn send_error_messages_are_readable() {
        let reply =
            r#"{"error":-230,"message":"User has not interacted with the OA in the past 7 days"}"#;
        let message = classify_send(200, reply).unwrap_err().to_string();
        assert!(message.contains("-230"), "{message}");
        assert!(message.contains("past 7 days"), "{message}");
        assert!(message.contains("another way"), "{message}");
        let long = format!(r#"{{"error":-1,"message":"{}"}}"#, "đ".repeat(10_000));
        assert!(
            classify_send(200, &long)
                .unwrap_err()
                .to_string()
                .chars()
                .count()
                < 400
        );
    }

    #[test]
    fn send_status_decides_when_the_body_does_not() {
        assert_eq!(
            kind(classify_send(502, "<html>Bad gateway</html>")),
            "transient"
        );
        assert_eq!(kind(classify_send(429, "")), "transient");
        assert_eq!(kind(classify_send(200, "")), "transient");
        assert_eq!(kind(classify_send(200, r#"{"message":"?"}"#)), "transient");
        assert_eq!(kind(classify_send(404, "not found")), "permanent");
        assert_eq!(kind(classify_send(403, "[1]")), "permanent");
        assert_eq!(kind(classify_send(503, r#"{"error":-5}"#)), "transient");
        assert_eq!(kind(classify_send(503, r#"{"error":-216}"#)), "token");
    }

    #[test]
    fn refresh_success_with_string_or_number_lifetime() {
        for expires in [r#""90000""#, "90000"] {
            let reply =
                format!(r#"{{"access_token":"A","refresh_token":"R","expires_in":{expires}}}"#);
            let tokens = classify_refresh(200, &reply).unwrap();
            assert_eq!(tokens.access_token, "A");
            assert_eq!(tokens.refresh_token, "R");
            assert_eq!(tokens.expires_in, Duration::from_secs(90_000));
        }
        let tokens = classify_refresh(200, r#"{"access_token":"A","refresh_token":"R"}"#).unwrap();
        assert_eq!(tokens.expires_in, Duration::ZERO);
    }

    #[test]
    fn refresh_errors() {
        let refused = r#"{"error":-14014,"error_name":"Invalid refresh token","error_description":"Refresh token is invalid"}"#;
        let err = classify_refresh(200, refused).unwrap_err();
        assert_eq!(kind(Err::<(), _>(err)), "permanent");
        let message = classify_refresh(400, refused).unwrap_err().to_string();
        assert!(message.contains("Invalid refresh token"), "{message}");
        assert!(message.contains("-14014"), "{message}");
        assert_eq!(kind(classify_refresh(503, refused)), "transient");
        assert_eq!(
            kind(classify_refresh(
                200,
                r#"{"access_token":"A","expires_in":"1"}"#
            )),
            "permanent"
        );
        assert_eq!(
            kind(classify_refresh(200, r#"{"access_token":""}"#)),
            "transient"
        );
        assert_eq!(kind(classify_refresh(500, "oops")), "transient");
        assert_eq!(kind(classify_refresh(401, "oops")), "permanent");
    }

    #[test]
    fn tokens_and_client_hide_secrets_in_debug() {
        let tokens = Tokens {
            access_token: "secret-access".into(),
            refresh_token: "secret-refresh".into(),
            expires_in: Duration::from_secs(1),
        };
        assert!(!format!("{tokens:?}").contains("secret"));
        let client = Client::new(Endpoints::default(), "1".into(), "secret-key".into()).unwrap();
        assert!(!format!("{client:?}").contains("secret-key"));
    }

    #[test]
    fn url_schemes() {
        assert!(check_url("https://dl.zalo.me/a.jpg").is_ok());
        assert!(check_url(" http://127.0.0.1:8080/media/x ").is_ok());
        for bad in [
            "file:///etc/passwd",
            "ftp://example.com/x",
            "data:text/plain,hi",
            "javascript:alert(1)",
            "gopher://x",
            "/relative/path",
            "",
            "https://",
        ] {
            let err = check_url(bad);
            assert!(err.is_err(), "{bad:?} accepted");
        }
        let message = format!("{:#}", check_url("file:///etc/passwd").unwrap_err());
        assert!(message.contains("only http and https"), "{message}");
    }

    #[test]
    fn endpoints_must_be_urls() {
        let endpoints = Endpoints {
            api_base: "openapi.zalo.me".into(),
            ..Endpoints::default()
        };
        let message = format!(
            "{:#}",
            Client::new(endpoints, "1".into(), "k".into()).unwrap_err()
        );
        assert!(message.contains("api_base"), "{message}");
    }

    #[test]
    fn text_length_counted_in_characters() {
        let at_limit = "ệ".repeat(MAX_TEXT);
        assert!(check_text(&at_limit).is_ok());
        let over = format!("{at_limit}a");
        let message = check_text(&over).unwrap_err().to_string();
        assert!(message.contains("2001 characters"), "{message}");
        assert_eq!(kind(check_text(" \n")), "permanent");
    }

    #[tokio::test]
    async fn download_refuses_other_schemes_unfetched() {
        let client = Client::new(Endpoints::default(), "1".into(), "k".into()).unwrap();
        let result = client
            .download(
                "file:///etc/passwd",
                &Policy::default(),
                10,
                Duration::from_secs(1),
            )
            .await;
        assert!(
            matches!(result, Err(DownloadError::Refused(_))),
            "{result:?}"
        );
        let result = client
            .download("not a url", &Policy::default(), 10, Duration::from_secs(1))
            .await;
        assert!(
            matches!(result, Err(DownloadError::Permanent(_))),
            "{result:?}"
        );
    }

    /// A server on 127.0.0.1 answering every request with `response` (for
    /// `{port}` its own port); returns its port and how many connections
    /// it accepted.
    async fn server(response: String) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let response = response.replace("{port}", &port.to_string());
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (port, hits)
    }

    fn redirect_to(location: &str) -> String {
        format!(
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
    }

    const SECRET: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret";

    fn hits(counter: &std::sync::atomic::AtomicUsize) -> usize {
        counter.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn policy(hosts: &[&str], allow_private: bool) -> Policy {
        Policy::new(
            hosts
                .iter()
                .map(|h| guard::HostPattern::parse(h).unwrap())
                .collect(),
            allow_private,
        )
    }

    #[tokio::test]
    async fn download_never_reaches_a_private_address() {
        let client = Client::new(Endpoints::default(), "1".into(), "k".into()).unwrap();
        let (port, internal) = server(SECRET.to_owned()).await;
        let second = Duration::from_secs(5);
        // Listed, but the name resolves to loopback.
        let closed = policy(&["localhost", "127.0.0.1"], false);
        for url in [
            format!("http://localhost:{port}/x"),
            format!("http://LocalHost:{port}/x"),
            format!("http://127.0.0.1:{port}/x"),
            format!("http://zdn.vn@127.0.0.1:{port}/x"),
            format!("http://2130706433:{port}/x"),
        ] {
            let result = client.download(&url, &closed, 100, second).await;
            assert!(
                matches!(result, Err(DownloadError::Refused(_))),
                "{url}: {result:?}"
            );
        }
        // Not listed.
        let open = policy(&["127.0.0.1"], true);
        let result = client
            .download(&format!("http://localhost:{port}/x"), &open, 100, second)
            .await;
        let Err(DownloadError::Refused(refusal)) = result else {
            panic!("{result:?}");
        };
        assert_eq!(refusal.reason, guard::Reason::NotListed);
        assert_eq!(hits(&internal), 0, "the internal service was contacted");
        // The opt-in and the list together let the test fetch it.
        let fetched = client
            .download(&format!("http://127.0.0.1:{port}/x"), &open, 100, second)
            .await
            .unwrap();
        assert_eq!(fetched.bytes, b"secret");
        assert_eq!(hits(&internal), 1);
    }

    #[tokio::test]
    async fn redirects_stay_on_the_list() {
        let client = Client::new(Endpoints::default(), "1".into(), "k".into()).unwrap();
        let second = Duration::from_secs(5);
        let (internal_port, internal) = server(SECRET.to_owned()).await;
        let open = policy(&["127.0.0.1"], true);
        // To a host not on the list: refused at the redirect, never reached.
        let (away, _) = server(redirect_to(&format!("http://localhost:{internal_port}/x"))).await;
        let result = client
            .download(&format!("http://127.0.0.1:{away}/"), &open, 100, second)
            .await;
        let Err(DownloadError::Refused(refusal)) = result else {
            panic!("{result:?}");
        };
        assert!(refusal.redirected, "{refusal:?}");
        assert_eq!(refusal.reason, guard::Reason::NotListed);
        // To a listed name that resolves to loopback, without the opt-in.
        let closed = policy(&["127.0.0.1", "localhost"], false);
        let (to_name, _) =
            server(redirect_to(&format!("http://localhost:{internal_port}/x"))).await;
        let result = client
            .download(
                &format!("http://localhost:{to_name}/"),
                &closed,
                100,
                second,
            )
            .await;
        assert!(
            matches!(result, Err(DownloadError::Refused(_))),
            "{result:?}"
        );
        assert_eq!(hits(&internal), 0, "the second hop was contacted");
        // On the list: followed.
        let (within, _) = server(redirect_to(&format!("http://127.0.0.1:{internal_port}/x"))).await;
        let fetched = client
            .download(&format!("http://127.0.0.1:{within}/"), &open, 100, second)
            .await
            .unwrap();
        assert_eq!(fetched.bytes, b"secret");
        // A loop ends after a few hops, for good.
        let (looping, looped) = server(redirect_to("http://127.0.0.1:{port}/again")).await;
        let result = client
            .download(&format!("http://127.0.0.1:{looping}/"), &open, 100, second)
            .await;
        assert!(
            matches!(result, Err(DownloadError::Permanent(_))),
            "{result:?}"
        );
        assert_eq!(hits(&looped), guard::MAX_REDIRECTS + 1);
    }

    #[test]
    fn download_statuses() {
        assert!(matches!(
            download_status(StatusCode::NOT_FOUND, "u"),
            ApiError::Permanent(_)
        ));
        assert!(matches!(
            download_status(StatusCode::FORBIDDEN, "u"),
            ApiError::Permanent(_)
        ));
        assert!(matches!(
            download_status(StatusCode::SERVICE_UNAVAILABLE, "u"),
            ApiError::Transient(_)
        ));
        assert!(matches!(
            download_status(StatusCode::TOO_MANY_REQUESTS, "u"),
            ApiError::Transient(_)
        ));
    }
}
