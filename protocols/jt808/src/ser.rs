//! JSON shape of decoded bodies (feature `serde`), as printed by `haulwatch decode`:
//! snake_case fields, ids as `"0x0200"` strings, coordinates in signed degrees, speeds in km/h,
//! times in RFC 3339 with `+08:00`, additional items keyed `"0x01"`.. (a repeated id gets
//! `"#2"`, `"#3"`, ... appended) holding the decoded value or the raw hex.

use std::fmt::Write as _;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::location::{AdditionalItem, ItemValue, Location, LocationBasic};
use crate::message::{Message, Parameter};
use crate::time::BcdTime;

/// Lowercase hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `0x0200`-style id text.
pub fn id_hex(id: u16) -> String {
    format!("0x{id:04X}")
}

fn time_json(time: &BcdTime) -> Option<String> {
    time.to_beijing().ok().map(|t| t.to_rfc3339())
}

fn put_time<M: SerializeMap>(map: &mut M, key: &str, time: &BcdTime) -> Result<(), M::Error> {
    match time_json(time) {
        Some(text) => map.serialize_entry(key, &text),
        None => {
            map.serialize_entry(key, &None::<String>)?;
            map.serialize_entry(&format!("{key}_raw"), &time.to_string())
        }
    }
}

fn put_basic<M: SerializeMap>(map: &mut M, basic: &LocationBasic) -> Result<(), M::Error> {
    map.serialize_entry("alarm", &basic.alarm.0)?;
    map.serialize_entry("status", &basic.status.0)?;
    map.serialize_entry("lat", &basic.lat())?;
    map.serialize_entry("lon", &basic.lon())?;
    map.serialize_entry("altitude_m", &basic.altitude_m)?;
    map.serialize_entry("speed_kmh", &basic.speed_kmh())?;
    map.serialize_entry("direction", &basic.direction)?;
    put_time(map, "time", &basic.time)?;
    map.serialize_entry("load", basic.load().as_str())
}

fn put_location<M: SerializeMap>(map: &mut M, location: &Location) -> Result<(), M::Error> {
    put_basic(map, &location.basic)?;
    map.serialize_entry("items", &Items(&location.items))?;
    map.serialize_entry(
        "alarm_bits",
        &location.basic.alarm.names().collect::<Vec<_>>(),
    )?;
    map.serialize_entry(
        "status_bits",
        &location.basic.status.names().collect::<Vec<_>>(),
    )?;
    if let Some(defect) = &location.item_defect {
        map.serialize_entry("item_error", &defect.to_string())?;
    }
    Ok(())
}

/// Key of the n-th item in a list: `0x01`, or `0x01#2` for the second 0x01.
pub fn item_key(items: &[AdditionalItem], index: usize) -> String {
    let Some(item) = items.get(index) else {
        return String::new();
    };
    let id = item.id();
    let earlier = items
        .iter()
        .take(index)
        .filter(|other| other.id() == id)
        .count();
    if earlier == 0 {
        format!("0x{id:02X}")
    } else {
        format!("0x{id:02X}#{}", earlier + 1)
    }
}

struct Items<'a>(&'a [AdditionalItem]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (index, item) in self.0.iter().enumerate() {
            let key = item_key(self.0, index);
            match item {
                AdditionalItem::Standard(value) => map.serialize_entry(&key, value)?,
                AdditionalItem::Other { data, .. } => map.serialize_entry(&key, &to_hex(data))?,
            }
        }
        map.end()
    }
}

impl Serialize for ItemValue {
    /// The value in display units, e.g. `{"mileage_km": 10.0}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match *self {
            ItemValue::Mileage(raw) => {
                map.serialize_entry("mileage_km", &(f64::from(raw) / 10.0))?
            }
            ItemValue::Fuel(raw) => map.serialize_entry("fuel_l", &(f64::from(raw) / 10.0))?,
            ItemValue::RecorderSpeed(raw) => {
                map.serialize_entry("speed_kmh", &(f64::from(raw) / 10.0))?
            }
            ItemValue::AlarmEventId(id) => map.serialize_entry("event_id", &id)?,
            ItemValue::OverspeedArea { area_type, area_id } => {
                map.serialize_entry("area_type", &area_type)?;
                if let Some(id) = area_id {
                    map.serialize_entry("area_id", &id)?;
                }
            }
            ItemValue::AreaInOut {
                area_type,
                area_id,
                direction,
            } => {
                map.serialize_entry("area_type", &area_type)?;
                map.serialize_entry("area_id", &area_id)?;
                map.serialize_entry("direction", &direction)?;
            }
            ItemValue::RouteTime {
                route_id,
                time_s,
                result,
            } => {
                map.serialize_entry("route_id", &route_id)?;
                map.serialize_entry("time_s", &time_s)?;
                map.serialize_entry("result", &result)?;
            }
            ItemValue::ExtSignals(bits) => map.serialize_entry("ext_signal", &bits)?,
            ItemValue::IoStatus(bits) => map.serialize_entry("io_status", &bits)?,
            ItemValue::Analog(raw) => {
                map.serialize_entry("analog", &raw)?;
                map.serialize_entry("ad0", &(raw & 0xFFFF))?;
                map.serialize_entry("ad1", &(raw >> 16))?;
            }
            ItemValue::SignalStrength(v) => map.serialize_entry("signal", &v)?,
            ItemValue::SatelliteCount(v) => map.serialize_entry("gnss_satellites", &v)?,
        }
        map.end()
    }
}

impl Serialize for Location {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        put_location(&mut map, self)?;
        map.end()
    }
}

struct Params<'a>(&'a [Parameter]);

impl Serialize for Params<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            seq.serialize_element(&Param(p))?;
        }
        seq.end()
    }
}

struct Param<'a>(&'a Parameter);

impl Serialize for Param<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &format!("0x{:04X}", self.0.id))?;
        map.serialize_entry("hex", &to_hex(&self.0.value))?;
        if let Some(v) = self.0.as_dword() {
            map.serialize_entry("dword", &v)?;
        }
        map.end()
    }
}

impl Serialize for Message {
    /// The body fields as one JSON object (the header is the caller's business).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        match self {
            Message::TerminalResponse(m) | Message::PlatformResponse(m) => {
                map.serialize_entry("reply_serial", &m.reply_serial)?;
                map.serialize_entry("reply_msg_id", &id_hex(m.reply_msg_id))?;
                map.serialize_entry("result", &m.result)?;
            }
            Message::Heartbeat
            | Message::Logout
            | Message::QueryServerTime
            | Message::QueryParameters
            | Message::QueryLocation => {}
            Message::Register(m) => {
                map.serialize_entry("province", &m.province)?;
                map.serialize_entry("city", &m.city)?;
                map.serialize_entry("maker_id", &m.maker_id)?;
                map.serialize_entry("model", &m.model)?;
                map.serialize_entry("terminal_id", &m.terminal_id)?;
                map.serialize_entry("plate_color", &m.plate_color)?;
                map.serialize_entry("plate", &m.plate)?;
            }
            Message::Auth(m) => {
                map.serialize_entry("auth_code", &m.auth_code)?;
                if let Some(imei) = &m.imei {
                    map.serialize_entry("imei", imei)?;
                }
                if let Some(version) = &m.software_version {
                    map.serialize_entry("software_version", version)?;
                }
            }
            Message::ParameterResponse(m) => {
                map.serialize_entry("reply_serial", &m.reply_serial)?;
                map.serialize_entry("count", &m.params.len())?;
                map.serialize_entry("params", &Params(&m.params))?;
            }
            Message::Location(m) => put_location(&mut map, m)?,
            Message::LocationResponse(m) => {
                map.serialize_entry("reply_serial", &m.reply_serial)?;
                put_location(&mut map, &m.location)?;
            }
            Message::LocationBatch(m) => {
                map.serialize_entry("type", &m.kind)?;
                let count = m
                    .defect
                    .as_ref()
                    .map_or(m.positions.len(), |d| usize::from(d.declared_count));
                map.serialize_entry("count", &count)?;
                map.serialize_entry("positions", &m.positions)?;
                if let Some(defect) = &m.defect {
                    map.serialize_entry("error", &defect.to_string())?;
                }
            }
            Message::MediaEvent(m) => {
                map.serialize_entry("media_id", &m.media_id)?;
                map.serialize_entry("media_type", &m.media_type)?;
                map.serialize_entry("format", &m.format)?;
                map.serialize_entry("event", &m.event)?;
                map.serialize_entry("channel", &m.channel)?;
            }
            Message::MediaData(m) => {
                map.serialize_entry("media_id", &m.event.media_id)?;
                map.serialize_entry("media_type", &m.event.media_type)?;
                map.serialize_entry("format", &m.event.format)?;
                map.serialize_entry("event", &m.event.event)?;
                map.serialize_entry("channel", &m.event.channel)?;
                map.serialize_entry("location", &BasicJson(&m.location))?;
                map.serialize_entry("data_len", &m.data.len())?;
            }
            Message::Passthrough(m) => {
                map.serialize_entry("type", &m.kind)?;
                map.serialize_entry("data", &to_hex(&m.data))?;
            }
            Message::ResendRequest(m) => {
                map.serialize_entry("original_serial", &m.original_serial)?;
                map.serialize_entry("count", &m.packet_ids.len())?;
                map.serialize_entry("packet_ids", &m.packet_ids)?;
            }
            Message::ServerTime(t) => put_time(&mut map, "time", t)?,
            Message::RegisterResponse(m) => {
                map.serialize_entry("reply_serial", &m.reply_serial)?;
                map.serialize_entry("result", &m.result)?;
                map.serialize_entry("auth_code", &m.auth_code)?;
            }
            Message::SetParameters(params) => {
                map.serialize_entry("count", &params.len())?;
                map.serialize_entry("params", &Params(params))?;
            }
            Message::TrackLocation(m) => {
                map.serialize_entry("interval_s", &m.interval_s)?;
                map.serialize_entry("validity_s", &m.validity_s)?;
            }
            Message::TextMessage(m) => {
                map.serialize_entry("flags", &m.flags)?;
                if let Some(kind) = m.text_type {
                    map.serialize_entry("text_type", &kind)?;
                }
                map.serialize_entry("text", &m.text)?;
            }
            Message::MediaUploadAck(m) => {
                map.serialize_entry("media_id", &m.media_id)?;
                map.serialize_entry("count", &m.retransmit_ids.len())?;
                map.serialize_entry("retransmit_ids", &m.retransmit_ids)?;
            }
            Message::Unknown { body, .. } => map.serialize_entry("raw", &to_hex(body))?,
        }
        map.end()
    }
}

struct BasicJson<'a>(&'a LocationBasic);

impl Serialize for BasicJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        put_basic(&mut map, self.0)?;
        map.end()
    }
}
