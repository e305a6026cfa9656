//! The listener: accepts terminal connections under a connection cap, runs one task per
//! connection, and shuts down gracefully (stop accepting, let in-flight batches be stored and
//! acknowledged, then close).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use jt808::{DEFAULT_MAX_FRAME_LEN, DecoderConfig, ParseOptions, ReassemblyConfig};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::connection;
use super::directory::SharedDirectory;
use super::events;
use super::filter::FilterConfig;
use super::sensors::SensorProfiles;
use super::session::SessionRegistry;
use crate::bus::PositionBus;
use crate::store::Store;

/// Gateway limits and behaviour.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Most simultaneous connections; more are accepted and closed at once.
    pub max_connections: usize,
    /// A connection that sends nothing for this long is closed (default: three heartbeat
    /// intervals of 60 s).
    pub idle_timeout: Duration,
    /// Most frames a connection may send per second before it is closed.
    pub max_frames_per_second: u32,
    /// Longest escaped frame accepted; longer ones are rejected and skipped.
    pub max_frame_len: usize,
    /// Failed authentications before the connection is closed.
    pub max_auth_failures: u32,
    /// Accept frames with a bad checksum (some device models need it).
    pub lenient_checksum: bool,
    /// Position filter thresholds.
    pub filter: FilterConfig,
    /// Subpackage reassembly limits per connection.
    pub reassembly: ReassemblyConfig,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_connections: 100_000,
            idle_timeout: Duration::from_secs(180),
            max_frames_per_second: 200,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_auth_failures: 3,
            lenient_checksum: false,
            filter: FilterConfig::default(),
            reassembly: ReassemblyConfig::default(),
        }
    }
}

/// State every connection shares.
pub(super) struct Shared {
    /// Limits and behaviour.
    pub config: GatewayConfig,
    /// Registry look-ups (auth codes) and nothing else; tracks go through the bus.
    pub store: Store,
    /// Where positions go; its publish resolves once they are stored.
    pub bus: Arc<dyn PositionBus>,
    /// Terminal and vehicle look-ups.
    pub directory: SharedDirectory,
    /// Authenticated connections, for downlink commands.
    pub sessions: SessionRegistry,
    /// Sensor profiles by terminal model.
    pub profiles: SensorProfiles,
}

impl Shared {
    /// Decoder settings for a new connection.
    pub fn decoder_config(&self) -> DecoderConfig {
        DecoderConfig {
            options: if self.config.lenient_checksum {
                ParseOptions::lenient()
            } else {
                ParseOptions::strict()
            },
            max_frame_len: self.config.max_frame_len,
        }
    }
}

/// The JT/T 808 gateway.
pub struct Gateway {
    /// State shared with connections.
    shared: Arc<Shared>,
    /// Cancelled to start a graceful shutdown.
    shutdown: CancellationToken,
    /// Tracks connection tasks so shutdown can wait for them.
    tracker: TaskTracker,
}

impl Gateway {
    /// A gateway publishing to `bus`, looking terminals up in `directory` and `store`.
    pub fn new(
        config: GatewayConfig,
        store: Store,
        bus: Arc<dyn PositionBus>,
        directory: SharedDirectory,
        sessions: SessionRegistry,
        profiles: SensorProfiles,
    ) -> Gateway {
        Gateway {
            shared: Arc::new(Shared {
                config,
                store,
                bus,
                directory,
                sessions,
                profiles,
            }),
            shutdown: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }

    /// The token that stops the gateway when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Accepts connections until shut down, then waits for every connection to finish its
    /// in-flight batch (stored and acknowledged) and close.
    pub async fn serve(&self, listener: TcpListener) {
        let permits = Arc::new(Semaphore::new(self.shared.config.max_connections));
        let local = listener.local_addr().ok();
        tracing::info!(address = ?local, "JT/T 808 gateway listening.");
        loop {
            let accepted = tokio::select! {
                () = self.shutdown.cancelled() => break,
                accepted = listener.accept() => accepted,
            };
            let (stream, peer): (_, SocketAddr) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Usually out of file descriptors; back off instead of spinning.
                    tracing::warn!(%error, "Accept failed.");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                events::connection_refused_at_limit();
                drop(stream);
                continue;
            };
            let shared = self.shared.clone();
            let shutdown = self.shutdown.clone();
            self.tracker.spawn(async move {
                connection::handle(shared, stream, peer, shutdown).await;
                drop(permit);
            });
        }
        drop(listener);
        self.tracker.close();
        self.tracker.wait().await;
        tracing::info!("JT/T 808 gateway stopped.");
    }
}
