//! Nothing confirmed is lost: a child process (this test binary, re-executed) streams positions
//! through the group-commit writer and reports each confirmed batch; the parent kills it with
//! SIGKILL mid-stream, reopens the store and checks every confirmed position is there. Run on
//! SQLite (WAL, synchronous=FULL) and on PostgreSQL.

mod store_support;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use haulwatch::store::{Store, StoreConfig, TrackWriterConfig};
use store_support::{now_micros, position};

/// Set in the child's environment: the database URL ("sqlite-dir:<path>" for SQLite).
const CHILD_ENV: &str = "HAULWATCH_DURABILITY_CHILD";
/// First position id the child uses.
const CHILD_BASE_ENV: &str = "HAULWATCH_DURABILITY_BASE";

fn config_for(target: &str) -> StoreConfig {
    match target.strip_prefix("sqlite-dir:") {
        Some(dir) => StoreConfig::new(None, dir),
        None => StoreConfig::new(Some(target.to_string()), "./unused"),
    }
}

/// The child: writes forever from 8 producers, printing `CONFIRMED <ids>` after each append
/// returns Ok. Only runs when the parent sets the environment.
#[test]
#[ignore = "run by the durability tests as a child process"]
fn durability_child() {
    let Ok(target) = std::env::var(CHILD_ENV) else {
        return;
    };
    let base: i64 = std::env::var(CHILD_BASE_ENV)
        .ok()
        .and_then(|b| b.parse().ok())
        .expect("base id");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let store = Store::open(config_for(&target)).await.expect("open");
        let writer = store
            .track_writer(TrackWriterConfig::default())
            .expect("writer");
        let stdout = std::sync::Arc::new(std::sync::Mutex::new(std::io::stdout()));
        let mut tasks = Vec::new();
        for producer in 0..8i64 {
            let writer = writer.clone();
            let stdout = stdout.clone();
            tasks.push(tokio::spawn(async move {
                let t = now_micros();
                for round in 0i64.. {
                    let first = base + producer * 100_000_000 + round * 50;
                    let batch: Vec<_> = (first..first + 50)
                        .map(|id| {
                            position(
                                id,
                                Some(&format!("v{producer}")),
                                t + chrono::Duration::milliseconds(id - base),
                                109.4,
                                24.3,
                            )
                        })
                        .collect();
                    if writer.append(batch).await.is_ok() {
                        let mut out = stdout.lock().expect("stdout");
                        let _ = writeln!(out, "CONFIRMED {first} {}", first + 49);
                        let _ = out.flush();
                    }
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}

/// Runs the child against `target`, kills it after `kill_after` confirmed batches, and returns
/// the confirmed ids (including any confirmations already in the pipe at the kill).
fn run_and_kill(target: &str, base: i64, kill_after: usize) -> Vec<i64> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "durability_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, target)
        .env(CHILD_BASE_ENV, base.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut confirmed = Vec::new();
    let mut batches = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while batches < kill_after {
        assert!(
            Instant::now() < deadline,
            "child too slow: {batches} batches"
        );
        let Some(Ok(line)) = lines.next() else {
            panic!("child ended before being killed ({batches} batches confirmed)");
        };
        if let Some(range) = line.strip_prefix("CONFIRMED ") {
            let mut parts = range.split(' ').map(|n| n.parse::<i64>().expect("id"));
            let (first, last) = (parts.next().expect("first"), parts.next().expect("last"));
            confirmed.extend(first..=last);
            batches += 1;
        }
    }
    // SIGKILL: no destructor, no flush, no orderly shutdown.
    child.kill().expect("kill -9 the child");
    for line in lines.map_while(Result::ok) {
        if let Some(range) = line.strip_prefix("CONFIRMED ") {
            let mut parts = range.split(' ').map(|n| n.parse::<i64>().expect("id"));
            let (first, last) = (parts.next().expect("first"), parts.next().expect("last"));
            confirmed.extend(first..=last);
        }
    }
    let status = child.wait().expect("wait");
    assert!(!status.success(), "the child was killed, not finished");
    confirmed
}

async fn check_all_there(config: StoreConfig, confirmed: &[i64]) {
    let store = Store::open(config).await.expect("reopen after the kill");
    let stored: HashSet<i64> = store
        .positions_by_id(confirmed)
        .await
        .expect("read back")
        .into_iter()
        .map(|p| p.id)
        .collect();
    let lost: Vec<i64> = confirmed
        .iter()
        .copied()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} confirmed positions lost, e.g. {:?}",
        lost.len(),
        confirmed.len(),
        &lost[..lost.len().min(5)]
    );
    // The store still takes writes after the crash.
    store
        .insert_positions(&[position(1, Some("after"), now_micros(), 109.4, 24.3)])
        .await
        .expect("write after restart");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_every_confirmed_position_across_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = format!("sqlite-dir:{}", dir.path().display());
    // The store must exist (migrated) before the child races to open it.
    Store::open(config_for(&target))
        .await
        .expect("create")
        .close()
        .await;
    let target_clone = target.clone();
    let confirmed =
        tokio::task::spawn_blocking(move || run_and_kill(&target_clone, 1_000_000_000, 300))
            .await
            .expect("child run");
    assert!(confirmed.len() >= 300 * 50);
    check_all_there(config_for(&target), &confirmed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_keeps_every_confirmed_position_across_kill_9() {
    let db = store_support::postgres().await;
    let url = db
        .config
        .database_url
        .clone()
        .expect("postgres test store has a URL");
    let child_url = url.clone();
    let confirmed =
        tokio::task::spawn_blocking(move || run_and_kill(&child_url, 2_000_000_000, 300))
            .await
            .expect("child run");
    assert!(confirmed.len() >= 300 * 50);
    check_all_there(db.config.clone(), &confirmed).await;
    db.finish().await;
}
