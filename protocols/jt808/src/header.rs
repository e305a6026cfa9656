//! The message header: id, body properties, version, terminal phone, serial, packet info.

use std::fmt;
use std::str::FromStr;

use crate::error::{EncodeError, PhoneError};

/// Largest body a single packet can carry (10-bit length field).
pub const MAX_BODY_LEN: usize = 0x3FF;

/// Header layout. 2011 and 2013 share one header (12 bytes, BCD[6] phone); 2019 adds a protocol
/// version byte and a BCD[10] phone (17 bytes). Bodies that differ between 2011 and 2013 (only
/// 0x0100) carry their own layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// JT/T 808-2011 or -2013 header.
    V2013,
    /// JT/T 808-2019 header (body-properties bit 14, version byte, 20-digit phone).
    V2019,
}

impl Version {
    /// Header size in bytes without (`subpackaged = false`) or with the packet fields.
    pub const fn header_len(self, subpackaged: bool) -> usize {
        match (self, subpackaged) {
            (Version::V2013, false) => 12,
            (Version::V2013, true) => 16,
            (Version::V2019, false) => 17,
            (Version::V2019, true) => 21,
        }
    }

    /// BCD bytes of the phone field.
    pub const fn phone_bytes(self) -> usize {
        match self {
            Version::V2013 => 6,
            Version::V2019 => 10,
        }
    }

    /// The edition's year as text ("2013" also stands for 2011 headers).
    pub const fn as_str(self) -> &'static str {
        match self {
            Version::V2013 => "2013",
            Version::V2019 => "2019",
        }
    }
}

/// The body-properties word: length, encryption, subpackage and version bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BodyProps(pub u16);

impl BodyProps {
    const SUBPACKAGE: u16 = 1 << 13;
    const VERSION_FLAG: u16 = 1 << 14;
    const RESERVED: u16 = 1 << 15;

    /// Builds the word for a body of `body_len` bytes (masked to 10 bits).
    pub const fn new(body_len: u16, subpackaged: bool, version: Version) -> BodyProps {
        let mut bits = body_len & MAX_BODY_LEN as u16;
        if subpackaged {
            bits |= Self::SUBPACKAGE;
        }
        if matches!(version, Version::V2019) {
            bits |= Self::VERSION_FLAG;
        }
        BodyProps(bits)
    }

    /// Bits 0-9: body length of this packet.
    pub const fn body_len(self) -> u16 {
        self.0 & MAX_BODY_LEN as u16
    }

    /// Bits 10-12: encryption method; 0 = none, 1 = RSA, others reserved.
    pub const fn encryption(self) -> u8 {
        ((self.0 >> 10) & 0b111) as u8
    }

    /// Bit 13: the header carries packet total and index.
    pub const fn is_subpackaged(self) -> bool {
        self.0 & Self::SUBPACKAGE != 0
    }

    /// Bit 14: the terminal claims the 2019 header.
    pub const fn version_flag(self) -> bool {
        self.0 & Self::VERSION_FLAG != 0
    }

    /// Bit 15: reserved; reported because some devices set it.
    pub const fn reserved_bit15(self) -> bool {
        self.0 & Self::RESERVED != 0
    }
}

/// Packet total and 1-based index of a subpackaged message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PacketInfo {
    /// Number of packets in the set.
    pub total: u16,
    /// This packet's position, starting at 1.
    pub index: u16,
}

/// The terminal phone field as its BCD digit string, stored inline so that decoding a header
/// never allocates. Leading zeros are kept (12 digits in 2011/2013, 20 in 2019); nibbles above 9
/// (sent by some devices) appear as `a`-`f` rather than rejecting the frame.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Phone {
    /// ASCII digits; only the first `len` are meaningful, the rest are zero.
    digits: [u8; 20],
    /// Number of digits.
    len: u8,
    /// The digits packed as BCD, right-aligned and zero-padded to 10 bytes, so that writing a
    /// header of either width is a copy.
    bcd: [u8; 10],
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

impl Phone {
    /// Reads a BCD phone field (at most 10 bytes are used).
    pub fn from_bcd(bcd: &[u8]) -> Phone {
        let used = bcd.get(..10).unwrap_or(bcd);
        let mut digits = [0u8; 20];
        for (pair, byte) in digits.chunks_exact_mut(2).zip(used) {
            if let [hi, lo] = pair {
                *hi = HEX_DIGITS[usize::from(byte >> 4)];
                *lo = HEX_DIGITS[usize::from(byte & 0x0F)];
            }
        }
        let mut packed = [0u8; 10];
        if let Some(tail) = packed.get_mut(10 - used.len()..) {
            tail.copy_from_slice(used);
        }
        Phone {
            digits,
            len: (used.len() * 2) as u8,
            bcd: packed,
        }
    }

    /// Parses a digit string (1-20 characters, `0-9`, or `a-f` for non-BCD devices).
    pub fn parse(text: &str) -> Result<Phone, PhoneError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || bytes.len() > 20 {
            return Err(PhoneError::Length(text.chars().count()));
        }
        let mut digits = [0u8; 20];
        let mut nibbles = [0u8; 20];
        let pad = 20 - bytes.len();
        for (i, ch) in text.chars().enumerate() {
            let (ascii, value) = match ch {
                '0'..='9' => (ch as u8, ch as u8 - b'0'),
                'a'..='f' => (ch as u8, ch as u8 - b'a' + 10),
                'A'..='F' => (ch.to_ascii_lowercase() as u8, ch as u8 - b'A' + 10),
                other => return Err(PhoneError::NotDigit(other)),
            };
            if let (Some(d), Some(n)) = (digits.get_mut(i), nibbles.get_mut(pad + i)) {
                *d = ascii;
                *n = value;
            }
        }
        let mut bcd = [0u8; 10];
        for (byte, pair) in bcd.iter_mut().zip(nibbles.chunks_exact(2)) {
            if let [hi, lo] = pair {
                *byte = (hi << 4) | lo;
            }
        }
        Ok(Phone {
            digits,
            len: bytes.len() as u8,
            bcd,
        })
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        let digits = self.digits.get(..usize::from(self.len)).unwrap_or_default();
        // Only ASCII is ever stored, so this never falls back.
        std::str::from_utf8(digits).unwrap_or_default()
    }

    /// The digits without leading zeros (how some platforms print phones); at least one digit.
    pub fn trimmed(&self) -> &str {
        let s = self.as_str();
        let t = s.trim_start_matches('0');
        if t.is_empty() && !s.is_empty() {
            "0"
        } else {
            t
        }
    }

    /// The phone as `width` (at most 10) BCD bytes, left-padded with zeros. A phone with more
    /// significant digits than fit is an error; surplus leading zeros are dropped.
    #[inline]
    pub fn bcd(&self, width: usize) -> Result<&[u8], EncodeError> {
        let cut = 10usize.saturating_sub(width);
        let (dropped, kept) = self.bcd.split_at(cut);
        if width > 10 || dropped.iter().fold(0u8, |acc, &b| acc | b) != 0 {
            return Err(self.too_long(width));
        }
        Ok(kept)
    }

    #[cold]
    fn too_long(&self, width: usize) -> EncodeError {
        EncodeError::PhoneTooLong {
            phone: self.as_str().to_owned(),
            max: width.min(10) * 2,
        }
    }

    /// Writes the phone into `out` as `out.len()` BCD bytes (see [`Phone::bcd`]).
    pub fn write_bcd(&self, out: &mut [u8]) -> Result<(), EncodeError> {
        out.copy_from_slice(self.bcd(out.len())?);
        Ok(())
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.as_str())
    }
}

impl FromStr for Phone {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Phone, PhoneError> {
        Phone::parse(s)
    }
}

/// A parsed header. `Copy` and allocation-free so the hot path can hand it around freely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// Message id, e.g. 0x0200.
    pub msg_id: u16,
    /// The body-properties word as received (length, encryption, subpackage, version bits).
    pub props: BodyProps,
    /// Header layout actually found by counting bytes (may disagree with bit 14, see
    /// `layout_quirk`).
    pub version: Version,
    /// 2019 protocol-version byte; 0 for 2011/2013 headers, which have none.
    pub protocol_version: u8,
    /// Terminal phone (BCD digits, leading zeros kept): the session key.
    pub phone: Phone,
    /// The terminal's message serial number; replies quote it.
    pub serial: u16,
    /// Packet total and index when the message is subpackaged (bit 13).
    pub packet: Option<PacketInfo>,
    /// Bit 14 disagreed with the byte count (e.g. 2019 flag with a 2013 header); the layout
    /// from the count was used. Worth a per-device metric.
    pub layout_quirk: bool,
}

impl Header {
    /// Bytes this header occupies on the wire (before escaping).
    pub fn encoded_len(&self) -> usize {
        self.version.header_len(self.packet.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keeps_leading_zeros_and_hex_nibbles() {
        assert_eq!(
            Phone::from_bcd(&[0x01, 0x23, 0x45, 0x67, 0x89, 0x00]).as_str(),
            "012345678900"
        );
        // Traccar's device with non-BCD nibbles in the phone field.
        assert_eq!(
            Phone::from_bcd(&[0x4f, 0x07, 0x78, 0x8e, 0xf6, 0x76]).as_str(),
            "4f07788ef676"
        );
        assert_eq!(
            Phone::from_bcd(&[0x00, 0x00, 0x00, 0x00, 0x01, 0x23]).trimmed(),
            "123"
        );
    }

    #[test]
    fn phone_write_pads_and_trims() {
        // SmallChi/JT808#26: a 2019 header parser read 12345678910 as 10000000001.
        let phone = Phone::parse("12345678910").expect("digits");
        let mut wide = [0u8; 10];
        phone.write_bcd(&mut wide).expect("fits");
        assert_eq!(wide, [0, 0, 0, 0, 0x01, 0x23, 0x45, 0x67, 0x89, 0x10]);
        assert_eq!(Phone::from_bcd(&wide).trimmed(), "12345678910");

        let long = Phone::parse("00000000012345678900").expect("digits");
        let mut narrow = [0u8; 6];
        long.write_bcd(&mut narrow).expect("leading zeros dropped");
        assert_eq!(Phone::from_bcd(&narrow).as_str(), "012345678900");

        let too_long = Phone::parse("1234567890123").expect("digits");
        assert!(matches!(
            too_long.write_bcd(&mut narrow),
            Err(EncodeError::PhoneTooLong { max: 12, .. })
        ));
        assert_eq!(Phone::parse(""), Err(PhoneError::Length(0)));
        assert_eq!(Phone::parse("12x"), Err(PhoneError::NotDigit('x')));
    }

    #[test]
    fn body_props_bits() {
        // SmallChi asserts 0x64FF: length 255, RSA, subpackaged, 2019.
        let p = BodyProps(0x64FF);
        assert_eq!(p.body_len(), 255);
        assert_eq!(p.encryption(), 1);
        assert!(p.is_subpackaged());
        assert!(p.version_flag());
        let q = BodyProps(0x44FF);
        assert!(!q.is_subpackaged());
        assert_eq!(
            (q.body_len(), q.encryption(), q.version_flag()),
            (255, 1, true)
        );
        assert_eq!(BodyProps::new(0x1FF, true, Version::V2019).0, 0x61FF);
    }
}
