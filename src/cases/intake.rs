//! Opening cases (受理): from violations the policy decided to open, from patrols, referrals
//! and hotline calls, and linking further violation episodes to an open case.
//!
//! The store allocates the id and the number (see [`super::numbering`]) in the transaction that
//! inserts the case; these functions only build the case and its audit event.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::audit::AuditAction;
use super::deadlines::{ClockKind, DeadlineSettings, local_date, start_clock};
use super::model::{Case, CaseKind, CaseSource, CaseStatus, Location, Party, Role, User};
use super::policy::{JOINABLE_STATUSES, same_offender};
use super::workflow::{Applied, change_event};
use crate::model::{Violation, local_offset};

/// Why a case could not be opened or a violation not joined.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IntakeError {
    /// The case no longer takes further episodes.
    #[error("case {case_id} is {status}; further episodes open a new case")]
    NotJoinable {
        /// The case.
        case_id: String,
        /// Its state.
        status: CaseStatus,
    },
    /// The violation is about another kind or another vehicle.
    #[error("violation {violation_id} is not the same kind and vehicle as case {case_id}")]
    DifferentOffender {
        /// The case.
        case_id: String,
        /// The violation.
        violation_id: String,
    },
    /// The user may not open this kind of case.
    #[error("user {user_id} may not open a {case_source} case: {reason}")]
    Forbidden {
        /// Who tried.
        user_id: String,
        /// The source asked for.
        case_source: &'static str,
        /// Why not.
        reason: String,
    },
    /// The location is not a valid WGS-84 point.
    #[error("the location is not a valid WGS-84 point")]
    InvalidLocation,
    /// The clue has no description.
    #[error("a description of what was seen is required")]
    FactsRequired,
}

/// A case opened by hand (patrol, referral, hotline call taken by a dispatcher).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewCase {
    /// What it is about.
    pub kind: CaseKind,
    /// Patrol, referral or citizen report (hotline).
    pub source: CaseSource,
    /// Where it happened.
    pub location: Option<Location>,
    /// What was seen.
    pub facts: String,
    /// Vehicle, if identified.
    pub vehicle_id: Option<String>,
    /// Company, if identified.
    pub company_id: Option<String>,
    /// Party, if identified.
    pub party: Option<Party>,
    /// For referrals: the agency that referred it.
    pub referred_by: Option<String>,
}

/// Opens a case (at intake) from a violation the policy decided to open. The pre-filing check
/// clock starts now.
pub fn open_from_violation(
    violation: &Violation,
    case_id: String,
    number: String,
    settings: &DeadlineSettings,
    now: DateTime<Utc>,
) -> Applied {
    let mut case = Case::new_intake(
        case_id,
        number,
        CaseKind::Violation(violation.kind),
        CaseSource::AutoViolation,
        now,
    );
    case.vehicle_id = violation.vehicle_id.clone();
    case.terminal_phone = Some(violation.phone.clone()).filter(|p| !p.is_empty());
    case.company_id = violation.company_id.clone();
    case.violation_ids.push(violation.id.clone());
    case.last_episode_at = Some(violation.started_at);
    let location = Location::point(violation.lat, violation.lon);
    case.location = location.is_valid().then_some(location);
    case.facts = violation_facts(violation);
    start_clock(&mut case, ClockKind::PreFilingCheck, now, settings);
    let system = User::system();
    let event = change_event(
        None,
        &case,
        &system,
        AuditAction::CaseOpened,
        Some(format!("opened by policy from violation {}", violation.id)),
        Vec::new(),
        now,
    );
    Applied {
        case,
        audit: vec![event],
    }
}

/// A first draft of the facts from a violation, for officers to complete.
fn violation_facts(v: &Violation) -> String {
    let local = v.started_at.with_timezone(&local_offset());
    let who = v
        .vehicle_id
        .as_deref()
        .map(|id| format!("车辆（登记编号{id}）"))
        .unwrap_or_else(|| format!("终端号{}的未登记车辆", v.phone));
    format!(
        "{who}于{}在北纬{:.5}°、东经{:.5}°附近{}（平台违法记录{}）。",
        local.format("%Y年%m月%d日%H时%M分"),
        v.lat,
        v.lon,
        v.kind.label_zh(),
        v.id
    )
}

/// Links a further episode to an open case (the policy said [`super::policy::PolicyDecision::Join`]).
pub fn join_violation(
    case: &Case,
    violation: &Violation,
    now: DateTime<Utc>,
) -> Result<Applied, IntakeError> {
    if !JOINABLE_STATUSES.contains(&case.status) {
        return Err(IntakeError::NotJoinable {
            case_id: case.id.clone(),
            status: case.status,
        });
    }
    if !same_offender(case, violation) {
        return Err(IntakeError::DifferentOffender {
            case_id: case.id.clone(),
            violation_id: violation.id.clone(),
        });
    }
    let mut next = case.clone();
    if !next.violation_ids.contains(&violation.id) {
        next.violation_ids.push(violation.id.clone());
    }
    next.last_episode_at = Some(
        next.last_episode_at
            .map_or(violation.started_at, |t| t.max(violation.started_at)),
    );
    next.updated_at = now;
    next.revision = case.revision.saturating_add(1);
    let event = change_event(
        Some(case),
        &next,
        &User::system(),
        AuditAction::ViolationJoined,
        Some(format!("violation {} joined the case", violation.id)),
        Vec::new(),
        now,
    );
    Ok(Applied {
        case: next,
        audit: vec![event],
    })
}

/// Opens a case by hand. Patrol cases by officers (who are assigned to it) or admins;
/// referrals and hotline reports by dispatchers or admins. Automatic cases only come from
/// [`open_from_violation`].
pub fn open_manual(
    new: NewCase,
    user: &User,
    case_id: String,
    number: String,
    settings: &DeadlineSettings,
    now: DateTime<Utc>,
) -> Result<Applied, IntakeError> {
    let forbidden = |reason: &str| IntakeError::Forbidden {
        user_id: user.id.clone(),
        case_source: new.source.as_str(),
        reason: reason.to_string(),
    };
    let allowed = match new.source {
        CaseSource::AutoViolation => {
            return Err(forbidden("automatic cases are opened only by the policy"));
        }
        CaseSource::Patrol => user.has_role(Role::Officer) || user.has_role(Role::Admin),
        CaseSource::Referral | CaseSource::CitizenReport => {
            user.has_role(Role::Dispatcher) || user.has_role(Role::Admin)
        }
    };
    if !allowed {
        return Err(forbidden("role not allowed for this source"));
    }
    if new.facts.trim().is_empty() {
        return Err(IntakeError::FactsRequired);
    }
    if new.location.as_ref().is_some_and(|l| !l.is_valid()) {
        return Err(IntakeError::InvalidLocation);
    }
    let mut case = Case::new_intake(case_id, number, new.kind, new.source, now);
    case.location = new.location;
    case.facts = match &new.referred_by {
        Some(agency) if !agency.trim().is_empty() => format!("{}（{}移送）", new.facts, agency),
        _ => new.facts,
    };
    case.vehicle_id = new.vehicle_id;
    case.company_id = new.company_id;
    case.party = new.party;
    if new.source == CaseSource::Patrol
        && let Some(officer) = user
            .officer_id
            .clone()
            .filter(|_| user.has_role(Role::Officer))
    {
        case.officer_ids.push(officer);
    }
    start_clock(&mut case, ClockKind::PreFilingCheck, now, settings);
    let event = change_event(
        None,
        &case,
        user,
        AuditAction::CaseOpened,
        Some(format!("opened by hand ({})", case.source.as_str())),
        Vec::new(),
        now,
    );
    Ok(Applied {
        case,
        audit: vec![event],
    })
}

/// The local year a case opened at `now` is numbered in.
pub fn numbering_year(now: DateTime<Utc>) -> i32 {
    use chrono::Datelike;
    local_date(now).year()
}
