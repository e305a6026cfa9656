-- Violations (SQLite): one row per episode, upserted by id.
CREATE TABLE violations (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL,
    vehicle_id  TEXT,
    phone       TEXT NOT NULL,
    company_id  TEXT,
    permit_id   TEXT,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    status      TEXT NOT NULL,
    lat         REAL NOT NULL,
    lon         REAL NOT NULL,
    severity    INTEGER NOT NULL,
    evidence    TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX violations_started ON violations (started_at DESC, id DESC);
CREATE INDEX violations_vehicle ON violations (vehicle_id, started_at DESC);
CREATE INDEX violations_company ON violations (company_id, started_at DESC);
CREATE INDEX violations_kind ON violations (kind, started_at DESC);
