//! `twostep audit verify`: reads the whole log in global order, recomputes
//! every stream's hash chain and checks every signed checkpoint, printing one
//! line per break and a summary. Opens the store read-only, so it runs beside
//! a live `twostep serve`.

mod check;

use std::io::Write as _;

use anyhow::Context;
use twostep_app::crypto::ServiceKey;
use twostep_store::{EventStore, Position, StoreError};

use crate::store::StoreArgs;

pub use check::{Finding, Verifier};

/// Events read per page.
const PAGE: usize = 1_000;

/// Positions probed past an unreadable event before giving up.
const MAX_PROBES: u64 = 100_000;

/// Flags of `twostep audit verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Where the events are (`--data-dir`, `--store`, `--store-url`).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The service secret that signed the checkpoints (default: DATA_DIR/secret.key).
    #[arg(long, env = "TWOSTEP_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

/// What `verify` found: `Ok(true)` when the log is intact.
pub fn run(args: &VerifyArgs) -> anyhow::Result<bool> {
    let secret = crate::secret::load(args.secret.as_deref(), &args.store.data_dir)?;
    let key = ServiceKey::new(&secret);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        let store = args.store.open_read_only().await?;
        let verifier = verify(store.as_ref(), key).await?;
        let mut out = std::io::stdout().lock();
        for finding in &verifier.findings {
            writeln!(out, "{finding}")?;
        }
        writeln!(
            out,
            "checked {} streams, {} events ({} without a chain link, from before chaining), {} checkpoints: {}",
            verifier.stream_count(),
            verifier.events,
            verifier.unchained,
            verifier.checkpoints,
            match verifier.findings.len() {
                0 => "no break".to_owned(),
                1 => "1 break".to_owned(),
                n => format!("{n} breaks"),
            }
        )?;
        Ok(verifier.findings.is_empty())
    })
}

/// Runs every check over the whole log.
pub async fn verify(store: &dyn EventStore, key: ServiceKey) -> anyhow::Result<Verifier> {
    let mut verifier = Verifier::new(key);
    let mut cursor: Position = 0;
    loop {
        let page = match store.read_all(cursor, PAGE).await {
            Ok(page) => page,
            Err(StoreError::Corrupt(why)) => {
                cursor = skip_unreadable(store, cursor, &mut verifier, why).await?;
                continue;
            }
            Err(err) => return Err(err).context("reading the log"),
        };
        let Some(last) = page.last() else { break };
        cursor = last.position;
        for event in &page {
            verifier.check(event);
        }
    }
    for deferred in std::mem::take(&mut verifier.deferred) {
        let stored = store
            .read_stream(&deferred.stream, deferred.version.saturating_sub(1), 1)
            .await;
        let hash = match &stored {
            Ok(events) => events
                .first()
                .filter(|e| e.version == deferred.version)
                .and_then(|e| e.metadata.chain.as_ref())
                .map(|link| link.hash.clone()),
            Err(_) => None,
        };
        if hash.as_deref() != Some(deferred.hash.as_str()) {
            verifier.findings.push(Finding {
                stream: deferred.stream,
                version: Some(deferred.version),
                position: None,
                what: format!(
                    "rewritten after a checkpoint: the checkpoint at position {} names another hash for this version",
                    deferred.checkpoint_position
                ),
            });
        }
    }
    verifier.finish();
    Ok(verifier)
}

/// The first event after `cursor` cannot be read: finds its position by
/// reading one event at a time from successive positions, reports it, and
/// answers the position to continue after.
async fn skip_unreadable(
    store: &dyn EventStore,
    cursor: Position,
    verifier: &mut Verifier,
    why: String,
) -> anyhow::Result<Position> {
    for next in cursor + 1..=cursor + MAX_PROBES {
        match store.read_all(next, 1).await {
            Err(StoreError::Corrupt(_)) => continue,
            Err(err) => return Err(err).context("reading the log"),
            Ok(_) => {
                verifier.unreadable(next, why);
                return Ok(next);
            }
        }
    }
    anyhow::bail!("more than {MAX_PROBES} unreadable positions after {cursor}: {why}")
}
