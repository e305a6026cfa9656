-- Enforcement cases (SQLite). Same tables and columns as migrations/postgres/0004_cases.sql;
-- times are INTEGER microseconds, dates TEXT (YYYY-MM-DD), JSON TEXT. The single writer
-- (BEGIN IMMEDIATE) keeps the audit chain linear.

CREATE TABLE case_seq (
    year        INTEGER PRIMARY KEY NOT NULL,
    last        INTEGER NOT NULL
);

CREATE TABLE cases (
    id                TEXT PRIMARY KEY NOT NULL,
    number            TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL,
    source            TEXT NOT NULL,
    status            TEXT NOT NULL,
    active            INTEGER NOT NULL,
    vehicle_id        TEXT,
    terminal_key      TEXT,
    company_id        TEXT,
    district_zone_id  TEXT,
    tracking_number   TEXT UNIQUE,
    lat               REAL,
    lon               REAL,
    opened_at         INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    closed_at         INTEGER,
    next_due_on       TEXT,
    revision          INTEGER NOT NULL,
    body              TEXT NOT NULL
);
CREATE INDEX cases_opened ON cases (opened_at DESC, id DESC);
CREATE INDEX cases_vehicle ON cases (vehicle_id, kind) WHERE active;
CREATE INDEX cases_terminal ON cases (terminal_key, kind) WHERE active;
CREATE INDEX cases_company ON cases (company_id, opened_at DESC);
CREATE INDEX cases_status ON cases (status, opened_at DESC);
CREATE INDEX cases_due ON cases (next_due_on) WHERE next_due_on IS NOT NULL;

CREATE TABLE case_violations (
    violation_id  TEXT PRIMARY KEY NOT NULL,
    case_id       TEXT NOT NULL REFERENCES cases (id),
    linked_at     INTEGER NOT NULL
);
CREATE INDEX case_violations_case ON case_violations (case_id);

CREATE TABLE case_officers (
    case_id     TEXT NOT NULL REFERENCES cases (id),
    officer_id  TEXT NOT NULL,
    PRIMARY KEY (case_id, officer_id)
);
CREATE INDEX case_officers_officer ON case_officers (officer_id);

CREATE TABLE case_events (
    seq           INTEGER PRIMARY KEY NOT NULL,
    at            INTEGER NOT NULL,
    actor_id      TEXT NOT NULL,
    actor_roles   TEXT NOT NULL,
    action        TEXT NOT NULL,
    case_id       TEXT,
    evidence_ids  TEXT NOT NULL,
    before_json   TEXT NOT NULL,
    after_json    TEXT NOT NULL,
    note          TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, seq);

CREATE TABLE audit_head (
    id    INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq   INTEGER NOT NULL,
    hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;
CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events
BEGIN
    SELECT RAISE(ABORT, 'case_events is append-only');
END;

CREATE TABLE evidence (
    id            TEXT PRIMARY KEY NOT NULL,
    case_id       TEXT NOT NULL REFERENCES cases (id),
    kind          TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    media_type    TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    uploaded_by   TEXT NOT NULL,
    uploaded_at   INTEGER NOT NULL,
    captured_at   INTEGER,
    description   TEXT NOT NULL
);
CREATE INDEX evidence_case ON evidence (case_id, uploaded_at, id);
CREATE TRIGGER evidence_no_update BEFORE UPDATE ON evidence
BEGIN
    SELECT RAISE(ABORT, 'evidence is append-only');
END;
CREATE TRIGGER evidence_no_delete BEFORE DELETE ON evidence
BEGIN
    SELECT RAISE(ABORT, 'evidence is append-only');
END;

CREATE TABLE case_assignments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id     TEXT NOT NULL REFERENCES cases (id),
    at          INTEGER NOT NULL,
    by_user     TEXT NOT NULL,
    mode        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX case_assignments_case ON case_assignments (case_id, id);

CREATE TABLE officer_duties (
    officer_id  TEXT PRIMARY KEY NOT NULL REFERENCES officers (id) ON DELETE CASCADE,
    user_id     TEXT UNIQUE,
    duty        TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE citizen_reports (
    tracking_number  TEXT PRIMARY KEY NOT NULL,
    case_id          TEXT NOT NULL UNIQUE REFERENCES cases (id),
    received_at      INTEGER NOT NULL,
    report           TEXT NOT NULL
);
