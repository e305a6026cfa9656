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
enum Command {
    /// Decode JT/T 808 frames given as hex into JSON, one object per frame.
    Decode {
        /// Accept frames with a bad checksum (reported as "checksum_ok": false), a bare 0x7D
        /// checksum or a body length that does not match.
        #[arg(long)]
        lenient: bool,
        /// Frames as hex, one per argument, spaces ignored. Without any, frames are read from
        /// stdin, one per line.
        hex: Vec<String>,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Decode { lenient, hex } => {
            let result = haulwatch::decode::run(
                &hex,
                lenient,
                std::io::stdin().lock(),
                std::io::stdout().lock(),
            );
            match result {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
    }
}
