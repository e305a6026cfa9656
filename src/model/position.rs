//! A truck's position as one domain event: what ingest produces, the bus carries, the store
//! keeps and the engine judges.

use std::sync::atomic::{AtomicI64, Ordering};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Load state, read from the terminal through its sensor profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LoadState {
    /// No load sensor, or it did not say.
    #[default]
    Unknown,
    /// Empty body.
    Empty,
    /// Partly loaded.
    Half,
    /// Fully loaded.
    Full,
}

impl LoadState {
    /// Whether the body carries waste.
    pub fn is_loaded(self) -> bool {
        matches!(self, LoadState::Half | LoadState::Full)
    }

    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Unknown => "unknown",
            LoadState::Empty => "empty",
            LoadState::Half => "half",
            LoadState::Full => "full",
        }
    }

    /// Inverse of [`LoadState::as_str`]; unknown text maps to `Unknown`.
    pub fn from_name(name: &str) -> LoadState {
        match name {
            "empty" => LoadState::Empty,
            "half" => LoadState::Half,
            "full" => LoadState::Full,
            _ => LoadState::Unknown,
        }
    }
}

/// How a position reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PositionSource {
    /// A live 0x0200 report.
    #[default]
    Live,
    /// A 0x0704 normal batch.
    Batch,
    /// A 0x0704 blind-area re-upload: old data sent after lost coverage.
    BlindArea,
    /// A 0x0201 answer to a location query.
    Query,
}

impl PositionSource {
    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            PositionSource::Live => "live",
            PositionSource::Batch => "batch",
            PositionSource::BlindArea => "blind_area",
            PositionSource::Query => "query",
        }
    }

    /// Inverse of [`PositionSource::as_str`].
    pub fn from_name(name: &str) -> PositionSource {
        match name {
            "batch" => PositionSource::Batch,
            "blind_area" => PositionSource::BlindArea,
            "query" => PositionSource::Query,
            _ => PositionSource::Live,
        }
    }
}

/// Why a position is stored but not fed to the rules. A bit set; zero means usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PositionFlags(pub u32);

impl PositionFlags {
    /// Status bit 1 clear: the terminal had no GNSS fix.
    pub const NO_FIX: u32 = 1 << 0;
    /// Latitude and longitude both zero.
    pub const ZERO_COORDS: u32 = 1 << 1;
    /// GNSS time more than the allowed skew in the future.
    pub const FUTURE_TIME: u32 = 1 << 2;
    /// Exact duplicate of a position already seen from this terminal.
    pub const DUPLICATE: u32 = 1 << 3;
    /// Implied speed from the previous fix above the configured maximum (a GPS jump).
    pub const JUMP: u32 = 1 << 4;
    /// Coordinates outside the valid WGS-84 range.
    pub const OUT_OF_RANGE: u32 = 1 << 5;
    /// The terminal is not bound to a registered vehicle.
    pub const UNREGISTERED: u32 = 1 << 6;
    /// The GNSS time was not a valid BCD time; `time` holds the receive time instead.
    pub const BAD_TIME: u32 = 1 << 7;

    /// Whether the rules may use this position.
    pub fn usable(self) -> bool {
        self.0 == 0
    }

    /// Whether `flag` is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }

    /// Sets `flag`.
    pub fn set(&mut self, flag: u32) {
        self.0 |= flag;
    }

    /// Names of the set flags, for JSON and logs.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(u32, &str); 8] = [
            (PositionFlags::NO_FIX, "no_fix"),
            (PositionFlags::ZERO_COORDS, "zero_coords"),
            (PositionFlags::FUTURE_TIME, "future_time"),
            (PositionFlags::DUPLICATE, "duplicate"),
            (PositionFlags::JUMP, "jump"),
            (PositionFlags::OUT_OF_RANGE, "out_of_range"),
            (PositionFlags::UNREGISTERED, "unregistered"),
            (PositionFlags::BAD_TIME, "bad_time"),
        ];
        NAMES
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, name)| *name)
            .collect()
    }
}

/// One position report, normalised: WGS-84 degrees, UTC times, km/h, sensor states resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Unique, increasing id assigned at ingest ([`next_position_id`]); evidence names it.
    pub id: i64,
    /// Terminal phone as sent in the header (BCD digits, leading zeros kept).
    pub phone: String,
    /// Vehicle the terminal is bound to; `None` for an unregistered terminal.
    pub vehicle_id: Option<String>,
    /// GNSS time of the fix, UTC.
    pub time: DateTime<Utc>,
    /// When the gateway received the frame, UTC.
    pub received_at: DateTime<Utc>,
    /// Latitude, WGS-84 degrees, south negative.
    pub lat: f64,
    /// Longitude, WGS-84 degrees, west negative.
    pub lon: f64,
    /// Altitude in metres.
    pub altitude_m: i32,
    /// GNSS speed in km/h.
    pub speed_kmh: f64,
    /// Heading, degrees clockwise from north (0-359).
    pub heading: u16,
    /// JT/T 808 alarm bits as sent.
    pub alarm: u32,
    /// JT/T 808 status bits as sent.
    pub status: u32,
    /// Load state through the sensor profile.
    pub load: LoadState,
    /// Tipper lift raised; `None` when the terminal has no lift sensor.
    pub lift_up: Option<bool>,
    /// Body lid open; `None` when the terminal has no lid sensor.
    pub lid_open: Option<bool>,
    /// Load weight in kg; `None` without a weight sensor.
    pub weight_kg: Option<f64>,
    /// Odometer in km (additional item 0x01), when sent.
    pub mileage_km: Option<f64>,
    /// How the position arrived.
    pub source: PositionSource,
    /// Reasons it is stored but not judged; empty when usable.
    pub flags: PositionFlags,
    /// The whole frame as received (escaped, with delimiters), kept as evidence.
    #[serde(with = "hex_bytes")]
    pub raw: Bytes,
}

impl Position {
    /// JT/T 808 status bit 1: the terminal has a GNSS fix.
    pub fn has_fix(&self) -> bool {
        self.status & 0b10 != 0
    }
}

static LAST_POSITION_ID: AtomicI64 = AtomicI64::new(0);

/// A process-wide unique, strictly increasing position id: milliseconds since the Unix epoch
/// shifted left 16 bits, plus a counter. Ids from a restarted process keep increasing as long as
/// the clock does not go back; the store keeps them unique regardless.
pub fn next_position_id() -> i64 {
    let now = Utc::now().timestamp_millis() << 16;
    let mut last = LAST_POSITION_ID.load(Ordering::Relaxed);
    loop {
        let next = if now > last { now } else { last + 1 };
        match LAST_POSITION_ID.compare_exchange_weak(
            last,
            next,
            Ordering::Relaxed,
            Ordering::Relaxed,
        ) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// Serialises raw frame bytes as a hex string.
mod hex_bytes {
    use bytes::Bytes;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Bytes, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        let text = String::deserialize(d)?;
        hex::decode(text)
            .map(Bytes::from)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_strictly_increase() {
        let mut prev = next_position_id();
        for _ in 0..100_000 {
            let id = next_position_id();
            assert!(id > prev);
            prev = id;
        }
    }

    #[test]
    fn flags_names() {
        let mut f = PositionFlags::default();
        assert!(f.usable());
        f.set(PositionFlags::NO_FIX);
        f.set(PositionFlags::JUMP);
        assert_eq!(f.names(), vec!["no_fix", "jump"]);
        assert!(!f.usable());
    }
}
