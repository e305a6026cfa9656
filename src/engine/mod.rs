//! The geofence index and rule engine.
//!
//! Pure Rust: no I/O, no SQL, no HTTP. See [`index`] for the fence index.

pub mod index;
pub mod metric;
pub mod synthetic;
