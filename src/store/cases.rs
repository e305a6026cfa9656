//! Enforcement cases: the case file, linked violations, officers, evidence metadata,
//! assignments, officer duty, citizen reports, and the append-only audit chain.
//!
//! # Writing
//! Every change to cases goes through a [`CaseTx`] ([`Store::begin_case_write`]). Opening one
//! takes the audit chain head under a lock (PostgreSQL: `SELECT ... FOR UPDATE` on the one row
//! of `audit_head`; SQLite: the single writer of `BEGIN IMMEDIATE`), so case writes are
//! serialised, the chain stays linear, and a decision read inside the transaction (is this
//! episode already linked? which case does it join?) cannot be overtaken by a concurrent one.
//! The case rows still carry a revision and updates say which revision they replace, so a
//! stale edit fails with [`StoreError::StaleRevision`] instead of overwriting.
//!
//! [`CaseTx::append`] seals audit drafts into events (sequence number, previous hash, hash);
//! [`CaseTx::commit`] writes the new head with them. Dropping a `CaseTx` rolls everything back.
//!
//! # Reading
//! Cases by id or tracking number, lists with filters and a cursor ([`CaseQuery`]), the
//! evidence, events and assignments of a case, the chain page by page for verification, the
//! cases due by a date, and officer duty.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::types::Json;

use super::codec::Ts;
use super::{MAX_PAGE, Page, Store, StoreError, Tx, on_pool, on_tx};
use crate::cases::audit::{AuditAction, AuditDraft, AuditEvent, ChainHead};
use crate::cases::citizen::CitizenReport;
use crate::cases::dispatch::{AssignmentRecord, OfficerDuty};
use crate::cases::model::{Case, CaseKind, CaseSource, CaseStatus, Evidence, EvidenceKind, Role};
use crate::model::{Violation, phone_key};

/// Filter and position for a case list, newest opened first.
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    /// Only this kind.
    pub kind: Option<CaseKind>,
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Only this source.
    pub source: Option<CaseSource>,
    /// Only this company's cases (company users are always limited to theirs).
    pub company_id: Option<String>,
    /// Only this vehicle's cases.
    pub vehicle_id: Option<String>,
    /// Only cases dispatched to this district.
    pub district_zone_id: Option<String>,
    /// Only cases with a running legal clock whose last day is before this local date (that
    /// is, overdue on it).
    pub overdue_on: Option<NaiveDate>,
    /// Continue after this cursor (from a previous page).
    pub cursor: Option<String>,
    /// Page size; 0 means 100; capped at [`MAX_PAGE`].
    pub limit: u32,
}

/// An audit row that cannot even be read back into an event (a column edited into something
/// meaningless); verification reports it as the event that does not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptEvent {
    /// Its sequence number.
    pub seq: u64,
    /// What could not be read.
    pub reason: String,
}

/// A bind value for queries whose parameters are assembled at run time.
enum Bind {
    /// Text or NULL.
    Text(Option<String>),
    /// Integer or NULL.
    Int(Option<i64>),
    /// Instant or NULL.
    Time(Option<Ts>),
    /// Local date or NULL.
    Date(Option<NaiveDate>),
}

/// Runs a `SELECT` with binds on the pool.
macro_rules! fetch_all_pool {
    ($store:expr, $ty:ty, $sql:expr, $binds:expr) => {
        on_pool!($store, |pool, pg| {
            let mut query = sqlx::query_as::<_, $ty>($sql);
            for bind in $binds {
                query = match bind {
                    Bind::Text(v) => query.bind(v),
                    Bind::Int(v) => query.bind(v),
                    Bind::Time(v) => query.bind(v),
                    Bind::Date(v) => query.bind(v),
                };
            }
            query.fetch_all(pool).await?
        })
    };
}

/// Runs a `SELECT` with binds inside a transaction.
macro_rules! fetch_all_tx {
    ($tx:expr, $ty:ty, $sql:expr, $binds:expr) => {
        on_tx!($tx, |conn, pg| {
            let mut query = sqlx::query_as::<_, $ty>($sql);
            for bind in $binds {
                query = match bind {
                    Bind::Text(v) => query.bind(v),
                    Bind::Int(v) => query.bind(v),
                    Bind::Time(v) => query.bind(v),
                    Bind::Date(v) => query.bind(v),
                };
            }
            query.fetch_all(&mut *conn).await?
        })
    };
}

#[derive(sqlx::FromRow)]
struct CaseRow {
    revision: i64,
    body: Json<serde_json::Value>,
}

impl TryFrom<CaseRow> for Case {
    type Error = StoreError;
    fn try_from(row: CaseRow) -> Result<Case, StoreError> {
        let mut case: Case = serde_json::from_value(row.body.0)
            .map_err(|e| StoreError::Corrupt(format!("case body: {e}")))?;
        // The column is what concurrent updates compare against.
        case.revision = u64::try_from(row.revision)
            .map_err(|_| StoreError::Corrupt(format!("case {} revision", case.id)))?;
        Ok(case)
    }
}

fn cases_from(rows: Vec<CaseRow>) -> Result<Vec<Case>, StoreError> {
    rows.into_iter().map(Case::try_from).collect()
}

#[derive(sqlx::FromRow)]
struct EventRow {
    seq: i64,
    at: Ts,
    actor_id: String,
    actor_roles: String,
    action: String,
    case_id: Option<String>,
    evidence_ids: String,
    before_json: String,
    after_json: String,
    note: Option<String>,
    prev_hash: String,
    hash: String,
}

const EVENT_COLUMNS: &str = "seq, at, actor_id, actor_roles, action, case_id, evidence_ids, \
     before_json, after_json, note, prev_hash, hash";

impl EventRow {
    fn into_event(self) -> Result<AuditEvent, CorruptEvent> {
        let seq = u64::try_from(self.seq).unwrap_or(0);
        let corrupt = |what: &str, e: &dyn std::fmt::Display| CorruptEvent {
            seq,
            reason: format!("{what}: {e}"),
        };
        let actor_roles: Vec<Role> =
            serde_json::from_str(&self.actor_roles).map_err(|e| corrupt("actor_roles", &e))?;
        let action = AuditAction::from_name(&self.action)
            .ok_or_else(|| corrupt("action", &format!("unknown `{}`", self.action)))?;
        let evidence_ids: Vec<String> =
            serde_json::from_str(&self.evidence_ids).map_err(|e| corrupt("evidence_ids", &e))?;
        let before = serde_json::from_str(&self.before_json).map_err(|e| corrupt("before", &e))?;
        let after = serde_json::from_str(&self.after_json).map_err(|e| corrupt("after", &e))?;
        Ok(AuditEvent {
            seq,
            at: self.at.0,
            actor_id: self.actor_id,
            actor_roles,
            action,
            case_id: self.case_id,
            evidence_ids,
            before,
            after,
            note: self.note,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

fn events_from(rows: Vec<EventRow>) -> Result<Vec<AuditEvent>, StoreError> {
    rows.into_iter()
        .map(|r| {
            r.into_event()
                .map_err(|c| StoreError::Corrupt(format!("audit event {}: {}", c.seq, c.reason)))
        })
        .collect()
}

#[derive(sqlx::FromRow)]
struct EvidenceRow {
    id: String,
    case_id: String,
    kind: String,
    file_name: String,
    media_type: String,
    sha256: String,
    size_bytes: i64,
    uploaded_by: String,
    uploaded_at: Ts,
    captured_at: Option<Ts>,
    description: String,
}

const EVIDENCE_COLUMNS: &str = "id, case_id, kind, file_name, media_type, sha256, size_bytes, \
     uploaded_by, uploaded_at, captured_at, description";

impl TryFrom<EvidenceRow> for Evidence {
    type Error = StoreError;
    fn try_from(r: EvidenceRow) -> Result<Evidence, StoreError> {
        let kind: EvidenceKind = serde_json::from_value(serde_json::Value::from(r.kind.clone()))
            .map_err(|_| StoreError::Corrupt(format!("evidence {} kind {:?}", r.id, r.kind)))?;
        Ok(Evidence {
            kind,
            size_bytes: u64::try_from(r.size_bytes)
                .map_err(|_| StoreError::Corrupt(format!("evidence {} size", r.id)))?,
            id: r.id,
            case_id: r.case_id,
            file_name: r.file_name,
            media_type: r.media_type,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            uploaded_at: r.uploaded_at.0,
            captured_at: r.captured_at.map(|t| t.0),
            description: r.description,
        })
    }
}

fn evidence_kind_name(kind: EvidenceKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "other".to_string())
}

#[derive(sqlx::FromRow)]
struct JsonRow {
    doc: Json<serde_json::Value>,
}

fn from_json<T: serde::de::DeserializeOwned>(
    rows: Vec<JsonRow>,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    rows.into_iter()
        .map(|r| {
            serde_json::from_value(r.doc.0).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
        })
        .collect()
}

/// A list cursor: `(opened_at, id)` of the last item, opaque to callers.
fn encode_cursor(case: &Case) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", case.opened_at.timestamp_micros(), case.id))
}

fn decode_cursor(cursor: &str) -> Result<(DateTime<Utc>, String), StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::InvalidCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| StoreError::InvalidCursor)?;
    let (micros, id) = text.split_once('|').ok_or(StoreError::InvalidCursor)?;
    let micros: i64 = micros.parse().map_err(|_| StoreError::InvalidCursor)?;
    let time = DateTime::from_timestamp_micros(micros).ok_or(StoreError::InvalidCursor)?;
    Ok((time, id.to_string()))
}

fn revision_i64(case: &Case) -> Result<i64, StoreError> {
    i64::try_from(case.revision)
        .map_err(|_| StoreError::Invalid(format!("case {} revision too large", case.id)))
}

/// A write transaction on cases, holding the audit chain head (see the module docs).
pub struct CaseTx {
    /// The database transaction.
    tx: Tx,
    /// The chain head as of the last event sealed in this transaction.
    head: ChainHead,
    /// The head when the transaction began, to know whether anything was appended.
    start_seq: u64,
}

impl std::fmt::Debug for CaseTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseTx")
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Begins a case write: a transaction holding the audit chain head (serialising case
    /// writes; see the module docs).
    pub async fn begin_case_write(&self) -> Result<CaseTx, StoreError> {
        let mut tx = self.begin_write().await?;
        let (seq, hash): (i64, String) = on_tx!(&mut tx, |conn, pg| {
            let sql = if pg {
                "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
            } else {
                "SELECT seq, hash FROM audit_head WHERE id = 1"
            };
            sqlx::query_as(sql).fetch_one(&mut *conn).await?
        });
        let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt("audit head seq".into()))?;
        Ok(CaseTx {
            tx,
            head: ChainHead { seq, hash },
            start_seq: seq,
        })
    }

    /// A case by id.
    pub async fn case(&self, id: &str) -> Result<Option<Case>, StoreError> {
        let rows: Vec<CaseRow> = fetch_all_pool!(
            self,
            CaseRow,
            "SELECT revision, body FROM cases WHERE id = $1",
            [Bind::Text(Some(id.to_string()))]
        );
        Ok(cases_from(rows)?.into_iter().next())
    }

    /// The case a violation episode is linked to, if any (a link is never removed).
    pub async fn case_of_violation(
        &self,
        violation_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, |pool, pg| {
            sqlx::query_as("SELECT case_id FROM case_violations WHERE violation_id = $1")
                .bind(violation_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(id,)| id))
    }

    /// The case opened from a citizen report, by its (normalised) tracking number.
    pub async fn case_by_tracking_number(
        &self,
        tracking_number: &str,
    ) -> Result<Option<Case>, StoreError> {
        let rows: Vec<CaseRow> = fetch_all_pool!(
            self,
            CaseRow,
            "SELECT revision, body FROM cases WHERE tracking_number = $1",
            [Bind::Text(Some(tracking_number.to_string()))]
        );
        Ok(cases_from(rows)?.into_iter().next())
    }

    /// Cases matching the filter, newest opened first (ties by id), one page at a time.
    pub async fn list_cases(&self, q: &CaseQuery) -> Result<Page<Case>, StoreError> {
        let size = match q.limit {
            0 => 100,
            n => n.min(MAX_PAGE),
        };
        let cursor = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let (cursor_time, cursor_id) = match cursor {
            Some((t, id)) => (Some(Ts(t)), Some(id)),
            None => (None, None),
        };
        let sql = "SELECT revision, body FROM cases WHERE \
             ($1 IS NULL OR kind = $1) AND ($2 IS NULL OR status = $2) \
             AND ($3 IS NULL OR source = $3) AND ($4 IS NULL OR company_id = $4) \
             AND ($5 IS NULL OR vehicle_id = $5) AND ($6 IS NULL OR district_zone_id = $6) \
             AND ($7 IS NULL OR next_due_on < $7) \
             AND ($8 IS NULL OR opened_at < $8 OR (opened_at = $8 AND id < $9)) \
             ORDER BY opened_at DESC, id DESC LIMIT $10";
        let binds = [
            Bind::Text(q.kind.map(|k| k.as_str().to_string())),
            Bind::Text(q.status.map(|s| s.as_str().to_string())),
            Bind::Text(q.source.map(|s| s.as_str().to_string())),
            Bind::Text(q.company_id.clone()),
            Bind::Text(q.vehicle_id.clone()),
            Bind::Text(q.district_zone_id.clone()),
            Bind::Date(q.overdue_on),
            Bind::Time(cursor_time),
            Bind::Text(cursor_id),
            Bind::Int(Some(i64::from(size) + 1)),
        ];
        let rows: Vec<CaseRow> = fetch_all_pool!(self, CaseRow, sql, binds);
        let mut items = cases_from(rows)?;
        let next_cursor = if items.len() > size as usize {
            items.truncate(size as usize);
            items.last().map(encode_cursor)
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    /// Cases opened in `[from, to)` (either bound open), optionally of one company, oldest
    /// first: what statistics count.
    pub async fn cases_opened_between(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        company_id: Option<&str>,
    ) -> Result<Vec<Case>, StoreError> {
        let sql = "SELECT revision, body FROM cases WHERE ($1 IS NULL OR opened_at >= $1) \
             AND ($2 IS NULL OR opened_at < $2) AND ($3 IS NULL OR company_id = $3) \
             ORDER BY opened_at, id";
        let binds = [
            Bind::Time(from.map(Ts)),
            Bind::Time(to.map(Ts)),
            Bind::Text(company_id.map(str::to_string)),
        ];
        let rows: Vec<CaseRow> = fetch_all_pool!(self, CaseRow, sql, binds);
        cases_from(rows)
    }

    /// Active cases with a running clock whose last day is on or before `day`, optionally of
    /// one company: the candidates for the overdue and due-soon lists.
    pub async fn cases_due_by(
        &self,
        day: NaiveDate,
        company_id: Option<&str>,
    ) -> Result<Vec<Case>, StoreError> {
        let sql = "SELECT revision, body FROM cases WHERE next_due_on IS NOT NULL \
             AND next_due_on <= $1 AND ($2 IS NULL OR company_id = $2) ORDER BY next_due_on, id";
        let binds = [
            Bind::Date(Some(day)),
            Bind::Text(company_id.map(str::to_string)),
        ];
        let rows: Vec<CaseRow> = fetch_all_pool!(self, CaseRow, sql, binds);
        cases_from(rows)
    }

    /// Active cases with ids after `after_id`, by id, at most `limit`: for walking all of them
    /// (re-indexing deadlines).
    pub async fn active_cases_after(
        &self,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Case>, StoreError> {
        let sql = "SELECT revision, body FROM cases WHERE active AND ($1 IS NULL OR id > $1) \
             ORDER BY id LIMIT $2";
        let binds = [
            Bind::Text(after_id.map(str::to_string)),
            Bind::Int(Some(i64::from(limit.clamp(1, MAX_PAGE)))),
        ];
        let rows: Vec<CaseRow> = fetch_all_pool!(self, CaseRow, sql, binds);
        cases_from(rows)
    }

    /// Sets a case's deadline index (the last day of its earliest running clock), e.g. after
    /// the holiday calendar changed, unless the case has moved past `revision` meanwhile (its
    /// writer set the index itself). Not part of the case file, so not audited.
    pub async fn set_case_next_due_on(
        &self,
        case_id: &str,
        revision: u64,
        next_due_on: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        let revision = i64::try_from(revision).unwrap_or(i64::MAX);
        on_pool!(self, |pool, pg| {
            sqlx::query("UPDATE cases SET next_due_on = $2 WHERE id = $1 AND revision = $3")
                .bind(case_id)
                .bind(next_due_on)
                .bind(revision)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Evidence records of a case, in upload order.
    pub async fn case_evidence(&self, case_id: &str) -> Result<Vec<Evidence>, StoreError> {
        let sql = format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE case_id = $1 \
             ORDER BY uploaded_at, id"
        );
        let rows: Vec<EvidenceRow> = fetch_all_pool!(
            self,
            EvidenceRow,
            &sql,
            [Bind::Text(Some(case_id.to_string()))]
        );
        rows.into_iter().map(Evidence::try_from).collect()
    }

    /// One evidence record.
    pub async fn evidence(&self, id: &str) -> Result<Option<Evidence>, StoreError> {
        let sql = format!("SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE id = $1");
        let rows: Vec<EvidenceRow> =
            fetch_all_pool!(self, EvidenceRow, &sql, [Bind::Text(Some(id.to_string()))]);
        rows.into_iter().next().map(Evidence::try_from).transpose()
    }

    /// Evidence records with ids after `after_id`, by id, at most `limit`: for verifying every
    /// file.
    pub async fn evidence_after(
        &self,
        after_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Evidence>, StoreError> {
        let sql = format!(
            "SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE ($1 IS NULL OR id > $1) \
             ORDER BY id LIMIT $2"
        );
        let binds = [
            Bind::Text(after_id.map(str::to_string)),
            Bind::Int(Some(i64::from(limit.clamp(1, MAX_PAGE)))),
        ];
        let rows: Vec<EvidenceRow> = fetch_all_pool!(self, EvidenceRow, &sql, binds);
        rows.into_iter().map(Evidence::try_from).collect()
    }

    /// The audit events of one case, oldest first.
    pub async fn case_events(&self, case_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM case_events WHERE case_id = $1 ORDER BY seq");
        let rows: Vec<EventRow> = fetch_all_pool!(
            self,
            EventRow,
            &sql,
            [Bind::Text(Some(case_id.to_string()))]
        );
        events_from(rows)
    }

    /// Up to `limit` events of the whole chain after sequence number `after_seq`, in order; a
    /// row that cannot be read comes back as a [`CorruptEvent`] in its place.
    pub async fn audit_events_after(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<Result<AuditEvent, CorruptEvent>>, StoreError> {
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM case_events WHERE seq > $1 ORDER BY seq LIMIT $2");
        let binds = [
            Bind::Int(Some(i64::try_from(after_seq).unwrap_or(i64::MAX))),
            Bind::Int(Some(i64::from(limit.clamp(1, MAX_PAGE * 10)))),
        ];
        let rows: Vec<EventRow> = fetch_all_pool!(self, EventRow, &sql, binds);
        Ok(rows.into_iter().map(EventRow::into_event).collect())
    }

    /// The chain head as kept apart from the events.
    pub async fn audit_head(&self) -> Result<ChainHead, StoreError> {
        let (seq, hash): (i64, String) = on_pool!(self, |pool, pg| {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt("audit head seq".into()))?;
        Ok(ChainHead { seq, hash })
    }

    /// Every assignment of a case, oldest first, with its inputs.
    pub async fn case_assignments(
        &self,
        case_id: &str,
    ) -> Result<Vec<AssignmentRecord>, StoreError> {
        let rows: Vec<JsonRow> = fetch_all_pool!(
            self,
            JsonRow,
            "SELECT record AS doc FROM case_assignments WHERE case_id = $1 ORDER BY id",
            [Bind::Text(Some(case_id.to_string()))]
        );
        from_json(rows, "assignment record")
    }

    /// Duty and skills of every officer that has a record, by officer id.
    pub async fn officer_duties(&self) -> Result<Vec<OfficerDuty>, StoreError> {
        let rows: Vec<JsonRow> = fetch_all_pool!(
            self,
            JsonRow,
            "SELECT duty AS doc FROM officer_duties ORDER BY officer_id",
            [] as [Bind; 0]
        );
        from_json(rows, "officer duty")
    }

    /// Sets an officer's duty and skills, and which console user is that officer (`None`
    /// keeps the link already recorded). The officer must be in the registry.
    pub async fn upsert_officer_duty(
        &self,
        duty: &OfficerDuty,
        user_id: Option<&str>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool, pg| {
            sqlx::query(
                "INSERT INTO officer_duties (officer_id, user_id, duty, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (officer_id) DO UPDATE SET \
                 user_id = COALESCE(excluded.user_id, officer_duties.user_id), \
                 duty = excluded.duty, updated_at = excluded.updated_at",
            )
            .bind(&duty.officer_id)
            .bind(user_id)
            .bind(Json(duty))
            .bind(Ts(Utc::now()))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The registry officer a console user is, if linked.
    pub async fn officer_for_user(&self, user_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, |pool, pg| {
            sqlx::query_as("SELECT officer_id FROM officer_duties WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(id,)| id))
    }

    /// The staff-side record of a citizen report (with the reporter's private contact).
    pub async fn citizen_report(
        &self,
        tracking_number: &str,
    ) -> Result<Option<CitizenReport>, StoreError> {
        let rows: Vec<JsonRow> = fetch_all_pool!(
            self,
            JsonRow,
            "SELECT report AS doc FROM citizen_reports WHERE tracking_number = $1",
            [Bind::Text(Some(tracking_number.to_string()))]
        );
        Ok(from_json(rows, "citizen report")?.into_iter().next())
    }
}

impl CaseTx {
    /// The chain head including events appended in this transaction.
    pub fn head(&self) -> &ChainHead {
        &self.head
    }

    /// A case by id, as this transaction sees it.
    pub async fn case(&mut self, id: &str) -> Result<Option<Case>, StoreError> {
        let rows: Vec<CaseRow> = fetch_all_tx!(
            &mut self.tx,
            CaseRow,
            "SELECT revision, body FROM cases WHERE id = $1",
            [Bind::Text(Some(id.to_string()))]
        );
        Ok(cases_from(rows)?.into_iter().next())
    }

    /// The case a violation episode is linked to, if any.
    pub async fn case_of_violation(
        &mut self,
        violation_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query_as("SELECT case_id FROM case_violations WHERE violation_id = $1")
                .bind(violation_id)
                .fetch_optional(&mut *conn)
                .await?
        });
        Ok(row.map(|(id,)| id))
    }

    /// Active cases of `kind` about the same vehicle, or for unregistered terminals (no
    /// vehicle) about the same terminal: what a new episode may join.
    pub async fn offender_cases(
        &mut self,
        kind: CaseKind,
        vehicle_id: Option<&str>,
        phone: &str,
    ) -> Result<Vec<Case>, StoreError> {
        let terminal_key = (!phone.is_empty()).then(|| phone_key(phone).to_string());
        let sql = "SELECT revision, body FROM cases WHERE active AND kind = $1 AND \
             (vehicle_id = $2 OR ($2 IS NULL AND vehicle_id IS NULL AND terminal_key = $3)) \
             ORDER BY opened_at, id";
        let binds = [
            Bind::Text(Some(kind.as_str().to_string())),
            Bind::Text(vehicle_id.map(str::to_string)),
            Bind::Text(terminal_key),
        ];
        let rows: Vec<CaseRow> = fetch_all_tx!(&mut self.tx, CaseRow, sql, binds);
        cases_from(rows)
    }

    /// Allocates the next case sequence number of local year `year` (1, 2, ...).
    pub async fn next_case_seq(&mut self, year: i32) -> Result<u64, StoreError> {
        let (last,): (i64,) = on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query_as(
                "INSERT INTO case_seq (year, last) VALUES ($1, 1) ON CONFLICT (year) \
                 DO UPDATE SET last = case_seq.last + 1 RETURNING last",
            )
            .bind(year)
            .fetch_one(&mut *conn)
            .await?
        });
        u64::try_from(last).map_err(|_| StoreError::Corrupt(format!("case_seq {year}")))
    }

    /// Inserts a new case (its officers too). `next_due_on` is the last day of its earliest
    /// running clock, for the overdue filter.
    pub async fn insert_case(
        &mut self,
        case: &Case,
        next_due_on: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        let revision = revision_i64(case)?;
        on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query(
                "INSERT INTO cases (id, number, kind, source, status, active, vehicle_id, \
                 terminal_key, company_id, district_zone_id, tracking_number, lat, lon, \
                 opened_at, updated_at, closed_at, next_due_on, revision, body) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
                 $18, $19)",
            )
            .bind(&case.id)
            .bind(&case.number)
            .bind(case.kind.as_str())
            .bind(case.source.as_str())
            .bind(case.status.as_str())
            .bind(case.status.is_active())
            .bind(&case.vehicle_id)
            .bind(case.terminal_phone.as_deref().map(phone_key))
            .bind(&case.company_id)
            .bind(&case.district_zone_id)
            .bind(&case.tracking_number)
            .bind(case.location.as_ref().map(|l| l.lat))
            .bind(case.location.as_ref().map(|l| l.lon))
            .bind(Ts(case.opened_at))
            .bind(Ts(case.updated_at))
            .bind(case.closed_at.map(Ts))
            .bind(next_due_on)
            .bind(revision)
            .bind(Json(case))
            .execute(&mut *conn)
            .await?;
        });
        self.write_officers(case).await
    }

    /// Replaces a case that is at `expected_revision` with `case` (whose revision is the new
    /// one). [`StoreError::StaleRevision`] when someone else changed it first.
    pub async fn update_case(
        &mut self,
        case: &Case,
        expected_revision: u64,
        next_due_on: Option<NaiveDate>,
    ) -> Result<(), StoreError> {
        let revision = revision_i64(case)?;
        let expected = i64::try_from(expected_revision).unwrap_or(i64::MAX);
        let updated = on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query(
                "UPDATE cases SET kind = $2, status = $3, active = $4, vehicle_id = $5, \
                 terminal_key = $6, company_id = $7, district_zone_id = $8, \
                 tracking_number = $9, lat = $10, lon = $11, updated_at = $12, closed_at = $13, \
                 next_due_on = $14, revision = $15, body = $16 \
                 WHERE id = $1 AND revision = $17",
            )
            .bind(&case.id)
            .bind(case.kind.as_str())
            .bind(case.status.as_str())
            .bind(case.status.is_active())
            .bind(&case.vehicle_id)
            .bind(case.terminal_phone.as_deref().map(phone_key))
            .bind(&case.company_id)
            .bind(&case.district_zone_id)
            .bind(&case.tracking_number)
            .bind(case.location.as_ref().map(|l| l.lat))
            .bind(case.location.as_ref().map(|l| l.lon))
            .bind(Ts(case.updated_at))
            .bind(case.closed_at.map(Ts))
            .bind(next_due_on)
            .bind(revision)
            .bind(Json(case))
            .bind(expected)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if updated != 1 {
            return Err(StoreError::StaleRevision {
                case_id: case.id.clone(),
                expected: expected_revision,
            });
        }
        self.write_officers(case).await
    }

    /// Replaces the officer rows of a case with its current officers.
    async fn write_officers(&mut self, case: &Case) -> Result<(), StoreError> {
        let mut officers: Vec<&String> = case.officer_ids.iter().collect();
        officers.sort();
        officers.dedup();
        on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query("DELETE FROM case_officers WHERE case_id = $1")
                .bind(&case.id)
                .execute(&mut *conn)
                .await?;
            for officer in officers {
                sqlx::query("INSERT INTO case_officers (case_id, officer_id) VALUES ($1, $2)")
                    .bind(&case.id)
                    .bind(officer)
                    .execute(&mut *conn)
                    .await?;
            }
        });
        Ok(())
    }

    /// Links a violation episode to a case. [`StoreError::Conflict`] when the episode is
    /// already linked (to any case).
    pub async fn link_violation(
        &mut self,
        violation_id: &str,
        case_id: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query(
                "INSERT INTO case_violations (violation_id, case_id, linked_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(violation_id)
            .bind(case_id)
            .bind(Ts(at))
            .execute(&mut *conn)
            .await?;
        });
        Ok(())
    }

    /// Inserts or updates a violation episode, as [`Store::upsert_violation`] does, inside
    /// this transaction.
    pub async fn upsert_violation(&mut self, v: &Violation) -> Result<(), StoreError> {
        super::violations::upsert_violation_in(&mut self.tx, v).await
    }

    /// Records an evidence file's metadata (the bytes are already in evidence storage).
    pub async fn insert_evidence(&mut self, e: &Evidence) -> Result<(), StoreError> {
        let size = i64::try_from(e.size_bytes)
            .map_err(|_| StoreError::Invalid(format!("evidence {} too large", e.id)))?;
        let sql = format!(
            "INSERT INTO evidence ({EVIDENCE_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        );
        on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query(&sql)
                .bind(&e.id)
                .bind(&e.case_id)
                .bind(evidence_kind_name(e.kind))
                .bind(&e.file_name)
                .bind(&e.media_type)
                .bind(&e.sha256)
                .bind(size)
                .bind(&e.uploaded_by)
                .bind(Ts(e.uploaded_at))
                .bind(e.captured_at.map(Ts))
                .bind(&e.description)
                .execute(&mut *conn)
                .await?;
        });
        Ok(())
    }

    /// Logs an assignment with its inputs.
    pub async fn insert_assignment(&mut self, r: &AssignmentRecord) -> Result<(), StoreError> {
        let mode = serde_json::to_value(r.mode)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let outcome = serde_json::to_value(r.outcome)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query(
                "INSERT INTO case_assignments (case_id, at, by_user, mode, outcome, record) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.case_id)
            .bind(Ts(r.at))
            .bind(&r.by)
            .bind(&mode)
            .bind(&outcome)
            .bind(Json(r))
            .execute(&mut *conn)
            .await?;
        });
        Ok(())
    }

    /// Records a citizen report (staff-side, with the private contact).
    pub async fn insert_citizen_report(&mut self, r: &CitizenReport) -> Result<(), StoreError> {
        on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query(
                "INSERT INTO citizen_reports (tracking_number, case_id, received_at, report) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&r.tracking_number)
            .bind(&r.case_id)
            .bind(Ts(r.received_at))
            .bind(Json(r))
            .execute(&mut *conn)
            .await?;
        });
        Ok(())
    }

    /// Active cases per officer: the load dispatch balances, as this transaction sees it.
    pub async fn officer_loads(&mut self) -> Result<BTreeMap<String, u32>, StoreError> {
        let rows: Vec<(String, i64)> = on_tx!(&mut self.tx, |conn, pg| {
            sqlx::query_as(
                "SELECT co.officer_id, COUNT(*) FROM case_officers co \
                 JOIN cases c ON c.id = co.case_id WHERE c.active GROUP BY co.officer_id",
            )
            .fetch_all(&mut *conn)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, u32::try_from(n).unwrap_or(u32::MAX)))
            .collect())
    }

    /// Seals `drafts` into the chain (in order) and inserts them; returns the sealed events.
    pub async fn append(&mut self, drafts: Vec<AuditDraft>) -> Result<Vec<AuditEvent>, StoreError> {
        let mut sealed = Vec::with_capacity(drafts.len());
        for draft in drafts {
            let event = self.head.seal(draft);
            let seq = i64::try_from(event.seq)
                .map_err(|_| StoreError::Invalid("audit sequence overflow".into()))?;
            let roles: Vec<&str> = event.actor_roles.iter().map(|r| r.as_str()).collect();
            let roles = serde_json::to_string(&roles)
                .map_err(|e| StoreError::Invalid(format!("actor roles: {e}")))?;
            let evidence_ids = serde_json::to_string(&event.evidence_ids)
                .map_err(|e| StoreError::Invalid(format!("evidence ids: {e}")))?;
            let before = crate::cases::audit::canonical_json(&event.before);
            let after = crate::cases::audit::canonical_json(&event.after);
            let sql = format!(
                "INSERT INTO case_events ({EVENT_COLUMNS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            );
            on_tx!(&mut self.tx, |conn, pg| {
                sqlx::query(&sql)
                    .bind(seq)
                    .bind(Ts(event.at))
                    .bind(&event.actor_id)
                    .bind(&roles)
                    .bind(event.action.name())
                    .bind(&event.case_id)
                    .bind(&evidence_ids)
                    .bind(&before)
                    .bind(&after)
                    .bind(&event.note)
                    .bind(&event.prev_hash)
                    .bind(&event.hash)
                    .execute(&mut *conn)
                    .await?;
            });
            sealed.push(event);
        }
        Ok(sealed)
    }

    /// Writes the new chain head (when events were appended) and commits everything.
    pub async fn commit(mut self) -> Result<ChainHead, StoreError> {
        if self.head.seq != self.start_seq {
            let seq = i64::try_from(self.head.seq)
                .map_err(|_| StoreError::Invalid("audit sequence overflow".into()))?;
            let hash = self.head.hash.clone();
            on_tx!(&mut self.tx, |conn, pg| {
                sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
                    .bind(seq)
                    .bind(&hash)
                    .execute(&mut *conn)
                    .await?;
            });
        }
        self.tx.commit().await?;
        Ok(self.head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let opened = DateTime::from_timestamp_micros(1_772_000_000_123_456).expect("time");
        let case = Case::new_intake(
            "case|1".into(),
            "n".into(),
            CaseKind::Violation(crate::model::ViolationKind::Speeding),
            CaseSource::AutoViolation,
            opened,
        );
        let (t, id) = decode_cursor(&encode_cursor(&case)).expect("cursor");
        assert_eq!((t, id.as_str()), (opened, "case|1"));
        for bad in ["", "!!!", "bm9waXBl"] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn evidence_kinds_store_by_their_serde_names() {
        assert_eq!(
            evidence_kind_name(EvidenceKind::TrackExtract),
            "track_extract"
        );
        assert_eq!(evidence_kind_name(EvidenceKind::AnprImage), "anpr_image");
    }
}
