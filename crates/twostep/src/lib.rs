//! # twostep
//!
//! The command line: `twostep serve` runs the HTTP facade on the embedded
//! event store; `twostep openapi` prints the OpenAPI document.

#![deny(missing_docs)]

mod admin_tokens;
pub mod cli;
mod connections;
mod data_dir;
pub mod kurrent_projections;
mod logging;
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
        Err(error) => {
            eprintln!("twostep: {error:#}");
            ExitCode::FAILURE
        }
    }
}
