//! Citizen reports (群众举报): a report with a location, a description and photos opens a case;
//! the reporter gets an unguessable tracking number and follows the progress on a public page
//! that carries no personal data.
//!
//! The reporter's contact details stay on the [`CitizenReport`] record, which only staff read;
//! they never go into the case (which the company concerned may read) nor into the public view.

use chrono::{DateTime, NaiveDate, Utc};
use rand::{CryptoRng, Rng};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::audit::{AuditAction, AuditDraft, sha256_hex};
use super::deadlines::{ClockKind, DeadlineSettings, local_date, start_clock};
use super::model::{
    Case, CaseKind, CaseSource, CaseStatus, Evidence, EvidenceKind, Location, ReportCategory,
};
use super::workflow::change_event;

/// Symbols of tracking numbers: digits and capitals without the look-alikes 0/O and 1/I.
const TRACKING_ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Symbols in a tracking number: 16 x 5 bits = 80 bits, far beyond guessing.
pub const TRACKING_SYMBOLS: usize = 16;

/// Actor id recorded for what citizens do (they have no account).
pub const CITIZEN_ACTOR_ID: &str = "citizen";

/// A new tracking number, grouped by four for reading aloud: `K7QM-2XPA-9RTD-HW3E`.
pub fn new_tracking_number<R: Rng + CryptoRng>(rng: &mut R) -> String {
    let mut out = String::with_capacity(TRACKING_SYMBOLS + TRACKING_SYMBOLS / 4);
    for i in 0..TRACKING_SYMBOLS {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let index = rng.random_range(0..TRACKING_ALPHABET.len());
        out.push(char::from(
            TRACKING_ALPHABET.get(index).copied().unwrap_or(b'2'),
        ));
    }
    out
}

/// Normalises a tracking number as typed (lower case, spaces, missing or extra hyphens) to
/// its canonical form, or `None` if it cannot be one.
pub fn normalize_tracking_number(input: &str) -> Option<String> {
    let symbols: Vec<u8> = input
        .bytes()
        .filter(|b| !matches!(b, b'-' | b' ' | b'\t'))
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if symbols.len() != TRACKING_SYMBOLS || !symbols.iter().all(|b| TRACKING_ALPHABET.contains(b)) {
        return None;
    }
    let mut out = String::with_capacity(TRACKING_SYMBOLS + 3);
    for (i, b) in symbols.iter().enumerate() {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(char::from(*b));
    }
    Some(out)
}

/// How to reach the reporter, if they chose to say; private.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReporterContact {
    /// Name.
    pub name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
}

/// One photo as submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoUpload {
    /// File name as sent.
    pub file_name: String,
    /// MIME type as sent.
    pub media_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A report as submitted on the public form or taken on the hotline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CitizenSubmission {
    /// Where.
    pub location: Location,
    /// What was seen.
    pub description: String,
    /// Category chosen on the form.
    pub category: ReportCategory,
    /// Plate of the offending truck, if the reporter saw it.
    pub plate_seen: Option<String>,
    /// Reporter's contact, optional.
    pub contact: ReporterContact,
    /// Photos.
    pub photos: Vec<PhotoUpload>,
}

/// Limits on what the public may submit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CitizenLimits {
    /// Longest description, in characters.
    pub max_description_chars: usize,
    /// Most photos per report.
    pub max_photos: usize,
    /// Largest photo, in bytes.
    pub max_photo_bytes: usize,
    /// Accepted photo MIME types.
    pub media_types: Vec<String>,
    /// Longest contact name, phone or plate, in characters.
    pub max_field_chars: usize,
}

impl Default for CitizenLimits {
    fn default() -> Self {
        CitizenLimits {
            max_description_chars: 2000,
            max_photos: 9,
            max_photo_bytes: 10 * 1024 * 1024,
            media_types: ["image/jpeg", "image/png", "image/webp", "image/heic"]
                .into_iter()
                .map(String::from)
                .collect(),
            max_field_chars: 64,
        }
    }
}

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CitizenError {
    /// No description.
    #[error("please describe what you saw")]
    DescriptionRequired,
    /// Description too long.
    #[error("the description is longer than {max} characters")]
    DescriptionTooLong {
        /// The limit.
        max: usize,
    },
    /// Bad coordinates.
    #[error("the location is not a valid point")]
    InvalidLocation,
    /// Too many photos.
    #[error("at most {max} photos")]
    TooManyPhotos {
        /// The limit.
        max: usize,
    },
    /// An empty or oversized photo, or one of an unaccepted type.
    #[error("photo {index} refused: {reason}")]
    BadPhoto {
        /// 1-based position of the photo.
        index: usize,
        /// Why.
        reason: String,
    },
    /// A contact or plate field too long.
    #[error("the {field} is longer than {max} characters")]
    FieldTooLong {
        /// Which field.
        field: &'static str,
        /// The limit.
        max: usize,
    },
    /// The caller did not allocate one evidence id per photo.
    #[error("{ids} evidence ids for {photos} photos")]
    EvidenceIdCount {
        /// Ids given.
        ids: usize,
        /// Photos.
        photos: usize,
    },
}

/// The staff-side record of a report; holds the private contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CitizenReport {
    /// Tracking number given to the reporter.
    pub tracking_number: String,
    /// Case opened from it.
    pub case_id: String,
    /// When it came in.
    pub received_at: DateTime<Utc>,
    /// Where.
    pub location: Location,
    /// What was seen.
    pub description: String,
    /// Category.
    pub category: ReportCategory,
    /// Plate seen.
    pub plate_seen: Option<String>,
    /// Private contact.
    pub contact: ReporterContact,
    /// Evidence records of the photos.
    pub evidence_ids: Vec<String>,
}

/// Everything a received report produces, to persist in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedReport {
    /// The staff-side record.
    pub report: CitizenReport,
    /// The case at intake.
    pub case: Case,
    /// Evidence records of the photos (their bytes go to evidence storage).
    pub evidence: Vec<Evidence>,
    /// Audit events: the case opening and each photo's upload.
    pub audit: Vec<AuditDraft>,
}

fn too_long(text: Option<&String>, max: usize) -> bool {
    text.is_some_and(|t| t.chars().count() > max)
}

/// Identifiers the store allocates for a report before it is received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportIds {
    /// Id of the case to open.
    pub case_id: String,
    /// Its printed number.
    pub case_number: String,
    /// One evidence id per photo, in order.
    pub evidence_ids: Vec<String>,
    /// The tracking number ([`new_tracking_number`]).
    pub tracking_number: String,
}

/// Validates a submission and opens its case at intake.
pub fn receive_report(
    submission: CitizenSubmission,
    ids: ReportIds,
    limits: &CitizenLimits,
    settings: &DeadlineSettings,
    now: DateTime<Utc>,
) -> Result<ReceivedReport, CitizenError> {
    let ReportIds {
        case_id,
        case_number,
        evidence_ids,
        tracking_number,
    } = ids;
    let description = submission.description.trim().to_string();
    if description.is_empty() {
        return Err(CitizenError::DescriptionRequired);
    }
    if description.chars().count() > limits.max_description_chars {
        return Err(CitizenError::DescriptionTooLong {
            max: limits.max_description_chars,
        });
    }
    if !submission.location.is_valid() {
        return Err(CitizenError::InvalidLocation);
    }
    for (field, value) in [
        ("name", submission.contact.name.as_ref()),
        ("phone", submission.contact.phone.as_ref()),
        ("plate", submission.plate_seen.as_ref()),
    ] {
        if too_long(value, limits.max_field_chars) {
            return Err(CitizenError::FieldTooLong {
                field,
                max: limits.max_field_chars,
            });
        }
    }
    if submission.photos.len() > limits.max_photos {
        return Err(CitizenError::TooManyPhotos {
            max: limits.max_photos,
        });
    }
    if evidence_ids.len() != submission.photos.len() {
        return Err(CitizenError::EvidenceIdCount {
            ids: evidence_ids.len(),
            photos: submission.photos.len(),
        });
    }
    for (i, photo) in submission.photos.iter().enumerate() {
        let bad = |reason: String| CitizenError::BadPhoto {
            index: i + 1,
            reason,
        };
        if photo.bytes.is_empty() {
            return Err(bad("empty file".to_string()));
        }
        if photo.bytes.len() > limits.max_photo_bytes {
            return Err(bad(format!("larger than {} bytes", limits.max_photo_bytes)));
        }
        if !limits
            .media_types
            .iter()
            .any(|t| t.eq_ignore_ascii_case(&photo.media_type))
        {
            return Err(bad(format!("type `{}` not accepted", photo.media_type)));
        }
    }

    let kind = CaseKind::Report(submission.category);
    let mut case = Case::new_intake(case_id, case_number, kind, CaseSource::CitizenReport, now);
    case.location = Some(submission.location.clone());
    case.facts = match submission
        .plate_seen
        .as_ref()
        .filter(|p| !p.trim().is_empty())
    {
        Some(plate) => format!("{description}（举报人所见车牌：{}）", plate.trim()),
        None => description.clone(),
    };
    case.tracking_number = Some(tracking_number.clone());
    start_clock(&mut case, ClockKind::PreFilingCheck, now, settings);

    let citizen = super::model::User {
        id: CITIZEN_ACTOR_ID.to_string(),
        name: "举报人".to_string(),
        roles: Vec::new(),
        company_id: None,
        officer_id: None,
    };
    let mut evidence = Vec::with_capacity(submission.photos.len());
    for (photo, id) in submission.photos.iter().zip(evidence_ids) {
        evidence.push(Evidence {
            id,
            case_id: case.id.clone(),
            kind: EvidenceKind::Photo,
            file_name: photo.file_name.chars().take(200).collect(),
            media_type: photo.media_type.clone(),
            sha256: sha256_hex(&photo.bytes),
            size_bytes: photo.bytes.len() as u64,
            uploaded_by: CITIZEN_ACTOR_ID.to_string(),
            uploaded_at: now,
            captured_at: None,
            description: "举报人提供的照片".to_string(),
        });
    }
    case.evidence_ids = evidence.iter().map(|e| e.id.clone()).collect();

    let mut audit = vec![change_event(
        None,
        &case,
        &citizen,
        AuditAction::CitizenReportReceived,
        Some("citizen report received".to_string()),
        case.evidence_ids.clone(),
        now,
    )];
    for e in &evidence {
        audit.push(AuditDraft {
            at: now,
            actor_id: CITIZEN_ACTOR_ID.to_string(),
            actor_roles: Vec::new(),
            action: AuditAction::EvidenceUploaded,
            case_id: Some(case.id.clone()),
            evidence_ids: vec![e.id.clone()],
            before: serde_json::Value::Null,
            after: serde_json::json!({ "evidence": e }),
            note: None,
        });
    }
    let report = CitizenReport {
        tracking_number,
        case_id: case.id.clone(),
        received_at: now,
        location: submission.location,
        description,
        category: submission.category,
        plate_seen: submission.plate_seen,
        contact: submission.contact,
        evidence_ids: case.evidence_ids.clone(),
    };
    Ok(ReceivedReport {
        report,
        case,
        evidence,
        audit,
    })
}

/// Progress stages as the public sees them: coarser than the workflow, nothing about people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublicStage {
    /// Received, being checked.
    Received,
    /// Checked and not taken up.
    NotFiled,
    /// Passed to the competent agency.
    Referred,
    /// A case is open and being investigated.
    UnderInvestigation,
    /// A decision was made.
    Decided,
    /// Finished.
    Concluded,
}

impl PublicStage {
    /// The public stage of a workflow status.
    pub fn of(status: CaseStatus) -> PublicStage {
        use CaseStatus as S;
        match status {
            S::Intake => PublicStage::Received,
            S::Rejected => PublicStage::NotFiled,
            S::Referred => PublicStage::Referred,
            S::Filed
            | S::Investigating
            | S::PreDecisionNotice
            | S::HearingRequested
            | S::HearingHeld
            | S::LegalReview => PublicStage::UnderInvestigation,
            S::Decided | S::Served | S::Enforcing => PublicStage::Decided,
            S::Closed | S::Archived => PublicStage::Concluded,
        }
    }

    /// Chinese text for the public page.
    pub fn label_zh(self) -> &'static str {
        match self {
            PublicStage::Received => "已受理，正在核查",
            PublicStage::NotFiled => "经核查，不予立案",
            PublicStage::Referred => "已移送有关部门处理",
            PublicStage::UnderInvestigation => "已立案，正在调查处理",
            PublicStage::Decided => "已依法作出处理决定",
            PublicStage::Concluded => "已办结",
        }
    }
}

/// One step of the public timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicStep {
    /// Stage reached.
    pub stage: PublicStage,
    /// Its text.
    pub label_zh: String,
    /// Local date it was reached.
    pub on: NaiveDate,
}

/// What the public progress page shows: stages and dates only, no names, phones, plates,
/// places, descriptions or penalties.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicProgress {
    /// The tracking number asked about.
    pub tracking_number: String,
    /// Category of the report.
    pub category_zh: String,
    /// Local date received.
    pub received_on: NaiveDate,
    /// Current stage.
    pub stage: PublicStage,
    /// Its text.
    pub stage_label_zh: String,
    /// Stages reached, oldest first.
    pub timeline: Vec<PublicStep>,
}

/// The public view of a report's case.
pub fn public_progress(tracking_number: &str, case: &Case) -> PublicProgress {
    let mut timeline = vec![PublicStep {
        stage: PublicStage::Received,
        label_zh: PublicStage::Received.label_zh().to_string(),
        on: local_date(case.opened_at),
    }];
    for change in &case.history {
        let stage = PublicStage::of(change.to);
        if timeline.last().map(|s| s.stage) != Some(stage) {
            timeline.push(PublicStep {
                stage,
                label_zh: stage.label_zh().to_string(),
                on: local_date(change.at),
            });
        }
    }
    let stage = PublicStage::of(case.status);
    PublicProgress {
        tracking_number: tracking_number.to_string(),
        category_zh: case.kind.label_zh().to_string(),
        received_on: local_date(case.opened_at),
        stage,
        stage_label_zh: stage.label_zh().to_string(),
        timeline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn tracking_numbers_are_long_distinct_and_normalise() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            let t = new_tracking_number(&mut rng);
            assert_eq!(t.len(), 19);
            assert_eq!(normalize_tracking_number(&t).as_deref(), Some(t.as_str()));
            let typed = t.replace('-', " ").to_lowercase();
            assert_eq!(normalize_tracking_number(&typed), Some(t.clone()));
            assert!(seen.insert(t));
        }
        assert_eq!(normalize_tracking_number("ABCD-EFGH"), None);
        assert_eq!(normalize_tracking_number("0000-0000-0000-0000"), None);
    }
}
