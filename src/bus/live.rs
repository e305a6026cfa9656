//! The live stream to map clients: every stored position and violation update, broadcast
//! without ever blocking ingest. A client that falls behind is not waited for: it skips ahead to
//! a snapshot of the latest position per vehicle (coalesced) and the open violations.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use tokio::sync::broadcast;

use crate::model::{Position, Violation, ViolationStatus};

/// One update for map clients.
#[derive(Debug, Clone)]
pub enum LiveEvent {
    /// A truck's latest usable position.
    Position(Arc<Position>),
    /// A violation episode opened, updated or closed.
    Violation(Arc<Violation>),
}

/// Shared state behind a [`LiveHub`] handle.
struct Inner {
    /// Fan-out to subscribers; sending never waits.
    sender: broadcast::Sender<LiveEvent>,
    /// Latest usable position per vehicle (or per terminal when unregistered), for new and
    /// lagging subscribers.
    latest: RwLock<HashMap<String, Arc<Position>>>,
    /// Violations still open, for new and lagging subscribers.
    open_violations: RwLock<HashMap<String, Arc<Violation>>>,
}

/// Handle to the live stream; cheap to clone.
#[derive(Clone)]
pub struct LiveHub {
    /// Shared state.
    inner: Arc<Inner>,
}

impl LiveHub {
    /// Creates a hub whose subscribers may fall `capacity` events behind before they are
    /// switched to a snapshot.
    pub fn new(capacity: usize) -> Self {
        let (sender, _) = broadcast::channel(capacity.max(16));
        Self {
            inner: Arc::new(Inner {
                sender,
                latest: RwLock::new(HashMap::new()),
                open_violations: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Records and broadcasts a stored position. Positions flagged as unusable (no fix, jumps)
    /// and ones older than the latest known for the vehicle (late re-uploads) do not move the
    /// truck on the map.
    pub fn publish_position(&self, position: &Position) {
        if !position.flags.usable() && position.vehicle_id.is_some() {
            return;
        }
        let key = position
            .vehicle_id
            .clone()
            .unwrap_or_else(|| position.phone.clone());
        let position = Arc::new(position.clone());
        {
            let mut latest = self.inner.latest.write();
            match latest.get(&key) {
                Some(previous) if previous.time > position.time => return,
                _ => {
                    latest.insert(key, position.clone());
                }
            }
        }
        if self.inner.sender.receiver_count() > 0 {
            // An error only means nobody is listening right now.
            let _ = self.inner.sender.send(LiveEvent::Position(position));
        }
    }

    /// Records and broadcasts a violation update.
    pub fn publish_violation(&self, violation: &Violation) {
        let violation = Arc::new(violation.clone());
        {
            let mut open = self.inner.open_violations.write();
            match violation.status {
                ViolationStatus::Open => {
                    open.insert(violation.id.clone(), violation.clone());
                }
                ViolationStatus::Closed => {
                    open.remove(&violation.id);
                }
            }
        }
        if self.inner.sender.receiver_count() > 0 {
            let _ = self.inner.sender.send(LiveEvent::Violation(violation));
        }
    }

    /// The latest position of every vehicle and every open violation.
    pub fn snapshot(&self) -> Vec<LiveEvent> {
        let mut events: Vec<LiveEvent> = self
            .inner
            .latest
            .read()
            .values()
            .cloned()
            .map(LiveEvent::Position)
            .collect();
        events.extend(
            self.inner
                .open_violations
                .read()
                .values()
                .cloned()
                .map(LiveEvent::Violation),
        );
        events
    }

    /// Vehicles with an open violation episode.
    pub fn vehicles_in_violation(&self) -> std::collections::HashSet<String> {
        self.inner
            .open_violations
            .read()
            .values()
            .filter_map(|v| v.vehicle_id.clone())
            .collect()
    }

    /// The latest position of one vehicle.
    pub fn latest(&self, vehicle_id: &str) -> Option<Arc<Position>> {
        self.inner.latest.read().get(vehicle_id).cloned()
    }

    /// Subscribes; the first batch is a snapshot.
    pub fn subscribe(&self) -> LiveSubscription {
        LiveSubscription {
            receiver: self.inner.sender.subscribe(),
            hub: self.clone(),
            needs_snapshot: true,
        }
    }
}

/// One client's view of the live stream.
pub struct LiveSubscription {
    /// Broadcast receiver; lags instead of blocking the sender.
    receiver: broadcast::Receiver<LiveEvent>,
    /// For snapshots after lagging.
    hub: LiveHub,
    /// Whether the next batch must be a full snapshot (at start and after lagging).
    needs_snapshot: bool,
}

impl LiveSubscription {
    /// The next batch of events: a snapshot at first and after falling behind, then single
    /// events (plus whatever else is already queued, so slow writers send fewer, larger
    /// messages). `None` once the hub is gone.
    pub async fn next_batch(&mut self) -> Option<Vec<LiveEvent>> {
        self.next().await.map(LiveBatch::into_events)
    }

    /// Like [`LiveSubscription::next_batch`], saying whether the batch is a snapshot (which
    /// replaces what the client shows) or new events.
    pub async fn next(&mut self) -> Option<LiveBatch> {
        if self.needs_snapshot {
            self.needs_snapshot = false;
            self.receiver = self.receiver.resubscribe();
            return Some(LiveBatch::Snapshot(self.hub.snapshot()));
        }
        let first = match self.receiver.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.receiver = self.receiver.resubscribe();
                return Some(LiveBatch::Snapshot(self.hub.snapshot()));
            }
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        let mut batch = vec![first];
        while batch.len() < 1024 {
            match self.receiver.try_recv() {
                Ok(event) => batch.push(event),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    self.receiver = self.receiver.resubscribe();
                    return Some(LiveBatch::Snapshot(self.hub.snapshot()));
                }
                Err(_) => break,
            }
        }
        Some(LiveBatch::Events(batch))
    }
}

/// What a subscriber gets next.
#[derive(Debug, Clone)]
pub enum LiveBatch {
    /// The latest position of every vehicle and every open violation (at start, and after the
    /// subscriber fell behind: coalesced).
    Snapshot(Vec<LiveEvent>),
    /// Events since the previous batch, in order.
    Events(Vec<LiveEvent>),
}

impl LiveBatch {
    /// The events, whichever kind of batch.
    pub fn into_events(self) -> Vec<LiveEvent> {
        match self {
            LiveBatch::Snapshot(events) | LiveBatch::Events(events) => events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LoadState, PositionFlags, PositionSource};
    use bytes::Bytes;
    use chrono::{Duration, Utc};

    fn position(vehicle: &str, id: i64, seconds: i64) -> Position {
        let t = Utc::now() + Duration::seconds(seconds);
        Position {
            id,
            phone: "013800000001".into(),
            vehicle_id: Some(vehicle.into()),
            time: t,
            received_at: t,
            lat: 24.3,
            lon: 109.4,
            altitude_m: 0,
            speed_kmh: 10.0,
            heading: 0,
            alarm: 0,
            status: 2,
            load: LoadState::Empty,
            lift_up: None,
            lid_open: None,
            weight_kg: None,
            mileage_km: None,
            source: PositionSource::Live,
            flags: PositionFlags::default(),
            raw: Bytes::new(),
        }
    }

    #[tokio::test]
    async fn first_batch_is_snapshot_then_live_events() {
        let hub = LiveHub::new(16);
        hub.publish_position(&position("V1", 1, 0));
        let mut sub = hub.subscribe();
        let snapshot = sub.next_batch().await.expect("snapshot");
        assert_eq!(snapshot.len(), 1);
        hub.publish_position(&position("V1", 2, 1));
        let batch = sub.next_batch().await.expect("batch");
        assert!(matches!(&batch[0], LiveEvent::Position(p) if p.id == 2));
    }

    #[tokio::test]
    async fn slow_subscriber_gets_coalesced_snapshot() {
        let hub = LiveHub::new(16);
        let mut sub = hub.subscribe();
        let _ = sub.next_batch().await;
        // Far more updates than the channel holds, for 3 vehicles.
        for i in 0..1000 {
            hub.publish_position(&position(&format!("V{}", i % 3), i, i));
        }
        let batch = sub.next_batch().await.expect("batch");
        assert_eq!(batch.len(), 3, "one latest position per vehicle");
        for event in batch {
            let LiveEvent::Position(p) = event else {
                panic!("expected positions")
            };
            assert!(p.id >= 997);
        }
    }

    #[test]
    fn late_positions_do_not_move_the_truck() {
        let hub = LiveHub::new(16);
        hub.publish_position(&position("V1", 2, 10));
        hub.publish_position(&position("V1", 1, 0));
        assert_eq!(hub.latest("V1").map(|p| p.id), Some(2));
    }
}
