//! Black-box tests of the JT/T 808 gateway over real TCP on 127.0.0.1:0, with the embedded
//! store and the in-process bus behind it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, TimeZone, Utc};
use futures::{SinkExt, StreamExt};
use haulwatch::bus::{InProcessBus, LiveHub};
use haulwatch::ingest::sensors::SensorProfiles;
use haulwatch::ingest::{
    CommandOutcome, DownlinkCommand, Gateway, GatewayConfig, SessionRegistry, SharedDirectory,
};
use haulwatch::model::{Position, PositionSource, Registry, SensorCapabilities, Terminal, Vehicle};
use haulwatch::store::{Store, StoreConfig, TrackQuery, TrackWriterConfig};
use jt808::{
    AdditionalItem, AlarmFlags, Auth, BcdTime, Decoded, GeneralResponse, ItemValue, Jt808Codec,
    Location, LocationBasic, LocationBatch, Message, Outbound, OutboundHeader, Phone, Register,
    RegisterLayout, StatusFlags, Version, encode_message, ids,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

const PHONE_2013: &str = "013800000001";
const PHONE_2019: &str = "00000000013800000002";

/// A gateway with its store and bus, on a free port.
struct Harness {
    addr: SocketAddr,
    store: Store,
    sessions: SessionRegistry,
    engine_inputs: Vec<mpsc::Receiver<Position>>,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

fn registry() -> Registry {
    let vehicle = |id: &str, plate: &str| Vehicle {
        id: id.into(),
        plate: plate.into(),
        plate_color: 2,
        company_id: "C1".into(),
        rated_load_kg: Some(16_000.0),
        sensors: SensorCapabilities::default(),
    };
    let terminal = |phone: &str, vehicle: &str, protocol: &str| Terminal {
        phone: phone.into(),
        vehicle_id: Some(vehicle.into()),
        model: "smart-muck".into(),
        protocol: protocol.into(),
        auth_code: None,
    };
    Registry {
        companies: vec![haulwatch::model::Company {
            id: "C1".into(),
            name: "柳州测试运输有限公司".into(),
            uscc: "91450200MA5K000001".into(),
        }],
        vehicles: vec![vehicle("V1", "桂B00001"), vehicle("V2", "桂B00002")],
        terminals: vec![
            terminal("13800000001", "V1", "2013"),
            terminal("13800000002", "V2", "2019"),
        ],
        ..Registry::default()
    }
}

async fn start(config: GatewayConfig) -> Harness {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(StoreConfig::new(None, dir.path()))
        .await
        .expect("store");
    let registry = registry();
    store.import_registry(&registry).await.expect("import");
    let writer = store
        .track_writer(TrackWriterConfig::default())
        .expect("writer");
    let (queues, engine_inputs) = InProcessBus::queues(2, 100_000);
    let bus = InProcessBus::new(Arc::new(writer), LiveHub::new(1024), queues);
    let sessions = SessionRegistry::default();
    let gateway = Gateway::new(
        config,
        store.clone(),
        Arc::new(bus),
        SharedDirectory::new(&registry),
        sessions.clone(),
        SensorProfiles::default(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let shutdown = gateway.shutdown_token();
    let server = tokio::spawn(async move { gateway.serve(listener).await });
    Harness {
        addr,
        store,
        sessions,
        engine_inputs,
        shutdown,
        server,
        _dir: dir,
    }
}

/// A scripted terminal.
struct Terminal808 {
    link: Framed<TcpStream, Jt808Codec>,
    phone: Phone,
    version: Version,
    serial: u16,
}

impl Terminal808 {
    async fn connect(addr: SocketAddr, phone: &str, version: Version) -> Terminal808 {
        let stream = TcpStream::connect(addr).await.expect("connect");
        Terminal808 {
            link: Framed::new(stream, Jt808Codec::strict()),
            phone: Phone::parse(phone).expect("phone"),
            version,
            serial: 0,
        }
    }

    fn header(&mut self) -> OutboundHeader {
        let header = OutboundHeader::new(self.phone, self.serial, self.version);
        self.serial = self.serial.wrapping_add(1);
        header
    }

    async fn send(&mut self, message: Message) -> u16 {
        let header = self.header();
        let serial = header.serial;
        self.link
            .send(Outbound { header, message })
            .await
            .expect("send");
        serial
    }

    /// The next decoded message from the server.
    async fn receive(&mut self) -> Option<(jt808::Header, Message)> {
        loop {
            let item = tokio::time::timeout(Duration::from_secs(10), self.link.next())
                .await
                .ok()??
                .ok()?;
            if let Decoded::Frame(frame) = item {
                let message = frame.message().expect("server frames decode");
                return Some((frame.header, message));
            }
        }
    }

    /// Waits for the 0x8001 answering `serial`.
    async fn general_response(&mut self, serial: u16) -> GeneralResponse {
        loop {
            let (_, message) = self.receive().await.expect("an answer");
            if let Message::PlatformResponse(answer) = message
                && answer.reply_serial == serial
            {
                return answer;
            }
        }
    }

    async fn register(&mut self, plate: &str) -> jt808::RegisterResponse {
        let layout = if self.version == Version::V2019 {
            RegisterLayout::V2019
        } else {
            RegisterLayout::V2013
        };
        let serial = self
            .send(Message::Register(Register {
                layout,
                province: 45,
                city: 200,
                maker_id: "TEST".into(),
                model: "M1".into(),
                terminal_id: "T000001".into(),
                plate_color: 2,
                plate: plate.into(),
            }))
            .await;
        loop {
            let (_, message) = self.receive().await.expect("register response");
            if let Message::RegisterResponse(response) = message
                && response.reply_serial == serial
            {
                return response;
            }
        }
    }

    async fn authenticate(&mut self, code: &str) -> u8 {
        let v2019 = self.version == Version::V2019;
        let serial = self
            .send(Message::Auth(Auth {
                auth_code: code.into(),
                imei: v2019.then(|| "860000000000001".into()),
                software_version: v2019.then(|| "1.0".into()),
            }))
            .await;
        self.general_response(serial).await.result
    }

    async fn register_and_authenticate(&mut self, plate: &str) {
        let response = self.register(plate).await;
        assert_eq!(response.result, 0);
        let code = response.auth_code.expect("code");
        assert!(code.len() >= 16);
        assert_eq!(self.authenticate(&code).await, 0);
    }
}

fn location(time: DateTime<Utc>, lat: f64, lon: f64) -> Location {
    Location {
        basic: LocationBasic {
            alarm: AlarmFlags(0),
            status: StatusFlags(StatusFlags::LOCATED.0 | (0b11 << 8)),
            lat_raw: (lat * 1e6) as u32,
            lon_raw: (lon * 1e6) as u32,
            altitude_m: 80,
            speed_raw: 300,
            direction: 90,
            time: BcdTime::from_datetime(&time),
        },
        items: vec![AdditionalItem::Standard(ItemValue::Mileage(1000))],
        item_defect: None,
    }
}

fn base_time() -> DateTime<Utc> {
    // A few minutes ago, so nothing is flagged as future.
    let now = Utc::now().timestamp();
    Utc.timestamp_opt(now - 600, 0).single().expect("time")
}

async fn stored_track(store: &Store, vehicle: &str) -> Vec<Position> {
    store
        .track(&TrackQuery::new(
            vehicle,
            Utc::now() - chrono::Duration::days(1),
            Utc::now() + chrono::Duration::days(1),
        ))
        .await
        .expect("track")
}

#[tokio::test]
async fn register_authenticate_and_report_2013_and_2019() {
    let h = start(GatewayConfig::default()).await;
    let mut t2013 = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    t2013.register_and_authenticate("桂B00001").await;
    let mut t2019 = Terminal808::connect(h.addr, PHONE_2019, Version::V2019).await;
    t2019.register_and_authenticate("桂B00002").await;

    // The auth code is stable across re-registration.
    let first = t2013.register("桂B00001").await.auth_code;
    let again = t2013.register("桂B00001").await.auth_code;
    assert_eq!(first, again);

    let t0 = base_time();
    let serial = t2013
        .send(Message::Location(location(t0, 24.3, 109.4)))
        .await;
    assert_eq!(t2013.general_response(serial).await.result, 0);
    let serial = t2019
        .send(Message::Location(location(t0, 24.31, 109.41)))
        .await;
    assert_eq!(t2019.general_response(serial).await.result, 0);

    let v1 = stored_track(&h.store, "V1").await;
    assert_eq!(v1.len(), 1, "acknowledged means stored");
    assert_eq!(v1[0].time, t0);
    assert_eq!(v1[0].phone, PHONE_2013);
    assert!((v1[0].lat - 24.3).abs() < 1e-6);
    assert_eq!(v1[0].load, haulwatch::model::LoadState::Full);
    let v2 = stored_track(&h.store, "V2").await;
    assert_eq!(v2.len(), 1);
    assert_eq!(v2[0].phone, PHONE_2019);
    assert!(!v2[0].raw.is_empty(), "raw frame kept as evidence");
    h.shutdown.cancel();
}

#[tokio::test]
async fn wrong_auth_code_is_refused_and_repeated_failures_close() {
    let h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    let _ = t.register("桂B00001").await;
    assert_eq!(t.authenticate("not-the-code").await, 1);
    assert_eq!(t.authenticate("still-wrong").await, 1);
    assert_eq!(t.authenticate("wrong-again").await, 1);
    // Closed after the third failure.
    assert!(t.receive().await.is_none());
}

#[tokio::test]
async fn positions_before_authentication_are_refused_and_not_stored() {
    let h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    let serial = t
        .send(Message::Location(location(base_time(), 24.3, 109.4)))
        .await;
    assert_eq!(t.general_response(serial).await.result, 1);
    assert!(stored_track(&h.store, "V1").await.is_empty());
}

#[tokio::test]
async fn unknown_terminal_gets_result_4_and_the_engine_hears_of_it() {
    let mut h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, "019900000009", Version::V2013).await;
    let response = t.register("桂B99999").await;
    assert_eq!(response.result, 4);
    assert!(response.auth_code.is_none());
    let serial = t
        .send(Message::Location(location(base_time(), 24.32, 109.42)))
        .await;
    assert_eq!(t.general_response(serial).await.result, 1);
    let mut reports = Vec::new();
    for input in &mut h.engine_inputs {
        while let Ok(p) = input.try_recv() {
            reports.push(p);
        }
    }
    assert!(!reports.is_empty());
    assert!(reports.iter().all(|p| p.vehicle_id.is_none()
        && p.phone == "019900000009"
        && p.flags.has(haulwatch::model::PositionFlags::UNREGISTERED)));
    assert!(
        reports.iter().any(|p| (p.lat - 24.32).abs() < 1e-6),
        "the refused position gives the engine a location"
    );
}

#[tokio::test]
async fn vehicle_bound_to_another_terminal_gets_result_1() {
    let h = start(GatewayConfig::default()).await;
    // Terminal 2 claims vehicle 1's plate.
    let mut t = Terminal808::connect(h.addr, "013800000002", Version::V2013).await;
    assert_eq!(t.register("桂B00001").await.result, 1);
}

#[tokio::test]
async fn garbage_between_frames_is_skipped_and_every_frame_answered() {
    let h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    t.register_and_authenticate("桂B00001").await;
    let t0 = base_time();
    let mut wire = BytesMut::new();
    let mut serials = Vec::new();
    for i in 0..5 {
        let header = t.header();
        serials.push(header.serial);
        wire.extend_from_slice(b"AT+GARBAGE\r\n$$(740190311185,1,001,ELOCK)");
        let message = Message::Location(location(
            t0 + chrono::Duration::seconds(i),
            24.3 + i as f64 * 0.0001,
            109.4,
        ));
        encode_message(&header, &message, &mut wire).expect("encode");
        wire.extend_from_slice(&[0x7E, 0x7E, 0x00, 0x7D]);
    }
    t.link.get_mut().write_all(&wire).await.expect("write");
    for serial in serials {
        assert_eq!(t.general_response(serial).await.result, 0);
    }
    assert_eq!(stored_track(&h.store, "V1").await.len(), 5);
}

#[tokio::test]
async fn a_frame_split_at_every_byte_boundary_is_reassembled() {
    let h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    t.register_and_authenticate("桂B00001").await;
    let t0 = base_time();
    let mut frames = Vec::new();
    for i in 0..3i64 {
        let header = t.header();
        let mut frame = BytesMut::new();
        encode_message(
            &header,
            &Message::Location(location(t0 + chrono::Duration::seconds(i), 24.3, 109.4)),
            &mut frame,
        )
        .expect("encode");
        frames.push((header.serial, frame));
    }
    // Each frame is written in two pieces split at a different byte.
    for (n, (serial, frame)) in frames.into_iter().enumerate() {
        let split = (n + 1) * frame.len() / 4;
        let (a, b) = frame.split_at(split);
        t.link.get_mut().write_all(a).await.expect("write");
        t.link.get_mut().flush().await.expect("flush");
        tokio::time::sleep(Duration::from_millis(5)).await;
        t.link.get_mut().write_all(b).await.expect("write");
        assert_eq!(t.general_response(serial).await.result, 0);
    }
    // And one frame byte by byte.
    let header = t.header();
    let mut frame = BytesMut::new();
    encode_message(
        &header,
        &Message::Location(location(t0 + chrono::Duration::seconds(10), 24.3, 109.4)),
        &mut frame,
    )
    .expect("encode");
    for byte in frame.iter() {
        t.link.get_mut().write_all(&[*byte]).await.expect("write");
        t.link.get_mut().flush().await.expect("flush");
    }
    assert_eq!(t.general_response(header.serial).await.result, 0);
    assert_eq!(stored_track(&h.store, "V1").await.len(), 4);
}

#[tokio::test]
async fn blind_area_batch_and_subpackaged_batch_are_stored() {
    let h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    t.register_and_authenticate("桂B00001").await;
    let t0 = base_time() - chrono::Duration::hours(2);
    let positions: Vec<Location> = (0..40)
        .map(|i| {
            location(
                t0 + chrono::Duration::seconds(i * 10),
                24.3,
                109.4 + i as f64 * 1e-4,
            )
        })
        .collect();
    // 40 positions of ~40 bytes: more than 1023 bytes, so the encoder subpackages it.
    let batch = Message::LocationBatch(LocationBatch {
        kind: LocationBatch::BLIND_AREA,
        positions: positions.clone(),
        defect: None,
    });
    let header = t.header();
    let mut wire = BytesMut::new();
    let packets = encode_message(&header, &batch, &mut wire).expect("encode");
    assert!(packets >= 2, "the batch is subpackaged");
    t.serial = t.serial.wrapping_add(packets - 1);
    t.link.get_mut().write_all(&wire).await.expect("write");
    // One 0x8001 per packet, then the batch's own.
    let mut answers = 0;
    while answers < packets {
        let (_, message) = t.receive().await.expect("answer");
        if let Message::PlatformResponse(answer) = message {
            assert_eq!(answer.result, 0);
            answers += 1;
        }
    }
    let mut stored = stored_track(&h.store, "V1").await;
    for _ in 0..50 {
        if stored.len() == 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        stored = stored_track(&h.store, "V1").await;
    }
    assert_eq!(stored.len(), 40);
    assert!(stored.iter().all(|p| p.source == PositionSource::BlindArea));
    assert_eq!(stored[0].time, t0);
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let h = start(GatewayConfig {
        idle_timeout: Duration::from_millis(300),
        ..GatewayConfig::default()
    })
    .await;
    let mut stream = TcpStream::connect(h.addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed before the test timeout");
    assert!(matches!(read, Ok(0) | Err(_)));
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_and_others_unaffected() {
    let h = start(GatewayConfig {
        max_connections: 2,
        ..GatewayConfig::default()
    })
    .await;
    let mut first = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    let _second = TcpStream::connect(h.addr).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(h.addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
        .await
        .expect("third connection closed");
    assert!(matches!(read, Ok(0) | Err(_)));
    // The first still works.
    first.register_and_authenticate("桂B00001").await;
}

#[tokio::test]
async fn a_second_connection_for_the_same_phone_replaces_the_first() {
    let h = start(GatewayConfig::default()).await;
    let mut old = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    old.register_and_authenticate("桂B00001").await;
    let mut new = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    new.register_and_authenticate("桂B00001").await;
    assert!(old.receive().await.is_none(), "old connection closed");
    let serial = new
        .send(Message::Location(location(base_time(), 24.3, 109.4)))
        .await;
    assert_eq!(new.general_response(serial).await.result, 0);
    assert!(h.sessions.is_online(PHONE_2013));
}

#[tokio::test]
async fn downlink_commands_get_the_terminals_answer() {
    let h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    t.register_and_authenticate("桂B00001").await;
    let sessions = h.sessions.clone();
    let command = tokio::spawn(async move {
        sessions
            .send(
                "13800000001",
                DownlinkCommand::Text {
                    text: "请按规定路线行驶".into(),
                },
                Duration::from_secs(5),
            )
            .await
    });
    let (header, message) = t.receive().await.expect("command");
    assert_eq!(header.msg_id, ids::TEXT_MESSAGE);
    let Message::TextMessage(text) = message else {
        panic!("expected a text message")
    };
    assert_eq!(text.text, "请按规定路线行驶");
    t.send(Message::TerminalResponse(GeneralResponse {
        reply_serial: header.serial,
        reply_msg_id: header.msg_id,
        result: 0,
    }))
    .await;
    assert_eq!(
        command.await.expect("join"),
        CommandOutcome::Ok { position: None }
    );
    let outcome = h
        .sessions
        .send(
            "13999999999",
            DownlinkCommand::LocationQuery,
            Duration::from_millis(100),
        )
        .await;
    assert_eq!(outcome, CommandOutcome::Offline);
}

#[tokio::test]
async fn unsupported_messages_get_result_3() {
    let h = start(GatewayConfig::default()).await;
    let mut t = Terminal808::connect(h.addr, PHONE_2013, Version::V2013).await;
    let serial = t
        .send(Message::Unknown {
            id: 0x0F0F,
            body: Bytes::from_static(b"??"),
        })
        .await;
    assert_eq!(t.general_response(serial).await.result, 3);
    let serial = t.send(Message::Heartbeat).await;
    assert_eq!(t.general_response(serial).await.result, 0);
}

#[tokio::test]
async fn graceful_shutdown_loses_no_acknowledged_position() {
    let h = start(GatewayConfig::default()).await;
    let mut terminals = Vec::new();
    for (phone, version, plate) in [
        (PHONE_2013, Version::V2013, "桂B00001"),
        (PHONE_2019, Version::V2019, "桂B00002"),
    ] {
        let mut t = Terminal808::connect(h.addr, phone, version).await;
        t.register_and_authenticate(plate).await;
        terminals.push(t);
    }
    let shutdown = h.shutdown.clone();
    let t0 = base_time();
    let mut tasks = Vec::new();
    for mut t in terminals {
        tasks.push(tokio::spawn(async move {
            // Stream positions without waiting; record which were acknowledged.
            let mut acked = Vec::new();
            let mut sent = std::collections::HashMap::new();
            for i in 0..2000i64 {
                let time = t0 + chrono::Duration::milliseconds(i * 1000);
                let header = t.header();
                sent.insert(header.serial, time);
                let message = Message::Location(location(time, 24.3, 109.4));
                if t.link.send(Outbound { header, message }).await.is_err() {
                    break;
                }
                while let Some(Some(Ok(Decoded::Frame(frame)))) =
                    futures::FutureExt::now_or_never(t.link.next())
                {
                    if let Ok(Message::PlatformResponse(a)) = frame.message()
                        && a.result == 0
                        && let Some(time) = sent.get(&a.reply_serial)
                    {
                        acked.push(*time);
                    }
                }
            }
            // Drain the rest until the server closes.
            while let Ok(Some(Ok(item))) =
                tokio::time::timeout(Duration::from_secs(10), t.link.next()).await
            {
                if let Decoded::Frame(frame) = item
                    && let Ok(Message::PlatformResponse(a)) = frame.message()
                    && a.result == 0
                    && let Some(time) = sent.get(&a.reply_serial)
                {
                    acked.push(*time);
                }
            }
            acked
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    shutdown.cancel();
    let mut acked = Vec::new();
    for task in tasks {
        acked.push(task.await.expect("join"));
    }
    tokio::time::timeout(Duration::from_secs(10), h.server)
        .await
        .expect("server stops")
        .expect("join");
    for (vehicle, acked) in ["V1", "V2"].iter().zip(acked) {
        let stored: std::collections::HashSet<DateTime<Utc>> = stored_track(&h.store, vehicle)
            .await
            .into_iter()
            .map(|p| p.time)
            .collect();
        assert!(
            !acked.is_empty(),
            "some positions were acknowledged before shutdown"
        );
        for time in acked {
            assert!(
                stored.contains(&time),
                "{vehicle}: acknowledged {time} not stored"
            );
        }
    }
}
