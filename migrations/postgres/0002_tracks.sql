-- Tracks: every position with its flags and raw frame, partitioned by UTC day of the GNSS time.
-- Day partitions are created on demand by the store; positions far outside the partition window
-- (a terminal with a broken clock) land in the default partition instead of creating one table
-- per bogus day. Retention drops whole day partitions.

CREATE TABLE positions (
    id          bigint NOT NULL,
    phone       text NOT NULL,
    vehicle_id  text,
    time        timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    geom        geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED,
    altitude_m  integer NOT NULL,
    speed_kmh   double precision NOT NULL,
    heading     integer NOT NULL,
    alarm       bigint NOT NULL,
    status      bigint NOT NULL,
    load        text NOT NULL,
    lift_up     boolean,
    lid_open    boolean,
    weight_kg   double precision,
    mileage_km  double precision,
    source      text NOT NULL,
    flags       bigint NOT NULL,
    raw         bytea NOT NULL,
    -- A re-sent position (same id, same time) is a duplicate and is skipped on insert.
    PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);

CREATE INDEX positions_vehicle_time ON positions (vehicle_id, time);
CREATE INDEX positions_geom ON positions USING gist (geom);

CREATE TABLE positions_default PARTITION OF positions DEFAULT;

-- The newest usable position per vehicle (by GNSS time), kept on write so the live map can read
-- 20,000 vehicles without scanning tracks.
CREATE TABLE latest_positions (
    vehicle_id  text PRIMARY KEY,
    id          bigint NOT NULL,
    phone       text NOT NULL,
    time        timestamptz NOT NULL,
    received_at timestamptz NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    altitude_m  integer NOT NULL,
    speed_kmh   double precision NOT NULL,
    heading     integer NOT NULL,
    alarm       bigint NOT NULL,
    status      bigint NOT NULL,
    load        text NOT NULL,
    lift_up     boolean,
    lid_open    boolean,
    weight_kg   double precision,
    mileage_km  double precision,
    source      text NOT NULL,
    flags       bigint NOT NULL,
    raw         bytea NOT NULL
);
