//! The `haulwatch` command line: one binary for every job.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use haulwatch::import::{self, ImportError};
use haulwatch::store::{Store, StoreConfig};

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
    /// Apply database migrations (also done at every start) and print the schema versions.
    Migrate {
        /// Where the data lives.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Validate a registry bundle (registry.json + *.geojson) and import it in one transaction.
    /// Every fault is printed; on any fault nothing is imported and the exit code is 1.
    Import {
        /// The bundle directory, e.g. geofences/liuzhou.
        dir: PathBuf,
        /// Only validate; do not touch the database.
        #[arg(long)]
        check: bool,
        /// Where the data lives.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The enforcement audit trail (执法全过程记录).
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the whole audit hash chain, its kept head, and every evidence file against the
    /// hashes recorded at upload. Prints OK with counts, or names the first event (and every
    /// evidence file) that does not match and exits with code 1.
    Verify {
        /// Where the data lives (evidence files are under --data-dir for both backends).
        #[command(flatten)]
        store: StoreArgs,
    },
}

/// Where the store is: PostgreSQL by URL, or the embedded SQLite database in a directory.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// PostgreSQL URL (postgres://user@host/db). Without it the embedded SQLite database in
    /// --data-dir is used.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Directory of the embedded SQLite database.
    #[arg(long, env = "HAULWATCH_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
}

impl StoreArgs {
    async fn open(&self) -> anyhow::Result<Store> {
        let config = StoreConfig::new(self.database_url.clone(), self.data_dir.clone());
        Store::open(config).await.context("cannot open the store")
    }
}

fn main() -> anyhow::Result<ExitCode> {
    let command = Cli::parse().command;
    if let Command::Decode { lenient, hex } = &command {
        let result = haulwatch::decode::run(
            hex,
            *lenient,
            std::io::stdin().lock(),
            std::io::stdout().lock(),
        );
        return match result {
            // A closed pipe (`| head`) is the reader's choice, not a failure.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
            other => other.map(|()| ExitCode::SUCCESS).map_err(Into::into),
        };
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    match command {
        Command::Decode { .. } => Ok(ExitCode::SUCCESS),
        Command::Migrate { store } => runtime.block_on(async {
            let store = store.open().await?;
            let versions = store.migrate().await.context("migration failed")?;
            println!(
                "Schema is up to date on {:?}; applied migrations: {versions:?}",
                store.backend()
            );
            anyhow::Ok(ExitCode::SUCCESS)
        }),
        Command::Import { dir, check, store } => runtime.block_on(async {
            if check {
                return match import::load_bundle(&dir) {
                    Ok(registry) => {
                        println!(
                            "{} is valid: {} companies, {} vehicles, {} terminals, {} sites, \
                             {} disposal grounds, {} routes, {} zones, {} permits",
                            dir.display(),
                            registry.companies.len(),
                            registry.vehicles.len(),
                            registry.terminals.len(),
                            registry.sites.len(),
                            registry.disposal_grounds.len(),
                            registry.routes.len(),
                            registry.zones.len(),
                            registry.permits.len()
                        );
                        Ok(ExitCode::SUCCESS)
                    }
                    Err(faults) => report_faults(&dir, &faults),
                };
            }
            let store = store.open().await?;
            match import::import_bundle(&store, &dir).await {
                Ok(summary) => {
                    println!(
                        "Imported {}: {}",
                        dir.display(),
                        serde_json::to_string(&summary)?
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(ImportError::Faults(faults)) => report_faults(&dir, &faults),
                Err(ImportError::Store(error)) => {
                    Err(error).context("import failed; nothing was imported")
                }
            }
        }),
        Command::Audit {
            command: AuditCommand::Verify { store },
        } => runtime.block_on(async {
            let store = store.open().await?;
            let service = haulwatch::cases::service::CaseService::new(store, Default::default());
            let report = service
                .verify_audit()
                .await
                .context("cannot read the audit trail")?;
            print_audit_report(&report);
            Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }),
    }
}

/// Prints the verification result: one OK line, or every fault found.
fn print_audit_report(report: &haulwatch::cases::service::AuditVerification) {
    use haulwatch::cases::service::EvidenceFault;
    if report.is_ok() {
        println!(
            "OK: audit chain of {} events verified (head {} {}); {} evidence files match their \
             recorded SHA-256",
            report.events_checked,
            report.kept_head.seq,
            report.kept_head.hash,
            report.evidence_checked
        );
        return;
    }
    if let Some(fault) = &report.chain_fault {
        println!(
            "FAILED: audit event {} does not match: {} ({} events before it verified)",
            fault.event_seq, fault.reason, report.events_checked
        );
    }
    for fault in &report.evidence_faults {
        match fault {
            EvidenceFault::Missing {
                evidence_id,
                sha256,
            } => println!("FAILED: evidence {evidence_id}: file {sha256} is missing"),
            EvidenceFault::Altered {
                evidence_id,
                expected,
                found,
            } => println!(
                "FAILED: evidence {evidence_id}: file hashes to {found}, recorded {expected}"
            ),
            EvidenceFault::RecordAltered {
                evidence_id,
                recorded,
                stored,
            } => println!(
                "FAILED: evidence {evidence_id}: record says {stored}, the chain recorded \
                 {recorded}"
            ),
            EvidenceFault::NotInChain { evidence_id } => {
                println!("FAILED: evidence {evidence_id}: no upload event in the audit chain")
            }
        }
    }
}

/// Prints every fault, one a line, and fails with exit code 1.
fn report_faults(
    dir: &std::path::Path,
    faults: &[import::BundleFault],
) -> anyhow::Result<ExitCode> {
    for fault in faults {
        eprintln!("{fault}");
    }
    eprintln!(
        "{} has {} fault(s); nothing was imported",
        dir.display(),
        faults.len()
    );
    Ok(ExitCode::FAILURE)
}
