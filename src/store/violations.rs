//! Violations: one row per episode, upserted by id as the engine opens, updates and closes it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::codec::Ts;
use super::{MAX_PAGE, Page, Store, StoreError, Tx, on_pool, on_tx};
use crate::model::{Violation, ViolationKind, ViolationStatus};

/// Filter and position for a violation list, newest first.
#[derive(Debug, Clone, Default)]
pub struct ViolationQuery {
    /// Only this vehicle.
    pub vehicle_id: Option<String>,
    /// Only this kind.
    pub kind: Option<ViolationKind>,
    /// Only this company.
    pub company_id: Option<String>,
    /// Only open or only closed episodes.
    pub status: Option<ViolationStatus>,
    /// Only episodes still going on at or after this time (ended at/after it, or open).
    pub from: Option<DateTime<Utc>>,
    /// Only episodes that started before this time.
    pub to: Option<DateTime<Utc>>,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
    /// Page size; 0 means 100; capped at [`MAX_PAGE`].
    pub limit: u32,
}

#[derive(sqlx::FromRow)]
struct ViolationRow {
    id: String,
    kind: String,
    vehicle_id: Option<String>,
    phone: String,
    company_id: Option<String>,
    permit_id: Option<String>,
    started_at: Ts,
    ended_at: Option<Ts>,
    status: String,
    lat: f64,
    lon: f64,
    severity: i16,
    evidence: Json<serde_json::Value>,
}

impl TryFrom<ViolationRow> for Violation {
    type Error = StoreError;
    fn try_from(r: ViolationRow) -> Result<Violation, StoreError> {
        Ok(Violation {
            kind: ViolationKind::from_name(&r.kind).ok_or_else(|| {
                StoreError::Corrupt(format!("violation {} kind {:?}", r.id, r.kind))
            })?,
            status: match r.status.as_str() {
                "open" => ViolationStatus::Open,
                "closed" => ViolationStatus::Closed,
                other => {
                    return Err(StoreError::Corrupt(format!(
                        "violation {} status {other:?}",
                        r.id
                    )));
                }
            },
            severity: u8::try_from(r.severity)
                .map_err(|_| StoreError::Corrupt(format!("violation {} severity", r.id)))?,
            id: r.id,
            vehicle_id: r.vehicle_id,
            phone: r.phone,
            company_id: r.company_id,
            permit_id: r.permit_id,
            started_at: r.started_at.0,
            ended_at: r.ended_at.map(|t| t.0),
            lat: r.lat,
            lon: r.lon,
            evidence: r.evidence.0,
        })
    }
}

const VIOLATION_COLUMNS: &str = "id, kind, vehicle_id, phone, company_id, permit_id, started_at, \
     ended_at, status, lat, lon, severity, evidence";

/// A list cursor: the sort key of the last item, `(started_at, id)`, opaque to callers.
fn encode_cursor(v: &Violation) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", v.started_at.timestamp_micros(), v.id))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let (micros, id) = text.split_once('|').ok_or(StoreError::InvalidCursor)?;
    let micros: i64 = micros.parse().map_err(|_| StoreError::InvalidCursor)?;
    let time = DateTime::from_timestamp_micros(micros).ok_or(StoreError::InvalidCursor)?;
    Ok((time, id.to_string()))
}

/// The upsert statement: a closed episode is never reopened by a stale "open" update.
fn upsert_sql() -> String {
    format!(
        "INSERT INTO violations ({VIOLATION_COLUMNS}, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, \
         vehicle_id = excluded.vehicle_id, phone = excluded.phone, \
         company_id = excluded.company_id, permit_id = excluded.permit_id, \
         started_at = excluded.started_at, ended_at = excluded.ended_at, \
         status = excluded.status, lat = excluded.lat, lon = excluded.lon, \
         severity = excluded.severity, evidence = excluded.evidence, \
         updated_at = excluded.updated_at \
         WHERE violations.status = 'open' OR excluded.status = 'closed'"
    )
}

/// [`Store::upsert_violation`] inside a transaction (the case service keeps the episode and
/// the case it opens in one commit).
pub(crate) async fn upsert_violation_in(tx: &mut Tx, v: &Violation) -> Result<(), StoreError> {
    let sql = upsert_sql();
    on_tx!(tx, |conn, pg| {
        sqlx::query(&sql)
            .bind(&v.id)
            .bind(v.kind.as_str())
            .bind(&v.vehicle_id)
            .bind(&v.phone)
            .bind(&v.company_id)
            .bind(&v.permit_id)
            .bind(Ts(v.started_at))
            .bind(v.ended_at.map(Ts))
            .bind(v.status.as_str())
            .bind(v.lat)
            .bind(v.lon)
            .bind(i16::from(v.severity))
            .bind(Json(&v.evidence))
            .bind(Ts(Utc::now()))
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

impl Store {
    /// Inserts or updates a violation episode by id. A closed episode is never reopened by a
    /// stale "open" update that arrives after its close.
    pub async fn upsert_violation(&self, v: &Violation) -> Result<(), StoreError> {
        let sql = upsert_sql();
        on_pool!(self, |pool, pg| {
            sqlx::query(&sql)
                .bind(&v.id)
                .bind(v.kind.as_str())
                .bind(&v.vehicle_id)
                .bind(&v.phone)
                .bind(&v.company_id)
                .bind(&v.permit_id)
                .bind(Ts(v.started_at))
                .bind(v.ended_at.map(Ts))
                .bind(v.status.as_str())
                .bind(v.lat)
                .bind(v.lon)
                .bind(i16::from(v.severity))
                .bind(Json(&v.evidence))
                .bind(Ts(Utc::now()))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The violations linked to a case, oldest start first.
    pub async fn violations_of_case(&self, case_id: &str) -> Result<Vec<Violation>, StoreError> {
        let sql = format!(
            "SELECT {VIOLATION_COLUMNS} FROM violations WHERE id IN \
             (SELECT violation_id FROM case_violations WHERE case_id = $1) \
             ORDER BY started_at, id"
        );
        let rows: Vec<ViolationRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql).bind(case_id).fetch_all(pool).await?
        });
        rows.into_iter().map(Violation::try_from).collect()
    }

    /// Open episodes of `kind` that started at or before `started_by` and are linked to no
    /// case: what the case policy re-judges periodically (a silent terminal sends no updates).
    pub async fn uncased_open_violations(
        &self,
        kind: ViolationKind,
        started_by: DateTime<Utc>,
    ) -> Result<Vec<Violation>, StoreError> {
        let sql = format!(
            "SELECT {VIOLATION_COLUMNS} FROM violations WHERE kind = $1 AND status = 'open' \
             AND started_at <= $2 AND NOT EXISTS \
             (SELECT 1 FROM case_violations cv WHERE cv.violation_id = violations.id) \
             ORDER BY started_at, id"
        );
        let rows: Vec<ViolationRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(kind.as_str())
                .bind(Ts(started_by))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(Violation::try_from).collect()
    }

    /// Start locations `(lat, lon)` of the episodes that started in `[from, to)` (either bound
    /// open), optionally of one company: what hot spots count.
    pub async fn violation_points(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        company_id: Option<&str>,
    ) -> Result<Vec<(f64, f64)>, StoreError> {
        let sql = "SELECT lat, lon FROM violations WHERE ($1 IS NULL OR started_at >= $1) \
             AND ($2 IS NULL OR started_at < $2) AND ($3 IS NULL OR company_id = $3)";
        let rows: Vec<(f64, f64)> = on_pool!(self, |pool, pg| {
            sqlx::query_as(sql)
                .bind(from.map(Ts))
                .bind(to.map(Ts))
                .bind(company_id)
                .fetch_all(pool)
                .await?
        });
        Ok(rows)
    }

    /// A violation by id.
    pub async fn violation(&self, id: &str) -> Result<Option<Violation>, StoreError> {
        let sql = format!("SELECT {VIOLATION_COLUMNS} FROM violations WHERE id = $1");
        let row: Option<ViolationRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        row.map(Violation::try_from).transpose()
    }

    /// Violations matching the filter, newest start first (ties by id), one page at a time.
    pub async fn list_violations(&self, q: &ViolationQuery) -> Result<Page<Violation>, StoreError> {
        let size = match q.limit {
            0 => 100,
            n => n.min(MAX_PAGE),
        };
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let (cursor_time, cursor_id) = match cursor {
            Some((t, id)) => (Some(Ts(t)), Some(id)),
            None => (None, None),
        };
        let sql = format!(
            "SELECT {VIOLATION_COLUMNS} FROM violations WHERE \
             ($1 IS NULL OR vehicle_id = $1) AND ($2 IS NULL OR kind = $2) \
             AND ($3 IS NULL OR company_id = $3) AND ($4 IS NULL OR status = $4) \
             AND ($5 IS NULL OR ended_at IS NULL OR ended_at >= $5) \
             AND ($6 IS NULL OR started_at < $6) \
             AND ($7 IS NULL OR started_at < $7 OR (started_at = $7 AND id < $8)) \
             ORDER BY started_at DESC, id DESC LIMIT $9"
        );
        let rows: Vec<ViolationRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(&sql)
                .bind(&q.vehicle_id)
                .bind(q.kind.map(ViolationKind::as_str))
                .bind(&q.company_id)
                .bind(q.status.map(ViolationStatus::as_str))
                .bind(q.from.map(Ts))
                .bind(q.to.map(Ts))
                .bind(cursor_time)
                .bind(&cursor_id)
                .bind(i64::from(size) + 1)
                .fetch_all(pool)
                .await?
        });
        let mut items = rows
            .into_iter()
            .map(Violation::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > size as usize {
            items.truncate(size as usize);
            items.last().map(encode_cursor)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let v = Violation {
            id: "v|1".into(),
            kind: ViolationKind::Speeding,
            vehicle_id: None,
            phone: "1".into(),
            company_id: None,
            permit_id: None,
            started_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("time"),
            ended_at: None,
            status: ViolationStatus::Open,
            lat: 0.0,
            lon: 0.0,
            severity: 1,
            evidence: serde_json::Value::Null,
        };
        let (t, id) = decode_cursor(&encode_cursor(&v)).expect("cursor");
        assert_eq!(t, v.started_at);
        assert_eq!(id, "v|1");
        for bad in ["", "!!!", "bm9waXBl", "YWJjfGRlZg"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }
}
