//! Times of day and weekly schedules, in the bureau's local time (Asia/Shanghai).
//!
//! Permits allow transport in daily windows ("22:00-06:00"); control zones allow trucks inside
//! during weekly windows. A window whose end is not after its start crosses midnight.

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

/// A window of local time of day. `end <= start` means the window crosses midnight
/// (22:00-06:00); `start == end` means the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DailyWindow {
    /// First minute inside the window (local time).
    pub start: NaiveTime,
    /// First minute after the window (local time).
    pub end: NaiveTime,
}

impl DailyWindow {
    /// Whether the local time of day `t` falls in the window.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start == self.end {
            true
        } else if self.start < self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// The window as minute ranges within one day (one range, or two when it crosses midnight).
    pub fn minute_ranges(&self) -> Vec<(u32, u32)> {
        let s = self.start.hour() * 60 + self.start.minute();
        let e = self.end.hour() * 60 + self.end.minute();
        if s == e {
            vec![(0, 1440)]
        } else if s < e {
            vec![(s, e)]
        } else {
            vec![(s, 1440), (0, e)]
        }
    }

    /// Whether two windows share any minute of the day.
    pub fn overlaps(&self, other: &DailyWindow) -> bool {
        self.minute_ranges().iter().any(|&(a0, a1)| {
            other
                .minute_ranges()
                .iter()
                .any(|&(b0, b1)| a0 < b1 && b0 < a1)
        })
    }
}

/// A set of weekdays as a bit mask, Monday = bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Weekdays(pub u8);

impl Weekdays {
    /// Every day of the week.
    pub const ALL: Weekdays = Weekdays(0x7f);

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Parses `"mon-sun"`, `"mon-fri"`, `"sat,sun"`, `"mon"` (case-insensitive).
    pub fn parse(text: &str) -> Option<Weekdays> {
        let mut mask = 0u8;
        for part in text.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return None;
            }
            if let Some((a, b)) = part.split_once('-') {
                let a = parse_day(a)?;
                let b = parse_day(b)?;
                let (a, b) = (a.num_days_from_monday(), b.num_days_from_monday());
                let mut d = a;
                loop {
                    mask |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            } else {
                mask |= 1 << parse_day(part)?.num_days_from_monday();
            }
        }
        Some(Weekdays(mask))
    }
}

fn parse_day(text: &str) -> Option<Weekday> {
    text.trim().parse::<Weekday>().ok()
}

/// A window in the week: on these days, between these local times.
/// A window crossing midnight belongs to the day it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeeklyWindow {
    /// Days on which the window opens.
    pub days: Weekdays,
    /// Time of day of the window.
    pub window: DailyWindow,
}

impl WeeklyWindow {
    /// Whether the instant `t` falls inside the window, judged in local time.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&super::local_offset());
        let tod = local.time();
        let w = self.window;
        if w.start <= w.end {
            self.days.contains(local.weekday()) && w.contains(tod)
        } else if tod >= w.start {
            // Evening part: belongs to today.
            self.days.contains(local.weekday())
        } else if tod < w.end {
            // Morning part: belongs to the window that opened yesterday.
            self.days.contains(local.weekday().pred())
        } else {
            false
        }
    }
}

/// Local time of day of an instant.
pub fn local_time_of_day(t: DateTime<Utc>) -> NaiveTime {
    t.with_timezone(&super::local_offset()).time()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
    }

    #[test]
    fn night_window_crosses_midnight() {
        let w = DailyWindow {
            start: hm(22, 0),
            end: hm(6, 0),
        };
        assert!(w.contains(hm(23, 30)));
        assert!(w.contains(hm(0, 0)));
        assert!(w.contains(hm(5, 59)));
        assert!(!w.contains(hm(6, 0)));
        assert!(!w.contains(hm(12, 0)));
    }

    #[test]
    fn overlap_detection() {
        let night = DailyWindow {
            start: hm(22, 0),
            end: hm(6, 0),
        };
        let early = DailyWindow {
            start: hm(5, 0),
            end: hm(7, 0),
        };
        let noon = DailyWindow {
            start: hm(11, 0),
            end: hm(13, 0),
        };
        assert!(night.overlaps(&early));
        assert!(!night.overlaps(&noon));
    }

    #[test]
    fn weekdays_parse() {
        assert_eq!(Weekdays::parse("mon-sun"), Some(Weekdays::ALL));
        assert_eq!(Weekdays::parse("mon-fri"), Some(Weekdays(0x1f)));
        assert_eq!(Weekdays::parse("sat,sun"), Some(Weekdays(0x60)));
        assert_eq!(
            Weekdays::parse("fri-mon"),
            Some(Weekdays(0x01 | 0x10 | 0x20 | 0x40))
        );
        assert_eq!(Weekdays::parse("xyz"), None);
    }

    #[test]
    fn weekly_window_after_midnight_belongs_to_previous_day() {
        // Friday 22:00 - Saturday 06:00 local, only on Fridays.
        let w = WeeklyWindow {
            days: Weekdays::parse("fri").expect("day"),
            window: DailyWindow {
                start: hm(22, 0),
                end: hm(6, 0),
            },
        };
        // 2026-11-27 is a Friday. 23:00 local = 15:00 UTC.
        let fri_late = "2026-11-27T15:00:00Z".parse().expect("time");
        let sat_early = "2026-11-27T20:00:00Z".parse().expect("time"); // Sat 04:00 local
        let sat_late = "2026-11-28T15:00:00Z".parse().expect("time"); // Sat 23:00 local
        assert!(w.contains(fri_late));
        assert!(w.contains(sat_early));
        assert!(!w.contains(sat_late));
    }
}
