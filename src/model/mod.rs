//! Domain types shared by every module: the registry (who and what may drive where and when),
//! positions as they flow from ingest to the engine and the store, and violations.
//!
//! These types carry no I/O and no storage or HTTP concerns; each module converts at its own
//! door (the store to rows, the API to JSON).

pub mod position;
pub mod registry;
pub mod schedule;
pub mod trip;
pub mod violation;

pub use position::{LoadState, Position, PositionFlags, PositionSource, next_position_id};
pub use registry::{
    Company, DisposalGround, Driver, FenceRef, GeometryVersion, Officer, Permit, Registry, Route,
    SensorCapabilities, Site, Terminal, Vehicle, Zone, ZoneKind, phone_key,
};
pub use schedule::{DailyWindow, Weekdays, WeeklyWindow};
pub use trip::Trip;
pub use violation::{Violation, ViolationKind, ViolationStatus};

/// Offset of the bureau's local time (Asia/Shanghai, no daylight saving) from UTC.
pub const LOCAL_OFFSET_SECS: i32 = 8 * 3600;

/// The bureau's local time zone as a fixed offset; China has had no DST since 1991.
pub fn local_offset() -> chrono::FixedOffset {
    // 8 hours is always within chrono's accepted range, so this never falls back.
    chrono::FixedOffset::east_opt(LOCAL_OFFSET_SECS)
        .unwrap_or(chrono::FixedOffset::east_opt(0).expect("zero offset is valid"))
}
