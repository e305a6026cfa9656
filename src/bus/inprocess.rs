//! The in-process bus: the track store first (durability), then the engine partitions and the
//! live stream.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::{BoxFuture, BusError, LiveHub, PositionBus, TrackSink, partition_of};
use crate::model::Position;

/// Fans positions out in one process. A publish stores the batch (group commit in the sink),
/// then hands each position to its engine partition and to the live stream. The engine sees
/// only stored positions, so its evidence never names a position that was lost.
pub struct InProcessBus {
    /// Durable store for positions; its commit is the acknowledgement signal.
    sink: Arc<dyn TrackSink>,
    /// One bounded queue per engine partition; full queues make publishers wait, which slows
    /// reading from terminals (TCP backpressure) instead of dropping anything.
    partitions: Vec<mpsc::Sender<Position>>,
    /// Live stream to map clients; never blocks.
    live: LiveHub,
}

impl InProcessBus {
    /// A bus storing through `sink` and feeding the consumer queues `partitions` (the engine
    /// workers' inputs; position `p` goes to `partitions[partition_of(p, len)]`).
    pub fn new(
        sink: Arc<dyn TrackSink>,
        live: LiveHub,
        partitions: Vec<mpsc::Sender<Position>>,
    ) -> Self {
        Self {
            sink,
            partitions,
            live,
        }
    }

    /// Consumer queues for a bus, with their receivers: `count` bounded channels of
    /// `capacity` positions.
    pub fn queues(
        count: usize,
        capacity: usize,
    ) -> (Vec<mpsc::Sender<Position>>, Vec<mpsc::Receiver<Position>>) {
        (0..count.max(1))
            .map(|_| mpsc::channel(capacity.max(1)))
            .unzip()
    }

    /// The live stream this bus feeds.
    pub fn live(&self) -> &LiveHub {
        &self.live
    }
}

impl PositionBus for InProcessBus {
    fn publish(&self, positions: Vec<Position>) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            if positions.is_empty() {
                return Ok(());
            }
            self.sink
                .append(positions.clone())
                .await
                .map_err(BusError::Store)?;
            for position in positions {
                self.live.publish_position(&position);
                let partition = partition_of(&position, self.partitions.len());
                let Some(queue) = self.partitions.get(partition) else {
                    return Err(BusError::Closed);
                };
                queue.send(position).await.map_err(|_| BusError::Closed)?;
            }
            Ok(())
        })
    }

    fn report_unregistered(&self, position: Position) -> BoxFuture<'_, Result<(), BusError>> {
        Box::pin(async move {
            let partition = partition_of(&position, self.partitions.len());
            let queue = self.partitions.get(partition).ok_or(BusError::Closed)?;
            queue.send(position).await.map_err(|_| BusError::Closed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LoadState, PositionFlags, PositionSource, next_position_id};
    use bytes::Bytes;
    use chrono::Utc;
    use parking_lot::Mutex;

    /// A sink that records what it stored, or fails when told to.
    #[derive(Default)]
    struct RecordingSink {
        stored: Mutex<Vec<i64>>,
        fail: Mutex<bool>,
    }

    impl TrackSink for RecordingSink {
        fn append(&self, positions: Vec<Position>) -> BoxFuture<'static, Result<(), String>> {
            let result = if *self.fail.lock() {
                Err("disk on fire".to_string())
            } else {
                self.stored.lock().extend(positions.iter().map(|p| p.id));
                Ok(())
            };
            Box::pin(async move { result })
        }
    }

    fn position(vehicle: &str) -> Position {
        let now = Utc::now();
        Position {
            id: next_position_id(),
            phone: "013800000001".into(),
            vehicle_id: Some(vehicle.into()),
            time: now,
            received_at: now,
            lat: 24.3,
            lon: 109.4,
            altitude_m: 80,
            speed_kmh: 30.0,
            heading: 90,
            alarm: 0,
            status: 2,
            load: LoadState::Full,
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
    async fn stores_then_fans_out_in_order() {
        let sink = Arc::new(RecordingSink::default());
        let (senders, mut receivers) = InProcessBus::queues(3, 16);
        let bus = InProcessBus::new(sink.clone(), LiveHub::new(64), senders);
        let batch: Vec<Position> = (0..5).map(|_| position("V1")).collect();
        let ids: Vec<i64> = batch.iter().map(|p| p.id).collect();
        bus.publish(batch).await.expect("publish");
        assert_eq!(*sink.stored.lock(), ids);
        let partition = crate::bus::partition_of_key("V1", 3);
        let mut seen = Vec::new();
        while let Ok(p) = receivers[partition].try_recv() {
            seen.push(p.id);
        }
        assert_eq!(seen, ids);
    }

    #[tokio::test]
    async fn failed_store_is_an_error_and_nothing_fans_out() {
        let sink = Arc::new(RecordingSink::default());
        *sink.fail.lock() = true;
        let (senders, mut receivers) = InProcessBus::queues(4, 16);
        let bus = InProcessBus::new(sink, LiveHub::new(64), senders);
        let err = bus.publish(vec![position("V1")]).await;
        assert!(matches!(err, Err(BusError::Store(_))));
        assert!(receivers.iter_mut().all(|r| r.try_recv().is_err()));
    }
}
