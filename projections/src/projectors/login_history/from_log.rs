//! The login history read straight from the log, for exports that must hold
//! exactly the events of a range whatever the read model's state: the same
//! rows, described by the same [`describe`], filtered as
//! [`login_history`](super::login_history) filters the read model.

use std::collections::HashMap;

use twostep_domain::{AttemptEvent, LicenceEvent, LicenceId, Timestamp, UserId};
use twostep_store::RecordedEvent;

use super::outcome::{Outcome, Step, describe};
use crate::batch::{Fact, fact_of};
use crate::{HistoryEntry, HistoryQuery, ProjectionError};

/// Turns the events of the log, read in global order from position 0, into
/// the login-history entries of one licence that a [`HistoryQuery`] selects
/// (its `user`, `from`, `to` and `outcome`; `after` and `limit` are the
/// reader's business). Holds the logins of the licence's users and nothing
/// else, so memory grows with users, never with events.
pub struct LogHistory {
    licence: LicenceId,
    query: HistoryQuery,
    outcome: Option<Outcome>,
    logins: HashMap<UserId, String>,
}

impl LogHistory {
    /// A reader for `licence`; refuses an outcome the history does not know.
    pub fn new(licence: LicenceId, query: &HistoryQuery) -> Result<LogHistory, ProjectionError> {
        let outcome = match query.outcome.as_deref() {
            None => None,
            Some(name) => Some(
                Outcome::named(name)
                    .ok_or_else(|| ProjectionError::UnknownOutcome(name.to_owned()))?,
            ),
        };
        Ok(LogHistory {
            licence,
            query: query.clone(),
            outcome,
            logins: HashMap::new(),
        })
    }

    /// The entry `recorded` makes, if it is a login step of the licence that
    /// the query selects. Must see every event in global order.
    pub fn entry(&mut self, recorded: &RecordedEvent) -> Option<HistoryEntry> {
        let fact = fact_of(recorded);
        let (user, step) = match &fact {
            Fact::Licence {
                licence,
                event: LicenceEvent::UserCreated { user_id, login, .. },
            } => {
                if *licence == self.licence {
                    self.logins.insert(*user_id, login.clone());
                }
                return None;
            }
            Fact::Account { user, event } if self.logins.contains_key(user) => {
                (Some(*user), describe(event))
            }
            Fact::Attempt {
                licence,
                event: AttemptEvent::UnknownLoginAttempted { licence_id, .. },
            } if licence_id.or(*licence) == Some(self.licence) => {
                (None, Step::new(Outcome::UnknownLogin))
            }
            _ => return None,
        };
        let at = Timestamp::new(recorded.recorded_at);
        let selected = self.query.user.is_none_or(|wanted| user == Some(wanted))
            && self.query.from.is_none_or(|from| at >= from)
            && self.query.to.is_none_or(|to| at < to)
            && self.outcome.is_none_or(|wanted| wanted == step.outcome);
        if !selected {
            return None;
        }
        let (step_name, outcome, event_type) = step.outcome.names();
        let metadata = &recorded.metadata;
        Some(HistoryEntry {
            position: recorded.position,
            event_id: recorded.event_id,
            event_type: event_type.to_owned(),
            at,
            user_id: user.map(|u| u.0),
            login: user.and_then(|u| self.logins.get(&u).cloned()),
            step: step_name.to_owned(),
            outcome: outcome.to_owned(),
            reason: step.reason,
            challenge_id: step.challenge_id.copied(),
            code_id: step.code_id.copied(),
            channel: step.channel.map(str::to_owned),
            destination: step.destination.map(str::to_owned),
            client_ip: metadata.client_ip.clone(),
            user_agent: metadata.user_agent.clone(),
            correlation_id: Some(metadata.correlation_id).filter(|c| !c.is_nil()),
        })
    }
}
