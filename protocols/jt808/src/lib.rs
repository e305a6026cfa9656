//! JT/T 808 (2011 / 2013 / 2019) codec: framing, headers, typed messages in both directions,
//! subpackage reassembly. Pure: no I/O, no clock, no logging.
//!
//! # Layers
//! - Frames: [`Frame::parse`] (owned, zero-copy body when nothing was escaped) and
//!   [`FrameRef::parse`] (borrowed, allocation-free with a reused scratch buffer).
//! - Stream (feature `codec`): [`Jt808Codec`], a tokio-util `Decoder` that never fails on bad
//!   input; each candidate becomes [`Decoded::Frame`] or [`Decoded::Rejected`].
//! - Bodies: [`Message::decode`] / [`Message::encode_body`]; [`LocationRef`] is the
//!   allocation-free view of a 0x0200 body for the hot path.
//! - Outgoing frames: [`encode_message`] with an [`OutboundHeader`] (long bodies are split into
//!   packets).
//! - Subpackages: [`Reassembler`], one per connection.
//!
//! # Example
//! ```
//! use bytes::{Bytes, BytesMut};
//! use jt808::{
//!     encode_message, Frame, GeneralResponse, Message, OutboundHeader, ParseOptions,
//! };
//!
//! let raw = Bytes::from(hex_literal("7e0002000001234567890000018a7e"));
//! let frame = Frame::parse(raw, &ParseOptions::strict())?;
//! assert_eq!(frame.header.phone.as_str(), "012345678900");
//! assert_eq!(frame.message()?, Message::Heartbeat);
//!
//! // Acknowledge it with 0x8001, using the platform's own serial counter.
//! let reply = Message::PlatformResponse(GeneralResponse::ack(&frame.header));
//! let mut out = BytesMut::new();
//! encode_message(&OutboundHeader::reply_to(&frame.header, 7), &reply, &mut out)?;
//! assert_eq!(out[0], 0x7E);
//! # fn hex_literal(s: &str) -> Vec<u8> {
//! #     (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "codec")]
mod codec;
mod encode;
mod error;
mod frame;
mod header;
mod location;
mod message;
mod reassembly;
#[cfg(feature = "serde")]
pub mod ser;
mod time;
mod wire;

#[cfg(feature = "codec")]
pub use codec::{
    CodecError, DEFAULT_MAX_FRAME_LEN, Decoded, DecoderConfig, DecoderStats, Jt808Codec, Outbound,
    RejectedFrame,
};
pub use encode::{OutboundHeader, encode_frame, encode_message, packets_needed};
pub use error::{BodyError, EncodeError, FrameError, PhoneError};
pub use frame::{
    ESCAPE, FLAG, Frame, FrameRef, ParseOptions, checksum, escape_into, unescape_into,
};
pub use header::{BodyProps, Header, MAX_BODY_LEN, PacketInfo, Phone, Version};
pub use location::{
    AdditionalItem, AlarmFlags, BASIC_LEN, ItemDefect, ItemIter, ItemValue, LoadStatus, Location,
    LocationBasic, LocationRef, RawItem, StatusFlags,
};
pub use message::{
    Auth, BatchDefect, GeneralResponse, LocationBatch, LocationResponse, MediaData, MediaEvent,
    MediaUploadAck, Message, Parameter, ParameterResponse, Passthrough, Register, RegisterLayout,
    RegisterResponse, ResendRequest, TextMessage, TrackLocation, ids,
};
pub use reassembly::{
    IncompleteSet, PushOutcome, Reassembled, Reassembler, ReassemblyConfig, ReassemblyError, SetKey,
};
pub use time::{BEIJING_OFFSET_SECS, BcdTime, beijing};
