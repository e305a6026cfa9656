//! From a 0x0200 body (alone, in a 0x0704 batch or in a 0x0201 answer) to the domain
//! [`Position`]: signed WGS-84 degrees, UTC time, km/h, sensors read through the terminal
//! model's profile.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use jt808::{BodyError, ItemValue, LocationRef};

use super::sensors::SensorProfile;
use crate::model::{Position, PositionFlags, PositionSource, next_position_id};

/// Who sent a position, resolved once per connection.
#[derive(Debug, Clone)]
pub struct Sender {
    /// Terminal phone as sent (BCD digits, leading zeros kept).
    pub phone: String,
    /// Bound vehicle, if any.
    pub vehicle_id: Option<String>,
    /// Sensor profile of the terminal's model.
    pub profile: SensorProfile,
}

/// Builds a position from a 0x0200 body. Fails only when the body is shorter than the 28-byte
/// basic block; a malformed additional item keeps the basic block and the items before it.
pub fn position_from_body(
    body: &[u8],
    sender: &Sender,
    raw_frame: &Bytes,
    received_at: DateTime<Utc>,
    source: PositionSource,
) -> Result<Position, BodyError> {
    let view = LocationRef::parse(body)?;
    let basic = &view.basic;
    let mut flags = PositionFlags::default();
    let time = basic.time.to_utc().unwrap_or_else(|_| {
        flags.set(PositionFlags::BAD_TIME);
        received_at
    });
    let item = |id: u8| {
        view.items()
            .map_while(Result::ok)
            .find(|item| item.id == id)
            .map(|item| item.data)
    };
    let reading = sender.profile.read(basic.status.0, item);
    let mileage_km = view
        .items()
        .map_while(Result::ok)
        .find_map(|item| match item.value() {
            Some(ItemValue::Mileage(raw)) => Some(f64::from(raw) / 10.0),
            _ => None,
        });
    Ok(Position {
        id: next_position_id(),
        phone: sender.phone.clone(),
        vehicle_id: sender.vehicle_id.clone(),
        time,
        received_at,
        lat: basic.lat(),
        lon: basic.lon(),
        // Some devices send negative altitudes as signed words.
        altitude_m: i32::from(basic.altitude_m as i16),
        speed_kmh: basic.speed_kmh(),
        heading: basic.direction,
        alarm: basic.alarm.0,
        status: basic.status.0,
        load: reading.load,
        lift_up: reading.lift_up,
        lid_open: reading.lid_open,
        weight_kg: reading.weight_kg,
        mileage_km,
        source,
        flags,
        raw: raw_frame.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LoadState;
    use bytes::BytesMut;
    use jt808::{AdditionalItem, BcdTime, Location, LocationBasic};

    fn body(status: u32, time: BcdTime, items: Vec<AdditionalItem>) -> Vec<u8> {
        let location = Location {
            basic: LocationBasic {
                alarm: jt808::AlarmFlags(0),
                status: jt808::StatusFlags(status),
                lat_raw: 24_324_050,
                lon_raw: 109_406_980,
                altitude_m: 0xFFF6, // -10 m as a signed word
                speed_raw: 456,
                direction: 90,
                time,
            },
            items,
            item_defect: None,
        };
        let mut out = BytesMut::new();
        location.encode(&mut out).expect("encode");
        out.to_vec()
    }

    fn sender(profile: SensorProfile) -> Sender {
        Sender {
            phone: "013800000001".into(),
            vehicle_id: Some("V1".into()),
            profile,
        }
    }

    #[test]
    fn converts_units_time_and_sensors() {
        // 2026-11-23 10:00:00 Beijing = 02:00:00 UTC.
        let time = BcdTime([0x26, 0x11, 0x23, 0x10, 0x00, 0x00]);
        let weight = AdditionalItem::Other {
            id: 0xE1,
            data: vec![0, 0, 0x3A, 0x98],
        };
        let mileage = AdditionalItem::Standard(ItemValue::Mileage(12345));
        let status = 0b10 | (0b11 << 8) | (1 << 15);
        let data = body(status, time, vec![mileage, weight]);
        let received: DateTime<Utc> = "2026-11-23T02:00:05Z".parse().expect("time");
        let p = position_from_body(
            &data,
            &sender(SensorProfile::smart_muck_truck()),
            &Bytes::from_static(b"raw"),
            received,
            PositionSource::Live,
        )
        .expect("position");
        assert_eq!(
            p.time,
            "2026-11-23T02:00:00Z".parse::<DateTime<Utc>>().expect("t")
        );
        assert_eq!((p.lat, p.lon), (24.32405, 109.40698));
        assert_eq!(p.altitude_m, -10);
        assert_eq!(p.speed_kmh, 45.6);
        assert_eq!(p.load, LoadState::Full);
        assert_eq!(p.lift_up, Some(true));
        assert_eq!(p.lid_open, Some(false));
        assert_eq!(p.weight_kg, Some(15_000.0));
        assert_eq!(p.mileage_km, Some(1234.5));
        assert!(p.flags.usable());
        assert_eq!(&p.raw[..], b"raw");
    }

    #[test]
    fn bad_time_and_truncated_item_keep_the_position() {
        let bad_time = BcdTime([0x26, 0x13, 0x45, 0x99, 0x00, 0x00]);
        let mut data = body(0b10, bad_time, vec![]);
        // A vendor item whose length runs past the end of the body.
        data.extend_from_slice(&[0xE1, 0x10, 0x01]);
        let received: DateTime<Utc> = "2026-11-23T02:00:05Z".parse().expect("time");
        let p = position_from_body(
            &data,
            &sender(SensorProfile::default()),
            &Bytes::new(),
            received,
            PositionSource::BlindArea,
        )
        .expect("position kept");
        assert!(p.flags.has(PositionFlags::BAD_TIME));
        assert_eq!(p.time, received);
        assert_eq!(p.source, PositionSource::BlindArea);
        assert!(
            position_from_body(
                &data[..20],
                &sender(SensorProfile::default()),
                &Bytes::new(),
                received,
                PositionSource::Live
            )
            .is_err()
        );
    }
}
