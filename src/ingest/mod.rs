//! The JT/T 808 ingest gateway: terminal sessions over TCP, positions acknowledged only once
//! stored.

pub mod filter;
pub mod sensors;
