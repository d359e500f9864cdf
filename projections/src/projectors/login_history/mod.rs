//! `login_history`: one row per event of the account and attempt streams,
//! filed under the licence, described as a step and an outcome an auditor
//! reads without knowing the event types ([`outcome`]). Rows keep the
//! event's position (the paging cursor), id and recorded time, and the
//! client's address, user agent and correlation id from its metadata.
//!
//! The table grows with every login step, so rows are kept small: licence
//! and user as integer keys of the projector's own `lh_licences` and
//! `lh_users` tables (logins are joined at query time), the outcome as a
//! one-byte code.

mod from_log;
mod outcome;
mod query;

use std::collections::HashMap;

use rusqlite::{Transaction, params};
use twostep_domain::{AttemptEvent, LicenceEvent, LicenceId};

pub use self::from_log::LogHistory;
use self::outcome::{Outcome, Step, describe};
pub(crate) use self::query::login_history;

/// The outcome names the login history knows, for validating filters.
pub(crate) fn outcome_names() -> Vec<&'static str> {
    Outcome::all_names()
}
use super::users::{Directory, users_table};
use crate::ProjectionError;
use crate::batch::{Decoded, Fact};
use crate::sql::{id, instant, opt_id, to_sql_int};

pub(crate) const LAYOUT: u32 = 1;
pub(crate) const TABLES: &[&str] = &["login_history", "lh_users", "lh_licences"];
/// The row id is the global position, so each index below also orders by
/// position within its key.
pub(crate) const SCHEMA: &str = concat!(
    users_table!("lh_users"),
    "
CREATE TABLE IF NOT EXISTS lh_licences (
    licence_key INTEGER PRIMARY KEY,
    licence_id  BLOB NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS login_history (
    position       INTEGER PRIMARY KEY,
    licence_key    INTEGER NOT NULL,
    user_key       INTEGER,
    at             INTEGER NOT NULL,
    event_id       BLOB NOT NULL,
    outcome        INTEGER NOT NULL,
    reason         TEXT,
    challenge_id   BLOB,
    code_id        BLOB,
    channel        TEXT,
    destination    TEXT,
    client_ip      TEXT,
    user_agent     TEXT,
    correlation_id BLOB
);
CREATE INDEX IF NOT EXISTS login_history_by_licence ON login_history (licence_key);
CREATE INDEX IF NOT EXISTS login_history_by_user ON login_history (licence_key, user_key);
CREATE INDEX IF NOT EXISTS login_history_by_time ON login_history (licence_key, at);
"
);

const INSERT: &str = "
INSERT INTO login_history (
    position, licence_key, user_key, at, event_id, outcome, reason,
    challenge_id, code_id, channel, destination, client_ip, user_agent, correlation_id
) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
";
const LICENCE_KEY: &str = "
INSERT INTO lh_licences (licence_id) VALUES (?1)
ON CONFLICT (licence_id) DO UPDATE SET licence_id = excluded.licence_id
RETURNING licence_key
";

/// Integer keys of licences, remembered for a batch.
struct LicenceKeys<'tx> {
    tx: &'tx Transaction<'tx>,
    known: HashMap<LicenceId, i64>,
}

impl LicenceKeys<'_> {
    fn key(&mut self, licence: LicenceId) -> Result<i64, ProjectionError> {
        if let Some(key) = self.known.get(&licence) {
            return Ok(*key);
        }
        let key = self
            .tx
            .prepare_cached(LICENCE_KEY)?
            .query_row([id(&licence.0)], |row| row.get(0))?;
        self.known.insert(licence, key);
        Ok(key)
    }
}

pub(crate) fn apply(tx: &Transaction<'_>, events: &[Decoded]) -> Result<(), ProjectionError> {
    let mut users = Directory::new(tx, "lh_users")?;
    let mut licences = LicenceKeys {
        tx,
        known: HashMap::new(),
    };
    let mut insert = tx.prepare_cached(INSERT)?;
    for decoded in events {
        let recorded = &decoded.recorded;
        let (licence, user_key, step) = match &decoded.fact {
            Fact::Licence {
                licence,
                event: LicenceEvent::UserCreated { user_id, login, .. },
            } => {
                users.record(*user_id, *licence, login)?;
                continue;
            }
            Fact::Account { user, event } => match users.get(*user)? {
                Some(known) => (known.licence, Some(known.key), describe(event)),
                None => {
                    tracing::warn!(
                        position = recorded.position,
                        stream = %recorded.stream,
                        "skipping a login step of a user no UserCreated names"
                    );
                    continue;
                }
            },
            Fact::Attempt {
                licence,
                event: AttemptEvent::UnknownLoginAttempted { licence_id, .. },
            } => {
                // The history is per licence: an unknown licence has none.
                let Some(licence) = licence_id.or(*licence) else {
                    continue;
                };
                (licence, None, Step::new(Outcome::UnknownLogin))
            }
            Fact::Licence { .. } | Fact::Skipped => continue,
        };
        let metadata = &recorded.metadata;
        let correlation = Some(&metadata.correlation_id).filter(|c| !c.is_nil());
        insert.execute(params![
            to_sql_int(recorded.position),
            licences.key(licence)?,
            user_key,
            instant(recorded.recorded_at),
            id(&recorded.event_id),
            step.outcome.code(),
            step.reason,
            opt_id(step.challenge_id),
            opt_id(step.code_id),
            step.channel,
            step.destination,
            metadata.client_ip,
            metadata.user_agent,
            opt_id(correlation),
        ])?;
    }
    Ok(())
}
