//! Every downlink encoder against frames written by hand (bodies laid out from the standard,
//! GBK from Python's codec, checksum and escaping computed separately), then decoded back.
//! Terminal 013912345678 (2013) / 00000000013912345678 (2019, protocol version 1).

use bytes::{Bytes, BytesMut};
use jt808::{
    BcdTime, Frame, GeneralResponse, MediaUploadAck, Message, OutboundHeader, Parameter,
    ParseOptions, Phone, RegisterResponse, ResendRequest, TextMessage, TrackLocation, Version,
    encode_message,
};

fn check(message: Message, version: Version, serial: u16, expected_hex: &str) {
    let phone = Phone::parse("013912345678").expect("digits");
    let header = OutboundHeader::new(phone, serial, version);
    let mut out = BytesMut::new();
    let packets = encode_message(&header, &message, &mut out).expect("encodes");
    assert_eq!(packets, 1);
    assert_eq!(hex::encode(&out), expected_hex);

    let frame = Frame::parse(Bytes::from(out.to_vec()), &ParseOptions::strict()).expect("valid");
    assert_eq!(frame.header.msg_id, message.msg_id());
    assert_eq!(frame.header.serial, serial);
    assert_eq!(frame.header.version, version);
    assert_eq!(frame.header.phone.trimmed(), "13912345678");
    assert_eq!(frame.message().expect("decodes"), message);
}

#[test]
fn register_response_success_carries_auth_code() {
    check(
        Message::RegisterResponse(RegisterResponse::accepted(7, "AUTH123")),
        Version::V2013,
        0x0102,
        "7e8100000a013912345678010200070041555448313233877e",
    );
}

#[test]
fn register_response_failure_has_no_auth_code() {
    check(
        Message::RegisterResponse(RegisterResponse::rejected(
            7,
            RegisterResponse::VEHICLE_UNKNOWN,
        )),
        Version::V2013,
        0x0103,
        "7e810000030139123456780103000702b57e",
    );
}

#[test]
fn resend_request_count_is_byte_in_2013_and_word_in_2019() {
    let request = Message::ResendRequest(ResendRequest {
        original_serial: 0x1099,
        packet_ids: vec![2, 5],
    });
    check(
        request.clone(),
        Version::V2013,
        0x0104,
        "7e800300070139123456780104109902000200053d7e",
    );
    check(
        request,
        Version::V2019,
        0x0104,
        "7e80034008010000000001391234567801041099000200020005737e",
    );
}

#[test]
fn server_time() {
    check(
        Message::ServerTime(BcdTime([0x24, 0x03, 0x05, 0x14, 0x30, 0x00])),
        Version::V2019,
        0x0105,
        "7e8004400601000000000139123456780105240305143000f17e",
    );
}

#[test]
fn set_report_interval_parameters() {
    check(
        Message::SetParameters(vec![
            Parameter::dword(Parameter::HEARTBEAT_INTERVAL, 30),
            Parameter::dword(Parameter::REPORT_INTERVAL_DEFAULT, 10),
            Parameter::dword(Parameter::REPORT_INTERVAL_SLEEP, 300),
        ]),
        Version::V2013,
        0x0106,
        "7e8103001c01391234567801060300000001040000001e00000029040000000a00000027040000012c987e",
    );
}

#[test]
fn query_parameters_and_location_have_empty_bodies() {
    check(
        Message::QueryParameters,
        Version::V2013,
        0x0107,
        "7e810400000139123456780107b37e",
    );
    check(
        Message::QueryLocation,
        Version::V2013,
        0x0108,
        "7e820100000139123456780108ba7e",
    );
}

#[test]
fn temporary_tracking_with_escaped_serial() {
    // Serial 0x007D travels as 00 7D 01.
    check(
        Message::TrackLocation(TrackLocation {
            interval_s: 5,
            validity_s: 3600,
        }),
        Version::V2013,
        0x007D,
        "7e82020006013912345678007d01000500000e10d07e",
    );
}

#[test]
fn text_message_gbk_2013_and_2019() {
    check(
        Message::TextMessage(TextMessage {
            flags: 0x08,
            text_type: None,
            text: "请减速慢行".into(),
        }),
        Version::V2013,
        0x0109,
        "7e8300000b013912345678010908c7ebbcf5cbd9c2fdd0d0f07e",
    );
    check(
        Message::TextMessage(TextMessage {
            flags: 0x08,
            text_type: Some(1),
            text: "请减速慢行".into(),
        }),
        Version::V2019,
        0x0109,
        "7e8300400c010000000001391234567801090801c7ebbcf5cbd9c2fdd0d0b77e",
    );
}

#[test]
fn media_upload_ack_lists_missing_packets() {
    check(
        Message::MediaUploadAck(MediaUploadAck {
            media_id: 0x271D,
            retransmit_ids: vec![3, 7],
        }),
        Version::V2013,
        0x010A,
        "7e88000009013912345678010a0000271d0200030007867e",
    );
}

#[test]
fn general_response_acknowledges_a_received_header() {
    // Own frame: a heartbeat from 012345678900 with serial 1.
    let received = Frame::parse(
        Bytes::from(hex::decode("7e0002000001234567890000018a7e").expect("hex")),
        &ParseOptions::strict(),
    )
    .expect("valid");
    let ack = GeneralResponse::ack(&received.header);
    assert_eq!(
        ack,
        GeneralResponse {
            reply_serial: 1,
            reply_msg_id: 0x0002,
            result: 0
        }
    );
    let mut out = BytesMut::new();
    encode_message(
        &OutboundHeader::reply_to(&received.header, 0x0200),
        &Message::PlatformResponse(ack),
        &mut out,
    )
    .expect("encodes");
    // 8001 0005 012345678900 0200 | 0001 0002 00 | checksum
    assert_eq!(
        hex::encode(&out),
        "7e8001000501234567890002000001000200 0c7e".replace(' ', "")
    );
}
