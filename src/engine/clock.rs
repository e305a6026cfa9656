//! Local (Asia/Shanghai, UTC+8, no DST) calendar arithmetic on millisecond timestamps, and
//! schedules compiled to seconds of the day, so rules can test windows per fix without
//! calendar conversions.

use chrono::{DateTime, NaiveDate, Timelike, Utc};

use crate::model::{DailyWindow, LOCAL_OFFSET_SECS, WeeklyWindow};

const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = LOCAL_OFFSET_SECS as i64 * 1000;

/// Milliseconds since the Unix epoch.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant of a millisecond timestamp (the epoch if out of range).
pub(crate) fn instant(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Local day number (days since 1970-01-01 local).
pub(crate) fn local_day(t_ms: i64) -> i64 {
    (t_ms + OFFSET_MS).div_euclid(DAY_MS)
}

/// Local second of the day, 0..86400.
pub(crate) fn local_second(t_ms: i64) -> u32 {
    ((t_ms + OFFSET_MS).rem_euclid(DAY_MS) / 1000) as u32
}

/// Local weekday, Monday = 0. 1970-01-01 was a Thursday.
pub(crate) fn local_weekday(day: i64) -> u32 {
    (day + 3).rem_euclid(7) as u32
}

/// Local day number of a calendar date.
pub(crate) fn day_of_date(d: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days()
}

/// A daily window in seconds of the day; same semantics as [`DailyWindow::contains`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Daily {
    /// First second inside.
    start: u32,
    /// First second after; not after `start` means across midnight.
    end: u32,
}

impl Daily {
    pub(crate) fn compile(w: &DailyWindow) -> Daily {
        Daily {
            start: w.start.num_seconds_from_midnight(),
            end: w.end.num_seconds_from_midnight(),
        }
    }

    pub(crate) fn contains(&self, second: u32) -> bool {
        if self.start == self.end {
            true
        } else if self.start < self.end {
            second >= self.start && second < self.end
        } else {
            second >= self.start || second < self.end
        }
    }
}

/// A weekly window; same semantics as [`WeeklyWindow::contains`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Weekly {
    /// Weekday mask, Monday = bit 0.
    days: u8,
    /// Time of day.
    daily: Daily,
}

impl Weekly {
    pub(crate) fn compile(w: &WeeklyWindow) -> Weekly {
        Weekly {
            days: w.days.0,
            daily: Daily::compile(&w.window),
        }
    }

    pub(crate) fn contains(&self, t_ms: i64) -> bool {
        let day = local_day(t_ms);
        let sec = local_second(t_ms);
        let on = |d: i64| self.days & (1 << local_weekday(d)) != 0;
        let Daily { start, end } = self.daily;
        if start <= end {
            on(day) && self.daily.contains(sec)
        } else if sec >= start {
            on(day)
        } else if sec < end {
            on(day - 1)
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Weekdays;
    use chrono::NaiveTime;
    use proptest::prelude::*;

    fn time(s: u32) -> NaiveTime {
        NaiveTime::from_num_seconds_from_midnight_opt(s % 86_400, 0).unwrap_or_default()
    }

    proptest! {
        #[test]
        fn weekly_matches_model(days in 0u8..128, start in 0u32..86_400, end in 0u32..86_400,
                                t in 1_600_000_000_000i64..1_900_000_000_000i64) {
            let w = WeeklyWindow {
                days: Weekdays(days),
                window: DailyWindow { start: time(start), end: time(end) },
            };
            let at = instant(t);
            prop_assert_eq!(Weekly::compile(&w).contains(t), w.contains(at));
            prop_assert_eq!(
                Daily::compile(&w.window).contains(local_second(t)),
                w.window.contains(crate::model::schedule::local_time_of_day(at))
            );
        }

        #[test]
        fn local_day_matches_chrono(t in 0i64..4_000_000_000_000i64) {
            let local = instant(t).with_timezone(&crate::model::local_offset()).date_naive();
            prop_assert_eq!(local_day(t), day_of_date(local));
            use chrono::Datelike;
            prop_assert_eq!(local_weekday(local_day(t)), local.weekday().num_days_from_monday());
        }
    }
}
