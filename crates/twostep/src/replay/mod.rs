//! `twostep replay`: one user's, one challenge's or one time window's events
//! as a readable timeline (or JSON lines), and with `--policy` the steps
//! whose decision another policy would have changed (the model is in
//! `twostep_domain::what_if`). Reads the log read-only, beside a live serve.

pub(crate) mod log;
mod timeline;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use twostep_domain::identity::identifier_key;
use twostep_domain::what_if::{self, RecordedStep};
use twostep_domain::{AccountEvent, LicenceId, LoginPolicy, Timestamp, UserId};
use twostep_store::EventStore;
use uuid::Uuid;

use crate::store::StoreArgs;
use log::{AccountRecord, LicenceLog, WholeLog};
use timeline::Narrator;

/// Flags of `twostep replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// Where the events are.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Licence name (compared as the service does: trimmed, NFKC, case-folded).
    #[arg(long)]
    pub licence: Option<String>,
    /// Login of one user (with --licence).
    #[arg(long, requires = "licence")]
    pub login: Option<String>,
    /// One challenge: the API's `ch_…` handle or the UUID the login history shows.
    #[arg(long, conflicts_with_all = ["login", "from", "to"])]
    pub challenge: Option<String>,
    /// Start of a time window (RFC 3339, inclusive).
    #[arg(long)]
    pub from: Option<String>,
    /// End of a time window (RFC 3339, exclusive).
    #[arg(long)]
    pub to: Option<String>,
    /// Re-run the history under this policy, e.g. `max_failed_codes=3,lock_seconds=1800`.
    #[arg(long)]
    pub policy: Option<String>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The selected events of one user, with their whole history for what-if.
struct Selected {
    licence: String,
    licence_log: LicenceLog,
    user: UserId,
    login: String,
    history: Vec<AccountRecord>,
    shown: BTreeSet<u64>,
}

/// Runs `twostep replay`.
pub fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let patch = args
        .policy
        .as_deref()
        .map(what_if::parse_overrides)
        .transpose()
        .context("--policy")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let selected = runtime.block_on(async {
        let store = args.store.open_read_only().await?;
        select(&args, store.as_ref()).await
    })?;
    let mut out = String::new();
    for user in &selected {
        print_timeline(user, args.json, &mut out);
    }
    if let Some(patch) = patch {
        for user in &selected {
            let base = user.licence_log.now().policy;
            let policy = base
                .patched(&patch)
                .map_err(|err| anyhow::anyhow!("--policy: {err}"))?;
            print_what_if(user, base, policy, args.json, &mut out)?;
        }
    }
    print!("{out}");
    Ok(())
}

async fn select(args: &ReplayArgs, store: &dyn EventStore) -> anyhow::Result<Vec<Selected>> {
    if let Some(challenge) = &args.challenge {
        return by_challenge(challenge, store).await.map(|s| vec![s]);
    }
    if args.from.is_some() || args.to.is_some() {
        return by_window(args, store).await;
    }
    match (&args.licence, &args.login) {
        (Some(licence), Some(login)) => by_user(licence, login, store).await.map(|s| vec![s]),
        _ => bail!(
            "say what to replay: --licence L --login U, --challenge ID, or --from/--to (RFC 3339)"
        ),
    }
}

async fn user_history(
    store: &dyn EventStore,
    licence_id: LicenceId,
    user: UserId,
) -> anyhow::Result<(LicenceLog, Vec<AccountRecord>)> {
    let licence_log = log::decode_licence(log::read_stream(store, &licence_id.stream()).await?)?;
    let history = log::read_stream(store, &user.stream())
        .await?
        .into_iter()
        .map(log::decode_account)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok((licence_log, history))
}

fn login_of(licence_log: &LicenceLog, user: UserId) -> Option<String> {
    licence_log.now().user(user).map(|u| u.login.clone())
}

async fn by_user(licence: &str, login: &str, store: &dyn EventStore) -> anyhow::Result<Selected> {
    let licence_id = LicenceId::of(&identifier_key(licence));
    let user = UserId::of(licence_id, &identifier_key(login));
    let (licence_log, history) = user_history(store, licence_id, user).await?;
    let Some(name) = licence_log.now().id.map(|_| licence_log.now().name) else {
        bail!("no licence named {licence:?} in the log");
    };
    let Some(login) = login_of(&licence_log, user) else {
        bail!("no user {login:?} in licence {name:?}");
    };
    let shown = history.iter().map(|r| r.recorded.version).collect();
    Ok(Selected {
        licence: name,
        licence_log,
        user,
        login,
        history,
        shown,
    })
}

fn names_challenge(event: &AccountEvent, challenge: Uuid) -> bool {
    match event {
        AccountEvent::ChallengeOpened { challenge_id, .. }
        | AccountEvent::CodeIssued { challenge_id, .. }
        | AccountEvent::CodeAccepted { challenge_id, .. }
        | AccountEvent::CodeRejected { challenge_id, .. } => *challenge_id == challenge,
        _ => false,
    }
}

async fn by_challenge(text: &str, store: &dyn EventStore) -> anyhow::Result<Selected> {
    let (user, challenge) = if let Ok(id) = Uuid::parse_str(text.trim()) {
        let whole = WholeLog::read(store).await?;
        let owner = whole.accounts.iter().find_map(|(user, records)| {
            records
                .iter()
                .any(|r| names_challenge(&r.event, id))
                .then_some(*user)
        });
        let Some(user) = owner else {
            bail!("no challenge {id} in the log");
        };
        (user, id)
    } else if let Some(handle) = twostep_app::tokens::ChallengeHandle::read_untrusted(text) {
        (handle.user, handle.challenge_id)
    } else {
        bail!("--challenge takes a `ch_…` handle or a UUID");
    };
    let records = log::read_stream(store, &user.stream()).await?;
    let history = records
        .into_iter()
        .map(log::decode_account)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let licence_id = history.iter().find_map(|r| match &r.event {
        AccountEvent::AccessConfirmationIssued { licence_id, .. } => Some(*licence_id),
        _ => None,
    });
    let related: BTreeSet<Uuid> = history
        .iter()
        .filter(|r| names_challenge(&r.event, challenge))
        .map(|r| r.recorded.metadata.correlation_id)
        .collect();
    let (Some(licence_id), false) = (licence_id, related.is_empty()) else {
        bail!("no challenge {challenge} in the log");
    };
    let licence_log = log::decode_licence(log::read_stream(store, &licence_id.stream()).await?)?;
    let shown = history
        .iter()
        .filter(|r| related.contains(&r.recorded.metadata.correlation_id))
        .map(|r| r.recorded.version)
        .collect();
    Ok(Selected {
        licence: licence_log.now().name,
        login: login_of(&licence_log, user).unwrap_or_else(|| user.0.to_string()),
        licence_log,
        user,
        history,
        shown,
    })
}

fn instant(flag: &str, text: Option<&String>) -> anyhow::Result<Option<Timestamp>> {
    text.map(|t| {
        Timestamp::parse(t.trim()).with_context(|| {
            format!("{flag} {t:?} is not an RFC 3339 time (e.g. 2026-12-03T17:00:00Z)")
        })
    })
    .transpose()
}

async fn by_window(args: &ReplayArgs, store: &dyn EventStore) -> anyhow::Result<Vec<Selected>> {
    let from = instant("--from", args.from.as_ref())?;
    let to = instant("--to", args.to.as_ref())?;
    let only = args
        .licence
        .as_deref()
        .map(|name| LicenceId::of(&identifier_key(name)));
    let mut whole = WholeLog::read(store).await?;
    if let Some(id) = only.filter(|id| !whole.licences.contains_key(id)) {
        bail!("no licence with id {} in the log", id.0);
    }
    let mut selected = Vec::new();
    let accounts = std::mem::take(&mut whole.accounts);
    for (user, history) in accounts {
        let Some((licence_id, login)) = whole.owner(user) else {
            continue;
        };
        if only.is_some_and(|id| id != licence_id) {
            continue;
        }
        let shown: BTreeSet<u64> = history
            .iter()
            .filter(|r| {
                let at = Timestamp::new(r.recorded.recorded_at);
                from.is_none_or(|f| at >= f) && to.is_none_or(|t| at < t)
            })
            .map(|r| r.recorded.version)
            .collect();
        if shown.is_empty() {
            continue;
        }
        let licence_log = whole.licences.get(&licence_id).cloned().unwrap_or_default();
        selected.push(Selected {
            licence: licence_log.now().name,
            licence_log,
            user,
            login,
            history,
            shown,
        });
    }
    Ok(selected)
}

fn print_timeline(user: &Selected, json: bool, out: &mut String) {
    let mut narrator = Narrator::default();
    for record in &user.history {
        let policy = user.licence_log.policy_at(record.recorded.position);
        let described = narrator.describe(&record.event, &policy);
        if !user.shown.contains(&record.recorded.version) {
            continue;
        }
        if json {
            let line = timeline::json_line(record, &user.licence, &user.login, &described);
            out.push_str(&format!("{line}\n"));
        } else {
            out.push_str(&timeline::text_line(record, &user.login, &described));
            out.push('\n');
        }
    }
}

fn policy_text(policy: &LoginPolicy) -> String {
    let value = serde_json::to_value(policy).unwrap_or_default();
    let fields: BTreeMap<String, serde_json::Value> = value
        .as_object()
        .map(|m| m.clone().into_iter().collect())
        .unwrap_or_default();
    what_if::POLICY_KEYS
        .iter()
        .map(|k| format!("{k}={}", fields.get(*k).cloned().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join(",")
}

fn print_what_if(
    user: &Selected,
    actual: LoginPolicy,
    policy: LoginPolicy,
    json: bool,
    out: &mut String,
) -> anyhow::Result<()> {
    let history: Vec<RecordedStep> = user
        .history
        .iter()
        .map(|r| RecordedStep {
            version: r.recorded.version,
            at: Timestamp::new(r.recorded.recorded_at),
            event: r.event.clone(),
        })
        .collect();
    let differences: Vec<_> = what_if::what_if(user.user, &history, policy)
        .into_iter()
        .filter(|d| user.shown.contains(&d.version))
        .collect();
    if json {
        for d in &differences {
            let line = serde_json::json!({
                "what_if": policy_text(&policy),
                "licence": user.licence,
                "login": user.login,
                "time": d.at.rfc3339(),
                "version": d.version,
                "step": d.step,
                "would_have": d.would_have,
                "actual": d.actual,
            });
            out.push_str(&format!("{line}\n"));
        }
        return Ok(());
    }
    out.push_str(&format!(
        "\nwhat if {} {} had {} (actual: {}):\n",
        user.licence,
        user.login,
        policy_text(&policy),
        policy_text(&actual)
    ));
    for d in &differences {
        out.push_str(&format!("  {d}\n"));
    }
    out.push_str(&format!(
        "{} step(s) would have been decided differently\n",
        differences.len()
    ));
    Ok(())
}
