//! The `haulwatch` command line: one binary for every job.

use clap::{Parser, Subcommand};

/// haulwatch: construction-waste truck monitoring (JT/T 808 ingest, geofence rules,
/// enforcement cases).
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {}

// Replaced by real subcommands as they land.
#[allow(unreachable_code)]
fn main() -> anyhow::Result<()> {
    match Cli::parse().command {}
}
