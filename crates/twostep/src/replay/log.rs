//! Reading the log for `replay` and `alerts`: the streams they need, decoded,
//! with the licence directory (login of each user, policy over time).

use std::collections::BTreeMap;

use anyhow::Context;
use twostep_domain::{AccountEvent, Licence, LicenceEvent, LicenceId, LoginPolicy, UserId, codec};
use twostep_store::{EventStore, RecordedEvent};

const PAGE: usize = 2_000;

/// An account event as recorded.
#[derive(Debug, Clone)]
pub struct AccountRecord {
    pub recorded: RecordedEvent,
    pub event: AccountEvent,
}

/// The events of one licence stream, decoded.
#[derive(Debug, Clone, Default)]
pub struct LicenceLog {
    pub events: Vec<(RecordedEvent, LicenceEvent)>,
}

impl LicenceLog {
    /// The licence as folded up to (not including) global position `before`.
    pub fn at(&self, before: u64) -> Licence {
        self.events
            .iter()
            .take_while(|(r, _)| r.position < before)
            .fold(Licence::default(), |l, (_, e)| l.evolve(e))
    }

    /// The licence as it stands now.
    pub fn now(&self) -> Licence {
        self.at(u64::MAX)
    }

    /// The policy in force before global position `before`.
    pub fn policy_at(&self, before: u64) -> LoginPolicy {
        self.at(before).policy
    }
}

pub async fn read_stream(
    store: &dyn EventStore,
    stream: &str,
) -> anyhow::Result<Vec<RecordedEvent>> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &RecordedEvent| e.version);
        let page = store
            .read_stream(stream, after, PAGE)
            .await
            .with_context(|| format!("reading stream {stream}"))?;
        let done = page.len() < PAGE;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}

pub async fn read_all(store: &dyn EventStore) -> anyhow::Result<Vec<RecordedEvent>> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &RecordedEvent| e.position);
        let page = store
            .read_all(after, PAGE)
            .await
            .context("reading the log")?;
        let done = page.len() < PAGE;
        events.extend(page);
        if done {
            return Ok(events);
        }
    }
}

pub fn decode_account(recorded: RecordedEvent) -> anyhow::Result<AccountRecord> {
    let event = codec::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.data,
    )
    .with_context(|| {
        format!(
            "decoding {} at {} v{}",
            recorded.event_type, recorded.stream, recorded.version
        )
    })?;
    Ok(AccountRecord { recorded, event })
}

pub fn decode_licence(events: Vec<RecordedEvent>) -> anyhow::Result<LicenceLog> {
    let mut log = LicenceLog::default();
    for recorded in events {
        let event = codec::decode(
            &recorded.event_type,
            recorded.schema_version,
            &recorded.data,
        )
        .with_context(|| format!("decoding {} at {}", recorded.event_type, recorded.stream))?;
        log.events.push((recorded, event));
    }
    Ok(log)
}

/// Every licence and account of the log, split by stream.
#[derive(Debug, Default)]
pub struct WholeLog {
    pub licences: BTreeMap<LicenceId, LicenceLog>,
    pub accounts: BTreeMap<UserId, Vec<AccountRecord>>,
}

impl WholeLog {
    pub async fn read(store: &dyn EventStore) -> anyhow::Result<Self> {
        let mut licence_events: BTreeMap<LicenceId, Vec<RecordedEvent>> = BTreeMap::new();
        let mut log = WholeLog::default();
        for recorded in read_all(store).await? {
            if let Some(id) = stream_id(&recorded.stream, "licence-") {
                licence_events
                    .entry(LicenceId(id))
                    .or_default()
                    .push(recorded);
            } else if let Some(id) = stream_id(&recorded.stream, "account-") {
                let record = decode_account(recorded)?;
                log.accounts.entry(UserId(id)).or_default().push(record);
            }
        }
        for (id, events) in licence_events {
            log.licences.insert(id, decode_licence(events)?);
        }
        Ok(log)
    }

    /// The licence of a user and the user's login, from the directories.
    pub fn owner(&self, user: UserId) -> Option<(LicenceId, String)> {
        self.licences.iter().find_map(|(id, log)| {
            log.events.iter().find_map(|(_, e)| match e {
                LicenceEvent::UserCreated { user_id, login, .. } if *user_id == user => {
                    Some((*id, login.clone()))
                }
                _ => None,
            })
        })
    }
}

fn stream_id(stream: &str, prefix: &str) -> Option<uuid::Uuid> {
    stream
        .strip_prefix(prefix)
        .and_then(|id| uuid::Uuid::parse_str(id).ok())
}
