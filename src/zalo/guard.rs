//! Where a download named in a webhook may go.
//!
//! A Zalo webhook names the photos, files, recordings and videos it carries
//! by URL, and bientap fetches them. The webhook is signed, but whoever holds
//! the OA secret key (a leak, an insider at an integrator) could name any
//! address: the board's server would then fetch from its own loopback, the
//! office network or the cloud metadata service, and what they answer would
//! become an attachment a reviewer reads. So a download goes only where
//! Zalo keeps files:
//!
//! - the URL is http or https, and its host (as the URL parser reads it:
//!   lower-cased, without user info or port) matches `zalo.download_hosts`,
//!   exact names or `*.suffix` patterns;
//! - a host that is an IP address is refused outright (Zalo names its
//!   files by host name);
//! - the name is resolved once, and if any of its addresses is loopback,
//!   private, link-local (the cloud metadata service), shared (CGNAT),
//!   unspecified, multicast, broadcast, reserved or for documentation, the
//!   download is refused; otherwise the connection goes to exactly the
//!   addresses checked ([`Resolver`]: no second resolution, so a name cannot
//!   answer one address to the check and another to the connection);
//! - each redirect is checked like the first URL ([`redirect_policy`]), at
//!   most [`MAX_REDIRECTS`] of them;
//! - no HTTP proxy is used (a proxy would resolve the names itself).
//!
//! `zalo.allow_private_downloads` lifts the address checks (IP hosts and
//! private addresses) for tests against a local fake of Zalo; the host list
//! applies regardless.
//!
//! Everything deciding is pure and unit-tested here; the download itself is
//! `api::Client::download`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The most redirects a download follows.
pub const MAX_REDIRECTS: usize = 5;

/// The hosts Zalo serves the media of OA webhooks from, the default of
/// `zalo.download_hosts`.
///
/// Zalo's documentation of the webhook (developers.zalo.me) could not be
/// reached from here, and published OA payload examples blank the URLs out
/// (`"url": "https://..."`), so the list follows what integrators' code
/// shows of Zalo's media (found with a code search over public repositories;
/// most of it handles messages of personal accounts, which Zalo stores on
/// the same hosts): photos on `f<N>-zpc.zdn.vn` (e.g. github.com/
/// Hoanganh010999/songthuyeducation, `ZALO_IMAGE_UPLOAD_FIXED.md`, storing
/// `https://f20-zpc.zdn.vn/...`), `f<N>-zpg.zdn.vn` and
/// `f<N>-photo.talk.zdn.vn`; avatars and static files on `*.zadn.vn`; files
/// as `file-stal-<N>.dlfl.vn` links that redirect through `*.flchat.vn` to
/// `*.dlmd.me` edges (one integrator's download allow-list, written after
/// following those redirects, holds exactly these three); and lists of
/// "Zalo's trusted CDNs" in others: `*.zalo.me`, `*.zaloapp.com`,
/// `*.zadn.vn`, `*.zdn.vn`. Every entry is a domain Zalo (VNG) operates. A
/// board that meets a Zalo file host missing here adds it to
/// `zalo.download_hosts`: the refusal is logged with the host.
pub const DEFAULT_HOSTS: &[&str] = &[
    "*.zdn.vn",
    "*.zadn.vn",
    "*.zalo.me",
    "*.zaloapp.com",
    "*.dlfl.vn",
    "*.flchat.vn",
    "*.dlmd.me",
];

/// One entry of `zalo.download_hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This host name, or this IP address (which matches only IP hosts,
    /// and only with `allow_private_downloads`).
    Exact(String),
    /// `*.suffix`: any name ending in `.suffix` (not `suffix` itself).
    Suffix(String),
}

impl HostPattern {
    /// Reads a pattern: `name.example`, `*.example.vn`, `127.0.0.1`,
    /// `::1`. Case and a trailing dot do not matter.
    pub fn parse(text: &str) -> Result<HostPattern, String> {
        let lowered = text.trim().to_ascii_lowercase();
        let bare = lowered.strip_suffix('.').unwrap_or(&lowered);
        let unbracketed = bare
            .strip_prefix('[')
            .and_then(|b| b.strip_suffix(']'))
            .unwrap_or(bare);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(HostPattern::Exact(ip.to_string()));
        }
        if let Some(suffix) = bare.strip_prefix("*.") {
            if !is_host_name(suffix) {
                return Err(format!(
                    "\"{text}\": after `*.` comes a host name such as `zdn.vn`"
                ));
            }
            if !suffix.contains('.') {
                return Err(format!(
                    "\"{text}\" is too broad: a wildcard needs a domain of at least two \
                     labels, such as `*.zdn.vn`"
                ));
            }
            return Ok(HostPattern::Suffix(suffix.to_owned()));
        }
        if is_host_name(bare) {
            return Ok(HostPattern::Exact(bare.to_owned()));
        }
        Err(format!(
            "\"{text}\" is not a host name pattern: give the host alone (no scheme, port or \
             path), exactly (`f21-zpc.zdn.vn`) or as `*.` and a domain (`*.zdn.vn`)"
        ))
    }

    /// Whether a host name (lower case, without a trailing dot) matches.
    fn matches_name(&self, name: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => exact == name,
            HostPattern::Suffix(suffix) => name
                .strip_suffix(suffix.as_str())
                .and_then(|rest| rest.strip_suffix('.'))
                .is_some_and(|label| !label.is_empty()),
        }
    }

    fn matches_ip(&self, ip: IpAddr) -> bool {
        matches!(self, HostPattern::Exact(exact) if exact.parse::<IpAddr>().ok() == Some(ip))
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Exact(exact) => f.write_str(exact),
            HostPattern::Suffix(suffix) => write!(f, "*.{suffix}"),
        }
    }
}

/// Letters, digits and hyphens in dot-separated labels of at most 63
/// characters, 253 in all.
fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Where downloads may go: `zalo.download_hosts` and
/// `zalo.allow_private_downloads`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    hosts: Vec<HostPattern>,
    allow_private: bool,
}

impl Default for Policy {
    /// Zalo's file hosts, public addresses only.
    fn default() -> Self {
        Policy {
            hosts: DEFAULT_HOSTS
                .iter()
                .filter_map(|pattern| HostPattern::parse(pattern).ok())
                .collect(),
            allow_private: false,
        }
    }
}

impl Policy {
    pub fn new(hosts: Vec<HostPattern>, allow_private: bool) -> Policy {
        Policy {
            hosts,
            allow_private,
        }
    }

    pub fn hosts(&self) -> &[HostPattern] {
        &self.hosts
    }

    pub fn allows_private(&self) -> bool {
        self.allow_private
    }

    /// Whether `url` may be fetched, as far as the URL tells (its addresses
    /// are checked when it is resolved).
    pub fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        let shown = url.host_str().unwrap_or_default().to_owned();
        let refuse = |reason| Err(Refusal::new(&shown, reason));
        if !matches!(url.scheme(), "http" | "https") {
            return refuse(Reason::Scheme(url.scheme().to_owned()));
        }
        // The parser has lower-cased the host, dropped user info and port,
        // and written any IPv4 form (`2130706433`, `0x7f.1`) as dotted
        // decimal and IPv6 in brackets.
        let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
            return refuse(Reason::NoHost);
        };
        match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => match v6.parse::<Ipv6Addr>() {
                Ok(ip) => self.check_ip_host(host, IpAddr::V6(ip)),
                Err(_) => refuse(Reason::NotListed),
            },
            None => self.check_name(host),
        }
    }

    /// Whether a host name is on the list.
    pub fn check_name(&self, name: &str) -> Result<(), Refusal> {
        let lowered = name.to_ascii_lowercase();
        let name = lowered.strip_suffix('.').unwrap_or(&lowered);
        // A name that is an address in disguise ("127.0.0.1." is read as a
        // name by some parsers) is an IP host.
        if let Ok(ip) = name.parse::<IpAddr>() {
            return self.check_ip_host(name, ip);
        }
        if self.hosts.iter().any(|pattern| pattern.matches_name(name)) {
            Ok(())
        } else {
            Err(Refusal::new(name, Reason::NotListed))
        }
    }

    fn check_ip_host(&self, shown: &str, ip: IpAddr) -> Result<(), Refusal> {
        if !self.allow_private {
            return Err(Refusal::new(shown, Reason::IpHost));
        }
        if self.hosts.iter().any(|pattern| pattern.matches_ip(ip)) {
            Ok(())
        } else {
            Err(Refusal::new(shown, Reason::NotListed))
        }
    }

    /// The addresses `host` resolved to, if every one of them may be
    /// connected to. One bad address refuses them all: Zalo's hosts never
    /// resolve to private addresses, a name that does is an attack or a
    /// broken resolver.
    pub fn check_addrs(
        &self,
        host: &str,
        addrs: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        if !self.allow_private
            && let Some((ip, kind)) = addrs
                .iter()
                .find_map(|addr| forbidden(addr.ip()).map(|kind| (addr.ip(), kind)))
        {
            return Err(Refusal::new(host, Reason::Address { ip, kind }));
        }
        Ok(addrs)
    }
}

/// Why an address is not a public Internet address (one that a file host
/// may have), or `None` when it is one.
pub fn forbidden(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// IPv4 ranges that are not public (IANA special-purpose registry).
const V4: &[(u32, u32, &str)] = &[
    (0x0000_0000, 8, "\"this network\" (0.0.0.0/8, unspecified)"),
    (0x0a00_0000, 8, "private (10.0.0.0/8)"),
    (
        0x6440_0000,
        10,
        "shared address space (CGNAT, 100.64.0.0/10)",
    ),
    (0x7f00_0000, 8, "loopback (127.0.0.0/8)"),
    (
        0xa9fe_0000,
        16,
        "link-local (169.254.0.0/16, cloud metadata services)",
    ),
    (0xac10_0000, 12, "private (172.16.0.0/12)"),
    (0xc000_0000, 24, "IETF protocol assignments (192.0.0.0/24)"),
    (0xc000_0200, 24, "documentation (192.0.2.0/24)"),
    (0xc058_6300, 24, "6to4 relay anycast (192.88.99.0/24)"),
    (0xc0a8_0000, 16, "private (192.168.0.0/16)"),
    (0xc612_0000, 15, "benchmarking (198.18.0.0/15)"),
    (0xc633_6400, 24, "documentation (198.51.100.0/24)"),
    (0xcb00_7100, 24, "documentation (203.0.113.0/24)"),
    (0xe000_0000, 4, "multicast (224.0.0.0/4)"),
    (0xffff_ffff, 32, "broadcast (255.255.255.255)"),
    (0xf000_0000, 4, "reserved (240.0.0.0/4)"),
];

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let bits = u32::from(ip);
    V4.iter()
        .find(|(net, len, _)| {
            let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
            bits & mask == net & mask
        })
        .map(|(_, _, kind)| *kind)
}

/// IPv6 ranges that are not public, after the ones that embed an IPv4
/// address (which are judged by that address).
const V6: &[(u128, u32, &str)] = &[
    (0, 128, "unspecified (::)"),
    (1, 128, "loopback (::1)"),
    (0, 96, "IPv4-compatible (::/96, deprecated)"),
    (
        0x0064_ff9b_0001 << 80,
        48,
        "local-use NAT64 (64:ff9b:1::/48)",
    ),
    (0x0100 << 112, 64, "discard-only (100::/64)"),
    (0x2001_0db8 << 96, 32, "documentation (2001:db8::/32)"),
    (
        0x2001 << 112,
        23,
        "IETF protocol assignments (2001::/23: Teredo, benchmarking…)",
    ),
    (0x3fff << 112, 20, "documentation (3fff::/20)"),
    (0xfc00 << 112, 7, "unique local, private (fc00::/7)"),
    (0xfe80 << 112, 10, "link-local (fe80::/10)"),
    (0xfec0 << 112, 10, "site-local (fec0::/10, deprecated)"),
    (0xff00 << 112, 8, "multicast (ff00::/8)"),
];

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let bits = u128::from(ip);
    // IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4
    // (2002:aabb:ccdd::) reach the IPv4 address they carry.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if bits >> 32 == 0x0064_ff9b << 64 {
        return forbidden_v4(Ipv4Addr::from((bits & 0xffff_ffff) as u32));
    }
    if bits >> 112 == 0x2002 {
        return forbidden_v4(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    V6.iter()
        .find(|(net, len, _)| {
            let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
            bits & mask == net & mask
        })
        .map(|(_, _, kind)| *kind)
}

/// Why a download was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Scheme(String),
    NoHost,
    /// Not on `zalo.download_hosts`.
    NotListed,
    /// An IP address as the host.
    IpHost,
    /// The name resolved to an address that is not public.
    Address {
        ip: IpAddr,
        kind: &'static str,
    },
}

/// A refused download: the host and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub host: String,
    pub reason: Reason,
    /// Refused at a redirect, not at the URL the event named.
    pub redirected: bool,
}

impl Refusal {
    fn new(host: &str, reason: Reason) -> Refusal {
        Refusal {
            host: crate::text::truncate_chars(host, 100),
            reason,
            redirected: false,
        }
    }

    /// The same refusal, met at a redirect.
    pub fn redirected(mut self) -> Refusal {
        self.redirected = true;
        self
    }

    /// Why, in Vietnamese, for the note the reviewer reads.
    pub fn vietnamese(&self) -> String {
        let host = &self.host;
        let why = match &self.reason {
            Reason::Scheme(scheme) => {
                format!("địa chỉ dùng giao thức {scheme}, chỉ http và https được tải")
            }
            Reason::NoHost => "địa chỉ không có tên máy chủ".to_owned(),
            Reason::NotListed => format!(
                "máy chủ {host} không thuộc danh sách máy chủ tệp của Zalo (zalo.download_hosts)"
            ),
            Reason::IpHost => {
                format!("địa chỉ là một địa chỉ IP ({host}), không phải tên máy chủ tệp của Zalo")
            }
            Reason::Address { ip, .. } => {
                format!("máy chủ {host} trỏ tới địa chỉ mạng nội bộ hoặc dành riêng ({ip})")
            }
        };
        if self.redirected {
            format!("tệp được chuyển hướng tới nơi không được phép: {why}")
        } else {
            why
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        let at = if self.redirected {
            "a redirect to "
        } else {
            ""
        };
        match &self.reason {
            Reason::Scheme(scheme) => write!(
                f,
                "{at}a {scheme} URL refused: only http and https are fetched"
            ),
            Reason::NoHost => write!(f, "{at}a URL without a host refused"),
            Reason::NotListed => write!(
                f,
                "{at}{host} refused: not one of Zalo's file hosts (zalo.download_hosts)"
            ),
            Reason::IpHost => write!(
                f,
                "{at}{host} refused: an IP address, not one of Zalo's file hosts"
            ),
            Reason::Address { ip, kind } => write!(
                f,
                "{at}{host} refused: it resolves to {ip}, {kind}, which downloads never reach"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// The refusal somewhere in an error's chain of causes, if one is there
/// (the resolver's and the redirect policy's refusals come back wrapped in
/// the HTTP client's errors).
pub fn refusal_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(refusal) = e.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        current = e.source();
    }
    None
}

/// The download client's resolver: resolves a name once, refuses it unless
/// it is listed and every address is public, and hands the connection
/// exactly those addresses.
#[derive(Debug, Clone)]
pub struct Resolver {
    policy: Arc<Policy>,
}

impl Resolver {
    pub fn new(policy: Arc<Policy>) -> Resolver {
        Resolver { policy }
    }
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        Box::pin(async move {
            policy.check_name(&host)?;
            // Port 0: the connector puts the URL's port in.
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            let addrs = policy.check_addrs(&host, addrs)?;
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Follows a redirect only to where the first URL could have gone, and at
/// most [`MAX_REDIRECTS`] times.
pub fn redirect_policy(policy: Arc<Policy>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!(
                "more than {MAX_REDIRECTS} redirects; the file was not fetched"
            ));
        }
        match policy.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(refusal.redirected()),
        }
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn policy(hosts: &[&str], allow_private: bool) -> Policy {
        Policy::new(
            hosts
                .iter()
                .map(|h| HostPattern::parse(h).unwrap())
                .collect(),
            allow_private,
        )
    }

    fn check(policy: &Policy, url: &str) -> Result<(), Reason> {
        policy
            .check_url(&Url::parse(url).unwrap())
            .map_err(|refusal| refusal.reason)
    }

    #[test]
    fn every_non_public_range_is_refused() {
        let cases = [
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", "this network"),
            ("10.0.0.1", "private"),
            ("10.255.255.255", "private"),
            ("100.64.0.1", "CGNAT"),
            ("100.127.255.254", "CGNAT"),
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("169.254.169.254", "metadata"),
            ("169.254.0.1", "link-local"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.0.0.8", "IETF"),
            ("192.0.2.10", "documentation"),
            ("192.88.99.1", "6to4"),
            ("192.168.1.1", "private"),
            ("198.18.0.1", "benchmarking"),
            ("198.19.255.255", "benchmarking"),
            ("198.51.100.7", "documentation"),
            ("203.0.113.5", "documentation"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("255.255.255.255", "broadcast"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("::7f00:1", "IPv4-compatible"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "metadata"),
            ("::ffff:0.0.0.0", "unspecified"),
            ("64:ff9b::7f00:1", "loopback"),
            ("64:ff9b::a9fe:a9fe", "metadata"),
            ("64:ff9b:1::1", "NAT64"),
            ("2002:7f00:1::", "loopback"),
            ("2002:c0a8:101::1", "private"),
            ("100::1", "discard"),
            ("2001:db8::1", "documentation"),
            ("2001::1", "Teredo"),
            ("2001:2::1", "benchmarking"),
            ("3fff::1", "documentation"),
            ("fc00::1", "unique local"),
            ("fd12:3456::1", "unique local"),
            ("fe80::1", "link-local"),
            ("febf::1", "link-local"),
            ("fec0::1", "site-local"),
            ("ff02::1", "multicast"),
        ];
        for (ip, expected) in cases {
            let kind = forbidden(ip.parse().unwrap());
            assert!(
                kind.is_some_and(|k| k.contains(expected)),
                "{ip}: {kind:?}, expected {expected}"
            );
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.1.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.167.1.1",
            "198.17.1.1",
            "198.20.0.1",
            "203.0.114.1",
            "223.255.255.255",
            "49.213.118.1",
            "2001:4860:4860::8888",
            "2402:800::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(forbidden(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn patterns() {
        assert_eq!(
            HostPattern::parse(" *.ZDN.vn. ").unwrap(),
            HostPattern::Suffix("zdn.vn".into())
        );
        assert_eq!(
            HostPattern::parse("F21-zpc.zdn.vn").unwrap(),
            HostPattern::Exact("f21-zpc.zdn.vn".into())
        );
        assert_eq!(
            HostPattern::parse("[::1]").unwrap(),
            HostPattern::Exact("::1".into())
        );
        assert_eq!(
            HostPattern::parse("127.0.0.1").unwrap(),
            HostPattern::Exact("127.0.0.1".into())
        );
        assert_eq!(
            HostPattern::parse("*.zdn.vn").unwrap().to_string(),
            "*.zdn.vn"
        );
        for bad in [
            "",
            "*",
            "*.",
            "*.vn",
            "**.zdn.vn",
            "f*.zdn.vn",
            "https://f21-zpc.zdn.vn",
            "zdn.vn/path",
            "zdn.vn:443",
            "user@zdn.vn",
            "zdn..vn",
            "zdn vn",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad:?} accepted");
        }
        let message = HostPattern::parse("*.vn").unwrap_err();
        assert!(message.contains("too broad"), "{message}");
    }

    #[test]
    fn host_matching() {
        let p = policy(&["*.zdn.vn", "files.example.vn"], false);
        for ok in [
            "https://f21-zpc.zdn.vn/jpg/1/a.jpg",
            "http://f21-zpc.zdn.vn/x",
            "https://b-f8-zpc.zdn.vn/x",
            "https://F21-ZPC.ZDN.VN/x",
            "https://f21-zpc.zdn.vn./x",
            "https://f21-zpc.zdn.vn:8443/x",
            "https://user:pass@f21-zpc.zdn.vn/x",
            "https://files.example.vn/x",
        ] {
            assert_eq!(check(&p, ok), Ok(()), "{ok}");
        }
        for not_listed in [
            "https://zdn.vn/x",
            "https://zdn.vn.evil.test/x",
            "https://evilzdn.vn/x",
            "https://f21-zpc.zdn.vn.evil.test/x",
            "https://sub.files.example.vn/x",
            "https://zdn.vn:443@evil.test/x",
            "https://localhost/x",
        ] {
            assert_eq!(
                check(&p, not_listed),
                Err(Reason::NotListed),
                "{not_listed}"
            );
        }
        for ip_host in [
            "https://zdn.vn@127.0.0.1/",
            "http://127.0.0.1:8080/media/x",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://127.0.0.1./",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://8.8.8.8/",
        ] {
            assert_eq!(check(&p, ip_host), Err(Reason::IpHost), "{ip_host}");
        }
        for (url, scheme) in [("file:///etc/passwd", "file"), ("ftp://f1.zdn.vn/x", "ftp")] {
            assert_eq!(check(&p, url), Err(Reason::Scheme(scheme.into())), "{url}");
        }
        assert_eq!(
            check(&p, "gopher://f1.zdn.vn/x"),
            Err(Reason::Scheme("gopher".into()))
        );
    }

    #[test]
    fn ip_hosts_only_with_the_opt_in_and_when_listed() {
        let p = policy(&["127.0.0.1", "::1", "localhost"], true);
        assert_eq!(check(&p, "http://127.0.0.1:9/x"), Ok(()));
        assert_eq!(check(&p, "http://[::1]:9/x"), Ok(()));
        assert_eq!(check(&p, "http://localhost:9/x"), Ok(()));
        assert_eq!(check(&p, "http://127.0.0.2/x"), Err(Reason::NotListed));
        assert_eq!(check(&p, "http://10.0.0.1/x"), Err(Reason::NotListed));
        let closed = policy(&["127.0.0.1", "localhost"], false);
        assert_eq!(check(&closed, "http://127.0.0.1:9/x"), Err(Reason::IpHost));
        // A name that is an address, as a resolver might be asked for it.
        assert_eq!(
            closed.check_name("127.0.0.1.").map_err(|r| r.reason),
            Err(Reason::IpHost)
        );
    }

    #[test]
    fn resolved_addresses() {
        let addr = |s: &str| SocketAddr::new(s.parse().unwrap(), 0);
        let p = Policy::default();
        assert!(
            p.check_addrs("f1.zdn.vn", vec![addr("49.213.118.1")])
                .is_ok()
        );
        let mixed = vec![addr("49.213.118.1"), addr("10.0.0.5")];
        let refusal = p.check_addrs("f1.zdn.vn", mixed.clone()).unwrap_err();
        assert!(
            matches!(refusal.reason, Reason::Address { .. }),
            "{refusal:?}"
        );
        assert!(refusal.to_string().contains("10.0.0.5"), "{refusal}");
        assert!(
            refusal.vietnamese().contains("mạng nội bộ"),
            "{}",
            refusal.vietnamese()
        );
        let open = policy(&["*.zdn.vn"], true);
        assert_eq!(open.check_addrs("f1.zdn.vn", mixed.clone()).unwrap(), mixed);
    }

    #[test]
    fn default_hosts_are_zalos() {
        let p = Policy::default();
        assert_eq!(p.hosts().len(), DEFAULT_HOSTS.len(), "every default parses");
        assert!(!p.allows_private());
        for ok in [
            "https://f21-zpc.zdn.vn/jpg/1/a.jpg",
            "https://f18-zpg.zdn.vn/x.jpg",
            "https://f47-photo.talk.zdn.vn/x.jpg",
            "https://s120-ava-talk.zadn.vn/a.jpg",
            "https://file-stal-22.dlfl.vn/gr/b8b446fc/x",
            "https://file-stal-22-te-vnso-ne-2.flchat.vn/gr/x",
            "https://file-stal-22-aka-jpt.dlmd.me/x",
        ] {
            assert_eq!(check(&p, ok), Ok(()), "{ok}");
        }
        for refused in ["https://example.com/a.jpg", "https://zalo.me.evil.test/x"] {
            assert_eq!(check(&p, refused), Err(Reason::NotListed), "{refused}");
        }
    }

    #[test]
    fn refusals_read_in_both_languages() {
        let p = Policy::default();
        let refusal = p
            .check_url(&Url::parse("http://169.254.169.254/latest/").unwrap())
            .unwrap_err();
        assert!(refusal.to_string().contains("169.254.169.254"), "{refusal}");
        assert!(
            refusal.vietnamese().contains("địa chỉ IP"),
            "{}",
            refusal.vietnamese()
        );
        let redirected = p
            .check_url(&Url::parse("https://evil.test/").unwrap())
            .unwrap_err()
            .redirected();
        assert!(
            redirected
                .to_string()
                .starts_with("a redirect to evil.test"),
            "{redirected}"
        );
        assert!(
            redirected.vietnamese().contains("chuyển hướng"),
            "{}",
            redirected.vietnamese()
        );
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(redirected.clone());
        assert_eq!(refusal_in(boxed.as_ref()), Some(&redirected));
    }

    #[tokio::test]
    async fn the_resolver_refuses_loopback_names() {
        let resolver = Resolver::new(Arc::new(policy(&["localhost"], false)));
        let name: Name = "localhost".parse().unwrap();
        let err = match resolver.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(err) => err,
        };
        let refusal = refusal_in(err.as_ref()).unwrap();
        assert!(
            matches!(refusal.reason, Reason::Address { .. }),
            "{refusal:?}"
        );
        let not_listed = Resolver::new(Arc::new(Policy::default()));
        let err = match not_listed.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("resolved"),
            Err(err) => err,
        };
        assert_eq!(
            refusal_in(err.as_ref()).map(|r| &r.reason),
            Some(&Reason::NotListed)
        );
        let open = Resolver::new(Arc::new(policy(&["localhost"], true)));
        let addrs: Vec<SocketAddr> = match open.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => addrs.collect(),
            Err(err) => panic!("{err}"),
        };
        assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
    }
}
