//! tokio-util [`Decoder`] / [`Encoder`] for JT/T 808 byte streams.
//!
//! The decoder never returns `Err` for bad input: `FramedRead` ends the stream after an error,
//! which would drop a truck over one bad byte. Every candidate frame becomes either
//! [`Decoded::Frame`] or [`Decoded::Rejected`] (with the reason, for metrics), and the stream
//! goes on. Bytes outside frames are skipped up to the next 0x7E and counted.
//!
//! Delimiter handling: a closing 0x7E may also open the next frame (devices that share one flag
//! between frames, and resynchronisation after joining a stream mid-frame). A candidate that
//! starts at such a shared flag and does not parse is counted as garbage (it is what lies
//! between two frames), not reported as a rejected frame; `7E 7E` is just two flags.

use bytes::{Buf, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::encode::{OutboundHeader, encode_message};
use crate::error::{EncodeError, FrameError};
use crate::frame::{FLAG, Frame, ParseOptions};
use crate::header::{MAX_BODY_LEN, Version};
use crate::message::Message;

/// Default cap on one escaped frame, delimiters included: a 1023-byte body with a 2019
/// subpackage header and checksum, every byte escaped.
pub const DEFAULT_MAX_FRAME_LEN: usize =
    2 * (MAX_BODY_LEN + Version::V2019.header_len(true) + 1) + 2;

/// Decoder settings, chosen per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Strict or lenient frame parsing.
    pub options: ParseOptions,
    /// Longest escaped frame accepted, delimiters included.
    pub max_frame_len: usize,
}

impl Default for DecoderConfig {
    fn default() -> DecoderConfig {
        DecoderConfig {
            options: ParseOptions::strict(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }
}

/// A candidate frame that was rejected; the raw bytes are kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedFrame {
    /// The bytes as received, delimiters included (an oversize frame is cut at the limit).
    pub raw: Bytes,
    /// Why it was rejected; [`FrameError::kind`] gives a metrics label.
    pub error: FrameError,
}

/// What the stream decoder yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A frame that passed (or, leniently, was allowed past) the checks.
    Frame(Frame),
    /// A frame that failed them.
    Rejected(RejectedFrame),
}

/// Running totals of one decoder (one connection), for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderStats {
    /// Frames yielded as [`Decoded::Frame`].
    pub frames: u64,
    /// Frames yielded as [`Decoded::Rejected`].
    pub rejected: u64,
    /// Bytes skipped outside frames (leading junk, text between frames).
    pub garbage_bytes: u64,
    /// Bytes of an incomplete frame dropped at end of stream.
    pub truncated_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Looking for a 0x7E; everything before it is garbage.
    Hunting,
    /// A frame may have started. `shared`: its opening flag was the previous frame's closing
    /// flag and has been consumed; otherwise the flag is still at `buf[0]`.
    Open { shared: bool },
}

/// The JT/T 808 stream codec: decodes frames from a byte stream and encodes outgoing
/// messages. One per connection.
#[derive(Debug, Clone)]
pub struct Jt808Codec {
    config: DecoderConfig,
    state: State,
    /// Bytes of the current candidate's content already searched for the closing flag.
    scanned: usize,
    stats: DecoderStats,
}

impl Default for Jt808Codec {
    fn default() -> Jt808Codec {
        Jt808Codec::new(DecoderConfig::default())
    }
}

impl Jt808Codec {
    /// A codec with `config`.
    pub fn new(config: DecoderConfig) -> Jt808Codec {
        Jt808Codec {
            config,
            state: State::Hunting,
            scanned: 0,
            stats: DecoderStats::default(),
        }
    }

    /// A strict codec with the default frame limit.
    pub fn strict() -> Jt808Codec {
        Jt808Codec::default()
    }

    /// A lenient codec (bad checksums, bare 0x7D checksum, length mismatches accepted).
    pub fn lenient() -> Jt808Codec {
        Jt808Codec::new(DecoderConfig {
            options: ParseOptions::lenient(),
            ..DecoderConfig::default()
        })
    }

    /// Changes the parse options mid-stream (e.g. once the device model is known).
    pub fn set_options(&mut self, options: ParseOptions) {
        self.config.options = options;
    }

    /// The current settings.
    pub fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Running totals.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    fn reject(&mut self, raw: Bytes, error: FrameError) -> Decoded {
        self.stats.rejected += 1;
        Decoded::Rejected(RejectedFrame { raw, error })
    }

    fn garbage(&mut self, n: usize) {
        self.stats.garbage_bytes += n as u64;
    }
}

impl Decoder for Jt808Codec {
    type Item = Decoded;
    type Error = std::io::Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, std::io::Error> {
        let max = self.config.max_frame_len.max(2);
        loop {
            match self.state {
                State::Hunting => match memchr::memchr(FLAG, buf) {
                    None => {
                        self.garbage(buf.len());
                        buf.clear();
                        return Ok(None);
                    }
                    Some(at) => {
                        self.garbage(at);
                        buf.advance(at);
                        self.state = State::Open { shared: false };
                        self.scanned = 0;
                    }
                },
                State::Open { shared } => {
                    let content_at = usize::from(!shared);
                    let search_at = content_at + self.scanned;
                    let closing = buf
                        .get(search_at..)
                        .and_then(|rest| memchr::memchr(FLAG, rest))
                        .map(|i| i + search_at);
                    let Some(close_at) = closing else {
                        let pending = buf.len().saturating_sub(content_at);
                        if pending + 2 <= max {
                            self.scanned = pending;
                            return Ok(None);
                        }
                        // No closing flag within the limit: drop what we have and hunt for
                        // the next flag, so memory stays bounded.
                        self.state = State::Hunting;
                        self.scanned = 0;
                        if shared {
                            self.garbage(buf.len());
                            buf.clear();
                            continue;
                        }
                        let raw = buf.split_to(buf.len().min(max)).freeze();
                        self.garbage(buf.len());
                        buf.clear();
                        return Ok(Some(self.reject(raw, FrameError::Oversize { max })));
                    };
                    self.scanned = 0;
                    let content_len = close_at - content_at;
                    if content_len == 0 {
                        // Two flags in a row: the second one opens the next frame.
                        if !shared {
                            buf.advance(1);
                        }
                        self.state = State::Open { shared: false };
                        continue;
                    }
                    self.state = State::Open { shared: true };
                    if content_len + 2 > max {
                        if shared {
                            self.garbage(content_len);
                            buf.advance(close_at + 1);
                            continue;
                        }
                        let raw = buf.split_to(close_at + 1).freeze().slice(..max);
                        return Ok(Some(self.reject(raw, FrameError::Oversize { max })));
                    }
                    let raw = if shared {
                        let mut owned = BytesMut::with_capacity(close_at + 2);
                        owned.extend_from_slice(&[FLAG]);
                        owned.extend_from_slice(buf.get(..=close_at).unwrap_or_default());
                        buf.advance(close_at + 1);
                        owned.freeze()
                    } else {
                        buf.split_to(close_at + 1).freeze()
                    };
                    match Frame::parse(raw.clone(), &self.config.options) {
                        Ok(frame) => {
                            self.stats.frames += 1;
                            return Ok(Some(Decoded::Frame(frame)));
                        }
                        Err(_) if shared => self.garbage(content_len),
                        Err(error) => return Ok(Some(self.reject(raw, error))),
                    }
                }
            }
        }
    }

    /// Drains complete frames, then drops a trailing partial frame quietly (counted in
    /// [`DecoderStats::truncated_bytes`]) instead of failing like the default.
    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, std::io::Error> {
        if let Some(item) = self.decode(buf)? {
            return Ok(Some(item));
        }
        self.stats.truncated_bytes += buf.len() as u64;
        buf.clear();
        self.state = State::Hunting;
        self.scanned = 0;
        Ok(None)
    }
}

/// An outgoing message for [`Jt808Codec`]'s encoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Phone, serial and layout of the (first) packet.
    pub header: OutboundHeader,
    /// The message.
    pub message: Message,
}

/// Why the encoder failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Writing to the transport failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The message does not fit the wire format.
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

impl Encoder<Outbound> for Jt808Codec {
    type Error = CodecError;

    fn encode(&mut self, item: Outbound, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode_message(&item.header, &item.message, dst)?;
        Ok(())
    }
}

impl Encoder<Bytes> for Jt808Codec {
    type Error = CodecError;

    /// Writes an already-encoded frame as is (e.g. a stored command being re-sent).
    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.extend_from_slice(&item);
        Ok(())
    }
}
