-- Trips: completed hauls (loaded at a site, delivered to a disposal ground), for compliance
-- reports. Upserted by id so a re-judged trip is counted once.
CREATE TABLE trips (
    id                  text PRIMARY KEY,
    vehicle_id          text,
    company_id          text,
    permit_id           text,
    site_id             text,
    disposal_ground_id  text NOT NULL,
    loaded_at           timestamptz NOT NULL,
    arrived_at          timestamptz NOT NULL
);
CREATE INDEX trips_company ON trips (company_id, arrived_at);
CREATE INDEX trips_vehicle ON trips (vehicle_id, arrived_at);
