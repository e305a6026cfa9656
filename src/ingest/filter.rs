//! Position filtering: which positions are stored but kept away from the rules, and why.
//!
//! Nothing is dropped here: a flagged position is still stored (it is evidence of what the
//! terminal sent) and acknowledged; only the engine skips it.

use chrono::{DateTime, Duration, Utc};
use geo::{Distance, Haversine, Point};

use crate::model::{Position, PositionFlags};

/// Thresholds for flagging positions.
#[derive(Debug, Clone, Copy)]
pub struct FilterConfig {
    /// GNSS time further than this ahead of receive time is flagged `future_time`.
    pub max_future: Duration,
    /// Implied speed between consecutive fixes above this (km/h) is flagged `jump`.
    pub max_implied_speed_kmh: f64,
}

impl Default for FilterConfig {
    fn default() -> Self {
        Self {
            max_future: Duration::minutes(5),
            max_implied_speed_kmh: 150.0,
        }
    }
}

/// The last usable fix of one terminal, to judge the next one against.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterState {
    /// Time and place of the last usable fix.
    last: Option<(DateTime<Utc>, f64, f64)>,
    /// Identity of the last position seen (time, coordinates, alarm, status, speed) to spot
    /// exact duplicates.
    last_identity: Option<(DateTime<Utc>, i64, i64, u32, u32, i64)>,
}

impl FilterState {
    /// Sets `position.flags` for this terminal's next position and updates the state.
    pub fn judge(&mut self, config: &FilterConfig, position: &mut Position) {
        let flags = &mut position.flags;
        if !position.lat.is_finite()
            || !position.lon.is_finite()
            || position.lat.abs() > 90.0
            || position.lon.abs() > 180.0
        {
            flags.set(PositionFlags::OUT_OF_RANGE);
        }
        if position.status & 0b10 == 0 {
            flags.set(PositionFlags::NO_FIX);
        }
        if position.lat == 0.0 && position.lon == 0.0 {
            flags.set(PositionFlags::ZERO_COORDS);
        }
        if position.time > position.received_at + config.max_future {
            flags.set(PositionFlags::FUTURE_TIME);
        }
        if position.vehicle_id.is_none() {
            flags.set(PositionFlags::UNREGISTERED);
        }
        let identity = (
            position.time,
            (position.lat * 1e6).round() as i64,
            (position.lon * 1e6).round() as i64,
            position.alarm,
            position.status,
            (position.speed_kmh * 10.0).round() as i64,
        );
        if self.last_identity == Some(identity) {
            flags.set(PositionFlags::DUPLICATE);
        }
        self.last_identity = Some(identity);
        // A jump is judged against the last usable fix; an out-of-order fix (blind-area data)
        // is judged by the engine's reorder window, not here.
        if flags.usable()
            && let Some((t0, lat0, lon0)) = self.last
        {
            let seconds = (position.time - t0).num_milliseconds() as f64 / 1000.0;
            if seconds > 0.0 {
                let metres = Haversine.distance(
                    Point::new(lon0, lat0),
                    Point::new(position.lon, position.lat),
                );
                if metres / seconds * 3.6 > config.max_implied_speed_kmh && metres > 200.0 {
                    flags.set(PositionFlags::JUMP);
                }
            }
        }
        if position.flags.usable() && self.last.is_none_or(|(t0, _, _)| position.time > t0) {
            self.last = Some((position.time, position.lat, position.lon));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LoadState, PositionSource};
    use bytes::Bytes;

    fn position(seconds: i64, lat: f64, lon: f64) -> Position {
        let base: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().expect("time");
        Position {
            id: seconds,
            phone: "013800000001".into(),
            vehicle_id: Some("V1".into()),
            time: base + Duration::seconds(seconds),
            received_at: base + Duration::seconds(seconds),
            lat,
            lon,
            altitude_m: 0,
            speed_kmh: 40.0,
            heading: 0,
            alarm: 0,
            status: 0b10,
            load: LoadState::Empty,
            lift_up: None,
            lid_open: None,
            weight_kg: None,
            mileage_km: None,
            source: PositionSource::Live,
            flags: PositionFlags::default(),
            raw: Bytes::new(),
        }
    }

    #[test]
    fn flags_each_defect() {
        let config = FilterConfig::default();
        let mut state = FilterState::default();

        let mut good = position(0, 24.3, 109.4);
        state.judge(&config, &mut good);
        assert!(good.flags.usable());

        let mut dup = position(0, 24.3, 109.4);
        state.judge(&config, &mut dup);
        assert!(dup.flags.has(PositionFlags::DUPLICATE));

        let mut no_fix = position(10, 24.3, 109.4);
        no_fix.status = 0;
        state.judge(&config, &mut no_fix);
        assert!(no_fix.flags.has(PositionFlags::NO_FIX));

        let mut zero = position(20, 0.0, 0.0);
        state.judge(&config, &mut zero);
        assert!(zero.flags.has(PositionFlags::ZERO_COORDS));

        let mut future = position(30, 24.3, 109.4);
        future.time += Duration::minutes(6);
        state.judge(&config, &mut future);
        assert!(future.flags.has(PositionFlags::FUTURE_TIME));

        // 0.1 degree (about 11 km) in 40 s is about 1000 km/h.
        let mut jump = position(40, 24.4, 109.4);
        state.judge(&config, &mut jump);
        assert!(jump.flags.has(PositionFlags::JUMP));

        // The jump did not move the reference: a normal next fix is usable.
        let mut next = position(50, 24.3001, 109.4);
        state.judge(&config, &mut next);
        assert!(next.flags.usable(), "{:?}", next.flags.names());

        let mut unregistered = position(60, 24.3002, 109.4);
        unregistered.vehicle_id = None;
        state.judge(&config, &mut unregistered);
        assert!(unregistered.flags.has(PositionFlags::UNREGISTERED));
    }
}
