//! 0x0200 location reports: the 28-byte basic block, alarm and status bits, additional items.
//!
//! [`LocationRef`] is the allocation-free view for the hot path (fixed fields plus an item
//! iterator over the borrowed body); [`Location`] is the owned form with the items collected.
//! A malformed additional item never loses the position: the basic block and the items before
//! it are kept, and the defect is reported.

use std::fmt;

use bytes::{BufMut, BytesMut};

use crate::error::{BodyError, EncodeError};
use crate::time::BcdTime;
use crate::wire::Reader;

/// Size of the basic block before the additional items.
pub const BASIC_LEN: usize = 28;

macro_rules! flag_set {
    ($(#[$meta:meta])* $name:ident, $names:ident, { $($(#[$cmeta:meta])* $const:ident = $bit:expr, $label:expr;)* }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub u32);

        impl $name {
            $($(#[$cmeta])* pub const $const: $name = $name(1 << $bit);)*

            /// Whether every bit of `flags` is set.
            pub const fn contains(self, flags: $name) -> bool {
                self.0 & flags.0 == flags.0
            }

            /// The raw word.
            pub const fn bits(self) -> u32 {
                self.0
            }

            /// Names of the set bits that have one, lowest bit first (for JSON and logs).
            pub fn names(self) -> impl Iterator<Item = &'static str> {
                $names
                    .iter()
                    .enumerate()
                    .filter(move |(bit, name)| !name.is_empty() && self.0 & (1u32 << bit) != 0)
                    .map(|(_, name)| *name)
            }
        }

        const $names: [&str; 32] = {
            let mut names = [""; 32];
            $(names[$bit] = $label;)*
            names
        };

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}(0x{:08X} ", stringify!($name), self.0)?;
                f.debug_list().entries(self.names()).finish()?;
                f.write_str(")")
            }
        }
    };
}

flag_set!(
    /// The 0x0200 alarm word. Named constants follow JT/T 808-2013 table 24 (bits 15-17 use
    /// the 2019 meanings).
    AlarmFlags, ALARM_NAMES, {
        /// Emergency / SOS button.
        SOS = 0, "sos";
        /// Overspeed.
        OVERSPEED = 1, "overspeed";
        /// Fatigue driving.
        FATIGUE = 2, "fatigue";
        /// Danger warning.
        DANGER_WARNING = 3, "danger_warning";
        /// GNSS module fault.
        GNSS_FAULT = 4, "gnss_fault";
        /// GNSS antenna open circuit.
        GNSS_ANTENNA_OPEN = 5, "gnss_antenna_open";
        /// GNSS antenna short circuit.
        GNSS_ANTENNA_SHORT = 6, "gnss_antenna_short";
        /// Main power under-voltage.
        POWER_LOW = 7, "power_low";
        /// Main power cut.
        POWER_CUT = 8, "power_cut";
        /// Display fault.
        LCD_FAULT = 9, "lcd_fault";
        /// TTS module fault.
        TTS_FAULT = 10, "tts_fault";
        /// Camera fault.
        CAMERA_FAULT = 11, "camera_fault";
        /// IC-card module fault.
        IC_CARD_FAULT = 12, "ic_card_fault";
        /// Overspeed pre-warning.
        OVERSPEED_WARNING = 13, "overspeed_warning";
        /// Fatigue pre-warning.
        FATIGUE_WARNING = 14, "fatigue_warning";
        /// 2019: violation driving (reserved in 2013).
        VIOLATION_DRIVING = 15, "violation_driving";
        /// 2019: tyre pressure warning (reserved in 2013).
        TYRE_PRESSURE = 16, "tyre_pressure_warning";
        /// 2019: right-turn blind-zone alarm (reserved in 2013).
        RIGHT_TURN_BLIND_ZONE = 17, "right_turn_blind_zone";
        /// Accumulated driving today over the limit.
        DRIVING_TIMEOUT = 18, "driving_timeout";
        /// Parking too long.
        PARKING_TIMEOUT = 19, "parking_timeout";
        /// Entering or leaving an area.
        AREA_IN_OUT = 20, "area_in_out";
        /// Entering or leaving a route.
        ROUTE_IN_OUT = 21, "route_in_out";
        /// Route segment driving time too short or too long.
        ROUTE_TIME = 22, "route_time";
        /// Route deviation.
        ROUTE_DEVIATION = 23, "route_deviation";
        /// Vehicle speed sensor fault.
        VSS_FAULT = 24, "vss_fault";
        /// Abnormal fuel level.
        FUEL_ABNORMAL = 25, "fuel_abnormal";
        /// Vehicle stolen.
        STOLEN = 26, "stolen";
        /// Illegal ignition.
        ILLEGAL_IGNITION = 27, "illegal_ignition";
        /// Illegal displacement.
        ILLEGAL_DISPLACEMENT = 28, "illegal_displacement";
        /// Collision warning.
        COLLISION = 29, "collision_warning";
        /// Rollover warning.
        ROLLOVER = 30, "rollover_warning";
        /// Door opened illegally.
        ILLEGAL_DOOR_OPEN = 31, "illegal_door_open";
    }
);

flag_set!(
    /// The 0x0200 status word. Bits 8-9 are the load state, read with [`StatusFlags::load`].
    StatusFlags, STATUS_NAMES, {
        /// Ignition (ACC) on.
        ACC_ON = 0, "acc_on";
        /// The terminal has a GNSS fix; positions without one must not feed geofences.
        LOCATED = 1, "located";
        /// South latitude (the latitude field is unsigned).
        SOUTH = 2, "south";
        /// West longitude.
        WEST = 3, "west";
        /// Out of service.
        OUT_OF_SERVICE = 4, "out_of_service";
        /// Latitude and longitude are encrypted.
        LAT_LON_ENCRYPTED = 5, "lat_lon_encrypted";
        /// Oil circuit cut.
        OIL_CIRCUIT_CUT = 10, "oil_circuit_cut";
        /// Electric circuit cut.
        CIRCUIT_CUT = 11, "circuit_cut";
        /// Doors locked.
        DOOR_LOCKED = 12, "door_locked";
        /// Door 1 (front) open; muck-truck firmware often reuses a door bit for lid or tipper.
        DOOR1_OPEN = 13, "door1_open";
        /// Door 2 (middle) open.
        DOOR2_OPEN = 14, "door2_open";
        /// Door 3 (rear) open.
        DOOR3_OPEN = 15, "door3_open";
        /// Door 4 (driver) open.
        DOOR4_OPEN = 16, "door4_open";
        /// Door 5 (custom) open.
        DOOR5_OPEN = 17, "door5_open";
        /// GPS used for the fix.
        GPS = 18, "gps";
        /// BeiDou used for the fix.
        BEIDOU = 19, "beidou";
        /// GLONASS used for the fix.
        GLONASS = 20, "glonass";
        /// Galileo used for the fix.
        GALILEO = 21, "galileo";
        /// 2019: vehicle moving.
        MOVING = 22, "moving";
    }
);

/// Load state from status bits 8-9 (load sensors on muck trucks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoadStatus {
    /// 00: empty.
    Empty,
    /// 01: half load.
    Half,
    /// 10: reserved value.
    Reserved,
    /// 11: full load.
    Full,
}

impl LoadStatus {
    /// Stable lowercase name (`empty`, `half`, `reserved`, `full`).
    pub const fn as_str(self) -> &'static str {
        match self {
            LoadStatus::Empty => "empty",
            LoadStatus::Half => "half",
            LoadStatus::Reserved => "reserved",
            LoadStatus::Full => "full",
        }
    }
}

impl StatusFlags {
    /// Load state from bits 8-9.
    pub const fn load(self) -> LoadStatus {
        match (self.0 >> 8) & 0b11 {
            0b00 => LoadStatus::Empty,
            0b01 => LoadStatus::Half,
            0b10 => LoadStatus::Reserved,
            _ => LoadStatus::Full,
        }
    }
}

/// The 28-byte basic block of a location report, as sent (raw units kept, so re-encoding is
/// exact); accessor methods give degrees, km/h and UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocationBasic {
    /// Alarm bits.
    pub alarm: AlarmFlags,
    /// Status bits (fix, hemispheres, load, doors, ...).
    pub status: StatusFlags,
    /// Latitude in 1e-6 degrees, unsigned; the sign is status bit 2.
    pub lat_raw: u32,
    /// Longitude in 1e-6 degrees, unsigned; the sign is status bit 3.
    pub lon_raw: u32,
    /// Altitude in metres.
    pub altitude_m: u16,
    /// Speed in 1/10 km/h.
    pub speed_raw: u16,
    /// Heading, degrees clockwise from north (0-359).
    pub direction: u16,
    /// Device time, BCD, Beijing time.
    pub time: BcdTime,
}

impl LocationBasic {
    /// Reads the basic block from the start of `body`.
    pub fn parse(body: &[u8]) -> Result<LocationBasic, BodyError> {
        let mut r = Reader::new(body);
        LocationBasic::read(&mut r)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<LocationBasic, BodyError> {
        if r.remaining() < BASIC_LEN {
            return Err(BodyError::Truncated {
                field: "location basic block",
                need: BASIC_LEN,
                have: r.remaining(),
            });
        }
        Ok(LocationBasic {
            alarm: AlarmFlags(r.u32("alarm")?),
            status: StatusFlags(r.u32("status")?),
            lat_raw: r.u32("latitude")?,
            lon_raw: r.u32("longitude")?,
            altitude_m: r.u16("altitude")?,
            speed_raw: r.u16("speed")?,
            direction: r.u16("direction")?,
            time: r.time("time")?,
        })
    }

    /// Appends the 28 bytes.
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(BASIC_LEN);
        out.put_u32(self.alarm.0);
        out.put_u32(self.status.0);
        out.put_u32(self.lat_raw);
        out.put_u32(self.lon_raw);
        out.put_u16(self.altitude_m);
        out.put_u16(self.speed_raw);
        out.put_u16(self.direction);
        out.put_slice(&self.time.0);
    }

    /// Latitude in degrees, south negative. Not range-checked (see
    /// [`LocationBasic::coordinates_in_range`]).
    pub fn lat(&self) -> f64 {
        let deg = f64::from(self.lat_raw) / 1e6;
        if self.status.contains(StatusFlags::SOUTH) {
            -deg
        } else {
            deg
        }
    }

    /// Longitude in degrees, west negative.
    pub fn lon(&self) -> f64 {
        let deg = f64::from(self.lon_raw) / 1e6;
        if self.status.contains(StatusFlags::WEST) {
            -deg
        } else {
            deg
        }
    }

    /// Whether latitude is within ±90° and longitude within ±180° (some test data swaps them).
    pub fn coordinates_in_range(&self) -> bool {
        self.lat_raw <= 90_000_000 && self.lon_raw <= 180_000_000
    }

    /// Speed in km/h.
    pub fn speed_kmh(&self) -> f64 {
        f64::from(self.speed_raw) / 10.0
    }

    /// Status bit 1: the terminal has a GNSS fix.
    pub fn has_fix(&self) -> bool {
        self.status.contains(StatusFlags::LOCATED)
    }

    /// Load state from status bits 8-9.
    pub fn load(&self) -> LoadStatus {
        self.status.load()
    }
}

/// A decoded standard additional item (JT/T 808-2013 table 27). Items with a non-standard
/// length, vendor ids and ids not listed here stay raw ([`AdditionalItem::Other`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemValue {
    /// 0x01: odometer, 1/10 km.
    Mileage(u32),
    /// 0x02: fuel, 1/10 L.
    Fuel(u16),
    /// 0x03: tachograph speed, 1/10 km/h.
    RecorderSpeed(u16),
    /// 0x04: id of an alarm event that needs manual confirmation.
    AlarmEventId(u16),
    /// 0x11: overspeed alarm extra: area type (0 none, 1 circle, 2 rectangle, 3 polygon,
    /// 4 route segment) and the area id (absent in the 1-byte form).
    OverspeedArea {
        /// Area type.
        area_type: u8,
        /// Area or route id; `None` when the item is one byte long.
        area_id: Option<u32>,
    },
    /// 0x12: entering or leaving an area or route.
    AreaInOut {
        /// Area type (1 circle, 2 rectangle, 3 polygon, 4 route).
        area_type: u8,
        /// Area or route id.
        area_id: u32,
        /// 0 in, 1 out.
        direction: u8,
    },
    /// 0x13: route segment driving time too short or too long.
    RouteTime {
        /// Route segment id.
        route_id: u32,
        /// Driving time in seconds.
        time_s: u16,
        /// 0 too short, 1 too long.
        result: u8,
    },
    /// 0x25: extended vehicle signal bits (lights, brake, reverse, ...).
    ExtSignals(u32),
    /// 0x2A: IO status bits (bit 0 deep sleep, bit 1 sleep).
    IoStatus(u16),
    /// 0x2B: analog inputs: bits 0-15 AD0, bits 16-31 AD1.
    Analog(u32),
    /// 0x30: wireless signal strength.
    SignalStrength(u8),
    /// 0x31: GNSS satellites in view.
    SatelliteCount(u8),
}

impl ItemValue {
    /// Decodes a standard item; `None` for other ids or non-standard lengths.
    #[inline]
    pub fn parse(id: u8, data: &[u8]) -> Option<ItemValue> {
        // Match on the length first: every standard item has one or two fixed lengths, and
        // fixed-size arrays make the field reads branch-free.
        match data.len() {
            1 => {
                let [v] = <[u8; 1]>::try_from(data).ok()?;
                match id {
                    0x11 => Some(ItemValue::OverspeedArea {
                        area_type: v,
                        area_id: None,
                    }),
                    0x30 => Some(ItemValue::SignalStrength(v)),
                    0x31 => Some(ItemValue::SatelliteCount(v)),
                    _ => None,
                }
            }
            2 => {
                let v = u16::from_be_bytes(<[u8; 2]>::try_from(data).ok()?);
                match id {
                    0x02 => Some(ItemValue::Fuel(v)),
                    0x03 => Some(ItemValue::RecorderSpeed(v)),
                    0x04 => Some(ItemValue::AlarmEventId(v)),
                    0x2A => Some(ItemValue::IoStatus(v)),
                    _ => None,
                }
            }
            4 => {
                let v = u32::from_be_bytes(<[u8; 4]>::try_from(data).ok()?);
                match id {
                    0x01 => Some(ItemValue::Mileage(v)),
                    0x25 => Some(ItemValue::ExtSignals(v)),
                    0x2B => Some(ItemValue::Analog(v)),
                    _ => None,
                }
            }
            5 if id == 0x11 => {
                let [area_type, a, b, c, d] = <[u8; 5]>::try_from(data).ok()?;
                Some(ItemValue::OverspeedArea {
                    area_type,
                    area_id: Some(u32::from_be_bytes([a, b, c, d])),
                })
            }
            6 if id == 0x12 => {
                let [area_type, a, b, c, d, direction] = <[u8; 6]>::try_from(data).ok()?;
                Some(ItemValue::AreaInOut {
                    area_type,
                    area_id: u32::from_be_bytes([a, b, c, d]),
                    direction,
                })
            }
            7 if id == 0x13 => {
                let [a, b, c, d, t1, t2, result] = <[u8; 7]>::try_from(data).ok()?;
                Some(ItemValue::RouteTime {
                    route_id: u32::from_be_bytes([a, b, c, d]),
                    time_s: u16::from_be_bytes([t1, t2]),
                    result,
                })
            }
            _ => None,
        }
    }

    /// The item id.
    pub const fn id(&self) -> u8 {
        match self {
            ItemValue::Mileage(_) => 0x01,
            ItemValue::Fuel(_) => 0x02,
            ItemValue::RecorderSpeed(_) => 0x03,
            ItemValue::AlarmEventId(_) => 0x04,
            ItemValue::OverspeedArea { .. } => 0x11,
            ItemValue::AreaInOut { .. } => 0x12,
            ItemValue::RouteTime { .. } => 0x13,
            ItemValue::ExtSignals(_) => 0x25,
            ItemValue::IoStatus(_) => 0x2A,
            ItemValue::Analog(_) => 0x2B,
            ItemValue::SignalStrength(_) => 0x30,
            ItemValue::SatelliteCount(_) => 0x31,
        }
    }

    /// Appends id, length and value.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u8(self.id());
        match *self {
            ItemValue::Mileage(v) | ItemValue::ExtSignals(v) | ItemValue::Analog(v) => {
                out.put_u8(4);
                out.put_u32(v);
            }
            ItemValue::Fuel(v)
            | ItemValue::RecorderSpeed(v)
            | ItemValue::AlarmEventId(v)
            | ItemValue::IoStatus(v) => {
                out.put_u8(2);
                out.put_u16(v);
            }
            ItemValue::OverspeedArea { area_type, area_id } => match area_id {
                Some(id) => {
                    out.put_u8(5);
                    out.put_u8(area_type);
                    out.put_u32(id);
                }
                None => {
                    out.put_u8(1);
                    out.put_u8(area_type);
                }
            },
            ItemValue::AreaInOut {
                area_type,
                area_id,
                direction,
            } => {
                out.put_u8(6);
                out.put_u8(area_type);
                out.put_u32(area_id);
                out.put_u8(direction);
            }
            ItemValue::RouteTime {
                route_id,
                time_s,
                result,
            } => {
                out.put_u8(7);
                out.put_u32(route_id);
                out.put_u16(time_s);
                out.put_u8(result);
            }
            ItemValue::SignalStrength(v) | ItemValue::SatelliteCount(v) => {
                out.put_u8(1);
                out.put_u8(v);
            }
        }
    }
}

/// One additional item as it sits in the body (id, borrowed value bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawItem<'a> {
    /// Item id.
    pub id: u8,
    /// Value bytes (the length byte is `data.len()`).
    pub data: &'a [u8],
}

impl RawItem<'_> {
    /// The decoded value for standard items with their standard length.
    #[inline]
    pub fn value(&self) -> Option<ItemValue> {
        ItemValue::parse(self.id, self.data)
    }
}

/// A malformed tail of the additional-item list: everything before it was kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ItemDefect {
    /// Offset of the bad item inside the body.
    pub offset: usize,
    /// The bad item's id.
    pub id: u8,
    /// Its declared length; `None` when the body ends right after the id byte.
    pub declared_len: Option<u8>,
    /// Value bytes actually left after the length byte.
    pub available: usize,
}

impl fmt::Display for ItemDefect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.declared_len {
            Some(len) => write!(
                f,
                "additional item 0x{:02X} at byte {} declares {} bytes, only {} left",
                self.id, self.offset, len, self.available
            ),
            None => write!(
                f,
                "additional item 0x{:02X} at byte {} has no length byte",
                self.id, self.offset
            ),
        }
    }
}

/// Iterates the additional items of a location body without allocating. Yields
/// `Err(ItemDefect)` once for a truncated item, then stops.
#[derive(Debug, Clone)]
pub struct ItemIter<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for ItemIter<'a> {
    type Item = Result<RawItem<'a>, ItemDefect>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let (&id, after_id) = self.rest.split_first()?;
        let offset = self.offset;
        let Some((&len, after_len)) = after_id.split_first() else {
            self.rest = &[];
            return Some(Err(ItemDefect {
                offset,
                id,
                declared_len: None,
                available: 0,
            }));
        };
        match after_len.split_at_checked(usize::from(len)) {
            Some((data, rest)) => {
                self.rest = rest;
                self.offset += 2 + data.len();
                Some(Ok(RawItem { id, data }))
            }
            None => {
                self.rest = &[];
                Some(Err(ItemDefect {
                    offset,
                    id,
                    declared_len: Some(len),
                    available: after_len.len(),
                }))
            }
        }
    }
}

/// A location body viewed in place: fixed fields parsed, items iterated lazily from the
/// borrowed bytes. No heap allocation.
#[derive(Debug, Clone, Copy)]
pub struct LocationRef<'a> {
    /// The 28-byte basic block.
    pub basic: LocationBasic,
    /// The additional-item bytes after the basic block.
    items: &'a [u8],
}

impl<'a> LocationRef<'a> {
    /// Parses the basic block; fails only if the body is shorter than 28 bytes.
    pub fn parse(body: &'a [u8]) -> Result<LocationRef<'a>, BodyError> {
        let basic = LocationBasic::parse(body)?;
        Ok(LocationRef {
            basic,
            items: body.get(BASIC_LEN..).unwrap_or_default(),
        })
    }

    /// The additional items in order.
    pub fn items(&self) -> ItemIter<'a> {
        ItemIter {
            rest: self.items,
            offset: BASIC_LEN,
        }
    }

    /// Collects into the owned form.
    pub fn to_owned_location(&self) -> Location {
        let mut items = Vec::new();
        let mut item_defect = None;
        for item in self.items() {
            match item {
                Ok(raw) => items.push(AdditionalItem::from_raw(raw)),
                Err(defect) => item_defect = Some(defect),
            }
        }
        Location {
            basic: self.basic,
            items,
            item_defect,
        }
    }
}

/// An additional item, owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AdditionalItem {
    /// A standard item with its standard length, decoded.
    Standard(ItemValue),
    /// Anything else (vendor items, 0x64-0x67 active-safety blocks, odd lengths), kept raw.
    Other {
        /// Item id.
        id: u8,
        /// Value bytes, at most 255.
        data: Vec<u8>,
    },
}

impl AdditionalItem {
    /// Converts a borrowed item, decoding standard ones.
    pub fn from_raw(raw: RawItem<'_>) -> AdditionalItem {
        match raw.value() {
            Some(value) => AdditionalItem::Standard(value),
            None => AdditionalItem::Other {
                id: raw.id,
                data: raw.data.to_vec(),
            },
        }
    }

    /// The item id.
    pub fn id(&self) -> u8 {
        match self {
            AdditionalItem::Standard(v) => v.id(),
            AdditionalItem::Other { id, .. } => *id,
        }
    }

    /// Appends id, length and value.
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            AdditionalItem::Standard(v) => v.encode(out),
            AdditionalItem::Other { id, data } => {
                let len = u8::try_from(data.len()).map_err(|_| EncodeError::FieldTooLong {
                    field: "additional item",
                    len: data.len(),
                    max: 255,
                })?;
                out.put_u8(*id);
                out.put_u8(len);
                out.put_slice(data);
            }
        }
        Ok(())
    }
}

/// A location report (0x0200 body), owned.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The 28-byte basic block.
    pub basic: LocationBasic,
    /// The additional items that parsed, in order.
    pub items: Vec<AdditionalItem>,
    /// A truncated item at the end of the list, if any (the items before it are kept).
    pub item_defect: Option<ItemDefect>,
}

impl Location {
    /// Decodes a 0x0200 body; only a body shorter than the basic block is an error.
    pub fn parse(body: &[u8]) -> Result<Location, BodyError> {
        LocationRef::parse(body).map(|view| view.to_owned_location())
    }

    /// Appends the basic block and the items (a defect is not re-encoded).
    pub fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        self.basic.encode(out);
        for item in &self.items {
            item.encode(out)?;
        }
        Ok(())
    }

    /// The first standard item matching `pick`.
    pub fn find<T>(&self, pick: impl Fn(&ItemValue) -> Option<T>) -> Option<T> {
        self.items.iter().find_map(|item| match item {
            AdditionalItem::Standard(v) => pick(v),
            AdditionalItem::Other { .. } => None,
        })
    }

    /// Odometer from item 0x01, in km.
    pub fn mileage_km(&self) -> Option<f64> {
        self.find(|v| match v {
            ItemValue::Mileage(raw) => Some(f64::from(*raw) / 10.0),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(hex: &str) -> Vec<u8> {
        hex::decode(hex).expect("test hex")
    }

    // Body of the SmallChi JT808_0x0200Test location with 0x01 and 0x02 items.
    const SMALLCHI_BODY: &str =
        "000000010000000200ba7f0e07e4f11c0028003c0000180715101010010400000064020200 37";

    #[test]
    fn basic_block_and_items() {
        let data = body(&SMALLCHI_BODY.replace(' ', ""));
        let view = LocationRef::parse(&data).expect("valid");
        assert_eq!(view.basic.alarm, AlarmFlags::SOS);
        assert!(view.basic.has_fix());
        assert_eq!(view.basic.lat(), 12.222222);
        assert_eq!(view.basic.lon(), 132.444444);
        assert_eq!(view.basic.speed_kmh(), 6.0);
        assert_eq!(view.basic.load(), LoadStatus::Empty);
        let items: Vec<_> = view.items().collect();
        assert_eq!(
            items,
            vec![
                Ok(RawItem {
                    id: 0x01,
                    data: &[0, 0, 0, 0x64]
                }),
                Ok(RawItem {
                    id: 0x02,
                    data: &[0, 0x37]
                }),
            ]
        );
        let owned = view.to_owned_location();
        assert_eq!(owned.mileage_km(), Some(10.0));
        let mut out = BytesMut::new();
        owned.encode(&mut out).expect("encodes");
        assert_eq!(out.as_ref(), data.as_slice());
    }

    #[test]
    fn truncated_item_keeps_position_and_good_items() {
        let mut data = body(&SMALLCHI_BODY.replace(' ', ""));
        // 0xF6 declares 4 bytes but only 2 follow.
        data.extend_from_slice(&[0xF6, 0x04, 0x14, 0x50]);
        let loc = Location::parse(&data).expect("basic block intact");
        assert_eq!(loc.items.len(), 2);
        let defect = loc.item_defect.expect("defect reported");
        assert_eq!(
            defect,
            ItemDefect {
                offset: 38,
                id: 0xF6,
                declared_len: Some(4),
                available: 2
            }
        );
        assert_eq!(
            defect.to_string(),
            "additional item 0xF6 at byte 38 declares 4 bytes, only 2 left"
        );
        // A lone id byte at the end.
        data.truncate(38);
        data.push(0xFB);
        let loc = Location::parse(&data).expect("basic block intact");
        assert_eq!(loc.item_defect.map(|d| d.declared_len), Some(None));
    }

    #[test]
    fn hemispheres_load_and_flags() {
        let basic = LocationBasic {
            alarm: AlarmFlags(0x2A5A),
            // west, south, full load, door locked
            status: StatusFlags((1 << 2) | (1 << 3) | (0b11 << 8) | (1 << 12)),
            lat_raw: 24_330_000,
            lon_raw: 109_420_000,
            altitude_m: 90,
            speed_raw: 355,
            direction: 270,
            time: BcdTime([0x24, 0x01, 0x02, 0x03, 0x04, 0x05]),
        };
        assert_eq!(basic.lat(), -24.33);
        assert_eq!(basic.lon(), -109.42);
        assert_eq!(basic.load(), LoadStatus::Full);
        assert_eq!(StatusFlags(1 << 8).load(), LoadStatus::Half);
        assert_eq!(StatusFlags(2 << 8).load(), LoadStatus::Reserved);
        assert_eq!(
            basic.alarm.names().collect::<Vec<_>>(),
            [
                "overspeed",
                "danger_warning",
                "gnss_fault",
                "gnss_antenna_short",
                "lcd_fault",
                "camera_fault",
                "overspeed_warning"
            ]
        );
        assert_eq!(
            basic.status.names().collect::<Vec<_>>(),
            ["south", "west", "door_locked"]
        );
        assert!(basic.alarm.contains(AlarmFlags::CAMERA_FAULT));
        assert!(!basic.alarm.contains(AlarmFlags::SOS));
    }

    #[test]
    fn standard_items_with_odd_lengths_stay_raw() {
        assert_eq!(ItemValue::parse(0x11, &[]), None);
        assert_eq!(ItemValue::parse(0x01, &[0, 1]), None);
        assert_eq!(
            ItemValue::parse(0x11, &[3]),
            Some(ItemValue::OverspeedArea {
                area_type: 3,
                area_id: None
            })
        );
        assert_eq!(ItemValue::parse(0xE1, &[1, 2, 3, 4]), None);
    }
}
