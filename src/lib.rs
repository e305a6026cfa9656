//! haulwatch: a construction-waste (muck) truck monitoring platform for a city's
//! urban-management law-enforcement bureau.
//!
//! # Layout
//! Data flows one way: gateway -> bus -> engine -> cases; the store is reached only through its
//! interface, and nothing below the API knows about HTTP.
//!
//! - [`decode`]: the `haulwatch decode` tool (JT/T 808 hex in, JSON lines out).
//! - [`model`]: domain types shared by every module (registry, positions, violations).
//! - `ingest`: the JT/T 808 TCP gateway (terminal sessions, acknowledgements after storage).
//! - `bus`: fan-out of positions to the track store, the engine and the live stream.
//! - `engine`: the in-memory geofence index and the per-vehicle rule state machines.
//! - [`store`]: PostgreSQL/PostGIS or embedded SQLite behind one interface.
//! - [`import`]: registry bundles (GeoJSON + registry.json): parsing, validation, import.
//! - `cases`: enforcement cases, the legal workflow, the audit chain, dispatch.
//! - `api`, `web`: the HTTP API and the web console.
//! - `sim`: the JT/T 808 fleet simulator.

pub mod api;
pub mod app;
pub mod bus;
pub mod cases;
pub mod decode;
pub mod demo;
pub mod engine;
pub mod import;
pub mod ingest;
pub mod model;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod web;
