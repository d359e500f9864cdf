//! `twostep alerts`: the security alerts of a licence with the events that
//! caused them (id, type, time), read from the log itself (read-only, beside
//! a live serve) — the same data as `GET /v1/licences/{licence}/security-alerts`.

use std::collections::HashMap;

use anyhow::{Context, bail};
use serde_json::json;
use twostep_domain::identity::identifier_key;
use twostep_domain::{AccountEvent, AlertKind, LicenceEvent, LicenceId, SecurityAlert, Timestamp};
use twostep_store::RecordedEvent;

use crate::replay::log::WholeLog;
use crate::store::StoreArgs;

/// Flags of `twostep alerts`.
#[derive(Debug, Clone, clap::Args)]
pub struct AlertsArgs {
    /// Where the events are.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Licence name.
    #[arg(long)]
    pub licence: String,
    /// Only alerts raised at or after this time (RFC 3339).
    #[arg(long)]
    pub since: Option<String>,
    /// Only alerts of this kind (e.g. account_locked_by_codes).
    #[arg(long)]
    pub kind: Option<String>,
    /// JSON lines instead of text.
    #[arg(long)]
    pub json: bool,
}

const KINDS: &[AlertKind] = &[
    AlertKind::UnrequestedCodeReported,
    AlertKind::AccountLockedByCodes,
    AlertKind::AccountLockedByPasswords,
    AlertKind::WrongCodeAfterRightPassword,
    AlertKind::RepeatedDeliveryFailures,
    AlertKind::ContactChanged,
    AlertKind::NewAddressAfterLock,
];

fn kind_name(kind: AlertKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

struct Found<'a> {
    alert: &'a SecurityAlert,
    recorded: &'a RecordedEvent,
    login: Option<String>,
}

/// Runs `twostep alerts`.
pub fn run(args: AlertsArgs) -> anyhow::Result<()> {
    let since = args
        .since
        .as_deref()
        .map(|t| {
            Timestamp::parse(t.trim())
                .with_context(|| format!("--since {t:?} is not an RFC 3339 time"))
        })
        .transpose()?;
    let kind = match args.kind.as_deref() {
        None => None,
        Some(text) => match KINDS.iter().find(|k| kind_name(**k) == text.trim()) {
            Some(kind) => Some(*kind),
            None => bail!(
                "--kind {text:?} is not an alert kind (valid kinds: {})",
                KINDS
                    .iter()
                    .map(|k| kind_name(*k))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let whole = runtime.block_on(async {
        let store = args.store.open_read_only().await?;
        WholeLog::read(store.as_ref()).await
    })?;
    let licence_id = LicenceId::of(&identifier_key(&args.licence));
    let Some(licence) = whole.licences.get(&licence_id) else {
        bail!("no licence named {:?} in the log", args.licence);
    };
    let directory = licence.now();
    let mut by_stream: HashMap<(&str, u64), &RecordedEvent> = HashMap::new();
    let mut found = Vec::new();
    for (recorded, event) in &licence.events {
        by_stream.insert((recorded.stream.as_str(), recorded.version), recorded);
        if let LicenceEvent::SecurityAlertRaised(alert) = event {
            let login = directory.user(alert.user_id).map(|u| u.login.clone());
            found.push(Found {
                alert,
                recorded,
                login,
            });
        }
    }
    for user in directory.users.values() {
        for record in whole.accounts.get(&user.user_id).into_iter().flatten() {
            let recorded = &record.recorded;
            by_stream.insert((recorded.stream.as_str(), recorded.version), recorded);
            if let AccountEvent::SecurityAlertRaised(alert) = &record.event {
                let login = Some(user.login.clone());
                found.push(Found {
                    alert,
                    recorded,
                    login,
                });
            }
        }
    }
    found.sort_by_key(|f| f.recorded.position);
    let mut out = String::new();
    let mut shown = 0usize;
    for f in found {
        let raised_at = Timestamp::new(f.recorded.recorded_at);
        if since.is_some_and(|s| raised_at < s) || kind.is_some_and(|k| k != f.alert.kind) {
            continue;
        }
        shown += 1;
        let causes: Vec<_> = f
            .alert
            .caused_by
            .iter()
            .map(|version| {
                let cause = by_stream.get(&(f.recorded.stream.as_str(), *version));
                (
                    *version,
                    cause.map(|c| c.event_id),
                    cause.map(|c| c.event_type.clone()),
                    cause.map(|c| Timestamp::new(c.recorded_at)),
                )
            })
            .collect();
        if args.json {
            let line = json!({
                "alert_id": f.alert.alert_id,
                "kind": kind_name(f.alert.kind),
                "user_id": f.alert.user_id.0,
                "login": f.login,
                "raised_at": raised_at.rfc3339(),
                "position": f.recorded.position,
                "caused_by": causes.iter().map(|(version, id, ty, at)| json!({
                    "stream": f.recorded.stream,
                    "version": version,
                    "event_id": id,
                    "event_type": ty,
                    "recorded_at": at.map(|t| t.rfc3339()),
                })).collect::<Vec<_>>(),
            });
            out.push_str(&format!("{line}\n"));
        } else {
            out.push_str(&format!(
                "{}  {}  {}  alert {}\n",
                raised_at.rfc3339(),
                f.login.as_deref().unwrap_or("?"),
                kind_name(f.alert.kind),
                f.alert.alert_id
            ));
            for (version, id, ty, at) in causes {
                out.push_str(&format!(
                    "    caused by v{version} {} {} at {}\n",
                    ty.as_deref().unwrap_or("(missing)"),
                    id.map(|i| i.to_string()).unwrap_or_else(|| "-".into()),
                    at.map(|t| t.rfc3339()).unwrap_or_else(|| "-".into())
                ));
            }
        }
    }
    if !args.json {
        out.push_str(&format!("{shown} alert(s)\n"));
    }
    print!("{out}");
    Ok(())
}
