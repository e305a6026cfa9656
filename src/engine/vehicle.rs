//! One vehicle's state and the rules judged on each of its positions.
//!
//! Order of work per usable fix (GNSS time order): jump check, classification against the
//! fence index, segment crossing of restricted zones since the previous fix, membership with
//! hysteresis, motion and stop, load, trip phase, permit, then every rule. Rules never look
//! at the wall clock; only `offline` (in the shard's tick) does.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::json;

use crate::engine::clock;
use crate::engine::config::{Debounce, EngineConfig};
use crate::engine::episode::{Episode, EpisodeBook, OpenSpec, PosRef, Sink, VehicleIdent};
use crate::engine::events::{EngineEvent, FenceTag, PositionClass, TripPhase, TripRecord};
use crate::engine::index::{FenceKey, FenceKind, FenceSlot, Hits};
use crate::engine::metric::{LocalMetric, haversine_m};
use crate::engine::snapshot::{EngineSnapshot, PermitInfo, VehicleInfo};
use crate::model::{LoadState, Position, PositionFlags, ViolationKind, ZoneKind};

/// JT/T 808 alarm bit 1: the terminal's own overspeed alarm.
const ALARM_OVERSPEED: u32 = 1 << 1;

/// State of one fence membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MemberState {
    /// Fixes inside, entry not yet confirmed.
    Entering,
    /// Confirmed inside.
    Inside,
    /// Confirmed inside, fixes outside, exit not yet confirmed.
    Exiting,
}

/// A fence the vehicle is in, or entering.
#[derive(Debug, Clone)]
struct Member {
    /// Fence slot in the current index.
    slot: FenceSlot,
    /// Fence identity that survives registry swaps.
    key: FenceKey,
    /// Kind of fence.
    kind: FenceKind,
    /// Where the membership stands.
    state: MemberState,
    /// First fix of the current pending entry or exit.
    since: i64,
    /// Fixes counted towards the pending entry or exit.
    count: u32,
    /// Confirmed entry time (back-dated to the first fix inside).
    entered: i64,
    /// Deepest a fix of a pending entry was inside, metres (restricted zones only).
    depth: f64,
    /// First fix inside, for evidence of a short visit.
    first: Option<PosRef>,
}

impl Member {
    fn confirmed(&self) -> bool {
        matches!(self.state, MemberState::Inside | MemberState::Exiting)
    }
}

/// A change of membership found on one fix.
#[derive(Debug, Clone)]
enum MemberEvent {
    Entered {
        slot: FenceSlot,
        at: i64,
    },
    Exited {
        slot: FenceSlot,
        kind: FenceKind,
        at: i64,
    },
    /// A restricted or time-restricted zone visited without a confirmed entry.
    Transit {
        slot: FenceSlot,
        from: PosRef,
        to: PosRef,
        inferred: &'static str,
        measure: f64,
    },
}

/// Whether a fence kind is one whose short passages count.
fn restricted_kind(kind: FenceKind) -> bool {
    matches!(
        kind,
        FenceKind::Zone(ZoneKind::Restricted | ZoneKind::TimeRestricted)
    )
}

/// Debounced condition tracker shared by the rules (see [`Debounce`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Tracker {
    /// Start condition holding but not yet long enough.
    pending: Option<Pending>,
    /// While open: since when (GNSS ms) and for how many fixes the condition has been false.
    clearing: Option<(i64, u32)>,
    /// Handle of the open episode in the vehicle's book.
    pub(crate) episode: Option<u64>,
}

#[derive(Debug, Clone)]
struct Pending {
    /// GNSS ms of the first fix.
    since: i64,
    /// Fixes counted.
    count: u32,
    /// Those fixes (the first few), for evidence.
    positions: Vec<PosRef>,
}

/// What a tracker step decided.
enum Step {
    Idle,
    Open { since: i64, positions: Vec<PosRef> },
    Hold,
    Close { at: i64 },
}

impl Tracker {
    fn step(
        &mut self,
        start: bool,
        hold: bool,
        p: &PosRef,
        d: &Debounce,
        since_hint: Option<i64>,
    ) -> Step {
        if self.episode.is_some() {
            if hold {
                self.clearing = None;
                return Step::Hold;
            }
            let (since, count) = self.clearing.get_or_insert((p.t, 0));
            *count += 1;
            if *count >= d.clear_fixes.max(1) && p.t - *since >= i64::from(d.clear_secs) * 1000 {
                let at = *since;
                self.clearing = None;
                return Step::Close { at };
            }
            return Step::Hold;
        }
        if !start {
            self.pending = None;
            return Step::Idle;
        }
        let pend = self.pending.get_or_insert_with(|| Pending {
            since: since_hint.unwrap_or(p.t),
            count: 0,
            positions: Vec::new(),
        });
        pend.count += 1;
        if pend.positions.len() < 16 {
            pend.positions.push(p.clone());
        }
        if pend.count >= d.min_fixes.max(1) && p.t - pend.since >= i64::from(d.min_secs) * 1000 {
            let since = pend.since;
            let positions = std::mem::take(&mut pend.positions);
            self.pending = None;
            return Step::Open { since, positions };
        }
        Step::Idle
    }

    fn is_idle(&self) -> bool {
        self.pending.is_none() && self.episode.is_none()
    }
}

/// Carries out a tracker's step on the book. `observe` records the rule's measurements on
/// the episode before anything about it is emitted.
fn drive(
    tr: &mut Tracker,
    step: Step,
    book: &mut EpisodeBook,
    sink: &mut Sink<'_>,
    p: &PosRef,
    spec: impl FnOnce(i64, (f64, f64)) -> OpenSpec,
    observe: impl FnOnce(&mut Episode),
) -> Option<u64> {
    match step {
        Step::Open { since, positions } => {
            let start = positions
                .first()
                .map(|f| (f.lon, f.lat))
                .unwrap_or((p.lon, p.lat));
            let h = book.open_with(spec(since, start), &positions, sink, observe);
            tr.episode = Some(h);
            Some(h)
        }
        Step::Hold => {
            if let Some(h) = tr.episode {
                book.add_with(h, p, sink, observe);
            }
            tr.episode
        }
        Step::Close { at } => {
            if let Some(h) = tr.episode.take() {
                book.close(h, at, sink);
            }
            None
        }
        Step::Idle => None,
    }
}

/// An `observe` hook that records nothing.
fn nothing(_: &mut Episode) {}

/// Ends a tracker's episode now, whatever its debounce says (the condition no longer applies).
fn force_close(tr: &mut Tracker, book: &mut EpisodeBook, sink: &mut Sink<'_>, at: i64) {
    tr.pending = None;
    tr.clearing = None;
    if let Some(h) = tr.episode.take() {
        book.close(h, at, sink);
    }
}

/// A tracker bound to one fence.
#[derive(Debug, Clone)]
struct FenceTracker {
    /// Rule the tracker judges.
    kind: ViolationKind,
    /// Fence slot in the current index.
    slot: FenceSlot,
    /// Fence identity that survives registry swaps.
    key: FenceKey,
    /// Its state.
    tracker: Tracker,
}

/// The vehicle-wide trackers, one per rule (and form).
#[derive(Debug, Clone, Default)]
struct Trackers {
    /// `route_deviation`.
    route: Tracker,
    /// `time_window`, permit form.
    permit_window: Tracker,
    /// `speeding`.
    speeding: Tracker,
    /// `lid_open`.
    lid: Tracker,
    /// `overload`.
    overload: Tracker,
    /// `no_permit`.
    no_permit: Tracker,
    /// `illegal_dumping`, lift form.
    lift: Tracker,
    /// `illegal_dumping`, sensorless stop form.
    stop_dump: Tracker,
    /// `gps_tamper`, alarm-bit form.
    alarm: Tracker,
    /// `gps_tamper`, jump form.
    jump: Tracker,
    /// `gps_tamper`, loss-of-fix form.
    no_fix: Tracker,
}

/// Load as confirmed over fixes.
#[derive(Debug, Clone, Default)]
struct LoadTrack {
    /// Confirmed loaded or empty; `None` before any reading.
    confirmed: Option<bool>,
    /// A different reading waiting to be confirmed.
    candidate: Option<bool>,
    /// Fixes counted.
    count: u32,
    /// Last fix confirmed loaded, and whether it was in a disposal ground.
    last_loaded: Option<(PosRef, bool)>,
}

/// Where the vehicle stopped.
#[derive(Debug, Clone)]
struct Stop {
    /// Where the stop began.
    lon: f64,
    /// Where the stop began.
    lat: f64,
    /// GNSS ms of the first fix.
    since: i64,
    /// Whether the stop is away from every site and disposal ground (checked once).
    away: Option<bool>,
}

/// Trip context remembered at phase changes, to seed the replay of late data.
#[derive(Debug, Clone, Copy)]
struct TripContext {
    /// Haul-cycle phase.
    phase: TripPhase,
    /// The trip's source site.
    origin_site: Option<FenceSlot>,
    /// GNSS ms the vehicle entered that site.
    site_entered: i64,
    /// Confirmed load then.
    loaded: Option<bool>,
}

/// Everything judging needs besides the vehicle itself.
pub(crate) struct Ctx<'a> {
    /// Registry snapshot judged against.
    pub snap: &'a EngineSnapshot,
    /// Thresholds.
    pub cfg: &'a EngineConfig,
    /// Scratch space for classification.
    pub hits: &'a mut Hits,
}

/// One vehicle's (or unregistered terminal's) state.
#[derive(Debug, Clone)]
pub(crate) struct VehicleState {
    /// Who this is.
    pub ident: VehicleIdent,
    /// The vehicle's registry record, when registered.
    info: Option<VehicleInfo>,
    /// Last fix used for fences (not a suspected jump).
    last: Option<PosRef>,
    /// A suspected jump, kept to see whether the next fix agrees with it.
    jump_candidate: Option<PosRef>,
    /// Fence memberships, sorted by slot.
    members: Vec<Member>,
    /// Current stop, when stopped.
    stop: Option<Stop>,
    /// The last fix was moving.
    moving: bool,
    /// Load state.
    load: LoadTrack,
    /// Haul-cycle phase.
    phase: TripPhase,
    /// The trip's source site.
    origin_site: Option<FenceSlot>,
    /// GNSS ms the vehicle entered that site.
    site_entered: i64,
    /// Trip context at recent phase changes, to seed replays of late data.
    history: VecDeque<(i64, TripContext)>,
    /// Vehicle-wide rule trackers.
    trackers: Trackers,
    /// Per-fence rule trackers.
    fence_trackers: Vec<FenceTracker>,
    /// Open `offline` episode.
    pub(crate) offline: Option<u64>,
    /// Open `unregistered_terminal` episode.
    pub(crate) unregistered: Option<u64>,
    /// GNSS time of the last judged fix.
    pub last_judged_ms: i64,
    /// GNSS time of the last position of any kind.
    pub last_seen_ms: i64,
    /// Wall time the last position of any kind arrived.
    pub last_arrival_ms: i64,
    /// GNSS ms since which fixes have had no GNSS fix.
    no_fix_since: Option<i64>,
    /// Permit the last fix was judged against.
    permit_id: Option<Arc<str>>,
    /// Every permit covering the vehicle in the current snapshot (valid or not), so judging a
    /// fix needs no map lookup.
    permits: Vec<u32>,
    /// The fence slots and tags of the last classification, reused while they do not change.
    class_cache: (Vec<FenceSlot>, Arc<[FenceTag]>),
}

impl VehicleState {
    pub(crate) fn new(ident: VehicleIdent, snap: &EngineSnapshot) -> VehicleState {
        let info = ident
            .vehicle_id
            .as_ref()
            .and_then(|v| snap.vehicle(v))
            .cloned();
        let mut ident = ident;
        if let Some(i) = &info {
            ident.company_id = Some(i.company_id.clone());
        }
        let permits = ident
            .vehicle_id
            .as_ref()
            .map(|v| snap.permits_of(v).to_vec())
            .unwrap_or_default();
        VehicleState {
            permits,
            class_cache: Default::default(),
            ident,
            info,
            last: None,
            jump_candidate: None,
            members: Vec::new(),
            stop: None,
            moving: false,
            load: LoadTrack::default(),
            phase: TripPhase::Idle,
            origin_site: None,
            site_entered: 0,
            history: VecDeque::new(),
            trackers: Trackers::default(),
            fence_trackers: Vec::new(),
            offline: None,
            unregistered: None,
            last_judged_ms: i64::MIN,
            last_seen_ms: i64::MIN,
            last_arrival_ms: i64::MIN,
            no_fix_since: None,
            permit_id: None,
        }
    }

    /// A fresh state for replaying late data that starts at `from_ms`: same vehicle, trip
    /// context as it was then (as far as remembered), no fence memberships or open trackers.
    pub(crate) fn for_replay(&self, from_ms: i64) -> VehicleState {
        let mut r = VehicleState {
            ident: self.ident.clone(),
            info: self.info.clone(),
            permits: self.permits.clone(),
            ..VehicleState::blank(self.ident.clone())
        };
        if let Some((_, ctx)) = self.history.iter().rev().find(|(t, _)| *t <= from_ms) {
            r.phase = ctx.phase;
            r.origin_site = ctx.origin_site;
            r.site_entered = ctx.site_entered;
            r.load.confirmed = ctx.loaded;
        }
        r
    }

    fn blank(ident: VehicleIdent) -> VehicleState {
        VehicleState {
            ident,
            info: None,
            last: None,
            jump_candidate: None,
            members: Vec::new(),
            stop: None,
            moving: false,
            load: LoadTrack::default(),
            phase: TripPhase::Idle,
            origin_site: None,
            site_entered: 0,
            history: VecDeque::new(),
            trackers: Trackers::default(),
            fence_trackers: Vec::new(),
            offline: None,
            unregistered: None,
            last_judged_ms: i64::MIN,
            last_seen_ms: i64::MIN,
            last_arrival_ms: i64::MIN,
            no_fix_since: None,
            permit_id: None,
            permits: Vec::new(),
            class_cache: Default::default(),
        }
    }

    /// Loaded: confirmed by a sensor, else inferred from the trip phase.
    fn loaded(&self) -> bool {
        self.load
            .confirmed
            .unwrap_or(self.phase == TripPhase::Loaded)
    }

    /// On a trip: the state in which silence and shielding matter.
    pub(crate) fn on_trip(&self) -> bool {
        self.loaded() || self.phase != TripPhase::Idle
    }

    /// Whether the last fix was moving.
    pub(crate) fn was_moving(&self) -> bool {
        self.moving
    }

    /// The last fix used for fences.
    pub(crate) fn last_fix(&self) -> Option<&PosRef> {
        self.last.as_ref()
    }

    fn set_phase(&mut self, phase: TripPhase, t: i64) {
        if self.phase == phase {
            return;
        }
        self.phase = phase;
        self.history.push_back((
            t,
            TripContext {
                phase,
                origin_site: self.origin_site,
                site_entered: self.site_entered,
                loaded: self.load.confirmed,
            },
        ));
        while self.history.len() > 32 {
            self.history.pop_front();
        }
    }

    /// Re-points fence slots at a new snapshot after a registry swap. Fences that no longer
    /// exist are dropped; their episodes end at the last judged time.
    pub(crate) fn remap(
        &mut self,
        new: &EngineSnapshot,
        book: &mut EpisodeBook,
        sink: &mut Sink<'_>,
    ) {
        let at = self.last_judged_ms.max(self.last_seen_ms);
        self.members
            .retain_mut(|m| match new.index.slot_of_key(&m.key) {
                Some(s) => {
                    m.slot = s;
                    if let Some(f) = new.index.fence(s) {
                        m.kind = f.kind;
                    }
                    true
                }
                None => false,
            });
        self.members.sort_by_key(|m| m.slot);
        for ft in &mut self.fence_trackers {
            match new.index.slot_of_key(&ft.key) {
                Some(s) => ft.slot = s,
                None => {
                    force_close(&mut ft.tracker, book, sink, at);
                    ft.slot = FenceSlot::MAX;
                }
            }
        }
        self.fence_trackers.retain(|ft| ft.slot != FenceSlot::MAX);
        self.origin_site = None;
        self.history.clear();
        // Cached slots meant fences of the old index.
        self.class_cache = Default::default();
        self.info = self
            .ident
            .vehicle_id
            .as_ref()
            .and_then(|v| new.vehicle(v))
            .cloned();
        if let Some(i) = &self.info {
            self.ident.company_id = Some(i.company_id.clone());
        }
        self.permits = self
            .ident
            .vehicle_id
            .as_ref()
            .map(|v| new.permits_of(v).to_vec())
            .unwrap_or_default();
    }

    /// The vehicle's permits valid at `t`.
    fn valid_permits<'s>(
        &self,
        snap: &'s EngineSnapshot,
        t: i64,
    ) -> impl Iterator<Item = (u32, &'s PermitInfo)> + use<'_, 's> {
        self.permits
            .iter()
            .filter_map(move |&n| snap.permit(n).map(|p| (n, p)))
            .filter(move |(_, p)| p.valid_at(t))
    }

    /// Rules that look at every position of a registered vehicle, usable or not, in arrival
    /// order: alarm bits, ingest's jump flag, loss of fix during a trip.
    pub(crate) fn observe_any(
        &mut self,
        p: &Position,
        cfg: &EngineConfig,
        book: &mut EpisodeBook,
        sink: &mut Sink<'_>,
    ) {
        let pos = PosRef::of(p, false);
        let tc = &cfg.gps_tamper;
        if !tc.enabled {
            return;
        }
        let alarm = p.alarm & tc.alarm_mask != 0;
        let step = self
            .trackers
            .alarm
            .step(alarm, alarm, &pos, &tc.alarm_debounce, None);
        let bits = p.alarm & tc.alarm_mask;
        drive(
            &mut self.trackers.alarm,
            step,
            book,
            sink,
            &pos,
            |since, start| OpenSpec {
                kind: ViolationKind::GpsTamper,
                subject: Arc::from("alarm"),
                started_ms: since,
                start,
                severity: 3,
                params: json!({ "alarm_mask": tc.alarm_mask }),
                permit: None,
                fences: Vec::new(),
                inferred: None,
            },
            |e| {
                if bits != 0 {
                    e.observe("alarm_bits", json!(format!("{bits:#010x}")));
                }
            },
        );
        if p.flags.has(PositionFlags::JUMP) {
            self.jump_step(true, &pos, cfg, book, sink);
        }
        if p.flags.has(PositionFlags::NO_FIX) {
            if self.on_trip() {
                let since = *self.no_fix_since.get_or_insert(pos.t);
                let long = pos.t - since >= i64::from(tc.no_fix_secs) * 1000;
                let d = Debounce {
                    min_fixes: 1,
                    min_secs: 0,
                    clear_fixes: 1,
                    clear_secs: 0,
                };
                let step = self.trackers.no_fix.step(long, true, &pos, &d, Some(since));
                drive(
                    &mut self.trackers.no_fix,
                    step,
                    book,
                    sink,
                    &pos,
                    |since, start| OpenSpec {
                        kind: ViolationKind::GpsTamper,
                        subject: Arc::from("no_fix"),
                        started_ms: since,
                        start,
                        severity: 2,
                        params: json!({ "no_fix_secs": tc.no_fix_secs }),
                        permit: None,
                        fences: Vec::new(),
                        inferred: Some("no_fix_during_trip"),
                    },
                    nothing,
                );
            }
        } else if p.flags.usable() {
            self.no_fix_since = None;
            if self.trackers.no_fix.episode.is_some() {
                force_close(&mut self.trackers.no_fix, book, sink, pos.t);
            }
        }
    }

    fn jump_step(
        &mut self,
        jump: bool,
        pos: &PosRef,
        cfg: &EngineConfig,
        book: &mut EpisodeBook,
        sink: &mut Sink<'_>,
    ) {
        let tc = &cfg.gps_tamper;
        if !tc.enabled {
            return;
        }
        let d = Debounce {
            min_fixes: 1,
            min_secs: 0,
            clear_fixes: 2,
            clear_secs: cfg.ordering.merge_gap_secs,
        };
        let step = self.trackers.jump.step(jump, jump, pos, &d, None);
        let measured = self.last.as_ref().filter(|_| jump).map(|last| {
            let dist = haversine_m((last.lon, last.lat), (pos.lon, pos.lat));
            let secs = ((pos.t - last.t).abs() as f64 / 1000.0).max(1.0);
            (dist, dist / secs * 3.6)
        });
        drive(
            &mut self.trackers.jump,
            step,
            book,
            sink,
            pos,
            |since, start| OpenSpec {
                kind: ViolationKind::GpsTamper,
                subject: Arc::from("jump"),
                started_ms: since,
                start,
                severity: 2,
                params: json!({ "max_speed_kmh": tc.max_speed_kmh, "min_jump_m": tc.min_jump_m }),
                permit: None,
                fences: Vec::new(),
                inferred: Some("impossible_jump"),
            },
            |e| {
                if let Some((dist, speed)) = measured {
                    e.observe_max("max_jump_m", dist);
                    e.observe_max("max_implied_speed_kmh", speed);
                }
            },
        );
    }

    fn is_jump(a: &PosRef, b: &PosRef, cfg: &EngineConfig) -> bool {
        // The local projection is exact enough below ~100 km and needs no trigonometry per
        // point pair beyond one cosine; beyond that, the great circle.
        let local =
            LocalMetric::at_lat((a.lat + b.lat) / 2.0).distance_m((a.lon, a.lat), (b.lon, b.lat));
        let dist = if local < 100_000.0 {
            local
        } else {
            haversine_m((a.lon, a.lat), (b.lon, b.lat))
        };
        if dist < cfg.gps_tamper.min_jump_m {
            return false;
        }
        let secs = ((b.t - a.t).abs() as f64 / 1000.0).max(1.0);
        dist / secs * 3.6 > cfg.gps_tamper.max_speed_kmh
    }

    /// The haul that ends as the truck, loaded, enters disposal ground `slot` at `at` (ms).
    fn completed_trip(
        &self,
        slot: FenceSlot,
        at: i64,
        snap: &EngineSnapshot,
        who: &VehicleIdent,
    ) -> TripRecord {
        let fence_id = |slot: FenceSlot| snap.index.fence(slot).map(|f| f.id.to_string());
        // The trip started when the truck last became loaded (left a site, or its sensor said).
        let loaded_at = self
            .history
            .iter()
            .rev()
            .find(|(_, ctx)| ctx.phase == TripPhase::Loaded)
            .map_or(at, |(t, _)| *t);
        let time = |ms: i64| {
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms).unwrap_or_default()
        };
        TripRecord {
            id: format!("t-{}-{}", who.key, at),
            vehicle_id: who.vehicle_id.as_deref().map(str::to_string),
            company_id: who.company_id.as_deref().map(str::to_string),
            permit_id: self.permit_id.as_deref().map(str::to_string),
            site_id: self.origin_site.and_then(fence_id),
            disposal_ground_id: fence_id(slot).unwrap_or_default(),
            loaded_at: time(loaded_at),
            arrived_at: time(at),
        }
    }

    /// Judges one usable fix (GNSS-time order). Emits through `sink` unless it is a replay.
    pub(crate) fn judge(
        &mut self,
        p: &Position,
        ctx: &mut Ctx<'_>,
        book: &mut EpisodeBook,
        sink: &mut Sink<'_>,
    ) {
        let pos = PosRef::of(p, sink.replay);
        let cfg = ctx.cfg;
        let snap = ctx.snap;
        let t = pos.t;
        self.last_judged_ms = self.last_judged_ms.max(t);
        // Offline ends with any fix; usually the shard has closed it on arrival already.
        if let Some(h) = self.offline.take() {
            book.close(h, t, sink);
        }

        // 1. A fix far from the last one at an impossible speed is suspect. If the next fix
        //    agrees with it rather than with the old one, the old one was wrong: re-anchor.
        let mut anchored = true;
        if let Some(last) = &self.last
            && Self::is_jump(last, &pos, cfg)
        {
            let agrees = self
                .jump_candidate
                .as_ref()
                .is_some_and(|c| !Self::is_jump(c, &pos, cfg));
            if !agrees {
                self.jump_candidate = Some(pos.clone());
                self.jump_step(true, &pos, cfg, book, sink);
                if cfg.classifications() && !sink.replay {
                    let class = self.classification(p, snap, book, true, &[]);
                    sink.out.push(EngineEvent::Classified(class));
                }
                return;
            }
            anchored = false;
            self.stop = None;
        }
        self.jump_candidate = None;
        self.jump_step(false, &pos, cfg, book, sink);

        // 2. Where is the fix?
        snap.index.classify(p.lon, p.lat, ctx.hits);
        ctx.hits.polygons.sort_unstable();
        let hits = &*ctx.hits;

        // 3-4. Crossings since the last fix, then membership with hysteresis.
        let mut events: Vec<MemberEvent> = Vec::new();
        if anchored && let Some(last) = &self.last {
            self.crossings(last, &pos, hits, snap, cfg, &mut events);
        }
        let first_fix = self.last.is_none();
        self.update_membership(&pos, hits, snap, cfg, first_fix, &mut events);

        // 5. Motion and stop.
        let mc = &cfg.motion;
        self.moving = pos.speed >= mc.moving_kmh;
        if self.moving {
            self.stop = None;
        } else {
            let metric = LocalMetric::at_lat(pos.lat);
            let keep = self.stop.as_ref().is_some_and(|s| {
                metric.distance_m((s.lon, s.lat), (pos.lon, pos.lat)) <= mc.stop_radius_m
            });
            if !keep {
                self.stop = Some(Stop {
                    lon: pos.lon,
                    lat: pos.lat,
                    since: t,
                    away: None,
                });
            }
        }

        // 6. Load, confirmed over fixes.
        let in_disposal = self.in_kind(hits, snap, |k| k == FenceKind::DisposalGround);
        let unloaded_here = self.update_load(p, &pos, in_disposal, mc);

        // 7. Trip phase.
        for ev in &events {
            match *ev {
                MemberEvent::Exited { slot, kind, at } => {
                    let still_in = self.members.iter().any(|m| {
                        m.slot != slot
                            && m.confirmed()
                            && matches!(m.kind, FenceKind::Site | FenceKind::DisposalGround)
                    });
                    if still_in {
                        continue;
                    }
                    match kind {
                        FenceKind::Site => {
                            let loaded = self.load.confirmed.unwrap_or(
                                at - self.site_entered
                                    >= i64::from(mc.site_min_dwell_for_load_secs) * 1000,
                            );
                            let next = if loaded {
                                TripPhase::Loaded
                            } else {
                                TripPhase::Idle
                            };
                            self.set_phase(next, at);
                        }
                        FenceKind::DisposalGround => {
                            let next = if self.load.confirmed == Some(true) {
                                TripPhase::Loaded
                            } else {
                                TripPhase::Idle
                            };
                            self.set_phase(next, at);
                        }
                        _ => {}
                    }
                }
                MemberEvent::Entered { slot, at } => match snap.index.fence(slot).map(|f| f.kind) {
                    Some(FenceKind::Site) => {
                        if self.phase != TripPhase::AtSite {
                            self.origin_site = Some(slot);
                            self.site_entered = at;
                        }
                        self.set_phase(TripPhase::AtSite, at);
                    }
                    Some(FenceKind::DisposalGround) => {
                        if self.phase == TripPhase::Loaded && !sink.replay {
                            let trip = self.completed_trip(slot, at, snap, sink.who);
                            sink.out.push(EngineEvent::Trip(trip));
                        }
                        self.set_phase(TripPhase::AtDisposal, at);
                    }
                    _ => {}
                },
                MemberEvent::Transit { .. } => {}
            }
        }
        match (self.load.confirmed, self.phase) {
            (Some(true), TripPhase::Idle) => self.set_phase(TripPhase::Loaded, t),
            (Some(false), TripPhase::Loaded) => self.set_phase(TripPhase::Idle, t),
            _ => {}
        }

        // 8. Permit: the valid one for this trip's site, else for this disposal ground, else
        //    any valid one.
        let permit = self.choose_permit(snap, t);
        self.permit_id = permit.map(|(_, p)| p.id.clone());

        // 9. Rules.
        self.rules(
            p,
            &pos,
            hits,
            snap,
            cfg,
            permit,
            in_disposal,
            unloaded_here,
            &events,
            book,
            sink,
        );

        if anchored || self.last.is_none() {
            self.last = Some(pos);
        } else {
            // Re-anchored after a jump: the new place is the truth from now on.
            self.last = Some(pos);
            self.members.retain(|m| m.confirmed());
        }

        if cfg.classifications() && !sink.replay {
            let class = self.classification(p, snap, book, false, &hits.corridors);
            sink.out.push(EngineEvent::Classified(class));
        }
    }

    fn in_kind(
        &self,
        hits: &Hits,
        snap: &EngineSnapshot,
        want: impl Fn(FenceKind) -> bool,
    ) -> bool {
        hits.polygons
            .iter()
            .any(|&s| snap.index.fence(s).is_some_and(|f| want(f.kind)))
            || self.members.iter().any(|m| m.confirmed() && want(m.kind))
    }

    fn choose_permit<'s>(&self, snap: &'s EngineSnapshot, t: i64) -> Option<(u32, &'s PermitInfo)> {
        let mut best: Option<(u32, &PermitInfo, u8)> = None;
        for (n, p) in self.valid_permits(snap, t) {
            let score = if self.origin_site.is_some() && p.site_slot == self.origin_site {
                2
            } else if self
                .members
                .iter()
                .any(|m| m.confirmed() && p.disposal_slots.contains(&m.slot))
            {
                1
            } else {
                0
            };
            if best.is_none_or(|(_, _, s)| score > s) {
                best = Some((n, p, score));
            }
        }
        best.map(|(n, p, _)| (n, p))
    }

    fn update_load(
        &mut self,
        p: &Position,
        pos: &PosRef,
        in_disposal: bool,
        mc: &crate::engine::config::MotionConfig,
    ) -> Option<(PosRef, bool)> {
        let reading = match p.load {
            LoadState::Unknown => p
                .weight_kg
                .filter(|w| w.is_finite())
                .map(|w| w >= mc.loaded_min_weight_kg),
            l => Some(l.is_loaded()),
        };
        let mut unloaded = None;
        if let Some(r) = reading {
            if Some(r) == self.load.confirmed {
                self.load.candidate = None;
                self.load.count = 0;
            } else {
                if self.load.candidate != Some(r) {
                    self.load.candidate = Some(r);
                    self.load.count = 0;
                }
                self.load.count += 1;
                // The first reading is taken as it is: there is no change to confirm.
                if self.load.count >= mc.load_change_min_fixes.max(1)
                    || self.load.confirmed.is_none()
                {
                    let was = self.load.confirmed;
                    self.load.confirmed = Some(r);
                    self.load.candidate = None;
                    self.load.count = 0;
                    if was == Some(true) && !r {
                        unloaded = self.load.last_loaded.take();
                    }
                }
            }
        }
        if self.load.confirmed == Some(true) {
            self.load.last_loaded = Some((pos.clone(), in_disposal));
        }
        unloaded
    }

    /// Restricted zones passed between the last fix and this one without a fix inside.
    fn crossings(
        &self,
        last: &PosRef,
        pos: &PosRef,
        hits: &Hits,
        snap: &EngineSnapshot,
        cfg: &EngineConfig,
        events: &mut Vec<MemberEvent>,
    ) {
        let mc = &cfg.membership;
        if pos.t - last.t > i64::from(mc.crossing_max_gap_secs) * 1000 {
            return;
        }
        let a = (last.lon, last.lat);
        let b = (pos.lon, pos.lat);
        if LocalMetric::at_lat(pos.lat).distance_m(a, b) > mc.crossing_max_length_m {
            return;
        }
        let known = |slot: FenceSlot| {
            hits.polygons.binary_search(&slot).is_ok()
                || self.members.iter().any(|m| m.slot == slot)
        };
        for (slot, inside_m) in snap.index.restricted_zones_crossed(a, b, known) {
            if inside_m < mc.crossing_min_inside_m {
                continue;
            }
            events.push(MemberEvent::Transit {
                slot,
                from: last.clone(),
                to: pos.clone(),
                inferred: "segment_crossing",
                measure: inside_m,
            });
        }
    }

    /// Advances every membership by one fix (hysteresis on entry and exit, exit buffer).
    fn update_membership(
        &mut self,
        pos: &PosRef,
        hits: &Hits,
        snap: &EngineSnapshot,
        cfg: &EngineConfig,
        first_fix: bool,
        events: &mut Vec<MemberEvent>,
    ) {
        let mc = &cfg.membership;
        let t = pos.t;
        let enter_ms = i64::from(mc.enter_min_secs) * 1000;
        let exit_ms = i64::from(mc.exit_min_secs) * 1000;
        let index = &snap.index;
        let mut removed = false;
        for m in &mut self.members {
            let raw_in = hits.polygons.binary_search(&m.slot).is_ok();
            match m.state {
                MemberState::Entering => {
                    if raw_in {
                        m.count += 1;
                        // Depth matters only until it is deep enough to count.
                        if restricted_kind(m.kind) && m.depth < mc.transit_min_depth_m {
                            let d = index.boundary_distance_m(m.slot, pos.lon, pos.lat);
                            m.depth = m.depth.max(d.unwrap_or(0.0));
                        }
                        if m.count >= mc.enter_min_fixes.max(1) && t - m.since >= enter_ms {
                            m.state = MemberState::Inside;
                            m.entered = m.since;
                            m.count = 0;
                            events.push(MemberEvent::Entered {
                                slot: m.slot,
                                at: m.since,
                            });
                        }
                    } else {
                        if restricted_kind(m.kind)
                            && m.depth >= mc.transit_min_depth_m
                            && let Some(first) = m.first.take()
                        {
                            events.push(MemberEvent::Transit {
                                slot: m.slot,
                                from: first,
                                to: pos.clone(),
                                inferred: "unconfirmed_visit",
                                measure: m.depth,
                            });
                        }
                        m.slot = FenceSlot::MAX;
                        removed = true;
                    }
                }
                MemberState::Inside | MemberState::Exiting => {
                    let outside = !raw_in
                        && !index.boundary_within_m(m.slot, pos.lon, pos.lat, mc.exit_buffer_m);
                    if !outside {
                        m.state = MemberState::Inside;
                        m.count = 0;
                        continue;
                    }
                    if m.state == MemberState::Inside {
                        m.state = MemberState::Exiting;
                        m.since = t;
                        m.count = 0;
                    }
                    m.count += 1;
                    if m.count >= mc.exit_min_fixes.max(1) && t - m.since >= exit_ms {
                        events.push(MemberEvent::Exited {
                            slot: m.slot,
                            kind: m.kind,
                            at: m.since,
                        });
                        m.slot = FenceSlot::MAX;
                        removed = true;
                    }
                }
            }
        }
        if removed {
            self.members.retain(|m| m.slot != FenceSlot::MAX);
        }
        let mut added = false;
        for &slot in &hits.polygons {
            if self.members.iter().any(|m| m.slot == slot) {
                continue;
            }
            let Some(f) = index.fence(slot) else { continue };
            let immediate = first_fix || (mc.enter_min_fixes <= 1 && mc.enter_min_secs == 0);
            let depth = if restricted_kind(f.kind) {
                index
                    .boundary_distance_m(slot, pos.lon, pos.lat)
                    .unwrap_or(0.0)
            } else {
                0.0
            };
            self.members.push(Member {
                slot,
                key: f.key(),
                kind: f.kind,
                state: if immediate {
                    MemberState::Inside
                } else {
                    MemberState::Entering
                },
                since: t,
                count: 1,
                entered: t,
                depth,
                first: Some(pos.clone()),
            });
            if immediate {
                events.push(MemberEvent::Entered { slot, at: t });
            }
            added = true;
        }
        if added {
            self.members.sort_by_key(|m| m.slot);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn rules(
        &mut self,
        p: &Position,
        pos: &PosRef,
        hits: &Hits,
        snap: &EngineSnapshot,
        cfg: &EngineConfig,
        permit: Option<(u32, &PermitInfo)>,
        in_disposal: bool,
        unloaded: Option<(PosRef, bool)>,
        events: &[MemberEvent],
        book: &mut EpisodeBook,
        sink: &mut Sink<'_>,
    ) {
        let t = pos.t;
        let loaded = self.loaded();
        let on_trip = loaded || self.phase == TripPhase::Loaded;
        let moving = self.moving;
        // Evidence values are built only when an episode opens, never per fix.
        let permit_ev = || permit.map(|(_, p)| (p.id.clone(), p.evidence.clone()));
        let index = &snap.index;

        // route_deviation
        let rc = &cfg.route_deviation;
        match permit {
            Some((_, pm)) if rc.enabled && on_trip && !pm.route_slots.is_empty() => {
                let neutral = self.in_kind(hits, snap, |k| {
                    matches!(k, FenceKind::Site | FenceKind::DisposalGround)
                });
                if !neutral {
                    let off = !pm.route_slots.iter().any(|r| hits.corridors.contains(r));
                    let step = self.trackers.route.step(off, off, pos, &rc.debounce, None);
                    let distance = (off && !matches!(step, Step::Idle)).then(|| {
                        pm.route_slots
                            .iter()
                            .filter_map(|&r| index.boundary_distance_m(r, pos.lon, pos.lat))
                            .fold(f64::INFINITY, f64::min)
                    });
                    drive(
                        &mut self.trackers.route,
                        step,
                        book,
                        sink,
                        pos,
                        |since, start| OpenSpec {
                            kind: ViolationKind::RouteDeviation,
                            subject: pm.id.clone(),
                            started_ms: since,
                            start,
                            severity: 2,
                            params: json!(rc),
                            permit: permit_ev(),
                            fences: pm
                                .route_slots
                                .iter()
                                .filter_map(|&r| index.fence(r).map(|f| f.fence_ref()))
                                .collect(),
                            inferred: None,
                        },
                        |e| {
                            if let Some(d) = distance {
                                e.observe_max("max_distance_from_route_m", d);
                            }
                        },
                    );
                }
            }
            _ => force_close(&mut self.trackers.route, book, sink, t),
        }

        // time_window, permit form
        let tw = &cfg.time_window;
        match permit {
            Some((_, pm)) if tw.enabled && on_trip => {
                let outside = !pm.in_window(t);
                let step = self.trackers.permit_window.step(
                    outside && moving,
                    outside,
                    pos,
                    &tw.debounce,
                    None,
                );
                drive(
                    &mut self.trackers.permit_window,
                    step,
                    book,
                    sink,
                    pos,
                    |since, start| OpenSpec {
                        kind: ViolationKind::TimeWindow,
                        subject: pm.id.clone(),
                        started_ms: since,
                        start,
                        severity: 2,
                        params: json!(tw),
                        permit: permit_ev(),
                        fences: Vec::new(),
                        inferred: None,
                    },
                    nothing,
                );
            }
            _ => force_close(&mut self.trackers.permit_window, book, sink, t),
        }

        // speeding: the lowest limit that applies here
        let sc = &cfg.speeding;
        if sc.enabled {
            let mut limit = sc.default_limit_kmh.map(|l| (l, None));
            for &s in hits.polygons.iter().chain(&hits.corridors) {
                if let Some(f) = index.fence(s)
                    && let Some(l) = f.speed_limit_kmh
                    && limit.is_none_or(|(cur, _)| l < cur)
                {
                    limit = Some((l, Some(s)));
                }
            }
            let over = limit.is_some_and(|(l, _)| p.speed_kmh > l * (1.0 + sc.tolerance))
                || (sc.use_terminal_alarm && p.alarm & ALARM_OVERSPEED != 0);
            let step = self
                .trackers
                .speeding
                .step(over, over, pos, &sc.debounce, None);
            let limit_fence = || {
                limit
                    .and_then(|(_, s)| s)
                    .and_then(|s| index.fence(s))
                    .map(|f| f.fence_ref())
            };
            drive(
                &mut self.trackers.speeding,
                step,
                book,
                sink,
                pos,
                |since, start| OpenSpec {
                    kind: ViolationKind::Speeding,
                    subject: Arc::from(""),
                    started_ms: since,
                    start,
                    severity: 2,
                    params: json!(sc),
                    permit: permit_ev(),
                    fences: Vec::new(),
                    inferred: None,
                },
                |e| {
                    if over {
                        e.observe_max("max_speed_kmh", p.speed_kmh);
                        if let Some((l, _)) = limit {
                            e.observe("limit_kmh", json!(l));
                        }
                        if let Some(s) = limit.and_then(|(_, s)| s)
                            && let Some(f) = index.fence(s)
                            && !e.has_fence(&f.id, f.version)
                            && let Some(r) = limit_fence()
                        {
                            e.add_fence(r);
                        }
                    }
                },
            );
        }

        // lid_open
        let lc = &cfg.lid_open;
        if lc.enabled {
            let open = p.lid_open == Some(true);
            let step = self.trackers.lid.step(
                open && loaded && moving,
                open && loaded,
                pos,
                &lc.debounce,
                None,
            );
            drive(
                &mut self.trackers.lid,
                step,
                book,
                sink,
                pos,
                |since, start| OpenSpec {
                    kind: ViolationKind::LidOpen,
                    subject: Arc::from(""),
                    started_ms: since,
                    start,
                    severity: 2,
                    params: json!(lc),
                    permit: permit_ev(),
                    fences: Vec::new(),
                    inferred: None,
                },
                nothing,
            );
        }

        // overload
        let oc = &cfg.overload;
        if oc.enabled {
            let rated = self.info.as_ref().and_then(|i| i.rated_load_kg);
            let over = match (rated, p.weight_kg) {
                (Some(r), Some(w)) => w > r * (1.0 + oc.tolerance),
                _ => false,
            };
            let step = self
                .trackers
                .overload
                .step(over && moving, over, pos, &oc.debounce, None);
            drive(
                &mut self.trackers.overload,
                step,
                book,
                sink,
                pos,
                |since, start| OpenSpec {
                    kind: ViolationKind::Overload,
                    subject: Arc::from(""),
                    started_ms: since,
                    start,
                    severity: 2,
                    params: json!(oc),
                    permit: permit_ev(),
                    fences: Vec::new(),
                    inferred: None,
                },
                |e| {
                    if let (true, Some(w), Some(r)) = (over, p.weight_kg, rated) {
                        e.observe_max("max_weight_kg", w);
                        e.observe("rated_load_kg", json!(r));
                    }
                },
            );
        }

        // no_permit: transport work without a valid permit
        let nc = &cfg.no_permit;
        if nc.enabled && self.ident.vehicle_id.is_some() {
            let none = permit.is_none();
            let step = self.trackers.no_permit.step(
                none && loaded && moving,
                none && loaded,
                pos,
                &nc.debounce,
                None,
            );
            let origin = self.origin_site;
            drive(
                &mut self.trackers.no_permit,
                step,
                book,
                sink,
                pos,
                |since, start| OpenSpec {
                    kind: ViolationKind::NoPermit,
                    subject: Arc::from(""),
                    started_ms: since,
                    start,
                    severity: 3,
                    params: json!(nc),
                    permit: None,
                    fences: origin
                        .and_then(|s| index.fence(s))
                        .map(|f| f.fence_ref())
                        .into_iter()
                        .collect(),
                    inferred: None,
                },
                nothing,
            );
        }

        // illegal_dumping
        let dc = &cfg.illegal_dumping;
        if dc.enabled {
            // (a) lift raised outside every disposal ground
            let lift = p.lift_up == Some(true);
            let d = Debounce {
                min_fixes: dc.lift_min_fixes,
                min_secs: 0,
                clear_fixes: 1,
                clear_secs: 0,
            };
            let step = self
                .trackers
                .lift
                .step(lift && !in_disposal, lift, pos, &d, None);
            drive(
                &mut self.trackers.lift,
                step,
                book,
                sink,
                pos,
                |since, start| OpenSpec {
                    kind: ViolationKind::IllegalDumping,
                    subject: Arc::from("lift"),
                    started_ms: since,
                    start,
                    severity: 3,
                    params: json!(dc),
                    permit: permit_ev(),
                    fences: Vec::new(),
                    inferred: Some("lift_raised_outside_disposal_ground"),
                },
                nothing,
            );
            // (b) loaded to empty outside every disposal ground
            if let Some((last_loaded, was_in_disposal)) = unloaded
                && !was_in_disposal
                && !in_disposal
            {
                let spec = OpenSpec {
                    kind: ViolationKind::IllegalDumping,
                    subject: Arc::from("unload"),
                    started_ms: last_loaded.t,
                    start: (last_loaded.lon, last_loaded.lat),
                    severity: 3,
                    params: json!(dc),
                    permit: permit_ev(),
                    fences: Vec::new(),
                    inferred: Some("loaded_to_empty_outside_disposal_ground"),
                };
                let h = book.open(spec, &[last_loaded, pos.clone()], sink);
                book.close(h, t, sink);
            }
            // (c) no sensors: loaded, stopped long, away from every site and disposal ground
            let sensorless = self
                .info
                .as_ref()
                .is_none_or(|i| !(i.sensors.load || i.sensors.lift || i.sensors.weight))
                && p.load == LoadState::Unknown
                && p.weight_kg.is_none()
                && p.lift_up.is_none();
            let stop_secs = self.stop.as_ref().map(|s| t - s.since).unwrap_or(0) / 1000;
            let suspect = sensorless
                && self.phase == TripPhase::Loaded
                && stop_secs >= i64::from(dc.stop_min_secs)
                && self.stop_is_away(snap, dc.away_from_fences_m);
            let hold = sensorless && self.phase == TripPhase::Loaded && self.stop.is_some();
            let d = Debounce::default();
            let since_hint = self.stop.as_ref().map(|s| s.since);
            let step = self
                .trackers
                .stop_dump
                .step(suspect, hold, pos, &d, since_hint);
            drive(
                &mut self.trackers.stop_dump,
                step,
                book,
                sink,
                pos,
                |since, start| OpenSpec {
                    kind: ViolationKind::IllegalDumping,
                    subject: Arc::from("stop"),
                    started_ms: since,
                    start,
                    severity: 2,
                    params: json!(dc),
                    permit: permit_ev(),
                    fences: Vec::new(),
                    inferred: Some("loaded_stop_away_from_fences_without_sensors"),
                },
                |e| e.observe_max("stop_secs", stop_secs as f64),
            );
        }

        // Per-fence rules: unpermitted_site, restricted_zone, time_window (zone form).
        for ev in events {
            if let MemberEvent::Exited { slot, at, .. } = *ev {
                for ft in self.fence_trackers.iter_mut().filter(|ft| ft.slot == slot) {
                    force_close(&mut ft.tracker, book, sink, at);
                }
            }
        }
        let us = &cfg.unpermitted_site;
        let rz = &cfg.restricted_zone;
        for m in self.members.iter().filter(|m| m.confirmed()) {
            let (kind, start, hold, since, severity) = match m.kind {
                FenceKind::Site | FenceKind::DisposalGround if us.enabled => {
                    let permitted = self.valid_permits(snap, t).any(|(_, pm)| {
                        pm.site_slot == Some(m.slot) || pm.disposal_slots.contains(&m.slot)
                    });
                    let dwell = t - m.entered >= i64::from(us.min_dwell_secs) * 1000;
                    (
                        ViolationKind::UnpermittedSite,
                        dwell && !permitted,
                        !permitted,
                        m.entered,
                        2,
                    )
                }
                FenceKind::Zone(ZoneKind::Restricted) if rz.enabled => {
                    let banned = !snap.zone_allows(m.slot, t);
                    (ViolationKind::RestrictedZone, banned, banned, m.entered, 3)
                }
                FenceKind::Zone(ZoneKind::TimeRestricted) if tw.enabled => {
                    let closed = !snap.zone_allows(m.slot, t);
                    (ViolationKind::TimeWindow, closed && moving, closed, t, 2)
                }
                _ => continue,
            };
            let i = match self
                .fence_trackers
                .iter()
                .position(|ft| ft.slot == m.slot && ft.kind == kind)
            {
                Some(i) => i,
                None => {
                    if !start {
                        continue;
                    }
                    self.fence_trackers.push(FenceTracker {
                        kind,
                        slot: m.slot,
                        key: m.key.clone(),
                        tracker: Tracker::default(),
                    });
                    self.fence_trackers.len() - 1
                }
            };
            let Some(ft) = self.fence_trackers.get_mut(i) else {
                continue;
            };
            let debounce = if kind == ViolationKind::TimeWindow {
                tw.debounce
            } else {
                Debounce::default()
            };
            let hint = (kind != ViolationKind::TimeWindow).then_some(since);
            let step = ft.tracker.step(start, hold, pos, &debounce, hint);
            let slot = m.slot;
            let params = || match kind {
                ViolationKind::UnpermittedSite => json!(us),
                ViolationKind::RestrictedZone => json!(rz),
                _ => json!(tw),
            };
            drive(
                &mut ft.tracker,
                step,
                book,
                sink,
                pos,
                |since, start| OpenSpec {
                    kind,
                    subject: m.key.id.clone(),
                    started_ms: since,
                    start,
                    severity,
                    params: params(),
                    permit: permit_ev(),
                    fences: index
                        .fence(slot)
                        .map(|f| f.fence_ref())
                        .into_iter()
                        .collect(),
                    inferred: None,
                },
                nothing,
            );
        }
        self.fence_trackers.retain(|ft| !ft.tracker.is_idle());

        // Passages without a confirmed entry.
        for ev in events {
            let MemberEvent::Transit {
                slot,
                from,
                to,
                inferred,
                measure,
            } = ev
            else {
                continue;
            };
            let Some(f) = index.fence(*slot) else {
                continue;
            };
            let (kind, params, severity) = match f.kind {
                FenceKind::Zone(ZoneKind::Restricted) if rz.enabled && rz.transits => {
                    (ViolationKind::RestrictedZone, json!(rz), 3)
                }
                FenceKind::Zone(ZoneKind::TimeRestricted) if tw.enabled => {
                    (ViolationKind::TimeWindow, json!(tw), 2)
                }
                _ => continue,
            };
            if snap.zone_allows(*slot, from.t) {
                continue;
            }
            let spec = OpenSpec {
                kind,
                subject: f.id.clone(),
                started_ms: from.t,
                start: (from.lon, from.lat),
                severity,
                params,
                permit: permit_ev(),
                fences: vec![f.fence_ref()],
                inferred: Some(inferred),
            };
            let h = book.open(spec, &[from.clone(), to.clone()], sink);
            if let Some(e) = book.get_mut(h) {
                let key = if *inferred == "segment_crossing" {
                    "inside_length_m"
                } else {
                    "max_depth_m"
                };
                e.observe_max(key, *measure);
            }
            book.close(h, to.t, sink);
        }
    }

    /// Whether the current stop is away from every site and disposal ground (checked once
    /// per stop).
    fn stop_is_away(&mut self, snap: &EngineSnapshot, radius_m: f64) -> bool {
        let Some(stop) = self.stop.as_mut() else {
            return false;
        };
        *stop.away.get_or_insert_with(|| {
            snap.index
                .nearest_polygon_within(stop.lon, stop.lat, radius_m, |f| {
                    matches!(f.kind, FenceKind::Site | FenceKind::DisposalGround)
                })
                .is_none()
        })
    }

    fn classification(
        &mut self,
        p: &Position,
        snap: &EngineSnapshot,
        book: &EpisodeBook,
        suspect_jump: bool,
        corridors: &[FenceSlot],
    ) -> PositionClass {
        // Consecutive fixes are usually in the same fences: reuse the last list when the slots
        // match, so a classification allocates nothing for it.
        let same = {
            let mut wanted = self
                .members
                .iter()
                .filter(|m| m.confirmed())
                .map(|m| m.slot)
                .chain(corridors.iter().copied());
            self.class_cache.0.iter().all(|s| wanted.next() == Some(*s)) && wanted.next().is_none()
        };
        if !same {
            let mut slots = Vec::new();
            let mut tags = Vec::new();
            for m in self.members.iter().filter(|m| m.confirmed()) {
                slots.push(m.slot);
                tags.push(FenceTag {
                    kind: m.kind,
                    id: m.key.id.clone(),
                });
            }
            for &c in corridors {
                if let Some(f) = snap.index.fence(c) {
                    slots.push(c);
                    tags.push(FenceTag {
                        kind: f.kind,
                        id: f.id.clone(),
                    });
                }
            }
            self.class_cache = (slots, Arc::from(tags));
        }
        let fences = self.class_cache.1.clone();
        let open_violations = book.open_kinds();
        let t = clock::ms(p.time);
        PositionClass {
            position_id: p.id,
            vehicle_id: self.ident.vehicle_id.clone(),
            phone: self.ident.phone.clone(),
            time: p.time,
            lat: p.lat,
            lon: p.lon,
            speed_kmh: p.speed_kmh,
            fences,
            phase: self.phase,
            moving: self.moving,
            stopped_secs: self
                .stop
                .as_ref()
                .map(|s| ((t - s.since).max(0) / 1000) as u32),
            loaded: self.loaded(),
            permit_id: self.permit_id.clone(),
            open_violations,
            suspect_jump,
        }
    }

    /// Ends every open tracker of a replay at its last fix (the end of the late batch).
    pub(crate) fn finish_replay(&mut self, book: &mut EpisodeBook, sink: &mut Sink<'_>) {
        let at = self.last_judged_ms;
        let t = &mut self.trackers;
        for tr in [
            &mut t.route,
            &mut t.permit_window,
            &mut t.speeding,
            &mut t.lid,
            &mut t.overload,
            &mut t.no_permit,
            &mut t.lift,
            &mut t.stop_dump,
            &mut t.alarm,
            &mut t.jump,
            &mut t.no_fix,
        ] {
            force_close(tr, book, sink, at);
        }
        for ft in &mut self.fence_trackers {
            force_close(&mut ft.tracker, book, sink, at);
        }
    }

    /// Whether any episode is open for this vehicle's trackers (used by tests and pruning).
    pub(crate) fn has_open_tracker(&self) -> bool {
        let t = &self.trackers;
        [
            &t.route,
            &t.permit_window,
            &t.speeding,
            &t.lid,
            &t.overload,
            &t.no_permit,
            &t.lift,
            &t.stop_dump,
            &t.alarm,
            &t.jump,
            &t.no_fix,
        ]
        .iter()
        .any(|tr| tr.episode.is_some())
            || self
                .fence_trackers
                .iter()
                .any(|ft| ft.tracker.episode.is_some())
            || self.offline.is_some()
            || self.unregistered.is_some()
    }

    /// Open the `offline` episode: silent since the last position.
    pub(crate) fn open_offline(
        &mut self,
        cfg: &EngineConfig,
        book: &mut EpisodeBook,
        sink: &mut Sink<'_>,
    ) {
        if self.offline.is_some() {
            return;
        }
        let Some(last) = self.last.clone() else {
            return;
        };
        let started = self.last_seen_ms.max(last.t);
        let spec = OpenSpec {
            kind: ViolationKind::Offline,
            subject: Arc::from(""),
            started_ms: started,
            start: (last.lon, last.lat),
            severity: 1,
            params: json!(cfg.offline),
            permit: self
                .permit_id
                .clone()
                .map(|id| (id.clone(), json!({ "id": id }))),
            fences: Vec::new(),
            inferred: None,
        };
        let h = book.open(spec, &[last], sink);
        self.offline = Some(h);
    }

    /// Ends the `offline` episode: the terminal spoke again at `at`.
    pub(crate) fn close_offline(&mut self, at: i64, book: &mut EpisodeBook, sink: &mut Sink<'_>) {
        if let Some(h) = self.offline.take() {
            book.close(h, at, sink);
        }
    }
}
