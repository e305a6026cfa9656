//! PostgreSQL day partitions of `positions`, made on demand, and track retention.
//!
//! A day partition `positions_pYYYYMMDD` covers one UTC day of GNSS time. Partitions are made
//! only for days inside the window `[today - partition_window_days, today + 2]`; positions
//! outside it (a terminal with a broken clock) go to `positions_default`, so a hostile or broken
//! terminal cannot create thousands of tables. If a day's rows already sit in the default
//! partition when its day partition is made, they are moved into it.

use chrono::{Days, NaiveDate, Utc};

use super::codec::Ts;
use super::{Db, Store, StoreError, tracks::RetentionReport};

/// Columns of `positions`, in the order they are written.
const WRITTEN_COLUMNS: &str = "id, phone, vehicle_id, time, received_at, lat, lon, altitude_m, \
     speed_kmh, heading, alarm, status, load, lift_up, lid_open, weight_kg, mileage_km, source, \
     flags, raw";

/// Name of the partition for `day`.
fn partition_name(day: NaiveDate) -> String {
    format!("positions_p{}", day.format("%Y%m%d"))
}

/// The day a partition name stands for, if it is a day partition.
fn partition_day(name: &str) -> Option<NaiveDate> {
    let digits = name.strip_prefix("positions_p")?;
    NaiveDate::parse_from_str(digits, "%Y%m%d").ok()
}

/// `FROM (...) TO (...)` bounds of a day partition.
fn bounds(day: NaiveDate) -> Option<(String, String)> {
    let next = day.checked_add_days(Days::new(1))?;
    Some((
        format!("{} 00:00:00+00", day.format("%Y-%m-%d")),
        format!("{} 00:00:00+00", next.format("%Y-%m-%d")),
    ))
}

/// SQLSTATE of a database error, if any.
fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|c| c.to_string()),
        _ => None,
    }
}

impl Store {
    /// Makes sure the day partitions for these GNSS days exist (PostgreSQL; a no-op on
    /// SQLite). Days outside the partition window are left to the default partition.
    pub(crate) async fn ensure_partitions(
        &self,
        days: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<(), StoreError> {
        if !matches!(self.inner.db, Db::Pg(_)) {
            return Ok(());
        }
        let today = Utc::now().date_naive();
        let window = u64::from(self.inner.config.partition_window_days);
        let earliest = today.checked_sub_days(Days::new(window)).unwrap_or(today);
        let latest = today.checked_add_days(Days::new(2)).unwrap_or(today);
        let missing: Vec<NaiveDate> = {
            let known = self.inner.known_partitions.lock();
            days.into_iter()
                .filter(|d| *d >= earliest && *d <= latest && !known.contains(d))
                .collect()
        };
        for day in missing {
            self.prepare_track_partition(day).await?;
        }
        Ok(())
    }

    /// Creates the day partition for `day` if it does not exist yet (PostgreSQL; SQLite has one
    /// table and returns `Ok(false)`). Returns whether it was created. Rows of that day already
    /// in the default partition are moved into the new partition.
    pub async fn prepare_track_partition(&self, day: NaiveDate) -> Result<bool, StoreError> {
        let Db::Pg(pool) = &self.inner.db else {
            return Ok(false);
        };
        if self.inner.known_partitions.lock().contains(&day) {
            return Ok(false);
        }
        let name = partition_name(day);
        let (from, to) =
            bounds(day).ok_or_else(|| StoreError::Invalid(format!("day {day} out of range")))?;
        let exists: Option<(i32,)> = sqlx::query_as(
            "SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'positions'::regclass AND c.relname = $1",
        )
        .bind(&name)
        .fetch_optional(pool)
        .await?;
        if exists.is_some() {
            self.inner.known_partitions.lock().insert(day);
            return Ok(false);
        }
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF positions \
             FOR VALUES FROM ('{from}') TO ('{to}')"
        );
        let created = match sqlx::query(&create).execute(pool).await {
            Ok(_) => true,
            // The default partition already holds rows of this day: move them.
            Err(e) if sqlstate(&e).as_deref() == Some("23514") => {
                let mut tx = pool.begin().await?;
                sqlx::query("ALTER TABLE positions DETACH PARTITION positions_default")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&create).execute(&mut *tx).await?;
                sqlx::query(&format!(
                    "INSERT INTO positions ({WRITTEN_COLUMNS}) SELECT {WRITTEN_COLUMNS} \
                     FROM positions_default WHERE time >= '{from}' AND time < '{to}' \
                     ON CONFLICT DO NOTHING"
                ))
                .execute(&mut *tx)
                .await?;
                sqlx::query(&format!(
                    "DELETE FROM positions_default WHERE time >= '{from}' AND time < '{to}'"
                ))
                .execute(&mut *tx)
                .await?;
                sqlx::query("ALTER TABLE positions ATTACH PARTITION positions_default DEFAULT")
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                tracing::info!(%day, "Moved a day's positions out of the default partition.");
                true
            }
            // Another process made it at the same moment.
            Err(e) if matches!(sqlstate(&e).as_deref(), Some("42P07" | "23505" | "42P17")) => false,
            Err(e) => return Err(e.into()),
        };
        self.inner.known_partitions.lock().insert(day);
        if created {
            tracing::info!(partition = %name, "Track partition created.");
        }
        Ok(created)
    }

    /// The days that have their own track partition, oldest first (empty on SQLite).
    pub async fn track_partitions(&self) -> Result<Vec<NaiveDate>, StoreError> {
        let Db::Pg(pool) = &self.inner.db else {
            return Ok(Vec::new());
        };
        let names: Vec<(String,)> = sqlx::query_as(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'positions'::regclass",
        )
        .fetch_all(pool)
        .await?;
        let mut days: Vec<NaiveDate> = names
            .iter()
            .filter_map(|(name,)| partition_day(name))
            .collect();
        days.sort();
        Ok(days)
    }

    /// Removes track data whose GNSS day is more than `keep_days` days before today (UTC):
    /// PostgreSQL drops whole day partitions and deletes old rows from the default partition;
    /// SQLite deletes rows. The latest-position table is left alone.
    pub async fn apply_retention(&self, keep_days: u32) -> Result<RetentionReport, StoreError> {
        let today = Utc::now().date_naive();
        let cutoff_day = today
            .checked_sub_days(Days::new(u64::from(keep_days)))
            .unwrap_or(NaiveDate::MIN);
        let cutoff = Ts(cutoff_day
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc());
        let mut report = RetentionReport::default();
        match &self.inner.db {
            Db::Pg(pool) => {
                for day in self.track_partitions().await? {
                    if day < cutoff_day {
                        sqlx::query(&format!("DROP TABLE IF EXISTS {}", partition_name(day)))
                            .execute(pool)
                            .await?;
                        self.inner.known_partitions.lock().remove(&day);
                        report.dropped_partitions.push(day);
                    }
                }
                report.deleted_rows = sqlx::query("DELETE FROM positions WHERE time < $1")
                    .bind(cutoff)
                    .execute(pool)
                    .await?
                    .rows_affected();
            }
            Db::Lite(pool) => {
                let _turn = self.lite_write_gate().await;
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
                report.deleted_rows = sqlx::query("DELETE FROM positions WHERE time < $1")
                    .bind(cutoff)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                for index in ["track_index", "track_pending", "track_generations"] {
                    let column = if index == "track_generations" {
                        "max_time"
                    } else {
                        "time"
                    };
                    sqlx::query(&format!("DELETE FROM {index} WHERE {column} < $1"))
                        .bind(cutoff)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).expect("date");
        assert_eq!(partition_name(day), "positions_p20261127");
        assert_eq!(partition_day("positions_p20261127"), Some(day));
        assert_eq!(partition_day("positions_default"), None);
        assert_eq!(
            bounds(day),
            Some((
                "2026-11-27 00:00:00+00".to_string(),
                "2026-11-28 00:00:00+00".to_string()
            ))
        );
    }
}
