//! The audit trail (执法全过程记录): append-only events forming a SHA-256 hash chain.
//!
//! Every change to a case, every evidence upload and every evidence view or export produces an
//! [`AuditDraft`]. The store seals drafts into [`AuditEvent`]s inside the transaction that
//! appends them: [`ChainHead::seal`] gives each one the next sequence number and the previous
//! event's hash, and hashes a canonical serialisation of all its fields. [`verify`] recomputes
//! the chain and names the first event that does not match, so editing, deleting or reordering
//! rows is caught. Deleting the newest events leaves a valid shorter chain; to catch that too,
//! keep the head (sequence and hash) somewhere the rows cannot reach and use
//! [`verify_against_head`].

use std::fmt;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::model::Role;
use super::workflow::ActionKind;

/// Prefix of the hashed text, so a hash from another context can never be replayed as ours
/// and a future format change can be told apart.
const HASH_DOMAIN: &str = "haulwatch-audit-v1\n";

/// The previous-hash of the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// A case was opened (from a violation, a patrol, a referral or a citizen report).
    CaseOpened,
    /// A further violation episode joined an open case.
    ViolationJoined,
    /// A workflow step (the action names the step).
    Transition(ActionKind),
    /// Case details were edited (party, facts, legal basis, location).
    CaseUpdated,
    /// Officers were assigned by dispatch.
    Assigned,
    /// A dispatcher replaced the assignment.
    AssignmentOverridden,
    /// An evidence file was uploaded (hashed on arrival).
    EvidenceUploaded,
    /// An evidence file was viewed.
    EvidenceViewed,
    /// An evidence file was exported or downloaded.
    EvidenceExported,
    /// A document was rendered for printing.
    DocumentIssued,
    /// A citizen report was received.
    CitizenReportReceived,
}

impl AuditAction {
    /// Stable name used in storage and JSON (`transition:file` for workflow steps).
    pub fn name(self) -> String {
        match self {
            AuditAction::CaseOpened => "case_opened".to_string(),
            AuditAction::ViolationJoined => "violation_joined".to_string(),
            AuditAction::Transition(action) => format!("transition:{}", action.as_str()),
            AuditAction::CaseUpdated => "case_updated".to_string(),
            AuditAction::Assigned => "assigned".to_string(),
            AuditAction::AssignmentOverridden => "assignment_overridden".to_string(),
            AuditAction::EvidenceUploaded => "evidence_uploaded".to_string(),
            AuditAction::EvidenceViewed => "evidence_viewed".to_string(),
            AuditAction::EvidenceExported => "evidence_exported".to_string(),
            AuditAction::DocumentIssued => "document_issued".to_string(),
            AuditAction::CitizenReportReceived => "citizen_report_received".to_string(),
        }
    }

    /// Inverse of [`AuditAction::name`].
    pub fn from_name(name: &str) -> Option<AuditAction> {
        if let Some(step) = name.strip_prefix("transition:") {
            return ActionKind::from_name(step).map(AuditAction::Transition);
        }
        Some(match name {
            "case_opened" => AuditAction::CaseOpened,
            "violation_joined" => AuditAction::ViolationJoined,
            "case_updated" => AuditAction::CaseUpdated,
            "assigned" => AuditAction::Assigned,
            "assignment_overridden" => AuditAction::AssignmentOverridden,
            "evidence_uploaded" => AuditAction::EvidenceUploaded,
            "evidence_viewed" => AuditAction::EvidenceViewed,
            "evidence_exported" => AuditAction::EvidenceExported,
            "document_issued" => AuditAction::DocumentIssued,
            "citizen_report_received" => AuditAction::CitizenReportReceived,
            _ => return None,
        })
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for AuditAction {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for AuditAction {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        AuditAction::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown audit action `{name}`")))
    }
}

/// An event before it joins the chain: what the domain functions return.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditDraft {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// User id of who did it ([`super::model::SYSTEM_USER_ID`] for automatic steps).
    pub actor_id: String,
    /// The roles the actor held at the time, since roles change later.
    pub actor_roles: Vec<Role>,
    /// What happened.
    pub action: AuditAction,
    /// Case concerned, if any.
    pub case_id: Option<String>,
    /// Evidence concerned (uploaded, viewed, exported or attached to a step).
    pub evidence_ids: Vec<String>,
    /// The changed fields before (a JSON object; `null` when nothing existed).
    pub before: Value,
    /// The changed fields after.
    pub after: Value,
    /// The actor's note.
    pub note: Option<String>,
}

/// One sealed event of the chain, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Position in the chain, from 1, without gaps; also the event's id.
    pub seq: u64,
    /// When it happened, truncated to microseconds (what both databases keep).
    pub at: DateTime<Utc>,
    /// User id of who did it.
    pub actor_id: String,
    /// Roles the actor held.
    pub actor_roles: Vec<Role>,
    /// What happened.
    pub action: AuditAction,
    /// Case concerned.
    pub case_id: Option<String>,
    /// Evidence concerned.
    pub evidence_ids: Vec<String>,
    /// Changed fields before.
    pub before: Value,
    /// Changed fields after.
    pub after: Value,
    /// The actor's note.
    pub note: Option<String>,
    /// Hash of the previous event (lowercase hex; [`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    /// SHA-256 over `HASH_DOMAIN` and the canonical JSON of every field above (lowercase hex).
    pub hash: String,
}

impl AuditEvent {
    /// Recomputes the hash from the fields (ignoring the stored `hash`).
    pub fn compute_hash(&self) -> String {
        let mut fields = Map::new();
        fields.insert("seq".into(), Value::from(self.seq));
        fields.insert(
            "at".into(),
            Value::from(self.at.to_rfc3339_opts(SecondsFormat::Micros, true)),
        );
        fields.insert("actor_id".into(), Value::from(self.actor_id.as_str()));
        fields.insert(
            "actor_roles".into(),
            Value::Array(
                self.actor_roles
                    .iter()
                    .map(|r| Value::from(r.as_str()))
                    .collect(),
            ),
        );
        fields.insert("action".into(), Value::from(self.action.name()));
        fields.insert(
            "case_id".into(),
            self.case_id
                .as_deref()
                .map(Value::from)
                .unwrap_or(Value::Null),
        );
        fields.insert(
            "evidence_ids".into(),
            Value::Array(
                self.evidence_ids
                    .iter()
                    .map(|e| Value::from(e.as_str()))
                    .collect(),
            ),
        );
        fields.insert("before".into(), self.before.clone());
        fields.insert("after".into(), self.after.clone());
        fields.insert(
            "note".into(),
            self.note.as_deref().map(Value::from).unwrap_or(Value::Null),
        );
        fields.insert("prev_hash".into(), Value::from(self.prev_hash.as_str()));
        let mut text = String::from(HASH_DOMAIN);
        write_canonical_json(&Value::Object(fields), &mut text);
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// The chain head after this event.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// The end of the chain: the last sequence number and hash. The store keeps it (or reads the
/// newest row) to seal the next event; a copy kept apart lets verify catch truncation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    /// Sequence number of the last event (0 for an empty chain).
    pub seq: u64,
    /// Hash of the last event ([`GENESIS_HASH`] for an empty chain).
    pub hash: String,
}

impl ChainHead {
    /// The head of an empty chain.
    pub fn genesis() -> ChainHead {
        ChainHead {
            seq: 0,
            hash: GENESIS_HASH.to_string(),
        }
    }

    /// Seals `draft` as the next event and advances the head to it.
    pub fn seal(&mut self, draft: AuditDraft) -> AuditEvent {
        let mut event = AuditEvent {
            seq: self.seq.saturating_add(1),
            at: draft.at.trunc_subsecs(6),
            actor_id: draft.actor_id,
            actor_roles: draft.actor_roles,
            action: draft.action,
            case_id: draft.case_id,
            evidence_ids: draft.evidence_ids,
            before: draft.before,
            after: draft.after,
            note: draft.note,
            prev_hash: self.hash.clone(),
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        *self = event.head();
        event
    }
}

/// Why the chain breaks at an event.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BreakReason {
    /// The sequence numbers skip or repeat: an event was removed, inserted or moved.
    #[error("expected sequence number {expected}, found {found} (event removed or reordered)")]
    SequenceGap {
        /// The number that should come next.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// The event does not point at the previous event's hash.
    #[error("previous-hash {found} does not match the previous event's hash {expected}")]
    PrevHashMismatch {
        /// Hash of the event before it.
        expected: String,
        /// The prev_hash stored in the event.
        found: String,
    },
    /// The event's fields do not hash to its stored hash: it was edited.
    #[error("stored hash {stored} does not match the recomputed hash {computed} (event edited)")]
    HashMismatch {
        /// Hash stored in the event.
        stored: String,
        /// Hash of the fields as they are now.
        computed: String,
    },
    /// The chain ends before (or differs from) the separately kept head: newest events were
    /// removed or replaced.
    #[error("chain ends at {found_seq} but the kept head is {expected_seq} (events truncated)")]
    HeadMismatch {
        /// Sequence number of the kept head.
        expected_seq: u64,
        /// Sequence number the chain ends at.
        found_seq: u64,
    },
}

/// The first place the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("audit chain broken at event {event_seq}: {reason}")]
pub struct AuditBreak {
    /// Sequence number (id) of the first bad event; for a truncated chain, the first missing one.
    pub event_seq: u64,
    /// What is wrong with it.
    pub reason: BreakReason,
}

/// Verifies a whole chain from its first event (sequence 1, genesis previous-hash).
pub fn verify(events: &[AuditEvent]) -> Result<(), AuditBreak> {
    verify_from(&ChainHead::genesis(), events).map(|_| ())
}

/// Verifies `events` as the continuation of the chain ending at `start`, returning the new
/// head; lets the store verify millions of events page by page.
pub fn verify_from(start: &ChainHead, events: &[AuditEvent]) -> Result<ChainHead, AuditBreak> {
    let mut head = start.clone();
    for event in events {
        let expected = head.seq.saturating_add(1);
        if event.seq != expected {
            return Err(AuditBreak {
                event_seq: event.seq,
                reason: BreakReason::SequenceGap {
                    expected,
                    found: event.seq,
                },
            });
        }
        if event.prev_hash != head.hash {
            return Err(AuditBreak {
                event_seq: event.seq,
                reason: BreakReason::PrevHashMismatch {
                    expected: head.hash.clone(),
                    found: event.prev_hash.clone(),
                },
            });
        }
        let computed = event.compute_hash();
        if computed != event.hash {
            return Err(AuditBreak {
                event_seq: event.seq,
                reason: BreakReason::HashMismatch {
                    stored: event.hash.clone(),
                    computed,
                },
            });
        }
        head = event.head();
    }
    Ok(head)
}

/// Verifies a whole chain and that it ends exactly at `expected` (kept apart from the rows).
pub fn verify_against_head(events: &[AuditEvent], expected: &ChainHead) -> Result<(), AuditBreak> {
    let head = verify_from(&ChainHead::genesis(), events)?;
    if head != *expected {
        return Err(AuditBreak {
            event_seq: head.seq.saturating_add(1).min(expected.seq.max(1)),
            reason: BreakReason::HeadMismatch {
                expected_seq: expected.seq,
                found_seq: head.seq,
            },
        });
    }
    Ok(())
}

/// Writes `value` as canonical JSON: object keys sorted by their UTF-8 bytes, no whitespace,
/// strings and numbers as serde_json writes them. Stable however the value was built or
/// stored (PostgreSQL jsonb reorders keys; serde_json may preserve insertion order).
pub fn write_canonical_json(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::from(key.as_str()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical_json(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_json(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Canonical JSON of `value` as a string (see [`write_canonical_json`]).
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical_json(value, &mut out);
    out
}

/// The top-level fields that differ between two serialised states, as `(before, after)`
/// objects holding only those fields; what audit events record for a case change.
pub fn changed_fields(before: &Value, after: &Value) -> (Value, Value) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut before_out = Map::new();
            let mut after_out = Map::new();
            for (key, new) in a {
                let old = b.get(key).unwrap_or(&Value::Null);
                if old != new {
                    before_out.insert(key.clone(), old.clone());
                    after_out.insert(key.clone(), new.clone());
                }
            }
            for (key, old) in b {
                if !a.contains_key(key) {
                    before_out.insert(key.clone(), old.clone());
                    after_out.insert(key.clone(), Value::Null);
                }
            }
            (Value::Object(before_out), Value::Object(after_out))
        }
        _ => (before.clone(), after.clone()),
    }
}

/// SHA-256 of a whole file, lowercase hex: how evidence is fingerprinted on upload.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hashes an evidence file as it streams in, so large videos need not sit in memory.
#[derive(Debug, Clone, Default)]
pub struct EvidenceHasher {
    /// Running digest.
    digest: Sha256,
    /// Bytes seen so far.
    size: u64,
}

impl EvidenceHasher {
    /// A hasher that has seen nothing.
    pub fn new() -> EvidenceHasher {
        EvidenceHasher::default()
    }

    /// Feeds the next chunk.
    pub fn update(&mut self, chunk: &[u8]) {
        self.digest.update(chunk);
        self.size = self.size.saturating_add(chunk.len() as u64);
    }

    /// The lowercase-hex SHA-256 and the size in bytes.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.digest.finalize()), self.size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn draft(n: u32) -> AuditDraft {
        AuditDraft {
            at: "2026-03-02T08:00:00.123456789Z".parse().expect("time"),
            actor_id: format!("u{n}"),
            actor_roles: vec![Role::Officer],
            action: AuditAction::CaseUpdated,
            case_id: Some("c1".into()),
            evidence_ids: vec![],
            before: json!({"facts": ""}),
            after: json!({"facts": format!("step {n}")}),
            note: Some("note".into()),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_recursively() {
        let a = json!({"b": 1, "a": {"z": [1, {"y": 2, "x": 3}], "c": "é\"q"}});
        assert_eq!(
            canonical_json(&a),
            r#"{"a":{"c":"é\"q","z":[1,{"x":3,"y":2}]},"b":1}"#
        );
    }

    #[test]
    fn sealing_truncates_to_microseconds_and_survives_a_json_round_trip() {
        let mut head = ChainHead::genesis();
        let event = head.seal(draft(1));
        assert_eq!(event.at.timestamp_subsec_nanos(), 123_456_000);
        let text = serde_json::to_string(&event).expect("serialise");
        let back: AuditEvent = serde_json::from_str(&text).expect("parse");
        assert_eq!(back.compute_hash(), event.hash);
        assert_eq!(verify(&[back]), Ok(()));
    }

    #[test]
    fn verify_catches_an_edited_note() {
        let mut head = ChainHead::genesis();
        let mut events: Vec<AuditEvent> = (1..=3).map(|n| head.seal(draft(n))).collect();
        assert_eq!(verify(&events), Ok(()));
        events[1].note = Some("changed".into());
        let err = verify(&events).expect_err("tampering must be caught");
        assert_eq!(err.event_seq, 2);
        assert!(matches!(err.reason, BreakReason::HashMismatch { .. }));
    }

    #[test]
    fn streaming_hasher_matches_one_shot() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut h = EvidenceHasher::new();
        for chunk in data.chunks(777) {
            h.update(chunk);
        }
        assert_eq!(h.finish(), (sha256_hex(&data), 10_000));
        // Known vector: SHA-256 of "abc".
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn changed_fields_lists_only_differences() {
        let (b, a) = changed_fields(
            &json!({"status": "intake", "facts": "x", "gone": 1}),
            &json!({"status": "filed", "facts": "x"}),
        );
        assert_eq!(b, json!({"status": "intake", "gone": 1}));
        assert_eq!(a, json!({"status": "filed", "gone": null}));
    }
}
