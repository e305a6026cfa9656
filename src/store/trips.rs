//! Trips: completed hauls the engine saw, counted by compliance reports.

use chrono::{DateTime, Utc};

use super::codec::Ts;
use super::{Store, StoreError, on_pool};
use crate::model::Trip;

#[derive(sqlx::FromRow)]
struct TripRow {
    id: String,
    vehicle_id: Option<String>,
    company_id: Option<String>,
    permit_id: Option<String>,
    site_id: Option<String>,
    disposal_ground_id: String,
    loaded_at: Ts,
    arrived_at: Ts,
}

impl From<TripRow> for Trip {
    fn from(r: TripRow) -> Trip {
        Trip {
            id: r.id,
            vehicle_id: r.vehicle_id,
            company_id: r.company_id,
            permit_id: r.permit_id,
            site_id: r.site_id,
            disposal_ground_id: r.disposal_ground_id,
            loaded_at: r.loaded_at.0,
            arrived_at: r.arrived_at.0,
        }
    }
}

impl Store {
    /// Records a trip; a trip already recorded (same id) is left as it is.
    pub async fn upsert_trip(&self, trip: &Trip) -> Result<(), StoreError> {
        on_pool!(self, |pool, pg| {
            sqlx::query(
                "INSERT INTO trips (id, vehicle_id, company_id, permit_id, site_id, \
                 disposal_ground_id, loaded_at, arrived_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
            )
            .bind(&trip.id)
            .bind(&trip.vehicle_id)
            .bind(&trip.company_id)
            .bind(&trip.permit_id)
            .bind(&trip.site_id)
            .bind(&trip.disposal_ground_id)
            .bind(Ts(trip.loaded_at))
            .bind(Ts(trip.arrived_at))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Trips that arrived in `[from, to)`, of one company or of all, oldest first.
    pub async fn trips(
        &self,
        company_id: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Trip>, StoreError> {
        let rows: Vec<TripRow> = on_pool!(self, |pool, pg| {
            sqlx::query_as(
                "SELECT id, vehicle_id, company_id, permit_id, site_id, disposal_ground_id, \
                 loaded_at, arrived_at FROM trips \
                 WHERE ($1 IS NULL OR company_id = $1) AND arrived_at >= $2 AND arrived_at < $3 \
                 ORDER BY arrived_at, id",
            )
            .bind(company_id)
            .bind(Ts(from))
            .bind(Ts(to))
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(Trip::from).collect())
    }
}
