//! The legal workflow as a state machine (普通程序):
//!
//! `intake` -> `filed` | `rejected` | `referred`; `filed` -> `investigating` ->
//! `pre_decision_notice` -> (`hearing_requested` -> `hearing_held`) -> `legal_review` ->
//! `decided` (penalty or no penalty) -> `served` -> `enforcing` (paid, instalments, overdue,
//! demand served, court application) -> `closed` -> `archived`. Rejected and referred clues are
//! archived directly; a decision with nothing to collect (no penalty, warning only) closes
//! straight from `served`.
//!
//! [`apply`] takes the current case, the acting user and the requested step, and returns the
//! new case plus the audit event to append, or a [`WorkflowError`] naming the step, the
//! states and the reason. Nothing is written anywhere: the store persists both in one
//! transaction. [`available_actions`] lists the steps a user may take now (the console's
//! buttons), with the reason when a step is not ready yet.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::audit::{AuditAction, AuditDraft, changed_fields};
use super::deadlines::{
    self, ClockKind, DeadlineSettings, clock, has_run_out, late_surcharge_fen, local_date,
    start_clock, stop_clock,
};
use super::model::{
    Case, CaseStatus, Decision, Enforcement, EnforcementState, Hearing, Instalment, LegalBasis,
    Location, Party, Payment, Penalty, Role, Service, ServiceMethod, StatusChange, User,
};

/// The workflow steps, without their data: what buttons and audit events name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// 立案: intake -> filed.
    File,
    /// 不予立案: intake -> rejected.
    Reject,
    /// 移送: intake -> referred.
    Refer,
    /// 开始调查: filed -> investigating.
    StartInvestigation,
    /// 事先告知: investigating -> pre_decision_notice.
    IssuePreDecisionNotice,
    /// 听证申请: pre_decision_notice -> hearing_requested.
    RequestHearing,
    /// 举行听证: hearing_requested -> hearing_held.
    HoldHearing,
    /// 提交法制审核: pre_decision_notice | hearing_held -> legal_review.
    SubmitForLegalReview,
    /// 作出决定: legal_review -> decided.
    Decide,
    /// 送达: decided -> served.
    Serve,
    /// 进入执行: served -> enforcing.
    StartEnforcement,
    /// 登记缴款: enforcing (payment received).
    RecordPayment,
    /// 批准延期/分期缴纳: enforcing (instalments).
    GrantInstalments,
    /// 逾期: enforcing (overdue).
    MarkOverdue,
    /// 送达催告书: enforcing (demand served).
    ServeDemand,
    /// 申请法院强制执行: enforcing (court application).
    ApplyToCourt,
    /// 法院执行完毕: enforcing (court enforced).
    RecordCourtEnforced,
    /// 结案: served | enforcing -> closed.
    Close,
    /// 归档: closed | rejected | referred -> archived.
    Archive,
}

impl ActionKind {
    /// Every step, in workflow order.
    pub const ALL: [ActionKind; 19] = [
        ActionKind::File,
        ActionKind::Reject,
        ActionKind::Refer,
        ActionKind::StartInvestigation,
        ActionKind::IssuePreDecisionNotice,
        ActionKind::RequestHearing,
        ActionKind::HoldHearing,
        ActionKind::SubmitForLegalReview,
        ActionKind::Decide,
        ActionKind::Serve,
        ActionKind::StartEnforcement,
        ActionKind::RecordPayment,
        ActionKind::GrantInstalments,
        ActionKind::MarkOverdue,
        ActionKind::ServeDemand,
        ActionKind::ApplyToCourt,
        ActionKind::RecordCourtEnforced,
        ActionKind::Close,
        ActionKind::Archive,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::File => "file",
            ActionKind::Reject => "reject",
            ActionKind::Refer => "refer",
            ActionKind::StartInvestigation => "start_investigation",
            ActionKind::IssuePreDecisionNotice => "issue_pre_decision_notice",
            ActionKind::RequestHearing => "request_hearing",
            ActionKind::HoldHearing => "hold_hearing",
            ActionKind::SubmitForLegalReview => "submit_for_legal_review",
            ActionKind::Decide => "decide",
            ActionKind::Serve => "serve",
            ActionKind::StartEnforcement => "start_enforcement",
            ActionKind::RecordPayment => "record_payment",
            ActionKind::GrantInstalments => "grant_instalments",
            ActionKind::MarkOverdue => "mark_overdue",
            ActionKind::ServeDemand => "serve_demand",
            ActionKind::ApplyToCourt => "apply_to_court",
            ActionKind::RecordCourtEnforced => "record_court_enforced",
            ActionKind::Close => "close",
            ActionKind::Archive => "archive",
        }
    }

    /// Inverse of [`ActionKind::as_str`].
    pub fn from_name(name: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Chinese label for the console's buttons.
    pub fn label_zh(self) -> &'static str {
        match self {
            ActionKind::File => "立案",
            ActionKind::Reject => "不予立案",
            ActionKind::Refer => "移送",
            ActionKind::StartInvestigation => "开始调查",
            ActionKind::IssuePreDecisionNotice => "事先告知",
            ActionKind::RequestHearing => "登记听证申请",
            ActionKind::HoldHearing => "举行听证",
            ActionKind::SubmitForLegalReview => "提交法制审核",
            ActionKind::Decide => "作出决定",
            ActionKind::Serve => "送达",
            ActionKind::StartEnforcement => "进入执行",
            ActionKind::RecordPayment => "登记缴款",
            ActionKind::GrantInstalments => "批准分期缴纳",
            ActionKind::MarkOverdue => "标记逾期",
            ActionKind::ServeDemand => "送达催告书",
            ActionKind::ApplyToCourt => "申请强制执行",
            ActionKind::RecordCourtEnforced => "法院执行完毕",
            ActionKind::Close => "结案",
            ActionKind::Archive => "归档",
        }
    }

    /// The states the step may start from.
    pub fn from_states(self) -> &'static [CaseStatus] {
        use CaseStatus as S;
        match self {
            ActionKind::File | ActionKind::Reject | ActionKind::Refer => &[S::Intake],
            ActionKind::StartInvestigation => &[S::Filed],
            ActionKind::IssuePreDecisionNotice => &[S::Investigating],
            ActionKind::RequestHearing => &[S::PreDecisionNotice],
            ActionKind::HoldHearing => &[S::HearingRequested],
            ActionKind::SubmitForLegalReview => &[S::PreDecisionNotice, S::HearingHeld],
            ActionKind::Decide => &[S::LegalReview],
            ActionKind::Serve => &[S::Decided],
            ActionKind::StartEnforcement => &[S::Served],
            ActionKind::RecordPayment
            | ActionKind::GrantInstalments
            | ActionKind::MarkOverdue
            | ActionKind::ServeDemand
            | ActionKind::ApplyToCourt
            | ActionKind::RecordCourtEnforced => &[S::Enforcing],
            ActionKind::Close => &[S::Served, S::Enforcing],
            ActionKind::Archive => &[S::Closed, S::Rejected, S::Referred],
        }
    }

    /// The state the step leads to.
    pub fn to_state(self) -> CaseStatus {
        use CaseStatus as S;
        match self {
            ActionKind::File => S::Filed,
            ActionKind::Reject => S::Rejected,
            ActionKind::Refer => S::Referred,
            ActionKind::StartInvestigation => S::Investigating,
            ActionKind::IssuePreDecisionNotice => S::PreDecisionNotice,
            ActionKind::RequestHearing => S::HearingRequested,
            ActionKind::HoldHearing => S::HearingHeld,
            ActionKind::SubmitForLegalReview => S::LegalReview,
            ActionKind::Decide => S::Decided,
            ActionKind::Serve => S::Served,
            ActionKind::StartEnforcement
            | ActionKind::RecordPayment
            | ActionKind::GrantInstalments
            | ActionKind::MarkOverdue
            | ActionKind::ServeDemand
            | ActionKind::ApplyToCourt
            | ActionKind::RecordCourtEnforced => S::Enforcing,
            ActionKind::Close => S::Closed,
            ActionKind::Archive => S::Archived,
        }
    }

    /// The roles that may take the step. Officers must also be assigned to the case; company
    /// users may only act on their own company's cases.
    pub fn roles(self) -> &'static [Role] {
        use Role as R;
        match self {
            // Triage of clues happens in the command centre; the head may do it too.
            ActionKind::File | ActionKind::Reject | ActionKind::Refer => &[R::Dispatcher, R::Admin],
            // Steps officers take in the field or at their desk.
            ActionKind::StartInvestigation
            | ActionKind::IssuePreDecisionNotice
            | ActionKind::HoldHearing
            | ActionKind::SubmitForLegalReview
            | ActionKind::Serve
            | ActionKind::StartEnforcement
            | ActionKind::RecordPayment
            | ActionKind::MarkOverdue
            | ActionKind::ServeDemand
            | ActionKind::RecordCourtEnforced => &[R::Officer, R::Admin],
            // The party asks for the hearing (a company user online, or an officer records a
            // paper request).
            ActionKind::RequestHearing => &[R::Officer, R::Company, R::Admin],
            // Approvals by the head of the bureau (负责人审批).
            ActionKind::Decide
            | ActionKind::GrantInstalments
            | ActionKind::ApplyToCourt
            | ActionKind::Close
            | ActionKind::Archive => &[R::Admin],
        }
    }
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A workflow step with its data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// 立案.
    File,
    /// 不予立案.
    Reject {
        /// Why (printed on the 不予立案 notice to the complainant).
        reason: String,
    },
    /// 移送.
    Refer {
        /// The competent agency the case goes to.
        agency: String,
    },
    /// 开始调查 (needs two assigned officers).
    StartInvestigation,
    /// 事先告知: fixes the basis and the intended penalty the party is told about.
    IssuePreDecisionNotice {
        /// Legal basis; `None` keeps the one already on the case.
        legal_basis: Option<LegalBasis>,
        /// The intended penalty.
        proposed_penalty: Penalty,
    },
    /// The party asked for a hearing (within the hearing-request window).
    RequestHearing,
    /// The hearing took place.
    HoldHearing {
        /// Officer presiding; may not be one of the investigators.
        presiding_officer_id: String,
    },
    /// Send for legal review.
    SubmitForLegalReview {
        /// The party waived statement and hearing before the window closed (recorded in
        /// writing); otherwise the review waits for the hearing-request window to close.
        party_waived_rights: bool,
    },
    /// 作出决定.
    Decide {
        /// Penalty or explicit no-penalty.
        decision: Decision,
        /// Legal basis; `None` keeps the one already on the case.
        legal_basis: Option<LegalBasis>,
    },
    /// 送达 the decision.
    Serve {
        /// How.
        method: ServiceMethod,
        /// Who received it.
        recipient: String,
    },
    /// Start collecting the fine.
    StartEnforcement,
    /// A payment was received.
    RecordPayment {
        /// Amount in fen.
        amount_fen: i64,
        /// Receipt number.
        receipt_no: String,
    },
    /// Deferred or instalment payment approved.
    GrantInstalments {
        /// The plan; amounts must add up to what is still owed.
        plan: Vec<Instalment>,
    },
    /// The payment period (or an instalment) passed unpaid.
    MarkOverdue,
    /// A written demand was served.
    ServeDemand,
    /// Compulsory enforcement applied for at the court.
    ApplyToCourt {
        /// The court's case number, if already known.
        court_case_no: Option<String>,
    },
    /// The court reported enforcement complete.
    RecordCourtEnforced,
    /// 结案.
    Close,
    /// 归档.
    Archive,
}

impl Action {
    /// The step without its data.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::File => ActionKind::File,
            Action::Reject { .. } => ActionKind::Reject,
            Action::Refer { .. } => ActionKind::Refer,
            Action::StartInvestigation => ActionKind::StartInvestigation,
            Action::IssuePreDecisionNotice { .. } => ActionKind::IssuePreDecisionNotice,
            Action::RequestHearing => ActionKind::RequestHearing,
            Action::HoldHearing { .. } => ActionKind::HoldHearing,
            Action::SubmitForLegalReview { .. } => ActionKind::SubmitForLegalReview,
            Action::Decide { .. } => ActionKind::Decide,
            Action::Serve { .. } => ActionKind::Serve,
            Action::StartEnforcement => ActionKind::StartEnforcement,
            Action::RecordPayment { .. } => ActionKind::RecordPayment,
            Action::GrantInstalments { .. } => ActionKind::GrantInstalments,
            Action::MarkOverdue => ActionKind::MarkOverdue,
            Action::ServeDemand => ActionKind::ServeDemand,
            Action::ApplyToCourt { .. } => ActionKind::ApplyToCourt,
            Action::RecordCourtEnforced => ActionKind::RecordCourtEnforced,
            Action::Close => ActionKind::Close,
            Action::Archive => ActionKind::Archive,
        }
    }
}

/// A requested step: the action, the actor's note, and evidence attached to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The step and its data.
    pub action: Action,
    /// The actor's note (required: every step must say why).
    pub note: String,
    /// Evidence ids attached to the step; each must already belong to the case.
    #[serde(default)]
    pub attachments: Vec<String>,
}

/// Why a step's preconditions do not hold.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "guard", rename_all = "snake_case")]
pub enum GuardFailure {
    /// Every step needs a note.
    #[error("a note is required")]
    NoteRequired,
    /// An attachment is not evidence of this case.
    #[error("attachment {evidence_id} is not evidence of this case")]
    UnknownAttachment {
        /// The offending id.
        evidence_id: String,
    },
    /// Filing needs something to go on.
    #[error("filing needs prima facie evidence: link a violation or upload evidence first")]
    NoPrimaFacieEvidence,
    /// Rejecting needs a reason.
    #[error("a reason is required")]
    ReasonRequired,
    /// Referring needs the receiving agency.
    #[error("the agency the case is referred to is required")]
    AgencyRequired,
    /// Investigation needs two officers (行政处罚法: no fewer than two).
    #[error("investigation needs at least two assigned officers, {assigned} assigned")]
    NeedTwoOfficers {
        /// Distinct officers assigned now.
        assigned: usize,
    },
    /// The facts are not written down.
    #[error("the facts of the case (违法事实) must be recorded first")]
    FactsRequired,
    /// The party is not identified.
    #[error("the party (当事人) must be recorded first")]
    PartyRequired,
    /// No complete legal basis.
    #[error("the legal basis (provision breached and penalty provision) is required")]
    LegalBasisRequired,
    /// A penalty that imposes nothing.
    #[error("the penalty must impose something (warning, fine, confiscation or other measure)")]
    PenaltyRequired,
    /// A no-penalty decision without its reason.
    #[error("a no-penalty decision needs its reason")]
    NoPenaltyReasonRequired,
    /// The fine is above the one the party was notified of.
    #[error(
        "the fine {decided_fen} fen exceeds the {proposed_fen} fen in the pre-decision notice; a heavier penalty needs a new notice"
    )]
    PenaltyAboveNotice {
        /// Fine in the notice.
        proposed_fen: i64,
        /// Fine decided.
        decided_fen: i64,
    },
    /// The hearing request came after the window.
    #[error("the hearing-request window closed on {due_on}")]
    HearingWindowClosed {
        /// Last day of the window.
        due_on: String,
    },
    /// Legal review cannot start while the party may still ask for a hearing.
    #[error("the party may request a hearing until {due_on}; wait or record a written waiver")]
    HearingWindowOpen {
        /// Last day of the window (empty if unknown).
        due_on: String,
    },
    /// No presiding officer named.
    #[error("the presiding officer is required")]
    PresidingOfficerRequired,
    /// The presiding officer investigated the case.
    #[error("officer {officer_id} investigated the case and may not preside over its hearing")]
    PresidingOfficerIsInvestigator {
        /// The officer named.
        officer_id: String,
    },
    /// The recipient of service is not named.
    #[error("the recipient of service is required")]
    RecipientRequired,
    /// Enforcement with nothing to collect.
    #[error("the decision imposes no fine; close the case instead")]
    NothingToEnforce,
    /// Closing from `served` while a fine is owed.
    #[error("a fine is owed; start enforcement instead of closing")]
    FineOwed,
    /// The enforcement sub-state does not allow the step.
    #[error("collection is {state}; this step needs {expected}")]
    WrongEnforcementState {
        /// Current sub-state.
        state: String,
        /// Sub-states that would allow it.
        expected: String,
    },
    /// A non-positive amount.
    #[error("the amount must be positive")]
    AmountNotPositive,
    /// A payment without its receipt.
    #[error("the receipt number is required")]
    ReceiptRequired,
    /// The instalment plan is unusable.
    #[error("instalment plan rejected: {reason}")]
    BadInstalmentPlan {
        /// What is wrong.
        reason: String,
    },
    /// Nothing is overdue yet.
    #[error("nothing is overdue yet")]
    NotOverdue,
    /// The party's 10 days after the demand are still running.
    #[error("the demand period runs until {due_on}")]
    DemandPeriodRunning {
        /// Last day of the demand period (empty if unknown).
        due_on: String,
    },
}

/// A refused step.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum WorkflowError {
    /// The step does not start from the case's current state.
    #[error("illegal transition {from} -> {to} ({action}): only allowed from {allowed}")]
    IllegalTransition {
        /// The step.
        action: ActionKind,
        /// Current state.
        from: CaseStatus,
        /// State the step leads to.
        to: CaseStatus,
        /// States it may start from, comma-separated.
        allowed: String,
    },
    /// The user lacks the role, is not assigned, or is not the party.
    #[error("user {user_id} may not {action} ({from} -> {to}): {reason}")]
    Forbidden {
        /// The step.
        action: ActionKind,
        /// Current state.
        from: CaseStatus,
        /// State the step leads to.
        to: CaseStatus,
        /// Who tried.
        user_id: String,
        /// Why not.
        reason: String,
    },
    /// A precondition does not hold.
    #[error("cannot {action} ({from} -> {to}): {reason}")]
    Guard {
        /// The step.
        action: ActionKind,
        /// Current state.
        from: CaseStatus,
        /// State the step leads to.
        to: CaseStatus,
        /// What is missing.
        reason: GuardFailure,
    },
    /// The case may not be edited in its current state.
    #[error("case details cannot be edited in state {status}")]
    NotEditable {
        /// Current state.
        status: CaseStatus,
    },
    /// The edit itself is unusable.
    #[error("edit refused: {reason}")]
    InvalidEdit {
        /// What is wrong.
        reason: String,
    },
    /// The user may not edit the case.
    #[error("user {user_id} may not edit this case: {reason}")]
    EditForbidden {
        /// Who tried.
        user_id: String,
        /// Why not.
        reason: String,
    },
}

/// The result of a step: the case as it now is, and the audit events to append with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Applied {
    /// The new state of the case.
    pub case: Case,
    /// Events to append in the same transaction.
    pub audit: Vec<AuditDraft>,
}

/// Checks that `user` may take `kind` on `case` by role, assignment and ownership.
fn check_role(case: &Case, user: &User, kind: ActionKind) -> Result<(), String> {
    let roles = kind.roles();
    if user.has_role(Role::Admin) && roles.contains(&Role::Admin) {
        return Ok(());
    }
    if user.has_role(Role::Dispatcher) && roles.contains(&Role::Dispatcher) {
        return Ok(());
    }
    if user.has_role(Role::Officer) && roles.contains(&Role::Officer) {
        if user.is_assigned_to(case) {
            return Ok(());
        }
        return Err("officer is not assigned to this case".to_string());
    }
    if user.has_role(Role::Company) && roles.contains(&Role::Company) {
        if user.company_id.is_some() && user.company_id == case.company_id {
            return Ok(());
        }
        return Err("company users may act only on their own company's cases".to_string());
    }
    let needed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Err(format!("needs role {}", needed.join(" or ")))
}

fn state_check(case: &Case, kind: ActionKind) -> Result<(), WorkflowError> {
    if kind.from_states().contains(&case.status) {
        return Ok(());
    }
    let allowed: Vec<&str> = kind.from_states().iter().map(|s| s.as_str()).collect();
    Err(WorkflowError::IllegalTransition {
        action: kind,
        from: case.status,
        to: kind.to_state(),
        allowed: allowed.join(", "),
    })
}

fn distinct_officers(case: &Case) -> usize {
    case.officer_ids
        .iter()
        .filter(|id| !id.trim().is_empty())
        .collect::<BTreeSet<_>>()
        .len()
}

fn blank(text: &str) -> bool {
    text.trim().is_empty()
}

fn due_text(case: &Case, kind: ClockKind, s: &DeadlineSettings) -> String {
    clock(case, kind)
        .and_then(|c| c.due_on(s))
        .map(|d| d.to_string())
        .unwrap_or_default()
}

fn enforcement_state(case: &Case) -> Option<EnforcementState> {
    case.enforcement.as_ref().map(|e| e.state)
}

fn wrong_state(case: &Case, expected: &[EnforcementState]) -> GuardFailure {
    let names: Vec<&str> = expected.iter().map(|s| s.as_str()).collect();
    GuardFailure::WrongEnforcementState {
        state: enforcement_state(case)
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "not started".to_string()),
        expected: names.join(" or "),
    }
}

fn require_enforcement_state(
    case: &Case,
    expected: &[EnforcementState],
) -> Result<(), GuardFailure> {
    match enforcement_state(case) {
        Some(s) if expected.contains(&s) => Ok(()),
        _ => Err(wrong_state(case, expected)),
    }
}

/// What is still owed at `now`, in fen: the fine plus any late surcharge, minus payments.
/// Under an instalment plan no surcharge accrues.
pub fn amount_owed_fen(case: &Case, settings: &DeadlineSettings, now: DateTime<Utc>) -> i64 {
    let fine = case.decision.as_ref().map(Decision::fine_fen).unwrap_or(0);
    let Some(enforcement) = &case.enforcement else {
        return fine;
    };
    let surcharge = match (
        enforcement.instalments.is_empty(),
        clock(case, ClockKind::Payment).and_then(|c| c.due_on(settings)),
    ) {
        (true, Some(due)) => late_surcharge_fen(fine, (local_date(now) - due).num_days()),
        _ => 0,
    };
    fine.saturating_add(surcharge)
        .saturating_sub(enforcement.paid_fen())
        .max(0)
}

/// Whether an instalment is past its day without the cumulative amount paid.
fn instalment_overdue(case: &Case, now: DateTime<Utc>) -> bool {
    let Some(e) = &case.enforcement else {
        return false;
    };
    let today = local_date(now);
    let paid = e.paid_fen();
    let mut due_so_far = 0i64;
    for inst in &e.instalments {
        due_so_far = due_so_far.saturating_add(inst.amount_fen);
        if inst.due_on < today && paid < due_so_far {
            return true;
        }
    }
    false
}

/// Preconditions that do not depend on the step's data (so the console can grey a button).
fn ready(
    case: &Case,
    kind: ActionKind,
    s: &DeadlineSettings,
    now: DateTime<Utc>,
) -> Result<(), GuardFailure> {
    use EnforcementState as E;
    match kind {
        ActionKind::File => {
            if case.violation_ids.is_empty() && case.evidence_ids.is_empty() {
                return Err(GuardFailure::NoPrimaFacieEvidence);
            }
        }
        ActionKind::StartInvestigation => {
            let assigned = distinct_officers(case);
            if assigned < 2 {
                return Err(GuardFailure::NeedTwoOfficers { assigned });
            }
        }
        ActionKind::IssuePreDecisionNotice => {
            if blank(&case.facts) {
                return Err(GuardFailure::FactsRequired);
            }
            if case.party.as_ref().is_none_or(|p| blank(&p.name)) {
                return Err(GuardFailure::PartyRequired);
            }
        }
        ActionKind::RequestHearing => {
            if has_run_out(case, ClockKind::HearingRequest, s, now) {
                return Err(GuardFailure::HearingWindowClosed {
                    due_on: due_text(case, ClockKind::HearingRequest, s),
                });
            }
        }
        // These depend only on the step's data (presiding officer, waiver, decision,
        // recipient), checked in `apply`.
        ActionKind::SubmitForLegalReview
        | ActionKind::HoldHearing
        | ActionKind::Decide
        | ActionKind::Serve => {}
        ActionKind::StartEnforcement => {
            if case.decision.as_ref().map(Decision::fine_fen).unwrap_or(0) <= 0 {
                return Err(GuardFailure::NothingToEnforce);
            }
        }
        ActionKind::RecordPayment => {
            require_enforcement_state(
                case,
                &[
                    E::AwaitingPayment,
                    E::Instalments,
                    E::Overdue,
                    E::DemandServed,
                    E::CourtApplication,
                ],
            )?;
        }
        ActionKind::GrantInstalments => {
            require_enforcement_state(case, &[E::AwaitingPayment, E::Overdue])?;
        }
        ActionKind::MarkOverdue => {
            require_enforcement_state(case, &[E::AwaitingPayment, E::Instalments])?;
            let overdue = match enforcement_state(case) {
                Some(E::Instalments) => instalment_overdue(case, now),
                _ => has_run_out(case, ClockKind::Payment, s, now),
            };
            if !overdue {
                return Err(GuardFailure::NotOverdue);
            }
        }
        ActionKind::ServeDemand => require_enforcement_state(case, &[E::Overdue])?,
        ActionKind::ApplyToCourt => {
            require_enforcement_state(case, &[E::DemandServed])?;
            if !has_run_out(case, ClockKind::DemandPeriod, s, now) {
                return Err(GuardFailure::DemandPeriodRunning {
                    due_on: due_text(case, ClockKind::DemandPeriod, s),
                });
            }
        }
        ActionKind::RecordCourtEnforced => require_enforcement_state(case, &[E::CourtApplication])?,
        ActionKind::Close => match case.status {
            CaseStatus::Served => {
                if case.decision.as_ref().map(Decision::fine_fen).unwrap_or(0) > 0 {
                    return Err(GuardFailure::FineOwed);
                }
            }
            _ => require_enforcement_state(case, &[E::Paid, E::CourtEnforced])?,
        },
        ActionKind::Reject | ActionKind::Refer | ActionKind::Archive => {}
    }
    Ok(())
}

/// A step the console can offer a user now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailableAction {
    /// The step.
    pub action: ActionKind,
    /// Chinese button label.
    pub label_zh: String,
    /// State it leads to.
    pub to: CaseStatus,
    /// Why it cannot be taken yet (the button is shown disabled with this text); `None` when
    /// it can be taken once its data is filled in.
    pub blocked_by: Option<GuardFailure>,
}

/// The steps `user` may take on `case` now: those starting from its state that the user's
/// roles allow, each with the precondition that still blocks it, if any.
pub fn available_actions(
    case: &Case,
    user: &User,
    settings: &DeadlineSettings,
    now: DateTime<Utc>,
) -> Vec<AvailableAction> {
    ActionKind::ALL
        .into_iter()
        .filter(|kind| kind.from_states().contains(&case.status))
        .filter(|kind| check_role(case, user, *kind).is_ok())
        .map(|kind| AvailableAction {
            action: kind,
            label_zh: kind.label_zh().to_string(),
            to: kind.to_state(),
            blocked_by: ready(case, kind, settings, now).err(),
        })
        .collect()
}

/// Serialises a case for the audit diff, leaving out the history (the audit chain is the
/// history) so events stay small.
fn audit_view(case: &Case) -> serde_json::Value {
    let mut value = serde_json::to_value(case).unwrap_or(serde_json::Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.remove("history");
        map.remove("updated_at");
    }
    value
}

/// Builds the audit draft for a change from `before` to `after`.
pub fn change_event(
    before: Option<&Case>,
    after: &Case,
    user: &User,
    action: AuditAction,
    note: Option<String>,
    evidence_ids: Vec<String>,
    at: DateTime<Utc>,
) -> AuditDraft {
    let after_view = audit_view(after);
    let (before_json, after_json) = match before {
        Some(b) => changed_fields(&audit_view(b), &after_view),
        None => (serde_json::Value::Null, after_view),
    };
    AuditDraft {
        at,
        actor_id: user.id.clone(),
        actor_roles: user.roles.clone(),
        action,
        case_id: Some(after.id.clone()),
        evidence_ids,
        before: before_json,
        after: after_json,
        note,
    }
}

/// Applies one workflow step. Pure: returns the new case and its audit event, or the reason
/// the step is refused.
pub fn apply(
    case: &Case,
    user: &User,
    transition: Transition,
    settings: &DeadlineSettings,
    now: DateTime<Utc>,
) -> Result<Applied, WorkflowError> {
    let kind = transition.action.kind();
    let from = case.status;
    let to = kind.to_state();
    state_check(case, kind)?;
    check_role(case, user, kind).map_err(|reason| WorkflowError::Forbidden {
        action: kind,
        from,
        to,
        user_id: user.id.clone(),
        reason,
    })?;
    let guard = |reason: GuardFailure| WorkflowError::Guard {
        action: kind,
        from,
        to,
        reason,
    };
    if blank(&transition.note) {
        return Err(guard(GuardFailure::NoteRequired));
    }
    if let Some(unknown) = transition
        .attachments
        .iter()
        .find(|id| !case.evidence_ids.contains(id))
    {
        return Err(guard(GuardFailure::UnknownAttachment {
            evidence_id: unknown.clone(),
        }));
    }
    ready(case, kind, settings, now).map_err(guard)?;

    let mut next = case.clone();
    match transition.action {
        Action::File => {
            stop_clock(&mut next, ClockKind::PreFilingCheck, now);
            start_clock(&mut next, ClockKind::Decision, now, settings);
        }
        Action::Reject { reason } => {
            if blank(&reason) {
                return Err(guard(GuardFailure::ReasonRequired));
            }
            stop_clock(&mut next, ClockKind::PreFilingCheck, now);
            next.rejection_reason = Some(reason);
        }
        Action::Refer { agency } => {
            if blank(&agency) {
                return Err(guard(GuardFailure::AgencyRequired));
            }
            stop_clock(&mut next, ClockKind::PreFilingCheck, now);
            next.referred_to = Some(agency);
        }
        Action::StartInvestigation => {}
        Action::IssuePreDecisionNotice {
            legal_basis,
            proposed_penalty,
        } => {
            let basis = legal_basis.or_else(|| case.legal_basis.clone());
            let basis = basis
                .filter(LegalBasis::is_complete)
                .ok_or_else(|| guard(GuardFailure::LegalBasisRequired))?;
            if !proposed_penalty.is_substantive() || proposed_penalty.fine_fen < 0 {
                return Err(guard(GuardFailure::PenaltyRequired));
            }
            next.legal_basis = Some(basis);
            next.proposed_penalty = Some(proposed_penalty);
            start_clock(&mut next, ClockKind::HearingRequest, now, settings);
        }
        Action::RequestHearing => {
            stop_clock(&mut next, ClockKind::HearingRequest, now);
            if let Some(c) = deadlines::clock_mut(&mut next, ClockKind::Decision) {
                c.pause(now, "hearing");
            }
            next.hearing = Some(Hearing {
                requested_at: now,
                held_at: None,
                presiding_officer_id: None,
            });
        }
        Action::HoldHearing {
            presiding_officer_id,
        } => {
            if blank(&presiding_officer_id) {
                return Err(guard(GuardFailure::PresidingOfficerRequired));
            }
            if case.officer_ids.contains(&presiding_officer_id) {
                return Err(guard(GuardFailure::PresidingOfficerIsInvestigator {
                    officer_id: presiding_officer_id,
                }));
            }
            if let Some(c) = deadlines::clock_mut(&mut next, ClockKind::Decision) {
                c.resume(now);
            }
            let requested_at = case.hearing.as_ref().map(|h| h.requested_at).unwrap_or(now);
            next.hearing = Some(Hearing {
                requested_at,
                held_at: Some(now),
                presiding_officer_id: Some(presiding_officer_id),
            });
        }
        Action::SubmitForLegalReview {
            party_waived_rights,
        } => {
            if from == CaseStatus::PreDecisionNotice
                && !party_waived_rights
                && !has_run_out(case, ClockKind::HearingRequest, settings, now)
            {
                return Err(guard(GuardFailure::HearingWindowOpen {
                    due_on: due_text(case, ClockKind::HearingRequest, settings),
                }));
            }
            stop_clock(&mut next, ClockKind::HearingRequest, now);
        }
        Action::Decide {
            decision,
            legal_basis,
        } => {
            let basis = legal_basis.or_else(|| case.legal_basis.clone());
            let basis = basis
                .filter(LegalBasis::is_complete)
                .ok_or_else(|| guard(GuardFailure::LegalBasisRequired))?;
            match &decision {
                Decision::Penalty(p) => {
                    if !p.is_substantive() || p.fine_fen < 0 {
                        return Err(guard(GuardFailure::PenaltyRequired));
                    }
                    let proposed_fen = case
                        .proposed_penalty
                        .as_ref()
                        .map(|pp| pp.fine_fen)
                        .unwrap_or(0);
                    if p.fine_fen > proposed_fen {
                        return Err(guard(GuardFailure::PenaltyAboveNotice {
                            proposed_fen,
                            decided_fen: p.fine_fen,
                        }));
                    }
                }
                Decision::NoPenalty { reason } => {
                    if blank(reason) {
                        return Err(guard(GuardFailure::NoPenaltyReasonRequired));
                    }
                }
            }
            next.legal_basis = Some(basis);
            next.decision = Some(decision);
            stop_clock(&mut next, ClockKind::Decision, now);
        }
        Action::Serve { method, recipient } => {
            if blank(&recipient) {
                return Err(guard(GuardFailure::RecipientRequired));
            }
            next.service = Some(Service {
                method,
                served_at: now,
                recipient,
            });
            if case.decision.as_ref().map(Decision::fine_fen).unwrap_or(0) > 0 {
                start_clock(&mut next, ClockKind::Payment, now, settings);
            }
        }
        Action::StartEnforcement => {
            next.enforcement = Some(Enforcement::new());
        }
        Action::RecordPayment {
            amount_fen,
            receipt_no,
        } => {
            if amount_fen <= 0 {
                return Err(guard(GuardFailure::AmountNotPositive));
            }
            if blank(&receipt_no) {
                return Err(guard(GuardFailure::ReceiptRequired));
            }
            let owed_before = amount_owed_fen(case, settings, now);
            if let Some(e) = next.enforcement.as_mut() {
                e.payments.push(Payment {
                    amount_fen,
                    paid_at: now,
                    receipt_no,
                });
                if amount_fen >= owed_before {
                    e.state = EnforcementState::Paid;
                }
            }
            if enforcement_state(&next) == Some(EnforcementState::Paid) {
                stop_clock(&mut next, ClockKind::Payment, now);
                stop_clock(&mut next, ClockKind::DemandPeriod, now);
            }
        }
        Action::GrantInstalments { plan } => {
            let owed = amount_owed_fen(case, settings, now);
            validate_plan(&plan, owed, local_date(now))
                .map_err(|reason| guard(GuardFailure::BadInstalmentPlan { reason }))?;
            stop_clock(&mut next, ClockKind::Payment, now);
            if let Some(e) = next.enforcement.as_mut() {
                e.instalments = plan;
                e.state = EnforcementState::Instalments;
            }
        }
        Action::MarkOverdue => {
            if let Some(e) = next.enforcement.as_mut() {
                e.state = EnforcementState::Overdue;
            }
        }
        Action::ServeDemand => {
            // The payment period is over; the demand period now says what the party owes by
            // when.
            stop_clock(&mut next, ClockKind::Payment, now);
            if let Some(e) = next.enforcement.as_mut() {
                e.state = EnforcementState::DemandServed;
                e.demand_served_at = Some(now);
            }
            start_clock(&mut next, ClockKind::DemandPeriod, now, settings);
        }
        Action::ApplyToCourt { court_case_no } => {
            stop_clock(&mut next, ClockKind::DemandPeriod, now);
            if let Some(e) = next.enforcement.as_mut() {
                e.state = EnforcementState::CourtApplication;
                e.court_applied_at = Some(now);
                e.court_case_no = court_case_no.filter(|n| !blank(n));
            }
        }
        Action::RecordCourtEnforced => {
            if let Some(e) = next.enforcement.as_mut() {
                e.state = EnforcementState::CourtEnforced;
            }
        }
        Action::Close => {
            next.closed_at = Some(now);
        }
        Action::Archive => {
            next.archived_at = Some(now);
        }
    }

    if to != from {
        next.history.push(StatusChange {
            from,
            to,
            at: now,
            by: user.id.clone(),
        });
        next.status = to;
    }
    next.updated_at = now;
    next.revision = case.revision.saturating_add(1);
    let event = change_event(
        Some(case),
        &next,
        user,
        AuditAction::Transition(kind),
        Some(transition.note),
        transition.attachments,
        now,
    );
    Ok(Applied {
        case: next,
        audit: vec![event],
    })
}

fn validate_plan(
    plan: &[Instalment],
    owed_fen: i64,
    today: chrono::NaiveDate,
) -> Result<(), String> {
    if plan.is_empty() {
        return Err("the plan has no instalments".to_string());
    }
    let mut last = today;
    let mut total = 0i64;
    for inst in plan {
        if inst.amount_fen <= 0 {
            return Err("every instalment must be positive".to_string());
        }
        if inst.due_on <= last {
            return Err("instalment dates must be in the future and increasing".to_string());
        }
        last = inst.due_on;
        total = total.saturating_add(inst.amount_fen);
    }
    if total != owed_fen {
        return Err(format!(
            "instalments add up to {total} fen but {owed_fen} fen is owed"
        ));
    }
    Ok(())
}

/// Edits to a case's details; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CasePatch {
    /// Facts as found.
    pub facts: Option<String>,
    /// The party.
    pub party: Option<Party>,
    /// Where it happened.
    pub location: Option<Location>,
    /// Legal basis.
    pub legal_basis: Option<LegalBasis>,
    /// Vehicle concerned.
    pub vehicle_id: Option<String>,
    /// Company concerned.
    pub company_id: Option<String>,
}

/// Edits case details (not the status). Allowed until the decision, by admins, dispatchers
/// (at intake) and assigned officers; audited with before and after.
pub fn update_details(
    case: &Case,
    user: &User,
    patch: CasePatch,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Applied, WorkflowError> {
    use CaseStatus as S;
    let editable = matches!(
        case.status,
        S::Intake
            | S::Filed
            | S::Investigating
            | S::PreDecisionNotice
            | S::HearingRequested
            | S::HearingHeld
            | S::LegalReview
    );
    if !editable {
        return Err(WorkflowError::NotEditable {
            status: case.status,
        });
    }
    let allowed = user.has_role(Role::Admin)
        || (user.has_role(Role::Dispatcher) && case.status == S::Intake)
        || user.is_assigned_to(case);
    if !allowed {
        return Err(WorkflowError::EditForbidden {
            user_id: user.id.clone(),
            reason: "needs admin, an assigned officer, or a dispatcher at intake".to_string(),
        });
    }
    if blank(note) {
        return Err(WorkflowError::InvalidEdit {
            reason: GuardFailure::NoteRequired.to_string(),
        });
    }
    if patch.location.as_ref().is_some_and(|l| !l.is_valid()) {
        return Err(WorkflowError::InvalidEdit {
            reason: "the location is not a valid WGS-84 point".to_string(),
        });
    }
    let mut next = case.clone();
    if let Some(facts) = patch.facts {
        next.facts = facts;
    }
    if let Some(party) = patch.party {
        next.party = Some(party);
    }
    if let Some(location) = patch.location {
        next.location = Some(location);
    }
    if let Some(basis) = patch.legal_basis {
        next.legal_basis = Some(basis);
    }
    if let Some(vehicle) = patch.vehicle_id {
        next.vehicle_id = Some(vehicle);
    }
    if let Some(company) = patch.company_id {
        next.company_id = Some(company);
    }
    next.updated_at = now;
    next.revision = case.revision.saturating_add(1);
    let event = change_event(
        Some(case),
        &next,
        user,
        AuditAction::CaseUpdated,
        Some(note.to_string()),
        Vec::new(),
        now,
    );
    Ok(Applied {
        case: next,
        audit: vec![event],
    })
}

/// Why an extension was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ExtensionError {
    /// Only the head approves extensions.
    #[error("user {user_id} may not extend deadlines (needs admin)")]
    Forbidden {
        /// Who tried.
        user_id: String,
    },
    /// No running clock of that kind.
    #[error("the case has no running {clock} clock")]
    NoRunningClock {
        /// The clock asked for.
        clock: &'static str,
    },
    /// Zero days, or more than the limit.
    #[error("an extension must be between 1 and {max} days")]
    BadLength {
        /// The most allowed at once.
        max: u32,
    },
    /// No reason given.
    #[error("an extension needs a reason")]
    ReasonRequired,
}

/// The longest single extension, in days (the decision clock's usual +30 with head approval;
/// longer ones need a collective decision, recorded as several approvals).
pub const MAX_EXTENSION_DAYS: u32 = 30;

/// Extends a running clock with the head's approval (e.g. the decision clock +30 days for a
/// complex case); audited like any change.
pub fn extend_deadline(
    case: &Case,
    user: &User,
    kind: ClockKind,
    days: u32,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Applied, ExtensionError> {
    if !user.has_role(Role::Admin) {
        return Err(ExtensionError::Forbidden {
            user_id: user.id.clone(),
        });
    }
    if days == 0 || days > MAX_EXTENSION_DAYS {
        return Err(ExtensionError::BadLength {
            max: MAX_EXTENSION_DAYS,
        });
    }
    if blank(reason) {
        return Err(ExtensionError::ReasonRequired);
    }
    let mut next = case.clone();
    let running = deadlines::clock_mut(&mut next, kind)
        .filter(|c| !c.is_stopped())
        .ok_or(ExtensionError::NoRunningClock {
            clock: kind.as_str(),
        })?;
    running.extended_days = running.extended_days.saturating_add(days);
    next.updated_at = now;
    next.revision = case.revision.saturating_add(1);
    let event = change_event(
        Some(case),
        &next,
        user,
        AuditAction::CaseUpdated,
        Some(format!(
            "{} extended by {days} days: {}",
            kind.as_str(),
            reason.trim()
        )),
        Vec::new(),
        now,
    );
    Ok(Applied {
        case: next,
        audit: vec![event],
    })
}
