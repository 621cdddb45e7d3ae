//! Test support: real servers on loopback, the real `bientap` binary, and
//! small clients to put mail where a collaborator's mail would land.
//!
//! The shared mail stack (Dovecot + Postfix) lives in the directory
//! `tests/harness/services.sh mail-dir` names and is started on first use (`tests/harness/services.sh`); every test uses
//! mailboxes of its own (any address of example.test exists), so tests run
//! in parallel without seeing each other's mail. Tests that stop or restart
//! a server get a private stack on ports of their own.

#![allow(dead_code)]

pub mod dkim;
pub mod zalo;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bientap::store::{Store, TicketSummary};

pub const DOMAIN: &str = "example.test";
pub const PASSWORD: &str = "secret";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bientap_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bientap"))
}

/// A running mail stack and how to reach it.
#[derive(Debug, Clone)]
pub struct MailStack {
    pub dir: PathBuf,
    pub imap_port: u16,
    pub imaps_port: u16,
    pub smtp_port: u16,
    pub lmtp_port: u16,
    pub ca_cert: PathBuf,
    pub oauth2_key_file: PathBuf,
    private: bool,
}

fn harness(script: &str) -> PathBuf {
    manifest_dir().join("tests/harness").join(script)
}

fn parse_env(dir: &Path, private: bool) -> MailStack {
    let out = Command::new(harness("mailstack.sh"))
        .arg("env")
        .arg(dir)
        .output()
        .expect("run mailstack.sh env");
    assert!(
        out.status.success(),
        "mailstack.sh env failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let get = |key: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("{key} missing from mailstack env:\n{text}"))
            .trim_matches('"')
            .to_string()
    };
    MailStack {
        dir: dir.to_path_buf(),
        imap_port: get("MAILSTACK_IMAP_PORT").parse().unwrap(),
        imaps_port: get("MAILSTACK_IMAPS_PORT").parse().unwrap(),
        smtp_port: get("MAILSTACK_SMTP_PORT").parse().unwrap(),
        lmtp_port: get("MAILSTACK_LMTP_PORT").parse().unwrap(),
        ca_cert: PathBuf::from(get("MAILSTACK_CA_CERT")),
        oauth2_key_file: PathBuf::from(get("MAILSTACK_OAUTH2_KEY_FILE")),
        private,
    }
}

/// The shared mail stack, started if needed.
pub fn stack() -> &'static MailStack {
    static STACK: OnceLock<MailStack> = OnceLock::new();
    STACK.get_or_init(|| {
        let out = Command::new(harness("services.sh"))
            .arg("mail-dir")
            .output()
            .expect("run services.sh");
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        let out = Command::new(harness("services.sh"))
            .args(["ensure", "mail"])
            .arg(&dir)
            .output()
            .expect("run services.sh");
        assert!(
            out.status.success(),
            "cannot start the test mail stack (Dovecot + Postfix):\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        parse_env(&dir, false)
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl MailStack {
    /// A stack of its own, for tests that stop or restart servers.
    /// `components` is "dovecot" or "" (both).
    pub fn private(name: &str, components: &str) -> MailStack {
        Self::private_with(name, components, &[])
    }

    /// A private stack with extra `MAILSTACK_*` settings.
    pub fn private_with(name: &str, components: &str, env: &[(&str, &str)]) -> MailStack {
        let shared = stack();
        let dir = shared
            .dir
            .with_file_name(format!("bientap-ms-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cmd = Command::new(harness("mailstack.sh"));
        cmd.arg("start").arg(&dir);
        if !components.is_empty() {
            cmd.arg(components);
        }
        let out = cmd
            .env("MAILSTACK_IMAP_PORT", free_port().to_string())
            .env("MAILSTACK_IMAPS_PORT", free_port().to_string())
            .env("MAILSTACK_SMTP_PORT", free_port().to_string())
            .env("MAILSTACK_LMTP_PORT", free_port().to_string())
            .envs(env.iter().copied())
            .output()
            .expect("run mailstack.sh start");
        assert!(
            out.status.success(),
            "cannot start a private mail stack:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        parse_env(&dir, true)
    }

    pub fn control(&self, action: &str, component: &str) {
        let out = Command::new(harness("mailstack.sh"))
            .arg(action)
            .arg(&self.dir)
            .arg(component)
            .output()
            .expect("run mailstack.sh");
        assert!(
            out.status.success(),
            "mailstack.sh {action} {component}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Where Dovecot keeps `folder` of `user` ("INBOX" or a folder name).
    pub fn maildir(&self, user: &str, folder: &str) -> PathBuf {
        let (local, domain) = user.split_once('@').unwrap();
        let base = self
            .dir
            .join("mail")
            .join(domain)
            .join(local)
            .join("Maildir");
        if folder == "INBOX" {
            base
        } else {
            base.join(format!(".{folder}"))
        }
    }

    /// Messages in a folder of a mailbox, read from disk.
    pub fn count(&self, user: &str, folder: &str) -> usize {
        let dir = self.maildir(user, folder);
        ["new", "cur"]
            .iter()
            .filter_map(|s| std::fs::read_dir(dir.join(s)).ok())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_file())
                    .count()
            })
            .sum()
    }

    /// The raw messages in a folder of a mailbox.
    pub fn messages(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        let dir = self.maildir(user, folder);
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|s| std::fs::read_dir(dir.join(s)).ok())
            .flat_map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        files.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    /// Sends `raw` through Postfix (SMTP), as a mail client would.
    pub fn send_smtp(&self, from: &str, to: &[&str], raw: &[u8]) {
        dialog(self.smtp_port, "EHLO", from, to, raw);
    }

    /// Delivers `raw` straight into Dovecot (LMTP), as Postfix does.
    pub fn deliver_lmtp(&self, from: &str, to: &[&str], raw: &[u8]) {
        dialog(self.lmtp_port, "LHLO", from, to, raw);
    }

    /// Waits until Postfix has handed everything to Dovecot.
    pub fn wait_delivered(&self, user: &str, folder: &str, n: usize) {
        wait_until(
            Duration::from_secs(60),
            &format!("{n} messages in {user}/{folder}"),
            || self.count(user, folder) >= n,
        );
    }
}

impl Drop for MailStack {
    fn drop(&mut self) {
        if self.private {
            let _ = Command::new(harness("mailstack.sh"))
                .arg("destroy")
                .arg(&self.dir)
                .output();
        }
    }
}

/// A minimal SMTP/LMTP client: greeting, EHLO/LHLO, one transaction.
fn dialog(port: u16, hello: &str, from: &str, to: &[&str], raw: &[u8]) {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the mail server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let expect = |code: &str, reader: &mut BufReader<TcpStream>| {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("read reply");
            assert!(line.starts_with(code), "expected {code}, got {line:?}");
            if line.as_bytes().get(3) != Some(&b'-') {
                break;
            }
        }
    };
    expect("220", &mut reader);
    write!(writer, "{hello} test.example.test\r\n").unwrap();
    expect("250", &mut reader);
    write!(writer, "MAIL FROM:<{from}>\r\n").unwrap();
    expect("250", &mut reader);
    for rcpt in to {
        write!(writer, "RCPT TO:<{rcpt}>\r\n").unwrap();
        expect("250", &mut reader);
    }
    write!(writer, "DATA\r\n").unwrap();
    expect("354", &mut reader);
    let mut data = Vec::with_capacity(raw.len() + 64);
    for line in raw.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    if !data.ends_with(b"\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    writer.write_all(&data).unwrap();
    // LMTP answers once per recipient.
    let answers = if hello == "LHLO" { to.len() } else { 1 };
    for _ in 0..answers {
        expect("250", &mut reader);
    }
    write!(writer, "QUIT\r\n").unwrap();
}

/// A name nobody else uses in this test run.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        rand_suffix()
    )
}

fn rand_suffix() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{:x}", nanos % 0xffff)
}

/// Polls `check` until it holds, failing with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls an async `check` until it holds, failing with `what` after `timeout`.
pub async fn wait_for<F, Fut>(timeout: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A bientap state directory and configuration for one test.
pub struct Board {
    pub dir: tempfile::TempDir,
    pub address: String,
    pub config: PathBuf,
    pub db_url: String,
}

pub enum Mailbox<'a> {
    Imap {
        stack: &'a MailStack,
        tls: &'a str,
        auth: ImapAuth,
    },
    Maildir(PathBuf),
}

impl<'a> Mailbox<'a> {
    /// An IMAP mailbox on `stack` with a password login.
    pub fn imap(stack: &'a MailStack, tls: &'static str) -> Mailbox<'a> {
        Mailbox::Imap {
            stack,
            tls,
            auth: ImapAuth::Password,
        }
    }
}

pub enum ImapAuth {
    Password,
    OAuth2TokenFile(PathBuf),
}

/// The members every test board has unless a test gives its own.
pub const DEFAULT_MEMBERS: &str = "[[members]]\nname = \"Nguyễn Văn An\"\nemail = \"an.nv@collab.example.test\"\nroles = [\"member\"]\nunit = \"UBND xã Ea Sô\"\n\n\
     [[members]]\nname = \"Hoàng Minh Đức\"\nemail = \"truongban@example.test\"\nroles = [\"head\"]\n";

impl Board {
    /// A board reading `mailbox`, with its state in SQLite (or `db_url`)
    /// and the default members.
    pub fn new(address: &str, mailbox: Mailbox<'_>, db_url: Option<String>, extra: &str) -> Board {
        Board::with_members(address, mailbox, db_url, DEFAULT_MEMBERS, extra)
    }

    /// A board with members of its own (TOML `[[members]]` tables). Boards
    /// reading IMAP send their mail through the same stack's Postfix.
    pub fn with_members(
        address: &str,
        mailbox: Mailbox<'_>,
        db_url: Option<String>,
        members: &str,
        extra: &str,
    ) -> Board {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let db_url =
            db_url.unwrap_or_else(|| format!("sqlite://{}", state.join("state.db").display()));
        let (source, smtp) = match mailbox {
            Mailbox::Imap { stack, tls, auth } => {
                let port = if tls == "implicit" {
                    stack.imaps_port
                } else {
                    stack.imap_port
                };
                let auth = match auth {
                    ImapAuth::Password => format!("password = \"{PASSWORD}\""),
                    ImapAuth::OAuth2TokenFile(p) => format!(
                        "auth = \"xoauth2\"\noauth2_token_file = \"{}\"",
                        p.display()
                    ),
                };
                let ca = if tls == "none" {
                    String::new()
                } else {
                    format!("ca_file = \"{}\"", stack.ca_cert.display())
                };
                (
                    format!(
                        "[imap]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"{tls}\"\n{ca}\nusername = \"{address}\"\n{auth}\npoll_interval = 1\ntimeout = 20\n"
                    ),
                    format!(
                        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\nca_file = \"{}\"\ntimeout = 20\nretry_initial = \"1s\"\nretry_max = \"2s\"\n",
                        stack.smtp_port,
                        stack.ca_cert.display()
                    ),
                )
            }
            Mailbox::Maildir(p) => (
                format!("[maildir]\npath = \"{}\"\npoll_interval = 1\n", p.display()),
                String::new(),
            ),
        };
        let text = format!(
            "[board]\nname = \"Ban biên tập thử nghiệm\"\naddress = \"{address}\"\n\n[storage]\nstate_dir = \"{}\"\n\n[database]\nurl = \"{db_url}\"\n\n[http]\nlisten = \"127.0.0.1:0\"\n\n{source}\n{smtp}\n{members}\n{extra}\n",
            state.display()
        );
        let config = dir.path().join("bientap.toml");
        std::fs::write(&config, text).unwrap();
        Board {
            dir,
            address: address.to_string(),
            config,
            db_url,
        }
    }

    /// Adds `line` at the top of `[section]` of the config file.
    pub fn set(&self, section: &str, line: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let header = format!("[{section}]\n");
        assert!(text.contains(&header), "no [{section}] in the test config");
        std::fs::write(
            &self.config,
            text.replacen(&header, &format!("{header}{line}\n"), 1),
        )
        .unwrap();
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Where the archive keeps the blob with this digest.
    pub fn archived(&self, sha256: &str) -> PathBuf {
        bientap::store::Archive::open(&self.state_dir().join("archive"))
            .unwrap()
            .path(sha256)
            .unwrap()
    }

    /// Runs a CLI command to completion.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(bientap_bin())
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("BIENTAP_LOG", "info")
            .output()
            .expect("run bientap")
    }

    /// `bientap run --once`, which must succeed; its log.
    pub fn run_once(&self) -> String {
        let out = self.cli(&["run", "--once"]);
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "bientap run --once failed:\n{log}");
        log
    }

    /// Starts `bientap run` in the background.
    pub fn start(&self) -> Daemon {
        self.start_with_env(&[])
    }

    /// Starts `bientap run` with extra environment variables.
    pub fn start_with_env(&self, env: &[(&str, &str)]) -> Daemon {
        let log = self
            .dir
            .path()
            .join(format!("daemon-{}.log", unique("run")));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(bientap_bin())
            .arg("--config")
            .arg(&self.config)
            .arg("run")
            .env("BIENTAP_LOG", "info,bientap=debug")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("start bientap run");
        Daemon {
            child: Some(child),
            log,
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.db_url).await.unwrap()
    }

    /// The address of the running daemon's endpoint (from daemon.json),
    /// waiting for it to be written.
    pub fn endpoint(&self) -> String {
        self.running("http")
    }

    /// An address the running daemon listens on (`http`, `zalo`), from
    /// daemon.json, waiting for it to be written.
    pub fn running(&self, key: &str) -> String {
        let file = self.state_dir().join("daemon.json");
        wait_until(Duration::from_secs(30), "daemon.json", || file.exists());
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("the daemon does not listen for {key}"))
            .to_string()
    }

    pub async fn tickets(&self) -> Vec<TicketSummary> {
        let store = self.store().await;
        let t = store.list_tickets(None, 100_000).await.unwrap();
        store.close().await;
        t
    }
}

/// A plain HTTP/1.1 request to a loopback endpoint: status code and body.
pub fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    http_with(addr, method, path, &[], "")
}

/// An HTTP/1.1 request with headers and a body: status code and body.
pub fn http_with(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use std::io::Read;
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, body.to_string())
}

/// A `bientap run` process; killed when dropped.
pub struct Daemon {
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// kill -9: no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, then wait; returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("daemon already stopped");
        let pid = c.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let start = Instant::now();
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > Duration::from_secs(30) {
                c.kill().unwrap();
                panic!(
                    "bientap did not stop within 30 s of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Waits (async) until the board has `n` tickets; returns them.
pub async fn wait_tickets(board: &Board, n: usize, daemon: &mut Daemon) -> Vec<TicketSummary> {
    let start = Instant::now();
    loop {
        let t = board.tickets().await;
        if t.len() >= n {
            return t;
        }
        assert!(
            daemon.is_running(),
            "bientap exited early; log:\n{}",
            daemon.log_text()
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "timed out waiting for {n} tickets (have {}); log:\n{}",
            t.len(),
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The fixture mails in `fixtures/mail`.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(manifest_dir().join("fixtures/mail").join(name)).unwrap()
}

/// Starts a database server with `tests/harness/services.sh ensure`, or
/// fails saying why.
fn ensure_service(service: &str, what: &str) {
    let out = Command::new(harness("services.sh"))
        .args(["ensure", service])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{what} is needed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs cleanup from a `Drop` in an async test: on a thread with a runtime
/// of its own.
fn on_own_runtime(work: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work);
    })
    .join();
}

/// A PostgreSQL database of its own for one test, dropped afterwards.
pub struct PgDatabase {
    pub url: String,
    name: String,
    admin: String,
}

pub fn postgres_admin_url() -> String {
    std::env::var("BIENTAP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        use sqlx::Connection;
        let admin = postgres_admin_url();
        let mut conn = match sqlx::PgConnection::connect(&admin).await {
            Ok(c) => c,
            Err(_) => {
                ensure_service("postgres", "PostgreSQL");
                sqlx::PgConnection::connect(&admin)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {admin}: {e}"))
            }
        };
        let name = unique("bientap").replace('-', "_");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
            admin,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        on_own_runtime(async move {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await;
            }
        });
    }
}

/// A private MariaDB database for one test, dropped afterwards. It may be
/// reserved first and created later (a site database that is down).
pub struct MysqlDatabase {
    pub url: String,
    name: String,
    admin: String,
}

pub fn mysql_admin_url() -> String {
    std::env::var("BIENTAP_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into())
}

impl MysqlDatabase {
    /// A name and URL for a database that does not exist yet.
    pub async fn reserve() -> MysqlDatabase {
        use sqlx::Connection;
        let admin = mysql_admin_url();
        if sqlx::MySqlConnection::connect(&admin).await.is_err() {
            ensure_service("mariadb", "MariaDB");
            sqlx::MySqlConnection::connect(&admin)
                .await
                .unwrap_or_else(|e| panic!("cannot connect to MariaDB at {admin}: {e}"));
        }
        let name = unique("bientap").replace('-', "_");
        let base = admin.rsplit_once('/').unwrap().0;
        MysqlDatabase {
            url: format!("{base}/{name}"),
            name,
            admin,
        }
    }

    /// A new, empty database.
    pub async fn create() -> MysqlDatabase {
        let db = MysqlDatabase::reserve().await;
        db.create_now().await;
        db
    }

    pub async fn create_now(&self) {
        use sqlx::Connection;
        let mut conn = sqlx::MySqlConnection::connect(&self.admin).await.unwrap();
        sqlx::query(&format!(
            "CREATE DATABASE {} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
            self.name
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
}

impl Drop for MysqlDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let name = self.name.clone();
        on_own_runtime(async move {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::MySqlConnection::connect(&admin).await {
                // A failed test may leave connections in a transaction
                // (their runtime is gone): end them, or DROP waits.
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
                )
                .bind(&name)
                .fetch_all(&mut conn)
                .await
                .unwrap_or_default();
                for id in ids {
                    let _ = sqlx::query(&format!("KILL {id}")).execute(&mut conn).await;
                }
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                    .execute(&mut conn)
                    .await;
            }
        });
    }
}

/// An XOAUTH2 bearer token Dovecot accepts: a JWT (HS256) signed with the
/// stack's key, valid for an hour.
pub fn jwt_for(stack: &MailStack, user: &str) -> String {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let key = base64::engine::general_purpose::STANDARD
        .decode(
            std::fs::read_to_string(&stack.oauth2_key_file)
                .unwrap()
                .trim(),
        )
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = b64.encode(format!(
        r#"{{"sub":"{user}","iat":{now},"nbf":{now},"exp":{}}}"#,
        now + 3600
    ));
    let signing_input = format!("{header}.{claims}");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        b64.encode(mac.finalize().into_bytes())
    )
}

/// A mail as a test reads it from a mailbox.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: Vec<u8>,
    pub subject: String,
    pub from: String,
    pub to: Vec<String>,
    pub reply_to: Option<String>,
    pub message_id: String,
    pub auto_submitted: Option<String>,
    pub text: String,
    pub html: Option<String>,
    pub attachments: Vec<String>,
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let msg = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("a parseable mail");
        let addr = |a: Option<&mail_parser::Address<'_>>| -> Vec<String> {
            a.map(|a| {
                a.iter()
                    .filter_map(|x| x.address().map(|s| s.to_lowercase()))
                    .collect()
            })
            .unwrap_or_default()
        };
        Mail {
            raw: raw.to_vec(),
            subject: msg.subject().unwrap_or_default().to_string(),
            from: addr(msg.from()).into_iter().next().unwrap_or_default(),
            to: addr(msg.to()),
            reply_to: addr(msg.reply_to()).into_iter().next(),
            message_id: msg.message_id().unwrap_or_default().to_string(),
            auto_submitted: msg
                .header_raw("Auto-Submitted")
                .map(|v| v.trim().to_string()),
            text: msg
                .body_text(0)
                .map(|t| t.replace("\r\n", "\n"))
                .unwrap_or_default(),
            html: msg
                .html_bodies()
                .find(|p| matches!(p.body, mail_parser::PartType::Html(_)))
                .and_then(|p| p.text_contents().map(str::to_string)),
            attachments: msg
                .attachments()
                .filter_map(|a| mail_parser::MimeHeaders::attachment_name(a).map(str::to_string))
                .collect(),
        }
    }

    /// The raw header block, for checks on header injection.
    pub fn header_block(&self) -> String {
        let raw = String::from_utf8_lossy(&self.raw);
        raw.split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .split("\n\n")
            .next()
            .unwrap_or_default()
            .to_string()
    }

    /// A reply to this mail from `from`, written above a Gmail-style quote,
    /// sent to its Reply-To (or From).
    pub fn reply(&self, from: &str, text: &str) -> Vec<u8> {
        self.reply_with(from, text, &[])
    }

    /// Like `reply`, with extra header lines.
    pub fn reply_with(&self, from: &str, text: &str, headers: &[&str]) -> Vec<u8> {
        use base64::Engine;
        let to = self.reply_to.clone().unwrap_or_else(|| self.from.clone());
        let subject =
            base64::engine::general_purpose::STANDARD.encode(format!("Re: {}", self.subject));
        let quoted: String = self
            .text
            .lines()
            .take(20)
            .map(|l| format!("> {l}\r\n"))
            .collect();
        let mut raw = String::new();
        for h in headers {
            raw.push_str(h);
            raw.push_str("\r\n");
        }
        raw.push_str(&format!(
            "From: {from}\r\nTo: {to}\r\nSubject: =?utf-8?b?{subject}?=\r\nMessage-ID: <{}@example.test>\r\n\
             In-Reply-To: <{id}>\r\nReferences: <{id}>\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
             {}\r\n\r\nVào Th 4, 25 thg 11, 2026 vào lúc 10:00 Ban biên tập <{}> đã viết:\r\n{quoted}",
            unique("reply"),
            text.replace('\n', "\r\n"),
            self.from,
            id = self.message_id,
        ));
        raw.into_bytes()
    }
}

impl MailStack {
    /// Answers `mail` from `from` with `text` above the quote, through SMTP
    /// to its Reply-To.
    pub fn answer(&self, mail: &Mail, from: &str, text: &str) {
        let to = mail.reply_to.clone().unwrap_or_else(|| mail.from.clone());
        self.send_smtp(from, &[&to], &mail.reply(from, text));
    }

    /// The mails in a mailbox's INBOX, oldest first.
    pub fn inbox(&self, user: &str) -> Vec<Mail> {
        self.messages(user, "INBOX")
            .iter()
            .map(|m| Mail::parse(m))
            .collect()
    }

    /// Waits for a mail in `user`'s INBOX whose subject contains `subject`.
    pub async fn wait_mail(&self, user: &str, subject: &str) -> Mail {
        let start = Instant::now();
        loop {
            if let Some(m) = self
                .inbox(user)
                .into_iter()
                .find(|m| m.subject.contains(subject))
            {
                return m;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no mail with subject containing {subject:?} reached {user}; it has: {:?}",
                self.inbox(user)
                    .iter()
                    .map(|m| m.subject.clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for the `n`th mail (from 1) in `user`'s INBOX whose subject
    /// contains `subject`; returns it.
    pub async fn wait_nth_mail(&self, user: &str, subject: &str, n: usize) -> Mail {
        wait_until(
            Duration::from_secs(60),
            &format!("mail {n} with subject {subject:?} for {user}"),
            || self.count_subject(user, subject) >= n,
        );
        self.inbox(user)
            .into_iter()
            .filter(|m| m.subject.contains(subject))
            .nth(n - 1)
            .expect("counted above")
    }

    /// How many mails in `user`'s INBOX have `subject` in their subject.
    pub fn count_subject(&self, user: &str, subject: &str) -> usize {
        self.inbox(user)
            .iter()
            .filter(|m| m.subject.contains(subject))
            .count()
    }
}

impl Board {
    /// Waits until ticket `code` is in `state`; returns its detail.
    pub async fn wait_state(
        &self,
        code: &str,
        state: &str,
        daemon: &mut Daemon,
    ) -> bientap::store::TicketDetail {
        let start = Instant::now();
        let store = self.store().await;
        loop {
            let t = store.ticket(code).await.unwrap().expect("ticket exists");
            if t.summary.state == state {
                store.close().await;
                return t;
            }
            assert!(daemon.is_running(), "bientap exited: {}", daemon.log_text());
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "ticket {code} stayed {} (wanted {state}); history: {:#?}\nlog:\n{}",
                t.summary.state,
                t.events,
                daemon.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the ticket's history has an event of `kind`; returns it.
    pub async fn wait_event(
        &self,
        code: &str,
        kind: &str,
        daemon: &mut Daemon,
    ) -> bientap::store::EventInfo {
        let start = Instant::now();
        let store = self.store().await;
        loop {
            let t = store.ticket(code).await.unwrap().expect("ticket exists");
            if let Some(e) = t.events.iter().rev().find(|e| e.kind == kind) {
                store.close().await;
                return e.clone();
            }
            assert!(daemon.is_running(), "bientap exited: {}", daemon.log_text());
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "no {kind} event on {code}; history: {:#?}\nlog:\n{}",
                t.events,
                daemon.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Counts events of `kind` on a ticket.
    pub async fn events(&self, code: &str, kind: &str) -> usize {
        let store = self.store().await;
        let n = store
            .ticket(code)
            .await
            .unwrap()
            .unwrap()
            .events
            .iter()
            .filter(|e| e.kind == kind)
            .count();
        store.close().await;
        n
    }

    /// Waits until the outbox has nothing pending.
    pub async fn wait_outbox_empty(&self, daemon: &mut Daemon) {
        let store = self.store().await;
        let start = Instant::now();
        loop {
            let pending: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending'")
                    .fetch_one(store.pool())
                    .await
                    .unwrap();
            if pending == 0 {
                break;
            }
            assert!(daemon.is_running(), "bientap exited: {}", daemon.log_text());
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "outbox not drained:\n{}",
                daemon.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        store.close().await;
    }
}

/// Waits until a ticket's history has `n` events of `kind`.
pub async fn wait_events(b: &Board, code: &str, kind: &str, n: usize, daemon: &mut Daemon) {
    let start = Instant::now();
    while b.events(code, kind).await < n {
        assert!(daemon.is_running(), "{}", daemon.log_text());
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "fewer than {n} {kind} events on {code}:\n{}",
            daemon.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `[[members]]` tables for a test board.
pub fn members(list: &[(&str, &str, &str)]) -> String {
    list.iter()
        .map(|(name, email, roles)| {
            let roles: Vec<String> = roles
                .split(',')
                .map(|r| format!("\"{}\"", r.trim()))
                .collect();
            format!(
                "[[members]]\nname = \"{name}\"\nemail = \"{email}\"\nroles = [{}]\n\n",
                roles.join(", ")
            )
        })
        .collect()
}

/// An article mail from `from`.
/// Submission number `i` from `ctv{i}@sink.example.test`: a plain-text
/// article of `repeat` sentences, Message-ID `<{tag}-{i}@sink.example.test>`.
pub fn long_submission(tag: &str, i: usize, repeat: usize) -> Vec<u8> {
    let filler = "Nội dung bài viết về hoạt động của xã. ".repeat(repeat);
    format!(
        "From: ctv{i}@sink.example.test\r\nTo: bbt@example.test\r\nSubject: Tin số {i}\r\n\
         Message-ID: <{tag}-{i}@sink.example.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{filler}\r\n"
    )
    .into_bytes()
}

pub fn article(from: &str, to: &str, subject: &str, body: &str) -> Vec<u8> {
    use base64::Engine;
    let subject = base64::engine::general_purpose::STANDARD.encode(subject);
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: =?utf-8?b?{subject}?=\r\nMessage-ID: <{}@collab.example.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}\r\n",
        unique("article"),
        body.replace('\n', "\r\n")
    )
    .into_bytes()
}

/// Addresses of one test's people.
pub struct People {
    pub board: String,
    pub head: String,
    pub head2: String,
    pub deputy: String,
    pub secretary: String,
    pub ctv: String,
}

impl People {
    pub fn new(tag: &str) -> People {
        let u = unique(tag);
        People {
            board: format!("bbt-{u}@{DOMAIN}"),
            head: format!("tb-{u}@{DOMAIN}"),
            head2: format!("tb2-{u}@{DOMAIN}"),
            deputy: format!("pb-{u}@{DOMAIN}"),
            secretary: format!("tk-{u}@{DOMAIN}"),
            ctv: format!("ctv-{u}@{DOMAIN}"),
        }
    }

    /// An article from the collaborator to the board.
    pub fn article(&self, subject: &str, body: &str) -> Vec<u8> {
        article(&self.ctv, &self.board, subject, body)
    }

    /// Sends the board an article from the collaborator, by SMTP.
    pub fn send_article(&self, stack: &MailStack, subject: &str, body: &str) {
        stack.send_smtp(&self.ctv, &[&self.board], &self.article(subject, body));
    }

    /// Every role but the collaborator's, as `[[members]]` tables.
    pub fn members(&self) -> String {
        members(&[
            ("Hoàng Minh Đức", &self.head, "head"),
            ("Trần Văn Hải", &self.head2, "head"),
            ("Lê Thị Phương", &self.deputy, "deputy"),
            ("Vũ Thị Hà", &self.secretary, "secretariat"),
        ])
    }
}

/// The ticket code in a subject such as "[BBT-2026-00001] Đã nhận bài".
pub fn code_in(subject: &str) -> String {
    let start = subject.find("[BBT-").expect("a ticket code in the subject") + 1;
    subject
        .get(start..start + 13)
        .expect("a whole ticket code")
        .to_string()
}
