//! The whole platform end to end: the Liuzhou sample city, the simulator over real TCP, the
//! gateway, the engine and the case service. Compliant trucks stay compliant; the scenario's
//! rule-breakers open exactly the cases they should. And the promise behind every
//! acknowledgement: `kill -9` the server and every acknowledged position is still there.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use haulwatch::app::{ServeConfig, start};
use haulwatch::cases::model::Role;
use haulwatch::cases::service::{CaseFilter, Principal};
use haulwatch::model::{ViolationKind, ZoneKind};
use haulwatch::sim::{Scenario, SimConfig, SimStats};
use haulwatch::store::{Store, StoreConfig, ViolationQuery};
use jt808::{
    AlarmFlags, Auth, BcdTime, Decoded, Jt808Codec, Location, LocationBasic, Message, Outbound,
    OutboundHeader, Phone, Register, RegisterLayout, StatusFlags, Version,
};
use tokio_util::codec::Framed;

fn bundle() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/geofences/liuzhou"))
}

fn local_config(dir: &Path) -> ServeConfig {
    let mut config = ServeConfig::new(StoreConfig::new(None, dir));
    config.jt808_listen = "127.0.0.1:0".parse().expect("addr");
    config.http_listen = "127.0.0.1:0".parse().expect("addr");
    config
}

fn admin() -> Principal {
    Principal {
        user_id: "admin".into(),
        name: "Admin".into(),
        roles: vec![Role::Admin],
        company_id: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_city_opens_exactly_the_scenarios_cases() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(None, dir.path())).await?;
    haulwatch::import::import_bundle(&store, bundle())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store.close().await;
    let running = start(local_config(dir.path())).await?;
    let registry = running.store.registry().await?;

    // v003 speeds; the truck whose route passes closest to a restricted zone (a school or the
    // weight-limited bridge: restricted at every hour) detours into it; one truck's terminal
    // is not registered.
    let (detour_truck, zone, distance) =
        haulwatch::sim::scenario::nearest_zone_detour(&registry, ZoneKind::Restricted)
            .expect("a route near a restricted zone");
    assert!(
        distance < 2500.0,
        "{detour_truck} passes {distance} m from {zone}"
    );
    assert_ne!(detour_truck, "v003");
    let scenario: Scenario = serde_json::from_str(&format!(
        r#"{{"trucks": [
            {{"vehicle_id": "v003", "break": "speeding", "start_s": 2, "duration_s": 40, "speed_kmh": 95}},
            {{"vehicle_id": "{detour_truck}", "break": "enter_zone", "zone_id": "{zone}", "start_s": 1, "duration_s": 600}},
            {{"phone": "019900000001", "break": "unregistered"}}
        ]}}"#
    ))?;
    let scenario = scenario.resolve(&registry)?;
    let config = SimConfig {
        server: running.jt808_addr,
        trucks: 200,
        interval: Duration::from_secs(2),
        duration: Some(Duration::from_secs(110)),
        ramp_up: Duration::from_secs(2),
        ..SimConfig::default()
    };
    let stats = Arc::new(SimStats::default());
    let report = haulwatch::sim::client::run(
        config,
        Arc::new(registry),
        scenario,
        stats,
        tokio_util::sync::CancellationToken::new(),
    )
    .await;
    assert!(report.registered >= 200, "{report:?}");
    assert!(report.acknowledged > 8000, "{report:?}");
    // Let the engine's last findings reach the case service.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let violations = running
        .store
        .list_violations(&ViolationQuery {
            limit: 1000,
            ..ViolationQuery::default()
        })
        .await?
        .items;
    let found: BTreeSet<(ViolationKind, String)> = violations
        .iter()
        .map(|v| {
            (
                v.kind,
                v.vehicle_id.clone().unwrap_or_else(|| v.phone.clone()),
            )
        })
        .collect();
    let expected: BTreeSet<(ViolationKind, String)> = [
        (ViolationKind::Speeding, "v003".to_string()),
        (ViolationKind::RestrictedZone, detour_truck.clone()),
        (
            ViolationKind::UnregisteredTerminal,
            "019900000001".to_string(),
        ),
    ]
    .into_iter()
    .collect();
    assert!(
        expected.is_subset(&found),
        "missing violations: expected {expected:?}, found {found:?}"
    );
    // Compliant trucks stay compliant. The detouring truck left its route to reach the zone, so a
    // route deviation (or a time window breach by a truck with a day-only permit) of the
    // scenario trucks is fine; nobody else may appear.
    let scenario_trucks: BTreeSet<&str> = ["v003", detour_truck.as_str(), "019900000001"]
        .into_iter()
        .collect();
    let others: Vec<_> = found
        .iter()
        .filter(|(_, who)| !scenario_trucks.contains(who.as_str()))
        .collect();
    assert!(
        others.is_empty(),
        "compliant trucks broke rules: {others:?}"
    );

    // Each of them became a case, with evidence and a district assignment for the school.
    let (cases, _) = running
        .cases
        .list_cases(&admin(), CaseFilter::default())
        .await?;
    let by_kind: BTreeMap<String, usize> = cases.iter().fold(BTreeMap::new(), |mut m, c| {
        *m.entry(c.case.kind.as_str().to_string()).or_default() += 1;
        m
    });
    for kind in ["speeding", "restricted_zone", "unregistered_terminal"] {
        assert_eq!(by_kind.get(kind), Some(&1), "one {kind} case: {by_kind:?}");
    }
    let verification = running.cases.verify_audit().await?;
    assert!(verification.is_ok(), "{verification:?}");
    running.stop().await;
    Ok(())
}

/// The child half of the kill -9 test: runs `haulwatch serve` in this process until killed.
#[test]
#[ignore = "run only as the child of acknowledged_positions_survive_kill_9"]
fn serve_child() {
    let (Ok(dir), Ok(port_file)) = (
        std::env::var("HAULWATCH_E2E_DIR"),
        std::env::var("HAULWATCH_E2E_PORT_FILE"),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async move {
        let mut config = local_config(Path::new(&dir));
        // The test streams far faster than a terminal would.
        config.gateway.max_frames_per_second = 1_000_000;
        let running = start(config).await.expect("start");
        std::fs::write(&port_file, running.jt808_addr.to_string()).expect("port file");
        std::future::pending::<()>().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_positions_survive_kill_9() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(StoreConfig::new(None, dir.path())).await?;
    haulwatch::import::import_bundle(&store, bundle())
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let registry = store.registry().await?;
    store.close().await;
    let terminal = registry
        .terminals
        .iter()
        .find(|t| t.protocol == "2013" && t.vehicle_id.is_some())
        .expect("a 2013 terminal")
        .clone();
    let vehicle = terminal.vehicle_id.clone().expect("vehicle");
    let plate = registry
        .vehicles
        .iter()
        .find(|v| v.id == vehicle)
        .expect("vehicle")
        .plate
        .clone();

    let port_file = dir.path().join("port");
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args(["serve_child", "--exact", "--ignored", "--nocapture"])
        .env("HAULWATCH_E2E_DIR", dir.path())
        .env("HAULWATCH_E2E_PORT_FILE", &port_file)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut address = None;
    for _ in 0..200 {
        if let Ok(text) = std::fs::read_to_string(&port_file)
            && let Ok(a) = text.parse::<std::net::SocketAddr>()
        {
            address = Some(a);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let address = address.ok_or_else(|| anyhow::anyhow!("server did not start"))?;

    let stream = tokio::net::TcpStream::connect(address).await?;
    let mut link = Framed::new(stream, Jt808Codec::strict());
    let phone = Phone::parse(&terminal.phone)?;
    let mut serial = 0u16;
    let mut send = |message: Message| {
        let header = OutboundHeader::new(phone, serial, Version::V2013);
        serial = serial.wrapping_add(1);
        Outbound { header, message }
    };
    link.send(send(Message::Register(Register {
        layout: RegisterLayout::V2013,
        province: 45,
        city: 200,
        maker_id: "TEST".into(),
        model: "M".into(),
        terminal_id: "T1".into(),
        plate_color: 2,
        plate,
    })))
    .await?;
    let code = loop {
        if let Some(Ok(Decoded::Frame(frame))) = link.next().await
            && let Ok(Message::RegisterResponse(r)) = frame.message()
        {
            break r.auth_code.expect("accepted");
        }
    };
    link.send(send(Message::Auth(Auth {
        auth_code: code,
        imei: None,
        software_version: None,
    })))
    .await?;

    // Stream positions with up to 64 in flight, like a terminal re-sending a backlog; the
    // server is killed mid-stream.
    // Whole seconds: BCD times carry no fractions.
    let t0 =
        chrono::DateTime::from_timestamp(chrono::Utc::now().timestamp() - 1800, 0).expect("time");
    let mut sent = BTreeMap::new();
    let mut acked = BTreeSet::new();
    let note_ack = |frame: jt808::Frame, acked: &mut BTreeSet<_>, sent: &BTreeMap<u16, _>| {
        if let Ok(Message::PlatformResponse(a)) = frame.message()
            && a.reply_msg_id == 0x0200
            && a.result == 0
            && let Some(time) = sent.get(&a.reply_serial)
        {
            acked.insert(*time);
        }
    };
    let writer = async {
        for i in 0..3000i64 {
            let time = t0 + chrono::Duration::seconds(i);
            let location = Location {
                basic: LocationBasic {
                    alarm: AlarmFlags(0),
                    status: StatusFlags(StatusFlags::LOCATED.0),
                    lat_raw: 24_324_050,
                    lon_raw: 109_406_980 + i as u32,
                    altitude_m: 90,
                    speed_raw: 0,
                    direction: 0,
                    time: BcdTime::from_datetime(&time),
                },
                items: vec![],
                item_defect: None,
            };
            let out = send(Message::Location(location));
            sent.insert(out.header.serial, time);
            if link.send(out).await.is_err() {
                break;
            }
            if i == 1500 {
                // Mid-stream: no warning, no graceful anything.
                child.kill()?;
            }
            while sent.len() - acked.len() > 64 {
                match tokio::time::timeout(Duration::from_secs(5), link.next()).await {
                    Ok(Some(Ok(Decoded::Frame(frame)))) => note_ack(frame, &mut acked, &sent),
                    Ok(Some(Ok(Decoded::Rejected(_)))) => {}
                    _ => break,
                }
            }
            if child.try_wait()?.is_some() && sent.len() - acked.len() > 64 {
                break;
            }
        }
        while let Ok(Some(Ok(Decoded::Frame(frame)))) =
            tokio::time::timeout(Duration::from_secs(3), link.next()).await
        {
            note_ack(frame, &mut acked, &sent);
        }
        anyhow::Ok(())
    };
    writer.await?;
    let _ = child.wait();
    assert!(
        acked.len() > 1000,
        "positions were acknowledged before the kill: {}",
        acked.len()
    );

    let store = Store::open(StoreConfig::new(None, dir.path())).await?;
    let stored: BTreeSet<chrono::DateTime<chrono::Utc>> = store
        .track(&haulwatch::store::TrackQuery::new(
            vehicle,
            t0 - chrono::Duration::minutes(1),
            t0 + chrono::Duration::hours(2),
        ))
        .await?
        .into_iter()
        .map(|p| p.time)
        .collect();
    let lost: Vec<_> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged positions lost",
        lost.len()
    );
    Ok(())
}
