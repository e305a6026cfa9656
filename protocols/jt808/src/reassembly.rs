//! Reassembly of subpackaged messages (body-properties bit 13).
//!
//! Sets are keyed by (phone, message id, packet total), not by serial: real terminals leave
//! gaps between the serials of one set. Packets may arrive in any order and a re-sent packet
//! replaces the earlier copy. Memory is bounded by a byte cap and a set cap (the least recently
//! updated set is evicted first), and idle sets time out; both report the missing packet
//! indices so the caller can send 0x8003.
//!
//! One [`Reassembler`] belongs to one connection; it takes the current time as an argument so
//! it needs no clock and is easy to test.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::error::BodyError;
use crate::header::{Header, Phone, Version};
use crate::message::{Message, ResendRequest};

/// Limits of one [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyConfig {
    /// An incomplete set with no new packet for this long is dropped by
    /// [`Reassembler::expire`].
    pub idle_timeout: Duration,
    /// Most body bytes held across all incomplete sets.
    pub max_bytes: usize,
    /// Most incomplete sets held at once.
    pub max_sets: usize,
}

impl Default for ReassemblyConfig {
    /// 60 s idle timeout, 8 MiB, 32 sets: room for a few photos in flight per terminal.
    fn default() -> ReassemblyConfig {
        ReassemblyConfig {
            idle_timeout: Duration::from_secs(60),
            max_bytes: 8 << 20,
            max_sets: 32,
        }
    }
}

/// Identifies one subpackaged message in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SetKey {
    /// Terminal phone.
    pub phone: Phone,
    /// Message id of the set.
    pub msg_id: u16,
    /// Packet total of the set.
    pub total: u16,
}

/// Why a packet was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// The header has no packet fields.
    #[error("frame is not subpackaged")]
    NotSubpackaged,
    /// Index 0, total 0 or index above total.
    #[error("packet index {index} is outside 1..={total}")]
    BadIndex {
        /// Index from the header.
        index: u16,
        /// Total from the header.
        total: u16,
    },
    /// The set alone would exceed the byte cap; it was dropped.
    #[error("subpackaged message exceeds the {max_bytes}-byte reassembly cap")]
    OverCapacity {
        /// The set that was dropped.
        key: SetKey,
        /// The configured cap.
        max_bytes: usize,
    },
}

/// A complete message joined from its packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reassembled {
    /// Header of packet 1 (its `packet` field still says how many packets there were).
    pub header: Header,
    /// The joined body.
    pub body: Bytes,
    /// Serial of packet 1: what replies (0x8001, 0x8800) quote.
    pub original_serial: u16,
}

impl Reassembled {
    /// Decodes the joined body.
    pub fn message(&self) -> Result<Message, BodyError> {
        match self.header.props.encryption() {
            0 => Message::decode(self.header.msg_id, self.header.version, &self.body),
            method => Err(BodyError::Encrypted(method)),
        }
    }
}

/// Result of adding one packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// The set is complete.
    Complete(Reassembled),
    /// More packets are needed.
    Pending {
        /// Distinct packets held for this set.
        received: u16,
        /// Packets in the set.
        total: u16,
    },
}

/// An incomplete set reported by expiry, eviction or [`Reassembler::incomplete`]: what to ask
/// the terminal to resend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteSet {
    /// The set.
    pub key: SetKey,
    /// Header layout the terminal used (decides the 0x8003 count width).
    pub version: Version,
    /// Serial of packet 1; estimated from another packet's serial and index if packet 1 has
    /// not arrived.
    pub original_serial: u16,
    /// Missing 1-based packet indices, ascending.
    pub missing: Vec<u16>,
}

impl IncompleteSet {
    /// The 0x8003 body asking for the missing packets.
    pub fn resend_request(&self) -> ResendRequest {
        ResendRequest {
            original_serial: self.original_serial,
            packet_ids: self.missing.clone(),
        }
    }
}

#[derive(Debug)]
struct PartialSet {
    /// Header of the latest packet (replaced by packet 1's once it arrives).
    header: Header,
    /// Packet bodies by index; a map so memory follows what arrived, not the declared total.
    packets: BTreeMap<u16, Bytes>,
    /// Sum of the held bodies.
    bytes: usize,
    /// Serial of packet 1, or an estimate from the first packet seen.
    original_serial: u16,
    /// Whether packet 1 has arrived (the serial is then exact).
    has_first: bool,
    /// When the last packet arrived.
    last_update: Instant,
}

impl PartialSet {
    fn incomplete(&self, key: SetKey) -> IncompleteSet {
        IncompleteSet {
            key,
            version: self.header.version,
            original_serial: self.original_serial,
            missing: (1..=key.total)
                .filter(|i| !self.packets.contains_key(i))
                .collect(),
        }
    }
}

/// Joins packets of subpackaged messages; one per connection.
#[derive(Debug, Default)]
pub struct Reassembler {
    config: ReassemblyConfig,
    sets: HashMap<SetKey, PartialSet>,
    held_bytes: usize,
    evicted: Vec<IncompleteSet>,
}

impl Reassembler {
    /// An empty reassembler with `config`.
    pub fn new(config: ReassemblyConfig) -> Reassembler {
        Reassembler {
            config,
            ..Reassembler::default()
        }
    }

    /// Adds one packet (`header.packet` must be set) with its unescaped body.
    pub fn push(
        &mut self,
        header: &Header,
        body: Bytes,
        now: Instant,
    ) -> Result<PushOutcome, ReassemblyError> {
        let packet = header.packet.ok_or(ReassemblyError::NotSubpackaged)?;
        if packet.total == 0 || packet.index == 0 || packet.index > packet.total {
            return Err(ReassemblyError::BadIndex {
                index: packet.index,
                total: packet.total,
            });
        }
        let key = SetKey {
            phone: header.phone,
            msg_id: header.msg_id,
            total: packet.total,
        };
        if packet.total == 1 {
            return Ok(PushOutcome::Complete(Reassembled {
                header: *header,
                body,
                original_serial: header.serial,
            }));
        }
        let replaced = self
            .sets
            .get(&key)
            .and_then(|set| set.packets.get(&packet.index))
            .map_or(0, Bytes::len);
        let held_by_set = self.sets.get(&key).map_or(0, |set| set.bytes);
        if held_by_set - replaced + body.len() > self.config.max_bytes {
            self.remove(&key);
            return Err(ReassemblyError::OverCapacity {
                key,
                max_bytes: self.config.max_bytes,
            });
        }
        // Make room by evicting the stalest other sets.
        while self.held_bytes - replaced + body.len() > self.config.max_bytes
            || (!self.sets.contains_key(&key) && self.sets.len() >= self.config.max_sets.max(1))
        {
            let Some(stalest) = self
                .sets
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, set)| set.last_update)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some(set) = self.remove(&stalest) {
                self.evicted.push(set.incomplete(stalest));
            }
        }

        let estimated_first = header.serial.wrapping_sub(packet.index - 1);
        let set = self.sets.entry(key).or_insert_with(|| PartialSet {
            header: *header,
            packets: BTreeMap::new(),
            bytes: 0,
            original_serial: estimated_first,
            has_first: false,
            last_update: now,
        });
        if packet.index == 1 {
            set.header = *header;
            set.original_serial = header.serial;
            set.has_first = true;
        } else if !set.has_first {
            set.header = *header;
        }
        set.last_update = now;
        set.bytes = set.bytes - replaced + body.len();
        self.held_bytes = self.held_bytes - replaced + body.len();
        set.packets.insert(packet.index, body);

        let received = set.packets.len() as u16;
        if received < packet.total {
            return Ok(PushOutcome::Pending {
                received,
                total: packet.total,
            });
        }
        let Some(set) = self.remove(&key) else {
            return Ok(PushOutcome::Pending {
                received,
                total: packet.total,
            });
        };
        let mut body = BytesMut::with_capacity(set.bytes);
        for part in set.packets.values() {
            body.extend_from_slice(part);
        }
        Ok(PushOutcome::Complete(Reassembled {
            header: set.header,
            body: body.freeze(),
            original_serial: set.original_serial,
        }))
    }

    fn remove(&mut self, key: &SetKey) -> Option<PartialSet> {
        let set = self.sets.remove(key)?;
        self.held_bytes -= set.bytes;
        Some(set)
    }

    /// Drops sets idle for longer than the timeout and returns what each was missing.
    pub fn expire(&mut self, now: Instant) -> Vec<IncompleteSet> {
        let timeout = self.config.idle_timeout;
        let stale: Vec<SetKey> = self
            .sets
            .iter()
            .filter(|(_, set)| now.saturating_duration_since(set.last_update) > timeout)
            .map(|(key, _)| *key)
            .collect();
        stale
            .into_iter()
            .filter_map(|key| self.remove(&key).map(|set| set.incomplete(key)))
            .collect()
    }

    /// Sets evicted to respect the caps since the last call (to log, count, or request).
    pub fn take_evicted(&mut self) -> Vec<IncompleteSet> {
        std::mem::take(&mut self.evicted)
    }

    /// Every set still in flight, with its missing packets (for a proactive 0x8003).
    pub fn incomplete(&self) -> Vec<IncompleteSet> {
        self.sets
            .iter()
            .map(|(key, set)| set.incomplete(*key))
            .collect()
    }

    /// Missing packet indices of one set, if it is in flight.
    pub fn missing(&self, key: &SetKey) -> Option<Vec<u16>> {
        self.sets.get(key).map(|set| set.incomplete(*key).missing)
    }

    /// Body bytes held across all sets.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Number of sets in flight.
    pub fn len(&self) -> usize {
        self.sets.len()
    }

    /// Whether no set is in flight.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{BodyProps, PacketInfo};

    fn packet_header(phone: &str, msg_id: u16, serial: u16, total: u16, index: u16) -> Header {
        Header {
            msg_id,
            props: BodyProps::new(0, true, Version::V2013),
            version: Version::V2013,
            protocol_version: 0,
            phone: Phone::parse(phone).expect("digits"),
            serial,
            packet: Some(PacketInfo { total, index }),
            layout_quirk: false,
        }
    }

    fn body(index: u16, len: usize) -> Bytes {
        Bytes::from(vec![index as u8; len])
    }

    #[test]
    fn any_order_with_serial_gaps() {
        let now = Instant::now();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        // Serials with gaps, as in SmallChi's 0x0801 set.
        let order = [(3, 0x2033), (1, 0x2031), (4, 0x2035), (2, 0x2032)];
        let mut outcome = None;
        for (index, serial) in order {
            outcome = Some(
                r.push(
                    &packet_header("013812345678", 0x0801, serial, 4, index),
                    body(index, 10),
                    now,
                )
                .expect("accepted"),
            );
        }
        let Some(PushOutcome::Complete(done)) = outcome else {
            panic!("set should be complete: {outcome:?}");
        };
        assert_eq!(done.original_serial, 0x2031);
        assert_eq!(done.header.serial, 0x2031);
        let expected: Vec<u8> = (1..=4u8).flat_map(|i| [i; 10]).collect();
        assert_eq!(done.body.as_ref(), expected.as_slice());
        assert!(r.is_empty());
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn timeout_reports_missing_packets() {
        let start = Instant::now();
        let mut r = Reassembler::new(ReassemblyConfig {
            idle_timeout: Duration::from_secs(30),
            ..ReassemblyConfig::default()
        });
        for index in [2, 4] {
            let outcome = r
                .push(
                    &packet_header("013812345678", 0x0801, 100 + index, 5, index),
                    body(index, 8),
                    start,
                )
                .expect("accepted");
            assert!(matches!(outcome, PushOutcome::Pending { total: 5, .. }));
        }
        let key = SetKey {
            phone: Phone::parse("013812345678").expect("digits"),
            msg_id: 0x0801,
            total: 5,
        };
        assert_eq!(r.missing(&key), Some(vec![1, 3, 5]));
        assert!(r.expire(start + Duration::from_secs(30)).is_empty());
        let expired = r.expire(start + Duration::from_secs(31));
        assert_eq!(
            expired,
            vec![IncompleteSet {
                key,
                version: Version::V2013,
                // Packet 2 had serial 102, so packet 1 is estimated at 101.
                original_serial: 101,
                missing: vec![1, 3, 5],
            }]
        );
        assert_eq!(
            expired.first().map(IncompleteSet::resend_request),
            Some(ResendRequest {
                original_serial: 101,
                packet_ids: vec![1, 3, 5]
            })
        );
        assert!(r.is_empty());
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn memory_cap_evicts_stalest_set_and_rejects_oversized_set() {
        let t0 = Instant::now();
        let mut r = Reassembler::new(ReassemblyConfig {
            max_bytes: 100,
            ..ReassemblyConfig::default()
        });
        r.push(&packet_header("1", 0x0801, 1, 3, 1), body(1, 60), t0)
            .expect("accepted");
        r.push(
            &packet_header("2", 0x0801, 1, 3, 1),
            body(1, 60),
            t0 + Duration::from_secs(1),
        )
        .expect("accepted; evicts the stalest set");
        assert_eq!(r.len(), 1);
        assert_eq!(r.held_bytes(), 60);
        let evicted = r.take_evicted();
        assert_eq!(evicted.len(), 1);
        assert_eq!(
            evicted.first().map(|s| s.key.phone.as_str().to_owned()),
            Some("1".to_owned())
        );
        // The remaining set cannot grow past the cap by itself.
        let err = r
            .push(&packet_header("2", 0x0801, 2, 3, 2), body(2, 60), t0)
            .expect_err("over the cap");
        assert!(matches!(
            err,
            ReassemblyError::OverCapacity { max_bytes: 100, .. }
        ));
        assert!(r.is_empty());
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn duplicates_replace_and_bad_indices_fail() {
        let now = Instant::now();
        let mut r = Reassembler::new(ReassemblyConfig::default());
        r.push(&packet_header("1", 0x0104, 5, 2, 2), body(9, 50), now)
            .expect("accepted");
        r.push(&packet_header("1", 0x0104, 6, 2, 2), body(2, 20), now)
            .expect("accepted");
        assert_eq!(r.held_bytes(), 20);
        assert_eq!(
            r.push(&packet_header("1", 0x0104, 7, 2, 3), body(3, 1), now),
            Err(ReassemblyError::BadIndex { index: 3, total: 2 })
        );
        assert_eq!(
            r.push(&packet_header("1", 0x0104, 7, 2, 0), body(0, 1), now),
            Err(ReassemblyError::BadIndex { index: 0, total: 2 })
        );
        let Ok(PushOutcome::Complete(done)) =
            r.push(&packet_header("1", 0x0104, 4, 2, 1), body(1, 5), now)
        else {
            panic!("complete");
        };
        assert_eq!(done.body.len(), 25);
        assert_eq!(done.original_serial, 4);
    }

    #[test]
    fn set_cap_evicts() {
        let now = Instant::now();
        let mut r = Reassembler::new(ReassemblyConfig {
            max_sets: 2,
            ..ReassemblyConfig::default()
        });
        for (i, phone) in ["1", "2", "3"].into_iter().enumerate() {
            r.push(
                &packet_header(phone, 0x0801, 1, 2, 1),
                body(1, 4),
                now + Duration::from_secs(i as u64),
            )
            .expect("accepted");
        }
        assert_eq!(r.len(), 2);
        assert_eq!(r.take_evicted().len(), 1);
    }
}
