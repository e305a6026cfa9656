//! The JT/T 808 ingest gateway: terminal sessions over TCP, positions acknowledged only once
//! stored.
//!
//! - [`server`]: the listener, connection cap and graceful shutdown.
//! - `connection`: one terminal connection (register, authenticate, heartbeats, positions,
//!   commands).
//! - [`convert`]: 0x0200 bodies to domain positions through [`sensors`] profiles.
//! - [`filter`]: positions stored but kept from the rules (no fix, jumps, ...).
//! - [`directory`]: terminal and vehicle look-ups from the registry.
//! - [`session`]: phone to connection, for downlink commands.
//! - [`events`]: metrics and logs.

mod connection;
pub mod convert;
pub mod directory;
pub mod events;
pub mod filter;
pub mod sensors;
pub mod server;
pub mod session;

pub use directory::SharedDirectory;
pub use server::{Gateway, GatewayConfig};
pub use session::{CommandOutcome, DownlinkCommand, SessionRegistry};
