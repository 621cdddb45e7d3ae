//! Deadlines, computed in the board's time zone.
//!
//! R6: a submission must be approved within 3 days of its arrival at the
//! board's mailbox. The deadline is the arrival instant plus the configured
//! number of days, counted on the board's wall clock (so a deadline keeps
//! its time of day even across a daylight-saving change in zones that have
//! one).

use anyhow::{Context, Result};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// The approval deadline of a submission that arrived at `arrived`.
pub fn approval_due(arrived: Timestamp, tz: &TimeZone, days: u32) -> Result<Timestamp> {
    let local = arrived.to_zoned_datetime(tz.clone());
    let due = local
        .checked_add(i64::from(days).days())
        .with_context(|| format!("Cannot add {days} days to {local}"))?;
    Ok(due.timestamp())
}

/// The calendar year of an instant on the board's wall clock (ticket codes
/// are numbered per year).
pub fn local_year(at: Timestamp, tz: &TimeZone) -> i16 {
    at.to_zoned_datetime(tz.clone()).year()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_days_from_arrival() {
        let tz = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        let arrived: Timestamp = "2026-11-25T03:00:00Z".parse().unwrap();
        let due = approval_due(arrived, &tz, 3).unwrap();
        assert_eq!(due.to_string(), "2026-11-28T03:00:00Z");
    }

    #[test]
    fn year_is_taken_on_the_local_clock() {
        let tz = TimeZone::get("Asia/Ho_Chi_Minh").unwrap();
        // 31 Dec 2026 20:00 UTC is already 1 Jan 2027 in Hà Nội.
        let at: Timestamp = "2026-12-31T20:00:00Z".parse().unwrap();
        assert_eq!(local_year(at, &tz), 2027);
    }
}
