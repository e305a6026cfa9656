//! The thin async layer: N worker tasks, each owning one [`EngineShard`], fed by a bounded
//! channel of positions and sending what they find to one bounded channel of events.
//! Backpressure flows back: a full output channel stops the workers, full input channels
//! stop whoever feeds them.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::engine::Engine;
use crate::engine::events::EngineEvent;
use crate::engine::shard::{EngineShard, shard_of};
use crate::model::Position;

/// Errors of the runner.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The worker for this position has stopped (its output channel closed, or shutdown).
    #[error("engine worker {shard} has stopped")]
    Stopped {
        /// Shard of the position.
        shard: usize,
    },
}

/// Running engine workers.
#[derive(Debug)]
pub struct EngineRunner {
    /// One input per shard; a position goes to `inputs[shard_of(p, inputs.len())]`.
    inputs: Vec<mpsc::Sender<Position>>,
    /// The worker tasks, to await at shutdown.
    tasks: Vec<JoinHandle<()>>,
}

impl EngineRunner {
    /// Starts `shards` workers with input channels of `input_capacity` positions each, all
    /// sending to `output`. Timers run every `tick_every`.
    pub fn start(
        engine: Arc<Engine>,
        shards: usize,
        input_capacity: usize,
        output: mpsc::Sender<EngineEvent>,
        tick_every: Duration,
    ) -> EngineRunner {
        let shards = shards.max(1);
        let mut inputs = Vec::with_capacity(shards);
        let mut tasks = Vec::with_capacity(shards);
        for _ in 0..shards {
            let (tx, rx) = mpsc::channel(input_capacity.max(1));
            inputs.push(tx);
            tasks.push(tokio::spawn(run_shard(
                engine.shard(),
                rx,
                output.clone(),
                tick_every,
            )));
        }
        EngineRunner { inputs, tasks }
    }

    /// The input channel of every shard, for a bus that routes by [`shard_of`] itself.
    pub fn inputs(&self) -> &[mpsc::Sender<Position>] {
        &self.inputs
    }

    /// Sends a position to its shard, waiting while that shard's input is full.
    pub async fn send(&self, p: Position) -> Result<(), RunnerError> {
        let shard = shard_of(&p, self.inputs.len());
        match self.inputs.get(shard) {
            Some(tx) => tx.send(p).await.map_err(|_| RunnerError::Stopped { shard }),
            None => Err(RunnerError::Stopped { shard }),
        }
    }

    /// Closes the inputs and waits for every worker to judge what it holds and finish.
    pub async fn shutdown(self) {
        drop(self.inputs);
        for t in self.tasks {
            if let Err(e) = t.await {
                tracing::error!(error = %e, "Engine worker failed.");
            }
        }
    }
}

/// One worker: judges positions from `input` on `shard`, runs its timers every `tick_every`,
/// and sends events to `output`. Ends when `input` closes (after flushing what it holds) or
/// when `output` closes.
pub async fn run_shard(
    mut shard: EngineShard,
    mut input: mpsc::Receiver<Position>,
    output: mpsc::Sender<EngineEvent>,
    tick_every: Duration,
) {
    let mut ticker = tokio::time::interval(tick_every.max(Duration::from_millis(10)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut batch = Vec::with_capacity(256);
    let mut out = Vec::new();
    loop {
        tokio::select! {
            n = input.recv_many(&mut batch, 256) => {
                if n == 0 {
                    shard.flush(&mut out);
                    send_all(&output, &mut out).await;
                    return;
                }
                let now = Utc::now();
                for p in batch.drain(..) {
                    shard.process_owned(p, now, &mut out);
                }
            }
            _ = ticker.tick() => {
                shard.tick_into(Utc::now(), &mut out);
            }
        }
        if !send_all(&output, &mut out).await {
            tracing::warn!("Engine output closed; worker stopping.");
            return;
        }
    }
}

async fn send_all(output: &mpsc::Sender<EngineEvent>, out: &mut Vec<EngineEvent>) -> bool {
    for ev in out.drain(..) {
        if output.send(ev).await.is_err() {
            return false;
        }
    }
    true
}
