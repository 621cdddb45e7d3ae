//! Time: deadlines on the board's working-day calendar, and the scheduler
//! that reminds people of them.
//!
//! All deadlines are computed in the board's time zone (Asia/Ho_Chi_Minh by
//! default) on `calendar::Calendar`. Every function here takes the instant
//! it works from as an argument; the scheduler reads "now" from a `Clock`,
//! so tests can simulate weeks in milliseconds.

pub mod calendar;
pub mod lunar;
pub mod reminders;

use std::sync::LazyLock;

use anyhow::{Context, Result};
use jiff::civil::{Date, Time};
use jiff::{Timestamp, ToSpan};
use regex::Regex;
use serde::Serialize;

use self::calendar::Calendar;
use crate::config::{Counting, Deadlines};
use crate::text::fold_ascii;

/// Where "now" comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The approval deadline (R6) of a submission that arrived at `arrived`:
/// `days` calendar days later at the same local time, or with working-day
/// counting the same time `days` working days later (an arrival outside
/// working time counts from the next working time).
pub fn approval_due(
    arrived: Timestamp,
    cal: &Calendar,
    days: u32,
    counting: Counting,
) -> Result<Timestamp> {
    match counting {
        Counting::Calendar => {
            let local = arrived.to_zoned_datetime(cal.time_zone().clone());
            let due = local
                .checked_add(i64::from(days).days())
                .with_context(|| format!("Cannot add {days} days to {local}"))?;
            Ok(due.timestamp())
        }
        Counting::Working => {
            let start = cal.working_time_from(arrived);
            let local = start.to_zoned_datetime(cal.time_zone().clone());
            Ok(cal.at(cal.add_working_days(local.date(), days), local.time()))
        }
    }
}

/// The calendar year of an instant on the board's clock (ticket codes are
/// numbered per year).
pub fn local_year(at: Timestamp, cal: &Calendar) -> i16 {
    cal.date_of(at).year()
}

/// Kinds of items with their publication limits (R14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// News and events: within 1 working day of the event.
    News,
    /// Documents issued by the authority: within 1 working day of signing.
    Document,
    /// Conferences and major events: within 2 working days of their end.
    Conference,
    /// Answers to citizens' and businesses' questions: within 15 working
    /// days of receipt.
    Answer,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::News => "news",
            ItemKind::Document => "document",
            ItemKind::Conference => "conference",
            ItemKind::Answer => "answer",
        }
    }

    pub fn parse(s: &str) -> Option<ItemKind> {
        match s {
            "news" => Some(ItemKind::News),
            "document" => Some(ItemKind::Document),
            "conference" => Some(ItemKind::Conference),
            "answer" => Some(ItemKind::Answer),
            _ => None,
        }
    }

    /// The kind a word names ("tin", "văn bản", "hội nghị", "hỏi đáp"…),
    /// with or without diacritics.
    pub fn from_word(word: &str) -> Option<ItemKind> {
        match fold_ascii(word.trim()).as_str() {
            "tin" | "tin tuc" | "su kien" | "tin su kien" | "news" => Some(ItemKind::News),
            "van ban" | "van ban chi dao" | "document" => Some(ItemKind::Document),
            "hoi nghi" | "dai hoi" | "le" | "conference" => Some(ItemKind::Conference),
            "hoi dap" | "tra loi" | "hoi - dap" | "answer" => Some(ItemKind::Answer),
            _ => None,
        }
    }

    /// Vietnamese name, for mail and the console.
    pub fn title_vi(self) -> &'static str {
        match self {
            ItemKind::News => "tin tức, sự kiện",
            ItemKind::Document => "văn bản chỉ đạo, điều hành",
            ItemKind::Conference => "hội nghị, sự kiện lớn",
            ItemKind::Answer => "trả lời câu hỏi của người dân, doanh nghiệp",
        }
    }
}

static SUBJECT_TAG: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\[([^\[\]]{1,30})\]").ok());

/// The kind named by a `[Tag]` in a subject.
pub fn kind_from_subject(subject: &str) -> Option<ItemKind> {
    SUBJECT_TAG
        .as_ref()?
        .captures_iter(subject)
        .find_map(|c| c.get(1).and_then(|m| ItemKind::from_word(m.as_str())))
}

static DATE_NUMERIC: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\b").ok());
static DATE_WORDS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"ngay\s+(\d{1,2})\s+thang\s+(\d{1,2})\s+nam\s+(\d{4})").ok());

/// The first date written in a text ("22/11/2026", "ngày 22 tháng 11 năm
/// 2026") within two months before `received` (an event date, not a
/// reference to some old decree).
pub fn event_date_in(text: &str, received: Date) -> Option<Date> {
    let folded = fold_ascii(text);
    let candidates = [DATE_NUMERIC.as_ref(), DATE_WORDS.as_ref()];
    let mut found: Vec<(usize, Date)> = Vec::new();
    for re in candidates.into_iter().flatten() {
        for c in re.captures_iter(&folded) {
            let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<i16>().ok());
            let (Some(d), Some(m), Some(y)) = (num(1), num(2), num(3)) else {
                continue;
            };
            let Ok(date) = Date::new(
                y,
                i8::try_from(m).unwrap_or(0),
                i8::try_from(d).unwrap_or(0),
            ) else {
                continue;
            };
            let too_old = received.checked_sub(62.days()).is_ok_and(|min| date < min);
            if date <= received && !too_old {
                found.push((c.get(0).map_or(0, |m| m.start()), date));
            }
        }
    }
    found.sort();
    found.first().map(|(_, d)| *d)
}

/// The publication deadline (R14): the end of the working day `n` working
/// days after the event (or, for answers, after receipt).
pub fn publish_due(
    kind: ItemKind,
    event: Option<Date>,
    received: Date,
    cal: &Calendar,
    d: &Deadlines,
) -> Timestamp {
    let (from, days) = match kind {
        ItemKind::News => (event.unwrap_or(received), d.news_days),
        ItemKind::Document => (event.unwrap_or(received), d.document_days),
        ItemKind::Conference => (event.unwrap_or(received), d.conference_days),
        ItemKind::Answer => (received, d.answer_days),
    };
    cal.at(
        cal.add_working_days(from, days),
        Time::constant(23, 59, 59, 0),
    )
}

/// The next publishing moment at or after `t` (R15): `t` itself when the
/// board publishes at once, else the next configured window on a working
/// day.
pub fn next_window(site: &crate::config::Site, cal: &Calendar, t: Timestamp) -> Timestamp {
    let windows = match &site.publish {
        crate::config::PublishMode::Immediately => return t,
        crate::config::PublishMode::Windows(w) => w,
    };
    let mut day = cal.date_of(t);
    for _ in 0..400 {
        if cal.is_working_day(day) {
            for w in windows {
                let at = cal.at(day, *w);
                if at >= t {
                    return at;
                }
            }
        }
        match day.tomorrow() {
            Ok(d) => day = d,
            Err(_) => break,
        }
    }
    t
}

/// Time left until `due` (negative: late), in Vietnamese: "còn 1 ngày 3
/// giờ", "quá hạn 5 giờ".
pub fn time_left_vi(due: Timestamp, now: Timestamp) -> String {
    let secs = due.as_second() - now.as_second();
    let abs = secs.unsigned_abs();
    let days = abs / 86_400;
    let hours = (abs % 86_400) / 3600;
    let minutes = (abs % 3600) / 60;
    let span = match (days, hours) {
        (0, 0) => format!("{minutes} phút"),
        (0, h) => format!("{h} giờ"),
        (d, 0) => format!("{d} ngày"),
        (d, h) => format!("{d} ngày {h} giờ"),
    };
    if secs >= 0 {
        format!("còn {span}")
    } else {
        format!("quá hạn {span}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calendar::Settings;
    use jiff::civil::date;
    use jiff::tz::TimeZone;

    fn cal() -> Calendar {
        Calendar::new(
            TimeZone::get("Asia/Ho_Chi_Minh").unwrap(),
            Settings::default(),
        )
    }

    fn deadlines() -> Deadlines {
        Deadlines {
            approval_counting: Counting::Calendar,
            news_days: 1,
            document_days: 1,
            conference_days: 2,
            answer_days: 15,
        }
    }

    #[test]
    fn publishing_windows_on_working_days() {
        let site = |publish| crate::config::Site {
            url: "sqlite://portal.db".into(),
            media_dir: "media".into(),
            media_url: "/media".into(),
            article_url: "/tin/{slug}".into(),
            name: None,
            publish,
        };
        let windows = site(crate::config::PublishMode::Windows(vec![
            Time::constant(7, 30, 0, 0),
            Time::constant(13, 30, 0, 0),
        ]));
        let at = |s: &str| -> Timestamp { s.parse().unwrap() };
        // Friday 27/11/2026 10:00 (UTC+7) → 13:30 the same day.
        assert_eq!(
            next_window(&windows, &cal(), at("2026-11-27T03:00:00Z")),
            at("2026-11-27T06:30:00Z")
        );
        // Friday 14:00 → Monday 07:30.
        assert_eq!(
            next_window(&windows, &cal(), at("2026-11-27T07:00:00Z")),
            at("2026-11-30T00:30:00Z")
        );
        // A window itself is on time.
        assert_eq!(
            next_window(&windows, &cal(), at("2026-11-30T00:30:00Z")),
            at("2026-11-30T00:30:00Z")
        );
        // Thursday 30/4/2026 and Friday 1/5 are holidays → Monday 4/5.
        assert_eq!(
            next_window(&windows, &cal(), at("2026-04-29T09:00:00Z")),
            at("2026-05-04T00:30:00Z")
        );
        let now = at("2026-11-28T15:00:00Z");
        assert_eq!(
            next_window(&site(crate::config::PublishMode::Immediately), &cal(), now),
            now
        );
    }

    #[test]
    fn three_calendar_days_from_arrival() {
        let arrived: Timestamp = "2026-11-25T03:00:00Z".parse().unwrap();
        let due = approval_due(arrived, &cal(), 3, Counting::Calendar).unwrap();
        assert_eq!(due.to_string(), "2026-11-28T03:00:00Z");
    }

    #[test]
    fn three_working_days_skip_weekend_and_holidays() {
        // Friday 27 Nov 2026 10:00 ICT + 3 working days → Wednesday 2 Dec 10:00.
        let arrived: Timestamp = "2026-11-27T03:00:00Z".parse().unwrap();
        let due = approval_due(arrived, &cal(), 3, Counting::Working).unwrap();
        assert_eq!(due.to_string(), "2026-12-02T03:00:00Z");
        // Arriving on Saturday counts from Monday 07:30.
        let arrived: Timestamp = "2026-11-28T03:00:00Z".parse().unwrap();
        let due = approval_due(arrived, &cal(), 1, Counting::Working).unwrap();
        assert_eq!(due.to_string(), "2026-12-01T00:30:00Z");
        // Over Tết 2026 (16–20 February are days off).
        let arrived: Timestamp = "2026-02-13T03:00:00Z".parse().unwrap();
        let due = approval_due(arrived, &cal(), 1, Counting::Working).unwrap();
        assert_eq!(due.to_string(), "2026-02-23T03:00:00Z");
    }

    #[test]
    fn year_is_taken_on_the_local_clock() {
        // 31 Dec 2026 20:00 UTC is already 1 Jan 2027 in Hà Nội.
        let at: Timestamp = "2026-12-31T20:00:00Z".parse().unwrap();
        assert_eq!(local_year(at, &cal()), 2027);
    }

    #[test]
    fn kinds_from_tags() {
        assert_eq!(
            kind_from_subject("[Văn bản] Quyết định số 12"),
            Some(ItemKind::Document)
        );
        assert_eq!(
            kind_from_subject("[Đảng] [Hoi nghi] Tổng kết"),
            Some(ItemKind::Conference)
        );
        assert_eq!(
            kind_from_subject("[Hỏi đáp] Thủ tục"),
            Some(ItemKind::Answer)
        );
        assert_eq!(kind_from_subject("Không có nhãn"), None);
    }

    #[test]
    fn event_dates_in_text() {
        let received = date(2026, 11, 25);
        assert_eq!(
            event_date_in("Sáng ngày 22/11/2026, UBND xã…", received),
            Some(date(2026, 11, 22))
        );
        assert_eq!(
            event_date_in("ngày 20 tháng 11 năm 2026", received),
            Some(date(2026, 11, 20))
        );
        assert_eq!(
            event_date_in("theo Nghị định 10/01/2020 và ngày 23-11-2026", received),
            Some(date(2026, 11, 23))
        );
        assert_eq!(
            event_date_in("hẹn ngày 30/12/2026", received),
            None,
            "not a future date"
        );
    }

    #[test]
    fn publication_limits() {
        let c = cal();
        let d = deadlines();
        // News of Friday 27 Nov → end of Monday 30 Nov.
        let due = publish_due(
            ItemKind::News,
            Some(date(2026, 11, 27)),
            date(2026, 11, 27),
            &c,
            &d,
        );
        assert_eq!(c.date_of(due), date(2026, 11, 30));
        let due = publish_due(
            ItemKind::Conference,
            Some(date(2026, 11, 27)),
            date(2026, 11, 28),
            &c,
            &d,
        );
        assert_eq!(c.date_of(due), date(2026, 12, 1));
        let due = publish_due(ItemKind::Answer, None, date(2026, 11, 25), &c, &d);
        assert_eq!(c.date_of(due), date(2026, 12, 16));
    }

    #[test]
    fn time_left_in_vietnamese() {
        let now: Timestamp = "2026-11-25T00:00:00Z".parse().unwrap();
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            time_left_vi(t("2026-11-26T03:00:00Z"), now),
            "còn 1 ngày 3 giờ"
        );
        assert_eq!(
            time_left_vi(t("2026-11-24T19:00:00Z"), now),
            "quá hạn 5 giờ"
        );
        assert_eq!(time_left_vi(t("2026-11-25T00:20:00Z"), now), "còn 20 phút");
    }
}
