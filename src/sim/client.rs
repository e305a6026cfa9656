//! The simulator's terminals: each truck is a task with its own TCP connection that registers,
//! authenticates, reports positions and waits for each acknowledgement like a real terminal,
//! and after losing its connection re-sends what was not acknowledged as a 0x0704 blind-area
//! batch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use chrono::Utc;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use jt808::{
    AdditionalItem, AlarmFlags, Auth, BcdTime, Decoded, ItemValue, Jt808Codec, Location,
    LocationBasic, LocationBatch, Message, Outbound, OutboundHeader, Phone, Register,
    RegisterLayout, StatusFlags, Version, ids,
};
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

use super::motion::{LIUZHOU_CENTRE, SimFix, TruckMotion};
use super::scenario::ResolvedScenario;
use crate::model::{LoadState, Registry};

/// Which header layout the simulated terminals use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolChoice {
    /// Each terminal's protocol from the registry (2013 when there is none).
    Registry,
    /// Every terminal speaks 2013.
    V2013,
    /// Every terminal speaks 2019.
    V2019,
}

/// Simulation settings.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Server to connect to.
    pub server: SocketAddr,
    /// Number of trucks (the first ones from the registry's terminals, then random ones).
    pub trucks: usize,
    /// Time between a truck's reports; zero sends the next as soon as the last is
    /// acknowledged (load test).
    pub interval: Duration,
    /// Stop after this long; `None` runs until cancelled.
    pub duration: Option<Duration>,
    /// Header layout.
    pub protocol: ProtocolChoice,
    /// How long a truck waits for an acknowledgement before it reconnects.
    pub ack_timeout: Duration,
    /// Connections are opened over this period, so a big fleet does not arrive at once.
    pub ramp_up: Duration,
    /// Local addresses to connect from, round-robin (many connections need several source
    /// addresses on loopback); empty lets the OS choose.
    pub source_addresses: Vec<std::net::IpAddr>,
    /// Seed for motion and phones, so runs repeat.
    pub seed: u64,
    /// Only send heartbeats (idle-connection test).
    pub heartbeat_only: bool,
    /// Heartbeat interval when there is nothing else to send.
    pub heartbeat_interval: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            server: SocketAddr::from(([127, 0, 0, 1], 6808)),
            trucks: 10,
            interval: Duration::from_secs(10),
            duration: None,
            protocol: ProtocolChoice::Registry,
            ack_timeout: Duration::from_secs(15),
            ramp_up: Duration::from_secs(5),
            source_addresses: Vec::new(),
            seed: 808,
            heartbeat_only: false,
            heartbeat_interval: Duration::from_secs(60),
        }
    }
}

/// Counters shared by every truck.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Position reports sent (0x0200 frames and 0x0704 entries).
    pub sent: AtomicU64,
    /// Positions acknowledged with result 0.
    pub acknowledged: AtomicU64,
    /// Positions refused (result other than 0).
    pub refused: AtomicU64,
    /// Positions re-sent in blind-area batches.
    pub resent: AtomicU64,
    /// Registrations accepted.
    pub registered: AtomicU64,
    /// Registrations rejected.
    pub registration_rejected: AtomicU64,
    /// Authentications accepted.
    pub authenticated: AtomicU64,
    /// Connections that could not be opened or broke.
    pub connection_errors: AtomicU64,
    /// Trucks currently connected.
    pub connected: AtomicU64,
    /// Acknowledgement latency in microseconds.
    latency_us: Mutex<Option<Histogram<u64>>>,
}

/// Totals at the end of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SimReport {
    /// Positions sent.
    pub sent: u64,
    /// Positions acknowledged.
    pub acknowledged: u64,
    /// Positions refused.
    pub refused: u64,
    /// Positions re-sent after reconnecting.
    pub resent: u64,
    /// Registrations accepted.
    pub registered: u64,
    /// Registrations rejected.
    pub registration_rejected: u64,
    /// Authentications accepted.
    pub authenticated: u64,
    /// Connection failures.
    pub connection_errors: u64,
    /// Seconds the run took.
    pub elapsed_s: f64,
    /// Acknowledged positions per second.
    pub ack_rate: f64,
    /// Median acknowledgement latency, ms.
    pub ack_p50_ms: f64,
    /// 99th percentile acknowledgement latency, ms.
    pub ack_p99_ms: f64,
}

impl SimStats {
    fn record_latency(&self, histogram: &Histogram<u64>) {
        let mut shared = self.latency_us.lock();
        match shared.as_mut() {
            Some(total) => {
                let _ = total.add(histogram);
            }
            None => *shared = Some(histogram.clone()),
        }
    }

    /// A report of the counters so far.
    pub fn report(&self, elapsed: Duration) -> SimReport {
        let latency = self.latency_us.lock();
        let quantile = |q: f64| {
            latency
                .as_ref()
                .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
        };
        let acknowledged = self.acknowledged.load(Ordering::Relaxed);
        SimReport {
            sent: self.sent.load(Ordering::Relaxed),
            acknowledged,
            refused: self.refused.load(Ordering::Relaxed),
            resent: self.resent.load(Ordering::Relaxed),
            registered: self.registered.load(Ordering::Relaxed),
            registration_rejected: self.registration_rejected.load(Ordering::Relaxed),
            authenticated: self.authenticated.load(Ordering::Relaxed),
            connection_errors: self.connection_errors.load(Ordering::Relaxed),
            elapsed_s: elapsed.as_secs_f64(),
            ack_rate: acknowledged as f64 / elapsed.as_secs_f64().max(1e-9),
            ack_p50_ms: quantile(0.5),
            ack_p99_ms: quantile(0.99),
        }
    }
}

/// One simulated terminal's identity.
#[derive(Debug, Clone)]
pub struct TruckIdentity {
    /// Phone digits as the terminal sends them.
    pub phone: String,
    /// Vehicle it is registered for (drives its permit's route), if any.
    pub vehicle_id: Option<String>,
    /// Plate sent at registration.
    pub plate: String,
    /// Terminal model; `smart-muck` terminals report lift, lid and weight.
    pub model: String,
    /// Header layout.
    pub version: Version,
    /// Registration body layout.
    pub layout: RegisterLayout,
}

/// The trucks to simulate: the registry's bound terminals first, then unregistered scenario
/// trucks, then random trucks up to `config.trucks`.
pub fn fleet(
    registry: &Registry,
    scenario: &ResolvedScenario,
    config: &SimConfig,
) -> Vec<TruckIdentity> {
    let version_of = |protocol: &str| match config.protocol {
        ProtocolChoice::V2013 => (Version::V2013, RegisterLayout::V2013),
        ProtocolChoice::V2019 => (Version::V2019, RegisterLayout::V2019),
        ProtocolChoice::Registry => match protocol {
            "2019" => (Version::V2019, RegisterLayout::V2019),
            "2011" => (Version::V2013, RegisterLayout::V2011),
            _ => (Version::V2013, RegisterLayout::V2013),
        },
    };
    let mut trucks = Vec::with_capacity(config.trucks);
    for terminal in &registry.terminals {
        if trucks.len() >= config.trucks {
            break;
        }
        let Some(vehicle_id) = &terminal.vehicle_id else {
            continue;
        };
        let plate = registry
            .vehicles
            .iter()
            .find(|v| &v.id == vehicle_id)
            .map(|v| v.plate.clone())
            .unwrap_or_default();
        let (version, layout) = version_of(&terminal.protocol);
        trucks.push(TruckIdentity {
            phone: terminal.phone.clone(),
            vehicle_id: Some(vehicle_id.clone()),
            plate,
            model: terminal.model.clone(),
            version,
            layout,
        });
    }
    for phone in &scenario.unregistered {
        let (version, layout) = version_of("2013");
        trucks.push(TruckIdentity {
            phone: phone.clone(),
            vehicle_id: None,
            plate: format!("桂B{}", &phone[phone.len().saturating_sub(5)..]),
            model: "generic".into(),
            version,
            layout,
        });
    }
    let mut n = 0u64;
    while trucks.len() < config.trucks {
        n += 1;
        let (version, layout) = version_of("2013");
        trucks.push(TruckIdentity {
            phone: format!("0199{:08}", n),
            vehicle_id: None,
            plate: format!("桂Z{:05}", n % 100_000),
            model: "generic".into(),
            version,
            layout,
        });
    }
    trucks
}

/// Runs the fleet until the duration ends or `cancel` fires; returns the totals.
pub async fn run(
    config: SimConfig,
    registry: Arc<Registry>,
    scenario: ResolvedScenario,
    stats: Arc<SimStats>,
    cancel: CancellationToken,
) -> SimReport {
    let started = Instant::now();
    let trucks = fleet(&registry, &scenario, &config);
    let stop = cancel.child_token();
    if let Some(duration) = config.duration {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.cancel();
        });
    }
    let config = Arc::new(config);
    let count = trucks.len().max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, identity) in trucks.into_iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(config.seed.wrapping_add(index as u64));
        let mut motion = TruckMotion::plan(
            &registry,
            identity.vehicle_id.as_deref().unwrap_or(""),
            LIUZHOU_CENTRE,
            &mut rng,
        );
        for (vehicle, behaviour) in &scenario.behaviours {
            if identity.vehicle_id.as_deref() == Some(vehicle.as_str()) {
                motion.add_behaviour(behaviour.clone());
            }
        }
        let delay = config.ramp_up.mul_f64(index as f64 / count as f64);
        let truck = Truck {
            identity,
            motion,
            rng,
            config: config.clone(),
            stats: stats.clone(),
            auth_code: None,
            unacked: Vec::new(),
            serial: 0,
            latency: Histogram::new_with_bounds(1, 120_000_000, 3).ok(),
            source: config
                .source_addresses
                .get(index % config.source_addresses.len().max(1))
                .copied(),
        };
        let stop = stop.clone();
        tasks.spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = tokio::time::sleep(delay) => {}
            }
            truck.run(stop).await;
        });
    }
    while tasks.join_next().await.is_some() {}
    stats.report(started.elapsed())
}

/// One simulated truck.
struct Truck {
    identity: TruckIdentity,
    motion: TruckMotion,
    rng: StdRng,
    config: Arc<SimConfig>,
    stats: Arc<SimStats>,
    /// Code from the last successful registration; kept across reconnects.
    auth_code: Option<String>,
    /// Positions sent but not acknowledged (or generated while out of coverage), re-sent as a
    /// blind-area batch after reconnecting.
    unacked: Vec<Location>,
    serial: u16,
    latency: Option<Histogram<u64>>,
    source: Option<std::net::IpAddr>,
}

/// Why a session with the server ended.
enum SessionEnd {
    Stop,
    Reconnect,
}

type Link = Framed<TcpStream, Jt808Codec>;

impl Truck {
    async fn run(mut self, stop: CancellationToken) {
        let mut backoff = Duration::from_millis(200);
        loop {
            if stop.is_cancelled() {
                break;
            }
            // Out of coverage: no connection at all, positions pile up for later.
            if self.motion.silent() {
                let fix = self
                    .motion
                    .step(self.step_seconds(), Utc::now(), &mut self.rng);
                let location = self.location(&fix);
                self.unacked.push(location);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(self.config.interval.max(Duration::from_millis(100))) => {}
                }
                continue;
            }
            match self.connect().await {
                Ok(link) => {
                    self.stats.connected.fetch_add(1, Ordering::Relaxed);
                    backoff = Duration::from_millis(200);
                    let end = self.session(link, &stop).await;
                    self.stats.connected.fetch_sub(1, Ordering::Relaxed);
                    if matches!(end, SessionEnd::Stop) {
                        break;
                    }
                }
                Err(_) => {
                    self.stats.connection_errors.fetch_add(1, Ordering::Relaxed);
                    tokio::select! {
                        () = stop.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        if let Some(latency) = &self.latency {
            self.stats.record_latency(latency);
        }
    }

    fn step_seconds(&self) -> f64 {
        self.config.interval.as_secs_f64().max(1.0)
    }

    async fn connect(&self) -> std::io::Result<Link> {
        let socket = match self.config.server {
            SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        if let Some(source) = self.source {
            socket.bind(SocketAddr::new(source, 0))?;
        }
        let stream = socket.connect(self.config.server).await?;
        stream.set_nodelay(true)?;
        Ok(Framed::with_capacity(stream, Jt808Codec::strict(), 256))
    }

    /// One connection: register if needed, authenticate, re-send, then report.
    async fn session(&mut self, mut link: Link, stop: &CancellationToken) -> SessionEnd {
        if self.auth_code.is_none() {
            match self.register(&mut link).await {
                Some(true) => {}
                Some(false) => return self.unregistered_session(link, stop).await,
                None => return SessionEnd::Reconnect,
            }
        }
        let code = self.auth_code.clone().unwrap_or_default();
        let auth = Message::Auth(Auth {
            auth_code: code,
            imei: (self.identity.version == Version::V2019).then(|| "860000000000001".to_string()),
            software_version: (self.identity.version == Version::V2019)
                .then(|| "HW-1.0".to_string()),
        });
        match self.request(&mut link, auth).await {
            Some(0) => {
                self.stats.authenticated.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {
                // The code was refused: register again next time.
                self.auth_code = None;
                return SessionEnd::Reconnect;
            }
            None => return SessionEnd::Reconnect,
        }
        if !self.resend_unacked(&mut link).await {
            return SessionEnd::Reconnect;
        }
        let mut last_sent = Instant::now();
        loop {
            if self.motion.silent() {
                // Losing coverage: drop the connection.
                return SessionEnd::Reconnect;
            }
            if self.config.heartbeat_only {
                tokio::select! {
                    () = stop.cancelled() => return SessionEnd::Stop,
                    () = tokio::time::sleep(self.config.heartbeat_interval) => {}
                }
                if self.request(&mut link, Message::Heartbeat).await.is_none() {
                    return SessionEnd::Reconnect;
                }
                continue;
            }
            let wait = self.config.interval.saturating_sub(last_sent.elapsed());
            if !wait.is_zero() {
                tokio::select! {
                    () = stop.cancelled() => return SessionEnd::Stop,
                    () = tokio::time::sleep(wait) => {}
                }
            } else if stop.is_cancelled() {
                return SessionEnd::Stop;
            }
            last_sent = Instant::now();
            let fix = self
                .motion
                .step(self.step_seconds(), Utc::now(), &mut self.rng);
            if self.motion.silent() {
                let location = self.location(&fix);
                self.unacked.push(location);
                return SessionEnd::Reconnect;
            }
            let location = self.location(&fix);
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            match self
                .request(&mut link, Message::Location(location.clone()))
                .await
            {
                Some(0) => {
                    self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                    if let Some(latency) = &mut self.latency {
                        let _ = latency.record(started.elapsed().as_micros().max(1) as u64);
                    }
                }
                Some(_) => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    self.unacked.push(location);
                }
                None => {
                    self.unacked.push(location);
                    return SessionEnd::Reconnect;
                }
            }
        }
    }

    /// A terminal the server does not know: it keeps reporting (refused), retrying
    /// registration now and then, like real unregistered trucks do.
    async fn unregistered_session(
        &mut self,
        mut link: Link,
        stop: &CancellationToken,
    ) -> SessionEnd {
        let mut last_register = Instant::now();
        loop {
            tokio::select! {
                () = stop.cancelled() => return SessionEnd::Stop,
                () = tokio::time::sleep(self.config.interval.max(Duration::from_millis(100))) => {}
            }
            let fix = self
                .motion
                .step(self.step_seconds(), Utc::now(), &mut self.rng);
            let location = self.location(&fix);
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
            match self.request(&mut link, Message::Location(location)).await {
                Some(0) => {
                    self.stats.acknowledged.fetch_add(1, Ordering::Relaxed);
                }
                Some(_) => {
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                }
                None => return SessionEnd::Reconnect,
            }
            if last_register.elapsed() > Duration::from_secs(60) {
                last_register = Instant::now();
                match self.register(&mut link).await {
                    Some(true) => return SessionEnd::Reconnect,
                    Some(false) => {}
                    None => return SessionEnd::Reconnect,
                }
            }
        }
    }

    /// Registers; `Some(true)` with a code, `Some(false)` when refused, `None` on no answer.
    async fn register(&mut self, link: &mut Link) -> Option<bool> {
        let register = Message::Register(Register {
            layout: self.identity.layout,
            province: 45,
            city: 200,
            maker_id: "HWSIM".into(),
            model: self.identity.model.chars().take(8).collect(),
            terminal_id: self.identity.phone.chars().rev().take(7).collect(),
            plate_color: 2,
            plate: self.identity.plate.clone(),
        });
        let serial = self.send(link, register).await?;
        let deadline = Instant::now() + self.config.ack_timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline.into(), link.next())
                .await
                .ok()??
                .ok()?;
            let Decoded::Frame(frame) = frame else {
                continue;
            };
            if frame.header.msg_id != ids::REGISTER_RESPONSE {
                continue;
            }
            let Ok(Message::RegisterResponse(response)) = frame.message() else {
                return None;
            };
            if response.reply_serial != serial {
                continue;
            }
            return if response.result == 0 {
                self.stats.registered.fetch_add(1, Ordering::Relaxed);
                self.auth_code = response.auth_code;
                Some(true)
            } else {
                self.stats
                    .registration_rejected
                    .fetch_add(1, Ordering::Relaxed);
                Some(false)
            };
        }
    }

    /// Sends the positions not acknowledged before as 0x0704 blind-area batches.
    async fn resend_unacked(&mut self, link: &mut Link) -> bool {
        while !self.unacked.is_empty() {
            let take = self.unacked.len().min(30);
            let chunk: Vec<Location> = self.unacked.drain(..take).collect();
            let count = chunk.len() as u64;
            let batch = Message::LocationBatch(LocationBatch {
                kind: LocationBatch::BLIND_AREA,
                positions: chunk.clone(),
                defect: None,
            });
            self.stats.sent.fetch_add(count, Ordering::Relaxed);
            self.stats.resent.fetch_add(count, Ordering::Relaxed);
            match self.request(link, batch).await {
                Some(0) => {
                    self.stats.acknowledged.fetch_add(count, Ordering::Relaxed);
                }
                other => {
                    if other.is_some() {
                        self.stats.refused.fetch_add(count, Ordering::Relaxed);
                    }
                    let mut rest = chunk;
                    rest.append(&mut self.unacked);
                    self.unacked = rest;
                    return false;
                }
            }
        }
        true
    }

    /// Sends `message` and waits for the 0x8001 answering it; `Some(result)`, or `None` when
    /// no answer came in time or the link broke.
    async fn request(&mut self, link: &mut Link, message: Message) -> Option<u8> {
        let msg_id = message.msg_id();
        let serial = self.send(link, message).await?;
        let deadline = Instant::now() + self.config.ack_timeout;
        loop {
            let item = tokio::time::timeout_at(deadline.into(), link.next())
                .await
                .ok()??
                .ok()?;
            let Decoded::Frame(frame) = item else {
                continue;
            };
            match frame.header.msg_id {
                ids::PLATFORM_RESPONSE => {
                    if let Ok(Message::PlatformResponse(answer)) = frame.message()
                        && answer.reply_serial == serial
                        && answer.reply_msg_id == msg_id
                    {
                        return Some(answer.result);
                    }
                }
                // Commands from the platform: answer them like a terminal would.
                ids::TEXT_MESSAGE | ids::SET_PARAMETERS => {
                    let answer =
                        Message::TerminalResponse(jt808::GeneralResponse::ack(&frame.header));
                    self.send(link, answer).await?;
                }
                ids::QUERY_LOCATION => {
                    let fix = self.motion.step(0.0, Utc::now(), &mut self.rng);
                    let location = self.location(&fix);
                    let mut body = BytesMut::new();
                    body.extend_from_slice(&frame.header.serial.to_be_bytes());
                    if location.encode(&mut body).is_err() {
                        continue;
                    }
                    let answer = Message::Unknown {
                        id: ids::LOCATION_RESPONSE,
                        body: body.freeze(),
                    };
                    self.send(link, answer).await?;
                }
                _ => {}
            }
        }
    }

    /// Sends one message; returns its serial.
    async fn send(&mut self, link: &mut Link, message: Message) -> Option<u16> {
        let phone = Phone::parse(&self.identity.phone).ok()?;
        let serial = self.serial;
        let header = OutboundHeader::new(phone, serial, self.identity.version);
        self.serial = self.serial.wrapping_add(1);
        link.send(Outbound { header, message }).await.ok()?;
        Some(serial)
    }

    /// The 0x0200 body for a fix, with the sensor bits of the terminal's model.
    fn location(&mut self, fix: &SimFix) -> Location {
        let smart = self.identity.model == "smart-muck";
        let mut status = StatusFlags::LOCATED.0 | 1; // located, ACC on
        if smart {
            status |= match fix.load {
                LoadState::Full => 0b11 << 8,
                LoadState::Half => 0b01 << 8,
                _ => 0,
            };
            if fix.lid_open {
                status |= 1 << 13;
            }
            if fix.lift_up {
                status |= 1 << 15;
            }
        }
        let mut items = vec![
            AdditionalItem::Standard(ItemValue::Mileage(self.rng.random_range(10_000..900_000))),
            AdditionalItem::Standard(ItemValue::SignalStrength(self.rng.random_range(10..31))),
            AdditionalItem::Standard(ItemValue::SatelliteCount(self.rng.random_range(6..20))),
        ];
        if smart {
            let kg: u32 = if fix.load == LoadState::Full {
                15_500
            } else {
                300
            };
            items.push(AdditionalItem::Other {
                id: 0xE1,
                data: kg.to_be_bytes().to_vec(),
            });
        }
        Location {
            basic: LocationBasic {
                alarm: AlarmFlags(0),
                status: StatusFlags(status),
                lat_raw: (fix.lat.abs() * 1e6).round() as u32,
                lon_raw: (fix.lon.abs() * 1e6).round() as u32,
                altitude_m: 90,
                speed_raw: (fix.speed_kmh * 10.0).round().clamp(0.0, 65535.0) as u16,
                direction: fix.heading % 360,
                time: BcdTime::from_datetime(&Utc::now()),
            },
            items,
            item_defect: None,
        }
    }
}
