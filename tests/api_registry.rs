//! Registry CRUD over HTTP: GeoJSON round trips, fence changes reaching the engine, validation
//! errors naming their field, roles and company isolation; one round trip on PostgreSQL.

mod api_support;

use std::time::Duration;

use api_support::{PASSWORD, TestApi, assert_error};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn square(lon: f64, lat: f64, d: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[
        [lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]
    ]]})
}

/// Asserts a GeoJSON position is `[lon, lat]` (to a micro-degree).
fn assert_close(position: &Value, lon: f64, lat: f64) {
    let x = position[0].as_f64().expect("lon");
    let y = position[1].as_f64().expect("lat");
    assert!(
        (x - lon).abs() < 1e-6 && (y - lat).abs() < 1e-6,
        "{position} is not [{lon}, {lat}]"
    );
}

/// Consumes a pending registry-change notification, if any.
async fn drain_notifications(api: &TestApi) {
    let _ = tokio::time::timeout(
        Duration::from_millis(20),
        api.state.registry_changed.notified(),
    )
    .await;
}

/// Whether the registry change was notified within a second.
async fn notified(api: &TestApi) -> bool {
    tokio::time::timeout(
        Duration::from_secs(1),
        api.state.registry_changed.notified(),
    )
    .await
    .is_ok()
}

#[tokio::test]
async fn fence_round_trips_and_changes_reach_the_engine() {
    let api = api_support::start().await;
    let admin = api.tokens.admin.clone();

    // Create a site from a GeoJSON Polygon; it comes back as GeoJSON.
    drain_notifications(&api).await;
    let site = json!({"id": "s-new", "name": "新工地", "geometry": square(109.40, 24.30, 0.01)});
    let (status, created) = api.post("/api/v1/sites", &admin, site.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["id"], "s-new");
    assert_eq!(created["geometry"]["type"], "MultiPolygon");
    assert_close(&created["geometry"]["coordinates"][0][0][1], 109.41, 24.30);
    let first_version = created["version"].as_i64().expect("version");
    assert!(notified(&api).await, "a new fence reaches the engine");

    // The id is taken now.
    let answer = api.post("/api/v1/sites", &admin, site).await;
    assert_error(&answer, StatusCode::CONFLICT, "conflict", None);

    // Every role reads fences, companies included.
    let (status, read) = api.get("/api/v1/sites/s-new", &api.tokens.company_a).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["name"], "新工地");
    let (status, page) = api
        .get("/api/v1/zones?limit=5", &api.tokens.company_b)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().expect("items").len(), 5);
    assert!(page["next"].is_string());

    // Moving the fence makes a new version, visible at once and notified.
    drain_notifications(&api).await;
    let moved = json!({"name": "新工地", "geometry": square(109.42, 24.30, 0.02)});
    let (status, replaced) = api.put("/api/v1/sites/s-new", &admin, moved).await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert!(replaced["version"].as_i64().expect("version") > first_version);
    assert!(notified(&api).await, "a fence change reaches the engine");
    let (_, read) = api.get("/api/v1/sites/s-new", &api.tokens.dispatcher).await;
    assert_close(&read["geometry"]["coordinates"][0][0][2], 109.44, 24.32);

    // The body's id must match the path; unknown ids are not replaced.
    let answer = api
        .put(
            "/api/v1/sites/s-new",
            &admin,
            json!({"id": "other", "name": "x", "geometry": square(109.4, 24.3, 0.01)}),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("id"));
    let answer = api
        .put(
            "/api/v1/sites/nope",
            &admin,
            json!({"name": "x", "geometry": square(109.4, 24.3, 0.01)}),
        )
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);

    // A route: LineString in, corridor and speed limit kept.
    let route = json!({"id": "r-new", "name": "新线路", "corridor_m": 80.0, "speed_limit_kmh": 40.0,
        "geometry": {"type": "LineString", "coordinates": [[109.40, 24.30], [109.45, 24.35]]}});
    let (status, created) = api.post("/api/v1/routes", &admin, route).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["geometry"]["type"], "MultiLineString");
    assert_eq!(created["corridor_m"], 80.0);
    assert_eq!(created["speed_limit_kmh"], 40.0);

    // A zone with allowed windows.
    let zone = json!({"id": "z-new", "name": "夜间准入区", "kind": "time_restricted",
        "geometry": square(109.30, 24.20, 0.05),
        "allowed": [{"days": "mon-fri", "start": "22:00", "end": "06:00"},
                    {"days": "sat,sun", "start": "20:00", "end": "21:00"}]});
    let (status, created) = api.post("/api/v1/zones", &admin, zone).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["kind"], "time_restricted");
    assert_eq!(
        created["allowed"],
        json!([{"days": "mon,tue,wed,thu,fri", "start": "22:00", "end": "06:00"},
               {"days": "sat,sun", "start": "20:00", "end": "21:00"}])
    );

    // Deleting: referenced fences are refused, free ones go, twice is 404.
    let answer = api.delete("/api/v1/sites/s01", &admin).await;
    assert_error(&answer, StatusCode::CONFLICT, "conflict", None);
    let (status, _) = api.delete("/api/v1/sites/s-new", &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = api.get("/api/v1/sites/s-new", &admin).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    let answer = api.delete("/api/v1/sites/s-new", &admin).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);

    // Only the admin writes.
    for token in [
        &api.tokens.dispatcher,
        &api.tokens.officer,
        &api.tokens.auditor,
        &api.tokens.company_a,
    ] {
        let answer = api
            .post(
                "/api/v1/sites",
                token,
                json!({"id": "s-x", "name": "x", "geometry": square(109.4, 24.3, 0.01)}),
            )
            .await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
        let answer = api.delete("/api/v1/routes/r-new", token).await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
    }

    // The OpenAPI document lists every registry path.
    let (status, doc) = api.get("/api/v1/openapi.json", &admin).await;
    assert_eq!(status, StatusCode::OK);
    for resource in [
        "companies",
        "vehicles",
        "terminals",
        "drivers",
        "sites",
        "disposal-grounds",
        "routes",
        "zones",
        "permits",
        "officers",
        "users",
    ] {
        let item = &doc["paths"][format!("/{resource}/{{id}}")];
        assert!(item["put"].is_object(), "PUT /{resource}/{{id}} documented");
        assert!(item["delete"].is_object(), "DELETE /{resource}/{{id}}");
        assert!(
            doc["paths"][format!("/{resource}")]["post"]["requestBody"].is_object(),
            "POST /{resource} body documented"
        );
    }
    api.finish().await;
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field() {
    let api = api_support::start().await;
    let admin = api.tokens.admin.clone();
    let site = |geometry: Value| json!({"id": "s-bad", "name": "坏", "geometry": geometry});

    let bowtie = json!({"type": "Polygon", "coordinates": [[
        [109.40, 24.30], [109.41, 24.31], [109.41, 24.30], [109.40, 24.31], [109.40, 24.30]
    ]]});
    let out_of_range = json!({"type": "Polygon", "coordinates": [[
        [190.0, 24.30], [190.1, 24.30], [190.1, 24.31], [190.0, 24.30]
    ]]});
    let unclosed = json!({"type": "Polygon", "coordinates": [[
        [109.40, 24.30], [109.41, 24.30], [109.41, 24.31], [109.40, 24.31]
    ]]});
    let too_short = json!({"type": "Polygon", "coordinates": [[
        [109.40, 24.30], [109.41, 24.30], [109.40, 24.30]
    ]]});
    let point = json!({"type": "Point", "coordinates": [109.40, 24.30]});
    for (what, geometry) in [
        ("self-intersecting", bowtie),
        ("out of range", out_of_range),
        ("unclosed", unclosed),
        ("three positions", too_short),
        ("a point", point),
    ] {
        let answer = api.post("/api/v1/sites", &admin, site(geometry)).await;
        assert_eq!(answer.0, StatusCode::BAD_REQUEST, "{what}: {}", answer.1);
        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "invalid",
            Some("geometry"),
        );
    }
    let answer = api
        .post("/api/v1/sites", &admin, json!({"id": "s-bad"}))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("name"));

    // Routes: corridor and speed limits must be sane.
    let line = json!({"type": "LineString", "coordinates": [[109.40, 24.30], [109.45, 24.35]]});
    for (field, route) in [
        (
            "corridor_m",
            json!({"id": "r-bad", "name": "x", "geometry": line, "corridor_m": 0}),
        ),
        (
            "corridor_m",
            json!({"id": "r-bad", "name": "x", "geometry": line, "corridor_m": 1e9}),
        ),
        (
            "speed_limit_kmh",
            json!({"id": "r-bad", "name": "x", "geometry": line, "speed_limit_kmh": -5}),
        ),
        (
            "geometry",
            json!({"id": "r-bad", "name": "x", "geometry": {"type": "LineString", "coordinates": [[109.4, 24.3]]}}),
        ),
    ] {
        let answer = api.post("/api/v1/routes", &admin, route).await;
        assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some(field));
    }
    let answer = api
        .post(
            "/api/v1/zones",
            &admin,
            json!({"id": "z-bad", "name": "x", "kind": "speed", "geometry": square(109.4, 24.3, 0.01)}),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("speed_limit_kmh"),
    );
    let answer = api
        .post(
            "/api/v1/zones",
            &admin,
            json!({"id": "z-bad", "name": "x", "kind": "restricted", "geometry": square(109.4, 24.3, 0.01),
                   "allowed": [{"days": "mon-sun", "start": "25:00", "end": "06:00"}]}),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("allowed[0].start"),
    );

    // Unknown references.
    let answer = api
        .post(
            "/api/v1/vehicles",
            &admin,
            json!({"id": "v-new", "plate": "桂B00001", "plate_color": 2, "company_id": "c99"}),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("company_id"),
    );
    let permit = |vehicles: Value, site: &str| {
        json!({"id": "p-new", "number": "柳建渣准字〔2026〕第999号", "company_id": "c01",
            "vehicle_ids": vehicles, "site_id": site, "disposal_ground_ids": ["dg-north"],
            "route_ids": ["r01"], "valid_from": "2026-01-01", "valid_to": "2026-12-31"})
    };
    // v002 belongs to c02, not the permit's company.
    let answer = api
        .post(
            "/api/v1/permits",
            &admin,
            permit(json!(["v001", "v002"]), "s01"),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("vehicle_ids[1]"),
    );
    let answer = api
        .post("/api/v1/permits", &admin, permit(json!(["v001"]), "s-none"))
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", Some("site_id"));
    let (status, created) = api
        .post("/api/v1/permits", &admin, permit(json!(["v001"]), "s01"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["vehicle_ids"], json!(["v001"]));

    // Malformed JSON, wrong types, unknown fields.
    let response = api
        .client
        .post(format!("{}/api/v1/companies", api.base))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer = api
        .post(
            "/api/v1/vehicles",
            &admin,
            json!({"id": "v-new", "plate": "桂B00001", "plate_color": "yellow", "company_id": "c01"}),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("plate_color"),
    );
    let answer = api
        .post(
            "/api/v1/companies",
            &admin,
            json!({"id": "c11", "name": "x", "uscc": "91450200JWW3MPA1WX", "colour": 1}),
        )
        .await;
    assert_error(&answer, StatusCode::BAD_REQUEST, "invalid", None);

    // Users need a password and a valid role.
    let answer = api
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "u1", "username": "u1", "role": "dispatcher"}),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("password"),
    );
    let answer = api
        .post(
            "/api/v1/users",
            &admin,
            json!({"id": "u1", "username": "u1", "role": "company", "password": PASSWORD}),
        )
        .await;
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "invalid",
        Some("company_id"),
    );
    api.finish().await;
}

#[tokio::test]
async fn roles_and_company_isolation() {
    let api = api_support::start().await;
    let a = api.tokens.company_a.clone();

    // Another company's items answer 404; own ones are readable.
    for path in [
        "/api/v1/companies/c02",
        "/api/v1/vehicles/v002",
        "/api/v1/terminals/013902096382",
        "/api/v1/drivers/d002",
        "/api/v1/permits/p02",
    ] {
        let answer = api.get(path, &a).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    }
    for path in [
        "/api/v1/companies/c01",
        "/api/v1/vehicles/v001",
        "/api/v1/terminals/013812444934",
        "/api/v1/drivers/d001",
        "/api/v1/permits/p01",
    ] {
        let (status, body) = api.get(path, &a).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
    }
    let (_, terminal) = api.get("/api/v1/terminals/013812444934", &a).await;
    assert_eq!(terminal["vehicle_id"], "v001");
    assert!(terminal.get("auth_code").is_none());

    // Lists are scoped; naming another company is 404.
    let (status, companies) = api.get("/api/v1/companies", &a).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        companies["items"],
        json!([{"id": "c01", "name": "柳州市龙城渣土运输有限公司", "uscc": "91450200JWW3MPA1WT"}])
    );
    for list in ["drivers", "permits", "terminals"] {
        let (status, page) = api.get(&format!("/api/v1/{list}?limit=1000"), &a).await;
        assert_eq!(status, StatusCode::OK, "{list}");
        let items = page["items"].as_array().expect("items");
        assert!(!items.is_empty(), "{list}");
        for item in items {
            if list == "terminals" {
                let vehicle = item["vehicle_id"].as_str().expect("bound");
                let (status, _) = api.get(&format!("/api/v1/vehicles/{vehicle}"), &a).await;
                assert_eq!(status, StatusCode::OK, "terminal of own vehicle");
            } else {
                assert_eq!(item["company_id"], "c01", "{list}: {item}");
            }
        }
        let answer = api.get(&format!("/api/v1/{list}?company_id=c02"), &a).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
    }
    let (status, all) = api
        .get("/api/v1/companies?limit=1000", &api.tokens.auditor)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(all["items"].as_array().expect("items").len(), 10);

    // Officers: bureau roles only; users: admin only.
    let answer = api.get("/api/v1/officers", &a).await;
    assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
    for token in [
        &api.tokens.dispatcher,
        &api.tokens.officer,
        &api.tokens.admin,
    ] {
        let (status, _) = api.get("/api/v1/officers", token).await;
        assert_eq!(status, StatusCode::OK);
    }
    for token in [&api.tokens.dispatcher, &api.tokens.auditor, &a] {
        let answer = api.get("/api/v1/users", token).await;
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden", None);
    }

    // A user made over the API logs in with its password; hashes never leave.
    let (status, user) = api
        .post(
            "/api/v1/users",
            &api.tokens.admin,
            json!({"id": "u-c03", "username": "c03-clerk", "role": "company",
                   "company_id": "c03", "password": "a long enough secret"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let (status, users) = api.get("/api/v1/users?limit=1000", &api.tokens.admin).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!users.to_string().contains("argon2"), "no hashes in lists");
    let (status, login) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "c03-clerk", "password": "a long enough secret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    assert_eq!(login["company_id"], "c03");
    // Replacing without a password keeps it.
    let (status, _) = api
        .put(
            "/api/v1/users/u-c03",
            &api.tokens.admin,
            json!({"username": "c03-boss", "role": "company", "company_id": "c03"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api
        .call(
            reqwest::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "c03-boss", "password": "a long enough secret"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    api.finish().await;
}

/// Company, vehicle and terminal through their whole life, checked on either store.
async fn registry_round_trip(api: &TestApi) {
    let admin = api.tokens.admin.clone();
    let company = json!({"id": "c-rt", "name": "往返运输有限公司", "uscc": "91450200AAAAAAAAAA"});
    let (status, created) = api.post("/api/v1/companies", &admin, company).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let vehicle = json!({"id": "v-rt", "plate": "桂B0RT01", "plate_color": 2, "company_id": "c-rt",
        "rated_load_kg": 16000.0, "sensors": {"load": true, "lift": true, "lid": false, "weight": false}});
    let (status, created) = api.post("/api/v1/vehicles", &admin, vehicle).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["sensors"]["lift"], true);
    let terminal = json!({"phone": "013900000777", "vehicle_id": "v-rt", "model": "generic", "protocol": "2019"});
    let (status, created) = api.post("/api/v1/terminals", &admin, terminal).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["phone"], "13900000777");
    assert_eq!(created["registered"], false);
    let (status, read) = api.get("/api/v1/terminals/13900000777", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["vehicle_id"], "v-rt");

    // The vehicle in the fleet view, with its company's name.
    let (status, read) = api.get("/api/v1/vehicles/v-rt", &admin).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["company_name"], "往返运输有限公司");
    assert_eq!(read["state"], "unknown");
    assert_eq!(
        read["sensors"],
        json!({"load": true, "lift": true, "lid": false, "weight": false})
    );
    assert!(read["latest"].is_null());

    // A company with vehicles cannot go; after its vehicle it can.
    let answer = api.delete("/api/v1/companies/c-rt", &admin).await;
    assert_error(&answer, StatusCode::CONFLICT, "conflict", None);
    let (status, _) = api.delete("/api/v1/terminals/13900000777", &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.delete("/api/v1/vehicles/v-rt", &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = api.delete("/api/v1/companies/c-rt", &admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let answer = api.get("/api/v1/companies/c-rt", &admin).await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found", None);
}

#[tokio::test]
async fn registry_round_trip_on_sqlite() {
    let api = api_support::start().await;
    registry_round_trip(&api).await;
    api.finish().await;
}

#[tokio::test]
async fn registry_round_trip_on_postgres() {
    let api = api_support::start_postgres().await;
    registry_round_trip(&api).await;
    // Fences too: GeoJSON in and out through PostGIS.
    let (status, created) = api
        .post(
            "/api/v1/disposal-grounds",
            &api.tokens.admin,
            json!({"id": "dg-rt", "name": "往返消纳场", "geometry": square(109.50, 24.40, 0.01)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_close(&created["geometry"]["coordinates"][0][0][2], 109.51, 24.41);
    // The fleet view on PostgreSQL: latest position, permit, open violation.
    let now = chrono::Utc::now();
    let fix = serde_json::from_value::<haulwatch::model::Position>(json!({
        "id": haulwatch::model::next_position_id(), "phone": "013812444934", "vehicle_id": "v001",
        "time": now, "received_at": now, "lat": 24.3, "lon": 109.4, "altitude_m": 80,
        "speed_kmh": 25.0, "heading": 180, "alarm": 0, "status": 2, "load": "full",
        "lift_up": false, "lid_open": null, "weight_kg": 12000.0, "mileage_km": null,
        "source": "live", "flags": 0, "raw": "7e7e"}))
    .expect("position");
    api.store()
        .insert_positions(std::slice::from_ref(&fix))
        .await
        .expect("stored");
    let (status, v001) = api
        .get("/api/v1/vehicles/v001", &api.tokens.company_a)
        .await;
    assert_eq!(status, StatusCode::OK, "{v001}");
    assert_eq!(v001["state"], "loaded");
    assert_eq!(v001["latest"]["lift_up"], false);
    assert_eq!(v001["latest"]["weight_kg"], 12000.0);
    assert!(
        v001["permit_id"]
            .as_str()
            .is_some_and(|p| p.starts_with('p'))
    );
    let (status, page) = api
        .get(
            "/api/v1/vehicles?company_id=c01&limit=5",
            &api.tokens.dispatcher,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"][0]["id"], "v001");
    assert_eq!(
        page["items"][0]["company_name"],
        "柳州市龙城渣土运输有限公司"
    );
    assert_eq!(page["next"], "v041");
    api.finish().await;
}
