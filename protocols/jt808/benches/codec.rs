//! Codec speed. Targets (issue 2): decode a typical 0x0200 with four additional items in
//! about 100 ns (>= 10 M frames/s on one core, unescape and checksum included, no heap
//! allocation); encode an 0x8001 in under 30 ns.
//!
//! Run: `cargo bench -p jt808 --bench codec`

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jt808::{
    AdditionalItem, AlarmFlags, BcdTime, Decoded, Frame, FrameRef, GeneralResponse, ItemValue,
    Jt808Codec, Location, LocationBasic, LocationRef, Message, OutboundHeader, ParseOptions, Phone,
    StatusFlags, Version, encode_message,
};
use tokio_util::codec::Decoder;

/// A typical 0x0200 (2013 header) with mileage, fuel, signal and satellite items. With
/// `serial` 0x007E the header carries an escape, exercising the unescape path.
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

/// The hot path: frame checks, header, basic block, every item decoded.
fn decode_view(raw: &[u8], scratch: &mut Vec<u8>) -> u64 {
    let Ok(frame) = FrameRef::parse(raw, scratch, &ParseOptions::strict()) else {
        return 0;
    };
    let Ok(view) = LocationRef::parse(frame.body) else {
        return 0;
    };
    let mut acc =
        u64::from(view.basic.lat_raw ^ view.basic.lon_raw) + u64::from(frame.header.serial);
    for item in view.items().flatten() {
        match item.value() {
            Some(ItemValue::Mileage(v)) => acc += u64::from(v),
            Some(ItemValue::Fuel(v)) => acc += u64::from(v),
            Some(ItemValue::SignalStrength(v) | ItemValue::SatelliteCount(v)) => {
                acc += u64::from(v)
            }
            _ => acc += 1,
        }
    }
    acc
}

fn decode(c: &mut Criterion) {
    let plain = location_frame(1);
    let escaped = location_frame(0x007E);
    let mut group = c.benchmark_group("decode_0x0200_4_items");
    group.throughput(Throughput::Elements(1));
    let mut scratch = Vec::with_capacity(256);
    group.bench_function("view_no_escapes", |b| {
        b.iter(|| decode_view(black_box(&plain), &mut scratch))
    });
    group.bench_function("view_with_escape", |b| {
        b.iter(|| decode_view(black_box(&escaped), &mut scratch))
    });
    let raw = Bytes::from(plain.clone());
    group.bench_function("owned_frame_and_message", |b| {
        b.iter(|| {
            let frame = Frame::parse(black_box(raw.clone()), &ParseOptions::strict());
            frame.map(|f| f.message())
        })
    });
    group.finish();

    let frames = 1000usize;
    let stream: Vec<u8> = std::iter::repeat_n(plain, frames).flatten().collect();
    let mut group = c.benchmark_group("stream_decoder");
    group.throughput(Throughput::Elements(frames as u64));
    group.bench_function("0x0200_x1000", |b| {
        let mut codec = Jt808Codec::strict();
        let mut buf = BytesMut::with_capacity(stream.len());
        b.iter(|| {
            buf.extend_from_slice(&stream);
            let mut acc = 0u64;
            while let Ok(Some(item)) = codec.decode(&mut buf) {
                if let Decoded::Frame(f) = item
                    && let Ok(view) = LocationRef::parse(&f.body)
                {
                    acc += u64::from(view.basic.lat_raw);
                }
            }
            acc
        })
    });
    group.finish();
}

fn encode(c: &mut Criterion) {
    let header = OutboundHeader::new(
        Phone::parse("013912345678").expect("digits"),
        7,
        Version::V2013,
    );
    let ack = Message::PlatformResponse(GeneralResponse {
        reply_serial: 0x1234,
        reply_msg_id: 0x0200,
        result: 0,
    });
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(1));
    let mut out = BytesMut::with_capacity(256);
    group.bench_function("0x8001", |b| {
        b.iter(|| {
            out.clear();
            encode_message(black_box(&header), black_box(&ack), &mut out)
        })
    });
    group.finish();
}

criterion_group!(benches, decode, encode);
criterion_main!(benches);
