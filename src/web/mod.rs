//! The web console: a single-page application (plain ES modules, no build step) and its map
//! library, Leaflet, embedded into the binary so that `cargo run` serves a complete console
//! offline, with no Node and no CDN.
//!
//! The console talks only to the HTTP API (`docs/api.md`); this module serves its static files:
//! `/` is the page, `/assets/{*path}` everything it loads. The API merges [`router`] into the
//! application router.
//!
//! Caching: the console's own files are revalidated on every load (`no-cache` with a strong
//! `ETag`, so an unchanged file costs a `304`), because their names do not change between
//! releases. Vendored libraries live under a versioned directory (`vendor/leaflet-1.9.4/`), so
//! they are cached for a year as immutable.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;

/// The console's files, compiled into the binary. `debug-embed` makes debug builds embed them
/// too, so no build ever reads the source tree at run time (and no request path can reach it).
#[derive(RustEmbed)]
#[folder = "src/web/assets/"]
struct ConsoleAssets;

/// The page every console URL starts from (routes after `#` are the page's own).
const INDEX: &str = "index.html";

/// Assets below this prefix sit in versioned directories and never change in place.
const VENDOR_PREFIX: &str = "vendor/";

/// Content-Security-Policy of the page: scripts only from this origin, no inline script, no
/// plug-ins, no framing. Images may come from any tile server the bureau configures; the API and
/// the live WebSocket are same-origin.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: http: https:; \
     connect-src 'self'; frame-src 'self' blob:; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Routes of the console's static files: `/` (the page) and `/assets/{*path}`.
///
/// The router has no state, so the API can `merge` it into its own after `with_state`.
pub fn router() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

/// `GET /`: the console page.
async fn index(request_headers: HeaderMap) -> Response {
    serve(INDEX, &request_headers)
}

/// `GET /assets/{*path}`: one embedded file.
async fn asset(Path(path): Path<String>, request_headers: HeaderMap) -> Response {
    if !is_plain_relative_path(&path) {
        return not_found();
    }
    serve(&path, &request_headers)
}

/// Whether `path` is a plain relative path: no empty, `.` or `..` segments, no backslashes or
/// NULs. The embedded table cannot be escaped anyway, but a request that tries gets a plain 404
/// before any lookup.
fn is_plain_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0'])
        && path
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
}

/// Answers with the embedded file `path`, or 404; `304` when the caller already has it.
fn serve(path: &str, request_headers: &HeaderMap) -> Response {
    let Some(file) = ConsoleAssets::get(path) else {
        return not_found();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type_for(path)),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control_for(path)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path == INDEX {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if etag_matches(request_headers, &etag) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    (StatusCode::OK, headers, file.data.into_owned()).into_response()
}

/// Whether the request's `If-None-Match` names `etag` (or `*`). Weak tags compare equal to the
/// strong one, as RFC 9110 requires for `If-None-Match`.
fn etag_matches(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == "*" || candidate == etag)
}

/// `Cache-Control` for an asset: vendored files are versioned by directory and immutable; the
/// console's own files must be revalidated so that an upgrade shows at once.
fn cache_control_for(path: &str) -> &'static str {
    if path.starts_with(VENDOR_PREFIX) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

/// `Content-Type` by file extension. The list covers every kind of file in the assets folder (a
/// unit test checks that); anything else is served as opaque bytes.
fn content_type_for(path: &str) -> &'static str {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let extension = match file_name.rsplit_once('.') {
        Some((_, extension)) => extension.to_ascii_lowercase(),
        None if file_name == "LICENSE" => return "text/plain; charset=utf-8",
        None => return "application/octet-stream",
    };
    match extension.as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// 404 in the API's error shape, so that clients handle one format.
fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"error":{"code":"not_found","message":"no such console file"}}"#,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
