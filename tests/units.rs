//! The systemd units and packaging snippets a sysadmin installs
//! (`systemd/`, `packaging/`), checked with systemd's own tools: every unit
//! loads without a single complaint from `systemd-analyze verify` (and a
//! misspelled directive is caught), the daemon's sandbox scores at most 2.0
//! in `systemd-analyze security`, the timer fires weekly, the command lines
//! and credential names match the binary and the example configuration, and
//! the sysusers and tmpfiles snippets create the user and the directories.
//!
//! These tests need systemd's tools (`systemd-analyze`, `systemd-sysusers`,
//! `systemd-tmpfiles`: the `systemd` package), not systemd running as PID 1.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::string_slice
)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNITS: [&str; 3] = [
    "bientap.service",
    "bientap-backup.service",
    "bientap-backup.timer",
];

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Runs one of systemd's tools; a missing tool fails the test with what to
/// install, never skips it.
fn systemd_tool(tool: &str, args: &[&str]) -> Output {
    match Command::new(tool).args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
            "{tool} is not installed: install the `systemd` package (apt-get install systemd) \
             to check the units; systemd need not be running"
        ),
        Err(e) => panic!("cannot run {tool}: {e}"),
    }
}

fn output_text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The settings of a unit file, as (section, key, value), in order.
fn settings(text: &str) -> Vec<(String, String, String)> {
    let mut section = String::new();
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
        } else if let Some((key, value)) = line.split_once('=') {
            out.push((
                section.clone(),
                key.trim().to_string(),
                value.trim().to_string(),
            ));
        } else {
            panic!("not a unit file line: {line:?}");
        }
    }
    out
}

/// Every value of `key` in `section`.
fn values(settings: &[(String, String, String)], section: &str, key: &str) -> Vec<String> {
    settings
        .iter()
        .filter(|(s, k, _)| s == section && k == key)
        .map(|(_, _, v)| v.clone())
        .collect()
}

/// The one value of `key` in `section`.
fn value(settings: &[(String, String, String)], section: &str, key: &str) -> String {
    let all = values(settings, section, key);
    assert_eq!(
        all.len(),
        1,
        "[{section}] {key}= should be set once: {all:?}"
    );
    all[0].clone()
}

/// Writes the units into `dir` with the installed binary's path replaced by
/// the binary cargo just built: `verify` insists that every command exists
/// and is executable, and /usr/bin/bientap is not installed here.
fn stage_units(dir: &Path) -> Vec<PathBuf> {
    let built = format!("\"{}\" ", env!("CARGO_BIN_EXE_bientap"));
    UNITS
        .iter()
        .map(|name| {
            let text = read(&format!("systemd/{name}"));
            assert!(
                text.contains("/usr/bin/bientap ") || name.ends_with(".timer"),
                "{name} does not run /usr/bin/bientap"
            );
            let path = dir.join(name);
            std::fs::write(&path, text.replace("/usr/bin/bientap ", &built)).unwrap();
            path
        })
        .collect()
}

/// `systemd-analyze verify`: Ok only when it exits 0 and prints nothing.
/// (It exits 0 on unknown keys and unparsable values, which it only warns
/// about, so its silence is the check.)
fn verify(paths: &[PathBuf]) -> Result<(), String> {
    let mut args = vec!["verify", "--man=no", "--generators=no"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = systemd_tool("systemd-analyze", &args);
    let text = output_text(&out);
    if out.status.success() && text.trim().is_empty() {
        Ok(())
    } else {
        Err(format!("exit status {:?}:\n{text}", out.status.code()))
    }
}

#[test]
fn units_pass_systemd_analyze_verify() {
    let dir = tempfile::tempdir().unwrap();
    let units = stage_units(dir.path());
    if let Err(e) = verify(&units) {
        panic!("systemd-analyze verify complains about the units: {e}");
    }
    // verify does not check that a timer's unit exists: check it here.
    let timer = settings(&read("systemd/bientap-backup.timer"));
    let target = value(&timer, "Timer", "Unit");
    assert!(
        UNITS.contains(&target.as_str()),
        "the timer starts {target}"
    );
}

#[test]
fn verify_catches_mistakes_in_a_unit() {
    // (file, text replaced, replacement, what verify must say)
    let mistakes = [
        (
            "bientap.service",
            "ProtectSystem=strict",
            "ProtectSytem=strict",
            "Unknown key 'ProtectSytem'",
        ),
        (
            "bientap.service",
            "WatchdogSec=60s",
            "WatchdogSec=a minute",
            "a minute",
        ),
        (
            "bientap.service",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "RestrictAddressFamilies=AF_UNIX AF_INTE",
            "AF_INTE",
        ),
        (
            "bientap-backup.service",
            "/bin/rm -rf",
            "/bin/no-such-rm -rf",
            "/bin/no-such-rm",
        ),
        (
            "bientap-backup.timer",
            "OnCalendar=Sun *-*-* 02:00:00",
            "OnCalendar=Sunday at two",
            "Sunday at two",
        ),
    ];
    for (name, from, to, expected) in mistakes {
        let dir = tempfile::tempdir().unwrap();
        let units = stage_units(dir.path());
        let path = dir.path().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{name} no longer contains {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        match verify(&units) {
            Ok(()) => panic!("verify accepted {name} with {to:?}"),
            Err(e) => assert!(
                e.contains(expected),
                "verify did not name {expected:?} for {to:?} in {name}:\n{e}"
            ),
        }
    }
}

/// The overall exposure `systemd-analyze security --offline=true` gives a
/// unit file, and its per-setting verdicts (name → set).
fn security(unit: &str) -> (f64, Vec<(String, bool)>) {
    let path = repo_file(&format!("systemd/{unit}"));
    let path = path.to_str().unwrap();
    let out = systemd_tool("systemd-analyze", &["security", "--offline=true", path]);
    let text = output_text(&out);
    assert!(
        out.status.success(),
        "systemd-analyze security failed:\n{text}"
    );
    assert!(
        out.stderr.is_empty(),
        "systemd-analyze security warns about {unit}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let marker = format!("Overall exposure level for {unit}:");
    let line = text
        .lines()
        .find(|l| l.contains(&marker))
        .unwrap_or_else(|| panic!("no {marker:?} line in:\n{text}"));
    let score = line
        .split_once(&marker)
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or_else(|| panic!("cannot read the exposure in {line:?}"));

    let out = systemd_tool(
        "systemd-analyze",
        &["security", "--offline=true", "--json=short", path],
    );
    let checks: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("systemd-analyze security --json=short: {e}"));
    let verdicts = checks
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["set"].as_bool().unwrap(),
            )
        })
        .collect();
    (score, verdicts)
}

#[test]
fn daemon_and_backup_sandboxes_score_at_most_2() {
    for unit in ["bientap.service", "bientap-backup.service"] {
        let (score, verdicts) = security(unit);
        eprintln!("{unit}: overall exposure {score}");
        assert!(score <= 2.0, "{unit}: exposure {score} > 2.0");
        // The settings that matter most for a mail reader, by name, so a
        // score kept low by something else cannot hide their loss.
        for wanted in [
            "User=/DynamicUser=",
            "NoNewPrivileges=",
            "CapabilityBoundingSet=~CAP_SYS_ADMIN",
            "ProtectSystem=",
            "ProtectHome=",
            "PrivateTmp=",
            "PrivateDevices=",
            "PrivateUsers=",
            "MemoryDenyWriteExecute=",
            "SystemCallFilter=~@privileged",
            "SystemCallFilter=~@resources",
            "SystemCallArchitectures=",
            "RestrictNamespaces=~user",
            "RestrictAddressFamilies=~AF_PACKET",
            "RestrictAddressFamilies=~AF_NETLINK",
            "RestrictSUIDSGID=",
            "ProtectProc=",
            "UMask=",
        ] {
            let set = verdicts
                .iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, set)| *set);
            assert_eq!(set, Some(true), "{unit}: {wanted} is not in force");
        }
    }
}

#[test]
fn backup_timer_fires_weekly_and_catches_up() {
    let timer = settings(&read("systemd/bientap-backup.timer"));
    let calendar = value(&timer, "Timer", "OnCalendar");
    assert_eq!(value(&timer, "Timer", "Persistent"), "true");
    assert!(!value(&timer, "Timer", "RandomizedDelaySec").is_empty());
    assert_eq!(value(&timer, "Install", "WantedBy"), "timers.target");

    let out = systemd_tool(
        "systemd-analyze",
        &["calendar", "--iterations=3", &calendar],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "OnCalendar={calendar}:\n{text}");
    // "    Next elapse: Sun 2026-11-29 02:00:00 UTC", "       Iter. #2: …"
    let dates: Vec<jiff::civil::Date> = text
        .lines()
        .filter(|l| l.contains("Next elapse:") || l.contains("Iter. #"))
        .map(|l| {
            let date = l
                .split_whitespace()
                .find(|w| w.len() == 10 && w.contains('-'));
            date.and_then(|d| d.parse().ok())
                .unwrap_or_else(|| panic!("no date in {l:?}"))
        })
        .collect();
    assert_eq!(dates.len(), 3, "{text}");
    for pair in dates.windows(2) {
        let days = (pair[1] - pair[0]).get_days();
        assert_eq!(days, 7, "OnCalendar={calendar} is not weekly:\n{text}");
    }
}

#[test]
fn command_lines_and_secrets_match_the_binary_and_the_example_config() {
    let daemon = settings(&read("systemd/bientap.service"));
    assert_eq!(
        value(&daemon, "Service", "ExecStart"),
        "/usr/bin/bientap --config /etc/bientap/bientap.toml run"
    );
    assert_eq!(
        value(&daemon, "Service", "ExecReload"),
        "/bin/kill -HUP $MAINPID"
    );
    for (key, expected) in [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("Restart", "on-failure"),
        ("TimeoutStopSec", "30s"),
        ("User", "bientap"),
        ("StateDirectory", "bientap"),
        ("ConfigurationDirectory", "bientap"),
        ("LogsDirectory", "bientap"),
        ("ProtectSystem", "strict"),
        ("CapabilityBoundingSet", ""),
        ("UMask", "0077"),
    ] {
        assert_eq!(value(&daemon, "Service", key), expected, "{key}=");
    }
    assert!(!value(&daemon, "Service", "WatchdogSec").is_empty());
    assert_eq!(value(&daemon, "Install", "WantedBy"), "multi-user.target");

    let backup = settings(&read("systemd/bientap-backup.service"));
    assert_eq!(value(&backup, "Service", "Type"), "oneshot");
    assert_eq!(
        value(&backup, "Service", "ExecStart"),
        "/usr/bin/bientap --config /etc/bientap/bientap.toml backup /var/backups/bientap/new"
    );
    assert_eq!(
        value(&backup, "Service", "ReadWritePaths"),
        "/var/backups/bientap"
    );
    assert_eq!(value(&backup, "Service", "User"), "bientap");

    // The binary reads /etc/bientap/bientap.toml by default and has `run`.
    let help = Command::new(env!("CARGO_BIN_EXE_bientap"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        output_text(&help).contains("/etc/bientap/bientap.toml"),
        "bientap --help no longer names /etc/bientap/bientap.toml:\n{}",
        output_text(&help)
    );
    let run = Command::new(env!("CARGO_BIN_EXE_bientap"))
        .args(["--config", "/etc/bientap/bientap.toml", "run", "--help"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", output_text(&run));

    // The credentials the units load are the secret files the example
    // configuration names, and its state directory is the units'.
    let example: toml::Table = read("config/bientap.example.toml").parse().unwrap();
    let imap = example["imap"]["password_file"].as_str().unwrap();
    let smtp = example["smtp"]["password_file"].as_str().unwrap();
    assert_eq!(
        example["storage"]["state_dir"].as_str(),
        Some("/var/lib/bientap")
    );
    for unit in [&daemon, &backup] {
        let loaded = values(unit, "Service", "LoadCredential");
        assert_eq!(
            loaded,
            [
                format!("{imap}:/etc/bientap/{imap}"),
                format!("{smtp}:/etc/bientap/{smtp}")
            ]
        );
        // A missing secret file must not stop the unit from starting: each
        // loaded credential has a default.
        let defaults = values(unit, "Service", "SetCredential");
        assert_eq!(defaults, [format!("{imap}:\\n"), format!("{smtp}:\\n")]);
    }
}

#[test]
fn sysusers_and_tmpfiles_make_the_user_and_the_directories() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    let root_arg = format!("--root={}", root.path().display());
    let sysusers = repo_file("packaging/bientap.sysusers");
    let out = systemd_tool("systemd-sysusers", &[&root_arg, sysusers.to_str().unwrap()]);
    assert!(out.status.success(), "{}", output_text(&out));
    let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    let entry = passwd
        .lines()
        .find(|l| l.starts_with("bientap:"))
        .unwrap_or_else(|| panic!("no bientap user in {passwd}"));
    let fields: Vec<&str> = entry.split(':').collect();
    assert_eq!(fields[5], "/var/lib/bientap", "{entry}");
    assert_eq!(fields[6], "/usr/sbin/nologin", "{entry}");
    let uid: u32 = fields[2].parse().unwrap();
    assert!(uid > 0 && uid < 1000, "not a system user: {entry}");

    let tmpfiles = repo_file("packaging/bientap.tmpfiles");
    let out = systemd_tool(
        "systemd-tmpfiles",
        &["--create", &root_arg, tmpfiles.to_str().unwrap()],
    );
    let text = output_text(&out);
    let is_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if is_root {
        assert!(out.status.success(), "{text}");
    } else {
        // Only root may hand the directories to bientap; anything else
        // (a syntax error, an unknown user) is a real failure.
        eprintln!("not root: directory ownership not checked");
        assert!(
            text.lines()
                .all(|l| l.contains("fchownat()") && l.contains("Operation not permitted")),
            "{text}"
        );
    }
    for dir in ["var/lib/bientap", "var/backups/bientap"] {
        let meta = std::fs::metadata(root.path().join(dir))
            .unwrap_or_else(|e| panic!("tmpfiles did not create /{dir}: {e}"));
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700, "/{dir}");
        if is_root {
            assert_eq!(meta.uid(), uid, "/{dir}");
        }
    }
}

#[test]
fn maintainer_scripts_parse_and_leave_the_service_off() {
    for script in ["postinst", "prerm", "postrm"] {
        let path = repo_file(&format!("packaging/debian/{script}"));
        let text = read(&format!("packaging/debian/{script}"));
        // cargo-deb replaces every occurrence of the token with its fragments.
        assert_eq!(text.matches("#DEBHELPER#").count(), 1, "{script}");
        let out = Command::new("sh").arg("-n").arg(&path).output().unwrap();
        assert!(out.status.success(), "{script}: {}", output_text(&out));
        assert!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o111 != 0,
            "{script} is not executable"
        );
        // Starting or enabling is the administrator's decision.
        for line in text.lines().map(str::trim_start) {
            for forbidden in [
                "systemctl start",
                "systemctl enable",
                "deb-systemd-invoke start",
                "deb-systemd-helper enable",
            ] {
                assert!(!line.starts_with(forbidden), "{script} runs {line:?}");
            }
        }
    }
    let admin = repo_file("packaging/bientap-admin");
    let out = Command::new("sh").arg("-n").arg(&admin).output().unwrap();
    assert!(out.status.success(), "bientap-admin: {}", output_text(&out));
}
