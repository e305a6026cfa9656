-- Tracks (SQLite): a vehicle's positions are found through `track_index`, written in bulk,
-- instead of an index on `positions (vehicle_id, time)` maintained on every commit.
--
-- Why: the ingest gateway's group commits hold at most one position per vehicle (each
-- terminal waits for its acknowledgement), so every row of a commit landed on its own leaf
-- page of the (vehicle_id, time) index and the write-ahead log wrote that whole page: about
-- 4 KiB per position. Now a commit only appends: the row, its time-index entry, and an entry in
-- `track_pending` (by trigger, so every writer is covered, and a re-sent id, which INSERT OR
-- IGNORE skips, adds nothing). Every so many rows the track writer moves `track_pending` into
-- `track_index` as one new generation: keyed by generation first, the move appends sorted
-- entries at the end of the index instead of writing a page per vehicle. A track query seeks
-- (generation, vehicle, time) in each generation that overlaps its time range, plus the few
-- pending rows.

DROP INDEX positions_vehicle_time;

-- One row per move; the GNSS time range of its entries (blind-area data makes it wide).
CREATE TABLE track_generations (
    seq         INTEGER PRIMARY KEY NOT NULL,
    min_time    INTEGER NOT NULL,
    max_time    INTEGER NOT NULL
);
CREATE INDEX track_generations_max_time ON track_generations (max_time);

CREATE TABLE track_index (
    seq         INTEGER NOT NULL,
    vehicle_id  TEXT NOT NULL,
    time        INTEGER NOT NULL,
    id          INTEGER NOT NULL,
    PRIMARY KEY (seq, vehicle_id, time, id)
) WITHOUT ROWID;

-- Positions committed but not yet moved into track_index (id is the position's id).
CREATE TABLE track_pending (
    id          INTEGER PRIMARY KEY NOT NULL,
    vehicle_id  TEXT NOT NULL,
    time        INTEGER NOT NULL
);

CREATE TRIGGER positions_track_pending AFTER INSERT ON positions
WHEN NEW.vehicle_id IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO track_pending (id, vehicle_id, time)
    VALUES (NEW.id, NEW.vehicle_id, NEW.time);
END;

-- Positions stored before this migration become pending; the first move indexes them.
INSERT INTO track_pending (id, vehicle_id, time)
SELECT id, vehicle_id, time FROM positions WHERE vehicle_id IS NOT NULL;
