//! BCD timestamps (`YYMMDDhhmmss`, Beijing time, GMT+8).

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, Offset, TimeZone, Utc};

use crate::error::BodyError;

/// Offset of the protocol's local time (Beijing, no daylight saving) from UTC, in seconds.
pub const BEIJING_OFFSET_SECS: i32 = 8 * 3600;

/// The protocol's time zone as a chrono offset.
pub fn beijing() -> FixedOffset {
    // 8 hours is within chrono's accepted range; the UTC fallback only keeps this total.
    FixedOffset::east_opt(BEIJING_OFFSET_SECS).unwrap_or_else(|| Utc.fix())
}

/// A BCD[6] time exactly as sent. Kept raw so that an invalid time never loses the rest of a
/// message and re-encoding is exact; convert with [`BcdTime::to_utc`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BcdTime(pub [u8; 6]);

impl BcdTime {
    /// Encodes `time` as Beijing-local BCD. Years outside 2000-2099 keep their last two digits.
    pub fn from_datetime<Tz: TimeZone>(time: &DateTime<Tz>) -> BcdTime {
        use chrono::{Datelike, Timelike};
        let local = time.with_timezone(&beijing());
        let parts = [
            local.year().rem_euclid(100) as u32,
            local.month(),
            local.day(),
            local.hour(),
            local.minute(),
            local.second().min(59),
        ];
        let mut raw = [0u8; 6];
        for (slot, value) in raw.iter_mut().zip(parts) {
            *slot = (((value / 10) << 4) | (value % 10)) as u8;
        }
        BcdTime(raw)
    }

    /// The time in Beijing local time, or [`BodyError::InvalidTime`] for non-decimal nibbles or
    /// an impossible date (month 00, 31 February, hour 24, ...). Years are 2000-2099.
    pub fn to_beijing(&self) -> Result<DateTime<FixedOffset>, BodyError> {
        let mut parts = [0u32; 6];
        for (part, byte) in parts.iter_mut().zip(self.0) {
            let (hi, lo) = (byte >> 4, byte & 0x0F);
            if hi > 9 || lo > 9 {
                return Err(BodyError::InvalidTime(*self));
            }
            *part = u32::from(hi) * 10 + u32::from(lo);
        }
        let [yy, month, day, hour, minute, second] = parts;
        NaiveDate::from_ymd_opt(2000 + yy as i32, month, day)
            .and_then(|date| date.and_hms_opt(hour, minute, second))
            .and_then(|naive| naive.and_local_timezone(beijing()).single())
            .ok_or(BodyError::InvalidTime(*self))
    }

    /// The time in UTC (see [`BcdTime::to_beijing`]).
    pub fn to_utc(&self) -> Result<DateTime<Utc>, BodyError> {
        self.to_beijing().map(|t| t.with_timezone(&Utc))
    }
}

impl fmt::Display for BcdTime {
    /// The 12 digits as sent, e.g. `180715101010`; non-decimal nibbles show as hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for BcdTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BcdTime({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_time_converts_to_utc() {
        let t = BcdTime([0x18, 0x07, 0x15, 0x10, 0x10, 0x10]);
        assert_eq!(t.to_string(), "180715101010");
        let local = t.to_beijing().expect("valid");
        assert_eq!(local.to_rfc3339(), "2018-07-15T10:10:10+08:00");
        assert_eq!(
            t.to_utc().expect("valid").to_rfc3339(),
            "2018-07-15T02:10:10+00:00"
        );
    }

    #[test]
    fn invalid_times_are_errors() {
        for raw in [
            [0x18, 0x00, 0x15, 0x10, 0x10, 0x10], // month 00
            [0x18, 0x02, 0x31, 0x10, 0x10, 0x10], // 31 February
            [0x18, 0x07, 0x15, 0x24, 0x10, 0x10], // hour 24
            [0x1A, 0x07, 0x15, 0x10, 0x10, 0x10], // non-decimal nibble
            [0xFF; 6],
        ] {
            let t = BcdTime(raw);
            assert_eq!(t.to_utc(), Err(BodyError::InvalidTime(t)));
        }
    }

    #[test]
    fn from_datetime_round_trips() {
        let utc = Utc
            .with_ymd_and_hms(2024, 12, 31, 20, 5, 9)
            .single()
            .expect("valid");
        let bcd = BcdTime::from_datetime(&utc);
        // 20:05 UTC is 04:05 the next day in Beijing.
        assert_eq!(bcd.to_string(), "250101040509");
        assert_eq!(bcd.to_utc().expect("valid"), utc);
    }
}
