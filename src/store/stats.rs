//! Statistics queries: the few columns of each violation episode that grouped counts and
//! compliance reports need, without loading the episodes' evidence.

use chrono::{DateTime, Utc};

use super::codec::Ts;
use super::{Store, StoreError, on_pool};
use crate::model::ViolationKind;

/// A violation episode as statistics count it.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationFact {
    /// Episode id.
    pub id: String,
    /// Kind.
    pub kind: ViolationKind,
    /// Vehicle, when known.
    pub vehicle_id: Option<String>,
    /// Company, when known.
    pub company_id: Option<String>,
    /// Start of the episode.
    pub started_at: DateTime<Utc>,
    /// Start latitude (WGS-84).
    pub lat: f64,
    /// Start longitude (WGS-84).
    pub lon: f64,
}

#[derive(sqlx::FromRow)]
struct FactRow {
    id: String,
    kind: String,
    vehicle_id: Option<String>,
    company_id: Option<String>,
    started_at: Ts,
    lat: f64,
    lon: f64,
}

impl Store {
    /// Episodes that started in `[from, to)`, of one company or of all, oldest first.
    pub async fn violation_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        company_id: Option<&str>,
    ) -> Result<Vec<ViolationFact>, StoreError> {
        let sql = "SELECT id, kind, vehicle_id, company_id, started_at, lat, lon FROM violations \
             WHERE started_at >= $1 AND started_at < $2 AND ($3 IS NULL OR company_id = $3) \
             ORDER BY started_at, id";
        let rows: Vec<FactRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(sql)
                .bind(Ts(from))
                .bind(Ts(to))
                .bind(company_id)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(ViolationFact {
                    kind: ViolationKind::from_name(&r.kind).ok_or_else(|| {
                        StoreError::Corrupt(format!("violation {} kind {:?}", r.id, r.kind))
                    })?,
                    id: r.id,
                    vehicle_id: r.vehicle_id,
                    company_id: r.company_id,
                    started_at: r.started_at.0,
                    lat: r.lat,
                    lon: r.lon,
                })
            })
            .collect()
    }
}
