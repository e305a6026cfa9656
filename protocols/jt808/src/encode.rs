//! Frame encoding: header, body, checksum, escaping, delimiters; bodies over 1023 bytes are
//! split into packets.
//!
//! The frame is written straight into the caller's buffer and escaped in place (working
//! backwards), so encoding allocates nothing beyond growing that buffer.

use bytes::{BufMut, BytesMut};

use crate::error::EncodeError;
use crate::frame::{ESCAPE, FLAG, checksum};
use crate::header::{BodyProps, Header, MAX_BODY_LEN, PacketInfo, Phone, Version};
use crate::message::Message;

/// What a sender puts in the header of an outgoing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutboundHeader {
    /// Terminal phone (left-padded with zeros to the layout's width).
    pub phone: Phone,
    /// Serial of the (first) packet. The sender's counter must advance by the number of
    /// packets written (the return value of [`encode_message`]).
    pub serial: u16,
    /// Header layout to write.
    pub version: Version,
    /// 2019 protocol-version byte (ignored for 2013 headers).
    pub protocol_version: u8,
}

impl OutboundHeader {
    /// A header for `phone` with `serial`; protocol version 1 for 2019.
    pub fn new(phone: Phone, serial: u16, version: Version) -> OutboundHeader {
        OutboundHeader {
            phone,
            serial,
            version,
            protocol_version: u8::from(version == Version::V2019),
        }
    }

    /// A header for a message to the terminal that sent `received`: same phone, layout and
    /// protocol version, with the sender's own `serial`.
    pub fn reply_to(received: &Header, serial: u16) -> OutboundHeader {
        OutboundHeader {
            phone: received.phone,
            serial,
            version: received.version,
            protocol_version: if received.version == Version::V2019 {
                received.protocol_version
            } else {
                0
            },
        }
    }
}

/// Number of packets a body of `body_len` bytes needs.
pub fn packets_needed(body_len: usize) -> usize {
    body_len.div_ceil(MAX_BODY_LEN).max(1)
}

/// Appends `message` as one or more escaped frames to `out`. Returns the number of packets
/// (frames) written, which used serials `header.serial`, `header.serial + 1`, ... On error
/// nothing is appended.
pub fn encode_message(
    header: &OutboundHeader,
    message: &Message,
    out: &mut BytesMut,
) -> Result<u16, EncodeError> {
    let start = out.len();
    let result = encode_message_inner(header, message, out, start);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_message_inner(
    header: &OutboundHeader,
    message: &Message,
    out: &mut BytesMut,
    start: usize,
) -> Result<u16, EncodeError> {
    let msg_id = message.msg_id();
    // General responses are most of what a gateway sends (one per position): compose them on
    // the stack and append the finished frame in one copy.
    if let Message::PlatformResponse(r) | Message::TerminalResponse(r) = message {
        let [s0, s1] = r.reply_serial.to_be_bytes();
        let [m0, m1] = r.reply_msg_id.to_be_bytes();
        encode_small_frame(header, msg_id, &[s0, s1, m0, m1, r.result], out)?;
        return Ok(1);
    }
    out.reserve(header.version.header_len(false) + 64);
    out.put_u8(FLAG);
    let content_at = out.len();
    write_header(header, msg_id, BodyProps(0), header.serial, None, out)?;
    let body_at = out.len();
    message.encode_body(header.version, out)?;
    let body_len = out.len() - body_at;
    if body_len <= MAX_BODY_LEN {
        let props = BodyProps::new(body_len as u16, false, header.version);
        if let Some(slot) = out.get_mut(content_at + 2..content_at + 4) {
            slot.copy_from_slice(&props.0.to_be_bytes());
        }
        finish_frame(out, content_at);
        Ok(1)
    } else {
        let body = out.split_off(body_at);
        out.truncate(start);
        encode_packets(header, msg_id, &body, out)
    }
}

/// Appends a frame for an already-encoded body (split into packets when over 1023 bytes).
/// Returns the number of packets written.
pub fn encode_frame(
    header: &OutboundHeader,
    msg_id: u16,
    body: &[u8],
    out: &mut BytesMut,
) -> Result<u16, EncodeError> {
    let start = out.len();
    let result = if body.len() <= MAX_BODY_LEN {
        write_packet(header, msg_id, body, header.serial, None, out).map(|()| 1)
    } else {
        encode_packets(header, msg_id, body, out)
    };
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_packets(
    header: &OutboundHeader,
    msg_id: u16,
    body: &[u8],
    out: &mut BytesMut,
) -> Result<u16, EncodeError> {
    let total = u16::try_from(packets_needed(body.len()))
        .map_err(|_| EncodeError::BodyTooLong { len: body.len() })?;
    out.reserve(body.len() + usize::from(total) * (header.version.header_len(true) + 4));
    for (index, chunk) in (1..=total).zip(body.chunks(MAX_BODY_LEN)) {
        let serial = header.serial.wrapping_add(index - 1);
        write_packet(
            header,
            msg_id,
            chunk,
            serial,
            Some(PacketInfo { total, index }),
            out,
        )?;
    }
    Ok(total)
}

fn write_packet(
    header: &OutboundHeader,
    msg_id: u16,
    body: &[u8],
    serial: u16,
    packet: Option<PacketInfo>,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    out.reserve(body.len() + header.version.header_len(packet.is_some()) + 4);
    out.put_u8(FLAG);
    let content_at = out.len();
    let props = BodyProps::new(body.len() as u16, packet.is_some(), header.version);
    write_header(header, msg_id, props, serial, packet, out)?;
    out.put_slice(body);
    finish_frame(out, content_at);
    Ok(())
}

fn write_header(
    header: &OutboundHeader,
    msg_id: u16,
    props: BodyProps,
    serial: u16,
    packet: Option<PacketInfo>,
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let phone = header.phone.bcd(header.version.phone_bytes())?;
    out.put_u16(msg_id);
    out.put_u16(props.0);
    if header.version == Version::V2019 {
        out.put_u8(header.protocol_version);
    }
    out.put_slice(phone);
    out.put_u16(serial);
    if let Some(p) = packet {
        out.put_u16(p.total);
        out.put_u16(p.index);
    }
    Ok(())
}

/// Longest body [`encode_small_frame`] takes.
const SMALL_BODY: usize = 16;
/// Longest unescaped content of a small frame: the 2019 header, the body and the checksum.
const SMALL_CONTENT: usize = 17 + SMALL_BODY + 1;

/// Appends one unsplit frame with a short body, composed on the stack (header, body, checksum,
/// escapes) and copied into `out` once.
fn encode_small_frame(
    header: &OutboundHeader,
    msg_id: u16,
    body: &[u8],
    out: &mut BytesMut,
) -> Result<(), EncodeError> {
    let phone = header.phone.bcd(header.version.phone_bytes())?;
    let mut content = [0u8; SMALL_CONTENT];
    let mut len = 0;
    let mut push = |bytes: &[u8]| {
        if let Some(slot) = content.get_mut(len..len + bytes.len()) {
            slot.copy_from_slice(bytes);
            len += bytes.len();
        }
    };
    push(&msg_id.to_be_bytes());
    push(
        &BodyProps::new(body.len().min(SMALL_BODY) as u16, false, header.version)
            .0
            .to_be_bytes(),
    );
    if header.version == Version::V2019 {
        push(&[header.protocol_version]);
    }
    push(phone);
    push(&header.serial.to_be_bytes());
    push(body.get(..SMALL_BODY).unwrap_or(body));
    let content = content.get(..len).unwrap_or_default();
    let (sum, escapes) = content.iter().fold((0u8, 0u8), |(x, n), &b| {
        (x ^ b, n + u8::from(needs_escape(b)))
    });
    let escapes = usize::from(escapes) + usize::from(needs_escape(sum));
    out.reserve(len + escapes + 3);
    out.put_u8(FLAG);
    if escapes == 0 {
        // The common case: nothing to escape, one copy.
        out.put_slice(content);
        out.put_u8(sum);
    } else {
        for &b in content.iter().chain(std::iter::once(&sum)) {
            match b {
                FLAG => out.put_slice(&[ESCAPE, 0x02]),
                ESCAPE => out.put_slice(&[ESCAPE, 0x01]),
                _ => out.put_u8(b),
            }
        }
    }
    out.put_u8(FLAG);
    Ok(())
}

/// Appends the checksum of `out[content_at..]`, escapes that region in place and closes the
/// frame.
fn finish_frame(out: &mut BytesMut, content_at: usize) {
    let region = out.get(content_at..).unwrap_or_default();
    // One scalar pass for checksum and escape count: frames are short, and a plain loop beats
    // vector code's set-up at these lengths.
    let (sum, mut escapes) = if region.len() <= 255 {
        // A u8 count cannot overflow at this length and keeps the loop narrow.
        let (x, n) = region.iter().fold((0u8, 0u8), |(x, n), &b| {
            (x ^ b, n + u8::from(needs_escape(b)))
        });
        (x, usize::from(n))
    } else {
        (
            checksum(region),
            region.iter().filter(|&&b| needs_escape(b)).count(),
        )
    };
    escapes += usize::from(needs_escape(sum));
    out.put_u8(sum);
    if escapes > 0 {
        escape_in_place(out, content_at, escapes);
    }
    out.put_u8(FLAG);
}

#[inline]
fn needs_escape(b: u8) -> bool {
    b.wrapping_sub(ESCAPE) < 2
}

/// Escapes `out[from..]` in place, which holds `extra` bytes needing an escape: grows the
/// buffer by that much and moves bytes back to front so that nothing is copied twice.
fn escape_in_place(out: &mut BytesMut, from: usize, extra: usize) {
    let old_len = out.len();
    out.resize(old_len + extra, 0);
    let mut write = out.len();
    for read in (from..old_len).rev() {
        let byte = out.get(read).copied().unwrap_or(0);
        let replacement: &[u8] = match byte {
            FLAG => &[ESCAPE, 0x02],
            ESCAPE => &[ESCAPE, 0x01],
            _ => std::slice::from_ref(&byte),
        };
        let at = write - replacement.len();
        if let Some(slot) = out.get_mut(at..write) {
            slot.copy_from_slice(replacement);
        }
        write = at;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{FrameRef, ParseOptions};
    use crate::message::GeneralResponse;

    fn header(phone: &str, serial: u16, version: Version) -> OutboundHeader {
        OutboundHeader::new(Phone::parse(phone).expect("digits"), serial, version)
    }

    #[test]
    fn small_frames_match_the_general_path() {
        // Serials, ids and phones full of bytes that need escaping, in both layouts.
        for version in [Version::V2013, Version::V2019] {
            for (serial, reply_serial, result) in
                [(0x7e7d, 0x7d7e, 0x7e), (0, 0, 0), (0x7d01, 0x027e, 0x7d)]
            {
                let mut h = header("017e7d7e7d01", serial, version);
                h.protocol_version = 0x7e;
                let response = GeneralResponse {
                    reply_serial,
                    reply_msg_id: 0x0200,
                    result,
                };
                let mut fast = BytesMut::new();
                encode_message(&h, &Message::PlatformResponse(response), &mut fast)
                    .expect("encodes");
                let mut body = BytesMut::new();
                Message::PlatformResponse(response)
                    .encode_body(version, &mut body)
                    .expect("body");
                let mut general = BytesMut::new();
                encode_frame(&h, 0x8001, &body, &mut general).expect("encodes");
                assert_eq!(fast, general, "{version:?} serial {serial:#x}");
            }
        }
    }

    #[test]
    fn platform_response_matches_yezhihao_frames() {
        let msg = Message::PlatformResponse(GeneralResponse {
            reply_serial: 123,
            reply_msg_id: 0x01C8,
            result: 3,
        });
        let mut out = BytesMut::new();
        let n = encode_message(&header("123456789012", 1, Version::V2013), &msg, &mut out)
            .expect("encodes");
        assert_eq!(n, 1);
        assert_eq!(
            hex::encode(&out),
            "7e800100051234567890120001007b01c803be7e"
        );
        out.clear();
        encode_message(
            &header("12345678901234567890", 65535, Version::V2019),
            &msg,
            &mut out,
        )
        .expect("encodes");
        assert_eq!(
            hex::encode(&out),
            "7e800140050112345678901234567890ffff007b01c803747e"
        );
    }

    #[test]
    fn escapes_header_body_and_checksum() {
        // SmallChi heartbeat whose checksum is 0x7E.
        let mut out = BytesMut::new();
        encode_message(
            &header("040021679287", 43, Version::V2013),
            &Message::Heartbeat,
            &mut out,
        )
        .expect("encodes");
        assert_eq!(hex::encode(&out), "7e00020000040021679287002b7d027e");
        // Serial 0x7E7D: both escapes inside the header.
        out.clear();
        encode_message(
            &header("012345678900", 0x7E7D, Version::V2013),
            &Message::Heartbeat,
            &mut out,
        )
        .expect("encodes");
        let mut scratch = Vec::new();
        let f = FrameRef::parse(&out, &mut scratch, &ParseOptions::strict()).expect("valid");
        assert_eq!(f.header.serial, 0x7E7D);
        assert!(hex::encode(&out).contains("7d027d01"));
    }

    #[test]
    fn long_bodies_are_subpackaged() {
        let body: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        let mut out = BytesMut::new();
        let n = encode_frame(
            &header("013812345678", 0xFFFE, Version::V2013),
            0x0801,
            &body,
            &mut out,
        )
        .expect("encodes");
        assert_eq!(n, 3);
        let mut joined = Vec::new();
        let mut serials = Vec::new();
        let frames: Vec<&[u8]> = out[..]
            .split(|&b| b == FLAG)
            .filter(|part| !part.is_empty())
            .collect();
        assert_eq!(frames.len(), 3);
        for (i, content) in frames.iter().enumerate() {
            let mut scratch = Vec::new();
            let f = FrameRef::parse_content(content, &mut scratch, &ParseOptions::strict())
                .expect("valid packet");
            assert_eq!(
                f.header.packet,
                Some(PacketInfo {
                    total: 3,
                    index: i as u16 + 1
                })
            );
            assert_eq!(f.header.msg_id, 0x0801);
            serials.push(f.header.serial);
            joined.extend_from_slice(f.body);
        }
        assert_eq!(serials, [0xFFFE, 0xFFFF, 0x0000]);
        assert_eq!(joined, body);
    }

    #[test]
    fn errors_leave_the_buffer_untouched() {
        let mut out = BytesMut::from(&b"keep"[..]);
        let too_long = Message::TextMessage(crate::message::TextMessage {
            flags: 0,
            text_type: None,
            text: "\u{1F600}".into(),
        });
        assert!(matches!(
            encode_message(&header("1", 1, Version::V2013), &too_long, &mut out),
            Err(EncodeError::Unencodable { .. })
        ));
        assert_eq!(out.as_ref(), b"keep");
        assert!(matches!(
            encode_message(
                &header("1234567890123", 1, Version::V2013),
                &Message::Heartbeat,
                &mut out
            ),
            Err(EncodeError::PhoneTooLong { .. })
        ));
        assert_eq!(out.as_ref(), b"keep");
    }
}
