//! The composition root: wires the store, the bus, the engine, the case service, the gateway
//! and the HTTP server into one running platform (`haulwatch serve`, `haulwatch demo`, and
//! the end-to-end tests).
//!
//! Shutdown order keeps the promise that nothing acknowledged is lost: the gateway stops
//! accepting and finishes in-flight batches (stored, then acknowledged), the engine judges what
//! it holds, its events are recorded, and the track writer drains before the store closes.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::api::auth::{new_token, seed_admin_token};
use crate::api::{ApiState, ConsoleConfig};
use crate::bus::{InProcessBus, LiveHub};
use crate::cases::CaseSettings;
use crate::cases::service::CaseService;
use crate::engine::{Engine, EngineConfig, EngineEvent, EngineRunner};
use crate::ingest::sensors::SensorProfiles;
use crate::ingest::{Gateway, GatewayConfig, SessionRegistry, SharedDirectory};
use crate::store::{Store, StoreConfig, StoreError, TrackWriterConfig};

/// Everything `serve` needs to know.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Where the data lives.
    pub store: StoreConfig,
    /// JT/T 808 listen address.
    pub jt808_listen: SocketAddr,
    /// HTTP listen address (API and console).
    pub http_listen: SocketAddr,
    /// Gateway limits.
    pub gateway: GatewayConfig,
    /// Rule thresholds.
    pub engine: EngineConfig,
    /// Engine worker tasks.
    pub engine_shards: usize,
    /// Sensor profiles by terminal model.
    pub sensor_profiles: SensorProfiles,
    /// Admin API token to seed; a random one is generated and printed when absent.
    pub admin_token: Option<String>,
    /// Case policy, deadlines, numbering and dispatch settings.
    pub cases: CaseSettings,
    /// The console's map settings.
    pub console: ConsoleConfig,
}

impl ServeConfig {
    /// Defaults: embedded store under `./data`, JT/T 808 on 0.0.0.0:6808, HTTP on
    /// 127.0.0.1:8080.
    pub fn new(store: StoreConfig) -> ServeConfig {
        ServeConfig {
            store,
            jt808_listen: SocketAddr::from(([0, 0, 0, 0], 6808)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            gateway: GatewayConfig::default(),
            engine: EngineConfig::default(),
            engine_shards: 2,
            sensor_profiles: SensorProfiles::default(),
            admin_token: None,
            cases: CaseSettings::default(),
            console: ConsoleConfig::default(),
        }
    }
}

/// Why the platform could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A running platform.
pub struct Running {
    /// Where terminals connect.
    pub jt808_addr: SocketAddr,
    /// Where the API and console are served.
    pub http_addr: SocketAddr,
    /// The store, for callers that seed or inspect data (demo, tests).
    pub store: Store,
    /// The live stream.
    pub live: LiveHub,
    /// Terminal sessions, for commands.
    pub sessions: SessionRegistry,
    /// Notify after changing the registry in the store: the engine and the gateway reload it.
    pub registry_changed: Arc<Notify>,
    /// The case service.
    pub cases: CaseService,
    /// The admin token generated at start when none was configured (printed once).
    pub generated_admin_token: Option<String>,
    /// Cancel to shut down.
    shutdown: CancellationToken,
    /// Completes when everything has stopped.
    done: JoinHandle<()>,
}

impl Running {
    /// Starts a graceful shutdown and waits for it to finish.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.done.await;
    }

    /// A token that starts the shutdown when cancelled.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the platform has stopped (after the token was cancelled).
    pub async fn wait(self) {
        let _ = self.done.await;
    }
}

/// Opens the store, starts every part and returns once both listeners are bound.
pub async fn start(config: ServeConfig) -> Result<Running, StartError> {
    let store = Store::open(config.store.clone()).await?;
    let registry = store.registry().await?;

    let engine = Engine::new(&registry, config.engine.clone());
    let (events_tx, events_rx) = mpsc::channel::<EngineEvent>(16_384);
    let runner = EngineRunner::start(
        engine.clone(),
        config.engine_shards,
        8192,
        events_tx,
        Duration::from_secs(1),
    );

    let writer = store.track_writer(TrackWriterConfig::default())?;
    let live = LiveHub::new(8192);
    seed_live(&store, &live).await?;
    let bus = Arc::new(InProcessBus::new(
        Arc::new(writer),
        live.clone(),
        runner.inputs().to_vec(),
    ));
    let directory = SharedDirectory::new(&registry);
    let sessions = SessionRegistry::default();
    let gateway = Gateway::new(
        config.gateway.clone(),
        store.clone(),
        bus.clone(),
        directory.clone(),
        sessions.clone(),
        config.sensor_profiles.clone(),
    );

    let jt808 = TcpListener::bind(config.jt808_listen)
        .await
        .map_err(|source| StartError::Bind {
            address: config.jt808_listen,
            source,
        })?;
    let jt808_addr = jt808.local_addr().map_err(|source| StartError::Bind {
        address: config.jt808_listen,
        source,
    })?;
    let http = TcpListener::bind(config.http_listen)
        .await
        .map_err(|source| StartError::Bind {
            address: config.http_listen,
            source,
        })?;
    let http_addr = http.local_addr().map_err(|source| StartError::Bind {
        address: config.http_listen,
        source,
    })?;

    let shutdown = CancellationToken::new();
    // Cancelled only if recording the engine's last findings hangs at shutdown (storage down).
    let drain = CancellationToken::new();
    let registry_changed = Arc::new(Notify::new());
    let cases = CaseService::new(store.clone(), config.cases.clone());
    let case_ticker = cases.spawn_ticker(Duration::from_secs(60), shutdown.clone());

    // Registry reloads: a fence change reaches the engine and the gateway at once.
    let reloader = tokio::spawn(reload_registry(
        store.clone(),
        engine.clone(),
        directory.clone(),
        registry_changed.clone(),
        shutdown.clone(),
    ));
    // Engine events: violations into the case service (which stores them), the live stream.
    let recorder = tokio::spawn(record_events(
        store.clone(),
        cases.clone(),
        live.clone(),
        events_rx,
        drain.clone(),
    ));

    let gateway_shutdown = gateway.shutdown_token();
    let gateway_task = tokio::spawn(async move { gateway.serve(jt808).await });

    let generated_admin_token = match &config.admin_token {
        Some(token) => {
            seed_admin_token(&store, token, "admin (configured)").await?;
            None
        }
        None => {
            let token = new_token();
            seed_admin_token(&store, &token, "admin (generated at start)").await?;
            Some(token)
        }
    };
    let mut api_state = ApiState::new(
        store.clone(),
        cases.clone(),
        live.clone(),
        sessions.clone(),
        registry_changed.clone(),
    );
    api_state.console = Arc::new(config.console.clone());
    let http_shutdown = shutdown.clone();
    let http_task = tokio::spawn(async move {
        let app = crate::api::app(api_state);
        let _ = axum::serve(
            http,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
        .await;
    });

    let caller_store = store.clone();
    let stopper = shutdown.clone();
    let done = tokio::spawn(async move {
        stopper.cancelled().await;
        gateway_shutdown.cancel();
        let _ = gateway_task.await;
        // The gateway is gone: no more publishers. Dropping the bus closes the engine inputs.
        drop(bus);
        runner.shutdown().await;
        let mut recorder = recorder;
        if tokio::time::timeout(Duration::from_secs(30), &mut recorder)
            .await
            .is_err()
        {
            tracing::error!("Engine findings could not all be recorded before shutdown.");
            drain.cancel();
            let _ = recorder.await;
        }
        let _ = case_ticker.await;
        let _ = http_task.await;
        reloader.abort();
        store.close().await;
        tracing::info!("haulwatch stopped.");
    });

    Ok(Running {
        jt808_addr,
        http_addr,
        store: caller_store,
        live,
        sessions,
        registry_changed,
        cases,
        generated_admin_token,
        shutdown,
        done,
    })
}

/// Fills the live stream with what the store knows (latest positions, open violations), so
/// map clients see every truck at once after a restart.
async fn seed_live(store: &Store, live: &LiveHub) -> Result<(), StoreError> {
    for position in store.latest_positions().await? {
        live.publish_position(&position);
    }
    let mut query = crate::store::ViolationQuery {
        status: Some(crate::model::ViolationStatus::Open),
        limit: crate::store::MAX_PAGE,
        ..Default::default()
    };
    loop {
        let page = store.list_violations(&query).await?;
        for violation in &page.items {
            live.publish_violation(violation);
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(()),
        }
    }
}

/// Reloads the registry into the engine and the gateway's directory whenever notified.
async fn reload_registry(
    store: Store,
    engine: Arc<Engine>,
    directory: SharedDirectory,
    changed: Arc<Notify>,
    shutdown: CancellationToken,
) {
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = changed.notified() => {}
        }
        match store.registry().await {
            Ok(registry) => {
                let report = engine.swap_registry(&registry);
                directory.update(&registry);
                tracing::info!(?report, "Registry reloaded.");
            }
            Err(error) => tracing::error!(%error, "Registry reload failed; keeping the old one."),
        }
    }
}

/// Records what the engine finds: violations go to the case service (which stores the episode,
/// opens or joins a case, retrying until stored since the evidence must not be lost) and onto
/// the live stream; trips into the store.
async fn record_events(
    store: Store,
    cases: CaseService,
    live: LiveHub,
    mut events: mpsc::Receiver<EngineEvent>,
    drain: CancellationToken,
) {
    while let Some(event) = events.recv().await {
        match event {
            EngineEvent::Violation(event) => {
                live.publish_violation(&event.violation);
                if cases
                    .record_violation(&event.violation, &drain)
                    .await
                    .is_none()
                {
                    tracing::error!(id = %event.violation.id, "Violation not recorded.");
                }
            }
            EngineEvent::Trip(trip) => {
                if let Err(error) = store.upsert_trip(&trip).await {
                    tracing::warn!(%error, id = %trip.id, "Trip could not be recorded.");
                }
            }
            EngineEvent::Classified(_) => {}
        }
    }
}
