//! The fleet view over HTTP: vehicles with latest position and state, tracks as GeoJSON, area
//! visits, terminal commands, violations; company isolation throughout.

mod api_support;

use api_support::assert_error;
use bytes::Bytes;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use haulwatch::ingest::{CommandOutcome, DownlinkCommand};
use haulwatch::model::{
    LoadState, Position, PositionFlags, PositionSource, Violation, ViolationKind, ViolationStatus,
    next_position_id,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn position(vehicle: &str, time: DateTime<Utc>, lon: f64, lat: f64, speed: f64) -> Position {
    Position {
        id: next_position_id(),
        phone: "013800000000".into(),
        vehicle_id: Some(vehicle.into()),
        time,
        received_at: time,
        lat,
        lon,
        altitude_m: 80,
        speed_kmh: speed,
        heading: 90,
        alarm: 0,
        status: 2,
        load: LoadState::Empty,
        lift_up: Some(false),
        lid_open: None,
        weight_kg: None,
        mileage_km: None,
        source: PositionSource::Live,
        flags: PositionFlags::default(),
        raw: Bytes::from_static(b"~raw~"),
    }
}

fn violation(id: &str, vehicle: &str, company: &str, kind: ViolationKind) -> Violation {
    Violation {
        id: id.into(),
        kind,
        vehicle_id: Some(vehicle.into()),
        phone: "013800000000".into(),
        company_id: Some(company.into()),
        permit_id: None,
        started_at: Utc::now() - Duration::minutes(3),
        ended_at: None,
        status: ViolationStatus::Open,
        lat: 24.3,
        lon: 109.4,
        severity: 2,
        evidence: json!({"positions": []}),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn by_id<'a>(items: &'a Value, id: &str) -> &'a Value {
    items
        .as_array()
        .expect("items")
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("{id} listed"))
}

#[tokio::test]
async fn vehicles_with_latest_position_and_state() {
    let api = api_support::start().await;
    let now = Utc::now();
    let mut loaded = position("v011", now - Duration::seconds(20), 109.41, 24.31, 0.0);
    loaded.load = LoadState::Full;
    loaded.weight_kg = Some(15_500.0);
    api.store()
        .insert_positions(&[
            position("v001", now - Duration::seconds(30), 109.40, 24.30, 32.5),
            loaded,
            position("v021", now - Duration::hours(1), 109.42, 24.32, 40.0),
            position("v031", now - Duration::seconds(10), 109.43, 24.33, 20.0),
            position("v041", now - Duration::seconds(5), 109.44, 24.34, 0.5),
        ])
        .await
        .expect("positions stored");
    api.store()
        .upsert_violation(&violation("viol-1", "v031", "c01", ViolationKind::Speeding))
        .await
        .expect("violation stored");

    let (status, page) = api
        .get(
            "/api/v1/vehicles?company_id=c01&limit=1000",
            &api.tokens.dispatcher,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let items = &page["items"];
    assert_eq!(items.as_array().expect("items").len(), 20);
    assert!(page["next"].is_null());
    let v001 = by_id(items, "v001");
    assert_eq!(v001["state"], "moving");
    assert_eq!(v001["plate"], "桂BG0P25");
    assert_eq!(v001["company_name"], "柳州市龙城渣土运输有限公司");
    assert!(
        v001["permit_id"]
            .as_str()
            .is_some_and(|p| p.starts_with('p'))
    );
    assert_eq!(v001["latest"]["speed_kmh"], 32.5);
    assert_eq!(v001["latest"]["lat"], 24.30);
    assert_eq!(v001["latest"]["load"], "empty");
    assert_eq!(v001["latest"]["lift_up"], false);
    assert!(
        v001["latest"]["time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    assert_eq!(by_id(items, "v011")["state"], "loaded");
    assert_eq!(by_id(items, "v011")["latest"]["weight_kg"], 15_500.0);
    assert_eq!(by_id(items, "v021")["state"], "offline");
    assert_eq!(by_id(items, "v031")["state"], "violation");
    assert_eq!(by_id(items, "v041")["state"], "stopped");
    assert_eq!(by_id(items, "v051")["state"], "unknown");
    assert!(by_id(items, "v051")["latest"].is_null());

    // A position on the live stream that is newer than the stored one wins.
    api.state.live.publish_position(&position(
        "v041",
        now - Duration::seconds(1),
        109.45,
        24.35,
        18.0,
    ));
    let (_, v041) = api.get("/api/v1/vehicles/v041", &api.tokens.officer).await;
    assert_eq!(v041["state"], "moving");
    assert_eq!(v041["latest"]["lon"], 109.45);

    // State filter.
    let (status, page) = api
        .get("/api/v1/vehicles?state=loaded&limit=2", &api.tokens.admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["v011"]);
    let answer = api
        .get("/api/v1/vehicles?state=flying", &api.tokens.admin)
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("state"));
    let answer = api.get("/api/v1/vehicles?limit=0", &api.tokens.admin).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("limit"));

    // Paging walks every vehicle exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/vehicles?limit=37&cursor={c}"),
            None => "/api/v1/vehicles?limit=37".to_string(),
        };
        let (status, page) = api.get(&path, &api.tokens.auditor).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_string());
        }
        match page["next"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 200);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 200);

    // A registry write shows in the next listing at once.
    let (status, _) = api
        .post(
            "/api/v1/vehicles",
            &api.tokens.admin,
            json!({"id": "v999", "plate": "桂B99999", "plate_color": 2, "company_id": "c01"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = api
        .get(
            "/api/v1/vehicles?company_id=c01&limit=1000",
            &api.tokens.dispatcher,
        )
        .await;
    assert_eq!(page["items"].as_array().expect("items").len(), 21);
    assert_eq!(by_id(&page["items"], "v999")["state"], "unknown");
    let (status, _) = api.delete("/api/v1/vehicles/v999", &api.tokens.admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Companies see their own fleet only.
    let (status, page) = api
        .get("/api/v1/vehicles?limit=1000", &api.tokens.company_a)
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 20);
    assert!(items.iter().all(|v| v["company_id"] == "c01"));
    let answer = api
        .get("/api/v1/vehicles?company_id=c02", &api.tokens.company_a)
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    let answer = api
        .get("/api/v1/vehicles/v001", &api.tokens.company_b)
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    let answer = api.get("/api/v1/vehicles/nope", &api.tokens.admin).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    api.finish().await;
}

#[tokio::test]
async fn tracks_as_geojson_and_area_visits() {
    let api = api_support::start().await;
    let start = DateTime::from_timestamp(Utc::now().timestamp() - 7200, 0).expect("time");
    let mut track: Vec<Position> = (0..10)
        .map(|i| {
            position(
                "v001",
                start + Duration::seconds(30 * i),
                109.400 + 0.001 * i as f64,
                24.300,
                30.0,
            )
        })
        .collect();
    track[4].flags.set(PositionFlags::JUMP);
    // Another company's truck in the same place.
    let other = position("v002", start + Duration::seconds(45), 109.403, 24.300, 20.0);
    let mut all = track.clone();
    all.push(other);
    api.store().insert_positions(&all).await.expect("stored");

    let from = rfc3339(start - Duration::minutes(1));
    let to = rfc3339(start + Duration::hours(1));
    let (status, collection) = api
        .get(
            &format!("/api/v1/vehicles/v001/track?from={from}&to={to}"),
            &api.tokens.company_a,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{collection}");
    assert_eq!(collection["type"], "FeatureCollection");
    let features = collection["features"].as_array().expect("features");
    assert_eq!(features.len(), 10);
    let first = &features[0];
    assert_eq!(first["type"], "Feature");
    assert_eq!(first["geometry"]["type"], "Point");
    assert_eq!(first["geometry"]["coordinates"], json!([109.4, 24.3]));
    let props = &first["properties"];
    assert_eq!(props["id"], track[0].id);
    assert_eq!(props["speed_kmh"], 30.0);
    assert_eq!(props["heading"], 90);
    assert_eq!(props["load"], "empty");
    assert_eq!(props["lift_up"], false);
    assert!(props["lid_open"].is_null());
    assert_eq!(props["source"], "live");
    assert_eq!(props["flags"], json!([]));
    assert!(props["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(features[4]["properties"]["flags"], json!(["jump"]));

    // Simplified: a straight line keeps its ends, flagged points are dropped.
    let (status, simplified) = api
        .get(
            &format!("/api/v1/vehicles/v001/track?from={from}&to={to}&simplify=5"),
            &api.tokens.dispatcher,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let n = simplified["features"].as_array().expect("features").len();
    assert!((2..10).contains(&n), "{n} points after simplifying");

    // Bad ranges and parameters.
    let answer = api
        .get(
            &format!("/api/v1/vehicles/v001/track?from={to}&to={from}"),
            &api.tokens.admin,
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("from"));
    let long_ago = rfc3339(start - Duration::days(90));
    let answer = api
        .get(
            &format!("/api/v1/vehicles/v001/track?from={long_ago}&to={to}"),
            &api.tokens.admin,
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("to"));
    let answer = api
        .get(
            "/api/v1/vehicles/v001/track?from=yesterday",
            &api.tokens.admin,
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("from"));
    let answer = api
        .get("/api/v1/vehicles/v001/track?simplify=-3", &api.tokens.admin)
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("simplify"),
    );
    let answer = api
        .get("/api/v1/vehicles/v001/track", &api.tokens.company_b)
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);

    // Area visits: who was inside, scoped for companies.
    let area = json!({"type": "Polygon", "coordinates": [[
        [109.3995, 24.2995], [109.4035, 24.2995], [109.4035, 24.3005], [109.3995, 24.3005], [109.3995, 24.2995]
    ]]});
    let body = json!({"polygon": area, "from": from, "to": to});
    let (status, visits) = api
        .post("/api/v1/areas/visits", &api.tokens.dispatcher, body.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{visits}");
    let items = visits["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{visits}");
    let v001 = items
        .iter()
        .find(|v| v["vehicle_id"] == "v001")
        .expect("v001");
    // Points 0..=3 are inside (the flagged point 4 does not count).
    assert_eq!(v001["positions"], 4);
    assert_eq!(v001["plate"], "桂BG0P25");
    assert_eq!(v001["first_seen"], rfc3339(start));
    let (status, visits) = api
        .post("/api/v1/areas/visits", &api.tokens.company_b, body)
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = visits["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["vehicle_id"], "v002");
    let bowtie = json!({"type": "Polygon", "coordinates": [[
        [109.40, 24.30], [109.41, 24.31], [109.41, 24.30], [109.40, 24.31], [109.40, 24.30]
    ]]});
    let answer = api
        .post(
            "/api/v1/areas/visits",
            &api.tokens.dispatcher,
            json!({"polygon": bowtie, "from": from, "to": to}),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("polygon"));
    let answer = api
        .post(
            "/api/v1/areas/visits",
            &api.tokens.dispatcher,
            json!({"polygon": area, "from": to, "to": from}),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("from"));
    api.finish().await;
}

#[tokio::test]
async fn commands_reach_the_terminal_or_say_why_not() {
    let api = api_support::start().await;
    let path = "/api/v1/vehicles/v001/commands";

    // Nobody connected: offline.
    let (status, answer) = api
        .post(
            path,
            &api.tokens.dispatcher,
            json!({"kind": "location_query"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"result": "offline"}));

    // Roles: officers, auditors and companies may not command trucks.
    for token in [
        &api.tokens.officer,
        &api.tokens.auditor,
        &api.tokens.company_a,
    ] {
        let answer = api
            .post(path, token, json!({"kind": "location_query"}))
            .await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
    }

    // Bad commands.
    let answer = api
        .post(path, &api.tokens.admin, json!({"kind": "self_destruct"}))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", None);
    let answer = api
        .post(path, &api.tokens.admin, json!({"kind": "text", "text": ""}))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("text"));
    let answer = api
        .post(
            path,
            &api.tokens.admin,
            json!({"kind": "report_interval", "seconds": 0}),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("seconds"));
    let answer = api
        .post(
            "/api/v1/vehicles/nope/commands",
            &api.tokens.admin,
            json!({"kind": "location_query"}),
        )
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);

    // A connected terminal answers; the answer comes back.
    let (guard, mut commands) = api.state.sessions.register("013812444934");
    let terminal = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(request) = commands.recv().await {
            let outcome = match &request.command {
                DownlinkCommand::Text { .. } => CommandOutcome::from_result(0),
                DownlinkCommand::ReportInterval { .. } => CommandOutcome::Unsupported,
                DownlinkCommand::LocationQuery => CommandOutcome::Ok {
                    position: Some(Box::new(position("v001", Utc::now(), 109.41, 24.31, 12.0))),
                },
            };
            got.push(request.command.clone());
            let _ = request.reply.send(outcome);
            if got.len() == 3 {
                break;
            }
        }
        got
    });
    let (_, answer) = api
        .post(
            path,
            &api.tokens.dispatcher,
            json!({"kind": "text", "text": "请按规定路线行驶"}),
        )
        .await;
    assert_eq!(answer, json!({"result": "ok"}));
    let (_, answer) = api
        .post(
            path,
            &api.tokens.dispatcher,
            json!({"kind": "location_query"}),
        )
        .await;
    assert_eq!(answer["result"], "ok");
    assert_eq!(answer["reply"]["lat"], 24.31);
    let (_, answer) = api
        .post(
            path,
            &api.tokens.admin,
            json!({"kind": "report_interval", "seconds": 30}),
        )
        .await;
    assert_eq!(answer, json!({"result": "unsupported"}));
    let got = terminal.await.expect("terminal task");
    assert_eq!(
        got[0],
        DownlinkCommand::Text {
            text: "请按规定路线行驶".into()
        }
    );
    drop(guard);
    api.finish().await;
}

#[tokio::test]
async fn violations_are_listed_and_scoped() {
    let api = api_support::start().await;
    let store = api.store();
    store
        .upsert_violation(&violation("va", "v001", "c01", ViolationKind::Speeding))
        .await
        .expect("stored");
    let mut closed = violation("vb", "v011", "c01", ViolationKind::RouteDeviation);
    closed.status = ViolationStatus::Closed;
    closed.ended_at = Some(Utc::now());
    store.upsert_violation(&closed).await.expect("stored");
    store
        .upsert_violation(&violation("vc", "v002", "c02", ViolationKind::Speeding))
        .await
        .expect("stored");

    let (status, page) = api.get("/api/v1/violations", &api.tokens.officer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"].as_array().expect("items").len(), 3);
    let (_, page) = api
        .get(
            "/api/v1/violations?kind=speeding&status=open",
            &api.tokens.dispatcher,
        )
        .await;
    assert_eq!(page["items"].as_array().expect("items").len(), 2);
    let (_, page) = api
        .get("/api/v1/violations?vehicle_id=v011", &api.tokens.admin)
        .await;
    assert_eq!(page["items"][0]["id"], "vb");
    assert_eq!(page["items"][0]["status"], "closed");

    // Companies: own only; another company's vehicle, company or violation is 404.
    let (_, page) = api.get("/api/v1/violations", &api.tokens.company_a).await;
    let ids: Vec<&str> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|v| v["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(!ids.contains(&"vc"));
    for path in [
        "/api/v1/violations?vehicle_id=v002",
        "/api/v1/violations?company_id=c02",
        "/api/v1/violations/vc",
    ] {
        let answer = api.get(path, &api.tokens.company_a).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    }
    let (status, one) = api
        .get("/api/v1/violations/va", &api.tokens.company_a)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["kind"], "speeding");
    assert_eq!(one["vehicle_id"], "v001");

    // Bad filters.
    let answer = api
        .get("/api/v1/violations?kind=jaywalking", &api.tokens.admin)
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("kind"));
    let answer = api
        .get("/api/v1/violations?status=maybe", &api.tokens.admin)
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("status"));
    let now = Utc::now();
    let answer = api
        .get(
            &format!(
                "/api/v1/violations?from={}&to={}",
                rfc3339(now),
                rfc3339(now - Duration::days(1))
            ),
            &api.tokens.admin,
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("from"));
    let answer = api
        .get("/api/v1/violations?cursor=garbage", &api.tokens.admin)
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("cursor"));
    api.finish().await;
}
