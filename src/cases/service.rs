//! The case service: what the rest of haulwatch calls to work with cases. It joins the pure
//! domain core (policy, intake, workflow, dispatch, evidence, documents, deadlines, stats,
//! citizen reports) to the store, so that every change is written in one transaction together
//! with its audit events.
//!
//! [`CaseService`] is cheap to clone (an `Arc`). Callers acting for a person pass a
//! [`Principal`] (what the API authenticated); the service maps it to the domain's
//! [`User`], resolving which registry officer the user is. Everything the
//! engine reports goes to [`CaseService::handle_violation`]; [`CaseService::tick`] runs the
//! periodic work (offline episodes that have now lasted long enough).
//!
//! Case writes inside one process go through one gate (an async mutex) before they take the
//! database's audit-head lock, so waiting writers never hold pooled connections the current
//! writer needs. Writers in other processes are serialised by the database lock itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::CaseSettings;
use super::audit::{
    AuditAction, AuditDraft, AuditEvent, BreakReason, ChainHead, sha256_hex, verify_from,
};
use super::citizen::{
    self, CitizenError, CitizenSubmission, PublicProgress, ReportIds, new_tracking_number,
    normalize_tracking_number,
};
use super::deadlines::{
    ClockKind, ClockState, ClockStatus, DeadlineAlert, local_date, next_due_on,
};
use super::dispatch::{
    self, AssignmentRecord, DispatchError, DispatchInputs, OfficerDuty, apply_assignment,
};
use super::documents::{self, DocumentContext, DocumentError, DocumentKind, OfficerLine};
use super::evidence::{
    self, EvidenceAccess, EvidenceError, EvidenceUpload, attach_system_evidence,
};
use super::intake::{self, IntakeError, NewCase, numbering_year};
use super::model::{Case, CaseKind, CaseSource, CaseStatus, Evidence, EvidenceKind, Role, User};
use super::policy::{self, KindRule, PolicyDecision};
use super::stats::{self, CaseStats, HotSpots, Period, StatsError};
use super::workflow::{
    self, Applied, AvailableAction, CasePatch, ExtensionError, Transition, WorkflowError,
};
use crate::model::{Officer, Violation, ViolationKind, ViolationStatus, Zone, ZoneKind};
use crate::store::{CaseQuery, CaseTx, ListQuery, Store, StoreError};

/// Who is acting, as the API authenticated them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// Console user id (recorded in every audit event).
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Roles held.
    pub roles: Vec<Role>,
    /// For company users: their company.
    pub company_id: Option<String>,
}

impl Principal {
    /// A principal from role names as the API keeps them (`"admin"`, `"officer"`, ...);
    /// unknown names are dropped, so they grant nothing.
    pub fn from_role_names<'a>(
        user_id: impl Into<String>,
        name: impl Into<String>,
        role_names: impl IntoIterator<Item = &'a str>,
        company_id: Option<String>,
    ) -> Principal {
        Principal {
            user_id: user_id.into(),
            name: name.into(),
            roles: role_names.into_iter().filter_map(Role::from_name).collect(),
            company_id,
        }
    }
}

/// Where the service reads the time: the system clock, or a clock tests set by hand.
#[derive(Debug, Clone, Default)]
pub enum CaseClock {
    /// `Utc::now()`.
    #[default]
    System,
    /// A settable instant, shared by clones.
    Manual(Arc<parking_lot::Mutex<DateTime<Utc>>>),
}

impl CaseClock {
    /// A manual clock at `t`.
    pub fn manual(t: DateTime<Utc>) -> CaseClock {
        CaseClock::Manual(Arc::new(parking_lot::Mutex::new(t)))
    }

    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            CaseClock::System => Utc::now(),
            CaseClock::Manual(t) => *t.lock(),
        }
    }

    /// Sets a manual clock (does nothing to the system clock).
    pub fn set(&self, t: DateTime<Utc>) {
        if let CaseClock::Manual(current) = self {
            *current.lock() = t;
        }
    }

    /// Moves a manual clock forward.
    pub fn advance(&self, by: Duration) {
        if let CaseClock::Manual(current) = self {
            let mut t = current.lock();
            *t += by;
        }
    }
}

/// Broad classes of failure, for the API to pick a status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// Unknown id, or a case the caller may not see (404).
    NotFound,
    /// The caller's role does not allow it (403).
    Forbidden,
    /// The case is not in a state that allows it, or changed meanwhile (409).
    Conflict,
    /// The request itself is incomplete or malformed (400).
    Invalid,
    /// Storage failure or damaged data (500).
    Internal,
}

/// Why a case operation failed.
#[derive(Debug, Error)]
pub enum CaseError {
    /// Unknown id, or one the caller may not see.
    #[error("{entity} {id} not found")]
    NotFound {
        /// `case`, `evidence`, ...
        entity: &'static str,
        /// The id asked for.
        id: String,
    },
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// A workflow step or edit was refused.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    /// A case could not be opened.
    #[error(transparent)]
    Intake(#[from] IntakeError),
    /// An evidence operation was refused.
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    /// A reassignment was refused.
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    /// A deadline extension was refused.
    #[error(transparent)]
    Extension(#[from] ExtensionError),
    /// A citizen report was refused.
    #[error(transparent)]
    Citizen(#[from] CitizenError),
    /// A document cannot be filled yet.
    #[error(transparent)]
    Document(#[from] DocumentError),
    /// Statistics were asked for with an unusable grid.
    #[error(transparent)]
    Stats(#[from] StatsError),
    /// The case changed since the caller read it.
    #[error("case {case_id} is at revision {current}, not {expected}; reload it and try again")]
    Stale {
        /// The case.
        case_id: String,
        /// The revision the caller saw.
        expected: u64,
        /// The revision it is at.
        current: u64,
    },
    /// An evidence file no longer matches the hash recorded when it was uploaded.
    #[error("evidence {evidence_id} does not match its recorded SHA-256 {expected}: {found}")]
    EvidenceCorrupt {
        /// The evidence.
        evidence_id: String,
        /// The hash recorded at upload.
        expected: String,
        /// What was found instead (a hash, or `missing`).
        found: String,
    },
    /// A malformed request.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl CaseError {
    /// The class of the failure.
    pub fn class(&self) -> ErrorClass {
        use ErrorClass as C;
        match self {
            CaseError::NotFound { .. } => C::NotFound,
            CaseError::Forbidden(_) => C::Forbidden,
            CaseError::Workflow(e) => match e {
                WorkflowError::IllegalTransition { .. } | WorkflowError::NotEditable { .. } => {
                    C::Conflict
                }
                WorkflowError::Forbidden { .. } | WorkflowError::EditForbidden { .. } => {
                    C::Forbidden
                }
                WorkflowError::Guard { .. } | WorkflowError::InvalidEdit { .. } => C::Invalid,
            },
            CaseError::Intake(IntakeError::Forbidden { .. }) => C::Forbidden,
            CaseError::Intake(IntakeError::NotJoinable { .. }) => C::Conflict,
            CaseError::Intake(_) => C::Invalid,
            CaseError::Evidence(e) => match e {
                EvidenceError::Forbidden { .. } => C::Forbidden,
                EvidenceError::Archived { .. } => C::Conflict,
                EvidenceError::WrongCase { .. } => C::NotFound,
                EvidenceError::Empty | EvidenceError::BadDigest(_) => C::Invalid,
            },
            CaseError::Dispatch(e) => match e {
                DispatchError::Forbidden { .. } => C::Forbidden,
                DispatchError::Finished { .. } => C::Conflict,
                DispatchError::UnknownOfficer(_)
                | DispatchError::NoOfficers
                | DispatchError::ReasonRequired => C::Invalid,
            },
            CaseError::Extension(e) => match e {
                ExtensionError::Forbidden { .. } => C::Forbidden,
                ExtensionError::NoRunningClock { .. } => C::Conflict,
                ExtensionError::BadLength { .. } | ExtensionError::ReasonRequired => C::Invalid,
            },
            CaseError::Citizen(_) | CaseError::Stats(_) | CaseError::Invalid(_) => C::Invalid,
            CaseError::Document(_) | CaseError::Stale { .. } => C::Conflict,
            CaseError::EvidenceCorrupt { .. } => C::Internal,
            CaseError::Store(e) => match e {
                StoreError::NotFound { .. } => C::NotFound,
                StoreError::Conflict(_) | StoreError::StaleRevision { .. } => C::Conflict,
                StoreError::Invalid(_) | StoreError::InvalidCursor => C::Invalid,
                _ => C::Internal,
            },
        }
    }
}

fn not_found(entity: &'static str, id: &str) -> CaseError {
    CaseError::NotFound {
        entity,
        id: id.to_string(),
    }
}

/// What became of a violation the engine reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ViolationOutcome {
    /// A new case was opened (and dispatched).
    Opened {
        /// The case.
        case_id: String,
        /// Its printed number.
        number: String,
    },
    /// The episode joined an open case of the same kind and vehicle.
    Joined {
        /// The case.
        case_id: String,
    },
    /// The episode was already linked (a re-sent, updated or closed episode).
    AlreadyLinked {
        /// The case.
        case_id: String,
        /// Whether a snapshot of the closed episode was added to the case's evidence.
        evidence_added: bool,
    },
    /// An alert only: no case (yet). Offline episodes stay here until they last long enough.
    Alert {
        /// Why no case.
        reason: String,
    },
    /// The policy ignores this kind.
    Ignored {
        /// Why.
        reason: String,
    },
}

/// A case just opened by hand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreatedCase {
    /// The case as stored (assigned by dispatch).
    pub case: Case,
    /// For cases from citizen reports taken by phone: the tracking number to tell the caller.
    pub tracking_number: Option<String>,
}

/// What a citizen gets back for a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CitizenReceipt {
    /// The number to follow the progress with; the only thing the reporter should be shown.
    pub tracking_number: String,
    /// The case opened (for staff and logs; not for the reporter).
    pub case_id: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// Filter and position for a case list.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseFilter {
    /// Only this kind.
    pub kind: Option<CaseKind>,
    /// Only this status.
    pub status: Option<CaseStatus>,
    /// Only this source.
    pub source: Option<CaseSource>,
    /// Only this company (ignored for company users, who always see only their own).
    pub company_id: Option<String>,
    /// Only this vehicle.
    pub vehicle_id: Option<String>,
    /// Only this district.
    pub district_zone_id: Option<String>,
    /// Only cases with an overdue legal clock (as of the service's clock).
    pub overdue: bool,
    /// Continue after this cursor.
    pub cursor: Option<String>,
    /// Page size; 0 means 100; at most 1000.
    pub limit: u32,
}

/// One row of a case list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseListItem {
    /// The case.
    pub case: Case,
    /// Where each of its clocks stands now.
    pub deadlines: Vec<ClockStatus>,
    /// Whether any running clock is past its last day.
    pub overdue: bool,
}

/// A document the case can (or cannot yet) produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentInfo {
    /// Which document.
    pub kind: DocumentKind,
    /// Its printed title.
    pub title_zh: String,
    /// Whether it can be rendered now.
    pub ready: bool,
    /// What is missing when not.
    pub missing: Option<String>,
}

/// Everything the case page shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseDetail {
    /// The case.
    pub case: Case,
    /// Its vehicle's plate, when known.
    pub vehicle_plate: Option<String>,
    /// The violation episodes linked to it.
    pub violations: Vec<Violation>,
    /// Its evidence records.
    pub evidence: Vec<Evidence>,
    /// Its audit events, oldest first (for company users without `before` and `after`, which
    /// hold the bureau's internal records).
    pub events: Vec<AuditEvent>,
    /// Steps the caller may take now (with what still blocks each).
    pub allowed_actions: Vec<AvailableAction>,
    /// The printable documents and whether each is ready.
    pub documents: Vec<DocumentInfo>,
    /// Every assignment with its inputs (staff only; empty for company users).
    pub assignments: Vec<AssignmentRecord>,
    /// Where each legal clock stands now.
    pub deadlines: Vec<ClockStatus>,
}

/// An evidence file handed out (after its access was audited).
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceFile {
    /// The record.
    pub evidence: Evidence,
    /// The bytes, checked against the recorded hash.
    pub bytes: Vec<u8>,
}

/// What statistics to compute.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsQuery {
    /// Cases opened (and violations started) at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// ... and before this one.
    pub to: Option<DateTime<Utc>>,
    /// Grouping of `by_period`.
    pub period: Period,
    /// Only this company (company users: always their own).
    pub company_id: Option<String>,
}

impl Default for StatsQuery {
    fn default() -> Self {
        StatsQuery {
            from: None,
            to: None,
            period: Period::Month,
            company_id: None,
        }
    }
}

/// Statistics for the bureau.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseStatistics {
    /// Counts by kind, status, company, district and period; time to close.
    pub cases: CaseStats,
    /// Violation start locations (and locations of cases without violations) on the grid.
    pub hot_spots: HotSpots,
    /// Active cases with an overdue clock now.
    pub overdue_cases: usize,
    /// Active cases with a clock due soon now (and none overdue).
    pub due_soon_cases: usize,
}

/// A deadline extension approved by the head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineExtension {
    /// The running clock to extend.
    pub clock: ClockKind,
    /// Days to add (1..=30).
    pub days: u32,
    /// Why (recorded in the audit event).
    pub reason: String,
}

/// What a tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TickReport {
    /// Open episodes re-judged by the policy.
    pub rejudged: usize,
    /// Cases opened by them.
    pub opened: Vec<String>,
    /// Cases whose deadline index was rebuilt (on the first tick, for the current calendar).
    pub deadlines_reindexed: usize,
}

/// The first event of the chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainFault {
    /// Its sequence number (for a truncated chain, the first missing one).
    pub event_seq: u64,
    /// What is wrong.
    pub reason: String,
}

/// An evidence file or record that does not match the audit chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fault", rename_all = "snake_case")]
pub enum EvidenceFault {
    /// The file is gone.
    Missing {
        /// The evidence.
        evidence_id: String,
        /// Its recorded hash.
        sha256: String,
    },
    /// The file's bytes no longer hash to the recorded value.
    Altered {
        /// The evidence.
        evidence_id: String,
        /// Recorded hash.
        expected: String,
        /// Hash of the file now.
        found: String,
    },
    /// The record's hash or size differs from what the chain recorded at upload.
    RecordAltered {
        /// The evidence.
        evidence_id: String,
        /// What the chain recorded (`sha256/size`).
        recorded: String,
        /// What the record says now.
        stored: String,
    },
    /// A record with no upload event in the chain.
    NotInChain {
        /// The evidence.
        evidence_id: String,
    },
}

/// The result of `haulwatch audit verify`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditVerification {
    /// Events read and checked (up to the first fault).
    pub events_checked: u64,
    /// The chain head kept apart from the events.
    pub kept_head: ChainHead,
    /// The first event that does not match, if any.
    pub chain_fault: Option<ChainFault>,
    /// Evidence records checked.
    pub evidence_checked: u64,
    /// Evidence that does not match.
    pub evidence_faults: Vec<EvidenceFault>,
}

impl AuditVerification {
    /// Whether the chain and every evidence file hold.
    pub fn is_ok(&self) -> bool {
        self.chain_fault.is_none() && self.evidence_faults.is_empty()
    }
}

/// State shared by every clone of the service.
struct ServiceInner {
    /// The store.
    store: Store,
    /// Policy, deadlines, dispatch, numbering, agency, limits, grid.
    settings: CaseSettings,
    /// Where "now" comes from.
    clock: CaseClock,
    /// One case write at a time per process (see the module docs).
    write_gate: tokio::sync::Mutex<()>,
    /// Whether the deadline index was rebuilt for the current calendar settings.
    deadlines_indexed: AtomicBool,
}

/// The case service (see the module docs). Cheap to clone.
#[derive(Clone)]
pub struct CaseService {
    /// Shared state.
    inner: Arc<ServiceInner>,
}

impl std::fmt::Debug for CaseService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseService")
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

/// How many times a write that lost a race (unique key, revision) is retried.
const WRITE_ATTEMPTS: usize = 3;

/// Events read per page when verifying the chain.
const VERIFY_PAGE: u32 = 2000;

fn new_evidence_id() -> String {
    format!(
        "ev-{:016x}{:08x}",
        rand::random::<u64>(),
        rand::random::<u32>()
    )
}

/// Bureau staff: every role except company users.
fn is_staff(user: &User) -> bool {
    user.has_role(Role::Admin)
        || user.has_role(Role::Dispatcher)
        || user.has_role(Role::Officer)
        || user.has_role(Role::Auditor)
}

fn retryable(error: &CaseError) -> bool {
    matches!(
        error,
        CaseError::Store(StoreError::Conflict(_) | StoreError::StaleRevision { .. })
    )
}

impl CaseService {
    /// A service on `store` with `settings`, reading the system clock.
    pub fn new(store: Store, settings: CaseSettings) -> CaseService {
        CaseService::with_clock(store, settings, CaseClock::System)
    }

    /// A service with an explicit clock (tests drive deadlines with a manual one).
    pub fn with_clock(store: Store, settings: CaseSettings, clock: CaseClock) -> CaseService {
        CaseService {
            inner: Arc::new(ServiceInner {
                store,
                settings,
                clock,
                write_gate: tokio::sync::Mutex::new(()),
                deadlines_indexed: AtomicBool::new(false),
            }),
        }
    }

    /// The store underneath.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The settings in force.
    pub fn settings(&self) -> &CaseSettings {
        &self.inner.settings
    }

    /// The service's current time.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Maps an authenticated principal to the domain's user, resolving the registry officer
    /// an officer is (linked with [`CaseService::set_officer_duty`], or an officer whose
    /// registry id is the user id).
    pub async fn user(&self, principal: &Principal) -> Result<User, CaseError> {
        let officer_id = if principal.roles.contains(&Role::Officer) {
            match self.store().officer_for_user(&principal.user_id).await? {
                Some(id) => Some(id),
                None => self
                    .store()
                    .officer(&principal.user_id)
                    .await?
                    .map(|o| o.id),
            }
        } else {
            None
        };
        Ok(User {
            id: principal.user_id.clone(),
            name: principal.name.clone(),
            roles: principal.roles.clone(),
            company_id: principal.company_id.clone(),
            officer_id,
        })
    }

    // -----------------------------------------------------------------------------------
    // From violation to case

    /// Handles one violation report from the engine (opened, updated or closed episode): per
    /// the policy it opens a case (dispatched at once), joins an open case, or only alerts.
    /// The episode, the case, its evidence snapshot, the assignment and their audit events
    /// are written in one transaction. Idempotent: a re-sent or updated episode finds its
    /// case; a closed one adds a snapshot of the final episode to the case's evidence once.
    pub async fn handle_violation(
        &self,
        violation: &Violation,
    ) -> Result<ViolationOutcome, CaseError> {
        self.handle_violation_at(violation, self.now()).await
    }

    /// [`CaseService::handle_violation`] judged at `now` (how long an open episode has lasted).
    pub async fn handle_violation_at(
        &self,
        violation: &Violation,
        now: DateTime<Utc>,
    ) -> Result<ViolationOutcome, CaseError> {
        if violation.id.trim().is_empty() {
            return Err(CaseError::Invalid("a violation needs an id".into()));
        }
        // Fast paths that need neither the write gate nor the audit chain: most reports are
        // updates of episodes already linked (a link is never removed), or of kinds the policy
        // only alerts on; they only keep the episode row current.
        let linked = self.store().case_of_violation(&violation.id).await?;
        match (linked, violation.status) {
            (Some(case_id), ViolationStatus::Open) => {
                self.store().upsert_violation(violation).await?;
                return Ok(ViolationOutcome::AlreadyLinked {
                    case_id,
                    evidence_added: false,
                });
            }
            (None, _) => match policy::decide(&self.settings().policy, violation, &[], now) {
                PolicyDecision::AlertOnly { reason } => {
                    self.store().upsert_violation(violation).await?;
                    return Ok(ViolationOutcome::Alert { reason });
                }
                PolicyDecision::Ignore { reason } => {
                    self.store().upsert_violation(violation).await?;
                    return Ok(ViolationOutcome::Ignored { reason });
                }
                _ => {}
            },
            (Some(_), ViolationStatus::Closed) => {}
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            let _gate = self.inner.write_gate.lock().await;
            match self.try_handle_violation(violation, now).await {
                Err(e) if retryable(&e) && attempt < WRITE_ATTEMPTS => {
                    tracing::debug!(violation = %violation.id, error = %e, "Retrying a violation that lost a race.");
                }
                other => return other,
            }
        }
    }

    async fn try_handle_violation(
        &self,
        v: &Violation,
        now: DateTime<Utc>,
    ) -> Result<ViolationOutcome, CaseError> {
        let settings = &self.inner.settings;
        let mut tx = self.store().begin_case_write().await?;
        tx.upsert_violation(v).await?;
        if let Some(case_id) = tx.case_of_violation(&v.id).await? {
            let evidence_added = v.status == ViolationStatus::Closed
                && self
                    .snapshot_closed_episode(&mut tx, &case_id, v, now)
                    .await?;
            tx.commit().await?;
            return Ok(ViolationOutcome::AlreadyLinked {
                case_id,
                evidence_added,
            });
        }
        let candidates = tx
            .offender_cases(
                CaseKind::Violation(v.kind),
                v.vehicle_id.as_deref(),
                &v.phone,
            )
            .await?;
        match policy::decide(&settings.policy, v, &candidates, now) {
            PolicyDecision::AlertOnly { reason } => {
                tx.commit().await?;
                Ok(ViolationOutcome::Alert { reason })
            }
            PolicyDecision::Ignore { reason } => {
                tx.commit().await?;
                Ok(ViolationOutcome::Ignored { reason })
            }
            PolicyDecision::AlreadyLinked { case_id } => {
                tx.commit().await?;
                Ok(ViolationOutcome::AlreadyLinked {
                    case_id,
                    evidence_added: false,
                })
            }
            PolicyDecision::Join { case_id } => {
                let case = candidates
                    .iter()
                    .find(|c| c.id == case_id)
                    .ok_or_else(|| not_found("case", &case_id))?;
                let joined = intake::join_violation(case, v, now)?;
                let mut drafts = joined.audit;
                let (snapshot, evidence) = self.violation_snapshot(&joined.case, v, now).await?;
                drafts.extend(snapshot.audit);
                let next = snapshot.case;
                tx.update_case(
                    &next,
                    case.revision,
                    next_due_on(&next, &settings.deadlines),
                )
                .await?;
                tx.link_violation(&v.id, &case_id, now).await?;
                tx.insert_evidence(&evidence).await?;
                tx.append(drafts).await?;
                tx.commit().await?;
                tracing::info!(case = %case_id, violation = %v.id, "Violation joined an open case.");
                Ok(ViolationOutcome::Joined { case_id })
            }
            PolicyDecision::OpenNew => {
                let (case_id, number) = self.allocate_case_number(&mut tx, now).await?;
                let opened = intake::open_from_violation(
                    v,
                    case_id.clone(),
                    number.clone(),
                    &settings.deadlines,
                    now,
                );
                let mut drafts = opened.audit;
                let (snapshot, evidence) = self.violation_snapshot(&opened.case, v, now).await?;
                drafts.extend(snapshot.audit);
                let (assigned, record) = self.auto_dispatch(&mut tx, &snapshot.case, now).await?;
                drafts.extend(assigned.audit);
                let case = assigned.case;
                tx.insert_case(&case, next_due_on(&case, &settings.deadlines))
                    .await?;
                tx.link_violation(&v.id, &case_id, now).await?;
                tx.insert_evidence(&evidence).await?;
                tx.insert_assignment(&record).await?;
                tx.append(drafts).await?;
                tx.commit().await?;
                tracing::info!(case = %case_id, %number, violation = %v.id, kind = %v.kind, "Case opened from a violation.");
                Ok(ViolationOutcome::Opened { case_id, number })
            }
        }
    }

    /// Stores a JSON snapshot of the episode as evidence of `case` (write-once file, hashed)
    /// and returns the case with it attached.
    async fn violation_snapshot(
        &self,
        case: &Case,
        v: &Violation,
        now: DateTime<Utc>,
    ) -> Result<(Applied, Evidence), CaseError> {
        let bytes = serde_json::to_vec_pretty(v)
            .map_err(|e| CaseError::Invalid(format!("violation cannot be serialised: {e}")))?;
        let sha256 = self.store().put_evidence_file(&bytes).await?;
        let stage = match v.status {
            ViolationStatus::Open => "发现时",
            ViolationStatus::Closed => "结束时",
        };
        let evidence = Evidence {
            id: new_evidence_id(),
            case_id: case.id.clone(),
            kind: EvidenceKind::TrackExtract,
            file_name: format!("violation-{}-{}.json", v.id, v.status.as_str()),
            media_type: "application/json".to_string(),
            sha256,
            size_bytes: bytes.len() as u64,
            uploaded_by: super::model::SYSTEM_USER_ID.to_string(),
            uploaded_at: now,
            captured_at: Some(v.started_at),
            description: format!(
                "平台违法记录{}（{}）{}的轨迹与判定依据",
                v.id,
                v.kind.label_zh(),
                stage
            ),
        };
        Ok(attach_system_evidence(
            case,
            evidence,
            &format!("snapshot of violation {} ({})", v.id, v.status.as_str()),
            now,
        )?)
    }

    /// Adds the snapshot of a closed episode to its case, once; whether it did.
    async fn snapshot_closed_episode(
        &self,
        tx: &mut CaseTx,
        case_id: &str,
        v: &Violation,
        now: DateTime<Utc>,
    ) -> Result<bool, CaseError> {
        let Some(case) = tx.case(case_id).await? else {
            return Ok(false);
        };
        if case.status == CaseStatus::Archived {
            return Ok(false);
        }
        let bytes = serde_json::to_vec_pretty(v)
            .map_err(|e| CaseError::Invalid(format!("violation cannot be serialised: {e}")))?;
        let sha256 = sha256_hex(&bytes);
        let closed_name = format!("violation-{}-closed.json", v.id);
        let existing = self.store().case_evidence(case_id).await?;
        // One snapshot of the closed episode: the first close is what the law looks at; a late
        // correction after it still reaches the violation row.
        if existing
            .iter()
            .any(|e| e.sha256 == sha256 || e.file_name == closed_name)
        {
            return Ok(false);
        }
        let (applied, evidence) = self.violation_snapshot(&case, v, now).await?;
        tx.update_case(
            &applied.case,
            case.revision,
            next_due_on(&applied.case, &self.settings().deadlines),
        )
        .await?;
        tx.insert_evidence(&evidence).await?;
        tx.append(applied.audit).await?;
        Ok(true)
    }

    /// Allocates the next id and printed number in the local year of `now`.
    async fn allocate_case_number(
        &self,
        tx: &mut CaseTx,
        now: DateTime<Utc>,
    ) -> Result<(String, String), CaseError> {
        let year = numbering_year(now);
        let seq = tx.next_case_seq(year).await?;
        Ok((
            format!("case-{year}-{seq:06}"),
            self.settings().numbering.format(year, seq),
        ))
    }

    /// District zones, officers and duties (registry data, read outside the transaction) and
    /// loads (inside it, so concurrent openings balance).
    async fn dispatch_data(
        &self,
        tx: &mut CaseTx,
    ) -> Result<
        (
            Vec<Zone>,
            Vec<Officer>,
            Vec<OfficerDuty>,
            BTreeMap<String, u32>,
        ),
        CaseError,
    > {
        let zones = self
            .all_zones()
            .await?
            .into_iter()
            .filter(|z| z.kind == ZoneKind::District)
            .collect();
        let officers = self.all_officers().await?;
        let duties = self.store().officer_duties().await?;
        let loads = tx.officer_loads().await?;
        Ok((zones, officers, duties, loads))
    }

    async fn all_zones(&self) -> Result<Vec<Zone>, CaseError> {
        let mut out = Vec::new();
        let mut query = ListQuery {
            limit: crate::store::MAX_PAGE,
            ..ListQuery::default()
        };
        loop {
            let page = self.store().list_zones(&query).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => query.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    async fn all_officers(&self) -> Result<Vec<Officer>, CaseError> {
        let mut out = Vec::new();
        let mut query = ListQuery {
            limit: crate::store::MAX_PAGE,
            ..ListQuery::default()
        };
        loop {
            let page = self.store().list_officers(&query).await?;
            out.extend(page.items);
            match page.next_cursor {
                Some(c) => query.cursor = Some(c),
                None => return Ok(out),
            }
        }
    }

    /// Runs automatic dispatch on a new case.
    async fn auto_dispatch(
        &self,
        tx: &mut CaseTx,
        case: &Case,
        now: DateTime<Utc>,
    ) -> Result<(Applied, AssignmentRecord), CaseError> {
        let (zones, officers, duties, loads) = self.dispatch_data(tx).await?;
        let inputs = DispatchInputs {
            zones: &zones,
            officers: &officers,
            duties: &duties,
            loads: &loads,
            settings: &self.settings().dispatch,
        };
        let record = dispatch::dispatch(case, &inputs, now);
        let applied = apply_assignment(case, &record, &User::system(), now);
        Ok((applied, record))
    }

    /// Re-judges open episodes whose kind opens a case only after a minimum duration (by
    /// default `offline`, after 24 h): a silent terminal sends no updates, so time alone must
    /// open the case. On the first tick it also rebuilds the deadline index for the calendar
    /// in force. Call it every minute or so ([`CaseService::spawn_ticker`]).
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport, CaseError> {
        let mut report = TickReport::default();
        if !self.inner.deadlines_indexed.load(Ordering::Acquire) {
            report.deadlines_reindexed = self.reindex_deadlines().await?;
            self.inner.deadlines_indexed.store(true, Ordering::Release);
        }
        for kind in ViolationKind::ALL {
            let KindRule::OpenAfter {
                min_duration_minutes,
            } = self.settings().policy.rule(kind)
            else {
                continue;
            };
            let started_by = now - Duration::minutes(i64::from(min_duration_minutes));
            for v in self
                .store()
                .uncased_open_violations(kind, started_by)
                .await?
            {
                report.rejudged += 1;
                if let ViolationOutcome::Opened { case_id, .. } =
                    self.handle_violation_at(&v, now).await?
                {
                    report.opened.push(case_id);
                }
            }
        }
        Ok(report)
    }

    /// Recomputes the deadline index of every active case (after the holiday calendar or
    /// the periods changed); returns how many cases were visited.
    pub async fn reindex_deadlines(&self) -> Result<usize, CaseError> {
        let mut after: Option<String> = None;
        let mut count = 0;
        loop {
            let page = self
                .store()
                .active_cases_after(after.as_deref(), 500)
                .await?;
            let Some(last) = page.last().map(|c| c.id.clone()) else {
                return Ok(count);
            };
            for case in &page {
                self.store()
                    .set_case_next_due_on(
                        &case.id,
                        case.revision,
                        next_due_on(case, &self.settings().deadlines),
                    )
                    .await?;
                count += 1;
            }
            after = Some(last);
        }
    }

    /// Runs [`CaseService::tick`] every `every` until `cancel` fires; failures are logged and
    /// the next tick tries again.
    pub fn spawn_ticker(
        &self,
        every: std::time::Duration,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(every.max(std::time::Duration::from_secs(1)));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = cancel.cancelled() => return,
                    _ = interval.tick() => {}
                }
                match service.tick(service.now()).await {
                    Ok(report) if !report.opened.is_empty() => {
                        tracing::info!(opened = ?report.opened, "Cases opened by the periodic policy check.");
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "Case tick failed."),
                }
            }
        })
    }

    /// Handles a violation from the engine and does not give up on storage failures: they are
    /// retried with backoff (the same violation, so idempotence holds) until it is handled or
    /// `cancel` fires. A violation refused as malformed is logged and dropped. What the
    /// composition root calls for every `EngineEvent::Violation` (it also stores the episode).
    pub async fn record_violation(
        &self,
        violation: &Violation,
        cancel: &CancellationToken,
    ) -> Option<ViolationOutcome> {
        let mut backoff = std::time::Duration::from_millis(100);
        loop {
            match self.handle_violation(violation).await {
                Ok(outcome) => return Some(outcome),
                Err(e) if e.class() == ErrorClass::Internal => {
                    tracing::warn!(violation = %violation.id, error = %e, retry_in = ?backoff, "Violation not yet handled; retrying.");
                    tokio::select! {
                        () = cancel.cancelled() => return None,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(10));
                }
                Err(e) => {
                    tracing::error!(violation = %violation.id, error = %e, "Violation refused by the case service.");
                    return None;
                }
            }
        }
    }

    /// Feeds every violation from `violations` (the engine's episodes, in order) to
    /// [`CaseService::record_violation`] until the channel closes or `cancel` fires.
    pub fn spawn_violation_consumer(
        &self,
        mut violations: tokio::sync::mpsc::Receiver<Violation>,
        cancel: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let service = self.clone();
        tokio::spawn(async move {
            loop {
                let violation = tokio::select! {
                    () = cancel.cancelled() => return,
                    next = violations.recv() => match next {
                        Some(v) => v,
                        None => return,
                    },
                };
                service.record_violation(&violation, &cancel).await;
            }
        })
    }

    // -----------------------------------------------------------------------------------
    // Cases by hand and from citizens

    /// Opens a case by hand: a patrol (officers, admins), a referral or a hotline report
    /// (dispatchers, admins). It is dispatched at once (a patrol officer stays on it). A
    /// hotline report (source `citizen_report`) gets a tracking number for the caller.
    pub async fn create_case(
        &self,
        principal: &Principal,
        new: NewCase,
    ) -> Result<CreatedCase, CaseError> {
        let user = self.user(principal).await?;
        let now = self.now();
        let _gate = self.inner.write_gate.lock().await;
        let mut tx = self.store().begin_case_write().await?;
        let (case_id, number) = self.allocate_case_number(&mut tx, now).await?;
        let citizen = new.source == CaseSource::CitizenReport;
        let mut opened =
            intake::open_manual(new, &user, case_id, number, &self.settings().deadlines, now)?;
        let tracking_number = citizen.then(|| new_tracking_number(&mut rand::rng()));
        if let Some(tn) = &tracking_number {
            opened.case.tracking_number = Some(tn.clone());
            for draft in &mut opened.audit {
                if let Some(after) = draft.after.as_object_mut() {
                    after.insert(
                        "tracking_number".into(),
                        serde_json::Value::from(tn.clone()),
                    );
                }
            }
        }
        let mut drafts = opened.audit;
        let (assigned, record) = self.auto_dispatch(&mut tx, &opened.case, now).await?;
        drafts.extend(assigned.audit);
        let case = assigned.case;
        tx.insert_case(&case, next_due_on(&case, &self.settings().deadlines))
            .await?;
        tx.insert_assignment(&record).await?;
        tx.append(drafts).await?;
        tx.commit().await?;
        tracing::info!(case = %case.id, source = case.source.as_str(), by = %user.id, "Case opened by hand.");
        Ok(CreatedCase {
            case,
            tracking_number,
        })
    }

    /// Receives a citizen report from the public form: validates it, stores the photos
    /// (hashed, write-once), opens the case and dispatches it. The reporter's contact stays on
    /// the staff-side record only.
    pub async fn submit_citizen_report(
        &self,
        submission: CitizenSubmission,
    ) -> Result<CitizenReceipt, CaseError> {
        let now = self.now();
        let photos = submission.photos.len();
        let _gate = self.inner.write_gate.lock().await;
        let mut tx = self.store().begin_case_write().await?;
        let (case_id, case_number) = self.allocate_case_number(&mut tx, now).await?;
        let tracking_number = new_tracking_number(&mut rand::rng());
        let photo_bytes: Vec<Vec<u8>> = submission.photos.iter().map(|p| p.bytes.clone()).collect();
        let received = citizen::receive_report(
            submission,
            ReportIds {
                case_id,
                case_number,
                evidence_ids: (0..photos).map(|_| new_evidence_id()).collect(),
                tracking_number: tracking_number.clone(),
            },
            &self.settings().citizen,
            &self.settings().deadlines,
            now,
        )?;
        // Validated: only now do the photos reach storage.
        for bytes in &photo_bytes {
            self.store().put_evidence_file(bytes).await?;
        }
        let mut drafts = received.audit;
        let (assigned, record) = self.auto_dispatch(&mut tx, &received.case, now).await?;
        drafts.extend(assigned.audit);
        let case = assigned.case;
        tx.insert_case(&case, next_due_on(&case, &self.settings().deadlines))
            .await?;
        for e in &received.evidence {
            tx.insert_evidence(e).await?;
        }
        tx.insert_citizen_report(&received.report).await?;
        tx.insert_assignment(&record).await?;
        tx.append(drafts).await?;
        tx.commit().await?;
        tracing::info!(case = %case.id, "Citizen report received.");
        Ok(CitizenReceipt {
            tracking_number,
            case_id: case.id,
            received_at: now,
        })
    }

    /// The public progress of a citizen report: stages and dates only, no personal data.
    /// `None` for a tracking number that is malformed or unknown (the public page cannot tell
    /// the two apart, so numbers cannot be probed).
    pub async fn public_progress(
        &self,
        tracking_number: &str,
    ) -> Result<Option<PublicProgress>, CaseError> {
        let Some(normalised) = normalize_tracking_number(tracking_number) else {
            return Ok(None);
        };
        Ok(self
            .store()
            .case_by_tracking_number(&normalised)
            .await?
            .map(|case| citizen::public_progress(&normalised, &case)))
    }

    // -----------------------------------------------------------------------------------
    // Reading

    /// A case the caller may see (company users: only their own company's; others answer
    /// `NotFound`).
    pub async fn case(&self, principal: &Principal, case_id: &str) -> Result<Case, CaseError> {
        let user = self.user(principal).await?;
        self.visible_case(&user, case_id).await
    }

    async fn visible_case(&self, user: &User, case_id: &str) -> Result<Case, CaseError> {
        match self.store().case(case_id).await? {
            Some(case) if user.can_view(&case) => Ok(case),
            _ => Err(not_found("case", case_id)),
        }
    }

    /// Everything the case page shows: the case, its violations, evidence, events, the steps
    /// the caller may take now, the documents, assignments and clocks.
    pub async fn case_detail(
        &self,
        principal: &Principal,
        case_id: &str,
    ) -> Result<CaseDetail, CaseError> {
        let user = self.user(principal).await?;
        let case = self.visible_case(&user, case_id).await?;
        let now = self.now();
        let settings = self.settings();
        let store = self.store();
        let violations = store.violations_of_case(case_id).await?;
        let evidence = store.case_evidence(case_id).await?;
        let mut events = store.case_events(case_id).await?;
        if !is_staff(&user) {
            // A company sees what was done and when, not the bureau's internal records
            // (dispatch candidates and loads, edited fields).
            for event in &mut events {
                event.before = serde_json::Value::Null;
                event.after = serde_json::Value::Null;
            }
        }
        let assignments = if is_staff(&user) {
            store.case_assignments(case_id).await?
        } else {
            Vec::new()
        };
        let vehicle_plate = self.vehicle_plate(&case).await?;
        let officers = self.officer_lines(&case).await?;
        let ctx = DocumentContext {
            agency: &settings.agency,
            case: &case,
            vehicle_plate: vehicle_plate.as_deref(),
            officers: &officers,
            evidence: &evidence,
            issued_on: local_date(now),
        };
        let documents = DocumentKind::ALL
            .into_iter()
            .map(|kind| {
                let missing = documents::render(kind, &ctx).err().map(|e| e.to_string());
                DocumentInfo {
                    kind,
                    title_zh: kind.title_zh().to_string(),
                    ready: missing.is_none(),
                    missing,
                }
            })
            .collect();
        let allowed_actions = workflow::available_actions(&case, &user, &settings.deadlines, now);
        let deadlines = case
            .clocks
            .iter()
            .map(|c| c.status(&settings.deadlines, now))
            .collect();
        Ok(CaseDetail {
            case,
            vehicle_plate,
            violations,
            evidence,
            events,
            allowed_actions,
            documents,
            assignments,
            deadlines,
        })
    }

    async fn vehicle_plate(&self, case: &Case) -> Result<Option<String>, CaseError> {
        Ok(match &case.vehicle_id {
            Some(id) => self.store().vehicle(id).await?.map(|v| v.plate),
            None => None,
        })
    }

    /// The case's officers as printed: name and certificate number (the registry id is the
    /// enforcement certificate number).
    async fn officer_lines(&self, case: &Case) -> Result<Vec<OfficerLine>, CaseError> {
        let mut lines = Vec::with_capacity(case.officer_ids.len());
        for id in &case.officer_ids {
            let name = self
                .store()
                .officer(id)
                .await?
                .map(|o| o.name)
                .unwrap_or_else(|| id.clone());
            lines.push(OfficerLine {
                name,
                certificate_no: id.clone(),
            });
        }
        Ok(lines)
    }

    /// Cases the caller may see, filtered, newest first, one page at a time: `(items,
    /// next_cursor)`.
    pub async fn list_cases(
        &self,
        principal: &Principal,
        filter: CaseFilter,
    ) -> Result<(Vec<CaseListItem>, Option<String>), CaseError> {
        let user = self.user(principal).await?;
        let company_id = self.company_scope(&user, filter.company_id)?;
        let now = self.now();
        let page = self
            .store()
            .list_cases(&CaseQuery {
                kind: filter.kind,
                status: filter.status,
                source: filter.source,
                company_id,
                vehicle_id: filter.vehicle_id,
                district_zone_id: filter.district_zone_id,
                overdue_on: filter.overdue.then(|| local_date(now)),
                cursor: filter.cursor,
                limit: filter.limit,
            })
            .await?;
        let deadlines = &self.settings().deadlines;
        let items = page
            .items
            .into_iter()
            .map(|case| {
                let statuses: Vec<ClockStatus> = case
                    .clocks
                    .iter()
                    .map(|c| c.status(deadlines, now))
                    .collect();
                let overdue = case.status.is_active()
                    && statuses.iter().any(|s| s.state == ClockState::Overdue);
                CaseListItem {
                    case,
                    deadlines: statuses,
                    overdue,
                }
            })
            .collect();
        Ok((items, page.next_cursor))
    }

    /// The company a query is limited to: a company user's own (always), else what was asked.
    fn company_scope(
        &self,
        user: &User,
        asked: Option<String>,
    ) -> Result<Option<String>, CaseError> {
        if is_staff(user) {
            return Ok(asked);
        }
        if user.has_role(Role::Company)
            && let Some(own) = &user.company_id
        {
            return Ok(Some(own.clone()));
        }
        Err(CaseError::Forbidden(format!(
            "user {} holds no role that may read cases",
            user.id
        )))
    }

    // -----------------------------------------------------------------------------------
    // Changing cases

    /// Runs `change` on the case inside a case write, checking visibility and the revision
    /// the caller saw, then stores the result with its audit events.
    async fn change_case<F>(
        &self,
        user: &User,
        case_id: &str,
        expected_revision: Option<u64>,
        change: F,
    ) -> Result<Case, CaseError>
    where
        F: FnOnce(&Case, DateTime<Utc>) -> Result<Applied, CaseError>,
    {
        let now = self.now();
        let _gate = self.inner.write_gate.lock().await;
        let mut tx = self.store().begin_case_write().await?;
        let case = match tx.case(case_id).await? {
            Some(case) if user.can_view(&case) => case,
            _ => return Err(not_found("case", case_id)),
        };
        if let Some(expected) = expected_revision
            && expected != case.revision
        {
            return Err(CaseError::Stale {
                case_id: case_id.to_string(),
                expected,
                current: case.revision,
            });
        }
        let applied = change(&case, now)?;
        tx.update_case(
            &applied.case,
            case.revision,
            next_due_on(&applied.case, &self.settings().deadlines),
        )
        .await?;
        tx.append(applied.audit).await?;
        tx.commit().await?;
        Ok(applied.case)
    }

    /// Takes one workflow step (the role, state and guards are checked by the workflow; an
    /// illegal step is refused with the reason). `expected_revision`, when given, is the
    /// revision the caller saw: a case changed since is refused as [`CaseError::Stale`].
    pub async fn transition(
        &self,
        principal: &Principal,
        case_id: &str,
        transition: Transition,
        expected_revision: Option<u64>,
    ) -> Result<Case, CaseError> {
        let user = self.user(principal).await?;
        let deadlines = self.settings().deadlines.clone();
        let action = transition.action.kind();
        let case = self
            .change_case(&user, case_id, expected_revision, |case, now| {
                Ok(workflow::apply(case, &user, transition, &deadlines, now)?)
            })
            .await?;
        tracing::info!(case = %case_id, %action, to = %case.status, by = %user.id, "Case step taken.");
        Ok(case)
    }

    /// Edits case details (facts, party, location, legal basis, vehicle, company), audited
    /// with before and after.
    pub async fn update_details(
        &self,
        principal: &Principal,
        case_id: &str,
        patch: CasePatch,
        note: &str,
        expected_revision: Option<u64>,
    ) -> Result<Case, CaseError> {
        let user = self.user(principal).await?;
        self.change_case(&user, case_id, expected_revision, |case, now| {
            Ok(workflow::update_details(case, &user, patch, note, now)?)
        })
        .await
    }

    /// Extends a running legal clock with the head's approval.
    pub async fn extend_deadline(
        &self,
        principal: &Principal,
        case_id: &str,
        extension: DeadlineExtension,
    ) -> Result<Case, CaseError> {
        let user = self.user(principal).await?;
        self.change_case(&user, case_id, None, |case, now| {
            Ok(workflow::extend_deadline(
                case,
                &user,
                extension.clock,
                extension.days,
                &extension.reason,
                now,
            )?)
        })
        .await
    }

    /// A dispatcher replaces a case's officers; logged with the previous officers, the loads
    /// and the reason.
    pub async fn override_assignment(
        &self,
        principal: &Principal,
        case_id: &str,
        officer_ids: Vec<String>,
        reason: &str,
    ) -> Result<Case, CaseError> {
        let user = self.user(principal).await?;
        let now = self.now();
        let officers = self.all_officers().await?;
        let duties = self.store().officer_duties().await?;
        let _gate = self.inner.write_gate.lock().await;
        let mut tx = self.store().begin_case_write().await?;
        let case = match tx.case(case_id).await? {
            Some(case) if user.can_view(&case) => case,
            _ => return Err(not_found("case", case_id)),
        };
        let loads = tx.officer_loads().await?;
        let inputs = DispatchInputs {
            zones: &[],
            officers: &officers,
            duties: &duties,
            loads: &loads,
            settings: &self.settings().dispatch,
        };
        let (applied, record) =
            dispatch::override_assignment(&case, &user, officer_ids, reason, &inputs, now)?;
        tx.update_case(
            &applied.case,
            case.revision,
            next_due_on(&applied.case, &self.settings().deadlines),
        )
        .await?;
        tx.insert_assignment(&record).await?;
        tx.append(applied.audit).await?;
        tx.commit().await?;
        tracing::info!(case = %case_id, officers = ?applied.case.officer_ids, by = %user.id, "Assignment overridden.");
        Ok(applied.case)
    }

    // -----------------------------------------------------------------------------------
    // Evidence and documents

    /// Uploads an evidence file: hashed (SHA-256), stored write-once, attached to the case,
    /// audited with its hash. Admins, dispatchers and the officers on the case may upload.
    pub async fn upload_evidence(
        &self,
        principal: &Principal,
        case_id: &str,
        upload: EvidenceUpload,
        bytes: &[u8],
    ) -> Result<Evidence, CaseError> {
        let user = self.user(principal).await?;
        if bytes.is_empty() {
            return Err(EvidenceError::Empty.into());
        }
        // Check before storing anything, so refused uploads leave no files behind.
        let before = self.visible_case(&user, case_id).await?;
        if !evidence::can_upload(&user, &before) {
            return Err(EvidenceError::Forbidden {
                user_id: user.id.clone(),
                operation: "upload",
                case_id: case_id.to_string(),
            }
            .into());
        }
        let sha256 = self.store().put_evidence_file(bytes).await?;
        let now = self.now();
        let _gate = self.inner.write_gate.lock().await;
        let mut tx = self.store().begin_case_write().await?;
        let case = match tx.case(case_id).await? {
            Some(case) if user.can_view(&case) => case,
            _ => return Err(not_found("case", case_id)),
        };
        let (applied, record) = evidence::attach_hashed_evidence(
            &case,
            &user,
            upload,
            &sha256,
            bytes.len() as u64,
            new_evidence_id(),
            now,
        )?;
        tx.update_case(
            &applied.case,
            case.revision,
            next_due_on(&applied.case, &self.settings().deadlines),
        )
        .await?;
        tx.insert_evidence(&record).await?;
        tx.append(applied.audit).await?;
        tx.commit().await?;
        tracing::info!(case = %case_id, evidence = %record.id, sha256 = %record.sha256, by = %user.id, "Evidence uploaded.");
        Ok(record)
    }

    /// Hands out an evidence file for viewing or download. The access is audited before a
    /// byte is returned, and the bytes are checked against the recorded hash (a file that no
    /// longer matches is refused as [`CaseError::EvidenceCorrupt`]).
    pub async fn open_evidence(
        &self,
        principal: &Principal,
        case_id: &str,
        evidence_id: &str,
        access: EvidenceAccess,
    ) -> Result<EvidenceFile, CaseError> {
        let user = self.user(principal).await?;
        let case = self.visible_case(&user, case_id).await?;
        let record = self
            .store()
            .evidence(evidence_id)
            .await?
            .filter(|e| e.case_id == case.id)
            .ok_or_else(|| not_found("evidence", evidence_id))?;
        let draft = evidence::record_access(&case, &record, &user, access, self.now())?;
        self.append_alone(vec![draft]).await?;
        let bytes = match self.store().read_evidence_file(&record.sha256).await {
            Ok(bytes) => bytes,
            Err(StoreError::NotFound { .. }) => {
                return Err(CaseError::EvidenceCorrupt {
                    evidence_id: record.id,
                    expected: record.sha256,
                    found: "missing".into(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        if !evidence::matches_file(&record, &bytes) {
            return Err(CaseError::EvidenceCorrupt {
                evidence_id: record.id,
                expected: record.sha256,
                found: sha256_hex(&bytes),
            });
        }
        Ok(EvidenceFile {
            evidence: record,
            bytes,
        })
    }

    /// Renders a printable document (complete HTML, no script) filled from the case; the
    /// issue is audited with the SHA-256 of the exact page.
    pub async fn render_document(
        &self,
        principal: &Principal,
        case_id: &str,
        kind: DocumentKind,
    ) -> Result<String, CaseError> {
        let user = self.user(principal).await?;
        let case = self.visible_case(&user, case_id).await?;
        let now = self.now();
        let evidence = self.store().case_evidence(case_id).await?;
        let vehicle_plate = self.vehicle_plate(&case).await?;
        let officers = self.officer_lines(&case).await?;
        let html = documents::render(
            kind,
            &DocumentContext {
                agency: &self.settings().agency,
                case: &case,
                vehicle_plate: vehicle_plate.as_deref(),
                officers: &officers,
                evidence: &evidence,
                issued_on: local_date(now),
            },
        )?;
        self.append_alone(vec![documents::document_event(
            &case, &user, kind, &html, now,
        )])
        .await?;
        Ok(html)
    }

    /// Appends audit events that change no case (views, exports, documents).
    async fn append_alone(&self, drafts: Vec<AuditDraft>) -> Result<(), CaseError> {
        let _gate = self.inner.write_gate.lock().await;
        let mut tx = self.store().begin_case_write().await?;
        tx.append(drafts).await?;
        tx.commit().await?;
        Ok(())
    }

    // -----------------------------------------------------------------------------------
    // Deadlines, statistics, duty

    /// Running clocks of active cases the caller may see that are overdue or due within the
    /// due-soon margin at `now`, most urgent first.
    pub async fn deadline_alerts(
        &self,
        principal: &Principal,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeadlineAlert>, CaseError> {
        let user = self.user(principal).await?;
        let company = self.company_scope(&user, None)?;
        let deadlines = &self.settings().deadlines;
        let horizon = local_date(now)
            .checked_add_days(chrono::Days::new(u64::from(deadlines.due_soon_days)))
            .unwrap_or(NaiveDate::MAX);
        let cases = self
            .store()
            .cases_due_by(horizon, company.as_deref())
            .await?;
        Ok(super::deadlines::deadline_alerts(&cases, deadlines, now))
    }

    /// Statistics: counts by kind, status, company, district and period; time to close; hot
    /// spots; overdue and due-soon counts now.
    pub async fn statistics(
        &self,
        principal: &Principal,
        query: StatsQuery,
    ) -> Result<CaseStatistics, CaseError> {
        let user = self.user(principal).await?;
        let company = self.company_scope(&user, query.company_id)?;
        let cases = self
            .store()
            .cases_opened_between(query.from, query.to, company.as_deref())
            .await?;
        let mut points = self
            .store()
            .violation_points(query.from, query.to, company.as_deref())
            .await?;
        points.extend(
            cases
                .iter()
                .filter(|c| c.violation_ids.is_empty())
                .filter_map(|c| c.location.as_ref().map(|l| (l.lat, l.lon))),
        );
        let hot_spots = stats::hot_spots(points, &self.settings().hot_spots)?;
        let now = self.now();
        let alerts = super::deadlines::deadline_alerts(
            &self
                .store()
                .cases_due_by(
                    local_date(now)
                        .checked_add_days(chrono::Days::new(u64::from(
                            self.settings().deadlines.due_soon_days,
                        )))
                        .unwrap_or(NaiveDate::MAX),
                    company.as_deref(),
                )
                .await?,
            &self.settings().deadlines,
            now,
        );
        let overdue: BTreeSet<&str> = alerts
            .iter()
            .filter(|a| a.state == ClockState::Overdue)
            .map(|a| a.case_id.as_str())
            .collect();
        let due_soon: BTreeSet<&str> = alerts
            .iter()
            .map(|a| a.case_id.as_str())
            .filter(|id| !overdue.contains(id))
            .collect();
        Ok(CaseStatistics {
            cases: stats::case_stats(&cases, query.period),
            hot_spots,
            overdue_cases: overdue.len(),
            due_soon_cases: due_soon.len(),
        })
    }

    /// Sets an officer's duty (shifts, check-in override, skills) and optionally links the
    /// console user who is that officer. Dispatchers and admins set anyone's; an officer may
    /// check themself in or out (only `on_duty_override` of their own record changes).
    pub async fn set_officer_duty(
        &self,
        principal: &Principal,
        duty: OfficerDuty,
        user_id: Option<&str>,
    ) -> Result<(), CaseError> {
        let user = self.user(principal).await?;
        let manager = user.has_role(Role::Admin) || user.has_role(Role::Dispatcher);
        if manager {
            if self.store().officer(&duty.officer_id).await?.is_none() {
                return Err(not_found("officer", &duty.officer_id));
            }
            self.store().upsert_officer_duty(&duty, user_id).await?;
            return Ok(());
        }
        if user.officer_id.as_deref() == Some(duty.officer_id.as_str()) && user_id.is_none() {
            let mut own = self
                .store()
                .officer_duties()
                .await?
                .into_iter()
                .find(|d| d.officer_id == duty.officer_id)
                .unwrap_or(OfficerDuty {
                    officer_id: duty.officer_id.clone(),
                    shifts: Vec::new(),
                    on_duty_override: None,
                    skills: BTreeSet::new(),
                });
            own.on_duty_override = duty.on_duty_override;
            self.store().upsert_officer_duty(&own, None).await?;
            return Ok(());
        }
        Err(CaseError::Forbidden(format!(
            "user {} may not change the duty of officer {}",
            user.id, duty.officer_id
        )))
    }

    /// Every officer's duty record (staff only).
    pub async fn officer_duties(
        &self,
        principal: &Principal,
    ) -> Result<Vec<OfficerDuty>, CaseError> {
        let user = self.user(principal).await?;
        if !is_staff(&user) {
            return Err(CaseError::Forbidden(format!(
                "user {} may not read officer duty",
                user.id
            )));
        }
        Ok(self.store().officer_duties().await?)
    }

    // -----------------------------------------------------------------------------------
    // Audit verification

    /// Checks the whole audit chain (every event's hash, its link to the previous one, no
    /// gaps, and that it ends at the separately kept head) and every evidence record and file
    /// against the hashes the chain recorded at upload. Reads page by page.
    pub async fn verify_audit(&self) -> Result<AuditVerification, CaseError> {
        let store = self.store();
        let kept_head = store.audit_head().await?;
        let mut head = ChainHead::genesis();
        let mut chain_fault = None;
        let mut events_checked = 0u64;
        // What the chain recorded for each evidence upload: (sha256, size).
        let mut uploads: BTreeMap<String, (String, u64)> = BTreeMap::new();
        'pages: loop {
            let page = store.audit_events_after(head.seq, VERIFY_PAGE).await?;
            if page.is_empty() {
                break;
            }
            for item in page {
                let event = match item {
                    Ok(event) => event,
                    Err(corrupt) => {
                        chain_fault = Some(ChainFault {
                            event_seq: corrupt.seq,
                            reason: format!("unreadable row ({})", corrupt.reason),
                        });
                        break 'pages;
                    }
                };
                match verify_from(&head, std::slice::from_ref(&event)) {
                    Ok(next) => head = next,
                    Err(fault) => {
                        chain_fault = Some(ChainFault {
                            event_seq: fault.event_seq,
                            reason: fault.reason.to_string(),
                        });
                        break 'pages;
                    }
                }
                events_checked += 1;
                if event.action == AuditAction::EvidenceUploaded
                    && let Some(recorded) = event
                        .after
                        .get("evidence")
                        .and_then(|e| serde_json::from_value::<Evidence>(e.clone()).ok())
                {
                    uploads.insert(recorded.id, (recorded.sha256, recorded.size_bytes));
                }
            }
        }
        if chain_fault.is_none() && head != kept_head {
            let event_seq = if head.seq < kept_head.seq {
                head.seq + 1
            } else if head.seq > kept_head.seq {
                kept_head.seq + 1
            } else {
                head.seq
            };
            chain_fault = Some(ChainFault {
                event_seq,
                reason: BreakReason::HeadMismatch {
                    expected_seq: kept_head.seq,
                    found_seq: head.seq,
                }
                .to_string(),
            });
        }
        let chain_complete = chain_fault.is_none();

        let mut evidence_faults = Vec::new();
        let mut evidence_checked = 0u64;
        let mut after: Option<String> = None;
        loop {
            let page = store.evidence_after(after.as_deref(), 500).await?;
            let Some(last) = page.last().map(|e| e.id.clone()) else {
                break;
            };
            for record in page {
                evidence_checked += 1;
                let (sha256, size) = match uploads.get(&record.id) {
                    Some((sha, size)) => {
                        if *sha != record.sha256 || *size != record.size_bytes {
                            evidence_faults.push(EvidenceFault::RecordAltered {
                                evidence_id: record.id.clone(),
                                recorded: format!("{sha}/{size}"),
                                stored: format!("{}/{}", record.sha256, record.size_bytes),
                            });
                        }
                        (sha.clone(), *size)
                    }
                    None => {
                        if chain_complete {
                            evidence_faults.push(EvidenceFault::NotInChain {
                                evidence_id: record.id.clone(),
                            });
                        }
                        (record.sha256.clone(), record.size_bytes)
                    }
                };
                match store.digest_evidence_file(&sha256).await {
                    Ok(Some((found, found_size))) => {
                        if found != sha256 || found_size != size {
                            evidence_faults.push(EvidenceFault::Altered {
                                evidence_id: record.id.clone(),
                                expected: sha256,
                                found,
                            });
                        }
                    }
                    Ok(None) | Err(StoreError::Invalid(_)) => {
                        evidence_faults.push(EvidenceFault::Missing {
                            evidence_id: record.id.clone(),
                            sha256,
                        });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            after = Some(last);
        }
        Ok(AuditVerification {
            events_checked,
            kept_head,
            chain_fault,
            evidence_checked,
            evidence_faults,
        })
    }
}
