//! `twostep projections rebuild [NAME…] [--verify]`: drop read models and
//! rebuild them from the log, or (`--verify`) rebuild a scratch copy and
//! compare it with the live read models, table by table.
//!
//! Both refuse to run while a `twostep serve` holds the data directory: they
//! open the event store with its writer lock (`events.sqlite3.lock`), which
//! a running server holds, and keep it until done, so no server starts on a
//! half-rebuilt read model either.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use twostep_projections::{PROJECTORS, ReadModels, compare_files};
use twostep_store::EventStore;

use crate::progress::Progress;
use crate::store::{StoreArgs, StoreKind};

/// Flags of `twostep projections rebuild`.
#[derive(Debug, Clone, clap::Args)]
pub struct RebuildArgs {
    /// Read models to rebuild: active_codes, lockout, security_alerts, login_history (default: all).
    pub names: Vec<String>,
    /// Leave the live read models alone: rebuild into a scratch copy, compare
    /// it with them table by table, print every difference; exit 1 if any.
    #[arg(long)]
    pub verify: bool,
    /// Where the events are.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The read-model file of a data directory (as `serve` opens it).
fn read_model_path(data_dir: &Path) -> PathBuf {
    data_dir.join("readmodels.sqlite3")
}

/// Runs `twostep projections rebuild`.
pub fn run(args: RebuildArgs) -> anyhow::Result<()> {
    for name in &args.names {
        if !PROJECTORS.contains(&name.as_str()) {
            bail!(
                "no read model is named {name:?} (known: {})",
                PROJECTORS.join(", ")
            );
        }
    }
    if args.store.store == StoreKind::Sqlite && !args.store.sqlite_path().exists() {
        bail!(
            "no event store at {} (is --data-dir right?)",
            args.store.sqlite_path().display()
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let store = open_exclusive(&args.store).await?;
        let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
        if args.verify {
            verify(&store, &args.store.data_dir, &names).await
        } else {
            rebuild(&store, &args.store.data_dir, &names).await
        }
    })
}

/// Opens the store with its writer lock, refusing clearly if a server holds it.
async fn open_exclusive(store: &StoreArgs) -> anyhow::Result<Arc<dyn EventStore>> {
    store.open().await.map_err(|error| {
        if format!("{error:#}").contains("already open") {
            anyhow::anyhow!(
                "{} is in use (its lock {}.lock is held, by a running `twostep serve`?): \
                 stop the server first; rebuilding under it would corrupt its read models",
                store.data_dir.display(),
                store.sqlite_path().display()
            )
        } else {
            error
        }
    })
}

/// Catches `models` up with the log behind a progress bar; returns the
/// events read and the time taken.
async fn run_projectors(
    models: &ReadModels,
    store: &Arc<dyn EventStore>,
    label: &'static str,
) -> anyhow::Result<(u64, Duration)> {
    let head = store.head().await?;
    let progress = Progress::new(label);
    let started = Instant::now();
    models
        .catch_up_reporting(store, &|done, head| progress.update(done, head))
        .await?;
    progress.finish();
    Ok((head, started.elapsed()))
}

fn rate(events: u64, took: Duration) -> String {
    let seconds = took.as_secs_f64();
    format!(
        "{events} events in {seconds:.2} s ({:.0} events/s)",
        events as f64 / seconds.max(1e-6)
    )
}

fn names_or_all<'a>(names: &'a [&'a str]) -> Vec<&'a str> {
    if names.is_empty() {
        PROJECTORS.to_vec()
    } else {
        names.to_vec()
    }
}

async fn rebuild(
    store: &Arc<dyn EventStore>,
    data_dir: &Path,
    names: &[&str],
) -> anyhow::Result<()> {
    let models = ReadModels::open(&read_model_path(data_dir))?;
    models.reset(names).await?;
    let (events, took) = run_projectors(&models, store, "rebuild").await?;
    eprintln!(
        "rebuilt {} from {}",
        names_or_all(names).join(", "),
        rate(events, took)
    );
    Ok(())
}

async fn verify(
    store: &Arc<dyn EventStore>,
    data_dir: &Path,
    names: &[&str],
) -> anyhow::Result<()> {
    let live_path = read_model_path(data_dir);
    if !live_path.exists() {
        bail!("no read models at {} to verify", live_path.display());
    }
    // The live models first apply what they have not yet (as a starting
    // server would), so both sides stand at the same position.
    ReadModels::open(&live_path)?.catch_up(store).await?;
    let scratch = tempfile::Builder::new()
        .prefix(".verify-")
        .tempdir_in(data_dir)
        .with_context(|| format!("creating a scratch folder in {}", data_dir.display()))?;
    let scratch_path = read_model_path(scratch.path());
    let rebuilt = ReadModels::open(&scratch_path)?;
    let (events, took) = run_projectors(&rebuilt, store, "verify").await?;
    drop(rebuilt);
    let differences = compare_files(&live_path, &scratch_path, names)?;
    for difference in &differences {
        let side = if difference.only_in_live {
            "only in live   "
        } else {
            "only in rebuilt"
        };
        println!("{} {side} {}", difference.table, difference.row);
    }
    eprintln!(
        "rebuilt a scratch copy of {} from {}",
        names_or_all(names).join(", "),
        rate(events, took)
    );
    if differences.is_empty() {
        eprintln!("no difference: the live read models are what the log gives");
        Ok(())
    } else {
        bail!(
            "{} rows differ between the live read models and a rebuild from the log",
            differences.len()
        )
    }
}
