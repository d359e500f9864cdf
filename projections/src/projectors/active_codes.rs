//! `active_codes`: the latest one-time code of each user and whether it can
//! still answer a challenge. Never the code or its digest: only its id,
//! times and channel.
//!
//! The latest code is made unusable by its own account stream (spent by
//! `CodeAccepted`; voided by a failed delivery, `PasswordSet` or a report),
//! and by its licence stream when the destination of codes changes: the
//! user's e-mail on an e-mail licence, their mobile on an SMS licence, the
//! licence's channel, or two-factor switched off. For that it keeps its own
//! user → licence table and the channel of each licence. Expiry is decided
//! at query time.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction};
use twostep_domain::account::MessagePurpose;
use twostep_domain::{AccountEvent, Channel, LicenceEvent, LicenceId, Timestamp, UserId};
use uuid::Uuid;

use super::users::{Directory, users_table};
use crate::batch::{Decoded, Fact};
use crate::sql::{channel, get_id, get_timestamp, id, nanos};
use crate::{ActiveCodeView, ProjectionError};

pub(crate) const LAYOUT: u32 = 1;
pub(crate) const TABLES: &[&str] = &["active_codes", "ac_licences", "ac_users"];
pub(crate) const SCHEMA: &str = concat!(
    users_table!("ac_users"),
    "
CREATE INDEX IF NOT EXISTS ac_users_by_licence ON ac_users (licence_id);
CREATE TABLE IF NOT EXISTS ac_licences (
    licence_id BLOB PRIMARY KEY,
    channel    TEXT
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS active_codes (
    user_id    BLOB PRIMARY KEY,
    code_id    BLOB NOT NULL,
    issued_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    channel    TEXT NOT NULL,
    spent      INTEGER NOT NULL,
    voided     INTEGER NOT NULL
) WITHOUT ROWID;
"
);

const ISSUE: &str = "
INSERT INTO active_codes (user_id, code_id, issued_at, expires_at, channel, spent, voided)
VALUES (?1, ?2, ?3, ?4, ?5, 0, 0)
ON CONFLICT (user_id) DO UPDATE SET
    code_id = excluded.code_id, issued_at = excluded.issued_at, expires_at = excluded.expires_at,
    channel = excluded.channel, spent = 0, voided = 0
";
const SPEND: &str = "UPDATE active_codes SET spent = 1 WHERE user_id = ?1 AND code_id = ?2";
const VOID_CODE: &str = "UPDATE active_codes SET voided = 1 WHERE user_id = ?1 AND code_id = ?2";
const VOID_USER: &str = "UPDATE active_codes SET voided = 1 WHERE user_id = ?1";
const VOID_LICENCE: &str = "UPDATE active_codes SET voided = 1 WHERE user_id IN (SELECT user_id FROM ac_users WHERE licence_id = ?1)";
const SET_CHANNEL: &str = "
INSERT INTO ac_licences (licence_id, channel) VALUES (?1, ?2)
ON CONFLICT (licence_id) DO UPDATE SET channel = excluded.channel
";
const GET_CHANNEL: &str = "SELECT channel FROM ac_licences WHERE licence_id = ?1";

/// The statements of one batch, and the licence channels it has seen.
struct Writer<'tx> {
    tx: &'tx Transaction<'tx>,
    users: Directory<'tx>,
    channels: HashMap<LicenceId, Option<Channel>>,
}

impl<'tx> Writer<'tx> {
    fn channel_of(&mut self, licence: LicenceId) -> Result<Option<Channel>, ProjectionError> {
        if let Some(known) = self.channels.get(&licence) {
            return Ok(*known);
        }
        let stored: Option<Option<String>> = self
            .tx
            .prepare_cached(GET_CHANNEL)?
            .query_row([id(&licence.0)], |row| row.get(0))
            .optional()?;
        let current = stored.flatten().as_deref().map(channel).transpose()?;
        self.channels.insert(licence, current);
        Ok(current)
    }

    fn set_channel(
        &mut self,
        licence: LicenceId,
        new: Option<Channel>,
    ) -> Result<(), ProjectionError> {
        if self.channel_of(licence)? != new {
            self.tx
                .prepare_cached(VOID_LICENCE)?
                .execute([id(&licence.0)])?;
        }
        self.tx
            .prepare_cached(SET_CHANNEL)?
            .execute((id(&licence.0), new.map(Channel::as_str)))?;
        self.channels.insert(licence, new);
        Ok(())
    }

    /// The user's contact on `changed` changed: their code is void if codes go there.
    fn contact_changed(
        &mut self,
        licence: LicenceId,
        user: UserId,
        changed: Channel,
    ) -> Result<(), ProjectionError> {
        if self.channel_of(licence)? == Some(changed) {
            self.tx.prepare_cached(VOID_USER)?.execute([id(&user.0)])?;
        }
        Ok(())
    }

    fn licence_event(
        &mut self,
        licence: LicenceId,
        event: &LicenceEvent,
    ) -> Result<(), ProjectionError> {
        match event {
            LicenceEvent::UserCreated { user_id, login, .. } => {
                self.users.record(*user_id, licence, login)
            }
            LicenceEvent::TwoFactorEnabled { channel, .. } => {
                self.set_channel(licence, Some(*channel))
            }
            LicenceEvent::TwoFactorDisabled {} => self.set_channel(licence, None),
            LicenceEvent::UserEmailChanged { user_id, .. } => {
                self.contact_changed(licence, *user_id, Channel::Email)
            }
            LicenceEvent::UserMobileChanged { user_id, .. } => {
                self.contact_changed(licence, *user_id, Channel::Sms)
            }
            _ => Ok(()),
        }
    }

    fn account_event(&mut self, user: UserId, event: &AccountEvent) -> Result<(), ProjectionError> {
        let user = id(&user.0);
        let void = |code: &Uuid| -> Result<(), ProjectionError> {
            self.tx
                .prepare_cached(VOID_CODE)?
                .execute((user, id(code)))?;
            Ok(())
        };
        match event {
            AccountEvent::CodeIssued {
                code_id,
                channel,
                issued_at,
                expires_at,
                ..
            } => {
                let row = (
                    user,
                    id(code_id),
                    nanos(*issued_at),
                    nanos(*expires_at),
                    channel.as_str(),
                );
                self.tx.prepare_cached(ISSUE)?.execute(row)?;
            }
            AccountEvent::CodeAccepted { code_id, .. } => {
                self.tx
                    .prepare_cached(SPEND)?
                    .execute((user, id(code_id)))?;
            }
            AccountEvent::MessageDeliveryFailed {
                purpose: MessagePurpose::Code,
                reference,
                ..
            } => void(reference)?,
            AccountEvent::PasswordSet {
                voided_code: Some(code),
                ..
            } => void(code)?,
            AccountEvent::UnrequestedCodeReported { code_id, .. } => void(code_id)?,
            _ => {}
        }
        Ok(())
    }
}

pub(crate) fn apply(tx: &Transaction<'_>, events: &[Decoded]) -> Result<(), ProjectionError> {
    let mut writer = Writer {
        tx,
        users: Directory::new(tx, "ac_users")?,
        channels: HashMap::new(),
    };
    for decoded in events {
        match &decoded.fact {
            Fact::Licence { licence, event } => writer.licence_event(*licence, event)?,
            Fact::Account { user, event } => writer.account_event(*user, event)?,
            Fact::Attempt { .. } | Fact::Skipped => {}
        }
    }
    Ok(())
}

/// The latest code of `user` at `now`.
pub(crate) fn active_code(
    conn: &Connection,
    user: UserId,
    now: Timestamp,
) -> Result<ActiveCodeView, ProjectionError> {
    let mut stmt = conn.prepare_cached(
        "SELECT code_id, issued_at, expires_at, channel, spent, voided FROM active_codes WHERE user_id = ?1",
    )?;
    let mut rows = stmt.query([id(&user.0)])?;
    let Some(row) = rows.next()? else {
        return Ok(ActiveCodeView {
            active: false,
            code_id: None,
            issued_at: None,
            expires_at: None,
            channel: None,
        });
    };
    let expires_at = get_timestamp(row, 2)?;
    let spent: bool = row.get(4)?;
    let voided: bool = row.get(5)?;
    Ok(ActiveCodeView {
        active: !spent && !voided && expires_at > now,
        code_id: Some(get_id(row, 0)?),
        issued_at: Some(get_timestamp(row, 1)?),
        expires_at: Some(expires_at),
        channel: Some(channel(&row.get::<_, String>(3)?)?),
    })
}
