-- Violations: one row per episode, upserted by id as the engine updates and closes it.
CREATE TABLE violations (
    id          text PRIMARY KEY,
    kind        text NOT NULL,
    vehicle_id  text,
    phone       text NOT NULL,
    company_id  text,
    permit_id   text,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz,
    status      text NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    severity    smallint NOT NULL,
    evidence    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX violations_started ON violations (started_at DESC, id DESC);
CREATE INDEX violations_vehicle ON violations (vehicle_id, started_at DESC);
CREATE INDEX violations_company ON violations (company_id, started_at DESC);
CREATE INDEX violations_kind ON violations (kind, started_at DESC);
