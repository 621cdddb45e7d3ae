//! The Vietnamese lunar calendar, computed (not tabulated, so it never runs
//! out): new moons and solar terms from the astronomical series in Jean
//! Meeus' "Astronomical Algorithms", reckoned in UTC+7 as the Vietnamese
//! calendar is, following the method Hồ Ngọc Đức published for it. In some
//! years the result differs from the Chinese calendar (UTC+8), e.g. Tết
//! 1985 and 2007; the tests pin those years.
//!
//! Used for the lunar public holidays: Tết (lunar 1/1) and the Hùng Kings'
//! Commemoration (lunar 10/3).

use std::f64::consts::PI;

use jiff::civil::Date;

/// Vietnam's time zone offset in hours.
const TIME_ZONE: f64 = 7.0;

/// Julian day number of a Gregorian date.
fn jd_from_date(d: Date) -> i64 {
    let (dd, mm, yy) = (
        i64::from(d.day()),
        i64::from(d.month()),
        i64::from(d.year()),
    );
    let a = (14 - mm) / 12;
    let y = yy + 4800 - a;
    let m = mm + 12 * a - 3;
    dd + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045
}

/// Gregorian date of a Julian day number.
fn date_from_jd(jd: i64) -> Option<Date> {
    let a = jd + 32044;
    let b = (4 * a + 3) / 146_097;
    let c = a - b * 146_097 / 4;
    let d = (4 * c + 3) / 1461;
    let e = c - 1461 * d / 4;
    let m = (5 * e + 2) / 153;
    let day = e - (153 * m + 2) / 5 + 1;
    let month = m + 3 - 12 * (m / 10);
    let year = b * 100 + d - 4800 + m / 10;
    Date::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
    )
    .ok()
}

/// Julian date of the k-th new moon after 1900-01-01 (Meeus ch. 49, short series).
fn new_moon(k: f64) -> f64 {
    let t = k / 1236.85;
    let t2 = t * t;
    let t3 = t2 * t;
    let dr = PI / 180.0;
    let mut jd1 = 2_415_020.759_33 + 29.530_588_68 * k + 0.000_117_8 * t2 - 0.000_000_155 * t3;
    jd1 += 0.000_33 * ((166.56 + 132.87 * t - 0.009_173 * t2) * dr).sin();
    let m = 359.2242 + 29.105_356_08 * k - 0.000_033_3 * t2 - 0.000_003_47 * t3;
    let mpr = 306.0253 + 385.816_918_06 * k + 0.010_730_6 * t2 + 0.000_012_36 * t3;
    let f = 21.2964 + 390.670_506_46 * k - 0.001_652_8 * t2 - 0.000_002_39 * t3;
    let mut c1 = (0.1734 - 0.000_393 * t) * (m * dr).sin() + 0.0021 * (2.0 * dr * m).sin();
    c1 -= 0.4068 * (mpr * dr).sin() + 0.0161 * (dr * 2.0 * mpr).sin();
    c1 -= 0.0004 * (dr * 3.0 * mpr).sin();
    c1 += 0.0104 * (dr * 2.0 * f).sin() - 0.0051 * (dr * (m + mpr)).sin();
    c1 -= 0.0074 * (dr * (m - mpr)).sin() + 0.0004 * (dr * (2.0 * f + m)).sin();
    c1 -= 0.0004 * (dr * (2.0 * f - m)).sin() - 0.0006 * (dr * (2.0 * f + mpr)).sin();
    c1 += 0.0010 * (dr * (2.0 * f - mpr)).sin() + 0.0005 * (dr * (2.0 * mpr + m)).sin();
    let deltat = if t < -11.0 {
        0.001 + 0.000_839 * t + 0.000_226_1 * t2 - 0.000_008_45 * t3 - 0.000_000_081 * t * t3
    } else {
        -0.000_278 + 0.000_265 * t + 0.000_262 * t2
    };
    jd1 + c1 - deltat
}

/// The Sun's apparent longitude in radians at Julian date `jdn` (Meeus ch. 25).
fn sun_longitude(jdn: f64) -> f64 {
    let t = (jdn - 2_451_545.0) / 36_525.0;
    let t2 = t * t;
    let dr = PI / 180.0;
    let m = 357.529_10 + 35_999.050_30 * t - 0.000_155_9 * t2 - 0.000_000_48 * t * t2;
    let l0 = 280.466_45 + 36_000.769_83 * t + 0.000_303_2 * t2;
    let mut dl = (1.914_600 - 0.004_817 * t - 0.000_014 * t2) * (dr * m).sin();
    dl += (0.019_993 - 0.000_101 * t) * (dr * 2.0 * m).sin() + 0.000_290 * (dr * 3.0 * m).sin();
    let l = (l0 + dl) * dr;
    l - PI * 2.0 * (l / (PI * 2.0)).floor()
}

/// Which of the 12 major solar terms (0..11) the local day `day` falls in.
fn sun_term(day: i64) -> i64 {
    (sun_longitude(day as f64 - 0.5 - TIME_ZONE / 24.0) / PI * 6.0).floor() as i64
}

/// The local day (Julian day number) of the k-th new moon.
fn new_moon_day(k: i64) -> i64 {
    (new_moon(k as f64) + 0.5 + TIME_ZONE / 24.0).floor() as i64
}

/// The first day of lunar month 11 (the month with the winter solstice) of
/// Gregorian year `yy`.
fn lunar_month_11(yy: i16) -> i64 {
    let Ok(dec31) = Date::new(yy, 12, 31) else {
        return 0;
    };
    let off = jd_from_date(dec31) - 2_415_021;
    let k = (off as f64 / 29.530_588_853).floor() as i64;
    let nm = new_moon_day(k);
    if sun_term(nm) >= 9 {
        new_moon_day(k - 1)
    } else {
        nm
    }
}

/// Offset (in months after month 11 at `a11`) of the leap month: the first
/// month without a major solar term.
fn leap_month_offset(a11: i64) -> i64 {
    let k = ((a11 as f64 - 2_415_021.076_998_695) / 29.530_588_853 + 0.5).floor() as i64;
    let mut i = 1;
    let mut arc = sun_term(new_moon_day(k + i));
    loop {
        let last = arc;
        i += 1;
        arc = sun_term(new_moon_day(k + i));
        if arc == last || i >= 14 {
            return i - 1;
        }
    }
}

/// The Gregorian date of lunar `day`/`month` (not a leap month) of lunar
/// `year`.
pub fn to_solar(day: i8, month: i8, year: i16) -> Option<Date> {
    let (a11, b11) = if month < 11 {
        (lunar_month_11(year.checked_sub(1)?), lunar_month_11(year))
    } else {
        (lunar_month_11(year), lunar_month_11(year.checked_add(1)?))
    };
    let k = (0.5 + (a11 as f64 - 2_415_021.076_998_695) / 29.530_588_853).floor() as i64;
    let mut off = i64::from(month) - 11;
    if off < 0 {
        off += 12;
    }
    if b11 - a11 > 365 && off >= leap_month_offset(a11) {
        off += 1;
    }
    date_from_jd(new_moon_day(k + off) + i64::from(day) - 1)
}

/// Tết Nguyên Đán (lunar 1/1) of lunar year `year`.
pub fn tet(year: i16) -> Option<Date> {
    to_solar(1, 1, year)
}

/// The Hùng Kings' Commemoration (lunar 10/3) of lunar year `year`.
pub fn hung_kings(year: i16) -> Option<Date> {
    to_solar(10, 3, year)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn julian_days_round_trip() {
        for d in [
            date(1900, 1, 1),
            date(2000, 2, 29),
            date(2026, 11, 25),
            date(2100, 12, 31),
        ] {
            assert_eq!(date_from_jd(jd_from_date(d)), Some(d));
        }
        assert_eq!(jd_from_date(date(2000, 1, 1)), 2_451_545);
    }

    #[test]
    fn tet_dates_known_from_the_official_calendar() {
        for (year, expected) in [
            (2019, date(2019, 2, 5)),
            (2020, date(2020, 1, 25)),
            (2021, date(2021, 2, 12)),
            (2022, date(2022, 2, 1)),
            (2023, date(2023, 1, 22)),
            (2024, date(2024, 2, 10)),
            (2025, date(2025, 1, 29)),
            (2026, date(2026, 2, 17)),
            (2027, date(2027, 2, 6)),
            (2028, date(2028, 1, 26)),
        ] {
            assert_eq!(tet(year), Some(expected), "Tết {year}");
        }
    }

    #[test]
    fn vietnamese_not_chinese_reckoning() {
        // UTC+7 puts these new moons a day earlier than China's UTC+8.
        assert_eq!(tet(1985), Some(date(1985, 1, 21)));
        assert_eq!(tet(2007), Some(date(2007, 2, 17)));
    }

    #[test]
    fn hung_kings_commemoration() {
        assert_eq!(hung_kings(2023), Some(date(2023, 4, 29)));
        assert_eq!(hung_kings(2024), Some(date(2024, 4, 18)));
        assert_eq!(hung_kings(2025), Some(date(2025, 4, 7)));
        assert_eq!(hung_kings(2026), Some(date(2026, 4, 26)));
    }

    #[test]
    fn leap_month_years_stay_right() {
        // 2023 had a leap second month; 2025 a leap sixth month.
        assert_eq!(to_solar(1, 3, 2023), Some(date(2023, 4, 20)));
        assert_eq!(to_solar(1, 7, 2025), Some(date(2025, 8, 23)));
        assert_eq!(to_solar(15, 8, 2025), Some(date(2025, 10, 6)));
    }
}
