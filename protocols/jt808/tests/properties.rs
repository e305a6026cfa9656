//! Property tests: random and mutated bytes never panic the stream decoder, the frame parsers
//! or the message decoders; every message type round-trips through encode and decode (with
//! subpackaging and reassembly for long bodies).

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use jt808::{
    AdditionalItem, AlarmFlags, Auth, BcdTime, Decoded, DecoderConfig, Frame, FrameRef,
    GeneralResponse, ItemValue, Jt808Codec, Location, LocationBasic, LocationBatch, LocationRef,
    LocationResponse, MediaData, MediaEvent, MediaUploadAck, Message, OutboundHeader, Parameter,
    ParameterResponse, ParseOptions, Passthrough, Phone, PushOutcome, Reassembler,
    ReassemblyConfig, Register, RegisterLayout, RegisterResponse, ResendRequest, StatusFlags,
    TextMessage, TrackLocation, Version, encode_message, ids,
};
use proptest::collection::vec;
use proptest::prelude::*;
use tokio_util::codec::Decoder;

const VECTORS: &str = include_str!("data/vectors.jsonl");

fn vector_frames() -> Vec<Vec<u8>> {
    VECTORS
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|v| v.get("hex").and_then(|h| h.as_str()).map(str::to_owned))
        .map(|h| hex::decode(h).expect("vector hex"))
        .collect()
}

/// Every decoder entry point on `bytes`; only panics (test failures) matter here.
fn exercise(bytes: &[u8]) {
    for options in [ParseOptions::strict(), ParseOptions::lenient()] {
        if let Ok(frame) = Frame::parse(Bytes::copy_from_slice(bytes), &options) {
            if let Ok(message) = frame.message() {
                let _ = serde_json::to_string(&message);
                let mut out = BytesMut::new();
                let _ = message.encode_body(frame.header.version, &mut out);
            }
            if let Ok(view) = LocationRef::parse(&frame.body) {
                let _ = view.items().count();
                let _ = view.basic.time.to_utc();
            }
        }
        let mut scratch = Vec::new();
        let _ = FrameRef::parse(bytes, &mut scratch, &options).map(|f| f.message());
    }
}

fn stream_items(codec: &mut Jt808Codec, bytes: &[u8], chunk: usize) -> Vec<Decoded> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for part in bytes.chunks(chunk.max(1)) {
        buf.extend_from_slice(part);
        while let Some(item) = codec.decode(&mut buf).expect("decoder never errors") {
            out.push(item);
        }
        assert!(buf.len() <= codec.config().max_frame_len + chunk);
    }
    while let Some(item) = codec.decode_eof(&mut buf).expect("decoder never errors") {
        out.push(item);
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (
            any::<usize>(),
            prop_oneof![Just(0x7Eu8), Just(0x7D), any::<u8>()]
        )
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Set(i, b) => {
                if let Some(slot) = bytes.get_mut(i % len) {
                    *slot = b;
                }
            }
            Mutation::Insert(i, b) => bytes.insert(i % (bytes.len() + 1), b),
            Mutation::Remove(i) => {
                if !bytes.is_empty() {
                    bytes.remove(i % len);
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
        }
    }
    bytes
}

const KNOWN_IDS: [u16; 23] = [
    ids::TERMINAL_RESPONSE,
    ids::HEARTBEAT,
    ids::LOGOUT,
    ids::QUERY_SERVER_TIME,
    ids::REGISTER,
    ids::AUTH,
    ids::PARAMETER_RESPONSE,
    ids::LOCATION,
    ids::LOCATION_RESPONSE,
    ids::LOCATION_BATCH,
    ids::MEDIA_EVENT,
    ids::MEDIA_DATA,
    ids::PASSTHROUGH,
    ids::PLATFORM_RESPONSE,
    ids::RESEND_REQUEST,
    ids::SERVER_TIME,
    ids::REGISTER_RESPONSE,
    ids::SET_PARAMETERS,
    ids::QUERY_PARAMETERS,
    ids::QUERY_LOCATION,
    ids::TRACK_LOCATION,
    ids::TEXT_MESSAGE,
    ids::MEDIA_UPLOAD_ACK,
];

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V2013), Just(Version::V2019)]
}

// ---- message strategies -------------------------------------------------------------------

/// ASCII text of at most `max` bytes (fits fixed GBK fields).
fn ascii(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9 ._-]{{0,{max}}}")).expect("regex")
}

/// Text with Chinese characters (2 GBK bytes each) and ASCII.
fn gbk_text(max_chars: usize) -> impl Strategy<Value = String> {
    vec(
        prop_oneof![
            proptest::char::range('A', 'Z'),
            proptest::char::range('0', '9'),
            proptest::sample::select(vec!['粤', '桂', '柳', '州', '测', '京', '请', '减', '速']),
        ],
        0..=max_chars,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

fn bcd_time() -> impl Strategy<Value = BcdTime> {
    any::<[u8; 6]>().prop_map(BcdTime)
}

fn basic() -> impl Strategy<Value = LocationBasic> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        any::<u16>(),
        bcd_time(),
    )
        .prop_map(
            |(alarm, status, lat_raw, lon_raw, altitude_m, speed_raw, direction, time)| {
                LocationBasic {
                    alarm: AlarmFlags(alarm),
                    status: StatusFlags(status),
                    lat_raw,
                    lon_raw,
                    altitude_m,
                    speed_raw,
                    direction,
                    time,
                }
            },
        )
}

fn item_value() -> impl Strategy<Value = ItemValue> {
    prop_oneof![
        any::<u32>().prop_map(ItemValue::Mileage),
        any::<u16>().prop_map(ItemValue::Fuel),
        any::<u16>().prop_map(ItemValue::RecorderSpeed),
        any::<u16>().prop_map(ItemValue::AlarmEventId),
        (any::<u8>(), any::<Option<u32>>())
            .prop_map(|(area_type, area_id)| ItemValue::OverspeedArea { area_type, area_id }),
        (any::<u8>(), any::<u32>(), any::<u8>()).prop_map(|(area_type, area_id, direction)| {
            ItemValue::AreaInOut {
                area_type,
                area_id,
                direction,
            }
        }),
        (any::<u32>(), any::<u16>(), any::<u8>()).prop_map(|(route_id, time_s, result)| {
            ItemValue::RouteTime {
                route_id,
                time_s,
                result,
            }
        }),
        any::<u32>().prop_map(ItemValue::ExtSignals),
        any::<u16>().prop_map(ItemValue::IoStatus),
        any::<u32>().prop_map(ItemValue::Analog),
        any::<u8>().prop_map(ItemValue::SignalStrength),
        any::<u8>().prop_map(ItemValue::SatelliteCount),
    ]
}

fn additional_item() -> impl Strategy<Value = AdditionalItem> {
    prop_oneof![
        item_value().prop_map(AdditionalItem::Standard),
        (any::<u8>(), vec(any::<u8>(), 0..40))
            .prop_filter("raw items must not look standard", |(id, data)| {
                ItemValue::parse(*id, data).is_none()
            })
            .prop_map(|(id, data)| AdditionalItem::Other { id, data }),
    ]
}

fn location() -> impl Strategy<Value = Location> {
    (basic(), vec(additional_item(), 0..6)).prop_map(|(basic, items)| Location {
        basic,
        items,
        item_defect: None,
    })
}

fn parameter() -> impl Strategy<Value = Parameter> {
    (any::<u32>(), vec(any::<u8>(), 0..12)).prop_map(|(id, value)| Parameter { id, value })
}

fn media_event() -> impl Strategy<Value = MediaEvent> {
    (
        any::<u32>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(
            |(media_id, media_type, format, event, channel)| MediaEvent {
                media_id,
                media_type,
                format,
                event,
                channel,
            },
        )
}

fn general_response() -> impl Strategy<Value = GeneralResponse> {
    (any::<u16>(), any::<u16>(), any::<u8>()).prop_map(|(reply_serial, reply_msg_id, result)| {
        GeneralResponse {
            reply_serial,
            reply_msg_id,
            result,
        }
    })
}

fn register(version: Version) -> BoxedStrategy<Register> {
    let layout = match version {
        Version::V2019 => Just(RegisterLayout::V2019).boxed(),
        Version::V2013 => {
            prop_oneof![Just(RegisterLayout::V2011), Just(RegisterLayout::V2013)].boxed()
        }
    };
    layout
        .prop_flat_map(|layout| {
            let (maker, model, id) = match layout {
                RegisterLayout::V2011 => (5, 8, 7),
                RegisterLayout::V2013 => (5, 20, 7),
                RegisterLayout::V2019 => (11, 30, 30),
            };
            // A 2011 body must stay under the 37 bytes that mark 2013.
            let plate_chars = if layout == RegisterLayout::V2011 {
                5
            } else {
                9
            };
            (
                Just(layout),
                any::<u16>(),
                any::<u16>(),
                ascii(maker),
                ascii(model),
                ascii(id),
                any::<u8>(),
                gbk_text(plate_chars),
            )
        })
        .prop_map(
            |(layout, province, city, maker_id, model, terminal_id, plate_color, plate)| Register {
                layout,
                province,
                city,
                maker_id,
                model,
                terminal_id,
                plate_color,
                plate,
            },
        )
        .boxed()
}

fn message(version: Version) -> BoxedStrategy<Message> {
    let auth = match version {
        Version::V2013 => ascii(40)
            .prop_map(|auth_code| Auth {
                auth_code,
                imei: None,
                software_version: None,
            })
            .boxed(),
        Version::V2019 => (ascii(60), ascii(15), ascii(20))
            .prop_map(|(auth_code, imei, sw)| Auth {
                auth_code,
                imei: Some(imei),
                software_version: Some(sw),
            })
            .boxed(),
    };
    let text_type = match version {
        Version::V2013 => Just(None).boxed(),
        Version::V2019 => any::<u8>().prop_map(Some).boxed(),
    };
    let fixed = prop_oneof![
        general_response().prop_map(Message::TerminalResponse),
        general_response().prop_map(Message::PlatformResponse),
        Just(Message::Heartbeat),
        Just(Message::Logout),
        Just(Message::QueryServerTime),
        Just(Message::QueryParameters),
        Just(Message::QueryLocation),
        bcd_time().prop_map(Message::ServerTime),
        media_event().prop_map(Message::MediaEvent),
        (any::<u16>(), any::<u32>()).prop_map(|(interval_s, validity_s)| {
            Message::TrackLocation(TrackLocation {
                interval_s,
                validity_s,
            })
        }),
    ];
    let variable = prop_oneof![
        register(version).prop_map(Message::Register),
        auth.prop_map(Message::Auth),
        (any::<u16>(), vec(parameter(), 0..8)).prop_map(|(reply_serial, params)| {
            Message::ParameterResponse(ParameterResponse {
                reply_serial,
                params,
            })
        }),
        location().prop_map(Message::Location),
        (any::<u16>(), location()).prop_map(|(reply_serial, location)| {
            Message::LocationResponse(LocationResponse {
                reply_serial,
                location,
            })
        }),
        (any::<u8>(), vec(location(), 0..5)).prop_map(|(kind, positions)| {
            Message::LocationBatch(LocationBatch {
                kind,
                positions,
                defect: None,
            })
        }),
        (media_event(), basic(), vec(any::<u8>(), 0..2600)).prop_map(|(event, location, data)| {
            Message::MediaData(MediaData {
                event,
                location,
                data: Bytes::from(data),
            })
        }),
        (any::<u8>(), vec(any::<u8>(), 0..64)).prop_map(|(kind, data)| {
            Message::Passthrough(Passthrough {
                kind,
                data: Bytes::from(data),
            })
        }),
        (any::<u16>(), vec(any::<u16>(), 0..30)).prop_map(|(original_serial, packet_ids)| {
            Message::ResendRequest(ResendRequest {
                original_serial,
                packet_ids,
            })
        }),
        (any::<u16>(), any::<u8>(), ascii(30)).prop_map(|(reply_serial, result, code)| {
            Message::RegisterResponse(if result == 0 {
                RegisterResponse::accepted(reply_serial, code)
            } else {
                RegisterResponse::rejected(reply_serial, result)
            })
        }),
        vec(parameter(), 0..8).prop_map(Message::SetParameters),
        (any::<u8>(), text_type, gbk_text(40)).prop_map(|(flags, text_type, text)| {
            Message::TextMessage(TextMessage {
                flags,
                text_type,
                text,
            })
        }),
        (any::<u32>(), vec(any::<u16>(), 0..20)).prop_map(|(media_id, retransmit_ids)| {
            Message::MediaUploadAck(MediaUploadAck {
                media_id,
                retransmit_ids,
            })
        }),
        (any::<u16>(), vec(any::<u8>(), 0..80))
            .prop_filter("unknown ids only", |(id, _)| !KNOWN_IDS.contains(id))
            .prop_map(|(id, body)| Message::Unknown {
                id,
                body: Bytes::from(body),
            }),
    ];
    prop_oneof![fixed, variable].boxed()
}

fn phone(version: Version) -> impl Strategy<Value = Phone> {
    let digits = match version {
        Version::V2013 => "[0-9]{12}",
        Version::V2019 => "[0-9]{20}",
    };
    proptest::string::string_regex(digits)
        .expect("regex")
        .prop_map(|s| Phone::parse(&s).expect("digits"))
}

fn outbound() -> impl Strategy<Value = (OutboundHeader, Message)> {
    version().prop_flat_map(|version| {
        (phone(version), any::<u16>(), any::<u8>(), message(version)).prop_map(
            move |(phone, serial, protocol_version, message)| {
                let mut header = OutboundHeader::new(phone, serial, version);
                if version == Version::V2019 {
                    header.protocol_version = protocol_version;
                }
                (header, message)
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_stream_decoder(
        bytes in vec(prop_oneof![Just(0x7Eu8), Just(0x7D), any::<u8>()], 0..3000),
        chunk in 1usize..300,
        lenient in any::<bool>(),
        max_frame_len in prop_oneof![Just(jt808::DEFAULT_MAX_FRAME_LEN), 0usize..200],
    ) {
        let options = if lenient { ParseOptions::lenient() } else { ParseOptions::strict() };
        let mut codec = Jt808Codec::new(DecoderConfig { options, max_frame_len });
        let items = stream_items(&mut codec, &bytes, chunk);
        let flags = bytes.iter().filter(|&&b| b == 0x7E).count();
        let stats = codec.stats();
        prop_assert_eq!(stats.frames + stats.rejected, items.len() as u64);
        prop_assert!(items.len() <= flags);
        // Every byte is accounted for at most once.
        let in_items: usize = items.iter().map(|i| match i {
            Decoded::Frame(f) => f.raw.len(),
            Decoded::Rejected(r) => r.raw.len(),
        }).sum();
        prop_assert!(
            stats.garbage_bytes + stats.truncated_bytes + in_items as u64 <= bytes.len() as u64 + items.len() as u64
        );
        for item in items {
            if let Decoded::Frame(frame) = item {
                exercise(&frame.raw);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic_frame_parsers(bytes in vec(any::<u8>(), 0..400)) {
        exercise(&bytes);
        let mut framed = vec![0x7E];
        framed.extend(&bytes);
        framed.push(0x7E);
        exercise(&framed);
    }

    #[test]
    fn random_bodies_never_panic_message_decoders(
        id in prop_oneof![proptest::sample::select(KNOWN_IDS.to_vec()), any::<u16>()],
        version in version(),
        body in vec(any::<u8>(), 0..300),
    ) {
        if let Ok(message) = Message::decode(id, version, &body) {
            let _ = serde_json::to_string(&message);
            let mut out = BytesMut::new();
            let _ = message.encode_body(version, &mut out);
        }
        if let Ok(view) = LocationRef::parse(&body) {
            let items: Vec<_> = view.items().collect();
            // At most one defect, and only as the last item.
            let defects = items.iter().filter(|i| i.is_err()).count();
            prop_assert!(defects <= 1);
            if defects == 1 {
                prop_assert!(items.last().is_some_and(Result::is_err));
            }
        }
    }

    #[test]
    fn mutated_vectors_never_panic(
        index in 0usize..58,
        mutations in vec(mutation(), 1..6),
        chunk in 1usize..64,
    ) {
        let frames = vector_frames();
        let original = frames.get(index % frames.len()).cloned().unwrap_or_default();
        let bytes = mutate(original, &mutations);
        exercise(&bytes);
        let mut codec = Jt808Codec::lenient();
        for item in stream_items(&mut codec, &bytes, chunk) {
            if let Decoded::Frame(frame) = item {
                exercise(&frame.raw);
            }
        }
    }

    #[test]
    fn every_message_round_trips((header, message) in outbound()) {
        let mut out = BytesMut::new();
        let packets = encode_message(&header, &message, &mut out).expect("encodes");
        let mut codec = Jt808Codec::strict();
        let items = stream_items(&mut codec, &out, out.len());
        prop_assert_eq!(items.len(), usize::from(packets));
        let mut reassembler = Reassembler::new(ReassemblyConfig::default());
        let mut decoded = None;
        for (i, item) in items.into_iter().enumerate() {
            let Decoded::Frame(frame) = item else {
                return Err(TestCaseError::fail(format!("rejected packet: {item:?}")));
            };
            prop_assert!(frame.checksum_ok);
            prop_assert_eq!(frame.header.msg_id, message.msg_id());
            prop_assert_eq!(frame.header.phone, header.phone);
            prop_assert_eq!(frame.header.version, header.version);
            prop_assert_eq!(frame.header.serial, header.serial.wrapping_add(i as u16));
            prop_assert!(!frame.header.layout_quirk);
            if header.version == Version::V2019 {
                prop_assert_eq!(frame.header.protocol_version, header.protocol_version);
            }
            if packets == 1 {
                prop_assert_eq!(frame.header.packet, None);
                decoded = Some(frame.message().expect("decodes"));
            } else if let PushOutcome::Complete(set) = reassembler
                .push(&frame.header, frame.body.clone(), Instant::now())
                .expect("accepted")
            {
                prop_assert_eq!(set.original_serial, header.serial);
                decoded = Some(set.message().expect("decodes"));
            }
        }
        prop_assert_eq!(decoded, Some(message));
    }

    #[test]
    fn owned_and_borrowed_location_views_agree(location in location()) {
        let mut body = BytesMut::new();
        location.encode(&mut body).expect("encodes");
        let view = LocationRef::parse(&body).expect("parses");
        prop_assert_eq!(view.to_owned_location(), location.clone());
        prop_assert_eq!(Location::parse(&body).expect("parses"), location);
    }

    #[test]
    fn escaping_round_trips(data in vec(prop_oneof![Just(0x7Eu8), Just(0x7D), any::<u8>()], 0..500)) {
        let mut escaped = Vec::new();
        jt808::escape_into(&data, &mut escaped);
        prop_assert!(!escaped.contains(&0x7E));
        let mut back = Vec::new();
        jt808::unescape_into(&escaped, &mut back, false).expect("valid escaping");
        prop_assert_eq!(back, data);
    }
}
