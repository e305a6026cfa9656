//! Evidence records: files hashed on upload, attached to a case, and every view or export
//! recorded in the audit chain.
//!
//! The bytes themselves belong in write-once storage kept by the store; what proves they are
//! unchanged is the SHA-256 here and in the audit event of the upload.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use thiserror::Error;

use super::audit::{AuditAction, AuditDraft, sha256_hex};
use super::model::{Case, CaseStatus, Evidence, EvidenceKind, Role, User};
use super::workflow::{Applied, change_event};

/// Largest file name kept, in characters (longer names are cut).
const MAX_FILE_NAME_CHARS: usize = 200;

/// Why an evidence operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvidenceError {
    /// The user may not add evidence to, or read evidence of, this case.
    #[error("user {user_id} may not {operation} evidence of case {case_id}")]
    Forbidden {
        /// Who tried.
        user_id: String,
        /// `upload`, `view` or `export`.
        operation: &'static str,
        /// The case.
        case_id: String,
    },
    /// The case is archived: its file is sealed.
    #[error("case {case_id} is archived; its evidence can no longer change")]
    Archived {
        /// The case.
        case_id: String,
    },
    /// The evidence belongs to another case.
    #[error("evidence {evidence_id} does not belong to case {case_id}")]
    WrongCase {
        /// The evidence.
        evidence_id: String,
        /// The case asked about.
        case_id: String,
    },
    /// An empty file.
    #[error("the file is empty")]
    Empty,
    /// A hash that is not 64 lowercase hex digits.
    #[error("`{0}` is not a SHA-256 hex digest")]
    BadDigest(String),
}

/// What the uploader says about a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvidenceUpload {
    /// What it is.
    pub kind: EvidenceKind,
    /// File name as sent by the client (display only).
    pub file_name: String,
    /// MIME type as sent.
    pub media_type: String,
    /// When it was captured, if known.
    pub captured_at: Option<DateTime<Utc>>,
    /// What it shows.
    pub description: String,
}

/// Whether `user` may add evidence to `case`: admins and dispatchers, and officers assigned to
/// the case.
pub fn can_upload(user: &User, case: &Case) -> bool {
    user.has_role(Role::Admin) || user.has_role(Role::Dispatcher) || user.is_assigned_to(case)
}

/// Attaches a file to a case: hashes the bytes, builds the evidence record, adds it to the
/// case and returns the audit event of the upload.
pub fn attach_evidence(
    case: &Case,
    user: &User,
    upload: EvidenceUpload,
    bytes: &[u8],
    evidence_id: String,
    now: DateTime<Utc>,
) -> Result<(Applied, Evidence), EvidenceError> {
    if bytes.is_empty() {
        return Err(EvidenceError::Empty);
    }
    attach_hashed_evidence(
        case,
        user,
        upload,
        &sha256_hex(bytes),
        bytes.len() as u64,
        evidence_id,
        now,
    )
}

/// Like [`attach_evidence`], for files hashed while streaming
/// ([`super::audit::EvidenceHasher`]).
pub fn attach_hashed_evidence(
    case: &Case,
    user: &User,
    upload: EvidenceUpload,
    sha256: &str,
    size_bytes: u64,
    evidence_id: String,
    now: DateTime<Utc>,
) -> Result<(Applied, Evidence), EvidenceError> {
    if case.status == CaseStatus::Archived {
        return Err(EvidenceError::Archived {
            case_id: case.id.clone(),
        });
    }
    if !can_upload(user, case) {
        return Err(EvidenceError::Forbidden {
            user_id: user.id.clone(),
            operation: "upload",
            case_id: case.id.clone(),
        });
    }
    if size_bytes == 0 {
        return Err(EvidenceError::Empty);
    }
    if !is_sha256_hex(sha256) {
        return Err(EvidenceError::BadDigest(sha256.chars().take(80).collect()));
    }
    let evidence = Evidence {
        id: evidence_id,
        case_id: case.id.clone(),
        kind: upload.kind,
        file_name: upload.file_name.chars().take(MAX_FILE_NAME_CHARS).collect(),
        media_type: upload.media_type,
        sha256: sha256.to_string(),
        size_bytes,
        uploaded_by: user.id.clone(),
        uploaded_at: now,
        captured_at: upload.captured_at,
        description: upload.description,
    };
    Ok(attach_record(case, user, evidence, None, now))
}

/// Attaches evidence the platform produced itself (e.g. the snapshot of a violation episode
/// taken when it opens or joins a case), recorded as uploaded by the system actor. The record
/// must already carry the case id, the hash and the size of its bytes.
pub fn attach_system_evidence(
    case: &Case,
    evidence: Evidence,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(Applied, Evidence), EvidenceError> {
    if case.status == CaseStatus::Archived {
        return Err(EvidenceError::Archived {
            case_id: case.id.clone(),
        });
    }
    if evidence.case_id != case.id {
        return Err(EvidenceError::WrongCase {
            evidence_id: evidence.id,
            case_id: case.id.clone(),
        });
    }
    if evidence.size_bytes == 0 {
        return Err(EvidenceError::Empty);
    }
    if !is_sha256_hex(&evidence.sha256) {
        return Err(EvidenceError::BadDigest(
            evidence.sha256.chars().take(80).collect(),
        ));
    }
    Ok(attach_record(
        case,
        &User::system(),
        evidence,
        Some(note.to_string()),
        now,
    ))
}

/// Adds `evidence` to the case and builds the upload event, which carries the whole record.
fn attach_record(
    case: &Case,
    user: &User,
    evidence: Evidence,
    note: Option<String>,
    now: DateTime<Utc>,
) -> (Applied, Evidence) {
    let mut next = case.clone();
    next.evidence_ids.push(evidence.id.clone());
    next.updated_at = now;
    next.revision = case.revision.saturating_add(1);
    let mut event = change_event(
        Some(case),
        &next,
        user,
        AuditAction::EvidenceUploaded,
        note,
        vec![evidence.id.clone()],
        now,
    );
    // The record itself (hash, size, uploader) goes into the chain, so the hash of the file
    // is as tamper-evident as the events.
    if let Some(after) = event.after.as_object_mut() {
        after.insert(
            "evidence".to_string(),
            serde_json::to_value(&evidence).unwrap_or(serde_json::Value::Null),
        );
    }
    (
        Applied {
            case: next,
            audit: vec![event],
        },
        evidence,
    )
}

/// Whether `text` is a lowercase-hex SHA-256 digest.
fn is_sha256_hex(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// How evidence was accessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceAccess {
    /// Shown on screen.
    View,
    /// Downloaded or exported.
    Export,
}

/// Checks that `user` may see `evidence` of `case` and returns the audit event recording the
/// access; the API appends it before it sends a single byte.
pub fn record_access(
    case: &Case,
    evidence: &Evidence,
    user: &User,
    access: EvidenceAccess,
    now: DateTime<Utc>,
) -> Result<AuditDraft, EvidenceError> {
    if evidence.case_id != case.id {
        return Err(EvidenceError::WrongCase {
            evidence_id: evidence.id.clone(),
            case_id: case.id.clone(),
        });
    }
    let operation = match access {
        EvidenceAccess::View => "view",
        EvidenceAccess::Export => "export",
    };
    if !user.can_view(case) {
        return Err(EvidenceError::Forbidden {
            user_id: user.id.clone(),
            operation,
            case_id: case.id.clone(),
        });
    }
    Ok(AuditDraft {
        at: now,
        actor_id: user.id.clone(),
        actor_roles: user.roles.clone(),
        action: match access {
            EvidenceAccess::View => AuditAction::EvidenceViewed,
            EvidenceAccess::Export => AuditAction::EvidenceExported,
        },
        case_id: Some(case.id.clone()),
        evidence_ids: vec![evidence.id.clone()],
        before: serde_json::Value::Null,
        after: serde_json::json!({ "sha256": evidence.sha256 }),
        note: None,
    })
}

/// Whether `bytes` are still the file that was uploaded (constant-time compare).
pub fn matches_file(evidence: &Evidence, bytes: &[u8]) -> bool {
    let actual = sha256_hex(bytes);
    actual.as_bytes().ct_eq(evidence.sha256.as_bytes()).into()
        && evidence.size_bytes == bytes.len() as u64
}
