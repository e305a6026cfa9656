//! Sensor profiles: how a terminal model reports load, tipper lift, lid and weight.
//!
//! There is no national standard for muck-truck sensors: vendors reuse door status bits or put
//! the states in their own additional items (0xE1-0xFF). A profile per terminal model says where
//! to read each one; a model without a profile uses the default (load from status bits 8-9,
//! nothing else).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::LoadState;

/// Where a yes/no sensor state is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum BitSource {
    /// The terminal has no such sensor.
    #[default]
    None,
    /// A bit of the 0x0200 status word.
    Status {
        /// Bit number, 0-31.
        bit: u8,
    },
    /// A bit of an additional item's value, read as a big-endian integer.
    Item {
        /// Additional item id.
        id: u8,
        /// Bit number within the value.
        bit: u8,
    },
}

/// Where the load state is read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum LoadSource {
    /// Status bits 8-9 (00 empty, 01 half, 11 full), as JT/T 808 defines.
    #[default]
    StatusBits,
    /// From the weight: loaded above the threshold.
    Weight {
        /// Kilograms above which the truck counts as fully loaded.
        full_above_kg: f64,
        /// Kilograms above which it counts as half loaded.
        half_above_kg: f64,
    },
    /// No load sensor.
    None,
}

/// Where the weight is read.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum WeightSource {
    /// No weight sensor.
    #[default]
    None,
    /// An additional item whose value is an unsigned big-endian integer times `scale_kg`.
    Item {
        /// Additional item id.
        id: u8,
        /// Kilograms per unit of the raw value.
        scale_kg: f64,
    },
    /// Analog input AD0 of item 0x2B (low 16 bits) times `scale_kg`.
    Analog0 {
        /// Kilograms per unit of the raw value.
        scale_kg: f64,
    },
}

/// How one terminal model reports its sensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SensorProfile {
    /// Load state.
    #[serde(default)]
    pub load: LoadSource,
    /// Tipper lift raised.
    #[serde(default)]
    pub lift: BitSource,
    /// Lid open.
    #[serde(default)]
    pub lid_open: BitSource,
    /// Load weight.
    #[serde(default)]
    pub weight: WeightSource,
}

/// Sensor states read from one position report.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SensorReading {
    /// Load state.
    pub load: LoadState,
    /// Lift raised; `None` without the sensor.
    pub lift_up: Option<bool>,
    /// Lid open; `None` without the sensor.
    pub lid_open: Option<bool>,
    /// Weight in kg; `None` without the sensor.
    pub weight_kg: Option<f64>,
}

impl SensorProfile {
    /// The profile of the simulator's smart muck truck (model `smart-muck`, as in the sample city): load from status bits
    /// 8-9, lid open on status bit 13 (door 1), tipper raised on status bit 15 (door 3), and
    /// the weight in kg in vendor item 0xE1.
    pub fn smart_muck_truck() -> SensorProfile {
        SensorProfile {
            load: LoadSource::StatusBits,
            lift: BitSource::Status { bit: 15 },
            lid_open: BitSource::Status { bit: 13 },
            weight: WeightSource::Item {
                id: 0xE1,
                scale_kg: 1.0,
            },
        }
    }

    /// Reads the sensors from a report's status word and additional items (`item(id)` gives
    /// an item's raw value).
    pub fn read<'a>(&self, status: u32, item: impl Fn(u8) -> Option<&'a [u8]>) -> SensorReading {
        let weight_kg = match self.weight {
            WeightSource::None => None,
            WeightSource::Item { id, scale_kg } => {
                item(id).and_then(be_uint).map(|v| v as f64 * scale_kg)
            }
            WeightSource::Analog0 { scale_kg } => item(0x2B)
                .and_then(be_uint)
                .map(|v| (v & 0xFFFF) as f64 * scale_kg),
        };
        let load = match self.load {
            LoadSource::StatusBits => match (status >> 8) & 0b11 {
                0b00 => LoadState::Empty,
                0b01 => LoadState::Half,
                0b11 => LoadState::Full,
                _ => LoadState::Unknown,
            },
            LoadSource::Weight {
                full_above_kg,
                half_above_kg,
            } => match weight_kg {
                Some(w) if w > full_above_kg => LoadState::Full,
                Some(w) if w > half_above_kg => LoadState::Half,
                Some(_) => LoadState::Empty,
                None => LoadState::Unknown,
            },
            LoadSource::None => LoadState::Unknown,
        };
        SensorReading {
            load,
            lift_up: read_bit(self.lift, status, &item),
            lid_open: read_bit(self.lid_open, status, &item),
            weight_kg,
        }
    }
}

fn read_bit<'a>(
    source: BitSource,
    status: u32,
    item: &impl Fn(u8) -> Option<&'a [u8]>,
) -> Option<bool> {
    match source {
        BitSource::None => None,
        BitSource::Status { bit } => Some(bit < 32 && status & (1 << bit) != 0),
        BitSource::Item { id, bit } => item(id)
            .and_then(be_uint)
            .map(|v| bit < 64 && v & (1 << bit) != 0),
    }
}

/// An item value of 1 to 8 bytes as a big-endian unsigned integer.
fn be_uint(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    Some(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

/// Sensor profiles by terminal model name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SensorProfiles {
    /// Profile for models not listed.
    #[serde(default)]
    pub default: SensorProfile,
    /// Profiles by model name.
    #[serde(default)]
    pub models: HashMap<String, SensorProfile>,
}

impl Default for SensorProfiles {
    fn default() -> Self {
        let mut models = HashMap::new();
        models.insert("smart-muck".to_string(), SensorProfile::smart_muck_truck());
        Self {
            default: SensorProfile::default(),
            models,
        }
    }
}

/// Why a sensor profile file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SensorProfileError {
    /// Unreadable file.
    #[error("cannot read sensor profiles {path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Not valid profile JSON.
    #[error("invalid sensor profiles {path}: {source}")]
    Parse {
        /// File path.
        path: String,
        /// Underlying error.
        source: serde_json::Error,
    },
}

impl SensorProfiles {
    /// Loads profiles from a JSON file; the built-in models stay unless the file redefines
    /// them.
    pub fn load(path: &Path) -> Result<SensorProfiles, SensorProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SensorProfileError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let loaded: SensorProfiles =
            serde_json::from_str(&text).map_err(|source| SensorProfileError::Parse {
                path: path.display().to_string(),
                source,
            })?;
        let mut models = SensorProfiles::default().models;
        models.extend(loaded.models);
        Ok(SensorProfiles {
            default: loaded.default,
            models,
        })
    }

    /// The profile for a terminal model.
    pub fn for_model(&self, model: &str) -> &SensorProfile {
        self.models.get(model).unwrap_or(&self.default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_reads_load_bits_only() {
        let profile = SensorProfile::default();
        let full = profile.read(0b11 << 8, |_| None);
        assert_eq!(full.load, LoadState::Full);
        assert_eq!(full.lift_up, None);
        assert_eq!(profile.read(0b01 << 8, |_| None).load, LoadState::Half);
        assert_eq!(profile.read(0, |_| None).load, LoadState::Empty);
        assert_eq!(profile.read(0b10 << 8, |_| None).load, LoadState::Unknown);
    }

    #[test]
    fn smart_truck_reads_lift_lid_weight() {
        let profile = SensorProfile::smart_muck_truck();
        let weight = [0x00, 0x00, 0x4E, 0x20]; // 20,000 kg
        let reading = profile.read((1 << 15) | (1 << 13) | (0b11 << 8), |id| {
            (id == 0xE1).then_some(&weight[..])
        });
        assert_eq!(reading.lift_up, Some(true));
        assert_eq!(reading.lid_open, Some(true));
        assert_eq!(reading.weight_kg, Some(20_000.0));
        assert_eq!(reading.load, LoadState::Full);
    }

    #[test]
    fn weight_based_load_and_item_bits() {
        let profile = SensorProfile {
            load: LoadSource::Weight {
                full_above_kg: 10_000.0,
                half_above_kg: 1_000.0,
            },
            lift: BitSource::Item { id: 0xF0, bit: 1 },
            lid_open: BitSource::None,
            weight: WeightSource::Analog0 { scale_kg: 10.0 },
        };
        let analog = [0x00, 0x00, 0x01, 0xF4]; // AD0 = 500 -> 5,000 kg
        let flags = [0b10];
        let reading = profile.read(0, |id| match id {
            0x2B => Some(&analog[..]),
            0xF0 => Some(&flags[..]),
            _ => None,
        });
        assert_eq!(reading.weight_kg, Some(5_000.0));
        assert_eq!(reading.load, LoadState::Half);
        assert_eq!(reading.lift_up, Some(true));
        // Oversized or empty items are ignored, not misread.
        let long = [0u8; 9];
        assert_eq!(profile.read(0, |_| Some(&long[..])).weight_kg, None);
    }

    #[test]
    fn profiles_file_overrides_and_keeps_builtins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("profiles.json");
        std::fs::write(
            &path,
            r#"{"models": {"X1": {"lift": {"from": "status", "bit": 16}}}}"#,
        )
        .expect("write");
        let profiles = SensorProfiles::load(&path).expect("load");
        assert_eq!(profiles.for_model("X1").lift, BitSource::Status { bit: 16 });
        assert_eq!(
            profiles.for_model("smart-muck"),
            &SensorProfile::smart_muck_truck()
        );
        assert_eq!(profiles.for_model("unknown"), &SensorProfile::default());
        std::fs::write(&path, "{not json").expect("write");
        assert!(matches!(
            SensorProfiles::load(&path),
            Err(SensorProfileError::Parse { .. })
        ));
    }
}
