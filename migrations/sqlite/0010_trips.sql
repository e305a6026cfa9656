-- Trips (SQLite): completed hauls (loaded at a site, delivered to a disposal ground), for
-- compliance reports. Upserted by id so a re-judged trip is counted once.
CREATE TABLE trips (
    id                  TEXT PRIMARY KEY NOT NULL,
    vehicle_id          TEXT,
    company_id          TEXT,
    permit_id           TEXT,
    site_id             TEXT,
    disposal_ground_id  TEXT NOT NULL,
    loaded_at           INTEGER NOT NULL,
    arrived_at          INTEGER NOT NULL
);
CREATE INDEX trips_company ON trips (company_id, arrived_at);
CREATE INDEX trips_vehicle ON trips (vehicle_id, arrived_at);
