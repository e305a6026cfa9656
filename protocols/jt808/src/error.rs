//! Error types. Frame errors reject a whole frame; body errors reject only the typed decode of a
//! frame whose framing was fine; encode errors come from values that do not fit the wire format.

use crate::time::BcdTime;

/// Why a frame (delimiters, escaping, checksum, header) was rejected. The stream decoder turns
/// these into [`RejectedFrame`](crate::RejectedFrame) reports instead of ending the stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes do not start and end with the 0x7E flag.
    #[error("frame does not start and end with 0x7E")]
    MissingDelimiters,
    /// 0x7D followed by something other than 0x01 or 0x02.
    #[error("invalid escape 0x7D 0x{next:02x} at byte {offset} of the escaped frame")]
    InvalidEscape {
        /// Offset of the 0x7D inside the escaped frame content (after the opening 0x7E).
        offset: usize,
        /// The byte that followed 0x7D.
        next: u8,
    },
    /// The last content byte is a lone 0x7D: an unescaped 0x7D checksum, accepted only leniently.
    #[error("frame ends with a bare 0x7D (checksum byte not escaped)")]
    DanglingEscape,
    /// Too few bytes for a header and a checksum.
    #[error("frame too short: {len} bytes after unescaping, at least {min} needed")]
    TooShort {
        /// Unescaped length of header, body and checksum.
        len: usize,
        /// The minimum for the layout that was tried.
        min: usize,
    },
    /// The XOR checksum does not match.
    #[error("checksum mismatch: computed 0x{computed:02x}, frame has 0x{received:02x}")]
    ChecksumMismatch {
        /// XOR of header and body as received.
        computed: u8,
        /// The checksum byte the frame carries.
        received: u8,
    },
    /// The body length in the header fits neither the 2013 nor the 2019 header size.
    #[error(
        "body length mismatch: header declares {declared} body bytes, but the frame holds \
         {content} bytes of header and body, which fits neither the 2013 nor the 2019 header"
    )]
    LengthMismatch {
        /// Body length from the body-properties field.
        declared: u16,
        /// Unescaped header + body length actually received.
        content: usize,
    },
    /// The escaped frame is longer than the configured maximum.
    #[error("frame exceeds the {max}-byte limit")]
    Oversize {
        /// The configured limit in escaped bytes.
        max: usize,
    },
}

impl FrameError {
    /// A short stable label for metrics (`reason` label of a rejected-frames counter).
    pub fn kind(&self) -> &'static str {
        match self {
            FrameError::MissingDelimiters => "missing_delimiters",
            FrameError::InvalidEscape { .. } => "invalid_escape",
            FrameError::DanglingEscape => "dangling_escape",
            FrameError::TooShort { .. } => "too_short",
            FrameError::ChecksumMismatch { .. } => "checksum",
            FrameError::LengthMismatch { .. } => "length_mismatch",
            FrameError::Oversize { .. } => "oversize",
        }
    }
}

/// Why a frame's body could not be decoded into a typed message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum BodyError {
    /// The body ends before a fixed field.
    #[error("body too short for {field}: need {need} more bytes, {have} left")]
    Truncated {
        /// Name of the field being read.
        field: &'static str,
        /// Bytes the field needs.
        need: usize,
        /// Bytes that were left.
        have: usize,
    },
    /// A BCD time field holds non-decimal digits or an impossible date.
    #[error("invalid BCD time {0}")]
    InvalidTime(BcdTime),
    /// The body is encrypted (body-properties bits 10-12), so it cannot be read.
    #[error("body is encrypted (method {0}) and cannot be decoded")]
    Encrypted(u8),
    /// The frame is one packet of a subpackaged message; reassemble the set first.
    #[error("packet {index} of {total}: reassemble the subpackaged message before decoding")]
    Subpackaged {
        /// 1-based packet index.
        index: u16,
        /// Packet count of the set.
        total: u16,
    },
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A string or byte field is longer than its fixed or length-prefixed slot.
    #[error("{field} is {len} bytes, at most {max} fit")]
    FieldTooLong {
        /// Field name.
        field: &'static str,
        /// Encoded length.
        len: usize,
        /// Capacity of the slot.
        max: usize,
    },
    /// Text with characters GBK cannot represent.
    #[error("{field} has characters that GBK cannot encode")]
    Unencodable {
        /// Field name.
        field: &'static str,
    },
    /// A list longer than its count field can express.
    #[error("{field} has {count} entries, at most {max} fit")]
    TooMany {
        /// Field name.
        field: &'static str,
        /// Entries given.
        count: usize,
        /// Largest count the field can hold.
        max: usize,
    },
    /// The phone number has more significant digits than the header version allows.
    #[error("phone {phone} has more than {max} significant digits")]
    PhoneTooLong {
        /// The phone as given.
        phone: String,
        /// Digits the header layout holds.
        max: usize,
    },
    /// A body so long that even 65535 packets cannot carry it.
    #[error("body of {len} bytes needs more than 65535 packets")]
    BodyTooLong {
        /// Body length.
        len: usize,
    },
}

/// A phone string that cannot be a terminal phone field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// Empty or longer than the 20 digits of a 2019 header.
    #[error("phone must have 1 to 20 digits, got {0}")]
    Length(usize),
    /// A character that is not a hex digit (BCD nibbles 0-9; a-f kept for non-BCD devices).
    #[error("phone contains {0:?}, which is not a digit")]
    NotDigit(char),
}
