//! `security_alerts`: one row per `SecurityAlertRaised`, from licence
//! streams (contact changes) and account streams (locks, wrong codes after a
//! right password, reports, delivery failures), filed under the licence.
//!
//! An alert names its causes by version in its own stream; the row keeps
//! each cause's event id and type, resolved when the alert is projected
//! (see [`Batch::resolve_causes`](crate::batch::Batch::resolve_causes)), so
//! the trail links straight to the events.

use std::collections::HashMap;

use rusqlite::{Connection, Transaction};
use twostep_domain::{AccountEvent, LicenceEvent, LicenceId, SecurityAlert, Timestamp};

use super::users::{Directory, users_table};
use crate::batch::{Decoded, EventRef, Fact};
use crate::sql::{
    alert_kind, from_sql_int, get_id, get_timestamp, id, instant, nanos, to_sql_int, wire_name,
};
use crate::{AlertCause, AlertView, ProjectionError};

pub(crate) const LAYOUT: u32 = 1;
pub(crate) const TABLES: &[&str] = &["security_alerts", "sa_users"];
pub(crate) const SCHEMA: &str = concat!(
    users_table!("sa_users"),
    "
CREATE TABLE IF NOT EXISTS security_alerts (
    position   INTEGER PRIMARY KEY,
    alert_id   BLOB NOT NULL,
    licence_id BLOB NOT NULL,
    user_id    BLOB NOT NULL,
    kind       TEXT NOT NULL,
    raised_at  INTEGER NOT NULL,
    caused_by  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS security_alerts_by_licence ON security_alerts (licence_id, position);
"
);

const INSERT: &str = "
INSERT INTO security_alerts (position, alert_id, licence_id, user_id, kind, raised_at, caused_by)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
";

pub(crate) fn apply(
    tx: &Transaction<'_>,
    events: &[Decoded],
    causes: &HashMap<(String, u64), EventRef>,
) -> Result<(), ProjectionError> {
    let mut users = Directory::new(tx, "sa_users")?;
    let mut insert = tx.prepare_cached(INSERT)?;
    for decoded in events {
        let (licence, alert) = match &decoded.fact {
            Fact::Licence {
                licence,
                event: LicenceEvent::UserCreated { user_id, login, .. },
            } => {
                users.record(*user_id, *licence, login)?;
                continue;
            }
            Fact::Licence {
                licence,
                event: LicenceEvent::SecurityAlertRaised(alert),
            } => (Some(*licence), alert),
            Fact::Account {
                user,
                event: AccountEvent::SecurityAlertRaised(alert),
            } => (users.licence_of(*user)?, alert),
            _ => continue,
        };
        let recorded = &decoded.recorded;
        let Some(licence) = licence else {
            tracing::warn!(
                position = recorded.position,
                stream = %recorded.stream,
                "skipping a security alert of a user no UserCreated names"
            );
            continue;
        };
        let caused_by = caused_by(&recorded.stream, alert, causes);
        let caused_by = serde_json::to_string(&caused_by).map_err(|err| {
            ProjectionError::Corrupt(format!(
                "causes of the alert at {}: {err}",
                recorded.position
            ))
        })?;
        insert.execute((
            to_sql_int(recorded.position),
            id(&alert.alert_id),
            id(&licence.0),
            id(&alert.user_id.0),
            wire_name(&alert.kind).unwrap_or_default(),
            instant(recorded.recorded_at),
            caused_by,
        ))?;
    }
    Ok(())
}

fn caused_by(
    stream: &str,
    alert: &SecurityAlert,
    causes: &HashMap<(String, u64), EventRef>,
) -> Vec<AlertCause> {
    alert
        .caused_by
        .iter()
        .map(|version| {
            let found = causes.get(&(stream.to_owned(), *version));
            AlertCause {
                stream: stream.to_owned(),
                version: *version,
                event_id: found.map(|f| f.event_id),
                event_type: found.map(|f| f.event_type.clone()),
                recorded_at: found.map(|f| f.recorded_at),
            }
        })
        .collect()
}

/// Alerts of `licence` raised at or after `since`, in global order.
pub(crate) fn security_alerts(
    conn: &Connection,
    licence: LicenceId,
    since: Option<Timestamp>,
    limit: usize,
) -> Result<Vec<AlertView>, ProjectionError> {
    let mut stmt = conn.prepare_cached(
        "SELECT a.alert_id, a.kind, a.user_id, u.login, a.raised_at, a.position, a.caused_by
         FROM security_alerts a LEFT JOIN sa_users u ON u.user_id = a.user_id
         WHERE a.licence_id = ?1 AND a.raised_at >= ?2
         ORDER BY a.position LIMIT ?3",
    )?;
    let since = since.map_or(i64::MIN, nanos);
    let mut rows = stmt.query((id(&licence.0), since, to_sql_int(limit)))?;
    let mut alerts = Vec::new();
    while let Some(row) = rows.next()? {
        let position = from_sql_int(row.get(5)?, "alert position")?;
        let caused_by: String = row.get(6)?;
        alerts.push(AlertView {
            alert_id: get_id(row, 0)?,
            kind: alert_kind(&row.get::<_, String>(1)?)?,
            user_id: get_id(row, 2)?,
            login: row.get(3)?,
            raised_at: get_timestamp(row, 4)?,
            position,
            caused_by: serde_json::from_str(&caused_by).map_err(|err| {
                ProjectionError::Corrupt(format!("causes of the alert at {position}: {err}"))
            })?,
        });
    }
    Ok(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use twostep_domain::UserId;

    #[test]
    fn unresolved_causes_keep_their_version() {
        let alert = SecurityAlert::new(
            uuid::Uuid::nil(),
            3,
            twostep_domain::AlertKind::ContactChanged,
            UserId(uuid::Uuid::nil()),
            vec![1, 2],
        );
        let mut causes = HashMap::new();
        let found = EventRef {
            event_id: uuid::Uuid::from_u128(7),
            event_type: "UserEmailChanged".into(),
            recorded_at: Timestamp::from_unix(1_800_000_000),
        };
        causes.insert(("licence-x".to_owned(), 2), found);
        let listed = caused_by("licence-x", &alert, &causes);
        assert_eq!(listed[0].event_id, None);
        assert_eq!(listed[1].event_id, Some(uuid::Uuid::from_u128(7)));
        assert_eq!(listed[1].event_type.as_deref(), Some("UserEmailChanged"));
        assert_eq!(
            listed[1].recorded_at,
            Some(Timestamp::from_unix(1_800_000_000))
        );
    }
}
