//! The synchronous core a worker owns: the vehicles of one shard, their ordering buffers,
//! late batches and timers. Feed it positions with [`EngineShard::process`] and call
//! [`EngineShard::tick`] about once a second for the timers (reorder holds, late batches,
//! `offline`, idle unregistered terminals).

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hashbrown::HashMap;

use crate::engine::Engine;
use crate::engine::clock;
use crate::engine::episode::{EpisodeBook, OpenSpec, PosRef, Sink, VehicleIdent};
use crate::engine::events::EngineEvent;
use crate::engine::index::Hits;
use crate::engine::snapshot::EngineSnapshot;
use crate::engine::vehicle::{Ctx, VehicleState};
use crate::model::{Position, PositionFlags, ViolationKind, phone_key};

/// How many judged position ids a vehicle remembers to drop exact repeats of late data.
const RECENT_IDS: usize = 64;

/// The stable key work is sharded by: the vehicle id, or `phone:<digits>` for a terminal not
/// bound to a vehicle.
pub fn vehicle_key(p: &Position) -> String {
    match &p.vehicle_id {
        Some(v) => v.clone(),
        None => format!("phone:{}", phone_key(&p.phone)),
    }
}

/// The shard (0..shards) a key belongs to: the bus's partition function, so a bus
/// partitioning positions keeps each vehicle on one worker.
pub fn shard_for_key(key: &str, shards: usize) -> usize {
    crate::bus::partition_of_key(key, shards)
}

/// The shard of a position.
pub fn shard_of(p: &Position, shards: usize) -> usize {
    shard_for_key(&vehicle_key(p), shards)
}

/// One vehicle's slot in a shard.
struct VehicleSlot {
    /// Who, for emitted violations.
    who: VehicleIdent,
    /// Live state.
    state: VehicleState,
    /// Episodes open and recently closed, shared by live judging and late replays.
    book: EpisodeBook,
    /// Positions waiting for the reorder window, sorted by GNSS time; with wall arrival ms.
    pending: VecDeque<(i64, Position)>,
    /// Newest GNSS time seen.
    max_seen_ms: i64,
    /// Late positions waiting for their batch to settle.
    late: Vec<Position>,
    /// Wall time the last late position arrived.
    late_arrival_ms: i64,
    /// Ids of recently judged positions.
    recent_ids: VecDeque<i64>,
}

/// A shard of the engine: the vehicles whose key hashes to it.
pub struct EngineShard {
    /// Configuration and the current snapshot.
    engine: Arc<Engine>,
    /// The snapshot vehicle state refers to; re-mapped when the engine swaps.
    current: Arc<EngineSnapshot>,
    /// Vehicles by key; boxed so the table stays small and probing stays in cache.
    vehicles: HashMap<Arc<str>, Box<VehicleSlot>>,
    /// Scratch space for classification.
    hits: Hits,
    /// Wall time of the last pruning of episode books.
    last_prune_ms: i64,
}

impl EngineShard {
    /// A new, empty shard of `engine`.
    pub fn new(engine: Arc<Engine>) -> EngineShard {
        let current = engine.snapshot();
        EngineShard {
            engine,
            current,
            vehicles: HashMap::new(),
            hits: Hits::default(),
            last_prune_ms: i64::MIN,
        }
    }

    /// Number of vehicles (and unregistered terminals) with state in this shard.
    pub fn vehicles(&self) -> usize {
        self.vehicles.len()
    }

    /// Processes one position; returns what it caused.
    pub fn process(&mut self, p: &Position, now: DateTime<Utc>) -> Vec<EngineEvent> {
        let mut out = Vec::new();
        self.process_into(p, now, &mut out);
        out
    }

    /// Processes one position, appending what it caused to `out`.
    ///
    /// Positions with flags are not judged against fences, but still count for the terminal
    /// being alive, alarm bits, ingest's jump flag and loss of fix; a terminal with no vehicle
    /// gets one `unregistered_terminal` episode.
    pub fn process_into(&mut self, p: &Position, now: DateTime<Utc>, out: &mut Vec<EngineEvent>) {
        self.process_cow(Cow::Borrowed(p), now, out);
    }

    /// [`EngineShard::process_into`] for an owned position: a position the reorder window
    /// holds is moved, not copied (what the runner uses).
    pub fn process_owned(&mut self, p: Position, now: DateTime<Utc>, out: &mut Vec<EngineEvent>) {
        self.process_cow(Cow::Owned(p), now, out);
    }

    fn process_cow(
        &mut self,
        p: Cow<'_, Position>,
        now: DateTime<Utc>,
        out: &mut Vec<EngineEvent>,
    ) {
        self.refresh(out);
        let cfg = self.engine.config();
        let now_ms = clock::ms(now);
        let t = clock::ms(p.time);
        let snap = &*self.current;
        // A registered vehicle's key is its id: no allocation on the hot path.
        let unregistered_key;
        let key: &str = match &p.vehicle_id {
            Some(v) => v,
            None => {
                unregistered_key = vehicle_key(&p);
                &unregistered_key
            }
        };
        let slot = match self.vehicles.get_mut(key) {
            Some(s) => s,
            None => {
                let ident = VehicleIdent {
                    key: Arc::from(key),
                    vehicle_id: p.vehicle_id.as_deref().map(Arc::from),
                    phone: Arc::from(p.phone.as_str()),
                    company_id: None,
                };
                let state = VehicleState::new(ident, snap);
                let who = state.ident.clone();
                self.vehicles
                    .entry(Arc::from(key))
                    .or_insert(Box::new(VehicleSlot {
                        who,
                        state,
                        book: EpisodeBook::default(),
                        pending: VecDeque::new(),
                        max_seen_ms: i64::MIN,
                        late: Vec::new(),
                        late_arrival_ms: i64::MIN,
                        recent_ids: VecDeque::new(),
                    }))
            }
        };
        if p.flags.has(PositionFlags::DUPLICATE) {
            return;
        }
        slot.state.last_arrival_ms = now_ms;
        let fresh = t >= slot.state.last_seen_ms;
        slot.state.last_seen_ms = slot.state.last_seen_ms.max(t);
        let mut sink = Sink {
            out,
            replay: false,
            who: &slot.who,
            evidence: &cfg.evidence,
            merge_gap_ms: i64::from(cfg.ordering.merge_gap_secs) * 1000,
        };
        if p.vehicle_id.is_none() {
            unregistered(&mut slot.state, &mut slot.book, &p, cfg, &mut sink);
            return;
        }
        // Any report from the terminal ends its silence.
        slot.state.close_offline(t, &mut slot.book, &mut sink);
        if fresh || t >= slot.state.last_judged_ms {
            slot.state.observe_any(&p, cfg, &mut slot.book, &mut sink);
        }
        if !p.flags.usable() {
            return;
        }
        if t <= slot.state.last_judged_ms {
            if slot.recent_ids.contains(&p.id) {
                return;
            }
            slot.late.push(p.into_owned());
            slot.late_arrival_ms = now_ms;
            if slot.late.len() >= cfg.ordering.late_batch_max {
                run_late(slot, snap, cfg, &mut self.hits, out);
            }
            return;
        }
        if slot.pending.iter().any(|(_, q)| q.id == p.id) {
            return;
        }
        slot.max_seen_ms = slot.max_seen_ms.max(t);
        let window_ms = i64::from(cfg.ordering.reorder_window_secs) * 1000;
        let release_until = slot.max_seen_ms - window_ms;
        if slot.pending.is_empty() && t <= release_until {
            // Nothing held and nothing to wait for: judge it straight away, without a copy.
            judge_one(slot, snap, cfg, &mut self.hits, out, &p);
            return;
        }
        let at = slot
            .pending
            .iter()
            .rposition(|(_, q)| q.time <= p.time)
            .map(|i| i + 1)
            .unwrap_or(0);
        slot.pending.insert(at, (now_ms, p.into_owned()));
        release(slot, snap, cfg, &mut self.hits, out, release_until);
    }

    /// Runs the timers at wall time `now`; returns what they caused.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<EngineEvent> {
        let mut out = Vec::new();
        self.tick_into(now, &mut out);
        out
    }

    /// Runs the timers, appending what they caused to `out`.
    pub fn tick_into(&mut self, now: DateTime<Utc>, out: &mut Vec<EngineEvent>) {
        self.refresh(out);
        let cfg = self.engine.config();
        let snap = &*self.current;
        let now_ms = clock::ms(now);
        let window_ms = i64::from(cfg.ordering.reorder_window_secs) * 1000;
        let settle_ms = i64::from(cfg.ordering.late_settle_secs) * 1000;
        let prune = now_ms.saturating_sub(self.last_prune_ms) >= 60_000;
        if prune {
            self.last_prune_ms = now_ms;
        }
        let memory_ms = i64::from(cfg.ordering.episode_memory_secs) * 1000;
        for slot in self.vehicles.values_mut() {
            // Positions held long enough on the wall clock are judged, with everything older.
            let expired = slot
                .pending
                .iter()
                .filter(|(arrival, _)| now_ms.saturating_sub(*arrival) >= window_ms)
                .map(|(_, q)| clock::ms(q.time))
                .max();
            if let Some(until) = expired {
                release(slot, snap, cfg, &mut self.hits, out, until);
            }
            if !slot.late.is_empty() && now_ms.saturating_sub(slot.late_arrival_ms) >= settle_ms {
                run_late(slot, snap, cfg, &mut self.hits, out);
            }
            let mut sink = Sink {
                out,
                replay: false,
                who: &slot.who,
                evidence: &cfg.evidence,
                merge_gap_ms: i64::from(cfg.ordering.merge_gap_secs) * 1000,
            };
            let silent_ms = now_ms.saturating_sub(slot.state.last_arrival_ms);
            if slot.who.vehicle_id.is_some()
                && cfg.offline.enabled
                && slot.state.offline.is_none()
                && (slot.state.on_trip() || slot.state.was_moving())
                && slot.state.last_fix().is_some()
                && silent_ms >= i64::from(cfg.offline.after_secs) * 1000
            {
                slot.state.open_offline(cfg, &mut slot.book, &mut sink);
            }
            if let Some(h) = slot.state.unregistered
                && silent_ms >= i64::from(cfg.unregistered_terminal.idle_close_secs) * 1000
            {
                slot.book.close(h, slot.state.last_seen_ms, &mut sink);
                slot.state.unregistered = None;
            }
            if prune {
                slot.book.prune(
                    slot.state
                        .last_seen_ms
                        .max(now_ms.saturating_sub(memory_ms)),
                    memory_ms,
                    cfg.ordering.episodes_per_vehicle,
                );
            }
        }
        if prune {
            // Forget vehicles silent for longer than the episode memory with nothing pending.
            self.vehicles.retain(|_, s| {
                now_ms.saturating_sub(s.state.last_arrival_ms) < memory_ms
                    || !s.pending.is_empty()
                    || !s.late.is_empty()
                    || s.state.has_open_tracker()
                    || s.book.len() > 0
            });
        }
    }

    /// Judges everything held (reorder buffers and late batches) now, e.g. at shutdown.
    pub fn flush(&mut self, out: &mut Vec<EngineEvent>) {
        self.refresh(out);
        let cfg = self.engine.config();
        let snap = &*self.current;
        for slot in self.vehicles.values_mut() {
            release(slot, snap, cfg, &mut self.hits, out, i64::MAX);
            if !slot.late.is_empty() {
                run_late(slot, snap, cfg, &mut self.hits, out);
            }
        }
    }

    /// Picks up a swapped registry: re-maps every vehicle's fence state to the new index.
    fn refresh(&mut self, out: &mut Vec<EngineEvent>) {
        let latest = self.engine.snapshot_guard();
        if latest.generation == self.current.generation {
            return;
        }
        let latest = arc_swap::Guard::into_inner(latest);
        let cfg = self.engine.config();
        for slot in self.vehicles.values_mut() {
            let mut sink = Sink {
                out,
                replay: false,
                who: &slot.who,
                evidence: &cfg.evidence,
                merge_gap_ms: i64::from(cfg.ordering.merge_gap_secs) * 1000,
            };
            slot.state.remap(&latest, &mut slot.book, &mut sink);
            slot.who = slot.state.ident.clone();
        }
        self.current = latest;
    }
}

/// Judges the held positions with GNSS time up to `until`, in order.
fn release(
    slot: &mut VehicleSlot,
    snap: &EngineSnapshot,
    cfg: &crate::engine::EngineConfig,
    hits: &mut Hits,
    out: &mut Vec<EngineEvent>,
    until: i64,
) {
    while slot
        .pending
        .front()
        .is_some_and(|(_, q)| clock::ms(q.time) <= until)
    {
        let Some((_, p)) = slot.pending.pop_front() else {
            break;
        };
        judge_one(slot, snap, cfg, hits, out, &p);
    }
}

/// Judges one position on the live state.
fn judge_one(
    slot: &mut VehicleSlot,
    snap: &EngineSnapshot,
    cfg: &crate::engine::EngineConfig,
    hits: &mut Hits,
    out: &mut Vec<EngineEvent>,
    p: &Position,
) {
    let mut sink = Sink {
        out,
        replay: false,
        who: &slot.who,
        evidence: &cfg.evidence,
        merge_gap_ms: i64::from(cfg.ordering.merge_gap_secs) * 1000,
    };
    let mut ctx = Ctx { snap, cfg, hits };
    slot.state.judge(p, &mut ctx, &mut slot.book, &mut sink);
    slot.recent_ids.push_back(p.id);
    if slot.recent_ids.len() > RECENT_IDS {
        slot.recent_ids.pop_front();
    }
}

/// Judges a settled batch of late positions on a replay of the vehicle's state, then merges
/// what it found into the episodes already known.
fn run_late(
    slot: &mut VehicleSlot,
    snap: &EngineSnapshot,
    cfg: &crate::engine::EngineConfig,
    hits: &mut Hits,
    out: &mut Vec<EngineEvent>,
) {
    let mut batch = std::mem::take(&mut slot.late);
    batch.sort_by_key(|p| (p.time, p.id));
    batch.dedup_by_key(|p| p.id);
    let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
        return;
    };
    let (from, to) = (clock::ms(first.time), clock::ms(last.time));
    tracing::debug!(
        vehicle = &*slot.who.key,
        positions = batch.len(),
        "Judging a late batch."
    );
    let mut replay = slot.state.for_replay(from);
    let mut sink = Sink {
        out,
        replay: true,
        who: &slot.who,
        evidence: &cfg.evidence,
        merge_gap_ms: i64::from(cfg.ordering.merge_gap_secs) * 1000,
    };
    let mut ctx = Ctx { snap, cfg, hits };
    for p in &batch {
        replay.judge(p, &mut ctx, &mut slot.book, &mut sink);
    }
    replay.finish_replay(&mut slot.book, &mut sink);
    slot.book.annotate_backfill(from, to, batch.len());
    slot.book.finish_replay(&mut sink);
}

/// Opens or extends the one `unregistered_terminal` episode of a terminal.
fn unregistered(
    state: &mut VehicleState,
    book: &mut EpisodeBook,
    p: &Position,
    cfg: &crate::engine::EngineConfig,
    sink: &mut Sink<'_>,
) {
    if !cfg.unregistered_terminal.enabled {
        return;
    }
    let pos = PosRef::of(p, false);
    match state.unregistered {
        Some(h) => book.add(h, &pos, sink),
        None => {
            let spec = OpenSpec {
                kind: ViolationKind::UnregisteredTerminal,
                subject: Arc::from(""),
                started_ms: pos.t,
                start: (pos.lon, pos.lat),
                severity: 2,
                params: serde_json::json!(cfg.unregistered_terminal),
                permit: None,
                fences: Vec::new(),
                inferred: None,
            };
            let h = book.open(spec, &[pos], sink);
            state.unregistered = Some(h);
        }
    }
}
