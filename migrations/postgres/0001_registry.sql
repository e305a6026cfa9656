-- Registry: who and what may drive where and when. Geometries are WGS-84 (SRID 4326) and cross
-- the application boundary as WKB. Every geometry change is kept in fence_versions so evidence
-- can name the exact shape a position was judged against.

CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE companies (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    uscc        text NOT NULL
);

CREATE TABLE vehicles (
    id              text PRIMARY KEY,
    plate           text NOT NULL,
    plate_color     smallint NOT NULL,
    company_id      text NOT NULL REFERENCES companies (id),
    rated_load_kg   double precision,
    sensor_load     boolean NOT NULL DEFAULT false,
    sensor_lift     boolean NOT NULL DEFAULT false,
    sensor_lid      boolean NOT NULL DEFAULT false,
    sensor_weight   boolean NOT NULL DEFAULT false
);
CREATE INDEX vehicles_company ON vehicles (company_id, id);

-- Keyed by the phone with leading zeros removed (model::phone_key), so 2013 and 2019 headers
-- of the same terminal find the same row.
CREATE TABLE terminals (
    phone       text PRIMARY KEY,
    vehicle_id  text REFERENCES vehicles (id) ON DELETE SET NULL,
    model       text NOT NULL,
    protocol    text NOT NULL,
    auth_code   text
);
CREATE INDEX terminals_vehicle ON terminals (vehicle_id);

CREATE TABLE drivers (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    license_no  text NOT NULL,
    company_id  text NOT NULL REFERENCES companies (id)
);
CREATE INDEX drivers_company ON drivers (company_id, id);

CREATE TABLE sites (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    version     bigint NOT NULL
);
CREATE INDEX sites_geom ON sites USING gist (geom);

CREATE TABLE disposal_grounds (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    geom        geometry(MultiPolygon, 4326) NOT NULL,
    version     bigint NOT NULL
);
CREATE INDEX disposal_grounds_geom ON disposal_grounds USING gist (geom);

CREATE TABLE routes (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    geom            geometry(MultiLineString, 4326) NOT NULL,
    corridor_m      double precision NOT NULL,
    speed_limit_kmh double precision,
    version         bigint NOT NULL
);
CREATE INDEX routes_geom ON routes USING gist (geom);

CREATE TABLE zones (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    kind            text NOT NULL,
    geom            geometry(MultiPolygon, 4326) NOT NULL,
    allowed         jsonb NOT NULL DEFAULT '[]',
    speed_limit_kmh double precision,
    version         bigint NOT NULL
);
CREATE INDEX zones_geom ON zones USING gist (geom);

-- Every geometry a fence ever had. Rows are never updated or deleted (not even when the fence
-- is), so a violation's evidence stays readable.
CREATE TABLE fence_versions (
    kind        text NOT NULL,
    id          text NOT NULL,
    version     bigint NOT NULL,
    geom        geometry(Geometry, 4326) NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, id, version)
);

CREATE TABLE permits (
    id              text PRIMARY KEY,
    number          text NOT NULL,
    company_id      text NOT NULL REFERENCES companies (id),
    site_id         text NOT NULL REFERENCES sites (id),
    valid_from      date NOT NULL,
    valid_to        date NOT NULL,
    daily_windows   jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX permits_company ON permits (company_id, id);

-- The permit's lists, in their registered order (ord).
CREATE TABLE permit_vehicles (
    permit_id   text NOT NULL REFERENCES permits (id) ON DELETE CASCADE,
    vehicle_id  text NOT NULL REFERENCES vehicles (id),
    ord         integer NOT NULL,
    PRIMARY KEY (permit_id, vehicle_id)
);
CREATE INDEX permit_vehicles_vehicle ON permit_vehicles (vehicle_id);

CREATE TABLE permit_disposal_grounds (
    permit_id           text NOT NULL REFERENCES permits (id) ON DELETE CASCADE,
    disposal_ground_id  text NOT NULL REFERENCES disposal_grounds (id),
    ord                 integer NOT NULL,
    PRIMARY KEY (permit_id, disposal_ground_id)
);
CREATE INDEX permit_disposal_grounds_ground ON permit_disposal_grounds (disposal_ground_id);

CREATE TABLE permit_routes (
    permit_id   text NOT NULL REFERENCES permits (id) ON DELETE CASCADE,
    route_id    text NOT NULL REFERENCES routes (id),
    ord         integer NOT NULL,
    PRIMARY KEY (permit_id, route_id)
);
CREATE INDEX permit_routes_route ON permit_routes (route_id);

CREATE TABLE officers (
    id                  text PRIMARY KEY,
    name                text NOT NULL,
    district_zone_id    text REFERENCES zones (id) ON DELETE SET NULL
);

-- Console users; the password hash is made by the API (argon2), never a password.
CREATE TABLE users (
    id              text PRIMARY KEY,
    username        text NOT NULL UNIQUE,
    password_hash   text NOT NULL,
    role            text NOT NULL,
    company_id      text REFERENCES companies (id),
    created_at      timestamptz NOT NULL
);

-- API tokens: only a hash of the token is stored, looked up by that hash.
CREATE TABLE api_tokens (
    token_hash  text PRIMARY KEY,
    name        text NOT NULL,
    role        text NOT NULL,
    company_id  text REFERENCES companies (id),
    user_id     text REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz
);
