//! PostgreSQL going away: writes fail loudly, nothing is confirmed that is not stored, and the
//! store recovers by itself when the server is back. The shared PostgreSQL server is never
//! stopped: the store talks to it through a small TCP proxy that the test cuts and restores.

mod store_support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use haulwatch::store::{Store, StoreConfig, TrackWriterConfig};
use store_support::{now_micros, position};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP proxy to PostgreSQL that can be cut (every connection closed, new ones dropped at
/// once) and restored.
struct Proxy {
    /// Port the proxy listens on.
    port: u16,
    /// True while cut.
    cut: Arc<AtomicBool>,
    /// Bumped on every cut, so live connections close.
    generation: watch::Sender<u64>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let accept_cut = cut.clone();
        let accept_generation = generation.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if accept_cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                let mut changed = accept_generation.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = changed.changed() => {}
                    }
                });
            }
        });
        Proxy {
            port,
            cut,
            generation,
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

/// The test database URL with host and port replaced by the proxy's.
fn through_proxy(url: &str, port: u16) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (user, hostport) = authority
        .rsplit_once('@')
        .map_or(("", authority), |(u, h)| (u, h));
    let upstream = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:5432")
    };
    let user = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    (
        format!("postgres://{user}127.0.0.1:{port}/{path}"),
        upstream,
    )
}

async fn open_through_proxy() -> (store_support::TestStore, Store, Proxy) {
    let db = store_support::postgres().await;
    let direct_url = db.config.database_url.clone().expect("url");
    let (_, upstream) = through_proxy(&direct_url, 0);
    let proxy = Proxy::start(upstream).await;
    let (proxied_url, _) = through_proxy(&direct_url, proxy.port);
    let config = StoreConfig {
        acquire_timeout: Duration::from_secs(2),
        ..StoreConfig::new(Some(proxied_url), "./unused")
    };
    let store = Store::open(config).await.expect("open through the proxy");
    (db, store, proxy)
}

async fn stored_ids(store: &Store, ids: &[i64]) -> HashSet<i64> {
    store
        .positions_by_id(ids)
        .await
        .expect("read directly")
        .into_iter()
        .map(|p| p.id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fail_loudly_while_postgres_is_away_and_recover_by_themselves() {
    let (db, store, proxy) = open_through_proxy().await;
    let writer = store
        .track_writer(TrackWriterConfig::default())
        .expect("writer");
    let t = now_micros();
    let batch = |from: i64| -> Vec<_> {
        (from..from + 100)
            .map(|id| {
                position(
                    id,
                    Some("v1"),
                    t + chrono::Duration::milliseconds(id),
                    109.4,
                    24.3,
                )
            })
            .collect()
    };

    writer.append(batch(0)).await.expect("healthy write");

    proxy.cut();
    let started = Instant::now();
    let result = writer.append(batch(1000)).await;
    assert!(
        result.is_err(),
        "a write while PostgreSQL is away must fail"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it must fail promptly, not hang ({:?})",
        started.elapsed()
    );
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("not stored"), "{message}");
    // Reads fail too, instead of returning stale or empty data.
    assert!(store.latest_positions().await.is_err());

    // Nothing of the failed batch is in the database (checked directly, not via the proxy).
    let failed_ids: Vec<i64> = (1000..1100).collect();
    assert!(stored_ids(&db.store, &failed_ids).await.is_empty());

    proxy.restore();
    // The same store and writer, no reopen: the next write goes through.
    let recovered_at = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match writer.append(batch(2000)).await {
            Ok(()) => break,
            Err(e) if recovered_at.elapsed() < Duration::from_secs(15) => {
                eprintln!("attempt {attempts} after restore failed: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the store did not recover: {e}"),
        }
    }
    assert_eq!(
        attempts, 1,
        "the first write after PostgreSQL returns should succeed"
    );
    // The caller retries the failed batch; ids make the retry safe.
    writer.append(batch(1000)).await.expect("retry");
    writer.append(batch(1000)).await.expect("retry twice");
    let all: Vec<i64> = (0..100).chain(1000..1100).chain(2000..2100).collect();
    assert_eq!(stored_ids(&db.store, &all).await.len(), 300);
    let n = db
        .store
        .count_positions(
            t - chrono::Duration::hours(1),
            t + chrono::Duration::hours(1),
        )
        .await
        .expect("count");
    assert_eq!(n, 300, "no duplicates");
    store.close().await;
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_under_load_loses_nothing_confirmed() {
    let (db, store, proxy) = open_through_proxy().await;
    let writer = store
        .track_writer(TrackWriterConfig::default())
        .expect("writer");
    let stop = Arc::new(AtomicBool::new(false));
    let restored = Arc::new(AtomicBool::new(false));
    let t = now_micros();
    let mut producers = Vec::new();
    for producer in 0..6i64 {
        let writer = writer.clone();
        let stop = stop.clone();
        let restored = restored.clone();
        producers.push(tokio::spawn(async move {
            let mut confirmed = Vec::new();
            let mut failures = 0u32;
            let mut after_restore = 0u32;
            let mut round = 0i64;
            while !stop.load(Ordering::SeqCst) {
                let first = producer * 10_000_000 + round * 20;
                round += 1;
                let batch: Vec<_> = (first..first + 20)
                    .map(|id| {
                        position(
                            id,
                            Some(&format!("v{producer}")),
                            t + chrono::Duration::milliseconds(id % 1_000_000),
                            109.4,
                            24.3,
                        )
                    })
                    .collect();
                let sent_after_restore = restored.load(Ordering::SeqCst);
                match writer.append(batch).await {
                    Ok(()) => {
                        confirmed.extend(first..first + 20);
                        after_restore += u32::from(sent_after_restore);
                    }
                    Err(_) => {
                        failures += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (confirmed, failures, after_restore)
        }));
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    proxy.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.restore();
    restored.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::SeqCst);
    let mut confirmed = Vec::new();
    let mut failures = 0;
    let mut after_restore = 0;
    for producer in producers {
        let (ids, failed, after) = producer.await.expect("producer");
        confirmed.extend(ids);
        failures += failed;
        after_restore += after;
    }
    assert!(failures > 0, "the cut must have made some writes fail");
    assert!(
        after_restore > 10,
        "writes must go through again after the restore ({after_restore} did)"
    );
    let stored = stored_ids(&db.store, &confirmed).await;
    assert_eq!(
        stored.len(),
        confirmed.len(),
        "every confirmed position is stored"
    );
    let after = writer
        .append(vec![position(
            999_999_999,
            Some("v9"),
            now_micros(),
            109.4,
            24.3,
        )])
        .await;
    assert!(after.is_ok(), "{after:?}");
    store.close().await;
    db.finish().await;
}
