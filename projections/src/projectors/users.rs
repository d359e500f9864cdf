//! A projector's own copy of the user directory, built from `UserCreated`:
//! which licence a user belongs to and their login. Each projector that
//! needs it keeps its own table (`{prefix}_users`), so that it can be
//! dropped and rebuilt without the others. Each user also gets a small
//! integer key, so that big tables can refer to users in a few bytes.

use std::collections::HashMap;

use rusqlite::{CachedStatement, OptionalExtension, Transaction};
use twostep_domain::{LicenceId, UserId};
use uuid::Uuid;

use crate::ProjectionError;
use crate::sql::id;

/// The columns of every `{prefix}_users` table.
macro_rules! users_table {
    ($table:literal) => {
        concat!(
            "CREATE TABLE IF NOT EXISTS ",
            $table,
            " (\n    user_key   INTEGER PRIMARY KEY,\n    user_id    BLOB NOT NULL UNIQUE,\n",
            "    licence_id BLOB NOT NULL,\n    login      TEXT NOT NULL\n);\n"
        )
    };
}
pub(crate) use users_table;

/// A user as a directory table knows them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Known {
    /// The row's integer key.
    pub key: i64,
    /// The user's licence.
    pub licence: LicenceId,
}

/// The directory table of one projector, during one batch: lookups are
/// remembered for the batch, so each user costs at most one read.
pub(crate) struct Directory<'tx> {
    insert: CachedStatement<'tx>,
    lookup: CachedStatement<'tx>,
    known: HashMap<UserId, Option<Known>>,
}

impl<'tx> Directory<'tx> {
    /// Opens the directory table `table` in `tx`.
    pub(crate) fn new(tx: &'tx Transaction<'_>, table: &str) -> Result<Self, ProjectionError> {
        let insert = tx.prepare_cached(&format!(
            "INSERT INTO {table} (user_id, licence_id, login) VALUES (?1, ?2, ?3)
             ON CONFLICT (user_id) DO UPDATE SET licence_id = excluded.licence_id, login = excluded.login
             RETURNING user_key"
        ))?;
        let lookup = tx.prepare_cached(&format!(
            "SELECT user_key, licence_id FROM {table} WHERE user_id = ?1"
        ))?;
        Ok(Self {
            insert,
            lookup,
            known: HashMap::new(),
        })
    }

    /// Records a `UserCreated`.
    pub(crate) fn record(
        &mut self,
        user: UserId,
        licence: LicenceId,
        login: &str,
    ) -> Result<(), ProjectionError> {
        let key = self
            .insert
            .query_row((id(&user.0), id(&licence.0), login), |row| row.get(0))?;
        self.known.insert(user, Some(Known { key, licence }));
        Ok(())
    }

    /// What the table knows of `user` (`None` if no `UserCreated` named them).
    pub(crate) fn get(&mut self, user: UserId) -> Result<Option<Known>, ProjectionError> {
        if let Some(known) = self.known.get(&user) {
            return Ok(*known);
        }
        let stored: Option<(i64, Vec<u8>)> = self
            .lookup
            .query_row([id(&user.0)], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let known = stored
            .map(|(key, licence)| {
                Uuid::from_slice(&licence).map(|licence| Known {
                    key,
                    licence: LicenceId(licence),
                })
            })
            .transpose()
            .map_err(|err| ProjectionError::Corrupt(format!("licence id of user {user}: {err}")))?;
        self.known.insert(user, known);
        Ok(known)
    }

    /// The licence of `user`, if a `UserCreated` named them.
    pub(crate) fn licence_of(
        &mut self,
        user: UserId,
    ) -> Result<Option<LicenceId>, ProjectionError> {
        Ok(self.get(user)?.map(|known| known.licence))
    }
}
