//! `twostep projections …`: maintenance of the read models, and installing
//! the KurrentDB server-side projections.

use clap::Subcommand;

/// The subcommands of `twostep projections`.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Drop read models and rebuild them from the log (`--verify`: compare a rebuilt copy with the live ones instead).
    Rebuild(Box<crate::projections_rebuild::RebuildArgs>),
    /// Install (or update) the KurrentDB server-side projections of projections/kurrentdb/ through the server's HTTP API.
    Install {
        /// The KurrentDB connection string, e.g. kurrentdb://localhost:2113?tls=false (user:password@ when the server is secure).
        #[arg(long, env = "TWOSTEP_STORE_URL", hide_env_values = true)]
        store_url: String,
    },
}

/// Runs a projections subcommand.
pub fn run(command: ProjectionsCommand) -> anyhow::Result<()> {
    match command {
        ProjectionsCommand::Rebuild(args) => crate::projections_rebuild::run(*args),
        ProjectionsCommand::Install { store_url } => crate::kurrent_projections::run(&store_url),
    }
}
