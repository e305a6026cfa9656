//! One terminal connection: read frames, answer them, publish positions and acknowledge them
//! only after the bus says they are stored.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use futures::{FutureExt, StreamExt};
use jt808::{
    Decoded, GeneralResponse, Header, Jt808Codec, LocationBatch, Message, OutboundHeader,
    PushOutcome, Reassembler, RegisterResponse, SetKey, TextMessage, Version, encode_message, ids,
};
use subtle::ConstantTimeEq;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::convert::{Sender, position_from_body};
use super::events;
use super::filter::FilterState;
use super::server::Shared;
use super::session::{CommandOutcome, CommandRequest, DownlinkCommand, SessionGuard};
use crate::model::{Position, PositionFlags, PositionSource};

/// Most frames handled as one batch (one publish, one write).
const MAX_BATCH_FRAMES: usize = 256;
/// Initial read buffer; it grows for large frames. Small, because idle connections dominate.
const READ_BUFFER: usize = 256;
/// At most one unregistered-terminal report per connection in this interval.
const UNREGISTERED_REPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The terminal closed it.
    Eof,
    /// Nothing read within the idle timeout.
    Idle,
    /// Too many frames per second.
    Rate,
    /// Too many failed authentications.
    Auth,
    /// A newer connection for the same terminal took over.
    Replaced,
    /// The gateway is shutting down.
    Shutdown,
    /// Reading or writing the socket failed.
    Io,
}

impl Close {
    fn label(self) -> &'static str {
        match self {
            Close::Eof => "eof",
            Close::Idle => "idle",
            Close::Rate => "rate",
            Close::Auth => "auth",
            Close::Replaced => "replaced",
            Close::Shutdown => "shutdown",
            Close::Io => "io",
        }
    }
}

/// An authenticated terminal.
struct Authenticated {
    /// Who sends this connection's positions.
    sender: Sender,
    /// Registration in the session registry (removed on drop).
    session: SessionGuard,
    /// Commands the API sends this terminal.
    commands: mpsc::Receiver<CommandRequest>,
}

/// Where the connection stands in the register/authenticate flow.
enum AuthState {
    /// Not authenticated yet.
    Pending {
        /// Failed authentication attempts so far.
        failures: u32,
        /// Whether an unknown terminal's registration was reported to the engine.
        registration_reported: bool,
        /// When an unknown terminal's refused position was last reported to the engine.
        last_unregistered_report: Option<Instant>,
    },
    /// Authenticated; boxed to keep idle unauthenticated connections small.
    Ready(Box<Authenticated>),
}

/// A command sent and waiting for the terminal's answer.
struct PendingCommand {
    /// Serial of the command frame; the answer quotes it.
    serial: u16,
    /// Completed with the answer.
    reply: oneshot::Sender<CommandOutcome>,
}

/// What the select loop woke up for.
enum Wake {
    Frame(Decoded),
    Eof,
    Idle,
    Command(CommandRequest),
    Close(Close),
}

/// One connection's state.
pub(super) struct Connection {
    /// Gateway-wide state.
    shared: Arc<Shared>,
    /// Frames from the terminal.
    reader: FramedRead<OwnedReadHalf, Jt808Codec>,
    /// Answers to the terminal.
    writer: OwnedWriteHalf,
    /// Encoded frames waiting to be written.
    out: BytesMut,
    /// Frames in `out`.
    out_frames: u64,
    /// The platform's serial counter for this connection.
    serial: u16,
    /// Header layout and phone of the terminal's last frame, for commands.
    last_header: Option<Header>,
    /// Authentication state.
    auth: AuthState,
    /// Position filter state.
    filter: FilterState,
    /// Subpackage reassembly, created on the first subpackaged frame.
    reassembler: Option<Box<Reassembler>>,
    /// Commands awaiting an answer.
    pending_commands: Vec<PendingCommand>,
    /// Start of the current one-second rate window and frames seen in it.
    rate_window: (Instant, u32),
    /// Garbage bytes already counted.
    garbage_seen: u64,
    /// Gateway shutdown signal.
    shutdown: CancellationToken,
}

/// Runs one connection to its end.
pub(super) async fn handle(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: CancellationToken,
) {
    let span = tracing::info_span!("jt808_connection", %peer);
    async move {
        let _ = stream.set_nodelay(true);
        let (read, writer) = stream.into_split();
        let codec = Jt808Codec::new(shared.decoder_config());
        let mut connection = Connection {
            reader: FramedRead::with_capacity(read, codec, READ_BUFFER),
            writer,
            out: BytesMut::new(),
            out_frames: 0,
            serial: 0,
            last_header: None,
            auth: AuthState::Pending {
                failures: 0,
                registration_reported: false,
                last_unregistered_report: None,
            },
            filter: FilterState::default(),
            reassembler: None,
            pending_commands: Vec::new(),
            rate_window: (Instant::now(), 0),
            garbage_seen: 0,
            shutdown,
            shared,
        };
        events::connection_opened();
        let reason = connection.run().await;
        let _ = connection.writer.shutdown().await;
        events::connection_closed(reason.label());
        tracing::debug!(reason = reason.label(), "Connection closed.");
    }
    .instrument(span)
    .await;
}

impl Connection {
    async fn run(&mut self) -> Close {
        loop {
            let wake = self.next_wake().await;
            let batch = match wake {
                Wake::Frame(first) => {
                    let mut batch = vec![first];
                    // Take whatever else is already readable: one publish and one write for
                    // the lot.
                    while batch.len() < MAX_BATCH_FRAMES {
                        match self.reader.next().now_or_never() {
                            Some(Some(Ok(item))) => batch.push(item),
                            _ => break,
                        }
                    }
                    batch
                }
                Wake::Command(request) => {
                    self.send_command(request);
                    if let Err(close) = self.flush().await {
                        return close;
                    }
                    continue;
                }
                Wake::Eof => return Close::Eof,
                Wake::Idle => {
                    events::limit_exceeded("idle");
                    return Close::Idle;
                }
                Wake::Close(close) => return close,
            };
            let outcome = self.process(batch).await;
            // Answer what was processed even when the batch ends the connection.
            if let Err(close) = self.flush().await {
                return close;
            }
            if let Err(close) = outcome {
                return close;
            }
        }
    }

    /// Waits for the next frame, command or reason to stop.
    async fn next_wake(&mut self) -> Wake {
        let idle = self.shared.config.idle_timeout;
        let Connection {
            reader,
            auth,
            shutdown,
            ..
        } = self;
        let (replaced, commands) = match auth {
            AuthState::Ready(ready) => (Some(&ready.session.closed), Some(&mut ready.commands)),
            AuthState::Pending { .. } => (None, None),
        };
        tokio::select! {
            biased;
            () = shutdown.cancelled() => Wake::Close(Close::Shutdown),
            () = async {
                match replaced {
                    Some(token) => token.cancelled().await,
                    None => std::future::pending().await,
                }
            } => Wake::Close(Close::Replaced),
            Some(request) = async {
                match commands {
                    Some(receiver) => receiver.recv().await,
                    None => std::future::pending().await,
                }
            } => Wake::Command(request),
            item = tokio::time::timeout(idle, reader.next()) => match item {
                Err(_) => Wake::Idle,
                Ok(None) => Wake::Eof,
                Ok(Some(Ok(item))) => Wake::Frame(item),
                // The codec never fails on content; an error here is the socket's.
                Ok(Some(Err(_))) => Wake::Close(Close::Io),
            },
        }
    }

    /// Handles a batch of decoded items; positions are published together and acknowledged
    /// after the bus confirms they are stored.
    async fn process(&mut self, batch: Vec<Decoded>) -> Result<(), Close> {
        let started = Instant::now();
        let received_at = Utc::now();
        let mut frames = 0u64;
        let mut bytes = 0u64;
        let mut positions: Vec<Position> = Vec::new();
        // (serial, msg id) of frames whose positions await storage.
        let mut awaiting_store: Vec<(Header, u16)> = Vec::new();
        let mut result = Ok(());
        for item in batch {
            match item {
                Decoded::Rejected(rejected) => {
                    bytes += rejected.raw.len() as u64;
                    events::frame_rejected(rejected.error.kind());
                }
                Decoded::Frame(frame) => {
                    frames += 1;
                    bytes += frame.raw.len() as u64;
                    if !self.within_rate() {
                        events::limit_exceeded("rate");
                        result = Err(Close::Rate);
                        break;
                    }
                    self.last_header = Some(frame.header);
                    let (header, body) = match frame.header.packet {
                        Some(packet) => {
                            // Acknowledge each packet; handle the message once complete.
                            self.reply_general(&frame.header, GeneralResponse::SUCCESS);
                            match self.reassemble(
                                &frame.header,
                                frame.body.clone(),
                                packet.index == packet.total,
                            ) {
                                Some(done) => done,
                                None => continue,
                            }
                        }
                        None => (frame.header, frame.body.clone()),
                    };
                    let step = self
                        .handle_message(&header, &body, &frame.raw, received_at)
                        .await;
                    match step {
                        Step::Done => {}
                        Step::Positions(mut batch_positions, ack_id) => {
                            positions.append(&mut batch_positions);
                            if let Some(ack_id) = ack_id {
                                awaiting_store.push((header, ack_id));
                            }
                        }
                        Step::Close(close) => {
                            result = Err(close);
                            break;
                        }
                    }
                }
            }
        }
        let stats = self.reader.decoder().stats();
        events::garbage_skipped(stats.garbage_bytes - self.garbage_seen);
        self.garbage_seen = stats.garbage_bytes;
        events::frames_received(frames, bytes);
        if !positions.is_empty() || !awaiting_store.is_empty() {
            let count = positions.len() as u64;
            match self.shared.bus.publish(positions).await {
                Ok(()) => {
                    for (header, _) in &awaiting_store {
                        self.reply_general(header, GeneralResponse::SUCCESS);
                    }
                    events::positions_acknowledged(count, started.elapsed());
                }
                Err(error) => {
                    // Not stored: say so, and the terminal sends them again.
                    for (header, _) in &awaiting_store {
                        self.reply_general(header, GeneralResponse::FAILURE);
                    }
                    events::positions_not_stored(count, &error.to_string());
                }
            }
        }
        result
    }

    /// Handles one complete message.
    async fn handle_message(
        &mut self,
        header: &Header,
        body: &Bytes,
        raw: &Bytes,
        received_at: chrono::DateTime<Utc>,
    ) -> Step {
        match header.msg_id {
            ids::LOCATION => self.location(header, body, raw, received_at).await,
            ids::LOCATION_BATCH => self.location_batch(header, body, raw, received_at).await,
            ids::HEARTBEAT | ids::LOGOUT => {
                self.reply_general(header, GeneralResponse::SUCCESS);
                Step::Done
            }
            ids::REGISTER => self.register(header, body).await,
            ids::AUTH => self.authenticate(header, body).await,
            ids::TERMINAL_RESPONSE => {
                match Message::decode_frame_body(header, body) {
                    Ok(Message::TerminalResponse(answer)) => {
                        self.complete_command(
                            answer.reply_serial,
                            CommandOutcome::from_result(answer.result),
                        );
                    }
                    _ => events::body_rejected(header.msg_id),
                }
                Step::Done
            }
            ids::LOCATION_RESPONSE => self.location_response(header, body, raw, received_at).await,
            ids::QUERY_SERVER_TIME => {
                let now = jt808::BcdTime::from_datetime(&Utc::now());
                self.reply(header, &Message::ServerTime(now));
                Step::Done
            }
            ids::MEDIA_DATA => {
                // Media is acknowledged (0x8800, nothing missing) but not kept: there is no
                // media store yet.
                match Message::decode_frame_body(header, body) {
                    Ok(Message::MediaData(media)) => {
                        self.reply(
                            header,
                            &Message::MediaUploadAck(jt808::MediaUploadAck {
                                media_id: media.event.media_id,
                                retransmit_ids: Vec::new(),
                            }),
                        );
                    }
                    _ => {
                        events::body_rejected(header.msg_id);
                        self.reply_general(header, GeneralResponse::MESSAGE_ERROR);
                    }
                }
                Step::Done
            }
            ids::PARAMETER_RESPONSE | ids::MEDIA_EVENT | ids::PASSTHROUGH => {
                self.reply_general(header, GeneralResponse::SUCCESS);
                Step::Done
            }
            _ => {
                self.reply_general(header, GeneralResponse::UNSUPPORTED);
                Step::Done
            }
        }
    }

    /// 0x0200: one position.
    async fn location(
        &mut self,
        header: &Header,
        body: &Bytes,
        raw: &Bytes,
        received_at: chrono::DateTime<Utc>,
    ) -> Step {
        let Some(sender) = self.authenticated_sender() else {
            return self
                .refuse_positions(header, std::slice::from_ref(body), raw, received_at)
                .await;
        };
        match position_from_body(body, &sender, raw, received_at, PositionSource::Live) {
            Ok(mut position) => {
                self.filter.judge(&self.shared.config.filter, &mut position);
                Step::Positions(vec![position], Some(header.msg_id))
            }
            Err(_) => {
                events::body_rejected(header.msg_id);
                self.reply_general(header, GeneralResponse::MESSAGE_ERROR);
                Step::Done
            }
        }
    }

    /// 0x0704: a batch (type 1: blind-area data sent after lost coverage). Items that parse are
    /// kept even when a later one is corrupt.
    async fn location_batch(
        &mut self,
        header: &Header,
        body: &Bytes,
        raw: &Bytes,
        received_at: chrono::DateTime<Utc>,
    ) -> Step {
        let batch = match Message::decode_frame_body(header, body) {
            Ok(Message::LocationBatch(batch)) => batch,
            _ => {
                events::body_rejected(header.msg_id);
                self.reply_general(header, GeneralResponse::MESSAGE_ERROR);
                return Step::Done;
            }
        };
        let bodies = batch_bodies(&batch);
        let Some(sender) = self.authenticated_sender() else {
            return self
                .refuse_positions(header, &bodies, raw, received_at)
                .await;
        };
        let source = if batch.kind == 1 {
            PositionSource::BlindArea
        } else {
            PositionSource::Batch
        };
        let mut positions = Vec::with_capacity(bodies.len());
        for body in &bodies {
            if let Ok(mut position) = position_from_body(body, &sender, raw, received_at, source) {
                self.filter.judge(&self.shared.config.filter, &mut position);
                positions.push(position);
            }
        }
        Step::Positions(positions, Some(header.msg_id))
    }

    /// 0x0201: the answer to a location query; stored like any position and handed to the
    /// waiting command. No reply is due.
    async fn location_response(
        &mut self,
        header: &Header,
        body: &Bytes,
        raw: &Bytes,
        received_at: chrono::DateTime<Utc>,
    ) -> Step {
        let Some(sender) = self.authenticated_sender() else {
            return Step::Done;
        };
        let (Some(serial_bytes), Some(location)) = (body.get(..2), body.get(2..)) else {
            events::body_rejected(header.msg_id);
            return Step::Done;
        };
        let reply_serial = u16::from_be_bytes([serial_bytes[0], serial_bytes[1]]);
        match position_from_body(location, &sender, raw, received_at, PositionSource::Query) {
            Ok(mut position) => {
                self.filter.judge(&self.shared.config.filter, &mut position);
                self.complete_command(
                    reply_serial,
                    CommandOutcome::Ok {
                        position: Some(Box::new(position.clone())),
                    },
                );
                Step::Positions(vec![position], None)
            }
            Err(_) => {
                events::body_rejected(header.msg_id);
                Step::Done
            }
        }
    }

    /// Positions from a connection that has not authenticated: refused and not stored. When
    /// the terminal is not registered at all, the engine still hears of it (with the refused
    /// position as evidence) so that an `unregistered_terminal` violation opens.
    async fn refuse_positions(
        &mut self,
        header: &Header,
        bodies: &[Bytes],
        raw: &Bytes,
        received_at: chrono::DateTime<Utc>,
    ) -> Step {
        self.reply_general(header, GeneralResponse::FAILURE);
        events::positions_refused_unauthenticated(bodies.len() as u64);
        let known = self
            .shared
            .directory
            .load()
            .terminal(header.phone.as_str())
            .is_some();
        let AuthState::Pending {
            last_unregistered_report,
            ..
        } = &mut self.auth
        else {
            return Step::Done;
        };
        if known
            || last_unregistered_report
                .is_some_and(|at| at.elapsed() < UNREGISTERED_REPORT_INTERVAL)
        {
            return Step::Done;
        }
        let sender = Sender {
            phone: header.phone.as_str().to_string(),
            vehicle_id: None,
            profile: self.shared.profiles.default.clone(),
        };
        let Some(body) = bodies.last() else {
            return Step::Done;
        };
        if let Ok(mut position) =
            position_from_body(body, &sender, raw, received_at, PositionSource::Live)
        {
            position.flags.set(PositionFlags::UNREGISTERED);
            *last_unregistered_report = Some(Instant::now());
            if let Err(error) = self.shared.bus.report_unregistered(position).await {
                tracing::warn!(%error, "Unregistered terminal could not be reported.");
            }
        }
        Step::Done
    }

    /// 0x0100: registration.
    async fn register(&mut self, header: &Header, body: &Bytes) -> Step {
        let register = match Message::decode_frame_body(header, body) {
            Ok(Message::Register(register)) => register,
            _ => {
                events::body_rejected(header.msg_id);
                self.reply_general(header, GeneralResponse::MESSAGE_ERROR);
                return Step::Done;
            }
        };
        let phone = header.phone.as_str();
        let result = self
            .shared
            .directory
            .load()
            .registration_result(phone, &register.plate);
        events::registration(result);
        let response = if result == 0 {
            match self
                .shared
                .store
                .terminal_auth_code(phone, &new_auth_code())
                .await
            {
                Ok(code) => RegisterResponse::accepted(header.serial, code),
                Err(error) => {
                    events::store_lookup_failed(&error.to_string());
                    // "Terminal not in database" would make it give up; a general failure
                    // makes it retry.
                    self.reply_general(header, GeneralResponse::FAILURE);
                    return Step::Done;
                }
            }
        } else {
            if result == 4 {
                self.report_unregistered_registration(header).await;
            }
            RegisterResponse::rejected(header.serial, result)
        };
        self.reply(header, &Message::RegisterResponse(response));
        Step::Done
    }

    /// Tells the engine an unknown terminal tried to register (no location yet: the first
    /// refused report supplies one).
    async fn report_unregistered_registration(&mut self, header: &Header) {
        let AuthState::Pending {
            registration_reported,
            ..
        } = &mut self.auth
        else {
            return;
        };
        if *registration_reported {
            return;
        }
        *registration_reported = true;
        let now = Utc::now();
        let mut flags = PositionFlags::default();
        flags.set(PositionFlags::UNREGISTERED);
        flags.set(PositionFlags::NO_FIX);
        let position = Position {
            id: crate::model::next_position_id(),
            phone: header.phone.as_str().to_string(),
            vehicle_id: None,
            time: now,
            received_at: now,
            lat: 0.0,
            lon: 0.0,
            altitude_m: 0,
            speed_kmh: 0.0,
            heading: 0,
            alarm: 0,
            status: 0,
            load: crate::model::LoadState::Unknown,
            lift_up: None,
            lid_open: None,
            weight_kg: None,
            mileage_km: None,
            source: PositionSource::Live,
            flags,
            raw: Bytes::new(),
        };
        if let Err(error) = self.shared.bus.report_unregistered(position).await {
            tracing::warn!(%error, "Unregistered terminal could not be reported.");
        }
    }

    /// 0x0102: authentication with the code issued at registration.
    async fn authenticate(&mut self, header: &Header, body: &Bytes) -> Step {
        let auth = match Message::decode_frame_body(header, body) {
            Ok(Message::Auth(auth)) => auth,
            _ => {
                events::body_rejected(header.msg_id);
                self.reply_general(header, GeneralResponse::MESSAGE_ERROR);
                return Step::Done;
            }
        };
        let phone = header.phone.as_str();
        let stored = match self.shared.store.find_terminal(phone).await {
            Ok(terminal) => terminal,
            Err(error) => {
                events::store_lookup_failed(&error.to_string());
                self.reply_general(header, GeneralResponse::FAILURE);
                return Step::Done;
            }
        };
        let matches = stored
            .as_ref()
            .and_then(|t| t.auth_code.as_deref())
            .is_some_and(|code| bool::from(code.as_bytes().ct_eq(auth.auth_code.as_bytes())));
        events::authentication(matches);
        if !matches {
            self.reply_general(header, GeneralResponse::FAILURE);
            if let AuthState::Pending { failures, .. } = &mut self.auth {
                *failures += 1;
                if *failures >= self.shared.config.max_auth_failures {
                    events::limit_exceeded("auth");
                    return Step::Close(Close::Auth);
                }
            }
            return Step::Done;
        }
        let directory = self.shared.directory.load();
        let entry = directory.terminal(phone);
        let model = entry
            .map(|t| t.model.clone())
            .or_else(|| stored.as_ref().map(|t| t.model.clone()))
            .unwrap_or_default();
        let vehicle_id = entry
            .and_then(|t| t.vehicle_id.clone())
            .or_else(|| stored.and_then(|t| t.vehicle_id));
        let (session, commands) = self.shared.sessions.register(phone);
        self.auth = AuthState::Ready(Box::new(Authenticated {
            sender: Sender {
                phone: phone.to_string(),
                vehicle_id,
                profile: self.shared.profiles.for_model(&model).clone(),
            },
            session,
            commands,
        }));
        self.reply_general(header, GeneralResponse::SUCCESS);
        Step::Done
    }

    /// The sender of an authenticated connection.
    fn authenticated_sender(&self) -> Option<Sender> {
        match &self.auth {
            AuthState::Ready(ready) => Some(ready.sender.clone()),
            AuthState::Pending { .. } => None,
        }
    }

    /// Adds a packet to its set; returns the whole message when complete. When the last
    /// packet arrives and some are missing, asks the terminal to resend them (0x8003).
    fn reassemble(
        &mut self,
        header: &Header,
        body: Bytes,
        is_last: bool,
    ) -> Option<(Header, Bytes)> {
        let config = self.shared.config.reassembly;
        let reassembler = self
            .reassembler
            .get_or_insert_with(|| Box::new(Reassembler::new(config)));
        let now = Instant::now();
        for expired in reassembler.expire(now) {
            tracing::debug!(missing = ?expired.missing, "Incomplete subpackaged message dropped.");
        }
        match reassembler.push(header, body, now) {
            Ok(PushOutcome::Complete(done)) => {
                // The joined message answers as one: packet 1's serial, no packet fields.
                let mut whole = done.header;
                whole.serial = done.original_serial;
                whole.packet = None;
                Some((whole, done.body))
            }
            Ok(PushOutcome::Pending { .. }) => {
                if is_last {
                    let key = SetKey {
                        phone: header.phone,
                        msg_id: header.msg_id,
                        total: header.packet.map_or(0, |p| p.total),
                    };
                    let missing = reassembler.missing(&key).unwrap_or_default();
                    let original_serial = header
                        .serial
                        .wrapping_sub(header.packet.map_or(1, |p| p.index).wrapping_sub(1));
                    if !missing.is_empty() {
                        self.reply(
                            header,
                            &Message::ResendRequest(jt808::ResendRequest {
                                original_serial,
                                packet_ids: missing,
                            }),
                        );
                    }
                }
                None
            }
            Err(error) => {
                tracing::debug!(%error, "Subpackage refused.");
                None
            }
        }
    }

    /// Sends a command to the terminal and remembers it until the answer comes.
    fn send_command(&mut self, request: CommandRequest) {
        let Some(header) = self.last_header else {
            let _ = request.reply.send(CommandOutcome::Offline);
            return;
        };
        let message = match &request.command {
            DownlinkCommand::Text { text } => Message::TextMessage(TextMessage {
                flags: 0b0000_1100, // show on the display and speak it (TTS)
                text_type: (header.version == Version::V2019).then_some(1),
                text: text.clone(),
            }),
            DownlinkCommand::LocationQuery => Message::QueryLocation,
            DownlinkCommand::ReportInterval { seconds } => {
                Message::SetParameters(vec![jt808::Parameter::dword(0x0029, *seconds)])
            }
        };
        let serial = self.serial;
        if self.reply(&header, &message) {
            events::command_sent();
            self.pending_commands.retain(|p| !p.reply.is_closed());
            self.pending_commands.push(PendingCommand {
                serial,
                reply: request.reply,
            });
        } else {
            let _ = request.reply.send(CommandOutcome::BadMessage);
        }
    }

    /// Hands a terminal's answer to the command waiting for it.
    fn complete_command(&mut self, reply_serial: u16, outcome: CommandOutcome) {
        if let Some(index) = self
            .pending_commands
            .iter()
            .position(|p| p.serial == reply_serial)
        {
            let pending = self.pending_commands.swap_remove(index);
            let _ = pending.reply.send(outcome);
        }
    }

    /// Queues a 0x8001 answering `header`.
    fn reply_general(&mut self, header: &Header, result: u8) {
        let response = GeneralResponse {
            reply_serial: header.serial,
            reply_msg_id: header.msg_id,
            result,
        };
        self.reply(header, &Message::PlatformResponse(response));
    }

    /// Queues `message` to the terminal that sent `header`, in its header layout. Returns
    /// whether it could be encoded.
    fn reply(&mut self, header: &Header, message: &Message) -> bool {
        let out_header = OutboundHeader::reply_to(header, self.serial);
        match encode_message(&out_header, message, &mut self.out) {
            Ok(packets) => {
                self.serial = self.serial.wrapping_add(packets);
                self.out_frames += u64::from(packets);
                true
            }
            Err(error) => {
                tracing::warn!(%error, "Reply could not be encoded.");
                false
            }
        }
    }

    /// Writes queued frames.
    async fn flush(&mut self) -> Result<(), Close> {
        if self.out.is_empty() {
            return Ok(());
        }
        let bytes = self.out.len() as u64;
        let result = self.writer.write_all(&self.out).await;
        self.out.clear();
        // Let idle connections give their write buffer back.
        if self.out.capacity() > 4096 {
            self.out = BytesMut::new();
        }
        events::frames_sent(std::mem::take(&mut self.out_frames), bytes);
        result.map_err(|_| Close::Io)
    }

    /// Counts a frame against the per-second limit.
    fn within_rate(&mut self) -> bool {
        let now = Instant::now();
        let (start, count) = &mut self.rate_window;
        if now.duration_since(*start) >= Duration::from_secs(1) {
            *start = now;
            *count = 0;
        }
        *count += 1;
        *count <= self.shared.config.max_frames_per_second
    }
}

/// What handling one message produced.
enum Step {
    /// Answered (or nothing to answer).
    Done,
    /// Positions to store; acknowledge the frame (message id given) once they are stored.
    Positions(Vec<Position>, Option<u16>),
    /// End the connection.
    Close(Close),
}

/// The 0x0200 bodies of a batch, re-encoded from the decoded items.
fn batch_bodies(batch: &LocationBatch) -> Vec<Bytes> {
    batch
        .positions
        .iter()
        .filter_map(|location| {
            let mut out = BytesMut::new();
            location.encode(&mut out).ok().map(|()| out.freeze())
        })
        .collect()
}

/// A fresh auth code: 20 random alphanumeric characters.
fn new_auth_code() -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect()
}
