-- Registry (SQLite). Same tables and columns as migrations/postgres/0001_registry.sql; geometries
-- are WKB BLOBs with bounding-box columns (exact spatial work is done in-process with `geo`),
-- times are INTEGER microseconds since the Unix epoch, dates are TEXT (YYYY-MM-DD), JSON is TEXT.

CREATE TABLE companies (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    uscc        TEXT NOT NULL
);

CREATE TABLE vehicles (
    id              TEXT PRIMARY KEY NOT NULL,
    plate           TEXT NOT NULL,
    plate_color     INTEGER NOT NULL,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    rated_load_kg   REAL,
    sensor_load     INTEGER NOT NULL DEFAULT 0,
    sensor_lift     INTEGER NOT NULL DEFAULT 0,
    sensor_lid      INTEGER NOT NULL DEFAULT 0,
    sensor_weight   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX vehicles_company ON vehicles (company_id, id);

CREATE TABLE terminals (
    phone       TEXT PRIMARY KEY NOT NULL,
    vehicle_id  TEXT REFERENCES vehicles (id) ON DELETE SET NULL,
    model       TEXT NOT NULL,
    protocol    TEXT NOT NULL,
    auth_code   TEXT
);
CREATE INDEX terminals_vehicle ON terminals (vehicle_id);

CREATE TABLE drivers (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    license_no  TEXT NOT NULL,
    company_id  TEXT NOT NULL REFERENCES companies (id)
);
CREATE INDEX drivers_company ON drivers (company_id, id);

CREATE TABLE sites (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    geom        BLOB NOT NULL,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    version     INTEGER NOT NULL
);

CREATE TABLE disposal_grounds (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    geom        BLOB NOT NULL,
    min_lon     REAL NOT NULL,
    min_lat     REAL NOT NULL,
    max_lon     REAL NOT NULL,
    max_lat     REAL NOT NULL,
    version     INTEGER NOT NULL
);

CREATE TABLE routes (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    geom            BLOB NOT NULL,
    min_lon         REAL NOT NULL,
    min_lat         REAL NOT NULL,
    max_lon         REAL NOT NULL,
    max_lat         REAL NOT NULL,
    corridor_m      REAL NOT NULL,
    speed_limit_kmh REAL,
    version         INTEGER NOT NULL
);

CREATE TABLE zones (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    geom            BLOB NOT NULL,
    min_lon         REAL NOT NULL,
    min_lat         REAL NOT NULL,
    max_lon         REAL NOT NULL,
    max_lat         REAL NOT NULL,
    allowed         TEXT NOT NULL DEFAULT '[]',
    speed_limit_kmh REAL,
    version         INTEGER NOT NULL
);

CREATE TABLE fence_versions (
    kind        TEXT NOT NULL,
    id          TEXT NOT NULL,
    version     INTEGER NOT NULL,
    geom        BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, id, version)
);

CREATE TABLE permits (
    id              TEXT PRIMARY KEY NOT NULL,
    number          TEXT NOT NULL,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    site_id         TEXT NOT NULL REFERENCES sites (id),
    valid_from      TEXT NOT NULL,
    valid_to        TEXT NOT NULL,
    daily_windows   TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX permits_company ON permits (company_id, id);

CREATE TABLE permit_vehicles (
    permit_id   TEXT NOT NULL REFERENCES permits (id) ON DELETE CASCADE,
    vehicle_id  TEXT NOT NULL REFERENCES vehicles (id),
    ord         INTEGER NOT NULL,
    PRIMARY KEY (permit_id, vehicle_id)
);
CREATE INDEX permit_vehicles_vehicle ON permit_vehicles (vehicle_id);

CREATE TABLE permit_disposal_grounds (
    permit_id           TEXT NOT NULL REFERENCES permits (id) ON DELETE CASCADE,
    disposal_ground_id  TEXT NOT NULL REFERENCES disposal_grounds (id),
    ord                 INTEGER NOT NULL,
    PRIMARY KEY (permit_id, disposal_ground_id)
);
CREATE INDEX permit_disposal_grounds_ground ON permit_disposal_grounds (disposal_ground_id);

CREATE TABLE permit_routes (
    permit_id   TEXT NOT NULL REFERENCES permits (id) ON DELETE CASCADE,
    route_id    TEXT NOT NULL REFERENCES routes (id),
    ord         INTEGER NOT NULL,
    PRIMARY KEY (permit_id, route_id)
);
CREATE INDEX permit_routes_route ON permit_routes (route_id);

CREATE TABLE officers (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    district_zone_id    TEXT REFERENCES zones (id) ON DELETE SET NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL,
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    company_id      TEXT REFERENCES companies (id),
    created_at      INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    company_id  TEXT REFERENCES companies (id),
    user_id     TEXT REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER
);
