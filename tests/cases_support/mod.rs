//! Fixtures shared by the `cases_*` integration tests: users, violations, and a runner that
//! drives a case through the workflow while sealing every audit event into a chain.
#![allow(dead_code)]

use chrono::{DateTime, Duration, NaiveDate, Utc};
use haulwatch::cases::audit::{AuditDraft, AuditEvent, ChainHead};
use haulwatch::cases::deadlines::DeadlineSettings;
use haulwatch::cases::intake::open_from_violation;
use haulwatch::cases::model::{
    Case, CaseStatus, Decision, LegalBasis, Location, Party, PartyKind, Penalty, Role, User,
};
use haulwatch::cases::workflow::{
    Action, ActionKind, Applied, CasePatch, Transition, WorkflowError, apply, update_details,
};
use haulwatch::model::{Violation, ViolationKind, ViolationStatus};

/// An instant given in Liuzhou local time (UTC+8).
pub fn local(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|day| day.and_hms_opt(h, min, 0))
        .map(|t| t.and_utc() - Duration::hours(8))
        .expect("valid local time")
}

/// A local date.
pub fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

pub fn user(id: &str, roles: &[Role]) -> User {
    User {
        id: id.to_string(),
        name: format!("用户{id}"),
        roles: roles.to_vec(),
        company_id: None,
        officer_id: None,
    }
}

pub fn admin() -> User {
    user("admin1", &[Role::Admin])
}

pub fn dispatcher() -> User {
    user("disp1", &[Role::Dispatcher])
}

pub fn auditor() -> User {
    user("aud1", &[Role::Auditor])
}

/// An officer user whose registry officer id is `officer_id`.
pub fn officer(officer_id: &str) -> User {
    User {
        officer_id: Some(officer_id.to_string()),
        ..user(&format!("u-{officer_id}"), &[Role::Officer])
    }
}

pub fn company_user(company_id: &str) -> User {
    User {
        company_id: Some(company_id.to_string()),
        ..user(&format!("u-{company_id}"), &[Role::Company])
    }
}

/// A violation of `kind` by `vehicle` starting at `start`, lasting `minutes` (open if `None`).
pub fn violation(
    id: &str,
    kind: ViolationKind,
    vehicle: &str,
    start: DateTime<Utc>,
    minutes: Option<i64>,
) -> Violation {
    Violation {
        id: id.to_string(),
        kind,
        vehicle_id: Some(vehicle.to_string()),
        phone: "013912345678".to_string(),
        company_id: Some("co1".to_string()),
        permit_id: Some("p1".to_string()),
        started_at: start,
        ended_at: minutes.map(|m| start + Duration::minutes(m)),
        status: if minutes.is_some() {
            ViolationStatus::Closed
        } else {
            ViolationStatus::Open
        },
        lat: 24.3245,
        lon: 109.4070,
        severity: 2,
        evidence: serde_json::json!({"positions": []}),
    }
}

pub fn legal_basis() -> LegalBasis {
    LegalBasis {
        provision_breached: "《柳州市城市建筑垃圾管理规定》第十五条".to_string(),
        penalty_provision: "《柳州市城市建筑垃圾管理规定》第三十条".to_string(),
        discretion_grade: Some("一般".to_string()),
    }
}

pub fn party() -> Party {
    Party {
        kind: PartyKind::Organisation,
        name: "柳州市某某运输有限公司".to_string(),
        id_number: Some("91450200MA5K000000".to_string()),
        address: Some("柳州市柳南区某路1号".to_string()),
        legal_representative: Some("张三".to_string()),
        phone: Some("0772-0000000".to_string()),
    }
}

pub fn fine(fen: i64) -> Penalty {
    Penalty {
        warning: false,
        fine_fen: fen,
        confiscation: None,
        other: None,
    }
}

/// A transition with a note and no attachments.
pub fn step(action: Action) -> Transition {
    Transition {
        action,
        note: "依程序办理".to_string(),
        attachments: Vec::new(),
    }
}

/// An action of `kind` with plausible data, for matrix tests.
pub fn sample_action(kind: ActionKind) -> Action {
    match kind {
        ActionKind::File => Action::File,
        ActionKind::Reject => Action::Reject {
            reason: "证据不足".to_string(),
        },
        ActionKind::Refer => Action::Refer {
            agency: "柳州市公安局交通警察支队".to_string(),
        },
        ActionKind::StartInvestigation => Action::StartInvestigation,
        ActionKind::IssuePreDecisionNotice => Action::IssuePreDecisionNotice {
            legal_basis: Some(legal_basis()),
            proposed_penalty: fine(1_000_000),
        },
        ActionKind::RequestHearing => Action::RequestHearing,
        ActionKind::HoldHearing => Action::HoldHearing {
            presiding_officer_id: "o9".to_string(),
        },
        ActionKind::SubmitForLegalReview => Action::SubmitForLegalReview {
            party_waived_rights: true,
        },
        ActionKind::Decide => Action::Decide {
            decision: Decision::Penalty(fine(800_000)),
            legal_basis: None,
        },
        ActionKind::Serve => Action::Serve {
            method: haulwatch::cases::model::ServiceMethod::Direct,
            recipient: "李四".to_string(),
        },
        ActionKind::StartEnforcement => Action::StartEnforcement,
        ActionKind::RecordPayment => Action::RecordPayment {
            amount_fen: 800_000,
            receipt_no: "R-0001".to_string(),
        },
        ActionKind::GrantInstalments => Action::GrantInstalments { plan: Vec::new() },
        ActionKind::MarkOverdue => Action::MarkOverdue,
        ActionKind::ServeDemand => Action::ServeDemand,
        ActionKind::ApplyToCourt => Action::ApplyToCourt {
            court_case_no: None,
        },
        ActionKind::RecordCourtEnforced => Action::RecordCourtEnforced,
        ActionKind::Close => Action::Close,
        ActionKind::Archive => Action::Archive,
    }
}

/// Drives one case and keeps its sealed audit chain.
pub struct Runner {
    pub case: Case,
    pub settings: DeadlineSettings,
    pub head: ChainHead,
    pub events: Vec<AuditEvent>,
    pub now: DateTime<Utc>,
}

/// Opening time of the standard case: Monday 2 March 2026, 09:00 local.
pub fn t0() -> DateTime<Utc> {
    local(2026, 3, 2, 9, 0)
}

impl Runner {
    /// A case opened by the policy from a lid-open violation of vehicle v1 (company co1).
    pub fn new() -> Runner {
        let settings = DeadlineSettings::default();
        let v = violation(
            "vio-1",
            ViolationKind::LidOpen,
            "v1",
            t0() - Duration::hours(1),
            Some(10),
        );
        let opened = open_from_violation(
            &v,
            "case-1".to_string(),
            "柳城管罚〔2026〕第000001号".to_string(),
            &settings,
            t0(),
        );
        let mut runner = Runner {
            case: opened.case.clone(),
            settings,
            head: ChainHead::genesis(),
            events: Vec::new(),
            now: t0(),
        };
        runner.seal(opened.audit);
        runner
    }

    pub fn seal(&mut self, drafts: Vec<AuditDraft>) {
        for d in drafts {
            self.events.push(self.head.seal(d));
        }
    }

    pub fn absorb(&mut self, applied: Applied) {
        self.case = applied.case;
        self.seal(applied.audit);
    }

    /// Moves the clock forward.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Applies a transition at the runner's current time.
    pub fn try_step(&mut self, who: &User, t: Transition) -> Result<(), WorkflowError> {
        let applied = apply(&self.case, who, t, &self.settings, self.now)?;
        self.absorb(applied);
        Ok(())
    }

    pub fn must(&mut self, who: &User, action: Action) {
        let kind = action.kind();
        if let Err(e) = self.try_step(who, step(action)) {
            panic!("{kind} by {} failed: {e}", who.id);
        }
    }

    /// Assigns officers o1 and o2 (as dispatch would) and records party, facts and basis.
    pub fn prepare(&mut self) {
        self.case.officer_ids = vec!["o1".to_string(), "o2".to_string()];
        let patch = CasePatch {
            facts: Some("驾驶渣土车未密闭运输建筑垃圾，沿途抛洒。".to_string()),
            party: Some(party()),
            location: Some(Location {
                lat: 24.3245,
                lon: 109.407,
                address: Some("柳州市城中区龙城路".to_string()),
            }),
            legal_basis: Some(legal_basis()),
            vehicle_id: None,
            company_id: None,
        };
        let applied = update_details(&self.case, &officer("o1"), patch, "补充案件信息", self.now)
            .expect("officer may edit");
        self.absorb(applied);
    }

    /// Drives the case to `target` along the standard path (with a hearing, a fine, payment).
    pub fn drive_to(&mut self, target: CaseStatus) {
        use CaseStatus as S;
        self.prepare();
        if self.case.status == target {
            return;
        }
        match target {
            S::Rejected => return self.must(&dispatcher(), sample_action(ActionKind::Reject)),
            S::Referred => return self.must(&dispatcher(), sample_action(ActionKind::Refer)),
            _ => {}
        }
        let path: [(User, ActionKind, Duration); 12] = [
            (dispatcher(), ActionKind::File, Duration::hours(2)),
            (
                officer("o1"),
                ActionKind::StartInvestigation,
                Duration::days(1),
            ),
            (
                officer("o1"),
                ActionKind::IssuePreDecisionNotice,
                Duration::days(7),
            ),
            (
                company_user("co1"),
                ActionKind::RequestHearing,
                Duration::days(2),
            ),
            (officer("o1"), ActionKind::HoldHearing, Duration::days(10)),
            (
                officer("o2"),
                ActionKind::SubmitForLegalReview,
                Duration::days(1),
            ),
            (admin(), ActionKind::Decide, Duration::days(3)),
            (officer("o2"), ActionKind::Serve, Duration::days(1)),
            (
                officer("o1"),
                ActionKind::StartEnforcement,
                Duration::hours(1),
            ),
            (officer("o1"), ActionKind::RecordPayment, Duration::days(5)),
            (admin(), ActionKind::Close, Duration::days(1)),
            (admin(), ActionKind::Archive, Duration::days(30)),
        ];
        for (who, kind, wait) in path {
            if self.case.status == target {
                return;
            }
            self.advance(wait);
            let action = match kind {
                ActionKind::SubmitForLegalReview => Action::SubmitForLegalReview {
                    party_waived_rights: false,
                },
                other => sample_action(other),
            };
            self.must(&who, action);
        }
        assert_eq!(
            self.case.status, target,
            "standard path did not reach {target}"
        );
    }
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}
