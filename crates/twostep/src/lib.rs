//! # twostep
//!
//! The command line: `twostep serve` runs the HTTP facade on the embedded
//! event store; `twostep openapi` prints the OpenAPI document.

#![deny(missing_docs)]

mod admin_tokens;
pub mod alerts;
pub mod audit;
pub mod audit_export;
pub mod audit_verify;
pub mod cli;
mod connections;
mod data_dir;
pub mod kurrent_projections;
mod logging;
mod progress;
pub mod projections;
pub mod projections_rebuild;
pub mod replay;
mod secret;
pub mod serve;
pub mod store;
pub mod tls;

use std::process::ExitCode;

use clap::Parser;

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    tls::install_crypto_provider();
    let cli = cli::Cli::parse();
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => match error.downcast_ref::<audit::ExitStatus>() {
            Some(audit::ExitStatus(status)) => ExitCode::from(*status),
            None => {
                eprintln!("twostep: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}
