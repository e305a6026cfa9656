//! Scenario files: which simulated trucks break which rules, when.
//!
//! ```json
//! {"trucks": [
//!   {"vehicle_id": "V007", "break": "leave_route", "start_s": 30, "duration_s": 240, "offset_m": 500},
//!   {"vehicle_id": "V012", "break": "speeding", "start_s": 20, "duration_s": 90, "speed_kmh": 95},
//!   {"vehicle_id": "V020", "break": "enter_zone", "zone_id": "Z-CORE", "start_s": 20, "duration_s": 300},
//!   {"vehicle_id": "V033", "break": "dump", "start_s": 30, "duration_s": 420, "lift": false},
//!   {"vehicle_id": "V040", "break": "lid_open", "start_s": 10, "duration_s": 120},
//!   {"vehicle_id": "V050", "break": "offline", "start_s": 60, "duration_s": 900},
//!   {"phone": "019900000001", "break": "unregistered"}
//! ]}
//! ```
//! Times are seconds after the simulation starts.

use std::path::Path;

use geo::Centroid;
use serde::Deserialize;

use crate::model::Registry;

/// A scenario file's contents.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Rule-breaking trucks.
    #[serde(default)]
    pub trucks: Vec<ScenarioEntry>,
}

/// One truck's rule-breaking, as written in the file. (Unknown fields cannot be refused here:
/// serde does not combine that with the flattened rule.)
#[derive(Debug, Clone, Deserialize)]
pub struct ScenarioEntry {
    /// Registered vehicle that breaks the rule (not used for `unregistered`).
    #[serde(default)]
    pub vehicle_id: Option<String>,
    /// Terminal phone for an `unregistered` truck (not in the registry).
    #[serde(default)]
    pub phone: Option<String>,
    /// Seconds after start when the behaviour begins.
    #[serde(default)]
    pub start_s: f64,
    /// How long it lasts, seconds.
    #[serde(default = "default_duration")]
    pub duration_s: f64,
    /// What the truck does.
    #[serde(flatten)]
    pub rule: RuleBreak,
}

fn default_duration() -> f64 {
    300.0
}

/// What a scenario truck does wrong.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "break", rename_all = "snake_case")]
pub enum RuleBreak {
    /// Drive parallel to the route, `offset_m` to its right.
    LeaveRoute {
        /// Lateral offset from the planned path, metres.
        #[serde(default = "default_offset")]
        offset_m: f64,
    },
    /// Drive at `speed_kmh`.
    Speeding {
        /// Speed while speeding, km/h.
        #[serde(default = "default_speed")]
        speed_kmh: f64,
    },
    /// Go to the centre of zone `zone_id` and stay there.
    EnterZone {
        /// Zone to enter.
        zone_id: String,
    },
    /// Stop loaded where the truck is; raise the tipper if `lift`.
    Dump {
        /// Whether the lift sensor reports the tipper raised.
        #[serde(default)]
        lift: bool,
    },
    /// Open the lid while loaded.
    LidOpen,
    /// Stop reporting.
    Offline,
    /// A truck whose terminal is not registered.
    Unregistered,
}

fn default_offset() -> f64 {
    500.0
}

fn default_speed() -> f64 {
    95.0
}

/// A behaviour resolved against the registry, ready for [`super::motion::TruckMotion`].
#[derive(Debug, Clone, PartialEq)]
pub enum Behaviour {
    /// Offset from the path.
    LeaveRoute {
        /// Window start, seconds.
        start_s: f64,
        /// Window length, seconds.
        duration_s: f64,
        /// Lateral offset, metres.
        offset_m: f64,
    },
    /// Drive fast.
    Speeding {
        /// Window start, seconds.
        start_s: f64,
        /// Window length, seconds.
        duration_s: f64,
        /// Speed, km/h.
        speed_kmh: f64,
    },
    /// Sit at a point inside a zone.
    EnterZone {
        /// Window start, seconds.
        start_s: f64,
        /// Window length, seconds.
        duration_s: f64,
        /// Longitude of the point.
        lon: f64,
        /// Latitude of the point.
        lat: f64,
    },
    /// Stop loaded.
    Dump {
        /// Window start, seconds.
        start_s: f64,
        /// Window length, seconds.
        duration_s: f64,
        /// Lift raised.
        lift: bool,
    },
    /// Lid open.
    LidOpen {
        /// Window start, seconds.
        start_s: f64,
        /// Window length, seconds.
        duration_s: f64,
    },
    /// Silent.
    Offline {
        /// Window start, seconds.
        start_s: f64,
        /// Window length, seconds.
        duration_s: f64,
    },
}

impl Behaviour {
    /// Whether the behaviour is in force `elapsed_s` seconds after start.
    pub fn active_at(&self, elapsed_s: f64) -> bool {
        let (start, duration) = match self {
            Behaviour::LeaveRoute {
                start_s,
                duration_s,
                ..
            }
            | Behaviour::Speeding {
                start_s,
                duration_s,
                ..
            }
            | Behaviour::EnterZone {
                start_s,
                duration_s,
                ..
            }
            | Behaviour::Dump {
                start_s,
                duration_s,
                ..
            }
            | Behaviour::LidOpen {
                start_s,
                duration_s,
            }
            | Behaviour::Offline {
                start_s,
                duration_s,
            } => (*start_s, *duration_s),
        };
        elapsed_s >= start && elapsed_s < start + duration
    }
}

/// Why a scenario file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid scenario.
    #[error("invalid scenario {path}: {source}")]
    Parse {
        /// File path.
        path: String,
        /// Underlying error.
        source: serde_json::Error,
    },
    /// An entry names something the registry does not have.
    #[error("scenario entry {index}: {reason}")]
    Entry {
        /// Position of the entry in `trucks`.
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The permitted truck whose planned route passes closest to a zone of `kind`, with that
/// zone's id and the distance in metres: the natural candidate for an `enter_zone` detour.
pub fn nearest_zone_detour(
    registry: &Registry,
    kind: crate::model::ZoneKind,
) -> Option<(String, String, f64)> {
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    let zones: Vec<(&str, geo::Point<f64>)> = registry
        .zones
        .iter()
        .filter(|z| z.kind == kind)
        .filter_map(|z| Some((z.id.as_str(), z.geometry.centroid()?)))
        .collect();
    registry
        .vehicles
        .iter()
        .filter_map(|vehicle| {
            let motion = super::motion::TruckMotion::plan(
                registry,
                &vehicle.id,
                super::motion::LIUZHOU_CENTRE,
                &mut rng,
            );
            zones
                .iter()
                .filter_map(|(zone, centre)| {
                    let d = motion.approach_m(centre.x(), centre.y())?;
                    Some((vehicle.id.clone(), zone.to_string(), d))
                })
                .min_by(|a, b| a.2.total_cmp(&b.2))
        })
        .min_by(|a, b| a.2.total_cmp(&b.2))
}

/// A scenario resolved against a registry.
#[derive(Debug, Clone, Default)]
pub struct ResolvedScenario {
    /// `(vehicle_id, behaviour)` for registered trucks.
    pub behaviours: Vec<(String, Behaviour)>,
    /// Phones of trucks whose terminals are not registered.
    pub unregistered: Vec<String>,
}

impl Scenario {
    /// Reads a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ScenarioError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    /// Resolves each entry against the registry.
    pub fn resolve(&self, registry: &Registry) -> Result<ResolvedScenario, ScenarioError> {
        let mut behaviours = Vec::new();
        let mut unregistered = Vec::new();
        for (index, entry) in self.trucks.iter().enumerate() {
            let (start_s, duration_s) = (entry.start_s, entry.duration_s);
            if let RuleBreak::Unregistered = entry.rule {
                let phone = entry.phone.clone().ok_or_else(|| ScenarioError::Entry {
                    index,
                    reason: "an unregistered truck needs a phone".into(),
                })?;
                unregistered.push(phone);
                continue;
            }
            let vehicle_id = entry
                .vehicle_id
                .clone()
                .ok_or_else(|| ScenarioError::Entry {
                    index,
                    reason: "vehicle_id is required".into(),
                })?;
            if !registry.vehicles.iter().any(|v| v.id == vehicle_id) {
                return Err(ScenarioError::Entry {
                    index,
                    reason: format!("unknown vehicle {vehicle_id}"),
                });
            }
            let behaviour = match &entry.rule {
                RuleBreak::LeaveRoute { offset_m } => Behaviour::LeaveRoute {
                    start_s,
                    duration_s,
                    offset_m: *offset_m,
                },
                RuleBreak::Speeding { speed_kmh } => Behaviour::Speeding {
                    start_s,
                    duration_s,
                    speed_kmh: *speed_kmh,
                },
                RuleBreak::EnterZone { zone_id } => {
                    let zone = registry
                        .zones
                        .iter()
                        .find(|z| &z.id == zone_id)
                        .ok_or_else(|| ScenarioError::Entry {
                            index,
                            reason: format!("unknown zone {zone_id}"),
                        })?;
                    let centre = zone
                        .geometry
                        .centroid()
                        .ok_or_else(|| ScenarioError::Entry {
                            index,
                            reason: format!("zone {zone_id} has no area"),
                        })?;
                    Behaviour::EnterZone {
                        start_s,
                        duration_s,
                        lon: centre.x(),
                        lat: centre.y(),
                    }
                }
                RuleBreak::Dump { lift } => Behaviour::Dump {
                    start_s,
                    duration_s,
                    lift: *lift,
                },
                RuleBreak::LidOpen => Behaviour::LidOpen {
                    start_s,
                    duration_s,
                },
                RuleBreak::Offline => Behaviour::Offline {
                    start_s,
                    duration_s,
                },
                RuleBreak::Unregistered => continue,
            };
            behaviours.push((vehicle_id, behaviour));
        }
        Ok(ResolvedScenario {
            behaviours,
            unregistered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        let text = r#"{"trucks": [
            {"vehicle_id": "V1", "break": "leave_route", "start_s": 30, "duration_s": 240, "offset_m": 500},
            {"vehicle_id": "V1", "break": "speeding", "speed_kmh": 90},
            {"vehicle_id": "V1", "break": "enter_zone", "zone_id": "Z"},
            {"vehicle_id": "V1", "break": "dump", "lift": true},
            {"vehicle_id": "V1", "break": "lid_open"},
            {"vehicle_id": "V1", "break": "offline"},
            {"phone": "019900000001", "break": "unregistered"}
        ]}"#;
        let scenario: Scenario = serde_json::from_str(text).expect("parse");
        assert_eq!(scenario.trucks.len(), 7);
        assert!(matches!(
            scenario.trucks[0].rule,
            RuleBreak::LeaveRoute { offset_m } if offset_m == 500.0
        ));
    }

    #[test]
    fn unknown_vehicle_is_an_error() {
        let scenario: Scenario =
            serde_json::from_str(r#"{"trucks": [{"vehicle_id": "NOPE", "break": "lid_open"}]}"#)
                .expect("parse");
        let err = scenario.resolve(&Registry::default());
        assert!(matches!(err, Err(ScenarioError::Entry { index: 0, .. })));
    }

    #[test]
    fn behaviour_window() {
        let b = Behaviour::Offline {
            start_s: 10.0,
            duration_s: 5.0,
        };
        assert!(!b.active_at(9.9));
        assert!(b.active_at(10.0));
        assert!(!b.active_at(15.0));
    }
}
