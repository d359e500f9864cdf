//! `twostep projections …`: maintenance of the read models.

use clap::Subcommand;

/// The subcommands of `twostep projections`.
#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// Drop read models and rebuild them from the log (`--verify`: compare a rebuilt copy with the live ones instead).
    Rebuild(Box<crate::projections_rebuild::RebuildArgs>),
}

/// Runs a projections subcommand.
pub fn run(command: ProjectionsCommand) -> anyhow::Result<()> {
    match command {
        ProjectionsCommand::Rebuild(args) => crate::projections_rebuild::run(*args),
    }
}
