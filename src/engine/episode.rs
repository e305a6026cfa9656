//! Violation episodes and the per-vehicle book that remembers them.
//!
//! An episode is one continuous breach of one rule about one subject (a fence id, a permit
//! id, or nothing for vehicle-wide rules). Its id is derived from the vehicle, the rule, the
//! subject and the GNSS time the episode started, so judging the same data again (a replay
//! after restart) yields the same id. The book is shared by the live judging and by the replay
//! of late data for the same vehicle: late data that overlaps a known episode extends that
//! episode instead of opening a second one.
//!
//! # Evidence shape (`Violation::evidence`)
//! ```json
//! {
//!   "rule": "route_deviation",          // the kind's name
//!   "rule_version": 1,
//!   "parameters": { ... },              // the rule's configuration when the episode opened
//!   "subject": "zone-7",                // fence or permit id, or null
//!   "fences": [{"kind": "route", "id": "r1", "version": 3}],
//!   "permit": { "id": ..., "number": ..., ... } | null,
//!   "positions": [{"id": 1, "time": "...", "lat": .., "lon": .., "speed_kmh": ..,
//!                  "raw": "7e..7e", "late": false}],   // first and last ones, in time order
//!   "positions_total": 42,              // all positions of the episode
//!   "position_ids": [1, 2, ...],        // all of them, up to a cap
//!   "observed": { "max_speed_kmh": .., ... },          // rule-specific measurements
//!   "inferred": "segment_crossing" | null,             // how a passage was detected
//!   "late_data": true                   // some positions arrived late (0x0704)
//! }
//! ```

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::engine::clock;
use crate::engine::config::EvidenceConfig;
use crate::engine::events::{EngineEvent, ViolationChange, ViolationEvent};
use crate::model::{FenceRef, Position, Violation, ViolationKind, ViolationStatus};

/// Version of the rule set, recorded in evidence; bump when a rule's meaning changes.
pub const RULE_VERSION: u32 = 1;

/// A position as evidence keeps it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PosRef {
    /// Position id, named in evidence.
    pub id: i64,
    /// GNSS time, ms since the epoch.
    pub t: i64,
    /// Longitude, WGS-84.
    pub lon: f64,
    /// Latitude, WGS-84.
    pub lat: f64,
    /// GNSS speed, km/h.
    pub speed: f64,
    /// The frame as received, for evidence.
    pub raw: Bytes,
    /// Judged from late data (a blind-area batch).
    pub late: bool,
}

impl PosRef {
    pub(crate) fn of(p: &Position, late: bool) -> PosRef {
        PosRef {
            id: p.id,
            t: clock::ms(p.time),
            lon: p.lon,
            lat: p.lat,
            speed: p.speed_kmh,
            raw: p.raw.clone(),
            late,
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "time": clock::instant(self.t),
            "lat": self.lat,
            "lon": self.lon,
            "speed_kmh": self.speed,
            "raw": hex::encode(&self.raw),
            "late": self.late,
        })
    }
}

/// Who the episodes are about.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VehicleIdent {
    /// Stable key: the vehicle id, or `phone:<digits>` for a terminal with no vehicle.
    pub key: Arc<str>,
    /// Vehicle, when registered.
    pub vehicle_id: Option<Arc<str>>,
    /// Terminal phone.
    pub phone: Arc<str>,
    /// Vehicle's company, when known.
    pub company_id: Option<Arc<str>>,
}

/// What a rule knows when it opens an episode.
#[derive(Debug, Clone)]
pub(crate) struct OpenSpec {
    /// Rule broken.
    pub kind: ViolationKind,
    /// Fence or permit id the episode is about; empty for vehicle-wide rules.
    pub subject: Arc<str>,
    /// GNSS time the episode started.
    pub started_ms: i64,
    /// Where it started (lon, lat).
    pub start: (f64, f64),
    /// 1 (low) to 3 (high).
    pub severity: u8,
    /// The rule's configuration, for evidence.
    pub params: Value,
    /// Permit judged against: id and evidence JSON.
    pub permit: Option<(Arc<str>, Value)>,
    /// Fences involved, with geometry versions.
    pub fences: Vec<FenceRef>,
    /// How the episode was inferred, when not directly observed.
    pub inferred: Option<&'static str>,
}

/// The deterministic id of an episode.
pub(crate) fn episode_id(key: &str, kind: ViolationKind, subject: &str, started_ms: i64) -> String {
    let mut h = Sha256::new();
    h.update(key.as_bytes());
    h.update([0]);
    h.update(kind.as_str().as_bytes());
    h.update([0]);
    h.update(subject.as_bytes());
    h.update([0]);
    h.update(started_ms.to_be_bytes());
    let digest = h.finalize();
    format!("v-{}", hex::encode(digest.get(..16).unwrap_or(&[])))
}

/// Who created an episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Live judging: emitted as it goes.
    Live,
    /// Replay of late data: emitted when the batch is finished.
    Replay,
}

/// One episode with its evidence accumulators.
#[derive(Debug, Clone)]
pub(crate) struct Episode {
    /// Identity within the vehicle's book (trackers hold it).
    pub handle: u64,
    /// The violation id, derived from the episode key.
    pub id: Arc<str>,
    /// Rule broken.
    pub kind: ViolationKind,
    /// Fence or permit id the episode is about; empty for vehicle-wide rules.
    pub subject: Arc<str>,
    /// GNSS time the episode started.
    pub started_ms: i64,
    /// Where it started (lon, lat).
    start: (f64, f64),
    /// GNSS time it ended; `None` while open.
    pub ended_ms: Option<i64>,
    /// GNSS time of its latest position.
    last_ms: i64,
    /// First positions, kept in full.
    head: Vec<PosRef>,
    /// Latest positions, kept in full (rolling).
    tail: VecDeque<PosRef>,
    /// Ids of all positions, up to the cap.
    ids: Vec<i64>,
    /// Number of positions.
    total: u64,
    /// Fences involved, with geometry versions.
    fences: Vec<FenceRef>,
    /// Permit judged against: id and evidence JSON.
    permit: Option<(Arc<str>, Value)>,
    /// 1 (low) to 3 (high).
    severity: u8,
    /// The rule's configuration when the episode opened.
    params: Value,
    /// Rule-specific measurements (maximum speed, distance...).
    observed: Map<String, Value>,
    /// How the episode was inferred, when not directly observed.
    inferred: Option<&'static str>,
    /// Some positions came from late data.
    late: bool,
    /// Live judging or a replay of late data.
    origin: Origin,
    /// Opened has been emitted.
    emitted: bool,
    /// Changed since the last emission.
    dirty: bool,
    /// GNSS time of the last emission.
    last_emit_ms: i64,
    /// Evidence from before a merge was forgotten (memory cap); consumers should merge, not
    /// replace, what they stored.
    partial: bool,
}

impl Episode {
    /// Whether the episode is still open.
    pub(crate) fn is_open(&self) -> bool {
        self.ended_ms.is_none()
    }

    fn add(&mut self, p: &PosRef, cfg: &EvidenceConfig) {
        // Positions come in time order, so a repeat (the same data judged twice) is among the
        // last few.
        if self.ids.iter().rev().take(16).any(|&id| id == p.id) {
            return;
        }
        self.total += 1;
        self.last_ms = self.last_ms.max(p.t);
        self.late |= p.late;
        if self.ids.len() < cfg.max_position_ids {
            self.ids.push(p.id);
        }
        let half = cfg.max_positions.div_ceil(2).max(1);
        if self.head.len() < half {
            self.head.push(p.clone());
        } else {
            self.tail.push_back(p.clone());
            while self.tail.len() > cfg.max_positions / 2 {
                self.tail.pop_front();
            }
        }
        self.dirty = true;
    }

    /// Records a measurement, keeping the largest value seen.
    pub(crate) fn observe_max(&mut self, key: &str, value: f64) {
        if !value.is_finite() {
            return;
        }
        let bigger = self
            .observed
            .get(key)
            .and_then(Value::as_f64)
            .is_none_or(|old| value > old);
        if bigger {
            self.observed.insert(key.to_string(), json!(value));
            self.dirty = true;
        }
    }

    /// Records a measurement, replacing the previous value.
    pub(crate) fn observe(&mut self, key: &str, value: Value) {
        if self.observed.get(key) != Some(&value) {
            self.observed.insert(key.to_string(), value);
            self.dirty = true;
        }
    }

    /// Whether the evidence already names this fence version.
    pub(crate) fn has_fence(&self, id: &str, version: i64) -> bool {
        self.fences
            .iter()
            .any(|f| f.id == id && f.version == version)
    }

    /// Adds a fence to the evidence (once per id and version).
    pub(crate) fn add_fence(&mut self, f: FenceRef) {
        if !self.fences.contains(&f) {
            self.fences.push(f);
            self.dirty = true;
        }
    }

    /// Merges another episode's evidence into this one (late data joining a known episode).
    fn absorb(&mut self, other: Episode, cfg: &EvidenceConfig) {
        if other.started_ms < self.started_ms {
            self.started_ms = other.started_ms;
            self.start = other.start;
        }
        if let (Some(a), Some(b)) = (self.ended_ms, other.ended_ms) {
            self.ended_ms = Some(a.max(b));
        }
        let mut all: Vec<PosRef> = self.head.drain(..).chain(self.tail.drain(..)).collect();
        all.extend(other.head);
        all.extend(other.tail);
        all.sort_by_key(|p| (p.t, p.id));
        all.dedup_by_key(|p| p.id);
        let mut ids: Vec<i64> = self.ids.drain(..).chain(other.ids).collect();
        ids.sort_unstable();
        ids.dedup();
        ids.truncate(cfg.max_position_ids);
        self.total += other.total;
        let half = cfg.max_positions.div_ceil(2).max(1);
        let keep_tail = cfg.max_positions / 2;
        if all.len() > half + keep_tail {
            let tail_start = all.len() - keep_tail;
            self.tail = all.split_off(tail_start).into();
            all.truncate(half);
        }
        self.head = all;
        self.ids = ids;
        for f in other.fences {
            if !self.fences.contains(&f) {
                self.fences.push(f);
            }
        }
        for (k, v) in other.observed {
            match (self.observed.get(&k).and_then(Value::as_f64), v.as_f64()) {
                (Some(a), Some(b)) if a >= b => {}
                _ => {
                    self.observed.insert(k, v);
                }
            }
        }
        self.severity = self.severity.max(other.severity);
        self.late |= other.late;
        self.last_ms = self.last_ms.max(other.last_ms);
        self.partial |= other.partial;
        self.dirty = true;
    }

    /// The episode as a model violation.
    pub(crate) fn violation(&self, who: &VehicleIdent) -> Violation {
        let positions: Vec<Value> = self
            .head
            .iter()
            .chain(&self.tail)
            .map(PosRef::to_json)
            .collect();
        let shown = positions.len() as u64;
        let mut evidence = json!({
            "rule": self.kind.as_str(),
            "rule_version": RULE_VERSION,
            "parameters": self.params,
            "subject": if self.subject.is_empty() { Value::Null } else { json!(self.subject) },
            "fences": self.fences,
            "permit": self.permit.as_ref().map(|(_, v)| v.clone()).unwrap_or(Value::Null),
            "positions": positions,
            "positions_total": self.total,
            "positions_omitted": self.total.saturating_sub(shown),
            "position_ids": self.ids,
            "observed": self.observed,
            "inferred": self.inferred,
            "late_data": self.late,
        });
        if self.partial
            && let Some(obj) = evidence.as_object_mut()
        {
            obj.insert("evidence_partial".into(), Value::Bool(true));
        }
        Violation {
            id: self.id.to_string(),
            kind: self.kind,
            vehicle_id: who.vehicle_id.as_ref().map(|v| v.to_string()),
            phone: who.phone.to_string(),
            company_id: who.company_id.as_ref().map(|c| c.to_string()),
            permit_id: self.permit.as_ref().map(|(id, _)| id.to_string()),
            started_at: clock::instant(self.started_ms),
            ended_at: self.ended_ms.map(clock::instant),
            status: if self.ended_ms.is_some() {
                ViolationStatus::Closed
            } else {
                ViolationStatus::Open
            },
            lat: self.start.1,
            lon: self.start.0,
            severity: self.severity,
            evidence,
        }
    }
}

/// Where emissions go: straight out for live judging, nowhere (yet) for a replay.
pub(crate) struct Sink<'a> {
    /// Where events go.
    pub out: &'a mut Vec<EngineEvent>,
    /// Judging a replay of late data: emit nothing until the batch is done.
    pub replay: bool,
    /// The vehicle, for the emitted violations.
    pub who: &'a VehicleIdent,
    /// Evidence limits.
    pub evidence: &'a EvidenceConfig,
    /// Late data joins a known episode this close to it.
    pub merge_gap_ms: i64,
}

/// The episodes of one vehicle: open ones and recently closed ones.
#[derive(Debug, Default, Clone)]
pub(crate) struct EpisodeBook {
    /// Open and recently closed episodes.
    episodes: Vec<Episode>,
    /// Source of episode handles.
    next_handle: u64,
}

impl EpisodeBook {
    pub(crate) fn get_mut(&mut self, handle: u64) -> Option<&mut Episode> {
        self.episodes.iter_mut().find(|e| e.handle == handle)
    }

    /// Kinds of the open episodes, for the live map.
    pub(crate) fn open_kinds(&self) -> Vec<ViolationKind> {
        if !self.episodes.iter().any(|e| e.is_open() && e.emitted) {
            return Vec::new();
        }
        let mut out = Vec::new();
        for e in &self.episodes {
            if e.is_open() && e.emitted && !out.contains(&e.kind) {
                out.push(e.kind);
            }
        }
        out
    }

    /// Notes on `offline` episodes that a late batch covering `[from, to]` (GNSS ms) arrived:
    /// the terminal was recording all along (coverage loss), which weighs on the case.
    pub(crate) fn annotate_backfill(&mut self, from: i64, to: i64, positions: usize) {
        for e in &mut self.episodes {
            if e.kind == ViolationKind::Offline
                && e.started_ms <= to
                && e.ended_ms.is_none_or(|end| end >= from)
            {
                let before = e
                    .observed
                    .get("blind_area_backfill_positions")
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                e.observe(
                    "blind_area_backfill_positions",
                    json!(before + positions as u64),
                );
                e.observe("blind_area_backfill_until", json!(clock::instant(to)));
            }
        }
    }

    /// Opens an episode, or attaches to the one it continues. Returns its handle.
    pub(crate) fn open(&mut self, spec: OpenSpec, first: &[PosRef], sink: &mut Sink<'_>) -> u64 {
        self.open_with(spec, first, sink, |_| {})
    }

    /// [`EpisodeBook::open`], with `init` applied to the episode before it is emitted.
    pub(crate) fn open_with(
        &mut self,
        spec: OpenSpec,
        first: &[PosRef],
        sink: &mut Sink<'_>,
        init: impl FnOnce(&mut Episode),
    ) -> u64 {
        let id = episode_id(&sink.who.key, spec.kind, &spec.subject, spec.started_ms);
        let gap = sink.merge_gap_ms;
        let existing = self.episodes.iter().position(|e| {
            e.kind == spec.kind
                && e.subject == spec.subject
                && (*e.id == *id
                    || (sink.replay
                        && spec.started_ms >= e.started_ms - gap
                        && e.ended_ms.is_none_or(|end| spec.started_ms <= end + gap)))
        });
        if let Some(i) = existing
            && let Some(e) = self.episodes.get_mut(i)
        {
            if spec.started_ms < e.started_ms {
                e.started_ms = spec.started_ms;
                e.start = spec.start;
                e.dirty = true;
            }
            for p in first {
                e.add(p, sink.evidence);
            }
            for f in spec.fences {
                e.add_fence(f);
            }
            if !sink.replay && e.ended_ms.is_some() && e.origin == Origin::Live {
                // The same episode judged again (a replay after restart): reopen it.
                e.ended_ms = None;
            }
            init(e);
            let handle = e.handle;
            if !sink.replay {
                self.emit(handle, ViolationChange::Updated, sink);
            }
            return handle;
        }
        self.next_handle += 1;
        let handle = self.next_handle;
        let mut e = Episode {
            handle,
            id: Arc::from(id),
            kind: spec.kind,
            subject: spec.subject,
            started_ms: spec.started_ms,
            start: spec.start,
            ended_ms: None,
            last_ms: spec.started_ms,
            head: Vec::new(),
            tail: VecDeque::new(),
            ids: Vec::new(),
            total: 0,
            fences: spec.fences,
            permit: spec.permit,
            severity: spec.severity,
            params: spec.params,
            observed: Map::new(),
            inferred: spec.inferred,
            late: false,
            origin: if sink.replay {
                Origin::Replay
            } else {
                Origin::Live
            },
            emitted: false,
            dirty: true,
            last_emit_ms: spec.started_ms,
            partial: false,
        };
        for p in first {
            e.add(p, sink.evidence);
        }
        init(&mut e);
        self.episodes.push(e);
        if !sink.replay {
            self.emit(handle, ViolationChange::Opened, sink);
        }
        handle
    }

    /// Adds a position to an open episode; emits an update when one is due.
    pub(crate) fn add(&mut self, handle: u64, p: &PosRef, sink: &mut Sink<'_>) {
        self.add_with(handle, p, sink, |_| {});
    }

    /// [`EpisodeBook::add`], with `observe` applied before a possible emission.
    pub(crate) fn add_with(
        &mut self,
        handle: u64,
        p: &PosRef,
        sink: &mut Sink<'_>,
        observe: impl FnOnce(&mut Episode),
    ) {
        let interval = i64::from(sink.evidence.update_interval_secs) * 1000;
        let due = match self.get_mut(handle) {
            Some(e) => {
                observe(e);
                e.add(p, sink.evidence);
                e.emitted && e.dirty && p.t - e.last_emit_ms >= interval
            }
            None => false,
        };
        if due && !sink.replay {
            self.emit(handle, ViolationChange::Updated, sink);
        }
    }

    /// Ends an episode at `ended_ms`. A replay never ends an episode that live judging
    /// emitted and still holds open; it only extends a closed one.
    pub(crate) fn close(&mut self, handle: u64, ended_ms: i64, sink: &mut Sink<'_>) {
        let Some(e) = self.get_mut(handle) else {
            return;
        };
        if sink.replay && e.origin == Origin::Live {
            if let Some(end) = e.ended_ms
                && ended_ms > end
            {
                e.ended_ms = Some(ended_ms);
                e.dirty = true;
            }
            return;
        }
        if e.ended_ms.is_some() {
            return;
        }
        e.ended_ms = Some(ended_ms.max(e.started_ms));
        e.dirty = true;
        if !sink.replay {
            self.emit(handle, ViolationChange::Closed, sink);
        }
    }

    /// Emits the current state of an episode.
    pub(crate) fn emit(&mut self, handle: u64, change: ViolationChange, sink: &mut Sink<'_>) {
        let Some(e) = self.get_mut(handle) else {
            return;
        };
        let change = match change {
            ViolationChange::Opened if e.emitted => ViolationChange::Updated,
            ViolationChange::Updated if !e.emitted => ViolationChange::Opened,
            c => c,
        };
        if change == ViolationChange::Opened && e.ended_ms.is_some() {
            // Opened and closed at once (a transit): report both steps.
            e.emitted = true;
            let violation = e.violation(sink.who);
            let mut open = violation.clone();
            open.status = ViolationStatus::Open;
            open.ended_at = None;
            sink.out.push(EngineEvent::Violation(ViolationEvent {
                change: ViolationChange::Opened,
                violation: open,
            }));
            e.dirty = false;
            e.last_emit_ms = e.last_ms;
            sink.out.push(EngineEvent::Violation(ViolationEvent {
                change: ViolationChange::Closed,
                violation,
            }));
            return;
        }
        e.emitted = true;
        e.dirty = false;
        e.last_emit_ms = e.last_ms;
        let violation = e.violation(sink.who);
        sink.out
            .push(EngineEvent::Violation(ViolationEvent { change, violation }));
    }

    /// Ends a replay: every episode it created is closed (at its last position if still
    /// open), merged into a known episode it touches, or emitted as new; known episodes it
    /// extended are emitted as updated.
    pub(crate) fn finish_replay(&mut self, sink: &mut Sink<'_>) {
        let gap = sink.merge_gap_ms;
        let mut i = 0;
        while i < self.episodes.len() {
            let Some(e) = self.episodes.get(i) else { break };
            if e.origin != Origin::Replay || e.emitted {
                i += 1;
                continue;
            }
            let (kind, subject, start, end) = (
                e.kind,
                e.subject.clone(),
                e.started_ms,
                e.ended_ms.unwrap_or(e.last_ms),
            );
            let target = self.episodes.iter().position(|k| {
                k.handle != e.handle
                    && k.kind == kind
                    && k.subject == subject
                    && (k.emitted || k.origin == Origin::Live)
                    && start <= k.ended_ms.unwrap_or(i64::MAX).saturating_add(gap)
                    && k.started_ms <= end.saturating_add(gap)
            });
            match target {
                Some(t) => {
                    let pending = self.episodes.remove(i);
                    let t = if t > i { t - 1 } else { t };
                    if let Some(k) = self.episodes.get_mut(t) {
                        k.absorb(pending, sink.evidence);
                        k.dirty = true;
                    }
                }
                None => {
                    if let Some(e) = self.episodes.get_mut(i) {
                        if e.ended_ms.is_none() {
                            e.ended_ms = Some(e.last_ms);
                        }
                        e.origin = Origin::Live;
                    }
                    i += 1;
                }
            }
        }
        let handles: Vec<(u64, bool)> = self
            .episodes
            .iter()
            .filter(|e| e.dirty)
            .map(|e| (e.handle, e.emitted))
            .collect();
        for (h, emitted) in handles {
            let change = if emitted {
                ViolationChange::Updated
            } else {
                ViolationChange::Opened
            };
            self.emit(h, change, sink);
        }
    }

    /// Forgets closed episodes that ended long before `now_ms`, and the oldest closed ones
    /// beyond `keep` per vehicle.
    pub(crate) fn prune(&mut self, now_ms: i64, memory_ms: i64, keep: usize) {
        self.episodes
            .retain(|e| e.ended_ms.is_none_or(|end| end >= now_ms - memory_ms));
        let closed = self
            .episodes
            .iter()
            .filter(|e| e.ended_ms.is_some())
            .count();
        if closed > keep {
            let mut ends: Vec<i64> = self.episodes.iter().filter_map(|e| e.ended_ms).collect();
            ends.sort_unstable();
            let cutoff = ends.get(closed - keep).copied().unwrap_or(i64::MIN);
            self.episodes
                .retain(|e| e.ended_ms.is_none_or(|end| end >= cutoff));
        }
    }

    /// Number of episodes remembered.
    pub(crate) fn len(&self) -> usize {
        self.episodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = episode_id("v1", ViolationKind::Speeding, "", 1000);
        assert_eq!(a, episode_id("v1", ViolationKind::Speeding, "", 1000));
        assert_ne!(a, episode_id("v1", ViolationKind::Speeding, "", 1001));
        assert_ne!(a, episode_id("v2", ViolationKind::Speeding, "", 1000));
        assert_ne!(a, episode_id("v1", ViolationKind::LidOpen, "", 1000));
        assert_eq!(a.len(), 34);
    }
}
