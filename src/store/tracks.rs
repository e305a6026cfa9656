//! Tracks: the group-commit writer the ingest gateway acknowledges through, and the track
//! queries (a vehicle's track, vehicles inside an area, latest position per vehicle).
//!
//! A position is confirmed only when the transaction holding it has committed: on PostgreSQL
//! with `synchronous_commit` on (the default), on SQLite in WAL mode with `synchronous=FULL`.
//! Many callers' positions share one commit, which is what makes batching fast.
//!
//! On SQLite a vehicle's positions are found through `track_index`, which the writer fills in
//! bulk from `track_pending` (see `migrations/sqlite/0012_track_index.sql`); track queries read
//! both.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use geo::{Intersects, SimplifyIdx};
use geo_types::{Coord, LineString, MultiPolygon, Point};
use sqlx::{Connection, QueryBuilder};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::codec::{self, Bbox, Ts};
use super::{Db, Store, StoreError, on_pool};
use crate::model::{LoadState, Position, PositionFlags, PositionSource};

/// Columns of `positions` and `latest_positions`, in bind order.
const POSITION_COLUMNS: &str = "id, phone, vehicle_id, time, received_at, lat, lon, altitude_m, \
     speed_kmh, heading, alarm, status, load, lift_up, lid_open, weight_kg, mileage_km, source, \
     flags, raw";

/// Rows per multi-row INSERT on SQLite: 20 columns x 500 rows stays under SQLite's 32,766
/// variables per statement.
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// SQLite: the track writer moves `track_pending` into `track_index` once this many positions
/// have been committed since the last move (see `migrations/sqlite/0012_track_index.sql`).
/// Fewer rows per move keep the pending table that track queries scan small; more make fewer
/// generations for a track query to seek in.
const TRACK_INDEX_MERGE_ROWS: usize = 100_000;

/// SQLite: ... or once this long has passed with anything pending, so that a quiet fleet's
/// pending table stays small too.
const TRACK_INDEX_MERGE_INTERVAL: Duration = Duration::from_secs(10);

/// Tuning of a [`TrackWriter`].
#[derive(Debug, Clone)]
pub struct TrackWriterConfig {
    /// Most positions committed in one transaction; 0 picks 10,000 on PostgreSQL and 50,000 on
    /// SQLite (one writer, so a bigger batch shares one commit and its fsync among more
    /// positions).
    pub max_batch: usize,
    /// Append calls that may wait for a batch before `append` itself waits (backpressure).
    pub queue_depth: usize,
    /// PostgreSQL: batches in flight at once; 0 picks 2 (one commits while the next is
    /// written). SQLite always has one batch committing while the next is gathered and bound.
    pub workers: usize,
    /// How often the maintenance task prepares partitions and applies retention.
    pub maintenance_interval: Duration,
    /// How often the latest-position table is brought up to date. Batches commit positions
    /// only; the newest position per vehicle is kept in memory and written once per interval,
    /// so a vehicle reporting many times a second costs one row update, not one per report.
    /// Readers of [`Store::latest_positions`] see at most this much lag.
    pub latest_flush_interval: Duration,
}

impl Default for TrackWriterConfig {
    fn default() -> TrackWriterConfig {
        TrackWriterConfig {
            max_batch: 0,
            queue_depth: 4096,
            workers: 0,
            maintenance_interval: Duration::from_secs(3600),
            latest_flush_interval: Duration::from_secs(1),
        }
    }
}

/// One caller's positions waiting for a commit.
struct AppendRequest {
    /// Positions to store.
    positions: Vec<Position>,
    /// Told the outcome once the batch holding these positions has committed or failed.
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// The group-commit track writer. Clone it into every producer; each
/// [`append`](TrackWriter::append) resolves once its positions are durably stored. The
/// background tasks stop when the last clone is dropped, after finishing queued batches.
#[derive(Clone)]
pub struct TrackWriter {
    /// Queue to the batch workers.
    sender: mpsc::Sender<AppendRequest>,
    /// State shared with the background tasks.
    shared: Arc<WriterShared>,
}

/// What the batch workers and the latest-position flusher share.
struct WriterShared {
    /// The store written to.
    store: Store,
    /// Newest committed usable position per vehicle not yet written to `latest_positions`.
    pending_latest: parking_lot::Mutex<HashMap<String, Position>>,
    /// Batch workers still running; the last one to stop flushes the latest positions.
    live_workers: AtomicUsize,
    /// SQLite: the one connection every write of this writer uses, so that its page cache
    /// stays warm from batch to batch (SQLite drops a connection's cache whenever another
    /// connection has written, and the pool hands out its connections in turn). Detached from
    /// the pool, so closing the pool does not wait for it; reopened after a failure.
    lite_connection: Mutex<Option<sqlx::SqliteConnection>>,
    /// SQLite: positions committed since `track_pending` was last moved into `track_index`,
    /// and when that was.
    index_merge: parking_lot::Mutex<(usize, std::time::Instant)>,
}

impl WriterShared {
    /// Commits `positions` and `latest` in one transaction (on SQLite, on the writer's own
    /// connection).
    async fn write(&self, positions: &[Position], latest: &[&Position]) -> Result<(), StoreError> {
        if let Db::Pg(_) = &self.store.inner.db {
            return self.store.write_batch_with_latest(positions, latest).await;
        }
        self.execute_lite(sqlite_statements(positions, latest))
            .await
    }

    /// SQLite: runs `statements` in one transaction on the writer's own connection, in turn
    /// with the process's other SQLite writers.
    async fn execute_lite(
        &self,
        statements: Vec<QueryBuilder<'_, sqlx::Sqlite>>,
    ) -> Result<(), StoreError> {
        let Db::Lite(pool) = &self.store.inner.db else {
            return Err(StoreError::Invalid(
                "the SQLite batch path was called on PostgreSQL".to_string(),
            ));
        };
        let _turn = self.store.lite_write_gate().await;
        let mut held = self.lite_connection.lock().await;
        let result =
            async { sqlite_execute(writer_connection(pool, &mut held).await?, statements).await }
                .await;
        if result.is_err() {
            // The connection may be what failed; the next batch opens a new one.
            *held = None;
        }
        result
    }

    /// SQLite: moves `track_pending` into `track_index` when enough rows or time have gone by
    /// since the last move, after `committed` more positions. Called between batches, after
    /// their callers have been told, so the move delays the next commit but no acknowledgement
    /// already due. A failure is logged and retried after the next batch; the pending rows stay
    /// readable meanwhile.
    async fn merge_track_index_if_due(&self, committed: usize) {
        let Db::Lite(pool) = &self.store.inner.db else {
            return;
        };
        {
            let mut state = self.index_merge.lock();
            state.0 += committed;
            if state.0 < TRACK_INDEX_MERGE_ROWS
                && (state.0 == 0 || state.1.elapsed() < TRACK_INDEX_MERGE_INTERVAL)
            {
                return;
            }
        }
        let started = std::time::Instant::now();
        let _turn = self.store.lite_write_gate().await;
        let mut held = self.lite_connection.lock().await;
        let result =
            async { sqlite_merge_track_index(writer_connection(pool, &mut held).await?).await }
                .await;
        match result {
            Ok(moved) => {
                *self.index_merge.lock() = (0, std::time::Instant::now());
                metrics::histogram!("haulwatch_store_track_index_merge_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::counter!("haulwatch_store_track_index_merged_total").increment(moved);
            }
            Err(error) => {
                *held = None;
                tracing::warn!(%error, "Could not move pending track-index entries; will retry.");
            }
        }
    }

    /// Remembers the newest usable position per vehicle of a committed batch.
    fn remember_latest(&self, positions: &[Position]) {
        self.remember_newest(latest_per_vehicle(positions).into_iter().cloned());
    }

    /// Keeps each of `newest` unless a newer position of its vehicle is already waiting.
    fn remember_newest(&self, newest: impl IntoIterator<Item = Position>) {
        let mut pending = self.pending_latest.lock();
        for p in newest {
            let Some(vehicle) = &p.vehicle_id else {
                continue;
            };
            match pending.get(vehicle) {
                Some(known) if (known.time, known.id) >= (p.time, p.id) => {}
                _ => {
                    pending.insert(vehicle.clone(), p);
                }
            }
        }
    }

    /// Writes the pending latest positions; on failure they are kept for the next attempt.
    async fn flush_latest(&self) -> Result<(), StoreError> {
        let pending = std::mem::take(&mut *self.pending_latest.lock());
        if pending.is_empty() {
            return Ok(());
        }
        let mut latest: Vec<&Position> = pending.values().collect();
        latest.sort_by(|a, b| a.vehicle_id.cmp(&b.vehicle_id));
        let result = self.write(&[], &latest).await;
        if result.is_err() {
            let failed: Vec<Position> = pending.into_values().collect();
            self.remember_latest(&failed);
        }
        result
    }
}

impl std::fmt::Debug for TrackWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackWriter").finish_non_exhaustive()
    }
}

impl TrackWriter {
    /// Stores `positions` and returns once they are committed together with whatever other
    /// callers queued meanwhile. On `Err` none of them is confirmed (a retry with the same
    /// positions is safe: a re-sent id is not stored twice).
    pub async fn append(&self, positions: Vec<Position>) -> Result<(), StoreError> {
        if positions.is_empty() {
            return Ok(());
        }
        let (done, outcome) = oneshot::channel();
        self.sender
            .send(AppendRequest { positions, done })
            .await
            .map_err(|_| StoreError::WriterClosed)?;
        outcome.await.map_err(|_| StoreError::WriterClosed)?
    }

    /// Writes the latest positions of everything appended so far to the latest-position
    /// table now, instead of at the next flush interval.
    pub async fn sync_latest(&self) -> Result<(), StoreError> {
        self.shared.flush_latest().await
    }
}

/// Drains queued requests into one batch, writes it in one transaction and tells every caller.
async fn run_batch_worker(
    shared: Arc<WriterShared>,
    queue: Arc<Mutex<mpsc::Receiver<AppendRequest>>>,
    max_batch: usize,
) {
    loop {
        let mut positions: Vec<Position> = Vec::new();
        let mut waiters = Vec::new();
        {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                if shared.live_workers.fetch_sub(1, Ordering::SeqCst) == 1
                    && let Err(error) = shared.flush_latest().await
                {
                    tracing::warn!(%error, "Could not write the latest positions at shutdown.");
                }
                return;
            };
            positions.extend(first.positions);
            waiters.push(first.done);
            while positions.len() < max_batch {
                match queue.try_recv() {
                    Ok(next) => {
                        positions.extend(next.positions);
                        waiters.push(next.done);
                    }
                    Err(_) => break,
                }
            }
        }
        let started = std::time::Instant::now();
        let result = shared.write(&positions, &[]).await;
        if result.is_ok() {
            shared.remember_latest(&positions);
        }
        tell_callers(waiters, positions.len(), started, result);
    }
}

/// SQLite: the track writer's own connection in `held`, opened on first use and after a
/// failure dropped it.
async fn writer_connection<'c>(
    pool: &sqlx::SqlitePool,
    held: &'c mut Option<sqlx::SqliteConnection>,
) -> Result<&'c mut sqlx::SqliteConnection, StoreError> {
    if held.is_none() {
        *held = Some(pool.acquire().await?.detach());
    }
    held.as_mut()
        .ok_or_else(|| StoreError::Invalid("the track writer has no connection".to_string()))
}

/// Records a batch's outcome and tells its callers.
fn tell_callers(
    waiters: Vec<oneshot::Sender<Result<(), StoreError>>>,
    count: usize,
    started: std::time::Instant,
    result: Result<(), StoreError>,
) {
    match result {
        Ok(()) => {
            metrics::histogram!("haulwatch_store_track_batch_seconds")
                .record(started.elapsed().as_secs_f64());
            metrics::counter!("haulwatch_store_positions_written_total").increment(count as u64);
            metrics::histogram!("haulwatch_store_track_batch_positions").record(count as f64);
            for waiter in waiters {
                let _ = waiter.send(Ok(()));
            }
        }
        Err(error) => {
            metrics::counter!("haulwatch_store_track_batch_failures_total").increment(1);
            tracing::error!(positions = count, callers = waiters.len(), %error,
                "Track batch not stored; its positions are not confirmed.");
            let error = Arc::new(error);
            for waiter in waiters {
                let _ = waiter.send(Err(StoreError::TrackBatch(error.clone())));
            }
        }
    }
}

/// SQLite: the next batch, gathered while the previous one commits. Each position's values are
/// moved into the batch's statements as it arrives, so binding overlaps the other batch's
/// execution on SQLite's worker thread instead of adding to it.
#[derive(Default)]
struct LiteBatch {
    /// Multi-row INSERTs of at most [`SQLITE_ROWS_PER_STATEMENT`] rows each.
    statements: Vec<QueryBuilder<'static, sqlx::Sqlite>>,
    /// Rows in the last statement.
    rows_in_last: usize,
    /// Positions in the batch.
    count: usize,
    /// Copies of each request's newest usable position per vehicle, for the latest positions.
    newest: Vec<Position>,
    /// Callers to tell once the batch has committed or failed.
    waiters: Vec<oneshot::Sender<Result<(), StoreError>>>,
}

impl LiteBatch {
    fn add(&mut self, request: AppendRequest) {
        self.newest
            .extend(latest_per_vehicle(&request.positions).into_iter().cloned());
        for position in request.positions {
            let statement = match self.statements.last_mut() {
                Some(statement) if self.rows_in_last < SQLITE_ROWS_PER_STATEMENT => {
                    statement.push(", ");
                    statement
                }
                _ => {
                    self.rows_in_last = 0;
                    self.statements.push(QueryBuilder::new(format!(
                        "INSERT OR IGNORE INTO positions ({POSITION_COLUMNS}) VALUES "
                    )));
                    let Some(statement) = self.statements.last_mut() else {
                        continue;
                    };
                    statement
                }
            };
            let mut row = statement.separated(", ");
            row.push_unseparated("(");
            push_sqlite_row(&mut row, position);
            row.push_unseparated(")");
            self.rows_in_last += 1;
            self.count += 1;
        }
        self.waiters.push(request.done);
    }
}

/// SQLite's batch writer: one batch commits while the next is gathered and bound.
async fn run_lite_writer(
    shared: Arc<WriterShared>,
    queue: Arc<Mutex<mpsc::Receiver<AppendRequest>>>,
    max_batch: usize,
) {
    let mut queue = queue.lock().await;
    let mut gathering: Option<LiteBatch> = None;
    let mut committing: Option<futures::future::LocalBoxFuture<'_, ()>> = None;
    let mut open = true;
    loop {
        if committing.is_none()
            && let Some(batch) = gathering.take()
        {
            committing = Some(Box::pin(commit_lite_batch(&shared, batch)));
        }
        if committing.is_none() && !open {
            break;
        }
        let full = gathering.as_ref().is_some_and(|b| b.count >= max_batch);
        tokio::select! {
            () = async {
                match committing.as_mut() {
                    Some(commit) => commit.await,
                    None => std::future::pending().await,
                }
            } => committing = None,
            request = queue.recv(), if open && !full => match request {
                Some(request) => gathering.get_or_insert_with(LiteBatch::default).add(request),
                None => open = false,
            },
        }
    }
    if shared.live_workers.fetch_sub(1, Ordering::SeqCst) == 1
        && let Err(error) = shared.flush_latest().await
    {
        tracing::warn!(%error, "Could not write the latest positions at shutdown.");
    }
}

/// SQLite: commits one gathered batch and tells its callers.
async fn commit_lite_batch(shared: &WriterShared, batch: LiteBatch) {
    let started = std::time::Instant::now();
    let result = shared.execute_lite(batch.statements).await;
    let committed = result.is_ok();
    if committed {
        shared.remember_newest(batch.newest);
    }
    tell_callers(batch.waiters, batch.count, started, result);
    if committed {
        shared.merge_track_index_if_due(batch.count).await;
    }
}

/// Writes the latest positions once per interval until the last batch worker has stopped.
async fn run_latest_flusher(shared: Arc<WriterShared>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if shared.live_workers.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Err(error) = shared.flush_latest().await {
            tracing::warn!(%error, "Could not write the latest positions; will retry.");
        }
    }
}

/// SQLite: copies the write-ahead log back into the database file every second on a
/// connection of its own, so the group commit never pays for a checkpoint. PASSIVE never
/// waits for (or blocks) the writer.
async fn run_sqlite_checkpointer(store: Store, alive: mpsc::WeakSender<AppendRequest>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        if let Db::Lite(pool) = &store.inner.db
            && let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                .execute(pool)
                .await
        {
            tracing::warn!(%error, "SQLite checkpoint failed.");
        }
    }
}

/// Hourly upkeep while a writer lives: partitions for today and tomorrow, and retention.
async fn run_maintenance(store: Store, alive: mpsc::WeakSender<AppendRequest>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        let today = Utc::now().date_naive();
        for day in [Some(today), today.succ_opt()].into_iter().flatten() {
            if let Err(error) = store.prepare_track_partition(day).await {
                tracing::warn!(%day, %error, "Could not prepare the track partition.");
            }
        }
        if let Some(days) = store.inner.config.retention_days {
            match store.apply_retention(days).await {
                Ok(report) => tracing::info!(
                    dropped_partitions = report.dropped_partitions.len(),
                    deleted_rows = report.deleted_rows,
                    "Track retention applied."
                ),
                Err(error) => tracing::warn!(%error, "Track retention failed."),
            }
        }
    }
}

/// A vehicle's track query.
#[derive(Debug, Clone)]
pub struct TrackQuery {
    /// The vehicle.
    pub vehicle_id: String,
    /// Start of the range (GNSS time, inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (GNSS time, exclusive).
    pub to: DateTime<Utc>,
    /// Simplify the line (Ramer-Douglas-Peucker) with this tolerance in metres; flagged
    /// positions are dropped first, since a GPS jump would dominate the shape.
    pub simplify_m: Option<f64>,
    /// Only positions the rules may use (no flags).
    pub usable_only: bool,
    /// At most this many positions (the earliest), before simplifying.
    pub limit: Option<u32>,
}

impl TrackQuery {
    /// All positions of `vehicle_id` in `[from, to)`.
    pub fn new(vehicle_id: impl Into<String>, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        TrackQuery {
            vehicle_id: vehicle_id.into(),
            from,
            to,
            simplify_m: None,
            usable_only: false,
            limit: None,
        }
    }
}

/// A vehicle seen inside an area during a time range.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AreaVisit {
    /// The vehicle.
    pub vehicle_id: String,
    /// GNSS time of its first position inside.
    pub first_seen: DateTime<Utc>,
    /// GNSS time of its last position inside.
    pub last_seen: DateTime<Utc>,
    /// How many of its positions were inside.
    pub positions: u64,
}

/// What a retention run removed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RetentionReport {
    /// Day partitions dropped (PostgreSQL).
    pub dropped_partitions: Vec<chrono::NaiveDate>,
    /// Rows deleted one by one (SQLite, and PostgreSQL's default partition).
    pub deleted_rows: u64,
}

#[derive(sqlx::FromRow)]
struct PositionRow {
    id: i64,
    phone: String,
    vehicle_id: Option<String>,
    time: Ts,
    received_at: Ts,
    lat: f64,
    lon: f64,
    altitude_m: i32,
    speed_kmh: f64,
    heading: i32,
    alarm: i64,
    status: i64,
    load: String,
    lift_up: Option<bool>,
    lid_open: Option<bool>,
    weight_kg: Option<f64>,
    mileage_km: Option<f64>,
    source: String,
    flags: i64,
    raw: Vec<u8>,
}

impl TryFrom<PositionRow> for Position {
    type Error = StoreError;
    fn try_from(r: PositionRow) -> Result<Position, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("position {} {what}", r.id));
        Ok(Position {
            id: r.id,
            heading: u16::try_from(r.heading).map_err(|_| corrupt("heading"))?,
            alarm: u32::try_from(r.alarm).map_err(|_| corrupt("alarm"))?,
            status: u32::try_from(r.status).map_err(|_| corrupt("status"))?,
            flags: PositionFlags(u32::try_from(r.flags).map_err(|_| corrupt("flags"))?),
            phone: r.phone,
            vehicle_id: r.vehicle_id,
            time: r.time.0,
            received_at: r.received_at.0,
            lat: r.lat,
            lon: r.lon,
            altitude_m: r.altitude_m,
            speed_kmh: r.speed_kmh,
            load: LoadState::from_name(&r.load),
            lift_up: r.lift_up,
            lid_open: r.lid_open,
            weight_kg: r.weight_kg,
            mileage_km: r.mileage_km,
            source: PositionSource::from_name(&r.source),
            raw: bytes::Bytes::from(r.raw),
        })
    }
}

fn rows_to_positions(rows: Vec<PositionRow>) -> Result<Vec<Position>, StoreError> {
    rows.into_iter().map(Position::try_from).collect()
}

/// The newest usable position of each vehicle in a batch, ordered by vehicle id so that
/// concurrent batches lock `latest_positions` rows in the same order (no deadlocks).
fn latest_per_vehicle(positions: &[Position]) -> Vec<&Position> {
    let mut newest: HashMap<&str, &Position> = HashMap::new();
    for p in positions {
        let Some(vehicle) = p.vehicle_id.as_deref() else {
            continue;
        };
        if !p.flags.usable() {
            continue;
        }
        let entry = newest.entry(vehicle).or_insert(p);
        if (p.time, p.id) > (entry.time, entry.id) {
            *entry = p;
        }
    }
    let mut latest: Vec<&Position> = newest.into_values().collect();
    latest.sort_by(|a, b| a.vehicle_id.cmp(&b.vehicle_id));
    latest
}

/// SET list of the latest-position upsert: every column but the key.
fn latest_update_set() -> String {
    POSITION_COLUMNS
        .split(',')
        .map(str::trim)
        .filter(|c| *c != "vehicle_id")
        .map(|c| format!("{c} = excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Columns of a batch as PostgreSQL arrays, for `INSERT ... SELECT * FROM UNNEST(...)`.
struct PgColumns<'a> {
    id: Vec<i64>,
    phone: Vec<&'a str>,
    vehicle_id: Vec<Option<&'a str>>,
    time: Vec<DateTime<Utc>>,
    received_at: Vec<DateTime<Utc>>,
    lat: Vec<f64>,
    lon: Vec<f64>,
    altitude_m: Vec<i32>,
    speed_kmh: Vec<f64>,
    heading: Vec<i32>,
    alarm: Vec<i64>,
    status: Vec<i64>,
    load: Vec<&'static str>,
    lift_up: Vec<Option<bool>>,
    lid_open: Vec<Option<bool>>,
    weight_kg: Vec<Option<f64>>,
    mileage_km: Vec<Option<f64>>,
    source: Vec<&'static str>,
    flags: Vec<i64>,
    raw: Vec<&'a [u8]>,
}

impl<'a> PgColumns<'a> {
    fn of<'p>(positions: impl ExactSizeIterator<Item = &'p Position>) -> PgColumns<'a>
    where
        'p: 'a,
    {
        let n = positions.len();
        let mut c = PgColumns {
            id: Vec::with_capacity(n),
            phone: Vec::with_capacity(n),
            vehicle_id: Vec::with_capacity(n),
            time: Vec::with_capacity(n),
            received_at: Vec::with_capacity(n),
            lat: Vec::with_capacity(n),
            lon: Vec::with_capacity(n),
            altitude_m: Vec::with_capacity(n),
            speed_kmh: Vec::with_capacity(n),
            heading: Vec::with_capacity(n),
            alarm: Vec::with_capacity(n),
            status: Vec::with_capacity(n),
            load: Vec::with_capacity(n),
            lift_up: Vec::with_capacity(n),
            lid_open: Vec::with_capacity(n),
            weight_kg: Vec::with_capacity(n),
            mileage_km: Vec::with_capacity(n),
            source: Vec::with_capacity(n),
            flags: Vec::with_capacity(n),
            raw: Vec::with_capacity(n),
        };
        for p in positions {
            c.id.push(p.id);
            c.phone.push(&p.phone);
            c.vehicle_id.push(p.vehicle_id.as_deref());
            c.time.push(p.time);
            c.received_at.push(p.received_at);
            c.lat.push(p.lat);
            c.lon.push(p.lon);
            c.altitude_m.push(p.altitude_m);
            c.speed_kmh.push(p.speed_kmh);
            c.heading.push(i32::from(p.heading));
            c.alarm.push(i64::from(p.alarm));
            c.status.push(i64::from(p.status));
            c.load.push(p.load.as_str());
            c.lift_up.push(p.lift_up);
            c.lid_open.push(p.lid_open);
            c.weight_kg.push(p.weight_kg);
            c.mileage_km.push(p.mileage_km);
            c.source.push(p.source.as_str());
            c.flags.push(i64::from(p.flags.0));
            c.raw.push(&p.raw);
        }
        c
    }

    fn bind<'q>(
        self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>
    where
        'a: 'q,
    {
        query
            .bind(self.id)
            .bind(self.phone)
            .bind(self.vehicle_id)
            .bind(self.time)
            .bind(self.received_at)
            .bind(self.lat)
            .bind(self.lon)
            .bind(self.altitude_m)
            .bind(self.speed_kmh)
            .bind(self.heading)
            .bind(self.alarm)
            .bind(self.status)
            .bind(self.load)
            .bind(self.lift_up)
            .bind(self.lid_open)
            .bind(self.weight_kg)
            .bind(self.mileage_km)
            .bind(self.source)
            .bind(self.flags)
            .bind(self.raw)
    }
}

const PG_UNNEST: &str = "SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], \
     $4::timestamptz[], $5::timestamptz[], $6::float8[], $7::float8[], $8::int4[], $9::float8[], \
     $10::int4[], $11::int8[], $12::int8[], $13::text[], $14::bool[], $15::bool[], \
     $16::float8[], $17::float8[], $18::text[], $19::int8[], $20::bytea[])";

/// Vehicles inside an area: the GiST expression index `positions_point` answers `ST_Intersects`
/// (the point expression must stay spelled exactly as in migration 0011).
const PG_VEHICLES_IN_AREA: &str = "SELECT vehicle_id, MIN(time), MAX(time), COUNT(*) \
     FROM positions WHERE time >= $1 AND time < $2 AND vehicle_id IS NOT NULL AND flags = 0 \
     AND ST_Intersects(ST_SetSRID(ST_MakePoint(lon, lat), 4326), ST_GeomFromWKB($3, 4326)) GROUP BY vehicle_id ORDER BY vehicle_id";

/// Candidate positions for an area on SQLite: the bounding-box prefilter (exact test in `geo`).
const SQLITE_IN_BBOX: &str = "SELECT vehicle_id, time, lon, lat FROM positions \
     WHERE time >= $1 AND time < $2 AND vehicle_id IS NOT NULL AND flags = 0 \
     AND lon BETWEEN $3 AND $4 AND lat BETWEEN $5 AND $6";

/// Binds one position's values, moved in, as a row of a SQLite multi-row INSERT.
fn push_sqlite_row(
    row: &mut sqlx::query_builder::Separated<'_, 'static, sqlx::Sqlite, &'static str>,
    p: Position,
) {
    row.push_bind(p.id)
        .push_bind(p.phone)
        .push_bind(p.vehicle_id)
        .push_bind(Ts(p.time))
        .push_bind(Ts(p.received_at))
        .push_bind(p.lat)
        .push_bind(p.lon)
        .push_bind(p.altitude_m)
        .push_bind(p.speed_kmh)
        .push_bind(i32::from(p.heading))
        .push_bind(i64::from(p.alarm))
        .push_bind(i64::from(p.status))
        .push_bind(p.load.as_str())
        .push_bind(p.lift_up)
        .push_bind(p.lid_open)
        .push_bind(p.weight_kg)
        .push_bind(p.mileage_km)
        .push_bind(p.source.as_str())
        .push_bind(i64::from(p.flags.0))
        .push_bind(Vec::from(p.raw));
}

/// Metres per degree of latitude and longitude near `lat` (equirectangular; good to well under
/// a metre over a city).
fn metres_per_degree(lat: f64) -> (f64, f64) {
    (111_320.0 * lat.to_radians().cos(), 110_574.0)
}

/// Indices of the positions kept by Ramer-Douglas-Peucker with `tolerance_m`.
fn simplify_indices(positions: &[Position], tolerance_m: f64) -> Vec<usize> {
    let Some(first) = positions.first() else {
        return Vec::new();
    };
    let (mx, my) = metres_per_degree(first.lat);
    let line: LineString<f64> = positions
        .iter()
        .map(|p| Coord {
            x: (p.lon - first.lon) * mx,
            y: (p.lat - first.lat) * my,
        })
        .collect();
    line.simplify_idx(tolerance_m.max(0.0))
}

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 UTC).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

/// Encodes positions in PostgreSQL's binary COPY format, columns as in `POSITION_COLUMNS`.
fn pg_copy_binary(positions: &[Position]) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        // Every field we write is far below 2 GiB; a frame that were not would have been
        // refused by the codec long before.
        out.extend_from_slice(&i32::try_from(bytes.len()).unwrap_or(i32::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    fn null(out: &mut Vec<u8>) {
        out.extend_from_slice(&(-1i32).to_be_bytes());
    }
    fn time(out: &mut Vec<u8>, t: DateTime<Utc>) {
        field(
            out,
            &(t.timestamp_micros() - PG_EPOCH_OFFSET_MICROS).to_be_bytes(),
        );
    }
    let mut out = Vec::with_capacity(19 + positions.len() * 260);
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes()); // flags
    out.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for p in positions {
        out.extend_from_slice(&20i16.to_be_bytes());
        field(&mut out, &p.id.to_be_bytes());
        field(&mut out, p.phone.as_bytes());
        match &p.vehicle_id {
            Some(v) => field(&mut out, v.as_bytes()),
            None => null(&mut out),
        }
        time(&mut out, p.time);
        time(&mut out, p.received_at);
        field(&mut out, &p.lat.to_be_bytes());
        field(&mut out, &p.lon.to_be_bytes());
        field(&mut out, &p.altitude_m.to_be_bytes());
        field(&mut out, &p.speed_kmh.to_be_bytes());
        field(&mut out, &i32::from(p.heading).to_be_bytes());
        field(&mut out, &i64::from(p.alarm).to_be_bytes());
        field(&mut out, &i64::from(p.status).to_be_bytes());
        field(&mut out, p.load.as_str().as_bytes());
        for flag in [p.lift_up, p.lid_open] {
            match flag {
                Some(b) => field(&mut out, &[u8::from(b)]),
                None => null(&mut out),
            }
        }
        for value in [p.weight_kg, p.mileage_km] {
            match value {
                Some(v) => field(&mut out, &v.to_be_bytes()),
                None => null(&mut out),
            }
        }
        field(&mut out, p.source.as_str().as_bytes());
        field(&mut out, &i64::from(p.flags.0).to_be_bytes());
        field(&mut out, &p.raw);
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

/// Whether an error is a unique violation (a re-sent position in a COPY).
fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("23505"))
}

/// The latest-position upsert on PostgreSQL (rows sorted by vehicle id: a stable lock order).
async fn pg_upsert_latest(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    latest: &[&Position],
) -> Result<(), StoreError> {
    let upsert = format!(
        "INSERT INTO latest_positions ({POSITION_COLUMNS}) {PG_UNNEST} \
         ON CONFLICT (vehicle_id) DO UPDATE SET {} \
         WHERE (latest_positions.time, latest_positions.id) < (excluded.time, excluded.id)",
        latest_update_set()
    );
    PgColumns::of(latest.iter().copied())
        .bind(sqlx::query(&upsert))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// SQLite: the multi-row statements that store `positions` (a re-sent id is skipped) and
/// upsert `latest`, with their values bound.
fn sqlite_statements(
    positions: &[Position],
    latest: &[&Position],
) -> Vec<QueryBuilder<'static, sqlx::Sqlite>> {
    let mut statements = Vec::new();
    for chunk in positions.chunks(SQLITE_ROWS_PER_STATEMENT) {
        let mut builder: QueryBuilder<sqlx::Sqlite> = QueryBuilder::new(format!(
            "INSERT OR IGNORE INTO positions ({POSITION_COLUMNS}) "
        ));
        builder.push_values(chunk.iter().cloned(), |mut row, p| {
            push_sqlite_row(&mut row, p)
        });
        statements.push(builder);
    }
    // An older fix never replaces a newer one.
    for chunk in latest.chunks(SQLITE_ROWS_PER_STATEMENT) {
        let mut builder: QueryBuilder<sqlx::Sqlite> = QueryBuilder::new(format!(
            "INSERT INTO latest_positions ({POSITION_COLUMNS}) "
        ));
        builder.push_values(chunk.iter().map(|p| (*p).clone()), |mut row, p| {
            push_sqlite_row(&mut row, p)
        });
        builder.push(format!(
            " ON CONFLICT (vehicle_id) DO UPDATE SET {} \
             WHERE (latest_positions.time, latest_positions.id) < (excluded.time, excluded.id)",
            latest_update_set()
        ));
        statements.push(builder);
    }
    statements
}

/// SQLite: runs `statements` in one IMMEDIATE transaction on `connection`; the caller holds
/// the store's write gate.
async fn sqlite_execute(
    connection: &mut sqlx::SqliteConnection,
    statements: Vec<QueryBuilder<'_, sqlx::Sqlite>>,
) -> Result<(), StoreError> {
    if statements.is_empty() {
        return Ok(());
    }
    let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
    for mut statement in statements {
        statement.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// SQLite: moves every `track_pending` entry into `track_index` as one new generation, in one
/// transaction. The generation number leads the index key and grows with each move, so the
/// sorted entries are appended at the end of the index (a few pages per thousand positions)
/// rather than written into each vehicle's part of it. Returns the number of entries moved.
async fn sqlite_merge_track_index(
    connection: &mut sqlx::SqliteConnection,
) -> Result<u64, StoreError> {
    let mut tx = connection.begin_with("BEGIN IMMEDIATE").await?;
    let generation: Option<(i64,)> = sqlx::query_as(
        "INSERT INTO track_generations (min_time, max_time) \
         SELECT min(time), max(time) FROM track_pending HAVING count(*) > 0 \
         RETURNING seq",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some((generation,)) = generation else {
        return Ok(0);
    };
    let moved = sqlx::query(
        "INSERT INTO track_index (seq, vehicle_id, time, id) \
         SELECT $1, vehicle_id, time, id FROM track_pending ORDER BY vehicle_id, time, id",
    )
    .bind(generation)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    // No WHERE clause: SQLite empties the table without visiting its rows.
    sqlx::query("DELETE FROM track_pending")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(moved)
}

impl Store {
    /// SQLite: moves the positions committed since the last move into the per-vehicle track
    /// index now (the track writer does this on its own every so many rows); returns how many
    /// entries moved. Track queries answer the same before and after. PostgreSQL indexes on
    /// write and returns 0.
    pub async fn merge_track_index(&self) -> Result<u64, StoreError> {
        match &self.inner.db {
            Db::Pg(_) => Ok(0),
            Db::Lite(pool) => {
                let _turn = self.lite_write_gate().await;
                let mut connection = pool.acquire().await?;
                sqlite_merge_track_index(&mut connection).await
            }
        }
    }

    /// Starts a group-commit track writer (its tasks run on the current tokio runtime).
    pub fn track_writer(&self, config: TrackWriterConfig) -> Result<TrackWriter, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            StoreError::Invalid("the track writer needs a tokio runtime".to_string())
        })?;
        let (sender, receiver) = mpsc::channel(config.queue_depth.max(1));
        let queue = Arc::new(Mutex::new(receiver));
        let workers = match (config.workers, &self.inner.db) {
            (0, Db::Pg(_)) => 2,
            // One writer at a time anyway; it overlaps gathering with committing itself.
            (_, Db::Lite(_)) => 1,
            (n, Db::Pg(_)) => n,
        };
        let shared = Arc::new(WriterShared {
            store: self.clone(),
            pending_latest: parking_lot::Mutex::new(HashMap::new()),
            live_workers: AtomicUsize::new(workers.max(1)),
            lite_connection: Mutex::new(None),
            index_merge: parking_lot::Mutex::new((0, std::time::Instant::now())),
        });
        let max_batch = match (config.max_batch, &self.inner.db) {
            (0, Db::Pg(_)) => 10_000,
            (0, Db::Lite(_)) => 50_000,
            (n, _) => n,
        };
        match &self.inner.db {
            // The SQLite writer gets a thread of its own: each batch is a dozen round trips to
            // SQLite's worker thread, and on the shared runtime every one of them waited behind
            // thousands of connection tasks (the ingest benchmark acknowledged 19% more with
            // it). PostgreSQL connections stay on the runtime that owns their sockets.
            Db::Lite(_) => {
                let writer_runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Invalid(format!("track writer runtime: {e}")))?;
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name("track-writer".to_string())
                    .spawn(move || {
                        writer_runtime.block_on(run_lite_writer(shared, queue, max_batch))
                    })
                    .map_err(|e| StoreError::Invalid(format!("track writer thread: {e}")))?;
            }
            Db::Pg(_) => {
                for _ in 0..workers.max(1) {
                    runtime.spawn(run_batch_worker(shared.clone(), queue.clone(), max_batch));
                }
            }
        }
        runtime.spawn(run_latest_flusher(
            shared.clone(),
            config.latest_flush_interval,
        ));
        runtime.spawn(run_maintenance(
            self.clone(),
            sender.downgrade(),
            config.maintenance_interval,
        ));
        if let Db::Lite(_) = &self.inner.db {
            runtime.spawn(run_sqlite_checkpointer(self.clone(), sender.downgrade()));
        }
        Ok(TrackWriter { sender, shared })
    }

    /// Stores a batch of positions in one transaction and brings the latest-position table up
    /// to date in the same transaction. Positions whose id is already stored are skipped.
    /// (The [`TrackWriter`] commits positions alone and updates the latest positions once per
    /// flush interval.)
    pub async fn insert_positions(&self, positions: &[Position]) -> Result<(), StoreError> {
        let latest = latest_per_vehicle(positions);
        match &self.inner.db {
            Db::Pg(_) => self.write_batch_with_latest(positions, &latest).await,
            Db::Lite(pool) => {
                let statements = sqlite_statements(positions, &latest);
                let _turn = self.lite_write_gate().await;
                let mut connection = pool.acquire().await?;
                sqlite_execute(&mut connection, statements).await
            }
        }
    }

    /// PostgreSQL: one transaction holding the positions and the upsert of `latest` (either
    /// may be empty).
    async fn write_batch_with_latest(
        &self,
        positions: &[Position],
        latest: &[&Position],
    ) -> Result<(), StoreError> {
        let Db::Pg(pool) = &self.inner.db else {
            return Err(StoreError::Invalid(
                "the PostgreSQL batch path was called on SQLite".to_string(),
            ));
        };
        if positions.is_empty() && latest.is_empty() {
            return Ok(());
        }
        let days: BTreeSet<_> = positions.iter().map(|p| p.time.date_naive()).collect();
        self.ensure_partitions(days).await?;
        let mut tx = pool.begin().await?;
        if !positions.is_empty() {
            // Fast path: binary COPY. COPY cannot skip duplicates, so a batch holding a
            // re-sent position fails with a unique violation and takes the slow path,
            // INSERT ... ON CONFLICT DO NOTHING, which skips it.
            let copied = async {
                let mut copy = tx
                    .copy_in_raw(&format!(
                        "COPY positions ({POSITION_COLUMNS}) FROM STDIN (FORMAT binary)"
                    ))
                    .await?;
                copy.send(pg_copy_binary(positions)).await?;
                copy.finish().await
            }
            .await;
            match copied {
                Ok(_) => {}
                Err(e) if is_unique_violation(&e) => {
                    tx.rollback().await?;
                    tx = pool.begin().await?;
                    let mut sorted: Vec<&Position> = positions.iter().collect();
                    sorted.sort_by_key(|p| p.id);
                    let insert = format!(
                        "INSERT INTO positions ({POSITION_COLUMNS}) {PG_UNNEST} \
                         ON CONFLICT DO NOTHING"
                    );
                    PgColumns::of(sorted.into_iter())
                        .bind(sqlx::query(&insert))
                        .execute(&mut *tx)
                        .await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !latest.is_empty() {
            pg_upsert_latest(&mut tx, latest).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The naive way, kept only as the benchmark's baseline: one INSERT per position, each its
    /// own commit, no latest-position update. Do not use it to ingest.
    pub async fn insert_position_unbatched(&self, position: &Position) -> Result<(), StoreError> {
        if let Db::Pg(_) = &self.inner.db {
            self.ensure_partitions([position.time.date_naive()]).await?;
        }
        let p = position;
        on_pool!(self, |pool, pg| {
            let sql = format!(
                "INSERT INTO positions ({POSITION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
                 $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20) \
                 ON CONFLICT DO NOTHING"
            );
            sqlx::query(&sql)
                .bind(p.id)
                .bind(p.phone.as_str())
                .bind(p.vehicle_id.as_deref())
                .bind(Ts(p.time))
                .bind(Ts(p.received_at))
                .bind(p.lat)
                .bind(p.lon)
                .bind(p.altitude_m)
                .bind(p.speed_kmh)
                .bind(i32::from(p.heading))
                .bind(i64::from(p.alarm))
                .bind(i64::from(p.status))
                .bind(p.load.as_str())
                .bind(p.lift_up)
                .bind(p.lid_open)
                .bind(p.weight_kg)
                .bind(p.mileage_km)
                .bind(p.source.as_str())
                .bind(i64::from(p.flags.0))
                .bind(p.raw.as_ref())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A vehicle's positions in a time range, oldest first, optionally simplified.
    pub async fn track(&self, query: &TrackQuery) -> Result<Vec<Position>, StoreError> {
        let usable_only = query.usable_only || query.simplify_m.is_some();
        let limit = query.limit.map_or(i64::MAX, i64::from);
        let sql = if self.backend() == super::Backend::Postgres {
            format!(
                "SELECT {POSITION_COLUMNS} FROM positions WHERE vehicle_id = $1 AND time >= $2 \
                 AND time < $3 AND (NOT $4 OR flags = 0) ORDER BY time, id LIMIT $5"
            )
        } else {
            // The per-vehicle index is in two parts: moved entries and those still pending.
            format!(
                "SELECT {POSITION_COLUMNS} FROM positions WHERE id IN ( \
                 SELECT id FROM track_index WHERE seq IN ( \
                   SELECT seq FROM track_generations WHERE max_time >= $2 AND min_time < $3) \
                 AND vehicle_id = $1 AND time >= $2 AND time < $3 \
                 UNION ALL \
                 SELECT id FROM track_pending WHERE vehicle_id = $1 AND time >= $2 AND time < $3) \
                 AND (NOT $4 OR flags = 0) ORDER BY time, id LIMIT $5"
            )
        };
        let rows: Vec<PositionRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(&query.vehicle_id)
                .bind(Ts(query.from))
                .bind(Ts(query.to))
                .bind(usable_only)
                .bind(limit)
                .fetch_all(pool)
                .await?
        });
        let positions = rows_to_positions(rows)?;
        Ok(match query.simplify_m {
            Some(tolerance) if positions.len() > 2 => {
                let keep = simplify_indices(&positions, tolerance);
                let mut keep = keep.into_iter().peekable();
                positions
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, p)| keep.next_if_eq(&i).map(|_| p))
                    .collect()
            }
            _ => positions,
        })
    }

    /// Vehicles with usable positions inside `area` during `[from, to)`, by vehicle id.
    /// PostgreSQL answers with `ST_Intersects` on the GiST-indexed point column; SQLite
    /// prefilters by bounding box in SQL and tests exactly with `geo`.
    pub async fn vehicles_in_area(
        &self,
        area: &MultiPolygon<f64>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AreaVisit>, StoreError> {
        let geometry = geo_types::Geometry::MultiPolygon(area.clone());
        let bbox = Bbox::of(&geometry)?;
        match &self.inner.db {
            Db::Pg(pool) => {
                let wkb = codec::to_wkb(&geometry)?;
                let rows: Vec<(String, Ts, Ts, i64)> = sqlx::query_as(PG_VEHICLES_IN_AREA)
                    .bind(Ts(from))
                    .bind(Ts(to))
                    .bind(wkb)
                    .fetch_all(pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|(vehicle_id, first, last, n)| AreaVisit {
                        vehicle_id,
                        first_seen: first.0,
                        last_seen: last.0,
                        positions: u64::try_from(n).unwrap_or(0),
                    })
                    .collect())
            }
            Db::Lite(pool) => {
                let rows: Vec<(String, Ts, f64, f64)> = sqlx::query_as(SQLITE_IN_BBOX)
                    .bind(Ts(from))
                    .bind(Ts(to))
                    .bind(bbox.min_lon)
                    .bind(bbox.max_lon)
                    .bind(bbox.min_lat)
                    .bind(bbox.max_lat)
                    .fetch_all(pool)
                    .await?;
                let mut visits: std::collections::BTreeMap<String, AreaVisit> =
                    std::collections::BTreeMap::new();
                for (vehicle_id, time, lon, lat) in rows {
                    if !area.intersects(&Point::new(lon, lat)) {
                        continue;
                    }
                    let visit = visits.entry(vehicle_id.clone()).or_insert(AreaVisit {
                        vehicle_id,
                        first_seen: time.0,
                        last_seen: time.0,
                        positions: 0,
                    });
                    visit.first_seen = visit.first_seen.min(time.0);
                    visit.last_seen = visit.last_seen.max(time.0);
                    visit.positions += 1;
                }
                Ok(visits.into_values().collect())
            }
        }
    }

    /// The query plan of [`Store::vehicles_in_area`], for operators checking that the spatial
    /// index is used (PostgreSQL `EXPLAIN`, SQLite `EXPLAIN QUERY PLAN`).
    pub async fn explain_vehicles_in_area(
        &self,
        area: &MultiPolygon<f64>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let geometry = geo_types::Geometry::MultiPolygon(area.clone());
        let bbox = Bbox::of(&geometry)?;
        let lines: Vec<String> = match &self.inner.db {
            Db::Pg(pool) => {
                let mut tx = pool.begin().await?;
                // Small test tables would be scanned sequentially; the question is whether the
                // index can serve the query.
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await?;
                let rows: Vec<(String,)> =
                    sqlx::query_as(&format!("EXPLAIN {PG_VEHICLES_IN_AREA}"))
                        .bind(Ts(from))
                        .bind(Ts(to))
                        .bind(codec::to_wkb(&geometry)?)
                        .fetch_all(&mut *tx)
                        .await?;
                tx.rollback().await?;
                rows.into_iter().map(|(line,)| line).collect()
            }
            Db::Lite(pool) => {
                let rows: Vec<(i64, i64, i64, String)> =
                    sqlx::query_as(&format!("EXPLAIN QUERY PLAN {SQLITE_IN_BBOX}"))
                        .bind(Ts(from))
                        .bind(Ts(to))
                        .bind(bbox.min_lon)
                        .bind(bbox.max_lon)
                        .bind(bbox.min_lat)
                        .bind(bbox.max_lat)
                        .fetch_all(pool)
                        .await?;
                rows.into_iter().map(|(_, _, _, line)| line).collect()
            }
        };
        Ok(lines.join("\n"))
    }

    /// The newest usable position of every vehicle (by GNSS time), by vehicle id: one read of
    /// a table kept up to date on write.
    pub async fn latest_positions(&self) -> Result<Vec<Position>, StoreError> {
        let sql = format!("SELECT {POSITION_COLUMNS} FROM latest_positions ORDER BY vehicle_id");
        let rows: Vec<PositionRow> = on_pool!(self, |pool, pg| sqlx::query_as(&sql)
            .fetch_all(pool)
            .await?);
        rows_to_positions(rows)
    }

    /// The newest usable position of one vehicle.
    pub async fn latest_position(&self, vehicle_id: &str) -> Result<Option<Position>, StoreError> {
        let sql = format!("SELECT {POSITION_COLUMNS} FROM latest_positions WHERE vehicle_id = $1");
        let row: Option<PositionRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(vehicle_id)
                .fetch_optional(pool)
                .await?
        });
        row.map(Position::try_from).transpose()
    }

    /// The stored positions with these ids (evidence), by id; unknown ids are left out.
    pub async fn positions_by_id(&self, ids: &[i64]) -> Result<Vec<Position>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(10_000) {
            let rows: Vec<PositionRow> =
                match &self.inner.db {
                    Db::Pg(pool) => sqlx::query_as(&format!(
                        "SELECT {POSITION_COLUMNS} FROM positions WHERE id = ANY($1) ORDER BY id"
                    ))
                    .bind(chunk)
                    .fetch_all(pool)
                    .await?,
                    Db::Lite(pool) => {
                        let list = serde_json::to_string(chunk)
                            .map_err(|e| StoreError::Invalid(e.to_string()))?;
                        sqlx::query_as(&format!(
                            "SELECT {POSITION_COLUMNS} FROM positions \
                         WHERE id IN (SELECT value FROM json_each($1)) ORDER BY id"
                        ))
                        .bind(list)
                        .fetch_all(pool)
                        .await?
                    }
                };
            out.extend(rows_to_positions(rows)?);
        }
        Ok(out)
    }

    /// How many positions have a GNSS time in `[from, to)`.
    pub async fn count_positions(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let (n,): (i64,) = on_pool!(self, |pool, pg| {
            sqlx::query_as("SELECT COUNT(*) FROM positions WHERE time >= $1 AND time < $2")
                .bind(Ts(from))
                .bind(Ts(to))
                .fetch_one(pool)
                .await?
        });
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn pos(id: i64, vehicle: Option<&str>, secs: i64, lon: f64, lat: f64) -> Position {
        Position {
            id,
            phone: "13900000001".into(),
            vehicle_id: vehicle.map(str::to_string),
            time: Utc
                .timestamp_opt(1_700_000_000 + secs, 0)
                .single()
                .expect("time"),
            received_at: Utc
                .timestamp_opt(1_700_000_000 + secs, 0)
                .single()
                .expect("time"),
            lat,
            lon,
            altitude_m: 0,
            speed_kmh: 0.0,
            heading: 0,
            alarm: 0,
            status: 0,
            load: LoadState::Unknown,
            lift_up: None,
            lid_open: None,
            weight_kg: None,
            mileage_km: None,
            source: PositionSource::Live,
            flags: PositionFlags::default(),
            raw: bytes::Bytes::new(),
        }
    }

    #[test]
    fn latest_per_vehicle_keeps_newest_usable_by_gnss_time() {
        let mut flagged = pos(5, Some("v1"), 100, 0.0, 0.0);
        flagged.flags.set(PositionFlags::JUMP);
        let batch = vec![
            pos(1, Some("v2"), 10, 0.0, 0.0),
            pos(2, Some("v1"), 30, 0.0, 0.0),
            pos(3, Some("v1"), 20, 0.0, 0.0), // arrived later, older fix
            flagged,
            pos(4, None, 50, 0.0, 0.0),
        ];
        let latest = latest_per_vehicle(&batch);
        let ids: Vec<i64> = latest.iter().map(|p| p.id).collect();
        assert_eq!(ids, vec![2, 1]);
    }

    #[test]
    fn simplify_keeps_corners_and_drops_collinear_points() {
        // A straight line east for ~1 km then north: the middle points of each leg go.
        let mut track = Vec::new();
        for i in 0..=10 {
            track.push(pos(
                i,
                Some("v"),
                i,
                109.40 + f64::from(i as i32) * 0.001,
                24.30,
            ));
        }
        for i in 1..=10 {
            track.push(pos(
                10 + i,
                Some("v"),
                10 + i,
                109.41,
                24.30 + f64::from(i as i32) * 0.001,
            ));
        }
        let keep = simplify_indices(&track, 5.0);
        assert_eq!(keep, vec![0, 10, 20]);
    }
}
