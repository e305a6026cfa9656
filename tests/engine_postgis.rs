//! The fence index against PostGIS on a sample: `ST_Contains` on SRID 4326 geometry for
//! polygon fences, `ST_DWithin` on geography (spheroid) for route corridors.
//!
//! Tolerance at the edges: a pair may differ only when the point is within 1 mm of the polygon
//! boundary, or when PostGIS's own geography distance is within 0.3 % of the corridor width.
//!
//! Needs PostgreSQL with PostGIS (`source scripts/services; ensure_services` starts it). The
//! test fails, not skips, when it is unreachable. It works in a schema of its own, dropped at
//! the end, so it can share the server with other tests.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};
use haulwatch::engine::index::{FenceIndex, Hits, IndexConfig};
use haulwatch::engine::metric::LocalMetric;
use haulwatch::engine::synthetic::{self, FenceSpec};
use haulwatch::model::Registry;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};

fn database_url() -> String {
    std::env::var("HAULWATCH_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/haulwatch_test".into())
}

fn wkt_multipolygon(mp: &geo_types::MultiPolygon<f64>) -> String {
    let ring = |ls: &geo_types::LineString<f64>| {
        let pts: Vec<String> = ls.coords().map(|c| format!("{} {}", c.x, c.y)).collect();
        format!("({})", pts.join(","))
    };
    let polys: Vec<String> = mp
        .iter()
        .map(|p| {
            let rings: Vec<String> = std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(ring)
                .collect();
            format!("({})", rings.join(","))
        })
        .collect();
    format!("MULTIPOLYGON({})", polys.join(","))
}

fn wkt_multiline(ml: &geo_types::MultiLineString<f64>) -> String {
    let lines: Vec<String> = ml
        .iter()
        .map(|l| {
            let pts: Vec<String> = l.coords().map(|c| format!("{} {}", c.x, c.y)).collect();
            format!("({})", pts.join(","))
        })
        .collect();
    format!("MULTILINESTRING({})", lines.join(","))
}

/// Random points plus points just around fence vertices and corridor edges.
fn sample_points(reg: &Registry) -> Vec<(f64, f64)> {
    let mut pts = synthetic::points(77, 3000, synthetic::LIUZHOU_BOX);
    let m = LocalMetric::at_lat(24.35);
    for s in reg.sites.iter().take(60) {
        for poly in &s.geometry {
            for c in poly.exterior().coords().step_by(3) {
                pts.push((c.x + 0.5 / m.kx, c.y - 0.3 / m.ky));
                pts.push((c.x - 2.0 / m.kx, c.y + 1.0 / m.ky));
            }
        }
    }
    for r in &reg.routes {
        for l in &r.geometry {
            for c in l.coords() {
                pts.push((c.x, c.y + (r.corridor_m - 0.5) / m.ky));
                pts.push((c.x, c.y - (r.corridor_m + 0.5) / m.ky));
            }
        }
    }
    pts
}

async fn load(pool: &PgPool, schema: &str, reg: &Registry, pts: &[(f64, f64)]) -> Result<()> {
    pool.execute(
        format!(
            "create table {schema}.fences (id text primary key, geom geometry(MultiPolygon, 4326));
             create table {schema}.routes (id text primary key, geog geography(MultiLineString, 4326), width_m float8);
             create table {schema}.pts (id int primary key, geom geometry(Point, 4326), geog geography(Point, 4326));"
        )
        .as_str(),
    )
    .await?;
    let (ids, wkts): (Vec<String>, Vec<String>) = reg
        .sites
        .iter()
        .map(|s| (s.id.clone(), wkt_multipolygon(&s.geometry)))
        .chain(
            reg.disposal_grounds
                .iter()
                .map(|d| (d.id.clone(), wkt_multipolygon(&d.geometry))),
        )
        .chain(
            reg.zones
                .iter()
                .map(|z| (z.id.clone(), wkt_multipolygon(&z.geometry))),
        )
        .unzip();
    sqlx::query(&format!(
        "insert into {schema}.fences select i, ST_GeomFromText(w, 4326) from unnest($1::text[], $2::text[]) as t(i, w)"
    ))
    .bind(&ids)
    .bind(&wkts)
    .execute(pool)
    .await?;
    let ids: Vec<String> = reg.routes.iter().map(|r| r.id.clone()).collect();
    let wkts: Vec<String> = reg
        .routes
        .iter()
        .map(|r| wkt_multiline(&r.geometry))
        .collect();
    let widths: Vec<f64> = reg.routes.iter().map(|r| r.corridor_m).collect();
    sqlx::query(&format!(
        "insert into {schema}.routes select i, ST_GeogFromText('SRID=4326;' || w), d from unnest($1::text[], $2::text[], $3::float8[]) as t(i, w, d)"
    ))
    .bind(&ids)
    .bind(&wkts)
    .bind(&widths)
    .execute(pool)
    .await?;
    let n: Vec<i32> = (0..pts.len() as i32).collect();
    let xs: Vec<f64> = pts.iter().map(|p| p.0).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.1).collect();
    sqlx::query(&format!(
        "insert into {schema}.pts select i, ST_SetSRID(ST_MakePoint(x, y), 4326), ST_SetSRID(ST_MakePoint(x, y), 4326)::geography from unnest($1::int[], $2::float8[], $3::float8[]) as t(i, x, y)"
    ))
    .bind(&n)
    .bind(&xs)
    .bind(&ys)
    .execute(pool)
    .await?;
    pool.execute(
        format!(
            "create index on {schema}.fences using gist (geom); create index on {schema}.routes using gist (geog); create index on {schema}.pts using gist (geog); analyze {schema}.pts; analyze {schema}.routes;"
        )
        .as_str(),
    )
    .await?;
    Ok(())
}

async fn compare(pool: &PgPool, schema: &str, reg: &Registry, pts: &[(f64, f64)]) -> Result<()> {
    let (index, _) = FenceIndex::build(reg, &IndexConfig::default());
    let mut ours_poly: BTreeSet<(i32, String)> = BTreeSet::new();
    let mut ours_corr: BTreeSet<(i32, String)> = BTreeSet::new();
    let mut hits = Hits::default();
    for (i, &(x, y)) in pts.iter().enumerate() {
        index.classify(x, y, &mut hits);
        for &s in &hits.polygons {
            let f = index.fence(s).context("slot")?;
            ours_poly.insert((i as i32, f.id.to_string()));
        }
        for &s in &hits.corridors {
            let f = index.fence(s).context("slot")?;
            ours_corr.insert((i as i32, f.id.to_string()));
        }
    }
    let pg_poly: BTreeSet<(i32, String)> = sqlx::query_as(&format!(
        "select p.id, f.id from {schema}.pts p join {schema}.fences f on ST_Contains(f.geom, p.geom)"
    ))
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let pg_corr: BTreeSet<(i32, String)> = sqlx::query_as(&format!(
        "select p.id, r.id from {schema}.pts p join {schema}.routes r on ST_DWithin(r.geog, p.geog, r.width_m)"
    ))
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    if pg_poly.len() < 200 || pg_corr.len() < 100 {
        bail!(
            "sample too thin to compare: {} polygon pairs, {} corridor pairs",
            pg_poly.len(),
            pg_corr.len()
        );
    }
    for (i, id) in ours_poly.symmetric_difference(&pg_poly) {
        let (x, y) = pts[*i as usize];
        let slot = ["site", "disposal_ground", "zone"]
            .iter()
            .find_map(|fam| index.slot_of(fam, id))
            .context("fence")?;
        let d = index.boundary_distance_m(slot, x, y).context("distance")?;
        if d > 0.001 {
            bail!(
                "point {i} and fence {id} disagree {d} m from the boundary (ours: {})",
                ours_poly.contains(&(*i, id.clone()))
            );
        }
    }
    for (i, id) in ours_corr.symmetric_difference(&pg_corr) {
        let (d, w): (f64, f64) = sqlx::query_as(&format!(
            "select ST_Distance(r.geog, p.geog), r.width_m from {schema}.pts p, {schema}.routes r where p.id = $1 and r.id = $2"
        ))
        .bind(i)
        .bind(id)
        .fetch_one(pool)
        .await?;
        if (d - w).abs() > w * 0.003 {
            bail!("point {i} and corridor {id} disagree: PostGIS distance {d} m, width {w} m");
        }
    }
    let differing = ours_poly.symmetric_difference(&pg_poly).count()
        + ours_corr.symmetric_difference(&pg_corr).count();
    eprintln!(
        "compared {} points: {} polygon pairs, {} corridor pairs, {differing} edge cases within tolerance",
        pts.len(),
        pg_poly.len(),
        pg_corr.len()
    );
    Ok(())
}

#[tokio::test]
async fn index_agrees_with_postgis() -> Result<()> {
    let url = database_url();
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect(&url)
        .await
        .with_context(|| {
            format!(
                "PostgreSQL with PostGIS is required at {url} (set HAULWATCH_TEST_DATABASE_URL, or start it with `source scripts/services; ensure_services`)"
            )
        })?;
    let schema = format!(
        "engine_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
    );
    pool.execute(format!("create schema {schema}").as_str())
        .await?;
    let reg = synthetic::registry(&FenceSpec::small(11, 600, 40));
    let pts = sample_points(&reg);
    let result = async {
        load(&pool, &schema, &reg, &pts).await?;
        compare(&pool, &schema, &reg, &pts).await
    }
    .await;
    pool.execute(format!("drop schema if exists {schema} cascade").as_str())
        .await?;
    result
}
