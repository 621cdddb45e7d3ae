//! `[zalo]`: the board's Zalo Official Account as a second way in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::zalo::guard::{HostPattern, Policy};

use super::{
    Interval, Size, non_empty_env, parse_interval, parse_size, read_secret, resolve_secret_path,
};

pub const ENV_SECRET_KEY: &str = "BIENTAP_ZALO_SECRET_KEY";
pub const ENV_REFRESH_TOKEN: &str = "BIENTAP_ZALO_REFRESH_TOKEN";
pub const ENV_ACCESS_TOKEN: &str = "BIENTAP_ZALO_ACCESS_TOKEN";

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawZalo {
    enabled: Option<bool>,
    app_id: Option<String>,
    oa_id: Option<String>,
    secret_key_file: Option<PathBuf>,
    access_token_file: Option<PathBuf>,
    refresh_token_file: Option<PathBuf>,
    listen: Option<String>,
    path: Option<String>,
    quiet_window: Option<Interval>,
    max_skew: Option<Interval>,
    max_file_size: Option<Size>,
    download_timeout: Option<Interval>,
    api_base: Option<String>,
    oauth_base: Option<String>,
    download_hosts: Option<Vec<String>>,
    allow_private_downloads: Option<bool>,
}

/// The Zalo OA channel, when enabled.
#[derive(Clone)]
pub struct Zalo {
    pub app_id: String,
    pub oa_id: String,
    /// The OA secret key: checks webhook signatures, refreshes tokens.
    pub secret_key: String,
    /// The first tokens; once the state database holds tokens, those win
    /// (the refresh token is single-use and rotated there).
    pub access_token: Option<String>,
    pub refresh_token: String,
    /// Where the webhook receiver listens (behind the HTTPS reverse proxy).
    pub listen: SocketAddr,
    pub path: String,
    /// A sender's messages become one submission once they are quiet this
    /// long (or at once on `GỬI`).
    pub quiet_window: Duration,
    /// Events whose timestamp is further than this from now are ignored.
    pub max_skew: Duration,
    pub max_file_size: u64,
    pub download_timeout: Duration,
    pub api_base: String,
    pub oauth_base: String,
    /// Where photos and files named in webhooks may be downloaded from:
    /// `download_hosts` and `allow_private_downloads`.
    pub downloads: Policy,
}

impl std::fmt::Debug for Zalo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zalo")
            .field("app_id", &self.app_id)
            .field("oa_id", &self.oa_id)
            .field("listen", &self.listen)
            .field("path", &self.path)
            .field("quiet_window", &self.quiet_window)
            .field("api_base", &self.api_base)
            .field("oauth_base", &self.oauth_base)
            .field("downloads", &self.downloads)
            .finish_non_exhaustive()
    }
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:9188";
pub const DEFAULT_PATH: &str = "/zalo/webhook";
const DEFAULT_QUIET: Duration = Duration::from_secs(600);
const DEFAULT_SKEW: Duration = Duration::from_secs(300);
const DEFAULT_MAX_FILE: u64 = 25 * 1024 * 1024;
const DEFAULT_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// A secret from the environment, else from its `*_file` key.
fn secret(
    key: &str,
    env: &str,
    file: Option<&PathBuf>,
    base: &Path,
    problems: &mut Vec<String>,
) -> Option<String> {
    if let Some(v) = non_empty_env(env) {
        return Some(v);
    }
    let file = file?;
    read_secret(key, &resolve_secret_path(base, file), problems)
}

fn required(key: &str, value: Option<&String>, problems: &mut Vec<String>) -> Option<String> {
    match value.map(|v| v.trim()) {
        Some(v) if !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()) => {
            Some(v.to_string())
        }
        Some(v) if !v.is_empty() => {
            problems.push(format!(
                "`{key}` = \"{v}\": Zalo's ids are digits (see the OA's page on developers.zalo.me)"
            ));
            None
        }
        _ => {
            problems.push(format!("missing `{key}` (the Zalo app's or OA's id)"));
            None
        }
    }
}

fn base_url(
    key: &str,
    value: Option<&String>,
    default: &str,
    problems: &mut Vec<String>,
) -> String {
    let v = value.map_or(default, |v| v.trim()).trim_end_matches('/');
    if !(v.starts_with("https://") || v.starts_with("http://")) {
        problems.push(format!("`{key}` = \"{v}\" is not an http(s) URL"));
    }
    v.to_string()
}

/// `download_hosts` (default: Zalo's file hosts) and
/// `allow_private_downloads` (default: false).
fn downloads(r: &RawZalo, problems: &mut Vec<String>) -> Option<Policy> {
    let allow_private = r.allow_private_downloads.unwrap_or(false);
    let Some(hosts) = &r.download_hosts else {
        return Some(Policy::new(
            Policy::default().hosts().to_vec(),
            allow_private,
        ));
    };
    let mut patterns = Vec::with_capacity(hosts.len());
    let mut bad = false;
    for host in hosts {
        match HostPattern::parse(host) {
            Ok(pattern) => patterns.push(pattern),
            Err(why) => {
                problems.push(format!("`zalo.download_hosts`: {why}"));
                bad = true;
            }
        }
    }
    (!bad).then(|| Policy::new(patterns, allow_private))
}

pub(super) fn resolve_zalo(
    r: Option<&RawZalo>,
    base: &Path,
    problems: &mut Vec<String>,
) -> Option<Zalo> {
    let r = r?;
    if r.enabled == Some(false) {
        return None;
    }
    let app_id = required("zalo.app_id", r.app_id.as_ref(), problems);
    let oa_id = required("zalo.oa_id", r.oa_id.as_ref(), problems);
    let secret_key = secret(
        "zalo.secret_key_file",
        ENV_SECRET_KEY,
        r.secret_key_file.as_ref(),
        base,
        problems,
    );
    if secret_key.is_none() && r.secret_key_file.is_none() {
        problems.push(format!(
            "no Zalo OA secret key: set `zalo.secret_key_file` (or LoadCredential=), or the environment variable {ENV_SECRET_KEY}"
        ));
    }
    let refresh_token = secret(
        "zalo.refresh_token_file",
        ENV_REFRESH_TOKEN,
        r.refresh_token_file.as_ref(),
        base,
        problems,
    );
    if refresh_token.is_none() && r.refresh_token_file.is_none() {
        problems.push(format!(
            "no Zalo refresh token: set `zalo.refresh_token_file`, or the environment variable {ENV_REFRESH_TOKEN} (bientap keeps the rotated tokens in its state database after the first use)"
        ));
    }
    let access_token = secret(
        "zalo.access_token_file",
        ENV_ACCESS_TOKEN,
        r.access_token_file.as_ref(),
        base,
        problems,
    );
    let listen_text = r.listen.as_deref().unwrap_or(DEFAULT_LISTEN).trim();
    let listen = match listen_text.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            problems.push(format!(
                "`zalo.listen` = \"{listen_text}\" is not an address and port such as \"{DEFAULT_LISTEN}\""
            ));
            None
        }
    };
    let path = r.path.as_deref().unwrap_or(DEFAULT_PATH).trim().to_string();
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        problems.push(format!(
            "`zalo.path` = \"{path}\" must be a URL path such as \"{DEFAULT_PATH}\""
        ));
    }
    let interval = |key: &str, v: Option<&Interval>, default: Duration, p: &mut Vec<String>| {
        v.map_or(Some(default), |iv| parse_interval(key, iv, p))
    };
    let quiet_window = interval(
        "zalo.quiet_window",
        r.quiet_window.as_ref(),
        DEFAULT_QUIET,
        problems,
    );
    let max_skew = interval("zalo.max_skew", r.max_skew.as_ref(), DEFAULT_SKEW, problems);
    let download_timeout = interval(
        "zalo.download_timeout",
        r.download_timeout.as_ref(),
        DEFAULT_DOWNLOAD_TIMEOUT,
        problems,
    );
    let max_file_size = r
        .max_file_size
        .as_ref()
        .map_or(Some(DEFAULT_MAX_FILE), |s| {
            parse_size("zalo.max_file_size", s, problems)
        });
    // Zalo's official addresses are the client's defaults.
    let official = crate::zalo::api::Endpoints::default();
    let api_base = base_url(
        "zalo.api_base",
        r.api_base.as_ref(),
        &official.api_base,
        problems,
    );
    let oauth_base = base_url(
        "zalo.oauth_base",
        r.oauth_base.as_ref(),
        &official.oauth_base,
        problems,
    );
    let downloads = downloads(r, problems);
    Some(Zalo {
        app_id: app_id?,
        oa_id: oa_id?,
        secret_key: secret_key?,
        access_token,
        refresh_token: refresh_token?,
        listen: listen?,
        path,
        quiet_window: quiet_window?,
        max_skew: max_skew?,
        max_file_size: max_file_size?,
        download_timeout: download_timeout?,
        api_base,
        oauth_base,
        downloads: downloads?,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    /// A minimal board with `[zalo]` and `extra` lines in it.
    fn load(extra: &str) -> Result<Config, Vec<String>> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("zalo-secret"), "secret").unwrap();
        std::fs::write(dir.path().join("zalo-refresh"), "refresh").unwrap();
        let text = format!(
            r#"
            [board]
            name = "Ban biên tập"
            address = "bbt@example.gov.vn"
            [maildir]
            path = "/srv/mail/bbt"
            [storage]
            state_dir = "{state}"
            [[members]]
            name = "Trưởng ban"
            email = "tb@example.gov.vn"
            roles = ["head"]
            [zalo]
            app_id = "1"
            oa_id = "2"
            secret_key_file = "zalo-secret"
            refresh_token_file = "zalo-refresh"
            {extra}
            "#,
            state = dir.path().display()
        );
        Config::from_toml(&dir.path().join("bientap.toml"), &text).map_err(|e| e.problems)
    }

    #[test]
    fn downloads_default_to_zalos_hosts_and_public_addresses() {
        let z = load("").unwrap().zalo.unwrap();
        assert_eq!(z.downloads, Policy::default());
        assert!(!z.downloads.allows_private());
    }

    #[test]
    fn download_hosts_and_the_opt_in() {
        let z = load(
            "download_hosts = [\"127.0.0.1\", \"*.Example.VN\"]\nallow_private_downloads = true",
        )
        .unwrap()
        .zalo
        .unwrap();
        assert_eq!(
            z.downloads.hosts(),
            [
                HostPattern::Exact("127.0.0.1".into()),
                HostPattern::Suffix("example.vn".into())
            ]
        );
        assert!(z.downloads.allows_private());
    }

    #[test]
    fn malformed_download_hosts_are_reported() {
        let problems =
            load("download_hosts = [\"https://f1.zdn.vn/\", \"*.vn\", \"f1.zdn.vn\"]").unwrap_err();
        let all = problems.join("\n");
        assert!(all.contains("zalo.download_hosts"), "{all}");
        assert!(all.contains("https://f1.zdn.vn/"), "{all}");
        assert!(all.contains("too broad"), "{all}");
        let problems = load("allow_private_downloads = \"yes\"").unwrap_err();
        assert!(
            problems.join("\n").contains("allow_private_downloads"),
            "{problems:?}"
        );
    }
}
