//! Enforcement cases: from violation to case, the legal workflow, deadline clocks, the
//! tamper-evident audit chain, evidence, documents, dispatch, statistics and citizen reports.
//!
//! This is the pure domain core: plain serde data and functions that take the current state
//! and return the new state plus the audit events to append. It does no I/O; the store
//! persists what these functions return (case row, audit events, evidence records, assignment
//! records) in one transaction, and the API calls them and renders the results.
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
