//! Intelligent dispatch (智能派单): a new case goes to the district whose zone contains the
//! violation, to that district's on-duty officers with the skill for the kind, least loaded
//! first. Every assignment, automatic or overridden by a dispatcher, produces an
//! [`AssignmentRecord`] naming its inputs (candidates, their loads, why each was or was not
//! chosen) so the choice can be reviewed later.
//!
//! Duty and skills are kept here in [`OfficerDuty`] rather than on `model::Officer`: they
//! change daily (rosters, check-in from the app) while the registry entry does not, and the
//! registry bundles and import stay as they are.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use geo::{Area, Contains, Intersects, Point};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::audit::AuditAction;
use super::model::{Case, CaseKind, Location, Role, User};
use super::workflow::{Applied, change_event};
use crate::model::{Officer, WeeklyWindow, Zone, ZoneKind};

/// An officer's duty and skills, kept by the case module beside the registry's `Officer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerDuty {
    /// Registry officer id.
    pub officer_id: String,
    /// Shift windows (local time) in which the officer is on duty.
    #[serde(default)]
    pub shifts: Vec<WeeklyWindow>,
    /// Manual check-in (`Some(true)`) or check-out (`Some(false)`) from the app; overrides
    /// the shifts while set.
    #[serde(default)]
    pub on_duty_override: Option<bool>,
    /// Kinds of case the officer is trained for.
    #[serde(default)]
    pub skills: BTreeSet<CaseKind>,
}

impl OfficerDuty {
    /// Whether the officer is on duty at `now`.
    pub fn on_duty(&self, now: DateTime<Utc>) -> bool {
        self.on_duty_override
            .unwrap_or_else(|| self.shifts.iter().any(|w| w.contains(now)))
    }
}

/// Dispatch settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DispatchSettings {
    /// Officers a case needs (the law requires two to investigate).
    pub officers_per_case: usize,
    /// Officers with this many active cases or more are not given new ones.
    pub max_active_cases: Option<u32>,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        DispatchSettings {
            officers_per_case: 2,
            max_active_cases: None,
        }
    }
}

/// How an assignment was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentMode {
    /// By the dispatch rules.
    Auto,
    /// By a dispatcher, replacing what was there.
    Override,
}

/// How an assignment turned out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignmentOutcome {
    /// As many officers as a case needs.
    Complete,
    /// Some, but fewer than needed: a dispatcher must add more.
    Partial,
    /// Nobody: the case waits in the manual queue.
    Unassigned,
}

/// One officer considered for a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// Registry officer id.
    pub officer_id: String,
    /// Name.
    pub name: String,
    /// Active cases at the time.
    pub load: u32,
    /// On duty at the time.
    pub on_duty: bool,
    /// Trained for the case's kind.
    pub has_skill: bool,
    /// Why the officer could not be chosen; `None` when eligible.
    pub excluded: Option<String>,
    /// Whether the officer was chosen.
    pub chosen: bool,
}

/// The record of one assignment with everything it was based on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    /// Case assigned.
    pub case_id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// User id ([`super::model::SYSTEM_USER_ID`] for automatic dispatch).
    pub by: String,
    /// Automatic or override.
    pub mode: AssignmentMode,
    /// The case's kind.
    pub kind: CaseKind,
    /// The point dispatched on.
    pub location: Option<Location>,
    /// Every district zone containing the point (more than one means overlapping zones).
    pub districts_found: Vec<String>,
    /// The district chosen (the smallest containing zone).
    pub district_zone_id: Option<String>,
    /// Officers considered, eligible first, least loaded first.
    pub candidates: Vec<Candidate>,
    /// Officers already on the case before this assignment (kept by auto-dispatch).
    pub previous_officer_ids: Vec<String>,
    /// Officers on the case after it.
    pub officer_ids: Vec<String>,
    /// Complete, partial or unassigned.
    pub outcome: AssignmentOutcome,
    /// Why, in words, for the console and the review.
    pub reason: String,
}

/// Active cases per officer: the load dispatch balances.
pub fn officer_loads(cases: &[Case]) -> BTreeMap<String, u32> {
    let mut loads = BTreeMap::new();
    for case in cases.iter().filter(|c| c.status.is_active()) {
        for officer in case.officer_ids.iter().collect::<BTreeSet<_>>() {
            *loads.entry(officer.clone()).or_insert(0u32) += 1;
        }
    }
    loads
}

/// The district zones containing `location`, smallest first; a point exactly on a shared
/// border (where `Contains` says no to both) falls back to the zones it touches.
pub fn districts_at<'a>(zones: &'a [Zone], location: &Location) -> Vec<&'a Zone> {
    let point = Point::new(location.lon, location.lat);
    let districts = || zones.iter().filter(|z| z.kind == ZoneKind::District);
    let mut found: Vec<&Zone> = districts()
        .filter(|z| z.geometry.contains(&point))
        .collect();
    if found.is_empty() {
        found = districts()
            .filter(|z| z.geometry.intersects(&point))
            .collect();
    }
    found.sort_by(|a, b| {
        a.geometry
            .unsigned_area()
            .total_cmp(&b.geometry.unsigned_area())
            .then_with(|| a.id.cmp(&b.id))
    });
    found
}

/// What dispatch decides from, gathered by the caller from the registry, the rosters and
/// the store.
#[derive(Debug, Clone, Copy)]
pub struct DispatchInputs<'a> {
    /// Registry zones; only districts are used.
    pub zones: &'a [Zone],
    /// Registry officers.
    pub officers: &'a [Officer],
    /// Duty and skills per officer.
    pub duties: &'a [OfficerDuty],
    /// Active cases per officer ([`officer_loads`]).
    pub loads: &'a BTreeMap<String, u32>,
    /// Settings.
    pub settings: &'a DispatchSettings,
}

/// Chooses officers for a new case. Officers already on the case (a patrol officer who opened
/// it) stay; the rest are filled from the district's eligible officers, least loaded first,
/// ties by officer id so the same inputs always give the same choice.
pub fn dispatch(case: &Case, inputs: &DispatchInputs<'_>, now: DateTime<Utc>) -> AssignmentRecord {
    let DispatchInputs {
        zones,
        officers,
        duties,
        loads,
        settings,
    } = *inputs;
    let mut record = AssignmentRecord {
        case_id: case.id.clone(),
        at: now,
        by: super::model::SYSTEM_USER_ID.to_string(),
        mode: AssignmentMode::Auto,
        kind: case.kind,
        location: case.location.clone(),
        districts_found: Vec::new(),
        district_zone_id: None,
        candidates: Vec::new(),
        previous_officer_ids: case.officer_ids.clone(),
        officer_ids: case.officer_ids.clone(),
        outcome: AssignmentOutcome::Unassigned,
        reason: String::new(),
    };
    let Some(location) = case.location.as_ref().filter(|l| l.is_valid()) else {
        record.reason = "the case has no valid location; assign by hand".to_string();
        record.outcome = outcome(record.officer_ids.len(), settings);
        return record;
    };
    let found = districts_at(zones, location);
    record.districts_found = found.iter().map(|z| z.id.clone()).collect();
    let Some(district) = found.first() else {
        record.reason = "no district zone contains the location; assign by hand".to_string();
        record.outcome = outcome(record.officer_ids.len(), settings);
        return record;
    };
    record.district_zone_id = Some(district.id.clone());

    let duty_of: BTreeMap<&str, &OfficerDuty> =
        duties.iter().map(|d| (d.officer_id.as_str(), d)).collect();
    let mut candidates: Vec<Candidate> = officers
        .iter()
        .filter(|o| o.district_zone_id.as_deref() == Some(district.id.as_str()))
        .map(|o| {
            let duty = duty_of.get(o.id.as_str());
            let on_duty = duty.is_some_and(|d| d.on_duty(now));
            let has_skill = duty.is_some_and(|d| d.skills.contains(&case.kind));
            let load = loads.get(&o.id).copied().unwrap_or(0);
            let excluded = if case.officer_ids.contains(&o.id) {
                Some("already on the case".to_string())
            } else if duty.is_none() {
                Some("no duty record".to_string())
            } else if !on_duty {
                Some("off duty".to_string())
            } else if !has_skill {
                Some(format!("no skill for {}", case.kind))
            } else if settings.max_active_cases.is_some_and(|cap| load >= cap) {
                Some(format!("at the workload cap ({load} active cases)"))
            } else {
                None
            };
            Candidate {
                officer_id: o.id.clone(),
                name: o.name.clone(),
                load,
                on_duty,
                has_skill,
                excluded,
                chosen: false,
            }
        })
        .collect();
    candidates.sort_by(|a, b| {
        (a.excluded.is_some(), a.load, &a.officer_id).cmp(&(
            b.excluded.is_some(),
            b.load,
            &b.officer_id,
        ))
    });
    let needed = settings
        .officers_per_case
        .saturating_sub(record.officer_ids.len());
    let mut picked = Vec::new();
    for c in candidates
        .iter_mut()
        .filter(|c| c.excluded.is_none())
        .take(needed)
    {
        c.chosen = true;
        picked.push(format!("{} (load {})", c.officer_id, c.load));
        record.officer_ids.push(c.officer_id.clone());
    }
    let eligible = candidates.iter().filter(|c| c.excluded.is_none()).count();
    record.candidates = candidates;
    record.outcome = outcome(record.officer_ids.len(), settings);
    record.reason = format!(
        "district {} ({}); {} eligible of {} officers; chose the least loaded: {}",
        district.id,
        district.name,
        eligible,
        record.candidates.len(),
        if picked.is_empty() {
            "none".to_string()
        } else {
            picked.join(", ")
        }
    );
    record
}

fn outcome(assigned: usize, settings: &DispatchSettings) -> AssignmentOutcome {
    if assigned == 0 {
        AssignmentOutcome::Unassigned
    } else if assigned < settings.officers_per_case {
        AssignmentOutcome::Partial
    } else {
        AssignmentOutcome::Complete
    }
}

/// Applies an assignment record to the case and returns the audit event, which carries the
/// whole record.
pub fn apply_assignment(
    case: &Case,
    record: &AssignmentRecord,
    user: &User,
    now: DateTime<Utc>,
) -> Applied {
    let mut next = case.clone();
    next.officer_ids = record.officer_ids.clone();
    if record.district_zone_id.is_some() {
        next.district_zone_id = record.district_zone_id.clone();
    }
    next.updated_at = now;
    next.revision = case.revision.saturating_add(1);
    let action = match record.mode {
        AssignmentMode::Auto => AuditAction::Assigned,
        AssignmentMode::Override => AuditAction::AssignmentOverridden,
    };
    let mut event = change_event(
        Some(case),
        &next,
        user,
        action,
        Some(record.reason.clone()),
        Vec::new(),
        now,
    );
    if let Some(after) = event.after.as_object_mut() {
        after.insert(
            "assignment".to_string(),
            serde_json::to_value(record).unwrap_or(serde_json::Value::Null),
        );
    }
    Applied {
        case: next,
        audit: vec![event],
    }
}

/// Why an override was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DispatchError {
    /// Only dispatchers and admins reassign.
    #[error("user {user_id} may not reassign cases (needs dispatcher or admin)")]
    Forbidden {
        /// Who tried.
        user_id: String,
    },
    /// The case is finished.
    #[error("case {case_id} is {status}; finished cases are not reassigned")]
    Finished {
        /// The case.
        case_id: String,
        /// Its state.
        status: String,
    },
    /// An officer id not in the registry.
    #[error("officer {0} is not in the registry")]
    UnknownOfficer(String),
    /// No officers given.
    #[error("an override must name at least one officer")]
    NoOfficers,
    /// No reason given.
    #[error("an override needs a reason")]
    ReasonRequired,
}

/// A dispatcher replaces a case's officers; recorded with the previous officers, the loads
/// at the time and the dispatcher's reason.
pub fn override_assignment(
    case: &Case,
    user: &User,
    officer_ids: Vec<String>,
    reason: &str,
    inputs: &DispatchInputs<'_>,
    now: DateTime<Utc>,
) -> Result<(Applied, AssignmentRecord), DispatchError> {
    if !(user.has_role(Role::Dispatcher) || user.has_role(Role::Admin)) {
        return Err(DispatchError::Forbidden {
            user_id: user.id.clone(),
        });
    }
    if !case.status.is_active() {
        return Err(DispatchError::Finished {
            case_id: case.id.clone(),
            status: case.status.to_string(),
        });
    }
    if reason.trim().is_empty() {
        return Err(DispatchError::ReasonRequired);
    }
    let mut chosen: Vec<String> = Vec::new();
    for id in officer_ids {
        if !chosen.contains(&id) {
            chosen.push(id);
        }
    }
    if chosen.is_empty() {
        return Err(DispatchError::NoOfficers);
    }
    let mut candidates = Vec::new();
    for id in &chosen {
        let officer = inputs
            .officers
            .iter()
            .find(|o| &o.id == id)
            .ok_or_else(|| DispatchError::UnknownOfficer(id.clone()))?;
        let duty = inputs.duties.iter().find(|d| d.officer_id == officer.id);
        candidates.push(Candidate {
            officer_id: officer.id.clone(),
            name: officer.name.clone(),
            load: inputs.loads.get(&officer.id).copied().unwrap_or(0),
            on_duty: duty.is_some_and(|d| d.on_duty(now)),
            has_skill: duty.is_some_and(|d| d.skills.contains(&case.kind)),
            excluded: None,
            chosen: true,
        });
    }
    let record = AssignmentRecord {
        case_id: case.id.clone(),
        at: now,
        by: user.id.clone(),
        mode: AssignmentMode::Override,
        kind: case.kind,
        location: case.location.clone(),
        districts_found: Vec::new(),
        district_zone_id: case.district_zone_id.clone(),
        candidates,
        previous_officer_ids: case.officer_ids.clone(),
        outcome: outcome(chosen.len(), inputs.settings),
        officer_ids: chosen,
        reason: format!("override by {}: {}", user.id, reason.trim()),
    };
    let applied = apply_assignment(case, &record, user, now);
    Ok((applied, record))
}
