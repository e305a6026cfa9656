//! Registry storage: companies, vehicles, terminals, drivers, fences (sites, disposal grounds,
//! routes, zones) with geometry versions, permits and officers.
//!
//! Fences keep every geometry they ever had in `fence_versions`; upserting a fence with the same
//! geometry keeps its version, a different geometry gets the next version (never reused, not
//! even after a delete), so evidence naming `(kind, id, version)` stays readable.

use chrono::{DateTime, NaiveDate, Utc};
use geo_types::{Geometry, MultiPolygon};
use sqlx::types::Json;

use super::codec::{self, Bbox, Ts};
use super::{ListQuery, Page, Store, StoreError, Tx, on_tx, page_by_key};
use crate::model::{
    Company, DailyWindow, DisposalGround, Driver, GeometryVersion, Officer, Permit, Registry,
    Route, Site, Terminal, Vehicle, WeeklyWindow, Zone, ZoneKind, phone_key,
    registry::SensorCapabilities,
};

/// The four kinds of fence, each with its own table and a shared version history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FenceKind {
    /// Construction site.
    Site,
    /// Disposal ground.
    DisposalGround,
    /// Route.
    Route,
    /// Control zone.
    Zone,
}

impl FenceKind {
    /// Stable name, as in [`FenceRef::kind`](crate::model::FenceRef::kind).
    pub fn as_str(self) -> &'static str {
        match self {
            FenceKind::Site => "site",
            FenceKind::DisposalGround => "disposal_ground",
            FenceKind::Route => "route",
            FenceKind::Zone => "zone",
        }
    }

    /// Inverse of [`FenceKind::as_str`].
    pub fn from_name(name: &str) -> Option<FenceKind> {
        Some(match name {
            "site" => FenceKind::Site,
            "disposal_ground" => FenceKind::DisposalGround,
            "route" => FenceKind::Route,
            "zone" => FenceKind::Zone,
            _ => return None,
        })
    }

    fn table(self) -> &'static str {
        match self {
            FenceKind::Site => "sites",
            FenceKind::DisposalGround => "disposal_grounds",
            FenceKind::Route => "routes",
            FenceKind::Zone => "zones",
        }
    }
}

/// How many rows an import wrote, per entity.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Companies upserted.
    pub companies: usize,
    /// Vehicles upserted.
    pub vehicles: usize,
    /// Terminals upserted.
    pub terminals: usize,
    /// Drivers upserted.
    pub drivers: usize,
    /// Sites upserted.
    pub sites: usize,
    /// Disposal grounds upserted.
    pub disposal_grounds: usize,
    /// Routes upserted.
    pub routes: usize,
    /// Zones upserted.
    pub zones: usize,
    /// Permits upserted.
    pub permits: usize,
    /// Officers upserted.
    pub officers: usize,
    /// Fences whose geometry was new or changed, so got a new version.
    pub new_geometry_versions: usize,
}

/// SQL that reads a geometry column as WKB.
fn geom_out(pg: bool) -> &'static str {
    if pg { "ST_AsBinary(geom)" } else { "geom" }
}

// ---------------------------------------------------------------------------------------------
// Rows

#[derive(sqlx::FromRow)]
struct CompanyRow {
    id: String,
    name: String,
    uscc: String,
}

impl From<CompanyRow> for Company {
    fn from(r: CompanyRow) -> Company {
        Company {
            id: r.id,
            name: r.name,
            uscc: r.uscc,
        }
    }
}

#[derive(sqlx::FromRow)]
struct VehicleRow {
    id: String,
    plate: String,
    plate_color: i16,
    company_id: String,
    rated_load_kg: Option<f64>,
    sensor_load: bool,
    sensor_lift: bool,
    sensor_lid: bool,
    sensor_weight: bool,
}

impl TryFrom<VehicleRow> for Vehicle {
    type Error = StoreError;
    fn try_from(r: VehicleRow) -> Result<Vehicle, StoreError> {
        Ok(Vehicle {
            plate_color: u8::try_from(r.plate_color).map_err(|_| {
                StoreError::Corrupt(format!("vehicle {} plate colour {}", r.id, r.plate_color))
            })?,
            id: r.id,
            plate: r.plate,
            company_id: r.company_id,
            rated_load_kg: r.rated_load_kg,
            sensors: SensorCapabilities {
                load: r.sensor_load,
                lift: r.sensor_lift,
                lid: r.sensor_lid,
                weight: r.sensor_weight,
            },
        })
    }
}

const VEHICLE_COLUMNS: &str = "id, plate, plate_color, company_id, rated_load_kg, sensor_load, \
                               sensor_lift, sensor_lid, sensor_weight";

#[derive(sqlx::FromRow)]
struct TerminalRow {
    phone: String,
    vehicle_id: Option<String>,
    model: String,
    protocol: String,
    auth_code: Option<String>,
}

impl From<TerminalRow> for Terminal {
    fn from(r: TerminalRow) -> Terminal {
        Terminal {
            phone: r.phone,
            vehicle_id: r.vehicle_id,
            model: r.model,
            protocol: r.protocol,
            auth_code: r.auth_code,
        }
    }
}

#[derive(sqlx::FromRow)]
struct DriverRow {
    id: String,
    name: String,
    license_no: String,
    company_id: String,
}

impl From<DriverRow> for Driver {
    fn from(r: DriverRow) -> Driver {
        Driver {
            id: r.id,
            name: r.name,
            license_no: r.license_no,
            company_id: r.company_id,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PolygonFenceRow {
    id: String,
    name: String,
    geom: Vec<u8>,
    version: i64,
}

#[derive(sqlx::FromRow)]
struct RouteRow {
    id: String,
    name: String,
    geom: Vec<u8>,
    corridor_m: f64,
    speed_limit_kmh: Option<f64>,
    version: i64,
}

impl TryFrom<RouteRow> for Route {
    type Error = StoreError;
    fn try_from(r: RouteRow) -> Result<Route, StoreError> {
        Ok(Route {
            geometry: codec::multilinestring_from_wkb(&r.geom)?,
            id: r.id,
            name: r.name,
            corridor_m: r.corridor_m,
            speed_limit_kmh: r.speed_limit_kmh,
            version: r.version,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ZoneRow {
    id: String,
    name: String,
    kind: String,
    geom: Vec<u8>,
    allowed: Json<Vec<WeeklyWindow>>,
    speed_limit_kmh: Option<f64>,
    version: i64,
}

impl TryFrom<ZoneRow> for Zone {
    type Error = StoreError;
    fn try_from(r: ZoneRow) -> Result<Zone, StoreError> {
        Ok(Zone {
            kind: ZoneKind::from_name(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("zone {} kind {:?}", r.id, r.kind)))?,
            geometry: codec::multipolygon_from_wkb(&r.geom)?,
            id: r.id,
            name: r.name,
            allowed: r.allowed.0,
            speed_limit_kmh: r.speed_limit_kmh,
            version: r.version,
        })
    }
}

#[derive(sqlx::FromRow)]
struct PermitRow {
    id: String,
    number: String,
    company_id: String,
    site_id: String,
    valid_from: NaiveDate,
    valid_to: NaiveDate,
    daily_windows: Json<Vec<DailyWindow>>,
}

impl PermitRow {
    fn into_permit(self) -> Permit {
        Permit {
            id: self.id,
            number: self.number,
            company_id: self.company_id,
            vehicle_ids: Vec::new(),
            site_id: self.site_id,
            disposal_ground_ids: Vec::new(),
            route_ids: Vec::new(),
            valid_from: self.valid_from,
            valid_to: self.valid_to,
            daily_windows: self.daily_windows.0,
        }
    }
}

const PERMIT_COLUMNS: &str = "id, number, company_id, site_id, valid_from, valid_to, daily_windows";

/// One row of a permit's link tables.
#[derive(sqlx::FromRow)]
struct LinkRow {
    permit_id: String,
    target: String,
}

#[derive(sqlx::FromRow)]
struct OfficerRow {
    id: String,
    name: String,
    district_zone_id: Option<String>,
}

impl From<OfficerRow> for Officer {
    fn from(r: OfficerRow) -> Officer {
        Officer {
            id: r.id,
            name: r.name,
            district_zone_id: r.district_zone_id,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writes inside a transaction (shared by the single upserts and the bundle import)

async fn put_company(tx: &mut Tx, c: &Company) -> Result<(), StoreError> {
    on_tx!(tx, |conn, pg| {
        sqlx::query(
            "INSERT INTO companies (id, name, uscc) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, uscc = excluded.uscc",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.uscc)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

async fn put_vehicle(tx: &mut Tx, v: &Vehicle) -> Result<(), StoreError> {
    on_tx!(tx, |conn, pg| {
        sqlx::query(
            "INSERT INTO vehicles (id, plate, plate_color, company_id, rated_load_kg, sensor_load, \
             sensor_lift, sensor_lid, sensor_weight) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET plate = excluded.plate, \
             plate_color = excluded.plate_color, company_id = excluded.company_id, \
             rated_load_kg = excluded.rated_load_kg, sensor_load = excluded.sensor_load, \
             sensor_lift = excluded.sensor_lift, sensor_lid = excluded.sensor_lid, \
             sensor_weight = excluded.sensor_weight",
        )
        .bind(&v.id)
        .bind(&v.plate)
        .bind(i16::from(v.plate_color))
        .bind(&v.company_id)
        .bind(v.rated_load_kg)
        .bind(v.sensors.load)
        .bind(v.sensors.lift)
        .bind(v.sensors.lid)
        .bind(v.sensors.weight)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// Upserts a terminal. An auth code already issued is kept when the new record has none, so
/// re-importing a bundle does not force every terminal to register again.
async fn put_terminal(tx: &mut Tx, t: &Terminal) -> Result<(), StoreError> {
    on_tx!(tx, |conn, pg| {
        sqlx::query(
            "INSERT INTO terminals (phone, vehicle_id, model, protocol, auth_code) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (phone) DO UPDATE SET \
             vehicle_id = excluded.vehicle_id, model = excluded.model, \
             protocol = excluded.protocol, \
             auth_code = COALESCE(excluded.auth_code, terminals.auth_code)",
        )
        .bind(phone_key(&t.phone))
        .bind(&t.vehicle_id)
        .bind(&t.model)
        .bind(&t.protocol)
        .bind(&t.auth_code)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

async fn put_driver(tx: &mut Tx, d: &Driver) -> Result<(), StoreError> {
    on_tx!(tx, |conn, pg| {
        sqlx::query(
            "INSERT INTO drivers (id, name, license_no, company_id) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             license_no = excluded.license_no, company_id = excluded.company_id",
        )
        .bind(&d.id)
        .bind(&d.name)
        .bind(&d.license_no)
        .bind(&d.company_id)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// A fence geometry ready for its row: version, WKB and bounding box.
struct StoredGeometry {
    version: GeometryVersion,
    wkb: Vec<u8>,
    bbox: Bbox,
    changed: bool,
}

/// Decides the version of a fence's geometry: the current one if unchanged, otherwise the next
/// number after every version the fence ever had, recorded in `fence_versions`.
async fn version_geometry(
    tx: &mut Tx,
    kind: FenceKind,
    id: &str,
    geometry: Geometry<f64>,
) -> Result<StoredGeometry, StoreError> {
    let bbox = Bbox::of(&geometry)?;
    let wkb = codec::to_wkb(&geometry)?;
    let current: Option<(Vec<u8>, i64)> = on_tx!(tx, |conn, pg| {
        let sql = format!(
            "SELECT {} AS geom, version FROM {} WHERE id = $1{}",
            geom_out(pg),
            kind.table(),
            if pg { " FOR UPDATE" } else { "" }
        );
        sqlx::query_as(&sql)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    });
    if let Some((stored, version)) = current
        && codec::from_wkb(&stored).ok().as_ref() == Some(&geometry)
    {
        return Ok(StoredGeometry {
            version,
            wkb,
            bbox,
            changed: false,
        });
    }
    let now = Ts(Utc::now());
    let version = on_tx!(tx, |conn, pg| {
        let (last,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(MAX(version), 0) FROM fence_versions WHERE kind = $1 AND id = $2",
        )
        .bind(kind.as_str())
        .bind(id)
        .fetch_one(&mut *conn)
        .await?;
        let version = last + 1;
        let sql = if pg {
            "INSERT INTO fence_versions (kind, id, version, geom, created_at) \
             VALUES ($1, $2, $3, ST_GeomFromWKB($4, 4326), $5)"
        } else {
            "INSERT INTO fence_versions (kind, id, version, geom, created_at) \
             VALUES ($1, $2, $3, $4, $5)"
        };
        sqlx::query(sql)
            .bind(kind.as_str())
            .bind(id)
            .bind(version)
            .bind(&wkb)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        version
    });
    Ok(StoredGeometry {
        version,
        wkb,
        bbox,
        changed: true,
    })
}

/// Upserts a site or disposal ground; returns its geometry version and whether it changed.
async fn put_polygon_fence(
    tx: &mut Tx,
    kind: FenceKind,
    id: &str,
    name: &str,
    geometry: &MultiPolygon<f64>,
) -> Result<(GeometryVersion, bool), StoreError> {
    let g = version_geometry(tx, kind, id, Geometry::MultiPolygon(geometry.clone())).await?;
    on_tx!(tx, |conn, pg| {
        let sql = if pg {
            format!(
                "INSERT INTO {} (id, name, version, geom) VALUES ($1, $2, $3, \
                 ST_Multi(ST_GeomFromWKB($4, 4326))) ON CONFLICT (id) DO UPDATE SET \
                 name = excluded.name, version = excluded.version, geom = excluded.geom",
                kind.table()
            )
        } else {
            format!(
                "INSERT INTO {} (id, name, version, geom, min_lon, min_lat, max_lon, max_lat) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
                 name = excluded.name, version = excluded.version, geom = excluded.geom, \
                 min_lon = excluded.min_lon, min_lat = excluded.min_lat, \
                 max_lon = excluded.max_lon, max_lat = excluded.max_lat",
                kind.table()
            )
        };
        let mut query = sqlx::query(&sql)
            .bind(id)
            .bind(name)
            .bind(g.version)
            .bind(&g.wkb);
        if !pg {
            query = query
                .bind(g.bbox.min_lon)
                .bind(g.bbox.min_lat)
                .bind(g.bbox.max_lon)
                .bind(g.bbox.max_lat);
        }
        query.execute(&mut *conn).await?;
    });
    Ok((g.version, g.changed))
}

async fn put_route(tx: &mut Tx, r: &Route) -> Result<(GeometryVersion, bool), StoreError> {
    let g = version_geometry(
        tx,
        FenceKind::Route,
        &r.id,
        Geometry::MultiLineString(r.geometry.clone()),
    )
    .await?;
    on_tx!(tx, |conn, pg| {
        let sql = if pg {
            "INSERT INTO routes (id, name, version, corridor_m, speed_limit_kmh, geom) \
             VALUES ($1, $2, $3, $4, $5, ST_Multi(ST_GeomFromWKB($6, 4326))) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, \
             corridor_m = excluded.corridor_m, speed_limit_kmh = excluded.speed_limit_kmh, \
             geom = excluded.geom"
        } else {
            "INSERT INTO routes (id, name, version, corridor_m, speed_limit_kmh, geom, \
             min_lon, min_lat, max_lon, max_lat) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, \
             corridor_m = excluded.corridor_m, speed_limit_kmh = excluded.speed_limit_kmh, \
             geom = excluded.geom, min_lon = excluded.min_lon, min_lat = excluded.min_lat, \
             max_lon = excluded.max_lon, max_lat = excluded.max_lat"
        };
        let mut query = sqlx::query(sql)
            .bind(&r.id)
            .bind(&r.name)
            .bind(g.version)
            .bind(r.corridor_m)
            .bind(r.speed_limit_kmh)
            .bind(&g.wkb);
        if !pg {
            query = query
                .bind(g.bbox.min_lon)
                .bind(g.bbox.min_lat)
                .bind(g.bbox.max_lon)
                .bind(g.bbox.max_lat);
        }
        query.execute(&mut *conn).await?;
    });
    Ok((g.version, g.changed))
}

async fn put_zone(tx: &mut Tx, z: &Zone) -> Result<(GeometryVersion, bool), StoreError> {
    let g = version_geometry(
        tx,
        FenceKind::Zone,
        &z.id,
        Geometry::MultiPolygon(z.geometry.clone()),
    )
    .await?;
    on_tx!(tx, |conn, pg| {
        let sql = if pg {
            "INSERT INTO zones (id, name, version, kind, allowed, speed_limit_kmh, geom) \
             VALUES ($1, $2, $3, $4, $5, $6, ST_Multi(ST_GeomFromWKB($7, 4326))) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, \
             kind = excluded.kind, allowed = excluded.allowed, \
             speed_limit_kmh = excluded.speed_limit_kmh, geom = excluded.geom"
        } else {
            "INSERT INTO zones (id, name, version, kind, allowed, speed_limit_kmh, geom, \
             min_lon, min_lat, max_lon, max_lat) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, version = excluded.version, \
             kind = excluded.kind, allowed = excluded.allowed, \
             speed_limit_kmh = excluded.speed_limit_kmh, geom = excluded.geom, \
             min_lon = excluded.min_lon, min_lat = excluded.min_lat, \
             max_lon = excluded.max_lon, max_lat = excluded.max_lat"
        };
        let mut query = sqlx::query(sql)
            .bind(&z.id)
            .bind(&z.name)
            .bind(g.version)
            .bind(z.kind.as_str())
            .bind(Json(&z.allowed))
            .bind(z.speed_limit_kmh)
            .bind(&g.wkb);
        if !pg {
            query = query
                .bind(g.bbox.min_lon)
                .bind(g.bbox.min_lat)
                .bind(g.bbox.max_lon)
                .bind(g.bbox.max_lat);
        }
        query.execute(&mut *conn).await?;
    });
    Ok((g.version, g.changed))
}

async fn put_permit(tx: &mut Tx, p: &Permit) -> Result<(), StoreError> {
    on_tx!(tx, |conn, pg| {
        sqlx::query(
            "INSERT INTO permits (id, number, company_id, site_id, valid_from, valid_to, \
             daily_windows) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO UPDATE SET \
             number = excluded.number, company_id = excluded.company_id, \
             site_id = excluded.site_id, valid_from = excluded.valid_from, \
             valid_to = excluded.valid_to, daily_windows = excluded.daily_windows",
        )
        .bind(&p.id)
        .bind(&p.number)
        .bind(&p.company_id)
        .bind(&p.site_id)
        .bind(p.valid_from)
        .bind(p.valid_to)
        .bind(Json(&p.daily_windows))
        .execute(&mut *conn)
        .await?;
        let links: [(&str, &str, &Vec<String>); 3] = [
            ("permit_vehicles", "vehicle_id", &p.vehicle_ids),
            (
                "permit_disposal_grounds",
                "disposal_ground_id",
                &p.disposal_ground_ids,
            ),
            ("permit_routes", "route_id", &p.route_ids),
        ];
        for (table, column, ids) in links {
            sqlx::query(&format!("DELETE FROM {table} WHERE permit_id = $1"))
                .bind(&p.id)
                .execute(&mut *conn)
                .await?;
            let insert = format!(
                "INSERT INTO {table} (permit_id, {column}, ord) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING"
            );
            for (ord, target) in ids.iter().enumerate() {
                sqlx::query(&insert)
                    .bind(&p.id)
                    .bind(target)
                    .bind(i32::try_from(ord).unwrap_or(i32::MAX))
                    .execute(&mut *conn)
                    .await?;
            }
        }
    });
    Ok(())
}

async fn put_officer(tx: &mut Tx, o: &Officer) -> Result<(), StoreError> {
    on_tx!(tx, |conn, pg| {
        sqlx::query(
            "INSERT INTO officers (id, name, district_zone_id) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             district_zone_id = excluded.district_zone_id",
        )
        .bind(&o.id)
        .bind(&o.name)
        .bind(&o.district_zone_id)
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

/// Deletes one row by key; returns whether it existed.
async fn delete_row(tx: &mut Tx, table: &str, key: &str, id: &str) -> Result<bool, StoreError> {
    let sql = format!("DELETE FROM {table} WHERE {key} = $1");
    let affected = on_tx!(tx, |conn, pg| {
        sqlx::query(&sql)
            .bind(id)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    });
    Ok(affected > 0)
}

// ---------------------------------------------------------------------------------------------
// Reads inside a transaction

/// A value bound to a registry query, in order.
enum Bind {
    /// Text or NULL.
    Text(Option<String>),
    /// An integer.
    Int(i64),
}

/// Binds for a page: `$1` company (when `company_column` is used), then cursor, then limit.
fn page_binds(q: &ListQuery, with_company: bool) -> Vec<Bind> {
    let mut binds = Vec::with_capacity(3);
    if with_company {
        binds.push(Bind::Text(q.company_id.clone()));
    }
    binds.push(Bind::Text(q.cursor.clone()));
    binds.push(Bind::Int(i64::from(q.page_size()) + 1));
    binds
}

/// `WHERE ... ORDER BY ... LIMIT` for a page: with a company column, `$1` filters by company,
/// `$2` is the cursor and `$3` the limit; without one, `$1` is the cursor and `$2` the limit.
fn page_filter(company_column: Option<&str>, key: &str) -> String {
    match company_column {
        Some(company) => format!(
            "WHERE ($1 IS NULL OR {company} = $1) AND ($2 IS NULL OR {key} > $2) \
             ORDER BY {key} LIMIT $3"
        ),
        None => format!("WHERE ($1 IS NULL OR {key} > $1) ORDER BY {key} LIMIT $2"),
    }
}

/// Runs a registry `SELECT` with the given binds.
async fn fetch_rows<T>(tx: &mut Tx, sql: &str, binds: &[Bind]) -> Result<Vec<T>, StoreError>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    let rows = on_tx!(tx, |conn, pg| {
        let mut query = sqlx::query_as::<_, T>(sql);
        for bind in binds {
            query = match bind {
                Bind::Text(text) => query.bind(text.clone()),
                Bind::Int(n) => query.bind(*n),
            };
        }
        query.fetch_all(&mut *conn).await?
    });
    Ok(rows)
}

/// Runs a registry `SELECT ... WHERE key = $1` and returns the row, if any.
async fn fetch_by_id<T>(tx: &mut Tx, sql: &str, id: &str) -> Result<Option<T>, StoreError>
where
    T: Send
        + Unpin
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>,
{
    Ok(fetch_rows(tx, sql, &[Bind::Text(Some(id.to_string()))])
        .await?
        .pop())
}

fn polygon_fence_select(pg: bool, kind: FenceKind) -> String {
    format!(
        "SELECT id, name, {} AS geom, version FROM {}",
        geom_out(pg),
        kind.table()
    )
}

fn route_select(pg: bool) -> String {
    format!(
        "SELECT id, name, {} AS geom, corridor_m, speed_limit_kmh, version FROM routes",
        geom_out(pg)
    )
}

fn zone_select(pg: bool) -> String {
    format!(
        "SELECT id, name, kind, {} AS geom, allowed, speed_limit_kmh, version FROM zones",
        geom_out(pg)
    )
}

fn is_pg(tx: &Tx) -> bool {
    matches!(tx, Tx::Pg(_))
}

/// Fills the three id lists of `permits` from the link tables, for the permits whose ids lie in
/// `[first, last]` (all permits when `None`).
async fn attach_permit_links(
    tx: &mut Tx,
    permits: &mut [Permit],
    range: Option<(&str, &str)>,
) -> Result<(), StoreError> {
    use std::collections::HashMap;
    let index: HashMap<String, usize> = permits
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), i))
        .collect();
    for (table, column) in [
        ("permit_vehicles", "vehicle_id"),
        ("permit_disposal_grounds", "disposal_ground_id"),
        ("permit_routes", "route_id"),
    ] {
        let sql = format!(
            "SELECT permit_id, {column} AS target FROM {table} \
             WHERE ($1 IS NULL OR (permit_id >= $1 AND permit_id <= $2)) ORDER BY permit_id, ord"
        );
        let (from, to) = match range {
            Some((a, b)) => (Some(a.to_string()), Some(b.to_string())),
            None => (None, None),
        };
        let rows: Vec<LinkRow> = on_tx!(tx, |conn, pg| {
            sqlx::query_as(&sql)
                .bind(from)
                .bind(to)
                .fetch_all(&mut *conn)
                .await?
        });
        for row in rows {
            if let Some(permit) = index.get(&row.permit_id).and_then(|&i| permits.get_mut(i)) {
                match table {
                    "permit_vehicles" => permit.vehicle_ids.push(row.target),
                    "permit_disposal_grounds" => permit.disposal_ground_ids.push(row.target),
                    _ => permit.route_ids.push(row.target),
                }
            }
        }
    }
    Ok(())
}

fn polygon_rows_to<T>(
    rows: Vec<PolygonFenceRow>,
    make: impl Fn(String, String, MultiPolygon<f64>, i64) -> T,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|r| {
            Ok(make(
                r.id,
                r.name,
                codec::multipolygon_from_wkb(&r.geom)?,
                r.version,
            ))
        })
        .collect()
}

fn make_site(id: String, name: String, geometry: MultiPolygon<f64>, version: i64) -> Site {
    Site {
        id,
        name,
        geometry,
        version,
    }
}

fn make_ground(
    id: String,
    name: String,
    geometry: MultiPolygon<f64>,
    version: i64,
) -> DisposalGround {
    DisposalGround {
        id,
        name,
        geometry,
        version,
    }
}

// ---------------------------------------------------------------------------------------------
// Public API

impl Store {
    /// Loads the whole registry as one consistent snapshot (what the engine builds its index
    /// from). Every list is ordered by id.
    pub async fn registry(&self) -> Result<Registry, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let pg = is_pg(&tx);
        let companies: Vec<CompanyRow> = fetch_rows(
            &mut tx,
            "SELECT id, name, uscc FROM companies ORDER BY id",
            &[],
        )
        .await?;
        let vehicles: Vec<VehicleRow> = fetch_rows(
            &mut tx,
            &format!("SELECT {VEHICLE_COLUMNS} FROM vehicles ORDER BY id"),
            &[],
        )
        .await?;
        let terminals: Vec<TerminalRow> = fetch_rows(
            &mut tx,
            "SELECT phone, vehicle_id, model, protocol, auth_code FROM terminals ORDER BY phone",
            &[],
        )
        .await?;
        let drivers: Vec<DriverRow> = fetch_rows(
            &mut tx,
            "SELECT id, name, license_no, company_id FROM drivers ORDER BY id",
            &[],
        )
        .await?;
        let sites: Vec<PolygonFenceRow> = fetch_rows(
            &mut tx,
            &format!("{} ORDER BY id", polygon_fence_select(pg, FenceKind::Site)),
            &[],
        )
        .await?;
        let grounds: Vec<PolygonFenceRow> = fetch_rows(
            &mut tx,
            &format!(
                "{} ORDER BY id",
                polygon_fence_select(pg, FenceKind::DisposalGround)
            ),
            &[],
        )
        .await?;
        let routes: Vec<RouteRow> =
            fetch_rows(&mut tx, &format!("{} ORDER BY id", route_select(pg)), &[]).await?;
        let zones: Vec<ZoneRow> =
            fetch_rows(&mut tx, &format!("{} ORDER BY id", zone_select(pg)), &[]).await?;
        let permit_rows: Vec<PermitRow> = fetch_rows(
            &mut tx,
            &format!("SELECT {PERMIT_COLUMNS} FROM permits ORDER BY id"),
            &[],
        )
        .await?;
        let mut permits: Vec<Permit> = permit_rows
            .into_iter()
            .map(PermitRow::into_permit)
            .collect();
        attach_permit_links(&mut tx, &mut permits, None).await?;
        let officers: Vec<OfficerRow> = fetch_rows(
            &mut tx,
            "SELECT id, name, district_zone_id FROM officers ORDER BY id",
            &[],
        )
        .await?;
        tx.commit().await?;
        Ok(Registry {
            companies: companies.into_iter().map(Company::from).collect(),
            vehicles: vehicles
                .into_iter()
                .map(Vehicle::try_from)
                .collect::<Result<_, _>>()?,
            terminals: terminals.into_iter().map(Terminal::from).collect(),
            drivers: drivers.into_iter().map(Driver::from).collect(),
            sites: polygon_rows_to(sites, make_site)?,
            disposal_grounds: polygon_rows_to(grounds, make_ground)?,
            routes: routes
                .into_iter()
                .map(Route::try_from)
                .collect::<Result<_, _>>()?,
            zones: zones
                .into_iter()
                .map(Zone::try_from)
                .collect::<Result<_, _>>()?,
            permits,
            officers: officers.into_iter().map(Officer::from).collect(),
        })
    }

    /// Writes a whole registry (a bundle) in one transaction, upserting every entity by id.
    /// Entities already stored but absent from `registry` are left alone. Fence versions in
    /// `registry` are ignored: the store decides them. Nothing is written if anything fails.
    pub async fn import_registry(&self, registry: &Registry) -> Result<ImportSummary, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut summary = ImportSummary::default();
        for c in &registry.companies {
            put_company(&mut tx, c).await?;
        }
        summary.companies = registry.companies.len();
        for v in &registry.vehicles {
            put_vehicle(&mut tx, v).await?;
        }
        summary.vehicles = registry.vehicles.len();
        for t in &registry.terminals {
            put_terminal(&mut tx, t).await?;
        }
        summary.terminals = registry.terminals.len();
        for d in &registry.drivers {
            put_driver(&mut tx, d).await?;
        }
        summary.drivers = registry.drivers.len();
        for s in &registry.sites {
            let (_, changed) =
                put_polygon_fence(&mut tx, FenceKind::Site, &s.id, &s.name, &s.geometry).await?;
            summary.new_geometry_versions += usize::from(changed);
        }
        summary.sites = registry.sites.len();
        for g in &registry.disposal_grounds {
            let (_, changed) = put_polygon_fence(
                &mut tx,
                FenceKind::DisposalGround,
                &g.id,
                &g.name,
                &g.geometry,
            )
            .await?;
            summary.new_geometry_versions += usize::from(changed);
        }
        summary.disposal_grounds = registry.disposal_grounds.len();
        for r in &registry.routes {
            let (_, changed) = put_route(&mut tx, r).await?;
            summary.new_geometry_versions += usize::from(changed);
        }
        summary.routes = registry.routes.len();
        for z in &registry.zones {
            let (_, changed) = put_zone(&mut tx, z).await?;
            summary.new_geometry_versions += usize::from(changed);
        }
        summary.zones = registry.zones.len();
        for p in &registry.permits {
            put_permit(&mut tx, p).await?;
        }
        summary.permits = registry.permits.len();
        for o in &registry.officers {
            put_officer(&mut tx, o).await?;
        }
        summary.officers = registry.officers.len();
        tx.commit().await?;
        Ok(summary)
    }

    // --- companies -------------------------------------------------------------------------

    /// Inserts or replaces a company.
    pub async fn upsert_company(&self, company: &Company) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        put_company(&mut tx, company).await?;
        tx.commit().await
    }

    /// A company by id.
    pub async fn company(&self, id: &str) -> Result<Option<Company>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let row: Option<CompanyRow> = fetch_by_id(
            &mut tx,
            "SELECT id, name, uscc FROM companies WHERE id = $1",
            id,
        )
        .await?;
        tx.commit().await?;
        Ok(row.map(Company::from))
    }

    /// Companies by id; `company_id` narrows the list to that one company.
    pub async fn list_companies(&self, q: &ListQuery) -> Result<Page<Company>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!(
            "SELECT id, name, uscc FROM companies {}",
            page_filter(Some("id"), "id")
        );
        let rows: Vec<CompanyRow> = fetch_rows(&mut tx, &sql, &page_binds(q, true)).await?;
        let items = rows.into_iter().map(Company::from).collect();
        tx.commit().await?;
        Ok(page_by_key(items, q.page_size(), |c| c.id.clone()))
    }

    /// Deletes a company; [`StoreError::Conflict`] while anything still refers to it.
    pub async fn delete_company(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("companies", "id", id).await
    }

    async fn delete_by_key(&self, table: &str, key: &str, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let deleted = delete_row(&mut tx, table, key, id).await?;
        tx.commit().await?;
        Ok(deleted)
    }

    // --- vehicles --------------------------------------------------------------------------

    /// Inserts or replaces a vehicle; its company must exist.
    pub async fn upsert_vehicle(&self, vehicle: &Vehicle) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        put_vehicle(&mut tx, vehicle).await?;
        tx.commit().await
    }

    /// A vehicle by id.
    pub async fn vehicle(&self, id: &str) -> Result<Option<Vehicle>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let row: Option<VehicleRow> = fetch_by_id(
            &mut tx,
            &format!("SELECT {VEHICLE_COLUMNS} FROM vehicles WHERE id = $1"),
            id,
        )
        .await?;
        tx.commit().await?;
        row.map(Vehicle::try_from).transpose()
    }

    /// Vehicles by id, optionally of one company.
    pub async fn list_vehicles(&self, q: &ListQuery) -> Result<Page<Vehicle>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!(
            "SELECT {VEHICLE_COLUMNS} FROM vehicles {}",
            page_filter(Some("company_id"), "id")
        );
        let rows: Vec<VehicleRow> = fetch_rows(&mut tx, &sql, &page_binds(q, true)).await?;
        tx.commit().await?;
        let items = rows
            .into_iter()
            .map(Vehicle::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_by_key(items, q.page_size(), |v| v.id.clone()))
    }

    /// Deletes a vehicle (its terminal is unbound); [`StoreError::Conflict`] while a permit
    /// lists it.
    pub async fn delete_vehicle(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("vehicles", "id", id).await
    }

    // --- terminals -------------------------------------------------------------------------

    /// Inserts or replaces a terminal, keyed by its phone with leading zeros removed. An auth
    /// code already issued is kept when `terminal.auth_code` is `None`.
    pub async fn upsert_terminal(&self, terminal: &Terminal) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        put_terminal(&mut tx, terminal).await?;
        tx.commit().await
    }

    /// The terminal with this phone, leading zeros ignored (a 2019 header's 20 digits find the
    /// terminal registered with 11 or 12).
    pub async fn find_terminal(&self, phone: &str) -> Result<Option<Terminal>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let row: Option<TerminalRow> = fetch_by_id(
            &mut tx,
            "SELECT phone, vehicle_id, model, protocol, auth_code FROM terminals WHERE phone = $1",
            phone_key(phone),
        )
        .await?;
        tx.commit().await?;
        Ok(row.map(Terminal::from))
    }

    /// Terminals by phone key; `company_id` filters by the bound vehicle's company.
    pub async fn list_terminals(&self, q: &ListQuery) -> Result<Page<Terminal>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = "SELECT t.phone, t.vehicle_id, t.model, t.protocol, t.auth_code \
                   FROM terminals t LEFT JOIN vehicles v ON v.id = t.vehicle_id \
                   WHERE ($1 IS NULL OR v.company_id = $1) AND ($2 IS NULL OR t.phone > $2) \
                   ORDER BY t.phone LIMIT $3";
        let rows: Vec<TerminalRow> = fetch_rows(&mut tx, sql, &page_binds(q, true)).await?;
        tx.commit().await?;
        let items = rows.into_iter().map(Terminal::from).collect();
        Ok(page_by_key(items, q.page_size(), |t: &Terminal| {
            t.phone.clone()
        }))
    }

    /// Deletes a terminal (by phone, leading zeros ignored).
    pub async fn delete_terminal(&self, phone: &str) -> Result<bool, StoreError> {
        self.delete_by_key("terminals", "phone", phone_key(phone))
            .await
    }

    /// The terminal's auth code, issuing `candidate` if it has none yet. The code then stays the
    /// same across reconnects and re-registrations until [`Store::set_terminal_auth_code`]
    /// replaces it. [`StoreError::NotFound`] for an unregistered phone.
    pub async fn terminal_auth_code(
        &self,
        phone: &str,
        candidate: &str,
    ) -> Result<String, StoreError> {
        let mut tx = self.begin_write().await?;
        let code: Option<(Option<String>,)> = on_tx!(&mut tx, |conn, pg| {
            sqlx::query_as(
                "UPDATE terminals SET auth_code = COALESCE(auth_code, $2) WHERE phone = $1 \
                 RETURNING auth_code",
            )
            .bind(phone_key(phone))
            .bind(candidate)
            .fetch_optional(&mut *conn)
            .await?
        });
        tx.commit().await?;
        match code {
            Some((Some(code),)) => Ok(code),
            _ => Err(StoreError::NotFound {
                entity: "terminal",
                id: phone.to_string(),
            }),
        }
    }

    /// Replaces (or with `None`, clears) a terminal's auth code.
    pub async fn set_terminal_auth_code(
        &self,
        phone: &str,
        code: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let affected = on_tx!(&mut tx, |conn, pg| {
            sqlx::query("UPDATE terminals SET auth_code = $2 WHERE phone = $1")
                .bind(phone_key(phone))
                .bind(code)
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        tx.commit().await?;
        if affected == 0 {
            return Err(StoreError::NotFound {
                entity: "terminal",
                id: phone.to_string(),
            });
        }
        Ok(())
    }

    // --- drivers ---------------------------------------------------------------------------

    /// Inserts or replaces a driver.
    pub async fn upsert_driver(&self, driver: &Driver) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        put_driver(&mut tx, driver).await?;
        tx.commit().await
    }

    /// A driver by id.
    pub async fn driver(&self, id: &str) -> Result<Option<Driver>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let row: Option<DriverRow> = fetch_by_id(
            &mut tx,
            "SELECT id, name, license_no, company_id FROM drivers WHERE id = $1",
            id,
        )
        .await?;
        tx.commit().await?;
        Ok(row.map(Driver::from))
    }

    /// Drivers by id, optionally of one company.
    pub async fn list_drivers(&self, q: &ListQuery) -> Result<Page<Driver>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!(
            "SELECT id, name, license_no, company_id FROM drivers {}",
            page_filter(Some("company_id"), "id")
        );
        let rows: Vec<DriverRow> = fetch_rows(&mut tx, &sql, &page_binds(q, true)).await?;
        tx.commit().await?;
        let items = rows.into_iter().map(Driver::from).collect();
        Ok(page_by_key(items, q.page_size(), |d: &Driver| d.id.clone()))
    }

    /// Deletes a driver.
    pub async fn delete_driver(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("drivers", "id", id).await
    }

    // --- fences ----------------------------------------------------------------------------

    /// Inserts or replaces a site; returns its geometry version (`site.version` is ignored).
    pub async fn upsert_site(&self, site: &Site) -> Result<GeometryVersion, StoreError> {
        let mut tx = self.begin_write().await?;
        let (version, _) = put_polygon_fence(
            &mut tx,
            FenceKind::Site,
            &site.id,
            &site.name,
            &site.geometry,
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A site by id, with its current geometry.
    pub async fn site(&self, id: &str) -> Result<Option<Site>, StoreError> {
        let rows = self.polygon_fences(FenceKind::Site, Some(id), None).await?;
        polygon_rows_to(rows, make_site).map(|mut v| v.pop())
    }

    /// Sites by id.
    pub async fn list_sites(&self, q: &ListQuery) -> Result<Page<Site>, StoreError> {
        let rows = self.polygon_fences(FenceKind::Site, None, Some(q)).await?;
        let items = polygon_rows_to(rows, make_site)?;
        Ok(page_by_key(items, q.page_size(), |s: &Site| s.id.clone()))
    }

    /// Deletes a site (its geometry versions stay readable); [`StoreError::Conflict`] while a
    /// permit names it.
    pub async fn delete_site(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("sites", "id", id).await
    }

    /// Inserts or replaces a disposal ground; returns its geometry version.
    pub async fn upsert_disposal_ground(
        &self,
        ground: &DisposalGround,
    ) -> Result<GeometryVersion, StoreError> {
        let mut tx = self.begin_write().await?;
        let (version, _) = put_polygon_fence(
            &mut tx,
            FenceKind::DisposalGround,
            &ground.id,
            &ground.name,
            &ground.geometry,
        )
        .await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A disposal ground by id.
    pub async fn disposal_ground(&self, id: &str) -> Result<Option<DisposalGround>, StoreError> {
        let rows = self
            .polygon_fences(FenceKind::DisposalGround, Some(id), None)
            .await?;
        polygon_rows_to(rows, make_ground).map(|mut v| v.pop())
    }

    /// Disposal grounds by id.
    pub async fn list_disposal_grounds(
        &self,
        q: &ListQuery,
    ) -> Result<Page<DisposalGround>, StoreError> {
        let rows = self
            .polygon_fences(FenceKind::DisposalGround, None, Some(q))
            .await?;
        let items = polygon_rows_to(rows, make_ground)?;
        Ok(page_by_key(items, q.page_size(), |g: &DisposalGround| {
            g.id.clone()
        }))
    }

    /// Deletes a disposal ground; [`StoreError::Conflict`] while a permit names it.
    pub async fn delete_disposal_ground(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("disposal_grounds", "id", id).await
    }

    async fn polygon_fences(
        &self,
        kind: FenceKind,
        id: Option<&str>,
        q: Option<&ListQuery>,
    ) -> Result<Vec<PolygonFenceRow>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let select = polygon_fence_select(is_pg(&tx), kind);
        let rows = match id {
            Some(id) => fetch_by_id(&mut tx, &format!("{select} WHERE id = $1"), id)
                .await?
                .into_iter()
                .collect(),
            None => {
                let binds = q.map(|q| page_binds(q, false)).unwrap_or_default();
                fetch_rows(
                    &mut tx,
                    &format!("{select} {}", page_filter(None, "id")),
                    &binds,
                )
                .await?
            }
        };
        tx.commit().await?;
        Ok(rows)
    }

    /// Inserts or replaces a route; returns its geometry version.
    pub async fn upsert_route(&self, route: &Route) -> Result<GeometryVersion, StoreError> {
        let mut tx = self.begin_write().await?;
        let (version, _) = put_route(&mut tx, route).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A route by id.
    pub async fn route(&self, id: &str) -> Result<Option<Route>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!("{} WHERE id = $1", route_select(is_pg(&tx)));
        let row: Option<RouteRow> = fetch_by_id(&mut tx, &sql, id).await?;
        tx.commit().await?;
        row.map(Route::try_from).transpose()
    }

    /// Routes by id.
    pub async fn list_routes(&self, q: &ListQuery) -> Result<Page<Route>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!("{} {}", route_select(is_pg(&tx)), page_filter(None, "id"));
        let rows: Vec<RouteRow> = fetch_rows(&mut tx, &sql, &page_binds(q, false)).await?;
        tx.commit().await?;
        let items = rows
            .into_iter()
            .map(Route::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_by_key(items, q.page_size(), |r: &Route| r.id.clone()))
    }

    /// Deletes a route; [`StoreError::Conflict`] while a permit names it.
    pub async fn delete_route(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("routes", "id", id).await
    }

    /// Inserts or replaces a control zone; returns its geometry version.
    pub async fn upsert_zone(&self, zone: &Zone) -> Result<GeometryVersion, StoreError> {
        let mut tx = self.begin_write().await?;
        let (version, _) = put_zone(&mut tx, zone).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A zone by id.
    pub async fn zone(&self, id: &str) -> Result<Option<Zone>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!("{} WHERE id = $1", zone_select(is_pg(&tx)));
        let row: Option<ZoneRow> = fetch_by_id(&mut tx, &sql, id).await?;
        tx.commit().await?;
        row.map(Zone::try_from).transpose()
    }

    /// Zones by id.
    pub async fn list_zones(&self, q: &ListQuery) -> Result<Page<Zone>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!("{} {}", zone_select(is_pg(&tx)), page_filter(None, "id"));
        let rows: Vec<ZoneRow> = fetch_rows(&mut tx, &sql, &page_binds(q, false)).await?;
        tx.commit().await?;
        let items = rows
            .into_iter()
            .map(Zone::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_by_key(items, q.page_size(), |z: &Zone| z.id.clone()))
    }

    /// Deletes a zone (officers of that district are unassigned).
    pub async fn delete_zone(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("zones", "id", id).await
    }

    /// The geometry a fence had at `version`, even if it has changed or been deleted since:
    /// what evidence naming a [`FenceRef`](crate::model::FenceRef) is checked against.
    pub async fn fence_geometry(
        &self,
        kind: FenceKind,
        id: &str,
        version: GeometryVersion,
    ) -> Result<Option<Geometry<f64>>, StoreError> {
        let row: Option<(Vec<u8>,)> = super::on_pool!(self, |pool, pg| {
            let sql = format!(
                "SELECT {} AS geom FROM fence_versions WHERE kind = $1 AND id = $2 AND version = $3",
                geom_out(pg)
            );
            sqlx::query_as(&sql)
                .bind(kind.as_str())
                .bind(id)
                .bind(version)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(bytes,)| codec::from_wkb(&bytes)).transpose()
    }

    /// Every geometry version of a fence with when it was recorded, oldest first.
    pub async fn fence_versions(
        &self,
        kind: FenceKind,
        id: &str,
    ) -> Result<Vec<(GeometryVersion, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(i64, Ts)> = super::on_pool!(self, |pool, pg| {
            sqlx::query_as(
                "SELECT version, created_at FROM fence_versions WHERE kind = $1 AND id = $2 \
                 ORDER BY version",
            )
            .bind(kind.as_str())
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(v, t)| (v, t.0)).collect())
    }

    // --- permits ---------------------------------------------------------------------------

    /// Inserts or replaces a permit with its vehicle, disposal-ground and route lists.
    pub async fn upsert_permit(&self, permit: &Permit) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        put_permit(&mut tx, permit).await?;
        tx.commit().await
    }

    /// A permit by id.
    pub async fn permit(&self, id: &str) -> Result<Option<Permit>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let row: Option<PermitRow> = fetch_by_id(
            &mut tx,
            &format!("SELECT {PERMIT_COLUMNS} FROM permits WHERE id = $1"),
            id,
        )
        .await?;
        let mut permits: Vec<Permit> = row.into_iter().map(PermitRow::into_permit).collect();
        attach_permit_links(&mut tx, &mut permits, Some((id, id))).await?;
        tx.commit().await?;
        Ok(permits.pop())
    }

    /// Permits by id, optionally of one company.
    pub async fn list_permits(&self, q: &ListQuery) -> Result<Page<Permit>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!(
            "SELECT {PERMIT_COLUMNS} FROM permits {}",
            page_filter(Some("company_id"), "id")
        );
        let rows: Vec<PermitRow> = fetch_rows(&mut tx, &sql, &page_binds(q, true)).await?;
        let mut page = page_by_key(
            rows.into_iter().map(PermitRow::into_permit).collect(),
            q.page_size(),
            |p: &Permit| p.id.clone(),
        );
        if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
            let (first, last) = (first.id.clone(), last.id.clone());
            attach_permit_links(&mut tx, &mut page.items, Some((&first, &last))).await?;
        }
        tx.commit().await?;
        Ok(page)
    }

    /// Deletes a permit and its lists.
    pub async fn delete_permit(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("permits", "id", id).await
    }

    // --- officers --------------------------------------------------------------------------

    /// Inserts or replaces an officer; the district zone, if named, must exist.
    pub async fn upsert_officer(&self, officer: &Officer) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        put_officer(&mut tx, officer).await?;
        tx.commit().await
    }

    /// An officer by id.
    pub async fn officer(&self, id: &str) -> Result<Option<Officer>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let row: Option<OfficerRow> = fetch_by_id(
            &mut tx,
            "SELECT id, name, district_zone_id FROM officers WHERE id = $1",
            id,
        )
        .await?;
        tx.commit().await?;
        Ok(row.map(Officer::from))
    }

    /// Officers by id.
    pub async fn list_officers(&self, q: &ListQuery) -> Result<Page<Officer>, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let sql = format!(
            "SELECT id, name, district_zone_id FROM officers {}",
            page_filter(None, "id")
        );
        let rows: Vec<OfficerRow> = fetch_rows(&mut tx, &sql, &page_binds(q, false)).await?;
        tx.commit().await?;
        let items = rows.into_iter().map(Officer::from).collect();
        Ok(page_by_key(items, q.page_size(), |o: &Officer| {
            o.id.clone()
        }))
    }

    /// Deletes an officer.
    pub async fn delete_officer(&self, id: &str) -> Result<bool, StoreError> {
        self.delete_by_key("officers", "id", id).await
    }
}
