//! The time-related sections: `[calendar]` (working days and hours),
//! `[deadlines]` (R6, R14) and `[reminders]` (R6, R17, R23).

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time};
use serde::Deserialize;

use crate::schedule::calendar::{Adjacent, Settings};

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawCalendar {
    working_hours: Option<String>,
    #[serde(default)]
    days_off: Vec<RawDayOff>,
    #[serde(default)]
    working_days: Vec<String>,
    #[serde(default)]
    tet: Vec<RawTet>,
    national_day_extra: Option<Adjacent>,
    weekend_compensation: Option<bool>,
}

/// A day off: a date, or a table with its reason.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawDayOff {
    Date(String),
    WithReason {
        date: String,
        reason: Option<String>,
    },
}

#[derive(Debug, Deserialize)]
struct RawTet {
    year: i16,
    first: String,
    last: String,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawDeadlines {
    approval_counting: Option<Counting>,
    news_days: Option<u32>,
    document_days: Option<u32>,
    conference_days: Option<u32>,
    answer_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct RawReminders {
    before: Option<u32>,
    at_deadline: Option<bool>,
    overdue_daily: Option<bool>,
    escalate_after: Option<u32>,
    quota_days: Option<u32>,
    quarter_report_days: Option<u32>,
}

/// When approved items go out (R15).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishMode {
    Immediately,
    /// At these local times on working days.
    Windows(Vec<Time>),
}

/// The portal's database and media (`[site]`).
#[derive(Clone)]
pub struct Site {
    pub url: String,
    pub media_dir: std::path::PathBuf,
    pub media_url: String,
    /// The public address of an article; `{slug}` is replaced.
    pub article_url: String,
    /// The portal's name in credit lines (the board's name when absent).
    pub name: Option<String>,
    pub publish: PublishMode,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site")
            .field("url", &super::redact_url(&self.url))
            .field("media_dir", &self.media_dir)
            .field("media_url", &self.media_url)
            .field("publish", &self.publish)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct RawSite {
    url: Option<String>,
    media_dir: Option<std::path::PathBuf>,
    media_url: Option<String>,
    article_url: Option<String>,
    name: Option<String>,
    publish: Option<String>,
    windows: Option<Vec<String>>,
}

pub(super) fn resolve_site(
    r: &RawSite,
    base: &std::path::Path,
    problems: &mut Vec<String>,
) -> Option<Site> {
    let start = problems.len();
    let url = r.url.clone().filter(|u| !u.trim().is_empty());
    match &url {
        None => problems.push(
            "missing `site.url`: the portal's database (sqlite://, postgres:// or mysql://)".into(),
        ),
        Some(u)
            if !["sqlite:", "postgres:", "postgresql:", "mysql:", "mariadb:"]
                .iter()
                .any(|p| u.starts_with(p)) =>
        {
            problems.push(format!(
                "`site.url` = \"{}\": use sqlite://, postgres:// or mysql://",
                super::redact_url(u)
            ))
        }
        Some(_) => {}
    }
    let media_dir = r.media_dir.as_ref().map(|p| super::resolve_path(base, p));
    if media_dir.is_none() {
        problems
            .push("missing `site.media_dir`: where published photos and files are copied".into());
    }
    let media_url = r
        .media_url
        .clone()
        .filter(|u| u.starts_with("http://") || u.starts_with("https://") || u.starts_with('/'));
    if media_url.is_none() {
        problems.push("`site.media_url` must be the web address of the media directory, e.g. \"https://portal.example.vn/media\"".into());
    }
    let article_url = r.article_url.clone().filter(|u| u.contains("{slug}"));
    if article_url.is_none() {
        problems.push(
            "`site.article_url` must contain {slug}, e.g. \"https://portal.example.vn/tin/{slug}\""
                .into(),
        );
    }
    let publish = match r.publish.as_deref().unwrap_or("windows") {
        "immediately" => Some(PublishMode::Immediately),
        "windows" => {
            let raw = r
                .windows
                .clone()
                .unwrap_or_else(|| vec!["07:30".into(), "13:30".into()]);
            let mut times: Vec<Time> = Vec::new();
            for w in &raw {
                match w.trim().parse::<Time>() {
                    Ok(t) => times.push(t),
                    Err(_) => problems.push(format!(
                        "`site.windows`: \"{w}\" is not a time of day like \"07:30\""
                    )),
                }
            }
            times.sort();
            if times.is_empty() {
                problems.push("`site.windows` is empty; give times such as [\"07:30\", \"13:30\"] or set publish = \"immediately\"".into());
            }
            Some(PublishMode::Windows(times))
        }
        other => {
            problems.push(format!(
                "`site.publish` = \"{other}\": use \"windows\" or \"immediately\""
            ));
            None
        }
    };
    if problems.len() > start {
        return None;
    }
    Some(Site {
        url: url.map(|u| resolve_sqlite_url(&u, base))?,
        media_dir: media_dir?,
        media_url: media_url?,
        article_url: article_url?,
        name: r.name.clone().filter(|n| !n.trim().is_empty()),
        publish: publish?,
    })
}

/// A relative SQLite path is relative to the config file, like every other
/// path in it.
fn resolve_sqlite_url(url: &str, base: &std::path::Path) -> String {
    match url.strip_prefix("sqlite://") {
        Some(rest) if !rest.starts_with('/') && !rest.starts_with(":memory:") => {
            format!("sqlite://{}", base.join(rest).display())
        }
        _ => url.to_string(),
    }
}

/// How the approval limit is counted (R6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Counting {
    /// Calendar days from the arrival (the regulation's wording).
    Calendar,
    /// Working days from the arrival.
    Working,
}

/// Deadlines of a ticket (R6, R14).
#[derive(Debug, Clone)]
pub struct Deadlines {
    pub approval_counting: Counting,
    /// Working days to publish news after the event (R14: 1).
    pub news_days: u32,
    /// Working days to publish an issued document after signing (R14: 1).
    pub document_days: u32,
    /// Working days to publish a conference after its end (R14: 2).
    pub conference_days: u32,
    /// Working days to answer citizens' questions after receipt (R14: 15).
    pub answer_days: u32,
}

/// When reviewers and members are reminded.
#[derive(Debug, Clone)]
pub struct Reminders {
    /// Working days before the approval deadline (0: no early reminder).
    pub before: u32,
    pub at_deadline: bool,
    /// Each working day while a ticket is overdue.
    pub overdue_daily: bool,
    /// Working days after the deadline before the head is told (0: never).
    pub escalate_after: u32,
    /// Last working days of the month in which members with nothing
    /// published are reminded (R17; 0: never).
    pub quota_days: u32,
    /// Working days before the 25th of a quarter's last month on which
    /// members are reminded of their report (R23; 0: never).
    pub quarter_report_days: u32,
}

fn parse_date(key: &str, s: &str, problems: &mut Vec<String>) -> Option<Date> {
    match s.trim().parse::<Date>() {
        Ok(d) => Some(d),
        Err(_) => {
            problems.push(format!("`{key}` = \"{s}\": write dates as YYYY-MM-DD"));
            None
        }
    }
}

fn parse_hours(s: &str, problems: &mut Vec<String>) -> Option<(Time, Time)> {
    let parsed = s.split_once('-').and_then(|(a, b)| {
        let a = a.trim().parse::<Time>().ok()?;
        let b = b.trim().parse::<Time>().ok()?;
        (a < b).then_some((a, b))
    });
    if parsed.is_none() {
        problems.push(format!(
            "`calendar.working_hours` = \"{s}\": write the start and end of the working day, e.g. \"07:30-17:00\""
        ));
    }
    parsed
}

pub(super) fn resolve_calendar(r: &RawCalendar, problems: &mut Vec<String>) -> Settings {
    let mut s = Settings::default();
    if let Some(h) = &r.working_hours
        && let Some((start, end)) = parse_hours(h, problems)
    {
        s.work_start = start;
        s.work_end = end;
    }
    let mut days_off = BTreeMap::new();
    for d in &r.days_off {
        let (date, reason) = match d {
            RawDayOff::Date(date) => (date.as_str(), None),
            RawDayOff::WithReason { date, reason } => (date.as_str(), reason.clone()),
        };
        if let Some(date) = parse_date("calendar.days_off", date, problems) {
            days_off.insert(
                date,
                reason.unwrap_or_else(|| "Ngày nghỉ theo thông báo".into()),
            );
        }
    }
    s.days_off = days_off;
    s.working_days = r
        .working_days
        .iter()
        .filter_map(|d| parse_date("calendar.working_days", d, problems))
        .collect::<BTreeSet<_>>();
    for t in &r.tet {
        let first = parse_date("calendar.tet.first", &t.first, problems);
        let last = parse_date("calendar.tet.last", &t.last, problems);
        if let (Some(first), Some(last)) = (first, last) {
            if first > last || (last - first).get_days() > 14 {
                problems.push(format!(
                    "`calendar.tet` for {}: {first} to {last} is not a Tết holiday span",
                    t.year
                ));
            } else {
                s.tet.insert(t.year, (first, last));
            }
        }
    }
    if let Some(a) = r.national_day_extra {
        s.national_day_extra = a;
    }
    if let Some(c) = r.weekend_compensation {
        s.weekend_compensation = c;
    }
    s
}

pub(super) fn resolve_deadlines(r: &RawDeadlines, problems: &mut Vec<String>) -> Deadlines {
    let days = |key: &str, v: Option<u32>, default: u32, problems: &mut Vec<String>| {
        let n = v.unwrap_or(default);
        if n > 60 {
            problems.push(format!(
                "`deadlines.{key}` = {n}: more than 60 working days is not a deadline"
            ));
        }
        n
    };
    Deadlines {
        approval_counting: r.approval_counting.unwrap_or(Counting::Calendar),
        news_days: days("news_days", r.news_days, 1, problems),
        document_days: days("document_days", r.document_days, 1, problems),
        conference_days: days("conference_days", r.conference_days, 2, problems),
        answer_days: days("answer_days", r.answer_days, 15, problems),
    }
}

pub(super) fn resolve_reminders(r: &RawReminders, problems: &mut Vec<String>) -> Reminders {
    let quota_days = r.quota_days.unwrap_or(3);
    if quota_days > 10 {
        problems.push(format!(
            "`reminders.quota_days` = {quota_days}: at most 10 working days"
        ));
    }
    Reminders {
        before: r.before.unwrap_or(1),
        at_deadline: r.at_deadline.unwrap_or(true),
        overdue_daily: r.overdue_daily.unwrap_or(true),
        escalate_after: r.escalate_after.unwrap_or(1),
        quota_days,
        quarter_report_days: r.quarter_report_days.unwrap_or(5),
    }
}
