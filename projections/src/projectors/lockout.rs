//! `lockout`: failure counters and the lock of each user.
//!
//! Every event that matters *sets* fields (a counter to the value the event
//! carries, a lock to its end, or clears them), so a batch folds in memory
//! into one change per user, written with one upsert — no read at all.
//! Whether a lock is still in force is decided at query time: the account
//! records `LockExpired` only at the user's next command, but a lock that
//! has ended is shown as ended, with both counters at 0 as the domain resets
//! them then.

use std::collections::BTreeMap;

use rusqlite::{Connection, Transaction};
use twostep_domain::{AccountEvent, Timestamp, UserId};

use crate::batch::{Decoded, Fact};
use crate::sql::{get_count, get_opt_timestamp, id, nanos, wire_name};
use crate::{LockoutView, ProjectionError};

pub(crate) const LAYOUT: u32 = 1;
pub(crate) const TABLES: &[&str] = &["lockout"];
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lockout (
    user_id          BLOB PRIMARY KEY,
    failed_passwords INTEGER NOT NULL,
    failed_codes     INTEGER NOT NULL,
    locked_until     INTEGER,
    lock_cause       TEXT
) WITHOUT ROWID;
";

const UPSERT: &str = "
INSERT INTO lockout (user_id, failed_passwords, failed_codes, locked_until, lock_cause)
VALUES (?1, COALESCE(?2, 0), COALESCE(?3, 0), ?5, ?6)
ON CONFLICT (user_id) DO UPDATE SET
    failed_passwords = COALESCE(?2, failed_passwords),
    failed_codes     = COALESCE(?3, failed_codes),
    locked_until     = CASE WHEN ?4 THEN ?5 ELSE locked_until END,
    lock_cause       = CASE WHEN ?4 THEN ?6 ELSE lock_cause END
";

/// What a batch changed for one user; `None` fields keep their value.
#[derive(Default)]
struct Change {
    failed_passwords: Option<u32>,
    failed_codes: Option<u32>,
    /// `Some(None)`: the lock ended; `Some(Some(..))`: locked until, by.
    lock: Option<Option<(i64, String)>>,
}

impl Change {
    fn reset_counters(&mut self) {
        self.failed_passwords = Some(0);
        self.failed_codes = Some(0);
    }
}

/// Whether `event` changes the lockout of its user.
fn matters(event: &AccountEvent) -> bool {
    matches!(
        event,
        AccountEvent::PasswordRejected { counted: true, .. }
            | AccountEvent::CodeRejected { counted: true, .. }
            | AccountEvent::ChallengeOpened { .. }
            | AccountEvent::LoginRefusedWhileLocked { .. }
            | AccountEvent::CodeAccepted { .. }
            | AccountEvent::SessionStarted { .. }
            | AccountEvent::AccountLocked { .. }
            | AccountEvent::LockExpired { .. }
            | AccountEvent::LockLifted { .. }
    )
}

/// Folds one event into the batch's change for its user, as the account
/// aggregate folds it.
fn fold(change: &mut Change, event: &AccountEvent) {
    match event {
        AccountEvent::PasswordRejected {
            counted: true,
            failed_passwords_in_a_row,
            ..
        } => {
            change.failed_passwords = Some(*failed_passwords_in_a_row);
        }
        AccountEvent::CodeRejected {
            counted: true,
            failed_codes_in_a_row,
            ..
        } => {
            change.failed_codes = Some(*failed_codes_in_a_row);
        }
        AccountEvent::ChallengeOpened { .. } | AccountEvent::LoginRefusedWhileLocked { .. } => {
            change.failed_passwords = Some(0);
        }
        // A successful code step resets both counters (the domain's
        // `reset_counters`), and so does every session start.
        AccountEvent::CodeAccepted { .. } | AccountEvent::SessionStarted { .. } => {
            change.reset_counters()
        }
        AccountEvent::AccountLocked {
            cause,
            locked_until,
            ..
        } => {
            change.lock = Some(Some((
                nanos(*locked_until),
                wire_name(cause).unwrap_or_default(),
            )));
        }
        AccountEvent::LockExpired { .. } | AccountEvent::LockLifted { .. } => {
            change.lock = Some(None);
            change.reset_counters();
        }
        _ => {}
    }
}

pub(crate) fn apply(tx: &Transaction<'_>, events: &[Decoded]) -> Result<(), ProjectionError> {
    let mut changes: BTreeMap<UserId, Change> = BTreeMap::new();
    for decoded in events {
        if let Fact::Account { user, event } = &decoded.fact
            && matters(event)
        {
            fold(changes.entry(*user).or_default(), event);
        }
    }
    let mut upsert = tx.prepare_cached(UPSERT)?;
    for (user, change) in &changes {
        let (until, cause) = match &change.lock {
            Some(Some((until, cause))) => (Some(*until), Some(cause.as_str())),
            _ => (None, None),
        };
        upsert.execute((
            id(&user.0),
            change.failed_passwords,
            change.failed_codes,
            change.lock.is_some(),
            until,
            cause,
        ))?;
    }
    Ok(())
}

/// The lockout of `user` at `now`.
pub(crate) fn lockout(
    conn: &Connection,
    user: UserId,
    now: Timestamp,
) -> Result<LockoutView, ProjectionError> {
    let mut stmt = conn.prepare_cached(
        "SELECT failed_passwords, failed_codes, locked_until, lock_cause FROM lockout WHERE user_id = ?1",
    )?;
    let mut rows = stmt.query([id(&user.0)])?;
    let Some(row) = rows.next()? else {
        return Ok(unlocked(0, 0));
    };
    let failed_passwords = get_count(row, 0)?;
    let failed_codes = get_count(row, 1)?;
    let locked_until = get_opt_timestamp(row, 2)?;
    let cause: Option<String> = row.get(3)?;
    Ok(match locked_until {
        Some(until) if until > now => LockoutView {
            locked: true,
            locked_until: Some(until),
            lock_cause: cause,
            failed_codes_in_a_row: failed_codes,
            failed_passwords_in_a_row: failed_passwords,
        },
        // The lock has ended: the account resets both counters with it.
        Some(_) => unlocked(0, 0),
        None => unlocked(failed_codes, failed_passwords),
    })
}

fn unlocked(failed_codes: u32, failed_passwords: u32) -> LockoutView {
    LockoutView {
        locked: false,
        locked_until: None,
        lock_cause: None,
        failed_codes_in_a_row: failed_codes,
        failed_passwords_in_a_row: failed_passwords,
    }
}
