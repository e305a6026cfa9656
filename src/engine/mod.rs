//! The geofence index and rule engine: matches every position against the registry's
//! fences and each truck's permit, and turns what it sees into violation episodes.
//!
//! Pure Rust: no I/O, no SQL, no HTTP.
//!
//! - [`Engine`] holds the configuration and the current [`EngineSnapshot`] (fence index,
//!   vehicles, permits) behind an `ArcSwap`; [`Engine::swap_registry`] builds a new snapshot
//!   and swaps it in while positions keep flowing.
//! - [`EngineShard`] is the synchronous core one worker owns: the vehicles whose key hashes
//!   to it ([`shard_of`]). `process` judges positions, `tick` runs the timers.
//! - [`runner`] runs N shards as tokio tasks fed by bounded channels.
//! - [`index`] is the fence index; [`events`] what comes out.

pub(crate) mod clock;
pub mod config;
pub(crate) mod episode;
pub mod events;
pub mod index;
pub mod metric;
pub mod runner;
pub mod shard;
pub mod snapshot;
pub mod synthetic;
pub(crate) mod vehicle;

pub use config::EngineConfig;
pub use events::{
    EngineEvent, FenceTag, PositionClass, TripPhase, TripRecord, ViolationChange, ViolationEvent,
};
pub use runner::EngineRunner;
pub use shard::{EngineShard, shard_for_key, shard_of, vehicle_key};
pub use snapshot::EngineSnapshot;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;

use crate::engine::index::BuildReport;
use crate::model::Registry;

/// The engine: configuration plus the current registry snapshot, shared by every shard.
#[derive(Debug)]
pub struct Engine {
    /// Thresholds of every rule; fixed for the engine's life.
    config: EngineConfig,
    /// The snapshot shards judge against; replaced whole by [`Engine::swap_registry`].
    snapshot: ArcSwap<EngineSnapshot>,
    /// Source of snapshot generations.
    generation: AtomicU64,
}

impl Engine {
    /// An engine judging against `registry` with `config`.
    pub fn new(registry: &Registry, config: EngineConfig) -> Arc<Engine> {
        let snapshot = EngineSnapshot::build(registry, &config.index, 1);
        log_build(&snapshot.report, 1);
        Arc::new(Engine {
            config,
            snapshot: ArcSwap::from_pointee(snapshot),
            generation: AtomicU64::new(1),
        })
    }

    /// Builds a snapshot of a new registry and swaps it in atomically. Shards pick it up at
    /// their next position or tick; positions never wait for the build. Fences with bad
    /// geometry are left out and listed in the report.
    pub fn swap_registry(&self, registry: &Registry) -> BuildReport {
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let snapshot = EngineSnapshot::build(registry, &self.config.index, generation);
        log_build(&snapshot.report, generation);
        let report = snapshot.report.clone();
        self.snapshot.store(Arc::new(snapshot));
        report
    }

    /// The current snapshot.
    pub fn snapshot(&self) -> Arc<EngineSnapshot> {
        self.snapshot.load_full()
    }

    /// The current snapshot without touching the reference count (hot path).
    pub(crate) fn snapshot_guard(&self) -> arc_swap::Guard<Arc<EngineSnapshot>> {
        self.snapshot.load()
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// A new shard of this engine.
    pub fn shard(self: &Arc<Self>) -> EngineShard {
        EngineShard::new(self.clone())
    }
}

fn log_build(report: &BuildReport, generation: u64) {
    tracing::info!(
        generation,
        polygons = report.polygons,
        corridors = report.corridors,
        skipped = report.skipped.len(),
        heap_mb = report.heap_bytes / 1_000_000,
        "Fence index built."
    );
}
