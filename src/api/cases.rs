//! Enforcement cases: list, detail, opening by hand, workflow steps, reassignment, evidence
//! upload and download, printable documents. The case service does the work and enforces the
//! workflow's roles; this module translates between the console's JSON (docs/api.md, the
//! console's `cases.js` and `case-detail.js`) and the service's types.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use super::ApiState;
use super::auth::Caller;
use super::common::{ApiJson, ApiQuery, check_cursor, check_id, check_lat_lon, check_limit};
use super::error::{ApiError, ApiResult, ErrorBody};
use crate::cases::deadlines::{ClockKind, ClockState, ClockStatus};
use crate::cases::documents::DocumentKind;
use crate::cases::evidence::{EvidenceAccess, EvidenceUpload};
use crate::cases::intake::NewCase;
use crate::cases::model::{
    Case, CaseKind, CaseSource, CaseStatus, Decision, Evidence, EvidenceKind, Instalment,
    LegalBasis, Location, Penalty, Role, ServiceMethod,
};
use crate::cases::service::{CaseDetail, CaseFilter, CaseListItem};
use crate::cases::workflow::{Action, ActionKind, AvailableAction, GuardFailure, Transition};
use crate::model::local_offset;
use crate::store::Store;

/// Longest free text (description, note, reason) accepted.
const MAX_TEXT: usize = 4000;
/// Longest evidence file name accepted.
const MAX_FILE_NAME: usize = 255;

/// Routes of this module.
pub(super) fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list_cases, create_case))
        .routes(routes!(case_detail))
        .routes(routes!(transition))
        .routes(routes!(assign))
        .routes(
            routes!(upload_evidence)
                .layer(axum::extract::DefaultBodyLimit::max(super::EVIDENCE_LIMIT)),
        )
        .routes(routes!(download_evidence))
        .routes(routes!(document))
}

// ---------------------------------------------------------------------------------------
// Names the console uses

/// The API's name of a case source (the console's vocabulary: `auto`, `patrol`, `citizen`,
/// `referral`).
pub fn source_name(source: CaseSource) -> &'static str {
    match source {
        CaseSource::AutoViolation => "auto",
        CaseSource::Patrol => "patrol",
        CaseSource::CitizenReport => "citizen",
        CaseSource::Referral => "referral",
    }
}

/// A case source from its API name (the store's names are accepted too).
fn parse_source(name: &str) -> Option<CaseSource> {
    match name {
        "auto" | "auto_violation" => Some(CaseSource::AutoViolation),
        "patrol" => Some(CaseSource::Patrol),
        "citizen" | "citizen_report" => Some(CaseSource::CitizenReport),
        "referral" => Some(CaseSource::Referral),
        _ => None,
    }
}

/// The API's name of an evidence kind (`track` for a track extract; the others as the model
/// names them).
fn evidence_kind_name(kind: EvidenceKind) -> String {
    match kind {
        EvidenceKind::TrackExtract => "track".to_string(),
        other => enum_name(&other),
    }
}

/// An evidence kind from its API name.
fn parse_evidence_kind(name: &str) -> Option<EvidenceKind> {
    let model_name = if name == "track" {
        "track_extract"
    } else {
        name
    };
    serde_json::from_value(Value::String(model_name.to_string())).ok()
}

/// The API's name of a document kind (`decision` for the decision notice, as docs/api.md
/// lists it).
fn document_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::DecisionNotice => "decision",
        other => other.as_str(),
    }
}

/// A document kind from its API name (the model's names are accepted too).
fn parse_document(name: &str) -> Option<DocumentKind> {
    match name {
        "decision" => Some(DocumentKind::DecisionNotice),
        other => DocumentKind::from_name(other),
    }
}

/// The console's name of a legal clock.
fn clock_name(kind: ClockKind) -> &'static str {
    match kind {
        ClockKind::PreFilingCheck => "check_deadline",
        ClockKind::Decision => "decision_deadline",
        ClockKind::HearingRequest => "hearing_request_deadline",
        ClockKind::Payment => "payment_deadline",
        ClockKind::DemandPeriod => "demand_deadline",
    }
}

/// The snake_case name serde gives a unit enum variant.
fn enum_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Response shapes

/// Where a legal clock stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeadlineItem {
    /// Clock name (`check_deadline`, `decision_deadline`, `hearing_request_deadline`,
    /// `payment_deadline`, `demand_deadline`).
    pub name: String,
    /// End of the last day (Asia/Shanghai midnight), null while paused.
    pub due: Option<DateTime<Utc>>,
    /// The last local day.
    pub due_on: Option<NaiveDate>,
    /// Days from today to the last day (negative once overdue).
    pub days_left: Option<i64>,
    /// `running`, `due_soon`, `overdue`, `paused`, `met`, `met_late`.
    pub state: String,
    /// Running past its last day.
    pub overdue: bool,
    /// Running and due within the due-soon margin.
    pub due_soon: bool,
    /// Paused (e.g. during a hearing).
    pub paused: bool,
}

impl DeadlineItem {
    fn from_status(status: &ClockStatus) -> DeadlineItem {
        let due = status.due_on.and_then(end_of_local_day);
        DeadlineItem {
            name: clock_name(status.kind).to_string(),
            due,
            due_on: status.due_on,
            days_left: status.days_left,
            state: enum_name(&status.state),
            overdue: status.state == ClockState::Overdue,
            due_soon: status.state == ClockState::DueSoon,
            paused: status.state == ClockState::Paused,
        }
    }
}

/// The instant a local (Asia/Shanghai) day ends.
fn end_of_local_day(day: NaiveDate) -> Option<DateTime<Utc>> {
    let next = day.checked_add_days(Days::new(1))?;
    local_offset()
        .from_local_datetime(&next.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// A case as lists show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseItem {
    /// Case id.
    pub id: String,
    /// Printed case number.
    pub number: String,
    /// Violation kind or report category.
    pub kind: String,
    /// `auto`, `patrol`, `citizen`, `referral`.
    pub source: String,
    /// Workflow status (`intake`, `filed`, ...).
    pub status: String,
    /// Vehicle concerned.
    pub vehicle_id: Option<String>,
    /// Its plate.
    pub plate: Option<String>,
    /// Company concerned.
    pub company_id: Option<String>,
    /// Enforcement district.
    pub district_zone_id: Option<String>,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Where it happened (WGS-84).
    pub lat: Option<f64>,
    /// Where it happened (WGS-84).
    pub lon: Option<f64>,
    /// Assigned officer ids.
    pub officers: Vec<String>,
    /// Legal clocks.
    pub deadlines: Vec<DeadlineItem>,
    /// Whether a running clock is past its last day.
    pub overdue: bool,
    /// Linked violation ids.
    pub violations: Vec<String>,
    /// Revision (changes on every step).
    pub revision: u64,
}

impl CaseItem {
    fn new(case: &Case, plate: Option<String>, deadlines: &[ClockStatus], overdue: bool) -> Self {
        CaseItem {
            id: case.id.clone(),
            number: case.number.clone(),
            kind: case.kind.as_str().to_string(),
            source: source_name(case.source).to_string(),
            status: case.status.as_str().to_string(),
            vehicle_id: case.vehicle_id.clone(),
            plate,
            company_id: case.company_id.clone(),
            district_zone_id: case.district_zone_id.clone(),
            opened_at: case.opened_at,
            updated_at: case.updated_at,
            closed_at: case.closed_at,
            lat: case.location.as_ref().map(|l| l.lat),
            lon: case.location.as_ref().map(|l| l.lon),
            officers: case.officer_ids.clone(),
            deadlines: deadlines.iter().map(DeadlineItem::from_status).collect(),
            overdue,
            violations: case.violation_ids.clone(),
            revision: case.revision,
        }
    }
}

/// An evidence record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvidenceItem {
    /// Evidence id.
    pub id: String,
    /// `photo`, `video`, `document`, `track`, ...
    pub kind: String,
    /// File name as uploaded.
    pub name: String,
    /// MIME type as uploaded.
    pub media_type: String,
    /// SHA-256 of the bytes (hex).
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Uploader's user id.
    pub uploaded_by: String,
    /// When it was uploaded.
    pub uploaded_at: DateTime<Utc>,
    /// When it was captured, if known.
    pub captured_at: Option<DateTime<Utc>>,
    /// What it shows.
    pub description: String,
}

impl From<&Evidence> for EvidenceItem {
    fn from(e: &Evidence) -> EvidenceItem {
        EvidenceItem {
            id: e.id.clone(),
            kind: evidence_kind_name(e.kind),
            name: e.file_name.clone(),
            media_type: e.media_type.clone(),
            sha256: e.sha256.clone(),
            size: e.size_bytes,
            uploaded_by: e.uploaded_by.clone(),
            uploaded_at: e.uploaded_at,
            captured_at: e.captured_at,
            description: e.description.clone(),
        }
    }
}

/// An audit event of the case.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventItem {
    /// Position in the chain.
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (user id).
    pub actor: String,
    /// What (`case_opened`, `transition:file`, `evidence_viewed`, ...).
    pub action: String,
    /// State before (null for company callers).
    #[schema(value_type = Object)]
    pub before: Value,
    /// State after (null for company callers).
    #[schema(value_type = Object)]
    pub after: Value,
    /// The actor's note.
    pub note: Option<String>,
    /// The event's SHA-256 chain hash.
    pub hash: String,
}

/// A step the caller may take now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TransitionItem {
    /// Status it leads to (send as `to`).
    pub to: String,
    /// The step's name (send as `action` when several steps lead to the same status).
    pub action: String,
    /// Button label (Chinese).
    pub label: String,
    /// Body fields the step needs besides `note`.
    pub needs: Vec<String>,
    /// Why it cannot be taken yet, if something still blocks it.
    pub blocked_by: Option<String>,
}

/// A printable document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentItem {
    /// `filing_approval`, `pre_decision_notice`, `decision`, `service_receipt`,
    /// `closing_approval`.
    pub kind: String,
    /// Printed title.
    pub title: String,
    /// Where to fetch it (`/api/v1/cases/{id}/documents/{kind}`).
    pub url: String,
    /// Whether it can be rendered now.
    pub ready: bool,
    /// What is missing when not.
    pub missing: Option<String>,
}

/// Everything the case page shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseDetailResponse {
    /// The list item.
    #[serde(flatten)]
    pub item: CaseItem,
    /// Facts as found.
    pub facts: String,
    /// The party, legal basis, penalty, decision, hearing, service and enforcement records
    /// as the case holds them (null when not yet set).
    #[schema(value_type = Object)]
    pub party: Value,
    /// Legal basis.
    #[schema(value_type = Object)]
    pub legal_basis: Value,
    /// Penalty proposed in the pre-decision notice.
    #[schema(value_type = Object)]
    pub proposed_penalty: Value,
    /// The decision.
    #[schema(value_type = Object)]
    pub decision: Value,
    /// Collection of the fine.
    #[schema(value_type = Object)]
    pub enforcement: Value,
    /// Status changes, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub history: Value,
    /// Linked violation episodes (the model's Violation).
    #[schema(value_type = Vec<Object>)]
    pub violation_details: Vec<Value>,
    /// Evidence records.
    pub evidence: Vec<EvidenceItem>,
    /// Audit events, oldest first.
    pub events: Vec<EventItem>,
    /// Steps the caller may take now.
    pub allowed_transitions: Vec<TransitionItem>,
    /// Printable documents.
    pub documents: Vec<DocumentItem>,
    /// The latest assignment with its inputs (null for company callers).
    #[schema(value_type = Object)]
    pub assignment: Value,
    /// Every assignment, oldest first (empty for company callers).
    #[schema(value_type = Vec<Object>)]
    pub assignments: Vec<Value>,
}

/// A case just opened by hand.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedCaseResponse {
    /// The case.
    #[serde(flatten)]
    pub item: CaseItem,
    /// For citizen reports: the number the reporter follows progress with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_no: Option<String>,
}

// ---------------------------------------------------------------------------------------
// List

/// `GET /cases` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseListQuery {
    /// Violation kind or report category.
    pub kind: Option<String>,
    /// Workflow status.
    pub status: Option<String>,
    /// `auto`, `patrol`, `citizen`, `referral`.
    pub source: Option<String>,
    /// Only this company (a company caller naming another company gets 404).
    pub company_id: Option<String>,
    /// Only this vehicle (another company's vehicle answers 404 to a company caller).
    pub vehicle_id: Option<String>,
    /// Only cases with an overdue legal clock.
    pub overdue: Option<bool>,
    /// District zone.
    pub district_zone_id: Option<String>,
    /// Cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1..=1000, default 100).
    pub limit: Option<u32>,
}

/// Case list page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseList {
    /// Cases, newest first.
    pub items: Vec<CaseItem>,
    /// Next page cursor.
    pub next: Option<String>,
}

/// Cases the caller may see, newest first (company callers: their company's only).
#[utoipa::path(get, path = "/cases", tag = "cases", params(CaseListQuery), security(("bearer" = [])),
    responses((status = 200, body = CaseList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn list_cases(
    State(state): State<ApiState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<CaseListQuery>,
) -> ApiResult<Json<CaseList>> {
    let company_id = caller.company_scope(q.company_id.as_deref())?;
    if let Some(company) = &company_id {
        check_id("company_id", company)?;
    }
    let kind = q
        .kind
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|k| CaseKind::from_name(k).ok_or_else(|| ApiError::invalid("kind", "unknown kind")))
        .transpose()?;
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            CaseStatus::from_name(s).ok_or_else(|| ApiError::invalid("status", "unknown status"))
        })
        .transpose()?;
    let source = q
        .source
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| parse_source(s).ok_or_else(|| ApiError::invalid("source", "unknown source")))
        .transpose()?;
    let vehicle_id = q.vehicle_id.filter(|v| !v.is_empty());
    if let Some(vehicle) = &vehicle_id {
        check_id("vehicle_id", vehicle)?;
        if caller.is_company() {
            // Another company's vehicle is answered as if it did not exist.
            match state.store.vehicle(vehicle).await? {
                Some(v) if caller.may_see_company(&v.company_id) => {}
                _ => return Err(ApiError::not_found("vehicle", vehicle)),
            }
        }
    }
    if let Some(district) = &q.district_zone_id {
        check_id("district_zone_id", district)?;
    }
    let filter = CaseFilter {
        kind,
        status,
        source,
        company_id,
        vehicle_id,
        district_zone_id: q.district_zone_id,
        overdue: q.overdue.unwrap_or(false),
        cursor: check_cursor(q.cursor)?,
        limit: check_limit(q.limit)?,
    };
    let (items, next) = state.cases.list_cases(&caller.principal(), filter).await?;
    let mut plates = PlateCache::new(&state.store);
    let mut out = Vec::with_capacity(items.len());
    for CaseListItem {
        case,
        deadlines,
        overdue,
    } in &items
    {
        let plate = plates.plate(case.vehicle_id.as_deref()).await?;
        out.push(CaseItem::new(case, plate, deadlines, *overdue));
    }
    Ok(Json(CaseList { items: out, next }))
}

/// Plates of the vehicles on one page, each looked up once.
struct PlateCache<'a> {
    store: &'a Store,
    known: HashMap<String, Option<String>>,
}

impl<'a> PlateCache<'a> {
    fn new(store: &'a Store) -> Self {
        PlateCache {
            store,
            known: HashMap::new(),
        }
    }

    async fn plate(&mut self, vehicle_id: Option<&str>) -> ApiResult<Option<String>> {
        let Some(id) = vehicle_id else {
            return Ok(None);
        };
        if let Some(plate) = self.known.get(id) {
            return Ok(plate.clone());
        }
        let plate = self.store.vehicle(id).await?.map(|v| v.plate);
        self.known.insert(id.to_string(), plate.clone());
        Ok(plate)
    }
}

// ---------------------------------------------------------------------------------------
// Detail

/// A case with its violations, evidence, audit events, the steps the caller may take, the
/// printable documents and the assignment.
#[utoipa::path(get, path = "/cases/{id}", tag = "cases", security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseDetailResponse), (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn case_detail(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<CaseDetailResponse>> {
    check_id("id", &id)?;
    let detail = state.cases.case_detail(&caller.principal(), &id).await?;
    Ok(Json(detail_response(detail)))
}

fn detail_response(detail: CaseDetail) -> CaseDetailResponse {
    let CaseDetail {
        case,
        vehicle_plate,
        violations,
        evidence,
        events,
        allowed_actions,
        documents,
        assignments,
        deadlines,
    } = detail;
    let overdue =
        case.status.is_active() && deadlines.iter().any(|d| d.state == ClockState::Overdue);
    let item = CaseItem::new(&case, vehicle_plate, &deadlines, overdue);
    let assignments: Vec<Value> = assignments
        .iter()
        .map(|a| serde_json::to_value(a).unwrap_or(Value::Null))
        .collect();
    let url_base = format!("/api/v1/cases/{}/documents", encode_path(&case.id));
    CaseDetailResponse {
        facts: case.facts.clone(),
        party: to_value(&case.party),
        legal_basis: to_value(&case.legal_basis),
        proposed_penalty: to_value(&case.proposed_penalty),
        decision: to_value(&case.decision),
        enforcement: to_value(&case.enforcement),
        history: to_value(&case.history),
        violation_details: violations
            .iter()
            .map(|v| serde_json::to_value(v).unwrap_or(Value::Null))
            .collect(),
        evidence: evidence.iter().map(EvidenceItem::from).collect(),
        events: events
            .into_iter()
            .map(|e| EventItem {
                seq: e.seq,
                at: e.at,
                actor: e.actor_id,
                action: e.action.name(),
                before: e.before,
                after: e.after,
                note: e.note,
                hash: e.hash,
            })
            .collect(),
        allowed_transitions: allowed_actions
            .iter()
            .map(|a| transition_item(&case, a))
            .collect(),
        documents: documents
            .into_iter()
            .map(|d| DocumentItem {
                kind: document_name(d.kind).to_string(),
                title: d.title_zh,
                url: format!("{url_base}/{}", document_name(d.kind)),
                ready: d.ready,
                missing: d.missing,
            })
            .collect(),
        assignment: assignments.last().cloned().unwrap_or(Value::Null),
        assignments,
        item,
    }
}

/// Any serialisable record as a JSON value (null if it cannot be serialised).
fn to_value<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Percent-encodes one path segment.
fn encode_path(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A step as the console shows it, with the body fields it needs.
fn transition_item(case: &Case, action: &AvailableAction) -> TransitionItem {
    TransitionItem {
        to: action.to.as_str().to_string(),
        action: action.action.as_str().to_string(),
        label: action.label_zh.clone(),
        needs: needs(case, action)
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
        blocked_by: action.blocked_by.as_ref().map(ToString::to_string),
    }
}

/// The body fields (besides `note`) a step reads; the console renders an input per name.
fn needs(case: &Case, action: &AvailableAction) -> Vec<&'static str> {
    let has_basis = case
        .legal_basis
        .as_ref()
        .is_some_and(LegalBasis::is_complete);
    match action.action {
        ActionKind::Reject => vec!["reason"],
        ActionKind::Refer => vec!["agency"],
        ActionKind::StartInvestigation => {
            if matches!(
                action.blocked_by,
                Some(GuardFailure::NeedTwoOfficers { .. })
            ) {
                vec!["officers"]
            } else {
                vec![]
            }
        }
        ActionKind::IssuePreDecisionNotice => {
            if has_basis {
                vec!["penalty_yuan"]
            } else {
                vec!["legal_basis", "penalty_yuan"]
            }
        }
        ActionKind::HoldHearing => vec!["presiding_officer_id"],
        ActionKind::SubmitForLegalReview => vec!["party_waived_rights"],
        ActionKind::Decide => {
            if has_basis {
                vec!["penalty_yuan", "no_penalty"]
            } else {
                vec!["legal_basis", "penalty_yuan", "no_penalty"]
            }
        }
        ActionKind::Serve => vec!["method", "recipient"],
        ActionKind::RecordPayment => vec!["amount_yuan", "receipt_no"],
        ActionKind::GrantInstalments => vec!["plan"],
        ActionKind::ApplyToCourt => vec!["court_case_no"],
        ActionKind::File
        | ActionKind::RequestHearing
        | ActionKind::StartEnforcement
        | ActionKind::MarkOverdue
        | ActionKind::ServeDemand
        | ActionKind::RecordCourtEnforced
        | ActionKind::Close
        | ActionKind::Archive => vec![],
    }
}

// ---------------------------------------------------------------------------------------
// Create

/// `POST /cases` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCaseRequest {
    /// `patrol` (officers, admins) or `citizen` (a hotline report taken by dispatchers or
    /// admins; answers a `tracking_no`).
    pub source: String,
    /// Violation kind or report category (`spillage`, `mud_on_road`, `other`).
    pub kind: String,
    /// Latitude (WGS-84).
    pub lat: f64,
    /// Longitude (WGS-84).
    pub lon: f64,
    /// What was seen.
    pub description: String,
    /// Vehicle, if identified (its company is taken from the registry).
    #[serde(default)]
    pub vehicle_id: Option<String>,
    /// Address or landmark.
    #[serde(default)]
    pub address: Option<String>,
}

/// Opens a case by hand (a patrol finding or a citizen report taken by phone). It is
/// dispatched at once; a citizen report answers the tracking number for the reporter.
#[utoipa::path(post, path = "/cases", tag = "cases", request_body = CreateCaseRequest,
    security(("bearer" = [])),
    responses((status = 201, body = CreatedCaseResponse), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_case(
    State(state): State<ApiState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateCaseRequest>,
) -> ApiResult<(StatusCode, Json<CreatedCaseResponse>)> {
    caller.require(&[Role::Officer, Role::Dispatcher, Role::Admin])?;
    let source = match body.source.as_str() {
        "patrol" => CaseSource::Patrol,
        "citizen" | "citizen_report" => CaseSource::CitizenReport,
        _ => {
            return Err(ApiError::invalid(
                "source",
                "source must be \"patrol\" or \"citizen\"",
            ));
        }
    };
    let kind = CaseKind::from_name(&body.kind)
        .ok_or_else(|| ApiError::invalid("kind", format!("unknown kind {:?}", body.kind)))?;
    check_lat_lon(body.lat, body.lon)?;
    let description = body.description.trim();
    if description.is_empty() {
        return Err(ApiError::invalid(
            "description",
            "a description is required",
        ));
    }
    if description.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            "description",
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    let address = body
        .address
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty());
    if address.as_ref().is_some_and(|a| a.chars().count() > 500) {
        return Err(ApiError::invalid("address", "at most 500 characters"));
    }
    let vehicle_id = body.vehicle_id.filter(|v| !v.trim().is_empty());
    let mut company_id = None;
    if let Some(vehicle) = &vehicle_id {
        check_id("vehicle_id", vehicle)?;
        match state.store.vehicle(vehicle).await? {
            Some(v) => company_id = Some(v.company_id),
            None => return Err(ApiError::invalid("vehicle_id", "unknown vehicle")),
        }
    }
    let created = state
        .cases
        .create_case(
            &caller.principal(),
            NewCase {
                kind,
                source,
                location: Some(Location {
                    lat: body.lat,
                    lon: body.lon,
                    address,
                }),
                facts: description.to_string(),
                vehicle_id,
                company_id,
                party: None,
                referred_by: None,
            },
        )
        .await?;
    let plate = PlateCache::new(&state.store)
        .plate(created.case.vehicle_id.as_deref())
        .await?;
    let deadlines = clock_statuses(&state, &created.case);
    let overdue = deadlines.iter().any(|d| d.state == ClockState::Overdue);
    Ok((
        StatusCode::CREATED,
        Json(CreatedCaseResponse {
            item: CaseItem::new(&created.case, plate, &deadlines, overdue),
            tracking_no: created.tracking_number,
        }),
    ))
}

/// Where each clock of `case` stands now.
fn clock_statuses(state: &ApiState, case: &Case) -> Vec<ClockStatus> {
    let now = state.cases.now();
    let settings = &state.cases.settings().deadlines;
    case.clocks
        .iter()
        .map(|c| c.status(settings, now))
        .collect()
}

/// A case after a change, as the list shows it.
async fn case_item(state: &ApiState, case: &Case) -> ApiResult<CaseItem> {
    let plate = PlateCache::new(&state.store)
        .plate(case.vehicle_id.as_deref())
        .await?;
    let deadlines = clock_statuses(state, case);
    let overdue =
        case.status.is_active() && deadlines.iter().any(|d| d.state == ClockState::Overdue);
    Ok(CaseItem::new(case, plate, &deadlines, overdue))
}

// ---------------------------------------------------------------------------------------
// Transitions

/// `POST /cases/{id}/transitions` body. `to` names the status; `action` picks the step when
/// several lead to the same status (the collection steps inside `enforcing`). The other
/// fields are what `allowed_transitions[].needs` lists for the step.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TransitionRequest {
    /// Status the step leads to.
    pub to: String,
    /// The step (`allowed_transitions[].action`); needed only when `to` is ambiguous.
    #[serde(default)]
    pub action: Option<String>,
    /// Why (required).
    #[serde(default)]
    pub note: String,
    /// Legal basis: `{"provision_breached", "penalty_provision", "discretion_grade"?}`, or
    /// one text naming both (`"违反…；依据…"`: split at the first `；` or `;`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub legal_basis: Option<Value>,
    /// Fine in yuan (pre-decision notice, decision).
    #[serde(default)]
    pub penalty_yuan: Option<f64>,
    /// A warning as (part of) the penalty.
    #[serde(default)]
    pub warning: Option<bool>,
    /// Decide not to penalise (the note is the reason printed on the decision).
    #[serde(default)]
    pub no_penalty: Option<bool>,
    /// Officers to assign before the step (dispatchers, admins; at least two to investigate).
    #[serde(default)]
    pub officers: Option<Vec<String>>,
    /// Rejection reason.
    #[serde(default)]
    pub reason: Option<String>,
    /// Agency the case is referred to.
    #[serde(default)]
    pub agency: Option<String>,
    /// Officer presiding over the hearing.
    #[serde(default)]
    pub presiding_officer_id: Option<String>,
    /// The party waived statement and hearing (`true`/`false`, also as text).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub party_waived_rights: Option<Value>,
    /// Service method (`direct`, `left_at_premises`, `post`, `electronic`, `public_notice`).
    #[serde(default)]
    pub method: Option<String>,
    /// Who received the decision.
    #[serde(default)]
    pub recipient: Option<String>,
    /// Payment amount in yuan.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub amount_yuan: Option<Value>,
    /// Payment receipt number.
    #[serde(default)]
    pub receipt_no: Option<String>,
    /// Instalment plan `[{"due_on": "2026-05-01", "amount_fen": 10000}]` (or that as text).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub plan: Option<Value>,
    /// Court case number.
    #[serde(default)]
    pub court_case_no: Option<String>,
    /// Evidence ids attached to the step.
    #[serde(default)]
    pub attachments: Vec<String>,
    /// The revision the caller saw; a case changed since answers 409.
    #[serde(default)]
    pub revision: Option<u64>,
}

/// Takes a workflow step. The workflow checks the caller's role and the step's guards; an
/// illegal step answers 409, a missing field 400 naming it.
#[utoipa::path(post, path = "/cases/{id}/transitions", tag = "cases",
    request_body = TransitionRequest, security(("bearer" = [])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseItem), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn transition(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<TransitionRequest>,
) -> ApiResult<Json<CaseItem>> {
    check_id("id", &id)?;
    let principal = caller.principal();
    let to = CaseStatus::from_name(&body.to)
        .ok_or_else(|| ApiError::invalid("to", format!("unknown status {:?}", body.to)))?;
    if body.note.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            "note",
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    let case = state.cases.case(&principal, &id).await?;
    let kind = pick_action(&case, to, body.action.as_deref())?;
    let action = build_action(&case, kind, &body)?;
    if let Some(officers) = &body.officers
        && !officers.is_empty()
        && *officers != case.officer_ids
    {
        for officer in officers {
            check_id("officers", officer)?;
        }
        let reason = if body.note.trim().is_empty() {
            format!("assigned for {}", kind.as_str())
        } else {
            body.note.trim().to_string()
        };
        state
            .cases
            .override_assignment(&principal, &id, officers.clone(), &reason)
            .await?;
    }
    let updated = state
        .cases
        .transition(
            &principal,
            &id,
            Transition {
                action,
                note: body.note.trim().to_string(),
                attachments: body.attachments.clone(),
            },
            body.revision,
        )
        .await?;
    Ok(Json(case_item(&state, &updated).await?))
}

/// The step from the case's status to `to` (409 if none).
fn pick_action(case: &Case, to: CaseStatus, asked: Option<&str>) -> ApiResult<ActionKind> {
    let candidates: Vec<ActionKind> = ActionKind::ALL
        .into_iter()
        .filter(|k| k.from_states().contains(&case.status) && k.to_state() == to)
        .collect();
    if let Some(name) = asked.filter(|a| !a.is_empty()) {
        let kind = ActionKind::from_name(name)
            .ok_or_else(|| ApiError::invalid("action", format!("unknown step {name:?}")))?;
        if candidates.contains(&kind) {
            return Ok(kind);
        }
        return Err(ApiError::conflict(format!(
            "step {name} does not lead from {} to {}",
            case.status.as_str(),
            to.as_str()
        )));
    }
    match candidates.as_slice() {
        [] => Err(ApiError::conflict(format!(
            "illegal transition: case {} is {}; no step leads to {}",
            case.id,
            case.status.as_str(),
            to.as_str()
        ))),
        [only] => Ok(*only),
        // Taking the collection steps one by one: the first (start or close) is the common
        // path; the others need `action`.
        several => {
            if several.contains(&ActionKind::StartEnforcement) {
                Ok(ActionKind::StartEnforcement)
            } else {
                Err(ApiError::invalid(
                    "action",
                    format!(
                        "several steps lead to {}; name one: {}",
                        to.as_str(),
                        several
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
        }
    }
}

fn required_text(field: &str, value: &Option<String>) -> ApiResult<String> {
    match value.as_deref().map(str::trim) {
        Some(v) if !v.is_empty() => {
            if v.chars().count() > MAX_TEXT {
                Err(ApiError::invalid(
                    field,
                    format!("at most {MAX_TEXT} characters"),
                ))
            } else {
                Ok(v.to_string())
            }
        }
        _ => Err(ApiError::invalid(field, format!("{field} is required"))),
    }
}

/// Yuan to fen, refusing what is not a finite non-negative amount.
fn yuan_to_fen(field: &str, yuan: f64) -> ApiResult<i64> {
    if !yuan.is_finite() || !(0.0..=1.0e12).contains(&yuan) {
        return Err(ApiError::invalid(field, "must be an amount of yuan from 0"));
    }
    Ok((yuan * 100.0).round() as i64)
}

/// A number, also from text (the console sends unknown fields as text).
fn number_value(field: &str, value: &Value) -> ApiResult<f64> {
    match value {
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| ApiError::invalid(field, "not a number")),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| ApiError::invalid(field, "not a number")),
        _ => Err(ApiError::invalid(field, "not a number")),
    }
}

/// A yes/no, also from text.
fn bool_value(field: &str, value: &Value) -> ApiResult<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" | "是" => Ok(true),
            "false" | "no" | "0" | "否" | "" => Ok(false),
            _ => Err(ApiError::invalid(field, "must be true or false")),
        },
        Value::Null => Ok(false),
        _ => Err(ApiError::invalid(field, "must be true or false")),
    }
}

fn legal_basis(value: &Option<Value>) -> ApiResult<Option<LegalBasis>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            let text = s.trim();
            if text.chars().count() > MAX_TEXT {
                return Err(ApiError::invalid("legal_basis", "too long"));
            }
            let (breached, penalty) = match text.split_once(['；', ';']) {
                Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                    (a.trim(), b.trim())
                }
                _ => (text, text),
            };
            Ok(Some(LegalBasis {
                provision_breached: breached.to_string(),
                penalty_provision: penalty.to_string(),
                discretion_grade: None,
            }))
        }
        Some(object @ Value::Object(_)) => serde_json::from_value::<LegalBasis>(object.clone())
            .map(Some)
            .map_err(|e| ApiError::invalid("legal_basis", e.to_string())),
        Some(_) => Err(ApiError::invalid(
            "legal_basis",
            "legal_basis is text or {provision_breached, penalty_provision}",
        )),
    }
}

/// The step's data from the body.
fn build_action(case: &Case, kind: ActionKind, body: &TransitionRequest) -> ApiResult<Action> {
    let penalty = |required: bool| -> ApiResult<Option<Penalty>> {
        let warning = body.warning.unwrap_or(false);
        match body.penalty_yuan {
            Some(yuan) => Ok(Some(Penalty {
                warning,
                fine_fen: yuan_to_fen("penalty_yuan", yuan)?,
                confiscation: None,
                other: None,
            })),
            None if warning => Ok(Some(Penalty {
                warning,
                fine_fen: 0,
                confiscation: None,
                other: None,
            })),
            None if required => Err(ApiError::invalid(
                "penalty_yuan",
                "penalty_yuan is required",
            )),
            None => Ok(None),
        }
    };
    Ok(match kind {
        ActionKind::File => Action::File,
        ActionKind::Reject => Action::Reject {
            reason: required_text("reason", &body.reason)?,
        },
        ActionKind::Refer => Action::Refer {
            agency: required_text("agency", &body.agency)?,
        },
        ActionKind::StartInvestigation => Action::StartInvestigation,
        ActionKind::IssuePreDecisionNotice => Action::IssuePreDecisionNotice {
            legal_basis: legal_basis(&body.legal_basis)?,
            proposed_penalty: penalty(true)?.unwrap_or(Penalty {
                warning: false,
                fine_fen: 0,
                confiscation: None,
                other: None,
            }),
        },
        ActionKind::RequestHearing => Action::RequestHearing,
        ActionKind::HoldHearing => Action::HoldHearing {
            presiding_officer_id: required_text(
                "presiding_officer_id",
                &body.presiding_officer_id,
            )?,
        },
        ActionKind::SubmitForLegalReview => Action::SubmitForLegalReview {
            party_waived_rights: body
                .party_waived_rights
                .as_ref()
                .map(|v| bool_value("party_waived_rights", v))
                .transpose()?
                .unwrap_or(false),
        },
        ActionKind::Decide => {
            let decision = if body.no_penalty.unwrap_or(false) {
                Decision::NoPenalty {
                    reason: body.note.trim().to_string(),
                }
            } else {
                // Without an amount the decision imposes what the notice proposed.
                match penalty(false)? {
                    Some(p) => Decision::Penalty(p),
                    None => match &case.proposed_penalty {
                        Some(p) => Decision::Penalty(p.clone()),
                        None => {
                            return Err(ApiError::invalid(
                                "penalty_yuan",
                                "penalty_yuan or no_penalty is required",
                            ));
                        }
                    },
                }
            };
            Action::Decide {
                decision,
                legal_basis: legal_basis(&body.legal_basis)?,
            }
        }
        ActionKind::Serve => Action::Serve {
            method: match body.method.as_deref().map(str::trim) {
                None | Some("") => ServiceMethod::Direct,
                Some(name) => serde_json::from_value(Value::String(name.to_string()))
                    .map_err(|_| ApiError::invalid("method", format!("unknown method {name:?}")))?,
            },
            recipient: required_text("recipient", &body.recipient)?,
        },
        ActionKind::StartEnforcement => Action::StartEnforcement,
        ActionKind::RecordPayment => Action::RecordPayment {
            amount_fen: match &body.amount_yuan {
                Some(v) => yuan_to_fen("amount_yuan", number_value("amount_yuan", v)?)?,
                None => return Err(ApiError::invalid("amount_yuan", "amount_yuan is required")),
            },
            receipt_no: required_text("receipt_no", &body.receipt_no)?,
        },
        ActionKind::GrantInstalments => {
            let plan_value = match &body.plan {
                Some(Value::String(text)) => serde_json::from_str::<Value>(text)
                    .map_err(|e| ApiError::invalid("plan", e.to_string()))?,
                Some(v) => v.clone(),
                None => return Err(ApiError::invalid("plan", "plan is required")),
            };
            let plan: Vec<Instalment> = serde_json::from_value(plan_value)
                .map_err(|e| ApiError::invalid("plan", e.to_string()))?;
            Action::GrantInstalments { plan }
        }
        ActionKind::MarkOverdue => Action::MarkOverdue,
        ActionKind::ServeDemand => Action::ServeDemand,
        ActionKind::ApplyToCourt => Action::ApplyToCourt {
            court_case_no: body
                .court_case_no
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        },
        ActionKind::RecordCourtEnforced => Action::RecordCourtEnforced,
        ActionKind::Close => Action::Close,
        ActionKind::Archive => Action::Archive,
    })
}

// ---------------------------------------------------------------------------------------
// Assignment

/// `POST /cases/{id}/assign` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRequest {
    /// The officers to put on the case (replacing the current ones).
    pub officer_ids: Vec<String>,
    /// Why (logged with the assignment).
    pub reason: String,
}

/// A dispatcher (or admin) replaces a case's officers; logged with the previous officers,
/// their loads and the reason.
#[utoipa::path(post, path = "/cases/{id}/assign", tag = "cases", request_body = AssignRequest,
    security(("bearer" = [])), params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseItem), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn assign(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AssignRequest>,
) -> ApiResult<Json<CaseItem>> {
    check_id("id", &id)?;
    if body.officer_ids.is_empty() {
        return Err(ApiError::invalid(
            "officer_ids",
            "name at least one officer",
        ));
    }
    for officer in &body.officer_ids {
        check_id("officer_ids", officer)?;
    }
    if body.reason.trim().is_empty() {
        return Err(ApiError::invalid("reason", "a reason is required"));
    }
    if body.reason.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            "reason",
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    let case = state
        .cases
        .override_assignment(
            &caller.principal(),
            &id,
            body.officer_ids,
            body.reason.trim(),
        )
        .await
        .map_err(|e| match e.class() {
            crate::cases::service::ErrorClass::Invalid => {
                ApiError::invalid("officer_ids", e.to_string())
            }
            _ => ApiError::from(e),
        })?;
    Ok(Json(case_item(&state, &case).await?))
}

// ---------------------------------------------------------------------------------------
// Evidence

/// `POST /cases/{id}/evidence` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// File name (display only).
    pub name: String,
    /// `photo`, `video`, `document`, `track` (also `audio`, `record`, `anpr_image`, `other`).
    pub kind: String,
    /// What it shows.
    pub description: Option<String>,
    /// When it was captured (RFC 3339).
    #[serde(default, deserialize_with = "super::common::opt_time")]
    #[param(value_type = Option<String>)]
    pub captured_at: Option<DateTime<Utc>>,
}

/// Uploads an evidence file (the raw body, up to 64 MiB): hashed, stored write-once,
/// attached to the case and audited. Admins, dispatchers and the case's officers.
#[utoipa::path(post, path = "/cases/{id}/evidence", tag = "cases", params(UploadQuery,
        ("id" = String, Path, description = "Case id")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    security(("bearer" = [])),
    responses((status = 201, body = EvidenceItem), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody)))]
async fn upload_evidence(
    State(state): State<ApiState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<(StatusCode, Json<EvidenceItem>)> {
    check_id("id", &id)?;
    let name = q.name.trim();
    if name.is_empty() || name.chars().count() > MAX_FILE_NAME || name.chars().any(char::is_control)
    {
        return Err(ApiError::invalid(
            "name",
            format!("file names are 1 to {MAX_FILE_NAME} characters without control characters"),
        ));
    }
    let kind = parse_evidence_kind(&q.kind)
        .ok_or_else(|| ApiError::invalid("kind", format!("unknown evidence kind {:?}", q.kind)))?;
    let description = q.description.unwrap_or_default();
    if description.chars().count() > MAX_TEXT {
        return Err(ApiError::invalid(
            "description",
            format!("at most {MAX_TEXT} characters"),
        ));
    }
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                super::error::ErrorCode::PayloadTooLarge,
                "evidence file is too large",
            )
        } else {
            ApiError::invalid("body", rejection.body_text())
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::invalid("body", "the file is empty"));
    }
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 255)
        .unwrap_or("application/octet-stream")
        .to_string();
    let record = state
        .cases
        .upload_evidence(
            &caller.principal(),
            &id,
            EvidenceUpload {
                kind,
                file_name: name.to_string(),
                media_type,
                captured_at: q.captured_at,
                description,
            },
            &bytes,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(EvidenceItem::from(&record))))
}

/// Downloads an evidence file (the access is an audit event, recorded before a byte is sent;
/// the bytes are checked against the hash recorded at upload).
#[utoipa::path(get, path = "/cases/{id}/evidence/{evidence_id}", tag = "cases",
    params(("id" = String, Path, description = "Case id"),
        ("evidence_id" = String, Path, description = "Evidence id")),
    security(("bearer" = [])),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"),
        (status = 404, body = ErrorBody)))]
async fn download_evidence(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, evidence_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_id("id", &id)?;
    check_id("evidence_id", &evidence_id)?;
    let file = state
        .cases
        .open_evidence(
            &caller.principal(),
            &id,
            &evidence_id,
            EvidenceAccess::Export,
        )
        .await?;
    let content_type = safe_media_type(&file.evidence.media_type);
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_DISPOSITION,
                content_disposition(&file.evidence.file_name),
            ),
            // Evidence is never run as a page of this origin, whatever was uploaded.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("sandbox; default-src 'none'"),
            ),
        ],
        file.bytes,
    )
        .into_response())
}

/// The uploaded media type, unless it could run as a page of this origin (HTML, XML, SVG,
/// script) or is not a valid header: then `application/octet-stream`.
fn safe_media_type(media_type: &str) -> HeaderValue {
    let lower = media_type.to_ascii_lowercase();
    let active = ["html", "xml", "svg", "javascript", "ecmascript"]
        .iter()
        .any(|word| lower.contains(word));
    if active {
        return HeaderValue::from_static("application/octet-stream");
    }
    HeaderValue::from_str(media_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
}

/// `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266 / RFC 5987).
pub fn content_disposition(file_name: &str) -> HeaderValue {
    let fallback: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let value = format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
        encode_path(file_name)
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

// ---------------------------------------------------------------------------------------
// Documents

/// A printable document (complete HTML, no script) filled from the case; its issue is
/// audited. Kinds: `filing_approval`, `pre_decision_notice`, `decision`, `service_receipt`,
/// `closing_approval`. A document the case cannot fill yet answers 409 with what is missing.
#[utoipa::path(get, path = "/cases/{id}/documents/{kind}", tag = "cases",
    params(("id" = String, Path, description = "Case id"),
        ("kind" = String, Path, description = "Document kind")),
    security(("bearer" = [])),
    responses((status = 200, description = "The page", content_type = "text/html"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
async fn document(
    State(state): State<ApiState>,
    caller: Caller,
    Path((id, kind)): Path<(String, String)>,
) -> ApiResult<Response> {
    check_id("id", &id)?;
    let principal = caller.principal();
    // Visibility first, so another company's case answers 404 whatever the kind.
    state.cases.case(&principal, &id).await?;
    let kind = parse_document(&kind)
        .ok_or_else(|| ApiError::invalid("kind", format!("unknown document kind {kind:?}")))?;
    let html = state.cases.render_document(&principal, &id, kind).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
                ),
            ),
        ],
        html,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for source in [
            CaseSource::AutoViolation,
            CaseSource::Patrol,
            CaseSource::CitizenReport,
            CaseSource::Referral,
        ] {
            assert_eq!(parse_source(source_name(source)), Some(source));
        }
        for kind in DocumentKind::ALL {
            assert_eq!(parse_document(document_name(kind)), Some(kind));
        }
        assert_eq!(
            parse_evidence_kind("track"),
            Some(EvidenceKind::TrackExtract)
        );
        assert_eq!(evidence_kind_name(EvidenceKind::TrackExtract), "track");
        assert_eq!(evidence_kind_name(EvidenceKind::Photo), "photo");
        assert_eq!(parse_evidence_kind("selfie"), None);
    }

    #[test]
    fn legal_basis_text_splits_at_the_semicolon() {
        let basis = legal_basis(&Some(Value::String("第十五条；第三十条".into())))
            .expect("parses")
            .expect("some");
        assert_eq!(basis.provision_breached, "第十五条");
        assert_eq!(basis.penalty_provision, "第三十条");
        let error = legal_basis(&Some(Value::Bool(true))).expect_err("refused");
        assert_eq!(error.field.as_deref(), Some("legal_basis"));
    }

    #[test]
    fn dispositions_are_valid_headers() {
        let v = content_disposition("现场照片 1.jpg");
        let text = v.to_str().expect("ascii");
        assert!(
            text.starts_with("attachment; filename=\"____ 1.jpg\""),
            "{text}"
        );
        assert!(text.contains("filename*=UTF-8''%E7%8E%B0"), "{text}");
        assert_eq!(
            safe_media_type("text/html"),
            HeaderValue::from_static("application/octet-stream")
        );
        assert_eq!(
            safe_media_type("image/jpeg"),
            HeaderValue::from_static("image/jpeg")
        );
    }
}
