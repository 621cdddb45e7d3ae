//! The working-day calendar of a Vietnamese public body.
//!
//! Days off: Saturdays and Sundays; the public holidays of the Labour Code
//! 2019, art. 112: 1 January, Tết (five days: the last day of the lunar
//! year and the first four of the new one, unless the year's official span
//! is configured), the Hùng Kings' Commemoration (lunar 10/3), 30 April,
//! 1 May, 2 September and one adjacent day; a holiday falling on a weekend
//! gives the next working day off (art. 111); plus configured extra days
//! off, minus configured make-up working days. Lunar dates are computed
//! (`lunar`), so the calendar works for any year.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;

use super::lunar;

/// A day off and why.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct DayOff {
    pub date: Date,
    pub reason: String,
}

/// Which day goes with National Day (2 September).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Adjacent {
    /// 1 September.
    Before,
    /// 3 September.
    After,
}

/// What a board configures about its calendar.
#[derive(Debug, Clone)]
pub struct Settings {
    pub work_start: Time,
    pub work_end: Time,
    pub days_off: BTreeMap<Date, String>,
    pub working_days: BTreeSet<Date>,
    pub tet: BTreeMap<i16, (Date, Date)>,
    pub national_day_extra: Adjacent,
    pub weekend_compensation: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            work_start: Time::constant(7, 30, 0, 0),
            work_end: Time::constant(17, 0, 0, 0),
            days_off: BTreeMap::new(),
            working_days: BTreeSet::new(),
            tet: BTreeMap::new(),
            national_day_extra: Adjacent::Before,
            weekend_compensation: true,
        }
    }
}

/// The calendar of one board, in its time zone.
#[derive(Debug)]
pub struct Calendar {
    tz: TimeZone,
    settings: Settings,
    /// Days off (weekends excluded) per year, computed on first use.
    years: Mutex<BTreeMap<i16, Arc<BTreeSet<Date>>>>,
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

impl Calendar {
    pub fn new(tz: TimeZone, settings: Settings) -> Calendar {
        Calendar {
            tz,
            settings,
            years: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    pub fn work_start(&self) -> Time {
        self.settings.work_start
    }

    /// Every day off of `year` besides ordinary weekends (a holiday that
    /// falls on a weekend is listed too), with its reason, in date order.
    pub fn days_off(&self, year: i16) -> Vec<DayOff> {
        let mut days: BTreeMap<Date, String> = BTreeMap::new();
        let mut statutory: Vec<(Date, String)> = Vec::new();
        let mut add = |d: Option<Date>, reason: &str| {
            if let Some(d) = d {
                statutory.push((d, reason.to_string()));
            }
        };
        add(Date::new(year, 1, 1).ok(), "Tết Dương lịch");
        let tet_configured = self.settings.tet.get(&year).copied();
        match tet_configured {
            Some((first, last)) => {
                let mut d = first;
                while d <= last {
                    days.insert(d, "Tết Nguyên đán".into());
                    match d.tomorrow() {
                        Ok(next) => d = next,
                        Err(_) => break,
                    }
                }
            }
            None => {
                if let Some(tet) = lunar::tet(year) {
                    for offset in -1..=3 {
                        add(tet.checked_add(offset.days()).ok(), "Tết Nguyên đán");
                    }
                }
            }
        }
        add(lunar::hung_kings(year), "Giỗ Tổ Hùng Vương (10/3 âm lịch)");
        add(Date::new(year, 4, 30).ok(), "Ngày Chiến thắng (30/4)");
        add(Date::new(year, 5, 1).ok(), "Ngày Quốc tế Lao động (1/5)");
        add(Date::new(year, 9, 2).ok(), "Quốc khánh (2/9)");
        let adjacent = match self.settings.national_day_extra {
            Adjacent::Before => Date::new(year, 9, 1).ok(),
            Adjacent::After => Date::new(year, 9, 3).ok(),
        };
        add(adjacent, "Quốc khánh (ngày liền kề)");

        for (d, reason) in &statutory {
            days.entry(*d).or_insert_with(|| reason.clone());
        }
        // A holiday on a weekend gives the next working day off.
        if self.settings.weekend_compensation {
            let mut on_weekend: Vec<&(Date, String)> =
                statutory.iter().filter(|(d, _)| is_weekend(*d)).collect();
            on_weekend.sort();
            for (d, reason) in on_weekend {
                let mut next = *d;
                loop {
                    let Ok(n) = next.tomorrow() else { break };
                    next = n;
                    let taken = is_weekend(next)
                        || days.contains_key(&next)
                        || self.settings.days_off.contains_key(&next);
                    if !taken {
                        days.insert(next, format!("Nghỉ bù {reason}"));
                        break;
                    }
                }
            }
        }
        for (d, reason) in &self.settings.days_off {
            if d.year() == year {
                days.insert(*d, reason.clone());
            }
        }
        days.into_iter()
            .filter(|(d, _)| d.year() == year && !self.settings.working_days.contains(d))
            .map(|(date, reason)| DayOff { date, reason })
            .collect()
    }

    fn year(&self, year: i16) -> Arc<BTreeSet<Date>> {
        if let Ok(cache) = self.years.lock()
            && let Some(days) = cache.get(&year)
        {
            return Arc::clone(days);
        }
        let days: Arc<BTreeSet<Date>> =
            Arc::new(self.days_off(year).into_iter().map(|d| d.date).collect());
        if let Ok(mut cache) = self.years.lock() {
            cache.insert(year, Arc::clone(&days));
        }
        days
    }

    pub fn is_working_day(&self, d: Date) -> bool {
        if self.settings.working_days.contains(&d) {
            return true;
        }
        !is_weekend(d) && !self.year(d.year()).contains(&d)
    }

    /// The first working day after `d`.
    pub fn next_working_day(&self, d: Date) -> Date {
        let mut next = d;
        // A year has far fewer than 400 consecutive days off.
        for _ in 0..400 {
            match next.tomorrow() {
                Ok(n) => next = n,
                Err(_) => return next,
            }
            if self.is_working_day(next) {
                return next;
            }
        }
        next
    }

    /// The `n`-th working day after `d` (`d` itself when `n` is 0).
    pub fn add_working_days(&self, d: Date, n: u32) -> Date {
        (0..n).fold(d, |d, _| self.next_working_day(d))
    }

    /// The `n`-th working day before `d`.
    pub fn sub_working_days(&self, d: Date, n: u32) -> Date {
        let mut day = d;
        let mut left = n;
        for _ in 0..(400 * n.max(1)) {
            if left == 0 {
                break;
            }
            match day.yesterday() {
                Ok(p) => day = p,
                Err(_) => break,
            }
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// The local date of an instant.
    pub fn date_of(&self, t: Timestamp) -> Date {
        t.to_zoned_datetime(self.tz.clone()).date()
    }

    /// An instant at a local date and time.
    pub fn at(&self, d: Date, time: Time) -> Timestamp {
        d.to_datetime(time)
            .to_zoned_datetime(self.tz.clone())
            .map(|z| z.timestamp())
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }

    /// `t` if it falls in working hours of a working day, otherwise the
    /// start of the next working time.
    pub fn working_time_from(&self, t: Timestamp) -> Timestamp {
        let local = t.to_zoned_datetime(self.tz.clone());
        let (d, time) = (local.date(), local.time());
        if self.is_working_day(d) {
            if time < self.settings.work_start {
                return self.at(d, self.settings.work_start);
            }
            if time < self.settings.work_end {
                return t;
            }
        }
        self.at(self.next_working_day(d), self.settings.work_start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn cal(settings: Settings) -> Calendar {
        Calendar::new(TimeZone::get("Asia/Ho_Chi_Minh").unwrap(), settings)
    }

    #[test]
    fn statutory_holidays_of_2026() {
        let c = cal(Settings::default());
        let off: Vec<String> = c
            .days_off(2026)
            .iter()
            .map(|d| format!("{} {}", d.date, d.reason))
            .collect();
        assert_eq!(
            off,
            vec![
                "2026-01-01 Tết Dương lịch",
                "2026-02-16 Tết Nguyên đán",
                "2026-02-17 Tết Nguyên đán",
                "2026-02-18 Tết Nguyên đán",
                "2026-02-19 Tết Nguyên đán",
                "2026-02-20 Tết Nguyên đán",
                // Hùng Kings' day 2026 is a Sunday: Monday is off instead.
                "2026-04-26 Giỗ Tổ Hùng Vương (10/3 âm lịch)",
                "2026-04-27 Nghỉ bù Giỗ Tổ Hùng Vương (10/3 âm lịch)",
                "2026-04-30 Ngày Chiến thắng (30/4)",
                "2026-05-01 Ngày Quốc tế Lao động (1/5)",
                "2026-09-01 Quốc khánh (ngày liền kề)",
                "2026-09-02 Quốc khánh (2/9)",
            ]
        );
    }

    #[test]
    fn weekend_holidays_are_compensated_in_order() {
        // 2027: 1 May is a Saturday → Monday 3 May off.
        let c = cal(Settings::default());
        let off = c.days_off(2027);
        assert!(
            off.iter()
                .any(|d| d.date == date(2027, 5, 3) && d.reason.contains("Nghỉ bù")),
            "{off:?}"
        );
        assert!(!c.is_working_day(date(2027, 5, 3)));
    }

    #[test]
    fn configured_tet_span_extra_days_and_make_up_saturday() {
        let mut s = Settings::default();
        s.tet.insert(2026, (date(2026, 2, 14), date(2026, 2, 22)));
        s.days_off
            .insert(date(2026, 1, 2), "Nghỉ theo Thông báo của UBND".into());
        s.working_days.insert(date(2026, 1, 10));
        let c = cal(s);
        assert!(!c.is_working_day(date(2026, 1, 2)));
        assert!(
            c.is_working_day(date(2026, 1, 10)),
            "a make-up Saturday is a working day"
        );
        assert!(!c.is_working_day(date(2026, 2, 23 - 7)));
        assert!(c.is_working_day(date(2026, 2, 23)));
        // Friday 13 Feb + 1 working day, across the configured Tết span.
        assert_eq!(c.add_working_days(date(2026, 2, 13), 1), date(2026, 2, 23));
    }

    #[test]
    fn working_day_arithmetic() {
        let c = cal(Settings::default());
        // Thursday 30 April 2026 and Friday 1 May are holidays.
        assert_eq!(c.add_working_days(date(2026, 4, 29), 1), date(2026, 5, 4));
        assert_eq!(c.sub_working_days(date(2026, 5, 4), 1), date(2026, 4, 29));
        assert_eq!(c.add_working_days(date(2026, 11, 27), 3), date(2026, 12, 2));
    }

    #[test]
    fn working_time_is_clamped_to_office_hours() {
        let c = cal(Settings::default());
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        // Saturday 28 Nov 2026 10:00 ICT → Monday 07:30.
        assert_eq!(
            c.working_time_from(t("2026-11-28T03:00:00Z")),
            t("2026-11-30T00:30:00Z")
        );
        // Wednesday 06:00 → 07:30 the same day; 10:00 stays; 18:00 → next morning.
        assert_eq!(
            c.working_time_from(t("2026-11-24T23:00:00Z")),
            t("2026-11-25T00:30:00Z")
        );
        assert_eq!(
            c.working_time_from(t("2026-11-25T03:00:00Z")),
            t("2026-11-25T03:00:00Z")
        );
        assert_eq!(
            c.working_time_from(t("2026-11-25T11:00:00Z")),
            t("2026-11-26T00:30:00Z")
        );
    }
}
