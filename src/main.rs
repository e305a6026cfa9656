//! The `haulwatch` command line: one binary for every job.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use haulwatch::import::{self, ImportError};
use haulwatch::store::{Store, StoreConfig};

/// haulwatch: construction-waste truck monitoring (JT/T 808 ingest, geofence rules,
/// enforcement cases).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decode JT/T 808 frames given as hex into JSON, one object per frame.
    Decode {
        /// Accept frames with a bad checksum (reported as "checksum_ok": false), a bare 0x7D
        /// checksum or a body length that does not match.
        #[arg(long)]
        lenient: bool,
        /// Frames as hex, one per argument, spaces ignored. Without any, frames are read from
        /// stdin, one per line.
        hex: Vec<String>,
    },
    /// Apply database migrations (also done at every start) and print the schema versions.
    Migrate {
        /// Where the data lives.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Validate a registry bundle (registry.json + *.geojson) and import it in one transaction.
    /// Every fault is printed; on any fault nothing is imported and the exit code is 1.
    Import {
        /// The bundle directory, e.g. geofences/liuzhou.
        dir: PathBuf,
        /// Only validate; do not touch the database.
        #[arg(long)]
        check: bool,
        /// Where the data lives.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The enforcement audit trail (执法全过程记录).
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run the platform: the JT/T 808 gateway, the rule engine, the case service, the HTTP API
    /// and the web console.
    Serve(ServeArgs),
    /// Run a simulated JT/T 808 fleet against a server over TCP.
    Simulate(SimulateArgs),
    /// The whole platform in one process, nothing to install: the Liuzhou sample city in a
    /// fresh embedded store, the console and API, and 200 simulated trucks (a few breaking
    /// rules, so cases open within a minute).
    Demo(DemoArgs),
}

/// Options of `demo`.
#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Data directory (must be new or empty); default `data/demo-<UTC time>`.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// HTTP listen address (console and API).
    #[arg(long, env = "HAULWATCH_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    http_listen: std::net::SocketAddr,
    /// JT/T 808 listen address for the simulated trucks.
    #[arg(long, default_value = "127.0.0.1:6808")]
    jt808_listen: std::net::SocketAddr,
    /// Password of every demo login.
    #[arg(
        long,
        env = "HAULWATCH_DEMO_PASSWORD",
        default_value = "haulwatch",
        hide_env_values = true
    )]
    password: String,
    /// Simulated trucks.
    #[arg(long, default_value_t = 200)]
    trucks: usize,
    /// Seconds between a truck's reports.
    #[arg(long, default_value_t = 5)]
    report_interval_secs: u64,
    /// Console map settings.
    #[command(flatten)]
    map: MapArgs,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the whole audit hash chain, its kept head, and every evidence file against the
    /// hashes recorded at upload. Prints OK with counts, or names the first event (and every
    /// evidence file) that does not match and exits with code 1.
    Verify {
        /// Where the data lives (evidence files are under --data-dir for both backends).
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Options of `serve`.
#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where the data lives.
    #[command(flatten)]
    store: StoreArgs,
    /// JT/T 808 listen address.
    #[arg(long, env = "HAULWATCH_JT808_LISTEN", default_value = "0.0.0.0:6808")]
    jt808_listen: std::net::SocketAddr,
    /// HTTP listen address (API and console).
    #[arg(long, env = "HAULWATCH_HTTP_LISTEN", default_value = "127.0.0.1:8080")]
    http_listen: std::net::SocketAddr,
    /// Admin API token to seed; without it a random one is printed once.
    #[arg(long, env = "HAULWATCH_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Most simultaneous terminal connections.
    #[arg(long, default_value_t = 100_000)]
    max_connections: usize,
    /// Terminal heartbeat interval in seconds; a connection silent for three of them is closed.
    #[arg(long, default_value_t = 60)]
    heartbeat_secs: u64,
    /// Most frames per second one connection may send.
    #[arg(long, default_value_t = 200)]
    max_frames_per_second: u32,
    /// Longest escaped frame accepted, bytes.
    #[arg(long, default_value_t = jt808::DEFAULT_MAX_FRAME_LEN)]
    max_frame_len: usize,
    /// Accept frames with bad checksums (some device models need it).
    #[arg(long)]
    lenient_checksum: bool,
    /// Sensor profiles by terminal model (JSON; see src/ingest/sensors.rs).
    #[arg(long)]
    sensor_profiles: Option<PathBuf>,
    /// Engine worker tasks.
    #[arg(long, default_value_t = 2)]
    engine_shards: usize,
    /// Keep track positions this many days (PostgreSQL drops whole day partitions).
    #[arg(long)]
    retention_days: Option<u32>,
    /// Console map settings.
    #[command(flatten)]
    map: MapArgs,
}

/// The console's base map.
#[derive(Debug, Clone, clap::Args)]
struct MapArgs {
    /// Tile URL template for the console's base map (`{z}`, `{x}`, `{y}`, `{s}`); none draws
    /// fences on a plain background (works offline).
    #[arg(long, env = "HAULWATCH_TILES_URL")]
    tiles_url: Option<String>,
    /// Coordinate system the tiles are drawn in: `wgs84` (Tianditu, OSM) or `gcj02` (AMap).
    #[arg(long, env = "HAULWATCH_TILES_COORD_SYS", default_value = "wgs84", value_parser = ["wgs84", "gcj02"])]
    tiles_coord_sys: String,
    /// Attribution shown under the tiles.
    #[arg(long, env = "HAULWATCH_TILES_ATTRIBUTION", default_value = "")]
    tiles_attribution: String,
    /// Subdomains substituted for `{s}`.
    #[arg(long, env = "HAULWATCH_TILES_SUBDOMAINS")]
    tiles_subdomains: Option<String>,
    /// Map centre as `lat,lon` (WGS-84).
    #[arg(long, env = "HAULWATCH_MAP_CENTER", default_value = "24.326,109.428", value_parser = parse_lat_lon)]
    map_center: [f64; 2],
    /// Initial map zoom.
    #[arg(long, env = "HAULWATCH_MAP_ZOOM", default_value_t = 12, value_parser = clap::value_parser!(u8).range(1..=20))]
    map_zoom: u8,
}

impl MapArgs {
    /// The console settings these options describe.
    fn console(&self) -> haulwatch::api::ConsoleConfig {
        haulwatch::api::ConsoleConfig {
            tiles: self
                .tiles_url
                .clone()
                .map(|url| haulwatch::api::TileConfig {
                    url,
                    coord_sys: self.tiles_coord_sys.clone(),
                    attribution: self.tiles_attribution.clone(),
                    subdomains: self.tiles_subdomains.clone(),
                    max_zoom: None,
                }),
            center: self.map_center,
            zoom: self.map_zoom,
        }
    }
}

/// Parses `lat,lon`.
fn parse_lat_lon(raw: &str) -> Result<[f64; 2], String> {
    let (lat, lon) = raw
        .split_once(',')
        .ok_or_else(|| "expected lat,lon".to_string())?;
    let lat: f64 = lat.trim().parse().map_err(|e| format!("latitude: {e}"))?;
    let lon: f64 = lon.trim().parse().map_err(|e| format!("longitude: {e}"))?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err("latitude must be within -90..90 and longitude within -180..180".into());
    }
    Ok([lat, lon])
}

/// Options of `simulate`.
#[derive(Debug, clap::Args)]
struct SimulateArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:6808")]
    server: std::net::SocketAddr,
    /// Number of trucks.
    #[arg(long, default_value_t = 10)]
    trucks: usize,
    /// Seconds between a truck's reports; 0 sends the next as soon as the last is
    /// acknowledged (load test).
    #[arg(long, default_value_t = 10.0)]
    interval: f64,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    duration: Option<f64>,
    /// Header layout: registry (each terminal's own), 2013 or 2019.
    #[arg(long, default_value = "registry")]
    protocol: String,
    /// Registry bundle whose trucks drive its routes (without it, random walks).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Scenario file making chosen trucks break chosen rules.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Seconds over which connections are opened.
    #[arg(long, default_value_t = 5.0)]
    ramp_up: f64,
    /// Local source addresses to spread connections over (e.g. 127.0.0.2,127.0.0.3).
    #[arg(long, value_delimiter = ',')]
    source: Vec<std::net::IpAddr>,
    /// Only heartbeats, every --heartbeat seconds (idle-connection test).
    #[arg(long)]
    heartbeat_only: bool,
    /// Heartbeat interval, seconds.
    #[arg(long, default_value_t = 60.0)]
    heartbeat: f64,
    /// Seconds before rates and latencies are measured (connections settle first).
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// The server is a bare benchmark baseline: skip registration and authentication and take
    /// any 0x8001 as the acknowledgement.
    #[arg(long)]
    baseline: bool,
    /// Print the final report as JSON.
    #[arg(long)]
    json: bool,
}

/// Where the store is: PostgreSQL by URL, or the embedded SQLite database in a directory.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// PostgreSQL URL (postgres://user@host/db). Without it the embedded SQLite database in
    /// --data-dir is used.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "HAULWATCH_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

impl StoreArgs {
    async fn open(&self) -> anyhow::Result<Store> {
        let config = StoreConfig::new(self.database_url.clone(), self.data_dir.clone());
        Store::open(config).await.context("cannot open the store")
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let command = Cli::parse().command;
    if let Command::Decode { lenient, hex } = &command {
        let result = haulwatch::decode::run(
            hex,
            *lenient,
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        );
        return match result {
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
        };
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    match command {
        Command::Decode { .. } => Ok(ExitCode::SUCCESS),
        Command::Migrate { store } => runtime.block_on(async {
            let store = store.open().await?;
            let versions = store.migrate().await.context("migration failed")?;
            println!(
                "Schema is up to date on {:?}; applied migrations: {versions:?}",
                store.backend()
            );
            anyhow::Ok(ExitCode::SUCCESS)
        }),
        Command::Import { dir, check, store } => runtime.block_on(async {
            if check {
                return match import::load_bundle(&dir) {
                    Ok(registry) => {
                        println!(
                            "{} is valid: {} companies, {} vehicles, {} terminals, {} sites, \
                             {} disposal grounds, {} routes, {} zones, {} permits",
                            dir.display(),
                            registry.companies.len(),
                            registry.vehicles.len(),
                            registry.terminals.len(),
                            registry.sites.len(),
                            registry.disposal_grounds.len(),
                            registry.routes.len(),
                            registry.zones.len(),
                            registry.permits.len()
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(faults) => report_faults(&dir, &faults),
                };
            }
            let store = store.open().await?;
            match import::import_bundle(&store, &dir).await {
                Ok(summary) => {
                    println!(
                        "Imported {}: {}",
                        dir.display(),
                        serde_json::to_string(&summary)?
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(ImportError::Faults(faults)) => report_faults(&dir, &faults),
                Err(ImportError::Store(error)) => {
                    Err(error).context("import failed; nothing was imported")
                }
            }
        }),
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Demo(args) => runtime.block_on(demo(args)),
        Command::Simulate(args) => runtime.block_on(simulate(args)),
        Command::Audit {
            command: AuditCommand::Verify { store },
        } => runtime.block_on(async {
            let store = store.open().await?;
            let service = haulwatch::cases::service::CaseService::new(store, Default::default());
            let report = service
                .verify_audit()
                .await
                .context("cannot read the audit trail")?;
            print_audit_report(&report);
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }),
    }
}

/// Prints the verification result: one OK line, or every fault found.
fn print_audit_report(report: &haulwatch::cases::service::AuditVerification) {
    use haulwatch::cases::service::EvidenceFault;
    if report.is_ok() {
        println!(
            "OK: audit chain of {} events verified (head {} {}); {} evidence files match their \
             recorded SHA-256",
            report.events_checked,
            report.kept_head.seq,
            report.kept_head.hash,
            report.evidence_checked
        );
        return;
    }
    if let Some(fault) = &report.chain_fault {
        println!(
            "FAILED: audit event {} does not match: {} ({} events before it verified)",
            fault.event_seq, fault.reason, report.events_checked
        );
    }
    for fault in &report.evidence_faults {
        match fault {
            EvidenceFault::Missing {
                evidence_id,
                sha256,
            } => println!("FAILED: evidence {evidence_id}: file {sha256} is missing"),
            EvidenceFault::Altered {
                evidence_id,
                expected,
                found,
            } => println!(
                "FAILED: evidence {evidence_id}: file hashes to {found}, recorded {expected}"
            ),
            EvidenceFault::RecordAltered {
                evidence_id,
                recorded,
                stored,
            } => println!(
                "FAILED: evidence {evidence_id}: record says {stored}, the chain recorded \
                 {recorded}"
            ),
            EvidenceFault::NotInChain { evidence_id } => {
                println!("FAILED: evidence {evidence_id}: no upload event in the audit chain")
            }
        }
    }
}

/// `haulwatch serve`: runs until Ctrl-C or SIGTERM, then shuts down gracefully.
async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    haulwatch::telemetry::init_tracing();
    let _ = haulwatch::telemetry::prometheus();
    let mut store = StoreConfig::new(args.store.database_url.clone(), args.store.data_dir.clone());
    store.retention_days = args.retention_days;
    let mut config = haulwatch::app::ServeConfig::new(store);
    config.jt808_listen = args.jt808_listen;
    config.http_listen = args.http_listen;
    config.admin_token = args.admin_token;
    config.console = args.map.console();
    config.engine_shards = args.engine_shards;
    config.gateway.max_connections = args.max_connections;
    config.gateway.idle_timeout = std::time::Duration::from_secs(args.heartbeat_secs.max(1) * 3);
    config.gateway.max_frames_per_second = args.max_frames_per_second;
    config.gateway.max_frame_len = args.max_frame_len;
    config.gateway.lenient_checksum = args.lenient_checksum;
    if let Some(path) = &args.sensor_profiles {
        config.sensor_profiles = haulwatch::ingest::sensors::SensorProfiles::load(path)?;
    }
    let running = haulwatch::app::start(config).await?;
    println!(
        "haulwatch serving: JT/T 808 on {}, console and API on http://{}",
        running.jt808_addr, running.http_addr
    );
    if let Some(token) = &running.generated_admin_token {
        println!(
            "Admin API token (shown once; set HAULWATCH_ADMIN_TOKEN to choose your own): {token}"
        );
    }
    wait_for_signal().await;
    tracing::info!("Shutting down: finishing in-flight positions.");
    running.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// `haulwatch demo`: runs until Ctrl-C or SIGTERM.
async fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    haulwatch::telemetry::init_tracing();
    let _ = haulwatch::telemetry::prometheus();
    let mut config = haulwatch::demo::DemoConfig::new(args.password.clone());
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    config.http_listen = args.http_listen;
    config.jt808_listen = args.jt808_listen;
    config.trucks = args.trucks;
    config.report_interval = std::time::Duration::from_secs(args.report_interval_secs.max(1));
    config.console = args.map.console();
    let demo = haulwatch::demo::start(config).await?;
    println!();
    println!("haulwatch demo is running.");
    println!("  Console:   {}", demo.console_url);
    for login in &demo.logins {
        println!(
            "  Login:     {:<10} user {:<12} password {}",
            login.role, login.username, args.password
        );
    }
    println!("  Data:      {}", demo.data_dir.display());
    println!(
        "  JT/T 808:  {} ({} simulated trucks)",
        demo.running.jt808_addr, args.trucks
    );
    println!("  Rule breakers (cases open within a minute):");
    for (who, what) in &demo.rule_breakers {
        println!("    {who}: {what}");
    }
    if let Some(token) = &demo.running.generated_admin_token {
        println!("  Admin API token: {token}");
    }
    println!("Press Ctrl-C to stop.");
    wait_for_signal().await;
    demo.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// Waits for Ctrl-C or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `haulwatch simulate`: prints progress every 5 s and a final report.
async fn simulate(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    use haulwatch::sim::{ProtocolChoice, ResolvedScenario, Scenario, SimConfig, SimStats};
    use std::sync::Arc;
    use std::time::Duration;

    haulwatch::telemetry::init_tracing();
    let registry = match &args.bundle {
        Some(dir) => import::load_bundle(dir).map_err(|faults| {
            for fault in &faults {
                eprintln!("{fault}");
            }
            anyhow::anyhow!("{} has {} fault(s)", dir.display(), faults.len())
        })?,
        None => haulwatch::model::Registry::default(),
    };
    let scenario = match &args.scenario {
        Some(path) => Scenario::load(path)?.resolve(&registry)?,
        None => ResolvedScenario::default(),
    };
    let protocol = match args.protocol.as_str() {
        "2013" => ProtocolChoice::V2013,
        "2019" => ProtocolChoice::V2019,
        "registry" => ProtocolChoice::Registry,
        other => anyhow::bail!("--protocol must be registry, 2013 or 2019, not {other:?}"),
    };
    let config = SimConfig {
        server: args.server,
        trucks: args.trucks,
        interval: Duration::from_secs_f64(args.interval.max(0.0)),
        duration: args.duration.map(|d| Duration::from_secs_f64(d.max(0.0))),
        protocol,
        ramp_up: Duration::from_secs_f64(args.ramp_up.max(0.0)),
        source_addresses: args.source.clone(),
        heartbeat_only: args.heartbeat_only,
        heartbeat_interval: Duration::from_secs_f64(args.heartbeat.max(0.1)),
        warmup: Duration::from_secs_f64(args.warmup.max(0.0)),
        baseline: args.baseline,
        ..SimConfig::default()
    };
    let stats = Arc::new(SimStats::default());
    let cancel = tokio_util::sync::CancellationToken::new();
    let progress_stats = stats.clone();
    let started = std::time::Instant::now();
    let progress = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            let r = progress_stats.report(started.elapsed());
            eprintln!(
                "connected {:>6}  sent {:>9}  acknowledged {:>9}  refused {:>6}  {:>8.0}/s",
                progress_stats
                    .connected
                    .load(std::sync::atomic::Ordering::Relaxed),
                r.sent,
                r.acknowledged,
                r.refused,
                r.ack_rate
            );
        }
    });
    let ctrl_c = cancel.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        ctrl_c.cancel();
    });
    let report =
        haulwatch::sim::client::run(config, Arc::new(registry), scenario, stats, cancel).await;
    progress.abort();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "sent {}  acknowledged {}  refused {}  resent {}  registered {}  rejected {}  \
             connection errors {}  rate {:.0}/s  ack p50 {:.2} ms  p99 {:.2} ms",
            report.sent,
            report.acknowledged,
            report.refused,
            report.resent,
            report.registered,
            report.registration_rejected,
            report.connection_errors,
            report.ack_rate,
            report.ack_p50_ms,
            report.ack_p99_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints every fault, one a line, and fails with exit code 1.
fn report_faults(
    dir: &std::path::Path,
    faults: &[import::BundleFault],
) -> anyhow::Result<ExitCode> {
    for fault in faults {
        eprintln!("{fault}");
    }
    eprintln!(
        "{} has {} fault(s); nothing was imported",
        dir.display(),
        faults.len()
    );
    Ok(ExitCode::FAILURE)
}
