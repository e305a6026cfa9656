//! Shared by the browser tests: where the Node test driver lives and the check that Chromium
//! and playwright-core are installed (the tests fail, never skip, without them).

use std::path::{Path, PathBuf};

use anyhow::bail;

/// `tests/browser`, where the Node test files and their `node_modules` live.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// The Chromium to drive (`HAULWATCH_CHROMIUM`, default `/usr/bin/chromium`), after checking it
/// and playwright-core are installed; says how to install them otherwise.
pub fn require_browser() -> anyhow::Result<String> {
    let chromium =
        std::env::var("HAULWATCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        bail!(
            "Chromium not found at {chromium}: run `source scripts/services && ensure_chromium` \
             (Debian packages chromium, chromium-driver)"
        );
    }
    if !browser_dir()
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        bail!(
            "playwright-core is not installed in tests/browser/node_modules: run \
             `source scripts/services && ensure_chromium` (npm ci in tests/browser)"
        );
    }
    Ok(chromium)
}
