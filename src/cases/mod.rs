//! Enforcement cases: from violation to case, the legal workflow, deadline clocks, the
//! tamper-evident audit chain, evidence, documents, dispatch, statistics and citizen reports.
//!
//! The domain core is plain serde data and pure functions that take the current state and
//! return the new state plus the audit events to append; it does no I/O. [`service`] joins it
//! to the store: every change is persisted with its audit events in one transaction.
//!
//! - [`model`]: cases, roles and users, evidence records.
//! - [`numbering`]: unified case numbers (`柳城管罚〔2026〕第000123号`).
//! - [`policy`]: per violation kind, open a case, alert only, or join an open case.
//! - [`intake`]: opening cases from violations, patrols and referrals; joining episodes.
//! - [`workflow`]: the state machine, role checks and guards.
//! - [`deadlines`]: legal clocks in calendar or working days, pausable; due-soon and overdue.
//! - [`audit`]: the SHA-256 hash chain and its verification; evidence hashing.
//! - [`evidence`]: uploading, viewing and exporting evidence, each audited.
//! - [`documents`]: printable 执法文书 filled from a case.
//! - [`dispatch`]: automatic assignment by district, duty, skill and load; overrides.
//! - [`stats`]: counts, time to close, hot-spot grids.
//! - [`citizen`]: citizen reports, tracking numbers, the public progress view.
//! - [`service`]: [`service::CaseService`], what the engine pipeline and the HTTP API call.
//!
//! # The case service
//! `CaseService::new(store, settings)` (or `with_clock(store, settings, CaseClock)` for tests)
//! is cheap to clone. People act through a [`service::Principal`] (`user_id`, `name`,
//! `roles`, `company_id`), which the service maps to a [`model::User`] (resolving the registry
//! officer linked to the user). Errors are [`service::CaseError`]; `error.class()` gives the
//! HTTP-ish class (`NotFound` 404, `Forbidden` 403, `Conflict` 409, `Invalid` 400,
//! `Internal` 500). A company user asking for another company's case gets `NotFound`.
//!
//! ```text
//! // From the engine (system actor; idempotent; one transaction with its audit events)
//! handle_violation(&Violation) -> Result<ViolationOutcome>          // Opened | Joined |
//!                                                                    // AlreadyLinked | Alert | Ignored
//! handle_violation_at(&Violation, now) -> Result<ViolationOutcome>
//! record_violation(&Violation, &CancellationToken) -> Option<ViolationOutcome>  // retries
//!                                                    // storage failures until handled
//! spawn_violation_consumer(mpsc::Receiver<Violation>, CancellationToken) -> JoinHandle<()>
//! tick(now) -> Result<TickReport>                    // offline episodes past 24 h open cases
//! spawn_ticker(every, CancellationToken) -> JoinHandle<()>
//!
//! // Opening by hand and from citizens
//! create_case(&Principal, NewCase) -> Result<CreatedCase>            // patrol / referral /
//!                                                    // hotline (gets a tracking number)
//! submit_citizen_report(CitizenSubmission) -> Result<CitizenReceipt> // public form
//! public_progress(tracking_number) -> Result<Option<PublicProgress>> // no personal data
//!
//! // Reading
//! case(&Principal, case_id) -> Result<Case>
//! case_detail(&Principal, case_id) -> Result<CaseDetail>  // violations, evidence, events,
//!                        // allowed actions, documents, assignments, clocks, plate
//! list_cases(&Principal, CaseFilter) -> Result<(Vec<CaseListItem>, Option<String>)>
//!                        // filters kind, status, source, company_id, vehicle_id,
//!                        // district_zone_id, overdue; cursor + limit
//!
//! // Changing (optimistic concurrency: pass the revision the caller saw, or None)
//! transition(&Principal, case_id, Transition, Option<u64>) -> Result<Case>
//! update_details(&Principal, case_id, CasePatch, note, Option<u64>) -> Result<Case>
//! extend_deadline(&Principal, case_id, DeadlineExtension) -> Result<Case>
//! override_assignment(&Principal, case_id, Vec<String>, reason) -> Result<Case>
//!
//! // Evidence and documents (every upload, view, export and document is audited)
//! upload_evidence(&Principal, case_id, EvidenceUpload, &[u8]) -> Result<Evidence>
//! open_evidence(&Principal, case_id, evidence_id, EvidenceAccess) -> Result<EvidenceFile>
//! render_document(&Principal, case_id, DocumentKind) -> Result<String /* HTML */>
//!
//! // Deadlines, statistics, duty
//! deadline_alerts(&Principal, now) -> Result<Vec<DeadlineAlert>>    // overdue + due soon
//! statistics(&Principal, StatsQuery) -> Result<CaseStatistics>
//! set_officer_duty(&Principal, OfficerDuty, Option<&str /* user id */>) -> Result<()>
//! officer_duties(&Principal) -> Result<Vec<OfficerDuty>>
//!
//! // Audit (`haulwatch audit verify`)
//! verify_audit() -> Result<AuditVerification>   // first bad event; evidence file faults
//! ```
//!
//! Evidence bytes live in write-once files under `<data dir>/evidence/` named by their
//! SHA-256, for both backends; the upload event in the chain records the hash, so verify
//! checks files against the chain, not just against their metadata rows.

pub mod audit;
pub mod citizen;
pub mod deadlines;
pub mod dispatch;
pub mod documents;
pub mod evidence;
pub mod intake;
pub mod model;
pub mod numbering;
pub mod policy;
pub mod service;
pub mod stats;
pub mod workflow;

use serde::{Deserialize, Serialize};

/// All settings of the case module, as one table of the config file (`[cases]`); every part
/// has working defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseSettings {
    /// Which violations open cases.
    pub policy: policy::CasePolicy,
    /// Deadline periods, calendars and holidays.
    pub deadlines: deadlines::DeadlineSettings,
    /// Dispatch rules.
    pub dispatch: dispatch::DispatchSettings,
    /// Case number format.
    pub numbering: numbering::CaseNumbering,
    /// The agency printed on documents.
    pub agency: documents::AgencyInfo,
    /// Limits on citizen reports.
    pub citizen: citizen::CitizenLimits,
    /// Hot-spot grid.
    pub hot_spots: stats::HotSpotGrid,
}
