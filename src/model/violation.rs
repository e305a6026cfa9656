//! Violations: one episode of a rule broken by one vehicle, with its evidence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The kinds of violation the engine detects. The names are part of the API and the case
/// store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationKind {
    /// Off every approved route corridor on a permitted trip.
    RouteDeviation,
    /// Transporting outside the permit's daily windows, or in a time-restricted zone outside
    /// its open hours.
    TimeWindow,
    /// Inside a restricted zone.
    RestrictedZone,
    /// Above the speed limit.
    Speeding,
    /// Unloading outside an approved disposal ground.
    IllegalDumping,
    /// Lid open while loaded and moving.
    LidOpen,
    /// Transport work with no valid permit.
    NoPermit,
    /// A site or disposal ground not on the permit.
    UnpermittedSite,
    /// Weight above the rated load.
    Overload,
    /// Silent during an active trip.
    Offline,
    /// Antenna or power alarms, impossible jumps.
    GpsTamper,
    /// A terminal not bound to a registered vehicle (from ingest).
    UnregisteredTerminal,
}

impl ViolationKind {
    /// Every kind, in a stable order.
    pub const ALL: [ViolationKind; 12] = [
        ViolationKind::RouteDeviation,
        ViolationKind::TimeWindow,
        ViolationKind::RestrictedZone,
        ViolationKind::Speeding,
        ViolationKind::IllegalDumping,
        ViolationKind::LidOpen,
        ViolationKind::NoPermit,
        ViolationKind::UnpermittedSite,
        ViolationKind::Overload,
        ViolationKind::Offline,
        ViolationKind::GpsTamper,
        ViolationKind::UnregisteredTerminal,
    ];

    /// Stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::RouteDeviation => "route_deviation",
            ViolationKind::TimeWindow => "time_window",
            ViolationKind::RestrictedZone => "restricted_zone",
            ViolationKind::Speeding => "speeding",
            ViolationKind::IllegalDumping => "illegal_dumping",
            ViolationKind::LidOpen => "lid_open",
            ViolationKind::NoPermit => "no_permit",
            ViolationKind::UnpermittedSite => "unpermitted_site",
            ViolationKind::Overload => "overload",
            ViolationKind::Offline => "offline",
            ViolationKind::GpsTamper => "gps_tamper",
            ViolationKind::UnregisteredTerminal => "unregistered_terminal",
        }
    }

    /// Inverse of [`ViolationKind::as_str`].
    pub fn from_name(name: &str) -> Option<ViolationKind> {
        ViolationKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Chinese label for documents and the console.
    pub fn label_zh(self) -> &'static str {
        match self {
            ViolationKind::RouteDeviation => "未按规定路线行驶",
            ViolationKind::TimeWindow => "未按规定时间运输",
            ViolationKind::RestrictedZone => "闯入禁区",
            ViolationKind::Speeding => "超速行驶",
            ViolationKind::IllegalDumping => "乱倒乱卸",
            ViolationKind::LidOpen => "未密闭运输",
            ViolationKind::NoPermit => "无证运输",
            ViolationKind::UnpermittedSite => "违规进出工地/消纳场",
            ViolationKind::Overload => "超载运输",
            ViolationKind::Offline => "终端离线",
            ViolationKind::GpsTamper => "破坏或屏蔽终端",
            ViolationKind::UnregisteredTerminal => "未登记车辆终端",
        }
    }
}

impl std::fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a violation episode stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationStatus {
    /// Still going on.
    Open,
    /// Ended.
    Closed,
}

impl ViolationStatus {
    /// Stable name used in storage and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationStatus::Open => "open",
            ViolationStatus::Closed => "closed",
        }
    }
}

/// One violation episode: opened, updated while it lasts, closed when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    /// Unique id, stable over the episode's updates. Derived from the episode key, so the same
    /// episode judged twice (a late re-upload) maps to the same id.
    pub id: String,
    /// What rule was broken.
    pub kind: ViolationKind,
    /// Offending vehicle; `None` only for an unregistered terminal.
    pub vehicle_id: Option<String>,
    /// Terminal phone, for unregistered terminals and evidence.
    pub phone: String,
    /// Vehicle's company, if known.
    pub company_id: Option<String>,
    /// Permit the vehicle was judged against, if any.
    pub permit_id: Option<String>,
    /// GNSS time the episode started.
    pub started_at: DateTime<Utc>,
    /// GNSS time it ended; `None` while open.
    pub ended_at: Option<DateTime<Utc>>,
    /// Open or closed.
    pub status: ViolationStatus,
    /// Where it started, WGS-84.
    pub lat: f64,
    /// Where it started, WGS-84.
    pub lon: f64,
    /// 1 (low) to 3 (high).
    pub severity: u8,
    /// Evidence: positions, fences with versions, rule parameters, permit. JSON so that each
    /// rule can record what it needs; the shape is documented in the engine.
    pub evidence: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for kind in ViolationKind::ALL {
            assert_eq!(ViolationKind::from_name(kind.as_str()), Some(kind));
            let json = serde_json::to_string(&kind).expect("serialise");
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
        }
    }
}
