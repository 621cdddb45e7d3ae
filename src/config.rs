//! The configuration file: one TOML document, read once at start.
//!
//! Reading happens in two steps. `RawConfig` mirrors the file as written
//! (every key optional where a default exists, unknown keys collected instead
//! of silently ignored); `Config::resolve` then checks every value, fills in
//! the defaults, reads secrets from files or the environment, and reports
//! *every* problem it found at once, so a sysadmin fixes a file in one pass.
//! Defaults live only in this module.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::Deserialize;

use crate::text;

mod content;
mod timing;
mod zalo;
pub use content::Screening;
pub use timing::{Counting, Deadlines, PublishMode, Reminders, Site};
pub use zalo::Zalo;

/// Where `bientap` looks for its configuration when `--config` is not given.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/bientap/bientap.toml";
/// The board's time zone unless the config names another (R6, docs/design.md "Time").
pub const DEFAULT_TIME_ZONE: &str = "Asia/Ho_Chi_Minh";

const DEFAULT_STATE_DIR: &str = "/var/lib/bientap";
const DEFAULT_CODE_PREFIX: &str = "BBT";
const DEFAULT_APPROVAL_DAYS: u32 = 3;
const DEFAULT_MAX_MESSAGE_SIZE: u64 = 50 * 1024 * 1024;
const DEFAULT_IMAP_FOLDER: &str = "INBOX";
const DEFAULT_PROCESSED_FOLDER: &str = "Processed";
const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(60);
const DEFAULT_MAILDIR_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// RFC 2177 asks clients to re-issue IDLE at least every 29 minutes.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(25 * 60);
const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(29 * 60);
const DEFAULT_FETCH_BATCH_SIZE: u64 = 16 * 1024 * 1024;
const DEFAULT_NETWORK_TIMEOUT: Duration = Duration::from_secs(60);

const DEFAULT_ATTACH_LIMIT: u64 = 10 * 1024 * 1024;
const DEFAULT_AUTO_REPLY_LIMIT: u32 = 20;
const DEFAULT_SMTP_RETRY_INITIAL: Duration = Duration::from_secs(30);
const DEFAULT_SMTP_RETRY_MAX: Duration = Duration::from_secs(3600);
const DEFAULT_SMTP_GIVE_UP: Duration = Duration::from_secs(3 * 24 * 3600);

/// Environment variables that override secrets in the file.
pub const ENV_IMAP_PASSWORD: &str = "BIENTAP_IMAP_PASSWORD";
pub const ENV_IMAP_OAUTH2_TOKEN: &str = "BIENTAP_IMAP_OAUTH2_TOKEN";
pub const ENV_DATABASE_URL: &str = "BIENTAP_DATABASE_URL";
pub const ENV_SMTP_PASSWORD: &str = "BIENTAP_SMTP_PASSWORD";

/// The checked configuration the program runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub board: Board,
    pub storage: Storage,
    pub source: Source,
    pub database: Database,
    pub members: Vec<Member>,
    pub outbound: Outbound,
    pub review: Review,
    pub routes: Vec<Route>,
    pub calendar: crate::schedule::calendar::Settings,
    pub deadlines: Deadlines,
    pub reminders: Reminders,
    /// The portal; `None` when the board does not publish through bientap.
    pub site: Option<Site>,
    /// How submissions are read and checked (`[content]`, word lists of
    /// `[screening]`).
    pub content: crate::content::refine::Options,
    /// How long reading one message may take (`content.read_budget`);
    /// longer, it is quarantined unread and its batch goes on without it.
    pub read_budget: Duration,
    pub screening: Screening,
    /// The loopback address of `/healthz`, `/metrics` and the console's
    /// requests; `None` when turned off.
    pub http: Option<std::net::SocketAddr>,
    /// The Zalo OA channel (issue 9), when configured and enabled.
    pub zalo: Option<Zalo>,
}

#[derive(Debug, Clone)]
pub struct Board {
    pub name: String,
    pub address: String,
    /// Closing lines of every mail (the board's name when not set).
    pub signature: String,
    pub time_zone: jiff::tz::TimeZone,
    pub time_zone_name: String,
    pub code_prefix: String,
    pub approval_days: u32,
}

#[derive(Debug, Clone)]
pub struct Storage {
    pub state_dir: PathBuf,
    pub max_message_size: u64,
}

/// Where submissions come from: exactly one mailbox per board.
#[derive(Debug, Clone)]
pub enum Source {
    Imap(Imap),
    Maildir(Maildir),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plain TCP. Only sensible on loopback or inside a trusted network.
    None,
    /// Plain connection upgraded with STARTTLS before authentication.
    Starttls,
    /// TLS from the first byte (port 993).
    Implicit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    /// IMAP LOGIN with a password (or an app password).
    Login,
    /// SASL XOAUTH2 with a bearer token (Gmail, Microsoft 365).
    Xoauth2,
}

#[derive(Clone)]
pub enum Credential {
    Password(String),
    /// The token is re-read from this file at every login, so an external
    /// helper (or a systemd timer) can keep it fresh.
    OAuth2TokenFile(PathBuf),
    OAuth2Token(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Password(_) => f.write_str("Password(<redacted>)"),
            Credential::OAuth2TokenFile(p) => write!(f, "OAuth2TokenFile({})", p.display()),
            Credential::OAuth2Token(_) => f.write_str("OAuth2Token(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub credential: Credential,
    pub folder: String,
    pub processed_folder: String,
    pub idle: bool,
    pub idle_timeout: Duration,
    pub poll_interval: Duration,
    pub fetch_batch_size: u64,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct Maildir {
    pub path: PathBuf,
    pub poll_interval: Duration,
}

/// How outgoing mail leaves.
#[derive(Debug, Clone)]
pub enum Outbound {
    Smtp(Smtp),
    /// Written as .eml files into a directory (demo, template checks).
    Maildrop(PathBuf),
    /// Neither configured: mail waits in the outbox.
    Disabled,
}

#[derive(Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout: Duration,
    /// First retry delay after a temporary failure; doubles up to `retry_max`.
    pub retry_initial: Duration,
    pub retry_max: Duration,
    /// A message still failing after this long is given up (status failed).
    pub give_up_after: Duration,
}

impl fmt::Debug for Smtp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Smtp")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Who approves: everyone active holding a role, or one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approver {
    Role(Role),
    Member(String),
}

/// How review works on this board (R3, R5, invariant 4).
#[derive(Debug, Clone)]
pub struct Review {
    /// Two stages (R5): the secretariat edits, then the approver approves.
    pub editing_stage: bool,
    /// Approver when no route matches.
    pub default_approver: Approver,
    /// Total size of attachments sent with a notification; larger ones are listed.
    pub attach_limit: u64,
    /// Automatic answers (receipts, explanations, confirmations) per
    /// recipient per hour: a guard against mail loops.
    pub auto_reply_limit: u32,
    /// Commands and new versions by mail need a DKIM signature of the
    /// sender's domain, verified by us (`workflow::dkim`).
    pub require_dkim: bool,
    /// The authserv-id of the board's mail server, whose topmost
    /// Authentication-Results header decides when our own DKIM check gets
    /// no answer from DNS; without it such a reply is refused.
    pub trusted_authserv_id: Option<String>,
    /// DNS servers for the DKIM and DMARC lookups; empty: the system's
    /// resolver configuration (/etc/resolv.conf).
    pub dns_servers: Vec<std::net::SocketAddr>,
}

/// A routing rule (R3): a category recognized by subject tag, keyword or
/// the sender's unit goes to an approver.
#[derive(Debug, Clone)]
pub struct Route {
    pub category: String,
    /// Folded (lower-case ASCII) forms, matched against `[Tag]` in subjects.
    pub tags: Vec<String>,
    /// Folded forms, matched against the title and text.
    pub keywords: Vec<String>,
    /// Folded forms, matched against the sending member's unit.
    pub units: Vec<String>,
    pub approver: Approver,
}

#[derive(Clone)]
pub struct Database {
    pub url: String,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("url", &redact_url(&self.url))
            .finish()
    }
}

/// Roles named by the regulations (R1, R2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Trưởng ban: answers for all content; approves party content (R3).
    Head,
    /// Phó trưởng ban: approves by delegation (R3).
    Deputy,
    /// Thường trực / Tổ thư ký / Tổ kỹ thuật: receives, edits, forwards (R5).
    Secretariat,
    /// Thành viên BBT.
    Member,
    /// Quản trị hệ thống.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "head" => Some(Role::Head),
            "deputy" => Some(Role::Deputy),
            "secretariat" => Some(Role::Secretariat),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }

    /// The role's Vietnamese title, for mail.
    pub fn title_vi(self) -> &'static str {
        match self {
            Role::Head => "Trưởng ban",
            Role::Deputy => "Phó Trưởng ban",
            Role::Secretariat => "Tổ thư ký",
            Role::Member => "Thành viên",
            Role::Admin => "Quản trị hệ thống",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Head => "head",
            Role::Deputy => "deputy",
            Role::Secretariat => "secretariat",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Member {
    pub name: String,
    /// Normalized (lower-case) address.
    pub email: String,
    pub roles: BTreeSet<Role>,
    pub unit: String,
    pub active: bool,
}

impl Config {
    /// Reads and checks the file at `path`. The error lists every problem.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            problems: vec![format!(
                "cannot read the configuration file: {e}. Pass another file with --config or set BIENTAP_CONFIG"
            )],
        })?;
        Config::from_toml(path, &text)
    }

    /// Parses and checks configuration text; `path` locates relative paths.
    pub fn from_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let mut unknown = Vec::new();
        let parsed = toml::Deserializer::parse(text).and_then(|de| {
            serde_ignored::deserialize(de, |p| unknown.push(p.to_string().replace(".?", "")))
                .map_err(|e: toml::de::Error| e)
        });
        for key in &unknown {
            problems.push(format!(
                "unknown key `{key}`: check its spelling and section against config/bientap.example.toml"
            ));
        }
        let raw: RawConfig = match parsed {
            Ok(raw) => raw,
            Err(e) => {
                problems.insert(0, format!("{}", e).trim_end().to_string());
                return Err(ConfigError {
                    path: path.to_path_buf(),
                    problems,
                });
            }
        };
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        let config = raw.resolve(path, &base, &mut problems);
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError {
                path: path.to_path_buf(),
                problems,
            }),
        }
    }

    /// Active members holding `role`.
    pub fn members_with(&self, role: Role) -> impl Iterator<Item = &Member> {
        self.members
            .iter()
            .filter(move |m| m.active && m.roles.contains(&role))
    }

    /// The member record for an address, active or not.
    pub fn member(&self, address: &str) -> Option<&Member> {
        let address = text::normalize_address(address);
        self.members.iter().find(|m| m.email == address)
    }
}

/// Every problem found in one configuration file.
#[derive(Debug)]
pub struct ConfigError {
    pub path: PathBuf,
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{} has {} problem{}:",
            self.path.display(),
            n,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            for (i, line) in p.lines().enumerate() {
                if i == 0 {
                    writeln!(f, "  - {line}")?;
                } else {
                    writeln!(f, "    {line}")?;
                }
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------
// The file as written.

#[derive(Debug, Default, Deserialize)]
struct RawConfig {
    board: Option<RawBoard>,
    #[serde(default)]
    storage: RawStorage,
    imap: Option<RawImap>,
    maildir: Option<RawMaildir>,
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    members: Vec<RawMember>,
    smtp: Option<RawSmtp>,
    maildrop: Option<RawMaildrop>,
    #[serde(default)]
    review: RawReview,
    #[serde(default)]
    routes: Vec<RawRoute>,
    #[serde(default)]
    calendar: timing::RawCalendar,
    #[serde(default)]
    deadlines: timing::RawDeadlines,
    #[serde(default)]
    reminders: timing::RawReminders,
    site: Option<timing::RawSite>,
    #[serde(default)]
    content: content::RawContent,
    #[serde(default)]
    screening: content::RawScreening,
    #[serde(default)]
    http: RawHttp,
    zalo: Option<zalo::RawZalo>,
}

#[derive(Debug, Default, Deserialize)]
struct RawHttp {
    listen: Option<String>,
}

/// The default address of the health endpoint.
pub const DEFAULT_HTTP_LISTEN: &str = "127.0.0.1:9187";

fn resolve_http(r: &RawHttp, problems: &mut Vec<String>) -> Option<std::net::SocketAddr> {
    let listen = r.listen.as_deref().unwrap_or(DEFAULT_HTTP_LISTEN).trim();
    if listen.is_empty() || listen == "off" {
        return None;
    }
    match listen.parse::<std::net::SocketAddr>() {
        Ok(addr) if addr.ip().is_loopback() => Some(addr),
        Ok(addr) => {
            problems.push(format!(
                "`http.listen` = \"{addr}\": the endpoint has no authentication, so it listens on loopback only (127.0.0.1 or [::1]); put a reverse proxy in front for remote monitoring"
            ));
            None
        }
        Err(_) => {
            problems.push(format!(
                "`http.listen` = \"{listen}\" is not an address and port such as \"{DEFAULT_HTTP_LISTEN}\" (\"off\" turns it off)"
            ));
            None
        }
    }
}

#[derive(Debug, Deserialize)]
struct RawSmtp {
    host: Option<String>,
    port: Option<u16>,
    tls: Option<TlsMode>,
    ca_file: Option<PathBuf>,
    username: Option<String>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    timeout: Option<Interval>,
    retry_initial: Option<Interval>,
    retry_max: Option<Interval>,
    give_up_after: Option<Interval>,
}

#[derive(Debug, Deserialize)]
struct RawMaildrop {
    path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
struct RawReview {
    editing_stage: Option<bool>,
    default_approver: Option<String>,
    attach_limit: Option<Size>,
    auto_reply_limit: Option<u32>,
    require_dkim: Option<bool>,
    trusted_authserv_id: Option<String>,
    #[serde(default)]
    dns_servers: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawRoute {
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    units: Vec<String>,
    approver: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawBoard {
    name: Option<String>,
    address: Option<String>,
    signature: Option<String>,
    time_zone: Option<String>,
    code_prefix: Option<String>,
    approval_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
struct RawStorage {
    state_dir: Option<PathBuf>,
    max_message_size: Option<Size>,
}

#[derive(Debug, Deserialize)]
struct RawImap {
    host: Option<String>,
    port: Option<u16>,
    tls: Option<TlsMode>,
    ca_file: Option<PathBuf>,
    username: Option<String>,
    auth: Option<AuthMethod>,
    password: Option<String>,
    password_file: Option<PathBuf>,
    oauth2_token_file: Option<PathBuf>,
    folder: Option<String>,
    processed_folder: Option<String>,
    idle: Option<bool>,
    idle_timeout: Option<Interval>,
    poll_interval: Option<Interval>,
    fetch_batch_size: Option<Size>,
    timeout: Option<Interval>,
}

#[derive(Debug, Deserialize)]
struct RawMaildir {
    path: Option<PathBuf>,
    poll_interval: Option<Interval>,
}

#[derive(Debug, Default, Deserialize)]
struct RawDatabase {
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawMember {
    name: Option<String>,
    email: Option<String>,
    #[serde(default)]
    roles: Vec<Role>,
    unit: Option<String>,
    active: Option<bool>,
}

/// A byte size: a number of bytes, or a string such as "25 MB" or "512K".
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Size {
    Bytes(u64),
    Text(String),
}

/// A duration: a number of seconds, or a string such as "90s", "5m", "1h".
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Interval {
    Seconds(u64),
    Text(String),
}

fn parse_size(key: &str, size: &Size, problems: &mut Vec<String>) -> Option<u64> {
    match size {
        Size::Bytes(n) => Some(*n),
        Size::Text(t) => {
            let t = t.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
                "" | "b" => 1,
                "k" | "kb" | "kib" => 1024,
                "m" | "mb" | "mib" => 1024 * 1024,
                "g" | "gb" | "gib" => 1024 * 1024 * 1024,
                _ => {
                    problems.push(format!(
                        "`{key}` = \"{t}\": unknown unit; write a number of bytes or use K, M or G (e.g. \"25M\")"
                    ));
                    return None;
                }
            };
            match num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)) {
                Some(n) => Some(n),
                None => {
                    problems.push(format!(
                        "`{key}` = \"{t}\" is not a size; write e.g. 26214400 or \"25M\""
                    ));
                    None
                }
            }
        }
    }
}

fn parse_interval(key: &str, iv: &Interval, problems: &mut Vec<String>) -> Option<Duration> {
    match iv {
        Interval::Seconds(n) => Some(Duration::from_secs(*n)),
        Interval::Text(t) => {
            let t = t.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let mult = match unit.trim() {
                "" | "s" | "sec" | "secs" => 1,
                "m" | "min" | "mins" => 60,
                "h" => 3600,
                _ => {
                    problems.push(format!(
                        "`{key}` = \"{t}\": unknown unit; use s, m or h (e.g. \"90s\", \"5m\")"
                    ));
                    return None;
                }
            };
            match num.parse::<u64>().ok().and_then(|n| n.checked_mul(mult)) {
                Some(n) => Some(Duration::from_secs(n)),
                None => {
                    problems.push(format!(
                        "`{key}` = \"{t}\" is not a duration; write e.g. 60 or \"5m\""
                    ));
                    None
                }
            }
        }
    }
}

/// Resolves a path from the file: absolute as is, relative to `base`
/// (the config file's directory), with `.` and `..` folded away.
pub(crate) fn resolve_path(base: &Path, p: &Path) -> PathBuf {
    use std::path::Component;
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// A value the daemon may replace while it runs (SIGHUP, `bientap
/// reload`): workers take the current one at the start of each unit of
/// work, so a batch never sees two configurations.
#[derive(Debug)]
pub struct Live<T>(Arc<RwLock<Arc<T>>>);

impl<T> Clone for Live<T> {
    fn clone(&self) -> Self {
        Live(Arc::clone(&self.0))
    }
}

impl<T> From<Arc<T>> for Live<T> {
    fn from(value: Arc<T>) -> Live<T> {
        Live(Arc::new(RwLock::new(value)))
    }
}

impl<T> Live<T> {
    pub fn new(value: T) -> Live<T> {
        Live(Arc::new(RwLock::new(Arc::new(value))))
    }

    /// The current value.
    pub fn get(&self) -> Arc<T> {
        match self.0.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the value for every later `get`.
    pub fn set(&self, value: T) {
        let value = Arc::new(value);
        match self.0.write() {
            Ok(mut g) => *g = value,
            Err(poisoned) => *poisoned.into_inner() = value,
        }
    }
}

/// Resolves a secret file: relative names are looked up first in systemd's
/// `$CREDENTIALS_DIRECTORY` (LoadCredential=), then next to the config file.
fn resolve_secret_path(base: &Path, p: &Path) -> PathBuf {
    if p.is_relative()
        && let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY")
    {
        let candidate = Path::new(&dir).join(p);
        if candidate.exists() {
            return candidate;
        }
    }
    resolve_path(base, p)
}

fn read_secret(key: &str, path: &Path, problems: &mut Vec<String>) -> Option<String> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let s = s.trim_end_matches(['\r', '\n']).to_string();
            if s.is_empty() {
                problems.push(format!("`{key}`: {} is empty", path.display()));
                None
            } else {
                Some(s)
            }
        }
        Err(e) => {
            problems.push(format!("`{key}`: cannot read {}: {e}", path.display()));
            None
        }
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://<credentials>@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Encodes a mailbox name in IMAP's modified UTF-7 (RFC 3501 §5.1.3), so
/// folder names such as "Đã xử lý" work on every server.
pub fn imap_utf7(name: &str) -> String {
    use base64::Engine as _;
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(bytes)
            .replace('/', ",");
        out.push('&');
        out.push_str(&encoded);
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

impl RawConfig {
    fn resolve(self, path: &Path, base: &Path, problems: &mut Vec<String>) -> Option<Config> {
        let board = self.resolve_board(problems);
        let storage = self.resolve_storage(base, problems);
        let source = self.resolve_source(base, problems);
        let database = match (&storage, non_empty_env(ENV_DATABASE_URL), self.database.url) {
            (_, Some(url), _) => Some(Database { url }),
            (_, None, Some(url)) => {
                if url.starts_with("sqlite:")
                    || url.starts_with("postgres://")
                    || url.starts_with("postgresql://")
                {
                    Some(Database { url })
                } else {
                    problems.push(format!(
                        "`database.url` = \"{}\": use sqlite://PATH or postgres://USER@HOST/DB",
                        redact_url(&url)
                    ));
                    None
                }
            }
            (Some(storage), None, None) => Some(Database {
                url: format!("sqlite://{}", storage.state_dir.join("state.db").display()),
            }),
            (None, None, None) => None,
        };
        let members = resolve_members(self.members, problems);
        let outbound = resolve_outbound(self.smtp.as_ref(), self.maildrop.as_ref(), base, problems);
        let review = resolve_review(&self.review, &members, problems);
        let routes = resolve_routes(&self.routes, &members, problems);
        let calendar = timing::resolve_calendar(&self.calendar, problems);
        let deadlines = timing::resolve_deadlines(&self.deadlines, problems);
        let reminders = timing::resolve_reminders(&self.reminders, problems);
        let (content, screening) =
            content::resolve_content(&self.content, &self.screening, problems);
        let read_budget = content::resolve_read_budget(&self.content, problems);
        let http = resolve_http(&self.http, problems);
        let zalo = zalo::resolve_zalo(self.zalo.as_ref(), base, problems);
        let site = match &self.site {
            Some(raw) => Some(timing::resolve_site(raw, base, problems)?),
            None => None,
        };
        if let (Some(site), Some(db)) = (&site, &database)
            && site.url.trim_end_matches('/') == db.url.trim_end_matches('/')
        {
            problems.push(
                "`site.url` is bientap's own state database: give the portal's database, a database of its own".into(),
            );
            return None;
        }
        Some(Config {
            path: path.to_path_buf(),
            board: board?,
            storage: storage?,
            source: source?,
            database: database?,
            members,
            outbound: outbound?,
            review: review?,
            routes,
            calendar,
            deadlines,
            reminders,
            site,
            content,
            read_budget,
            screening,
            http,
            zalo,
        })
    }

    fn resolve_board(&self, problems: &mut Vec<String>) -> Option<Board> {
        let Some(b) = &self.board else {
            problems
                .push("missing section [board] (name and address of the editorial board)".into());
            return None;
        };
        let name = match b.name.as_deref().map(text::clean_line) {
            Some(n) if !n.is_empty() => Some(n),
            _ => {
                problems.push("missing `board.name`: the board's name, e.g. \"Ban biên tập Cổng TTĐT huyện Krông Pắc\"".into());
                None
            }
        };
        let address = match b.address.as_deref().map(text::normalize_address) {
            Some(a) if text::is_plausible_address(&a) => Some(a),
            Some(a) => {
                problems.push(format!(
                    "`board.address` = \"{a}\" is not an e-mail address"
                ));
                None
            }
            None => {
                problems.push(
                    "missing `board.address`: the mailbox collaborators send articles to".into(),
                );
                None
            }
        };
        let tz_name = b
            .time_zone
            .clone()
            .unwrap_or_else(|| DEFAULT_TIME_ZONE.to_string());
        let time_zone = match jiff::tz::TimeZone::get(&tz_name) {
            Ok(tz) => Some(tz),
            Err(e) => {
                problems.push(format!("`board.time_zone` = \"{tz_name}\": {e}"));
                None
            }
        };
        let code_prefix = b
            .code_prefix
            .clone()
            .unwrap_or_else(|| DEFAULT_CODE_PREFIX.to_string());
        let prefix_ok = !code_prefix.is_empty()
            && code_prefix.len() <= 10
            && code_prefix.chars().all(|c| c.is_ascii_uppercase());
        if !prefix_ok {
            problems.push(format!(
                "`board.code_prefix` = \"{code_prefix}\": use 1 to 10 capital letters A–Z, e.g. \"BBT\""
            ));
        }
        let approval_days = b.approval_days.unwrap_or(DEFAULT_APPROVAL_DAYS);
        if !(1..=60).contains(&approval_days) {
            problems.push(format!(
                "`board.approval_days` = {approval_days}: must be between 1 and 60 (R6 says 3)"
            ));
        }
        let signature = b
            .signature
            .as_deref()
            .map(|s| text::clean_text(s).trim().to_string())
            .unwrap_or_default();
        Some(Board {
            name: name?,
            address: address?,
            signature,
            time_zone: time_zone?,
            time_zone_name: tz_name,
            code_prefix: if prefix_ok { code_prefix } else { return None },
            approval_days,
        })
    }

    fn resolve_storage(&self, base: &Path, problems: &mut Vec<String>) -> Option<Storage> {
        let state_dir = match &self.storage.state_dir {
            Some(p) => resolve_path(base, p),
            None => std::env::var_os("STATE_DIRECTORY")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR)),
        };
        if state_dir.to_string_lossy().contains(['?', '#', '%']) {
            problems.push(format!(
                "`storage.state_dir` = {}: the path must not contain ?, # or %",
                state_dir.display()
            ));
            return None;
        }
        let max_message_size = match &self.storage.max_message_size {
            Some(s) => parse_size("storage.max_message_size", s, problems)?,
            None => DEFAULT_MAX_MESSAGE_SIZE,
        };
        if max_message_size < 64 * 1024 {
            problems.push(format!(
                "`storage.max_message_size` = {max_message_size} bytes is too small; allow at least 64K"
            ));
            return None;
        }
        Some(Storage {
            state_dir,
            max_message_size,
        })
    }

    fn resolve_source(&self, base: &Path, problems: &mut Vec<String>) -> Option<Source> {
        match (&self.imap, &self.maildir) {
            (Some(_), Some(_)) => {
                problems.push("both [imap] and [maildir] are set; a board reads one mailbox, keep one of them".into());
                None
            }
            (None, None) => {
                problems.push(
                    "no mailbox: add an [imap] section (or [maildir] for local delivery)".into(),
                );
                None
            }
            (Some(imap), None) => resolve_imap(imap, base, problems).map(Source::Imap),
            (None, Some(md)) => {
                let path = match &md.path {
                    Some(p) => resolve_path(base, p),
                    None => {
                        problems.push("missing `maildir.path`: the Maildir folder (with new/ and cur/) to read".into());
                        return None;
                    }
                };
                let poll_interval = match &md.poll_interval {
                    Some(iv) => parse_interval("maildir.poll_interval", iv, problems)?,
                    None => DEFAULT_MAILDIR_POLL_INTERVAL,
                };
                if poll_interval.is_zero() {
                    problems.push("`maildir.poll_interval` must be at least 1 second".into());
                }
                Some(Source::Maildir(Maildir {
                    path,
                    poll_interval,
                }))
            }
        }
    }
}

fn resolve_imap(r: &RawImap, base: &Path, problems: &mut Vec<String>) -> Option<Imap> {
    let start = problems.len();
    let host = r.host.clone().filter(|h| !h.trim().is_empty());
    if host.is_none() {
        problems
            .push("missing `imap.host`: the IMAP server's name, e.g. \"imap.gmail.com\"".into());
    }
    let tls = r.tls.unwrap_or(TlsMode::Implicit);
    let port = r.port.unwrap_or(match tls {
        TlsMode::Implicit => 993,
        TlsMode::Starttls | TlsMode::None => 143,
    });
    let username = r.username.clone().filter(|u| !u.is_empty());
    if username.is_none() {
        problems.push("missing `imap.username`: the mailbox login".into());
    }
    let auth = r.auth.unwrap_or(AuthMethod::Login);
    let credential = match auth {
        AuthMethod::Login => {
            if r.oauth2_token_file.is_some() {
                problems.push("`imap.oauth2_token_file` is set but `imap.auth` is \"login\"; set auth = \"xoauth2\" or remove the token file".into());
            }
            if let Some(p) = non_empty_env(ENV_IMAP_PASSWORD) {
                Some(Credential::Password(p))
            } else if let Some(file) = &r.password_file {
                read_secret(
                    "imap.password_file",
                    &resolve_secret_path(base, file),
                    problems,
                )
                .map(Credential::Password)
            } else if let Some(p) = r.password.clone().filter(|p| !p.is_empty()) {
                Some(Credential::Password(p))
            } else {
                problems.push(format!(
                    "no IMAP password: set `imap.password_file` (or LoadCredential=), or the environment variable {ENV_IMAP_PASSWORD}"
                ));
                None
            }
        }
        AuthMethod::Xoauth2 => {
            if r.password.is_some() || r.password_file.is_some() {
                problems.push("`imap.auth` is \"xoauth2\" but a password is set; XOAUTH2 uses `imap.oauth2_token_file`".into());
            }
            if let Some(t) = non_empty_env(ENV_IMAP_OAUTH2_TOKEN) {
                Some(Credential::OAuth2Token(t))
            } else if let Some(file) = &r.oauth2_token_file {
                let path = resolve_secret_path(base, file);
                read_secret("imap.oauth2_token_file", &path, problems)
                    .map(|_| Credential::OAuth2TokenFile(path))
            } else {
                problems.push(format!(
                    "XOAUTH2 needs a token: set `imap.oauth2_token_file` or the environment variable {ENV_IMAP_OAUTH2_TOKEN}"
                ));
                None
            }
        }
    };
    let ca_file = r.ca_file.as_ref().map(|p| resolve_path(base, p));
    if let Some(ca) = &ca_file
        && let Err(e) = std::fs::metadata(ca)
    {
        problems.push(format!("`imap.ca_file`: cannot read {}: {e}", ca.display()));
    }
    if ca_file.is_some() && tls == TlsMode::None {
        problems.push("`imap.ca_file` is set but `imap.tls` is \"none\"".into());
    }
    let folder = r
        .folder
        .clone()
        .unwrap_or_else(|| DEFAULT_IMAP_FOLDER.to_string());
    let processed_folder = r
        .processed_folder
        .clone()
        .unwrap_or_else(|| DEFAULT_PROCESSED_FOLDER.to_string());
    if folder.trim().is_empty() || processed_folder.trim().is_empty() {
        problems.push("`imap.folder` and `imap.processed_folder` must not be empty".into());
    }
    if folder == processed_folder {
        problems.push(format!(
            "`imap.processed_folder` is the same as `imap.folder` (\"{folder}\"); processed mail must leave the inbox"
        ));
    }
    let idle_timeout = match &r.idle_timeout {
        Some(iv) => parse_interval("imap.idle_timeout", iv, problems),
        None => Some(DEFAULT_IDLE_TIMEOUT),
    };
    if let Some(t) = idle_timeout
        && (t > MAX_IDLE_TIMEOUT || t < Duration::from_secs(10))
    {
        problems.push(format!(
            "`imap.idle_timeout` = {}s: must be between 10 s and 29 min (RFC 2177)",
            t.as_secs()
        ));
    }
    let poll_interval = match &r.poll_interval {
        Some(iv) => parse_interval("imap.poll_interval", iv, problems),
        None => Some(DEFAULT_POLL_INTERVAL),
    };
    if poll_interval.is_some_and(|p| p.is_zero()) {
        problems.push("`imap.poll_interval` must be at least 1 second".into());
    }
    let fetch_batch_size = match &r.fetch_batch_size {
        Some(s) => parse_size("imap.fetch_batch_size", s, problems),
        None => Some(DEFAULT_FETCH_BATCH_SIZE),
    };
    let timeout = match &r.timeout {
        Some(iv) => parse_interval("imap.timeout", iv, problems),
        None => Some(DEFAULT_NETWORK_TIMEOUT),
    };
    if timeout.is_some_and(|t| t < Duration::from_secs(1)) {
        problems.push("`imap.timeout` must be at least 1 second".into());
    }
    if problems.len() > start {
        return None;
    }
    Some(Imap {
        host: host?,
        port,
        tls,
        ca_file,
        username: username?,
        credential: credential?,
        folder,
        processed_folder,
        idle: r.idle.unwrap_or(true),
        idle_timeout: idle_timeout?,
        poll_interval: poll_interval?,
        fetch_batch_size: fetch_batch_size?.max(1024 * 1024),
        timeout: timeout?,
    })
}

fn resolve_outbound(
    smtp: Option<&RawSmtp>,
    maildrop: Option<&RawMaildrop>,
    base: &Path,
    problems: &mut Vec<String>,
) -> Option<Outbound> {
    match (smtp, maildrop) {
        (Some(_), Some(_)) => {
            problems
                .push("both [smtp] and [maildrop] are set; keep one way for outgoing mail".into());
            None
        }
        (None, None) => Some(Outbound::Disabled),
        (None, Some(m)) => match &m.path {
            Some(p) => Some(Outbound::Maildrop(resolve_path(base, p))),
            None => {
                problems.push(
                    "missing `maildrop.path`: the directory outgoing mail is written to".into(),
                );
                None
            }
        },
        (Some(r), None) => resolve_smtp(r, base, problems).map(Outbound::Smtp),
    }
}

fn resolve_smtp(r: &RawSmtp, base: &Path, problems: &mut Vec<String>) -> Option<Smtp> {
    let start = problems.len();
    let host = r.host.clone().filter(|h| !h.trim().is_empty());
    if host.is_none() {
        problems.push(
            "missing `smtp.host`: the server that sends the board's mail, e.g. \"smtp.gmail.com\""
                .into(),
        );
    }
    let tls = r.tls.unwrap_or(TlsMode::Starttls);
    let port = r.port.unwrap_or(match tls {
        TlsMode::Implicit => 465,
        TlsMode::Starttls => 587,
        TlsMode::None => 25,
    });
    let password = if let Some(p) = non_empty_env(ENV_SMTP_PASSWORD) {
        Some(p)
    } else if let Some(file) = &r.password_file {
        read_secret(
            "smtp.password_file",
            &resolve_secret_path(base, file),
            problems,
        )
    } else {
        r.password.clone().filter(|p| !p.is_empty())
    };
    // An unreadable password file was reported above.
    if r.username.is_some() != (password.is_some() || r.password_file.is_some()) {
        problems.push(format!(
            "`smtp.username` and a password go together: set both (password_file or {ENV_SMTP_PASSWORD}) or neither"
        ));
    }
    let ca_file = r.ca_file.as_ref().map(|p| resolve_path(base, p));
    if let Some(ca) = &ca_file
        && let Err(e) = std::fs::metadata(ca)
    {
        problems.push(format!("`smtp.ca_file`: cannot read {}: {e}", ca.display()));
    }
    let interval =
        |key: &str, v: &Option<Interval>, default: Duration, problems: &mut Vec<String>| match v {
            Some(iv) => parse_interval(key, iv, problems),
            None => Some(default),
        };
    let timeout = interval(
        "smtp.timeout",
        &r.timeout,
        DEFAULT_NETWORK_TIMEOUT,
        problems,
    );
    let retry_initial = interval(
        "smtp.retry_initial",
        &r.retry_initial,
        DEFAULT_SMTP_RETRY_INITIAL,
        problems,
    );
    let retry_max = interval(
        "smtp.retry_max",
        &r.retry_max,
        DEFAULT_SMTP_RETRY_MAX,
        problems,
    );
    let give_up_after = interval(
        "smtp.give_up_after",
        &r.give_up_after,
        DEFAULT_SMTP_GIVE_UP,
        problems,
    );
    if let (Some(a), Some(b)) = (retry_initial, retry_max)
        && (a.is_zero() || a > b)
    {
        problems.push(
            "`smtp.retry_initial` must be at least 1 s and not above `smtp.retry_max`".into(),
        );
    }
    if problems.len() > start {
        return None;
    }
    Some(Smtp {
        host: host?,
        port,
        tls,
        ca_file,
        username: r.username.clone(),
        password,
        timeout: timeout?,
        retry_initial: retry_initial?,
        retry_max: retry_max?,
        give_up_after: give_up_after?,
    })
}

/// Reads an approver: a role name or a member's address. It must name
/// someone who can act.
fn resolve_approver(
    key: &str,
    raw: &str,
    members: &[Member],
    problems: &mut Vec<String>,
) -> Option<Approver> {
    let raw = raw.trim();
    if let Some(role) = Role::parse(raw) {
        if !members.iter().any(|m| m.active && m.roles.contains(&role)) {
            problems.push(format!(
                "`{key}` = \"{raw}\": no active member has this role"
            ));
            return None;
        }
        return Some(Approver::Role(role));
    }
    let email = text::normalize_address(raw);
    match members.iter().find(|m| m.email == email) {
        Some(m) if m.active => Some(Approver::Member(email)),
        Some(_) => {
            problems.push(format!("`{key}` = \"{raw}\": this member is not active"));
            None
        }
        None => {
            problems.push(format!(
                "`{key}` = \"{raw}\": neither a role (head, deputy, secretariat, member) nor a member's address"
            ));
            None
        }
    }
}

fn resolve_review(r: &RawReview, members: &[Member], problems: &mut Vec<String>) -> Option<Review> {
    let start = problems.len();
    let editing_stage = r.editing_stage.unwrap_or(false);
    if editing_stage
        && !members
            .iter()
            .any(|m| m.active && m.roles.contains(&Role::Secretariat))
    {
        problems.push(
            "`review.editing_stage` is on but no active member has the role \"secretariat\"".into(),
        );
    }
    let default_approver = resolve_approver(
        "review.default_approver",
        r.default_approver.as_deref().unwrap_or("head"),
        members,
        problems,
    );
    let attach_limit = match &r.attach_limit {
        Some(s) => parse_size("review.attach_limit", s, problems),
        None => Some(DEFAULT_ATTACH_LIMIT),
    };
    let trusted_authserv_id = r
        .trusted_authserv_id
        .clone()
        .filter(|s| !s.trim().is_empty());
    let require_dkim = r.require_dkim.unwrap_or(false);
    let dns_servers: Vec<std::net::SocketAddr> = r
        .dns_servers
        .iter()
        .filter_map(|s| match parse_dns_server(s) {
            Some(a) => Some(a),
            None => {
                problems.push(format!(
                    "`review.dns_servers`: {s:?} is not an IP address with an optional port (\"192.0.2.53\", \"127.0.0.1:5353\", \"[2001:db8::53]:53\")"
                ));
                None
            }
        })
        .collect();
    if problems.len() > start {
        return None;
    }
    Some(Review {
        editing_stage,
        default_approver: default_approver?,
        attach_limit: attach_limit?,
        auto_reply_limit: r.auto_reply_limit.unwrap_or(DEFAULT_AUTO_REPLY_LIMIT),
        require_dkim,
        trusted_authserv_id,
        dns_servers,
    })
}

/// A DNS server: an IP address, port 53 unless given.
fn parse_dns_server(s: &str) -> Option<std::net::SocketAddr> {
    let s = s.trim();
    s.parse::<std::net::SocketAddr>().ok().or_else(|| {
        s.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| std::net::SocketAddr::new(ip, 53))
    })
}

fn resolve_routes(raw: &[RawRoute], members: &[Member], problems: &mut Vec<String>) -> Vec<Route> {
    let fold_all = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|s| text::fold_ascii(s.trim()))
            .filter(|s| !s.is_empty())
            .collect()
    };
    let mut routes = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        let n = i + 1;
        let category = r
            .category
            .as_deref()
            .map(text::clean_line)
            .unwrap_or_default();
        if category.is_empty() {
            problems.push(format!("route #{n}: missing `category`"));
            continue;
        }
        if r.tags.is_empty() && r.keywords.is_empty() && r.units.is_empty() {
            problems.push(format!(
                "route #{n} ({category}): give `tags`, `keywords` or `units` to recognize it"
            ));
        }
        let Some(approver) = r.approver.as_deref() else {
            problems.push(format!(
                "route #{n} ({category}): missing `approver` (a role or a member's address)"
            ));
            continue;
        };
        let Some(approver) = resolve_approver(
            &format!("routes[{n}].approver"),
            approver,
            members,
            problems,
        ) else {
            continue;
        };
        routes.push(Route {
            category,
            tags: fold_all(&r.tags),
            keywords: fold_all(&r.keywords),
            units: fold_all(&r.units),
            approver,
        });
    }
    routes
}

fn resolve_members(raw: Vec<RawMember>, problems: &mut Vec<String>) -> Vec<Member> {
    let mut members = Vec::with_capacity(raw.len());
    let mut seen = BTreeSet::new();
    for (i, m) in raw.into_iter().enumerate() {
        let n = i + 1;
        let name = m.name.as_deref().map(text::clean_line).unwrap_or_default();
        if name.is_empty() {
            problems.push(format!("member #{n}: missing `name`"));
        }
        let email = m
            .email
            .as_deref()
            .map(text::normalize_address)
            .unwrap_or_default();
        if !text::is_plausible_address(&email) {
            problems.push(format!(
                "member #{n} ({name}): `email` = \"{email}\" is not an e-mail address"
            ));
            continue;
        }
        if !seen.insert(email.clone()) {
            problems.push(format!("member #{n}: {email} is listed twice"));
            continue;
        }
        if m.roles.is_empty() {
            problems.push(format!(
                "member #{n} ({email}): no `roles`; use some of head, deputy, secretariat, member, admin"
            ));
        }
        members.push(Member {
            name,
            email,
            roles: m.roles.into_iter().collect(),
            unit: m.unit.as_deref().map(text::clean_line).unwrap_or_default(),
            active: m.active.unwrap_or(true),
        });
    }
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml: &str) -> Result<Config, ConfigError> {
        Config::from_toml(Path::new("/etc/bientap/test.toml"), toml)
    }

    const MINIMAL: &str = r#"
        [board]
        name = "Ban biên tập"
        address = "BBT@Example.gov.vn"
        [maildir]
        path = "/srv/mail/bbt"
        [storage]
        state_dir = "/tmp/bientap-test"
        [[members]]
        name = "Trưởng ban"
        email = "tb@example.gov.vn"
        roles = ["head"]
    "#;

    #[test]
    fn minimal_config_gets_defaults() {
        let c = check(MINIMAL).unwrap();
        assert_eq!(c.board.address, "bbt@example.gov.vn");
        assert_eq!(c.board.code_prefix, "BBT");
        assert_eq!(c.board.approval_days, 3);
        assert_eq!(c.board.time_zone_name, "Asia/Ho_Chi_Minh");
        assert_eq!(c.database.url, "sqlite:///tmp/bientap-test/state.db");
        assert!(
            matches!(c.source, Source::Maildir(ref m) if m.poll_interval == Duration::from_secs(2))
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let err = check(
            r#"
            [board]
            name = ""
            address = "not-an-address"
            time_zone = "Mars/Olympus"
            code_prefix = "bbt"
            [imap]
            host = "imap.example.org"
            hots = "typo"
            "#,
        )
        .unwrap_err();
        let all = err.problems.join("\n");
        for needle in [
            "unknown key `imap.hots`",
            "board.name",
            "not-an-address",
            "Mars/Olympus",
            "code_prefix",
            "imap.username",
            "no IMAP password",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn type_errors_name_the_line() {
        let err = check("[board]\nname = \"x\"\naddress = \"a@b.vn\"\napproval_days = \"three\"\n")
            .unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("line 4"), "{all}");
    }

    #[test]
    fn sizes_and_intervals_accept_units() {
        let c = check(&format!(
            "{MINIMAL}\n[imap]\nhost='h'\nusername='u'\npassword='p'\n"
        ));
        assert!(
            c.unwrap_err()
                .problems
                .iter()
                .any(|p| p.contains("both [imap] and [maildir]"))
        );

        let mut p = Vec::new();
        assert_eq!(
            parse_size("k", &Size::Text("25M".into()), &mut p),
            Some(25 * 1024 * 1024)
        );
        assert_eq!(
            parse_interval("k", &Interval::Text("5m".into()), &mut p),
            Some(Duration::from_secs(300))
        );
        assert_eq!(
            parse_interval("k", &Interval::Text("5 parsecs".into()), &mut p),
            None
        );
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn members_are_checked() {
        let err = check(&format!(
            "{MINIMAL}\n[[members]]\nname='A'\nemail='a@x.vn'\nroles=['head']\n[[members]]\nname='B'\nemail='A@X.vn'\nroles=['member']\n[[members]]\nname='C'\nemail='c@x.vn'\nroles=['boss']\n"
        ))
        .unwrap_err();
        let all = err.problems.join("\n");
        assert!(
            all.contains("boss") || all.contains("unknown variant"),
            "{all}"
        );
    }

    #[test]
    fn relative_paths_follow_the_config_file() {
        let c = Config::from_toml(
            Path::new("/etc/bientap/conf.d/demo.toml"),
            "[board]\nname='x'\naddress='a@b.vn'\n[storage]\nstate_dir='../state'\n[maildir]\npath='./md'\n\
             [review]\ndefault_approver='tb@b.vn'\n[[members]]\nname='T'\nemail='tb@b.vn'\nroles=['member']\n",
        )
        .unwrap();
        assert_eq!(c.storage.state_dir, Path::new("/etc/bientap/state"));
        assert!(
            matches!(c.source, Source::Maildir(ref m) if m.path == Path::new("/etc/bientap/conf.d/md"))
        );
    }

    #[test]
    fn review_routes_and_smtp_are_checked() {
        let err = check(&format!(
            "{MINIMAL}\n[review]\nediting_stage = true\ndefault_approver = \"deputy\"\nrequire_dkim = true\ndns_servers = [\"nonsense\", \"127.0.0.1:5353\"]\n\
             [[routes]]\ncategory = \"Đảng\"\ntags = [\"Đảng\"]\napprover = \"nobody@x.vn\"\n\
             [smtp]\nhost = \"smtp.x.vn\"\nusername = \"bbt\"\n"
        ))
        .unwrap_err();
        let all = err.problems.join("\n");
        for needle in [
            "no active member has the role \"secretariat\"",
            "`review.default_approver` = \"deputy\": no active member has this role",
            "`review.dns_servers`: \"nonsense\" is not an IP address",
            "nobody@x.vn",
            "`smtp.username` and a password go together",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }

        let ok = check(&format!(
            "{MINIMAL}\n[smtp]\nhost = \"smtp.x.vn\"\n[[routes]]\ncategory = \"Đảng\"\ntags = [\"Đảng\"]\napprover = \"head\"\n"
        ))
        .unwrap();
        assert!(
            matches!(ok.outbound, Outbound::Smtp(ref s) if s.port == 587 && s.tls == TlsMode::Starttls)
        );
        assert_eq!(ok.routes[0].tags, vec!["dang".to_string()]);
        assert_eq!(ok.review.default_approver, Approver::Role(Role::Head));
        assert!(ok.review.dns_servers.is_empty());

        // DKIM verified by us needs no trusted server; DNS servers take an
        // optional port.
        let dkim = check(&format!(
            "{MINIMAL}\n[review]\nrequire_dkim = true\ndns_servers = [\"127.0.0.1:5353\", \"192.0.2.53\", \"[::1]:53\"]\n"
        ))
        .unwrap();
        assert!(dkim.review.require_dkim);
        assert_eq!(dkim.review.trusted_authserv_id, None);
        let servers: Vec<String> = dkim
            .review
            .dns_servers
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(servers, ["127.0.0.1:5353", "192.0.2.53:53", "[::1]:53"]);
    }

    #[test]
    fn calendar_deadlines_and_reminders() {
        let c = check(&format!(
            "{MINIMAL}\n[calendar]\nworking_hours = \"08:00-16:30\"\ndays_off = [\"2026-01-02\", {{ date = \"2026-05-04\", reason = \"Nghỉ bù\" }}]\n\
             working_days = [\"2026-01-10\"]\nnational_day_extra = \"after\"\n[[calendar.tet]]\nyear = 2026\nfirst = \"2026-02-14\"\nlast = \"2026-02-22\"\n\
             [deadlines]\napproval_counting = \"working\"\n[reminders]\nescalate_after = 2\n"
        ))
        .unwrap();
        assert_eq!(c.calendar.work_start.to_string(), "08:00:00");
        assert_eq!(c.calendar.days_off.len(), 2);
        assert_eq!(c.calendar.tet.len(), 1);
        assert_eq!(c.deadlines.approval_counting, Counting::Working);
        assert_eq!(c.reminders.escalate_after, 2);

        let err = check(&format!(
            "{MINIMAL}\n[calendar]\nworking_hours = \"17:00-07:30\"\ndays_off = [\"02/01/2026\"]\n"
        ))
        .unwrap_err();
        let all = err.problems.join("\n");
        assert!(
            all.contains("working_hours") && all.contains("YYYY-MM-DD"),
            "{all}"
        );
    }

    #[test]
    fn utf7_folder_names() {
        assert_eq!(imap_utf7("INBOX"), "INBOX");
        assert_eq!(imap_utf7("A&B"), "A&-B");
        // RFC 3501 example: "~peter/mail/台北/日本語"
        assert_eq!(
            imap_utf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:pw@db/x"),
            "postgres://<credentials>@db/x"
        );
        assert_eq!(redact_url("sqlite:///a/b"), "sqlite:///a/b");
    }
}
