-- Enforcement cases: the case file, its violations, officers, evidence metadata, assignments,
-- officer duty, citizen reports, and the append-only audit chain (执法全过程记录).
--
-- The whole case is kept as JSON (`body`, the cases module's `Case`); the columns beside it are
-- copies of what lists, filters, joins and dispatch need. Audit events keep their JSON as
-- TEXT, not jsonb, so every byte hashed is the byte stored.

-- Case numbers: one counter per local year, advanced in the transaction that inserts the case.
CREATE TABLE case_seq (
    year        integer PRIMARY KEY,
    last        bigint NOT NULL
);

CREATE TABLE cases (
    id                text PRIMARY KEY,
    number            text NOT NULL UNIQUE,
    kind              text NOT NULL,
    source            text NOT NULL,
    status            text NOT NULL,
    -- Officers still work on it (counts towards load; takes deadlines).
    active            boolean NOT NULL,
    vehicle_id        text,
    -- Terminal phone without leading zeros, to match unregistered terminals' episodes.
    terminal_key      text,
    company_id        text,
    district_zone_id  text,
    tracking_number   text UNIQUE,
    lat               double precision,
    lon               double precision,
    opened_at         timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    closed_at         timestamptz,
    -- Last local day of the earliest running (unpaused) legal clock; NULL when none runs.
    next_due_on       date,
    -- Optimistic concurrency: updates say which revision they replace.
    revision          bigint NOT NULL,
    body              jsonb NOT NULL
);
CREATE INDEX cases_opened ON cases (opened_at DESC, id DESC);
CREATE INDEX cases_vehicle ON cases (vehicle_id, kind) WHERE active;
CREATE INDEX cases_terminal ON cases (terminal_key, kind) WHERE active;
CREATE INDEX cases_company ON cases (company_id, opened_at DESC);
CREATE INDEX cases_status ON cases (status, opened_at DESC);
CREATE INDEX cases_due ON cases (next_due_on) WHERE next_due_on IS NOT NULL;

-- One violation episode belongs to at most one case: the primary key is what makes a re-sent
-- or concurrently handled episode open one case only.
CREATE TABLE case_violations (
    violation_id  text PRIMARY KEY,
    case_id       text NOT NULL REFERENCES cases (id),
    linked_at     timestamptz NOT NULL
);
CREATE INDEX case_violations_case ON case_violations (case_id);

-- Officers on each case (a copy of body.officer_ids), for workload counts.
CREATE TABLE case_officers (
    case_id     text NOT NULL REFERENCES cases (id),
    officer_id  text NOT NULL,
    PRIMARY KEY (case_id, officer_id)
);
CREATE INDEX case_officers_officer ON case_officers (officer_id);

-- The audit chain. Rows are never updated or deleted (triggers below refuse it); each row's
-- hash covers its fields and the previous row's hash.
CREATE TABLE case_events (
    seq           bigint PRIMARY KEY,
    at            timestamptz NOT NULL,
    actor_id      text NOT NULL,
    actor_roles   text NOT NULL,
    action        text NOT NULL,
    case_id       text,
    evidence_ids  text NOT NULL,
    before_json   text NOT NULL,
    after_json    text NOT NULL,
    note          text,
    prev_hash     text NOT NULL,
    hash          text NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, seq);

-- The chain head, kept apart from the rows so that deleting the newest events is caught, and
-- locked (FOR UPDATE) by every transaction that appends, so the chain stays linear.
CREATE TABLE audit_head (
    id    integer PRIMARY KEY CHECK (id = 1),
    seq   bigint NOT NULL,
    hash  text NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION haulwatch_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION haulwatch_append_only();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION haulwatch_append_only();

-- Evidence metadata; the bytes live in write-once content-addressed files (data dir,
-- evidence/<sha256 prefix>/<sha256>). Never changed once written.
CREATE TABLE evidence (
    id            text PRIMARY KEY,
    case_id       text NOT NULL REFERENCES cases (id),
    kind          text NOT NULL,
    file_name     text NOT NULL,
    media_type    text NOT NULL,
    sha256        text NOT NULL,
    size_bytes    bigint NOT NULL,
    uploaded_by   text NOT NULL,
    uploaded_at   timestamptz NOT NULL,
    captured_at   timestamptz,
    description   text NOT NULL
);
CREATE INDEX evidence_case ON evidence (case_id, uploaded_at, id);
CREATE TRIGGER evidence_append_only BEFORE UPDATE OR DELETE ON evidence
    FOR EACH ROW EXECUTE FUNCTION haulwatch_append_only();

-- Every assignment, automatic or overridden, with everything it was based on.
CREATE TABLE case_assignments (
    id          bigserial PRIMARY KEY,
    case_id     text NOT NULL REFERENCES cases (id),
    at          timestamptz NOT NULL,
    by_user     text NOT NULL,
    mode        text NOT NULL,
    outcome     text NOT NULL,
    record      jsonb NOT NULL
);
CREATE INDEX case_assignments_case ON case_assignments (case_id, id);

-- Officers' duty and skills (they change daily; the registry's officer does not), and the
-- console user who is that officer.
CREATE TABLE officer_duties (
    officer_id  text PRIMARY KEY REFERENCES officers (id) ON DELETE CASCADE,
    user_id     text UNIQUE,
    duty        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Citizen reports: the staff-side record with the reporter's private contact.
CREATE TABLE citizen_reports (
    tracking_number  text PRIMARY KEY,
    case_id          text NOT NULL UNIQUE REFERENCES cases (id),
    received_at      timestamptz NOT NULL,
    report           jsonb NOT NULL
);
