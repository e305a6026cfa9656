//! From violation to case: per kind, open a case automatically or only raise an alert, and
//! let further episodes of the same kind by the same vehicle join the open case.
//!
//! Default: every kind opens a case, except `offline`, which alerts and opens a case only once
//! the episode has lasted over 24 hours. Episodes within 24 hours of the case's latest episode
//! join it. An episode is judged each time the engine reports it (opened, updated, closed), so a
//! long offline episode that crosses 24 hours opens its case on the next update; the caller
//! should also re-judge still-open offline episodes periodically, since a silent terminal sends
//! no updates.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::model::{Case, CaseKind, CaseStatus};
use crate::model::{Violation, ViolationKind};

/// What to do with violations of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum KindRule {
    /// Open (or join) a case for every episode.
    OpenCase,
    /// Raise an alert for the console; never open a case.
    AlertOnly,
    /// Alert; open a case once the episode has lasted at least this long.
    OpenAfter {
        /// Minimum duration of the episode, in minutes.
        min_duration_minutes: u32,
    },
    /// Neither alert nor case (the kind is switched off).
    Ignore,
}

/// The case policy (configurable, e.g. the `[cases.policy]` table of the config file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CasePolicy {
    /// Rule for kinds not listed in `kinds`.
    pub default_rule: KindRule,
    /// Rules per kind. Kinds given in the config are laid over the defaults, so configuring
    /// one kind keeps the built-in rule for `offline`.
    #[serde(deserialize_with = "over_default_kinds")]
    pub kinds: BTreeMap<ViolationKind, KindRule>,
    /// An episode starting within this many minutes of the case's latest episode joins it.
    pub join_window_minutes: u32,
}

impl Default for CasePolicy {
    fn default() -> Self {
        CasePolicy {
            default_rule: KindRule::OpenCase,
            kinds: BTreeMap::from([(
                ViolationKind::Offline,
                KindRule::OpenAfter {
                    min_duration_minutes: 24 * 60,
                },
            )]),
            join_window_minutes: 24 * 60,
        }
    }
}

/// Reads the configured per-kind rules on top of the default ones.
fn over_default_kinds<'de, D>(
    deserializer: D,
) -> Result<BTreeMap<ViolationKind, KindRule>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let configured = BTreeMap::<ViolationKind, KindRule>::deserialize(deserializer)?;
    let mut kinds = CasePolicy::default().kinds;
    kinds.extend(configured);
    Ok(kinds)
}

impl CasePolicy {
    /// The rule for `kind`.
    pub fn rule(&self, kind: ViolationKind) -> KindRule {
        self.kinds.get(&kind).copied().unwrap_or(self.default_rule)
    }
}

/// What to do with one violation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum PolicyDecision {
    /// Open a new case for it.
    OpenNew,
    /// Link it to this open case.
    Join {
        /// The case to join.
        case_id: String,
    },
    /// Already linked to this case; nothing to do.
    AlreadyLinked {
        /// The case it is linked to.
        case_id: String,
    },
    /// Raise an alert only.
    AlertOnly {
        /// Why no case (for the alert text).
        reason: String,
    },
    /// Do nothing.
    Ignore {
        /// Why.
        reason: String,
    },
}

/// Statuses in which a case still takes further episodes: before the pre-decision notice fixes
/// the facts the party is told about. Later episodes open a new case.
pub const JOINABLE_STATUSES: [CaseStatus; 3] = [
    CaseStatus::Intake,
    CaseStatus::Filed,
    CaseStatus::Investigating,
];

/// Whether `case` is about the same kind and the same vehicle (or, for unregistered
/// terminals, the same terminal) as `violation`.
pub fn same_offender(case: &Case, violation: &Violation) -> bool {
    if case.kind != CaseKind::Violation(violation.kind) {
        return false;
    }
    match (&violation.vehicle_id, &case.vehicle_id) {
        (Some(v), Some(c)) => v == c,
        (None, None) => {
            !violation.phone.is_empty()
                && case.terminal_phone.as_deref().map(crate::model::phone_key)
                    == Some(crate::model::phone_key(&violation.phone))
        }
        _ => false,
    }
}

/// How long the episode has lasted by `now` (to its end if it ended).
fn duration(violation: &Violation, now: DateTime<Utc>) -> Duration {
    let end = violation.ended_at.unwrap_or(now);
    end - violation.started_at
}

/// Decides what to do with `violation`, given the vehicle's (or terminal's) cases; cases that
/// are not open or not about the same kind are skipped, so passing all of them is fine.
pub fn decide(
    policy: &CasePolicy,
    violation: &Violation,
    vehicle_cases: &[Case],
    now: DateTime<Utc>,
) -> PolicyDecision {
    if let Some(linked) = vehicle_cases
        .iter()
        .find(|c| c.violation_ids.contains(&violation.id))
    {
        return PolicyDecision::AlreadyLinked {
            case_id: linked.id.clone(),
        };
    }
    match policy.rule(violation.kind) {
        KindRule::Ignore => {
            return PolicyDecision::Ignore {
                reason: format!("policy ignores {}", violation.kind),
            };
        }
        KindRule::AlertOnly => {
            return PolicyDecision::AlertOnly {
                reason: format!("policy raises alerts only for {}", violation.kind),
            };
        }
        KindRule::OpenAfter {
            min_duration_minutes,
        } => {
            let lasted = duration(violation, now);
            if lasted < Duration::minutes(i64::from(min_duration_minutes)) {
                return PolicyDecision::AlertOnly {
                    reason: format!(
                        "{} has lasted {} min; a case opens after {} min",
                        violation.kind,
                        lasted.num_minutes().max(0),
                        min_duration_minutes
                    ),
                };
            }
        }
        KindRule::OpenCase => {}
    }
    let window = Duration::minutes(i64::from(policy.join_window_minutes));
    let joinable = vehicle_cases
        .iter()
        .filter(|c| JOINABLE_STATUSES.contains(&c.status) && same_offender(c, violation))
        .filter(|c| {
            // Late uploads arrive out of order, so the window counts both ways.
            let latest = c.last_episode_at.unwrap_or(c.opened_at);
            (violation.started_at - latest).abs() <= window
        })
        .max_by_key(|c| c.last_episode_at.unwrap_or(c.opened_at));
    match joinable {
        Some(case) => PolicyDecision::Join {
            case_id: case.id.clone(),
        },
        None => PolicyDecision::OpenNew,
    }
}
