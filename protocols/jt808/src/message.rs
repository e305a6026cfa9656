//! Typed message bodies, uplink and downlink, with decode and encode.
//!
//! Every type round-trips: decoding what [`Message::encode_body`] wrote gives the same value
//! (given the same [`Version`]).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{BodyError, EncodeError};
use crate::header::{Header, Version};
use crate::location::{BASIC_LEN, Location, LocationBasic};
use crate::time::BcdTime;
use crate::wire::{Reader, count_fits, gbk_decode, put_fixed_str, put_str};

/// Message ids this crate decodes into typed messages.
pub mod ids {
    /// Terminal general response.
    pub const TERMINAL_RESPONSE: u16 = 0x0001;
    /// Heartbeat.
    pub const HEARTBEAT: u16 = 0x0002;
    /// Terminal logout.
    pub const LOGOUT: u16 = 0x0003;
    /// Query server time (2019).
    pub const QUERY_SERVER_TIME: u16 = 0x0004;
    /// Terminal registration.
    pub const REGISTER: u16 = 0x0100;
    /// Terminal authentication.
    pub const AUTH: u16 = 0x0102;
    /// Parameter query response.
    pub const PARAMETER_RESPONSE: u16 = 0x0104;
    /// Location report.
    pub const LOCATION: u16 = 0x0200;
    /// Location query response.
    pub const LOCATION_RESPONSE: u16 = 0x0201;
    /// Bulk / blind-area location upload.
    pub const LOCATION_BATCH: u16 = 0x0704;
    /// Multimedia event.
    pub const MEDIA_EVENT: u16 = 0x0800;
    /// Multimedia data upload.
    pub const MEDIA_DATA: u16 = 0x0801;
    /// Transparent (pass-through) uplink data.
    pub const PASSTHROUGH: u16 = 0x0900;
    /// Platform general response.
    pub const PLATFORM_RESPONSE: u16 = 0x8001;
    /// Request to resend missing packets.
    pub const RESEND_REQUEST: u16 = 0x8003;
    /// Server time response (2019).
    pub const SERVER_TIME: u16 = 0x8004;
    /// Registration response.
    pub const REGISTER_RESPONSE: u16 = 0x8100;
    /// Set terminal parameters.
    pub const SET_PARAMETERS: u16 = 0x8103;
    /// Query all terminal parameters.
    pub const QUERY_PARAMETERS: u16 = 0x8104;
    /// Location query.
    pub const QUERY_LOCATION: u16 = 0x8201;
    /// Temporary location tracking.
    pub const TRACK_LOCATION: u16 = 0x8202;
    /// Text message to the terminal.
    pub const TEXT_MESSAGE: u16 = 0x8300;
    /// Multimedia upload acknowledgement.
    pub const MEDIA_UPLOAD_ACK: u16 = 0x8800;
}

/// 0x0001 / 0x8001 general response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GeneralResponse {
    /// Serial of the message answered.
    pub reply_serial: u16,
    /// Id of the message answered.
    pub reply_msg_id: u16,
    /// Result code (see the associated constants).
    pub result: u8,
}

impl GeneralResponse {
    /// Result 0: success / acknowledged.
    pub const SUCCESS: u8 = 0;
    /// Result 1: failure.
    pub const FAILURE: u8 = 1;
    /// Result 2: message error.
    pub const MESSAGE_ERROR: u8 = 2;
    /// Result 3: not supported.
    pub const UNSUPPORTED: u8 = 3;
    /// Result 4 (0x8001 only): alarm handling confirmed; clears latched alarm bits.
    pub const ALARM_CONFIRMED: u8 = 4;

    /// A success response to the message with `header`.
    pub fn ack(header: &Header) -> GeneralResponse {
        GeneralResponse {
            reply_serial: header.serial,
            reply_msg_id: header.msg_id,
            result: GeneralResponse::SUCCESS,
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<GeneralResponse, BodyError> {
        Ok(GeneralResponse {
            reply_serial: r.u16("reply serial")?,
            reply_msg_id: r.u16("reply message id")?,
            result: r.u8("result")?,
        })
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.reply_serial);
        out.put_u16(self.reply_msg_id);
        out.put_u8(self.result);
    }
}

/// Body layout of a 0x0100 registration (2011 and 2013 share the header but not this body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterLayout {
    /// Maker 5, model 8, terminal id 7 bytes (25 bytes before the plate).
    V2011,
    /// Maker 5, model 20, terminal id 7 bytes (37 bytes before the plate).
    V2013,
    /// Maker 11, model 30, terminal id 30 bytes (76 bytes before the plate).
    V2019,
}

impl RegisterLayout {
    /// (maker, model, terminal id) field widths.
    const fn widths(self) -> (usize, usize, usize) {
        match self {
            RegisterLayout::V2011 => (5, 8, 7),
            RegisterLayout::V2013 => (5, 20, 7),
            RegisterLayout::V2019 => (11, 30, 30),
        }
    }

    /// Bytes before the plate.
    pub const fn fixed_len(self) -> usize {
        let (maker, model, id) = self.widths();
        4 + maker + model + id + 1
    }

    /// The edition's year as text.
    pub const fn as_str(self) -> &'static str {
        match self {
            RegisterLayout::V2011 => "2011",
            RegisterLayout::V2013 => "2013",
            RegisterLayout::V2019 => "2019",
        }
    }

    /// The layout a body most likely has: 2019 headers mean 2019; otherwise a body too short
    /// for the 2013 fields is 2011. Keep a per-terminal override for exotic plates.
    pub fn detect(version: Version, body_len: usize) -> RegisterLayout {
        match version {
            Version::V2019 => RegisterLayout::V2019,
            Version::V2013 if body_len < RegisterLayout::V2013.fixed_len() => RegisterLayout::V2011,
            Version::V2013 => RegisterLayout::V2013,
        }
    }
}

/// 0x0100 terminal registration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Register {
    /// Body layout (edition) the terminal used.
    pub layout: RegisterLayout,
    /// Province code (GB/T 2260 first two digits).
    pub province: u16,
    /// City / county code.
    pub city: u16,
    /// Manufacturer id.
    pub maker_id: String,
    /// Terminal model.
    pub model: String,
    /// Terminal id.
    pub terminal_id: String,
    /// Plate colour (JT/T 415; 0 = not plated, plate then holds the VIN).
    pub plate_color: u8,
    /// Licence plate (GBK text), or VIN when `plate_color` is 0.
    pub plate: String,
}

impl Register {
    /// Decodes a body with a known layout (use [`RegisterLayout::detect`] to guess it).
    pub fn decode(body: &[u8], layout: RegisterLayout) -> Result<Register, BodyError> {
        let (maker, model, id) = layout.widths();
        let mut r = Reader::new(body);
        Ok(Register {
            layout,
            province: r.u16("province")?,
            city: r.u16("city")?,
            maker_id: gbk_decode(r.bytes(maker, "maker id")?),
            model: gbk_decode(r.bytes(model, "model")?),
            terminal_id: gbk_decode(r.bytes(id, "terminal id")?),
            plate_color: r.u8("plate color")?,
            plate: gbk_decode(r.rest()),
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        let (maker, model, id) = self.layout.widths();
        out.put_u16(self.province);
        out.put_u16(self.city);
        put_fixed_str(out, &self.maker_id, maker, "maker id")?;
        put_fixed_str(out, &self.model, model, "model")?;
        put_fixed_str(out, &self.terminal_id, id, "terminal id")?;
        out.put_u8(self.plate_color);
        put_str(out, &self.plate, "plate")
    }
}

/// 0x0102 terminal authentication.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Auth {
    /// The auth code the platform issued in 0x8100.
    pub auth_code: String,
    /// 2019: terminal IMEI (15 bytes); `None` in 2011/2013.
    pub imei: Option<String>,
    /// 2019: software version (20 bytes); `None` in 2011/2013.
    pub software_version: Option<String>,
}

impl Auth {
    fn decode(body: &[u8], version: Version) -> Result<Auth, BodyError> {
        // A 2019 body is len BYTE + code + IMEI[15] + version[20]; if the length byte does not
        // account for the body exactly, the terminal sent the 2013 form despite its header.
        if version == Version::V2019
            && let Some((&len, rest)) = body.split_first()
            && rest.len() == usize::from(len) + 35
        {
            let mut r = Reader::new(rest);
            return Ok(Auth {
                auth_code: gbk_decode(r.bytes(usize::from(len), "auth code")?),
                imei: Some(gbk_decode(r.bytes(15, "IMEI")?)),
                software_version: Some(gbk_decode(r.bytes(20, "software version")?)),
            });
        }
        Ok(Auth {
            auth_code: gbk_decode(body),
            imei: None,
            software_version: None,
        })
    }

    fn encode(&self, out: &mut BytesMut, version: Version) -> Result<(), EncodeError> {
        match version {
            Version::V2013 => put_str(out, &self.auth_code, "auth code"),
            Version::V2019 => {
                let code = crate::wire::gbk_encode(&self.auth_code, "auth code")?;
                let len = u8::try_from(code.len()).map_err(|_| EncodeError::FieldTooLong {
                    field: "auth code",
                    len: code.len(),
                    max: 255,
                })?;
                out.put_u8(len);
                out.put_slice(&code);
                put_fixed_str(out, self.imei.as_deref().unwrap_or(""), 15, "IMEI")?;
                put_fixed_str(
                    out,
                    self.software_version.as_deref().unwrap_or(""),
                    20,
                    "software version",
                )
            }
        }
    }
}

/// One terminal parameter (id DWORD, len BYTE, value) as used by 0x8103 and 0x0104.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Parameter {
    /// Parameter id (see [`Parameter`]'s constants).
    pub id: u32,
    /// Value bytes (at most 255); DWORD parameters are 4 big-endian bytes.
    pub value: Vec<u8>,
}

impl Parameter {
    /// 0x0001: heartbeat interval, seconds (DWORD).
    pub const HEARTBEAT_INTERVAL: u32 = 0x0001;
    /// 0x0013: main server address (STRING).
    pub const SERVER_ADDRESS: u32 = 0x0013;
    /// 0x0018: server TCP port (DWORD).
    pub const SERVER_TCP_PORT: u32 = 0x0018;
    /// 0x0020: report strategy: 0 by time, 1 by distance, 2 both (DWORD).
    pub const REPORT_STRATEGY: u32 = 0x0020;
    /// 0x0022: report interval while the driver is not logged in, seconds (DWORD).
    pub const REPORT_INTERVAL_NO_DRIVER: u32 = 0x0022;
    /// 0x0027: report interval while sleeping, seconds (DWORD).
    pub const REPORT_INTERVAL_SLEEP: u32 = 0x0027;
    /// 0x0028: report interval during an emergency alarm, seconds (DWORD).
    pub const REPORT_INTERVAL_ALARM: u32 = 0x0028;
    /// 0x0029: default report interval, seconds (DWORD).
    pub const REPORT_INTERVAL_DEFAULT: u32 = 0x0029;
    /// 0x0055: overspeed limit, km/h (DWORD).
    pub const OVERSPEED_LIMIT: u32 = 0x0055;
    /// 0x0056: overspeed duration, seconds (DWORD).
    pub const OVERSPEED_DURATION: u32 = 0x0056;

    /// A DWORD parameter.
    pub fn dword(id: u32, value: u32) -> Parameter {
        Parameter {
            id,
            value: value.to_be_bytes().to_vec(),
        }
    }

    /// A WORD parameter.
    pub fn word(id: u32, value: u16) -> Parameter {
        Parameter {
            id,
            value: value.to_be_bytes().to_vec(),
        }
    }

    /// A GBK string parameter.
    pub fn string(id: u32, value: &str) -> Result<Parameter, EncodeError> {
        Ok(Parameter {
            id,
            value: crate::wire::gbk_encode(value, "parameter value")?.into_owned(),
        })
    }

    /// The value as a DWORD, if it is 4 bytes long.
    pub fn as_dword(&self) -> Option<u32> {
        <[u8; 4]>::try_from(self.value.as_slice())
            .ok()
            .map(u32::from_be_bytes)
    }

    /// The value as GBK text.
    pub fn as_string(&self) -> String {
        gbk_decode(&self.value)
    }

    fn decode_list(r: &mut Reader<'_>) -> Result<Vec<Parameter>, BodyError> {
        let count = r.u8("parameter count")?;
        let mut params = Vec::with_capacity(usize::from(count).min(r.remaining() / 5));
        for _ in 0..count {
            let id = r.u32("parameter id")?;
            let len = r.u8("parameter length")?;
            params.push(Parameter {
                id,
                value: r.bytes(usize::from(len), "parameter value")?.to_vec(),
            });
        }
        Ok(params)
    }

    fn encode_list(params: &[Parameter], out: &mut BytesMut) -> Result<(), EncodeError> {
        count_fits(params.len(), 255, "parameters")?;
        out.put_u8(params.len() as u8);
        for p in params {
            let len = u8::try_from(p.value.len()).map_err(|_| EncodeError::FieldTooLong {
                field: "parameter value",
                len: p.value.len(),
                max: 255,
            })?;
            out.put_u32(p.id);
            out.put_u8(len);
            out.put_slice(&p.value);
        }
        Ok(())
    }
}

/// 0x0104 parameter query response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ParameterResponse {
    /// Serial of the 0x8104/0x8106 answered.
    pub reply_serial: u16,
    /// The parameters reported.
    pub params: Vec<Parameter>,
}

/// 0x0201 location query response (answer to 0x8201).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationResponse {
    /// Serial of the 0x8201 answered.
    pub reply_serial: u16,
    /// The position.
    pub location: Location,
}

/// Why a 0x0704 batch stopped early; the positions before the bad one are kept.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("position {index} of {declared_count}: {error}")]
pub struct BatchDefect {
    /// Count the terminal declared.
    pub declared_count: u16,
    /// 0-based index of the first position that could not be read.
    pub index: u16,
    /// What was wrong with it.
    pub error: BodyError,
}

/// 0x0704 bulk or blind-area location upload.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocationBatch {
    /// 0 normal periodic batch, 1 blind-area re-upload (old data: order by device time).
    pub kind: u8,
    /// The positions that parsed, in order.
    pub positions: Vec<Location>,
    /// Set when the batch was cut short by a bad position.
    pub defect: Option<BatchDefect>,
}

impl LocationBatch {
    /// Type 0: normal batch.
    pub const NORMAL: u8 = 0;
    /// Type 1: blind-area re-upload.
    pub const BLIND_AREA: u8 = 1;

    fn decode(body: &[u8]) -> Result<LocationBatch, BodyError> {
        let mut r = Reader::new(body);
        let declared_count = r.u16("position count")?;
        let kind = r.u8("batch type")?;
        let mut positions = Vec::with_capacity(usize::from(declared_count).min(r.remaining() / 30));
        let mut defect = None;
        for index in 0..declared_count {
            let item = r
                .u16("position length")
                .and_then(|len| r.bytes(usize::from(len), "position"))
                .and_then(Location::parse);
            match item {
                Ok(position) => positions.push(position),
                Err(error) => {
                    defect = Some(BatchDefect {
                        declared_count,
                        index,
                        error,
                    });
                    break;
                }
            }
        }
        Ok(LocationBatch {
            kind,
            positions,
            defect,
        })
    }

    fn encode(&self, out: &mut BytesMut) -> Result<(), EncodeError> {
        count_fits(self.positions.len(), usize::from(u16::MAX), "positions")?;
        out.put_u16(self.positions.len() as u16);
        out.put_u8(self.kind);
        for position in &self.positions {
            let len_at = out.len();
            out.put_u16(0);
            position.encode(out)?;
            let len = out.len() - len_at - 2;
            let len = u16::try_from(len).map_err(|_| EncodeError::FieldTooLong {
                field: "batch position",
                len,
                max: usize::from(u16::MAX),
            })?;
            if let Some(slot) = out.get_mut(len_at..len_at + 2) {
                slot.copy_from_slice(&len.to_be_bytes());
            }
        }
        Ok(())
    }
}

/// 0x0800 multimedia event header (also the first 8 bytes of 0x0801).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MediaEvent {
    /// Multimedia id (non-zero).
    pub media_id: u32,
    /// 0 image, 1 audio, 2 video.
    pub media_type: u8,
    /// 0 JPEG, 1 TIF, 2 MP3, 3 WAV, 4 WMV.
    pub format: u8,
    /// Event code (0 platform command, 1 timer, 2 robbery alarm, 3 collision, ...).
    pub event: u8,
    /// Channel id.
    pub channel: u8,
}

impl MediaEvent {
    fn decode(r: &mut Reader<'_>) -> Result<MediaEvent, BodyError> {
        Ok(MediaEvent {
            media_id: r.u32("media id")?,
            media_type: r.u8("media type")?,
            format: r.u8("media format")?,
            event: r.u8("event code")?,
            channel: r.u8("channel")?,
        })
    }

    fn encode(&self, out: &mut BytesMut) {
        out.put_u32(self.media_id);
        out.put_u8(self.media_type);
        out.put_u8(self.format);
        out.put_u8(self.event);
        out.put_u8(self.channel);
    }
}

/// 0x0801 multimedia data (the reassembled body of all packets).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaData {
    /// Media id, type, format, event, channel.
    pub event: MediaEvent,
    /// Where the vehicle was when the media was taken.
    pub location: LocationBasic,
    /// The media bytes (e.g. a JPEG).
    pub data: Bytes,
}

/// 0x0900 transparent uplink data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Passthrough {
    /// Transparent message type (0x00 GNSS detail, 0x0B IC card, 0x41/0x42 serial ports,
    /// 0xF0-0xFF user defined).
    pub kind: u8,
    /// The payload, raw.
    pub data: Bytes,
}

/// 0x8003 request to resend missing packets of a subpackaged message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResendRequest {
    /// Serial of the first packet of the original message.
    pub original_serial: u16,
    /// 1-based indices of the packets to resend (count is a BYTE in 2013, a WORD in 2019).
    pub packet_ids: Vec<u16>,
}

impl ResendRequest {
    fn decode(body: &[u8], version: Version) -> Result<ResendRequest, BodyError> {
        let mut r = Reader::new(body);
        let original_serial = r.u16("original serial")?;
        let count = match version {
            Version::V2013 => u16::from(r.u8("packet count")?),
            Version::V2019 => r.u16("packet count")?,
        };
        let mut packet_ids = Vec::with_capacity(usize::from(count).min(r.remaining() / 2));
        for _ in 0..count {
            packet_ids.push(r.u16("packet id")?);
        }
        Ok(ResendRequest {
            original_serial,
            packet_ids,
        })
    }

    fn encode(&self, out: &mut BytesMut, version: Version) -> Result<(), EncodeError> {
        out.put_u16(self.original_serial);
        match version {
            Version::V2013 => {
                count_fits(self.packet_ids.len(), 255, "packet ids")?;
                out.put_u8(self.packet_ids.len() as u8);
            }
            Version::V2019 => {
                count_fits(self.packet_ids.len(), usize::from(u16::MAX), "packet ids")?;
                out.put_u16(self.packet_ids.len() as u16);
            }
        }
        for id in &self.packet_ids {
            out.put_u16(*id);
        }
        Ok(())
    }
}

/// 0x8100 registration response.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegisterResponse {
    /// Serial of the 0x0100 answered.
    pub reply_serial: u16,
    /// 0 success, 1 vehicle already registered, 2 vehicle unknown, 3 terminal already
    /// registered, 4 terminal unknown.
    pub result: u8,
    /// The auth code; sent only (and always) when `result` is 0.
    pub auth_code: Option<String>,
}

impl RegisterResponse {
    /// Result 0: registered.
    pub const SUCCESS: u8 = 0;
    /// Result 1: the vehicle is already registered.
    pub const VEHICLE_REGISTERED: u8 = 1;
    /// Result 2: the vehicle is not in the database.
    pub const VEHICLE_UNKNOWN: u8 = 2;
    /// Result 3: the terminal is already registered.
    pub const TERMINAL_REGISTERED: u8 = 3;
    /// Result 4: the terminal is not in the database.
    pub const TERMINAL_UNKNOWN: u8 = 4;

    /// A successful registration answering `reply_serial` with `auth_code`.
    pub fn accepted(reply_serial: u16, auth_code: impl Into<String>) -> RegisterResponse {
        RegisterResponse {
            reply_serial,
            result: RegisterResponse::SUCCESS,
            auth_code: Some(auth_code.into()),
        }
    }

    /// A refused registration (`result` non-zero), which carries no auth code.
    pub fn rejected(reply_serial: u16, result: u8) -> RegisterResponse {
        RegisterResponse {
            reply_serial,
            result,
            auth_code: None,
        }
    }
}

/// 0x8202 temporary location tracking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackLocation {
    /// Report interval in seconds; 0 stops tracking.
    pub interval_s: u16,
    /// How long tracking lasts, seconds.
    pub validity_s: u32,
}

/// 0x8300 text message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TextMessage {
    /// Flag bits (0 emergency, 2 terminal display, 3 TTS read-out, ...).
    pub flags: u8,
    /// 2019: text type (1 notice, 2 service); `None` in 2011/2013, which have no such byte.
    pub text_type: Option<u8>,
    /// The text (GBK on the wire).
    pub text: String,
}

/// 0x8800 multimedia upload acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaUploadAck {
    /// Media id of the 0x0801 answered.
    pub media_id: u32,
    /// Packet indices to retransmit; empty when everything arrived.
    pub retransmit_ids: Vec<u16>,
}

/// A typed message body. Uplink and downlink share one enum so that the gateway, the simulator
/// and the tests use one codec in both directions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Message {
    /// 0x0001 terminal general response.
    TerminalResponse(GeneralResponse),
    /// 0x0002 heartbeat (empty body).
    Heartbeat,
    /// 0x0003 terminal logout (empty body).
    Logout,
    /// 0x0004 query server time, 2019 (empty body).
    QueryServerTime,
    /// 0x0100 registration.
    Register(Register),
    /// 0x0102 authentication.
    Auth(Auth),
    /// 0x0104 parameter query response.
    ParameterResponse(ParameterResponse),
    /// 0x0200 location report.
    Location(Location),
    /// 0x0201 location query response.
    LocationResponse(LocationResponse),
    /// 0x0704 bulk / blind-area upload.
    LocationBatch(LocationBatch),
    /// 0x0800 multimedia event.
    MediaEvent(MediaEvent),
    /// 0x0801 multimedia data.
    MediaData(MediaData),
    /// 0x0900 transparent uplink data.
    Passthrough(Passthrough),
    /// 0x8001 platform general response.
    PlatformResponse(GeneralResponse),
    /// 0x8003 resend request for missing packets.
    ResendRequest(ResendRequest),
    /// 0x8004 server time (BCD; the standard says UTC, check the terminal).
    ServerTime(BcdTime),
    /// 0x8100 registration response.
    RegisterResponse(RegisterResponse),
    /// 0x8103 set terminal parameters.
    SetParameters(Vec<Parameter>),
    /// 0x8104 query all terminal parameters (empty body).
    QueryParameters,
    /// 0x8201 location query (empty body).
    QueryLocation,
    /// 0x8202 temporary location tracking.
    TrackLocation(TrackLocation),
    /// 0x8300 text message.
    TextMessage(TextMessage),
    /// 0x8800 multimedia upload acknowledgement.
    MediaUploadAck(MediaUploadAck),
    /// Any other message id, body kept raw.
    Unknown {
        /// Message id.
        id: u16,
        /// The body bytes.
        body: Bytes,
    },
}

impl Message {
    /// The message id this body goes with.
    pub fn msg_id(&self) -> u16 {
        match self {
            Message::TerminalResponse(_) => ids::TERMINAL_RESPONSE,
            Message::Heartbeat => ids::HEARTBEAT,
            Message::Logout => ids::LOGOUT,
            Message::QueryServerTime => ids::QUERY_SERVER_TIME,
            Message::Register(_) => ids::REGISTER,
            Message::Auth(_) => ids::AUTH,
            Message::ParameterResponse(_) => ids::PARAMETER_RESPONSE,
            Message::Location(_) => ids::LOCATION,
            Message::LocationResponse(_) => ids::LOCATION_RESPONSE,
            Message::LocationBatch(_) => ids::LOCATION_BATCH,
            Message::MediaEvent(_) => ids::MEDIA_EVENT,
            Message::MediaData(_) => ids::MEDIA_DATA,
            Message::Passthrough(_) => ids::PASSTHROUGH,
            Message::PlatformResponse(_) => ids::PLATFORM_RESPONSE,
            Message::ResendRequest(_) => ids::RESEND_REQUEST,
            Message::ServerTime(_) => ids::SERVER_TIME,
            Message::RegisterResponse(_) => ids::REGISTER_RESPONSE,
            Message::SetParameters(_) => ids::SET_PARAMETERS,
            Message::QueryParameters => ids::QUERY_PARAMETERS,
            Message::QueryLocation => ids::QUERY_LOCATION,
            Message::TrackLocation(_) => ids::TRACK_LOCATION,
            Message::TextMessage(_) => ids::TEXT_MESSAGE,
            Message::MediaUploadAck(_) => ids::MEDIA_UPLOAD_ACK,
            Message::Unknown { id, .. } => *id,
        }
    }

    /// Decodes the body of a single (not subpackaged, not encrypted) frame.
    pub fn decode_frame_body(header: &Header, body: &[u8]) -> Result<Message, BodyError> {
        if let Some(packet) = header.packet
            && packet.total > 1
        {
            return Err(BodyError::Subpackaged {
                index: packet.index,
                total: packet.total,
            });
        }
        match header.props.encryption() {
            0 => Message::decode(header.msg_id, header.version, body),
            method => Err(BodyError::Encrypted(method)),
        }
    }

    /// Decodes a complete body (a single frame's, or a reassembled one) of message `msg_id`.
    /// Unknown ids give [`Message::Unknown`]; only malformed known bodies are errors.
    pub fn decode(msg_id: u16, version: Version, body: &[u8]) -> Result<Message, BodyError> {
        let mut r = Reader::new(body);
        let message = match msg_id {
            ids::TERMINAL_RESPONSE => Message::TerminalResponse(GeneralResponse::decode(&mut r)?),
            ids::HEARTBEAT => Message::Heartbeat,
            ids::LOGOUT => Message::Logout,
            ids::QUERY_SERVER_TIME => Message::QueryServerTime,
            ids::REGISTER => Message::Register(Register::decode(
                body,
                RegisterLayout::detect(version, body.len()),
            )?),
            ids::AUTH => Message::Auth(Auth::decode(body, version)?),
            ids::PARAMETER_RESPONSE => Message::ParameterResponse(ParameterResponse {
                reply_serial: r.u16("reply serial")?,
                params: Parameter::decode_list(&mut r)?,
            }),
            ids::LOCATION => Message::Location(Location::parse(body)?),
            ids::LOCATION_RESPONSE => {
                let reply_serial = r.u16("reply serial")?;
                Message::LocationResponse(LocationResponse {
                    reply_serial,
                    location: Location::parse(r.rest())?,
                })
            }
            ids::LOCATION_BATCH => Message::LocationBatch(LocationBatch::decode(body)?),
            ids::MEDIA_EVENT => Message::MediaEvent(MediaEvent::decode(&mut r)?),
            ids::MEDIA_DATA => {
                let event = MediaEvent::decode(&mut r)?;
                let location = LocationBasic::parse(r.bytes(BASIC_LEN, "media location")?)?;
                Message::MediaData(MediaData {
                    event,
                    location,
                    data: Bytes::copy_from_slice(r.rest()),
                })
            }
            ids::PASSTHROUGH => Message::Passthrough(Passthrough {
                kind: r.u8("transparent type")?,
                data: Bytes::copy_from_slice(r.rest()),
            }),
            ids::PLATFORM_RESPONSE => Message::PlatformResponse(GeneralResponse::decode(&mut r)?),
            ids::RESEND_REQUEST => Message::ResendRequest(ResendRequest::decode(body, version)?),
            ids::SERVER_TIME => Message::ServerTime(r.time("server time")?),
            ids::REGISTER_RESPONSE => {
                let reply_serial = r.u16("reply serial")?;
                let result = r.u8("result")?;
                let auth_code = (result == RegisterResponse::SUCCESS).then(|| gbk_decode(r.rest()));
                Message::RegisterResponse(RegisterResponse {
                    reply_serial,
                    result,
                    auth_code,
                })
            }
            ids::SET_PARAMETERS => Message::SetParameters(Parameter::decode_list(&mut r)?),
            ids::QUERY_PARAMETERS => Message::QueryParameters,
            ids::QUERY_LOCATION => Message::QueryLocation,
            ids::TRACK_LOCATION => Message::TrackLocation(TrackLocation {
                interval_s: r.u16("interval")?,
                validity_s: r.u32("validity")?,
            }),
            ids::TEXT_MESSAGE => {
                let flags = r.u8("text flags")?;
                let text_type = match version {
                    Version::V2013 => None,
                    Version::V2019 => Some(r.u8("text type")?),
                };
                Message::TextMessage(TextMessage {
                    flags,
                    text_type,
                    text: gbk_decode(r.rest()),
                })
            }
            ids::MEDIA_UPLOAD_ACK => {
                let media_id = r.u32("media id")?;
                let count = r.u8("retransmit count")?;
                let mut retransmit_ids = Vec::with_capacity(usize::from(count));
                for _ in 0..count {
                    retransmit_ids.push(r.u16("retransmit id")?);
                }
                Message::MediaUploadAck(MediaUploadAck {
                    media_id,
                    retransmit_ids,
                })
            }
            id => Message::Unknown {
                id,
                body: Bytes::copy_from_slice(body),
            },
        };
        Ok(message)
    }

    /// Appends the body (unescaped, unframed) for a header of `version`.
    pub fn encode_body(&self, version: Version, out: &mut BytesMut) -> Result<(), EncodeError> {
        match self {
            Message::TerminalResponse(m) | Message::PlatformResponse(m) => m.encode(out),
            Message::Heartbeat
            | Message::Logout
            | Message::QueryServerTime
            | Message::QueryParameters
            | Message::QueryLocation => {}
            Message::Register(m) => m.encode(out)?,
            Message::Auth(m) => m.encode(out, version)?,
            Message::ParameterResponse(m) => {
                out.put_u16(m.reply_serial);
                Parameter::encode_list(&m.params, out)?;
            }
            Message::Location(m) => m.encode(out)?,
            Message::LocationResponse(m) => {
                out.put_u16(m.reply_serial);
                m.location.encode(out)?;
            }
            Message::LocationBatch(m) => m.encode(out)?,
            Message::MediaEvent(m) => m.encode(out),
            Message::MediaData(m) => {
                m.event.encode(out);
                m.location.encode(out);
                out.put_slice(&m.data);
            }
            Message::Passthrough(m) => {
                out.put_u8(m.kind);
                out.put_slice(&m.data);
            }
            Message::ResendRequest(m) => m.encode(out, version)?,
            Message::ServerTime(t) => out.put_slice(&t.0),
            Message::RegisterResponse(m) => {
                out.put_u16(m.reply_serial);
                out.put_u8(m.result);
                if m.result == RegisterResponse::SUCCESS {
                    put_str(out, m.auth_code.as_deref().unwrap_or(""), "auth code")?;
                }
            }
            Message::SetParameters(params) => Parameter::encode_list(params, out)?,
            Message::TrackLocation(m) => {
                out.put_u16(m.interval_s);
                out.put_u32(m.validity_s);
            }
            Message::TextMessage(m) => {
                out.put_u8(m.flags);
                if version == Version::V2019 {
                    out.put_u8(m.text_type.unwrap_or(1));
                }
                put_str(out, &m.text, "text")?;
            }
            Message::MediaUploadAck(m) => {
                count_fits(m.retransmit_ids.len(), 255, "retransmit ids")?;
                out.put_u32(m.media_id);
                out.put_u8(m.retransmit_ids.len() as u8);
                for id in &m.retransmit_ids {
                    out.put_u16(*id);
                }
            }
            Message::Unknown { body, .. } => out.put_slice(body),
        }
        Ok(())
    }
}
