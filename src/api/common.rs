//! Request and response pieces every endpoint shares: JSON bodies and query strings that
//! answer 400 naming the field at fault, list pages, and time ranges.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, ErrorCode};
use crate::store::Page;

/// A JSON body. Malformed JSON, wrong types and missing fields answer 400 with the JSON path of
/// the field at fault; a body over the route's limit answers 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> ApiResult<ApiJson<T>> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(ErrorCode::PayloadTooLarge, "request body is too large")
                } else {
                    ApiError::invalid("body", rejection.body_text())
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses JSON, naming the field at fault on error.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let message = inner.to_string();
        let field = missing_field(&message)
            .map(|name| join_path(&path, name))
            .unwrap_or_else(|| {
                if path == "." || path == "?" {
                    "body".to_string()
                } else {
                    path
                }
            });
        ApiError::invalid(field, message)
    })
}

/// A query string, parsed like [`ApiJson`]: 400 with the parameter at fault.
///
/// Query structs must not use `#[serde(flatten)]` (numbers inside a flattened struct do not
/// parse from query strings).
#[derive(Debug, Clone, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<ApiQuery<T>> {
        parse_query(parts.uri.query().unwrap_or("")).map(ApiQuery)
    }
}

/// Parses a query string, naming the parameter at fault on error.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> ApiResult<T> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = missing_field(&message)
            .map(str::to_string)
            .unwrap_or_else(|| {
                if path == "." || path == "?" {
                    "query".to_string()
                } else {
                    path
                }
            });
        ApiError::invalid(field, message)
    })
}

/// The name in serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

fn join_path(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A page of a list: `{"items": [...], "next": cursor-or-null}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListResponse<T> {
    /// Items of this page.
    pub items: Vec<T>,
    /// Pass as `?cursor=` for the next page; null on the last page.
    pub next: Option<String>,
}

impl<T> ListResponse<T> {
    /// A page from items and a next cursor.
    pub fn new(items: Vec<T>, next: Option<String>) -> ListResponse<T> {
        ListResponse { items, next }
    }

    /// A store page with its items mapped.
    pub fn from_page<U>(page: Page<U>, map: impl FnMut(U) -> T) -> ListResponse<T> {
        ListResponse {
            items: page.items.into_iter().map(map).collect(),
            next: page.next_cursor,
        }
    }
}

/// The largest `?limit=`.
pub const MAX_LIMIT: u32 = 1000;

/// Checks a `?limit=` (1..=1000; absent means the default, 100).
pub fn check_limit(limit: Option<u32>) -> ApiResult<u32> {
    match limit {
        None => Ok(0),
        Some(0) => Err(ApiError::invalid("limit", "limit must be at least 1")),
        Some(n) if n > MAX_LIMIT => Err(ApiError::invalid(
            "limit",
            format!("limit must be at most {MAX_LIMIT}"),
        )),
        Some(n) => Ok(n),
    }
}

/// Checks a `?cursor=` for obvious garbage (the store rejects anything it did not make).
pub fn check_cursor(cursor: Option<String>) -> ApiResult<Option<String>> {
    match cursor {
        Some(c) if c.len() > 512 => Err(ApiError::invalid("cursor", "invalid cursor")),
        other => Ok(other),
    }
}

/// Deserializes an optional RFC 3339 time with any offset. A `+` in a query string arrives as
/// a space after URL decoding; it is read back as `+` so unencoded offsets still work.
pub fn opt_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    match raw {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => parse_time(&s).map(Some).map_err(serde::de::Error::custom),
    }
}

/// Parses an RFC 3339 time (any offset) into UTC.
pub fn parse_time(raw: &str) -> Result<DateTime<Utc>, String> {
    let fixed = raw.trim().replace(' ', "+");
    DateTime::parse_from_rfc3339(&fixed)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("not an RFC 3339 time ({e}): {raw:?}"))
}

/// A checked time range: `from` before `to`, at most `max` long. Absent ends default to
/// `to = now` and `from = to - default_span`.
pub fn time_range(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    default_span: chrono::Duration,
    max: chrono::Duration,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let to = match (from, to) {
        (_, Some(to)) => to,
        (Some(from), None) => from
            .checked_add_signed(default_span)
            .map_or(Utc::now(), |t| t.min(Utc::now()).max(from)),
        (None, None) => Utc::now(),
    };
    let from = match from {
        Some(from) => from,
        None => to
            .checked_sub_signed(default_span)
            .ok_or_else(|| ApiError::invalid("to", "time out of range"))?,
    };
    if from > to {
        return Err(ApiError::invalid("from", "from is after to"));
    }
    if to - from > max {
        return Err(ApiError::invalid(
            "to",
            format!("time range longer than {} days", max.num_days()),
        ));
    }
    Ok((from, to))
}

/// Checks an id from a path or body: non-empty, at most 128 bytes, no control characters.
pub fn check_id(field: &str, id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 128 || id.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            field,
            "ids are 1 to 128 characters without control characters",
        ));
    }
    Ok(())
}

/// Checks a latitude/longitude pair (WGS-84).
pub fn check_lat_lon(lat: f64, lon: f64) -> ApiResult<()> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(ApiError::invalid("lat", "latitude must be within -90..90"));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(ApiError::invalid(
            "lon",
            "longitude must be within -180..180",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Q {
        from: Option<String>,
        limit: Option<u32>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        polygon: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let error = parse_query::<Q>("limit=abc").expect_err("must fail");
        assert_eq!(error.field.as_deref(), Some("limit"));
        assert!(parse_query::<Q>("limit=5&from=x").is_ok());
    }

    #[test]
    fn json_errors_name_the_path() {
        let error = parse_json::<Body>(br#"{"polygon": {"n": "x"}}"#).expect_err("must fail");
        assert_eq!(error.field.as_deref(), Some("polygon.n"));
        let error = parse_json::<Body>(br#"{"polygon": {}}"#).expect_err("must fail");
        assert_eq!(error.field.as_deref(), Some("polygon.n"));
        let error = parse_json::<Body>(b"{not json").expect_err("must fail");
        assert_eq!(error.field.as_deref(), Some("body"));
    }

    #[test]
    fn time_ranges_are_checked() {
        let t = parse_time("2026-01-01T08:00:00+08:00").expect("parses");
        assert_eq!(t.to_rfc3339(), "2026-01-01T00:00:00+00:00");
        assert!(parse_time("2026-01-01T08:00:00 08:00").is_ok());
        let day = chrono::Duration::days(1);
        let error = time_range(Some(t), Some(t - day), day, day).expect_err("reversed");
        assert_eq!(error.field.as_deref(), Some("from"));
        let error = time_range(Some(t), Some(t + day * 3), day, day).expect_err("too long");
        assert_eq!(error.field.as_deref(), Some("to"));
    }
}
