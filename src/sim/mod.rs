//! The JT/T 808 fleet simulator: trucks that drive the routes of a registry bundle (or random
//! walks), speak JT/T 808 to any server over real TCP, and break chosen rules on cue.

pub mod client;
pub mod motion;
pub mod scenario;

pub use client::{ProtocolChoice, SimConfig, SimReport, SimStats};
pub use motion::{SimFix, TruckMotion};
pub use scenario::{
    Behaviour, ResolvedScenario, RuleBreak, Scenario, ScenarioEntry, ScenarioError,
};
