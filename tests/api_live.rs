//! The live WebSocket: snapshot first, then batches; company and bounding-box filters; a
//! slow client gets a coalesced snapshot instead of the backlog; bad tokens are refused at the
//! upgrade.

mod api_support;

use std::time::Duration;

use api_support::store_support::{now_micros, position};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(api: &api_support::TestApi, token: &str, extra: &str) -> Socket {
    let url = format!(
        "{}/api/v1/live?token={token}{extra}",
        api.base.replace("http://", "ws://")
    );
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    socket
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("socket open")
            .expect("message");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).expect("JSON message");
        }
    }
}

fn ids(positions: &Value) -> Vec<String> {
    let mut ids: Vec<String> = positions
        .as_array()
        .expect("positions array")
        .iter()
        .map(|p| p["vehicle_id"].as_str().expect("vehicle id").to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn snapshot_then_filtered_positions() {
    let api = api_support::start().await;
    let t = now_micros();
    // v001 is c01's, v002 c02's; v011 (c01) lies outside the bounding box used below.
    api.state
        .live
        .publish_position(&position(1, Some("v001"), t, 109.40, 24.30));
    api.state
        .live
        .publish_position(&position(2, Some("v002"), t, 109.41, 24.31));
    api.state
        .live
        .publish_position(&position(3, Some("v011"), t, 110.50, 25.50));

    let mut dispatcher = connect(&api, &api.tokens.dispatcher, "").await;
    let mut company = connect(&api, &api.tokens.company_a, "").await;
    let mut boxed = connect(&api, &api.tokens.dispatcher, "&bbox=109.3,24.2,109.6,24.5").await;

    let snapshot = next_json(&mut dispatcher).await;
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(ids(&snapshot["positions"]), ["v001", "v002", "v011"]);
    let first = &snapshot["positions"].as_array().expect("array")[0];
    assert!(first["plate"].is_string() && first["company_id"].is_string());
    assert_eq!(first["state"], "loaded");
    let snapshot = next_json(&mut company).await;
    assert_eq!(ids(&snapshot["positions"]), ["v001", "v011"]);
    let snapshot = next_json(&mut boxed).await;
    assert_eq!(ids(&snapshot["positions"]), ["v001", "v002"]);

    // New positions arrive as `positions` batches, filtered the same way.
    api.state.live.publish_position(&position(
        4,
        Some("v002"),
        t + chrono::Duration::seconds(5),
        109.42,
        24.32,
    ));
    api.state.live.publish_position(&position(
        5,
        Some("v001"),
        t + chrono::Duration::seconds(5),
        109.43,
        24.33,
    ));
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = next_json(&mut dispatcher).await;
        assert_eq!(message["type"], "positions");
        seen.extend(ids(&message["positions"]));
    }
    seen.sort();
    assert_eq!(seen, ["v001", "v002"]);
    let message = next_json(&mut company).await;
    assert_eq!(message["type"], "positions");
    assert_eq!(ids(&message["positions"]), ["v001"]);
    api.finish().await;
}

#[tokio::test]
async fn slow_client_gets_a_coalesced_snapshot() {
    let api = api_support::start().await;
    let mut socket = connect(&api, &api.tokens.dispatcher, "").await;
    let snapshot = next_json(&mut socket).await;
    assert_eq!(snapshot["type"], "snapshot");
    // The client reads nothing while 50,000 updates of 100 trucks go out; publishing never
    // waits for it.
    let t = now_micros();
    let started = std::time::Instant::now();
    for i in 0..50_000i64 {
        let vehicle = format!("v{:03}", i % 100 + 1);
        api.state.live.publish_position(&position(
            10 + i,
            Some(&vehicle),
            t + chrono::Duration::milliseconds(i),
            109.4,
            24.3,
        ));
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    // Reading now: at some point a snapshot replaces the backlog, holding each truck once at
    // its latest time.
    let mut found = None;
    for _ in 0..200 {
        let message = next_json(&mut socket).await;
        if message["type"] == "snapshot" {
            found = Some(message);
            break;
        }
    }
    let snapshot = found.expect("a snapshot after falling behind");
    let positions = snapshot["positions"].as_array().expect("array");
    assert_eq!(positions.len(), 100);
    let latest = positions
        .iter()
        .find(|p| p["vehicle_id"] == "v100")
        .expect("v100");
    let expected = t + chrono::Duration::milliseconds(49_999);
    assert_eq!(
        latest["time"]
            .as_str()
            .map(|s| s.parse::<chrono::DateTime<chrono::Utc>>().expect("time")),
        Some(expected)
    );
    api.finish().await;
}

#[tokio::test]
async fn bad_token_and_bbox_are_refused_at_the_upgrade() {
    let api = api_support::start().await;
    let url = format!(
        "{}/api/v1/live?token=nope",
        api.base.replace("http://", "ws://")
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }
    let url = format!(
        "{}/api/v1/live?token={}&bbox=1,2,3",
        api.base.replace("http://", "ws://"),
        api.tokens.dispatcher
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400)
        }
        other => panic!("expected 400, got {other:?}"),
    }
    api.finish().await;
}
