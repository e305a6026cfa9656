//! Every frame of `tests/data/vectors.jsonl` (a copy of `shared/jt808/vectors.jsonl`: real
//! frames from SmallChi/JT808 and yezhihao/jt808-server test suites) decoded and compared with
//! the vector's `expect`, field by field. One test per vector; the comment above each names the
//! vector's `source`, and each test checks that its name matches that source.
//!
//! The vectors describe decodes in their own conventions (BCD time text, raw and scaled values,
//! `alarm_hex`, item `len`/`hex`/`value`); `frame_json` below renders our typed decode in those
//! conventions so the whole `expect` object can be compared.

use bytes::{Bytes, BytesMut};
use jt808::{
    AdditionalItem, Decoded, Frame, FrameError, Header, Jt808Codec, Location, Message,
    ParseOptions, Version,
};
use serde_json::{Map, Value, json};
use tokio_util::codec::Decoder;

const VECTORS: &str = include_str!("data/vectors.jsonl");

fn vectors() -> Vec<Value> {
    VECTORS
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).expect("vector line is JSON"))
        .collect()
}

fn vector(index: usize) -> Value {
    vectors().into_iter().nth(index).expect("vector index")
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn header_json(h: &Header) -> Value {
    let mut m = Map::new();
    m.insert("msg_id".into(), json!(format!("0x{:04X}", h.msg_id)));
    m.insert("props".into(), json!(format!("0x{:04X}", h.props.0)));
    m.insert("body_len".into(), json!(h.props.body_len()));
    m.insert("encryption".into(), json!(h.props.encryption()));
    m.insert("subpackage".into(), json!(h.props.is_subpackaged()));
    m.insert("version_flag".into(), json!(h.props.version_flag()));
    m.insert("reserved_bit15".into(), json!(h.props.reserved_bit15()));
    if h.version == Version::V2019 {
        m.insert("protocol_version".into(), json!(h.protocol_version));
    }
    m.insert("phone".into(), json!(h.phone.as_str()));
    m.insert("serial".into(), json!(h.serial));
    if let Some(p) = h.packet {
        m.insert("packet_total".into(), json!(p.total));
        m.insert("packet_index".into(), json!(p.index));
    }
    if h.layout_quirk {
        m.insert("layout_forced".into(), json!(h.version.as_str()));
    }
    Value::Object(m)
}

fn location_json(l: &Location) -> Map<String, Value> {
    let b = &l.basic;
    let mut items = Map::new();
    for (index, item) in l.items.iter().enumerate() {
        let mut encoded = BytesMut::new();
        item.encode(&mut encoded).expect("item re-encodes");
        let data = encoded.get(2..).unwrap_or_default();
        let mut entry = Map::new();
        entry.insert("len".into(), json!(data.len()));
        entry.insert("hex".into(), json!(hex::encode(data)));
        if let AdditionalItem::Standard(value) = item {
            entry.insert(
                "value".into(),
                serde_json::to_value(value).expect("value serialises"),
            );
        }
        items.insert(jt808::ser::item_key(&l.items, index), Value::Object(entry));
    }
    let mut m = Map::new();
    m.insert("alarm".into(), json!(b.alarm.0));
    m.insert("alarm_hex".into(), json!(format!("0x{:08X}", b.alarm.0)));
    m.insert(
        "alarm_bits".into(),
        json!(b.alarm.names().collect::<Vec<_>>()),
    );
    m.insert("status".into(), json!(b.status.0));
    m.insert("status_hex".into(), json!(format!("0x{:08X}", b.status.0)));
    m.insert(
        "status_bits".into(),
        json!(b.status.names().collect::<Vec<_>>()),
    );
    m.insert("load".into(), json!(b.load().as_str()));
    m.insert("lat_raw".into(), json!(b.lat_raw));
    m.insert("lon_raw".into(), json!(b.lon_raw));
    m.insert("lat".into(), json!(b.lat()));
    m.insert("lon".into(), json!(b.lon()));
    m.insert("altitude_m".into(), json!(b.altitude_m));
    m.insert("speed_raw".into(), json!(b.speed_raw));
    m.insert("speed_kmh".into(), json!(b.speed_kmh()));
    m.insert("direction".into(), json!(b.direction));
    m.insert("time".into(), json!(b.time.to_string()));
    m.insert("items".into(), Value::Object(items));
    m
}

fn body_json(msg: &Message) -> Value {
    match msg {
        Message::TerminalResponse(m) | Message::PlatformResponse(m) => json!({
            "reply_serial": m.reply_serial,
            "reply_msg_id": format!("0x{:04X}", m.reply_msg_id),
            "result": m.result,
        }),
        Message::Heartbeat | Message::Logout => json!({}),
        Message::Register(m) => json!({
            "province": m.province,
            "city": m.city,
            "layout": m.layout.as_str(),
            "maker_id": m.maker_id,
            "model": m.model,
            "terminal_id": m.terminal_id,
            "plate_color": m.plate_color,
            "plate": m.plate,
        }),
        Message::Auth(m) => {
            let mut o = Map::new();
            o.insert("auth_code".into(), json!(m.auth_code));
            if let Some(imei) = &m.imei {
                o.insert("imei".into(), json!(imei));
            }
            if let Some(v) = &m.software_version {
                o.insert("software_version".into(), json!(v));
            }
            Value::Object(o)
        }
        Message::Location(l) => Value::Object(location_json(l)),
        Message::LocationResponse(r) => {
            let mut o = location_json(&r.location);
            o.insert("reply_serial".into(), json!(r.reply_serial));
            Value::Object(o)
        }
        Message::LocationBatch(b) => {
            assert_eq!(b.defect, None, "batch decoded completely");
            json!({
                "count": b.positions.len(),
                "type": b.kind,
                "positions": b.positions.iter().map(|l| Value::Object(location_json(l))).collect::<Vec<_>>(),
            })
        }
        Message::ResendRequest(r) => json!({
            "orig_serial": r.original_serial,
            "count": r.packet_ids.len(),
            "ids": r.packet_ids,
        }),
        Message::RegisterResponse(r) => json!({
            "reply_serial": r.reply_serial,
            "result": r.result,
            "auth_code": r.auth_code,
        }),
        Message::ServerTime(t) => json!({ "time": t.to_string() }),
        other => panic!("no vector convention for {other:?}"),
    }
}

/// Our decode of `frame` in the vector's conventions, with `body` or `body_hex` as `expect`
/// has it.
fn frame_json(frame: &Frame, expect: &Value) -> Value {
    let mut m = Map::new();
    m.insert("header".into(), header_json(&frame.header));
    m.insert(
        "checksum".into(),
        json!(format!("0x{:02X}", frame.checksum)),
    );
    m.insert("checksum_ok".into(), json!(frame.checksum_ok));
    if expect.get("body_hex").is_some() {
        m.insert("body_hex".into(), json!(hex::encode(&frame.body)));
    } else {
        let message = frame.message().expect("body decodes");
        m.insert("body".into(), body_json(&message));
    }
    Value::Object(m)
}

/// Compares JSON values: objects must have the same keys, numbers agree to 1e-9.
fn assert_same(actual: &Value, expected: &Value, path: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            let mut a_keys: Vec<_> = a.keys().collect();
            let mut e_keys: Vec<_> = e.keys().collect();
            a_keys.sort();
            e_keys.sort();
            assert_eq!(a_keys, e_keys, "keys of {path}");
            for (key, e_value) in e {
                let a_value = a.get(key).expect("key present");
                assert_same(a_value, e_value, &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            assert_eq!(a.len(), e.len(), "length of {path}");
            for (i, (a, e)) in a.iter().zip(e).enumerate() {
                assert_same(a, e, &format!("{path}[{i}]"));
            }
        }
        (Value::Number(a), Value::Number(e)) => {
            let (a, e) = (
                a.as_f64().unwrap_or(f64::NAN),
                e.as_f64().unwrap_or(f64::NAN),
            );
            assert!(
                (a - e).abs() <= 1e-9 * e.abs().max(1.0),
                "{path}: got {a}, expected {e}"
            );
        }
        _ => assert_eq!(actual, expected, "{path}"),
    }
}

/// Decodes `raw` through the stream decoder too, which must agree with `Frame::parse`.
fn stream_decode(raw: &[u8], lenient: bool) -> Vec<Decoded> {
    let mut codec = if lenient {
        Jt808Codec::lenient()
    } else {
        Jt808Codec::strict()
    };
    let mut buf = BytesMut::from(raw);
    let mut out = Vec::new();
    while let Some(item) = codec.decode_eof(&mut buf).expect("decoder never fails") {
        out.push(item);
    }
    out
}

fn check_vector(index: usize, test_name: &str) {
    let v = vector(index);
    let source = str_field(&v, "source");
    let repo = source.split('/').next().unwrap_or_default().to_lowercase();
    assert!(
        test_name.contains(&repo),
        "test {test_name} must be named after its source {source}"
    );
    let raw = Bytes::from(hex::decode(str_field(&v, "hex")).expect("vector hex"));
    let expect = v.get("expect").expect("expect");
    let strict = Frame::parse(raw.clone(), &ParseOptions::strict());

    if let Some(error) = expect.get("error").and_then(Value::as_str) {
        check_rejected(&v, error, strict, raw);
        return;
    }

    let lenient_needed = flag(&v, "skip_crc") || flag(&v, "lenient");
    let frame = if lenient_needed {
        let expected_checksum = str_field(expect, "checksum");
        match &strict {
            Err(FrameError::ChecksumMismatch { received, .. }) => {
                assert_eq!(format!("0x{received:02X}"), expected_checksum);
            }
            Err(FrameError::DanglingEscape) => {}
            other => panic!("strict decode must reject this vector, got {other:?}"),
        }
        Frame::parse(raw.clone(), &ParseOptions::lenient()).expect("lenient decode")
    } else {
        strict.expect("strict decode")
    };
    assert_eq!(frame.raw, raw, "raw bytes kept as received");
    assert_same(&frame_json(&frame, expect), expect, "expect");

    // The stream decoder yields the same frame.
    let items = stream_decode(&raw, lenient_needed);
    assert_eq!(items, vec![Decoded::Frame(frame.clone())]);

    // Re-encoding the decoded body under the same header gives the body back (real-world
    // round trip), for every typed, single-packet message.
    if frame.header.packet.is_none()
        && let Ok(message) = frame.message()
    {
        let mut body = BytesMut::new();
        message
            .encode_body(frame.header.version, &mut body)
            .expect("re-encodes");
        assert_eq!(
            hex::encode(&body),
            hex::encode(&frame.body),
            "body round trip"
        );
    }
}

/// A vector that a strict decoder must reject. `decoder_said` looks like
/// `bad checksum: got 65 want b5`; leniently the location must still decode, with the
/// malformed item reported.
fn check_rejected(v: &Value, error: &str, strict: Result<Frame, FrameError>, raw: Bytes) {
    let said = v
        .pointer("/expect/decoder_said")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let words: Vec<&str> = said.split_whitespace().collect();
    let hex_after = |word: &str| -> u8 {
        let at = words
            .iter()
            .position(|w| *w == word)
            .expect("word in decoder_said");
        u8::from_str_radix(words.get(at + 1).expect("value"), 16).expect("hex byte")
    };
    assert_eq!(
        strict.map(|f| f.header),
        Err(FrameError::ChecksumMismatch {
            computed: hex_after("want"),
            received: hex_after("got"),
        })
    );
    let items = stream_decode(&raw, false);
    assert!(
        matches!(items.as_slice(), [Decoded::Rejected(r)] if r.raw == raw && r.error.kind() == "checksum"),
        "stream decoder reports the rejection: {items:?}"
    );

    // Leniently: the basic block survives and the bad item is reported.
    let frame = Frame::parse(raw, &ParseOptions::lenient()).expect("lenient decode");
    let Ok(Message::Location(location)) = frame.message() else {
        panic!("location expected");
    };
    let defect = location.item_defect.expect("item defect reported");
    let id_at = error.find("item 0x").expect("item id in error") + "item 0x".len();
    let id = u8::from_str_radix(error.get(id_at..id_at + 2).expect("id"), 16).expect("hex id");
    assert_eq!(defect.id, id, "{error}");
    if let Some(at) = error.find("declares ") {
        let nums: Vec<usize> = error[at..]
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect();
        assert_eq!(
            (defect.declared_len.map(usize::from), defect.available),
            (
                nums.first().copied(),
                nums.get(1).copied().unwrap_or(usize::MAX)
            ),
            "{error}"
        );
    }
    assert!(!location.items.is_empty(), "good items kept");
}

macro_rules! vector_tests {
    ($($(#[$doc:meta])* $name:ident => $index:expr,)*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                check_vector($index, stringify!($name));
            }
        )*

        #[test]
        fn every_vector_has_a_test() {
            let tested = [$($index),*];
            assert_eq!(tested.len(), vectors().len());
            for (expected, index) in tested.iter().enumerate() {
                assert_eq!(*index, expected);
            }
        }
    };
}

vector_tests! {
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0001Test.cs (@c9552b0)
    v00_smallchi_jt808_0x0001test_0x0001_2013 => 0,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0002Test.cs (@c9552b0)
    v01_smallchi_jt808_0x0002test_0x0002_2013 => 1,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0002Test.cs (@c9552b0)
    v02_smallchi_jt808_0x0002test_0x0002_2013 => 2,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0003Test.cs (@c9552b0)
    v03_smallchi_jt808_0x0003test_0x0003_2013 => 3,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0102Test.cs (@c9552b0)
    v04_smallchi_jt808_0x0102test_0x0102_2013 => 4,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0100Test.cs (@c9552b0)
    v05_smallchi_jt808_0x0100test_0x0100_2013 => 5,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0100Test.cs (@c9552b0)
    v06_smallchi_jt808_0x0100test_0x0100_2019 => 6,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0100Test.cs (@c9552b0)
    v07_smallchi_jt808_0x0100test_0x0100_2019 => 7,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0100Test.cs (@c9552b0)
    v08_smallchi_jt808_0x0100test_0x0100_2011 => 8,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0200Test.cs (@c9552b0)
    v09_smallchi_jt808_0x0200test_0x0200_2013 => 9,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0200Test.cs (@c9552b0)
    v10_smallchi_jt808_0x0200test_0x0200_2013 => 10,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo2.cs (@c9552b0)
    v11_smallchi_demo2_0x0200_2013 => 11,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo3.cs (@c9552b0)
    v12_smallchi_demo3_0x0200_2013 => 12,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0200Test.cs (@c9552b0)
    v13_smallchi_jt808_0x0200test_0x0200_2013 => 13,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0200Test.cs (@c9552b0)
    v14_smallchi_jt808_0x0200test_0x0200_2013 => 14,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0200Test.cs (@c9552b0)
    v15_smallchi_jt808_0x0200test_0x0200_2013 => 15,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0200Test.cs (@c9552b0)
    v16_smallchi_jt808_0x0200test_0x0200_2013 => 16,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0704Test.cs (@c9552b0)
    v17_smallchi_jt808_0x0704test_0x0704_2013 => 17,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo14.cs (@c9552b0)
    v18_smallchi_demo14_0x0102_2013 => 18,
    /// SmallChi/JT808:src/JT808.Protocol.Test/MessageBody/JT808_0x0200Test.cs (@c9552b0)
    v19_smallchi_jt808_0x0200test_0x0200_2013 => 19,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo7.cs (@c9552b0)
    v20_smallchi_demo7_0x8004_2019 => 20,
    /// SmallChi/JT808:src/JT808.Protocol.Test/JT808HeaderPackageTest.cs (@c9552b0)
    v21_smallchi_jt808headerpackagetest_0x1205_2013 => 21,
    /// SmallChi/JT808:src/JT808.Protocol.Test/JT808HeaderPackageTest.cs (@c9552b0)
    v22_smallchi_jt808headerpackagetest_0x1205_2013 => 22,
    /// SmallChi/JT808:src/JT808.Protocol.Test/JT808SerializerTest.cs (@c9552b0)
    v23_smallchi_jt808serializertest_0x0104_2013 => 23,
    /// SmallChi/JT808:src/JT808.Protocol.Test/JT808SerializerTest.cs (@c9552b0)
    v24_smallchi_jt808serializertest_0x0104_2013 => 24,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v25_smallchi_demo5_0x0801_2013 => 25,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v26_smallchi_demo5_0x0801_2013 => 26,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v27_smallchi_demo5_0x0801_2013 => 27,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v28_smallchi_demo5_0x0801_2013 => 28,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v29_smallchi_demo5_0x0801_2013 => 29,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v30_smallchi_demo5_0x0801_2013 => 30,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v31_smallchi_demo5_0x0801_2013 => 31,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v32_smallchi_demo5_0x0801_2013 => 32,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v33_smallchi_demo5_0x0801_2013 => 33,
    /// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0)
    v34_smallchi_demo5_0x0801_2013 => 34,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v35_yezhihao_unit_test_record_0x8001_2013 => 35,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v36_yezhihao_unit_test_record_0x8001_2019 => 36,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v37_yezhihao_unit_test_record_0x0002_2013 => 37,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v38_yezhihao_unit_test_record_0x0002_2019 => 38,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v39_yezhihao_unit_test_record_0x0100_2013 => 39,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v40_yezhihao_unit_test_record_0x0100_2019 => 40,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v41_yezhihao_unit_test_record_0x0102_2013 => 41,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v42_yezhihao_unit_test_record_0x0102_2019 => 42,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v43_yezhihao_unit_test_record_0x0200_2013 => 43,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v44_yezhihao_unit_test_record_0x0200_2019 => 44,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v45_yezhihao_unit_test_record_0x0704_2013 => 45,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v46_yezhihao_unit_test_record_0x0704_2019 => 46,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v47_yezhihao_unit_test_record_0x8003_2013 => 47,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v48_yezhihao_unit_test_record_0x8003_2019 => 48,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v49_yezhihao_unit_test_record_0x8100_2013 => 49,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v50_yezhihao_unit_test_record_0x8100_2019 => 50,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v51_yezhihao_unit_test_record_0x0201_2013 => 51,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v52_yezhihao_unit_test_record_0x0201_2019 => 52,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v53_yezhihao_unit_test_record_0x0200_2013 => 53,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/单元测试记录.txt (@309beff)
    v54_yezhihao_unit_test_record_0x0200_2019 => 54,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/JT808.txt (@309beff)
    v55_yezhihao_jt808_0x0800_2019 => 55,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/JT808.txt (@309beff)
    v56_yezhihao_jt808_0x0001_2013 => 56,
    /// yezhihao/jt808-server:jtt808-protocol/src/test/resources/JT808.txt (@309beff)
    v57_yezhihao_jt808_0x0001_2019 => 57,
}

/// The subpackaged sets (`group` in the vectors) reassemble, in either order, to
/// `group_expect.reassembled_len` bytes, and the joined body decodes.
fn reassemble_group(group: &str) -> (Vec<Frame>, usize) {
    let members: Vec<Value> = vectors()
        .into_iter()
        .filter(|v| str_field(v, "group") == group)
        .collect();
    let expected_len = members
        .first()
        .and_then(|v| v.pointer("/group_expect/reassembled_len"))
        .and_then(Value::as_u64)
        .expect("group_expect") as usize;
    let frames = members
        .iter()
        .map(|v| {
            let raw = Bytes::from(hex::decode(str_field(v, "hex")).expect("hex"));
            Frame::parse(raw, &ParseOptions::lenient()).expect("lenient decode")
        })
        .collect();
    (frames, expected_len)
}

fn join(frames: &[&Frame]) -> jt808::Reassembled {
    let now = std::time::Instant::now();
    let mut r = jt808::Reassembler::new(jt808::ReassemblyConfig::default());
    let mut done = None;
    for (i, f) in frames.iter().enumerate() {
        match r.push(&f.header, f.body.clone(), now).expect("accepted") {
            jt808::PushOutcome::Complete(set) => {
                assert_eq!(i + 1, frames.len(), "complete only after the last packet");
                done = Some(set);
            }
            jt808::PushOutcome::Pending { received, total } => {
                assert_eq!(usize::from(received), i + 1);
                assert_eq!(usize::from(total), frames.len());
            }
        }
    }
    done.expect("complete")
}

fn check_group(group: &str) -> jt808::Reassembled {
    let (frames, expected_len) = reassemble_group(group);
    let forward: Vec<&Frame> = frames.iter().collect();
    let backward: Vec<&Frame> = frames.iter().rev().collect();
    let a = join(&forward);
    let b = join(&backward);
    assert_eq!(a.body.len(), expected_len);
    assert_eq!(a, b, "order does not matter");
    let first = frames.first().expect("packets");
    assert_eq!(a.original_serial, first.header.serial);
    a
}

/// SmallChi/JT808:src/JT808.Protocol.Test/JT808SerializerTest.cs (@c9552b0): 0x0104 in two
/// packets with serials 0x04D1 and 0x04E2.
#[test]
fn group_smallchi_0104_parameter_response() {
    let set = check_group("smallchi_0104");
    let Ok(Message::ParameterResponse(resp)) = set.message() else {
        panic!("0x0104 expected");
    };
    assert_eq!(resp.params.len(), 0x6B);
    let first = resp.params.first().expect("params");
    assert_eq!(
        (first.id, first.as_dword()),
        (jt808::Parameter::HEARTBEAT_INTERVAL, Some(600))
    );
    // The real 1219-byte body re-encodes byte for byte.
    let mut body = BytesMut::new();
    Message::ParameterResponse(resp)
        .encode_body(Version::V2013, &mut body)
        .expect("encodes");
    assert_eq!(body.as_ref(), set.body.as_ref());
}

/// SmallChi/JT808:src/JT808.Protocol.Test/Simples/Demo5.cs (@c9552b0): a JPEG in ten 0x0801
/// packets (checksums wrong in the source, so decoded leniently).
#[test]
fn group_smallchi_0801_media_data() {
    let set = check_group("smallchi_0801");
    let Ok(Message::MediaData(media)) = set.message() else {
        panic!("0x0801 expected");
    };
    assert_eq!(media.event.media_id, 0x271D);
    assert_eq!(media.data.len(), set.body.len() - 36);
    assert_eq!(media.data.get(..2), Some(&[0xFF, 0xD8][..]), "JPEG start");
    assert_eq!(
        media.data.get(media.data.len() - 2..),
        Some(&[0xFF, 0xD9][..]),
        "JPEG end"
    );
}

/// SmallChi/JT808:src/JT808.Protocol.Test/JT808HeaderPackageTest.cs (@c9552b0): a JT/T 1078
/// 0x1205 resource list in two packets; not a typed message here, so it stays raw.
#[test]
fn group_smallchi_1205_unknown() {
    let set = check_group("smallchi_1205");
    assert_eq!(
        set.message(),
        Ok(Message::Unknown {
            id: 0x1205,
            body: set.body.clone()
        })
    );
}

/// All vectors back to back in one stream, split at every possible point, through a lenient
/// decoder: every frame comes out once, in order.
#[test]
fn all_vectors_as_one_stream() {
    let all = vectors();
    let mut stream = Vec::new();
    for v in &all {
        stream.extend(hex::decode(str_field(v, "hex")).expect("hex"));
    }
    for split in [1usize, 7, 64, 1000, stream.len()] {
        let mut codec = Jt808Codec::lenient();
        let mut buf = BytesMut::new();
        let mut seen = Vec::new();
        for chunk in stream.chunks(split) {
            buf.extend_from_slice(chunk);
            while let Some(item) = codec.decode(&mut buf).expect("never fails") {
                seen.push(item);
            }
        }
        while let Some(item) = codec.decode_eof(&mut buf).expect("never fails") {
            seen.push(item);
        }
        assert_eq!(seen.len(), all.len(), "split {split}");
        for (item, v) in seen.iter().zip(&all) {
            let raw = hex::decode(str_field(v, "hex")).expect("hex");
            match item {
                Decoded::Frame(f) => assert_eq!(f.raw.as_ref(), raw.as_slice()),
                Decoded::Rejected(r) => {
                    assert_eq!(r.raw.as_ref(), raw.as_slice());
                    assert!(
                        v.pointer("/expect/error").is_some(),
                        "only must-reject vectors"
                    );
                }
            }
        }
        assert_eq!(codec.stats().garbage_bytes, 0);
    }
}
