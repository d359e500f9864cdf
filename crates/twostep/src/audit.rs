//! `twostep audit …`: the auditors' commands. `verify` checks the hash
//! chains and signed checkpoints; `checkpoint` signs the current heads now.

use anyhow::Context;
use clap::Subcommand;
use twostep_app::checkpoints::record_checkpoint;
use twostep_app::crypto::ServiceKey;

use crate::audit_verify::{self, VerifyArgs};
use crate::store::StoreArgs;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Export a licence's login history (from the log) as JSON Lines or CSV.
    Export(Box<crate::audit_export::ExportArgs>),
    /// Check every stream's hash chain and every signed checkpoint; one line per break, exit 1 if any.
    Verify(VerifyArgs),
    /// Append a signed checkpoint of the streams changed since the last one (needs the store's writer: stop serve first on sqlite).
    Checkpoint(CheckpointArgs),
}

/// Flags of `twostep audit checkpoint`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckpointArgs {
    /// Where the events are (`--data-dir`, `--store`, `--store-url`).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The service secret (default: DATA_DIR/secret.key).
    #[arg(long, env = "TWOSTEP_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// A process exit status chosen by a command (the error was already printed).
#[derive(Debug, thiserror::Error)]
#[error("exit status {0}")]
pub struct ExitStatus(pub u8);

/// Runs an `audit` subcommand. `verify` exits 0 when intact, 1 on any break,
/// 2 when the log or secret cannot be read.
pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify(args) => match audit_verify::run(&args) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ExitStatus(1).into()),
            Err(error) => {
                eprintln!("twostep: {error:#}");
                Err(ExitStatus(2).into())
            }
        },
        AuditCommand::Checkpoint(args) => checkpoint(&args),
        AuditCommand::Export(args) => crate::audit_export::run(*args),
    }
}

fn checkpoint(args: &CheckpointArgs) -> anyhow::Result<()> {
    let secret = crate::secret::load(args.secret.as_deref(), &args.store.data_dir)?;
    let key = ServiceKey::new(&secret);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let store = args.store.open().await?;
        match record_checkpoint(store.as_ref(), &key)
            .await
            .context("recording a checkpoint")?
        {
            Some(checkpoint) => println!(
                "checkpoint signed: {} streams up to position {}",
                checkpoint.heads.len(),
                checkpoint.covers
            ),
            None => println!("no event since the last checkpoint: nothing to sign"),
        }
        Ok(())
    })
}

/// Signs a checkpoint every `every` while new events keep arriving (never
/// when `every` is zero). Failures are logged and retried at the next tick.
pub fn spawn_checkpoints(
    store: std::sync::Arc<dyn twostep_store::EventStore>,
    key: ServiceKey,
    every: std::time::Duration,
) -> Option<tokio::task::JoinHandle<()>> {
    if every.is_zero() {
        return None;
    }
    Some(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            sign_now(store.as_ref(), &key).await;
        }
    }))
}

/// Records a checkpoint if anything changed, logging the outcome.
pub async fn sign_now(store: &dyn twostep_store::EventStore, key: &ServiceKey) {
    match record_checkpoint(store, key).await {
        Ok(Some(checkpoint)) => tracing::info!(
            covers = checkpoint.covers,
            streams = checkpoint.heads.len(),
            "signed an audit checkpoint"
        ),
        Ok(None) => {}
        Err(error) => tracing::warn!(%error, "could not sign an audit checkpoint"),
    }
}
