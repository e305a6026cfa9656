//! The hot paths do not touch the heap: decoding a location frame through the borrowed view
//! (unescape, checksum, header, basic block, items) and encoding an 0x8001 into a reused
//! buffer. The stream decoder allocates only a bounded number of times, not per frame.

use std::hint::black_box;

use bytes::BytesMut;
use jt808::{
    AdditionalItem, AlarmFlags, BcdTime, Decoded, FrameRef, GeneralResponse, ItemValue, Jt808Codec,
    Location, LocationBasic, LocationRef, Message, OutboundHeader, ParseOptions, Phone,
    StatusFlags, Version, encode_message,
};
use tokio_util::codec::Decoder;

/// A typical 0x0200 with four items; `serial` 0x007E forces an escape in the header.
fn location_frame(serial: u16) -> Vec<u8> {
    let location = Location {
        basic: LocationBasic {
            alarm: AlarmFlags(0),
            status: StatusFlags(0x000C_0003),
            lat_raw: 24_325_120,
            lon_raw: 109_411_530,
            altitude_m: 92,
            speed_raw: 356,
            direction: 181,
            time: BcdTime([0x24, 0x05, 0x17, 0x09, 0x30, 0x12]),
        },
        items: vec![
            AdditionalItem::Standard(ItemValue::Mileage(123_456)),
            AdditionalItem::Standard(ItemValue::Fuel(875)),
            AdditionalItem::Standard(ItemValue::SignalStrength(27)),
            AdditionalItem::Standard(ItemValue::SatelliteCount(14)),
        ],
        item_defect: None,
    };
    let header = OutboundHeader::new(
        Phone::parse("013912345678").expect("digits"),
        serial,
        Version::V2013,
    );
    let mut out = BytesMut::new();
    encode_message(&header, &Message::Location(location), &mut out).expect("encodes");
    out.to_vec()
}

fn decode_view(raw: &[u8], scratch: &mut Vec<u8>) -> u64 {
    let frame = FrameRef::parse(raw, scratch, &ParseOptions::strict()).expect("valid");
    let view = LocationRef::parse(frame.body).expect("location");
    let mut sum = u64::from(view.basic.lat_raw) + u64::from(frame.header.serial);
    for item in view.items() {
        if let Some(ItemValue::Mileage(m)) = item.expect("well-formed").value() {
            sum += u64::from(m);
        }
    }
    sum
}

#[test]
fn location_view_decode_does_not_allocate() {
    for serial in [1, 0x007E] {
        let raw = location_frame(serial);
        let mut scratch = Vec::with_capacity(256);
        let info = allocation_counter::measure(|| {
            for _ in 0..1000 {
                black_box(decode_view(black_box(&raw), &mut scratch));
            }
        });
        assert_eq!(info.count_total, 0, "serial {serial:#x}");
    }
}

#[test]
fn encoding_a_general_response_does_not_allocate() {
    let header = OutboundHeader::new(
        Phone::parse("013912345678").expect("digits"),
        7,
        Version::V2013,
    );
    let message = Message::PlatformResponse(GeneralResponse {
        reply_serial: 0x7E7D,
        reply_msg_id: 0x0200,
        result: 0,
    });
    let mut out = BytesMut::with_capacity(256);
    let info = allocation_counter::measure(|| {
        for _ in 0..1000 {
            out.clear();
            encode_message(&header, black_box(&message), &mut out).expect("encodes");
        }
    });
    assert_eq!(info.count_total, 0);
    assert!(
        hex::encode(&out).contains("7d027d01"),
        "escapes were written"
    );
}

#[test]
fn stream_decoder_does_not_allocate_per_frame() {
    let frame = location_frame(1);
    let frames = 1000;
    let stream: Vec<u8> = std::iter::repeat_n(frame, frames).flatten().collect();
    let mut codec = Jt808Codec::strict();
    let mut buf = BytesMut::with_capacity(stream.len());
    let mut decoded = 0;
    let info = allocation_counter::measure(|| {
        buf.extend_from_slice(&stream);
        while let Some(item) = codec.decode(&mut buf).expect("never errors") {
            if let Decoded::Frame(f) = item {
                black_box(LocationRef::parse(&f.body).expect("location").basic.lat());
                decoded += 1;
            }
        }
    });
    assert_eq!(decoded, frames);
    assert!(info.count_total <= 4, "{} allocations", info.count_total);
}

/// Control: the counter does see allocations (the owned decode collects items into a Vec).
#[test]
fn owned_decode_is_counted() {
    let raw = bytes::Bytes::from(location_frame(1));
    let info = allocation_counter::measure(|| {
        let frame = jt808::Frame::parse(raw.clone(), &ParseOptions::strict()).expect("valid");
        black_box(frame.message().expect("decodes"));
    });
    assert!(info.count_total >= 1);
}
