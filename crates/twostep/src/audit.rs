//! `twostep audit …`: the auditors' commands on the log.

use clap::Subcommand;

/// The subcommands of `twostep audit`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export a licence's login history (from the log) as JSON Lines or CSV.
    Export(Box<crate::audit_export::ExportArgs>),
}

/// Runs an audit subcommand.
pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Export(args) => crate::audit_export::run(*args),
    }
}
