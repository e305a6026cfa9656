//! The store: PostgreSQL 15 + PostGIS 3 in production, embedded SQLite (WAL) by default, behind
//! one API. All SQL in haulwatch lives in this module and nowhere else.
//!
//! # Opening
//! [`Store::open`] takes a [`StoreConfig`]: with a `postgres://` URL it connects to PostgreSQL,
//! without one it opens (or creates) `haulwatch.db` under the data directory. Migrations from
//! `migrations/postgres/` or `migrations/sqlite/` run at open. A [`Store`] is an `Arc` around the
//! connection pool: clone it freely and hand clones to every task.
//!
//! # What other modules call
//! - Registry (engine index, ingest look-ups, HTTP CRUD), in [`registry`]:
//!   [`Store::registry`] loads the whole [`Registry`](crate::model::Registry) snapshot;
//!   [`Store::find_terminal`] looks a terminal up by phone with leading zeros ignored;
//!   [`Store::terminal_auth_code`] sets a terminal's auth code once and keeps it;
//!   `upsert_*` / `*` (get) / `list_*` / `delete_*` for companies, vehicles, terminals, drivers,
//!   sites, disposal grounds, routes, zones, permits and officers. Lists take a [`ListQuery`]
//!   (company filter, cursor, limit) and return a [`Page`] (`items`, `next_cursor`).
//!   Upserting a fence returns its [`GeometryVersion`](crate::model::GeometryVersion): unchanged
//!   geometry keeps the version, a changed one gets the next, and [`Store::fence_geometry`] reads
//!   any old version back. [`Store::import_registry`] writes a whole registry in one transaction.
//! - Users and API tokens, in [`auth`]: [`Store::upsert_user`], [`Store::user_by_username`],
//!   [`Store::insert_api_token`], [`Store::api_token_by_hash`] (only hashes are stored).
//! - Tracks, in [`tracks`]: [`Store::track_writer`] starts a group-commit [`TrackWriter`] for
//!   the ingest gateway; `writer.append(positions).await` returns only after the positions are
//!   durably committed (many callers share one commit; an `Err` means none of them is stored
//!   and a retry is safe, since a re-sent id is never stored twice). The latest-position table
//!   is brought up to date once per [`TrackWriterConfig::latest_flush_interval`] (1 s), or at
//!   once with `writer.sync_latest()`. Queries: [`Store::track`] (range, usable only,
//!   simplified), [`Store::vehicles_in_area`], [`Store::latest_positions`],
//!   [`Store::latest_position`], [`Store::positions_by_id`] (evidence), [`Store::count_positions`].
//!   [`Store::insert_positions`] writes one batch directly (positions and latest together).
//!   [`Store::apply_retention`] drops old track data (also run hourly by the writer when
//!   [`StoreConfig::retention_days`] is set).
//! - Violations, in [`violations`]: [`Store::upsert_violation`], [`Store::violation`],
//!   [`Store::list_violations`], [`Store::violations_of_case`],
//!   [`Store::uncased_open_violations`], [`Store::violation_points`].
//! - Cases, in [`cases`] (used by [`crate::cases::service::CaseService`]): every case write
//!   goes through a [`CaseTx`] from [`Store::begin_case_write`], which holds the audit chain
//!   head under a lock (PostgreSQL `FOR UPDATE`; SQLite's single writer) so the chain stays
//!   linear, and seals audit drafts with [`CaseTx::append`]; updates check the case revision
//!   ([`StoreError::StaleRevision`]). Reads: [`Store::case`], [`Store::list_cases`]
//!   ([`CaseQuery`]), [`Store::case_evidence`], [`Store::case_events`],
//!   [`Store::audit_events_after`], [`Store::audit_head`], [`Store::cases_due_by`], officer
//!   duty, citizen reports.
//! - Evidence bytes, in [`evidence_files`]: write-once files under `<data dir>/evidence/`
//!   named by SHA-256 ([`Store::put_evidence_file`], [`Store::read_evidence_file`],
//!   [`Store::digest_evidence_file`]), for both backends.
//!
//! # Schema
//! - Registry: `companies`, `vehicles`, `terminals` (keyed by phone without leading zeros),
//!   `drivers`, `sites`, `disposal_grounds`, `routes`, `zones` (current geometry + version),
//!   `fence_versions` (every geometry ever, never deleted), `permits` with `permit_vehicles`,
//!   `permit_disposal_grounds`, `permit_routes`, `officers`, `users`, `api_tokens`. Foreign keys
//!   keep references whole ([`StoreError::Conflict`] otherwise).
//! - Tracks: `positions` (PostgreSQL: partitioned by UTC day of GNSS time, primary key
//!   `(id, time)`, GiST on a generated `geom` point, btree on `(vehicle_id, time)`; SQLite: id
//!   as rowid, indexes on `time` and `(vehicle_id, time)`), and `latest_positions`.
//! - `violations`, one row per episode.
//! - Cases: `cases` (the case as JSON `body` plus filter columns, `revision`, `next_due_on`),
//!   `case_seq` (numbers per year), `case_violations` (violation id primary key: one episode,
//!   one case), `case_officers`, `case_events` (the audit chain; append-only triggers),
//!   `audit_head` (the chain head kept apart, so truncation is caught), `evidence` (metadata,
//!   append-only), `case_assignments`, `officer_duties`, `citizen_reports`.
//!
//! PostgreSQL stores geometries as `geometry(..., 4326)` with GiST indexes and exchanges them as
//! WKB; SQLite keeps WKB BLOBs with bounding-box columns and does exact spatial work with `geo`.
//!
//! # Extending
//! One file per concern (`registry.rs`, `auth.rs`, `tracks.rs`, `violations.rs`); each adds an
//! `impl Store` block. A new concern (cases, case events, evidence) adds its own file and a
//! numbered migration in both `migrations/postgres/` and `migrations/sqlite/` (next:
//! `0012_*.sql`). Queries are runtime-checked (`sqlx::query_as` + `FromRow`), never the
//! compile-time macros, because one crate talks to two databases. Write a query once for both
//! backends with the `on_pool!` / `on_tx!` macros and `codec::Ts` for times; branch on the
//! backend only where the SQL really differs (geometry, bulk insert, partitions).

pub mod auth;
pub mod cases;
pub(crate) mod codec;
pub mod evidence_files;
pub mod fleet;
mod partitions;
pub mod registry;
pub mod stats;
pub mod tracks;
pub mod trips;
pub mod violations;

use std::collections::HashSet;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite};

pub use auth::{ApiToken, User};
pub use cases::{CaseQuery, CaseTx, CorruptEvent};
pub use registry::FenceKind;
pub use tracks::{AreaVisit, RetentionReport, TrackQuery, TrackWriter, TrackWriterConfig};
pub use violations::ViolationQuery;

/// Migrations for PostgreSQL, embedded at build time.
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
/// Migrations for SQLite, embedded at build time.
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// File name of the embedded database inside the data directory.
pub const SQLITE_FILE_NAME: &str = "haulwatch.db";

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed a statement, or could not be reached.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database URL is neither `postgres://` nor `sqlite:`.
    #[error(
        "unsupported database URL {0:?}: use postgres://... or sqlite:..., or no URL for the embedded database"
    )]
    UnsupportedUrl(String),
    /// The data directory for the embedded database cannot be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The entity asked for does not exist.
    #[error("{entity} {id:?} not found")]
    NotFound {
        /// Entity kind, e.g. `terminal`.
        entity: &'static str,
        /// Its id.
        id: String,
    },
    /// A write would break a reference or a uniqueness rule (e.g. deleting a company that
    /// still has vehicles, or a vehicle naming an unknown company).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A value cannot be stored (e.g. an empty geometry).
    #[error("invalid value: {0}")]
    Invalid(String),
    /// A pagination cursor was not produced by this store.
    #[error("invalid cursor")]
    InvalidCursor,
    /// A stored value cannot be read back into the domain model.
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    /// The track writer's background task has stopped.
    #[error("track writer is closed")]
    WriterClosed,
    /// A track batch failed; every position in it is unconfirmed.
    #[error("track batch not stored: {0}")]
    TrackBatch(Arc<StoreError>),
    /// An evidence file cannot be written or read.
    #[error("evidence file {path}: {source}")]
    EvidenceFile {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A case was changed by someone else since it was read (optimistic concurrency).
    #[error("case {case_id} was changed concurrently (expected revision {expected})")]
    StaleRevision {
        /// The case.
        case_id: String,
        /// The revision the update expected to replace.
        expected: u64,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        if let sqlx::Error::Database(db) = &error {
            use sqlx::error::ErrorKind;
            if matches!(
                db.kind(),
                ErrorKind::ForeignKeyViolation | ErrorKind::UniqueViolation
            ) {
                return StoreError::Conflict(db.message().to_string());
            }
        }
        StoreError::Database(error)
    }
}

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL + PostGIS.
    Postgres,
    /// Embedded SQLite.
    Sqlite,
}

/// How to open a store.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `postgres://...` (or `sqlite:...`); `None` opens the embedded database in `data_dir`.
    pub database_url: Option<String>,
    /// Directory of the embedded SQLite database (created if missing).
    pub data_dir: PathBuf,
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long a query waits for a connection before failing; keeps writes failing loudly
    /// rather than hanging while PostgreSQL is away.
    pub acquire_timeout: Duration,
    /// Track retention in days; `None` keeps tracks forever. Applied by the track writer's
    /// maintenance task and by [`Store::apply_retention`].
    pub retention_days: Option<u32>,
    /// PostgreSQL: day partitions are made for GNSS days from this many days back to two days
    /// ahead; positions outside that window (broken clocks) go to the default partition.
    pub partition_window_days: u32,
}

impl StoreConfig {
    /// A configuration with defaults: the given URL (or embedded SQLite under `data_dir`),
    /// 8 connections, a 5 s acquire timeout, no retention, a 31-day partition window.
    pub fn new(database_url: Option<String>, data_dir: impl Into<PathBuf>) -> StoreConfig {
        StoreConfig {
            database_url,
            data_dir: data_dir.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            retention_days: None,
            partition_window_days: 31,
        }
    }
}

/// A page of a list: the items and, when there are more, the cursor for the next page.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Page<T> {
    /// Items on this page, in list order.
    pub items: Vec<T>,
    /// Pass as [`ListQuery::cursor`] to get the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Filter and position for a registry list.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only items of this company (vehicles, terminals via their vehicle, drivers, permits,
    /// users, tokens); ignored for entities that no company owns (fences, officers).
    pub company_id: Option<String>,
    /// Continue after this cursor (from a previous [`Page::next_cursor`]).
    pub cursor: Option<String>,
    /// Page size; 0 means the default (100); capped at [`MAX_PAGE`].
    pub limit: u32,
}

/// Largest page size any list returns.
pub const MAX_PAGE: u32 = 1000;

impl ListQuery {
    /// The effective page size.
    pub(crate) fn page_size(&self) -> u32 {
        match self.limit {
            0 => 100,
            n => n.min(MAX_PAGE),
        }
    }
}

/// Turns `size + 1` fetched rows into a page whose cursor is the last item's key.
pub(crate) fn page_by_key<T>(mut items: Vec<T>, size: u32, key: impl Fn(&T) -> String) -> Page<T> {
    let size = size as usize;
    let next_cursor = if items.len() > size {
        items.truncate(size);
        items.last().map(key)
    } else {
        None
    };
    Page { items, next_cursor }
}

/// The connection pool of either backend.
pub(crate) enum Db {
    /// PostgreSQL.
    Pg(PgPool),
    /// SQLite.
    Lite(SqlitePool),
}

/// A write transaction on either backend.
pub(crate) enum Tx {
    /// PostgreSQL.
    Pg(sqlx::Transaction<'static, Postgres>),
    /// SQLite (begun IMMEDIATE, so it never deadlocks upgrading a read lock), holding the
    /// store's write gate when it writes.
    Lite(
        sqlx::Transaction<'static, Sqlite>,
        Option<tokio::sync::OwnedMutexGuard<()>>,
    ),
}

impl Tx {
    /// Commits the transaction.
    pub(crate) async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Pg(tx) => tx.commit().await?,
            Tx::Lite(tx, _gate) => tx.commit().await?,
        }
        Ok(())
    }
}

/// Runs `$body` against the pool of whichever backend is open. `$pool` is `&PgPool` or
/// `&SqlitePool` and `$pg` says which, so SQL that differs can be picked inside one body.
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $pg:ident| $body:expr) => {
        match &$store.inner.db {
            $crate::store::Db::Pg($pool) => {
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
            $crate::store::Db::Lite($pool) => {
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
        }
    };
}

/// Runs `$body` on the connection of a [`Tx`]: `$conn` is `&mut PgConnection` or
/// `&mut SqliteConnection` (reborrow it as `&mut *conn` for each statement).
macro_rules! on_tx {
    ($tx:expr, |$conn:ident, $pg:ident| $body:expr) => {
        match $tx {
            $crate::store::Tx::Pg(tx) => {
                let $conn: &mut sqlx::PgConnection = &mut *tx;
                #[allow(unused_variables)]
                let $pg = true;
                $body
            }
            $crate::store::Tx::Lite(tx, _) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *tx;
                #[allow(unused_variables)]
                let $pg = false;
                $body
            }
        }
    };
}

pub(crate) use {on_pool, on_tx};

/// Shared state behind every clone of a [`Store`].
pub(crate) struct Inner {
    /// The pool.
    pub(crate) db: Db,
    /// How the store was opened (retention, partition window).
    pub(crate) config: StoreConfig,
    /// PostgreSQL day partitions known to exist, so the hot write path skips the catalogue.
    pub(crate) known_partitions: parking_lot::Mutex<HashSet<NaiveDate>>,
    /// SQLite takes one writer at a time. This process's write transactions queue here and are
    /// woken the moment the previous one ends; left to SQLite's busy handler they would poll
    /// with sleeps of up to 100 ms, which under load kept the track writer idle half the time.
    pub(crate) lite_write_gate: Arc<tokio::sync::Mutex<()>>,
}

/// A handle on the store; cheap to clone (an `Arc`).
#[derive(Clone)]
pub struct Store {
    /// Pool and settings shared by all clones.
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the store and applies pending migrations.
    pub async fn open(config: StoreConfig) -> Result<Store, StoreError> {
        let db = match config.database_url.as_deref() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let options = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(config.max_connections.max(1))
                    .acquire_timeout(config.acquire_timeout)
                    .connect_with(options)
                    .await?;
                POSTGRES_MIGRATIONS.run(&pool).await?;
                Db::Pg(pool)
            }
            Some(url) if url.starts_with("sqlite:") => {
                let options = SqliteConnectOptions::from_str(url)?.create_if_missing(true);
                Db::Lite(open_sqlite(options, &config).await?)
            }
            Some(other) => return Err(StoreError::UnsupportedUrl(other.to_string())),
            None => {
                std::fs::create_dir_all(&config.data_dir).map_err(|source| {
                    StoreError::DataDir {
                        path: config.data_dir.clone(),
                        source,
                    }
                })?;
                let options = SqliteConnectOptions::new()
                    .filename(config.data_dir.join(SQLITE_FILE_NAME))
                    .create_if_missing(true);
                Db::Lite(open_sqlite(options, &config).await?)
            }
        };
        tracing::info!(backend = ?backend_of(&db), "Store opened.");
        Ok(Store {
            inner: Arc::new(Inner {
                db,
                config,
                known_partitions: parking_lot::Mutex::new(HashSet::new()),
                lite_write_gate: Arc::new(tokio::sync::Mutex::new(())),
            }),
        })
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        backend_of(&self.inner.db)
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> &StoreConfig {
        &self.inner.config
    }

    /// Applies pending migrations (already done at open) and returns the versions applied so
    /// far, for `haulwatch migrate` to report.
    pub async fn migrate(&self) -> Result<Vec<i64>, StoreError> {
        let versions: Vec<(i64,)> = on_pool!(self, |pool, pg| {
            if pg {
                POSTGRES_MIGRATIONS.run(pool).await?;
            } else {
                SQLITE_MIGRATIONS.run(pool).await?;
            }
            sqlx::query_as("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(pool)
                .await?
        });
        Ok(versions.into_iter().map(|(v,)| v).collect())
    }

    /// Closes every pooled connection; later calls fail.
    pub async fn close(&self) {
        match &self.inner.db {
            Db::Pg(pool) => pool.close().await,
            Db::Lite(pool) => pool.close().await,
        }
    }

    /// Begins a write transaction.
    pub(crate) async fn begin_write(&self) -> Result<Tx, StoreError> {
        Ok(match &self.inner.db {
            Db::Pg(pool) => Tx::Pg(pool.begin().await?),
            Db::Lite(pool) => {
                let gate = self.lite_write_gate().await;
                Tx::Lite(pool.begin_with("BEGIN IMMEDIATE").await?, Some(gate))
            }
        })
    }

    /// Waits for this process's turn to write to SQLite; the turn lasts while the guard lives.
    pub(crate) async fn lite_write_gate(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.inner.lite_write_gate.clone().lock_owned().await
    }

    /// Begins a read-only transaction that sees one consistent snapshot.
    pub(crate) async fn begin_snapshot(&self) -> Result<Tx, StoreError> {
        Ok(match &self.inner.db {
            Db::Pg(pool) => Tx::Pg(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
            Db::Lite(pool) => Tx::Lite(pool.begin().await?, None),
        })
    }
}

fn backend_of(db: &Db) -> Backend {
    match db {
        Db::Pg(_) => Backend::Postgres,
        Db::Lite(_) => Backend::Sqlite,
    }
}

/// Opens the SQLite pool: WAL so readers never block the writer, synchronous FULL so a
/// committed batch survives power loss (the ingest gateway acknowledges on commit), foreign keys
/// on, and a busy timeout so concurrent writers queue instead of failing.
async fn open_sqlite(
    options: SqliteConnectOptions,
    config: &StoreConfig,
) -> Result<SqlitePool, StoreError> {
    let options = options
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10))
        .pragma("cache_size", "-65536")
        // The track writer checkpoints in the background; this only bounds the log when no
        // writer runs (pages of 4 KiB: 64 MiB).
        .pragma("wal_autocheckpoint", "16384")
        .pragma("temp_store", "memory");
    let pool = SqlitePoolOptions::new()
        .max_connections(config.max_connections.max(2))
        .acquire_timeout(config.acquire_timeout.max(Duration::from_secs(10)))
        .connect_with(options)
        .await?;
    SQLITE_MIGRATIONS.run(&pool).await?;
    Ok(pool)
}
