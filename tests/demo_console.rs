//! `haulwatch demo` end to end in a real browser: the demo runs in this process on free ports
//! (fresh data directory, sample city, 200 simulated trucks, a few rule breakers) and the
//! console tests in `tests/browser/e2e/` drive headless Chromium against it: one marker per
//! connected truck, a violation case with its evidence track, a company login that sees only
//! its own trucks, and filing a case. Screenshots land in `target/screenshots/e2e-*.png`.
//!
//! Needs `/usr/bin/chromium` and `tests/browser/node_modules` (`source scripts/services &&
//! ensure_chromium`; `scripts/test` does it). Fails, not skips, without them.

mod browser_support;

use std::path::Path;
use std::time::Duration;

use browser_support::{browser_dir, require_browser};

use anyhow::{Context, bail};
use haulwatch::demo::{DemoConfig, DemoLogin};

const PASSWORD: &str = "e2e-demo-password";

fn login<'a>(logins: &'a [DemoLogin], role: &str) -> anyhow::Result<&'a str> {
    logins
        .iter()
        .find(|l| l.role == role)
        .map(|l| l.username.as_str())
        .with_context(|| format!("the demo prints no {role} login"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_console_in_headless_chromium() -> anyhow::Result<()> {
    let chromium = require_browser()?;

    let data = tempfile::tempdir()?;
    let mut config = DemoConfig::new(PASSWORD.to_string());
    config.data_dir = data.path().join("demo");
    config.http_listen = "127.0.0.1:0".parse()?;
    config.jt808_listen = "127.0.0.1:0".parse()?;
    let demo = haulwatch::demo::start(config).await?;
    let base = demo.console_url.trim_end_matches('/').to_string();

    // Start the browser once the city is running: every truck has reported (so marker counts
    // hold still), and the printed officer has a case opened from a violation (the demo
    // promises cases within the first minutes). Say plainly which did not happen.
    let officer = login(&demo.logins, "officer")?.to_string();
    let started = std::time::Instant::now();
    let mut reporting = (0usize, std::time::Instant::now());
    loop {
        let trucks = demo.running.store.latest_positions().await?.len();
        if trucks != reporting.0 {
            reporting = (trucks, std::time::Instant::now());
        }
        let cases = demo
            .running
            .store
            .list_cases(&haulwatch::store::CaseQuery::default())
            .await?;
        let officer_case = cases
            .items
            .iter()
            .find(|c| c.vehicle_id.is_some() && c.officer_ids.contains(&officer));
        let settled = trucks >= 150 && reporting.1.elapsed() > Duration::from_secs(6);
        if let (true, Some(case)) = (settled, officer_case) {
            println!(
                "after {:.0} s: {trucks} trucks reporting, {} cases, {officer} on {}",
                started.elapsed().as_secs_f64(),
                cases.items.len(),
                case.id
            );
            break;
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!(
                "after 300 s: {trucks} trucks reporting, {} cases, none with a vehicle assigned to {officer}",
                cases.items.len()
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .context("target dir")?
        .join("screenshots");
    let run = tokio::process::Command::new("node")
        .args([
            "--test",
            "--test-reporter=spec",
            "--test-concurrency=1",
            "e2e/",
        ])
        .current_dir(browser_dir())
        .env("HAULWATCH_URL", &base)
        .env("HAULWATCH_CHROMIUM", &chromium)
        .env("HAULWATCH_SCREENSHOTS", &screenshots)
        .env(
            "HAULWATCH_DISPATCHER_USER",
            login(&demo.logins, "dispatcher")?,
        )
        .env("HAULWATCH_DISPATCHER_PASSWORD", PASSWORD)
        .env("HAULWATCH_OFFICER_USER", login(&demo.logins, "officer")?)
        .env("HAULWATCH_OFFICER_PASSWORD", PASSWORD)
        .env("HAULWATCH_COMPANY_USER", login(&demo.logins, "company")?)
        .env("HAULWATCH_COMPANY_PASSWORD", PASSWORD)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(600), run)
        .await
        .context("browser tests took longer than 600 s")?
        .context("cannot run node (Node.js 20 is needed for the browser tests)")?;
    demo.stop().await;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    eprintln!("{stderr}");
    if !output.status.success() {
        bail!(
            "browser tests against the demo failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
    }
    let shots: Vec<_> = std::fs::read_dir(&screenshots)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("e2e-"))
        .collect();
    assert!(
        shots.len() >= 4,
        "expected a screenshot of each page, found {}",
        shots.len()
    );
    Ok(())
}
