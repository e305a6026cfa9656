//! Unit tests of the console's static router, through tower's `oneshot`.

use super::*;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request};
use std::collections::BTreeSet;
use std::path::{Path as FsPath, PathBuf};
use tower::ServiceExt;

/// One request through a fresh router: status, headers, body.
async fn fetch(
    method: Method,
    uri: &str,
    extra: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Body::empty()).expect("request");
    let response = router().oneshot(request).await.expect("infallible router");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 64 * 1024 * 1024)
        .await
        .expect("body");
    (status, headers, body.to_vec())
}

async fn get(uri: &str) -> (StatusCode, HeaderMap, Vec<u8>) {
    fetch(Method::GET, uri, &[]).await
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

fn assets_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/web/assets")
}

/// Every file under the assets folder, as paths relative to it with `/` separators.
fn files_on_disk(dir: &FsPath, prefix: &str, out: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).expect("read assets dir") {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        if entry.file_type().expect("file type").is_dir() {
            files_on_disk(&entry.path(), &relative, out);
        } else {
            out.insert(relative);
        }
    }
}

#[tokio::test]
async fn index_is_html_with_policy_and_revalidation() {
    let (status, headers, body) = get("/").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&headers, header::CACHE_CONTROL), "no-cache");
    assert_eq!(header(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    let csp = header(&headers, header::CONTENT_SECURITY_POLICY);
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-eval"), "{csp}");
    let html = String::from_utf8(body).expect("utf-8");
    assert!(html.contains(r#"<main id="app""#), "{html}");
    assert!(html.contains("/assets/js/main.js"), "{html}");
    // Offline: nothing may be loaded from another host.
    assert!(!html.contains("//unpkg") && !html.contains("cdn"), "{html}");
}

#[tokio::test]
async fn assets_have_their_content_types() {
    let cases = [
        ("/assets/js/main.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
        (
            "/assets/vendor/leaflet-1.9.4/leaflet.js",
            "text/javascript; charset=utf-8",
        ),
        (
            "/assets/vendor/leaflet-1.9.4/leaflet.css",
            "text/css; charset=utf-8",
        ),
        (
            "/assets/vendor/leaflet-1.9.4/images/layers.png",
            "image/png",
        ),
        (
            "/assets/vendor/leaflet-1.9.4/LICENSE",
            "text/plain; charset=utf-8",
        ),
    ];
    for (uri, expected) in cases {
        let (status, headers, body) = get(uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(header(&headers, header::CONTENT_TYPE), expected, "{uri}");
        let on_disk = std::fs::read(assets_dir().join(uri.trim_start_matches("/assets/")))
            .expect("asset on disk");
        assert_eq!(body, on_disk, "{uri} served byte for byte");
    }
}

#[tokio::test]
async fn vendored_files_are_immutable_and_own_files_revalidate() {
    let (_, vendor, _) = get("/assets/vendor/leaflet-1.9.4/leaflet.js").await;
    assert_eq!(
        header(&vendor, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    let (_, own, _) = get("/assets/js/main.js").await;
    assert_eq!(header(&own, header::CACHE_CONTROL), "no-cache");
    assert!(header(&own, header::ETAG).starts_with('"'));
}

#[tokio::test]
async fn matching_etag_answers_not_modified_without_body() {
    let (_, headers, _) = get("/assets/app.css").await;
    let etag = header(&headers, header::ETAG).to_owned();
    assert_eq!(etag.len(), 66, "quoted sha-256: {etag}");
    let (status, headers, body) =
        fetch(Method::GET, "/assets/app.css", &[("if-none-match", &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(header(&headers, header::ETAG), etag);
    let weak = format!("\"other\", W/{etag}");
    let (status, _, _) = fetch(Method::GET, "/assets/app.css", &[("if-none-match", &weak)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    let (status, _, body) = fetch(
        Method::GET,
        "/assets/app.css",
        &[("if-none-match", "\"stale\"")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(!body.is_empty());
}

#[tokio::test]
async fn head_answers_headers_only() {
    let (status, headers, body) = fetch(Method::HEAD, "/assets/js/main.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        header(&headers, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert!(body.is_empty());
}

#[tokio::test]
async fn unknown_assets_are_404_in_the_api_error_shape() {
    for uri in [
        "/assets/nope.js",
        "/assets/js/",
        "/assets/vendor/leaflet-0.0.1/leaflet.js",
    ] {
        let (status, headers, body) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(
            header(&headers, header::CONTENT_TYPE),
            "application/json",
            "{uri}"
        );
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json error");
        assert_eq!(json["error"]["code"], "not_found", "{uri}");
    }
    let (status, _, _) = get("/index.htm").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn no_path_traversal() {
    let attempts = [
        "/assets/../mod.rs",
        "/assets/../../../Cargo.toml",
        "/assets/%2e%2e/mod.rs",
        "/assets/%2e%2e%2f%2e%2e%2fCargo.toml",
        "/assets/js/..%2f..%2fmod.rs",
        "/assets/js/../index.html",
        "/assets/./index.html",
        "/assets//etc/passwd",
        "/assets/%2fetc%2fpasswd",
        "/assets/..%5cmod.rs",
        "/assets/js%00.js",
    ];
    for uri in attempts {
        let (status, _, body) = get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        let text = String::from_utf8_lossy(&body);
        assert!(
            !text.contains("RustEmbed") && !text.contains("[package]"),
            "{uri}: {text}"
        );
    }
}

#[test]
fn plain_relative_paths() {
    assert!(is_plain_relative_path("js/main.js"));
    assert!(is_plain_relative_path(
        "vendor/leaflet-1.9.4/images/layers.png"
    ));
    for bad in [
        "",
        "/etc/passwd",
        "a//b",
        "../x",
        "a/../b",
        "a/./b",
        "a\\b",
        "a\0b",
        "a/",
    ] {
        assert!(!is_plain_relative_path(bad), "{bad:?}");
    }
}

#[test]
fn every_file_on_disk_is_embedded_with_a_known_content_type() {
    let mut on_disk = BTreeSet::new();
    files_on_disk(&assets_dir(), "", &mut on_disk);
    let embedded: BTreeSet<String> = ConsoleAssets::iter().map(|p| p.into_owned()).collect();
    assert_eq!(embedded, on_disk);
    assert!(on_disk.len() > 10, "{on_disk:?}");
    for path in &on_disk {
        assert_ne!(content_type_for(path), "application/octet-stream", "{path}");
    }
}

/// Relative module specifiers in a JS file: `from './x.js'`, `import './x.js'`, `import('./x.js')`.
fn relative_imports(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in [
        "from '",
        "from \"",
        "import '",
        "import \"",
        "import('",
        "import(\"",
    ] {
        let mut rest = source;
        while let Some(at) = rest.find(marker) {
            rest = &rest[at + marker.len()..];
            let quote = marker.chars().last().unwrap_or('\'');
            if let Some(end) = rest.find(quote) {
                let specifier = &rest[..end];
                if specifier.starts_with("./") || specifier.starts_with("../") {
                    found.push(specifier.to_owned());
                }
            }
        }
    }
    found
}

/// Resolves `specifier` against the directory of `from` (both asset paths).
fn resolve(from: &str, specifier: &str) -> String {
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for segment in specifier.split('/') {
        match segment {
            "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

#[test]
fn every_module_import_and_page_reference_resolves() {
    let mut checked = 0;
    for path in ConsoleAssets::iter() {
        if !path.ends_with(".js") || path.starts_with(VENDOR_PREFIX) {
            continue;
        }
        let file = ConsoleAssets::get(&path).expect("listed asset");
        let source = String::from_utf8(file.data.into_owned()).expect("utf-8 module");
        for specifier in relative_imports(&source) {
            let target = resolve(&path, &specifier);
            assert!(
                ConsoleAssets::get(&target).is_some(),
                "{path} imports missing {specifier} ({target})"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} imports seen");
    let index = ConsoleAssets::get(INDEX).expect("index");
    let html = String::from_utf8(index.data.into_owned()).expect("utf-8");
    let mut references = 0;
    for piece in html.split("\"/assets/").skip(1) {
        let path = piece.split('"').next().unwrap_or_default();
        assert!(
            ConsoleAssets::get(path).is_some(),
            "index.html references missing {path}"
        );
        references += 1;
    }
    assert_eq!(references, 5, "favicon, 2 stylesheets, 2 scripts");
}

#[test]
fn console_never_inserts_markup_from_strings() {
    // Server text must reach the DOM as text: no innerHTML/outerHTML/insertAdjacentHTML or
    // document.write anywhere in the console's own code.
    for path in ConsoleAssets::iter() {
        if !path.ends_with(".js") || path.starts_with(VENDOR_PREFIX) {
            continue;
        }
        let file = ConsoleAssets::get(&path).expect("listed asset");
        let source = String::from_utf8(file.data.into_owned()).expect("utf-8 module");
        for forbidden in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!source.contains(forbidden), "{path} uses {forbidden}");
        }
    }
}

#[test]
fn content_types_by_extension() {
    assert_eq!(content_type_for("a/b.JS"), "text/javascript; charset=utf-8");
    assert_eq!(content_type_for("x.woff2"), "font/woff2");
    assert_eq!(
        content_type_for("vendor/x/LICENSE"),
        "text/plain; charset=utf-8"
    );
    assert_eq!(content_type_for("noextension"), "application/octet-stream");
    assert_eq!(
        content_type_for("archive.tar.gz"),
        "application/octet-stream"
    );
}
