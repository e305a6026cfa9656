//! One conformance suite, run against both backends: every case runs once on SQLite (in a
//! temporary directory) and once on PostgreSQL + PostGIS (in a schema of its own at
//! HAULWATCH_TEST_DATABASE_URL; fails, never skips, when PostgreSQL is down).

mod store_support;

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, ensure};
use chrono::Duration;
use geo_types::{Geometry, LineString, MultiLineString};
use haulwatch::model::{
    Company, LoadState, PositionFlags, PositionSource, Site, Terminal, Vehicle, Violation,
    ViolationKind, ViolationStatus, phone_key,
};
use haulwatch::store::{
    ApiToken, FenceKind, ListQuery, Store, StoreError, TrackQuery, TrackWriterConfig, User,
    ViolationQuery,
};
use store_support::*;

/// Generates `sqlite::case` and `postgres::case` tests for each case.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::store_support::sqlite().await;
                    super::$case(&db.store).await.expect(stringify!($case));
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::store_support::postgres().await;
                    super::$case(&db.store).await.expect(stringify!($case));
                    db.finish().await;
                }
            )*
        }
    };
}

conformance!(
    registry_round_trips_every_field,
    sample_bundle_import_is_idempotent,
    geometry_changes_make_versions_and_old_versions_stay_readable,
    lists_paginate_and_filter_by_company,
    references_are_enforced,
    terminals_match_without_leading_zeros_and_keep_their_auth_code,
    users_and_api_tokens,
    positions_round_trip_every_field,
    resent_positions_are_not_duplicated,
    track_queries_select_range_usable_and_simplify,
    latest_position_follows_gnss_time_not_arrival,
    vehicles_in_area_uses_the_exact_polygon,
    group_commit_confirms_every_caller_and_stores_everything,
    track_batches_and_other_writes_interleave,
    violations_upsert_list_and_paginate,
    retention_removes_old_tracks,
    trips_are_recorded_once_and_listed_by_company,
);

async fn trips_are_recorded_once_and_listed_by_company(store: &Store) -> anyhow::Result<()> {
    let at = |minutes: i64| {
        "2026-11-23T02:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("time")
            + chrono::Duration::minutes(minutes)
    };
    let trip = |id: &str, company: &str, minutes: i64| haulwatch::model::Trip {
        id: id.into(),
        vehicle_id: Some(format!("V-{company}")),
        company_id: Some(company.into()),
        permit_id: Some("P1".into()),
        site_id: Some("S1".into()),
        disposal_ground_id: "D1".into(),
        loaded_at: at(minutes - 30),
        arrived_at: at(minutes),
    };
    store.upsert_trip(&trip("t1", "C1", 0)).await?;
    store.upsert_trip(&trip("t1", "C1", 0)).await?; // re-judged: counted once
    store.upsert_trip(&trip("t2", "C1", 60)).await?;
    store.upsert_trip(&trip("t3", "C2", 10)).await?;
    let c1 = store.trips(Some("C1"), at(-1), at(120)).await?;
    assert_eq!(
        c1.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        ["t1", "t2"]
    );
    assert_eq!(c1[0], trip("t1", "C1", 0));
    assert_eq!(store.trips(None, at(-1), at(120)).await?.len(), 3);
    // The range is half-open on arrival time.
    assert_eq!(store.trips(Some("C1"), at(0), at(60)).await?.len(), 1);
    Ok(())
}

async fn registry_round_trips_every_field(store: &Store) -> anyhow::Result<()> {
    let registry = small_registry();
    store.import_registry(&registry).await?;
    let mut loaded = store.registry().await?;
    // The store keeps a terminal's auth code; the fixture gave one to the second terminal.
    ensure!(
        loaded == sorted(registry.clone()),
        "loaded registry differs:\n{loaded:#?}"
    );
    // Entity getters agree with the snapshot.
    ensure!(store.vehicle("v3").await? == Some(registry.vehicles[2].clone()));
    ensure!(store.permit("p1").await? == Some(registry.permits[0].clone()));
    ensure!(store.zone("z-core").await? == Some(registry.zones[0].clone()));
    ensure!(store.route("r1").await? == Some(registry.routes[0].clone()));
    ensure!(store.disposal_ground("g1").await? == Some(registry.disposal_grounds[0].clone()));
    ensure!(store.officer("o1").await? == Some(registry.officers[0].clone()));
    ensure!(store.driver("d1").await? == Some(registry.drivers[0].clone()));
    ensure!(store.company("nope").await?.is_none());
    // Deleting a permit removes its lists too.
    ensure!(store.delete_permit("p1").await?);
    loaded = store.registry().await?;
    ensure!(loaded.permits.is_empty());
    ensure!(!store.delete_permit("p1").await?);
    Ok(())
}

async fn sample_bundle_import_is_idempotent(store: &Store) -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("geofences/liuzhou");
    let bundle =
        sorted(haulwatch::import::load_bundle(&dir).map_err(|f| anyhow::anyhow!("{f:?}"))?);
    let first = haulwatch::import::import_bundle(store, &dir).await?;
    ensure!(first.vehicles == 200 && first.sites == 30 && first.routes == 20);
    ensure!(first.new_geometry_versions == 30 + 6 + 20 + bundle.zones.len());
    let loaded = store.registry().await?;
    ensure!(loaded == bundle, "stored sample differs from the bundle");
    let second = haulwatch::import::import_bundle(store, &dir).await?;
    ensure!(second.new_geometry_versions == 0, "{second:?}");
    ensure!(store.registry().await? == bundle);
    Ok(())
}

async fn geometry_changes_make_versions_and_old_versions_stay_readable(
    store: &Store,
) -> anyhow::Result<()> {
    let mut site = Site {
        id: "s-v".into(),
        name: "Versioned".into(),
        geometry: square(109.4, 24.3, 0.001),
        version: 99,
    };
    ensure!(store.upsert_site(&site).await? == 1);
    site.name = "Renamed".into();
    ensure!(
        store.upsert_site(&site).await? == 1,
        "same geometry keeps the version"
    );
    let old = site.geometry.clone();
    site.geometry = square(109.4, 24.3, 0.002);
    ensure!(store.upsert_site(&site).await? == 2);
    let stored = store.site("s-v").await?.context("site")?;
    ensure!(stored.version == 2 && stored.name == "Renamed" && stored.geometry == site.geometry);
    ensure!(
        store.fence_geometry(FenceKind::Site, "s-v", 1).await?
            == Some(Geometry::MultiPolygon(old.clone()))
    );
    // Deleted and recreated: old versions stay, numbers are not reused.
    ensure!(store.delete_site("s-v").await?);
    ensure!(store.site("s-v").await?.is_none());
    ensure!(
        store.fence_geometry(FenceKind::Site, "s-v", 2).await?
            == Some(Geometry::MultiPolygon(site.geometry.clone()))
    );
    site.geometry = old;
    ensure!(store.upsert_site(&site).await? == 3);
    let versions: Vec<i64> = store
        .fence_versions(FenceKind::Site, "s-v")
        .await?
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    ensure!(versions == vec![1, 2, 3], "{versions:?}");
    // Kinds have separate histories; routes too.
    let mut route = small_registry().routes.remove(0);
    ensure!(store.upsert_route(&route).await? == 1);
    route.geometry = MultiLineString(vec![LineString::from(vec![(109.5, 24.36), (109.6, 24.4)])]);
    route.corridor_m = 60.0;
    ensure!(store.upsert_route(&route).await? == 2);
    ensure!(
        store.route("r1").await?
            == Some(haulwatch::model::Route {
                version: 2,
                ..route
            })
    );
    ensure!(
        store
            .fence_geometry(FenceKind::Zone, "s-v", 1)
            .await?
            .is_none()
    );
    Ok(())
}

async fn lists_paginate_and_filter_by_company(store: &Store) -> anyhow::Result<()> {
    for c in ["ca", "cb"] {
        store
            .upsert_company(&Company {
                id: c.into(),
                name: c.into(),
                uscc: "x".into(),
            })
            .await?;
    }
    for i in 0..25 {
        store
            .upsert_vehicle(&Vehicle {
                id: format!("veh-{i:02}"),
                plate: format!("桂B{i:05}"),
                plate_color: 2,
                company_id: if i % 3 == 0 { "cb" } else { "ca" }.into(),
                rated_load_kg: None,
                sensors: Default::default(),
            })
            .await?;
    }
    let mut seen = Vec::new();
    let mut query = ListQuery {
        limit: 7,
        ..Default::default()
    };
    let mut pages = 0;
    loop {
        let page = store.list_vehicles(&query).await?;
        pages += 1;
        ensure!(page.items.len() <= 7);
        seen.extend(page.items.into_iter().map(|v| v.id));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    ensure!(pages == 4, "{pages} pages");
    let expected: Vec<String> = (0..25).map(|i| format!("veh-{i:02}")).collect();
    ensure!(seen == expected, "{seen:?}");
    let of_b = store
        .list_vehicles(&ListQuery {
            company_id: Some("cb".into()),
            ..Default::default()
        })
        .await?;
    ensure!(of_b.next_cursor.is_none());
    ensure!(of_b.items.len() == 9 && of_b.items.iter().all(|v| v.company_id == "cb"));
    // Terminals filter by their vehicle's company.
    store
        .upsert_terminal(&Terminal {
            phone: "1000".into(),
            vehicle_id: Some("veh-00".into()),
            model: "m".into(),
            protocol: "2013".into(),
            auth_code: None,
        })
        .await?;
    store
        .upsert_terminal(&Terminal {
            phone: "1001".into(),
            vehicle_id: Some("veh-01".into()),
            model: "m".into(),
            protocol: "2013".into(),
            auth_code: None,
        })
        .await?;
    let terminals = store
        .list_terminals(&ListQuery {
            company_id: Some("cb".into()),
            ..Default::default()
        })
        .await?;
    ensure!(terminals.items.len() == 1 && terminals.items[0].phone == "1000");
    let companies = store
        .list_companies(&ListQuery {
            limit: 1,
            ..Default::default()
        })
        .await?;
    ensure!(companies.items.len() == 1 && companies.next_cursor.as_deref() == Some("ca"));
    Ok(())
}

async fn references_are_enforced(store: &Store) -> anyhow::Result<()> {
    store.import_registry(&small_registry()).await?;
    let orphan = Vehicle {
        id: "v-orphan".into(),
        plate: "x".into(),
        plate_color: 2,
        company_id: "no-such-company".into(),
        rated_load_kg: None,
        sensors: Default::default(),
    };
    ensure!(matches!(
        store.upsert_vehicle(&orphan).await,
        Err(StoreError::Conflict(_))
    ));
    ensure!(matches!(
        store.delete_company("c1").await,
        Err(StoreError::Conflict(_))
    ));
    ensure!(matches!(
        store.delete_site("s1").await,
        Err(StoreError::Conflict(_))
    ));
    // A vehicle on a permit cannot go; one that is not can, and its terminal is unbound.
    ensure!(matches!(
        store.delete_vehicle("v1").await,
        Err(StoreError::Conflict(_))
    ));
    ensure!(store.delete_vehicle("v3").await?);
    // A failed import writes nothing.
    let mut bad = small_registry();
    bad.companies[0].name = "changed".into();
    bad.vehicles.push(orphan);
    ensure!(store.import_registry(&bad).await.is_err());
    ensure!(store.company("c1").await?.context("c1")?.name != "changed");
    Ok(())
}

async fn terminals_match_without_leading_zeros_and_keep_their_auth_code(
    store: &Store,
) -> anyhow::Result<()> {
    store.import_registry(&small_registry()).await?;
    let t2013 = store.find_terminal("013912345678").await?.context("2013")?;
    let t2019 = store
        .find_terminal("00000000013912345678")
        .await?
        .context("2019")?;
    ensure!(t2013 == t2019 && t2013.vehicle_id.as_deref() == Some("v1"));
    ensure!(store.find_terminal("13900009999").await?.is_none());
    let code = store.terminal_auth_code("013912345678", "first").await?;
    ensure!(code == "first");
    let again = store
        .terminal_auth_code("00000000013912345678", "second")
        .await?;
    ensure!(again == "first", "auth code must be stable, got {again}");
    // Re-importing the bundle (no auth codes in it) keeps the issued code.
    store.import_registry(&small_registry()).await?;
    ensure!(store.terminal_auth_code("13912345678", "third").await? == "first");
    store
        .set_terminal_auth_code("13912345678", Some("reset"))
        .await?;
    ensure!(store.terminal_auth_code("13912345678", "x").await? == "reset");
    ensure!(matches!(
        store.terminal_auth_code("19999999999", "x").await,
        Err(StoreError::NotFound { .. })
    ));
    ensure!(store.delete_terminal("0013912345678").await?);
    ensure!(
        store
            .find_terminal(phone_key("13912345678"))
            .await?
            .is_none()
    );
    Ok(())
}

async fn users_and_api_tokens(store: &Store) -> anyhow::Result<()> {
    store.import_registry(&small_registry()).await?;
    let user = User {
        id: "u1".into(),
        username: "dispatcher".into(),
        password_hash: "$argon2id$v=19$...".into(),
        role: "dispatcher".into(),
        company_id: None,
        created_at: now_micros(),
    };
    store.upsert_user(&user).await?;
    let company_user = User {
        id: "u2".into(),
        username: "fleet".into(),
        role: "company".into(),
        company_id: Some("c1".into()),
        ..user.clone()
    };
    store.upsert_user(&company_user).await?;
    ensure!(store.user_by_username("dispatcher").await? == Some(user.clone()));
    ensure!(store.user("u2").await? == Some(company_user.clone()));
    let clash = User {
        id: "u3".into(),
        ..user.clone()
    };
    ensure!(matches!(
        store.upsert_user(&clash).await,
        Err(StoreError::Conflict(_))
    ));
    let of_c1 = store
        .list_users(&ListQuery {
            company_id: Some("c1".into()),
            ..Default::default()
        })
        .await?;
    ensure!(of_c1.items == vec![company_user]);
    let token = ApiToken {
        token_hash: "ab".repeat(32),
        name: "integration".into(),
        role: "company".into(),
        company_id: Some("c1".into()),
        user_id: Some("u1".into()),
        created_at: now_micros(),
        expires_at: Some(now_micros() + Duration::days(30)),
    };
    store.insert_api_token(&token).await?;
    ensure!(store.api_token_by_hash(&token.token_hash).await? == Some(token.clone()));
    ensure!(store.api_token_by_hash("cd").await?.is_none());
    ensure!(matches!(
        store.insert_api_token(&token).await,
        Err(StoreError::Conflict(_))
    ));
    // Deleting the user deletes the tokens they created.
    ensure!(store.delete_user("u1").await?);
    ensure!(store.api_token_by_hash(&token.token_hash).await?.is_none());
    Ok(())
}

async fn positions_round_trip_every_field(store: &Store) -> anyhow::Result<()> {
    let t = now_micros();
    let full = position(1, Some("v1"), t, 109.412345, 24.312345);
    let mut bare = position(2, None, t + Duration::seconds(1), -0.5, -33.25);
    bare.phone = "00000000017700000003".into();
    bare.load = LoadState::Unknown;
    bare.lift_up = None;
    bare.lid_open = Some(true);
    bare.weight_kg = None;
    bare.mileage_km = None;
    bare.source = PositionSource::BlindArea;
    bare.alarm = u32::MAX;
    bare.status = 0x8000_0001;
    bare.heading = 359;
    bare.altitude_m = -12;
    bare.flags = PositionFlags(PositionFlags::UNREGISTERED | PositionFlags::NO_FIX);
    bare.raw = bytes::Bytes::from(vec![0u8; 1024]);
    let mut odd = position(3, Some("v2"), t + Duration::seconds(2), 200.0, 95.0);
    odd.flags.set(PositionFlags::OUT_OF_RANGE);
    odd.load = LoadState::Half;
    odd.source = PositionSource::Query;
    let batch = vec![full, bare, odd];
    store.insert_positions(&batch).await?;
    let loaded = store.positions_by_id(&[3, 1, 2, 99]).await?;
    ensure!(loaded == batch, "loaded {loaded:#?}");
    Ok(())
}

async fn resent_positions_are_not_duplicated(store: &Store) -> anyhow::Result<()> {
    let t = now_micros();
    let batch: Vec<_> = (1..=50)
        .map(|i| position(i, Some("v1"), t + Duration::seconds(i), 109.4, 24.3))
        .collect();
    store.insert_positions(&batch).await?;
    store.insert_positions(&batch).await?;
    store.insert_positions(&batch[10..20]).await?;
    let mut twice_in_one = batch[..5].to_vec();
    twice_in_one.extend_from_slice(&batch[..5]);
    store.insert_positions(&twice_in_one).await?;
    store.insert_position_unbatched(&batch[0]).await?;
    let n = store
        .count_positions(t - Duration::hours(1), t + Duration::hours(1))
        .await?;
    ensure!(n == 50, "{n} positions stored");
    Ok(())
}

async fn track_queries_select_range_usable_and_simplify(store: &Store) -> anyhow::Result<()> {
    let t0 = now_micros() - Duration::hours(2);
    let mut batch = Vec::new();
    // 21 fixes going east then north (an L), one GPS jump in the middle, and another vehicle.
    for i in 0..=10 {
        batch.push(position(
            100 + i,
            Some("v1"),
            t0 + Duration::seconds(10 * i),
            109.40 + 0.001 * i as f64,
            24.30,
        ));
    }
    for i in 1..=10 {
        batch.push(position(
            110 + i,
            Some("v1"),
            t0 + Duration::seconds(100 + 10 * i),
            109.41,
            24.30 + 0.001 * i as f64,
        ));
    }
    let mut jump = position(200, Some("v1"), t0 + Duration::seconds(55), 110.5, 25.0);
    jump.flags.set(PositionFlags::JUMP);
    batch.push(jump);
    batch.push(position(
        300,
        Some("v2"),
        t0 + Duration::seconds(20),
        109.0,
        24.0,
    ));
    // Inserted out of order on purpose (blind-area uploads arrive late). On SQLite the first
    // part is moved into the per-vehicle index and the rest is still pending when queried.
    batch.reverse();
    store.insert_positions(&batch[..12]).await?;
    store.merge_track_index().await?;
    store.insert_positions(&batch[12..]).await?;
    // A re-sent position that is already indexed must not show twice.
    store.insert_positions(&batch[..2]).await?;

    let all = store
        .track(&TrackQuery::new("v1", t0, t0 + Duration::hours(1)))
        .await?;
    ensure!(all.len() == 22, "{} positions", all.len());
    store.merge_track_index().await?;
    let after_merge = store
        .track(&TrackQuery::new("v1", t0, t0 + Duration::hours(1)))
        .await?;
    ensure!(
        after_merge
            .iter()
            .map(|p| p.id)
            .eq(all.iter().map(|p| p.id)),
        "the same track after moving the pending entries"
    );
    ensure!(
        all.windows(2).all(|w| w[0].time <= w[1].time),
        "ordered by time"
    );
    let ids: Vec<i64> = all.iter().map(|p| p.id).collect();
    ensure!(ids.contains(&200));

    let window = store
        .track(&TrackQuery::new(
            "v1",
            t0 + Duration::seconds(30),
            t0 + Duration::seconds(60),
        ))
        .await?;
    let ids: Vec<i64> = window.iter().map(|p| p.id).collect();
    ensure!(ids == vec![103, 104, 105, 200], "{ids:?}");

    let usable = store
        .track(&TrackQuery {
            usable_only: true,
            ..TrackQuery::new("v1", t0, t0 + Duration::hours(1))
        })
        .await?;
    ensure!(usable.len() == 21 && usable.iter().all(|p| p.flags.usable()));

    let simple = store
        .track(&TrackQuery {
            simplify_m: Some(10.0),
            ..TrackQuery::new("v1", t0, t0 + Duration::hours(1))
        })
        .await?;
    let ids: Vec<i64> = simple.iter().map(|p| p.id).collect();
    ensure!(
        ids == vec![100, 110, 120],
        "simplified to the corners: {ids:?}"
    );

    let limited = store
        .track(&TrackQuery {
            limit: Some(3),
            ..TrackQuery::new("v1", t0, t0 + Duration::hours(1))
        })
        .await?;
    ensure!(limited.iter().map(|p| p.id).collect::<Vec<_>>() == vec![100, 101, 102]);
    Ok(())
}

async fn latest_position_follows_gnss_time_not_arrival(store: &Store) -> anyhow::Result<()> {
    let t = now_micros();
    store
        .insert_positions(&[position(1, Some("v1"), t, 109.40, 24.30)])
        .await?;
    // A blind-area upload of an older fix arrives later: latest must not go back.
    let mut old = position(2, Some("v1"), t - Duration::minutes(5), 109.0, 24.0);
    old.source = PositionSource::BlindArea;
    // A newer fix with a GPS jump is stored but is not the latest usable one.
    let mut jump = position(3, Some("v1"), t + Duration::seconds(10), 111.0, 26.0);
    jump.flags.set(PositionFlags::JUMP);
    store.insert_positions(&[old, jump]).await?;
    ensure!(store.latest_position("v1").await?.map(|p| p.id) == Some(1));
    // Several fixes of one vehicle in one batch: the newest wins.
    let batch: Vec<_> = (10..20)
        .map(|i| position(i, Some("v2"), t + Duration::seconds(i), 109.5, 24.5))
        .rev()
        .collect();
    store.insert_positions(&batch).await?;
    store
        .insert_positions(&[position(
            30,
            Some("v1"),
            t + Duration::seconds(30),
            109.41,
            24.31,
        )])
        .await?;
    let latest = store.latest_positions().await?;
    let ids: Vec<(Option<String>, i64)> = latest
        .iter()
        .map(|p| (p.vehicle_id.clone(), p.id))
        .collect();
    ensure!(
        ids == vec![(Some("v1".into()), 30), (Some("v2".into()), 19)],
        "{ids:?}"
    );
    Ok(())
}

async fn vehicles_in_area_uses_the_exact_polygon(store: &Store) -> anyhow::Result<()> {
    let t = now_micros() - Duration::hours(1);
    // A triangle: its bounding box is the unit square around (109.40..109.42, 24.30..24.32),
    // but only points below the diagonal are inside.
    let triangle = geo_types::MultiPolygon(vec![geo_types::Polygon::new(
        LineString::from(vec![
            (109.40, 24.30),
            (109.42, 24.30),
            (109.42, 24.32),
            (109.40, 24.30),
        ]),
        vec![],
    )]);
    let mut flagged = position(4, Some("v4"), t, 109.415, 24.301);
    flagged.flags.set(PositionFlags::NO_FIX);
    store
        .insert_positions(&[
            position(1, Some("v1"), t, 109.415, 24.305),
            position(2, Some("v1"), t + Duration::minutes(1), 109.419, 24.301),
            position(3, Some("v2"), t, 109.405, 24.315), // in the bbox, outside the triangle
            flagged,
            position(5, Some("v5"), t - Duration::hours(3), 109.415, 24.305), // too early
            position(6, None, t, 109.415, 24.305),                            // unregistered
            position(7, Some("v7"), t, 109.42, 24.31),                        // on the edge
        ])
        .await?;
    let visits = store
        .vehicles_in_area(
            &triangle,
            t - Duration::minutes(5),
            t + Duration::minutes(5),
        )
        .await?;
    let summary: Vec<(String, u64)> = visits
        .iter()
        .map(|v| (v.vehicle_id.clone(), v.positions))
        .collect();
    ensure!(
        summary == vec![("v1".to_string(), 2), ("v7".to_string(), 1)],
        "{summary:?}"
    );
    ensure!(visits[0].first_seen == t && visits[0].last_seen == t + Duration::minutes(1));
    Ok(())
}

/// Spawns `callers` tasks that each append `chunks` batches of `per_chunk` positions for their
/// own vehicle `v<caller>`; position ids are `caller * caller_stride + chunk * 100 + i`, and
/// times follow ids (one millisecond apart, from `t`).
fn spawn_appenders(
    writer: &haulwatch::store::TrackWriter,
    t: chrono::DateTime<chrono::Utc>,
    callers: i64,
    chunks: i64,
    per_chunk: i64,
    caller_stride: i64,
) -> Vec<tokio::task::JoinHandle<anyhow::Result<()>>> {
    (0..callers)
        .map(|caller| {
            let writer = writer.clone();
            tokio::spawn(async move {
                for chunk in 0..chunks {
                    let positions: Vec<_> = (0..per_chunk)
                        .map(|i| {
                            let id = caller * caller_stride + chunk * 100 + i;
                            let vehicle = format!("v{caller}");
                            position(
                                id,
                                Some(&vehicle),
                                t + Duration::milliseconds(id),
                                109.4,
                                24.3,
                            )
                        })
                        .collect();
                    writer.append(positions).await?;
                }
                anyhow::Ok(())
            })
        })
        .collect()
}

async fn group_commit_confirms_every_caller_and_stores_everything(
    store: &Store,
) -> anyhow::Result<()> {
    let writer = store.track_writer(TrackWriterConfig {
        max_batch: 700,
        latest_flush_interval: std::time::Duration::from_millis(200),
        ..Default::default()
    })?;
    let t = now_micros();
    let tasks = spawn_appenders(&writer, t, 40, 5, 50, 1000);
    for task in tasks {
        task.await??;
    }
    writer.append(Vec::new()).await?;
    let n = store
        .count_positions(t - Duration::hours(1), t + Duration::hours(1))
        .await?;
    ensure!(n == 40 * 5 * 50, "{n} stored");
    let ids: Vec<i64> = (0..40).map(|c| c * 1000 + 449).collect();
    let last = store.positions_by_id(&ids).await?;
    ensure!(last.len() == 40);
    // The latest-position table catches up within the flush interval, by itself.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let mut latest: Vec<i64> = store
            .latest_positions()
            .await?
            .iter()
            .map(|p| p.id)
            .collect();
        latest.sort();
        if latest == ids {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "latest positions did not catch up: {latest:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // And on demand: a newer fix for one vehicle is visible right after sync_latest.
    let newer = position(99_999, Some("v0"), t + Duration::seconds(60), 109.5, 24.5);
    writer.append(vec![newer]).await?;
    writer.sync_latest().await?;
    ensure!(store.latest_position("v0").await?.map(|p| p.id) == Some(99_999));
    Ok(())
}

/// The group-commit writer, its latest-position flushes, one-off batches, registry edits and
/// violation upserts all write at once (on SQLite they take turns at one write gate): every
/// write lands, none waits for a lock timeout, and none deadlocks.
async fn track_batches_and_other_writes_interleave(store: &Store) -> anyhow::Result<()> {
    store.import_registry(&small_registry()).await?;
    let writer = store.track_writer(TrackWriterConfig {
        max_batch: 300,
        latest_flush_interval: std::time::Duration::from_millis(20),
        ..Default::default()
    })?;
    let t = now_micros();
    let tasks = spawn_appenders(&writer, t, 8, 20, 25, 10_000);
    let others = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut company = small_registry().companies[0].clone();
            for i in 0..40i64 {
                company.name = format!("Renamed {i}");
                store.upsert_company(&company).await?;
                store
                    .upsert_violation(&violation(
                        &format!("mixed-{i}"),
                        ViolationKind::Speeding,
                        "v1",
                        i,
                    ))
                    .await?;
                let one_off = position(
                    900_000 + i,
                    Some("v9"),
                    t + Duration::seconds(i),
                    109.4,
                    24.3,
                );
                store.insert_positions(&[one_off]).await?;
            }
            anyhow::Ok(())
        })
    };
    let everything = async {
        for task in tasks {
            task.await??;
        }
        others.await??;
        anyhow::Ok(())
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), everything)
        .await
        .context("concurrent writes did not finish within 60 s (deadlock?)")??;
    writer.sync_latest().await?;
    let n = store
        .count_positions(t - Duration::hours(1), t + Duration::hours(1))
        .await?;
    ensure!(n == 8 * 20 * 25 + 40, "{n} positions stored");
    ensure!(store.company("c1").await?.map(|c| c.name) == Some("Renamed 39".to_string()));
    ensure!(store.violation("mixed-39").await?.is_some());
    ensure!(store.latest_position("v9").await?.map(|p| p.id) == Some(900_039));
    ensure!(store.latest_position("v7").await?.map(|p| p.id) == Some(71_924));
    Ok(())
}

fn violation(id: &str, kind: ViolationKind, vehicle: &str, started_minutes: i64) -> Violation {
    let base = at(1_790_000_000_000_000);
    Violation {
        id: id.into(),
        kind,
        vehicle_id: Some(vehicle.into()),
        phone: "13912345678".into(),
        company_id: Some(if vehicle == "v3" { "c2" } else { "c1" }.into()),
        permit_id: Some("p1".into()),
        started_at: base + Duration::minutes(started_minutes),
        ended_at: None,
        status: ViolationStatus::Open,
        lat: 24.3,
        lon: 109.4,
        severity: 2,
        evidence: serde_json::json!({"positions": [1, 2], "fences": [{"kind": "route", "id": "r1", "version": 1}]}),
    }
}

async fn violations_upsert_list_and_paginate(store: &Store) -> anyhow::Result<()> {
    let mut v = violation("viol-1", ViolationKind::RouteDeviation, "v1", 0);
    store.upsert_violation(&v).await?;
    ensure!(store.violation("viol-1").await? == Some(v.clone()));
    // Updated while open, then closed.
    v.evidence = serde_json::json!({"positions": [1, 2, 3]});
    store.upsert_violation(&v).await?;
    let open_update = v.clone();
    v.status = ViolationStatus::Closed;
    v.ended_at = Some(v.started_at + Duration::minutes(3));
    store.upsert_violation(&v).await?;
    // A stale "open" arriving after the close does not reopen it.
    store.upsert_violation(&open_update).await?;
    ensure!(store.violation("viol-1").await? == Some(v.clone()));

    for i in 0..12 {
        let kind = if i % 2 == 0 {
            ViolationKind::Speeding
        } else {
            ViolationKind::TimeWindow
        };
        let vehicle = if i % 3 == 0 { "v3" } else { "v2" };
        store
            .upsert_violation(&violation(
                &format!("viol-{:02}", i + 10),
                kind,
                vehicle,
                10 + i / 2,
            ))
            .await?;
    }
    // Pages of 5, newest first, ties broken by id, nothing lost or repeated.
    let mut seen = Vec::new();
    let mut q = ViolationQuery {
        limit: 5,
        ..Default::default()
    };
    loop {
        let page = store.list_violations(&q).await?;
        seen.extend(page.items.iter().map(|v| (v.started_at, v.id.clone())));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    ensure!(seen.len() == 13);
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    ensure!(seen == sorted, "{seen:?}");
    ensure!(seen.iter().map(|(_, id)| id).collect::<HashSet<_>>().len() == 13);

    let speeding_v2 = store
        .list_violations(&ViolationQuery {
            kind: Some(ViolationKind::Speeding),
            vehicle_id: Some("v2".into()),
            ..Default::default()
        })
        .await?;
    ensure!(speeding_v2.items.len() == 4, "{}", speeding_v2.items.len());
    let of_c2 = store
        .list_violations(&ViolationQuery {
            company_id: Some("c2".into()),
            ..Default::default()
        })
        .await?;
    ensure!(
        of_c2.items.len() == 4
            && of_c2
                .items
                .iter()
                .all(|v| v.vehicle_id.as_deref() == Some("v3"))
    );
    let closed = store
        .list_violations(&ViolationQuery {
            status: Some(ViolationStatus::Closed),
            ..Default::default()
        })
        .await?;
    ensure!(closed.items.len() == 1 && closed.items[0].id == "viol-1");
    // Time range: the closed one ended at +3 min; from +5 min it is out, open ones stay.
    let base = at(1_790_000_000_000_000);
    let later = store
        .list_violations(&ViolationQuery {
            from: Some(base + Duration::minutes(5)),
            to: Some(base + Duration::minutes(12)),
            ..Default::default()
        })
        .await?;
    ensure!(
        later.items.len() == 4,
        "{:?}",
        later.items.iter().map(|v| &v.id).collect::<Vec<_>>()
    );
    ensure!(matches!(
        store
            .list_violations(&ViolationQuery {
                cursor: Some("garbage".into()),
                ..Default::default()
            })
            .await,
        Err(StoreError::InvalidCursor)
    ));
    Ok(())
}

async fn retention_removes_old_tracks(store: &Store) -> anyhow::Result<()> {
    let now = now_micros();
    let batch = [
        position(1, Some("v1"), now - Duration::days(10), 109.4, 24.3),
        position(2, Some("v1"), now - Duration::days(3), 109.4, 24.3),
        position(3, Some("v1"), now, 109.4, 24.3),
        // A broken clock far in the past.
        position(4, Some("v2"), at(946_684_800_000_000), 109.4, 24.3),
    ];
    // Part indexed, part pending (SQLite keeps a vehicle's track index in two tables).
    store.insert_positions(&batch[..2]).await?;
    store.merge_track_index().await?;
    store.insert_positions(&batch[2..]).await?;
    let report = store.apply_retention(5).await?;
    let track: Vec<i64> = store
        .track(&TrackQuery::new(
            "v1",
            now - Duration::days(30),
            now + Duration::days(1),
        ))
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    ensure!(track == vec![2, 3], "track after retention: {track:?}");
    let left: Vec<i64> = store
        .positions_by_id(&[1, 2, 3, 4])
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    ensure!(
        left == vec![2, 3],
        "{left:?} left after retention ({report:?})"
    );
    // The latest-position table keeps the newest fix even if its track day is dropped.
    ensure!(store.latest_position("v2").await?.map(|p| p.id) == Some(4));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only: day partitions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_partitions_are_made_on_demand_and_dropped_by_retention() {
    let db = store_support::postgres().await;
    let store = &db.store;
    let now = now_micros();
    let today = now.date_naive();
    store
        .insert_positions(&[
            position(1, Some("v1"), now, 109.4, 24.3),
            position(2, Some("v1"), now - Duration::days(2), 109.4, 24.3),
            position(3, Some("v1"), now - Duration::days(20), 109.4, 24.3),
            // Outside the partition window: the default partition, no new table.
            position(4, Some("v1"), now - Duration::days(400), 109.4, 24.3),
            position(5, Some("v1"), now + Duration::days(30), 109.4, 24.3),
        ])
        .await
        .expect("insert");
    let days = store.track_partitions().await.expect("partitions");
    let expected = vec![today - Duration::days(20), today - Duration::days(2), today];
    assert_eq!(days, expected);

    // A day whose rows sit in the default partition gets its partition, and the rows move.
    let future_day = (now + Duration::days(30)).date_naive();
    assert!(
        store
            .prepare_track_partition(future_day)
            .await
            .expect("prepare")
    );
    let days = store.track_partitions().await.expect("partitions");
    assert!(days.contains(&future_day));
    assert_eq!(
        store
            .positions_by_id(&[5])
            .await
            .expect("read")
            .iter()
            .map(|p| p.id)
            .collect::<Vec<_>>(),
        vec![5]
    );
    let report = store.apply_retention(7).await.expect("retention");
    assert_eq!(report.dropped_partitions, vec![today - Duration::days(20)]);
    assert_eq!(
        report.deleted_rows, 1,
        "the 400-day-old row in the default partition"
    );
    let left: Vec<i64> = store
        .positions_by_id(&[1, 2, 3, 4, 5])
        .await
        .expect("read")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(left, vec![1, 2, 5]);
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_area_query_uses_the_gist_index() {
    let db = store_support::postgres().await;
    // The plan check needs the index to be the cheaper choice, so give the planner a table.
    let t = now_micros();
    let batch: Vec<_> = (0..20_000)
        .map(|i| {
            position(
                i,
                Some(&format!("v{}", i % 500)),
                t + Duration::milliseconds(i),
                109.3 + (i % 200) as f64 * 0.001,
                24.2 + (i / 200) as f64 * 0.001,
            )
        })
        .collect();
    db.store.insert_positions(&batch).await.expect("insert");
    let plan = db
        .store
        .explain_vehicles_in_area(&square(109.35, 24.25, 0.002), t, t + Duration::hours(1))
        .await
        .expect("explain");
    assert!(
        plan.contains("positions_point") || plan.contains("_st_setsrid_idx"),
        "ST_Intersects should use the GiST index:\n{plan}"
    );
    db.finish().await;
}

#[tokio::test]
async fn unreachable_postgres_fails_loudly_at_open() {
    let config = haulwatch::store::StoreConfig {
        acquire_timeout: std::time::Duration::from_secs(2),
        ..haulwatch::store::StoreConfig::new(
            Some("postgres://postgres@127.0.0.1:1/nowhere".into()),
            "./unused",
        )
    };
    let started = std::time::Instant::now();
    let result = Store::open(config).await;
    assert!(matches!(result, Err(StoreError::Database(_))), "{result:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let result = Store::open(haulwatch::store::StoreConfig::new(
        Some("mysql://x".into()),
        "./unused",
    ))
    .await;
    assert!(matches!(result, Err(StoreError::UnsupportedUrl(_))));
}
