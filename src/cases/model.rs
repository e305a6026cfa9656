//! The case file as plain data: what a case is, who touches it, what evidence it holds.
//!
//! Everything here is serde so the store can keep it as rows (or JSON columns) and the API can
//! hand it out unchanged; behaviour lives in the sibling modules (workflow, deadlines, audit).

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::ViolationKind;

use super::deadlines::Clock;

/// Categories of muck-truck offences that only people see (patrols, citizens, cameras): the
/// engine cannot derive them from positions, so they are not [`ViolationKind`]s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportCategory {
    /// 抛洒滴漏: waste falling from a truck onto the road.
    Spillage,
    /// 带泥上路 / 车容不洁: mud carried onto the road, dirty truck.
    MudOnRoad,
    /// Anything else a patrol or a citizen reports about muck transport.
    Other,
}

impl ReportCategory {
    /// Every category, in a stable order.
    pub const ALL: [ReportCategory; 3] = [
        ReportCategory::Spillage,
        ReportCategory::MudOnRoad,
        ReportCategory::Other,
    ];

    /// Stable snake_case name; never equal to a [`ViolationKind`] name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportCategory::Spillage => "spillage",
            ReportCategory::MudOnRoad => "mud_on_road",
            ReportCategory::Other => "other",
        }
    }

    /// Chinese label for documents and the console.
    pub fn label_zh(self) -> &'static str {
        match self {
            ReportCategory::Spillage => "抛洒滴漏",
            ReportCategory::MudOnRoad => "带泥上路",
            ReportCategory::Other => "其他渣土运输违法行为",
        }
    }
}

/// What a case is about: a kind the engine detects, or a category people report.
///
/// Serialised as one flat string (`"route_deviation"`, `"spillage"`) so the store and the API
/// can filter on it without knowing the two families apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CaseKind {
    /// A violation kind from the rule engine (patrols may also file these by hand).
    Violation(ViolationKind),
    /// A category only people can report.
    Report(ReportCategory),
}

impl CaseKind {
    /// Every kind, in a stable order (violation kinds first).
    pub fn all() -> Vec<CaseKind> {
        ViolationKind::ALL
            .into_iter()
            .map(CaseKind::Violation)
            .chain(ReportCategory::ALL.into_iter().map(CaseKind::Report))
            .collect()
    }

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseKind::Violation(kind) => kind.as_str(),
            CaseKind::Report(category) => category.as_str(),
        }
    }

    /// Inverse of [`CaseKind::as_str`].
    pub fn from_name(name: &str) -> Option<CaseKind> {
        ViolationKind::from_name(name)
            .map(CaseKind::Violation)
            .or_else(|| {
                ReportCategory::ALL
                    .into_iter()
                    .find(|c| c.as_str() == name)
                    .map(CaseKind::Report)
            })
    }

    /// Chinese label for documents and the console.
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseKind::Violation(kind) => kind.label_zh(),
            CaseKind::Report(category) => category.label_zh(),
        }
    }
}

impl fmt::Display for CaseKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CaseKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CaseKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        CaseKind::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown case kind `{name}`")))
    }
}

/// Where a case came from (案件来源).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseSource {
    /// Opened by the case policy from a violation the engine found.
    AutoViolation,
    /// Opened by an officer on patrol.
    Patrol,
    /// Opened from a citizen report (web form or the 12319 hotline).
    CitizenReport,
    /// Referred by another agency (移送).
    Referral,
}

impl CaseSource {
    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseSource::AutoViolation => "auto_violation",
            CaseSource::Patrol => "patrol",
            CaseSource::CitizenReport => "citizen_report",
            CaseSource::Referral => "referral",
        }
    }

    /// Chinese label for documents.
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseSource::AutoViolation => "监控平台自动发现",
            CaseSource::Patrol => "巡查发现",
            CaseSource::CitizenReport => "群众举报",
            CaseSource::Referral => "其他部门移送",
        }
    }
}

/// Where a case stands in the ordinary administrative-penalty procedure (普通程序).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// 受理: a clue is registered and awaits the pre-filing check.
    Intake,
    /// 立案: filing approved; the 90-day decision clock runs.
    Filed,
    /// 不予立案: not filed.
    Rejected,
    /// 移送: handed to the competent agency.
    Referred,
    /// 调查取证: at least two officers collect evidence.
    Investigating,
    /// 事先告知: the party was told the facts, basis and intended penalty, and its rights.
    PreDecisionNotice,
    /// 听证申请: the party asked for a hearing.
    HearingRequested,
    /// 听证: the hearing took place.
    HearingHeld,
    /// 法制审核: legal review of the draft decision.
    LegalReview,
    /// 决定: penalty or no-penalty decision made.
    Decided,
    /// 送达: the decision was served on the party.
    Served,
    /// 执行: payment, instalments, demand, court application.
    Enforcing,
    /// 结案: closed.
    Closed,
    /// 归档: archived (一案一卷); nothing changes any more.
    Archived,
}

impl CaseStatus {
    /// Every status, in workflow order.
    pub const ALL: [CaseStatus; 14] = [
        CaseStatus::Intake,
        CaseStatus::Filed,
        CaseStatus::Rejected,
        CaseStatus::Referred,
        CaseStatus::Investigating,
        CaseStatus::PreDecisionNotice,
        CaseStatus::HearingRequested,
        CaseStatus::HearingHeld,
        CaseStatus::LegalReview,
        CaseStatus::Decided,
        CaseStatus::Served,
        CaseStatus::Enforcing,
        CaseStatus::Closed,
        CaseStatus::Archived,
    ];

    /// Stable snake_case name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Intake => "intake",
            CaseStatus::Filed => "filed",
            CaseStatus::Rejected => "rejected",
            CaseStatus::Referred => "referred",
            CaseStatus::Investigating => "investigating",
            CaseStatus::PreDecisionNotice => "pre_decision_notice",
            CaseStatus::HearingRequested => "hearing_requested",
            CaseStatus::HearingHeld => "hearing_held",
            CaseStatus::LegalReview => "legal_review",
            CaseStatus::Decided => "decided",
            CaseStatus::Served => "served",
            CaseStatus::Enforcing => "enforcing",
            CaseStatus::Closed => "closed",
            CaseStatus::Archived => "archived",
        }
    }

    /// Inverse of [`CaseStatus::as_str`].
    pub fn from_name(name: &str) -> Option<CaseStatus> {
        CaseStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Chinese label for the console and the public progress page.
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseStatus::Intake => "受理",
            CaseStatus::Filed => "立案",
            CaseStatus::Rejected => "不予立案",
            CaseStatus::Referred => "移送",
            CaseStatus::Investigating => "调查取证",
            CaseStatus::PreDecisionNotice => "事先告知",
            CaseStatus::HearingRequested => "听证申请",
            CaseStatus::HearingHeld => "听证",
            CaseStatus::LegalReview => "法制审核",
            CaseStatus::Decided => "作出决定",
            CaseStatus::Served => "送达",
            CaseStatus::Enforcing => "执行",
            CaseStatus::Closed => "结案",
            CaseStatus::Archived => "归档",
        }
    }

    /// Whether officers still work on the case: it counts towards their load and can take new
    /// violations or deadlines. Rejected, referred, closed and archived cases are finished.
    pub fn is_active(self) -> bool {
        !matches!(
            self,
            CaseStatus::Rejected | CaseStatus::Referred | CaseStatus::Closed | CaseStatus::Archived
        )
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the party is an organisation or a person; the on-the-spot fine caps and the
/// document wording differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    /// A company or other organisation (单位).
    Organisation,
    /// A natural person (个人), e.g. the driver.
    Individual,
}

/// The party (当事人) the case is against, as printed on the documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    /// Organisation or person.
    pub kind: PartyKind,
    /// Registered name or the person's name.
    pub name: String,
    /// USCC for organisations, ID card number for persons.
    pub id_number: Option<String>,
    /// Address for service of documents.
    pub address: Option<String>,
    /// Legal representative (法定代表人) of an organisation.
    pub legal_representative: Option<String>,
    /// Contact phone.
    pub phone: Option<String>,
}

/// A WGS-84 point with an optional human address, for where the offence happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude, WGS-84 degrees.
    pub lat: f64,
    /// Longitude, WGS-84 degrees.
    pub lon: f64,
    /// Address or landmark as officers write it on documents.
    pub address: Option<String>,
}

impl Location {
    /// A location without an address.
    pub fn point(lat: f64, lon: f64) -> Location {
        Location {
            lat,
            lon,
            address: None,
        }
    }

    /// Whether the coordinates are finite and within WGS-84 range.
    pub fn is_valid(&self) -> bool {
        self.lat.is_finite()
            && self.lon.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lon)
    }
}

/// The legal basis a decision rests on; required before any decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalBasis {
    /// The provision breached (违反的条款), e.g. 《柳州市城市建筑垃圾管理规定》第十五条.
    pub provision_breached: String,
    /// The provision the penalty is imposed under (处罚依据).
    pub penalty_provision: String,
    /// The discretion grade applied (裁量档次), when the local table has one.
    pub discretion_grade: Option<String>,
}

impl LegalBasis {
    /// Whether both provisions are actually filled in.
    pub fn is_complete(&self) -> bool {
        !self.provision_breached.trim().is_empty() && !self.penalty_provision.trim().is_empty()
    }
}

/// The penalty imposed (or proposed in the pre-decision notice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    /// A warning (警告).
    pub warning: bool,
    /// Fine in fen (0.01 yuan); integer so sums and surcharges never round.
    pub fine_fen: i64,
    /// Confiscation of illegal gains or property, as worded on the decision.
    pub confiscation: Option<String>,
    /// Other measures (e.g. suspension of the transport permit), as worded.
    pub other: Option<String>,
}

impl Penalty {
    /// Whether the penalty actually imposes something.
    pub fn is_substantive(&self) -> bool {
        self.warning
            || self.fine_fen > 0
            || self
                .confiscation
                .as_ref()
                .is_some_and(|c| !c.trim().is_empty())
            || self.other.as_ref().is_some_and(|o| !o.trim().is_empty())
    }
}

/// A penalty or an explicit decision not to penalise (不予处罚).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Decision {
    /// 行政处罚决定: a penalty.
    Penalty(Penalty),
    /// 不予行政处罚决定: no penalty, with the reason (e.g. minor and corrected in time).
    NoPenalty {
        /// Why no penalty is imposed; printed on the decision.
        reason: String,
    },
}

impl Decision {
    /// The fine to collect, in fen (0 for no penalty or no fine).
    pub fn fine_fen(&self) -> i64 {
        match self {
            Decision::Penalty(p) => p.fine_fen.max(0),
            Decision::NoPenalty { .. } => 0,
        }
    }
}

/// The hearing (听证), when the party asked for one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hearing {
    /// When the request was received.
    pub requested_at: DateTime<Utc>,
    /// When the hearing was held.
    pub held_at: Option<DateTime<Utc>>,
    /// Officer presiding; by law not one of the investigators.
    pub presiding_officer_id: Option<String>,
}

/// How a document was served (送达方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMethod {
    /// 直接送达: handed to the party.
    Direct,
    /// 留置送达: left at the premises with witnesses.
    LeftAtPremises,
    /// 邮寄送达: by post.
    Post,
    /// 电子送达: electronically, with the party's consent.
    Electronic,
    /// 公告送达: by public notice.
    PublicNotice,
}

impl ServiceMethod {
    /// Chinese label for the service receipt.
    pub fn label_zh(self) -> &'static str {
        match self {
            ServiceMethod::Direct => "直接送达",
            ServiceMethod::LeftAtPremises => "留置送达",
            ServiceMethod::Post => "邮寄送达",
            ServiceMethod::Electronic => "电子送达",
            ServiceMethod::PublicNotice => "公告送达",
        }
    }
}

/// The service (送达) of the decision; starts the payment clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// How it was served.
    pub method: ServiceMethod,
    /// When it was served.
    pub served_at: DateTime<Utc>,
    /// Who received it (name as signed on the receipt).
    pub recipient: String,
}

/// Where collection of a fine stands inside the `enforcing` stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementState {
    /// Waiting for the party to pay within the payment period.
    AwaitingPayment,
    /// Deferred or instalment payment granted (延期/分期缴纳).
    Instalments,
    /// The payment period passed without full payment.
    Overdue,
    /// A written demand (催告书) was served; the party has 10 days.
    DemandServed,
    /// Compulsory enforcement was applied for at the court.
    CourtApplication,
    /// The court reported enforcement complete.
    CourtEnforced,
    /// Paid in full.
    Paid,
}

impl EnforcementState {
    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            EnforcementState::AwaitingPayment => "awaiting_payment",
            EnforcementState::Instalments => "instalments",
            EnforcementState::Overdue => "overdue",
            EnforcementState::DemandServed => "demand_served",
            EnforcementState::CourtApplication => "court_application",
            EnforcementState::CourtEnforced => "court_enforced",
            EnforcementState::Paid => "paid",
        }
    }
}

/// One payment received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// Amount in fen.
    pub amount_fen: i64,
    /// When it was received.
    pub paid_at: DateTime<Utc>,
    /// Bank or non-tax receipt number (缴款书号), for reconciliation.
    pub receipt_no: String,
}

/// One instalment of an approved instalment plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instalment {
    /// Last local day to pay this instalment.
    pub due_on: NaiveDate,
    /// Amount in fen.
    pub amount_fen: i64,
}

/// The collection of a fine (执行).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enforcement {
    /// Where collection stands.
    pub state: EnforcementState,
    /// Payments received, in order.
    pub payments: Vec<Payment>,
    /// The approved instalment plan; empty when none.
    pub instalments: Vec<Instalment>,
    /// When the written demand was served.
    pub demand_served_at: Option<DateTime<Utc>>,
    /// When compulsory enforcement was applied for.
    pub court_applied_at: Option<DateTime<Utc>>,
    /// The court's case number, once known.
    pub court_case_no: Option<String>,
}

impl Enforcement {
    /// A fresh enforcement waiting for payment.
    pub fn new() -> Enforcement {
        Enforcement {
            state: EnforcementState::AwaitingPayment,
            payments: Vec::new(),
            instalments: Vec::new(),
            demand_served_at: None,
            court_applied_at: None,
            court_case_no: None,
        }
    }

    /// Total received, in fen.
    pub fn paid_fen(&self) -> i64 {
        self.payments
            .iter()
            .fold(0i64, |sum, p| sum.saturating_add(p.amount_fen.max(0)))
    }
}

impl Default for Enforcement {
    fn default() -> Self {
        Enforcement::new()
    }
}

/// One status change, kept on the case for the timeline and the public progress page (the
/// audit chain holds the authoritative record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Status before.
    pub from: CaseStatus,
    /// Status after.
    pub to: CaseStatus,
    /// When.
    pub at: DateTime<Utc>,
    /// User id of who made it.
    pub by: String,
}

/// An enforcement case (案件).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// Internal id, allocated by the store.
    pub id: String,
    /// Printed case number in the unified format, see [`super::numbering`].
    pub number: String,
    /// What the case is about.
    pub kind: CaseKind,
    /// Where it came from.
    pub source: CaseSource,
    /// Current stage.
    pub status: CaseStatus,
    /// Vehicle concerned, when known.
    pub vehicle_id: Option<String>,
    /// Terminal phone, so cases about unregistered terminals can still be matched.
    pub terminal_phone: Option<String>,
    /// Company concerned; company users see only their own company's cases.
    pub company_id: Option<String>,
    /// The party the case is against.
    pub party: Option<Party>,
    /// Violations linked to the case (one or more episodes of the same kind).
    pub violation_ids: Vec<String>,
    /// Start of the latest linked violation episode, for the policy's join window.
    pub last_episode_at: Option<DateTime<Utc>>,
    /// Where it happened.
    pub location: Option<Location>,
    /// Enforcement district zone (model::Zone of kind District), set by dispatch.
    pub district_zone_id: Option<String>,
    /// Facts as found (违法事实), printed on the documents.
    pub facts: String,
    /// Legal basis; required before a decision.
    pub legal_basis: Option<LegalBasis>,
    /// Penalty proposed in the pre-decision notice.
    pub proposed_penalty: Option<Penalty>,
    /// The decision.
    pub decision: Option<Decision>,
    /// The hearing, if one was requested.
    pub hearing: Option<Hearing>,
    /// Service of the decision.
    pub service: Option<Service>,
    /// Collection of the fine.
    pub enforcement: Option<Enforcement>,
    /// Officers assigned (at least two to investigate).
    pub officer_ids: Vec<String>,
    /// Evidence records attached to the case.
    pub evidence_ids: Vec<String>,
    /// Legal deadline clocks.
    pub clocks: Vec<Clock>,
    /// Status changes, oldest first.
    pub history: Vec<StatusChange>,
    /// Agency the case was referred to, when referred.
    pub referred_to: Option<String>,
    /// Why the case was rejected or closed without penalty, when it was.
    pub rejection_reason: Option<String>,
    /// Citizen-report tracking number, for cases from citizen reports.
    pub tracking_number: Option<String>,
    /// When the case was opened (intake).
    pub opened_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was closed (结案).
    pub closed_at: Option<DateTime<Utc>>,
    /// When it was archived.
    pub archived_at: Option<DateTime<Utc>>,
    /// Incremented on every change; the store updates with `WHERE revision = old` so two
    /// concurrent edits cannot silently overwrite each other.
    pub revision: u64,
}

impl Case {
    /// A fresh case at intake with everything else empty; the opening functions in
    /// [`super::intake`] fill it in.
    pub fn new_intake(
        id: String,
        number: String,
        kind: CaseKind,
        source: CaseSource,
        opened_at: DateTime<Utc>,
    ) -> Case {
        Case {
            id,
            number,
            kind,
            source,
            status: CaseStatus::Intake,
            vehicle_id: None,
            terminal_phone: None,
            company_id: None,
            party: None,
            violation_ids: Vec::new(),
            last_episode_at: None,
            location: None,
            district_zone_id: None,
            facts: String::new(),
            legal_basis: None,
            proposed_penalty: None,
            decision: None,
            hearing: None,
            service: None,
            enforcement: None,
            officer_ids: Vec::new(),
            evidence_ids: Vec::new(),
            clocks: Vec::new(),
            history: Vec::new(),
            referred_to: None,
            rejection_reason: None,
            tracking_number: None,
            opened_at,
            updated_at: opened_at,
            closed_at: None,
            archived_at: None,
            revision: 0,
        }
    }

    /// When the case entered `status` most recently, from its history (intake is the opening).
    pub fn entered_at(&self, status: CaseStatus) -> Option<DateTime<Utc>> {
        if status == CaseStatus::Intake && self.history.iter().all(|h| h.to != status) {
            return Some(self.opened_at);
        }
        self.history
            .iter()
            .rev()
            .find(|h| h.to == status)
            .map(|h| h.at)
    }
}

/// The roles users hold; a user may hold several (a squad leader is officer and dispatcher).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Bureau head / system administrator: approves filing, decisions, closing, archiving.
    Admin,
    /// Command-centre dispatcher: triages intake, assigns and reassigns officers.
    Dispatcher,
    /// Enforcement officer (执法队员): investigates, notifies, serves, collects.
    Officer,
    /// A transport company's user: sees its own cases, may request a hearing on them.
    Company,
    /// Auditor / legal reviewer: reads everything, changes nothing.
    Auditor,
}

impl Role {
    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Dispatcher => "dispatcher",
            Role::Officer => "officer",
            Role::Company => "company",
            Role::Auditor => "auditor",
        }
    }

    /// Inverse of [`Role::as_str`], for role names coming from the API's principals.
    pub fn from_name(name: &str) -> Option<Role> {
        [
            Role::Admin,
            Role::Dispatcher,
            Role::Officer,
            Role::Company,
            Role::Auditor,
        ]
        .into_iter()
        .find(|r| r.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A person (or the system) acting on cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// User id; recorded in every audit event.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Roles held.
    pub roles: Vec<Role>,
    /// For company users: the company they belong to.
    pub company_id: Option<String>,
    /// For officers: their registry officer id (model::Officer), matched against assignments.
    pub officer_id: Option<String>,
}

/// Id of the built-in actor that opens cases from violations and runs dispatch.
pub const SYSTEM_USER_ID: &str = "system";

impl User {
    /// The built-in system actor (policy, auto-dispatch). It holds no role, so it can never
    /// pass a workflow role check.
    pub fn system() -> User {
        User {
            id: SYSTEM_USER_ID.to_string(),
            name: "系统".to_string(),
            roles: Vec::new(),
            company_id: None,
            officer_id: None,
        }
    }

    /// Whether the user holds `role`.
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the user is an officer assigned to `case`.
    pub fn is_assigned_to(&self, case: &Case) -> bool {
        self.has_role(Role::Officer)
            && self
                .officer_id
                .as_ref()
                .is_some_and(|id| case.officer_ids.contains(id))
    }

    /// Whether the user may read `case` (and its evidence): staff roles see all cases, company
    /// users only their own company's.
    pub fn can_view(&self, case: &Case) -> bool {
        if self.has_role(Role::Admin)
            || self.has_role(Role::Dispatcher)
            || self.has_role(Role::Auditor)
            || self.has_role(Role::Officer)
        {
            return true;
        }
        self.has_role(Role::Company)
            && self.company_id.is_some()
            && self.company_id == case.company_id
    }
}

/// Kinds of evidence (证据种类).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// Track extract from the platform (电子数据).
    TrackExtract,
    /// Photo.
    Photo,
    /// Video (body camera, road camera).
    Video,
    /// Audio recording.
    Audio,
    /// Inquiry or inspection record (询问笔录 / 现场检查笔录).
    Record,
    /// ANPR camera image.
    AnprImage,
    /// A signed document (scanned 送达回证 etc.).
    Document,
    /// Anything else.
    Other,
}

impl EvidenceKind {
    /// Chinese label for documents.
    pub fn label_zh(self) -> &'static str {
        match self {
            EvidenceKind::TrackExtract => "电子数据（轨迹）",
            EvidenceKind::Photo => "照片",
            EvidenceKind::Video => "视频",
            EvidenceKind::Audio => "录音",
            EvidenceKind::Record => "笔录",
            EvidenceKind::AnprImage => "卡口抓拍",
            EvidenceKind::Document => "书证",
            EvidenceKind::Other => "其他",
        }
    }
}

/// One evidence file: its bytes live in the evidence store (write-once), this record holds
/// what proves they are unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Evidence id, allocated by the store.
    pub id: String,
    /// Case it belongs to.
    pub case_id: String,
    /// What it is.
    pub kind: EvidenceKind,
    /// File name as uploaded (for display only; never used as a path).
    pub file_name: String,
    /// MIME type as uploaded.
    pub media_type: String,
    /// SHA-256 of the bytes, lowercase hex, computed on upload.
    pub sha256: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// User id of the uploader.
    pub uploaded_by: String,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// When it was captured, if known (photo time, track span start).
    pub captured_at: Option<DateTime<Utc>>,
    /// Free description (what it shows).
    pub description: String,
}
