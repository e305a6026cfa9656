-- Tracks (SQLite): one table with a time index. The id is the rowid, so a re-sent position is
-- skipped by INSERT OR IGNORE. Times are INTEGER microseconds since the Unix epoch.

CREATE TABLE positions (
    id          INTEGER PRIMARY KEY NOT NULL,
    phone       TEXT NOT NULL,
    vehicle_id  TEXT,
    time        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    altitude_m  INTEGER NOT NULL,
    speed_kmh   REAL NOT NULL,
    heading     INTEGER NOT NULL,
    alarm       INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    load        TEXT NOT NULL,
    lift_up     INTEGER,
    lid_open    INTEGER,
    weight_kg   REAL,
    mileage_km  REAL,
    source      TEXT NOT NULL,
    flags       INTEGER NOT NULL,
    raw         BLOB NOT NULL
);
CREATE INDEX positions_time ON positions (time);
CREATE INDEX positions_vehicle_time ON positions (vehicle_id, time);

CREATE TABLE latest_positions (
    vehicle_id  TEXT PRIMARY KEY NOT NULL,
    id          INTEGER NOT NULL,
    phone       TEXT NOT NULL,
    time        INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    altitude_m  INTEGER NOT NULL,
    speed_kmh   REAL NOT NULL,
    heading     INTEGER NOT NULL,
    alarm       INTEGER NOT NULL,
    status      INTEGER NOT NULL,
    load        TEXT NOT NULL,
    lift_up     INTEGER,
    lid_open    INTEGER,
    weight_kg   REAL,
    mileage_km  REAL,
    source      TEXT NOT NULL,
    flags       INTEGER NOT NULL,
    raw         BLOB NOT NULL
);
