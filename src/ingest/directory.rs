//! The gateway's in-memory view of the registry: which terminal is bound to which vehicle, and
//! which vehicle a plate names. Rebuilt from a registry snapshot whenever the registry changes
//! and swapped atomically; auth codes stay in the store (they are written at registration).

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::model::{Registry, phone_key};

/// A terminal as the gateway needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalEntry {
    /// Bound vehicle, if any.
    pub vehicle_id: Option<String>,
    /// Model name, selecting the sensor profile.
    pub model: String,
}

/// Look-up tables built from one registry snapshot.
#[derive(Debug, Default)]
pub struct Directory {
    /// Terminals by phone key (leading zeros removed).
    terminals: HashMap<String, TerminalEntry>,
    /// Vehicle ids by plate.
    vehicles_by_plate: HashMap<String, String>,
    /// Phone key of the terminal bound to each vehicle.
    terminal_of_vehicle: HashMap<String, String>,
}

impl Directory {
    /// Builds the tables from a registry.
    pub fn from_registry(registry: &Registry) -> Directory {
        let mut directory = Directory::default();
        for terminal in &registry.terminals {
            let key = phone_key(&terminal.phone).to_string();
            if let Some(vehicle) = &terminal.vehicle_id {
                directory
                    .terminal_of_vehicle
                    .insert(vehicle.clone(), key.clone());
            }
            directory.terminals.insert(
                key,
                TerminalEntry {
                    vehicle_id: terminal.vehicle_id.clone(),
                    model: terminal.model.clone(),
                },
            );
        }
        for vehicle in &registry.vehicles {
            directory
                .vehicles_by_plate
                .insert(vehicle.plate.clone(), vehicle.id.clone());
        }
        directory
    }

    /// The terminal with this phone (any number of leading zeros).
    pub fn terminal(&self, phone: &str) -> Option<&TerminalEntry> {
        self.terminals.get(phone_key(phone))
    }

    /// The 0x8100 result for a registration from `phone` naming `plate`: 0 accepted, 1 the
    /// vehicle is bound to another terminal, 2 the terminal is bound to no vehicle and the plate
    /// names none, 4 the terminal is unknown.
    pub fn registration_result(&self, phone: &str, plate: &str) -> u8 {
        let key = phone_key(phone);
        let Some(terminal) = self.terminals.get(key) else {
            return 4;
        };
        let plate_vehicle = self.vehicles_by_plate.get(plate.trim());
        if let Some(vehicle) = plate_vehicle
            && self
                .terminal_of_vehicle
                .get(vehicle)
                .is_some_and(|bound| bound != key)
        {
            return 1;
        }
        if terminal.vehicle_id.is_some() { 0 } else { 2 }
    }
}

/// A directory that can be swapped while connections read it.
#[derive(Debug, Clone, Default)]
pub struct SharedDirectory(Arc<ArcSwap<Directory>>);

impl SharedDirectory {
    /// A shared directory built from `registry`.
    pub fn new(registry: &Registry) -> SharedDirectory {
        SharedDirectory(Arc::new(ArcSwap::from_pointee(Directory::from_registry(
            registry,
        ))))
    }

    /// Replaces the tables after a registry change.
    pub fn update(&self, registry: &Registry) {
        self.0.store(Arc::new(Directory::from_registry(registry)));
    }

    /// The current tables.
    pub fn load(&self) -> Arc<Directory> {
        self.0.load_full()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SensorCapabilities, Terminal, Vehicle};

    fn registry() -> Registry {
        let vehicle = |id: &str, plate: &str| Vehicle {
            id: id.into(),
            plate: plate.into(),
            plate_color: 2,
            company_id: "C1".into(),
            rated_load_kg: None,
            sensors: SensorCapabilities::default(),
        };
        let terminal = |phone: &str, vehicle: Option<&str>| Terminal {
            phone: phone.into(),
            vehicle_id: vehicle.map(str::to_string),
            model: "generic".into(),
            protocol: "2013".into(),
            auth_code: None,
        };
        Registry {
            vehicles: vec![vehicle("V1", "桂B00001"), vehicle("V2", "桂B00002")],
            terminals: vec![
                terminal("13800000001", Some("V1")),
                terminal("13800000002", None),
            ],
            ..Registry::default()
        }
    }

    #[test]
    fn registration_results() {
        let directory = Directory::from_registry(&registry());
        // 2013 (12 digits) and 2019 (20 digits) forms of the same number.
        assert_eq!(directory.registration_result("013800000001", "桂B00001"), 0);
        assert_eq!(
            directory.registration_result("00000000013800000001", "桂B00001"),
            0
        );
        assert_eq!(directory.registration_result("019999999999", "桂B00001"), 4);
        // An unbound terminal claiming a vehicle bound to another terminal.
        assert_eq!(directory.registration_result("013800000002", "桂B00001"), 1);
        assert_eq!(directory.registration_result("013800000002", "桂X99999"), 2);
        assert_eq!(
            directory
                .terminal("013800000001")
                .and_then(|t| t.vehicle_id.clone()),
            Some("V1".into())
        );
    }
}
