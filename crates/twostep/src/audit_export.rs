//! `twostep audit export`: a licence's login history for a time range, read
//! from the log itself (not the read model, which may lag or be rebuilt), so
//! the export holds every login event of the range and nothing outside it.
//! The rows are those of `GET /v1/licences/{licence}/login-history`, with
//! the same filters, validated the same way.
//!
//! Streaming: the log is read in pages of [`PAGE`] events up to the head at
//! start, each row written as it is found; memory holds one page and the
//! logins of the licence's users, whatever the size of the log.

mod rows;
mod summary;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use twostep_app::Twostep;
use twostep_domain::{LicenceId, LicenceName, Timestamp};
use twostep_projections::{HistoryQuery, LogHistory};
use twostep_store::EventStore;

use self::rows::RowWriter;
pub use self::rows::{COLUMNS, Format};
use self::summary::Summary;
use crate::progress::Progress;
use crate::store::StoreArgs;

/// Events read from the log at a time.
const PAGE: usize = 5_000;

/// Flags of `twostep audit export`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The licence (its name, any spelling).
    #[arg(long)]
    pub licence: String,
    /// Only events recorded at or after this instant (RFC 3339, inclusive).
    #[arg(long)]
    pub from: Option<String>,
    /// Only events recorded before this instant (RFC 3339, exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Only this user's events (their login, any spelling).
    #[arg(long)]
    pub login: Option<String>,
    /// Only this outcome (`invalid_credentials`, `invalid_code`, `authenticated`, `locked`…).
    #[arg(long)]
    pub outcome: Option<String>,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Write to this file (created or replaced once complete) instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Where the events are.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What an export selects, validated.
struct Selection {
    licence: LicenceId,
    query: HistoryQuery,
}

fn instant(flag: &str, text: Option<&str>) -> anyhow::Result<Option<Timestamp>> {
    text.map(|t| {
        Timestamp::parse(t).ok_or_else(|| {
            anyhow!("--{flag} {t:?} must be an RFC 3339 timestamp, e.g. 2026-12-03T10:00:00Z")
        })
    })
    .transpose()
}

/// Checks the flags as the login-history endpoint checks its query.
fn select(args: &ExportArgs) -> anyhow::Result<Selection> {
    if let Some(outcome) = args.outcome.as_deref() {
        let known = twostep_projections::history_outcomes();
        if !known.contains(&outcome) {
            bail!("--outcome {outcome:?} must be one of: {}", known.join(", "));
        }
    }
    let name = LicenceName::parse(&args.licence).map_err(|err| {
        anyhow!(
            "--licence {:?} is not a valid licence name: {err}",
            args.licence
        )
    })?;
    let user = match args.login.as_deref() {
        Some(login) => Some(
            Twostep::user_id(&args.licence, login)
                .ok_or_else(|| anyhow!("--login {login:?} is not a valid login"))?,
        ),
        None => None,
    };
    let from = instant("from", args.from.as_deref())?;
    let to = instant("to", args.to.as_deref())?;
    if let (Some(from), Some(to)) = (from, to)
        && from > to
    {
        bail!("--from must not be after --to");
    }
    Ok(Selection {
        licence: LicenceId::of(name.key()),
        query: HistoryQuery {
            user,
            from,
            to,
            outcome: args.outcome.clone(),
            ..HistoryQuery::default()
        },
    })
}

/// Runs `twostep audit export`.
pub fn run(args: ExportArgs) -> anyhow::Result<()> {
    let selection = select(&args)?;
    if args.store.store == crate::store::StoreKind::Sqlite && !args.store.sqlite_path().exists() {
        bail!(
            "no event store at {} (is --data-dir right?)",
            args.store.sqlite_path().display()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let summary = runtime.block_on(async {
        let store = args.store.open_read_only().await?;
        let licence_events = store.read_stream(&selection.licence.stream(), 0, 1).await?;
        if licence_events.is_empty() {
            bail!("no licence {:?} in this log", args.licence);
        }
        match &args.out {
            None => {
                let stdout = std::io::stdout().lock();
                export(&store, &selection, BufWriter::new(stdout), args.format).await
            }
            Some(path) => export_to_file(&store, &selection, path, args.format).await,
        }
    })?;
    eprintln!("{summary}");
    Ok(())
}

/// Writes into `path.partial` beside `path`, renamed to `path` once complete,
/// so a failed export never leaves a truncated file under the asked name.
async fn export_to_file(
    store: &Arc<dyn EventStore>,
    selection: &Selection,
    path: &Path,
    format: Format,
) -> anyhow::Result<Summary> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let result = export(store, selection, BufWriter::new(file), format).await;
    match result {
        Ok(summary) => {
            std::fs::rename(&partial, path)
                .with_context(|| format!("renaming {} to {}", partial.display(), path.display()))?;
            Ok(summary)
        }
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            Err(error)
        }
    }
}

/// Streams the selected rows of the log, up to its head at start, to `out`.
async fn export<W: Write>(
    store: &Arc<dyn EventStore>,
    selection: &Selection,
    out: W,
    format: Format,
) -> anyhow::Result<Summary> {
    let head = store.head().await?;
    let mut history = LogHistory::new(selection.licence, &selection.query)?;
    let mut writer = RowWriter::start(out, format).context("writing the export")?;
    let mut summary = Summary::default();
    let progress = Progress::new("export");
    let mut after = 0;
    while after < head {
        let page = store.read_all(after, PAGE).await?;
        let Some(last) = page.last().map(|e| e.position) else {
            break;
        };
        for recorded in page.iter().filter(|e| e.position <= head) {
            if let Some(entry) = history.entry(recorded) {
                writer.write(&entry).context("writing the export")?;
                summary.count(&entry);
            }
        }
        after = last;
        progress.update(after.min(head), head);
    }
    progress.finish();
    writer.finish().context("writing the export")?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Line {
        #[command(flatten)]
        args: ExportArgs,
    }

    fn args(extra: &[&str]) -> ExportArgs {
        let mut line = vec!["x", "--licence", "Acme", "--format", "csv"];
        line.extend_from_slice(extra);
        Line::parse_from(line).args
    }

    fn refusal(extra: &[&str]) -> String {
        match select(&args(extra)) {
            Ok(_) => panic!("{extra:?} was accepted"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn an_unknown_outcome_is_refused_with_the_valid_ones() {
        let message = refusal(&["--outcome", "pwned"]);
        let known = twostep_projections::history_outcomes().join(", ");
        assert_eq!(
            message,
            format!("--outcome \"pwned\" must be one of: {known}")
        );
    }

    #[test]
    fn a_bad_instant_is_refused_with_an_example() {
        assert_eq!(
            refusal(&["--from", "yesterday"]),
            "--from \"yesterday\" must be an RFC 3339 timestamp, e.g. 2026-12-03T10:00:00Z"
        );
    }

    #[test]
    fn a_range_that_ends_before_it_starts_is_refused() {
        assert_eq!(
            refusal(&[
                "--from",
                "2026-12-03T11:00:00Z",
                "--to",
                "2026-12-03T10:00:00Z"
            ]),
            "--from must not be after --to"
        );
    }

    #[test]
    fn filters_become_the_endpoint_query() {
        let selection = select(&args(&["--login", "Alice", "--outcome", "locked"]))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(selection.query.user, Twostep::user_id("Acme", "alice"));
        assert_eq!(selection.query.outcome.as_deref(), Some("locked"));
    }
}
