//! Browser tests of the web console in headless Chromium.
//!
//! Serves the console's static files (`haulwatch::web::router()`, nothing else) on a loopback
//! port and runs `tests/browser/console.test.mjs` (Node's test runner driving Debian's Chromium
//! through playwright-core) against it. Screenshots land in `target/screenshots/`.
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules` (`source scripts/services &&
//! ensure_chromium` installs both; `scripts/test` does it). Fails, not skips, without them.
//! The end-to-end tests against `haulwatch demo` are in `tests/browser/e2e/`.

#[path = "../browser_support/mod.rs"]
mod browser_support;

use anyhow::{Context, bail};
use std::path::Path;
use std::time::Duration;

use browser_support::{browser_dir, require_browser};

/// Points across mainland China (where both implementations transform) and far outside it
/// (where both leave positions alone), with the Rust crate's GCJ-02 answer.
fn gcj_vectors() -> serde_json::Value {
    let mut points = Vec::new();
    // A grid over Liuzhou's urban area, the sample city.
    for i in 0..8 {
        for j in 0..8 {
            points.push((24.18 + f64::from(i) * 0.04, 109.30 + f64::from(j) * 0.04));
        }
    }
    // Far corners of the mainland: Beijing, Shanghai, Harbin, Urumqi, Kunming, Lhasa, Guangzhou.
    points.extend([
        (39.9042, 116.4074),
        (31.2304, 121.4737),
        (45.8038, 126.5350),
        (43.8256, 87.6168),
        (25.0389, 102.7183),
        (29.6520, 91.1721),
        (23.1291, 113.2644),
    ]);
    // Outside China: London, New York, Null Island.
    points.extend([(51.5072, -0.1276), (40.7128, -74.0060), (0.0, 0.0)]);
    let vectors: Vec<serde_json::Value> = points
        .into_iter()
        .map(|(lat, lon)| {
            let (gcj_lon, gcj_lat) = coordtransform::wgs84_to_gcj02(lon, lat);
            serde_json::json!({ "lat": lat, "lon": lon, "gcj_lat": gcj_lat, "gcj_lon": gcj_lon })
        })
        .collect();
    serde_json::Value::Array(vectors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_in_headless_chromium() -> anyhow::Result<()> {
    let chromium = require_browser()?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, haulwatch::web::router()).await });

    let scratch = tempfile::tempdir()?;
    let vectors_file = scratch.path().join("gcj-vectors.json");
    std::fs::write(&vectors_file, serde_json::to_vec(&gcj_vectors())?)?;
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .context("target dir")?
        .join("screenshots");

    let run = tokio::process::Command::new("node")
        .args(["--test", "--test-reporter=spec", "console.test.mjs"])
        .current_dir(browser_dir())
        .env("HAULWATCH_URL", format!("http://{address}"))
        .env("HAULWATCH_CHROMIUM", &chromium)
        .env("HAULWATCH_GCJ_VECTORS", &vectors_file)
        .env("HAULWATCH_SCREENSHOTS", &screenshots)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .context("browser tests took longer than 240 s")?
        .context("cannot run node (Node.js 20 is needed for the browser tests)")?;
    server.abort();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    if !output.status.success() {
        bail!(
            "browser tests failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
    }
    for name in [
        "console-login-zh.png",
        "console-login-en.png",
        "console-login-error.png",
    ] {
        let shot = screenshots.join(name);
        let size = std::fs::metadata(&shot)
            .with_context(|| format!("screenshot {} missing", shot.display()))?
            .len();
        assert!(size > 5_000, "{} is only {size} bytes", shot.display());
    }
    Ok(())
}
