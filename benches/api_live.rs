//! Live-stream fan-out: 10,000 position updates (2,000 trucks) published into the live hub,
//! delivered over real WebSockets to 100 clients of the real router, until every client has
//! the last update. Target (issue 7): 10,000 updates per second to 100 clients, i.e. one
//! iteration under 1 s. Clients that fall behind get a coalesced snapshot (latest position per
//! truck), which counts as delivered: that is the behaviour under test.

#[path = "../tests/api_support/mod.rs"]
mod api_support;

use std::time::{Duration, Instant};

use api_support::store_support::{now_micros, position};
use criterion::{Criterion, criterion_group, criterion_main};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const CLIENTS: usize = 100;
const UPDATES: i64 = 10_000;
const TRUCKS: i64 = 200;

fn fan_out(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let api = runtime.block_on(api_support::start());
    // Each client reports every message's text that names the round's marker time.
    let (seen_tx, mut seen_rx) = mpsc::unbounded_channel::<(usize, String)>();
    runtime.block_on(async {
        for client in 0..CLIENTS {
            let url = format!(
                "{}/api/v1/live?token={}",
                api.base.replace("http://", "ws://"),
                api.tokens.dispatcher
            );
            let (mut socket, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("websocket connects");
            let seen = seen_tx.clone();
            tokio::spawn(async move {
                while let Some(Ok(message)) = socket.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    // A snapshot holds every earlier round's marker too: report them all.
                    for (at, _) in text.match_indices("\"marker-") {
                        let marker: String =
                            text[at + 1..].chars().take_while(|c| *c != '"').collect();
                        let _ = seen.send((client, marker));
                    }
                }
            });
        }
    });
    let mut round = 0u64;
    let mut group = c.benchmark_group("live_fan_out");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("10k_updates_to_100_clients", |b| {
        b.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                round += 1;
                let marker = format!("marker-{round}");
                let t = now_micros();
                let started = Instant::now();
                for i in 0..UPDATES {
                    let vehicle = format!("v{:03}", i % TRUCKS + 1);
                    let mut p = position(
                        i + 1,
                        Some(&vehicle),
                        t + chrono::Duration::microseconds(i),
                        109.4,
                        24.3,
                    );
                    // The last update carries the marker, in a vehicle id the clients look for.
                    if i == UPDATES - 1 {
                        p.vehicle_id = Some(marker.clone());
                    }
                    api.state.live.publish_position(&p);
                }
                runtime.block_on(async {
                    let mut done = std::collections::HashSet::new();
                    while done.len() < CLIENTS {
                        match tokio::time::timeout(Duration::from_secs(30), seen_rx.recv()).await {
                            Ok(Some((client, seen))) if seen == marker => {
                                done.insert(client);
                            }
                            Ok(Some(_)) => {}
                            _ => panic!("clients did not all get round {round}"),
                        }
                    }
                });
                total += started.elapsed();
            }
            total
        });
    });
    group.finish();
    runtime.block_on(api.finish());
}

criterion_group!(benches, fan_out);
criterion_main!(benches);
