//! Reading a page of the login history.

use rusqlite::types::ToSql;
use rusqlite::{Connection, OptionalExtension};
use twostep_domain::LicenceId;

use super::outcome::Outcome;
use crate::sql::{from_sql_int, get_id, get_opt_id, get_timestamp, id, nanos, to_sql_int};
use crate::{HistoryEntry, HistoryPage, HistoryQuery, MAX_HISTORY_LIMIT, ProjectionError};

fn empty() -> HistoryPage {
    HistoryPage {
        entries: Vec::new(),
        next_after: None,
    }
}

/// A page of the history of `licence`: filters combine with AND, entries in
/// global order after the cursor.
pub(crate) fn login_history(
    conn: &Connection,
    licence: LicenceId,
    query: &HistoryQuery,
) -> Result<HistoryPage, ProjectionError> {
    let limit = query.limit.min(MAX_HISTORY_LIMIT);
    let licence_key: Option<i64> = conn
        .prepare_cached("SELECT licence_key FROM lh_licences WHERE licence_id = ?1")?
        .query_row([id(&licence.0)], |row| row.get(0))
        .optional()?;
    let Some(licence_key) = licence_key.filter(|_| limit > 0) else {
        return Ok(empty());
    };
    let user_key: Option<i64> = match &query.user {
        None => None,
        Some(user) => {
            let key = conn
                .prepare_cached("SELECT user_key FROM lh_users WHERE user_id = ?1")?
                .query_row([id(&user.0)], |row| row.get(0))
                .optional()?;
            match key {
                Some(key) => Some(key),
                None => return Ok(empty()),
            }
        }
    };
    let outcome = match query.outcome.as_deref().map(Outcome::named) {
        None => None,
        Some(Some(outcome)) => Some(outcome.code()),
        Some(None) => return Ok(empty()),
    };

    let mut sql = String::from(
        "SELECT h.position, h.event_id, h.outcome, h.at, u.user_id, u.login, h.reason, h.challenge_id,
                h.code_id, h.channel, h.destination, h.client_ip, h.user_agent, h.correlation_id
         FROM login_history h LEFT JOIN lh_users u ON u.user_key = h.user_key
         WHERE h.licence_key = :licence",
    );
    let from = query.from.map(nanos);
    let to = query.to.map(nanos);
    let after = query.after.map(to_sql_int);
    let limit_param = to_sql_int(limit);
    let mut params: Vec<(&str, &dyn ToSql)> =
        vec![(":licence", &licence_key), (":limit", &limit_param)];
    if let Some(user_key) = &user_key {
        sql.push_str(" AND h.user_key = :user");
        params.push((":user", user_key));
    }
    if let Some(from) = &from {
        sql.push_str(" AND h.at >= :from");
        params.push((":from", from));
    }
    if let Some(to) = &to {
        sql.push_str(" AND h.at < :to");
        params.push((":to", to));
    }
    if let Some(outcome) = &outcome {
        sql.push_str(" AND h.outcome = :outcome");
        params.push((":outcome", outcome));
    }
    if let Some(after) = &after {
        sql.push_str(" AND h.position > :after");
        params.push((":after", after));
    }
    sql.push_str(" ORDER BY h.position LIMIT :limit");

    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params.as_slice())?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next()? {
        let position = from_sql_int(row.get(0)?, "history position")?;
        let code: i64 = row.get(2)?;
        let outcome = Outcome::from_code(code).ok_or_else(|| {
            ProjectionError::Corrupt(format!(
                "history entry {position} has the outcome code {code}"
            ))
        })?;
        let (step, outcome, event_type) = outcome.names();
        entries.push(HistoryEntry {
            position,
            event_id: get_id(row, 1)?,
            event_type: event_type.to_owned(),
            at: get_timestamp(row, 3)?,
            user_id: get_opt_id(row, 4)?,
            login: row.get(5)?,
            step: step.to_owned(),
            outcome: outcome.to_owned(),
            reason: row.get(6)?,
            challenge_id: get_opt_id(row, 7)?,
            code_id: get_opt_id(row, 8)?,
            channel: row.get(9)?,
            destination: row.get(10)?,
            client_ip: row.get(11)?,
            user_agent: row.get(12)?,
            correlation_id: get_opt_id(row, 13)?,
        });
    }
    let next_after = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.position))
        .flatten();
    Ok(HistoryPage {
        entries,
        next_after,
    })
}
