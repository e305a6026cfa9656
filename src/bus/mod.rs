//! The bus: how positions fan out from the gateway to the track store, the geofence engine and
//! the live stream.
//!
//! The gateway only sees [`PositionBus::publish`], whose future resolves once the positions are
//! durably stored; that is the signal to acknowledge them to the terminal. Consumers are fed per
//! partition (a stable hash of the vehicle, or of the terminal for unregistered ones), so each
//! vehicle's positions stay in order for its engine worker. The in-process implementation
//! ([`InProcessBus`]) is the default; a distributed engine (NATS JetStream, Kafka) can replace
//! it behind the same trait without touching ingest or the engine.

mod inprocess;
pub mod live;

use std::future::Future;
use std::pin::Pin;

pub use inprocess::InProcessBus;
pub use live::{LiveBatch, LiveEvent, LiveHub, LiveSubscription};

use crate::model::Position;

/// Why a publish failed. Nothing is acknowledged to the terminal when it does.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The track store could not commit the positions.
    #[error("track store failed: {0}")]
    Store(String),
    /// The bus is shutting down and takes no more positions.
    #[error("bus is closed")]
    Closed,
}

/// A boxed future, so that sinks can be trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where positions are made durable. The store's group-commit writer implements it; the
/// future resolves only after the positions are committed.
pub trait TrackSink: Send + Sync + 'static {
    /// Durably stores `positions`; resolves after the commit.
    fn append(&self, positions: Vec<Position>) -> BoxFuture<'static, Result<(), String>>;
}

/// The store's group-commit writer is the production sink.
impl TrackSink for crate::store::TrackWriter {
    fn append(&self, positions: Vec<Position>) -> BoxFuture<'static, Result<(), String>> {
        let writer = self.clone();
        Box::pin(async move {
            writer
                .append(positions)
                .await
                .map_err(|error| error.to_string())
        })
    }
}

/// The gateway's side of the bus.
pub trait PositionBus: Send + Sync + 'static {
    /// Publishes one connection's positions, in order. Resolves once they are durably stored
    /// (and handed to the consumers); waits while consumers are full (backpressure).
    fn publish(&self, positions: Vec<Position>) -> BoxFuture<'_, Result<(), BusError>>;

    /// Hands the engine a position from a terminal that is not registered (its report was
    /// refused, so it is not a track), so that it can raise an `unregistered_terminal`
    /// violation with a location.
    fn report_unregistered(&self, position: Position) -> BoxFuture<'_, Result<(), BusError>>;
}

/// The stable partition of a position: its vehicle, or `phone:<digits>` for a terminal not
/// bound to a vehicle, hashed with [`partition_of_key`]. The engine shards by the same function,
/// so each vehicle's positions reach the one worker that holds its state.
pub fn partition_of(position: &Position, partitions: usize) -> usize {
    match &position.vehicle_id {
        Some(vehicle) => partition_of_key(vehicle, partitions),
        None => partition_of_key(
            &format!("phone:{}", crate::model::phone_key(&position.phone)),
            partitions,
        ),
    }
}

/// The partition (0..partitions) of a key: FNV-1a with a splitmix64 finaliser. Stable across
/// processes and Rust releases, unlike `DefaultHasher`, so a distributed bus can use the same
/// function.
pub fn partition_of_key(key: &str, partitions: usize) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in key.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash % partitions.max(1) as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_spread() {
        assert_eq!(partition_of_key("V001", 8), partition_of_key("V001", 8));
        let mut counts = [0usize; 8];
        for i in 0..8000 {
            counts[partition_of_key(&format!("V{i:04}"), 8)] += 1;
        }
        assert!(counts.iter().all(|&c| c > 700 && c < 1300), "{counts:?}");
    }
}
