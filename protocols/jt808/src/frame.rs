//! Framing: 0x7E delimiters, 0x7D escaping, XOR checksum, header parsing.
//!
//! Two entry points: [`FrameRef::parse`] borrows (no allocation; unescapes into a reused
//! scratch buffer only when the frame has escapes) for the hot path, and [`Frame::parse`] owns
//! its bytes (the body is a zero-copy slice of the raw frame when nothing was escaped).

use std::ops::Range;

use bytes::Bytes;

use crate::error::{BodyError, FrameError};
use crate::header::{BodyProps, Header, PacketInfo, Phone, Version};
use crate::message::Message;

/// Frame delimiter.
pub const FLAG: u8 = 0x7E;
/// Escape byte: `7D 02` stands for 0x7E and `7D 01` for 0x7D.
pub const ESCAPE: u8 = 0x7D;

/// Smallest unescaped frame content: a 2013 header and the checksum.
const MIN_CONTENT: usize = 13;

/// How forgiving frame parsing is. Strict by default; lenient settings exist for device models
/// known to send bad checksums (anonymised captures, broken firmware) and are chosen per
/// decoder, i.e. per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// Accept a frame whose checksum does not match (reported as `checksum_ok = false`).
    pub accept_bad_checksum: bool,
    /// Accept a bare 0x7D as the last byte (an unescaped 0x7D checksum, as go-jt808 does).
    pub accept_bare_escape_checksum: bool,
    /// Accept a body-length field that fits neither header size: the layout then follows
    /// bit 14 and the body is whatever follows the header (as Traccar does).
    pub accept_length_mismatch: bool,
}

impl ParseOptions {
    /// Reject every defect (the default).
    pub const fn strict() -> ParseOptions {
        ParseOptions {
            accept_bad_checksum: false,
            accept_bare_escape_checksum: false,
            accept_length_mismatch: false,
        }
    }

    /// Accept bad checksums, a bare 0x7D checksum and body-length mismatches.
    pub const fn lenient() -> ParseOptions {
        ParseOptions {
            accept_bad_checksum: true,
            accept_bare_escape_checksum: true,
            accept_length_mismatch: true,
        }
    }
}

/// XOR of all bytes: the JT/T 808 checksum of header + body.
pub fn checksum(data: &[u8]) -> u8 {
    // Eight bytes at a time; XOR is associative, so fold the word's bytes at the end.
    let mut chunks = data.chunks_exact(8);
    let mut wide = 0u64;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        wide ^= u64::from_ne_bytes(word);
    }
    let tail = chunks.remainder().iter().fold(0u8, |acc, b| acc ^ b);
    wide.to_ne_bytes().iter().fold(tail, |acc, b| acc ^ b)
}

/// Unescapes frame content (between the delimiters) into `out` (cleared first).
/// `accept_bare_escape` lets a final lone 0x7D stand for itself.
pub fn unescape_into(
    content: &[u8],
    out: &mut Vec<u8>,
    accept_bare_escape: bool,
) -> Result<(), FrameError> {
    out.clear();
    out.reserve(content.len());
    let mut rest = content;
    while let Some(pos) = memchr::memchr(ESCAPE, rest) {
        let (before, from_escape) = rest.split_at(pos);
        out.extend_from_slice(before);
        match from_escape.get(1) {
            Some(0x01) => out.push(ESCAPE),
            Some(0x02) => out.push(FLAG),
            Some(&next) => {
                return Err(FrameError::InvalidEscape {
                    offset: content.len() - from_escape.len(),
                    next,
                });
            }
            None if accept_bare_escape => {
                out.push(ESCAPE);
                return Ok(());
            }
            None => return Err(FrameError::DanglingEscape),
        }
        rest = from_escape.get(2..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// Appends `data` escaped (0x7E -> 7D 02, 0x7D -> 7D 01) to `out`, without delimiters.
pub fn escape_into(data: &[u8], out: &mut Vec<u8>) {
    out.reserve(data.len() + data.len() / 16 + 2);
    for &byte in data {
        match byte {
            FLAG => out.extend_from_slice(&[ESCAPE, 0x02]),
            ESCAPE => out.extend_from_slice(&[ESCAPE, 0x01]),
            other => out.push(other),
        }
    }
}

/// Where header, body and checksum sit in unescaped frame content.
#[derive(Debug, Clone)]
struct Layout {
    header: Header,
    body: Range<usize>,
    checksum: u8,
    checksum_ok: bool,
    body_len_ok: bool,
}

fn be16(data: &[u8], at: usize) -> u16 {
    match data.get(at..at + 2) {
        Some(&[a, b]) => u16::from_be_bytes([a, b]),
        _ => 0,
    }
}

/// One pass over escaped content: XOR of every byte (checksum byte included) and whether an
/// escape byte occurs. Without escapes the content is the unescaped frame and this XOR is 0
/// exactly when the checksum matches.
#[inline]
fn scan(content: &[u8]) -> (u8, bool) {
    let mut xor = 0u8;
    let mut escape = 0u8;
    for &b in content {
        xor ^= b;
        escape |= u8::from(b == ESCAPE);
    }
    (xor, escape != 0)
}

/// Parses unescaped content: header + body + checksum. `xor_all`, when the caller already
/// has it, is the XOR of all of `data`.
fn parse_unescaped(
    data: &[u8],
    opts: &ParseOptions,
    xor_all: Option<u8>,
) -> Result<Layout, FrameError> {
    let Some((&received, content)) = data.split_last() else {
        return Err(FrameError::TooShort {
            len: 0,
            min: MIN_CONTENT,
        });
    };
    if data.len() < MIN_CONTENT {
        return Err(FrameError::TooShort {
            len: data.len(),
            min: MIN_CONTENT,
        });
    }
    let computed = match xor_all {
        Some(all) => all ^ received,
        None => checksum(content),
    };
    let checksum_ok = computed == received;
    if !checksum_ok && !opts.accept_bad_checksum {
        return Err(FrameError::ChecksumMismatch { computed, received });
    }

    let msg_id = be16(content, 0);
    let props = BodyProps(be16(content, 2));
    let subpackaged = props.is_subpackaged();
    let declared = usize::from(props.body_len());
    // The header size is whatever the body length leaves; that decides 2013 vs 2019 even when
    // bit 14 says otherwise (devices that set bit 14 but send a 2013 header).
    let counted = content.len().checked_sub(declared).and_then(|header_len| {
        [Version::V2013, Version::V2019]
            .into_iter()
            .find(|v| v.header_len(subpackaged) == header_len)
    });
    let flagged = if props.version_flag() {
        Version::V2019
    } else {
        Version::V2013
    };
    let (version, body_len_ok) = match counted {
        Some(version) => (version, true),
        None if opts.accept_length_mismatch => (flagged, false),
        None => {
            return Err(FrameError::LengthMismatch {
                declared: props.body_len(),
                content: content.len(),
            });
        }
    };
    let header_len = version.header_len(subpackaged);
    if content.len() < header_len {
        return Err(FrameError::TooShort {
            len: data.len(),
            min: header_len + 1,
        });
    }
    let (protocol_version, phone_at) = match version {
        Version::V2013 => (0, 4),
        Version::V2019 => (content.get(4).copied().unwrap_or(0), 5),
    };
    let phone_end = phone_at + version.phone_bytes();
    let phone = Phone::from_bcd(content.get(phone_at..phone_end).unwrap_or_default());
    let serial = be16(content, phone_end);
    let packet = subpackaged.then(|| PacketInfo {
        total: be16(content, phone_end + 2),
        index: be16(content, phone_end + 4),
    });
    Ok(Layout {
        header: Header {
            msg_id,
            props,
            version,
            protocol_version,
            phone,
            serial,
            packet,
            layout_quirk: body_len_ok && (version == Version::V2019) != props.version_flag(),
        },
        body: header_len..content.len(),
        checksum: received,
        checksum_ok,
        body_len_ok,
    })
}

/// Strips the delimiters off a raw frame.
fn frame_content(raw: &[u8]) -> Result<&[u8], FrameError> {
    match raw {
        [FLAG, content @ .., FLAG] => Ok(content),
        _ => Err(FrameError::MissingDelimiters),
    }
}

/// A frame parsed without copying: the body borrows the input (or the scratch buffer when the
/// frame had escapes). For the per-position hot path.
#[derive(Debug, Clone, Copy)]
pub struct FrameRef<'a> {
    /// The parsed header.
    pub header: Header,
    /// The unescaped body.
    pub body: &'a [u8],
    /// The checksum byte as received.
    pub checksum: u8,
    /// Whether the checksum matched (always true unless `accept_bad_checksum`).
    pub checksum_ok: bool,
    /// Whether the body-length field matched (always true unless `accept_length_mismatch`).
    pub body_len_ok: bool,
}

impl<'a> FrameRef<'a> {
    /// Parses a raw frame `7E ... 7E`. `scratch` receives the unescaped bytes only if the
    /// frame contains escapes; reuse it across calls to avoid allocating.
    pub fn parse(
        raw: &'a [u8],
        scratch: &'a mut Vec<u8>,
        opts: &ParseOptions,
    ) -> Result<FrameRef<'a>, FrameError> {
        FrameRef::parse_content(frame_content(raw)?, scratch, opts)
    }

    /// Like [`FrameRef::parse`] for the escaped content between the delimiters.
    pub fn parse_content(
        content: &'a [u8],
        scratch: &'a mut Vec<u8>,
        opts: &ParseOptions,
    ) -> Result<FrameRef<'a>, FrameError> {
        let (xor_all, has_escape) = scan(content);
        let (data, xor_all): (&'a [u8], _) = if has_escape {
            unescape_into(content, scratch, opts.accept_bare_escape_checksum)?;
            (scratch.as_slice(), None)
        } else {
            (content, Some(xor_all))
        };
        let layout = parse_unescaped(data, opts, xor_all)?;
        Ok(FrameRef {
            header: layout.header,
            body: data.get(layout.body).unwrap_or_default(),
            checksum: layout.checksum,
            checksum_ok: layout.checksum_ok,
            body_len_ok: layout.body_len_ok,
        })
    }

    /// Decodes the body into a typed message (see [`Message::decode_frame_body`]).
    pub fn message(&self) -> Result<Message, BodyError> {
        Message::decode_frame_body(&self.header, self.body)
    }
}

/// A parsed frame that owns its bytes: what the stream decoder yields for each good frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame exactly as received: escaped, delimiters included. Kept as evidence.
    pub raw: Bytes,
    /// The parsed header.
    pub header: Header,
    /// The unescaped body (a slice of `raw` when the frame had no escapes).
    pub body: Bytes,
    /// The checksum byte as received.
    pub checksum: u8,
    /// Whether the checksum matched (always true unless `accept_bad_checksum`).
    pub checksum_ok: bool,
    /// Whether the body-length field matched (always true unless `accept_length_mismatch`).
    pub body_len_ok: bool,
}

impl Frame {
    /// Parses a raw frame `7E ... 7E` (escaped, delimiters included).
    pub fn parse(raw: Bytes, opts: &ParseOptions) -> Result<Frame, FrameError> {
        let content = frame_content(&raw)?;
        let (xor_all, has_escape) = scan(content);
        if !has_escape {
            let layout = parse_unescaped(content, opts, Some(xor_all))?;
            // +1 for the opening delimiter.
            let body = raw.slice(layout.body.start + 1..layout.body.end + 1);
            Ok(Frame::from_layout(raw, layout, body))
        } else {
            let mut data = Vec::with_capacity(content.len());
            unescape_into(content, &mut data, opts.accept_bare_escape_checksum)?;
            let layout = parse_unescaped(&data, opts, None)?;
            let body = Bytes::from(data).slice(layout.body.clone());
            Ok(Frame::from_layout(raw, layout, body))
        }
    }

    fn from_layout(raw: Bytes, layout: Layout, body: Bytes) -> Frame {
        Frame {
            raw,
            header: layout.header,
            body,
            checksum: layout.checksum,
            checksum_ok: layout.checksum_ok,
            body_len_ok: layout.body_len_ok,
        }
    }

    /// Decodes the body into a typed message (see [`Message::decode_frame_body`]).
    pub fn message(&self) -> Result<Message, BodyError> {
        Message::decode_frame_body(&self.header, &self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        hex::decode(s).expect("test hex")
    }

    #[test]
    fn checksum_matches_bytewise_xor() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1037).collect();
        for len in 0..data.len() {
            let slice = data.get(..len).expect("in range");
            let expected = slice.iter().fold(0u8, |a, b| a ^ b);
            assert_eq!(checksum(slice), expected, "len {len}");
        }
    }

    #[test]
    fn escape_and_unescape_are_inverse() {
        let data = [0x30, 0x7E, 0x08, 0x7D, 0x55, 0x7D, 0x7E];
        let mut escaped = Vec::new();
        escape_into(&data, &mut escaped);
        assert_eq!(
            escaped,
            [
                0x30, 0x7D, 0x02, 0x08, 0x7D, 0x01, 0x55, 0x7D, 0x01, 0x7D, 0x02
            ]
        );
        let mut back = Vec::new();
        unescape_into(&escaped, &mut back, false).expect("valid");
        assert_eq!(back, data);
    }

    #[test]
    fn bad_escapes_are_rejected() {
        let mut out = Vec::new();
        assert_eq!(
            unescape_into(&[0x01, 0x7D, 0x03], &mut out, true),
            Err(FrameError::InvalidEscape {
                offset: 1,
                next: 0x03
            })
        );
        assert_eq!(
            unescape_into(&[0x01, 0x7D], &mut out, false),
            Err(FrameError::DanglingEscape)
        );
        unescape_into(&[0x01, 0x7D], &mut out, true).expect("lenient");
        assert_eq!(out, [0x01, 0x7D]);
    }

    // go-jt808 accepts a heartbeat whose checksum 0x7D is sent bare. Own frame: 0x0002 with
    // serial chosen so that the checksum is 0x7D.
    #[test]
    fn bare_escape_checksum_only_when_lenient() {
        let content = hex("0002000001234567890000f6");
        let sum = checksum(&content);
        assert_eq!(sum, 0x7D);
        let mut raw = vec![FLAG];
        raw.extend_from_slice(&content);
        raw.extend_from_slice(&[0x7D, FLAG]);
        let mut scratch = Vec::new();
        assert_eq!(
            FrameRef::parse(&raw, &mut scratch, &ParseOptions::strict()).map(|f| f.header),
            Err(FrameError::DanglingEscape)
        );
        let frame = FrameRef::parse(&raw, &mut scratch, &ParseOptions::lenient()).expect("lenient");
        assert!(frame.checksum_ok);
        assert_eq!(frame.header.serial, 0xF6);
    }

    #[test]
    fn quirk_header_is_decoded_by_count() {
        // SmallChi Demo14: bit 14 set, 2013 header.
        let raw = hex("7e0102400c01003000068109024a3130303330303030363831857e");
        let mut scratch = Vec::new();
        let f = FrameRef::parse(&raw, &mut scratch, &ParseOptions::strict()).expect("valid");
        assert_eq!(f.header.version, Version::V2013);
        assert!(f.header.layout_quirk);
        assert_eq!(f.header.phone.as_str(), "010030000681");
        assert_eq!(f.header.serial, 0x0902);
        assert_eq!(f.body, b"J10030000681");
    }

    #[test]
    fn length_mismatch_is_strict_error_and_lenient_flag() {
        // A heartbeat that declares a 3-byte body but carries none.
        let mut content = hex("000200030123456789000001");
        content.push(checksum(&content));
        let mut raw = vec![FLAG];
        raw.extend_from_slice(&content);
        raw.push(FLAG);
        let mut scratch = Vec::new();
        assert_eq!(
            FrameRef::parse(&raw, &mut scratch, &ParseOptions::strict()).map(|f| f.header),
            Err(FrameError::LengthMismatch {
                declared: 3,
                content: 12
            })
        );
        let f = FrameRef::parse(&raw, &mut scratch, &ParseOptions::lenient()).expect("lenient");
        assert!(!f.body_len_ok);
        assert!(f.body.is_empty());
        assert_eq!(f.header.serial, 1);
    }

    #[test]
    fn owned_frame_body_is_zero_copy_without_escapes() {
        let raw = Bytes::from(hex("7e0001000501234567890004b303e8000200d37e"));
        let f = Frame::parse(raw.clone(), &ParseOptions::strict()).expect("valid");
        assert_eq!(f.body.as_ref(), hex("03e8000200").as_slice());
        // The body points into the raw frame's memory.
        let raw_range = raw.as_ptr() as usize..raw.as_ptr() as usize + raw.len();
        assert!(raw_range.contains(&(f.body.as_ptr() as usize)));
    }

    #[test]
    fn short_and_undelimited_frames() {
        let mut scratch = Vec::new();
        let strict = ParseOptions::strict();
        assert_eq!(
            FrameRef::parse(&[0x7E, 0x7E], &mut scratch, &strict).map(|f| f.header),
            Err(FrameError::TooShort { len: 0, min: 13 })
        );
        assert_eq!(
            FrameRef::parse(&[0x7E], &mut scratch, &strict).map(|f| f.header),
            Err(FrameError::MissingDelimiters)
        );
        assert_eq!(
            FrameRef::parse(&hex("7e000200007e"), &mut scratch, &strict).map(|f| f.header),
            Err(FrameError::TooShort { len: 4, min: 13 })
        );
    }
}
