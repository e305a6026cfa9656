//! Logs and metrics set-up for the binary: `tracing` to stderr (filter from `RUST_LOG`, default
//! info) and a Prometheus recorder whose text the HTTP server serves on `/metrics`.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the tracing subscriber once; later calls do nothing (tests call it repeatedly).
pub fn init_tracing() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
        // An error means another subscriber is already installed, which is fine.
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(fmt::layer().with_writer(std::io::stderr))
            .try_init();
    });
}

/// The process-wide Prometheus recorder, installed on first use. Metrics recorded before it is
/// installed are lost, so the binary calls this at start-up.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0,
            ])
            .map(|builder| builder.build_recorder())
            .unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
        let handle = recorder.handle();
        // Fails only if another recorder was installed first (tests); the handle still renders
        // this recorder's (empty) view then.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}
