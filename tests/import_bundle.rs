//! Bundle import: every fault kind is found and reported in one run with file, id and fault;
//! nothing is imported on any fault; broken GeoJSON never panics; GCJ-02/BD-09 collections are
//! converted to WGS-84; `haulwatch import` exits non-zero on a bad bundle.

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use haulwatch::import::{BundleFault, FaultKind, load_bundle};
use haulwatch::store::{Store, StoreConfig};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

fn write(dir: &Path, name: &str, value: &Value) {
    std::fs::write(
        dir.join(name),
        serde_json::to_string_pretty(value).expect("json"),
    )
    .expect("write");
}

fn square(lon: f64, lat: f64, d: f64) -> Value {
    json!([[
        [lon - d, lat - d],
        [lon + d, lat - d],
        [lon + d, lat + d],
        [lon - d, lat + d],
        [lon - d, lat - d]
    ]])
}

fn polygon_feature(id: &str, name: &str, coordinates: Value) -> Value {
    json!({"type": "Feature", "id": id, "properties": {"name": name},
           "geometry": {"type": "Polygon", "coordinates": coordinates}})
}

/// A small valid bundle.
fn write_valid_bundle(dir: &Path) {
    write(
        dir,
        "sites.geojson",
        &json!({"type": "FeatureCollection", "features": [
            polygon_feature("s1", "Site 1", square(109.50, 24.36, 0.001)),
        ]}),
    );
    write(
        dir,
        "disposal_grounds.geojson",
        &json!({"type": "FeatureCollection", "features": [
            polygon_feature("g1", "Ground 1", square(109.58, 24.40, 0.002)),
        ]}),
    );
    write(
        dir,
        "routes.geojson",
        &json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "r1", "properties": {"name": "Route 1", "speed_limit_kmh": 50},
             "geometry": {"type": "LineString", "coordinates": [[109.50, 24.36], [109.58, 24.40]]}},
        ]}),
    );
    write(
        dir,
        "zones.geojson",
        &json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "z-d", "properties": {"name": "District", "kind": "district"},
             "geometry": {"type": "Polygon", "coordinates": square(109.5, 24.35, 0.2)}},
            {"type": "Feature", "id": "z-core", "properties": {"name": "Core", "kind": "time_restricted",
              "allowed": [{"days": "mon-sun", "start": "22:00", "end": "06:00"}]},
             "geometry": {"type": "Polygon", "coordinates": square(109.41, 24.32, 0.02)}},
        ]}),
    );
    write(
        dir,
        "registry.json",
        &json!({
            "companies": [{"id": "c1", "name": "Haulage One", "uscc": "91450200AAAAAAAAAA"}],
            "vehicles": [{"id": "v1", "plate": "桂B00001", "plate_color": 2, "company_id": "c1", "rated_load_kg": 18000}],
            "terminals": [{"phone": "013900000001", "vehicle_id": "v1", "model": "generic", "protocol": "2013"}],
            "drivers": [{"id": "d1", "name": "王强", "license_no": "450200199001011234", "company_id": "c1"}],
            "officers": [{"id": "o1", "name": "李明", "district_zone_id": "z-d"}],
            "permits": [{"id": "p1", "number": "P-1", "company_id": "c1", "vehicle_ids": ["v1"],
                         "site_id": "s1", "disposal_ground_ids": ["g1"], "route_ids": ["r1"],
                         "valid_from": "2026-01-01", "valid_to": "2026-12-31",
                         "daily_windows": [{"start": "22:00", "end": "06:00"}]}]
        }),
    );
}

/// A bundle with at least one of every fault kind.
fn write_broken_bundle(dir: &Path) {
    write(
        dir,
        "sites.geojson",
        &json!({"type": "FeatureCollection", "features": [
            polygon_feature("s-ok", "Fine", square(109.50, 24.36, 0.001)),
            polygon_feature("s-unclosed", "Unclosed",
                json!([[[109.4, 24.3], [109.41, 24.3], [109.41, 24.31], [109.4, 24.31]]])),
            polygon_feature("s-bowtie", "Bow tie",
                json!([[[109.4, 24.3], [109.41, 24.31], [109.41, 24.3], [109.4, 24.31], [109.4, 24.3]]])),
            polygon_feature("s-far", "Off the globe", square(200.0, 24.3, 0.001)),
            polygon_feature("s-ok", "Duplicate", square(109.52, 24.36, 0.001)),
            {"type": "Feature", "properties": {"name": "No id"}, "geometry": {"type": "Polygon", "coordinates": square(109.5, 24.3, 0.001)}},
            {"type": "Feature", "id": "s-line", "properties": {"name": "A line"},
             "geometry": {"type": "LineString", "coordinates": [[109.4, 24.3], [109.5, 24.3]]}},
            {"type": "Feature", "id": "s-garbage", "properties": {"name": "Garbage"},
             "geometry": {"type": "Polygon", "coordinates": "not coordinates"}},
            {"type": "Feature", "id": "s-noname", "properties": {},
             "geometry": {"type": "Polygon", "coordinates": square(109.6, 24.3, 0.001)}},
        ]}),
    );
    write(
        dir,
        "disposal_grounds.geojson",
        &json!({"type": "FeatureCollection", "features": [
            polygon_feature("g1", "Ground", square(109.58, 24.40, 0.002)),
        ]}),
    );
    write(
        dir,
        "routes.geojson",
        &json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "r1", "properties": {"name": "Fine"},
             "geometry": {"type": "LineString", "coordinates": [[109.50, 24.36], [109.58, 24.40]]}},
            {"type": "Feature", "id": "r-lat", "properties": {"name": "North of the pole"},
             "geometry": {"type": "LineString", "coordinates": [[109.50, 24.36], [109.58, 95.0]]}},
            {"type": "Feature", "id": "r-corridor", "properties": {"name": "Negative", "corridor_m": -5},
             "geometry": {"type": "LineString", "coordinates": [[109.50, 24.36], [109.58, 24.40]]}},
        ]}),
    );
    write(
        dir,
        "zones.geojson",
        &json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "z-d", "properties": {"name": "District", "kind": "district"},
             "geometry": {"type": "Polygon", "coordinates": square(109.5, 24.35, 0.2)}},
            {"type": "Feature", "id": "z-school", "properties": {"name": "School", "kind": "restricted"},
             "geometry": {"type": "Polygon", "coordinates": square(109.45, 24.33, 0.001)}},
            {"type": "Feature", "id": "z-kind", "properties": {"name": "Odd", "kind": "forbidden"},
             "geometry": {"type": "Polygon", "coordinates": square(109.45, 24.35, 0.01)}},
            {"type": "Feature", "id": "z-overlap", "properties": {"name": "Overlap", "kind": "time_restricted",
              "allowed": [{"days": "mon-fri", "start": "22:00", "end": "06:00"},
                          {"days": "sat", "start": "05:00", "end": "07:00"}]},
             "geometry": {"type": "Polygon", "coordinates": square(109.41, 24.32, 0.02)}},
        ]}),
    );
    write(
        dir,
        "registry.json",
        &json!({
            "companies": [{"id": "c1", "name": "One", "uscc": "x"}, {"id": "c2", "name": "Two", "uscc": "y"}],
            "vehicles": [
                {"id": "v1", "plate": "桂B00001", "plate_color": 2, "company_id": "c1"},
                {"id": "v2", "plate": "桂B00002", "plate_color": 2, "company_id": "c-missing"},
                {"id": "v3", "plate": "桂B00003", "plate_color": 2, "company_id": "c2"},
                {"id": "v4", "plate": "桂B00004", "plate_color": "yellow", "company_id": "c1"}
            ],
            "terminals": [
                {"phone": "013900000001", "vehicle_id": "v1", "model": "generic", "protocol": "2013"},
                {"phone": "013900000009", "vehicle_id": "v-missing", "model": "generic", "protocol": "2013"},
                {"phone": "01390000000X", "vehicle_id": null, "model": "generic", "protocol": "2013"},
                {"phone": "013900000007", "model": "generic", "protocol": "2015"},
                {"phone": "13900000001", "vehicle_id": null, "model": "generic", "protocol": "2019"}
            ],
            "drivers": [{"id": "d1", "name": "X", "license_no": "1", "company_id": "c-missing"}],
            "officers": [{"id": "o1", "name": "Y", "district_zone_id": "z-school"},
                         {"id": "o2", "name": "Z", "district_zone_id": "z-nowhere"}],
            "permits": [
                {"id": "p1", "number": "P-1", "company_id": "c1", "vehicle_ids": ["v1", "v3"],
                 "site_id": "s-missing", "disposal_ground_ids": ["g1", "g-missing"], "route_ids": ["r-missing"],
                 "valid_from": "2026-01-01", "valid_to": "2026-12-31",
                 "daily_windows": [{"start": "06:00", "end": "12:00"}, {"start": "11:00", "end": "13:00"}]},
                {"id": "p2", "number": "P-2", "company_id": "c1", "vehicle_ids": ["v1"],
                 "site_id": "s-ok", "disposal_ground_ids": ["g1"], "route_ids": ["r1"],
                 "valid_from": "2026-12-31", "valid_to": "2026-01-01"},
                {"id": "p3", "number": "P-3", "company_id": "c1", "vehicle_ids": ["v1"],
                 "site_id": "s-ok", "disposal_ground_ids": ["g1"], "route_ids": ["r1"],
                 "valid_from": "yesterday", "valid_to": "2026-01-01", "daily_windows": [{"start": "9am", "end": "10:00"}]}
            ]
        }),
    );
}

fn has(faults: &[BundleFault], file: &str, id: &str, kind: FaultKind) -> bool {
    faults
        .iter()
        .any(|f| f.file == file && f.id.as_deref() == Some(id) && f.kind == kind)
}

#[test]
fn every_fault_kind_is_reported_in_one_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_broken_bundle(dir.path());
    let faults = load_bundle(dir.path()).expect_err("the bundle is broken");
    let listing = faults
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let expected = [
        ("sites.geojson", "s-unclosed", FaultKind::UnclosedRing),
        ("sites.geojson", "s-bowtie", FaultKind::SelfIntersection),
        ("sites.geojson", "s-far", FaultKind::CoordinatesOutOfRange),
        ("sites.geojson", "s-ok", FaultKind::DuplicateId),
        ("sites.geojson", "features[5]", FaultKind::InvalidValue),
        ("sites.geojson", "s-line", FaultKind::WrongGeometryType),
        ("sites.geojson", "s-garbage", FaultKind::BrokenJson),
        ("sites.geojson", "s-noname", FaultKind::InvalidValue),
        ("routes.geojson", "r-lat", FaultKind::CoordinatesOutOfRange),
        ("routes.geojson", "r-corridor", FaultKind::InvalidValue),
        ("zones.geojson", "z-kind", FaultKind::InvalidValue),
        ("zones.geojson", "z-overlap", FaultKind::OverlappingWindows),
        ("registry.json", "vehicles v2", FaultKind::UnknownReference),
        ("registry.json", "vehicles v4", FaultKind::BrokenJson),
        (
            "registry.json",
            "terminals 013900000009",
            FaultKind::UnknownReference,
        ),
        (
            "registry.json",
            "terminals 01390000000X",
            FaultKind::InvalidValue,
        ),
        (
            "registry.json",
            "terminals 013900000007",
            FaultKind::InvalidValue,
        ),
        (
            "registry.json",
            "terminals 13900000001",
            FaultKind::DuplicateId,
        ),
        ("registry.json", "drivers d1", FaultKind::UnknownReference),
        ("registry.json", "officers o1", FaultKind::UnknownReference),
        ("registry.json", "officers o2", FaultKind::UnknownReference),
        ("registry.json", "permits p1", FaultKind::UnknownReference),
        ("registry.json", "permits p1", FaultKind::OverlappingWindows),
        ("registry.json", "permits p2", FaultKind::InvalidValue),
        ("registry.json", "permits p3", FaultKind::InvalidValue),
    ];
    for (file, id, kind) in expected {
        assert!(
            has(&faults, file, id, kind),
            "missing {file}: {id}: {kind:?} in\n{listing}"
        );
    }
    // p1's unknown site, ground and route and its vehicle of another company are each named.
    let p1: Vec<&str> = faults
        .iter()
        .filter(|f| f.id.as_deref() == Some("permits p1"))
        .map(|f| f.message.as_str())
        .collect();
    for needle in [
        "s-missing",
        "g-missing",
        "r-missing",
        "\"v3\" belongs to company \"c2\"",
    ] {
        assert!(p1.iter().any(|m| m.contains(needle)), "{needle} in {p1:?}");
    }
    // Faults are not repeated and valid records raise none.
    let unique: HashSet<String> = faults.iter().map(ToString::to_string).collect();
    assert_eq!(unique.len(), faults.len(), "{listing}");
    for id in ["s-ok", "r1", "g1", "z-d", "z-school"] {
        assert!(
            !faults
                .iter()
                .any(|f| f.id.as_deref() == Some(id) && f.kind != FaultKind::DuplicateId),
            "{id} is valid:\n{listing}"
        );
    }
}

#[test]
fn unreadable_files_are_faults_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_valid_bundle(dir.path());
    std::fs::write(dir.path().join("sites.geojson"), "{ not json").expect("write");
    std::fs::write(
        dir.path().join("routes.geojson"),
        r#"{"type": "Feature", "geometry": null}"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("zones.geojson"),
        r#"{"type": "FeatureCollection", "features": {}}"#,
    )
    .expect("write");
    std::fs::remove_file(dir.path().join("disposal_grounds.geojson")).expect("remove");
    let faults = load_bundle(dir.path()).expect_err("broken");
    let kinds: Vec<(String, FaultKind)> = faults
        .iter()
        .filter(|f| f.id.is_none())
        .map(|f| (f.file.clone(), f.kind))
        .collect();
    for expected in [
        ("sites.geojson", FaultKind::BrokenJson),
        ("routes.geojson", FaultKind::BrokenJson),
        ("zones.geojson", FaultKind::BrokenJson),
        ("disposal_grounds.geojson", FaultKind::MissingFile),
    ] {
        assert!(
            kinds.contains(&(expected.0.to_string(), expected.1)),
            "{expected:?} in {kinds:?}"
        );
    }
    let missing = load_bundle(&dir.path().join("no-such-dir")).expect_err("missing");
    assert_eq!(missing.len(), 5);
    assert!(missing.iter().all(|f| f.kind == FaultKind::MissingFile));
}

#[test]
fn mangled_sample_files_never_panic() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("geofences/liuzhou");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = rand::rngs::StdRng::seed_from_u64(808);
    let files = [
        "sites.geojson",
        "routes.geojson",
        "zones.geojson",
        "registry.json",
    ];
    for round in 0..60 {
        for name in files
            .iter()
            .chain(std::iter::once(&"disposal_grounds.geojson"))
        {
            std::fs::copy(sample.join(name), dir.path().join(name)).expect("copy");
        }
        let name = files[round % files.len()];
        let mut bytes = std::fs::read(sample.join(name)).expect("read");
        for _ in 0..1 + round % 8 {
            let at = rng.random_range(0..bytes.len());
            // Digits, brackets, quotes and commas: the mutations that keep JSON almost valid.
            bytes[at] = *b"0123456789-.[]{},\":e"
                .get(rng.random_range(0..20))
                .expect("byte");
        }
        std::fs::write(dir.path().join(name), &bytes).expect("write");
        // Either loads or reports faults; must not panic.
        if let Err(faults) = load_bundle(dir.path()) {
            assert!(!faults.is_empty());
            assert!(faults.iter().all(|f| !f.message.is_empty()));
        }
    }
}

#[test]
fn gcj02_and_bd09_collections_are_converted_to_wgs84() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_valid_bundle(dir.path());
    let wgs = [
        (109.50, 24.36),
        (109.502, 24.36),
        (109.502, 24.362),
        (109.50, 24.362),
        (109.50, 24.36),
    ];
    let gcj: Vec<[f64; 2]> = wgs
        .iter()
        .map(|&(x, y)| {
            let (a, b) = coordtransform::wgs84_to_gcj02(x, y);
            [a, b]
        })
        .collect();
    write(
        dir.path(),
        "sites.geojson",
        &json!({"type": "FeatureCollection", "coord_sys": "gcj02", "features": [
            polygon_feature("s1", "Drawn on AMap", json!([gcj])),
        ]}),
    );
    let bd = coordtransform::wgs84_to_bd09(109.58, 24.40);
    let bd_end = coordtransform::wgs84_to_bd09(109.50, 24.36);
    write(
        dir.path(),
        "routes.geojson",
        &json!({"type": "FeatureCollection", "coord_sys": "bd09", "features": [
            {"type": "Feature", "id": "r1", "properties": {"name": "Drawn on Baidu"},
             "geometry": {"type": "LineString", "coordinates": [[bd_end.0, bd_end.1], [bd.0, bd.1]]}},
        ]}),
    );
    let registry = load_bundle(dir.path()).expect("valid");
    let site = &registry.sites[0].geometry.0[0];
    // GCJ-02 offsets are hundreds of metres; after conversion we are back within centimetres.
    assert!((gcj[0][0] - wgs[0].0).abs() + (gcj[0][1] - wgs[0].1).abs() > 0.002);
    for (c, (x, y)) in site.exterior().coords().zip(wgs) {
        assert!(
            (c.x - x).abs() < 1e-6 && (c.y - y).abs() < 1e-6,
            "{c:?} vs {x},{y}"
        );
    }
    let route = &registry.routes[0].geometry.0[0];
    let end = route.0.last().expect("point");
    assert!(
        (end.x - 109.58).abs() < 1e-5 && (end.y - 24.40).abs() < 1e-5,
        "{end:?}"
    );
    assert_eq!(registry.routes[0].corridor_m, 100.0, "default corridor");

    write(
        dir.path(),
        "zones.geojson",
        &json!({"type": "FeatureCollection", "coord_sys": "mars", "features": []}),
    );
    let faults = load_bundle(dir.path()).expect_err("unknown coord_sys");
    assert!(has_file_fault(
        &faults,
        "zones.geojson",
        FaultKind::InvalidValue
    ));
}

fn has_file_fault(faults: &[BundleFault], file: &str, kind: FaultKind) -> bool {
    faults.iter().any(|f| f.file == file && f.kind == kind)
}

#[tokio::test]
async fn import_command_exits_non_zero_and_imports_nothing_on_a_fault() {
    let data = tempfile::tempdir().expect("tempdir");
    let good = tempfile::tempdir().expect("tempdir");
    let bad = tempfile::tempdir().expect("tempdir");
    write_valid_bundle(good.path());
    write_broken_bundle(bad.path());
    let bin = env!("CARGO_BIN_EXE_haulwatch");

    let ok = Command::new(bin)
        .args(["import", &good.path().to_string_lossy(), "--data-dir"])
        .arg(data.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run haulwatch");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );

    // Same ids, a changed name, and faults elsewhere: nothing may change.
    write_broken_bundle(bad.path());
    let mut registry: Value = serde_json::from_str(
        &std::fs::read_to_string(bad.path().join("registry.json")).expect("read"),
    )
    .expect("json");
    registry["companies"][0]["name"] = json!("Renamed by a broken bundle");
    write(bad.path(), "registry.json", &registry);
    let failed = Command::new(bin)
        .args(["import", &bad.path().to_string_lossy(), "--data-dir"])
        .arg(data.path())
        .env_remove("DATABASE_URL")
        .output()
        .expect("run haulwatch");
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("sites.geojson: s-bowtie: self-intersection"),
        "{stderr}"
    );
    assert!(
        stderr.contains("registry.json: permits p1: overlapping daily windows"),
        "{stderr}"
    );
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    let store = Store::open(StoreConfig::new(None, data.path()))
        .await
        .expect("open");
    let company = store.company("c1").await.expect("read").expect("c1");
    assert_eq!(company.name, "Haulage One");
    assert!(store.site("s-ok").await.expect("read").is_none());
    store.close().await;

    let check = Command::new(bin)
        .args(["import", "--check", &good.path().to_string_lossy()])
        .output()
        .expect("run haulwatch");
    assert!(check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("is valid"));
}
